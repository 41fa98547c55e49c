//! The client's copy of the world: the entity table built from `Welcome` and `Snapshot`
//! messages, and the room's player list. Bots, the Bevy client and tests all use it; it never
//! predicts or interpolates (that is layered on top).

use crate::ids::{InputSeq, NetId, PlayerId, Tick};
use crate::protocol::{
    Event, PlayerInfo, PlayerState, ProjectileState, Snapshot, SpawnKind, Welcome,
};
use crate::quant::{dequantize_pos, heading16};
use crate::rules::{Arena, Rules};
use crate::sync::wire::Fnv1a;
use glam::Vec2;
use std::collections::BTreeMap;

/// What a client knows of one entity: exactly the quantized state it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityState {
    /// A player's body.
    Player {
        /// Whose body.
        player: PlayerId,
        /// Its last state.
        state: PlayerState,
    },
    /// A projectile (immutable once created).
    Projectile(ProjectileState),
}

impl EntityState {
    /// The state described by a spawn record.
    pub fn from_spawn(kind: &SpawnKind) -> EntityState {
        match kind {
            SpawnKind::Player { player, state } => EntityState::Player {
                player: *player,
                state: *state,
            },
            SpawnKind::Projectile(p) => EntityState::Projectile(*p),
        }
    }

    /// The spawn record that creates this state on a client.
    pub fn to_spawn(&self) -> SpawnKind {
        match self {
            EntityState::Player { player, state } => SpawnKind::Player {
                player: *player,
                state: *state,
            },
            EntityState::Projectile(p) => SpawnKind::Projectile(*p),
        }
    }
}

/// FNV-1a (32-bit) over an entity table in ascending id order. The byte layout hashed is
/// documented in `docs/PROTOCOL.md`; server and clients must agree on it exactly.
pub fn checksum<'a>(entities: impl IntoIterator<Item = (NetId, &'a EntityState)>) -> u32 {
    let mut h = Fnv1a::default();
    for (id, e) in entities {
        h.write(&id.0.to_le_bytes());
        match e {
            EntityState::Player { player, state } => {
                h.write(&[0]);
                h.write(&player.0.to_le_bytes());
                h.write(&state.x.to_le_bytes());
                h.write(&state.y.to_le_bytes());
                h.write(&[state.aim, state.health, state.status]);
            }
            EntityState::Projectile(p) => {
                h.write(&[1]);
                h.write(&p.owner.0.to_le_bytes());
                h.write(&p.origin_x.to_le_bytes());
                h.write(&p.origin_y.to_le_bytes());
                h.write(&p.heading.to_le_bytes());
                h.write(&p.spawn_tick.0.to_le_bytes());
            }
        }
    }
    h.0
}

/// Position of a projectile at `tick`, from its immutable state.
pub fn projectile_position(p: &ProjectileState, rules: &Rules, tick: f32) -> Vec2 {
    let origin = Vec2::new(dequantize_pos(p.origin_x), dequantize_pos(p.origin_y));
    let elapsed = (tick - p.spawn_tick.0 as f32).max(0.0) * rules.dt();
    origin + heading16(p.heading) * rules.projectile_speed * elapsed
}

/// A snapshot that does not fit the replica: the client and server disagree.
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
    /// An update for an entity whose fields cannot change.
    #[error("entity {0} cannot be updated")]
    NotUpdatable(u32),
    /// The snapshot's checksum differs from the replica's after applying it.
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

/// The client's view of the room.
#[derive(Debug, Clone)]
pub struct Replica {
    /// This client's player.
    pub player_id: PlayerId,
    /// This client's body.
    pub entity_id: NetId,
    /// Tick of the last applied snapshot (the `Welcome` tick before any).
    pub tick: Tick,
    /// Last input command the server has applied.
    pub ack_input_seq: InputSeq,
    /// Radius of the view the server sends.
    pub view_radius: f32,
    /// The arena.
    pub arena: Arena,
    /// The game constants.
    pub rules: Rules,
    /// Every entity in view, by id.
    pub entities: BTreeMap<NetId, EntityState>,
    /// Everyone in the room, by id.
    pub players: BTreeMap<PlayerId, PlayerInfo>,
    /// Snapshots applied so far.
    pub snapshots_applied: u64,
}

impl Replica {
    /// An empty replica for the room described by `welcome`.
    pub fn new(welcome: &Welcome) -> Replica {
        Replica {
            player_id: welcome.player_id,
            entity_id: welcome.entity_id,
            tick: welcome.tick,
            ack_input_seq: InputSeq(0),
            view_radius: welcome.view_radius,
            arena: welcome.arena.clone(),
            rules: welcome.rules.clone(),
            entities: BTreeMap::new(),
            players: welcome.players.iter().map(|p| (p.id, p.clone())).collect(),
            snapshots_applied: 0,
        }
    }

