//! Update prioritisation: entities far from a viewer are updated less often than near ones,
//! and tiny aim changes wait until they add up. This trims bandwidth without touching the wire
//! format.
//!
//! It stays exact because every client's delta is against its own baseline (exactly what it
//! was last sent): holding an entity back simply keeps its baseline state, and the next update
//! that is due carries the whole accumulated change. The client's table is therefore always a
//! true record of what it was sent (checksums still match); it only lags the world by a
//! bounded amount for far entities. Never held back: the viewer's own body, entities entering
//! or leaving view, projectiles (never updated), and any change of health or status.
//!
//! Which ticks an entity is due on is deterministic: with interval `n`, entity `id` is due
//! when `(tick + id) % n == 0`, which spreads far updates evenly over ticks.

use glam::Vec2;
use tickwire_shared::protocol::PlayerState;
use tickwire_shared::quant::quantize_pos;
use tickwire_shared::{NetId, Tick};

/// Entities at least `beyond × view_radius` from the viewer are updated every `every` ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateTier {
    /// Start of the band, as a fraction of the view radius (0..=1).
    pub beyond: f32,
    /// Update interval in ticks (1 = every tick).
    pub every: u32,
}

/// How a room prioritises entity updates.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePolicy {
    /// Distance bands, nearest first; entities nearer than the first band are updated every
    /// tick. Keep each `every` a divisor of the largest so the lag bound is that largest
    /// interval.
    pub tiers: Vec<UpdateTier>,
    /// Aim changes of at most this many steps (of 256 per turn) are held back until they add
    /// up; 0 sends every change.
    pub aim_deadband: u8,
}

impl Default for UpdatePolicy {
    /// Off (every entity every tick): clients whose interpolation samples every snapshot
    /// would show held-back entities moving in steps. See [`UpdatePolicy::recommended`].
    fn default() -> Self {
        UpdatePolicy::off()
    }
}

/// Why a tier list could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad update tiers {0:?}: expected \"off\" or FRACTION:TICKS[,FRACTION:TICKS...], e.g. \"0.35:2,0.7:4\", with increasing fractions in 0..=1 and intervals that divide the largest"
)]
pub struct TierParseError(String);

impl UpdatePolicy {
    /// The tiers the load scenarios use: full rate within 35 % of the view radius, every 2nd
    /// tick to 70 %, every 4th beyond; aim changes of one step wait.
    pub fn recommended() -> Self {
        UpdatePolicy {
            tiers: vec![
                UpdateTier {
                    beyond: 0.35,
                    every: 2,
                },
                UpdateTier {
                    beyond: 0.7,
                    every: 4,
                },
            ],
            aim_deadband: 1,
        }
    }

    /// Every entity every tick, every aim change sent: the behaviour without prioritisation.
    pub fn off() -> Self {
        UpdatePolicy {
            tiers: Vec::new(),
            aim_deadband: 0,
        }
    }

    /// Parses a tier list such as `0.35:2,0.7:4` (or `off`).
    pub fn parse_tiers(s: &str) -> Result<Vec<UpdateTier>, TierParseError> {
        let err = || TierParseError(s.to_string());
        if s.trim() == "off" || s.trim().is_empty() {
            return Ok(Vec::new());
        }
        let mut tiers = Vec::new();
        for part in s.split(',') {
            let (f, n) = part.trim().split_once(':').ok_or_else(err)?;
            let beyond: f32 = f.trim().parse().map_err(|_| err())?;
            let every: u32 = n.trim().parse().map_err(|_| err())?;
            if !(0.0..=1.0).contains(&beyond)
                || every == 0
                || every > 64
                || tiers.len() == MAX_TIERS
            {
                return Err(err());
            }
            if tiers
                .last()
                .is_some_and(|t: &UpdateTier| t.beyond >= beyond)
            {
                return Err(err());
            }
            tiers.push(UpdateTier { beyond, every });
        }
        let max = tiers.iter().map(|t| t.every).max().unwrap_or(1);
        if tiers.iter().any(|t| max % t.every != 0) {
            return Err(err());
        }
        Ok(tiers)
    }

