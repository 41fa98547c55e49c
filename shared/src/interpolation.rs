//! Entity interpolation for everything the client does not predict.
//!
//! Each remote player body has a buffer of the states it had at the snapshot ticks the client
//! received. Bodies are drawn at the render tick (server time minus the interpolation delay,
//! from [`crate::clock::ClockSync`]), between the two buffered states around it: positions
//! linearly, angles the short way round. Two states across a teleport (the respawn counter in
//! `status` bits 1..7 changed, the body died or came back, or it moved farther than it could
//! have) are never blended: the older one is shown until the newer one's tick. When the render
//! tick passes the newest state (a late snapshot), the body is extrapolated along its last
//! velocity for at most `max_extrapolation_ticks`, then held. A body that just entered view is
//! not drawn until the render tick reaches its first state.
//!
//! Sans-IO: states come from the [`Replica`] after each snapshot, the render tick is passed in.

use crate::ids::{NetId, Tick};
use crate::protocol::PlayerState;
use crate::quant::{dequantize_angle8, dequantize_pos};
use crate::replica::{EntityState, Replica};
use crate::rules::Rules;
use glam::Vec2;
use std::collections::{BTreeMap, VecDeque};
use std::f32::consts::TAU;

/// Tuning of [`Interpolator`].
#[derive(Debug, Clone, PartialEq)]
pub struct InterpolationConfig {
    /// Longest extrapolation past the newest state, ticks.
    pub max_extrapolation_ticks: f32,
    /// A body that moved farther than this many units per tick between two states teleported.
    pub teleport_units_per_tick: f32,
    /// States kept per body (older ones are dropped).
    pub max_states: usize,
}

impl InterpolationConfig {
    /// Defaults for the rules of a room: extrapolate up to 3 ticks; a move faster than twice
    /// the top speed (plus a body radius, for pushes) is a teleport.
    pub fn new(rules: &Rules) -> InterpolationConfig {
        InterpolationConfig {
            max_extrapolation_ticks: 3.0,
            teleport_units_per_tick: 2.0 * rules.player_speed * rules.dt() + rules.player_radius,
            max_states: 64,
        }
    }
}

/// A body as it should be drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interpolated {
    /// Position, world units.
    pub pos: Vec2,
    /// Facing, radians.
    pub aim: f32,
    /// The buffered state nearest before the render tick (health, alive, respawn counter).
    pub state: PlayerState,
    /// How far past the newest state the render tick is (0 when interpolating), ticks.
    pub late_ticks: f32,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    tick: Tick,
    pos: Vec2,
    state: PlayerState,
}

/// Interpolation buffers of every remote body in view.
#[derive(Debug, Clone)]
pub struct Interpolator {
    config: InterpolationConfig,
    buffers: BTreeMap<NetId, VecDeque<Sample>>,
}

impl Interpolator {
    /// No buffers yet.
    pub fn new(config: InterpolationConfig) -> Interpolator {
        Interpolator {
            config,
            buffers: BTreeMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &InterpolationConfig {
        &self.config
    }

    /// Records every player body in `replica` (except `local`, which is predicted) at the
    /// replica's tick, and forgets bodies no longer in view.
    pub fn handle_snapshot(&mut self, replica: &Replica, local: NetId) {
        let tick = replica.tick;
        self.buffers
            .retain(|id, _| matches!(replica.entities.get(id), Some(EntityState::Player { .. })));
        for (id, e) in &replica.entities {
            let EntityState::Player { state, .. } = e else {
                continue;
            };
            if *id == local {
                continue;
            }
            let buf = self.buffers.entry(*id).or_default();
            if buf.back().is_some_and(|s| s.tick >= tick) {
                continue;
            }
            buf.push_back(Sample {
                tick,
                pos: Vec2::new(dequantize_pos(state.x), dequantize_pos(state.y)),
                state: *state,
            });
            while buf.len() > self.config.max_states {
                buf.pop_front();
            }
        }
    }

    /// Drops states no longer needed to draw at `render_tick` or later (keeps one before it).
    pub fn prune(&mut self, render_tick: f64) {
        for buf in self.buffers.values_mut() {
            while buf.len() > 2 && f64::from(buf[1].tick.0) <= render_tick {
                buf.pop_front();
            }
        }
    }

    /// Bodies with a buffer.
    pub fn ids(&self) -> impl Iterator<Item = NetId> + '_ {
        self.buffers.keys().copied()
    }

    fn teleported(&self, a: &Sample, b: &Sample) -> bool {
        let ticks = b.tick.since(a.tick).max(1) as f32;
        a.state.status != b.state.status
            || a.pos.distance(b.pos) > self.config.teleport_units_per_tick * ticks
    }

    /// Where to draw body `id` at `render_tick`.
    pub fn sample(&self, id: NetId, render_tick: f64) -> Option<Interpolated> {
        let buf = self.buffers.get(&id)?;
        let first = buf.front()?;
        let t = render_tick;
        let hold = |s: &Sample, late: f32| Interpolated {
            pos: s.pos,
            aim: dequantize_angle8(s.state.aim),
            state: s.state,
            late_ticks: late,
        };
        // A body that entered view at tick T appears when the render tick reaches T: before
        // that there is nothing true to draw (holding it at its first state would show it
        // standing still while it was in fact walking).
        if t < f64::from(first.tick.0) {
            return None;
        }
        let after = buf.partition_point(|s| f64::from(s.tick.0) <= t);
        if after < buf.len() {
            let (a, b) = (&buf[after - 1], &buf[after]);
            if self.teleported(a, b) {
                return Some(hold(a, 0.0));
            }
            let span = f64::from(b.tick.0 - a.tick.0);
            let f = ((t - f64::from(a.tick.0)) / span) as f32;
            return Some(Interpolated {
                pos: a.pos.lerp(b.pos, f),
                aim: lerp_angle8(a.state.aim, b.state.aim, f),
                state: a.state,
                late_ticks: 0.0,
            });
        }
        // Past the newest state: extrapolate along the last velocity, bounded.
        let last = buf.back()?;
        let late = (t - f64::from(last.tick.0)) as f32;
        if buf.len() < 2 || !last.state.alive() {
            return Some(hold(last, late));
        }
        let prev = &buf[buf.len() - 2];
        if self.teleported(prev, last) {
            return Some(hold(last, late));
        }
        let velocity = (last.pos - prev.pos) / (last.tick.0 - prev.tick.0) as f32;
        let ahead = late.min(self.config.max_extrapolation_ticks);
        Some(Interpolated {
            pos: last.pos + velocity * ahead,
            aim: dequantize_angle8(last.state.aim),
            state: last.state,
            late_ticks: late,
        })
    }
}

/// Blends two 256-step angles the short way round; radians in `[0, TAU)`.
pub fn lerp_angle8(a: u8, b: u8, f: f32) -> f32 {
    let delta = b.wrapping_sub(a) as i8 as f32 / 256.0 * TAU;
    (dequantize_angle8(a) + delta * f).rem_euclid(TAU)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InputSeq, PlayerId};
    use crate::quant::quantize_pos;