    /// Applies a snapshot: removals, creations, updates, then events; then checks the
    /// checksum if the snapshot carries one. On error the replica may be partly updated and
    /// should be discarded (reconnect for a fresh one).
    pub fn apply(&mut self, snap: &Snapshot) -> Result<(), ReplicaError> {
        if snap.tick <= self.tick && self.snapshots_applied > 0 {
            return Err(ReplicaError::OutOfOrder {
                have: self.tick.0,
                got: snap.tick.0,
            });
        }
        for id in &snap.removed {
            self.entities
                .remove(id)
                .ok_or(ReplicaError::UnknownEntity(id.0))?;
        }
        for spawn in &snap.created {
            if self
                .entities
                .insert(spawn.id, EntityState::from_spawn(&spawn.kind))
                .is_some()
            {
                return Err(ReplicaError::DuplicateCreate(spawn.id.0));
            }
        }
        for u in &snap.updated {
            match self.entities.get_mut(&u.id) {
                Some(EntityState::Player { state, .. }) => u.apply(state),
                Some(EntityState::Projectile(_)) => return Err(ReplicaError::NotUpdatable(u.id.0)),
                None => return Err(ReplicaError::UnknownEntity(u.id.0)),
            }
        }
        for e in &snap.events {
            self.apply_event(e);
        }
        self.tick = snap.tick;
        self.ack_input_seq = snap.ack_input_seq;
        self.snapshots_applied += 1;
        if let Some(server) = snap.checksum {
            let replica = self.checksum();
            if replica != server {
                return Err(ReplicaError::ChecksumMismatch {
                    tick: snap.tick.0,
                    server,
                    replica,
                });
            }
        }
        Ok(())
    }

    fn apply_event(&mut self, e: &Event) {
        match e {
            Event::Join { player, name } => {
                self.players.insert(
                    *player,
                    PlayerInfo {
                        id: *player,
                        name: name.clone(),
                        score: 0,
                        deaths: 0,
                    },
                );
            }
            Event::Leave { player } => {
                self.players.remove(player);
            }
            Event::Kill { killer, victim } => {
                if let Some(k) = self.players.get_mut(killer) {
                    k.score += 1;
                }
                if let Some(v) = self.players.get_mut(victim) {
                    v.deaths += 1;
                }
            }
            Event::Respawn { .. }
            | Event::Chat { .. }
            | Event::Notice { .. }
            | Event::Hitscan { .. } => {}
        }
    }

    /// Checksum of the entity table (see [`checksum`]).
    pub fn checksum(&self) -> u32 {
        checksum(self.entities.iter().map(|(id, e)| (*id, e)))
    }

    /// The local player's body as last sent by the server, if in the table.
    pub fn local_player(&self) -> Option<&PlayerState> {
        match self.entities.get(&self.entity_id) {
            Some(EntityState::Player { state, .. }) => Some(state),
            _ => None,
        }
    }

    /// The body entity of a player, if in view.
    pub fn body_of(&self, player: PlayerId) -> Option<(NetId, &PlayerState)> {
        self.entities.iter().find_map(|(id, e)| match e {
            EntityState::Player { player: p, state } if *p == player => Some((*id, state)),
            _ => None,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::{EntitySpawn, EntityUpdate, fields};

    /// A welcome for player 1 (body 0) at `tick`, in the default arena at 30 Hz.
    pub(crate) fn welcome_at(tick: u32) -> Welcome {
        Welcome {
            protocol_version: crate::PROTOCOL_VERSION,
            player_id: PlayerId(1),
            entity_id: NetId(0),
            tick_rate: 30,
            tick: Tick(tick),
            view_radius: 500.0,
            checksum_interval: 0,
            arena: Arena::default(),
            rules: Rules::at_tick_rate(30),
            players: vec![PlayerInfo {
                id: PlayerId(1),
                name: "a".into(),
                score: 0,
                deaths: 0,
            }],
            resume_token: String::new(),
        }
    }

    fn welcome() -> Welcome {
        welcome_at(10)
    }

    fn snap(tick: u32) -> Snapshot {
        Snapshot::empty(Tick(tick), InputSeq(0))
    }

    #[test]
    fn applies_create_update_remove_and_checks_checksum() {
        let mut r = Replica::new(&welcome());
        let state = PlayerState {
            x: 80,
            y: 80,
            aim: 0,
            health: 100,
            status: 1,
        };
        let mut s = snap(11);
        s.created.push(EntitySpawn {
            id: NetId(0),
            kind: SpawnKind::Player {
                player: PlayerId(1),
                state,
            },
        });
        r.apply(&s).unwrap();
        assert_eq!(r.local_player(), Some(&state));

        let mut s = snap(12);
        s.updated.push(EntityUpdate {
            id: NetId(0),
            mask: fields::POS,
            dx: 8,
            dy: -3,
            ..Default::default()
        });
        let mut expected = r.clone();
        if let Some(EntityState::Player { state, .. }) = expected.entities.get_mut(&NetId(0)) {
            state.x += 8;
            state.y -= 3;
        }
        s.checksum = Some(expected.checksum());
        r.apply(&s).unwrap();
        assert_eq!(r.local_player().unwrap().x, 88);

        let mut s = snap(13);
        s.checksum = Some(12345);
        assert!(matches!(
            r.apply(&s),
            Err(ReplicaError::ChecksumMismatch { .. })
        ));

        let mut s = snap(14);
        s.removed.push(NetId(7));
        assert_eq!(r.apply(&s), Err(ReplicaError::UnknownEntity(7)));
    }

    #[test]
    fn events_keep_the_scoreboard() {
        let mut r = Replica::new(&welcome());
        let mut s = snap(11);
        s.events.push(Event::Join {
            player: PlayerId(2),
            name: "b".into(),
        });
        s.events.push(Event::Kill {
            killer: PlayerId(2),
            victim: PlayerId(1),
        });
        r.apply(&s).unwrap();
        assert_eq!(r.players[&PlayerId(2)].score, 1);
        assert_eq!(r.players[&PlayerId(1)].deaths, 1);
        let mut s = snap(12);
        s.events.push(Event::Leave {
            player: PlayerId(2),
        });
        r.apply(&s).unwrap();
        assert!(!r.players.contains_key(&PlayerId(2)));
        assert_eq!(
            r.apply(&snap(12)),
            Err(ReplicaError::OutOfOrder { have: 12, got: 12 })
        );
    }
}
