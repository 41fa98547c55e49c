//! Protocol version 3: messages for any game, encoded by the game's [`Schema`].
//!
//! The envelope is the same as version 1 (one message per binary WebSocket frame, the
//! message's variant index as the first varint, bincode 2 rules throughout), but what a game
//! replicates is no longer written into the protocol: `Welcome` carries the game's
//! [`Schema`], and snapshots, input commands, actions and events are encoded field by field
//! from it ([`wire`] gives the byte rules). A client in any language that reads the schema
//! decodes any game with no generated code.
//!
//! - [`ClientMsg`]: `Hello`, `Input` (commands of the schema's input fields), `Ping`, `Chat`,
//!   `Action` (a reliable, game-validated action).
//! - [`ServerMsg`]: `Welcome` (who you are, the tick, the schema, the game's constants),
//!   `Snapshot` (the per-client delta of entities, player records, room fields and events),
//!   `Pong`.
//! - [`Replica`]: the client's copy of everything replicated, for any schema;
//!   [`interpolate`] draws the fields declared `interpolate` between snapshots, [`predict`]
//!   runs the game's own step on the local entity's `predict` fields.
//!
//! A snapshot's updates do not name their entity's kind: the decoder looks it up in what the
//! client holds (see [`Replica::decode`]), which is why decoding a snapshot needs the replica.

pub mod acked;
pub mod bits;
pub mod bot;
pub mod inputs;
pub mod interpolate;
pub mod mirror;
pub mod netcode;
pub mod predict;
pub mod replica;
pub mod wire;

pub use replica::{Entity, PlayerRecord, Replica, ReplicaError};

use crate::ids::{InputSeq, NetId, PlayerId, Tick};
use crate::schema::{FieldDesc, FieldType, Schema};
use bits::{BitReader, Bits, Code};
use serde::{Deserialize, Serialize};
use wire::{Reader, WireError, Writer, check_range, decode_serde, encode_serde};

/// Version 5 of the protocol (schema-driven; version 4 with its update masks one bit per field
/// and its changes in classes of 4, 8 and 16 bits, version 3 with its `updated` section as
/// bytes, version 2 without extrapolated fields and tick markers).
pub const PROTOCOL_VERSION: u16 = 5;

/// The handshake: the first message on a connection, and only the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// Display name.
    pub name: String,
    /// Authentication token, when the server requires one.
    pub auth_token: Option<String>,
    /// Token from an earlier `Welcome`, to take back the same player after a reconnect.
    pub resume_token: Option<String>,
}

/// One input command: the engine's numbering, then the schema's input fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputCmd {
    /// 1 for a connection's first command, then +1 for each.
    pub seq: InputSeq,
    /// The server tick the client was displaying (for lag compensation); 0 when unknown.
    pub view_tick: Tick,
    /// One lane per field of [`Schema::input`].
    pub lanes: Vec<i64>,
}

/// A value of an event or action field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Any numeric field type.
    Int(i64),
    /// A `Str` field.
    Str(String),
}

impl Value {
    /// The number, or 0 for text.
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(v) => *v,
            Value::Str(_) => 0,
        }
    }

    /// The text, or "" for a number.
    pub fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            Value::Int(_) => "",
        }
    }
}

/// A reliable, discrete action (play a card, buy an item) for the game to validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The client's number for it (echoed in a `rejected` event if the game refuses it).
    pub seq: u32,
    /// Index into [`Schema::actions`].
    pub kind: u16,
    /// One value per field of that action.
    pub values: Vec<Value>,
}

/// An event (index into [`Schema::events`], one value per field of that event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Index into [`Schema::events`].
    pub kind: u16,
    /// One value per field of that event.
    pub values: Vec<Value>,
}

/// Longest player name, in characters; longer names are cut.
pub const MAX_NAME_CHARS: usize = 24;
/// Longest chat message, in characters; longer messages are cut.
pub const MAX_CHAT_CHARS: usize = 200;

/// Application-level ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Opaque to the server, echoed back in the pong (clients put a timestamp here).
    pub client_time: u32,
}

/// Answer to a ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The ping's `client_time`, echoed.
    pub client_time: u32,
    /// The server's latest completed tick when the pong was sent.
    pub tick: Tick,
}

/// A message from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMsg {
    /// 0: the handshake.
    Hello(Hello),
    /// 1: input commands, oldest first (recent unacknowledged ones repeated).
    Input(Vec<InputCmd>),
    /// 2: ping.
    Ping(Ping),
    /// 3: a chat line for the room.
    Chat(String),
    /// 4: an action.
    Action(Action),
}

/// The answer to `Hello`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's protocol version.
    pub protocol_version: u16,
    /// Your player.
    pub player_id: PlayerId,
    /// Simulation ticks per second.
    pub tick_rate: u16,
    /// The server's current tick.
    pub tick: Tick,
    /// Snapshots whose tick is a multiple of this carry a checksum (0 = never).
    pub checksum_interval: u16,
    /// Present in a later `Hello` to take this player back after a disconnect.
    pub resume_token: String,
    /// Whether this connection took back an existing player.
    pub resumed: bool,
    /// What the game replicates and how it is encoded.
    pub schema: Schema,
    /// The game's own constants for its client code (JSON; opaque to the engine).
    pub game_config: String,
}

/// An entity entering a client's view; its lanes follow in [`Snapshot::created_lanes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spawn {
    /// Wire id.
    pub id: NetId,
    /// Index into [`Schema::kinds`].
    pub kind: u16,
}

