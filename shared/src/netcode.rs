//! The client netcode facade: one [`ClientNetcode`] per connection combines the [`Replica`],
//! [`ClockSync`], the [`InputHistory`], the [`Predictor`] for the local body and the
//! [`Interpolator`] for everyone else. The Bevy client, the bots and the browser client (in
//! JS, the same API) drive it the same way:
//!
//! 1. on every server message: [`ClientNetcode::handle_message`] (with the arrival time);
//! 2. once per tick (`1 / tick_rate` s): [`ClientNetcode::make_input`] and send the frame it
//!    returns; send [`ClientNetcode::poll_ping`] when it returns one;
//! 3. once per render frame: [`ClientNetcode::advance`], then draw
//!    [`ClientNetcode::local_position`], [`ClientNetcode::remotes`] and
//!    [`ClientNetcode::projectiles`].
//!
//! Time is seconds as `f64` from any monotonic origin; nothing here reads a clock. It also keeps
//! the figures of the netcode report ([`NetcodeStats`], [`NetcodeReport`]).

use crate::clock::{ClockConfig, ClockSync};
use crate::ids::NetId;
use crate::input::{InputHistory, Intent};
use crate::interpolation::{Interpolated, InterpolationConfig, Interpolator};
use crate::prediction::{Correction, PredictionConfig, Predictor};
use crate::protocol::{ClientMsg, Pong, ServerMsg, Snapshot, Welcome};
use crate::replica::{EntityState, Replica, ReplicaError, projectile_position};
use glam::Vec2;

/// Tuning of the whole client netcode.
#[derive(Debug, Clone, PartialEq)]
pub struct NetcodeConfig {
    /// Clock sync and interpolation delay.
    pub clock: ClockConfig,
    /// Prediction and correction smoothing.
    pub prediction: PredictionConfig,
    /// Interpolation buffers.
    pub interpolation: InterpolationConfig,
    /// Unacknowledged commands repeated in each input frame besides the newest.
    pub input_redundancy: usize,
    /// Unacknowledged commands kept for replay.
    pub input_history: usize,
    /// Seconds between two pings.
    pub ping_interval_s: f64,
}

impl NetcodeConfig {
    /// Defaults for the room described by a `Welcome`.
    pub fn new(welcome: &Welcome) -> NetcodeConfig {
        NetcodeConfig {
            clock: ClockConfig::new(welcome.tick_rate),
            prediction: PredictionConfig::default(),
            interpolation: InterpolationConfig::new(&welcome.rules),
            input_redundancy: 2,
            input_history: 256,
            ping_interval_s: 1.0,
        }
    }
}

pub use crate::sync::netcode::{NetcodeReport, NetcodeStats};

/// The client side of one connection.
#[derive(Debug, Clone)]
pub struct ClientNetcode {
    /// The entity table as the server sent it.
    pub replica: Replica,
    /// Server time, round trip and render clock.
    pub clock: ClockSync,
    /// Unacknowledged input commands.
    pub inputs: InputHistory,
    /// The local body.
    pub prediction: Predictor,
    /// Remote bodies.
    pub interpolation: Interpolator,
    config: NetcodeConfig,
    stats: NetcodeStats,
    last_frame: Option<f64>,
    next_ping: f64,
}

