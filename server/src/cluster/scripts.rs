//! The Lua scripts the directory runs in Redis: each is one atomic step, so two nodes
//! matching at once cannot both take the last seat of a room. They name keys they compute
//! (`tw:room:ID` from an id read in the script), which a standalone Redis allows and Redis
//! Cluster does not: tickwire's directory wants one Redis (or a primary with replicas).
//! Sent with EVAL each time (Redis caches the compiled script by its hash), so a Redis that
//! restarted empty needs no SCRIPT LOAD.

/// Finds the best open room of a game and reserves a seat there, or creates a room on the
/// least-loaded live node of that game and reserves its first seat.
///
/// ARGV: game, now (ms), seat id, seat deadline (ms), seat key ttl (ms).
/// Returns `{room, node, url}`, or `false` when no node of that game can take a player.
pub const MATCH: &str = r#"
local game, now, seat, exp, keyttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local open = 'tw:open:' .. game
-- Fullest rooms first (the fewest free seats, at least one): fill rooms before opening more.
local ids = redis.call('ZRANGEBYSCORE', open, 1, '+inf', 'LIMIT', 0, 32)
for _, id in ipairs(ids) do
  local r = redis.call('HMGET', 'tw:room:' .. id, 'node', 'cap', 'players', 'url')
  local draining = r[1] and redis.call('HGET', 'tw:node:' .. r[1], 'draining')
  if (not r[1]) or draining ~= '0' then
    -- The room's lease ran out, or its node is gone or draining.
    redis.call('ZREM', open, id)
  else
    local sk = 'tw:seats:' .. id
    redis.call('ZREMRANGEBYSCORE', sk, '-inf', now)
    local free = tonumber(r[2]) - tonumber(r[3]) - redis.call('ZCARD', sk)
    if free > 0 then
      redis.call('ZADD', sk, exp, seat)
      redis.call('PEXPIRE', sk, keyttl)
      redis.call('ZADD', open, free - 1, id)
      return {id, r[1], r[4]}
    end
    redis.call('ZADD', open, 0, id)
  end
end
-- No open room: the least-loaded live node of this game that is not draining opens one.
redis.call('ZREMRANGEBYSCORE', 'tw:nodes', '-inf', now)
local best, best_load, best_url, best_cap
for _, n in ipairs(redis.call('ZRANGE', 'tw:nodes', 0, -1)) do
  local h = redis.call('HMGET', 'tw:node:' .. n, 'game', 'draining', 'players', 'url', 'cap', 'rooms', 'max_rooms')
  if h[1] == game and h[2] == '0' and tonumber(h[6]) < tonumber(h[7]) then
    local load = tonumber(h[3])
    if best == nil or load < best_load then
      best, best_load, best_url, best_cap = n, load, h[4], h[5]
    end
  end
end
if best == nil then return false end
local id = best .. '-' .. redis.call('INCR', 'tw:seq:' .. best)
local rk = 'tw:room:' .. id
redis.call('HSET', rk, 'node', best, 'url', best_url, 'game', game, 'cap', best_cap,
  'players', 0, 'public', 1, 'created', now, 'tick_rate', 0, 'pending', 1)
redis.call('PEXPIRE', rk, keyttl)
redis.call('ZADD', 'tw:rooms', 0, id)
local sk = 'tw:seats:' .. id
redis.call('ZADD', sk, exp, seat)
redis.call('PEXPIRE', sk, keyttl)
redis.call('ZADD', open, tonumber(best_cap) - 1, id)
-- Count the room against the node until its own lease renewal does.
redis.call('HINCRBY', 'tw:node:' .. best, 'players', 1)
return {id, best, best_url}
"#;

/// Renews one room's entry and its place in the indexes.
///
/// ARGV: id, node, url, game, cap, players, public (0/1), created (ms), tick_rate, ttl (ms),
/// now (ms), listed (0/1: the node takes players; draining nodes list no open rooms).
pub const REGISTER: &str = r#"
local id, node, url, game, cap, players, public, created, rate, ttl, now, listed =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11]), ARGV[12]
local rk = 'tw:room:' .. id
redis.call('HSET', rk, 'node', node, 'url', url, 'game', game, 'cap', cap, 'players', players,
  'public', public, 'created', created, 'tick_rate', rate, 'pending', 0)
redis.call('PEXPIRE', rk, ttl)
redis.call('ZADD', 'tw:rooms', 0, id)
local sk = 'tw:seats:' .. id
redis.call('ZREMRANGEBYSCORE', sk, '-inf', now)
local free = cap - players - redis.call('ZCARD', sk)
if public == '1' and listed == '1' and free > 0 then
  redis.call('ZADD', 'tw:open:' .. game, free, id)
else
  redis.call('ZREM', 'tw:open:' .. game, id)
end
return free
"#;

/// Takes a reserved seat. The reservation becomes a `taken:` entry that still counts
/// against the room for one lease (ARGV[3], ms after ARGV[4], now): until then the node's
/// renewal may carry a player count read before the player sat down, and the seat must not be
/// sold twice meanwhile (for a moment the room looks one fuller than it is, never emptier).
/// ARGV: room, seat, lease (ms), now (ms). Returns 1 if the seat was still reserved, 0 if it
/// had expired or was taken.
pub const CONSUME: &str = r#"
local sk = 'tw:seats:' .. ARGV[1]
local n = redis.call('ZREM', sk, ARGV[2])
if n == 1 then
  redis.call('ZADD', sk, tonumber(ARGV[4]) + tonumber(ARGV[3]), 'taken:' .. ARGV[2])
end
return n
"#;

/// Claims a room name for a node (named rooms: the room entry is the claim, so two nodes
/// asked for the same new name at once cannot both create it). ARGV: id, node, url, game,
/// ttl (ms). Returns `{owner node, owner url}`: this node's if the claim was won.
pub const CLAIM: &str = r#"
local rk = 'tw:room:' .. ARGV[1]
if redis.call('HSETNX', rk, 'node', ARGV[2]) == 1 then
  redis.call('HSET', rk, 'url', ARGV[3], 'game', ARGV[4], 'cap', 0, 'players', 0, 'public', 0,
    'created', 0, 'tick_rate', 0, 'pending', 1)
  redis.call('PEXPIRE', rk, ARGV[5])
  redis.call('ZADD', 'tw:rooms', 0, ARGV[1])
end
return redis.call('HMGET', rk, 'node', 'url')
"#;
