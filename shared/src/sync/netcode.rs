//! The client netcode for any game: one [`Netcode`] per connection combines the [`Replica`],
//! [`ClockSync`], the [`InputHistory`], a [`Predictor`] for each entity the local player owns
//! whose kind declares `predict` fields, and the [`Interpolator`] for everything else. The
//! Bevy plugin and the netcode report drive it; the browser SDK's `GameClient`
//! (`client-web/src/sdk/client.js`) is the same design in JS.
//!
//! 1. on every server message: [`Netcode::handle_message`] (with its arrival time);
//! 2. once per server tick: [`Netcode::make_input`] with the game's input lanes, and send
//!    the message it returns; send [`Netcode::poll_ping`] when it returns one;
//! 3. once per render frame: [`Netcode::advance`], then draw [`Netcode::view`] of each
//!    entity (predicted, interpolated or held, in lane units).
//!
//! The game supplies its prediction step ([`PredictStep`], the very code the server runs
//! for one command) and, when its entities say ownership another way than the default
//! ([`owned_by_first_player_field`]), who owns what. Time is seconds as `f64` from any
//! monotonic origin; nothing here reads a clock. It also keeps the figures of the netcode
//! report ([`NetcodeStats`], [`NetcodeReport`]).

use super::acked::{Applied, Bases};
use super::inputs::InputHistory;
use super::interpolate::{InterpolationConfig, Interpolator};
use super::predict::{Correction, PredictStep, PredictionConfig, Predictor};
use super::replica::{Changes, Entity, Replica, ReplicaError};
use super::{ClientMsg, Pong, ServerMsg, Snapshot, Welcome};
use crate::clock::{ClockConfig, ClockSync, percentile};
use crate::ids::{NetId, PlayerId, Tick};
use crate::schema::{FieldType, Interp, Schema};
use std::collections::BTreeMap;

/// Tuning of the whole client netcode.
#[derive(Debug, Clone, PartialEq)]
pub struct NetcodeConfig {
    /// Clock sync and interpolation delay.
    pub clock: ClockConfig,
    /// Prediction and correction smoothing.
    pub prediction: PredictionConfig,
    /// Interpolation buffers.
    pub interpolation: InterpolationConfig,
    /// How many of the newest unacknowledged commands each input message carries.
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
            interpolation: InterpolationConfig::default(),
            input_redundancy: 3,
            input_history: 256,
            ping_interval_s: 1.0,
        }
    }
}

/// Whether the local player owns an entity.
pub type Owns = fn(&Schema, PlayerId, &Entity) -> bool;

/// The default ownership rule: the first field of the entity's kind whose type is `Player`
/// holds the local player's id (a body's `player` field, say). Kinds without such a field are
/// nobody's.
pub fn owned_by_first_player_field(schema: &Schema, local: PlayerId, e: &Entity) -> bool {
    schema.kinds[usize::from(e.kind)]
        .fields
        .iter()
        .position(|f| f.ty == FieldType::Player)
        .is_some_and(|i| e.lanes[i] == i64::from(local.0))
}

/// Where the values of a [`View`] come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    /// The local prediction (plus its decaying correction).
    Predicted,
    /// Between two snapshots, or extrapolated `late_ticks` past the newest one.
    Interpolated {
        /// Ticks past the newest state (0 while interpolating).
        late_ticks: f64,
    },
    /// As last received (a kind with nothing to interpolate).
    Held,
}

/// An entity as it should be drawn now.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Its wire id.
    pub id: NetId,
    /// Index into [`Schema::kinds`].
    pub kind: u16,
    /// One value per field of the kind, lane units (see [`FieldType::dequantize`]).
    pub lanes: Vec<f64>,
    /// Where they come from.
    pub source: Source,
}

/// Figures collected while running, for the netcode report and debug overlays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetcodeStats {
    /// Error of every smoothed reconciliation (0 when the prediction held), world units.
    pub corrections: Vec<f32>,
    /// Reconciliations that snapped (respawns, large errors).
    pub snaps: u32,
    /// Sum over frames and interpolated entities of the frame time, seconds.
    pub body_render_s: f64,
    /// The part of `body_render_s` spent extrapolating past the newest state.
    pub extrapolating_s: f64,
    /// Frames advanced while the clock ran.
    pub frames: u64,
}