    /// The longest interval: a held-back entity was last sent at most `max_interval() − 1`
    /// ticks ago.
    pub fn max_interval(&self) -> u32 {
        self.tiers.iter().map(|t| t.every).max().unwrap_or(1).max(1)
    }

    /// Update interval for an entity at quantized position `entity` seen from `center` (both
    /// in 1/8 units). Integer arithmetic, so every caller agrees exactly on band edges.
    pub fn interval(&self, entity: (i32, i32), center: (i32, i32), view_radius: f32) -> u32 {
        let bands = Bands::new(self, view_radius);
        bands.interval(distance2(entity, center))
    }

    /// Whether entity `id` at quantized `entity` is due for an update at `tick` for a viewer at
    /// `center`.
    pub fn is_due(
        &self,
        tick: Tick,
        id: NetId,
        entity: (i32, i32),
        center: (i32, i32),
        view_radius: f32,
    ) -> bool {
        due(tick, id, self.interval(entity, center, view_radius))
    }

    /// The hold-back rule for one viewer at one tick (see [`Holder::hold`]).
    pub fn holder(&self, tick: Tick, center: Vec2, own: NetId, view_radius: f32) -> Holder {
        Holder {
            bands: Bands::new(self, view_radius),
            aim_deadband: self.aim_deadband,
            tick,
            center: (quantize_pos(center.x), quantize_pos(center.y)),
            own,
            active: !self.tiers.is_empty() || self.aim_deadband > 0,
        }
    }
}

/// The update policy applied for one viewer at one tick.
#[derive(Debug, Clone, Copy)]
pub struct Holder {
    bands: Bands,
    aim_deadband: u8,
    tick: Tick,
    center: (i32, i32),
    own: NetId,
    active: bool,
}

/// Most tiers a policy may have.
pub const MAX_TIERS: usize = 8;

/// Tier starts as squared distances in (1/8 unit)², farthest first, so that deciding an
/// entity's interval is a few integer comparisons.
#[derive(Debug, Clone, Copy)]
struct Bands {
    starts: [(i64, u32); MAX_TIERS],
    len: usize,
}

impl Bands {
    fn new(policy: &UpdatePolicy, view_radius: f32) -> Bands {
        let mut b = Bands {
            starts: [(0, 1); MAX_TIERS],
            len: 0,
        };
        for t in policy.tiers.iter().rev().take(MAX_TIERS) {
            let r = f64::from(t.beyond * view_radius) * 8.0;
            b.starts[b.len] = ((r * r).ceil() as i64, t.every.max(1));
            b.len += 1;
        }
        b
    }

    fn interval(&self, d2: i64) -> u32 {
        self.starts[..self.len]
            .iter()
            .find(|(start, _)| d2 >= *start)
            .map_or(1, |b| b.1)
    }
}

fn distance2(a: (i32, i32), b: (i32, i32)) -> i64 {
    let (dx, dy) = (
        i64::from(a.0) - i64::from(b.0),
        i64::from(a.1) - i64::from(b.1),
    );
    dx * dx + dy * dy
}

impl Holder {
    /// Given what the client holds of player entity `id` (`old`) and its state now (`new`),
    /// rewrites `new` to what should be sent this tick: `old` entirely when the entity is not
    /// due, `old`'s aim when the aim change is within the deadband.
    pub fn hold(&self, id: NetId, old: &PlayerState, new: &mut PlayerState) {
        if !self.active
            || id == self.own
            || old.health != new.health
            || old.status != new.status
            || old == new
        {
            return;
        }
        let every = self.bands.interval(distance2((new.x, new.y), self.center));
        if !due(self.tick, id, every) {
            *new = *old;
        } else if aim_steps(old.aim, new.aim) <= self.aim_deadband {
            new.aim = old.aim;
        }
    }
}

fn due(tick: Tick, id: NetId, every: u32) -> bool {
    every <= 1 || tick.0.wrapping_add(id.0).is_multiple_of(every)
}

