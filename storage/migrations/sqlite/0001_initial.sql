-- tickwire schema version 1 (SQLite). Times are milliseconds since the Unix epoch.

-- A player as the server knows it from one visit to the next: `acct:<JWT sub>` when auth is
-- on, `guest:<id>` for a guest id the browser keeps.
CREATE TABLE players (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);

-- One finished match or round, written once (its id is the idempotency key).
CREATE TABLE matches (
    match_id TEXT PRIMARY KEY NOT NULL,
    game TEXT NOT NULL,
    room TEXT NOT NULL,
    node TEXT NOT NULL,
    season TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX matches_by_game ON matches (game, ended_at);

-- Who played a match: their score, place and every stat the game declared. `player_id` is
-- NULL for a player without an identity (a client that sent no guest id).
CREATE TABLE match_players (
    match_id TEXT NOT NULL REFERENCES matches (match_id),
    slot INTEGER NOT NULL,
    player_id TEXT,
    name TEXT NOT NULL,
    score INTEGER NOT NULL,
    place INTEGER NOT NULL,
    stats TEXT NOT NULL,
    PRIMARY KEY (match_id, slot)
);
CREATE INDEX match_players_by_player ON match_players (player_id);

-- Accumulated stats per game, stat and season ('' is all-time): the leaderboards.
CREATE TABLE player_stats (
    game TEXT NOT NULL,
    stat TEXT NOT NULL,
    season TEXT NOT NULL,
    player_id TEXT NOT NULL REFERENCES players (id),
    value INTEGER NOT NULL,
    PRIMARY KEY (game, stat, season, player_id)
);
CREATE INDEX player_stats_rank ON player_stats (game, stat, season, value DESC, player_id);

-- Results not yet written to the database (the outbox). With the SQLite backend it is in the
-- same file and a result leaves it in the transaction that writes it; with PostgreSQL it is a
-- local SQLite file (--outbox) and the match id makes a second write a no-op.
CREATE TABLE outbox (
    match_id TEXT PRIMARY KEY NOT NULL,
    payload TEXT NOT NULL,
    queued_at INTEGER NOT NULL
);
