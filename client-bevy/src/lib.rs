//! The tickwire demo client, in Bevy.
//!
//! The game logic is not here: the wire types, the `Replica`, prediction, interpolation and
//! clock sync all come from `tickwire-shared`, the socket from `tickwire-client`. This crate
//! wires them into Bevy as plugins, each in its own module:
//!
//! - [`net::NetPlugin`]: a background thread with a tokio runtime owns the WebSocket and
//!   reconnects with backoff; systems drain its channel, feed the session (replica + netcode),
//!   send one input command per server tick from `FixedUpdate`, and publish a render-ready
//!   [`net::ViewState`] each frame. It runs headless, which is how the tests drive it.
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
