//! The arena's own units: the command the simulation runs (the input lanes, read), the
//! quantized state of a body and a projectile (what `replicate` writes as lanes), and where a
//! projectile is at a tick. Positions are in 1/8 world units, angles in 256 or 65,536 steps per
//! turn (see [`crate::quant`]).

use crate::quant::{dequantize_pos, heading16};
use crate::rules::Rules;
use glam::Vec2;
use tickwire_shared::{InputSeq, PlayerId, Tick};

/// Bits of the input's `buttons` lane.
pub mod buttons {
    /// Primary fire (projectile).
    pub const FIRE: u8 = 1;
    /// Secondary fire (hitscan rail).
    pub const ALT_FIRE: u8 = 2;
}

/// What a player wants to do during one tick, as the simulation reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Command {
    /// The engine's command number.
    pub seq: InputSeq,
    /// Movement intent on x, -127..=127 (the vector is clamped to length 1 after scaling by
    /// 1/127; -128 reads as -127).
    pub move_x: i8,
    /// Movement intent on y (down is positive), -127..=127.
    pub move_y: i8,
    /// Aim angle, 65,536 steps per turn.
    pub aim: u16,
    /// Bit set of [`buttons`].
    pub buttons: u8,
    /// The server tick the client was displaying when it made this command (for lag
    /// compensation); 0 when unknown.
    pub view_tick: Tick,
}

/// Quantized state of a player's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlayerState {
    /// x in 1/8 units.
    pub x: i32,
    /// y in 1/8 units.
    pub y: i32,
    /// Facing, 256 steps per turn.
    pub aim: u8,
    /// Health, 0..=rules.max_health.
    pub health: u8,
}

/// Immutable state of a projectile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectileState {
    /// Who fired it.
    pub owner: PlayerId,
    /// Start x in 1/8 units.
    pub origin_x: i32,
    /// Start y in 1/8 units.
    pub origin_y: i32,
    /// Heading, 65,536 steps per turn.
    pub heading: u16,
    /// The tick at which it was at its origin.
    pub spawn_tick: Tick,
}

/// Position of a projectile at `tick`, from its immutable state.
pub fn projectile_position(p: &ProjectileState, rules: &Rules, tick: f32) -> Vec2 {
    let origin = Vec2::new(dequantize_pos(p.origin_x), dequantize_pos(p.origin_y));
    let elapsed = (tick - p.spawn_tick.0 as f32).max(0.0) * rules.dt();
    origin + heading16(p.heading) * rules.projectile_speed * elapsed
}