    fn replica() -> Replica {
        Replica::new(&crate::replica::tests::welcome_at(0))
    }

    fn put(r: &mut Replica, tick: u32, x: f32, aim: u8, status: u8) {
        r.tick = Tick(tick);
        r.ack_input_seq = InputSeq(0);
        r.entities.insert(
            NetId(5),
            EntityState::Player {
                player: PlayerId(2),
                state: PlayerState {
                    x: quantize_pos(x),
                    y: quantize_pos(50.0),
                    aim,
                    health: 100,
                    status,
                },
            },
        );
    }

    #[test]
    fn interpolates_between_states_and_angles_the_short_way() {
        let rules = Rules::at_tick_rate(30);
        let mut i = Interpolator::new(InterpolationConfig::new(&rules));
        let mut r = replica();
        put(&mut r, 10, 100.0, 250, 1);
        i.handle_snapshot(&r, NetId(0));
        put(&mut r, 11, 106.0, 6, 1);
        i.handle_snapshot(&r, NetId(0));
        let s = i.sample(NetId(5), 10.5).unwrap();
        assert_eq!(s.pos, Vec2::new(103.0, 50.0));
        // 250 → 6 crosses zero: halfway is 0, not 128.
        assert!(s.aim < 0.01 || s.aim > TAU - 0.01, "{}", s.aim);
        assert_eq!(s.late_ticks, 0.0);
        // Before the first state: not drawn yet; at it: drawn there.
        assert!(i.sample(NetId(5), 9.9).is_none());
        assert_eq!(i.sample(NetId(5), 10.0).unwrap().pos.x, 100.0);
        // The local body is never buffered.
        assert!(i.sample(NetId(0), 10.5).is_none());
    }

    #[test]
    fn extrapolation_is_bounded_and_teleports_are_not_blended() {
        let rules = Rules::at_tick_rate(30);
        let mut i = Interpolator::new(InterpolationConfig::new(&rules));
        let mut r = replica();
        put(&mut r, 10, 100.0, 0, 1);
        i.handle_snapshot(&r, NetId(0));
        put(&mut r, 11, 106.0, 0, 1);
        i.handle_snapshot(&r, NetId(0));
        let s = i.sample(NetId(5), 12.0).unwrap();
        assert_eq!((s.pos.x, s.late_ticks), (112.0, 1.0));
        let s = i.sample(NetId(5), 20.0).unwrap();
        assert_eq!(s.pos.x, 106.0 + 3.0 * 6.0, "stops after 3 ticks");
        assert_eq!(s.late_ticks, 9.0);

        // Respawned far away (counter 0 → 1): no blend, the old spot until the new tick.
        put(&mut r, 12, 900.0, 0, 1 | 2);
        i.handle_snapshot(&r, NetId(0));
        assert_eq!(i.sample(NetId(5), 11.9).unwrap().pos.x, 106.0);
        assert_eq!(i.sample(NetId(5), 12.0).unwrap().pos.x, 900.0);
        // ... and no extrapolation across it either.
        assert_eq!(i.sample(NetId(5), 13.0).unwrap().pos.x, 900.0);

        // Gone from view: buffer dropped.
        r.entities.clear();
        r.tick = Tick(13);
        i.handle_snapshot(&r, NetId(0));
        assert!(i.sample(NetId(5), 13.0).is_none());
    }

    #[test]
    fn pruning_keeps_what_the_render_tick_needs() {
        let rules = Rules::at_tick_rate(30);
        let mut i = Interpolator::new(InterpolationConfig::new(&rules));
        let mut r = replica();
        for t in 0..10 {
            put(&mut r, t, 100.0 + t as f32, 0, 1);
            i.handle_snapshot(&r, NetId(0));
        }
        let before = i.sample(NetId(5), 6.5).unwrap();
        i.prune(6.5);
        assert_eq!(i.sample(NetId(5), 6.5).unwrap(), before);
        assert_eq!(i.buffers[&NetId(5)].len(), 4);
    }
}
