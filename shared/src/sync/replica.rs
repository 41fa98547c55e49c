//! The client's copy of everything a game replicates, for any schema: the entities in view,
//! every player's record and the room's fields, exactly as the server sent them (quantized
//! lanes, so a checksum compares to the bit). It never predicts or interpolates; it does
//! extrapolate the fields declared `extrapolate` exactly as the server does (each snapshot
//! advances them along their last per-tick change before the residuals apply), since that is
//! how the server's values arrive.
//!
//! [`Replica::apply`] returns what changed ([`Changes`]), so an SDK can call a game's
//! add / change / remove callbacks per entity kind without diffing tables itself.

use super::wire::{self, Fnv1a, WireError};
use super::{ServerMsg, Snapshot, Welcome, apply_lane, decode_server};
use crate::ids::{InputSeq, NetId, PlayerId, Tick};
use crate::schema::Schema;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One entity a client holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// Index into [`Schema::kinds`].
    pub kind: u16,
    /// One lane per field of the kind.
    pub lanes: Vec<i64>,
    /// Per lane, its last per-tick change for an `extrapolate` field (0 for the others): the
    /// next snapshot predicts the lane as `lane + vel × ticks elapsed`.
    pub vel: Vec<i64>,
}

/// One player's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerRecord {
    /// Display name.
    pub name: String,
    /// Whether the player's connection is up.
    pub connected: bool,
    /// One lane per [`Schema::player_fields`].
    pub lanes: Vec<i64>,
}

/// A snapshot that does not fit the replica: client and server disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    /// A snapshot for a tick not after the current one.
    #[error("snapshot for tick {got} after tick {have}")]
    OutOfOrder {
        /// The replica's tick.
        have: u32,
        /// The snapshot's tick.
        got: u32,
    },
    /// A created entity already exists.
    #[error("entity {0} created twice")]
    DuplicateCreate(u32),
    /// An update or removal names an unknown entity.
    #[error("entity {0} is unknown")]
    UnknownEntity(u32),
    /// A player record for an unknown player, or a join of a known one.
    #[error("player {0} is unknown or joined twice")]
    BadPlayer(u32),
    /// A value that does not fit its field.
    #[error("bad value: {0}")]
    BadValue(#[from] WireError),
    /// A snapshot against a tick whose replica the client does not hold (over datagrams).
    #[error("a snapshot against tick {0}, which this client does not hold")]
    MissingBase(u32),
    /// The checksum differs after applying the snapshot.
    #[error("checksum mismatch at tick {tick}: server {server:#010x}, replica {replica:#010x}")]
    ChecksumMismatch {
        /// Snapshot tick.
        tick: u32,
        /// Sent by the server.
        server: u32,
        /// Computed here.
        replica: u32,
    },
}

/// What one snapshot changed, for callbacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Entities removed (with their kind).
    pub removed: Vec<(NetId, u16)>,
    /// Entities created.
    pub created: Vec<NetId>,
    /// Entities updated, with the mask of fields that changed.
    pub updated: Vec<(NetId, u64)>,
    /// Players who left.
    pub players_left: Vec<PlayerId>,
    /// Players who joined or whose record changed.
    pub players_changed: Vec<PlayerId>,
    /// Whether the room fields changed.
    pub room_changed: bool,
}

/// The client's view of a room, for any game.
#[derive(Debug, Clone)]
pub struct Replica {
    /// What the game replicates.
    pub schema: Arc<Schema>,
    /// This client's player.
    pub player_id: PlayerId,
    /// Ticks per second.
    pub tick_rate: u16,
    /// Tick of the last applied snapshot (the `Welcome` tick before any).
    pub tick: Tick,
    /// The last input command the server has applied.
    pub ack_input_seq: InputSeq,
    /// The game's own constants (JSON).
    pub game_config: String,
    /// Entities in view, by id.
    pub entities: BTreeMap<NetId, Entity>,
    /// Everyone in the room, by id.
    pub players: BTreeMap<PlayerId, PlayerRecord>,
    /// The room's lanes (zero until the first snapshot that carries them).
    pub room: Vec<i64>,
    /// Snapshots applied so far.
    pub snapshots_applied: u64,
    /// Per kind, its `extrapolate` fields and whether it has any `discontinuity` field (mask).
    extrapolated: Vec<(Vec<usize>, u64)>,
}

