//! One joined session: the shared crate's [`ClientNetcode`] (replica, clock sync, input
//! history, prediction, interpolation) driven with Bevy's timing, and the render-ready
//! [`ViewState`] built from it each frame. The netcode itself is all in `tickwire-shared`;
//! this module only converts units and times and keeps the figures the F3 overlay shows.
//! Everything here is plain data with time passed in, so it behaves the same in a window and
//! in a headless test.

use super::PlayerIntent;
use crate::from_shared;
use bevy::prelude::*;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tickwire_shared::input::Intent;
use tickwire_shared::netcode::{ClientNetcode, NetcodeConfig};
use tickwire_shared::prediction::Correction;
use tickwire_shared::protocol::{ClientMsg, Pong, Snapshot, Welcome, buttons};
use tickwire_shared::quant::{dequantize_pos, quantize_angle16};
use tickwire_shared::replica::EntityState;
use tickwire_shared::{NetId, PlayerId, Replica, ReplicaError, Tick};

/// How long the "largest recent correction" looks back.
const RECENT: Duration = Duration::from_secs(1);

/// The game while connected.
pub struct Session {
    /// The shared client netcode for this connection.
    pub net: ClientNetcode,
    /// When `Welcome` arrived: the origin of the netcode's clock.
    epoch: Instant,
    /// The prediction before the latest input, to draw the local body between ticks.
    previous_prediction: Option<glam::Vec2>,
    corrections: CorrectionLog,
}

/// Reconciliation corrections as they happened.
#[derive(Debug, Default)]
struct CorrectionLog {
    recent: VecDeque<(Instant, f32)>,
    sum: f64,
    summary: Corrections,
}

impl CorrectionLog {
    fn record(&mut self, at: Instant, c: Correction) {
        if c.snapped {
            self.summary.snaps += 1;
            return;
        }
        let s = &mut self.summary;
        s.samples += 1;
        s.last = c.error;
        if c.error > 0.0 {
            s.count += 1;
        }
        self.sum += f64::from(c.error);
        s.mean = (self.sum / s.samples as f64) as f32;
        s.max = s.max.max(c.error);
        self.recent.push_back((at, c.error));
    }

    fn summary(&mut self, now: Instant) -> Corrections {
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RECENT)
        {
            self.recent.pop_front();
        }
        self.summary.max_recent = self.recent.iter().map(|(_, e)| *e).fold(0.0, f32::max);
        self.summary
    }
}

/// How far reconciliation had to move the local player's prediction (world units), for the
/// debug overlay.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Corrections {
    /// The last correction.
    pub last: f32,
    /// The largest in the last second.
    pub max_recent: f32,
    /// The largest this session.
    pub max: f32,
    /// Mean over every reconciliation.
    pub mean: f32,
    /// Reconciliations that found the prediction wrong (error above 0).
    pub count: u64,
    /// Reconciliations (smoothed ones; snaps are counted apart).
    pub samples: u64,
    /// Reconciliations that jumped instead (spawn, death, respawn, large error).
    pub snaps: u64,
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
    Projectile,
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
    /// Where the body is drawn: the prediction (between its last two ticks) plus the
    /// decaying visual correction.
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
    /// Median round trip, when measured.
    pub rtt: Option<Duration>,
    /// Reconciliation figures.
    pub corrections: Corrections,
    /// The instant this view was built for (the render clock's "now").
    pub built_at: Option<Instant>,
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

/// The intent in wire units.
pub fn intent_to_wire(intent: &PlayerIntent) -> Intent {
    let axis = |v: f32| (v.clamp(-1.0, 1.0) * 127.0).round() as i8;
    let mut pressed = 0;
    if intent.fire {
        pressed |= buttons::FIRE;
    }
    if intent.alt_fire {
        pressed |= buttons::ALT_FIRE;
    }
    Intent {
        move_x: axis(intent.movement.x),
        move_y: axis(intent.movement.y),
        aim: quantize_angle16(intent.aim),
        buttons: pressed,
    }
}

impl Session {
    /// A session for the room described by `welcome`, which arrived at `at`.
    pub fn new(welcome: &Welcome, at: Instant) -> Session {
        Session {
            net: ClientNetcode::new(welcome, NetcodeConfig::new(welcome)),
            epoch: at,
            previous_prediction: None,
            corrections: CorrectionLog::default(),
        }
    }

    /// The entity table and player list as the server sent them.
    pub fn replica(&self) -> &Replica {
        &self.net.replica
    }

