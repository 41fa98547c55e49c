//! A room for any [`Game`], sans-IO: it owns the game, each client's input queue and what each
//! client holds, and [`Room::tick`] returns the bytes for each client. It never touches a
//! socket or reads a clock.
//!
//! Per tick: expired resume seats leave (before anything is laid out, so no view is built
//! from an entity that is gone), each client's queued commands are applied in seq order (a
//! bounded number), the game steps and replicates, player records and room fields are
//! compared with the last tick's, events are routed to their audiences, and every client
//! whose outbox has room gets its delta against exactly what it holds. A client that skips
//! ticks keeps its baseline, and its next snapshot covers the gap: entity deltas against the
//! baseline, player records from the change log since its last snapshot, room fields if they
//! changed since, every event it missed.

use super::acks::Acks;
use super::budget::{self, ClientBudget};
use super::delta::{Baseline, Changes, Work};
use super::events::{CutScratch, Inbox, Journal};
use super::game::{Audience, Ctx, Game, MatchEnd, MatchResult, ResultRow, World};
use super::players::{LogEntry, PlayerChanges, Record};
use super::view::{Interest, Masks, Table, Viewer, diff};
use crate::input_queue::{InputQueue, Push};
use crate::limits::TokenBucket;
use crate::net_ids::{IdLog, NetIds};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tickwire_shared::close::{CloseCode, CloseReason};
use tickwire_shared::schema::{Schema, engine_events};
use tickwire_shared::sync::{
    Action, EncodedEntities, EncodedEvents, Event, InputCmd, Marker, PROTOCOL_VERSION, ServerMsg,
    Snapshot, Value, Welcome, encode_based_with_parts, encode_server, encode_snapshot_with_parts,
    encode_tick_events, wire::MAX_MESSAGE_BYTES,
};
use tickwire_shared::sync::{MAX_CHAT_CHARS, MAX_NAME_CHARS};
use tickwire_shared::{NetId, PlayerId, Tick};

/// Settings of one room that the engine owns (the game has its own).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Ticks per second.
    pub tick_rate: u16,
    /// Most players at once.
    pub max_players: usize,
    /// Most input commands applied per client per tick.
    pub max_inputs_per_tick: usize,
    /// Most input commands queued per client.
    pub input_queue_capacity: usize,
    /// How far ahead of the last applied command a seq may be (not for the first command).
    pub input_window: u32,
    /// Snapshots whose tick is a multiple of this carry a checksum (0 = never).
    pub checksum_interval: u16,
    /// A client whose outbox stays full this many ticks in a row is disconnected.
    pub max_skipped_ticks: u32,
    /// The room's id (prefix of its resume tokens).
    pub id: String,
    /// Ticks a disconnected player keeps its seat for a resume.
    pub resume_grace_ticks: u32,
    /// Chat lines a player may send in a burst.
    pub chat_burst: u32,
    /// Ticks to earn back one chat line.
    pub chat_refill_ticks: u32,
    /// A notice every new player gets with its first snapshot.
    pub motd: Option<String>,
    /// Width and height of the area spatial interest covers.
    pub area: (f32, f32),
    /// Most bytes of events one snapshot carries. A client that fell behind loses its oldest
    /// chat lines and notices first, then its oldest game events, and is told how many (see
    /// [`crate::events`]); every snapshot stays far below
    /// [`MAX_MESSAGE_BYTES`](tickwire_shared::sync::wire::MAX_MESSAGE_BYTES).
    pub max_event_bytes: usize,
    /// Quiet ticks cost nothing: a client whose snapshot would be the header alone (with the
    /// same acknowledgement as its last frame) gets a 2-byte tick marker while something it
    /// holds moves on its course, and no frame at all otherwise but one marker a second.
    pub quiet_ticks: bool,
    /// Most bytes a second each client is sent, on average (`None`: no limit). Over it, the
    /// entity updates that matter least wait for a later tick, by a priority that grows with
    /// closeness, relevance and waiting time, and stay exact (see [`crate::budget`]).
    pub client_budget: Option<u32>,
    /// Whether the clients that hold and see the whole world share one encoding of a tick's
    /// entity changes (each gets it with its own entities' updates put in), instead of each
    /// walking the whole world. The bytes are the same either way; off only to compare.
    pub share_views: bool,
    /// Over an unreliable transport, the largest snapshot that travels as a datagram (QUIC
    /// guarantees about 1,200 bytes of payload); a larger one goes on the reliable stream, and
    /// while it is unacknowledged no other that large follows it for 4 ticks (a second for a
    /// complete state, before the first acknowledgement).
    pub datagram_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            tick_rate: 30,
            max_players: 256,
            max_inputs_per_tick: 3,
            input_queue_capacity: 64,
            input_window: 256,
            checksum_interval: 0,
            max_skipped_ticks: 150,
            id: "main".into(),
            resume_grace_ticks: 300,
            chat_burst: 5,
            chat_refill_ticks: 60,
            motd: None,
            area: (4096.0, 4096.0),
            max_event_bytes: 64 * 1024,
            quiet_ticks: true,
            client_budget: Some(DEFAULT_CLIENT_BUDGET),
            share_views: true,
            datagram_bytes: 1100,
        }
    }
}

/// The default [`EngineConfig::client_budget`]: 32 KiB a second (about 1.1 KB a tick at 30 Hz),
/// far above what the example games send a client in play, so it binds only in crowds.
pub const DEFAULT_CLIENT_BUDGET: u32 = 32 * 1024;

/// Why a join was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room has `max_players` players.
    #[error("room is full ({0} players)")]
    Full(usize),
    /// The game refused the player (its reason).
    #[error("{0}")]
    Refused(String),
}

impl JoinError {
    /// The close frame that tells the client.
    pub fn close_reason(&self) -> CloseReason {
        match self {
            JoinError::Full(_) | JoinError::Refused(_) => {
                CloseReason::new(CloseCode::Full, self.to_string())
            }
        }
    }
}

/// What happened to a chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatOutcome {
    /// Relayed to the room.
    Sent,
    /// Empty after cleaning, or from an unknown player.
    Dropped,
    /// Over the player's chat rate; the player was told.
    RateLimited,
}

/// What happened to a batch of input commands.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InputOutcome {
    /// Queued for later ticks.
    pub queued: u32,
    /// Redundant repeats, ignored.
    pub duplicates: u32,
    /// Too far ahead or over the queue bound, ignored.
    pub rejected: u32,
}

/// A successful join.
#[derive(Debug)]
pub struct Joined {
    /// The player's id.
    pub player_id: PlayerId,
    /// The encoded `Welcome` to send first.
    pub welcome: Vec<u8>,
    /// Whether an existing player was taken back with a resume token.
    pub resumed: bool,
}

