//! Interpolation of the fields a schema declares `interpolate`, for any game.
//!
//! After each snapshot, [`Interpolator::handle_snapshot`] records, for every entity whose kind
//! has interpolated fields, its lanes at the snapshot's tick. [`Interpolator::sample`] draws an
//! entity at a render tick (server time minus the interpolation delay, from
//! [`crate::clock::ClockSync`]): between the two recorded states around it, `Linear` fields
//! linearly and `Angle` fields the short way round; other fields as in the older state. Two
//! states across a change of a `discontinuity` field (a respawn counter) are never blended.
//! An entity that just entered view is not drawn before the render tick reaches its first
//! state.
//!
//! **Through a stall** (the render tick past the newest state: a TCP retransmission holds the
//! stream back), linear fields are extrapolated along the body's own last rate of change (its
//! two newest states): at full speed for `max_extrapolation_ticks − extrapolation_ease_ticks`
//! ticks, then slowing evenly to a stop at `max_extrapolation_ticks`, and held after that. So
//! the drawn motion never jumps and never turns back; the distance covered is bounded
//! (`max − ease/2` ticks of the last motion). Never across a discontinuity.
//!
//! **Blend back**: when the stalled states arrive, the path they give at the render tick is
//! not where the extrapolation drew the entity. The difference (linear fields) becomes an
//! offset that [`Interpolator::advance`] halves every `blend_half_life_s`, instead of a snap;
//! never slower than needed to keep the drawn motion from going back against the entity's
//! motion on its path (the decay is held back just enough). A discontinuity drops the offset.
//!
//! **Quiet ticks** are states too: while a client's replica is still, the server sends nothing
//! for the ticks on which nothing changed (see docs/PROTOCOL.md, "Tick markers and quiet
//! ticks"). [`Interpolator::hold_quiet`] records them, so that the next state is blended from
//! the tick before it, where the entity still stood, and not from the last frame.
//!
//! Values stay in lane units (quantized) as `f64`; [`crate::schema::FieldType::dequantize`]
//! turns them into world units. Sans-IO: time is passed in. The browser SDK's
//! `interpolate.js` is the same.

use super::replica::Replica;
use crate::ids::{NetId, Tick};
use crate::schema::{FieldDesc, Interp, Schema};
use std::collections::{BTreeMap, VecDeque};

/// Tuning of [`Interpolator`].
#[derive(Debug, Clone, PartialEq)]
pub struct InterpolationConfig {
    /// How long past the newest state extrapolation runs before the entity is held, ticks.
    pub max_extrapolation_ticks: f64,
    /// The last part of that over which the extrapolated motion slows evenly to a stop, ticks.
    pub extrapolation_ease_ticks: f64,
    /// The offset between the extrapolated and the real path, when the late states arrive,
    /// halves every this many seconds.
    pub blend_half_life_s: f64,
    /// States kept per entity.
    pub max_states: usize,
}

impl Default for InterpolationConfig {
    fn default() -> Self {
        InterpolationConfig {
            max_extrapolation_ticks: 12.0,
            extrapolation_ease_ticks: 6.0,
            blend_half_life_s: 0.08,
            max_states: 64,
        }
    }
}

impl InterpolationConfig {
    /// How far along its last motion an entity is drawn `late` ticks past its newest state,
    /// in ticks of that motion: `late` at first, easing to a stop at `max_extrapolation_ticks`.
    pub fn extrapolated_ticks(&self, late: f64) -> f64 {
        let max = self.max_extrapolation_ticks.max(0.0);
        let ease = self.extrapolation_ease_ticks.clamp(0.0, max);
        let full = max - ease;
        let late = late.clamp(0.0, max);
        if late <= full {
            late
        } else {
            let e = late - full;
            full + e - e * e / (2.0 * ease)
        }
    }
}

