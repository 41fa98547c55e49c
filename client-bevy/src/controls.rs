//! `ControlsPlugin`: WASD to move, the mouse to aim, left click to shoot, right click for the
//! hitscan weapon. It only writes [`PlayerIntent`]; the network plugin samples it at the
//! server's tick rate. Keys are ignored while the chat line is open. With `autopilot` the
//! player wanders and shoots at the nearest opponent by itself, for scripted runs (screenshots,
//! frame-rate and correction measurements) where nobody holds the keyboard.

use crate::hud::ChatInput;
use crate::net::{Game, NetSystems, PlayerIntent, ViewKind, ViewState};
use crate::{bevy_to_world, render::MainCamera};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use std::f32::consts::TAU;

/// Keyboard and mouse (or the autopilot) into [`PlayerIntent`].
pub struct ControlsPlugin {
    /// Play by itself instead of reading the keyboard and mouse.
    pub autopilot: bool,
}

impl Plugin for ControlsPlugin {
    fn build(&self, app: &mut App) {
        if self.autopilot {
            app.add_systems(Update, autopilot.after(NetSystems::View));
        } else {
            app.add_systems(Update, sample_controls.after(NetSystems::View));
        }
    }
}

/// Seconds between two changes of the autopilot's heading.
const WANDER_SECS: f32 = 1.5;

fn autopilot(
    time: Res<Time>,
    view: Res<ViewState>,
    game: Res<Game>,
    mut intent: ResMut<PlayerIntent>,
) {
    let (Some(local), Some(session)) = (view.local, game.0.as_ref()) else {
        return;
    };
    let arena = &session.config.arena;
    let centre = Vec2::new(arena.width, arena.height) / 2.0;
    let leg = (time.elapsed_secs() / WANDER_SECS) as u32;
    // A fixed pseudo-random heading per leg, pulled towards the middle near the walls.
    let angle = (leg.wrapping_mul(2_654_435_761) >> 8) as f32 / (1u32 << 24) as f32 * TAU;
    let to_centre = (centre - local.predicted) / centre;
    let heading = Vec2::from_angle(angle) + to_centre * to_centre.length();
    intent.movement = heading.normalize_or_zero();
    let nearest = view
        .entities
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                ViewKind::Player {
                    local: false,
                    alive: true,
                    ..
                }
            )
        })
        .map(|e| e.pos)
        .min_by(|a, b| {
            a.distance_squared(local.predicted)
                .total_cmp(&b.distance_squared(local.predicted))
        });
    match nearest {
        Some(target) if target.distance(local.predicted) < 500.0 => {
            let d = target - local.predicted;
            intent.aim = d.y.atan2(d.x);
            intent.fire = true;
        }
        _ => {
            intent.aim = heading.y.atan2(heading.x);
            intent.fire = false;
        }
    }
}

fn sample_controls(
    keys: Res<ButtonInput<KeyCode>>,
    mouse: Res<ButtonInput<MouseButton>>,
    chat: Res<ChatInput>,
    window: Query<&Window, With<PrimaryWindow>>,
    camera: Query<(&Camera, &GlobalTransform), With<MainCamera>>,
    view: Res<ViewState>,
    mut intent: ResMut<PlayerIntent>,
) {
    if chat.open {
        intent.movement = Vec2::ZERO;
        intent.fire = false;
        intent.alt_fire = false;
        return;
    }
    let axis = |neg: KeyCode, neg2: KeyCode, pos: KeyCode, pos2: KeyCode| {
        let n = keys.pressed(neg) || keys.pressed(neg2);
        let p = keys.pressed(pos) || keys.pressed(pos2);
        f32::from(u8::from(p)) - f32::from(u8::from(n))
    };
    intent.movement = Vec2::new(
        axis(
            KeyCode::KeyA,
            KeyCode::ArrowLeft,
            KeyCode::KeyD,
            KeyCode::ArrowRight,
        ),
        // World y points down: S moves down.
        axis(
            KeyCode::KeyW,
            KeyCode::ArrowUp,
            KeyCode::KeyS,
            KeyCode::ArrowDown,
        ),
    );
    intent.fire = mouse.pressed(MouseButton::Left) || keys.pressed(KeyCode::Space);
    intent.alt_fire = mouse.pressed(MouseButton::Right);
    let (Ok(window), Ok((camera, cam_tf)), Some(local)) =
        (window.single(), camera.single(), view.local)
    else {
        return;
    };
    if let Some(cursor) = window
        .cursor_position()
        .and_then(|c| camera.viewport_to_world_2d(cam_tf, c).ok())
    {
        let d = bevy_to_world(cursor) - local.predicted;
        if d.length_squared() > 1.0 {
            intent.aim = d.y.atan2(d.x);
        }
    }
}
