//! `OverlayPlugin`: the F3 netcode overlay. It draws the server's authoritative position of
//! the local player as a ghost circle next to the predicted body, and lists the interpolation
//! delay, the render and estimated server ticks, and the reconciliation correction magnitudes,
//! so a developer can watch prediction and interpolation at work.

use crate::net::{Game, NetStats, NetSystems, ViewState};
use crate::render::local_color;
use crate::world_to_bevy;
use bevy::prelude::*;

/// The F3 overlay.
pub struct OverlayPlugin {
    /// Whether it starts shown.
    pub shown: bool,
}

/// Whether the overlay is shown.
#[derive(Resource, Debug, Clone, Copy)]
pub struct OverlayShown(pub bool);

#[derive(Component)]
struct OverlayText;

impl Plugin for OverlayPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(OverlayShown(self.shown))
            .add_systems(Startup, spawn_text)
            .add_systems(Update, (toggle, draw).chain().after(NetSystems::View));
    }
}

fn spawn_text(mut commands: Commands) {
    commands.spawn((
        OverlayText,
        Text::new(""),
        TextFont::from_font_size(15.0),
        TextColor(Color::srgb(0.6, 1.0, 1.0)),
        BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.55)),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(8.0),
            top: Val::Px(40.0),
            padding: UiRect::all(Val::Px(4.0)),
            ..default()
        },
        Visibility::Hidden,
    ));
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut shown: ResMut<OverlayShown>) {
    if keys.just_pressed(KeyCode::F3) {
        shown.0 = !shown.0;
    }
}

fn draw(
    shown: Res<OverlayShown>,
    view: Res<ViewState>,
    game: Res<Game>,
    stats: Res<NetStats>,
    mut text: Query<(&mut Text, &mut Visibility), With<OverlayText>>,
    mut gizmos: Gizmos,
) {
    let Ok((mut text, mut visible)) = text.single_mut() else {
        return;
    };
    if !shown.0 {
        visible.set_if_neq(Visibility::Hidden);
        return;
    }
    visible.set_if_neq(Visibility::Inherited);
    let c = view.corrections;
    let gap = view
        .local
        .map(|l| l.predicted.distance(l.server))
        .unwrap_or(0.0);
    let s = format!(
        "NETCODE (F3)\n\
         interpolation delay {:.0} ms\n\
         render tick {:.1}   server tick ~{:.1}\n\
         correction last {:.2} u   max 1 s {:.2} u   mean {:.2} u\n\
         corrected {} of {} snapshots\n\
         predicted - server {:.1} u   dropped msgs {}",
        view.interp_delay_ms,
        view.render_tick,
        view.server_tick,
        c.last,
        c.max_recent,
        c.mean,
        c.count,
        c.samples,
        gap,
        stats.dropped,
    );
    if text.0 != s {
        text.0 = s;
    }
    let radius = game
        .0
        .as_ref()
        .map_or(16.0, |s| s.config.rules.player_radius);
    if let Some(local) = view.local {
        let ghost = world_to_bevy(local.server);
        let body = world_to_bevy(local.predicted);
        gizmos.circle_2d(ghost, radius, Color::srgba(0.4, 1.0, 1.0, 0.9));
        gizmos.line_2d(ghost, body, Color::srgba(0.4, 1.0, 1.0, 0.6));
        gizmos.circle_2d(body, radius + 2.0, local_color());
    }
}
