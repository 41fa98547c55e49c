//! Sockets: the HTTP listener, the WebSocket connection tasks and the room task that drives a
//! [`Room`](crate::room::Room) at the tick rate.
//!
//! Shape (after mini-redis): a listener accepts TCP connections under a connection limit and
//! hands each to hyper; `/ws` upgrades spawn one connection task each. Connection tasks and the
//! room task talk only through bounded channels: each client has an inbox (client → room,
//! drained once per tick) and an outbox (room → client, snapshots). The room task never awaits
//! a socket: a full outbox means the client skips that tick.
//!
//! Shutdown is a [`CancellationToken`]: the listener stops accepting, every connection task
//! sends close 1001, and [`Server::run`] returns once they have all finished or the grace
//! period ends.

mod conn;
mod http;
mod room_task;

pub use room_task::{ClientCmd, ClientLink, RoomCmd};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::room::{Room, RoomConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

/// What every connection task shares.
pub(crate) struct AppState {
    pub config: Config,
    pub metrics: Metrics,
    pub room: mpsc::Sender<RoomCmd>,
    /// The room's latest tick, for pongs.
    pub tick: AtomicU32,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    room: Option<(Room, mpsc::Receiver<RoomCmd>)>,
}

impl Server {
    /// Binds the listening socket and builds the room. Nothing runs until [`Server::run`].
    pub async fn bind(config: Config, shutdown: CancellationToken) -> std::io::Result<Server> {
        let listener = TcpListener::bind(config.addr).await?;
        let room = Room::new(RoomConfig {
            tick_rate: config.tick_rate,
            view_radius: config.view_radius,
            max_players: config.max_players,
            checksum_interval: config.checksum_interval,
            max_skipped_ticks: config.max_skipped_ticks,
            seed: config.seed,
            ..RoomConfig::default()
        });
        let (room_tx, room_rx) = mpsc::channel(256);
        let state = Arc::new(AppState {
            config,
            metrics: Metrics::new(),
            room: room_tx,
            tick: AtomicU32::new(0),
            shutdown,
            tracker: TaskTracker::new(),
        });
        Ok(Server {
            listener,
            state,
            room: Some((room, room_rx)),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until the shutdown token is cancelled, then closes every connection (1001) and
    /// returns when they are done or the grace period has passed.
    pub async fn run(mut self) {
        let state = self.state.clone();
        let (room, room_rx) = self.room.take().expect("run is called once");
        let room_task = tokio::spawn(room_task::run(room, room_rx, state.clone()));
        let limit = Arc::new(Semaphore::new(state.config.max_connections));
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
            let permit = limit.clone().try_acquire_owned().ok();
            if permit.is_none() {
                state.metrics.refused_connections.inc();
                debug!(%peer, "connection limit reached");
            }
            let st = state.clone();
            state.tracker.spawn(async move {
                http::serve_connection(stream, peer, st, permit.is_some()).await;
                drop(permit);
            });
        }
        drop(self.listener);
        info!("shutting down: closing connections");
        state.tracker.close();
        if tokio::time::timeout(state.config.shutdown_grace, state.tracker.wait())
            .await
            .is_err()
        {
            warn!("shutdown grace period over with connections still open");
        }
        room_task.abort();
        let _ = room_task.await;
    }
}
