//! Server settings: the command line (clap) and the defaults a test or embedder starts from.

pub use crate::net::driver::GameName;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tickwire_arena::rules::Arena;

fn arena_scale(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(f) if (0.25..=20.0).contains(&f) => Ok(f),
        _ => Err("expected a number in 0.25..=20".into()),
    }
}

fn head_bytes(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (8192..=1 << 20).contains(&n) => Ok(n),
        _ => Err("expected a number of bytes in 8192..=1048576 (hyper's minimum is 8192)".into()),
    }
}

fn admin_token(s: &str) -> Result<String, String> {
    if s.chars().count() < 16 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("an admin token is at least 16 characters, with no spaces \
             (e.g. `openssl rand -hex 16`)"
            .into());
    }
    Ok(s.to_string())
}

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// tickwire: an authoritative multiplayer game state sync server.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
pub struct Config {
    /// The game every room plays.
    #[arg(long, value_enum, default_value = "arena")]
    pub game: GameName,
    /// Address to listen on (HTTP, WebSocket at /ws).
    #[arg(long, default_value = "127.0.0.1:7000")]
    pub addr: SocketAddr,
    /// Simulation ticks per second (10-128).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(10..=128))]
    pub tick_rate: u16,
    /// Radius around each player inside which entities are sent, world units.
    #[arg(long, default_value_t = 700.0)]
    pub view_radius: f32,
    /// Most players per room (quick-match opens a new room when every room is full).
    #[arg(long, default_value_t = 256)]
    pub max_players: usize,
    /// Most simultaneous connections (HTTP and WebSocket); more get HTTP 503.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,
    /// Largest WebSocket message accepted from a client, bytes; larger ones get close 1009.
    #[arg(long, default_value_t = 4096)]
    pub max_frame_bytes: usize,
    /// Interval between WebSocket pings to each client.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub ping_interval: Duration,
    /// A client silent for this long is closed (4002); its player then waits
    /// `--resume-grace` for a resume before it is removed.
    #[arg(long, default_value = "15s", value_parser = duration)]
    pub idle_timeout: Duration,
    /// Time a new WebSocket has to send Hello, counted from the upgrade (pings and other
    /// frames before it do not extend it); past it the connection gets 4002.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub hello_timeout: Duration,
    /// Longest a single write to a client may take (a frame, or the close frame). A client
    /// that stops reading until the socket's buffers are full is closed with 4005 once a write
    /// has waited this long (if even the close frame cannot be written within a second more,
    /// the socket is dropped), and its buffers are released.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub write_timeout: Duration,
    /// The kernel's send buffer of each client socket, bytes (SO_SNDBUF; Linux doubles it
    /// for its bookkeeping); 0 leaves it to the kernel's autotuning (up to 4 MiB a socket on
    /// Linux). It bounds what a client that stops reading holds in kernel memory, and how
    /// soon its writes block and `--write-timeout` closes it.
    #[arg(long, default_value_t = 256 * 1024)]
    pub send_buffer_bytes: usize,
    /// Snapshots buffered per client before it starts skipping ticks.
    #[arg(long, default_value_t = 4)]
    pub outbox_capacity: usize,
    /// Client messages buffered per client between two ticks.
    #[arg(long, default_value_t = 64)]
    pub inbox_capacity: usize,
    /// Ticks a client may skip in a row before it is dropped (4005; it may resume).
    #[arg(long, default_value_t = 150)]
    pub max_skipped_ticks: u32,
    /// Under overload a room sends its snapshots only every 2, 3, … ticks, up to this many,
    /// while its game still steps every tick (see docs/OPERATIONS.md, "Overload"); 1 never.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub overload_max_interval: u32,
    /// The share of its period a room's tick may take on average (over about a second) before
    /// the room degrades (`--overload-max-interval`): above 0, at most 1.
    #[arg(long, default_value_t = 0.9, value_parser = tick_budget)]
    pub tick_budget: f64,
    /// Mirror connections a session may have at once (`?mirror=attach`: each receives a copy
    /// of the session's room messages, so a TCP stall of one connection is covered by
    /// another); a newer one past this replaces the oldest. 0 refuses mirrors (1008).
    #[arg(long, default_value_t = 2)]
    pub max_mirrors: usize,
    /// Most bytes of events one snapshot carries. A client that fell behind (skipping ticks
    /// while others chatted) loses its oldest chat lines and notices first, then its oldest
    /// game events, and is told how many; no server message ever exceeds 1 MiB.
    #[arg(long, default_value_t = 64 * 1024, value_parser = clap::value_parser!(u32).range(1024..=512 * 1024))]
    pub max_event_bytes: u32,
    /// Most bytes a second each client is sent, on average (0: no limit). Over it, the entity
    /// updates that matter least to that client (far, low relevance, least waiting) wait for a
    /// later tick and stay exact (while it is short, so do spawns of entities entering its
    /// view); its own entities, jumps (respawns, teleports), removals, records and events
    /// always go.
    #[arg(long, default_value_t = tickwire_engine::room::DEFAULT_CLIENT_BUDGET)]
    pub client_budget: u32,
    /// Threads that build a big room's snapshots in parallel (a room with 32 or more clients
    /// due one splits them over this many; the bytes are the same whatever the number):
    /// 0 for one per core.
    #[arg(long, default_value_t = 0)]
    pub tick_threads: usize,
    /// Send a state checksum in snapshots every N ticks (0 = never); for load testers.
    #[arg(long, default_value_t = 0)]
    pub checksum_interval: u16,
    /// Lag compensation: hitscan shots are resolved where targets were up to this many
    /// milliseconds ago (the shooter's view); 0 turns it off.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub lag_comp_ms: u32,
    /// Seed of the game's random generator (spawn spots).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scales the demo arena (size and obstacles) by this factor; e.g. 3.2 keeps the density of
    /// 100 players with 1,000.
    #[arg(long, default_value_t = 1.0, value_parser = arena_scale)]
    pub arena_scale: f32,
    /// How long shutdown waits for connections to close.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub shutdown_grace: Duration,
    /// Most rooms at once; a join that needs a new room beyond this gets 4003.
    #[arg(long, default_value_t = 64)]
    pub max_rooms: usize,
    /// Most seats one client IP address holds at once, over all rooms: its players,
    /// connected or waiting in their resume grace, and its joins on their way. More get
    /// 4003. Enough for a LAN party behind one NAT; a quarter of a default room, so no one
    /// address fills one. Behind a proxy every client has the proxy's address: raise it there.
    #[arg(long, default_value_t = 64)]
    pub max_seats_per_ip: usize,
    /// Most named rooms (`?room=ID`) one IP address may have created and still open (a room
    /// counts until it is disposed of, empty); a join that would create another gets 4003.
    #[arg(long, default_value_t = 8)]
    pub max_rooms_per_ip: usize,
    /// Most named rooms at once [default: half of --max-rooms, rounded up]; the rest of
    /// --max-rooms is quick-match's, so named rooms cannot leave a new player without a room.
    #[arg(long)]
    pub max_named_rooms: Option<usize>,
    /// Resume attempts (a `Hello` with a resume token) one IP address may make in a burst;
    /// a successful resume is given back, so only unknown tokens use it up. Past it: 1008.
    #[arg(long, default_value_t = 64)]
    pub resume_guess_burst: u32,
    /// Time an IP address takes to earn back one resume attempt.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub resume_guess_interval: Duration,
    /// An empty room is disposed of after this long.
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub empty_room_timeout: Duration,
    /// Most simultaneous connections from one IP address; more get HTTP 503.
    #[arg(long, default_value_t = 256)]
    pub max_connections_per_ip: usize,
    /// Time a new connection has to send its HTTP request head (and finish TLS).
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub handshake_timeout: Duration,
    /// Largest HTTP request head (request line and headers), bytes; a larger one gets HTTP 431.
    /// It is also each connection's read buffer during its handshake (8192 at least).
    #[arg(long, default_value_t = 8192, value_parser = head_bytes)]
    pub max_request_head_bytes: usize,
    /// Also serve `/healthz`, `/readyz` and `/metrics` here (plain HTTP), outside every limit
    /// of `--addr`, so health checks answer however full the player listener is. Bind it to
    /// an address only load balancers and monitoring reach.
    #[arg(long, value_name = "ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// Turn on the operator's page `/admin` and its API `/admin/api/*` (on `--addr` and
    /// `--admin-addr`), which take this token as `Authorization: Bearer TOKEN`; at least 16
    /// characters. Without it `/admin` answers 404.
    #[arg(long, env = "TICKWIRE_ADMIN_TOKEN", value_name = "TOKEN", value_parser = admin_token, hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Most simultaneous connections to `--admin-addr`; more are closed at once.
    #[arg(long, default_value_t = 64)]
    pub max_admin_connections: usize,
    /// Most connections in their HTTP phase at once (TLS, request head, keep-alive between
    /// requests; not WebSockets); past it the oldest is dropped for the new one.
    #[arg(long, default_value_t = 2048, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_handshakes: usize,
    /// Sustained WebSocket frames per second a client may send (messages, each fragment of a
    /// fragmented one, pings and pongs all count); a flood gets close 1008.
    #[arg(long, default_value_t = 100.0)]
    pub max_messages_per_sec: f64,
    /// TCP congestion control for every accepted socket (Linux `TCP_CONGESTION`); `system`
    /// (or empty) keeps the system's default (`net.ipv4.tcp_congestion_control`). A name the
    /// kernel refuses is logged once and the system's default kept. Cubic by default: a game
    /// stream needs no bandwidth probing, and BBR's periodic window cuts stall it for up to
    /// 300 ms at 200 ms RTT without any loss (docs/NETCODE.md, "Report over real TCP").
    #[arg(long, default_value = "cubic")]
    pub tcp_congestion: String,
    /// `TCP_NOTSENT_LOWAT` for every accepted socket, bytes: how much unsent data the kernel
    /// queues per socket before writes wait; 0: the system's default.
    #[arg(long, default_value_t = 0)]
    pub tcp_notsent_lowat: u32,
    /// Frames a client may send in a burst above the sustained rate.
    #[arg(long, default_value_t = 200.0)]
    pub message_burst: f64,
    /// Chat lines a player may send in a burst.
    #[arg(long, default_value_t = 5)]
    pub chat_burst: u32,
    /// Time to earn back one chat line after a burst.
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub chat_interval: Duration,
    /// A server notice shown to every player when they join (message of the day).
    #[arg(long)]
    pub motd: Option<String>,
    /// How long a disconnected player waits for its client to resume.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub resume_grace: Duration,
    /// Allowed `Origin` of WebSocket upgrades (repeat the flag for several; none = any).
    /// Requests without an Origin header (non-browser clients) are always allowed.
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    /// HS256 secret: when set, every player needs a JWT (`?token=` or `Hello.auth_token`).
    /// At least 32 bytes (RFC 7518 §3.2); the server refuses to start with an empty or
    /// shorter one.
    #[arg(long, env = "TICKWIRE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Also serve WebTransport (HTTP/3 over UDP) on the same port number: snapshots as
    /// datagrams, which a lost packet does not stall; `GET /webtransport` tells clients how
    /// to connect. Without --tls-cert a self-signed certificate (14 days, renewed) is made and
    /// its hash served, which browsers accept through `serverCertificateHashes`.
    #[arg(long)]
    pub webtransport: bool,
    /// PEM certificate chain: serve https:// and wss:// (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve the browser client from this directory instead of the copy built into the
    /// binary (for developing `client-web/` without rebuilding).
    #[arg(long, value_name = "PATH")]
    pub web_dir: Option<PathBuf>,
    /// Where players, match results and leaderboards are kept: an SQLite file (created and
    /// migrated on first start), `sqlite::memory:` (gone at exit), `postgres://user:pass@host/db`
    /// (PostgreSQL; nodes of a cluster share it), or `off`. A database that cannot be opened,
    /// or that a newer tickwire migrated, stops the server at start.
    #[arg(
        long,
        default_value = "tickwire.db",
        env = "TICKWIRE_DB",
        hide_env_values = true
    )]
    pub db: String,
    /// With a PostgreSQL `--db`: this node's local SQLite file of results not yet written
    /// (the outbox), so none is lost while PostgreSQL is away or the process is killed.
    #[arg(long, default_value = "tickwire-outbox.db", value_name = "PATH")]
    pub outbox: PathBuf,
    /// The season results count for, besides all-time (e.g. `2025-spring`); empty: none. The
    /// operator sets the period: results written while it is set count for it.
    #[arg(long, default_value = "")]
    pub season: String,
    /// This node's name in match records [default: the host name]. With `--redis` it is
    /// also the node's id in the cluster, in every room id it creates (`NODE-7`): then 1-16
    /// characters of `A-Z a-z 0-9` [default with `--redis`: 6 random characters].
    #[arg(long)]
    pub node: Option<String>,
    /// Run as one node of a cluster coordinated through this Redis (`redis://host:6379/0`):
    /// the room directory, cross-node matchmaking with seat reservations, routing, messages
    /// and draining (docs/SCALING.md). Without it the server runs alone. A Redis that does
    /// not answer at start stops the server.
    #[arg(
        long,
        value_name = "URL",
        env = "TICKWIRE_REDIS",
        hide_env_values = true
    )]
    pub redis: Option<String>,
    /// The WebSocket URL players reach this node at, given to clients matched or redirected
    /// here [default: ws://ADDR/ws, or wss:// with TLS].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// HS256 key every node of the cluster shares, signing seat tokens (at least 32 bytes).
    /// Needed with `--redis`; a lone server signs its own with a random key.
    #[arg(long, env = "TICKWIRE_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// How long the node's and its rooms' entries in the directory live unless renewed
    /// (renewed every third of it): a node that dies leaves the directory within this.
    #[arg(long, default_value = "3s", value_parser = duration)]
    pub lease_ttl: Duration,
    /// How long a seat reserved by `POST /match` waits for its player.
    #[arg(long, default_value = "15s", value_parser = duration)]
    pub seat_ttl: Duration,
    /// On SIGTERM, how long rooms may play on without new players before the server stops
    /// [default: 5m with `--redis`, 0s (stop at once) alone].
    #[arg(long, value_parser = duration)]
    pub drain_timeout: Option<Duration>,
    /// Length of an arena round; at its end the round's result is kept and the scores start
    /// again (0s: one endless round, nothing kept).
    #[arg(long, default_value = "3m", value_parser = duration)]
    pub round_time: Duration,
    /// Match results (and player visits) queued in memory for the database writer; past it a
    /// result is dropped, counted in `tickwire_db_results_dropped_total` and logged.
    #[arg(long, default_value_t = 10_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub db_queue: usize,
    /// Longest wait between two attempts to write to a database that is away (the wait
    /// doubles from 100 ms up to this).
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub db_retry_max: Duration,
    /// How long a database operation waits for a connection (and PostgreSQL's connect at
    /// start) before it counts as failed and is retried.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub db_timeout: Duration,
    /// Most rows one `GET /leaderboard/…?limit=` may ask for; more get HTTP 400.
    #[arg(long, default_value_t = 100)]
    pub leaderboard_max_limit: usize,
    /// Leaderboard queries running at once; more get HTTP 503.
    #[arg(long, default_value_t = 16)]
    pub max_leaderboard_queries: usize,
}

