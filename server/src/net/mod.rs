//! Sockets: the listener, HTTP routing, WebSocket connection tasks, the room registry and the
//! room tasks that drive each [`Room`](crate::room::Room) at the tick rate.
//!
//! Shape (after mini-redis): a listener accepts TCP connections under a global and a per-IP
//! connection limit (TLS first when configured) and hands each to hyper; `/ws` upgrades spawn
//! one connection task each. Connections still in their HTTP phase (TLS, the request head,
//! keep-alive between requests) are capped at `--max-handshakes`: a new one past the cap drops
//! the oldest, so connections that trickle their headers cost at most the cap times one
//! request-head buffer, and a real client (whose handshake takes one round trip) is rarely the
//! oldest. Connection tasks and room tasks talk only through bounded
//! channels: each client has an inbox (client → room, drained once per tick) and an outbox
//! (room → client, snapshots). A room task never awaits a socket: a full outbox means the
//! client skips that tick.
//!
//! Shutdown is a [`CancellationToken`]: the listener stops accepting, every connection task
//! sends close 1001, rooms stop after their current tick, and [`Server::run`] returns once
//! every task has finished or the grace period ends.

pub(crate) mod admin;
mod chan;
mod conn;
pub mod driver;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod http;
mod lean;
mod room_task;
pub mod rooms;
mod web;
mod wt;

pub use room_task::{ClientCmd, ClientLink, JoinReply, PlayerEntry, RoomCmd};
pub use rooms::{RoomInfo, RoomRegistry};

use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::metrics::Metrics;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// What every connection and room task shares.
pub(crate) struct AppState {
    pub config: Config,
    /// The game version-2 rooms play.
    pub game: driver::GameRooms,
    pub metrics: Metrics,
    pub rooms: RoomRegistry,
    pub jwt: Option<JwtVerifier>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// `--max-connections`: one permit per admitted connection.
    pub connection_limit: Arc<tokio::sync::Semaphore>,
    /// Connections in their HTTP phase, oldest first.
    handshakes: Mutex<Handshakes>,
    /// The database (`--db`), unless it is off.
    pub persist: Option<Arc<crate::persist::Persist>>,
    /// `--max-leaderboard-queries`.
    pub leaderboard_queries: Arc<tokio::sync::Semaphore>,
    /// This node's place in a cluster (`--redis`).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Signs and checks seat tokens (the cluster's key, or a lone server's random one).
    pub seats: crate::cluster::seats::SeatSigner,
    /// Where players reach this server (`--public-url`, else from the bound address).
    pub public_url: String,
    /// `--webtransport`: what `GET /webtransport` answers.
    pub webtransport: std::sync::OnceLock<Arc<wt::Info>>,
}

/// The connections in their HTTP phase, by arrival, each with the token that drops it and
/// its admission (released the moment it is dropped, so the newcomer can have it).
#[derive(Default)]
struct Handshakes {
    next: u64,
    open: std::collections::BTreeMap<u64, (CancellationToken, Option<Arc<Admission>>)>,
}

/// A connection's place among those in their HTTP phase; leaves it when dropped.
pub(crate) struct HandshakeSlot {
    state: Arc<AppState>,
    id: u64,
    /// Cancelled when a newer connection needs the place.
    pub evicted: CancellationToken,
}

impl HandshakeSlot {
    /// Records the connection's admission, for release if it is dropped for a newer one.
    fn hold(&self, admission: Option<Arc<Admission>>) {
        let mut h = self
            .state
            .handshakes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = h.open.get_mut(&self.id) {
            entry.1 = admission;
        }
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut h = self
            .state
            .handshakes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if h.open.remove(&self.id).is_some() {
            self.state.metrics.handshakes.dec();
        }
    }
}

impl AppState {
    /// Enters a new connection's HTTP phase, dropping the oldest one past `--max-handshakes`.
    fn enter_handshake(self: &Arc<Self>) -> HandshakeSlot {
        let evicted = CancellationToken::new();
        let mut h = self.handshakes.lock().unwrap_or_else(|e| e.into_inner());
        let id = h.next;
        h.next += 1;
        h.open.insert(id, (evicted.clone(), None));
        self.metrics.handshakes.inc();
        while h.open.len() > self.config.max_handshakes.max(1) {
            if let Some((_, (oldest, admission))) = h.open.pop_first() {
                oldest.cancel();
                if let Some(a) = admission {
                    a.release();
                }
                self.metrics.handshakes.dec();
                self.metrics.handshakes_evicted.inc();
            }
        }
        drop(h);
        HandshakeSlot {
            state: self.clone(),
            id,
            evicted,
        }
    }
}