/// The client side of one connection, for any game.
pub struct Netcode {
    /// Everything replicated, as the server sent it.
    pub replica: Replica,
    /// The replicas kept as bases of snapshots over datagrams.
    bases: Bases,
    /// Server time, round trip and render clock.
    pub clock: ClockSync,
    /// Unacknowledged input commands.
    pub inputs: InputHistory,
    /// Entities drawn between snapshots.
    pub interpolator: Interpolator,
    predictors: BTreeMap<NetId, Predictor>,
    step: Option<Box<dyn PredictStep + Send + Sync>>,
    owns: Owns,
    predictable: Vec<bool>,
    config: NetcodeConfig,
    stats: NetcodeStats,
    last_corrections: Vec<(NetId, Correction)>,
    last_frame: Option<f64>,
    next_ping: f64,
}

impl std::fmt::Debug for Netcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netcode")
            .field("tick", &self.replica.tick)
            .field("entities", &self.replica.entities.len())
            .field("predicted", &self.predictors.keys().collect::<Vec<_>>())
            .field("predicts", &self.step.is_some())
            .finish_non_exhaustive()
    }
}

impl Netcode {
    /// Netcode for a connection that just received `welcome`. With `step`, entities the local
    /// player owns are predicted; without, everything is interpolated or held.
    pub fn new(
        welcome: &Welcome,
        config: NetcodeConfig,
        step: Option<Box<dyn PredictStep + Send + Sync>>,
    ) -> Netcode {
        let predictable = welcome
            .schema
            .kinds
            .iter()
            .map(|k| step.is_some() && k.fields.iter().any(|f| f.predict))
            .collect();
        Netcode {
            replica: Replica::new(welcome),
            bases: Bases::new(&Replica::new(welcome)),
            clock: ClockSync::new(config.clock.clone()),
            inputs: InputHistory::new(config.input_redundancy, config.input_history),
            interpolator: Interpolator::new(config.interpolation.clone()),
            predictors: BTreeMap::new(),
            step,
            owns: owned_by_first_player_field,
            predictable,
            config,
            stats: NetcodeStats::default(),
            last_corrections: Vec::new(),
            last_frame: None,
            next_ping: f64::NEG_INFINITY,
        }
    }

