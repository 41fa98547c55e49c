//! `RenderPlugin`: draws the world from [`ViewState`] with Bevy 2D. The arena floor and
//! obstacles come from the session's `Welcome`; players (the local one in a colour of its own),
//! their names and health bars, and projectiles are sprites and meshes kept in step with the
//! view each frame; aim lines and hitscan tracers are gizmos. The camera follows the local
//! player. It never touches the network: it only reads what `NetPlugin` publishes.

use crate::net::{ArenaEvent, Game, GameEvent, NetSystems, ViewKind, ViewState};
use crate::world_to_bevy;
use bevy::prelude::*;
use std::collections::HashMap;
use tickwire_shared::{NetId, PlayerId};

/// Draws the arena and everything in view.
pub struct RenderPlugin {
    /// World units per screen pixel (1 = native; 2 shows the whole demo arena at 1280×720).
    pub zoom: f32,
}

/// The camera's zoom, as configured.
#[derive(Resource, Debug, Clone, Copy)]
struct Zoom(f32);

impl Plugin for RenderPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(ClearColor(Color::srgb(0.05, 0.06, 0.08)))
            .insert_resource(Zoom(self.zoom.max(0.1)))
            .init_resource::<Drawn>()
            .init_resource::<Tracers>()
            .add_systems(Startup, setup)
            .add_systems(
                Update,
                (
                    build_arena,
                    sync_entities,
                    follow_local_player,
                    draw_aim_and_tracers,
                )
                    .chain()
                    .after(NetSystems::View),
            );
    }
}

/// The camera that shows the world.
#[derive(Component)]
pub struct MainCamera;

/// Part of the arena drawn for one session (rebuilt when the arena changes).
#[derive(Component)]
struct ArenaPiece;

const Z_FLOOR: f32 = 0.0;
const Z_OBSTACLE: f32 = 1.0;
const Z_PROJECTILE: f32 = 2.0;
const Z_PLAYER: f32 = 3.0;
const Z_BAR: f32 = 4.0;
const Z_NAME: f32 = 5.0;
const BAR_WIDTH: f32 = 36.0;
const BAR_HEIGHT: f32 = 5.0;

/// The Bevy entities drawing each wire entity, and shared assets.
#[derive(Resource, Default)]
struct Drawn {
    by_id: HashMap<NetId, Drawing>,
    arena_key: Option<(u32, usize)>,
    assets: Option<SharedAssets>,
}

struct SharedAssets {
    player_mesh: Handle<Mesh>,
    projectile_mesh: Handle<Mesh>,
    local_material: Handle<ColorMaterial>,
    projectile_material: Handle<ColorMaterial>,
    player_materials: HashMap<PlayerId, Handle<ColorMaterial>>,
}

struct Drawing {
    body: Entity,
    /// Name tag, health bar background and fill (players only).
    tags: Option<[Entity; 3]>,
    name: String,
}

/// Hitscan tracers still fading out.
#[derive(Resource, Default)]
struct Tracers(Vec<(Vec2, Vec2, f32)>);

fn setup(mut commands: Commands, zoom: Res<Zoom>) {
    commands.spawn((
        Camera2d,
        MainCamera,
        Projection::Orthographic(OrthographicProjection {
            scale: zoom.0,
            ..OrthographicProjection::default_2d()
        }),
    ));
}

/// A stable colour per player, never in the yellows kept for the local player.
pub fn player_color(player: PlayerId) -> Color {
    let hue = (80 + player.0.wrapping_mul(137) % 300) % 360;
    Color::hsl(hue as f32, 0.65, 0.55)
}

/// The colour of this client's own player.
pub fn local_color() -> Color {
    Color::srgb(1.0, 0.85, 0.2)
}