impl Default for Config {
    fn default() -> Self {
        // Defaults only: the environment (TICKWIRE_JWT_SECRET) applies to the command line.
        let mut config = Config::parse_from(["tickwire"]);
        config.jwt_secret = None;
        config.admin_token = None;
        config.redis = None;
        config.cluster_secret = None;
        config.db = "tickwire.db".into();
        config
    }
}

/// `--tick-budget`: a share of the tick period, above 0 and at most 1.
fn tick_budget(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!(
            "{v} is not a share of the tick period (above 0, at most 1)"
        ))
    }
}

impl Config {
    /// The congestion control to set on accepted sockets, `None` for the system's default.
    pub fn tcp_congestion_name(&self) -> Option<&str> {
        Some(self.tcp_congestion.as_str()).filter(|n| !n.is_empty() && *n != "system")
    }

    /// Ticks in a duration at this config's tick rate (at least 1).
    pub fn ticks(&self, d: Duration) -> u32 {
        ((d.as_secs_f64() * f64::from(self.tick_rate)).round() as u32).max(1)
    }

    /// The most named rooms at once: `--max-named-rooms`, else half of `--max-rooms`
    /// (rounded up), never more than `--max-rooms`.
    pub fn named_room_limit(&self) -> usize {
        self.max_named_rooms
            .unwrap_or(self.max_rooms.div_ceil(2))
            .min(self.max_rooms)
    }