    /// Replaces the ownership rule (before the first snapshot).
    pub fn with_owner_rule(mut self, owns: Owns) -> Netcode {
        self.owns = owns;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &NetcodeConfig {
        &self.config
    }

    /// Figures so far.
    pub fn stats(&self) -> &NetcodeStats {
        &self.stats
    }

    /// Handles a message that arrived at `now`: what a snapshot changed, `None` for a pong.
    /// A `Welcome` is ignored (start a new `Netcode` for a new connection). On error the
    /// replica is out of step with the server: reconnect.
    pub fn handle_message(
        &mut self,
        msg: &ServerMsg,
        now: f64,
    ) -> Result<Option<Changes>, ReplicaError> {
        match msg {
            ServerMsg::Snapshot(s) => self.handle_snapshot(s, now).map(Some),
            ServerMsg::Marker(m) => {
                let s = self.replica.marker(*m)?;
                self.handle_snapshot(&s, now).map(Some)
            }
            ServerMsg::Pong(p) => {
                self.handle_pong(p, now);
                Ok(None)
            }
            // Decoded against its base, not the current replica: see `handle_acked`.
            ServerMsg::Acked(_) => Err(ReplicaError::BadValue(super::wire::WireError::Invalid(
                "a message 5 is decoded against its base: use Netcode::handle_acked".into(),
            ))),
            // The connection layer follows a redirect; events are the game's. Neither changes
            // state here.
            ServerMsg::Welcome(_) | ServerMsg::Redirect(_) | ServerMsg::Events(_) => Ok(None),
        }
    }

    /// Applies a snapshot that arrived at `now`: replica, clock sample, acknowledgement,
    /// reconciliation of every predicted entity, interpolation buffers.
    pub fn handle_snapshot(&mut self, snap: &Snapshot, now: f64) -> Result<Changes, ReplicaError> {
        let quiet = self.quiet_since();
        let changes = self.replica.apply(snap)?;
        self.after_snapshot(snap, now, quiet);
        Ok(changes)
    }

    /// The replica's tick when it is still: a silence after it is quiet ticks (nothing
    /// changed), not lateness.
    fn quiet_since(&self) -> Option<Tick> {
        self.replica.is_still().then_some(self.replica.tick)
    }

    /// Applies a message 5 (a snapshot over datagrams, against a tick this client applied
    /// before: see [`super::acked`]) that arrived at `now`, as [`Netcode::handle_snapshot`]
    /// does. `None` when it was stale (a duplicate, or overtaken by a newer one), which changes
    /// nothing. Acknowledge the tick of what it returns in the next datagram.
    pub fn handle_acked(
        &mut self,
        bytes: &[u8],
        now: f64,
    ) -> Result<Option<(Box<Snapshot>, Changes)>, ReplicaError> {
        let quiet = self.quiet_since();
        match self.bases.apply(&mut self.replica, bytes)? {
            Applied::Stale => Ok(None),
            Applied::New(snap, changes) => {
                self.after_snapshot(&snap, now, quiet);
                Ok(Some((snap, changes)))
            }
        }
    }

    fn after_snapshot(&mut self, snap: &Snapshot, now: f64, quiet: Option<Tick>) {
        self.clock.handle_snapshot(snap.tick, now);
        self.inputs.ack(snap.ack_input_seq);
        self.reconcile();
        if let Some(from) = quiet
            && snap.tick.0 > from.0 + 1
        {
            self.interpolator.hold_quiet(from, Tick(snap.tick.0 - 1));
        }
        let predicted = &self.predictors;
        self.interpolator
            .handle_snapshot(&self.replica, |id| predicted.contains_key(&id));
    }

    fn reconcile(&mut self) {
        self.last_corrections.clear();
        let Some(step) = self.step.as_deref() else {
            return;
        };
        let (r, owns) = (&self.replica, self.owns);
        let mine = |e: &Entity| owns(&r.schema, r.player_id, e);
        self.predictors
            .retain(|id, _| r.entities.get(id).is_some_and(&mine));
        for (id, e) in &r.entities {
            if !self.predictable[usize::from(e.kind)] || !mine(e) {
                continue;
            }
            let p = self.predictors.entry(*id).or_insert_with(|| {
                Predictor::new(
                    self.config.prediction.clone(),
                    r.schema.kinds[usize::from(e.kind)].fields.clone(),
                )
            });
            let first = p.predicted().is_none();
            let c = p.reconcile(&e.lanes, self.inputs.pending(), step);
            if first {
                continue;
            }
            if c.snapped {
                self.stats.snaps += 1;
            } else {
                self.stats.corrections.push(c.error as f32);
            }
            self.last_corrections.push((*id, c));
        }
    }

    /// What the last snapshot's reconciliations found, per predicted entity (none for an
    /// entity's first state).
    pub fn last_corrections(&self) -> &[(NetId, Correction)] {
        &self.last_corrections
    }

    /// Records a pong that arrived at `now`.
    pub fn handle_pong(&mut self, pong: &Pong, now: f64) {
        self.clock.handle_pong(pong, now);
    }

    /// Numbers this tick's command (the game's input lanes), applies it to every prediction
    /// at once, and returns the input message to send (it and recent unacknowledged ones).
    pub fn make_input(&mut self, lanes: Vec<i64>) -> ClientMsg {
        let cmds = self.inputs.push(self.clock.view_tick(), lanes);
        if let (Some(step), Some(cmd)) = (self.step.as_deref(), cmds.last()) {
            for p in self.predictors.values_mut() {
                p.predict(cmd, step);
            }
        }
        ClientMsg::Input(cmds)
    }

    /// A ping to send, when one is due at `now`.
    pub fn poll_ping(&mut self, now: f64) -> Option<ClientMsg> {
        if now < self.next_ping {
            return None;
        }
        self.next_ping = now + self.config.ping_interval_s;
        Some(ClientMsg::Ping(self.clock.ping(now)))
    }

    /// Moves display time to `now`: the render clock, the decay of corrections, and the
    /// pruning of interpolation buffers.
    pub fn advance(&mut self, now: f64) {
        let frame = self.last_frame.map_or(0.0, |t| (now - t).max(0.0));
        self.last_frame = Some(now);
        self.clock.advance(now);
        for p in self.predictors.values_mut() {
            p.advance(frame);
        }
        let render = self.clock.render_tick();
        if self.clock.is_synced() {
            self.interpolator
                .advance(&self.replica.schema, render, frame);
            self.stats.frames += 1;
            for id in self.interpolator.ids() {
                if let Some(s) = self.interpolator.sample(&self.replica.schema, id, render) {
                    self.stats.body_render_s += frame;
                    if s.late_ticks > 0.0 {
                        self.stats.extrapolating_s += frame;
                    }
                }
            }
        }
        // Keep one state before the render tick, and a tick of slack for clock warps.
        self.interpolator.prune(render - 1.0);
    }

    /// The server tick being drawn for entities that are not predicted.
    pub fn render_tick(&self) -> f64 {
        self.clock.render_tick()
    }

    /// How to draw entity `id` now: its prediction if it is predicted, else interpolated if its
    /// kind has interpolated fields (`None` until the render tick reaches its first state),
    /// else as held.
    pub fn view(&self, id: NetId) -> Option<View> {
        let e = self.replica.entities.get(&id)?;
        let view = |lanes, source| View {
            id,
            kind: e.kind,
            lanes,
            source,
        };
        if let Some(lanes) = self.predictors.get(&id).and_then(Predictor::render) {
            return Some(view(lanes, Source::Predicted));
        }
        let fields = &self.replica.schema.kinds[usize::from(e.kind)].fields;
        if fields.iter().any(|f| f.interp != Interp::None) {
            let s = self
                .interpolator
                .sample(&self.replica.schema, id, self.render_tick())?;
            return Some(view(
                s.lanes,
                Source::Interpolated {
                    late_ticks: s.late_ticks,
                },
            ));
        }
        Some(view(
            e.lanes.iter().map(|v| *v as f64).collect(),
            Source::Held,
        ))
    }

    /// Every drawable entity, by id.
    pub fn views(&self) -> impl Iterator<Item = View> + '_ {
        self.replica.entities.keys().filter_map(|id| self.view(*id))
    }

