//! tickwire's persistence: players, match results and leaderboards, in an embedded SQLite file
//! (the default) or in PostgreSQL (`postgres://…`), through one API.
//!
//! Both backends are sqlx pools behind [`Storage`]; every query is written once (placeholders
//! `$1…` in order, SQL both dialects accept: `ON CONFLICT … DO UPDATE`, `excluded`) and run on
//! whichever pool the URL chose. The schema is versioned migration files
//! (`migrations/sqlite`, `migrations/postgres`, embedded at build time); [`Storage::open`]
//! migrates an empty or older database and refuses one whose version is newer than this
//! build's.
//!
//! **Results are written exactly once.** A finished match first goes into the *outbox*
//! ([`Storage::enqueue`]): a table in the same SQLite file, or for PostgreSQL a local SQLite
//! file of the node's own, so it survives a database that is away and a process that is killed.
//! [`Storage::deliver`] then writes it in one transaction, keyed by its match id: a match id the
//! database holds already is a no-op, so replaying the outbox after a crash between the commit
//! and the outbox delete can never count a result twice. With SQLite the outbox row leaves in
//! the same transaction that writes the result.

#![warn(missing_docs)]

pub mod testing;

use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Row};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The schema version this build writes (the newest migration it carries).
pub fn schema_version() -> i64 {
    SQLITE.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The all-time "season" in `player_stats`.
pub const ALL_TIME: &str = "";

/// One player's part in a finished match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerResult {
    /// The player's stable id (`acct:…` or `guest:…`), `None` for a player without one: it is
    /// listed with the match but counts on no leaderboard.
    pub player: Option<String>,
    /// Display name at the time.
    pub name: String,
    /// The game's score for this match.
    pub score: i64,
    /// The game's own stats (kills, deaths, wins…), by the names the game declared; each is
    /// added to the player's totals.
    pub stats: Vec<(String, i64)>,
}

/// A finished match or round, as the game reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    /// Unique id: the idempotency key of the write.
    pub match_id: String,
    /// The game (its schema's name).
    pub game: String,
    /// The room it was played in.
    pub room: String,
    /// The node (server process) that ran it.
    pub node: String,
    /// The season it counts for besides all-time (`""`: none).
    pub season: String,
    /// Start, milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// End, milliseconds since the Unix epoch.
    pub ended_at_ms: i64,
    /// Who played, best first.
    pub players: Vec<PlayerResult>,
}

/// One row of a leaderboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Standing {
    /// 1 for the top (ties are ordered by player id, so ranks are distinct).
    pub rank: i64,
    /// The player's id.
    pub player: String,
    /// The player's latest display name.
    pub name: String,
    /// The stat's total.
    pub value: i64,
}

