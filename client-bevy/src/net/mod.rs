//! `NetPlugin`: the connection, the replica and the netcode, as Bevy resources and systems.
//!
//! The socket lives on a background thread ([`transport`]); this module drains its channel once
//! per frame, feeds `Welcome`/`Snapshot` into the [`Session`] (the shared crate's `Replica`
//! plus its prediction, interpolation and clock sync), turns the player's [`PlayerIntent`] into
//! one `InputCmd` per server tick in `FixedUpdate`, and publishes a render-ready [`ViewState`]
//! every frame. It draws nothing and reads no keyboard: rendering and controls are other
//! plugins, so the whole plugin runs headless under `MinimalPlugins` in tests.

pub mod backoff;
pub mod delay_line;
mod session;
pub mod status;
pub mod transport;

pub use session::{
    Corrections, LocalView, Session, ViewEntity, ViewKind, ViewState, intent_to_wire,
};
pub use status::{Disconnect, LinkStatus};
pub use transport::{FromNet, LinkConfig, NetLink, ToNet};

use bevy::prelude::*;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tickwire_shared::PlayerId;
use tickwire_shared::protocol::{ClientMsg, Event, ServerMsg};

/// The networking plugin. Add it with the server's URL and the player's name.
pub struct NetPlugin {
    /// Where to connect and how to reconnect.
    pub link: LinkConfig,
}

/// System sets of the plugin, for other plugins to order against.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum NetSystems {
    /// Draining the socket thread's channel (in `PreUpdate`).
    Receive,
    /// Building [`ViewState`] for this frame (in `Update`).
    View,
}

impl Plugin for NetPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(NetSettings(self.link.clone()))
            .init_resource::<Connection>()
            .init_resource::<NetStats>()
            .init_resource::<PlayerIntent>()
            .init_resource::<ViewState>()
            .init_resource::<Game>()
            .add_message::<GameEvent>()
            .add_message::<OutgoingChat>()
            .insert_resource(Time::<Fixed>::from_hz(30.0))
            .add_systems(Startup, start_link)
            .add_systems(PreUpdate, receive.in_set(NetSystems::Receive))
            .add_systems(FixedUpdate, send_input)
            .add_systems(Update, (send_chat, build_view.in_set(NetSystems::View)));
    }
}

/// The link settings the plugin was built with.
#[derive(Resource, Debug, Clone)]
pub struct NetSettings(pub LinkConfig);

/// The socket thread's channels. A `Mutex` only to make the receiver `Sync` for Bevy; one
/// system at a time uses it.
#[derive(Resource)]
pub struct Link(Mutex<NetLink>);

impl Link {
    /// Queues a command for the socket thread.
    pub fn command(&self, cmd: ToNet) {
        if let Ok(link) = self.0.lock() {
            link.command(cmd);
        }
    }
}

/// The connection as the player sees it.
#[derive(Resource, Debug, Clone)]
pub struct Connection {
    /// Current state.
    pub status: LinkStatus,
    /// Why the last connection ended, if one did.
    pub last_disconnect: Option<Disconnect>,
    /// Sessions that reached `Welcome`.
    pub sessions: u32,
    /// Whether the current session took back the earlier player (same player id as before).
    pub resumed: bool,
    /// The player this client was given last.
    pub player: Option<PlayerId>,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            status: LinkStatus::Connecting { attempt: 1 },
            last_disconnect: None,
            sessions: 0,
            resumed: false,
            player: None,
        }
    }
}

/// The game as this client knows it; `None` between connections.
#[derive(Resource, Default)]
pub struct Game(pub Option<Session>);

/// What the player wants to do, set every frame by the controls (or by a test). The fixed-rate
/// input system samples it once per server tick.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct PlayerIntent {
    /// Movement, each axis in -1..=1 (y down, as in the world).
    pub movement: Vec2,
    /// Aim angle in radians from +x towards +y (world coordinates).
    pub aim: f32,
    /// Primary fire held.
    pub fire: bool,
    /// Secondary (hitscan) fire held.
    pub alt_fire: bool,
}

/// Traffic and timing figures for the HUD.
#[derive(Resource, Debug, Default)]
pub struct NetStats {
    /// Bytes received in the last second, by arrival time.
    recent: VecDeque<(Instant, usize)>,
    /// Total bytes received.
    pub bytes_down: u64,
    /// Snapshots received.
    pub snapshots: u64,
    /// Messages dropped because they did not decode or did not fit the replica.
    pub dropped: u64,
}

impl NetStats {
    fn record(&mut self, now: Instant, bytes: usize) {
        self.bytes_down += bytes as u64;
        self.recent.push_back((now, bytes));
        self.trim(now);
    }

