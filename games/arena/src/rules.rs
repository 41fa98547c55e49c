//! The arena and the movement rules, shared by the server (authoritative) and clients
//! (prediction). Any change here changes what clients predict: bump the protocol version.

use crate::quant::snap_vec;
use crate::state::Command as InputCmd;
use glam::Vec2;
use serde::{Deserialize, Serialize};

/// Game constants. The server sends them in `Welcome`, so clients never hard-code them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// Simulation ticks per second; one input command moves a player for `1 / tick_rate` s.
    pub tick_rate: u16,
    /// Player body radius, world units.
    pub player_radius: f32,
    /// Top player speed, units per second.
    pub player_speed: f32,
    /// Health of a fresh player.
    pub max_health: u8,
    /// Ticks between death and respawn.
    pub respawn_ticks: u16,
    /// Projectile speed, units per second.
    pub projectile_speed: f32,
    /// Projectile radius, world units.
    pub projectile_radius: f32,
    /// Ticks a projectile flies before it vanishes.
    pub projectile_lifetime_ticks: u16,
    /// Damage of a projectile hit.
    pub projectile_damage: u8,
    /// Ticks between two projectile shots.
    pub fire_cooldown_ticks: u16,
    /// Damage of a hitscan hit.
    pub hitscan_damage: u8,
    /// Reach of the hitscan weapon, world units.
    pub hitscan_range: f32,
    /// Ticks between two hitscan shots.
    pub hitscan_cooldown_ticks: u16,
}

impl Rules {
    /// The default rules at a given tick rate (durations are kept in seconds).
    pub fn at_tick_rate(tick_rate: u16) -> Rules {
        let ticks = |seconds: f32| ((seconds * tick_rate as f32).round() as u16).max(1);
        Rules {
            tick_rate,
            player_radius: 16.0,
            player_speed: 220.0,
            max_health: 100,
            respawn_ticks: ticks(2.0),
            projectile_speed: 700.0,
            projectile_radius: 4.0,
            projectile_lifetime_ticks: ticks(1.2),
            projectile_damage: 25,
            fire_cooldown_ticks: ticks(0.25),
            hitscan_damage: 34,
            hitscan_range: 900.0,
            hitscan_cooldown_ticks: ticks(0.8),
        }
    }

    /// Seconds per tick.
    pub fn dt(&self) -> f32 {
        1.0 / self.tick_rate as f32
    }
}

/// An axis-aligned rectangle, world units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub min_x: f32,
    /// Top edge.
    pub min_y: f32,
    /// Right edge.
    pub max_x: f32,
    /// Bottom edge.
    pub max_y: f32,
}

impl Rect {
    /// A rectangle from its corner and size.
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Rect {
        Rect {
            min_x: x,
            min_y: y,
            max_x: x + w,
            max_y: y + h,
        }
    }

    fn min(&self) -> Vec2 {
        Vec2::new(self.min_x, self.min_y)
    }

    fn max(&self) -> Vec2 {
        Vec2::new(self.max_x, self.max_y)
    }

    /// Whether a circle overlaps this rectangle.
    pub fn overlaps_circle(&self, c: Vec2, r: f32) -> bool {
        c.distance_squared(c.clamp(self.min(), self.max())) < r * r
    }

    /// Moves a circle out of this rectangle along the shortest way.
    fn push_out(&self, c: Vec2, r: f32) -> Vec2 {
        let closest = c.clamp(self.min(), self.max());
        let d = c - closest;
        let len2 = d.length_squared();
        if len2 >= r * r {
            return c;
        }
        if len2 > 1e-12 {
            return closest + d / len2.sqrt() * r;
        }
        // Centre inside the rectangle: leave through the nearest side.
        let exits = [
            (c.x - self.min_x, Vec2::new(self.min_x - r, c.y)),
            (self.max_x - c.x, Vec2::new(self.max_x + r, c.y)),
            (c.y - self.min_y, Vec2::new(c.x, self.min_y - r)),
            (self.max_y - c.y, Vec2::new(c.x, self.max_y + r)),
        ];
        exits
            .into_iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|e| e.1)
            .unwrap_or(c)
    }

    /// Where along `a → b` (0..=1) the segment enters this rectangle, if it does.
    pub fn segment_entry(&self, a: Vec2, b: Vec2) -> Option<f32> {
        let d = b - a;
        let (mut t0, mut t1) = (0.0f32, 1.0f32);
        for (p, dp, lo, hi) in [
            (a.x, d.x, self.min_x, self.max_x),
            (a.y, d.y, self.min_y, self.max_y),
        ] {
            if dp.abs() < 1e-9 {
                if p < lo || p > hi {
                    return None;
                }
            } else {
                let (mut ta, mut tb) = ((lo - p) / dp, (hi - p) / dp);
                if ta > tb {
                    std::mem::swap(&mut ta, &mut tb);
                }
                t0 = t0.max(ta);
                t1 = t1.min(tb);
                if t0 > t1 {
                    return None;
                }
            }
        }
        Some(t0)
    }
}

