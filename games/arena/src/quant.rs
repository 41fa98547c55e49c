//! Quantization: how continuous values become the integers on the wire.
//!
//! - Positions: 1/8 of a world unit ([`POS_SCALE`]), as `i32`. A player is 16 units in radius,
//!   so the error (at most 1/16 unit) is invisible. The server stores player positions already
//!   snapped to this grid, so a client's replica holds exactly the server's state.
//! - Aim angles in snapshots: 256 steps per turn (`u8`, 1.41°), enough to draw a facing.
//! - Angles that decide where a shot goes (inputs, projectile headings): 65,536 steps per turn
//!   (`u16`, 0.0055°).
//!
//! Angles are radians in `[0, TAU)`, measured from +x towards +y (y points down on screen).

use glam::Vec2;
use std::f32::consts::TAU;

/// Quantization steps per world unit for positions.
pub const POS_SCALE: f32 = 8.0;

/// World coordinate to wire integer.
pub fn quantize_pos(v: f32) -> i32 {
    (v * POS_SCALE).round() as i32
}

/// Wire integer to world coordinate.
pub fn dequantize_pos(q: i32) -> f32 {
    q as f32 / POS_SCALE
}

/// Snaps a position to the wire grid (what a client will see).
pub fn snap_vec(v: Vec2) -> Vec2 {
    Vec2::new(
        dequantize_pos(quantize_pos(v.x)),
        dequantize_pos(quantize_pos(v.y)),
    )
}

/// Angle in radians to a `u8` (256 steps per turn).
pub fn quantize_angle8(a: f32) -> u8 {
    ((a.rem_euclid(TAU) / TAU * 256.0).round() as u32 % 256) as u8
}

/// `u8` angle back to radians.
pub fn dequantize_angle8(q: u8) -> f32 {
    q as f32 / 256.0 * TAU
}

/// Angle in radians to a `u16` (65,536 steps per turn).
pub fn quantize_angle16(a: f32) -> u16 {
    ((a.rem_euclid(TAU) / TAU * 65536.0).round() as u32 % 65536) as u16
}

/// `u16` angle back to radians.
pub fn dequantize_angle16(q: u16) -> f32 {
    q as f32 / 65536.0 * TAU
}

/// Unit vector for a `u16` angle. Server and clients derive projectile headings from this so
/// they agree on the path.
pub fn heading16(q: u16) -> Vec2 {
    let a = dequantize_angle16(q);
    Vec2::new(a.cos(), a.sin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_within_half_a_step() {
        for v in [-1000.3f32, -0.06, 0.0, 0.0624, 17.5, 1234.567, 4000.0] {
            let back = dequantize_pos(quantize_pos(v));
            assert!((back - v).abs() <= 0.5 / POS_SCALE + 1e-4, "{v} -> {back}");
        }
    }

    #[test]
    fn angles_wrap_and_round_trip() {
        assert_eq!(quantize_angle8(0.0), 0);
        assert_eq!(quantize_angle8(TAU), 0);
        assert_eq!(quantize_angle8(-TAU / 4.0), 192);
        assert_eq!(quantize_angle16(TAU / 2.0), 32768);
        let a = 1.234f32;
        assert!((dequantize_angle16(quantize_angle16(a)) - a).abs() < TAU / 65536.0);
        assert!((dequantize_angle8(quantize_angle8(a)) - a).abs() < TAU / 256.0);
    }
}
