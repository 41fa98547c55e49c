//! Interpolation of the fields a schema declares `interpolate`, for any game.
//!
//! After each snapshot, [`Interpolator::handle_snapshot`] records, for every entity whose kind
//! has interpolated fields, its lanes at the snapshot's tick. [`Interpolator::sample`] draws an
//! entity at a render tick (server time minus the interpolation delay, from
//! [`crate::clock::ClockSync`]): between the two recorded states around it, `Linear` fields
//! linearly and `Angle` fields the short way round; other fields as in the older state. Two
//! states across a change of a `discontinuity` field (a respawn counter) are never blended.
//! Past the newest state, linear fields are extrapolated along their last rate of change for
//! at most `max_extrapolation_ticks`, then held. An entity that just entered view is not drawn
//! before the render tick reaches its first state.
//!
//! Values stay in lane units (quantized) as `f64`; [`crate::schema::FieldType::dequantize`]
//! turns them into world units. Sans-IO: time is passed in.

use super::replica::Replica;
use crate::ids::{NetId, Tick};
use crate::schema::{Interp, Schema};
use std::collections::{BTreeMap, VecDeque};

/// Tuning of [`Interpolator`].
#[derive(Debug, Clone, PartialEq)]
pub struct InterpolationConfig {
    /// Longest extrapolation past the newest state, ticks.
    pub max_extrapolation_ticks: f64,
    /// States kept per entity.
    pub max_states: usize,
}

impl Default for InterpolationConfig {
    fn default() -> Self {
        InterpolationConfig {
            max_extrapolation_ticks: 3.0,
            max_states: 64,
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

/// An entity's kind and its recent states (tick, lanes), oldest first.
type Buffer = (u16, VecDeque<(Tick, Vec<i64>)>);

/// Buffers of recent states of every interpolated entity in view.
#[derive(Debug, Clone, Default)]
pub struct Interpolator {
    config: InterpolationConfig,
    buffers: BTreeMap<NetId, Buffer>,
}

impl Interpolator {
    /// An empty interpolator.
    pub fn new(config: InterpolationConfig) -> Interpolator {
        Interpolator {
            config,
            buffers: BTreeMap::new(),
        }
    }

    /// Records the replica's state after a snapshot. Entities for which `skip` is true (the
    /// locally predicted ones, say) are not recorded. Entities that left view are forgotten.
    pub fn handle_snapshot(&mut self, replica: &Replica, skip: impl Fn(NetId) -> bool) {
        let schema = &replica.schema;
        self.buffers
            .retain(|id, _| replica.entities.contains_key(id));
        for (id, e) in &replica.entities {
            let fields = &schema.kinds[usize::from(e.kind)].fields;
            if skip(*id) || fields.iter().all(|f| f.interp == Interp::None) {
                continue;
            }
            let (_, buf) = self
                .buffers
                .entry(*id)
                .or_insert_with(|| (e.kind, VecDeque::new()));
            if buf.back().is_some_and(|(t, _)| *t >= replica.tick) {
                continue;
            }
            buf.push_back((replica.tick, e.lanes.clone()));
            while buf.len() > self.config.max_states {
                buf.pop_front();
            }
        }
    }

    /// Drops states no longer needed to draw at or after `render_tick` (keeps one before).
    pub fn prune(&mut self, render_tick: f64) {
        for (_, buf) in self.buffers.values_mut() {
            while buf.len() > 2 && f64::from(buf[1].0.0) <= render_tick {
                buf.pop_front();
            }
        }
    }

    /// The entities being interpolated.
    pub fn ids(&self) -> impl Iterator<Item = NetId> + '_ {
        self.buffers.keys().copied()
    }

    /// Where to draw entity `id` at `render_tick`.
    pub fn sample(&self, schema: &Schema, id: NetId, render_tick: f64) -> Option<Sampled> {
        let (kind, buf) = self.buffers.get(&id)?;
        let fields = &schema.kinds[usize::from(*kind)].fields;
        let t = render_tick;
        if t < f64::from(buf.front()?.0.0) {
            return None;
        }
        let hold = |l: &[i64], late: f64| Sampled {
            lanes: l.iter().map(|v| *v as f64).collect(),
            late_ticks: late,
        };
        let jumped = |a: &[i64], b: &[i64]| {
            fields
                .iter()
                .zip(a.iter().zip(b))
                .any(|(f, (x, y))| f.discontinuity && x != y)
        };
        let after = buf.partition_point(|(tick, _)| f64::from(tick.0) <= t);
        if after < buf.len() {
            let ((ta, a), (tb, b)) = (&buf[after - 1], &buf[after]);
            if jumped(a, b) {
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
        if jumped(prev, last) {
            return Some(hold(last, late));
        }
        let ahead = late.min(self.config.max_extrapolation_ticks);
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
        let s = i.sample(&schema, NetId(1), 30.0).unwrap();
        assert_eq!(s.lanes[0], 250.0, "at most 3 ticks ahead");
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