/// Changed fields of an entity; one lane per set bit follows in [`Snapshot::updated_lanes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// Wire id.
    pub id: NetId,
    /// Its kind (not on the wire: the decoder looks it up in what the client holds).
    pub kind: u16,
    /// Bit `i` set: field `i` follows (its change, for a `delta` field).
    pub mask: u64,
}

/// A player joining the room (or already there, in a client's first snapshot); its lanes
/// follow in [`Snapshot::joined_lanes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerJoin {
    /// Player id.
    pub id: PlayerId,
    /// Display name.
    pub name: String,
    /// Whether the player's connection is up (false while it may still resume).
    pub connected: bool,
}

/// A player whose record changed; its lanes follow in [`Snapshot::changed_lanes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerChange {
    /// Player id.
    pub id: PlayerId,
    /// Whether the player's connection is up.
    pub connected: bool,
}

/// The per-client delta for one tick. Apply in field order: removed, created, updated,
/// players left, joined, changed, room, then events; then compare the checksum.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The tick this snapshot describes.
    pub tick: Tick,
    /// The last of your input commands the server has applied.
    pub ack_input_seq: InputSeq,
    /// Entities that left your view or were destroyed.
    pub removed: Vec<NetId>,
    /// Entities that entered your view or were created.
    pub created: Vec<Spawn>,
    /// All lanes of each created entity, in order.
    pub created_lanes: Vec<i64>,
    /// Entities in view whose fields changed.
    pub updated: Vec<Update>,
    /// The changed lanes of each update, in order.
    pub updated_lanes: Vec<i64>,
    /// The updated entities (ascending ids, each one of `updated`) whose every per-tick change
    /// restarts from 0 after their update: a catch-up after an update waited, whose change
    /// from the client's prediction is no course to continue. On the wire, an update whose
    /// mask is all 0s (for a kind with `extrapolate` fields) is such an escape, and the update
    /// proper follows.
    pub reset: Vec<NetId>,
    /// Players who left the room.
    pub players_left: Vec<PlayerId>,
    /// Players new to you.
    pub players_joined: Vec<PlayerJoin>,
    /// All lanes of each joined player, in order.
    pub joined_lanes: Vec<i64>,
    /// Players whose record changed.
    pub players_changed: Vec<PlayerChange>,
    /// All lanes of each changed player, in order.
    pub changed_lanes: Vec<i64>,
    /// The room's lanes, when any changed.
    pub room: Option<Vec<i64>>,
    /// What happened since your previous snapshot, in order.
    pub events: Vec<Event>,
    /// Checksum of your replica after applying this (see [`Replica::checksum`]).
    pub checksum: Option<u32>,
}

impl Snapshot {
    /// A snapshot in which nothing changed.
    pub fn empty(tick: Tick, ack_input_seq: InputSeq) -> Snapshot {
        Snapshot {
            tick,
            ack_input_seq,
            ..Snapshot::default()
        }
    }

    /// Empties every list, keeping the buffers.
    pub fn clear(&mut self) {
        self.removed.clear();
        self.created.clear();
        self.created_lanes.clear();
        self.updated.clear();
        self.updated_lanes.clear();
        self.reset.clear();
        self.players_left.clear();
        self.players_joined.clear();
        self.joined_lanes.clear();
        self.players_changed.clear();
        self.changed_lanes.clear();
        self.room = None;
        self.events.clear();
        self.checksum = None;
    }
}

/// A tick in which nothing the client holds changed but by its own course (every
/// `extrapolate` lane moved exactly as predicted), no event waits, the acknowledgement did not
/// move and no checksum is due: index 3, then `gap` as a varint, the ticks since the client's
/// previous snapshot or marker (usually 1: two bytes). Apply it as an empty snapshot for that
/// tick ([`Replica::decode`] turns it into one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// Ticks since the previous snapshot or marker (at least 1).
    pub gap: u32,
}

/// Where to go instead (index 4): sent by a node of a cluster just before it closes with 4007
/// (`Moved`), when the room asked for, or the one a resume token or seat token names, lives on
/// another node, or when quick-match found a seat there. Reconnect to `url` at once, with
/// `?room=ROOM&seat=SEAT` (keeping the URL's other parameters, e.g. `token`), and send the same
/// `Hello` (with the same resume token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// The node's WebSocket URL, e.g. `wss://node-b.example.com/ws` (no query).
    pub url: String,
    /// The room to ask for there.
    pub room: String,
    /// A seat token for that room (empty for a resume, which needs none: the player's seat is
    /// held for it).
    pub seat: String,
}

/// A message from the server.
// Snapshots are nearly every message a client gets: boxing them would cost an allocation per
// snapshot to save stack space in the rare Pong.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMsg {
    /// 0: the answer to `Hello`.
    Welcome(Box<Welcome>),
    /// 1: what changed in your view.
    Snapshot(Snapshot),
    /// 2: the answer to a ping.
    Pong(Pong),
    /// 3: a tick that changed nothing but by its course.
    Marker(Marker),
    /// 4: the room is on another node; go there (a close with 4007 follows).
    Redirect(Redirect),
    /// 5: a snapshot against a tick you acknowledged (over datagrams: see [`Acked`]).
    Acked(Acked),
    /// 6: events of a tick, sent apart from its snapshot (over datagrams the snapshots may be
    /// lost; the events may not).
    Events(TickEvents),
}

