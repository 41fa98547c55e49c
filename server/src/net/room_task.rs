//! The room task: drives a [`Room`] at the tick rate. It owns every client's link (inbox,
//! outbox, kick) and never awaits a socket: inboxes are drained with `try_recv`, snapshots are
//! queued with `try_send` only where the outbox has room.

use super::AppState;
use crate::room::Room;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tickwire_shared::PlayerId;
use tickwire_shared::close::CloseReason;
use tickwire_shared::protocol::InputCmd;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use tracing::{debug, info};

/// A message from a joined client to its room.
#[derive(Debug)]
pub enum ClientCmd {
    /// Input commands.
    Inputs(Vec<InputCmd>),
    /// A chat line.
    Chat(String),
}

/// The room's ends of a client's channels.
pub struct ClientLink {
    /// Encoded server messages to the client (bounded; full means "skip").
    pub outbox: mpsc::Sender<Bytes>,
    /// Messages from the client.
    pub inbox: mpsc::Receiver<ClientCmd>,
    /// Closes the client's connection with a reason.
    pub kick: oneshot::Sender<CloseReason>,
}

/// A request to the room task.
pub enum RoomCmd {
    /// Add a player; the reply carries its id or the refusal.
    Join {
        /// Requested display name.
        name: String,
        /// The client's channels.
        link: ClientLink,
        /// Where to answer.
        reply: oneshot::Sender<Result<PlayerId, CloseReason>>,
    },
}

pub(super) async fn run(mut room: Room, mut cmds: mpsc::Receiver<RoomCmd>, state: Arc<AppState>) {
    let period = Duration::from_secs_f64(1.0 / f64::from(state.config.tick_rate));
    let mut interval = tokio::time::interval(period);
    // Burst keeps tick numbers in step with wall time after a stall, which clients' clock
    // sync relies on.
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut links: HashMap<PlayerId, ClientLink> = HashMap::new();
    let m = &state.metrics;
    info!(tick_rate = state.config.tick_rate, "room started");
    loop {
        tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => break,
            _ = interval.tick() => {
                let start = Instant::now();
                drain_inboxes(&mut room, &mut links, &state);
                let out = room.tick(|id| links.get(&id).is_some_and(|l| l.outbox.capacity() > 0));
                let mut gone = Vec::new();
                for (id, bytes) in out.messages {
                    let Some(link) = links.get(&id) else { continue };
                    let len = bytes.len() as u64;
                    match link.outbox.try_send(Bytes::from(bytes)) {
                        Ok(()) => {
                            m.snapshots_sent.inc();
                            m.bytes_sent.inc_by(len);
                        }
                        // Capacity was checked and only this task sends: full cannot happen.
                        Err(TrySendError::Full(_)) => {
                            m.snapshots_skipped.inc();
                        }
                        Err(TrySendError::Closed(_)) => gone.push(id),
                    }
                }
                m.snapshots_skipped.inc_by(u64::from(out.skipped));
                for (id, reason) in out.kicked {
                    if let Some(link) = links.remove(&id) {
                        debug!(player = %id, code = reason.code, "dropping client");
                        let _ = link.kick.send(reason);
                    }
                }
                for id in gone {
                    links.remove(&id);
                    room.handle_leave(id);
                }
                state.tick.store(room.tick_count().0, Ordering::Relaxed);
                m.tick.set(i64::from(room.tick_count().0));
                m.players.set(room.player_count() as i64);
                m.entities.set(room.entity_count() as i64);
                m.tick_duration.observe(start.elapsed().as_secs_f64());
            }
            Some(cmd) = cmds.recv() => match cmd {
                RoomCmd::Join { name, link, reply } => {
                    let answer = match room.handle_join(&name) {
                        Ok(joined) => {
                            let len = joined.welcome.len() as u64;
                            // A fresh outbox is empty, so the welcome always fits.
                            if link.outbox.try_send(Bytes::from(joined.welcome)).is_ok() {
                                m.bytes_sent.inc_by(len);
                            }
                            info!(player = %joined.player_id, name = %name, "player joined");
                            links.insert(joined.player_id, link);
                            Ok(joined.player_id)
                        }
                        Err(e) => Err(e.close_reason()),
                    };
                    if let Err(Ok(id)) = reply.send(answer) {
                        // The connection gave up waiting: undo the join.
                        links.remove(&id);
                        room.handle_leave(id);
                    }
                }
            },
        }
    }
    info!("room stopped");
}

/// Takes what each client sent since the last tick. A client whose connection task has ended
/// (inbox closed) leaves the room.
fn drain_inboxes(room: &mut Room, links: &mut HashMap<PlayerId, ClientLink>, state: &AppState) {
    let m = &state.metrics;
    let mut gone = Vec::new();
    for (&id, link) in links.iter_mut() {
        // Bounded by the inbox capacity so a client cannot keep the room busy by sending
        // faster than the room drains.
        for _ in 0..state.config.inbox_capacity {
            match link.inbox.try_recv() {
                Ok(ClientCmd::Inputs(cmds)) => {
                    let o = room.handle_inputs(id, &cmds);
                    for (outcome, n) in [
                        ("queued", o.queued),
                        ("duplicate", o.duplicates),
                        ("rejected", o.rejected),
                    ] {
                        if n > 0 {
                            m.inputs
                                .get_or_create(&crate::metrics::OutcomeLabels { outcome })
                                .inc_by(u64::from(n));
                        }
                    }
                }
                Ok(ClientCmd::Chat(text)) => room.handle_chat(id, &text),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    gone.push(id);
                    break;
                }
            }
        }
    }
    for id in gone {
        links.remove(&id);
        room.handle_leave(id);
        info!(player = %id, "player left");
    }
}