    fn trim(&mut self, now: Instant) {
        while let Some((t, _)) = self.recent.front() {
            if now.duration_since(*t) > Duration::from_secs(1) {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }

    /// KiB received over the last second.
    pub fn kib_per_sec(&mut self) -> f32 {
        self.trim(Instant::now());
        self.recent.iter().map(|(_, b)| *b).sum::<usize>() as f32 / 1024.0
    }
}

/// Something that happened in the game, for the kill feed, chat and effects.
#[derive(Message, Debug, Clone)]
pub struct GameEvent(pub Event);

/// A chat line the player typed, to send.
#[derive(Message, Debug, Clone)]
pub struct OutgoingChat(pub String);

fn start_link(mut commands: Commands, settings: Res<NetSettings>) {
    match NetLink::spawn(settings.0.clone()) {
        Ok(link) => commands.insert_resource(Link(Mutex::new(link))),
        Err(e) => error!("cannot start the network thread: {e}"),
    }
}

#[allow(clippy::too_many_arguments)]
fn receive(
    link: Option<Res<Link>>,
    mut connection: ResMut<Connection>,
    mut game: ResMut<Game>,
    mut stats: ResMut<NetStats>,
    mut fixed: ResMut<Time<Fixed>>,
    mut events: MessageWriter<GameEvent>,
) {
    let Some(link) = link else { return };
    let Ok(mut net) = link.0.lock() else { return };
    while let Some(item) = net.try_recv() {
        match item {
            FromNet::Status(status) => {
                match &status {
                    LinkStatus::Retrying { cause, .. } | LinkStatus::Stopped { cause } => {
                        connection.last_disconnect = Some(cause.clone());
                        game.0 = None;
                    }
                    LinkStatus::Connecting { .. } => game.0 = None,
                    LinkStatus::Joining { .. } | LinkStatus::Playing => {}
                }
                connection.status = status;
            }
            FromNet::Undecodable(len) => {
                stats.record(Instant::now(), len);
                stats.dropped += 1;
            }
            FromNet::Msg(msg, len, at) => {
                stats.record(at, len);
                match msg {
                    ServerMsg::Welcome(w) => {
                        connection.resumed = connection.player == Some(w.player_id);
                        connection.player = Some(w.player_id);
                        connection.sessions += 1;
                        connection.status = LinkStatus::Playing;
                        fixed.set_timestep_hz(f64::from(w.tick_rate.max(1)));
                        info!(
                            player = w.player_id.0,
                            tick_rate = w.tick_rate,
                            resumed = connection.resumed,
                            "joined"
                        );
                        game.0 = Some(Session::new(&w, at));
                    }
                    ServerMsg::Snapshot(snap) => {
                        stats.snapshots += 1;
                        let Some(session) = game.0.as_mut() else {
                            continue;
                        };
                        if let Err(e) = session.apply_snapshot(&snap, at) {
                            // A replica that no longer matches the server cannot be repaired in
                            // place: drop the connection and start from a fresh full state.
                            warn!("replica diverged: {e}; reconnecting");
                            stats.dropped += 1;
                            net.command(ToNet::Reconnect(Disconnect::Diverged(e.to_string())));
                            game.0 = None;
                            continue;
                        }
                        for e in snap.events {
                            events.write(GameEvent(e));
                        }
                    }
                    ServerMsg::Pong(pong) => {
                        if let Some(session) = game.0.as_mut() {
                            session.on_pong(&pong, at);
                        }
                    }
                }
            }
        }
    }
}

fn send_input(link: Option<Res<Link>>, intent: Res<PlayerIntent>, mut game: ResMut<Game>) {
    let (Some(link), Some(session)) = (link, game.0.as_mut()) else {
        return;
    };
    for msg in session.next_tick(&intent, Instant::now()) {
        link.command(ToNet::Send(msg));
    }
}

fn send_chat(link: Option<Res<Link>>, mut chat: MessageReader<OutgoingChat>) {
    let Some(link) = link else { return };
    for line in chat.read() {
        let text = line.0.trim();
        if !text.is_empty() {
            link.command(ToNet::Send(ClientMsg::Chat(text.to_string())));
        }
    }
}

fn build_view(
    mut game: ResMut<Game>,
    fixed: Res<Time<Fixed>>,
    intent: Res<PlayerIntent>,
    mut view: ResMut<ViewState>,
) {
    match game.0.as_mut() {
        Some(session) => session.fill_view(
            Instant::now(),
            fixed.overstep_fraction(),
            intent.aim,
            &mut view,
        ),
        None => view.clear(),
    }
}
