//! The room task: drives a room ([`RoomLogic`]) at the tick rate. It owns every client's link (inbox,
//! outbox, kick) and never awaits a socket: inboxes are drained with `try_recv`, snapshots are
//! queued with `try_send` only where the outbox has room.

use super::AppState;
use super::chan;
use super::driver::{GameMsg, RoomLogic};
use super::rooms::{HeldSeat, RoomStats, Seat};
use crate::metrics::{OutcomeLabels, RoomLabels};
use crate::persist::Job;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tickwire_engine::ChatOutcome;
use tickwire_shared::PlayerId;
use tickwire_shared::close::{CloseCode, CloseReason};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use tracing::{Instrument, debug, info, info_span, warn};

/// A message from a joined client to its room.
#[derive(Debug)]
pub enum ClientCmd {
    /// Inputs or an action, decoded with the game's schema.
    Game(GameMsg),
    /// A chat line.
    Chat(String),
    /// The client (over an unreliable transport) applied the snapshot of this tick.
    Ack(tickwire_shared::Tick),
    /// The client closed the connection on purpose: leave now, no resume.
    Quit,
    /// The server closed the connection for abuse (a flood, an oversized or undecodable
    /// message: this close code): the player is removed now, with no resume grace, and its
    /// token dies with it.
    Abused(CloseCode),
}

/// The room's ends of a client's channels.
pub struct ClientLink {
    /// Encoded server messages to the client (bounded; full means "skip").
    pub outbox: chan::Sender<Bytes>,
    /// Messages from the client.
    pub inbox: chan::Receiver<ClientCmd>,
    /// Closes the client's connection with a reason.
    pub kick: oneshot::Sender<CloseReason>,
    /// Over an unreliable transport (WebTransport datagrams): snapshots go against the ticks
    /// the client acknowledges ([`ClientCmd::Ack`]), and events apart from them.
    pub unreliable: bool,
    /// Set when the client asked for numbered messages (`?mirror=1`): the number of the
    /// next, and the mirrors attached.
    pub numbering: Option<Numbering>,
}

/// A session's numbered messages ([`tickwire_shared::sync::mirror`]).
#[derive(Debug, Default)]
pub struct Numbering {
    next: u64,
    /// The mirrors attached, oldest first.
    mirrors: Vec<MirrorLink>,
}

/// The room's end of a mirror: a second connection of a client that receives a copy of each
/// numbered message. Dropping it closes that connection (the session is over).
#[derive(Debug)]
pub struct MirrorLink {
    outbox: chan::Sender<Bytes>,
    kick: Option<oneshot::Sender<CloseReason>>,
    /// Messages in a row it had no room for.
    behind: u32,
}

impl MirrorLink {
    /// The mirror connection's outbox and kick.
    pub fn new(outbox: chan::Sender<Bytes>, kick: oneshot::Sender<CloseReason>) -> MirrorLink {
        MirrorLink {
            outbox,
            kick: Some(kick),
            behind: 0,
        }
    }

    /// Closes the mirror connection with `reason` (dropping it then closes nothing more).
    fn close(&mut self, reason: CloseReason) {
        if let Some(k) = self.kick.take() {
            let _ = k.send(reason);
        }
    }
}

impl Drop for MirrorLink {
    fn drop(&mut self) {
        if let Some(k) = self.kick.take() {
            let _ = k.send(CloseReason::new(
                CloseCode::GoingAway,
                "the session's main connection ended",
            ));
        }
    }
}

impl ClientLink {
    /// Queues a message of the room for the client (numbered, and copied to its mirrors, when
    /// the client asked for that); returns the bytes queued on its connections. Full: the
    /// client's main connection has no room (nothing was queued on any).
    fn send(&mut self, msg: Vec<u8>, max_behind: u32) -> Result<u64, TrySendError<Bytes>> {
        let Some(n) = &mut self.numbering else {
            let len = msg.len() as u64;
            return self.outbox.try_send(Bytes::from(msg)).map(|()| len);
        };
        let mut out = Vec::with_capacity(msg.len() + 4);
        tickwire_shared::sync::mirror::wrap(n.next, &msg, &mut out);
        let bytes = Bytes::from(out);
        let len = bytes.len() as u64;
        self.outbox.try_send(bytes.clone())?;
        n.next += 1;
        let mut queued = len;
        // The main connection has every message: a mirror that is behind only stops helping
        // for a while, and one that stays behind goes.
        n.mirrors
            .retain_mut(|m| match m.outbox.try_send(bytes.clone()) {
                Ok(()) => {
                    m.behind = 0;
                    queued += len;
                    true
                }
                Err(TrySendError::Full(_)) => {
                    m.behind += 1;
                    if m.behind <= max_behind {
                        return true;
                    }
                    m.close(CloseReason::new(
                        CloseCode::TooSlow,
                        format!(
                            "the mirror could not keep up: {} messages skipped in a row",
                            m.behind
                        ),
                    ));
                    false
                }
                Err(TrySendError::Closed(_)) => false,
            });
        Ok(queued)
    }
}