    /// The exact predicted lanes of entity `id` (what the server will compute), if predicted.
    pub fn predicted(&self, id: NetId) -> Option<&[i64]> {
        self.predictors.get(&id)?.predicted()
    }

    /// Whether entity `id` is predicted here.
    pub fn is_predicted(&self, id: NetId) -> bool {
        self.predictors.contains_key(&id)
    }

    /// Whether the local player owns entity `id` (by the ownership rule).
    pub fn owns(&self, id: NetId) -> bool {
        let r = &self.replica;
        r.entities
            .get(&id)
            .is_some_and(|e| (self.owns)(&r.schema, r.player_id, e))
    }

    /// The entities the local player owns (of `kind`, if given), by id.
    pub fn owned(&self, kind: Option<u16>) -> impl Iterator<Item = NetId> + '_ {
        let r = &self.replica;
        r.entities
            .iter()
            .filter(move |(_, e)| kind.is_none_or(|k| e.kind == k))
            .filter(move |(_, e)| (self.owns)(&r.schema, r.player_id, e))
            .map(|(id, _)| *id)
    }
}

/// The netcode report of one run: how big the local corrections were, how far interpolated
/// entities were from the server's true path, and how often they were extrapolated.
#[derive(Debug, Clone, PartialEq)]
pub struct NetcodeReport {
    /// What was run (e.g. "100 ms RTT, 20 ms jitter").
    pub label: String,
    /// Reconciliations (count).
    pub corrections: usize,
    /// Reconciliations that found the prediction wrong (error above 0).
    pub mispredicted: usize,
    /// Median correction, units.
    pub correction_p50: f32,
    /// 99th percentile correction, units.
    pub correction_p99: f32,
    /// Largest correction, units.
    pub correction_max: f32,
    /// Snapped corrections.
    pub snaps: u32,
    /// 99th percentile interpolation error, units.
    pub interpolation_p99: f32,
    /// Largest interpolation error, units.
    pub interpolation_max: f32,
    /// Share of interpolated render time spent extrapolating, percent.
    pub extrapolating_pct: f64,
}