/// What one tick produced.
#[derive(Debug, Default)]
pub struct TickOutput {
    /// Encoded snapshot for each client that had room for one.
    pub messages: Vec<(PlayerId, Vec<u8>)>,
    /// Clients dropped this tick (they may resume) and why.
    pub kicked: Vec<(PlayerId, CloseReason)>,
    /// Clients whose outbox was full.
    pub skipped: u32,
    /// Events dropped from snapshots this tick to keep them under `max_event_bytes`.
    pub events_dropped: u64,
    /// Entity updates that wait for a later tick this tick, summed over the clients, to keep
    /// within their byte budget ([`EngineConfig::client_budget`]).
    pub updates_held: u64,
    /// Matches or rounds the game said were over since the last tick ([`Ctx::end_match`]).
    pub results: Vec<MatchResult>,
    /// How many clients got the entity sections every client that holds and sees the whole
    /// world shares ([`EngineConfig::share_views`]), their own entities put in.
    pub shared_views: u32,
    /// How many clients' views nothing changed in this tick (nothing in the world changed, and
    /// the view is where it was): none of their entities was walked.
    pub still_views: u32,
    /// How many threads built this tick's snapshots (1 in a tick where nothing changed, and
    /// below `PARALLEL_MIN_CLIENTS` clients due one; else the threads of the rayon pool the
    /// tick ran in, at most one per client).
    pub threads: usize,
    /// A tick between snapshots ([`Room::set_snapshot_interval`]): nothing was built.
    pub between: bool,
}

struct Client {
    inputs: InputQueue<InputCmd>,
    /// Exactly the entities this client has been sent.
    baseline: Baseline,
    /// Events not sent yet.
    inbox: Inbox,
    /// Tick of the last snapshot sent; `None` until the first (which is then complete).
    last_sent: Option<Tick>,
    /// Tick and acknowledgement of the last frame sent (snapshot or marker): a quiet tick
    /// sends none.
    last_frame: Option<(Tick, tickwire_shared::InputSeq)>,
    /// Its view's centre and team at its last snapshot: in a tick where nothing changed, a
    /// view that is where it was sees what it holds ([`Baseline::stay`]).
    last_view: Option<(Option<glam::Vec2>, Option<u16>)>,
    skipped_in_a_row: u32,
    connected: bool,
    disconnected_at: Tick,
    resume_token: String,
    chat: TokenBucket,
    /// Its byte budget, when the room has one.
    budget: Option<ClientBudget>,
    /// Over an unreliable transport: the tables its snapshots are against
    /// ([`Room::set_unreliable`]; boxed, since most clients have none).
    acks: Option<Box<Acks>>,
}

/// One room of a game.
pub struct Room<G: Game> {
    config: EngineConfig,
    game: G,
    schema: Arc<Schema>,
    pub(super) masks: Masks,
    player_owner_only: Vec<usize>,
    client_config: String,
    tick: Tick,
    clients: BTreeMap<PlayerId, Client>,
    pub(super) records: BTreeMap<PlayerId, Record>,
    log: VecDeque<LogEntry>,
    room_lanes: Vec<i64>,
    room_changed_at: Tick,
    net_ids: NetIds,
    next_player: u32,
    world: World,
    pub(super) interest: Interest,
    changes: Changes,
    /// This tick's viewers: every connected client, ascending id.
    viewers: Vec<Viewer>,
    /// Scratch for building snapshots, one per worker thread (at least one).
    workers: Vec<Worker>,
    events: Vec<(Audience, Event)>,
    /// Matches the game ended since the last tick, with the tick each ended at.
    ended: Vec<(Tick, MatchEnd)>,
    journal: Journal,
    tokens: HashMap<String, PlayerId>,
    token_rng: StdRng,
    /// Snapshots go out every this many ticks (1: every tick; more under overload, see
    /// [`Room::set_snapshot_interval`]).
    snapshot_interval: u32,
    /// The tick of the last snapshots built: the world the next ones are measured from.
    last_built: Tick,
    /// Tests: every client's delta goes through a copy of what it holds, as after a skip
    /// (the reference the live path must match byte for byte).
    #[cfg(test)]
    pub(super) always_copy: bool,
}

pub use crate::text::clean_text;