    /// The demo arena scaled by `--arena-scale`.
    pub fn arena(&self) -> Arena {
        let a = Arena::default();
        if self.arena_scale == 1.0 {
            a
        } else {
            a.scaled(self.arena_scale)
        }
    }

    /// Defaults, listening on an ephemeral loopback port, with an in-memory database that
    /// goes with the process (for tests: nothing is written to the working directory).
    pub fn ephemeral() -> Self {
        Config {
            addr: "127.0.0.1:0".parse().expect("literal address"),
            db: "sqlite::memory:".into(),
            ..Config::default()
        }
    }

    /// `--node`, else the host name, else `local`.
    pub fn node_name(&self) -> String {
        if let Some(n) = &self.node {
            return n.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "local".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_rooms_leave_quick_match_its_share_of_the_rooms() {
        let c = Config::default();
        assert_eq!((c.max_rooms, c.named_room_limit()), (64, 32));
        assert_eq!((c.max_seats_per_ip, c.max_rooms_per_ip), (64, 8));
        let c = Config::parse_from(["tickwire", "--max-rooms", "5"]);
        assert_eq!(c.named_room_limit(), 3);
        let c = Config::parse_from(["tickwire", "--max-rooms", "5", "--max-named-rooms", "9"]);
        assert_eq!(c.named_room_limit(), 5, "never more than --max-rooms");
        let c = Config::parse_from(["tickwire", "--max-named-rooms", "0"]);
        assert_eq!(c.named_room_limit(), 0, "quick-match only");
    }

    #[test]
    fn the_client_budget_defaults_to_the_engines_and_0_turns_it_off() {
        let id = "main";
        let c = Config::default();
        let e = crate::net::driver::engine_config(&c, id);
        assert_eq!(e.client_budget, Some(32 * 1024));
        let c = Config::parse_from(["tickwire", "--client-budget", "4000"]);
        assert_eq!(
            crate::net::driver::engine_config(&c, id).client_budget,
            Some(4000)
        );
        let c = Config::parse_from(["tickwire", "--client-budget", "0"]);
        assert_eq!(
            crate::net::driver::engine_config(&c, id).client_budget,
            None
        );
        assert!(Config::try_parse_from(["tickwire", "--client-budget", "-1"]).is_err());
    }

    #[test]
    fn tcp_options_default_to_the_system_and_parse() {
        let c = Config::default();
        assert_eq!(
            (c.tcp_congestion.as_str(), c.tcp_notsent_lowat),
            ("cubic", 0)
        );
        let c = Config::parse_from(["tickwire", "--tcp-congestion", "system"]);
        assert_eq!(c.tcp_congestion_name(), None);
        let c = Config::parse_from(["tickwire", "--tcp-congestion="]);
        assert_eq!(c.tcp_congestion_name(), None);
        let c = Config::parse_from(["tickwire", "--tcp-congestion", "bbr"]);
        assert_eq!(c.tcp_congestion_name(), Some("bbr"));
        let c = Config::parse_from(["tickwire"]);
        assert_eq!((c.overload_max_interval, c.tick_budget), (4, 0.9));
        let c = Config::parse_from([
            "tickwire",
            "--tick-budget",
            "0.5",
            "--overload-max-interval",
            "1",
        ]);
        assert_eq!((c.overload_max_interval, c.tick_budget), (1, 0.5));
        for bad in [
            ["--tick-budget", "0"],
            ["--tick-budget", "1.5"],
            ["--tick-budget", "x"],
            ["--overload-max-interval", "0"],
            ["--overload-max-interval", "31"],
        ] {
            assert!(
                Config::try_parse_from(["tickwire", bad[0], bad[1]]).is_err(),
                "{bad:?}"
            );
        }
        let c = Config::parse_from([
            "tickwire",
            "--tcp-congestion",
            "cubic",
            "--tcp-notsent-lowat",
            "16384",
        ]);
        assert_eq!(
            (c.tcp_congestion.as_str(), c.tcp_notsent_lowat),
            ("cubic", 16384)
        );
        assert!(Config::try_parse_from(["tickwire", "--tcp-notsent-lowat", "-1"]).is_err());
    }

    #[test]
    fn persistence_flags_default_to_a_file_here_and_parse() {
        let c = Config::parse_from(["tickwire"]);
        assert_eq!(c.db, "tickwire.db");
        assert_eq!(c.outbox, PathBuf::from("tickwire-outbox.db"));
        assert_eq!(
            (c.season.as_str(), c.round_time),
            ("", Duration::from_secs(180))
        );
        assert_eq!(
            (c.db_queue, c.db_retry_max),
            (10_000, Duration::from_secs(5))
        );
        assert_eq!(
            (c.leaderboard_max_limit, c.max_leaderboard_queries),
            (100, 16)
        );
        assert!(!c.node_name().is_empty());
        assert_eq!(
            Config::ephemeral().db,
            "sqlite::memory:",
            "tests write no file"
        );
        let c = Config::parse_from([
            "tickwire",
            "--db",
            "postgres://u@h/d",
            "--season",
            "s1",
            "--node",
            "n1",
            "--round-time",
            "30s",
        ]);
        assert_eq!(
            (c.db.as_str(), c.season.as_str()),
            ("postgres://u@h/d", "s1")
        );
        assert_eq!(
            (c.node_name(), c.round_time),
            ("n1".into(), Duration::from_secs(30))
        );
        assert!(Config::try_parse_from(["tickwire", "--db-queue", "0"]).is_err());
    }

    #[test]
    fn the_arena_scale_comes_from_the_command_line() {
        let c = Config::default();
        assert_eq!(c.arena(), Arena::default());
        let c = Config::parse_from(["tickwire", "--arena-scale", "2"]);
        let (a, d) = (c.arena(), Arena::default());
        assert_eq!((a.width, a.height), (d.width * 2.0, d.height * 2.0));
        assert_eq!(a.obstacles[0].max_x, d.obstacles[0].max_x * 2.0);
        assert!(Config::try_parse_from(["tickwire", "--arena-scale", "100"]).is_err());
    }
}