impl Replica {
    /// An empty replica for the room described by `welcome`.
    pub fn new(welcome: &Welcome) -> Replica {
        Replica {
            room: vec![0; welcome.schema.room_fields.len()],
            schema: Arc::new(welcome.schema.clone()),
            player_id: welcome.player_id,
            tick_rate: welcome.tick_rate,
            tick: welcome.tick,
            ack_input_seq: InputSeq(0),
            game_config: welcome.game_config.clone(),
            entities: BTreeMap::new(),
            players: BTreeMap::new(),
            snapshots_applied: 0,
            extrapolated: welcome
                .schema
                .kinds
                .iter()
                .map(|k| {
                    let x = k.fields.iter().enumerate().filter(|(_, f)| f.extrapolate);
                    let jumps = k.fields.iter().enumerate().filter(|(_, f)| f.discontinuity);
                    (
                        x.map(|(i, _)| i).collect(),
                        jumps.fold(0, |m, (i, _)| m | 1 << i),
                    )
                })
                .collect(),
        }
    }

    /// Whether every `extrapolate` lane held is still (no per-tick change): then a silence
    /// from the server means nothing changed; otherwise a frame comes every tick.
    pub fn is_still(&self) -> bool {
        self.entities
            .values()
            .all(|e| e.vel.iter().all(|&v| v == 0))
    }

    /// Decodes a server message against this replica (a snapshot's updates name entities the
    /// replica holds).
    /// A tick marker comes back as the empty snapshot it stands for.
    pub fn decode(&self, bytes: &[u8]) -> Result<ServerMsg, WireError> {
        let msg = decode_server(bytes, Some(&self.schema), &self.held())?;
        Ok(match msg {
            ServerMsg::Marker(m) => ServerMsg::Snapshot(self.marker(m)?),
            msg => msg,
        })
    }

    /// What the replica holds, as the codec numbers a snapshot's updates: `(id, kind)`,
    /// ascending by id.
    pub fn held(&self) -> Vec<(NetId, u16)> {
        self.entities.iter().map(|(id, e)| (*id, e.kind)).collect()
    }

    /// The empty snapshot a tick marker stands for.
    pub fn marker(&self, m: super::Marker) -> Result<Snapshot, WireError> {
        let tick = self
            .tick
            .0
            .checked_add(m.gap)
            .ok_or_else(|| WireError::Invalid("a tick marker past the last tick".into()))?;
        Ok(Snapshot::empty(Tick(tick), self.ack_input_seq))
    }