/// The playing field: a bounded rectangle from (0, 0) to (width, height) with static obstacles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arena {
    /// Width, world units.
    pub width: f32,
    /// Height, world units.
    pub height: f32,
    /// Solid rectangles that block players and projectiles.
    pub obstacles: Vec<Rect>,
}

impl Default for Arena {
    /// The demo arena: 2400 × 1600 with eight blocks laid out symmetrically.
    fn default() -> Arena {
        Arena {
            width: 2400.0,
            height: 1600.0,
            obstacles: vec![
                Rect::new(500.0, 300.0, 240.0, 60.0),
                Rect::new(1660.0, 300.0, 240.0, 60.0),
                Rect::new(500.0, 1240.0, 240.0, 60.0),
                Rect::new(1660.0, 1240.0, 240.0, 60.0),
                Rect::new(1140.0, 640.0, 120.0, 320.0),
                Rect::new(300.0, 700.0, 60.0, 200.0),
                Rect::new(2040.0, 700.0, 60.0, 200.0),
                Rect::new(900.0, 760.0, 80.0, 80.0),
            ],
        }
    }
}

impl Arena {
    /// This arena stretched by `factor` in both directions (obstacles too), e.g. to keep the
    /// demo's player density with more players.
    pub fn scaled(&self, factor: f32) -> Arena {
        Arena {
            width: self.width * factor,
            height: self.height * factor,
            obstacles: self
                .obstacles
                .iter()
                .map(|o| Rect {
                    min_x: o.min_x * factor,
                    min_y: o.min_y * factor,
                    max_x: o.max_x * factor,
                    max_y: o.max_y * factor,
                })
                .collect(),
        }
    }

    /// Moves a circle out of every obstacle and inside the bounds.
    pub fn resolve_circle(&self, mut c: Vec2, r: f32) -> Vec2 {
        // Two passes settle a circle wedged between an obstacle and a wall or another obstacle.
        for _ in 0..2 {
            for o in &self.obstacles {
                c = o.push_out(c, r);
            }
            c = c.clamp(Vec2::splat(r), Vec2::new(self.width - r, self.height - r));
        }
        c
    }

    /// Whether a circle of radius `r` at `c` is inside the bounds and clear of obstacles.
    pub fn is_clear(&self, c: Vec2, r: f32) -> bool {
        c.x >= r
            && c.y >= r
            && c.x <= self.width - r
            && c.y <= self.height - r
            && !self.obstacles.iter().any(|o| o.overlaps_circle(c, r))
    }

    /// Where along `a → b` (0..=1) the segment first meets an obstacle or leaves the bounds.
    pub fn segment_blocked_at(&self, a: Vec2, b: Vec2) -> Option<f32> {
        let mut best: Option<f32> = None;
        for o in &self.obstacles {
            if let Some(t) = o.segment_entry(a, b) {
                best = Some(best.map_or(t, |x: f32| x.min(t)));
            }
        }
        if !(0.0..=self.width).contains(&b.x) || !(0.0..=self.height).contains(&b.y) {
            let bounds = Rect::new(0.0, 0.0, self.width, self.height);
            // Leaving the bounds: find where the segment exits by entering from the far end.
            let exit = bounds.segment_entry(b, a).map(|t| 1.0 - t).unwrap_or(0.0);
            best = Some(best.map_or(exit, |x| x.min(exit)));
        }
        best
    }
}

/// The movement intent of a command as a vector of length at most 1.
pub fn move_vector(move_x: i8, move_y: i8) -> Vec2 {
    let v = Vec2::new(move_x.max(-127) as f32, move_y.max(-127) as f32) / 127.0;
    if v.length_squared() > 1.0 {
        v.normalize()
    } else {
        v
    }
}