/// A page of a leaderboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leaderboard {
    /// The game.
    pub game: String,
    /// The stat.
    pub stat: String,
    /// The season (`""`: all-time).
    pub season: String,
    /// Players on this board.
    pub total: i64,
    /// The rows asked for, best first.
    pub rows: Vec<Standing>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database could not be opened or reached at start.
    #[error("cannot open the database {target}: {source}")]
    Open {
        /// The database, as the operator named it (a password in a URL is hidden).
        target: String,
        /// Why.
        source: sqlx::Error,
    },
    /// The database was written by a newer tickwire.
    #[error(
        "the database {target} has schema version {found}, newer than this build's {known}: \
         run a tickwire at least as new, or point --db at another database"
    )]
    NewerSchema {
        /// The database.
        target: String,
        /// Its version.
        found: i64,
        /// This build's.
        known: i64,
    },
    /// Migrating failed.
    #[error("cannot migrate the database {target}: {source}")]
    Migrate {
        /// The database.
        target: String,
        /// Why.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed (the database went away, a constraint…).
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A local file (the server's journal of results) could not be used.
    #[error("cannot use {target}: {source}")]
    File {
        /// The file.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// An outbox row that is not a result this build reads.
    #[error("unreadable outbox row {match_id}: {source}")]
    Outbox {
        /// Its key.
        match_id: String,
        /// Why.
        source: serde_json::Error,
    },
}

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (or `sqlite::memory:`).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body on whichever pool it is (the body is compiled once per backend).
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Settings of [`Storage::open`].
#[derive(Debug, Clone)]
pub struct Options {
    /// `postgres://…` (or `postgresql://…`), `sqlite:…`, `sqlite::memory:`, or a file path
    /// (SQLite, created if missing).
    pub url: String,
    /// With PostgreSQL: the local SQLite file that holds results not yet written.
    pub outbox: PathBuf,
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long a query waits for a connection (and PostgreSQL's connect at start).
    pub acquire_timeout: Duration,
}

impl Options {
    /// Defaults for `url`, with the outbox beside the working directory.
    pub fn new(url: impl Into<String>) -> Options {
        Options {
            url: url.into(),
            outbox: PathBuf::from("tickwire-outbox.db"),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The database, open and migrated.
#[derive(Clone)]
pub struct Storage {
    db: Db,
    /// Where unwritten results wait: the same SQLite pool, or PostgreSQL's local file.
    outbox: SqlitePool,
    target: String,
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`, for messages and logs.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.rsplit_once('@')
        && let Some((user, _)) = creds.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn open_sqlite(
    target: &str,
    opts: SqliteConnectOptions,
    memory: bool,
    o: &Options,
) -> Result<SqlitePool, StorageError> {
    let opts = opts
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        // WAL with synchronous=NORMAL is durable against a killed process (only a power
        // loss may take the last commits), and readers never wait for the writer.
        .journal_mode(if memory {
            SqliteJournalMode::Memory
        } else {
            SqliteJournalMode::Wal
        })
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .disable_statement_logging();
    let mut pool = SqlitePoolOptions::new()
        .max_connections(if memory { 1 } else { o.max_connections.max(1) })
        .acquire_timeout(o.acquire_timeout);
    if memory {
        // One connection is the whole database: never let the pool close it.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    let pool = pool
        .connect_with(opts)
        .await
        .map_err(|source| StorageError::Open {
            target: target.to_string(),
            source,
        })?;
    migrate_sqlite(&pool, target).await?;
    Ok(pool)
}

async fn migrate_sqlite(pool: &SqlitePool, target: &str) -> Result<(), StorageError> {
    let found: Option<i64> = match sqlx::query("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
    {
        Ok(row) => row.try_get(0)?,
        Err(_) => None,
    };
    check_version(found, target)?;
    SQLITE
        .run(pool)
        .await
        .map_err(|source| StorageError::Migrate {
            target: target.to_string(),
            source,
        })
}

fn check_version(found: Option<i64>, target: &str) -> Result<(), StorageError> {
    let known = schema_version();
    match found {
        Some(found) if found > known => Err(StorageError::NewerSchema {
            target: target.to_string(),
            found,
            known,
        }),
        _ => Ok(()),
    }
}

impl Storage {
    /// Opens (creating and migrating as needed) the database `o.url` names. A database that
    /// cannot be reached, or whose schema is newer than this build's, is an error.
    pub async fn open(o: &Options) -> Result<Storage, StorageError> {
        let target = redact(&o.url);
        if is_postgres(&o.url) {
            let opts = sqlx::postgres::PgConnectOptions::from_str(&o.url)
                .map_err(|source| StorageError::Open {
                    target: target.clone(),
                    source,
                })?
                .disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(o.max_connections.max(1))
                .acquire_timeout(o.acquire_timeout)
                .connect_with(opts)
                .await
                .map_err(|source| StorageError::Open {
                    target: target.clone(),
                    source,
                })?;
            // The table may not exist yet (PostgreSQL resolves names before it runs a query).
            let open_err = |source| StorageError::Open {
                target: target.clone(),
                source,
            };
            let has_table: bool = sqlx::query("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&pool)
                .await
                .and_then(|r| r.try_get(0))
                .map_err(open_err)?;
            let found: Option<i64> = if has_table {
                sqlx::query("SELECT MAX(version) FROM _sqlx_migrations")
                    .fetch_one(&pool)
                    .await
                    .and_then(|r| r.try_get(0))
                    .map_err(open_err)?
            } else {
                None
            };
            check_version(found, &target)?;
            POSTGRES
                .run(&pool)
                .await
                .map_err(|source| StorageError::Migrate {
                    target: target.clone(),
                    source,
                })?;
            let outbox_target = o.outbox.display().to_string();
            let outbox = open_sqlite(
                &outbox_target,
                SqliteConnectOptions::new().filename(&o.outbox),
                false,
                o,
            )
            .await?;
            return Ok(Storage {
                db: Db::Postgres(pool),
                outbox,
                target,
            });
        }
        let memory = o.url == "sqlite::memory:" || o.url.contains("mode=memory");
        let opts = if o.url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(&o.url).map_err(|source| StorageError::Open {
                target: target.clone(),
                source,
            })?
        } else {
            SqliteConnectOptions::new().filename(Path::new(&o.url))
        };
        let pool = open_sqlite(&target, opts, memory, o).await?;
        Ok(Storage {
            db: Db::Sqlite(pool.clone()),
            outbox: pool,
            target,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database as the operator named it (a URL's password hidden).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether the database answers now.
    pub async fn ping(&self) -> bool {
        on_db!(&self.db, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// Puts a result in the outbox (durable once this returns). A second call with the same
    /// match id keeps the first.
    pub async fn enqueue(&self, m: &MatchRecord) -> Result<(), StorageError> {
        let payload = serde_json::to_string(m).expect("a match record serializes");
        sqlx::query(
            "INSERT INTO outbox (match_id, payload, queued_at) VALUES ($1, $2, $3) \
             ON CONFLICT (match_id) DO NOTHING",
        )
        .bind(&m.match_id)
        .bind(payload)
        .bind(now_ms())
        .execute(&self.outbox)
        .await?;
        Ok(())
    }

    /// The results in the outbox, oldest first (written on the next [`Storage::deliver`]).
    pub async fn pending(&self) -> Result<Vec<MatchRecord>, StorageError> {
        let rows = sqlx::query("SELECT match_id, payload FROM outbox ORDER BY queued_at, match_id")
            .fetch_all(&self.outbox)
            .await?;
        rows.iter()
            .map(|r| {
                let match_id: String = r.try_get(0)?;
                let payload: String = r.try_get(1)?;
                serde_json::from_str(&payload)
                    .map_err(|source| StorageError::Outbox { match_id, source })
            })
            .collect()
    }

    /// Writes a result and takes it out of the outbox. Returns `false` when the database held
    /// this match id already (nothing is counted again).
    pub async fn deliver(&self, m: &MatchRecord) -> Result<bool, StorageError> {
        let written = on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO matches (match_id, game, room, node, season, started_at, \
                 ended_at, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (match_id) DO NOTHING",
            )
            .bind(&m.match_id)
            .bind(&m.game)
            .bind(&m.room)
            .bind(&m.node)
            .bind(&m.season)
            .bind(m.started_at_ms)
            .bind(m.ended_at_ms)
            .bind((m.ended_at_ms - m.started_at_ms).max(0))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                let mut seasons = vec![ALL_TIME];
                if !m.season.is_empty() {
                    seasons.push(&m.season);
                }
                for (slot, p) in m.players.iter().enumerate() {
                    let stats = serde_json::to_string(&p.stats).expect("pairs serialize");
                    sqlx::query(
                        "INSERT INTO match_players (match_id, slot, player_id, name, score, \
                         place, stats) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&m.match_id)
                    .bind(slot as i32)
                    .bind(&p.player)
                    .bind(&p.name)
                    .bind(p.score)
                    .bind(slot as i32 + 1)
                    .bind(stats)
                    .execute(&mut *tx)
                    .await?;
                    let Some(id) = &p.player else { continue };
                    sqlx::query(
                        "INSERT INTO players (id, name, created_at, last_seen) \
                         VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO UPDATE \
                         SET name = excluded.name, last_seen = excluded.last_seen",
                    )
                    .bind(id)
                    .bind(&p.name)
                    .bind(m.ended_at_ms)
                    .execute(&mut *tx)
                    .await?;
                    let every = [("score", p.score), ("matches", 1)];
                    let stats = every
                        .iter()
                        .map(|(k, v)| (*k, *v))
                        .chain(p.stats.iter().map(|(k, v)| (k.as_str(), *v)));
                    for (stat, value) in stats {
                        for season in &seasons {
                            sqlx::query(
                                "INSERT INTO player_stats (game, stat, season, player_id, \
                                 value) VALUES ($1, $2, $3, $4, $5) \
                                 ON CONFLICT (game, stat, season, player_id) DO UPDATE \
                                 SET value = player_stats.value + excluded.value",
                            )
                            .bind(&m.game)
                            .bind(stat)
                            .bind(*season)
                            .bind(id)
                            .bind(value)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
            }
            if self.backend() == Backend::Sqlite {
                // The outbox is this database: the result leaves it in the same transaction.
                sqlx::query("DELETE FROM outbox WHERE match_id = $1")
                    .bind(&m.match_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            inserted
        });
        if self.backend() == Backend::Postgres {
            // Committed in PostgreSQL: a crash before this delete replays the result, which
            // the match id makes a no-op.
            sqlx::query("DELETE FROM outbox WHERE match_id = $1")
                .bind(&m.match_id)
                .execute(&self.outbox)
                .await?;
        }
        Ok(written)
    }

    /// Records that a player was seen now under this name (created on the first visit).
    pub async fn seen(&self, player: &str, name: &str) -> Result<(), StorageError> {
        on_db!(&self.db, pool => sqlx::query(
            "INSERT INTO players (id, name, created_at, last_seen) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, last_seen = excluded.last_seen",
        )
        .bind(player)
        .bind(name)
        .bind(now_ms())
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// A player's record: name, created and last seen (milliseconds since the epoch).
    pub async fn player(&self, id: &str) -> Result<Option<(String, i64, i64)>, StorageError> {
        let row = on_db!(&self.db, pool => sqlx::query(
            "SELECT name, created_at, last_seen FROM players WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| -> Result<_, sqlx::Error> { Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)) }));
        Ok(row.transpose()?)
    }

    /// How many results with this match id the database holds (0 or 1), and how many player
    /// rows they have: for tests and checks.
    pub async fn match_count(&self, match_id: &str) -> Result<(i64, i64), StorageError> {
        let (m, p) = on_db!(&self.db, pool => {
            let m: i64 = sqlx::query("SELECT COUNT(*) FROM matches WHERE match_id = $1")
                .bind(match_id)
                .fetch_one(pool)
                .await?
                .try_get(0)?;
            let p: i64 = sqlx::query("SELECT COUNT(*) FROM match_players WHERE match_id = $1")
                .bind(match_id)
                .fetch_one(pool)
                .await?
                .try_get(0)?;
            (m, p)
        });
        Ok((m, p))
    }

    /// Every match id of a game, oldest first.
    pub async fn matches(&self, game: &str) -> Result<Vec<String>, StorageError> {
        let ids = on_db!(&self.db, pool => sqlx::query(
            "SELECT match_id FROM matches WHERE game = $1 ORDER BY ended_at, match_id",
        )
        .bind(game)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<String>, _>>())?;
        Ok(ids)
    }

    /// A page of the leaderboard of `game`'s `stat` in `season` (`""`: all-time): the top
    /// `limit`, or with `around`, the `limit` rows centred on that player (the top if it is not
    /// on the board).
    pub async fn leaderboard(
        &self,
        game: &str,
        stat: &str,
        season: &str,
        limit: i64,
        around: Option<&str>,
    ) -> Result<Leaderboard, StorageError> {
        let limit = limit.max(1);
        let (total, rows) = on_db!(&self.db, pool => {
            let total: i64 = sqlx::query(
                "SELECT COUNT(*) FROM player_stats WHERE game = $1 AND stat = $2 AND season = $3",
            )
            .bind(game)
            .bind(stat)
            .bind(season)
            .fetch_one(pool)
            .await?
            .try_get(0)?;
            let mut offset = 0i64;
            if let Some(p) = around {
                let mine = sqlx::query(
                    "SELECT value FROM player_stats WHERE game = $1 AND stat = $2 \
                     AND season = $3 AND player_id = $4",
                )
                .bind(game)
                .bind(stat)
                .bind(season)
                .bind(p)
                .fetch_optional(pool)
                .await?;
                if let Some(row) = mine {
                    let v: i64 = row.try_get(0)?;
                    let ahead: i64 = sqlx::query(
                        "SELECT COUNT(*) FROM player_stats WHERE game = $1 AND stat = $2 \
                         AND season = $3 AND (value > $4 OR (value = $4 AND player_id < $5))",
                    )
                    .bind(game)
                    .bind(stat)
                    .bind(season)
                    .bind(v)
                    .bind(p)
                    .fetch_one(pool)
                    .await?
                    .try_get(0)?;
                    offset = (ahead - (limit - 1) / 2).clamp(0, (total - limit).max(0));
                }
            }
            let rows = sqlx::query(
                "SELECT s.player_id, p.name, s.value FROM player_stats s \
                 JOIN players p ON p.id = s.player_id \
                 WHERE s.game = $1 AND s.stat = $2 AND s.season = $3 \
                 ORDER BY s.value DESC, s.player_id ASC LIMIT $4 OFFSET $5",
            )
            .bind(game)
            .bind(stat)
            .bind(season)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let rows = rows
                .iter()
                .enumerate()
                .map(|(i, r)| -> Result<Standing, sqlx::Error> {
                    Ok(Standing {
                        rank: offset + i as i64 + 1,
                        player: r.try_get(0)?,
                        name: r.try_get(1)?,
                        value: r.try_get(2)?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            (total, rows)
        });
        Ok(Leaderboard {
            game: game.to_string(),
            stat: stat.to_string(),
            season: season.to_string(),
            total,
            rows,
        })
    }

    /// Closes the pools (waits for queries in flight).
    pub async fn close(&self) {
        on_db!(&self.db, pool => pool.close().await);
        self.outbox.close().await;
    }
}