    /// Applies a snapshot, then checks its checksum if it carries one. On error the replica
    /// may be partly updated and should be discarded (reconnect for a fresh one).
    pub fn apply(&mut self, s: &Snapshot) -> Result<Changes, ReplicaError> {
        if s.tick <= self.tick && self.snapshots_applied > 0 {
            return Err(ReplicaError::OutOfOrder {
                have: self.tick.0,
                got: s.tick.0,
            });
        }
        let mut ch = Changes::default();
        // Extrapolated lanes first move along their course over the gap; `vel` holds the
        // anchor its next change is measured from until the residuals are in.
        let gap = s.tick.0.wrapping_sub(self.tick.0).max(1);
        let mut moved = BTreeMap::new();
        for (id, e) in self.entities.iter_mut() {
            let (xs, _) = &self.extrapolated[usize::from(e.kind)];
            let fields = &self.schema.kinds[usize::from(e.kind)].fields;
            let mut m = 0u64;
            for &f in xs {
                let (ty, x, d) = (fields[f].ty, e.lanes[f], e.vel[f]);
                e.lanes[f] = wire::predict(ty, x, d, gap);
                e.vel[f] = wire::anchor(ty, x, d, gap);
                m |= u64::from(e.lanes[f] != x) << f;
            }
            if m != 0 {
                moved.insert(*id, m);
            }
        }
        for id in &s.removed {
            let e = self
                .entities
                .remove(id)
                .ok_or(ReplicaError::UnknownEntity(id.0))?;
            moved.remove(id);
            ch.removed.push((*id, e.kind));
        }
        let mut lanes = &s.created_lanes[..];
        let mut fresh = std::collections::BTreeSet::new();
        for c in &s.created {
            let n = self.schema.kinds[usize::from(c.kind)].fields.len();
            let e = Entity {
                kind: c.kind,
                lanes: lanes[..n].to_vec(),
                vel: vec![0; n],
            };
            fresh.insert(c.id);
            lanes = &lanes[n..];
            if self.entities.insert(c.id, e).is_some() {
                return Err(ReplicaError::DuplicateCreate(c.id.0));
            }
            ch.created.push(c.id);
        }
        let mut lanes_in = s.updated_lanes.iter();
        let mut jumped = Vec::new();
        for u in &s.updated {
            let e = self
                .entities
                .get_mut(&u.id)
                .ok_or(ReplicaError::UnknownEntity(u.id.0))?;
            let fields = &self.schema.kinds[usize::from(e.kind)].fields;
            let mut m = u.mask;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                let v = *lanes_in.next().expect("decoded with one lane per bit");
                e.lanes[i] = if fields[i].extrapolate {
                    wire::apply_residual(fields[i].ty, e.lanes[i], v)?
                } else {
                    apply_lane(&fields[i], e.lanes[i], v)?
                };
                m &= m - 1;
            }
            if u.mask & self.extrapolated[usize::from(e.kind)].1 != 0 {
                jumped.push(u.id);
            }
            if s.reset.binary_search(&u.id).is_ok() {
                // A catch-up: its change from the prediction is no course to continue.
                jumped.push(u.id);
            }
            let moved = moved.remove(&u.id).unwrap_or(0);
            ch.updated.push((u.id, u.mask | moved));
        }
        ch.updated.extend(moved);
        // The new per-tick changes: measured from the anchors, 0 for what was created now
        // and for an entity that jumped (a discontinuity field changed, or a reset).
        for (id, e) in self.entities.iter_mut() {
            let (xs, _) = &self.extrapolated[usize::from(e.kind)];
            if xs.is_empty() {
                continue;
            }
            if fresh.contains(id) {
                e.vel.fill(0);
                continue;
            }
            let fields = &self.schema.kinds[usize::from(e.kind)].fields;
            for &f in xs {
                e.vel[f] = wire::velocity(fields[f].ty, e.vel[f], e.lanes[f]);
            }
        }
        for id in jumped {
            if let Some(e) = self.entities.get_mut(&id) {
                e.vel.fill(0);
            }
        }
        let n = self.schema.player_fields.len();
        for id in &s.players_left {
            self.players
                .remove(id)
                .ok_or(ReplicaError::BadPlayer(id.0))?;
            ch.players_left.push(*id);
        }
        for (i, p) in s.players_joined.iter().enumerate() {
            let rec = PlayerRecord {
                name: p.name.clone(),
                connected: p.connected,
                lanes: s.joined_lanes[i * n..(i + 1) * n].to_vec(),
            };
            if self.players.insert(p.id, rec).is_some() {
                return Err(ReplicaError::BadPlayer(p.id.0));
            }
            ch.players_changed.push(p.id);
        }
        for (i, p) in s.players_changed.iter().enumerate() {
            let rec = self
                .players
                .get_mut(&p.id)
                .ok_or(ReplicaError::BadPlayer(p.id.0))?;
            rec.connected = p.connected;
            rec.lanes
                .copy_from_slice(&s.changed_lanes[i * n..(i + 1) * n]);
            ch.players_changed.push(p.id);
        }
        if let Some(room) = &s.room {
            self.room.copy_from_slice(room);
            ch.room_changed = true;
        }
        self.tick = s.tick;
        self.ack_input_seq = s.ack_input_seq;
        self.snapshots_applied += 1;
        if let Some(server) = s.checksum {
            let replica = self.checksum();
            if replica != server {
                return Err(ReplicaError::ChecksumMismatch {
                    tick: s.tick.0,
                    server,
                    replica,
                });
            }
        }
        Ok(ch)
    }

    /// What differs from `old` to this replica, as [`Replica::apply`] would have said had it
    /// applied one snapshot from `old` (over datagrams a snapshot applies to an older base:
    /// see [`super::acked::Bases`]). An id held by both with another kind counts as a removal
    /// and a creation.
    pub fn changes_from(&self, old: &Replica) -> Changes {
        let mut ch = Changes::default();
        for (id, e) in &old.entities {
            if self.entities.get(id).is_none_or(|n| n.kind != e.kind) {
                ch.removed.push((*id, e.kind));
            }
        }
        for (id, e) in &self.entities {
            match old.entities.get(id) {
                Some(o) if o.kind == e.kind => {
                    let mask = e
                        .lanes
                        .iter()
                        .zip(&o.lanes)
                        .enumerate()
                        .fold(0u64, |m, (i, (a, b))| m | (u64::from(a != b) << i));
                    if mask != 0 {
                        ch.updated.push((*id, mask));
                    }
                }
                _ => ch.created.push(*id),
            }
        }
        for id in old.players.keys() {
            if !self.players.contains_key(id) {
                ch.players_left.push(*id);
            }
        }
        for (id, p) in &self.players {
            if old.players.get(id) != Some(p) {
                ch.players_changed.push(*id);
            }
        }
        ch.room_changed = self.room != old.room;
        ch
    }

    /// Checksum of the entity table and the room fields (see [`checksum`]).
    pub fn checksum(&self) -> u32 {
        checksum(
            self.entities
                .iter()
                .map(|(id, e)| (*id, e.kind, &e.lanes[..])),
            &self.room,
        )
    }

    /// The entities of one kind, in id order.
    pub fn of_kind(&self, kind: u16) -> impl Iterator<Item = (NetId, &[i64])> + '_ {
        self.entities
            .iter()
            .filter(move |(_, e)| e.kind == kind)
            .map(|(id, e)| (*id, &e.lanes[..]))
    }
}

