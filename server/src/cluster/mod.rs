//! Many nodes, one game service: the room directory, matchmaking with seat reservations,
//! routing, cross-node messages and draining, coordinated through one Redis (`--redis`).
//! docs/SCALING.md says which keys, TTLs and channels exist and why; in short:
//!
//! - **Leases, not records.** Every key a node writes expires unless the node renews it
//!   (every third of `--lease-ttl`), so a node that dies leaves the directory within the TTL
//!   and nobody has to notice. The renewal writes every entry in full, so a Redis that
//!   restarted empty is whole again after one renewal.
//! - **Room ids name their node** (`NODE-7`), so a join for a matchmade room is routed from
//!   the id itself; a named room's entry (claimed with `HSETNX`) names its node.
//! - **Seats are reserved in Redis** by one Lua script that picks the fullest open room of
//!   the game (or opens one on the least-loaded node) and adds a seat with a deadline to that
//!   room's seat set; the node that runs the room takes it when the player arrives with the
//!   seat token, a JWT every node can check ([`seats`]).
//! - **Messages over pub/sub** (`tw:all`, `tw:to:NODE`): fire-and-forget to the nodes alive
//!   now is what announcements and direct messages need; a node that is down has nobody to
//!   deliver to, and PUBLISH's receiver count tells a sender whether the node heard it.
//!
//! Without `--redis` none of this runs and the server is alone, as before.

mod scripts;
pub mod seats;

use crate::config::Config;
use crate::net::RoomInfo;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use redis::aio::ConnectionManager;
use seats::{SeatClaims, SeatSigner, now_ms};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tickwire_shared::sync::Redirect;
use tokio::sync::Notify;
use tracing::{info, warn};

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The URL is not a Redis URL.
    #[error("--redis {url}: {source}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it is not one.
        source: redis::RedisError,
    },
    /// Redis did not answer at start.
    #[error("cannot reach Redis at {url}: {source} (is redis-server running there?)")]
    Unreachable {
        /// The URL given.
        url: String,
        /// What happened.
        source: redis::RedisError,
    },
    /// A flag the cluster needs is missing or wrong.
    #[error("{0}")]
    Flag(String),
}

/// What the directory says about a node (`tw:node:ID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its id.
    pub id: String,
    /// Where players reach it.
    pub url: String,
    /// The game it plays.
    pub game: String,
    /// Rooms it runs.
    pub rooms: u64,
    /// Players in them.
    pub players: u64,
    /// Whether it is draining (no new rooms or seats).
    pub draining: bool,
}

/// Where a join goes.
pub enum Route {
    /// Here: join `room` (None: quick-match locally), creating it as a public room if
    /// `public` and it does not exist.
    Local {
        /// The room.
        room: Option<String>,
        /// Create it public (a matchmade id).
        public: bool,
    },
    /// Elsewhere.
    Redirect(Redirect),
}

/// The cluster's Prometheus figures.
#[derive(Clone, Default)]
pub struct ClusterMetrics {
    /// 1 while Redis answers.
    pub redis_up: Gauge,
    /// Redis calls that failed.
    pub redis_errors: Counter,
    /// Redis commands sent (a script counts as one).
    pub redis_commands: Counter,
    /// Seats reserved by matchmaking on this node.
    pub matches: Counter,
    /// Joins sent to another node.
    pub redirects: Counter,
    /// 1 while draining.
    pub draining: Gauge,
}

/// This node's place in the cluster.
pub struct Cluster {
    /// This node's id.
    pub node: String,
    /// Where players reach it.
    pub url: String,
    game: String,
    client: redis::Client,
    conn: ConnectionManager,
    /// Seat tokens.
    pub seats: SeatSigner,
    up: AtomicBool,
    draining: AtomicBool,
    ttl: Duration,
    seat_ttl: Duration,
    /// Room capacity of this node's game (a new room's, before it registers).
    cap: usize,
    max_rooms: usize,
    /// Wakes the renewal early (a room opened or closed, a seat was taken).
    pub dirty: Notify,
    registered: Mutex<HashSet<String>>,
    started_ms: u64,
    next_seat: AtomicU64,
    /// Figures for `/metrics`.
    pub metrics: ClusterMetrics,
}

