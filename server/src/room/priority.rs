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
use tickwire_shared::quant::quantize_pos;
use tickwire_shared::replica::EntityState;
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
    /// Full rate within 35 % of the view radius, every 2nd tick to 70 %, every 4th beyond; aim
    /// changes of one step wait.
    fn default() -> Self {
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
}

/// Why a tier list could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad update tiers {0:?}: expected \"off\" or FRACTION:TICKS[,FRACTION:TICKS...], e.g. \"0.35:2,0.7:4\", with increasing fractions in 0..=1 and intervals that divide the largest"
)]
pub struct TierParseError(String);

impl UpdatePolicy {
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
            if !(0.0..=1.0).contains(&beyond) || every == 0 || every > 64 {
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

    /// Update interval for an entity `dist` from the viewer.
    pub fn interval(&self, dist: f32, view_radius: f32) -> u32 {
        self.tiers
            .iter()
            .rev()
            .find(|t| dist >= t.beyond * view_radius)
            .map_or(1, |t| t.every.max(1))
    }

    /// Whether entity `id`, `dist` from the viewer, is due for an update at `tick`.
    pub fn is_due(&self, tick: Tick, id: NetId, dist: f32, view_radius: f32) -> bool {
        due(tick, id, self.interval(dist, view_radius))
    }

    /// Rewrites `view` (what the client should see now) so that updates not due this tick are
    /// held back: such entities keep their `baseline` state. Both lists are sorted by id.
    pub fn hold_back(
        &self,
        tick: Tick,
        center: Vec2,
        own: NetId,
        view_radius: f32,
        baseline: &[(NetId, EntityState)],
        view: &mut [(NetId, EntityState)],
    ) {
        if self.tiers.is_empty() && self.aim_deadband == 0 {
            return;
        }
        // Squared band starts in 1/8 units, so the loop needs no square root or float
        // conversion per entity.
        let bands: Vec<(i64, u32)> = self
            .tiers
            .iter()
            .rev()
            .map(|t| {
                let r = f64::from(t.beyond * view_radius) * 8.0;
                ((r * r).ceil() as i64, t.every.max(1))
            })
            .collect();
        let (cx, cy) = (
            i64::from(quantize_pos(center.x)),
            i64::from(quantize_pos(center.y)),
        );
        let mut i = 0;
        for (id, new) in view.iter_mut() {
            while i < baseline.len() && baseline[i].0 < *id {
                i += 1;
            }
            let Some((_, old)) = baseline.get(i).filter(|b| b.0 == *id) else {
                continue; // entering view: always sent in full
            };
            if *id == own {
                continue;
            }
            let (EntityState::Player { state: old, .. }, EntityState::Player { state: new, .. }) =
                (old, new)
            else {
                continue;
            };
            if old.health != new.health || old.status != new.status {
                continue;
            }
            let (dx, dy) = (i64::from(new.x) - cx, i64::from(new.y) - cy);
            let d2 = dx * dx + dy * dy;
            let every = bands.iter().find(|b| d2 >= b.0).map_or(1, |b| b.1);
            if !due(tick, *id, every) {
                *new = *old;
            } else if aim_steps(old.aim, new.aim) <= self.aim_deadband {
                new.aim = old.aim;
            }
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
    use tickwire_shared::PlayerId;
    use tickwire_shared::protocol::PlayerState;

    fn player(id: u32, x: f32, aim: u8, health: u8) -> (NetId, EntityState) {
        (
            NetId(id),
            EntityState::Player {
                player: PlayerId(id),
                state: PlayerState {
                    x: (x * 8.0) as i32,
                    y: 0,
                    aim,
                    health,
                    status: 1,
                },
            },
        )
    }

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
        let p = UpdatePolicy::default();
        assert_eq!(p.interval(100.0, 1000.0), 1);
        assert_eq!(p.interval(350.0, 1000.0), 2);
        assert_eq!(p.interval(999.0, 1000.0), 4);
        assert_eq!(p.max_interval(), 4);
        // Entity 1, far: due on ticks 3, 7, 11; entity 2 on 2, 6, 10.
        let due = |id, t| p.is_due(Tick(t), NetId(id), 900.0, 1000.0);
        assert_eq!(
            (0..12).filter(|&t| due(1, t)).collect::<Vec<_>>(),
            [3, 7, 11]
        );
        assert_eq!(
            (0..12).filter(|&t| due(2, t)).collect::<Vec<_>>(),
            [2, 6, 10]
        );
        assert!((0..12).all(|t| p.is_due(Tick(t), NetId(1), 10.0, 1000.0)));
    }

    #[test]
    fn holds_back_far_movement_and_small_aim_but_never_health_own_or_new() {
        let p = UpdatePolicy::default();
        let base = vec![
            player(1, 100.0, 0, 100),  // own body, far from the centre used below
            player(2, 900.0, 0, 100),  // far, moves
            player(3, 900.0, 0, 100),  // far, gets hurt
            player(4, 100.0, 10, 100), // near, turns by one step
        ];
        let mut view = vec![
            player(1, 104.0, 0, 100),
            player(2, 904.0, 0, 100),
            player(3, 904.0, 0, 75),
            player(4, 104.0, 11, 100),
            player(5, 950.0, 0, 100), // entering view
        ];
        let want_unchanged = [view[0], view[2], view[4]];
        // Tick 1: entity 2 is not due ((1 + 2) % 4 != 0).
        p.hold_back(Tick(1), Vec2::ZERO, NetId(1), 1000.0, &base, &mut view);
        assert_eq!(view[1], base[1], "far move held back");
        assert_eq!([view[0], view[2], view[4]], want_unchanged);
        assert_eq!(
            view[3],
            player(4, 104.0, 10, 100),
            "position sent, one-step aim change held"
        );
        // Tick 2: entity 2 is due.
        let mut view2 = vec![player(2, 904.0, 0, 100)];
        p.hold_back(
            Tick(2),
            Vec2::ZERO,
            NetId(1),
            1000.0,
            &base[1..2],
            &mut view2,
        );
        assert_eq!(view2[0], player(2, 904.0, 0, 100));
        // Off: nothing changes.
        let mut view3 = vec![player(2, 904.0, 1, 100)];
        UpdatePolicy::off().hold_back(
            Tick(1),
            Vec2::ZERO,
            NetId(1),
            1000.0,
            &base[1..2],
            &mut view3,
        );
        assert_eq!(view3[0], player(2, 904.0, 1, 100));
        assert_eq!(aim_steps(255, 1), 2);
        assert_eq!(aim_steps(3, 250), 9);
    }
}