fn build_arena(
    mut commands: Commands,
    game: Res<Game>,
    mut drawn: ResMut<Drawn>,
    pieces: Query<Entity, With<ArenaPiece>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let Some(session) = game.0.as_ref() else {
        return;
    };
    let arena = &session.config.arena;
    let rules = &session.config.rules;
    let key = (
        arena.width.to_bits() ^ arena.height.to_bits(),
        arena.obstacles.len(),
    );
    if drawn.arena_key == Some(key) && drawn.assets.is_some() {
        return;
    }
    for e in &pieces {
        commands.entity(e).despawn();
    }
    let size = Vec2::new(arena.width, arena.height);
    commands.spawn((
        ArenaPiece,
        Sprite::from_color(Color::srgb(0.13, 0.15, 0.18), size),
        Transform::from_translation(world_to_bevy(size / 2.0).extend(Z_FLOOR)),
    ));
    for o in &arena.obstacles {
        let size = Vec2::new(o.max_x - o.min_x, o.max_y - o.min_y);
        let centre = Vec2::new(o.min_x, o.min_y) + size / 2.0;
        commands.spawn((
            ArenaPiece,
            Sprite::from_color(Color::srgb(0.36, 0.38, 0.44), size),
            Transform::from_translation(world_to_bevy(centre).extend(Z_OBSTACLE)),
        ));
    }
    // Meshes depend on the rules' radii: rebuild them with the arena.
    for (_, d) in drawn.by_id.drain() {
        commands.entity(d.body).despawn();
        for t in d.tags.into_iter().flatten() {
            commands.entity(t).despawn();
        }
    }
    drawn.assets = Some(SharedAssets {
        player_mesh: meshes.add(Circle::new(rules.player_radius)),
        projectile_mesh: meshes.add(Circle::new(rules.projectile_radius.max(2.0))),
        local_material: materials.add(local_color()),
        projectile_material: materials.add(Color::srgb(1.0, 0.95, 0.7)),
        player_materials: HashMap::new(),
    });
    drawn.arena_key = Some(key);
}

#[allow(clippy::too_many_arguments)]
fn sync_entities(
    mut commands: Commands,
    view: Res<ViewState>,
    game: Res<Game>,
    mut drawn: ResMut<Drawn>,
    mut materials: ResMut<Assets<ColorMaterial>>,
    mut transforms: Query<&mut Transform>,
    mut visibility: Query<&mut Visibility>,
    mut texts: Query<&mut Text2d>,
    mut sprites: Query<&mut Sprite>,
) {
    let Some(session) = game.0.as_ref() else {
        for (_, d) in drawn.by_id.drain() {
            commands.entity(d.body).despawn();
            for t in d.tags.into_iter().flatten() {
                commands.entity(t).despawn();
            }
        }
        return;
    };
    let drawn = &mut *drawn;
    let Some(assets) = drawn.assets.as_mut() else {
        return;
    };
    let max_health = f32::from(session.config.rules.max_health.max(1));
    let radius = session.config.rules.player_radius;
    let mut seen: Vec<NetId> = Vec::with_capacity(view.entities.len());
    for e in &view.entities {
        seen.push(e.id);
        let at = world_to_bevy(e.pos);
        match e.kind {
            ViewKind::Projectile => {
                let d = drawn.by_id.entry(e.id).or_insert_with(|| Drawing {
                    body: commands
                        .spawn((
                            Mesh2d(assets.projectile_mesh.clone()),
                            MeshMaterial2d(assets.projectile_material.clone()),
                            Transform::from_translation(at.extend(Z_PROJECTILE)),
                        ))
                        .id(),
                    tags: None,
                    name: String::new(),
                });
                if let Ok(mut t) = transforms.get_mut(d.body) {
                    t.translation = at.extend(Z_PROJECTILE);
                }
            }
            ViewKind::Player {
                player,
                health,
                alive,
                local,
            } => {
                let name = session
                    .players
                    .get(&player)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| player.to_string());
                let d = drawn.by_id.entry(e.id).or_insert_with(|| {
                    let material = if local {
                        assets.local_material.clone()
                    } else {
                        assets
                            .player_materials
                            .entry(player)
                            .or_insert_with(|| materials.add(player_color(player)))
                            .clone()
                    };
                    let body = commands
                        .spawn((
                            Mesh2d(assets.player_mesh.clone()),
                            MeshMaterial2d(material),
                            Transform::from_translation(at.extend(Z_PLAYER)),
                        ))
                        .id();
                    let tag = commands
                        .spawn((
                            Text2d::new(name.clone()),
                            TextFont::from_font_size(14.0),
                            TextColor(if local {
                                local_color()
                            } else {
                                Color::srgb(0.9, 0.9, 0.9)
                            }),
                            Transform::from_translation(
                                (at + Vec2::new(0.0, radius + 18.0)).extend(Z_NAME),
                            ),
                        ))
                        .id();
                    let bar_bg = commands
                        .spawn((
                            Sprite::from_color(
                                Color::srgb(0.25, 0.05, 0.05),
                                Vec2::new(BAR_WIDTH, BAR_HEIGHT),
                            ),
                            Transform::from_translation(
                                (at + Vec2::new(0.0, radius + 6.0)).extend(Z_BAR),
                            ),
                        ))
                        .id();
                    let bar_fill = commands
                        .spawn((
                            Sprite::from_color(
                                Color::srgb(0.3, 0.9, 0.35),
                                Vec2::new(BAR_WIDTH, BAR_HEIGHT),
                            ),
                            Transform::from_translation(
                                (at + Vec2::new(0.0, radius + 6.0)).extend(Z_BAR + 0.1),
                            ),
                        ))
                        .id();
                    Drawing {
                        body,
                        tags: Some([tag, bar_bg, bar_fill]),
                        name: name.clone(),
                    }
                });
                if let Ok(mut t) = transforms.get_mut(d.body) {
                    t.translation = at.extend(Z_PLAYER);
                }
                let shown = if alive {
                    Visibility::Inherited
                } else {
                    Visibility::Hidden
                };
                if let Ok(mut v) = visibility.get_mut(d.body) {
                    v.set_if_neq(shown);
                }
                let Some([tag, bar_bg, bar_fill]) = d.tags else {
                    continue;
                };
                if let Ok(mut t) = transforms.get_mut(tag) {
                    t.translation = (at + Vec2::new(0.0, radius + 18.0)).extend(Z_NAME);
                }
                if d.name != name {
                    if let Ok(mut text) = texts.get_mut(tag) {
                        text.0.clone_from(&name);
                    }
                    d.name = name;
                }
                let fraction = (f32::from(health) / max_health).clamp(0.0, 1.0);
                let bar_y = radius + 6.0;
                if let Ok(mut t) = transforms.get_mut(bar_bg) {
                    t.translation = (at + Vec2::new(0.0, bar_y)).extend(Z_BAR);
                }
                if let Ok(mut t) = transforms.get_mut(bar_fill) {
                    // Shrink from the right: keep the left edge where the background's is.
                    let x = -BAR_WIDTH / 2.0 + BAR_WIDTH * fraction / 2.0;
                    t.translation = (at + Vec2::new(x, bar_y)).extend(Z_BAR + 0.1);
                }
                if let Ok(mut s) = sprites.get_mut(bar_fill) {
                    let size = Vec2::new(BAR_WIDTH * fraction, BAR_HEIGHT);
                    if s.custom_size != Some(size) {
                        s.custom_size = Some(size);
                    }
                }
                for t in [tag, bar_bg, bar_fill] {
                    if let Ok(mut v) = visibility.get_mut(t) {
                        v.set_if_neq(shown);
                    }
                }
            }
        }
    }
    seen.sort_unstable();
    drawn.by_id.retain(|id, d| {
        let keep = seen.binary_search(id).is_ok();
        if !keep {
            commands.entity(d.body).despawn();
            for t in d.tags.into_iter().flatten() {
                commands.entity(t).despawn();
            }
        }
        keep
    });
}