/// The answer to a join.
#[derive(Debug, Clone)]
pub struct JoinReply {
    /// The player.
    pub player_id: PlayerId,
    /// Whether it was taken back with a resume token.
    pub resumed: bool,
}

/// A request to the room task.
// Joins are most of the commands and carry their link and seat inline; boxing them would cost
// an allocation per join to save bytes in a 256-slot queue.
#[allow(clippy::large_enum_variant)]
pub enum RoomCmd {
    /// Add a player (or resume one); the reply carries its id or the refusal.
    Join {
        /// Requested display name.
        name: String,
        /// Token from an earlier Welcome.
        resume_token: Option<String>,
        /// The client's channels.
        link: ClientLink,
        /// Where to answer.
        reply: oneshot::Sender<Result<JoinReply, CloseReason>>,
        /// The reservation: a new player keeps its seat for as long as it is in the room.
        seat: Seat,
        /// The player's stable id, where results are kept (`acct:…`, `guest:…`; see
        /// [`crate::persist::identity`]).
        identity: Option<String>,
    },
    /// A server notice for every player of the room (`player` None) or one of them: an
    /// announcement or a direct message, perhaps from another node.
    Notice {
        /// The one player, if not everyone.
        player: Option<PlayerId>,
        /// The text (cleaned and cut by the room).
        text: String,
    },
    /// The room's players, for the operator's view: answered between ticks, at once.
    Players {
        /// Where to answer.
        reply: oneshot::Sender<Vec<PlayerEntry>>,
    },
    /// A second connection of a connected player (named by its session's resume token)
    /// becomes a mirror of that session: it gets a copy of each numbered message from now on.
    /// Past `--max-mirrors`, a newer mirror replaces the oldest.
    Mirror {
        /// The session's resume token.
        token: String,
        /// The mirror connection's ends.
        link: MirrorLink,
        /// The player, or why not (with the link back, so that the mirror's outbox stays
        /// open until its reader has closed it with the reason).
        reply: oneshot::Sender<Result<PlayerId, (CloseReason, MirrorLink)>>,
    },
    /// An operator removes a player: its connection is closed with 1008 `removed by an
    /// operator` and it leaves at once, with no resume. The reply says whether the room had
    /// that player.
    Kick {
        /// The player.
        player: PlayerId,
        /// Where to answer.
        reply: oneshot::Sender<bool>,
    },
}

/// One player of a room, as [`RoomCmd::Players`] answers.
#[derive(Debug, Clone)]
pub struct PlayerEntry {
    /// The player.
    pub id: PlayerId,
    /// Its display name (as the room cleaned it).
    pub name: String,
    /// Connected, or waiting in its resume grace.
    pub connected: bool,
}

/// The close reason an operator's kick gives.
pub const KICKED_REASON: &str = "removed by an operator";

/// Most joins a room takes at the start of a tick (more wait for the next tick or a spare
/// moment between ticks).
const JOINS_PER_TICK: usize = 64;

struct Driver {
    room: Box<dyn RoomLogic>,
    links: HashMap<PlayerId, ClientLink>,
    /// Each player's seat (connected or in its resume grace), released when it is removed.
    seats: HashMap<PlayerId, HeldSeat>,
    /// Players whose connection asked to leave, or was closed for abuse (no resume).
    quitting: Vec<PlayerId>,
    stats: Arc<RoomStats>,
    state: Arc<AppState>,
    labels: RoomLabels,
    /// This room's share of the process-wide player and entity gauges.
    published: (i64, i64),
    /// Each player's stable id, for its results.
    identities: HashMap<PlayerId, String>,
    /// Matches this room has ended (part of each match id).
    matches: u64,
    /// NetId releases the room had refused at the last tick (for the metric).
    net_id_errors: u64,
    /// Overload: the share of its period each tick takes (smoothed), the snapshot interval,
    /// and the tick it was last changed at.
    load: f64,
    interval: u32,
    interval_changed: tickwire_shared::Tick,
}