/// A snapshot over an unreliable transport (index 5): the delta from the newest state the
/// client acknowledged, not from what was merely sent (the Quake III model). A lost one costs
/// that tick only: the next one is against a state the client holds. Decode it against the
/// replica of tick `snapshot.tick - back` (`back` 0: against an empty replica, as after the
/// `Welcome`), and apply it to a copy of that replica: [`acked::Bases`].
#[derive(Debug, Clone, PartialEq)]
pub struct Acked {
    /// How many ticks before `snapshot.tick` its base is; 0 for none (everything is created).
    pub back: u32,
    /// The delta, as a `Snapshot` message carries it.
    pub snapshot: Snapshot,
}

/// Events of one tick, in order (index 6).
#[derive(Debug, Clone, PartialEq)]
pub struct TickEvents {
    /// The tick they happened in (or, for those of several ticks sent together, the last).
    pub tick: Tick,
    /// The events.
    pub events: Vec<Event>,
}

/// Bits of a snapshot's section byte: which sections follow (in wire order: removed, created,
/// updated, players, players changed, room, events, checksum).
pub mod sections {
    /// Updated entities.
    pub const UPDATED: u8 = 1;
    /// Created entities.
    pub const CREATED: u8 = 2;
    /// Removed entities.
    pub const REMOVED: u8 = 4;
    /// Events.
    pub const EVENTS: u8 = 8;
    /// Changed player records.
    pub const PLAYERS_CHANGED: u8 = 16;
    /// Room fields.
    pub const ROOM: u8 = 32;
    /// Checksum (4 bytes, little-endian).
    pub const CHECKSUM: u8 = 64;
    /// Players who left, then players who joined (two lists).
    pub const PLAYERS: u8 = 128;
}

// ---- encoding ----

fn write_lanes(w: &mut Writer<'_>, fields: &[FieldDesc], lanes: &[i64]) {
    for (f, v) in fields.iter().zip(lanes) {
        w.lane(f.ty, *v);
    }
}

fn write_values(w: &mut Writer<'_>, fields: &[FieldDesc], values: &[Value]) {
    for (f, v) in fields.iter().zip(values) {
        match (f.ty, v) {
            (FieldType::Str(_), v) => w.str(v.str()),
            (ty, v) => w.lane(ty, v.int()),
        }
    }
}

/// Appends a client message.
pub fn encode_client(msg: &ClientMsg, schema: &Schema, out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    match msg {
        ClientMsg::Hello(h) => {
            w.varint(0);
            encode_serde(h, w.out);
        }
        ClientMsg::Input(cmds) => {
            w.varint(1);
            w.varint(cmds.len() as u64);
            for c in cmds {
                w.varint(u64::from(c.seq.0));
                w.varint(u64::from(c.view_tick.0));
                write_lanes(&mut w, &schema.input, &c.lanes);
            }
        }
        ClientMsg::Ping(p) => {
            w.varint(2);
            encode_serde(p, w.out);
        }
        ClientMsg::Chat(text) => {
            w.varint(3);
            w.str(text);
        }
        ClientMsg::Action(a) => {
            w.varint(4);
            w.varint(u64::from(a.seq));
            w.varint(u64::from(a.kind));
            if let Some(desc) = schema.actions.get(usize::from(a.kind)) {
                write_values(&mut w, &desc.fields, &a.values);
            }
        }
    }
}

/// Appends a server message. Lanes are written as given: the server keeps them in range. A
/// snapshot's updates name their entities by their place in the client's view, so `held` is
/// what the client holds before it: `(id, kind)`, ascending by id (only a snapshot with updates
/// reads it; it panics if an update names an entity the client would not hold).
pub fn encode_server(msg: &ServerMsg, schema: &Schema, held: &[(NetId, u16)], out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    match msg {
        ServerMsg::Welcome(wel) => {
            w.varint(0);
            encode_serde(wel.as_ref(), w.out);
        }
        ServerMsg::Snapshot(s) => {
            w.varint(1);
            encode_held(&mut w, s, held, schema);
        }
        ServerMsg::Pong(p) => {
            w.varint(2);
            encode_serde(p, w.out);
        }
        ServerMsg::Marker(m) => {
            w.varint(3);
            w.varint(u64::from(m.gap));
        }
        ServerMsg::Redirect(r) => {
            w.varint(4);
            encode_serde(r, w.out);
        }
        ServerMsg::Acked(a) => {
            w.varint(5);
            w.varint(u64::from(a.back));
            let s = &a.snapshot;
            encode_held(&mut w, s, held, schema);
        }
        ServerMsg::Events(e) => {
            w.varint(6);
            w.varint(u64::from(e.tick.0));
            w.varint(e.events.len() as u64);
            for ev in &e.events {
                write_event(&mut w, schema, ev);
            }
        }
    }
}

/// Encodes the body of `s` (its events with it) for a client that holds `held`.
fn encode_held(w: &mut Writer<'_>, s: &Snapshot, held: &[(NetId, u16)], schema: &Schema) {
    let (before, view) = numbered_in(held, s);
    let ids = Ids {
        before: &before,
        view: &view,
    };
    encode_snapshot(w, s, None, ids, Events::Plain(&s.events), schema);
}

/// The ids a snapshot's removals (what the client held) and updates (its view after the
/// snapshot) are numbered in, for a client that holds `held`; each empty when not needed.
fn numbered_in(held: &[(NetId, u16)], s: &Snapshot) -> (Vec<NetId>, Vec<NetId>) {
    let view = if s.updated.is_empty() {
        Vec::new()
    } else {
        let mut v = Vec::new();
        view_after(held, &s.removed, &s.created, &mut v)
            .expect("a snapshot that creates no entity the client holds");
        v.into_iter().map(|(id, _)| id).collect()
    };
    let before = if s.removed.is_empty() {
        Vec::new()
    } else {
        held.iter().map(|(id, _)| *id).collect()
    };
    (before, view)
}