impl NetcodeReport {
    /// A report from a client's stats and the interpolation errors measured against the
    /// server's true positions.
    pub fn new(label: impl Into<String>, stats: &NetcodeStats, interp_errors: &[f32]) -> Self {
        let q = |v: &[f32], q: f64| {
            let mut v: Vec<f64> = v.iter().map(|x| f64::from(*x)).collect();
            percentile(&mut v, q) as f32
        };
        NetcodeReport {
            label: label.into(),
            corrections: stats.corrections.len(),
            mispredicted: stats.corrections.iter().filter(|e| **e > 0.0).count(),
            correction_p50: q(&stats.corrections, 0.5),
            correction_p99: q(&stats.corrections, 0.99),
            correction_max: q(&stats.corrections, 1.0),
            snaps: stats.snaps,
            interpolation_p99: q(interp_errors, 0.99),
            interpolation_max: q(interp_errors, 1.0),
            extrapolating_pct: if stats.body_render_s > 0.0 {
                100.0 * stats.extrapolating_s / stats.body_render_s
            } else {
                0.0
            },
        }
    }

    /// The header of [`NetcodeReport::markdown_row`]'s table.
    pub fn markdown_header() -> String {
        "| run | reconciliations | mispredicted | correction p50 | correction p99 | \
         correction max | snaps | interpolation error p99 | interpolation error max | \
         time extrapolating |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            .to_string()
    }