/// Circular distance between two 8-bit angles, in steps.
pub fn aim_steps(a: u8, b: u8) -> u8 {
    let d = a.wrapping_sub(b);
    d.min(d.wrapping_neg())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tiers_and_rejects_nonsense() {
        let t = UpdatePolicy::parse_tiers("0.35:2, 0.7:4").unwrap();
        assert_eq!(
            t,
            vec![
                UpdateTier {
                    beyond: 0.35,
                    every: 2
                },
                UpdateTier {
                    beyond: 0.7,
                    every: 4
                }
            ]
        );
        assert!(UpdatePolicy::parse_tiers("off").unwrap().is_empty());
        for bad in ["0.7:4,0.35:2", "0.5:0", "2:2", "0.3:3,0.6:4", "x", "0.5"] {
            assert!(UpdatePolicy::parse_tiers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn far_entities_are_due_on_staggered_ticks() {
        let p = UpdatePolicy::recommended();
        let at = |x: f32| ((x * 8.0) as i32, 0);
        assert_eq!(p.interval(at(100.0), (0, 0), 1000.0), 1);
        assert_eq!(p.interval(at(350.0), (0, 0), 1000.0), 2);
        assert_eq!(p.interval(at(999.0), (0, 0), 1000.0), 4);
        assert_eq!(p.max_interval(), 4);
        // Entity 1, far: due on ticks 3, 7, 11; entity 2 on 2, 6, 10.
        let due = |id, t| p.is_due(Tick(t), NetId(id), at(900.0), (0, 0), 1000.0);
        assert_eq!(
            (0..12).filter(|&t| due(1, t)).collect::<Vec<_>>(),
            [3, 7, 11]
        );
        assert_eq!(
            (0..12).filter(|&t| due(2, t)).collect::<Vec<_>>(),
            [2, 6, 10]
        );
        assert!((0..12).all(|t| p.is_due(Tick(t), NetId(1), at(10.0), (0, 0), 1000.0)));
    }

    fn state(x: f32, aim: u8, health: u8) -> PlayerState {
        PlayerState {
            x: (x * 8.0) as i32,
            y: 0,
            aim,
            health,
            status: 1,
        }
    }

    #[test]
    fn holds_back_far_movement_and_small_aim_but_never_health_or_own() {
        let p = UpdatePolicy::recommended();
        // Tick 1, viewer at the origin whose own body is entity 1.
        let h = p.holder(Tick(1), Vec2::ZERO, NetId(1), 1000.0);
        let hold = |id: u32, old: PlayerState, mut new: PlayerState| {
            h.hold(NetId(id), &old, &mut new);
            new
        };
        // Own body: always sent.
        assert_eq!(
            hold(1, state(900.0, 0, 100), state(904.0, 1, 100)),
            state(904.0, 1, 100)
        );
        // Far entity 2 is not due at tick 1 ((1 + 2) % 4 != 0): held back entirely.
        assert_eq!(
            hold(2, state(900.0, 0, 100), state(904.0, 9, 100)),
            state(900.0, 0, 100)
        );
        // A hit is never held back.
        assert_eq!(
            hold(2, state(900.0, 0, 100), state(904.0, 0, 75)),
            state(904.0, 0, 75)
        );
        // Near entity: position sent, a one-step aim change held.
        assert_eq!(
            hold(4, state(100.0, 10, 100), state(104.0, 11, 100)),
            state(104.0, 10, 100)
        );
        assert_eq!(
            hold(4, state(100.0, 10, 100), state(104.0, 12, 100)),
            state(104.0, 12, 100)
        );
        // Entity 3 is due at tick 1 ((1 + 3) % 4 == 0).
        assert_eq!(
            hold(3, state(900.0, 0, 100), state(904.0, 0, 100)),
            state(904.0, 0, 100)
        );
        // Off: nothing is held.
        let off = UpdatePolicy::off();
        let h = off.holder(Tick(1), Vec2::ZERO, NetId(1), 1000.0);
        let mut new = state(904.0, 1, 100);
        h.hold(NetId(2), &state(900.0, 0, 100), &mut new);
        assert_eq!(new, state(904.0, 1, 100));
        assert_eq!(aim_steps(255, 1), 2);
        assert_eq!(aim_steps(3, 250), 9);
    }
}