/// Encodes a message 6 from events encoded ahead.
pub fn encode_tick_events(tick: Tick, events: &EncodedEvents, out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    w.varint(6);
    w.varint(u64::from(tick.0));
    w.varint(u64::from(events.count));
    w.out.extend_from_slice(&events.bytes);
}

/// A snapshot's entity sections encoded ahead of the snapshot: a server encodes an entity's
/// change and its creation once per tick and copies the bits into every snapshot that carries
/// them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EncodedEntities {
    /// Entities that left the view, in the order sent (ascending).
    pub removed: Vec<NetId>,
    /// The removals' bit stream: each one's skip over what the client held before the
    /// snapshot ([`EncodedEntities::remove_at`]).
    pub removed_bits: Bits,
    /// How many spawns `created_bits` holds.
    pub created: u32,
    /// The spawns' bit stream: each one's id and kind ([`EncodedEntities::create`]), then its
    /// lanes as [`write_spawn`] writes them.
    pub created_bits: Bits,
    /// How many updates `updated_bits` holds.
    pub updated: u32,
    /// The updates' bit stream: each one's skip ([`EncodedEntities::update_at`]), then its
    /// mask and lanes as [`write_update`] writes them.
    pub updated_bits: Bits,
    /// The place in the client's new view after the last update (0 before any).
    next: u32,
    /// The place in what the client held after the last removal (0 before any).
    next_removed: u32,
    /// The last entity created, if any.
    last_created: Option<NetId>,
    /// When `Some`: per update written, its place in the view and where its skip and its
    /// mask start in `updated_bits` ([`EncodedEntities::record_updates`]).
    marks: Option<Vec<(u32, usize, usize)>>,
}

impl EncodedEntities {
    /// Empties every section, keeping the buffers.
    pub fn clear(&mut self) {
        self.removed.clear();
        self.removed_bits.clear();
        self.created = 0;
        self.created_bits.clear();
        self.updated = 0;
        self.updated_bits.clear();
        self.next = 0;
        self.next_removed = 0;
        self.last_created = None;
        if let Some(m) = &mut self.marks {
            m.clear();
        }
    }

    /// From now on, note where each update starts (see [`EncodedEntities::marks`]).
    pub fn record_updates(&mut self) {
        self.marks.get_or_insert_with(Vec::new).clear();
    }

    /// Per update written since [`EncodedEntities::record_updates`]: its place in the view and
    /// where its skip and its mask start in `updated_bits` (empty when not recording).
    pub fn marks(&self) -> &[(u32, usize, usize)] {
        self.marks.as_deref().unwrap_or(&[])
    }

    /// Entity `id`, at place `rank` of what the client held before the snapshot (ascending
    /// ids; each removal's place after the last's), leaves the view: writes its skip.
    #[inline]
    pub fn remove_at(&mut self, rank: u32, id: NetId) {
        debug_assert!(rank >= self.next_removed, "removals in held order");
        self.removed.push(id);
        self.removed_bits
            .gamma(u64::from(rank - self.next_removed) + 1);
        self.next_removed = rank + 1;
    }

    /// Starts the creation of entity `id` of kind `kind` (ids ascending; `kinds` the schema's
    /// number of kinds): writes its id and kind and returns the stream for its lanes.
    #[inline]
    pub fn create(&mut self, id: NetId, kind: u16, kinds: usize) -> &mut Bits {
        let gap = match self.last_created {
            None => u64::from(id.0) + 1,
            Some(last) => {
                debug_assert!(id > last, "creations in id order");
                u64::from(id.0 - last.0)
            }
        };
        self.last_created = Some(id);
        self.created += 1;
        self.created_bits.gamma(gap);
        self.created_bits.put(u64::from(kind), kind_bits(kinds));
        &mut self.created_bits
    }

    /// Appends updates already written as this section writes them (bits `from..to` of `src`:
    /// `count` updates, each one's skip counted from the update before it in `src`, the last
    /// one at place `last`): valid when the first of them follows an update that sits where
    /// its predecessor in `src` sat.
    pub fn append_updates(
        &mut self,
        src: &Bits,
        (from, to): (usize, usize),
        count: u32,
        last: u32,
    ) {
        self.updated_bits.append_range(src, from, to);
        self.updated += count;
        self.next = last + 1;
    }

    /// Starts the update of the entity at place `rank` of the client's new view (ascending
    /// ids, after this snapshot's removals and creations; each update's place after the
    /// last's): writes its skip and returns the stream for its mask and lanes.
    #[inline]
    pub fn update_at(&mut self, rank: u32) -> &mut Bits {
        debug_assert!(rank >= self.next, "updates in view order");
        self.updated += 1;
        let at = self.updated_bits.len();
        self.updated_bits.gamma(u64::from(rank - self.next) + 1);
        if let Some(m) = &mut self.marks {
            m.push((rank, at, self.updated_bits.len()));
        }
        self.next = rank + 1;
        &mut self.updated_bits
    }
}

/// The bits a creation's kind takes: the bit length of the schema's last kind index (0 with
/// one kind).
#[inline]
pub fn kind_bits(kinds: usize) -> u32 {
    usize::BITS - kinds.saturating_sub(1).leading_zeros()
}