impl ClientNetcode {
    /// Netcode for a connection that just received `welcome`.
    pub fn new(welcome: &Welcome, config: NetcodeConfig) -> ClientNetcode {
        ClientNetcode {
            replica: Replica::new(welcome),
            clock: ClockSync::new(config.clock.clone()),
            inputs: InputHistory::new(config.input_history),
            prediction: Predictor::new(config.prediction.clone()),
            interpolation: Interpolator::new(config.interpolation.clone()),
            config,
            stats: NetcodeStats::default(),
            last_frame: None,
            next_ping: f64::NEG_INFINITY,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NetcodeConfig {
        &self.config
    }

    /// Figures so far.
    pub fn stats(&self) -> &NetcodeStats {
        &self.stats
    }

    /// Handles a message that arrived at `now`. A `Welcome` is ignored (start a new
    /// `ClientNetcode` for a new connection). On error the replica is out of step with the
    /// server: reconnect.
    pub fn handle_message(&mut self, msg: &ServerMsg, now: f64) -> Result<(), ReplicaError> {
        match msg {
            ServerMsg::Snapshot(s) => self.handle_snapshot(s, now).map(|_| ()),
            ServerMsg::Pong(p) => {
                self.handle_pong(p, now);
                Ok(())
            }
            ServerMsg::Welcome(_) => Ok(()),
        }
    }

    /// Applies a snapshot that arrived at `now`: replica, clock sample, acknowledgement,
    /// reconciliation of the local body, interpolation buffers. Returns the correction, if the
    /// local body is in the snapshot's world.
    pub fn handle_snapshot(
        &mut self,
        snap: &Snapshot,
        now: f64,
    ) -> Result<Option<Correction>, ReplicaError> {
        self.replica.apply(snap)?;
        self.clock.handle_snapshot(snap.tick, now);
        self.inputs.acknowledge(snap.ack_input_seq);
        let had_prediction = self.prediction.predicted_position().is_some();
        let correction = self.replica.local_player().copied().map(|server| {
            self.prediction.reconcile(
                &server,
                self.inputs.unacked(),
                &self.replica.rules,
                &self.replica.arena,
            )
        });
        if let Some(c) = correction
            && had_prediction
        {
            if c.snapped {
                self.stats.snaps += 1;
            } else {
                self.stats.corrections.push(c.error);
            }
        }
        self.interpolation
            .handle_snapshot(&self.replica, self.replica.entity_id);
        Ok(correction)
    }

    /// Records a pong that arrived at `now`.
    pub fn handle_pong(&mut self, pong: &Pong, now: f64) {
        self.clock.handle_pong(pong, now);
    }

    /// Numbers the intent of this tick, applies it to the prediction at once, and returns the
    /// input frame to send (the new command plus recent unacknowledged ones).
    pub fn make_input(&mut self, intent: Intent) -> ClientMsg {
        let cmd = self.inputs.push(intent, self.clock.view_tick());
        self.prediction
            .predict(&cmd, &self.replica.rules, &self.replica.arena);
        self.inputs.frame(self.config.input_redundancy)
    }

    /// A ping to send, when one is due at `now`.
    pub fn poll_ping(&mut self, now: f64) -> Option<ClientMsg> {
        if now < self.next_ping {
            return None;
        }
        self.next_ping = now + self.config.ping_interval_s;
        Some(ClientMsg::Ping(self.clock.ping(now)))
    }

    /// Moves display time to `now`: the render clock, the decay of the local correction, and
    /// the pruning of interpolation buffers.
    pub fn advance(&mut self, now: f64) {
        let frame = self.last_frame.map_or(0.0, |t| (now - t).max(0.0));
        self.last_frame = Some(now);
        self.clock.advance(now);
        self.prediction.advance(frame as f32);
        let render = self.clock.render_tick();
        if self.clock.is_synced() {
            self.stats.frames += 1;
            for id in self.interpolation.ids() {
                if let Some(s) = self.interpolation.sample(id, render) {
                    self.stats.body_render_s += frame;
                    if s.late_ticks > 0.0 {
                        self.stats.extrapolating_s += frame;
                    }
                }
            }
        }
        // Keep one state before the render tick, and a tick of slack for clock warps.
        self.interpolation.prune(render - 1.0);
    }

    /// The server tick being drawn for remote entities.
    pub fn render_tick(&self) -> f64 {
        self.clock.render_tick()
    }

    /// Where to draw the local body.
    pub fn local_position(&self) -> Option<Vec2> {
        self.prediction.render_position()
    }

    /// Where to draw a remote body.
    pub fn remote(&self, id: NetId) -> Option<Interpolated> {
        self.interpolation.sample(id, self.clock.render_tick())
    }

    /// Every remote body in view, where to draw it.
    pub fn remotes(&self) -> impl Iterator<Item = (NetId, Interpolated)> + '_ {
        let t = self.clock.render_tick();
        self.interpolation
            .ids()
            .filter_map(move |id| Some((id, self.interpolation.sample(id, t)?)))
    }

    /// Every projectile in view, at the render tick.
    pub fn projectiles(&self) -> impl Iterator<Item = (NetId, Vec2)> + '_ {
        let t = self.clock.render_tick() as f32;
        self.replica
            .entities
            .iter()
            .filter_map(move |(id, e)| match e {
                EntityState::Projectile(p) => {
                    Some((*id, projectile_position(p, &self.replica.rules, t)))
                }
                EntityState::Player { .. } => None,
            })
    }
}
