//! One joined session: the shared crate's `Replica` and the client netcode layered on it, and
//! the render-ready [`ViewState`] built from them each frame. Everything here is plain data
//! with time passed in, so it works the same in a window and in a headless test.

use super::PlayerIntent;
use crate::from_shared;
use bevy::prelude::*;
use std::time::Instant;
use tickwire_shared::protocol::{ClientMsg, InputCmd, Pong, Snapshot, Welcome, buttons};
use tickwire_shared::quant::{dequantize_angle8, dequantize_pos, quantize_angle16};
use tickwire_shared::replica::{EntityState, projectile_position};
use tickwire_shared::{InputSeq, NetId, PlayerId, Replica, ReplicaError, Tick};

/// The game while connected.
pub struct Session {
    /// The world as the server sent it.
    pub replica: Replica,
    /// When `Welcome` arrived.
    pub joined_at: Instant,
    last_seq: InputSeq,
    corrections: Corrections,
}

/// How far reconciliation had to move the local player (world units), for the debug overlay.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Corrections {
    /// The last correction.
    pub last: f32,
    /// The largest in the last second.
    pub max_recent: f32,
    /// Mean over all snapshots that carried one.
    pub mean: f32,
    /// Snapshots that needed a correction (non-zero).
    pub count: u64,
    /// Snapshots reconciled.
    pub samples: u64,
}

/// What kind of thing a [`ViewEntity`] is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ViewKind {
    /// A player's body.
    Player {
        /// Whose.
        player: PlayerId,
        /// Health, 0..=max.
        health: u8,
        /// Whether alive.
        alive: bool,
        /// Whether it is this client's player.
        local: bool,
    },
    /// A projectile.
    Projectile {
        /// Who fired it.
        owner: PlayerId,
    },
}

/// An entity as it should be drawn this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewEntity {
    /// Its wire id.
    pub id: NetId,
    /// What it is.
    pub kind: ViewKind,
    /// World position (y down).
    pub pos: Vec2,
    /// Facing, radians.
    pub aim: f32,
}

/// The local player's two positions: where prediction says it is and where the server last
/// said it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalView {
    /// Predicted position, drawn as the player.
    pub predicted: Vec2,
    /// Authoritative position from the last snapshot (the debug ghost).
    pub server: Vec2,
}

/// Everything the renderer and HUD need for this frame.
#[derive(Resource, Debug, Default)]
pub struct ViewState {
    /// Entities in view.
    pub entities: Vec<ViewEntity>,
    /// The local player, once its body is known.
    pub local: Option<LocalView>,
    /// The server tick being shown for remote entities (fractional).
    pub render_tick: f64,
    /// The estimated current server tick.
    pub server_tick: f64,
    /// Interpolation delay, milliseconds.
    pub interp_delay_ms: f32,
    /// Reconciliation figures.
    pub corrections: Corrections,
}

impl ViewState {
    /// Forgets everything (between connections).
    pub fn clear(&mut self) {
        self.entities.clear();
        self.local = None;
    }

    /// The view entity of a player's body, if in view.
    pub fn player(&self, player: PlayerId) -> Option<&ViewEntity> {
        self.entities
            .iter()
            .find(|e| matches!(e.kind, ViewKind::Player { player: p, .. } if p == player))
    }
}

fn player_pos(x: i32, y: i32) -> Vec2 {
    Vec2::new(dequantize_pos(x), dequantize_pos(y))
}

impl Session {
    /// A session for the room described by `welcome`, which arrived at `at`.
    pub fn new(welcome: &Welcome, at: Instant) -> Session {
        Session {
            replica: Replica::new(welcome),
            joined_at: at,
            last_seq: InputSeq(0),
            corrections: Corrections::default(),
        }
    }

    /// Applies a snapshot that arrived at `at`.
    pub fn apply_snapshot(&mut self, snap: &Snapshot, _at: Instant) -> Result<(), ReplicaError> {
        self.replica.apply(snap)
    }

    /// Records a pong that arrived at `at`.
    pub fn on_pong(&mut self, _pong: &Pong, _at: Instant) {}

    /// The input frame for this tick, from the player's intent.
    pub fn next_input(&mut self, intent: &PlayerIntent, _now: Instant) -> Option<ClientMsg> {
        self.replica.local_player()?;
        self.last_seq = InputSeq(self.last_seq.0 + 1);
        let axis = |v: f32| (v.clamp(-1.0, 1.0) * 127.0).round() as i8;
        let mut pressed = 0;
        if intent.fire {
            pressed |= buttons::FIRE;
        }
        if intent.alt_fire {
            pressed |= buttons::ALT_FIRE;
        }
        Some(ClientMsg::Input(vec![InputCmd {
            seq: self.last_seq,
            move_x: axis(intent.movement.x),
            move_y: axis(intent.movement.y),
            aim: quantize_angle16(intent.aim),
            buttons: pressed,
            view_tick: self.replica.tick,
        }]))
    }

    /// Fills `view` for a frame drawn at `now`.
    pub fn fill_view(&self, _now: Instant, _overstep: f32, view: &mut ViewState) {
        let r = &self.replica;
        view.entities.clear();
        view.local = None;
        view.render_tick = f64::from(r.tick.0);
        view.server_tick = f64::from(r.tick.0);
        view.corrections = self.corrections;
        for (id, e) in &r.entities {
            match e {
                EntityState::Player { player, state } => {
                    let local = *id == r.entity_id;
                    let pos = player_pos(state.x, state.y);
                    if local {
                        view.local = Some(LocalView {
                            predicted: pos,
                            server: pos,
                        });
                    }
                    view.entities.push(ViewEntity {
                        id: *id,
                        kind: ViewKind::Player {
                            player: *player,
                            health: state.health,
                            alive: state.alive(),
                            local,
                        },
                        pos,
                        aim: dequantize_angle8(state.aim),
                    });
                }
                EntityState::Projectile(p) => {
                    view.entities.push(ViewEntity {
                        id: *id,
                        kind: ViewKind::Projectile { owner: p.owner },
                        pos: from_shared(projectile_position(p, &r.rules, r.tick.0 as f32)),
                        aim: 0.0,
                    });
                }
            }
        }
    }

    /// Whether the server has applied every input command sent so far.
    pub fn all_inputs_acknowledged(&self) -> bool {
        self.replica.ack_input_seq >= self.last_seq
    }

    /// The latest server tick this session has seen.
    pub fn tick(&self) -> Tick {
        self.replica.tick
    }
}