    /// One row of a markdown table (world units).
    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {:.3} | {:.3} | {:.2}% |",
            self.label,
            self.corrections,
            self.mispredicted,
            self.correction_p50,
            self.correction_p99,
            self.correction_max,
            self.snaps,
            self.interpolation_p99,
            self.interpolation_max,
            self.extrapolating_pct
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InputSeq, Tick};
    use crate::schema::{FieldDesc, KindDesc};
    use crate::sync::{InputCmd, PlayerJoin, Spawn, Update};

    /// A walker (owner, x predicted and interpolated, life a discontinuity) and a marker
    /// with nothing interpolated; the input is one lane, dx.
    fn welcome() -> Welcome {
        let schema = Schema::new("walk")
            .kind(KindDesc {
                name: "walker".into(),
                fields: vec![
                    FieldDesc::new("owner", FieldType::Player),
                    FieldDesc::new("x", FieldType::Fixed(8))
                        .interpolate()
                        .predict(),
                    FieldDesc::new("life", FieldType::U8).discontinuity(),
                ],
            })
            .kind(KindDesc {
                name: "marker".into(),
                fields: vec![FieldDesc::new("at", FieldType::U32)],
            })
            .input(vec![FieldDesc::new("dx", FieldType::I8)]);
        Welcome {
            protocol_version: super::super::PROTOCOL_VERSION,
            player_id: PlayerId(1),
            tick_rate: 10,
            tick: Tick(0),
            checksum_interval: 0,
            resume_token: String::new(),
            resumed: false,
            schema,
            game_config: String::new(),
        }
    }

    fn walk(lanes: &mut [i64], cmd: &InputCmd) {
        lanes[1] += cmd.lanes[0];
    }

    fn netcode() -> Netcode {
        Netcode::new(
            &welcome(),
            NetcodeConfig::new(&welcome()),
            Some(Box::new(walk)),
        )
    }

    fn snap(tick: u32, ack: u32) -> Snapshot {
        Snapshot::empty(Tick(tick), InputSeq(ack))
    }

    /// Adds the created entity `id` with `lanes` to `s`.
    fn spawn(s: &mut Snapshot, id: u32, kind: u16, lanes: &[i64]) {
        s.created.push(Spawn {
            id: NetId(id),
            kind,
        });
        s.created_lanes.extend_from_slice(lanes);
    }

    /// Adds an update of entity `id` (kind 0) setting `field` to `v` to `s`.
    fn update(s: &mut Snapshot, id: u32, field: usize, v: i64) {
        s.updated.push(Update {
            id: NetId(id),
            kind: 0,
            mask: 1 << field,
        });
        s.updated_lanes.push(v);
    }

    fn first(n: &mut Netcode) {
        let mut s = snap(1, 0);
        for (id, name) in [(1, "me"), (2, "you")] {
            s.players_joined.push(PlayerJoin {
                id: PlayerId(id),
                name: name.into(),
                connected: true,
            });
        }
        spawn(&mut s, 10, 0, &[1, 0, 0]);
        spawn(&mut s, 11, 0, &[2, 100, 0]);
        spawn(&mut s, 12, 1, &[7]);
        n.handle_snapshot(&s, 0.1).unwrap();
    }

    #[test]
    fn predicts_what_the_player_owns_and_interpolates_the_rest() {
        let mut n = netcode();
        first(&mut n);
        assert!(
            n.is_predicted(NetId(10)),
            "the walker the local player owns"
        );
        assert!(!n.is_predicted(NetId(11)), "someone else's walker");
        assert_eq!(n.owned(Some(0)).collect::<Vec<_>>(), [NetId(10)]);
        // Three commands, predicted at once.
        for _ in 0..3 {
            assert!(matches!(n.make_input(vec![8]), ClientMsg::Input(_)));
        }
        assert_eq!(n.predicted(NetId(10)), Some(&[1, 24, 0][..]));
        let v = n.view(NetId(10)).unwrap();
        assert_eq!((v.lanes[1], v.source), (24.0, Source::Predicted));
        // The marker has nothing to interpolate: drawn as held.
        let m = n.view(NetId(12)).unwrap();
        assert_eq!((m.lanes.clone(), m.source), (vec![7.0], Source::Held));
        // The server applied command 1 as predicted; the other walker moved.
        let mut s = snap(2, 1);
        update(&mut s, 10, 1, 8);
        update(&mut s, 11, 1, 110);
        n.handle_snapshot(&s, 0.2).unwrap();
        assert_eq!(
            n.predicted(NetId(10)),
            Some(&[1, 24, 0][..]),
            "2 and 3 replayed"
        );
        assert_eq!(n.last_corrections().len(), 1);
        assert_eq!(n.last_corrections()[0].1.error, 0.0);
        assert_eq!(n.inputs.pending().count(), 2);
        // The other walker is drawn between its two states once the render clock reaches
        // them (it runs the interpolation delay behind the newest tick).
        let between = (20..200).map(|ms| f64::from(ms) / 100.0).find_map(|t| {
            n.advance(t);
            let v = n.view(NetId(11))?;
            (v.source == Source::Interpolated { late_ticks: 0.0 } && v.lanes[1] > 100.0)
                .then_some(v.lanes[1])
        });
        let x = between.expect("the other walker is interpolated at some render tick");
        assert!(x < 110.0, "between its two states: {x}");
        assert!(!n.is_predicted(NetId(11)));
        assert_eq!(n.stats().corrections, [0.0]);
    }

    #[test]
    fn a_surprise_is_smoothed_and_counted_and_a_respawn_snaps() {
        let mut n = netcode();
        first(&mut n);
        n.make_input(vec![8]);
        // The server pushed us: command 1 ended at lane 4, not 8.
        let mut s = snap(2, 1);
        update(&mut s, 10, 1, 4);
        n.handle_snapshot(&s, 0.2).unwrap();
        assert_eq!(n.predicted(NetId(10)), Some(&[1, 4, 0][..]));
        let c = n.last_corrections()[0].1;
        assert!(!c.snapped && c.error > 0.0, "{c:?}");
        let drawn = n.view(NetId(10)).unwrap().lanes[1];
        assert_eq!(drawn, 8.0, "drawn where it was, the offset decays later");
        n.advance(0.3);
        n.advance(0.5);
        assert!(n.view(NetId(10)).unwrap().lanes[1] < 8.0);
        // A respawn (the discontinuity field) snaps.
        let mut s = snap(3, 1);
        s.updated.push(Update {
            id: NetId(10),
            kind: 0,
            mask: 0b110,
        });
        s.updated_lanes.extend([25_600, 1]);
        n.handle_snapshot(&s, 0.3).unwrap();
        assert!(n.last_corrections()[0].1.snapped);
        assert_eq!(n.stats().snaps, 1);
        assert_eq!(n.view(NetId(10)).unwrap().lanes[1], 25_600.0);
    }

    /// A glider (x interpolated and extrapolated) that nobody here owns.
    fn glider() -> Netcode {
        let mut w = welcome();
        w.schema = Schema::new("glide").kind(KindDesc {
            name: "glider".into(),
            fields: vec![
                FieldDesc::new("x", FieldType::Fixed(8))
                    .interpolate()
                    .extrapolate(),
            ],
        });
        let mut n = Netcode::new(&w, NetcodeConfig::new(&w), None);
        let mut s = snap(1, 0);
        spawn(&mut s, 20, 0, &[100]);
        n.handle_snapshot(&s, 0.1).unwrap();
        n
    }

    fn x_at(n: &Netcode, t: f64) -> f64 {
        n.interpolator
            .sample(&n.replica.schema, NetId(20), t)
            .unwrap()
            .lanes[0]
    }

    #[test]
    fn a_silence_while_still_is_quiet_ticks_and_a_start_is_drawn_from_the_tick_before() {
        let mut n = glider();
        n.handle_snapshot(&snap(2, 0), 0.2).unwrap();
        assert!(n.replica.is_still());
        // Nothing for tick 3 (a quiet tick), then the glider starts: 10 past its course.
        let mut s = snap(4, 0);
        update(&mut s, 20, 0, 10);
        n.handle_snapshot(&s, 0.4).unwrap();
        assert_eq!(n.replica.entities[&NetId(20)].lanes[0], 110);
        // It stood through tick 3, as the server had it, and moved in the tick after.
        assert_eq!(x_at(&n, 3.0), 100.0);
        assert_eq!(x_at(&n, 3.5), 105.0);
        assert_eq!(x_at(&n, 2.5), 100.0);
        // A gap while something moves is lateness, not quiet: no state is made up for it.
        let mut n = glider();
        let mut s = snap(2, 0);
        update(&mut s, 20, 0, 10);
        n.handle_snapshot(&s, 0.2).unwrap();
        assert!(!n.replica.is_still());
        n.handle_snapshot(&snap(4, 0), 0.4).unwrap();
        assert_eq!(
            n.replica.entities[&NetId(20)].lanes[0],
            130,
            "on its course"
        );
        assert_eq!(x_at(&n, 3.0), 120.0);
    }

    #[test]
    fn without_a_step_nothing_is_predicted_and_gone_entities_are_forgotten() {
        let mut n = Netcode::new(&welcome(), NetcodeConfig::new(&welcome()), None);
        first(&mut n);
        assert!(!n.is_predicted(NetId(10)));
        n.make_input(vec![8]);
        assert_eq!(n.predicted(NetId(10)), None);
        let mut predicted = netcode();
        first(&mut predicted);
        let mut s = snap(2, 0);
        s.removed.push(NetId(10));
        predicted.handle_snapshot(&s, 0.2).unwrap();
        assert!(!predicted.is_predicted(NetId(10)));
        assert!(predicted.view(NetId(10)).is_none());
        assert_eq!(predicted.owned(None).count(), 0);
    }

    #[test]
    fn pings_are_spaced_by_the_interval() {
        let mut n = netcode();
        assert!(n.poll_ping(0.0).is_some());
        assert!(n.poll_ping(0.5).is_none());
        assert!(matches!(n.poll_ping(1.0), Some(ClientMsg::Ping(_))));
    }
}
