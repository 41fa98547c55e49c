//! tickwire in Bevy: a game-independent plugin, and the arena client on top of it.
//!
//! - [`sync::SyncPlugin`] knows no game. A background thread with a tokio runtime owns the
//!   WebSocket and reconnects with backoff; the plugin feeds the shared crate's client netcode
//!   (`tickwire_shared::sync::netcode`: replica, clock sync, prediction through the game's own
//!   step, interpolation of the fields the schema declares interpolated) and mirrors every
//!   replicated entity into a Bevy entity ([`sync::Replicated`], [`sync::Held`],
//!   [`sync::Drawn`], [`sync::Owned`]), with events as messages and one input command per
//!   server tick from [`sync::InputLanes`]. It runs headless, which is how the tests drive it,
//!   including against a game that is not the arena (`tests/any_game.rs`).
//!
//! The arena client is the rest, each plugin in its own module:
//!
//! - [`net::NetPlugin`]: `SyncPlugin` with the arena's hooks (`tickwire_arena::client`), the
//!   player's intent as input lanes, arena events, the scoreboard, and a render-ready
//!   [`net::ViewState`] built each frame from the mirrored entities.
//! - [`controls::ControlsPlugin`]: keyboard and mouse into [`net::PlayerIntent`].
//! - [`render::RenderPlugin`]: arena, obstacles, players, names, health bars, projectiles and
//!   tracers, with the camera on the local player.
//! - [`hud::HudPlugin`]: connection state, ping/tick/FPS/traffic line, scoreboard, kill feed,
//!   and chat.
//! - [`overlay::OverlayPlugin`]: the F3 netcode overlay (server ghost, interpolation delay,
//!   correction magnitudes).
//! - [`capture::CapturePlugin`]: `--screenshot`/`--exit-after`, for scripted runs.
#![warn(missing_docs)]

pub mod capture;
pub mod controls;
pub mod hud;
pub mod net;
pub mod overlay;
pub mod render;
pub mod sync;

/// World (y down, as on the wire) to Bevy (y up) coordinates.
pub fn world_to_bevy(p: bevy::math::Vec2) -> bevy::math::Vec2 {
    bevy::math::Vec2::new(p.x, -p.y)
}

/// Bevy (y up) to world (y down) coordinates.
pub fn bevy_to_world(p: bevy::math::Vec2) -> bevy::math::Vec2 {
    bevy::math::Vec2::new(p.x, -p.y)
}

/// The shared crate's vector (its own `glam` version) as Bevy's.
pub fn from_shared(v: glam::Vec2) -> bevy::math::Vec2 {
    bevy::math::Vec2::new(v.x, v.y)
}

/// Bevy's vector as the shared crate's.
pub fn to_shared(v: bevy::math::Vec2) -> glam::Vec2 {
    glam::Vec2::new(v.x, v.y)
}
