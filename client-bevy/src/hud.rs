//! `HudPlugin`: the text on top of the world. A status line (ping, server tick, FPS, entities in
//! view, KiB/s down), the connection state while not playing (with the close reason in words),
//! the scoreboard, the kill feed, and the chat (Enter to type, Enter to send, Esc to cancel).
//! R asks for a reconnect after the link gave up. It reads `NetPlugin`'s resources and messages
//! and writes only [`OutgoingChat`] and reconnect requests.

use crate::net::{
    ArenaEvent, Connection, Game, GameEvent, Link, LinkStatus, NetStats, NetSystems, OutgoingChat,
    ToNet, ViewState,
};
use bevy::diagnostic::{DiagnosticsStore, FrameTimeDiagnosticsPlugin};
use bevy::input::ButtonState;
use bevy::input::keyboard::{Key, KeyboardInput};
use bevy::prelude::*;
use std::collections::VecDeque;
use std::time::Instant;
use tickwire_shared::PlayerId;

/// The heads-up display.
pub struct HudPlugin;

impl Plugin for HudPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<FrameTimeDiagnosticsPlugin>() {
            app.add_plugins(FrameTimeDiagnosticsPlugin::default());
        }
        app.init_resource::<ChatInput>()
            .init_resource::<Feeds>()
            .add_systems(Startup, spawn_hud)
            .add_systems(
                Update,
                (
                    collect_events,
                    type_chat,
                    retry_key,
                    update_status_line,
                    update_banner,
                    update_scoreboard,
                    update_feeds,
                )
                    .chain()
                    .after(NetSystems::View),
            );
    }
}

/// The chat line being typed.
#[derive(Resource, Debug, Default)]
pub struct ChatInput {
    /// Whether the line is open (keys go to it, not to the game).
    pub open: bool,
    /// What has been typed.
    pub text: String,
}

const KILL_FEED_LINES: usize = 5;
const KILL_FEED_SECS: f32 = 6.0;
const CHAT_LINES: usize = 8;

/// Recent kills and chat lines.
#[derive(Resource, Default)]
struct Feeds {
    kills: VecDeque<(Instant, String)>,
    chat: VecDeque<String>,
}

#[derive(Component)]
struct StatusLine;
#[derive(Component)]
struct Banner;
#[derive(Component)]
struct Scoreboard;
#[derive(Component)]
struct KillFeed;
#[derive(Component)]
struct ChatLog;

fn text_node<'a>(
    commands: &'a mut Commands,
    node: Node,
    size: f32,
    color: Color,
) -> EntityCommands<'a> {
    commands.spawn((
        Text::new(""),
        TextFont::from_font_size(size),
        TextColor(color),
        node,
    ))
}

fn spawn_hud(mut commands: Commands) {
    let panel = Color::srgba(0.0, 0.0, 0.0, 0.45);
    text_node(
        &mut commands,
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(8.0),
            top: Val::Px(6.0),
            padding: UiRect::all(Val::Px(4.0)),
            ..default()
        },
        16.0,
        Color::srgb(0.85, 0.95, 0.85),
    )
    .insert((StatusLine, BackgroundColor(panel)));
    text_node(
        &mut commands,
        Node {
            position_type: PositionType::Absolute,
            left: Val::Percent(25.0),
            width: Val::Percent(50.0),
            top: Val::Percent(40.0),
            padding: UiRect::all(Val::Px(10.0)),
            justify_content: JustifyContent::Center,
            ..default()
        },
        22.0,
        Color::srgb(1.0, 0.85, 0.5),
    )
    .insert((Banner, BackgroundColor(panel), Visibility::Hidden));
    text_node(
        &mut commands,
        Node {
            position_type: PositionType::Absolute,
            right: Val::Px(8.0),
            top: Val::Px(6.0),
            padding: UiRect::all(Val::Px(4.0)),
            ..default()
        },
        15.0,
        Color::srgb(0.9, 0.9, 0.95),
    )
    .insert((Scoreboard, BackgroundColor(panel)));
    text_node(
        &mut commands,
        Node {
            position_type: PositionType::Absolute,
            right: Val::Px(8.0),
            bottom: Val::Px(8.0),
            padding: UiRect::all(Val::Px(4.0)),
            ..default()
        },
        15.0,
        Color::srgb(1.0, 0.6, 0.55),
    )
    .insert(KillFeed);
    text_node(
        &mut commands,
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(8.0),
            bottom: Val::Px(8.0),
            max_width: Val::Percent(45.0),
            padding: UiRect::all(Val::Px(4.0)),
            ..default()
        },
        15.0,
        Color::srgb(0.85, 0.9, 1.0),
    )
    .insert(ChatLog);
}