/// The entities a client holds after a snapshot's removals and creations (`held` before it,
/// ascending by id): the view its updates are numbered in. The lists may come in any order; an
/// id created twice, or created while still held, is an error (the replica would refuse it).
pub fn view_after(
    held: &[(NetId, u16)],
    removed: &[NetId],
    created: &[Spawn],
    out: &mut Vec<(NetId, u16)>,
) -> Result<(), WireError> {
    out.clear();
    let mut gone: Vec<NetId> = removed.to_vec();
    gone.sort_unstable();
    let mut new: Vec<(NetId, u16)> = created.iter().map(|c| (c.id, c.kind)).collect();
    new.sort_by_key(|c| c.0);
    let mut g = gone.iter().peekable();
    let kept = held.iter().filter(|(id, _)| {
        while g.next_if(|&&x| x < *id).is_some() {}
        g.peek().is_none_or(|&&x| x != *id)
    });
    let mut n = new.into_iter().peekable();
    for &(id, kind) in kept {
        while let Some(c) = n.next_if(|c| c.0 <= id) {
            out.push(c);
        }
        out.push((id, kind));
    }
    out.extend(n);
    match out.windows(2).find(|w| w[0].0 == w[1].0) {
        Some(w) => Err(WireError::Invalid(format!(
            "entity {} created while held",
            w[0].0.0
        ))),
        None => Ok(()),
    }
}

/// A snapshot's events encoded ahead of the snapshot with [`write_event`]: a server encodes
/// an event once and copies the bytes into every snapshot that carries it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EncodedEvents {
    /// How many events `bytes` holds.
    pub count: u32,
    /// The events, each as [`write_event`] wrote it, in order.
    pub bytes: Vec<u8>,
}

impl EncodedEvents {
    /// No events, keeping the buffer.
    pub fn clear(&mut self) {
        self.count = 0;
        self.bytes.clear();
    }

    /// Appends an event encoded with [`write_event`].
    pub fn push_encoded(&mut self, bytes: &[u8]) {
        self.count += 1;
        self.bytes.extend_from_slice(bytes);
    }
}

/// Appends a `Snapshot` message from parts encoded ahead: its entity sections (`entities`;
/// `None` encodes `s.removed`, `s.created`, `s.updated` and their lanes, the updates numbered
/// in `view`, the ids the client holds after the snapshot, ascending, which a snapshot with
/// removals or updates needs) and its events
/// (`s.events` is not read). The bytes are those [`encode_server`] writes for the same
/// snapshot.
pub fn encode_snapshot_with_parts(
    s: &Snapshot,
    entities: Option<&EncodedEntities>,
    view: &[NetId],
    events: &EncodedEvents,
    schema: &Schema,
    out: &mut Vec<u8>,
) {
    encode_based_with_parts(None, s, entities, view, events, schema, out);
}

/// [`encode_snapshot_with_parts`] as a message 5 ([`Acked`]) when `back` is given: a
/// snapshot against the client's replica of `back` ticks before it (0: against nothing).
pub fn encode_based_with_parts(
    back: Option<u32>,
    s: &Snapshot,
    entities: Option<&EncodedEntities>,
    view: &[NetId],
    events: &EncodedEvents,
    schema: &Schema,
    out: &mut Vec<u8>,
) {
    let mut w = Writer::new(out);
    match back {
        None => w.varint(1),
        Some(b) => {
            w.varint(5);
            w.varint(u64::from(b));
        }
    }
    // What the client held before: the view less this snapshot's creations, with its removals.
    let before: Vec<NetId> = if entities.is_none() && !s.removed.is_empty() {
        let mut b: Vec<NetId> = view
            .iter()
            .copied()
            .filter(|id| !s.created.iter().any(|c| c.id == *id))
            .chain(s.removed.iter().copied())
            .collect();
        b.sort_unstable();
        b
    } else {
        Vec::new()
    };
    let ids = Ids {
        before: &before,
        view,
    };
    encode_snapshot::<Event>(&mut w, s, entities, ids, Events::Encoded(events), schema);
}

/// The ids a snapshot's entity sections are numbered in, ascending: what the client held
/// before it (for the removals) and after its removals and creations (for the updates).
#[derive(Clone, Copy)]
struct Ids<'a> {
    before: &'a [NetId],
    view: &'a [NetId],
}

/// Appends one event as a snapshot's `events` section carries it: kind, then its values.
pub fn write_event(w: &mut Writer<'_>, schema: &Schema, e: &Event) {
    w.varint(u64::from(e.kind));
    write_values(w, &schema.events[usize::from(e.kind)].fields, &e.values);
}

/// A snapshot's events, as values or encoded ahead.
enum Events<'a, E> {
    Plain(&'a [E]),
    Encoded(&'a EncodedEvents),
}

/// Appends the lanes of one entity entering a view as a snapshot's `created` section carries
/// them after its id and kind ([`EncodedEntities::create`]): every lane in its field's
/// [`Code::spawn`], `now` being the snapshot's tick.
#[inline]
pub fn write_spawn(b: &mut Bits, fields: &[FieldDesc], lanes: &[i64], now: Tick) {
    for (f, v) in fields.iter().zip(lanes) {
        b.lane_at(Code::spawn(f.ty), *v, now.0);
    }
}

/// Appends one entity update as a snapshot's `updated` section carries it after its skip:
/// the mask (one bit per field of the kind), then for each set bit, lowest first,
/// `lane(field)` in the field's [`Code`]: the change from the held value for a `delta` field,
/// the residual against the prediction for an `extrapolate` field (both in the small-number
/// code), the value in its type's bits otherwise.
#[inline]
pub fn write_update(
    b: &mut Bits,
    fields: &[FieldDesc],
    mask: u64,
    mut lane: impl FnMut(usize) -> i64,
) {
    b.mask(fields.len() as u32, bits::courses(fields), mask);
    let mut m = mask;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        b.lane(Code::of(&fields[i]), lane(i));
        m &= m - 1;
    }
}

