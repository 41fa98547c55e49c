//! `ControlsPlugin`: WASD to move, the mouse to aim, left click to shoot, right click for the
//! hitscan weapon. It only writes [`PlayerIntent`]; the network plugin samples it at the
//! server's tick rate. Keys are ignored while the chat line is open.

use crate::hud::ChatInput;
use crate::net::{PlayerIntent, ViewState};
use crate::{bevy_to_world, render::MainCamera};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;

/// Keyboard and mouse into [`PlayerIntent`].
pub struct ControlsPlugin;

impl Plugin for ControlsPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, sample_controls);
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