impl<G: Game> Room<G> {
    /// An empty room running `game`.
    pub fn new(config: EngineConfig, game: G) -> Room<G> {
        let schema = game.schema();
        if let Err(e) = schema.validate() {
            panic!("game {:?} declares an invalid schema: {e}", schema.game);
        }
        let masks = Masks::new(&schema);
        let player_lanes = schema.player_fields.len();
        let player_owner_only = schema
            .player_fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.owner_only)
            .map(|(i, _)| i)
            .collect();
        Room {
            interest: Interest::new(config.area.0, config.area.1, game.view_radius()),
            client_config: game.client_config(),
            room_lanes: vec![0; schema.room_fields.len()],
            schema: Arc::new(schema),
            masks,
            player_owner_only,
            config,
            game,
            tick: Tick(0),
            clients: BTreeMap::new(),
            records: BTreeMap::new(),
            log: VecDeque::new(),
            room_changed_at: Tick(0),
            net_ids: NetIds::default(),
            next_player: 1,
            world: World::default(),
            changes: Changes::default(),
            viewers: Vec::new(),
            workers: vec![Worker::new(player_lanes)],
            events: Vec::new(),
            ended: Vec::new(),
            journal: Journal::default(),
            tokens: HashMap::new(),
            token_rng: StdRng::from_os_rng(),
            #[cfg(test)]
            always_copy: false,
            snapshot_interval: 1,
            last_built: Tick(0),
        }
    }

    /// The game (read-only).
    pub fn game(&self) -> &G {
        &self.game
    }

    /// The game, for tests and admin tools.
    pub fn game_mut(&mut self) -> &mut G {
        &mut self.game
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The engine settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine settings, for tests and admin tools.
    pub fn config_mut(&mut self) -> &mut EngineConfig {
        &mut self.config
    }

    /// A client's byte budget (`None`: no such client, or the room has none).
    pub fn client_budget(&self, id: PlayerId) -> Option<&ClientBudget> {
        self.clients.get(&id).and_then(|c| c.budget.as_ref())
    }

    /// Sends snapshots only every `ticks` ticks (at least 1, the default), for a room that
    /// cannot build them all within its tick period. The game still steps every tick and
    /// inputs are still applied every tick; on the ticks between, nothing is replicated and no
    /// client gets a frame; the next snapshot is measured across the gap, exactly, as after a
    /// skip (events and records wait for it). Every client's clock, interpolation and replica
    /// work as they do across quiet or skipped ticks.
    pub fn set_snapshot_interval(&mut self, ticks: u32) {
        self.snapshot_interval = ticks.max(1);
    }

    /// Every how many ticks snapshots go out ([`Room::set_snapshot_interval`]).
    pub fn snapshot_interval(&self) -> u32 {
        self.snapshot_interval
    }

    /// Last completed tick.
    pub fn tick_count(&self) -> Tick {
        self.tick
    }

    /// The most players the room seats (its `EngineConfig::max_players`).
    pub fn max_players(&self) -> usize {
        self.config.max_players
    }

    /// Players in the room (connected or holding a seat for a resume).
    pub fn player_count(&self) -> usize {
        self.clients.len()
    }

    /// Entities replicated at the last tick.
    pub fn entity_count(&self) -> usize {
        self.interest.len()
    }

    /// Wire ids referenced by entities or client baselines.
    pub fn net_ids_in_use(&self) -> usize {
        self.net_ids.in_use()
    }

    /// NetId releases the room's bookkeeping got wrong and the allocator refused (each would
    /// otherwise have let two entities share an id); 0 unless the bookkeeping slipped.
    pub fn net_id_errors(&self) -> u64 {
        self.net_ids.refused()
    }

    /// Whether a player is in the room (connected, or waiting in its resume grace).
    pub fn has_player(&self, id: PlayerId) -> bool {
        self.clients.contains_key(&id)
    }

    /// Whether a player is in the room and connected.
    pub fn is_connected(&self, id: PlayerId) -> bool {
        self.clients.get(&id).is_some_and(|c| c.connected)
    }

    /// Every player in the room, by id: its display name and whether it is connected (not
    /// waiting in its resume grace).
    pub fn players(&self) -> impl Iterator<Item = (PlayerId, &str, bool)> + '_ {
        self.clients.iter().map(|(id, c)| {
            let name = self.records.get(id).map_or("", |r| r.name.as_str());
            (*id, name, c.connected)
        })
    }

    /// The player a resume token belongs to.
    pub fn token_owner(&self, token: &str) -> Option<PlayerId> {
        self.tokens.get(token).copied()
    }

    /// The tick stamped on changes made between ticks: the next snapshot's.
    fn stamp(&self) -> Tick {
        self.tick.next()
    }

    fn ctx_parts(&mut self) -> (&mut G, Ctx<'_>) {
        (
            &mut self.game,
            Ctx {
                tick: self.tick,
                tick_rate: self.config.tick_rate,
                ids: &mut self.net_ids,
                events: &mut self.events,
                ended: &mut self.ended,
            },
        )
    }

    /// Adds a player, or takes back a disconnected one whose resume token matches (same
    /// player, same game state; its next snapshot is complete).
    pub fn handle_join(&mut self, name: &str, resume: Option<&str>) -> Result<Joined, JoinError> {
        if let Some(id) = resume.and_then(|t| self.tokens.get(t).copied())
            && self.clients.get(&id).is_some_and(|c| !c.connected)
        {
            let name = self.records[&id].name.clone();
            self.notice_all(format!("{name} is back"));
            let token = self.new_token();
            let stamp = self.stamp();
            let c = self.clients.get_mut(&id).expect("checked above");
            self.tokens.remove(&c.resume_token);
            c.resume_token = token.clone();
            c.connected = true;
            c.inbox = self.journal.open();
            c.skipped_in_a_row = 0;
            self.tokens.insert(token, id);
            self.set_connected(id, true, stamp);
            let (game, mut ctx) = self.ctx_parts();
            game.resumed(&mut ctx, id);
            return Ok(Joined {
                player_id: id,
                welcome: self.welcome(id, true),
                resumed: true,
            });
        }
        if self.clients.len() >= self.config.max_players {
            return Err(JoinError::Full(self.config.max_players));
        }
        let id = PlayerId(self.next_player);
        let name = clean_text(name, MAX_NAME_CHARS);
        let name = if name.is_empty() {
            format!("player-{}", id.0)
        } else {
            name
        };
        let (game, mut ctx) = self.ctx_parts();
        game.join(&mut ctx, id, &name).map_err(JoinError::Refused)?;
        self.next_player += 1;
        let stamp = self.stamp();
        self.records.insert(
            id,
            Record {
                name,
                connected: true,
                lanes: vec![0; self.schema.player_fields.len()],
                joined_at: stamp,
                changed_at: stamp,
                public_changed_at: stamp,
            },
        );
        self.log.push_back(LogEntry {
            at: stamp,
            player: id,
            left_joined_at: None,
        });
        let mut inbox = self.journal.open();
        if let Some(motd) = &self.config.motd {
            let seq = self.journal.seq();
            inbox.push(seq, Arc::new(notice(clean_text(motd, MAX_CHAT_CHARS))));
        }
        let token = self.new_token();
        self.tokens.insert(token.clone(), id);
        let chat = TokenBucket::new(
            1.0 / f64::from(self.config.chat_refill_ticks.max(1)),
            f64::from(self.config.chat_burst),
            f64::from(self.tick.0),
        );
        self.clients.insert(
            id,
            Client {
                inputs: self.new_input_queue(),
                baseline: Baseline::default(),
                inbox,
                last_sent: None,
                last_frame: None,
                last_view: None,
                skipped_in_a_row: 0,
                connected: true,
                disconnected_at: Tick(0),
                resume_token: token,
                chat,
                budget: self.new_budget(),
                acks: None,
            },
        );
        Ok(Joined {
            player_id: id,
            welcome: self.welcome(id, false),
            resumed: false,
        })
    }

    fn new_budget(&self) -> Option<ClientBudget> {
        self.config
            .client_budget
            .map(|b| ClientBudget::new(b, self.config.tick_rate))
    }

    fn new_input_queue(&self) -> InputQueue<InputCmd> {
        InputQueue::new(self.config.input_queue_capacity, self.config.input_window)
    }

    fn new_token(&mut self) -> String {
        let n: u128 = self.token_rng.random();
        format!("{}.{n:032x}", self.config.id)
    }

    fn set_connected(&mut self, id: PlayerId, connected: bool, stamp: Tick) {
        if let Some(r) = self.records.get_mut(&id) {
            r.connected = connected;
            r.changed_at = stamp;
            r.public_changed_at = stamp;
            self.log.push_back(LogEntry {
                at: stamp,
                player: id,
                left_joined_at: None,
            });
        }
    }

    fn welcome(&self, id: PlayerId, resumed: bool) -> Vec<u8> {
        let msg = ServerMsg::Welcome(Box::new(Welcome {
            protocol_version: PROTOCOL_VERSION,
            player_id: id,
            tick_rate: self.config.tick_rate,
            tick: self.tick,
            checksum_interval: self.config.checksum_interval,
            resume_token: self.clients[&id].resume_token.clone(),
            resumed,
            schema: (*self.schema).clone(),
            game_config: self.client_config.clone(),
        }));
        let mut bytes = Vec::new();
        encode_server(&msg, &self.schema, &[], &mut bytes);
        bytes
    }

    /// From now until its connection drops, `id`'s snapshots go over a transport that may
    /// lose, repeat or reorder them (datagrams): each is a message 5 against the newest tick
    /// the client acknowledged ([`Room::handle_ack`]), or against nothing before its first
    /// acknowledgement and when its base is more than `MAX_BACK` ticks old, and its events go
    /// apart in a message 6, which must reach it. [`TickOutput::messages`] then has up to two
    /// messages for it per tick (the events first). Whatever it held is forgotten: its next
    /// snapshot is complete. False for an unknown or disconnected player.
    pub fn set_unreliable(&mut self, id: PlayerId) -> bool {
        let Some(c) = self.clients.get_mut(&id).filter(|c| c.connected) else {
            return false;
        };
        for nid in c.baseline.ids(&self.interest) {
            self.net_ids.release(nid);
        }
        c.baseline.clear();
        c.last_sent = None;
        c.last_frame = None;
        let mut log = IdLog::default();
        if let Some(a) = c.acks.as_mut() {
            a.clear(&mut log);
        }
        c.acks = Some(Box::default());
        self.net_ids.apply(&mut log);
        true
    }

    /// `id`'s client (over an unreliable transport) applied the snapshot of `tick`: later
    /// snapshots are against it. An acknowledgement of a tick not kept (older than the base,
    /// never sent, or already superseded) changes nothing; returns whether it was kept.
    pub fn handle_ack(&mut self, id: PlayerId, tick: Tick) -> bool {
        let Some(a) = self.clients.get_mut(&id).and_then(|c| c.acks.as_mut()) else {
            return false;
        };
        let mut log = IdLog::default();
        let kept = a.ack(tick, &mut log);
        self.net_ids.apply(&mut log);
        kept
    }

    /// A player's connection dropped (or it was dropped for being too slow). Its seat is kept
    /// for the grace period; what its client held is forgotten, so a resume starts complete.
    pub fn handle_disconnect(&mut self, id: PlayerId) {
        let tick = self.tick;
        let fresh = self.new_input_queue();
        let budget = self.new_budget();
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if !c.connected {
            return;
        }
        c.connected = false;
        c.disconnected_at = tick;
        for nid in c.baseline.ids(&self.interest) {
            self.net_ids.release(nid);
        }
        c.baseline.clear();
        if let Some(mut a) = c.acks.take() {
            let mut log = IdLog::default();
            a.clear(&mut log);
            self.net_ids.apply(&mut log);
        }
        c.budget = budget;
        c.inbox = Inbox::default();
        c.last_sent = None;
        c.last_frame = None;
        c.skipped_in_a_row = 0;
        c.inputs = fresh;
        let stamp = self.stamp();
        self.set_connected(id, false, stamp);
        let name = self.records[&id].name.clone();
        self.notice_all(format!("{name} lost connection"));
        let (game, mut ctx) = self.ctx_parts();
        game.disconnected(&mut ctx, id);
    }

    /// Removes a player for good: the game's `leave`, then its record leaves every client's
    /// list with their next snapshot.
    pub fn handle_leave(&mut self, id: PlayerId) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        self.tokens.remove(&client.resume_token);
        for nid in client.baseline.ids(&self.interest) {
            self.net_ids.release(nid);
        }
        let (game, mut ctx) = self.ctx_parts();
        game.leave(&mut ctx, id);
        if let Some(r) = self.records.remove(&id) {
            let stamp = self.stamp();
            self.log.push_back(LogEntry {
                at: stamp,
                player: id,
                left_joined_at: Some(r.joined_at),
            });
        }
    }

    /// Queues input commands of a player.
    pub fn handle_inputs(&mut self, id: PlayerId, cmds: Vec<InputCmd>) -> InputOutcome {
        let mut out = InputOutcome::default();
        let Some(c) = self.clients.get_mut(&id) else {
            return out;
        };
        for cmd in cmds {
            match c.inputs.push(cmd) {
                Push::Queued => out.queued += 1,
                Push::Duplicate => out.duplicates += 1,
                Push::TooFarAhead | Push::Full => out.rejected += 1,
            }
        }
        out
    }

    /// A reliable action, handed to the game at once; a refusal reaches the player as a
    /// `rejected` event with its seq and the game's reason.
    pub fn handle_action(&mut self, id: PlayerId, action: &Action) -> Result<(), String> {
        if !self.is_connected(id) {
            return Err("not in the room".into());
        }
        let (game, mut ctx) = self.ctx_parts();
        let result = game.action(&mut ctx, id, action);
        if let Err(reason) = &result {
            let e = Event {
                kind: engine_events::REJECTED,
                values: vec![
                    Value::Int(i64::from(action.seq)),
                    Value::Str(reason.chars().take(120).collect()),
                ],
            };
            self.events.push((Audience::Player(id), e));
        }
        result
    }

    /// A chat line from a player to the room (cleaned, cut, rate-limited: over the limit the
    /// player alone gets a notice). Returns whether it was relayed.
    pub fn handle_chat(&mut self, id: PlayerId, text: &str) -> ChatOutcome {
        let now = f64::from(self.tick.0);
        let Some(c) = self.clients.get_mut(&id) else {
            return ChatOutcome::Dropped;
        };
        let text = clean_text(text, MAX_CHAT_CHARS);
        if text.is_empty() {
            return ChatOutcome::Dropped;
        }
        if !c.chat.try_take(now) {
            let seq = self.journal.seq();
            let e = notice("chat rate limit: message not sent".into());
            c.inbox.push(seq, Arc::new(e));
            return ChatOutcome::RateLimited;
        }
        let e = Event {
            kind: engine_events::CHAT,
            values: vec![Value::Int(i64::from(id.0)), Value::Str(text)],
        };
        self.push_to(Audience::All, e);
        ChatOutcome::Sent
    }

    /// A server notice to everyone in the room.
    pub fn notice(&mut self, text: &str) {
        self.notice_all(clean_text(text, MAX_CHAT_CHARS));
    }

    /// A server notice to one player (nothing if it is not in the room).
    pub fn notice_to(&mut self, id: PlayerId, text: &str) {
        if self.clients.contains_key(&id) {
            self.push_to(
                Audience::Player(id),
                notice(clean_text(text, MAX_CHAT_CHARS)),
            );
        }
    }

    fn notice_all(&mut self, text: String) {
        self.push_to(Audience::All, notice(text));
    }

    /// Queues an event for the connected clients in its audience (`Near` needs views, so
    /// events emitted between ticks with that audience reach everyone).
    fn push_to(&mut self, audience: Audience, e: Event) {
        let to = |id: PlayerId| match audience {
            Audience::All | Audience::Near(_) => true,
            Audience::Player(p) => p == id,
            Audience::Team(t) => self.game.team(id) == Some(t),
        };
        if let Audience::All | Audience::Near(_) = audience {
            self.journal.broadcast(&self.schema, &e);
            return;
        }
        let (seq, e) = (self.journal.seq(), Arc::new(e));
        for (id, c) in self.clients.iter_mut().filter(|(_, c)| c.connected) {
            if to(*id) {
                c.inbox.push(seq, e.clone());
            }
        }
    }

    /// Runs one tick. `ready(player)` says whether that client's outbox has room; a client
    /// that is not ready skips this tick.
    pub fn tick(&mut self, mut ready: impl FnMut(PlayerId) -> bool) -> TickOutput {
        let grace = self.config.resume_grace_ticks;
        let now = self.tick;
        let expired: Vec<PlayerId> = self
            .clients
            .iter()
            .filter(|(_, c)| !c.connected && now.since(c.disconnected_at) >= grace)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.handle_leave(id);
        }
        self.tick = self.tick.next();
        let tick = self.tick;
        let max_inputs = self.config.max_inputs_per_tick;
        let mut ctx = Ctx {
            tick,
            tick_rate: self.config.tick_rate,
            ids: &mut self.net_ids,
            events: &mut self.events,
            ended: &mut self.ended,
        };
        for (id, c) in self.clients.iter_mut() {
            for _ in 0..max_inputs {
                let Some(cmd) = c.inputs.pop() else { break };
                self.game.input(&mut ctx, *id, &cmd);
            }
        }
        self.game.step(&mut ctx);
        let gap = tick.since(self.last_built).max(1);
        if gap < self.snapshot_interval {
            // A tick between snapshots: the game stepped, its events and records wait.
            return TickOutput {
                results: self.take_results(),
                between: true,
                ..TickOutput::default()
            };
        }
        let prev_built = std::mem::replace(&mut self.last_built, tick);
        self.world.clear();
        self.game.replicate(&mut self.world);
        self.clamp_world();
        self.interest.rebuild(&mut self.world);
        self.changes.compute(
            &self.interest,
            &self.masks,
            &self.schema,
            tick,
            gap,
            self.config.share_views,
        );
        self.absorb_records(tick);
        self.viewers.clear();
        for (id, _) in self.clients.iter().filter(|(_, c)| c.connected) {
            self.viewers.push(Viewer {
                player: *id,
                center: self.game.view_center(*id),
                team: self.game.team(*id),
            });
        }
        self.route_events();

        // Every tick that is a multiple of the interval, or the first snapshot after one when
        // snapshots go every few ticks.
        let every = u32::from(self.config.checksum_interval);
        let with_checksum = every > 0 && tick.0 / every != prev_built.0 / every;
        let mut out = TickOutput {
            results: self.take_results(),
            ..TickOutput::default()
        };
        // Clients that cannot take a frame now keep what they hold; the others' snapshots are
        // built on the workers (see `build_snapshots`).
        let mut due = Vec::with_capacity(self.viewers.len());
        for k in 0..self.viewers.len() {
            let viewer = self.viewers[k];
            let id = viewer.player;
            if ready(id) {
                due.push(k);
                continue;
            }
            out.skipped += 1;
            let c = self.clients.get_mut(&id).expect("id from the map");
            c.baseline
                .keep_through_skip(&self.interest, &self.masks, &self.changes, &viewer);
            c.skipped_in_a_row += 1;
            if c.skipped_in_a_row > self.config.max_skipped_ticks {
                out.kicked.push((
                    id,
                    CloseReason::new(
                        CloseCode::TooSlow,
                        format!(
                            "could not keep up: {} snapshots skipped in a row",
                            c.skipped_in_a_row
                        ),
                    ),
                ));
            }
        }
        out.threads = self.build_snapshots(&due, tick, with_checksum);
        let mut held = 0;
        for w in &mut self.workers {
            held += std::mem::take(&mut w.updates_held);
            out.shared_views += std::mem::take(&mut w.work.shared);
            out.still_views += std::mem::take(&mut w.still_views);
            self.net_ids.apply(&mut w.work.ids);
            for (id, bytes, dropped) in w.out.drain(..) {
                out.events_dropped += dropped as u64;
                if bytes.is_empty() {
                    // A quiet tick: nothing to send.
                    continue;
                }
                if bytes.len() > MAX_MESSAGE_BYTES {
                    // No client decodes a message this big. Only a game whose view holds far
                    // too much can get here (events are bounded above); the client may
                    // resume, and the log says why.
                    out.kicked.push((
                        id,
                        CloseReason::new(
                            CloseCode::InternalError,
                            format!(
                                "the state in view is too large to send ({} bytes, over the {MAX_MESSAGE_BYTES}-byte message limit)",
                                bytes.len()
                            ),
                        ),
                    ));
                    continue;
                }
                out.messages.push((id, bytes));
            }
        }
        out.updates_held = held;
        for (id, _) in &out.kicked {
            self.handle_disconnect(*id);
        }
        self.prune_log();
        let oldest = self
            .clients
            .values()
            .filter(|c| c.connected)
            .map(|c| c.inbox.from())
            .min()
            .unwrap_or(self.journal.end());
        self.journal.prune(oldest);
        out
    }

    /// The matches the game ended, with names and stat names filled in.
    fn take_results(&mut self) -> Vec<MatchResult> {
        if self.ended.is_empty() {
            return Vec::new();
        }
        let names = self.game.stats();
        std::mem::take(&mut self.ended)
            .into_iter()
            .map(|(ended, m)| MatchResult {
                started: m.started,
                ended,
                tick_rate: self.config.tick_rate,
                players: m
                    .standings
                    .into_iter()
                    .map(|s| ResultRow {
                        player: s.player,
                        name: self
                            .records
                            .get(&s.player)
                            .map(|r| r.name.clone())
                            .unwrap_or_else(|| format!("player-{}", s.player.0)),
                        score: s.score,
                        // A value per declared stat: missing ones are 0, extra ones dropped.
                        stats: names
                            .iter()
                            .enumerate()
                            .map(|(i, n)| (*n, s.stats.get(i).copied().unwrap_or(0)))
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Keeps every lane the game wrote inside its field type's range (angles wrap), so a
    /// game's arithmetic slip can never put a value on the wire that wraps differently on a
    /// client and breaks its checksum.
    fn clamp_world(&mut self) {
        let w = &mut self.world;
        let mut expected = 0;
        for (meta, start) in &w.entities {
            let fields = &self.schema.kinds[usize::from(meta.kind)].fields;
            assert_eq!(
                *start as usize, expected,
                "game {:?}: an entity of kind {} was replicated with the wrong number of lanes",
                self.schema.game, meta.kind
            );
            expected += fields.len();
            for (f, v) in fields.iter().zip(&mut w.lanes[*start as usize..]) {
                *v = f.ty.clamp(*v);
            }
        }
        let pf = &self.schema.player_fields;
        for (_, start) in &w.players {
            for (f, v) in pf.iter().zip(&mut w.player_lanes[*start as usize..]) {
                *v = f.ty.clamp(*v);
            }
        }
        for (f, v) in self.schema.room_fields.iter().zip(&mut w.room) {
            *v = f.ty.clamp(*v);
        }
    }

    /// Builds the snapshots of the viewers at `due` (indices into `viewers`, ascending) into
    /// the workers' `out`, in client order across the workers. With enough clients they are
    /// split into one run per thread of the current rayon pool, built in parallel: every
    /// snapshot reads only the tick's shared state and its own client, so the bytes are the
    /// same whatever the number of threads (`tests::snapshots_are_the_same_bytes_on_any_number_of_threads`).
    fn build_snapshots(&mut self, due: &[usize], tick: Tick, with_checksum: bool) -> usize {
        // A still tick leaves each client a few records and events at most: waking the pool
        // for it would cost more than the work (and an idle room does it every tick).
        let threads = if due.len() >= PARALLEL_MIN_CLIENTS && !self.changes.still() {
            rayon::current_num_threads().clamp(1, due.len())
        } else {
            1
        };
        let n = self.schema.player_fields.len();
        while self.workers.len() < threads {
            self.workers.push(Worker::new(n));
        }
        // Each due client with its viewer, in id order (`viewers` lists the connected
        // clients in id order).
        let mut jobs: Vec<(&Viewer, &mut Client)> = Vec::with_capacity(due.len());
        let mut due_at = due.iter().peekable();
        for (k, (id, c)) in self
            .clients
            .iter_mut()
            .filter(|(_, c)| c.connected)
            .enumerate()
        {
            debug_assert_eq!(self.viewers[k].player, *id, "viewers in client order");
            if due_at.next_if(|&&d| d == k).is_some() {
                jobs.push((&self.viewers[k], c));
            }
        }
        let sh = Shared {
            config: &self.config,
            schema: &self.schema,
            masks: &self.masks,
            player_owner_only: &self.player_owner_only,
            records: &self.records,
            log: &self.log,
            room_lanes: &self.room_lanes,
            room_changed_at: self.room_changed_at,
            interest: &self.interest,
            changes: &self.changes,
            journal: &self.journal,
            tick,
            with_checksum,
            #[cfg(test)]
            always_copy: self.always_copy,
        };
        let run = |w: &mut Worker, jobs: &mut [(&Viewer, &mut Client)]| {
            for (viewer, c) in jobs.iter_mut() {
                if c.acks.is_some() {
                    let (events, bytes, dropped) = acked_snapshot_for(&sh, w, c, viewer);
                    if let Some(e) = events {
                        w.out.push((viewer.player, e, 0));
                    }
                    w.out.push((viewer.player, bytes, dropped));
                    continue;
                }
                let (bytes, dropped) = snapshot_for(&sh, w, c, viewer);
                w.out.push((viewer.player, bytes, dropped));
            }
        };
        if threads == 1 {
            run(&mut self.workers[0], &mut jobs);
        } else {
            use rayon::prelude::*;
            let per = jobs.len().div_ceil(threads);
            jobs.par_chunks_mut(per)
                .zip(self.workers.par_iter_mut())
                .for_each(|(chunk, w)| run(w, chunk));
            return due.len().div_ceil(per);
        }
        1
    }

    /// Compares this tick's player records and room fields with the last ones.
    fn absorb_records(&mut self, tick: Tick) {
        let n = self.schema.player_fields.len();
        for &(id, start) in &self.world.players {
            let Some(r) = self.records.get_mut(&id) else {
                continue;
            };
            let new = &self.world.player_lanes[start as usize..start as usize + n];
            if r.lanes[..] != *new {
                let public =
                    (0..n).any(|i| r.lanes[i] != new[i] && !self.player_owner_only.contains(&i));
                r.lanes.copy_from_slice(new);
                r.changed_at = tick;
                if public {
                    r.public_changed_at = tick;
                }
                self.log.push_back(LogEntry {
                    at: tick,
                    player: id,
                    left_joined_at: None,
                });
            }
        }
        if self.world.room.len() == self.room_lanes.len() && self.world.room != self.room_lanes {
            self.room_lanes.copy_from_slice(&self.world.room);
            self.room_changed_at = tick;
        }
    }

    fn route_events(&mut self) {
        let events = std::mem::take(&mut self.events);
        for (audience, e) in events {
            if let Audience::Near(p) = audience {
                let (seq, e) = (self.journal.seq(), Arc::new(e));
                for viewer in &self.viewers {
                    if self.interest.sees_point(viewer, p)
                        && let Some(c) = self.clients.get_mut(&viewer.player)
                    {
                        c.inbox.push(seq, e.clone());
                    }
                }
            } else {
                self.push_to(audience, e);
            }
        }
    }

    /// Drops log entries no client still needs (every connected client has been sent a
    /// snapshot after them, or could only be behind by more than it is allowed to skip).
    fn prune_log(&mut self) {
        let oldest_needed = self
            .clients
            .values()
            .filter(|c| c.connected)
            .filter_map(|c| match &c.acks {
                Some(a) => a.oldest_base(),
                None => c.last_sent,
            })
            .min()
            .unwrap_or(self.tick);
        while self.log.front().is_some_and(|e| e.at <= oldest_needed) {
            self.log.pop_front();
        }
    }
}

fn notice(text: String) -> Event {
    Event {
        kind: engine_events::NOTICE,
        values: vec![Value::Str(text)],
    }
}
/// `viewer`'s snapshot (`c` its client), built in `w`'s scratch, and how many of its events
/// were dropped to bound it. Reads only what every client's snapshot of the tick reads, so
/// clients are built on any worker, in any order, to the same bytes.
fn snapshot_for(
    sh: &Shared<'_>,
    w: &mut Worker,
    c: &mut Client,
    viewer: &Viewer,
) -> (Vec<u8>, usize) {
    let (tick, with_checksum) = (sh.tick, sh.with_checksum);
    #[cfg(test)]
    if sh.always_copy {
        c.baseline
            .keep_through_skip(sh.interest, sh.masks, sh.changes, viewer);
    }
    let snap = &mut w.snap;
    snap.clear();
    snap.tick = tick;
    snap.ack_input_seq = c.inputs.last_applied();
    let gap = c.last_sent.map_or(1, |t| tick.since(t).max(1));
    // Player records, room fields and events first: a client over its byte budget gets
    // them all, and its entity updates share what is left.
    let n = sh.schema.player_fields.len();
    w.player_changes.write(
        sh.records,
        sh.log,
        sh.player_owner_only,
        viewer.player,
        c.last_sent,
        tick,
        snap,
    );
    debug_assert_eq!(snap.joined_lanes.len(), snap.players_joined.len() * n);
    if !sh.room_lanes.is_empty() && c.last_sent.is_none_or(|t| sh.room_changed_at > t) {
        snap.room = Some(sh.room_lanes.to_vec());
    }
    let dropped = sh.journal.take(
        &mut c.inbox,
        sh.schema,
        sh.config.max_event_bytes,
        &mut w.event_bytes,
        &mut w.cut,
    );
    // Entities: from the previous tick's world when the client was sent it (nearly every
    // time), else against its own copy; either way it then holds this tick's world, but
    // for the updates its budget holds back.
    let tight = c.budget.as_mut().is_some_and(|b| {
        b.refill(gap);
        b.tight()
    });
    if tight {
        c.baseline
            .keep_through_skip(sh.interest, sh.masks, sh.changes, viewer);
    }
    let (schema, masks, events) = (sh.schema, sh.masks, &w.event_bytes);
    let scratch = &mut w.encode_buf;
    let checksum_bytes = if with_checksum { 4 } else { 0 };
    let mut held_now = 0;
    let mut budget = c.budget.as_mut();
    let mut hold = |interest: &Interest,
                    visible: &[u32],
                    before: &Table,
                    view: &mut Table,
                    snap: &mut Snapshot| {
        let Some(b) = budget.as_deref_mut().filter(|_| tight) else {
            return 0;
        };
        held_now = hold_over_budget(
            b,
            (schema, masks, interest, viewer),
            (events, checksum_bytes, scratch),
            gap,
            (visible, before, view),
            snap,
        );
        held_now
    };
    // A still tick for a client sent the last one whose view has not moved: nothing to walk.
    let view = (viewer.center, viewer.team);
    let stays = !tight
        && sh.changes.still()
        && gap == sh.changes.gap()
        && c.last_sent.is_some()
        && c.last_view == Some(view);
    c.last_view = Some(view);
    let stayed = stays && c.baseline.stay(&mut w.entities);
    w.still_views += u32::from(stayed);
    let live = stayed
        || c.baseline.write(
            sh.interest,
            masks,
            schema,
            sh.changes,
            viewer,
            gap,
            &mut w.work,
            &mut w.entities,
            snap,
            Some(&mut hold),
        );
    w.updates_held += held_now as u64;
    if live && let Some(b) = c.budget.as_mut().filter(|_| tight) {
        // It held nothing (a client that held nothing before): it got every update.
        b.nothing_due();
    }
    c.skipped_in_a_row = 0;
    if with_checksum {
        snap.checksum = Some(c.baseline.checksum(
            sh.interest,
            sh.masks,
            sh.schema,
            viewer.player,
            sh.room_lanes,
        ));
    }
    c.last_sent = Some(tick);
    w.encode_buf.clear();
    let entities_empty = if live {
        let e = &w.entities;
        e.removed.is_empty() && e.created == 0 && e.updated == 0
    } else {
        snap.removed.is_empty() && snap.created.is_empty() && snap.updated.is_empty()
    };
    let header_only = entities_empty && no_records(snap) && w.event_bytes.count == 0;
    let last_frame = c.last_frame.replace((tick, snap.ack_input_seq));
    if sh.config.quiet_ticks
        && header_only
        && let Some((at, ack)) = last_frame
        && ack == snap.ack_input_seq
        && let Baseline::Live(rows, _) = &c.baseline
    {
        // Nothing but the courses the client predicts itself. Still (no per-tick change
        // anywhere in its view): no frame, but a heartbeat a second. Else a marker.
        let gap = tick.since(at).max(1);
        let moving = rows.iter().any(|&i| sh.changes.moving(i));
        if !moving && gap < u32::from(sh.config.tick_rate.max(1)) {
            c.last_frame = last_frame;
            return (Vec::new(), dropped);
        }
        encode_server(
            &ServerMsg::Marker(Marker { gap }),
            sh.schema,
            &[],
            &mut w.encode_buf,
        );
        spend(c, &w.encode_buf);
        return (w.encode_buf.clone(), dropped);
    }
    // A copied baseline's updates are numbered in the view it now holds (and its removals
    // in what it held, the view less its creations with its removals).
    w.view_ids.clear();
    if !live && (!snap.updated.is_empty() || !snap.removed.is_empty()) {
        w.view_ids.extend(c.baseline.ids(sh.interest));
    }
    encode_snapshot_with_parts(
        snap,
        live.then_some(&w.entities),
        &w.view_ids,
        &w.event_bytes,
        sh.schema,
        &mut w.encode_buf,
    );
    spend(c, &w.encode_buf);
    (w.encode_buf.clone(), dropped)
}

/// `viewer`'s snapshot over an unreliable transport ([`Room::set_unreliable`]): a message 5
/// against the newest tick it acknowledged (or against nothing), with its events apart in a
/// message 6 (which must arrive), and how many events were dropped to bound them. The view it
/// leaves the client holding is kept until an acknowledgement makes it the base or a newer
/// one supersedes it.
fn acked_snapshot_for(
    sh: &Shared<'_>,
    w: &mut Worker,
    c: &mut Client,
    viewer: &Viewer,
) -> (Option<Vec<u8>>, Vec<u8>, usize) {
    let tick = sh.tick;
    // The events go whatever becomes of the snapshot.
    let (events, dropped) = events_apart(sh, w, c);
    let acks = c
        .acks
        .as_mut()
        .expect("a client over an unreliable transport");
    if acks.waiting_for_large(tick) {
        // It has no base yet, and the complete state on its way is unacknowledged: this one
        // would be as large, and waits (see `Acks::hold_large`).
        return (events, Vec::new(), dropped);
    }
    let base = acks.base();
    let since = base.map(|(t, ..)| t);
    let gap = since.map_or(1, |t| tick.since(t).max(1));
    let snap = &mut w.snap;
    snap.clear();
    snap.tick = tick;
    snap.ack_input_seq = c.inputs.last_applied();
    w.player_changes.write(
        sh.records,
        sh.log,
        sh.player_owner_only,
        viewer.player,
        since,
        tick,
        snap,
    );
    if !sh.room_lanes.is_empty() && since.is_none_or(|t| sh.room_changed_at > t) {
        snap.room = Some(sh.room_lanes.to_vec());
    }
    let mut view = Table::default();
    sh.interest.view(
        viewer,
        sh.masks,
        &mut w.work.seen,
        &mut w.work.visible,
        &mut view,
    );
    let empty = Table::default();
    let before = base.map_or(&empty, |(_, t, _)| t);
    diff(sh.masks, before, &mut view, gap, snap);
    let tight = c.budget.as_mut().is_some_and(|b| {
        b.refill(c.last_sent.map_or(1, |t| tick.since(t).max(1)));
        b.tight()
    });
    if let Some(b) = c.budget.as_mut().filter(|_| tight) {
        let no_events = EncodedEvents::default();
        let checksum_bytes = if sh.with_checksum { 4 } else { 0 };
        w.updates_held += hold_over_budget(
            b,
            (sh.schema, sh.masks, sh.interest, viewer),
            (&no_events, checksum_bytes, &mut w.encode_buf),
            gap,
            (&w.work.visible, before, &mut view),
            snap,
        ) as u64;
    }
    if sh.with_checksum {
        snap.checksum = Some(tickwire_shared::sync::replica::checksum(
            view.iter(sh.schema),
            sh.room_lanes,
        ));
    }
    // Quiet, as over a WebSocket: when the client's base already is this tick's state (the
    // snapshot would be its header alone, with the input acknowledgement the base carried),
    // nothing it holds moves, and no event waits, it gets no frame: a heartbeat a second.
    let header_only = snap.removed.is_empty()
        && snap.created.is_empty()
        && snap.updated.is_empty()
        && no_records(snap)
        && w.event_bytes.count == 0;
    if sh.config.quiet_ticks
        && header_only
        && base.is_some_and(|(_, _, ack)| ack == snap.ack_input_seq)
        && view.vel.iter().all(|&v| v == 0)
        && c.last_frame
            .is_some_and(|(at, _)| tick.since(at) < u32::from(sh.config.tick_rate.max(1)))
    {
        return (None, Vec::new(), dropped);
    }
    let last_frame = c.last_frame.replace((tick, snap.ack_input_seq));
    w.view_ids.clear();
    w.view_ids.extend(view.ids());
    let back = since.map_or(0, |t| tick.since(t));
    let mut bytes = Vec::new();
    encode_based_with_parts(
        Some(back),
        snap,
        None,
        &w.view_ids,
        &EncodedEvents::default(),
        sh.schema,
        &mut bytes,
    );
    if acks.hold_large(tick, bytes.len(), sh.config.datagram_bytes, since.is_none()) {
        // The large state already on its way goes first (see `Acks::hold_large`); the
        // events go now all the same.
        c.last_frame = last_frame;
        return (events, Vec::new(), dropped);
    }
    acks.sent(tick, view, snap.ack_input_seq, &mut w.work.ids);
    spend(c, &bytes);
    c.last_sent = Some(tick);
    c.skipped_in_a_row = 0;
    (events, bytes, dropped)
}

/// Whether `snap` carries nothing beside its entity sections and events: no player record,
/// room field or checksum.
fn no_records(snap: &Snapshot) -> bool {
    snap.players_left.is_empty()
        && snap.players_joined.is_empty()
        && snap.players_changed.is_empty()
        && snap.room.is_none()
        && snap.checksum.is_none()
}

/// `c`'s waiting events as a message 6 (none when none wait), paid for from its byte budget,
/// and how many were dropped to bound them; `w.event_bytes` keeps them encoded.
fn events_apart(sh: &Shared<'_>, w: &mut Worker, c: &mut Client) -> (Option<Vec<u8>>, usize) {
    let dropped = sh.journal.take(
        &mut c.inbox,
        sh.schema,
        sh.config.max_event_bytes,
        &mut w.event_bytes,
        &mut w.cut,
    );
    let events = (w.event_bytes.count > 0).then(|| {
        let mut e = Vec::new();
        encode_tick_events(sh.tick, &w.event_bytes, &mut e);
        spend(c, &e);
        e
    });
    (events, dropped)
}

/// Takes out of `snap` the entity updates over budget `b` (see [`budget::hold`]): what the
/// rest of the snapshot costs (encoded in `scratch`, with `events` and a checksum of
/// `checksum_bytes`) comes first, and the updates and spawns share what is left. Returns how
/// many updates it held.
fn hold_over_budget(
    b: &mut ClientBudget,
    (schema, masks, interest, viewer): (&Schema, &Masks, &Interest, &Viewer),
    (events, checksum_bytes, scratch): (&EncodedEvents, usize, &mut Vec<u8>),
    gap: u32,
    (visible, before, view): (&[u32], &Table, &mut Table),
    snap: &mut Snapshot,
) -> usize {
    if snap.updated.is_empty() && snap.created.is_empty() {
        // Nothing is due: nothing waits any more.
        b.nothing_due();
        return 0;
    }
    let updated = std::mem::take(&mut snap.updated);
    let created = std::mem::take(&mut snap.created);
    scratch.clear();
    encode_snapshot_with_parts(snap, None, &[], events, schema, scratch);
    (snap.updated, snap.created) = (updated, created);
    let fixed = (scratch.len() + checksum_bytes + 5) as f64;
    let allowance = ((b.bucket() - fixed) * 8.0).max(0.0) as i64;
    budget::hold(
        b, interest, masks, schema, viewer, gap, before, view, visible, snap, allowance,
    )
    .held
}

/// The frame `bytes` goes to `c`: its budget pays for it.
fn spend(c: &mut Client, bytes: &[u8]) {
    if let Some(b) = c.budget.as_mut() {
        b.spend(bytes.len());
    }
}

/// Below this many clients due a snapshot, a tick builds them on one thread: splitting costs
/// more than it saves.
const PARALLEL_MIN_CLIENTS: usize = 32;

/// Scratch for building clients' snapshots, one per worker thread (kept across ticks for its
/// buffers).
struct Worker {
    snap: Snapshot,
    entities: EncodedEntities,
    event_bytes: EncodedEvents,
    cut: CutScratch,
    player_changes: PlayerChanges,
    encode_buf: Vec<u8>,
    view_ids: Vec<NetId>,
    work: Work,
    /// Entity updates its clients' budgets held back this tick.
    updates_held: u64,
    /// Its clients whose view nothing changed this tick ([`Baseline::stay`]).
    still_views: u32,
    /// Its clients' frames this tick: (client, bytes, events dropped).
    out: Vec<(PlayerId, Vec<u8>, usize)>,
}

impl Worker {
    fn new(player_fields: usize) -> Worker {
        Worker {
            snap: Snapshot::default(),
            entities: EncodedEntities::default(),
            event_bytes: EncodedEvents::default(),
            cut: CutScratch::default(),
            player_changes: PlayerChanges::new(player_fields),
            encode_buf: Vec::new(),
            view_ids: Vec::new(),
            work: Work::default(),
            updates_held: 0,
            still_views: 0,
            out: Vec::new(),
        }
    }
}

/// What every client's snapshot of a tick reads: nothing in it changes while they are built.
struct Shared<'a> {
    config: &'a EngineConfig,
    schema: &'a Schema,
    masks: &'a Masks,
    player_owner_only: &'a [usize],
    records: &'a BTreeMap<PlayerId, Record>,
    log: &'a VecDeque<LogEntry>,
    room_lanes: &'a [i64],
    room_changed_at: Tick,
    interest: &'a Interest,
    changes: &'a Changes,
    journal: &'a Journal,
    tick: Tick,
    with_checksum: bool,
    #[cfg(test)]
    always_copy: bool,
}