fn encode_snapshot<E: std::borrow::Borrow<Event>>(
    w: &mut Writer<'_>,
    s: &Snapshot,
    entities: Option<&EncodedEntities>,
    Ids { before, view }: Ids<'_>,
    events: Events<'_, E>,
    schema: &Schema,
) {
    w.varint(u64::from(s.tick.0));
    w.varint(u64::from(s.ack_input_seq.0));
    let (removed, created, updated) = match entities {
        Some(e) => (&e.removed[..], e.created as usize, e.updated as usize),
        None => (&s.removed[..], s.created.len(), s.updated.len()),
    };
    let mut bits = 0;
    let mut set = |on: bool, bit: u8| {
        if on {
            bits |= bit;
        }
    };
    set(updated != 0, sections::UPDATED);
    set(created != 0, sections::CREATED);
    set(!removed.is_empty(), sections::REMOVED);
    let event_count = match &events {
        Events::Plain(e) => e.len(),
        Events::Encoded(e) => e.count as usize,
    };
    set(event_count != 0, sections::EVENTS);
    set(!s.players_changed.is_empty(), sections::PLAYERS_CHANGED);
    set(s.room.is_some(), sections::ROOM);
    set(s.checksum.is_some(), sections::CHECKSUM);
    set(
        !s.players_left.is_empty() || !s.players_joined.is_empty(),
        sections::PLAYERS,
    );
    w.u8(bits);
    if bits & sections::REMOVED != 0 {
        w.varint(removed.len() as u64);
        match entities {
            Some(e) => e.removed_bits.write_to(w.out),
            None => {
                let mut e = EncodedEntities::default();
                let mut rank = 0;
                for id in removed {
                    while before.get(rank).is_some_and(|h| h < id) {
                        rank += 1;
                    }
                    assert!(
                        before.get(rank) == Some(id),
                        "a removal of entity {} that the client does not hold (or out of order)",
                        id.0
                    );
                    e.remove_at(rank as u32, *id);
                    rank += 1;
                }
                e.removed_bits.write_to(w.out);
            }
        }
    }
    if bits & sections::CREATED != 0 {
        w.varint(created as u64);
        match entities {
            Some(e) => e.created_bits.write_to(w.out),
            None => {
                let mut e = EncodedEntities::default();
                let mut lanes = &s.created_lanes[..];
                for c in &s.created {
                    let fields = &schema.kinds[usize::from(c.kind)].fields;
                    assert!(
                        e.last_created.is_none_or(|l| l < c.id),
                        "creations in ascending id order (entity {})",
                        c.id.0
                    );
                    let b = e.create(c.id, c.kind, schema.kinds.len());
                    write_spawn(b, fields, &lanes[..fields.len()], s.tick);
                    lanes = &lanes[fields.len()..];
                }
                e.created_bits.write_to(w.out);
            }
        }
    }
    if bits & sections::UPDATED != 0 {
        w.varint(updated as u64);
        match entities {
            Some(e) => e.updated_bits.write_to(w.out),
            None => {
                let mut e = EncodedEntities::default();
                let mut lanes = s.updated_lanes.iter();
                let mut rank = 0;
                let mut reset = s.reset.iter().peekable();
                for u in &s.updated {
                    while view.get(rank).is_some_and(|&id| id < u.id) {
                        rank += 1;
                    }
                    assert!(
                        view.get(rank) == Some(&u.id),
                        "an update of entity {} that the client does not hold",
                        u.id.0
                    );
                    let fields = &schema.kinds[usize::from(u.kind)].fields;
                    let courses = bits::courses(fields) != 0;
                    let b = e.update_at(rank as u32);
                    if reset.next_if(|&&id| id == u.id).is_some() {
                        assert!(
                            courses,
                            "a reset of entity {} with no extrapolated field",
                            u.id.0
                        );
                        b.mask(fields.len() as u32, bits::courses(fields), 0);
                    } else {
                        assert!(
                            u.mask != 0 || !courses,
                            "an empty update of entity {} (it would read as a reset)",
                            u.id.0
                        );
                    }
                    write_update(b, fields, u.mask, |_| {
                        *lanes.next().expect("one lane per mask bit")
                    });
                    rank += 1;
                }
                e.updated_bits.write_to(w.out);
            }
        }
    }
    if bits & sections::PLAYERS != 0 {
        w.varint(s.players_left.len() as u64);
        for id in &s.players_left {
            w.varint(u64::from(id.0));
        }
        w.varint(s.players_joined.len() as u64);
        let n = schema.player_fields.len();
        for (i, p) in s.players_joined.iter().enumerate() {
            let lanes = &s.joined_lanes[i * n..(i + 1) * n];
            w.varint(u64::from(p.id.0));
            w.str(&p.name);
            w.u8(u8::from(p.connected));
            write_lanes(w, &schema.player_fields, lanes);
        }
    }
    if bits & sections::PLAYERS_CHANGED != 0 {
        w.varint(s.players_changed.len() as u64);
        let n = schema.player_fields.len();
        for (i, p) in s.players_changed.iter().enumerate() {
            let lanes = &s.changed_lanes[i * n..(i + 1) * n];
            w.varint(u64::from(p.id.0));
            w.u8(u8::from(p.connected));
            write_lanes(w, &schema.player_fields, lanes);
        }
    }
    if let Some(room) = &s.room {
        write_lanes(w, &schema.room_fields, room);
    }
    if bits & sections::EVENTS != 0 {
        w.varint(event_count as u64);
        match events {
            Events::Plain(events) => {
                for e in events {
                    write_event(w, schema, e.borrow());
                }
            }
            Events::Encoded(e) => w.out.extend_from_slice(&e.bytes),
        }
    }
    if let Some(c) = s.checksum {
        w.out.extend_from_slice(&c.to_le_bytes());
    }
}

