//! The survival game's constants and the pieces of its rules that clients run too: hero
//! movement (the prediction step is exactly this code), the shot's geometry, and the
//! quantization of positions and angles. Any change here changes what clients predict.

use glam::Vec2;
use serde::{Deserialize, Serialize};
use std::f32::consts::TAU;

/// Quantization steps per world unit of a moving position (`Fixed(8)` lanes).
pub const POS_SCALE: f32 = 8.0;

/// World coordinate to its `Fixed(8)` lane.
pub fn quantize_pos(v: f32) -> i64 {
    i64::from((v * POS_SCALE).round() as i32)
}

/// A `Fixed(8)` lane back to a world coordinate.
pub fn dequantize_pos(q: i64) -> f32 {
    q as f32 / POS_SCALE
}

/// Snaps a position to the lane grid, so the server holds exactly what clients hold.
pub fn snap(v: Vec2) -> Vec2 {
    Vec2::new(
        dequantize_pos(quantize_pos(v.x)),
        dequantize_pos(quantize_pos(v.y)),
    )
}

/// Radians to an `Angle16` lane.
pub fn quantize_angle16(a: f32) -> i64 {
    i64::from((a.rem_euclid(TAU) / TAU * 65536.0).round() as u32 % 65536)
}

/// Radians to an `Angle8` lane.
pub fn quantize_angle8(a: f32) -> i64 {
    i64::from((a.rem_euclid(TAU) / TAU * 256.0).round() as u32 % 256)
}

/// An `Angle16` lane back to radians.
pub fn dequantize_angle16(q: i64) -> f32 {
    (q as f32) / 65536.0 * TAU
}

/// The game's constants. The server sends them in `Welcome.game_config`, so a client never
/// hard-codes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// Simulation ticks per second; one input command moves a hero for `1 / tick_rate` s.
    pub tick_rate: u16,
    /// Width of the map, world units (x from 0).
    pub width: f32,
    /// Height of the map, world units (y from 0, down).
    pub height: f32,
    /// Hero body radius.
    pub hero_radius: f32,
    /// Hero top speed, units per second.
    pub hero_speed: f32,
    /// Hit points of a fresh hero.
    pub hero_hp: u8,
    /// Ticks between a hero's fall and its respawn at the centre.
    pub respawn_ticks: u32,
    /// Rounds a full clip holds.
    pub clip_size: u8,
    /// Most rounds carried besides the clip.
    pub max_reserve: u16,
    /// Reserve rounds of a fresh hero.
    pub start_reserve: u16,
    /// Ticks a reload takes (no shot meanwhile).
    pub reload_ticks: u32,
    /// Reach of a shot, world units.
    pub shot_range: f32,
    /// Ticks between two shots.
    pub shot_cooldown_ticks: u32,
    /// Zombie body radius.
    pub zombie_radius: f32,
    /// Zombie speed, units per second.
    pub zombie_speed: f32,
    /// Shots a zombie takes.
    pub zombie_hp: u8,
    /// Hit points a bite takes.
    pub bite_damage: u8,
    /// Ticks between two bites of one zombie.
    pub bite_cooldown_ticks: u32,
    /// Radius within which a hero collects a pickup.
    pub pickup_radius: f32,
    /// Reserve rounds in an ammo crate.
    pub crate_rounds: u16,
    /// Team score of a coin.
    pub coin_score: u32,
    /// Team score of a kill.
    pub kill_score: u32,
    /// Ticks from the first hero's arrival to the first wave.
    pub first_wave_ticks: u32,
    /// Ticks from one wave to the next.
    pub wave_interval_ticks: u32,
    /// Once a wave is cleared, the next comes at most this many ticks later.
    pub break_ticks: u32,
    /// Zombies in wave 1.
    pub wave_base: u16,
    /// Zombies added per wave.
    pub wave_growth: u16,
    /// Most zombies alive at once.
    pub max_zombies: u16,
}