/// Moves a player by one input command: speed × dt along the intent, out of obstacles, inside
/// the bounds, snapped to the wire grid. The server and predicting clients both run exactly this,
/// so a prediction with no other players involved matches the server to the bit.
pub fn step_player(pos: Vec2, cmd: &InputCmd, rules: &Rules, arena: &Arena) -> Vec2 {
    let target = pos + move_vector(cmd.move_x, cmd.move_y) * rules.player_speed * rules.dt();
    snap_vec(arena.resolve_circle(target, rules.player_radius))
}

/// Where along `a → b` (0..=1) the segment comes within `r` of `c`, if it does.
pub fn segment_circle_hit(a: Vec2, b: Vec2, c: Vec2, r: f32) -> Option<f32> {
    let d = b - a;
    let f = a - c;
    let aa = d.length_squared();
    let cc = f.length_squared() - r * r;
    if cc <= 0.0 {
        return Some(0.0);
    }
    if aa < 1e-12 {
        return None;
    }
    let bb = 2.0 * f.dot(d);
    let disc = bb * bb - 4.0 * aa * cc;
    if disc < 0.0 {
        return None;
    }
    let t = (-bb - disc.sqrt()) / (2.0 * aa);
    (0.0..=1.0).contains(&t).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_shared::InputSeq;

    fn cmd(x: i8, y: i8) -> InputCmd {
        InputCmd {
            seq: InputSeq(1),
            move_x: x,
            move_y: y,
            ..Default::default()
        }
    }

    #[test]
    fn moves_at_top_speed_and_diagonals_are_not_faster() {
        let rules = Rules::at_tick_rate(30);
        let arena = Arena {
            width: 1000.0,
            height: 1000.0,
            obstacles: vec![],
        };
        let start = Vec2::new(500.0, 500.0);
        let right = step_player(start, &cmd(127, 0), &rules, &arena);
        assert!((right.x - start.x - 220.0 / 30.0).abs() <= 1.0 / 16.0);
        let diag = step_player(start, &cmd(127, 127), &rules, &arena);
        assert!((diag.distance(start) - 220.0 / 30.0).abs() <= 0.1);
        // -128 is treated as -127 so the range is symmetric.
        let left = step_player(start, &cmd(-128, 0), &rules, &arena);
        assert_eq!(left.x - start.x, start.x - right.x);
    }

    #[test]
    fn bounds_and_obstacles_stop_a_player() {
        let rules = Rules::at_tick_rate(30);
        let arena = Arena {
            width: 200.0,
            height: 200.0,
            obstacles: vec![Rect::new(100.0, 0.0, 20.0, 200.0)],
        };
        let mut p = Vec2::new(50.0, 100.0);
        for _ in 0..60 {
            p = step_player(p, &cmd(127, 0), &rules, &arena);
        }
        assert_eq!(
            p.x,
            100.0 - rules.player_radius,
            "stopped at the obstacle's face"
        );
        for _ in 0..60 {
            p = step_player(p, &cmd(-127, -127), &rules, &arena);
        }
        assert_eq!(p, Vec2::splat(rules.player_radius), "stopped in the corner");
    }

    #[test]
    fn scaling_stretches_bounds_and_obstacles() {
        let a = Arena::default().scaled(2.0);
        assert_eq!((a.width, a.height), (4800.0, 3200.0));
        assert_eq!(a.obstacles[0], Rect::new(1000.0, 600.0, 480.0, 120.0));
        assert_eq!(Arena::default().scaled(1.0), Arena::default());
    }

    #[test]
    fn segments_meet_obstacles_and_circles() {
        let arena = Arena {
            width: 100.0,
            height: 100.0,
            obstacles: vec![Rect::new(40.0, 0.0, 10.0, 100.0)],
        };
        let t = arena
            .segment_blocked_at(Vec2::new(0.0, 50.0), Vec2::new(80.0, 50.0))
            .unwrap();
        assert!((t - 0.5).abs() < 1e-5);
        assert!(
            arena
                .segment_blocked_at(Vec2::new(0.0, 50.0), Vec2::new(30.0, 50.0))
                .is_none()
        );
        let out = arena
            .segment_blocked_at(Vec2::new(90.0, 50.0), Vec2::new(110.0, 50.0))
            .unwrap();
        assert!((out - 0.5).abs() < 1e-5, "{out}");
        let hit =
            segment_circle_hit(Vec2::ZERO, Vec2::new(10.0, 0.0), Vec2::new(5.0, 1.0), 2.0).unwrap();
        assert!(hit > 0.3 && hit < 0.5);
        assert!(
            segment_circle_hit(Vec2::ZERO, Vec2::new(10.0, 0.0), Vec2::new(5.0, 3.0), 2.0)
                .is_none()
        );
    }
}