    fn secs(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.epoch).as_secs_f64()
    }

    /// Applies a snapshot that arrived at `at`.
    pub fn apply_snapshot(&mut self, snap: &Snapshot, at: Instant) -> Result<(), ReplicaError> {
        let had_prediction = self.net.prediction.predicted_position().is_some();
        let correction = self.net.handle_snapshot(snap, self.secs(at))?;
        if let Some(c) = correction {
            if had_prediction {
                self.corrections.record(at, c);
            }
            if c.snapped {
                // A jump (spawn, respawn): do not draw a slide from the old place.
                self.previous_prediction = None;
            }
        }
        Ok(())
    }

    /// Records a pong that arrived at `at`.
    pub fn on_pong(&mut self, pong: &Pong, at: Instant) {
        let now = self.secs(at);
        self.net.handle_pong(pong, now);
    }

    /// The messages to send for this tick: the input frame (the new command plus recent
    /// unacknowledged ones) and, once a second, a ping.
    pub fn next_tick(&mut self, intent: &PlayerIntent, now: Instant) -> Vec<ClientMsg> {
        self.previous_prediction = self.net.prediction.predicted_position();
        let mut out = vec![self.net.make_input(intent_to_wire(intent))];
        out.extend(self.net.poll_ping(self.secs(now)));
        out
    }

    /// Advances display time to `now` and fills `view`. `overstep` is how far (0..1) the
    /// frame is between the last input tick and the next: the local body is drawn that far
    /// between its last two predicted positions, so it moves every frame, not every tick.
    pub fn fill_view(&mut self, now: Instant, overstep: f32, aim: f32, view: &mut ViewState) {
        let now_s = self.secs(now);
        self.net.advance(now_s);
        let net = &self.net;
        let r = &net.replica;
        view.entities.clear();
        view.local = None;
        view.built_at = Some(now);
        view.render_tick = net.clock.render_tick();
        view.server_tick = net.clock.server_tick().unwrap_or(f64::from(r.tick.0));
        view.interp_delay_ms = (net.clock.delay_ticks() * net.clock.tick_seconds() * 1000.0) as f32;
        view.rtt = net.clock.rtt().map(Duration::from_secs_f64);
        view.corrections = self.corrections.summary(now);

        if let (Some(state), Some(current)) =
            (r.local_player(), net.prediction.predicted_position())
        {
            let previous = self.previous_prediction.unwrap_or(current);
            let drawn = previous.lerp(current, overstep.clamp(0.0, 1.0))
                + net.prediction.correction_offset();
            let server = Vec2::new(dequantize_pos(state.x), dequantize_pos(state.y));
            let predicted = from_shared(drawn);
            view.local = Some(LocalView { predicted, server });
            view.entities.push(ViewEntity {
                id: r.entity_id,
                kind: ViewKind::Player {
                    player: r.player_id,
                    health: state.health,
                    alive: state.alive(),
                    local: true,
                },
                pos: predicted,
                aim,
            });
        }
        for (id, body) in net.remotes() {
            let Some(EntityState::Player { player, .. }) = r.entities.get(&id) else {
                continue;
            };
            view.entities.push(ViewEntity {
                id,
                kind: ViewKind::Player {
                    player: *player,
                    health: body.state.health,
                    alive: body.state.alive(),
                    local: false,
                },
                pos: from_shared(body.pos),
                aim: body.aim,
            });
        }
        for (id, pos) in net.projectiles() {
            view.entities.push(ViewEntity {
                id,
                kind: ViewKind::Projectile,
                pos: from_shared(pos),
                aim: 0.0,
            });
        }
    }

    /// The latest server tick this session has seen.
    pub fn tick(&self) -> Tick {
        self.net.replica.tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_become_wire_commands() {
        let i = intent_to_wire(&PlayerIntent {
            movement: Vec2::new(1.0, -1.0),
            aim: std::f32::consts::FRAC_PI_2,
            fire: true,
            alt_fire: false,
        });
        assert_eq!(
            (i.move_x, i.move_y, i.aim, i.buttons),
            (127, -127, 16384, 1)
        );
    }

    #[test]
    fn correction_log_keeps_last_recent_max_and_mean() {
        let t0 = Instant::now();
        let mut log = CorrectionLog::default();
        let c = |error| Correction {
            error,
            snapped: false,
        };
        log.record(t0, c(0.0));
        log.record(t0, c(3.0));
        log.record(
            t0 + Duration::from_millis(1500),
            Correction {
                error: 99.0,
                snapped: true,
            },
        );
        log.record(t0 + Duration::from_millis(1600), c(1.5));
        let s = log.summary(t0 + Duration::from_millis(1700));
        assert_eq!((s.last, s.max_recent, s.max, s.mean), (1.5, 1.5, 3.0, 1.5));
        assert_eq!((s.count, s.samples, s.snaps), (2, 3, 1));
    }
}