fn name_of(game: &Game, player: PlayerId) -> String {
    game.0
        .as_ref()
        .and_then(|s| s.players.get(&player))
        .map(|p| p.name.clone())
        .unwrap_or_else(|| player.to_string())
}

fn collect_events(mut events: MessageReader<GameEvent>, game: Res<Game>, mut feeds: ResMut<Feeds>) {
    for GameEvent(e) in events.read() {
        let chat_line = match e {
            ArenaEvent::Kill { killer, victim } => {
                let line = if killer == victim {
                    format!("{} died", name_of(&game, *victim))
                } else {
                    format!("{} > {}", name_of(&game, *killer), name_of(&game, *victim))
                };
                feeds.kills.push_back((Instant::now(), line));
                while feeds.kills.len() > KILL_FEED_LINES {
                    feeds.kills.pop_front();
                }
                None
            }
            ArenaEvent::Chat { player, text } => {
                Some(format!("{}: {text}", name_of(&game, *player)))
            }
            ArenaEvent::Notice { text } => Some(format!("* {text}")),
            ArenaEvent::Join { name, .. } => Some(format!("* {name} joined")),
            ArenaEvent::Leave { name, .. } => Some(format!("* {name} left")),
            ArenaEvent::Connection { player, connected } => Some(if *connected {
                format!("* {} is back", name_of(&game, *player))
            } else {
                format!("* {} lost connection", name_of(&game, *player))
            }),
            ArenaEvent::Respawn { .. } | ArenaEvent::Hitscan { .. } => None,
        };
        if let Some(line) = chat_line {
            feeds.chat.push_back(line);
            while feeds.chat.len() > CHAT_LINES {
                feeds.chat.pop_front();
            }
        }
    }
}

fn type_chat(
    mut keys: MessageReader<KeyboardInput>,
    mut chat: ResMut<ChatInput>,
    mut outgoing: MessageWriter<OutgoingChat>,
) {
    for k in keys.read() {
        if k.state != ButtonState::Pressed {
            continue;
        }
        match (&k.logical_key, chat.open) {
            (Key::Enter, false) => chat.open = true,
            (Key::Enter, true) => {
                let text = std::mem::take(&mut chat.text);
                if !text.trim().is_empty() {
                    outgoing.write(OutgoingChat(text));
                }
                chat.open = false;
            }
            (Key::Escape, true) => {
                chat.text.clear();
                chat.open = false;
            }
            (Key::Backspace, true) => {
                chat.text.pop();
            }
            (_, true) => {
                if let Some(t) = &k.text {
                    let room = tickwire_shared::sync::MAX_CHAT_CHARS
                        .saturating_sub(chat.text.chars().count());
                    chat.text
                        .extend(t.chars().filter(|c| !c.is_control()).take(room));
                }
            }
            _ => {}
        }
    }
}

fn retry_key(
    keys: Res<ButtonInput<KeyCode>>,
    connection: Res<Connection>,
    chat: Res<ChatInput>,
    link: Option<Res<Link>>,
) {
    if chat.open || !keys.just_pressed(KeyCode::KeyR) {
        return;
    }
    if let (LinkStatus::Stopped { cause } | LinkStatus::Retrying { cause, .. }, Some(link)) =
        (&connection.status, link)
    {
        link.command(ToNet::Reconnect(cause.clone()));
    }
}