/// The snapshot interval for a room at `interval` whose ticks take `load` of their period on
/// average (smoothed over about a second), at most `max`: one more when it is over `budget`
/// (`--tick-budget`, 0.9), one less when the smaller interval would stay 0.2 under it (the
/// snapshot work, nearly all of a busy tick, spread over one tick fewer).
pub(crate) fn next_interval(interval: u32, load: f64, max: u32, budget: f64) -> u32 {
    if load > budget && interval < max {
        interval + 1
    } else if interval > 1 && load * f64::from(interval) / f64::from(interval - 1) < budget - 0.2 {
        interval - 1
    } else {
        interval.min(max.max(1))
    }
}

pub(super) async fn run(
    room: Box<dyn RoomLogic>,
    cmds: mpsc::Receiver<RoomCmd>,
    stats: Arc<RoomStats>,
    state: Arc<AppState>,
) {
    let span = info_span!("room", room = %stats.id);
    let labels = RoomLabels {
        room: stats.id.clone(),
    };
    let driver = Driver {
        room,
        links: HashMap::new(),
        seats: HashMap::new(),
        quitting: Vec::new(),
        stats,
        state,
        labels,
        published: (0, 0),
        identities: HashMap::new(),
        matches: 0,
        net_id_errors: 0,
        load: 0.0,
        interval: 1,
        interval_changed: tickwire_shared::Tick(0),
    };
    driver.run(cmds).instrument(span).await;
}

impl Driver {
    async fn run(mut self, mut cmds: mpsc::Receiver<RoomCmd>) {
        let state = self.state.clone();
        let period = Duration::from_secs_f64(1.0 / f64::from(state.config.tick_rate));
        let mut interval = tokio::time::interval(period);
        // Burst keeps tick numbers in step with wall time after a stall, which clients' clock
        // sync relies on.
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut empty_since: Option<Instant> = None;
        state.metrics.rooms.inc();
        info!(public = self.stats.public, "room created");
        loop {
            tokio::select! {
                biased;
                _ = state.shutdown.cancelled() => break,
                _ = interval.tick() => {
                    // A room that is behind finds its interval always ready, so joins queued
                    // meanwhile are taken here too (bounded) instead of waiting for a spare
                    // moment that never comes.
                    for _ in 0..JOINS_PER_TICK {
                        let Ok(cmd) = cmds.try_recv() else {
                            break;
                        };
                        self.command(cmd);
                    }
                    self.tick();
                    if self.room.player_count() == 0 && self.stats.is_idle() {
                        let since = *empty_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= state.config.empty_room_timeout
                            && state.rooms.remove_if_idle(&self.stats.id)
                        {
                            info!("empty room disposed of");
                            break;
                        }
                    } else {
                        empty_since = None;
                    }
                }
                Some(cmd) = cmds.recv() => self.command(cmd),
            }
        }
        state.metrics.rooms.dec();
        if self.interval > 1 {
            state.metrics.rooms_degraded.dec();
        }
        state.metrics.players.dec_by(self.published.0);
        state.metrics.entities.dec_by(self.published.1);
        state.metrics.room_players.remove(&self.labels);
    }