// ---- decoding ----

fn read_lanes(
    r: &mut Reader<'_>,
    fields: &[FieldDesc],
    out: &mut Vec<i64>,
) -> Result<(), WireError> {
    for f in fields {
        out.push(r.lane(f.ty)?);
    }
    Ok(())
}

fn read_values(r: &mut Reader<'_>, fields: &[FieldDesc]) -> Result<Vec<Value>, WireError> {
    fields
        .iter()
        .map(|f| match f.ty {
            FieldType::Str(n) => r.str(usize::from(n)).map(Value::Str),
            ty => r.lane(ty).map(Value::Int),
        })
        .collect()
}

fn kind_index(v: u64, len: usize, what: &str) -> Result<u16, WireError> {
    if v < len as u64 {
        Ok(v as u16)
    } else {
        Err(WireError::Invalid(format!("unknown {what} {v}")))
    }
}

/// Decodes a client message; the whole slice must be one message.
pub fn decode_client(bytes: &[u8], schema: &Schema) -> Result<ClientMsg, WireError> {
    let mut r = Reader::new(bytes);
    let msg = match r.varint()? {
        0 => ClientMsg::Hello(decode_serde(&mut r)?),
        1 => {
            let n = r.count()?;
            let mut cmds = Vec::with_capacity(n);
            for _ in 0..n {
                let seq = InputSeq(r.varint32()?);
                let view_tick = Tick(r.varint32()?);
                let mut lanes = Vec::with_capacity(schema.input.len());
                read_lanes(&mut r, &schema.input, &mut lanes)?;
                cmds.push(InputCmd {
                    seq,
                    view_tick,
                    lanes,
                });
            }
            ClientMsg::Input(cmds)
        }
        2 => ClientMsg::Ping(decode_serde(&mut r)?),
        3 => ClientMsg::Chat(r.str(wire::MAX_MESSAGE_BYTES)?),
        4 => {
            let seq = r.varint32()?;
            let kind = kind_index(r.varint()?, schema.actions.len(), "action")?;
            let values = read_values(&mut r, &schema.actions[usize::from(kind)].fields)?;
            ClientMsg::Action(Action { seq, kind, values })
        }
        v => return Err(WireError::Invalid(format!("unknown client message {v}"))),
    };
    r.finish()?;
    Ok(msg)
}

/// Decodes a server message. A snapshot needs the schema (from `Welcome`) and what the client
/// holds before it (`held`: `(id, kind)`, ascending by id), since its updates name entities by
/// their place in the client's view; without a schema only `Welcome`, `Pong`, markers and
/// redirects decode.
pub fn decode_server(
    bytes: &[u8],
    schema: Option<&Schema>,
    held: &[(NetId, u16)],
) -> Result<ServerMsg, WireError> {
    let mut r = Reader::new(bytes);
    let msg = match r.varint()? {
        0 => {
            let w: Welcome = decode_serde(&mut r)?;
            // Every later decode relies on the schema's rules (kind indices fit a u16, ...).
            w.schema
                .validate()
                .map_err(|e| WireError::Invalid(format!("bad schema: {e}")))?;
            ServerMsg::Welcome(Box::new(w))
        }
        1 => {
            let schema =
                schema.ok_or_else(|| WireError::Invalid("a snapshot before the welcome".into()))?;
            ServerMsg::Snapshot(decode_snapshot(&mut r, schema, held)?)
        }
        2 => ServerMsg::Pong(decode_serde(&mut r)?),
        3 => match r.varint32()? {
            0 => return Err(WireError::Invalid("a tick marker with a gap of 0".into())),
            gap => ServerMsg::Marker(Marker { gap }),
        },
        4 => ServerMsg::Redirect(decode_serde(&mut r)?),
        5 => {
            let schema =
                schema.ok_or_else(|| WireError::Invalid("a snapshot before the welcome".into()))?;
            let back = r.varint32()?;
            let snapshot = decode_snapshot(&mut r, schema, held)?;
            if back > snapshot.tick.0 {
                return Err(WireError::Invalid(format!(
                    "a snapshot of tick {} against {back} ticks before it",
                    snapshot.tick.0
                )));
            }
            ServerMsg::Acked(Acked { back, snapshot })
        }
        6 => {
            let schema =
                schema.ok_or_else(|| WireError::Invalid("events before the welcome".into()))?;
            let tick = Tick(r.varint32()?);
            let mut events = Vec::new();
            for _ in 0..r.count()? {
                let kind = kind_index(r.varint()?, schema.events.len(), "event")?;
                let values = read_values(&mut r, &schema.events[usize::from(kind)].fields)?;
                events.push(Event { kind, values });
            }
            ServerMsg::Events(TickEvents { tick, events })
        }
        v => return Err(WireError::Invalid(format!("unknown server message {v}"))),
    };
    r.finish()?;
    Ok(msg)
}