impl AppState {
    /// Without a database (the fuzz targets).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn new(
        config: Config,
        game: driver::GameRooms,
        shutdown: CancellationToken,
    ) -> Arc<AppState> {
        Self::with_persist(
            config,
            game,
            shutdown,
            Metrics::new(),
            None,
            None,
            String::new(),
        )
    }

    pub(crate) fn with_persist(
        config: Config,
        game: driver::GameRooms,
        shutdown: CancellationToken,
        metrics: Metrics,
        persist: Option<Arc<crate::persist::Persist>>,
        cluster: Option<Arc<crate::cluster::Cluster>>,
        public_url: String,
    ) -> Arc<AppState> {
        let config_max_connections = config.max_connections;
        let leaderboard_queries = config.max_leaderboard_queries;
        let rooms = match &cluster {
            Some(c) => RoomRegistry::for_node(&c.node),
            None => RoomRegistry::default(),
        };
        Arc::new(AppState {
            seats: crate::cluster::seats::SeatSigner::new(
                cluster.as_ref().and(config.cluster_secret.as_deref()),
            ),
            cluster,
            public_url,
            webtransport: std::sync::OnceLock::new(),
            persist,
            leaderboard_queries: Arc::new(tokio::sync::Semaphore::new(leaderboard_queries)),
            game,
            jwt: config.jwt_secret.as_deref().map(|secret| {
                JwtVerifier::new(secret).expect("Server::bind_game checks the secret")
            }),
            config,
            metrics,
            rooms,
            shutdown,
            tracker: TaskTracker::new(),
            per_ip: Mutex::new(HashMap::new()),
            connection_limit: Arc::new(tokio::sync::Semaphore::new(config_max_connections)),
            handshakes: Mutex::new(Handshakes::default()),
        })
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// `--jwt-secret` is empty or too short.
    #[error(transparent)]
    Secret(#[from] crate::auth::SecretError),
    /// The database (`--db`) cannot be opened, or is of a newer schema.
    #[error(transparent)]
    Storage(#[from] tickwire_storage::StorageError),
    /// `--redis` does not answer, or a cluster flag is wrong.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// `--webtransport` cannot start (the UDP port is taken, the certificate is unusable).
    #[error("webtransport: {0}")]
    WebTransport(String),
}

/// Admits a connection from `ip` under `--max-connections` and `--max-connections-per-ip`
/// (WebSocket and WebTransport alike); `None` when a limit is reached.
pub(crate) fn admit(state: &Arc<AppState>, ip: IpAddr) -> Option<Arc<Admission>> {
    admit_with(state, ip, &state.connection_limit)
}

fn admit_with(
    state: &Arc<AppState>,
    ip: IpAddr,
    global: &Arc<tokio::sync::Semaphore>,
) -> Option<Arc<Admission>> {
    let permit = global.clone().try_acquire_owned().ok()?;
    let mut map = state.per_ip.lock().unwrap_or_else(|e| e.into_inner());
    let n = map.entry(ip).or_insert(0);
    if *n >= state.config.max_connections_per_ip {
        return None;
    }
    *n += 1;
    Some(Arc::new(Admission {
        held: Mutex::new(Some((
            permit,
            IpSlot {
                state: state.clone(),
                ip,
            },
        ))),
    }))
}

/// `--tcp-congestion` and `--tcp-notsent-lowat` on an accepted socket (Linux; a refusal is
/// logged, the system's default kept).
fn tcp_options(stream: &tokio::net::TcpStream, config: &Config) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = stream.as_raw_fd();
        let set = |opt: libc::c_int, val: *const libc::c_void, len: usize| {
            // SAFETY: fd is an open socket for the call; val points to len readable bytes.
            unsafe { libc::setsockopt(fd, libc::IPPROTO_TCP, opt, val, len as libc::socklen_t) }
        };
        if let Some(cc) = config.tcp_congestion_name()
            && set(libc::TCP_CONGESTION, cc.as_ptr().cast(), cc.len()) != 0
        {
            // Once, not per connection: every socket would be refused the same way.
            static WARNED: std::sync::atomic::AtomicBool =
                std::sync::atomic::AtomicBool::new(false);
            if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(%cc, err = %std::io::Error::last_os_error(), "TCP_CONGESTION refused; the system's default is kept (--tcp-congestion system to stop trying)");
            }
        }
        let lowat = config.tcp_notsent_lowat;
        if lowat > 0 && set(libc::TCP_NOTSENT_LOWAT, (&lowat as *const u32).cast(), 4) != 0 {
            tracing::warn!(err = %std::io::Error::last_os_error(), "TCP_NOTSENT_LOWAT refused");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (stream, config);
}

/// The listening socket; accepted sockets inherit its send buffer size (`--send-buffer-bytes`).
fn listen(config: &Config) -> std::io::Result<TcpListener> {
    let socket = if config.addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if config.send_buffer_bytes > 0 {
        socket.set_send_buffer_size(u32::try_from(config.send_buffer_bytes).unwrap_or(u32::MAX))?;
    }
    socket.bind(config.addr)?;
    socket.listen(1024)
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    /// `--admin-addr`: health, readiness and metrics, outside the player limits.
    admin: Option<TcpListener>,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    /// The database writer, finished after the rooms.
    writer: Option<crate::persist::Writer>,
    /// `--webtransport`: the UDP side.
    wt: Option<wt::WebTransport>,
}

/// Drains a running server: see [`Drainer::drain`].
pub struct Drainer {
    state: Arc<AppState>,
}

impl Drainer {
    /// Stops taking new rooms and seats (out of matchmaking at once, `/readyz` 503, resumes
    /// still welcome) and waits until no room has a player left or `timeout` passes, or
    /// `interrupt` resolves. Rooms are never moved to another node: their players finish
    /// here. The caller then shuts the server down.
    pub async fn drain(
        &self,
        timeout: std::time::Duration,
        interrupt: impl std::future::Future<Output = ()>,
    ) {
        let state = &self.state;
        if let Some(c) = &state.cluster {
            // Out of matchmaking first (the renewal says so to the directory), then no seats.
            c.drain();
            if let Err(e) = c.renew(&state.rooms.list()).await {
                warn!(error = %e, "the directory did not hear that this node drains; its rooms leave it with their leases");
            }
        }
        state
            .rooms
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let players = || state.rooms.list().iter().map(|r| r.players).sum::<usize>();
        info!(
            ?timeout,
            players = players(),
            rooms = state.rooms.len(),
            "draining: no new players; rooms play on"
        );
        let wait = async {
            while players() > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        };
        tokio::select! {
            _ = wait => info!("drained: no player left"),
            _ = tokio::time::sleep(timeout) => warn!(players = players(), "drain timeout over with players still in rooms"),
            _ = interrupt => warn!("drain interrupted"),
        }
    }
}

/// A connection's place under the global and per-IP limits, held (shared) by the HTTP
/// connection and any WebSocket it upgrades to, and released when both are gone.
pub(crate) struct Admission {
    /// The permit and the per-IP count, until released (dropped, or taken out early when the
    /// connection is dropped from its HTTP phase for a newer one).
    held: Mutex<Option<(tokio::sync::OwnedSemaphorePermit, IpSlot)>>,
}

impl Admission {
    /// Gives the connection's place back now, before its task has wound down.
    fn release(&self) {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(held);
    }
}

/// Counts a connection against its IP until dropped.
struct IpSlot {
    state: Arc<AppState>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.state.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Server {
    /// Binds the listening socket and loads TLS files, to play the bundled game `--game`
    /// names. Nothing runs until [`Server::run`].
    pub async fn bind(config: Config, shutdown: CancellationToken) -> Result<Server, StartError> {
        let game = driver::GameRooms::bundled(config.game);
        Self::bind_game(config, game, shutdown).await
    }

    /// Like [`Server::bind`], for a game of one's own (see [`driver::GameRooms::new`]):
    /// everything but the game (rooms, matchmaking, limits, auth, metrics, the web page's
    /// static files) is the same.
    pub async fn bind_game(
        config: Config,
        game: driver::GameRooms,
        shutdown: CancellationToken,
    ) -> Result<Server, StartError> {
        if let Some(secret) = &config.jwt_secret {
            crate::auth::check_secret(secret)?;
        }
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
            _ => None,
        };
        let listener = listen(&config).map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
        let admin = match config.admin_addr {
            None => None,
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?,
            ),
        };
        let mut metrics = Metrics::new();
        let (persist, writer) =
            match crate::persist::Persist::open(&config, metrics.db.clone()).await? {
                Some((p, w)) => (Some(p), Some(w)),
                None => (None, None),
            };
        let bound = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
        let public_url = config.public_url.clone().unwrap_or_else(|| {
            let scheme = if tls.is_some() { "wss" } else { "ws" };
            format!("{scheme}://{bound}/ws")
        });
        let cluster = match &config.redis {
            None => None,
            Some(_) => {
                let cap = game.make(&config, "probe").max_players();
                let c = crate::cluster::Cluster::connect(&config, public_url.clone(), cap)
                    .await?
                    .with_game(&game.schema().game);
                metrics.register_cluster(&c.metrics);
                tracing::info!(node = %c.node, url = %public_url, "joined the cluster");
                Some(Arc::new(c))
            }
        };
        let wt = if config.webtransport {
            Some(
                wt::WebTransport::bind(&config, bound)
                    .await
                    .map_err(StartError::WebTransport)?,
            )
        } else {
            None
        };
        let state = AppState::with_persist(
            config, game, shutdown, metrics, persist, cluster, public_url,
        );
        if let Some(w) = &wt {
            let _ = state.webtransport.set(w.info());
        }
        Ok(Server {
            wt,
            listener,
            admin,
            tls,
            state,
            writer,
        })
    }

    /// The address the `--admin-addr` listener actually bound, if there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
            .as_ref()
            .map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// A handle that drains this server while it runs (see [`Drainer::drain`]).
    pub fn drainer(&self) -> Drainer {
        Drainer {
            state: self.state.clone(),
        }
    }

    /// Where players reach this server (`--public-url`, else from the bound address).
    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    /// This node's id in the cluster (`--redis`), if it is in one.
    pub fn node_id(&self) -> Option<&str> {
        self.state.cluster.as_ref().map(|c| c.node.as_str())
    }

    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    fn admit(&self, ip: IpAddr, global: &Arc<tokio::sync::Semaphore>) -> Option<Arc<Admission>> {
        admit_with(&self.state, ip, global)
    }

    /// Serves until the shutdown token is cancelled, then closes every connection (1001) and
    /// returns when every task is done or the grace period has passed.
    pub async fn run(mut self) {
        let state = self.state.clone();
        let limit = state.connection_limit.clone();
        let admin = self
            .admin
            .take()
            .map(|l| tokio::spawn(serve_admin(l, state.clone())));
        let node = tokio::spawn(crate::cluster::run_node(state.clone()));
        let wt = self.wt.take().map(|w| tokio::spawn(w.run(state.clone())));
        loop {
            let (stream, peer) = tokio::select! {
                _ = state.shutdown.cancelled() => break,
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            tcp_options(&stream, &state.config);
            // First make room among the handshakes (the oldest gives back its admission at
            // once), then admit: a flood of parked connections cannot hold every permit.
            let slot = state.enter_handshake();
            let admitted = self.admit(peer.ip(), &limit);
            if admitted.is_none() {
                state.metrics.refused_connections.inc();
                debug!(%peer, "connection limit reached");
            }
            slot.hold(admitted.clone());
            let st = state.clone();
            let tls = self.tls.clone();
            state.tracker.spawn(async move {
                let evicted = slot.evicted.clone();
                match tls {
                    None => {
                        let routes = http::Routes::Public(admitted);
                        http::serve_connection(stream, peer, st, routes, evicted).await
                    }
                    Some(acceptor) => {
                        let handshake = tokio::time::timeout(
                            st.config.handshake_timeout,
                            acceptor.accept(stream),
                        );
                        let handshake = tokio::select! {
                            r = handshake => r,
                            _ = evicted.cancelled() => return,
                        };
                        match handshake {
                            Ok(Ok(tls_stream)) => {
                                let routes = http::Routes::Public(admitted);
                                http::serve_connection(tls_stream, peer, st, routes, evicted).await
                            }
                            Ok(Err(e)) => debug!(%peer, error = %e, "tls handshake failed"),
                            Err(_) => debug!(%peer, "tls handshake timed out"),
                        }
                    }
                }
                drop(slot);
            });
        }
        drop(self.listener);
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        if let Some(wt) = wt {
            let _ = wt.await;
        }
        // Out of the directory before the rooms close, so no one is matched here meanwhile.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), node).await;
        info!("shutting down: closing connections");
        state.tracker.close();
        if tokio::time::timeout(state.config.shutdown_grace, state.tracker.wait())
            .await
            .is_err()
        {
            warn!("shutdown grace period over with connections still open");
        }
        // The rooms are done: what they handed the database writer is written now, or stays
        // in the outbox for the next start.
        if let Some(w) = self.writer.take() {
            w.finish(std::time::Duration::from_secs(3)).await;
        }
    }
}

/// The `--admin-addr` listener: plain HTTP, `/healthz`, `/readyz` and `/metrics` only, under
/// its own `--max-admin-connections` and none of the player listener's limits, so a health
/// check answers however full the player listener is. Past its cap a new connection is closed
/// at once. Stops accepting at shutdown (its open connections finish like any other).
async fn serve_admin(listener: TcpListener, state: Arc<AppState>) {
    let cap = Arc::new(tokio::sync::Semaphore::new(
        state.config.max_admin_connections.max(1),
    ));
    loop {
        let (stream, peer) = tokio::select! {
            _ = state.shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = cap.clone().try_acquire_owned() else {
            debug!(%peer, "admin connection limit reached");
            continue;
        };
        let st = state.clone();
        state.tracker.spawn(async move {
            let never = CancellationToken::new();
            http::serve_connection(stream, peer, st, http::Routes::Admin, never).await;
            drop(permit);
        });
    }
}