fn update_status_line(
    view: Res<ViewState>,
    connection: Res<Connection>,
    mut stats: ResMut<NetStats>,
    diagnostics: Res<DiagnosticsStore>,
    game: Res<Game>,
    mut line: Query<&mut Text, With<StatusLine>>,
) {
    let Ok(mut text) = line.single_mut() else {
        return;
    };
    let fps = diagnostics
        .get(&FrameTimeDiagnosticsPlugin::FPS)
        .and_then(|d| d.smoothed())
        .unwrap_or(0.0);
    let ping = view
        .rtt
        .map(|r| format!("{} ms", r.as_millis()))
        .unwrap_or_else(|| "-".into());
    let tick = game
        .0
        .as_ref()
        .map(|s| s.tick.to_string())
        .unwrap_or_else(|| "-".into());
    let via = match (connection.transport, connection.mirrors) {
        (Some(tickwire_client::Transport::WebTransport), _) => "   via WebTransport".to_string(),
        (Some(tickwire_client::Transport::WebSocket), 0) => "   via WebSocket".to_string(),
        // The HUD's font has no "×".
        (Some(tickwire_client::Transport::WebSocket), n) => format!("   via {} WebSockets", n + 1),
        (None, _) => String::new(),
    };
    text.0 = format!(
        "ping {ping}   tick {tick}   {fps:.0} FPS   {} in view   {:.1} KiB/s down{via}",
        view.entities.len(),
        stats.kib_per_sec()
    );
}

fn update_banner(
    connection: Res<Connection>,
    mut banner: Query<(&mut Text, &mut Visibility), With<Banner>>,
) {
    let Ok((mut text, mut visible)) = banner.single_mut() else {
        return;
    };
    let message = match &connection.status {
        LinkStatus::Playing => None,
        LinkStatus::Connecting { attempt } if *attempt <= 1 => Some("Connecting...".to_string()),
        LinkStatus::Connecting { attempt } => Some(format!("Reconnecting (attempt {attempt})...")),
        LinkStatus::Joining { resuming: true } => Some("Resuming session...".into()),
        LinkStatus::Joining { resuming: false } => Some("Joining...".into()),
        LinkStatus::Retrying { at, cause } => {
            let secs = at.saturating_duration_since(Instant::now()).as_secs_f32();
            Some(format!(
                "{}\nReconnecting in {secs:.1} s (R: now)",
                cause.describe()
            ))
        }
        LinkStatus::Stopped { cause } => {
            Some(format!("{}\nPress R to try again", cause.describe()))
        }
    };
    match message {
        Some(m) => {
            if text.0 != m {
                text.0 = m;
            }
            visible.set_if_neq(Visibility::Inherited);
        }
        None => {
            visible.set_if_neq(Visibility::Hidden);
        }
    }
}

fn update_scoreboard(game: Res<Game>, mut board: Query<&mut Text, With<Scoreboard>>) {
    let Ok(mut text) = board.single_mut() else {
        return;
    };
    let Some(session) = game.0.as_ref() else {
        text.0.clear();
        return;
    };
    let mut players: Vec<_> = session.players.values().collect();
    players.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.deaths.cmp(&b.deaths))
            .then(a.id.cmp(&b.id))
    });
    let mut out = format!("{:<16} {:>5} {:>6}\n", "player", "kills", "deaths");
    for p in players.iter().take(12) {
        let me = if p.id == session.player_id { ">" } else { " " };
        let name: String = p.name.chars().take(15).collect();
        out.push_str(&format!("{me}{name:<15} {:>5} {:>6}\n", p.score, p.deaths));
    }
    if players.len() > 12 {
        out.push_str(&format!(" ... {} more\n", players.len() - 12));
    }
    let out = out.trim_end().to_string();
    if text.0 != out {
        text.0 = out;
    }
}

fn update_feeds(
    mut feeds: ResMut<Feeds>,
    chat: Res<ChatInput>,
    mut kill_text: Query<&mut Text, (With<KillFeed>, Without<ChatLog>)>,
    mut chat_text: Query<&mut Text, (With<ChatLog>, Without<KillFeed>)>,
) {
    let now = Instant::now();
    feeds
        .kills
        .retain(|(at, _)| now.duration_since(*at).as_secs_f32() < KILL_FEED_SECS);
    if let Ok(mut t) = kill_text.single_mut() {
        let s = feeds
            .kills
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        if t.0 != s {
            t.0 = s;
        }
    }
    if let Ok(mut t) = chat_text.single_mut() {
        let mut s = feeds.chat.iter().cloned().collect::<Vec<_>>().join("\n");
        if chat.open {
            s.push_str(&format!("\nsay: {}_", chat.text));
        } else if s.is_empty() {
            s = "Enter: chat   WASD: move   mouse: aim   click: shoot   F3: netcode".into();
        }
        if t.0 != s {
            t.0 = s;
        }
    }
}