/// FNV-1a (32-bit) over a client's entities in ascending id order (id as u32 LE, kind as u16
/// LE, each lane as i64 LE), then the room's lanes (i64 LE). Server and clients must agree on
/// it exactly; `docs/PROTOCOL.md` documents it. Player records are not covered: they are sent
/// whole whenever they change, so there is no delta to drift.
pub fn checksum<'a>(
    entities: impl IntoIterator<Item = (NetId, u16, &'a [i64])>,
    room: &[i64],
) -> u32 {
    let mut h = Checksum::default();
    for (id, kind, lanes) in entities {
        h.entity(id, kind, lanes.iter().copied());
    }
    h.finish(room)
}

/// [`checksum`] fed one entity at a time (ascending id), for a server that holds a client's
/// entities in no table of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checksum(Fnv1a);

impl Checksum {
    /// Adds the next entity (ids ascending).
    #[inline]
    pub fn entity(&mut self, id: NetId, kind: u16, lanes: impl IntoIterator<Item = i64>) {
        self.0.write(&id.0.to_le_bytes());
        self.0.write(&kind.to_le_bytes());
        for v in lanes {
            self.0.write(&v.to_le_bytes());
        }
    }

    /// Adds the room's lanes and gives the checksum.
    pub fn finish(mut self, room: &[i64]) -> u32 {
        for v in room {
            self.0.write(&v.to_le_bytes());
        }
        self.0.0
    }
}