    fn command(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join {
                name,
                resume_token,
                link,
                reply,
                seat,
                identity,
            } => self.join(name, resume_token, link, reply, seat, identity),
            RoomCmd::Notice { player, text } => self.room.notice(player, &text),
            RoomCmd::Players { reply } => {
                let players = self
                    .room
                    .players()
                    .into_iter()
                    .map(|(id, name, connected)| PlayerEntry {
                        id,
                        name,
                        connected,
                    })
                    .collect();
                let _ = reply.send(players);
            }
            RoomCmd::Kick { player, reply } => {
                let _ = reply.send(self.kick(player));
            }
            RoomCmd::Mirror { token, link, reply } => {
                let _ = reply.send(self.mirror(&token, link));
            }
        }
    }

    /// Attaches a mirror to the connected session `token` names (replacing its oldest when it
    /// has `--max-mirrors` already). A refused mirror is told why by its own reader.
    fn mirror(
        &mut self,
        token: &str,
        mut link: MirrorLink,
    ) -> Result<PlayerId, (CloseReason, MirrorLink)> {
        let max = self.state.config.max_mirrors;
        let unknown = || {
            CloseReason::new(
                CloseCode::Unauthorized,
                "no connected player of this room holds that resume token",
            )
        };
        let found = if max == 0 {
            Err(CloseReason::new(
                CloseCode::PolicyViolation,
                "this server takes no mirror connections (--max-mirrors 0)",
            ))
        } else {
            self.room
                .token_owner(token)
                .and_then(|id| Some(id).zip(self.links.get_mut(&id)))
                .ok_or_else(unknown)
                .and_then(|(id, main)| match &mut main.numbering {
                    Some(n) => Ok((id, n)),
                    None => Err(CloseReason::new(
                        CloseCode::PolicyViolation,
                        "the session did not ask for numbered messages (connect it with ?mirror=1)",
                    )),
                })
        };
        let (id, n) = match found {
            Ok(x) => x,
            Err(reason) => {
                // Not attached: its reader closes it with the reason, not its drop.
                link.kick = None;
                return Err((reason, link));
            }
        };
        if n.mirrors.len() >= max {
            let mut oldest = n.mirrors.remove(0);
            oldest.close(CloseReason::from(CloseCode::Replaced));
        }
        n.mirrors.push(link);
        self.state.metrics.mirrors_attached.inc();
        debug!(player = %id, mirrors = n.mirrors.len(), "mirror attached");
        Ok(id)
    }

    /// An operator's kick: closes the player's connection (1008) and removes it now, like a
    /// player removed for abuse, so its resume token dies with it. False if there is no such
    /// player.
    fn kick(&mut self, id: PlayerId) -> bool {
        if !self.room.has_player(id) {
            return false;
        }
        if let Some(link) = self.links.remove(&id) {
            let reason = CloseReason::new(CloseCode::PolicyViolation, KICKED_REASON);
            let _ = link.kick.send(reason);
        }
        self.quitting.retain(|q| *q != id);
        self.room.leave(id);
        info!(player = %id, "player removed by an operator");
        self.release_seats();
        self.publish_counts();
        true
    }

    fn join(
        &mut self,
        name: String,
        resume_token: Option<String>,
        link: ClientLink,
        reply: oneshot::Sender<Result<JoinReply, CloseReason>>,
        seat: Seat,
        identity: Option<String>,
    ) {
        let m = &self.state.metrics;
        let owner = resume_token
            .as_deref()
            .and_then(|t| self.room.token_owner(t));
        // A resume while the old connection is still up (the client noticed the drop first):
        // the new connection takes over and the old one is told why.
        if let Some(id) = owner
            && self.room.is_connected(id)
        {
            if let Some(old) = self.links.remove(&id) {
                let _ = old.kick.send(CloseReason::from(CloseCode::Replaced));
            }
            self.room.disconnect(id);
        }
        let Seat {
            held,
            resume,
            refusal,
            ..
        } = seat;
        // A token that names no player of the room makes a new player, which needs a seat of
        // its own like any other.
        let answer = if owner.is_none()
            && let (None, Some(reason)) = (&held, refusal)
        {
            Err(reason)
        } else {
            self.room.join(&name, resume_token.as_deref())
        };
        let answer = match answer {
            Ok(joined) => {
                if joined.resumed {
                    // The player kept its seat; the one reserved for this join goes back.
                    if let Some(r) = resume {
                        r.succeeded();
                    }
                } else if let Some(h) = held {
                    self.seats.insert(joined.player_id, h);
                }
                let mut link = link;
                // A fresh outbox is empty, so the welcome always fits.
                if let Ok(len) = link.send(joined.welcome, u32::MAX) {
                    m.bytes_sent.inc_by(len);
                    self.stats.bytes_sent.fetch_add(len, Ordering::Relaxed);
                }
                if joined.resumed {
                    m.resumes.inc();
                    info!(player = %joined.player_id, "player resumed");
                } else {
                    info!(player = %joined.player_id, name = %name, "player joined");
                    if let Some(id) = identity {
                        if let Some(p) = &self.state.persist {
                            p.submit(Job::Seen {
                                player: id.clone(),
                                name: name.clone(),
                            });
                        }
                        self.identities.insert(joined.player_id, id);
                    }
                }
                if link.unreliable {
                    self.room.set_unreliable(joined.player_id);
                }
                self.links.insert(joined.player_id, link);
                Ok(JoinReply {
                    player_id: joined.player_id,
                    resumed: joined.resumed,
                })
            }
            Err(reason) => Err(reason),
        };
        if let Err(Ok(r)) = reply.send(answer) {
            // The connection gave up waiting: it is as if it dropped.
            self.links.remove(&r.player_id);
            self.room.disconnect(r.player_id);
        }
        self.release_seats();
        self.publish_counts();
    }

    /// Gives back the seats of players no longer in the room (left, removed, or out of
    /// their resume grace).
    fn release_seats(&mut self) {
        // A look-up per seat a tick: cheap, and right whatever happened in between.
        let room = &self.room;
        self.seats.retain(|id, _| room.has_player(*id));
        self.identities.retain(|id, _| room.has_player(*id));
    }

    /// Hands the matches the game ended to the database writer (never waits for it).
    fn keep_results(&mut self, results: Vec<tickwire_engine::MatchResult>) {
        let Some(p) = &self.state.persist else {
            return;
        };
        for r in results {
            self.matches += 1;
            let ids = &self.identities;
            let record = p.record(
                &self.state.game.schema().game,
                &self.stats.id,
                self.matches,
                &r,
                |player| ids.get(&player).cloned(),
            );
            info!(match_id = %record.match_id, players = record.players.len(), "match over");
            p.submit(Job::Result(record));
        }
    }

    fn tick(&mut self) {
        let start = Instant::now();
        self.drain_inboxes();
        let links = &self.links;
        let max_behind = self.state.config.max_skipped_ticks;
        let out = self
            .room
            // Over datagrams a tick may bring two messages (the events apart): both must fit.
            .tick(&mut |id| {
                links
                    .get(&id)
                    .is_some_and(|l| l.outbox.capacity() > usize::from(l.unreliable))
            });
        if !out.results.is_empty() {
            self.keep_results(out.results);
        }
        let out_between = out.between;
        let m = &self.state.metrics;
        let mut gone = Vec::new();
        let mut sent = 0;
        for (id, bytes) in out.messages {
            let Some(link) = self.links.get_mut(&id) else {
                continue;
            };
            match link.send(bytes, max_behind) {
                Ok(len) => {
                    m.snapshots_sent.inc();
                    m.bytes_sent.inc_by(len);
                    sent += len;
                }
                // Capacity was checked and only this task sends: full cannot happen.
                Err(TrySendError::Full(_)) => {
                    m.snapshots_skipped.inc();
                }
                Err(TrySendError::Closed(_)) => gone.push(id),
            }
        }
        self.stats.bytes_sent.fetch_add(sent, Ordering::Relaxed);
        m.snapshots_skipped.inc_by(u64::from(out.skipped));
        m.events_dropped.inc_by(out.events_dropped);
        m.updates_held.inc_by(out.updates_held);
        if out.net_id_errors > self.net_id_errors {
            warn!(
                refused = out.net_id_errors - self.net_id_errors,
                "the engine refused NetId releases: a bookkeeping slip (no id was reused)"
            );
            m.net_id_errors
                .inc_by(out.net_id_errors - self.net_id_errors);
            self.net_id_errors = out.net_id_errors;
        }
        for (id, reason) in out.kicked {
            if let Some(link) = self.links.remove(&id) {
                debug!(player = %id, code = reason.code.code(), "dropping client");
                let _ = link.kick.send(reason);
            }
        }
        for id in gone {
            self.links.remove(&id);
            self.room.disconnect(id);
        }
        self.stats
            .tick
            .store(self.room.tick_count().0, Ordering::Relaxed);
        self.release_seats();
        self.publish_counts();
        let took = start.elapsed();
        if out_between {
            self.state.metrics.ticks_between_snapshots.inc();
        }
        self.overload(took);
        self.stats.tick_micros.store(
            u32::try_from(took.as_micros()).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
        self.state.metrics.tick_duration.observe(took.as_secs_f64());
    }

    /// Degrades instead of drifting: when ticks overrun their period, snapshots go out every
    /// 2, 3, … ticks (`--overload-max-interval`), the game still stepping every tick; back
    /// down when there is room again. At most one change a second.
    fn overload(&mut self, took: Duration) {
        let config = &self.state.config;
        let period = 1.0 / f64::from(config.tick_rate.max(1));
        let rate = u32::from(config.tick_rate.max(1));
        self.load += (took.as_secs_f64() / period - self.load) * (2.0 / f64::from(rate + 1));
        let now = self.room.tick_count();
        if now.since(self.interval_changed) < rate {
            return;
        }
        let next = next_interval(
            self.interval,
            self.load,
            config.overload_max_interval,
            config.tick_budget,
        );
        if next == self.interval {
            return;
        }
        let m = &self.state.metrics;
        match (self.interval > 1, next > 1) {
            (false, true) => m.rooms_degraded.inc(),
            (true, false) => m.rooms_degraded.dec(),
            _ => 0,
        };
        if next > self.interval {
            warn!(
                load = format!("{:.2}", self.load),
                interval = next,
                "tick over budget: snapshots every {next} ticks"
            );
        } else {
            info!(
                load = format!("{:.2}", self.load),
                interval = next,
                "tick within budget again: snapshots every {next} ticks"
            );
        }
        self.interval = next;
        self.interval_changed = now;
        self.room.set_snapshot_interval(next);
    }

    fn publish_counts(&mut self) {
        let m = &self.state.metrics;
        let players = self.room.player_count();
        self.stats.players.store(players, Ordering::Relaxed);
        m.room_players
            .get_or_create(&self.labels)
            .set(players as i64);
        let now = (players as i64, self.room.entity_count() as i64);
        m.players.inc_by(now.0 - self.published.0);
        m.entities.inc_by(now.1 - self.published.1);
        self.published = now;
    }

    /// Takes what each client sent since the last tick. A client whose connection task has
    /// ended is disconnected (resumable), or removed at once if it said goodbye.
    fn drain_inboxes(&mut self) {
        let m = &self.state.metrics;
        let mut gone = Vec::new();
        for (&id, link) in self.links.iter_mut() {
            // Bounded by the inbox capacity so a client cannot keep the room busy by sending
            // faster than the room drains.
            for _ in 0..self.state.config.inbox_capacity {
                match link.inbox.try_recv() {
                    Ok(ClientCmd::Game(msg)) => {
                        let is_action = matches!(msg, GameMsg::Action(_));
                        let outcome = self.room.message(id, msg);
                        if is_action {
                            let outcome = if outcome.action_refused {
                                "refused"
                            } else {
                                "accepted"
                            };
                            m.actions.get_or_create(&OutcomeLabels { outcome }).inc();
                        }
                        let o = outcome.inputs;
                        for (outcome, n) in [
                            ("queued", o.queued),
                            ("duplicate", o.duplicates),
                            ("rejected", o.rejected),
                        ] {
                            if n > 0 {
                                m.inputs
                                    .get_or_create(&OutcomeLabels { outcome })
                                    .inc_by(u64::from(n));
                            }
                        }
                    }
                    Ok(ClientCmd::Chat(text)) => {
                        if self.room.chat(id, &text) == ChatOutcome::RateLimited {
                            m.rate_limited
                                .get_or_create(&OutcomeLabels { outcome: "chat" })
                                .inc();
                        }
                    }
                    Ok(ClientCmd::Ack(tick)) => {
                        self.room.ack(id, tick);
                    }
                    Ok(ClientCmd::Quit) => self.quitting.push(id),
                    Ok(ClientCmd::Abused(code)) => {
                        // At once, not when the connection task has finished closing.
                        info!(player = %id, code = code.code(), "removing player for abuse");
                        self.quitting.push(id);
                        gone.push(id);
                        break;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        gone.push(id);
                        break;
                    }
                }
            }
        }
        for id in gone {
            self.links.remove(&id);
            if let Some(i) = self.quitting.iter().position(|q| *q == id) {
                self.quitting.swap_remove(i);
                self.room.leave(id);
                info!(player = %id, "player left");
            } else {
                self.room.disconnect(id);
                info!(player = %id, "player disconnected; may resume");
            }
        }
    }
}

#[cfg(test)]
mod overload_tests {
    #[test]
    fn the_snapshot_interval_rises_past_90_percent_and_falls_when_one_less_stays_under_70() {
        let next_interval = |i, load, max| super::next_interval(i, load, max, 0.9);
        assert_eq!(next_interval(1, 0.5, 4), 1);
        assert_eq!(next_interval(1, 0.95, 4), 2);
        assert_eq!(next_interval(2, 0.95, 4), 3);
        assert_eq!(next_interval(4, 1.5, 4), 4, "never past the maximum");
        assert_eq!(
            next_interval(1, 3.0, 1),
            1,
            "--overload-max-interval 1: never"
        );
        // At 2, a load of 0.4 would be 0.8 at 1: stay; 0.3 would be 0.6: back to 1.
        assert_eq!(next_interval(2, 0.4, 4), 2);
        assert_eq!(next_interval(2, 0.3, 4), 1);
        // At 3, 0.45 would be 0.675 at 2.
        assert_eq!(next_interval(3, 0.45, 4), 2);
        assert_eq!(next_interval(3, 0.5, 4), 3);
        // A maximum lowered below the interval in use brings it down to it.
        assert_eq!(next_interval(4, 0.8, 2), 2);
    }
}