fn follow_local_player(view: Res<ViewState>, mut camera: Query<&mut Transform, With<MainCamera>>) {
    let (Some(local), Ok(mut t)) = (view.local, camera.single_mut()) else {
        return;
    };
    let at = world_to_bevy(local.predicted);
    t.translation.x = at.x;
    t.translation.y = at.y;
}

fn draw_aim_and_tracers(
    view: Res<ViewState>,
    game: Res<Game>,
    time: Res<Time>,
    mut tracers: ResMut<Tracers>,
    mut events: MessageReader<GameEvent>,
    mut gizmos: Gizmos,
) {
    for GameEvent(e) in events.read() {
        if let ArenaEvent::Hitscan { from, to, .. } = e {
            tracers
                .0
                .push((world_to_bevy(*from), world_to_bevy(*to), 0.25));
        }
    }
    let dt = time.delta_secs();
    tracers.0.retain_mut(|(a, b, life)| {
        gizmos.line_2d(*a, *b, Color::srgba(1.0, 0.95, 0.6, (*life * 4.0).min(1.0)));
        *life -= dt;
        *life > 0.0
    });
    let Some(session) = game.0.as_ref() else {
        return;
    };
    let radius = session.config.rules.player_radius;
    for e in &view.entities {
        if let ViewKind::Player {
            alive: true, local, ..
        } = e.kind
        {
            let at = world_to_bevy(e.pos);
            let dir = world_to_bevy(Vec2::from_angle(e.aim));
            let color = if local {
                local_color()
            } else {
                Color::srgb(0.85, 0.85, 0.85)
            };
            gizmos.line_2d(at + dir * radius, at + dir * (radius + 12.0), color);
        }
    }
}