fn random_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether `s` can be a node id: 1-16 characters of `A-Z a-z 0-9`.
pub fn valid_node_id(s: &str) -> bool {
    (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The node a matchmade room id names (`NODE-7` → `NODE`).
pub fn node_of(room: &str) -> Option<&str> {
    let (node, n) = room.rsplit_once('-')?;
    (valid_node_id(node) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(node)
}

impl Cluster {
    /// Connects to `--redis` and checks that it answers (the server does not start
    /// otherwise). `url` is this node's public WebSocket URL; `cap` a room's capacity.
    pub async fn connect(
        config: &Config,
        url: String,
        cap: usize,
    ) -> Result<Cluster, ClusterError> {
        let redis_url = config
            .redis
            .clone()
            .expect("connect is called with --redis");
        let node = match &config.node {
            Some(n) if valid_node_id(n) => n.clone(),
            Some(n) => {
                return Err(ClusterError::Flag(format!(
                    "--node {n:?}: with --redis the node id is 1-16 characters of A-Z a-z 0-9"
                )));
            }
            None => random_id(6),
        };
        let secret = match &config.cluster_secret {
            Some(s) if s.len() >= 32 => s.clone(),
            Some(_) => {
                return Err(ClusterError::Flag(
                    "--cluster-secret must be at least 32 bytes".into(),
                ));
            }
            None => {
                return Err(ClusterError::Flag(
                    "--redis needs --cluster-secret (at least 32 bytes, the same on every node): \
                     it signs the seat tokens nodes hand each other's players"
                        .into(),
                ));
            }
        };
        let client =
            redis::Client::open(redis_url.as_str()).map_err(|source| ClusterError::Url {
                url: redis_url.clone(),
                source,
            })?;
        let timeout = config.lease_ttl.max(Duration::from_millis(300)) / 3;
        let cm_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let unreachable = |source| ClusterError::Unreachable {
            url: redis_url.clone(),
            source,
        };
        let mut conn = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client.clone(), cm_config),
        )
        .await
        .map_err(|_| {
            unreachable(redis::RedisError::from(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            )))
        })?
        .map_err(unreachable)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unreachable)?;
        let metrics = ClusterMetrics::default();
        metrics.redis_up.set(1);
        Ok(Cluster {
            node,
            url,
            game: String::new(),
            client,
            conn,
            seats: SeatSigner::new(Some(&secret)),
            up: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            ttl: config.lease_ttl.max(Duration::from_millis(300)),
            seat_ttl: config.seat_ttl,
            cap,
            max_rooms: config.max_rooms,
            dirty: Notify::new(),
            registered: Mutex::new(HashSet::new()),
            started_ms: now_ms(),
            next_seat: AtomicU64::new(0),
            metrics,
        })
    }

    /// Sets the game this node plays (its schema's name).
    pub fn with_game(mut self, game: &str) -> Cluster {
        self.game = game.to_string();
        self
    }

    /// Whether Redis answered the last call.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Whether the node is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// The game this node plays.
    pub fn game(&self) -> &str {
        &self.game
    }

    fn seen<T>(&self, r: redis::RedisResult<T>) -> redis::RedisResult<T> {
        self.metrics.redis_commands.inc();
        match &r {
            Ok(_) => {
                if !self.up.swap(true, Ordering::Relaxed) {
                    info!("Redis answers again");
                    self.metrics.redis_up.set(1);
                    // Re-register everything now rather than at the next period.
                    self.dirty.notify_one();
                }
            }
            Err(e) => {
                self.metrics.redis_errors.inc();
                if self.up.swap(false, Ordering::Relaxed) {
                    warn!(error = %e, "Redis is unreachable: this node keeps its rooms running, refuses cross-node matches and retries");
                    self.metrics.redis_up.set(0);
                }
            }
        }
        r
    }

    fn new_seat_id(&self) -> String {
        format!(
            "{}.{}.{}",
            self.node,
            self.started_ms,
            self.next_seat.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Reserves a seat cluster-wide in the best open room of `game` (or a new room on the
    /// least-loaded node): the room, its node's URL and the signed seat token.
    pub async fn reserve(&self, game: &str) -> Result<Option<(Redirect, u64)>, redis::RedisError> {
        let seat = self.new_seat_id();
        let now = now_ms();
        let ttl = self.seat_ttl;
        let exp = now + ttl.as_millis() as u64;
        let keyttl = (ttl + self.ttl).as_millis() as u64;
        let mut conn = self.conn.clone();
        let r: Option<(String, String, String)> = self.seen(
            redis::cmd("EVAL")
                .arg(scripts::MATCH)
                .arg(0)
                .arg(game)
                .arg(now)
                .arg(&seat)
                .arg(exp)
                .arg(keyttl)
                .query_async(&mut conn)
                .await,
        )?;
        let Some((room, node, url)) = r else {
            return Ok(None);
        };
        self.metrics.matches.inc();
        let (token, exp_ms) = self.seats.issue(&room, &node, &seat, ttl);
        Ok(Some((
            Redirect {
                url,
                room,
                seat: token,
            },
            exp_ms,
        )))
    }

    /// Takes the seat a token reserved (on the node that runs its room). `Ok(false)`: it had
    /// expired or was already taken. While Redis is away the token's signature and deadline
    /// are enough.
    pub async fn consume(&self, claims: &SeatClaims) -> bool {
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<i64> = self.seen(
            redis::cmd("EVAL")
                .arg(scripts::CONSUME)
                .arg(0)
                .arg(&claims.room)
                .arg(&claims.seat)
                .arg(self.ttl.as_millis() as u64)
                .arg(now_ms())
                .query_async(&mut conn)
                .await,
        );
        self.dirty.notify_one();
        r.map_or(true, |n| n == 1)
    }

    /// Where room `id` lives: its node and URL, if the directory has it.
    pub async fn locate(&self, id: &str) -> Result<Option<(String, String)>, redis::RedisError> {
        let mut conn = self.conn.clone();
        let (node, url): (Option<String>, Option<String>) = self.seen(
            redis::cmd("HMGET")
                .arg(format!("tw:room:{id}"))
                .arg("node")
                .arg("url")
                .query_async(&mut conn)
                .await,
        )?;
        Ok(node.zip(url))
    }

    /// Claims the name `id` for this node (a named room about to be created here), or says
    /// which node holds it.
    pub async fn claim(&self, id: &str) -> Result<(String, String), redis::RedisError> {
        let mut conn = self.conn.clone();
        let (node, url): (Option<String>, Option<String>) = self.seen(
            redis::cmd("EVAL")
                .arg(scripts::CLAIM)
                .arg(0)
                .arg(id)
                .arg(&self.node)
                .arg(&self.url)
                .arg(&self.game)
                .arg(self.ttl.as_millis() as u64)
                .query_async(&mut conn)
                .await,
        )?;
        self.dirty.notify_one();
        Ok((
            node.unwrap_or_else(|| self.node.clone()),
            url.unwrap_or_else(|| self.url.clone()),
        ))
    }

    /// The URL of a live node.
    pub async fn node_url(&self, node: &str) -> Result<Option<String>, redis::RedisError> {
        let mut conn = self.conn.clone();
        self.seen(
            redis::cmd("HGET")
                .arg(format!("tw:node:{node}"))
                .arg("url")
                .query_async(&mut conn)
                .await,
        )
    }

    /// One renewal: this node's entry and every room's, and the removal of rooms that closed
    /// since the last one.
    pub async fn renew(&self, rooms: &[RoomInfo]) -> Result<(), redis::RedisError> {
        let now = now_ms();
        let ttl = self.ttl.as_millis() as u64;
        let draining = self.is_draining();
        let players: usize = rooms.iter().map(|r| r.players).sum();
        let mut pipe = redis::pipe();
        let nk = format!("tw:node:{}", self.node);
        pipe.cmd("HSET")
            .arg(&nk)
            .arg("url")
            .arg(&self.url)
            .arg("game")
            .arg(&self.game)
            .arg("cap")
            .arg(self.cap)
            .arg("players")
            .arg(players)
            .arg("rooms")
            .arg(rooms.len())
            .arg("max_rooms")
            .arg(self.max_rooms)
            .arg("draining")
            .arg(u8::from(draining))
            .arg("started")
            .arg(self.started_ms)
            .ignore();
        pipe.cmd("PEXPIRE").arg(&nk).arg(ttl).ignore();
        pipe.cmd("ZADD")
            .arg("tw:nodes")
            .arg(now + ttl)
            .arg(&self.node)
            .ignore();
        for r in rooms {
            pipe.cmd("EVAL")
                .arg(scripts::REGISTER)
                .arg(0)
                .arg(&r.id)
                .arg(&self.node)
                .arg(&self.url)
                .arg(&r.game)
                .arg(r.max_players)
                .arg(r.occupied)
                .arg(u8::from(r.public))
                .arg(now.saturating_sub(r.uptime_secs * 1000))
                .arg(r.tick_rate)
                .arg(ttl)
                .arg(now)
                .arg(u8::from(!draining))
                .ignore();
        }
        let current: HashSet<String> = rooms.iter().map(|r| r.id.clone()).collect();
        let gone: Vec<String> = {
            let reg = self.registered.lock().unwrap_or_else(|e| e.into_inner());
            reg.difference(&current).cloned().collect()
        };
        for id in &gone {
            self.unregister(&mut pipe, id);
        }
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
        self.metrics
            .redis_commands
            .inc_by(2 + rooms.len() as u64 + 3 * gone.len() as u64);
        self.seen(r)?;
        *self.registered.lock().unwrap_or_else(|e| e.into_inner()) = current;
        Ok(())
    }

    /// Adds to `pipe` the commands that take room `id` out of the directory (3 commands).
    fn unregister(&self, pipe: &mut redis::Pipeline, id: &str) {
        pipe.cmd("DEL")
            .arg(format!("tw:room:{id}"))
            .arg(format!("tw:seats:{id}"))
            .ignore();
        pipe.cmd("ZREM").arg("tw:rooms").arg(id).ignore();
        pipe.cmd("ZREM")
            .arg(format!("tw:open:{}", self.game))
            .arg(id)
            .ignore();
    }

    /// Starts draining: no new rooms or seats here; the next renewal (at once) takes this
    /// node's rooms out of matchmaking.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
        self.metrics.draining.set(1);
        self.dirty.notify_one();
    }

    /// Leaves the directory (a clean stop): this node's entry and its rooms'.
    pub async fn leave(&self) {
        let ids: Vec<String> = self
            .registered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        let mut pipe = redis::pipe();
        pipe.cmd("DEL")
            .arg(format!("tw:node:{}", self.node))
            .ignore();
        pipe.cmd("ZREM").arg("tw:nodes").arg(&self.node).ignore();
        for id in &ids {
            self.unregister(&mut pipe, id);
        }
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
        let _ = self.seen(r);
    }

    /// The live nodes.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, redis::RedisError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = self.seen(
            redis::cmd("ZRANGEBYSCORE")
                .arg("tw:nodes")
                .arg(now_ms())
                .arg("+inf")
                .arg("LIMIT")
                .arg(0)
                .arg(1000)
                .query_async(&mut conn)
                .await,
        )?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HGETALL").arg(format!("tw:node:{id}"));
        }
        let hashes: Vec<HashMap<String, String>> = self.seen(pipe.query_async(&mut conn).await)?;
        Ok(ids
            .into_iter()
            .zip(hashes)
            .filter(|(_, h)| !h.is_empty())
            .map(|(id, h)| NodeInfo {
                id,
                url: h.get("url").cloned().unwrap_or_default(),
                game: h.get("game").cloned().unwrap_or_default(),
                rooms: num(&h, "rooms"),
                players: num(&h, "players"),
                draining: h.get("draining").is_some_and(|d| d == "1"),
            })
            .collect())
    }

    /// A page of the cluster's rooms, by id after `after` (exclusive), at most `limit`; and
    /// the cursor of the next page, if there may be one. Entries whose lease ran out are
    /// skipped and dropped from the index.
    pub async fn rooms_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<RoomInfo>, Option<String>), redis::RedisError> {
        let mut conn = self.conn.clone();
        let min = after.map_or("-".to_string(), |a| format!("({a}"));
        let ids: Vec<String> = self.seen(
            redis::cmd("ZRANGE")
                .arg("tw:rooms")
                .arg(min)
                .arg("+")
                .arg("BYLEX")
                .arg("LIMIT")
                .arg(0)
                .arg(limit)
                .query_async(&mut conn)
                .await,
        )?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HGETALL").arg(format!("tw:room:{id}"));
        }
        let hashes: Vec<HashMap<String, String>> = if ids.is_empty() {
            Vec::new()
        } else {
            self.seen(pipe.query_async(&mut conn).await)?
        };
        let next = (ids.len() == limit).then(|| ids.last().cloned()).flatten();
        let now = now_ms();
        let mut stale = Vec::new();
        let mut rows = Vec::new();
        for (id, h) in ids.into_iter().zip(hashes) {
            if h.is_empty() {
                stale.push(id);
                continue;
            }
            if h.get("pending").is_some_and(|p| p == "1") {
                continue;
            }
            let players = num(&h, "players") as usize;
            rows.push(RoomInfo {
                players,
                occupied: players,
                max_players: num(&h, "cap") as usize,
                tick_rate: num(&h, "tick_rate") as u16,
                uptime_secs: now.saturating_sub(num(&h, "created")) / 1000,
                public: h.get("public").is_some_and(|p| p == "1"),
                game: h.get("game").cloned().unwrap_or_default(),
                node: h.get("node").cloned().unwrap_or_default(),
                id,
            });
        }
        if !stale.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("ZREM")
                .arg("tw:rooms")
                .arg(&stale)
                .query_async(&mut conn)
                .await;
        }
        Ok((rows, next))
    }

    /// Publishes a cluster message to every node (`to` None) or one node; how many nodes
    /// heard it.
    pub async fn publish(
        &self,
        to: Option<&str>,
        msg: &ClusterMsg,
    ) -> Result<u64, redis::RedisError> {
        let channel = match to {
            None => "tw:all".to_string(),
            Some(n) => format!("tw:to:{n}"),
        };
        let mut conn = self.conn.clone();
        self.seen(
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(serde_json::to_string(msg).expect("cluster messages serialize"))
                .query_async(&mut conn)
                .await,
        )
    }

    /// Receives this node's cluster messages until `stop`, reconnecting with backoff.
    pub async fn listen(
        &self,
        stop: tokio_util::sync::CancellationToken,
        deliver: impl Fn(ClusterMsg),
    ) {
        use futures_util::StreamExt;
        let mut backoff = Duration::from_millis(100);
        loop {
            let sub = async {
                let mut ps = self.client.get_async_pubsub().await?;
                ps.subscribe("tw:all").await?;
                ps.subscribe(format!("tw:to:{}", self.node)).await?;
                Ok::<_, redis::RedisError>(ps)
            };
            let ps = tokio::select! {
                _ = stop.cancelled() => return,
                r = tokio::time::timeout(Duration::from_secs(2), sub) => r,
            };
            if let Ok(Ok(ps)) = ps {
                backoff = Duration::from_millis(100);
                let mut stream = ps.into_on_message();
                loop {
                    let msg = tokio::select! {
                        _ = stop.cancelled() => return,
                        m = stream.next() => m,
                    };
                    let Some(msg) = msg else { break };
                    let Ok(payload) = msg.get_payload::<String>() else {
                        continue;
                    };
                    match serde_json::from_str::<ClusterMsg>(&payload) {
                        Ok(m) => deliver(m),
                        Err(e) => warn!(error = %e, "unreadable cluster message"),
                    }
                }
                warn!("cluster message subscription lost; resubscribing");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// The renewal period (a third of the lease).
    pub fn period(&self) -> Duration {
        self.ttl / 3
    }
}

fn num(h: &HashMap<String, String>, k: &str) -> u64 {
    h.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A message between nodes (JSON on `tw:all` / `tw:to:NODE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterMsg {
    /// A notice for every player of every room.
    Announce {
        /// The text.
        text: String,
    },
    /// A notice for one player.
    Direct {
        /// Its room.
        room: String,
        /// Its id there.
        player: u32,
        /// The text.
        text: String,
    },
    /// Remove a player (an operator's kick).
    Kick {
        /// Its room.
        room: String,
        /// Its id there.
        player: u32,
    },
}

/// Where a join should be played, decided before the seat is reserved: a matchmade room id
/// routes by its node, a named room by its directory entry (claimed here if new), a resume
/// by its token's room, a quick-match by [`Cluster::reserve`].
pub async fn route(
    cluster: &Cluster,
    room: Option<&str>,
    resume_token: Option<&str>,
    seat: Option<(&SeatClaims, &str)>,
    local_room: impl Fn(&str) -> bool,
) -> Result<Route, tickwire_shared::close::CloseReason> {
    use tickwire_shared::close::{CloseCode, CloseReason};
    let away = || {
        CloseReason::new(
            CloseCode::InternalError,
            "the cluster directory (Redis) is unreachable and the room is not on this node; try again shortly",
        )
    };
    let redirect = |url: String, room: &str, seat: &str| {
        cluster.metrics.redirects.inc();
        Route::Redirect(Redirect {
            url,
            room: room.to_string(),
            seat: seat.to_string(),
        })
    };
    // A seat token names its node.
    if let Some((c, token)) = seat {
        if c.node == cluster.node {
            return Ok(Route::Local {
                room: Some(c.room.clone()),
                public: node_of(&c.room) == Some(cluster.node.as_str()),
            });
        }
        return match cluster.node_url(&c.node).await {
            Ok(Some(url)) => Ok(redirect(url, &c.room, token)),
            Ok(None) => Err(CloseReason::new(
                CloseCode::SeatExpired,
                "the node that held this seat is gone; ask for a new match",
            )),
            Err(_) => Err(away()),
        };
    }
    // A resume goes where its room is (the token is `ROOM.SECRET`).
    let resume_room = resume_token.and_then(|t| t.split_once('.')).map(|(r, _)| r);
    let wanted = resume_room.or(room);
    if let Some(id) = wanted {
        if local_room(id) {
            return Ok(Route::Local {
                room: room.map(str::to_string),
                public: false,
            });
        }
        match cluster.locate(id).await {
            Ok(Some((node, url))) if node != cluster.node => {
                return Ok(redirect(url, room.unwrap_or(id), ""));
            }
            Ok(Some(_)) => {
                return Ok(Route::Local {
                    room: room.map(str::to_string),
                    public: false,
                });
            }
            Ok(None) => {}
            Err(_) => {
                // Redis away: only this node's rooms can be played.
                return match room {
                    Some(_) => Err(away()),
                    None => Ok(Route::Local {
                        room: None,
                        public: false,
                    }),
                };
            }
        }
        if resume_room.is_some() && room.is_none() {
            // The token's room is gone everywhere: a new player by quick-match.
            return quick_match(cluster).await;
        }
        let id = room.expect("wanted is room or the resume room");
        if cluster.is_draining() {
            return Ok(Route::Local {
                room: Some(id.to_string()),
                public: false,
            });
        }
        return match cluster.claim(id).await {
            Ok((node, _)) if node == cluster.node => Ok(Route::Local {
                room: Some(id.to_string()),
                public: false,
            }),
            Ok((_, url)) => Ok(redirect(url, id, "")),
            Err(_) => Err(away()),
        };
    }
    quick_match(cluster).await
}

async fn quick_match(cluster: &Cluster) -> Result<Route, tickwire_shared::close::CloseReason> {
    if cluster.is_draining() || !cluster.is_up() {
        return Ok(Route::Local {
            room: None,
            public: false,
        });
    }
    match cluster.reserve(&cluster.game).await {
        Ok(Some((r, _))) => {
            if r.url == cluster.url {
                // The seat is here: take it at once.
                if let Ok(c) = cluster.seats.verify(&r.seat) {
                    cluster.consume(&c).await;
                }
                Ok(Route::Local {
                    room: Some(r.room),
                    public: true,
                })
            } else {
                cluster.metrics.redirects.inc();
                Ok(Route::Redirect(r))
            }
        }
        // No node can take a player (all full or draining): try here.
        Ok(None) | Err(_) => Ok(Route::Local {
            room: None,
            public: false,
        }),
    }
}

/// Runs this node's part of the cluster until shutdown: renews the leases (every third of
/// the TTL, or soon after a room opens or closes or a seat is taken) and delivers the
/// cluster's messages to the rooms here. At shutdown the node leaves the directory.
pub(crate) async fn run_node(state: std::sync::Arc<crate::net::AppState>) {
    let Some(cluster) = state.cluster.clone() else {
        return;
    };
    let stop = state.shutdown.clone();
    let renew = async {
        loop {
            let rooms = state.rooms.list();
            let _ = cluster.renew(&rooms).await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(cluster.period()) => {}
                _ = cluster.dirty.notified() => {
                    // Let a burst of joins land in one renewal.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    };
    let listen = cluster.listen(stop.clone(), |msg| {
        let state = state.clone();
        tokio::spawn(async move { deliver(&state, msg).await });
    });
    tokio::join!(renew, listen);
    cluster.leave().await;
}

/// Hands a cluster message to the rooms of this node it concerns.
async fn deliver(state: &std::sync::Arc<crate::net::AppState>, msg: ClusterMsg) {
    use crate::net::RoomCmd;
    use tickwire_shared::PlayerId;
    match msg {
        ClusterMsg::Announce { text } => {
            for h in state.rooms.handles() {
                let _ = h
                    .cmds
                    .send(RoomCmd::Notice {
                        player: None,
                        text: text.clone(),
                    })
                    .await;
            }
        }
        ClusterMsg::Direct { room, player, text } => {
            if let Some(h) = state
                .rooms
                .handles()
                .into_iter()
                .find(|h| h.stats.id == room)
            {
                let _ = h
                    .cmds
                    .send(RoomCmd::Notice {
                        player: Some(PlayerId(player)),
                        text,
                    })
                    .await;
            }
        }
        ClusterMsg::Kick { room, player } => {
            let _ = crate::net::admin::kick_local(state, &room, player).await;
        }
    }
}

/// Sends a cluster message: to every node (`room` None), or to the node that runs `room`.
/// Alone, or to a room of this node, it is delivered here directly. How many nodes heard it;
/// an error sentence when nobody could.
pub(crate) async fn send(
    state: &std::sync::Arc<crate::net::AppState>,
    room: Option<&str>,
    msg: ClusterMsg,
) -> Result<u64, String> {
    let local = room.is_none_or(|r| state.rooms.contains(r));
    let Some(cluster) = state.cluster.clone() else {
        if !local {
            return Err(format!("no room {} on this server", room.unwrap_or("")));
        }
        deliver(state, msg).await;
        return Ok(1);
    };
    let node = match room {
        None => None,
        Some(_) if local => {
            deliver(state, msg).await;
            return Ok(1);
        }
        Some(r) => match cluster.locate(r).await {
            Ok(Some((node, _))) => Some(node),
            Ok(None) => return Err(format!("no room {r} in the cluster")),
            Err(_) => return Err("the cluster directory (Redis) is unreachable".into()),
        },
    };
    match cluster.publish(node.as_deref(), &msg).await {
        Ok(0) => Err("no node heard the message (is its node up?)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("the cluster directory (Redis) is unreachable".into()),
    }
}