impl Rules {
    /// The default rules on a map of `width × height` at a tick rate (durations in seconds).
    pub fn new(width: f32, height: f32, tick_rate: u16) -> Rules {
        let ticks = |s: f32| ((s * f32::from(tick_rate)).round() as u32).max(1);
        Rules {
            tick_rate,
            width,
            height,
            hero_radius: 14.0,
            hero_speed: 210.0,
            hero_hp: 100,
            respawn_ticks: ticks(4.0),
            clip_size: 12,
            max_reserve: 90,
            start_reserve: 36,
            reload_ticks: ticks(1.2),
            shot_range: 320.0,
            shot_cooldown_ticks: ticks(0.2),
            zombie_radius: 13.0,
            zombie_speed: 80.0,
            zombie_hp: 2,
            bite_damage: 10,
            bite_cooldown_ticks: ticks(0.8),
            pickup_radius: 22.0,
            crate_rounds: 24,
            coin_score: 5,
            kill_score: 10,
            first_wave_ticks: ticks(3.0),
            wave_interval_ticks: ticks(40.0),
            break_ticks: ticks(8.0),
            wave_base: 8,
            wave_growth: 6,
            max_zombies: 250,
        }
    }

    /// Seconds per tick.
    pub fn dt(&self) -> f32 {
        1.0 / f32::from(self.tick_rate)
    }

    /// Zombies in wave `n` (from 1).
    pub fn wave_size(&self, n: u16) -> u16 {
        self.wave_base
            .saturating_add(self.wave_growth.saturating_mul(n.saturating_sub(1)))
    }

    /// Where heroes (re)spawn: the map's centre.
    pub fn centre(&self) -> Vec2 {
        Vec2::new(self.width, self.height) * 0.5
    }
}

/// One input command's movement for a hero at `pos`: `move_x`/`move_y` in -127..=127 (the
/// diagonal is not faster), kept inside the map, snapped to the lane grid. Server and client
/// both run this, so the owner's prediction is exact.
pub fn step_hero(pos: Vec2, move_x: i64, move_y: i64, rules: &Rules) -> Vec2 {
    let mut dir = Vec2::new(move_x as f32, move_y as f32) / 127.0;
    if dir.length_squared() > 1.0 {
        dir = dir.normalize();
    }
    let r = rules.hero_radius;
    let next = pos + dir * rules.hero_speed * rules.dt();
    snap(Vec2::new(
        next.x.clamp(r, rules.width - r),
        next.y.clamp(r, rules.height - r),
    ))
}

/// How far along a ray from `from` in direction `dir` (unit) it first enters a circle, if it
/// does within `range`.
pub fn ray_hits_circle(
    from: Vec2,
    dir: Vec2,
    range: f32,
    centre: Vec2,
    radius: f32,
) -> Option<f32> {
    let to = centre - from;
    let along = to.dot(dir);
    let off2 = to.length_squared() - along * along;
    if off2 > radius * radius {
        return None;
    }
    let t = along - (radius * radius - off2).sqrt();
    let t = t.max(0.0);
    (along >= -radius && t <= range).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heroes_move_at_their_speed_stay_inside_and_land_on_the_grid() {
        let rules = Rules::new(1000.0, 800.0, 30);
        let p = step_hero(Vec2::new(500.0, 400.0), 127, 0, &rules);
        assert_eq!(p, Vec2::new(507.0, 400.0), "210 u/s at 30 Hz");
        let d = step_hero(Vec2::new(500.0, 400.0), 127, 127, &rules);
        assert!(
            (d.distance(Vec2::new(500.0, 400.0)) - 7.0).abs() < 0.1,
            "{d}"
        );
        assert_eq!(d, snap(d));
        let edge = step_hero(Vec2::new(16.0, 790.0), -127, 127, &rules);
        assert_eq!(edge, Vec2::new(14.0, 786.0));
    }

    #[test]
    fn rays_hit_circles_in_front_within_range_only() {
        let from = Vec2::ZERO;
        let hit = ray_hits_circle(from, Vec2::X, 100.0, Vec2::new(50.0, 5.0), 10.0);
        assert!((hit.unwrap() - 41.34).abs() < 0.01, "{hit:?}");
        assert_eq!(
            ray_hits_circle(from, Vec2::X, 100.0, Vec2::new(50.0, 11.0), 10.0),
            None
        );
        assert_eq!(
            ray_hits_circle(from, Vec2::X, 30.0, Vec2::new(50.0, 0.0), 10.0),
            None
        );
        assert_eq!(
            ray_hits_circle(from, Vec2::X, 100.0, Vec2::new(-50.0, 0.0), 10.0),
            None
        );
        assert_eq!(
            ray_hits_circle(from, Vec2::X, 100.0, Vec2::new(3.0, 0.0), 10.0),
            Some(0.0)
        );
        assert_eq!(Rules::new(10.0, 10.0, 30).wave_size(3), 20);
    }
}