/// An entity as it should be drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// One value per field of its kind, lane units.
    pub lanes: Vec<f64>,
    /// How far past the newest state the render tick is (0 while interpolating), ticks.
    pub late_ticks: f64,
}

/// An entity's kind, its recent states (tick, lanes), oldest first, the blend-back offset on
/// its linear fields, and where its path put it at the last frame.
#[derive(Debug, Clone)]
struct Track {
    kind: u16,
    states: VecDeque<(Tick, Vec<i64>)>,
    offset: Vec<f64>,
    last_path: Option<Vec<f64>>,
}

/// Buffers of recent states of every interpolated entity in view.
#[derive(Debug, Clone, Default)]
pub struct Interpolator {
    config: InterpolationConfig,
    tracks: BTreeMap<NetId, Track>,
    /// The render tick of the last [`Interpolator::advance`].
    render_tick: Option<f64>,
}

impl Interpolator {
    /// An empty interpolator.
    pub fn new(config: InterpolationConfig) -> Interpolator {
        Interpolator {
            config,
            tracks: BTreeMap::new(),
            render_tick: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &InterpolationConfig {
        &self.config
    }

    /// Records the replica's state after a snapshot. Entities for which `skip` is true (the
    /// locally predicted ones, say) are not recorded. Entities that left view are forgotten.
    /// Where the new state moves an entity's path at the current render tick (the late states
    /// of a stall), the difference becomes the blend-back offset.
    pub fn handle_snapshot(&mut self, replica: &Replica, skip: impl Fn(NetId) -> bool) {
        let schema = &replica.schema;
        self.tracks
            .retain(|id, _| replica.entities.contains_key(id) && !skip(*id));
        for (id, e) in &replica.entities {
            let fields = &schema.kinds[usize::from(e.kind)].fields;
            if skip(*id) || fields.iter().all(|f| f.interp == Interp::None) {
                continue;
            }
            let track = self.tracks.entry(*id).or_insert_with(|| Track {
                kind: e.kind,
                states: VecDeque::new(),
                offset: vec![0.0; fields.len()],
                last_path: None,
            });
            if track.states.back().is_some_and(|(t, _)| *t >= replica.tick) {
                continue;
            }
            let before = self
                .render_tick
                .and_then(|t| path(&self.config, fields, &track.states, t));
            let jumped_now = track
                .states
                .back()
                .is_some_and(|(_, last)| jumped(fields, last, &e.lanes));
            track.states.push_back((replica.tick, e.lanes.clone()));
            while track.states.len() > self.config.max_states {
                track.states.pop_front();
            }
            if jumped_now {
                track.offset.iter_mut().for_each(|o| *o = 0.0);
                continue;
            }
            let after = self
                .render_tick
                .and_then(|t| path(&self.config, fields, &track.states, t));
            if let (Some(b), Some(a)) = (before, after) {
                for (i, f) in fields.iter().enumerate() {
                    if f.interp == Interp::Linear {
                        track.offset[i] += b.lanes[i] - a.lanes[i];
                    }
                }
                // Where the path was drawn last frame moves with it, so the next frame's
                // motion is measured along the new path.
                if let Some(last) = track.last_path.as_mut() {
                    for (i, f) in fields.iter().enumerate() {
                        if f.interp == Interp::Linear {
                            last[i] -= b.lanes[i] - a.lanes[i];
                        }
                    }
                }
            }
        }
    }

    /// The server sent nothing after tick `from` until `to` (inclusive) because nothing
    /// changed: the replica was still at `from` (every per-tick change 0) and those were quiet
    /// ticks. Every entity whose newest state is at `from` holds it through `to`. Call it
    /// before [`Interpolator::handle_snapshot`] with the next frame's tick less one; then a body
    /// that starts moving at that frame is drawn standing until the tick before it, as it did,
    /// and not gliding off from the last frame.
    pub fn hold_quiet(&mut self, from: Tick, to: Tick) {
        if to <= from {
            return;
        }
        for track in self.tracks.values_mut() {
            if let Some((t, lanes)) = track.states.back()
                && *t == from
            {
                let lanes = lanes.clone();
                track.states.push_back((to, lanes));
                while track.states.len() > self.config.max_states {
                    track.states.pop_front();
                }
            }
        }
    }

    /// Moves display time to `render_tick`, `frame_s` seconds after the last call: decays every
    /// blend-back offset, but never so fast that the drawn entity would move back against its
    /// motion along its path this frame.
    pub fn advance(&mut self, schema: &Schema, render_tick: f64, frame_s: f64) {
        self.render_tick = Some(render_tick);
        let keep = 0.5f64.powf(frame_s.max(0.0) / self.config.blend_half_life_s.max(1e-6));
        for track in self.tracks.values_mut() {
            let fields = &schema.kinds[usize::from(track.kind)].fields;
            let now = path(&self.config, fields, &track.states, render_tick);
            if track.offset.iter().any(|o| *o != 0.0) {
                let linear = |i: usize| fields[i].interp == Interp::Linear;
                let decayed: Vec<f64> = track
                    .offset
                    .iter()
                    .map(|o| if o.abs() * keep < 0.05 { 0.0 } else { o * keep })
                    .collect();
                // The drawn motion this frame, m + s·(decayed − offset), must not point back
                // against the path's motion this frame (m) nor over the next tick (a body
                // about to move off): the largest s ≤ 1 that keeps both.
                let mut scale = 1.0f64;
                if let (Some(now), Some(last)) = (&now, &track.last_path) {
                    let next = path(&self.config, fields, &track.states, render_tick + 1.0);
                    let dirs: Vec<Vec<f64>> = [Some(last.as_slice()), None]
                        .iter()
                        .filter_map(|from| match from {
                            Some(l) => {
                                Some((0..fields.len()).map(|i| now.lanes[i] - l[i]).collect())
                            }
                            None => next.as_ref().map(|n| {
                                (0..fields.len())
                                    .map(|i| n.lanes[i] - now.lanes[i])
                                    .collect()
                            }),
                        })
                        .collect();
                    for c in &dirs {
                        let (mut mc, mut dc, mut cc) = (0.0, 0.0, 0.0);
                        for i in (0..fields.len()).filter(|i| linear(*i)) {
                            mc += (now.lanes[i] - last[i]) * c[i];
                            dc += (decayed[i] - track.offset[i]) * c[i];
                            cc += c[i] * c[i];
                        }
                        if cc > 0.0 && mc + dc < 0.0 {
                            scale = scale.min((-mc / dc).max(0.0));
                        }
                    }
                }
                for (i, o) in track.offset.iter_mut().enumerate() {
                    *o += (decayed[i] - *o) * scale;
                }
            }
            track.last_path = now.map(|s| s.lanes);
        }
    }

    /// Drops states no longer needed to draw at or after `render_tick` (keeps one before).
    pub fn prune(&mut self, render_tick: f64) {
        for track in self.tracks.values_mut() {
            let buf = &mut track.states;
            while buf.len() > 2 && f64::from(buf[1].0.0) <= render_tick {
                buf.pop_front();
            }
        }
    }

    /// The entities being interpolated.
    pub fn ids(&self) -> impl Iterator<Item = NetId> + '_ {
        self.tracks.keys().copied()
    }

    /// The blend-back offset of entity `id` now (lane units per field), if it is interpolated.
    pub fn offset(&self, id: NetId) -> Option<&[f64]> {
        Some(&self.tracks.get(&id)?.offset)
    }

    /// Where to draw entity `id` at `render_tick`: its path (between states, or extrapolated)
    /// plus what is left of its blend-back offset.
    pub fn sample(&self, schema: &Schema, id: NetId, render_tick: f64) -> Option<Sampled> {
        let track = self.tracks.get(&id)?;
        let fields = &schema.kinds[usize::from(track.kind)].fields;
        let mut s = path(&self.config, fields, &track.states, render_tick)?;
        for (v, o) in s.lanes.iter_mut().zip(&track.offset) {
            *v += o;
        }
        Some(s)
    }
}

/// Whether a `discontinuity` field differs between two states.
fn jumped(fields: &[FieldDesc], a: &[i64], b: &[i64]) -> bool {
    fields
        .iter()
        .zip(a.iter().zip(b))
        .any(|(f, (x, y))| f.discontinuity && x != y)
}

/// The entity's path at `t` from its states alone: between the two around `t`, or
/// extrapolated (eased, bounded) past the newest; `None` before the first.
fn path(
    config: &InterpolationConfig,
    fields: &[FieldDesc],
    buf: &VecDeque<(Tick, Vec<i64>)>,
    t: f64,
) -> Option<Sampled> {
    if t < f64::from(buf.front()?.0.0) {
        return None;
    }
    let hold = |l: &[i64], late: f64| Sampled {
        lanes: l.iter().map(|v| *v as f64).collect(),
        late_ticks: late,
    };
    let after = buf.partition_point(|(tick, _)| f64::from(tick.0) <= t);
    if after < buf.len() {
        let ((ta, a), (tb, b)) = (&buf[after - 1], &buf[after]);
        if jumped(fields, a, b) {
            return Some(hold(a, 0.0));
        }
        let f = (t - f64::from(ta.0)) / f64::from(tb.0 - ta.0);
        let lanes = fields
            .iter()
            .zip(a.iter().zip(b))
            .map(|(fd, (x, y))| blend(fd.interp, fd.ty.turn(), *x, *y, f))
            .collect();
        return Some(Sampled {
            lanes,
            late_ticks: 0.0,
        });
    }
    let (tl, last) = buf.back()?;
    let late = t - f64::from(tl.0);
    if buf.len() < 2 {
        return Some(hold(last, late));
    }
    let (tp, prev) = &buf[buf.len() - 2];
    if jumped(fields, prev, last) {
        return Some(hold(last, late));
    }
    let ahead = config.extrapolated_ticks(late);
    let span = f64::from(tl.0 - tp.0);
    let lanes = fields
        .iter()
        .zip(prev.iter().zip(last))
        .map(|(fd, (p, l))| match fd.interp {
            Interp::Linear => *l as f64 + (*l - *p) as f64 / span * ahead,
            _ => *l as f64,
        })
        .collect();
    Some(Sampled {
        lanes,
        late_ticks: late,
    })
}

/// `a` towards `b` by `f` (0..=1) as the field's interpolation says; `turn` wraps angles.
pub fn blend(interp: Interp, turn: Option<i64>, a: i64, b: i64, f: f64) -> f64 {
    match (interp, turn) {
        (Interp::Linear, _) | (Interp::Angle, None) => a as f64 + (b - a) as f64 * f,
        (Interp::Angle, Some(turn)) => {
            let mut d = (b - a).rem_euclid(turn);
            if d > turn / 2 {
                d -= turn;
            }
            (a as f64 + d as f64 * f).rem_euclid(turn as f64)
        }
        (Interp::None, _) => a as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FieldDesc, FieldType, KindDesc};
    use crate::sync::{PROTOCOL_VERSION, Snapshot, Spawn, Update, Welcome};
    use crate::{InputSeq, PlayerId};

    fn replica() -> Replica {
        let schema = Schema::new("t").kind(KindDesc {
            name: "k".into(),
            fields: vec![
                FieldDesc::new("x", FieldType::I32).interpolate(),
                FieldDesc::new("a", FieldType::Angle8).interpolate(),
                FieldDesc::new("hp", FieldType::U8),
                FieldDesc::new("life", FieldType::U8).discontinuity(),
            ],
        });
        Replica::new(&Welcome {
            protocol_version: PROTOCOL_VERSION,
            player_id: PlayerId(1),
            tick_rate: 30,
            tick: Tick(0),
            checksum_interval: 0,
            resume_token: String::new(),
            resumed: false,
            schema,
            game_config: String::new(),
        })
    }

    fn snap(tick: u32, create: Option<[i64; 4]>, update: Option<[i64; 4]>) -> Snapshot {
        let mut s = Snapshot::empty(Tick(tick), InputSeq(0));
        if let Some(l) = create {
            s.created.push(Spawn {
                id: NetId(1),
                kind: 0,
            });
            s.created_lanes.extend(l);
        }
        if let Some(l) = update {
            s.updated.push(Update {
                id: NetId(1),
                kind: 0,
                mask: 0b1111,
            });
            s.updated_lanes.extend(l);
        }
        s
    }

    #[test]
    fn blends_between_states_the_short_way_and_extrapolates_a_bounded_time() {
        let mut r = replica();
        let mut i = Interpolator::default();
        for s in [
            snap(10, Some([0, 250, 100, 0]), None),
            snap(12, None, Some([100, 4, 90, 0])),
        ] {
            r.apply(&s).unwrap();
            i.handle_snapshot(&r, |_| false);
        }
        let schema = r.schema.clone();
        assert_eq!(
            i.sample(&schema, NetId(1), 9.0),
            None,
            "not before it entered view"
        );
        let s = i.sample(&schema, NetId(1), 11.0).unwrap();
        assert_eq!(
            s.lanes,
            vec![50.0, 255.0, 100.0, 0.0],
            "the angle went 250 → 4 via 0"
        );
        let s = i.sample(&schema, NetId(1), 13.0).unwrap();
        assert_eq!((s.lanes[0], s.late_ticks), (150.0, 1.0));
        // Full speed for 6 ticks, then slowing evenly to a stop at 12 ticks: 9 ticks of
        // motion (50 lanes a tick) in all, held after that.
        assert_eq!(i.sample(&schema, NetId(1), 18.0).unwrap().lanes[0], 400.0);
        assert_eq!(i.sample(&schema, NetId(1), 24.0).unwrap().lanes[0], 550.0);
        let s = i.sample(&schema, NetId(1), 30.0).unwrap();
        assert_eq!(s.lanes[0], 550.0, "at most 9 ticks of motion ahead");
        let xs: Vec<f64> = (0..100)
            .map(|k| {
                i.sample(&schema, NetId(1), 12.0 + f64::from(k) * 0.2)
                    .unwrap()
                    .lanes[0]
            })
            .collect();
        for w in xs.windows(3) {
            assert!(w[1] >= w[0], "never back: {w:?}");
            assert!(
                w[2] - w[1] <= w[1] - w[0] + 1e-9,
                "never speeding up: {w:?}"
            );
        }
    }

    /// A body walking along x at `speed(tick)` lanes per tick; the states of `stalled` ticks
    /// arrive late, all at once, when the render tick is at `release`. Frames advance the render
    /// tick by half a tick. Returns, per frame, (render tick, drawn x, path x without offset).
    fn stall(
        speed: impl Fn(u32) -> i64,
        stalled: std::ops::Range<u32>,
        release: f64,
    ) -> Vec<(f64, f64, f64)> {
        let mut r = replica();
        let mut i = Interpolator::default();
        let schema = r.schema.clone();
        let mut x = 0;
        let mut pending = Vec::new();
        let mut frames = Vec::new();
        let mut next = 1;
        let mut t = 0.0;
        let deliver = |r: &mut Replica, i: &mut Interpolator, tick: u32, x: i64| {
            let first = r.entities.is_empty();
            let lanes = [x, 0, 100, 0];
            r.apply(&snap(
                tick,
                first.then_some(lanes),
                (!first).then_some(lanes),
            ))
            .unwrap();
            i.handle_snapshot(r, |_| false);
        };
        while t < 80.0 {
            // Snapshots up to two ticks ahead of the render tick (the interpolation delay).
            while f64::from(next) <= t + 2.0 {
                x += speed(next);
                if stalled.contains(&next) && t < release {
                    pending.push((next, x));
                } else {
                    for (tick, px) in pending.drain(..) {
                        deliver(&mut r, &mut i, tick, px);
                    }
                    deliver(&mut r, &mut i, next, x);
                }
                next += 1;
            }
            if t >= release {
                for (tick, px) in pending.drain(..) {
                    deliver(&mut r, &mut i, tick, px);
                }
            }
            t += 0.5;
            i.advance(&schema, t, 1.0 / 60.0);
            let Some(drawn) = i.sample(&schema, NetId(1), t).map(|s| s.lanes[0]) else {
                continue; // before its first state
            };
            let off = i.offset(NetId(1)).unwrap()[0];
            frames.push((t, drawn, drawn - off));
        }
        frames
    }

    #[test]
    fn through_a_stall_a_body_turning_back_is_blended_back_without_a_snap() {
        // 10 lanes a tick, turning back at tick 20; ticks 18..30 arrive 8 ticks late, so the
        // extrapolation runs past the turn.
        let frames = stall(|t| if t <= 20 { 10 } else { -10 }, 18..30, 27.0);
        let release = frames.iter().position(|f| f.0 > 27.0).unwrap();
        // Without the blend the drawn body would have jumped this far at the release.
        let snap = (frames[release - 1].1 - frames[release].2).abs();
        assert!(snap > 50.0, "how far past to blend back: {snap}");
        let mut largest = 0.0f64;
        for w in frames.windows(2) {
            let (moved, path) = (w[1].1 - w[0].1, w[1].2 - w[0].2);
            largest = largest.max(moved.abs());
            if path.abs() > 1e-9 {
                assert!(
                    moved * path >= -1e-9,
                    "against the path at {}: {w:?}",
                    w[1].0
                );
            }
        }
        // Half a tick of motion is 5 lanes a frame; the blend takes at most 1 − 0.5^(1/60/0.08)
        // (13.5%) of the offset a frame: a glide over a few frames, not a jump.
        assert!(largest <= 5.0 + 0.14 * snap, "largest step {largest}");
        let end = frames.last().unwrap();
        assert_eq!(end.1, end.2, "the offset is gone: drawn on the path");
    }

    #[test]
    fn a_body_that_slowed_during_a_stall_is_never_drawn_moving_back() {
        // 10 lanes a tick, then 2 from tick 20: the extrapolation ran ahead of the path, which
        // keeps going forward; taking the run-past back must not move the body backwards.
        let frames = stall(|t| if t <= 20 { 10 } else { 2 }, 18..30, 27.0);
        for w in frames.windows(2) {
            assert!(w[1].1 >= w[0].1 - 1e-9, "moved back at {}: {w:?}", w[1].0);
        }
        let end = frames.last().unwrap();
        assert_eq!(end.1, end.2, "the offset is gone: drawn on the path");
    }

    #[test]
    fn never_blends_across_a_discontinuity() {
        let mut r = replica();
        let mut i = Interpolator::default();
        for s in [
            snap(10, Some([0, 0, 100, 0]), None),
            snap(12, None, Some([900, 0, 100, 1])),
        ] {
            r.apply(&s).unwrap();
            i.handle_snapshot(&r, |_| false);
        }
        let schema = r.schema.clone();
        assert_eq!(i.sample(&schema, NetId(1), 11.0).unwrap().lanes[0], 0.0);
        assert_eq!(i.sample(&schema, NetId(1), 12.0).unwrap().lanes[0], 900.0);
        assert_eq!(
            i.sample(&schema, NetId(1), 14.0).unwrap().lanes[0],
            900.0,
            "no extrapolation across it"
        );
    }
}