fn decode_snapshot(
    r: &mut Reader<'_>,
    schema: &Schema,
    held: &[(NetId, u16)],
) -> Result<Snapshot, WireError> {
    let mut s = Snapshot {
        tick: Tick(r.varint32()?),
        ack_input_seq: InputSeq(r.varint32()?),
        ..Snapshot::default()
    };
    let bits = r.u8()?;
    if bits & sections::REMOVED != 0 {
        let n = r.varint()?;
        // Every removal names a distinct entity held.
        if n > held.len() as u64 {
            return Err(WireError::Invalid(format!(
                "{n} removals of {} entities held",
                held.len()
            )));
        }
        let mut b = BitReader::new(r.rest());
        let mut next = 0u64;
        for _ in 0..n {
            let at = next + b.gamma()? - 1;
            let &(id, _) = held.get(at as usize).ok_or_else(|| {
                WireError::Invalid(format!("a removal past the {} entities held", held.len()))
            })?;
            next = at + 1;
            s.removed.push(id);
        }
        r.skip(b.finish()?);
    }
    if bits & sections::CREATED != 0 {
        let n = r.varint()?;
        // Each creation takes at least a bit (its id's gamma code).
        if n > r.rest().len() as u64 * 8 {
            return Err(WireError::Invalid(format!(
                "{n} creations in {} bytes",
                r.rest().len()
            )));
        }
        let mut b = BitReader::new(r.rest());
        let mut last: Option<u64> = None;
        let kb = kind_bits(schema.kinds.len());
        for _ in 0..n {
            let gap = b.gamma()?;
            let id = match last {
                None => gap - 1,
                Some(l) => l + gap,
            };
            let id = u32::try_from(id)
                .map_err(|_| WireError::Invalid(format!("a created id of {id}")))?;
            last = Some(u64::from(id));
            let kind = kind_index(b.get(kb)?, schema.kinds.len(), "entity kind")?;
            for f in &schema.kinds[usize::from(kind)].fields {
                s.created_lanes
                    .push(b.lane_at(Code::spawn(f.ty), f.ty, s.tick.0)?);
            }
            s.created.push(Spawn {
                id: NetId(id),
                kind,
            });
        }
        r.skip(b.finish()?);
    }
    if bits & sections::UPDATED != 0 {
        let n = r.varint()?;
        let mut view = Vec::new();
        view_after(held, &s.removed, &s.created, &mut view)?;
        // Every update names a distinct entity of the view.
        if n == 0 || n > view.len() as u64 {
            return Err(WireError::Invalid(format!(
                "{n} updates in a view of {} entities",
                view.len()
            )));
        }
        let mut b = BitReader::new(r.rest());
        let mut next = 0u64;
        for _ in 0..n {
            let at = next + b.gamma()? - 1;
            let &(id, kind) = view.get(at as usize).ok_or_else(|| {
                WireError::Invalid(format!(
                    "an update past the {} entities in view",
                    view.len()
                ))
            })?;
            next = at + 1;
            let fields = &schema.kinds[usize::from(kind)].fields;
            let (n, courses) = (fields.len() as u32, bits::courses(fields));
            let mut mask = b.mask(n, courses)?;
            if mask == 0 && courses != 0 {
                // The escape: this update resets the entity's courses; its mask follows.
                s.reset.push(id);
                mask = b.mask(n, courses)?;
            }
            let mut m = mask;
            while m != 0 {
                let f = &fields[m.trailing_zeros() as usize];
                s.updated_lanes.push(b.lane(Code::of(f), f.ty)?);
                m &= m - 1;
            }
            s.updated.push(Update { id, kind, mask });
        }
        r.skip(b.finish()?);
    }
    if bits & sections::PLAYERS != 0 {
        for _ in 0..r.count()? {
            s.players_left.push(PlayerId(r.varint32()?));
        }
        for _ in 0..r.count()? {
            let id = PlayerId(r.varint32()?);
            let name = r.str(MAX_NAME_CHARS)?;
            let connected = r.lane(FieldType::Bool)? == 1;
            read_lanes(r, &schema.player_fields, &mut s.joined_lanes)?;
            s.players_joined.push(PlayerJoin {
                id,
                name,
                connected,
            });
        }
    }
    if bits & sections::PLAYERS_CHANGED != 0 {
        for _ in 0..r.count()? {
            let id = PlayerId(r.varint32()?);
            let connected = r.lane(FieldType::Bool)? == 1;
            s.players_changed.push(PlayerChange { id, connected });
            read_lanes(r, &schema.player_fields, &mut s.changed_lanes)?;
        }
    }
    if bits & sections::ROOM != 0 {
        let mut room = Vec::with_capacity(schema.room_fields.len());
        read_lanes(r, &schema.room_fields, &mut room)?;
        s.room = Some(room);
    }
    if bits & sections::EVENTS != 0 {
        for _ in 0..r.count()? {
            let kind = kind_index(r.varint()?, schema.events.len(), "event")?;
            let values = read_values(r, &schema.events[usize::from(kind)].fields)?;
            s.events.push(Event { kind, values });
        }
    }
    if bits & sections::CHECKSUM != 0 {
        let b = [r.u8()?, r.u8()?, r.u8()?, r.u8()?];
        s.checksum = Some(u32::from_le_bytes(b));
    }
    Ok(s)
}

/// Checks that a delta lane applied to `held` stays in the field's range.
pub fn apply_lane(f: &FieldDesc, held: i64, wire: i64) -> Result<i64, WireError> {
    if f.delta {
        check_range(f.ty, held.wrapping_add(wire))
    } else {
        Ok(wire)
    }
}
