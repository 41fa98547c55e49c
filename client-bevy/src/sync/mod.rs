//! [`SyncPlugin`]: a tickwire room mirrored into Bevy, for any game.
//!
//! Nothing here knows a game. The socket lives on a background thread ([`transport`]); each
//! frame the plugin drains its channel and feeds the shared crate's client netcode
//! ([`Netcode`]: replica, clock sync, input history, prediction, interpolation) with it, then
//! mirrors every replicated entity into a Bevy entity:
//!
//! - [`Replicated`] (its wire id and kind), [`Held`] (its lanes as the server last sent them:
//!   `Changed<Held>` is "the server changed it"), and [`Drawn`] (where to draw it this frame:
//!   predicted, interpolated or held, in lane units), plus [`Owned`] on entities the local
//!   player owns. The entity is spawned when the server's entity enters view and despawned
//!   when it leaves, and all of them go when the connection does.
//! - What happened arrives as [`SyncEvent`] messages: the game's events (chat, notices, and
//!   the game's own), players joining, leaving, dropping and coming back.
//! - The game writes its input command's lanes into [`InputLanes`]; the plugin sends one
//!   command per server tick from `FixedUpdate` (the fixed rate follows the room's tick rate),
//!   predicting it at once with the game's step ([`GameHooks::predict`]).
//!
//! Systems run in [`SyncSystems`] sets a game orders against. The plugin draws nothing and reads
//! no keyboard, so it runs headless under `MinimalPlugins`, which is how its tests drive it.
//! The shape follows bevy_replicon's: a plugin, system sets, components on mirrored entities.

pub mod backoff;
pub mod delay_line;
pub mod status;
pub mod transport;

pub use status::{Disconnect, LinkStatus};
pub use transport::{FromNet, LinkConfig, NetLink, ToNet};

use bevy::prelude::*;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tickwire_client::Transport;
use tickwire_shared::sync::acked::{encode_datagram, peek_acked};
use tickwire_shared::sync::netcode::{Netcode, NetcodeConfig, Source};
use tickwire_shared::sync::predict::{Correction, PredictStep};
use tickwire_shared::sync::{
    Acked, Action, ClientMsg, Event, ServerMsg, Snapshot, Value, Welcome, decode_server,
    encode_client,
};
use tickwire_shared::{NetId, PlayerId, Tick};

/// Builds a game's prediction step from the room's `Welcome` (its `game_config` has the
/// game's constants); `None` predicts nothing.
pub type PredictFactory = fn(&Welcome) -> Option<Box<dyn PredictStep + Send + Sync>>;

/// What the plugin needs from a game.
#[derive(Clone, Default)]
pub struct GameHooks {
    /// The schema's game name this client plays; a `Welcome` for another game stops the link
    /// with a clear reason instead of drawing nonsense. `None` takes any game.
    pub game: Option<String>,
    /// The prediction step for entities the local player owns.
    pub predict: Option<PredictFactory>,
}

/// The plugin. Add it with the server's URL, the player's name and the game's hooks.
pub struct SyncPlugin {
    /// Where to connect and how to reconnect.
    pub link: LinkConfig,
    /// The game's part.
    pub hooks: GameHooks,
}

/// System sets of the plugin, for games to order against.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum SyncSystems {
    /// Draining the socket, applying snapshots, mirroring entities (in `PreUpdate`).
    Receive,
    /// Sending this tick's input command (in `FixedUpdate`): write [`InputLanes`] before it.
    Send,
    /// Advancing display time and filling [`Drawn`] (in `Update`): read it after.
    View,
}

impl Plugin for SyncPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Settings {
            link: self.link.clone(),
            hooks: self.hooks.clone(),
        })
        .init_resource::<Connection>()
        .init_resource::<NetStats>()
        .init_resource::<Session>()
        .init_resource::<InputLanes>()
        .init_resource::<EntityMap>()
        .add_message::<SyncEvent>()
        .add_message::<Corrected>()
        .add_message::<SendChat>()
        .add_message::<SendAction>()
        .insert_resource(Time::<Fixed>::from_hz(30.0))
        .add_systems(Startup, start_link)
        .add_systems(PreUpdate, receive.in_set(SyncSystems::Receive))
        .add_systems(FixedUpdate, send_input.in_set(SyncSystems::Send))
        .add_systems(
            Update,
            (
                send_chat_and_actions,
                update_drawn.in_set(SyncSystems::View),
            ),
        );
    }
}

/// The settings the plugin was built with.
#[derive(Resource, Clone)]
pub struct Settings {
    /// Where to connect.
    pub link: LinkConfig,
    /// The game's part.
    pub hooks: GameHooks,
}

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
    /// Whether the current session took back the earlier player (the server says so).
    pub resumed: bool,
    /// The player this client was given last.
    pub player: Option<PlayerId>,
    /// The transport of the current (or last) connection.
    pub transport: Option<Transport>,
    /// Mirror connections attached to the current session (each a copy of its messages).
    pub mirrors: usize,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            status: LinkStatus::Connecting { attempt: 1 },
            last_disconnect: None,
            sessions: 0,
            resumed: false,
            player: None,
            transport: None,
            mirrors: 0,
        }
    }
}

/// The room as this client knows it; `netcode` is `None` between connections.
#[derive(Resource, Default)]
pub struct Session {
    /// The client netcode of the current connection.
    pub netcode: Option<Netcode>,
    /// The `Welcome` of the current connection.
    pub welcome: Option<Welcome>,
    epoch: Option<Instant>,
    /// Over WebTransport: the newest tick applied, and whether a datagram has acknowledged it.
    ack: Option<(Tick, bool)>,
}

impl Session {
    /// Seconds since this connection's `Welcome` (the netcode's clock).
    pub fn secs(&self, t: Instant) -> f64 {
        self.epoch
            .map_or(0.0, |e| t.saturating_duration_since(e).as_secs_f64())
    }

    fn clear(&mut self) {
        self.netcode = None;
        self.welcome = None;
        self.epoch = None;
        self.ack = None;
    }
}

/// The lanes of the next input command, one per field of the schema's input; written by the
/// game (empty: all zeros). Sampled once per server tick.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct InputLanes(pub Vec<i64>);

/// Bevy entity of each mirrored server entity.
#[derive(Resource, Debug, Default)]
pub struct EntityMap(pub HashMap<NetId, Entity>);

/// A mirrored server entity.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicated {
    /// Its wire id.
    pub id: NetId,
    /// Index into the schema's kinds.
    pub kind: u16,
}

/// Its lanes as the server last sent them (quantized, exact).
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct Held(pub Vec<i64>);

/// Where to draw it this frame, lane units; `ready` is false while an interpolated entity
/// that just entered view waits for the render clock to reach its first state.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Drawn {
    /// One value per field of the kind.
    pub lanes: Vec<f64>,
    /// Predicted, interpolated or held.
    pub source: Source,
    /// Whether to draw it at all.
    pub ready: bool,
}

/// Marks entities the local player owns.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owned;

/// Something that happened in the room.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum SyncEvent {
    /// A game event (or one of the engine's: chat, notice, rejected), at its snapshot's tick.
    Game(Event),
    /// A player joined the room (or was there when this client arrived).
    Joined {
        /// Who.
        player: PlayerId,
        /// Their name.
        name: String,
    },
    /// A player left for good.
    Left {
        /// Who.
        player: PlayerId,
        /// Their name.
        name: String,
    },
    /// A player's connection dropped (`false`: they may come back) or came back.
    Connection {
        /// Who.
        player: PlayerId,
        /// Whether it is up now.
        connected: bool,
    },
}

/// A reconciliation of a predicted entity after a snapshot.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct Corrected {
    /// The entity.
    pub id: NetId,
    /// What reconciling found.
    pub correction: Correction,
    /// When the snapshot arrived.
    pub at: Instant,
}

/// A chat line to send.
#[derive(Message, Debug, Clone)]
pub struct SendChat(pub String);

/// A game action to send (kind: index into the schema's actions).
#[derive(Message, Debug, Clone)]
pub struct SendAction {
    /// Index into the schema's actions.
    pub kind: u16,
    /// One value per field of the action.
    pub values: Vec<Value>,
}

/// Traffic figures for HUDs.
#[derive(Resource, Debug, Default)]
pub struct NetStats {
    /// Bytes received in the last second, by arrival time.
    recent: VecDeque<(Instant, usize)>,
    /// Total bytes received.
    pub bytes_down: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Frames dropped because they did not decode or did not fit the replica.
    pub dropped: u64,
    /// Actions sent.
    pub actions: u32,
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

fn start_link(mut commands: Commands, settings: Res<Settings>) {
    match NetLink::spawn(settings.link.clone()) {
        Ok(link) => commands.insert_resource(Link(Mutex::new(link))),
        Err(e) => error!("cannot start the network thread: {e}"),
    }
}

fn despawn_all(commands: &mut Commands, map: &mut EntityMap) {
    for (_, e) in map.0.drain() {
        commands.entity(e).despawn();
    }
}

#[allow(clippy::too_many_arguments)]
fn receive(
    mut commands: Commands,
    link: Option<Res<Link>>,
    settings: Res<Settings>,
    mut connection: ResMut<Connection>,
    mut session: ResMut<Session>,
    mut map: ResMut<EntityMap>,
    mut stats: ResMut<NetStats>,
    mut fixed: ResMut<Time<Fixed>>,
    mut events: MessageWriter<SyncEvent>,
    mut corrected: MessageWriter<Corrected>,
    mut held: Query<(&mut Held, Has<Owned>)>,
) {
    let Some(link) = link else { return };
    let Ok(mut net) = link.0.lock() else { return };
    while let Some(item) = net.try_recv() {
        let (bytes, at) = match item {
            FromNet::Status(status) => {
                match &status {
                    LinkStatus::Retrying { cause, .. } | LinkStatus::Stopped { cause } => {
                        connection.last_disconnect = Some(cause.clone());
                        session.clear();
                        despawn_all(&mut commands, &mut map);
                    }
                    LinkStatus::Connecting { .. } => {
                        session.clear();
                        despawn_all(&mut commands, &mut map);
                    }
                    LinkStatus::Joining { .. } | LinkStatus::Playing => {}
                }
                connection.status = status;
                continue;
            }
            FromNet::Frame(bytes, at) => (bytes, at),
            FromNet::Connected(t) => {
                connection.transport = Some(t);
                connection.mirrors = 0;
                continue;
            }
            FromNet::Mirrors(n) => {
                connection.mirrors = n;
                continue;
            }
        };
        stats.record(at, bytes.len());
        // A message 5 is decoded against its base, which `Netcode::handle_acked` picks: here it
        // only routes (its snapshot is a placeholder).
        let acked = matches!(peek_acked(&bytes), Ok(Some(_)));
        let decoded = match session.netcode.as_ref() {
            _ if acked => Ok(ServerMsg::Acked(Acked {
                back: 0,
                snapshot: Snapshot::default(),
            })),
            Some(n) => n.replica.decode(&bytes),
            None => decode_server(&bytes, None, &[]),
        };
        let msg = match decoded {
            Ok(m) => m,
            Err(e) => {
                debug!(error = %e, len = bytes.len(), "dropping an undecodable server message");
                stats.dropped += 1;
                continue;
            }
        };
        match msg {
            ServerMsg::Welcome(w) => {
                if let Some(game) = &settings.hooks.game
                    && *game != w.schema.game
                {
                    let why = format!(
                        "this client plays {game}, the server runs {}",
                        w.schema.game
                    );
                    error!("{why}");
                    net.command(ToNet::Stop(Disconnect::WrongGame(why)));
                    continue;
                }
                connection.resumed = w.resumed;
                connection.player = Some(w.player_id);
                connection.sessions += 1;
                connection.status = LinkStatus::Playing;
                fixed.set_timestep_hz(f64::from(w.tick_rate.max(1)));
                info!(
                    player = w.player_id.0,
                    tick_rate = w.tick_rate,
                    resumed = w.resumed,
                    game = w.schema.game,
                    "joined"
                );
                despawn_all(&mut commands, &mut map);
                let step = settings.hooks.predict.and_then(|f| f(&w));
                session.netcode = Some(Netcode::new(&w, NetcodeConfig::new(&w), step));
                session.welcome = Some(*w);
                session.epoch = Some(at);
            }
            ServerMsg::Pong(p) => {
                let now = session.secs(at);
                if let Some(n) = session.netcode.as_mut() {
                    n.handle_pong(&p, now);
                }
            }
            // With a replica, `Replica::decode` turns a tick marker into its snapshot; one
            // before the Welcome means nothing.
            ServerMsg::Marker(_) => {
                stats.dropped += 1;
            }
            // The connection task follows a redirect before any Welcome reaches here.
            ServerMsg::Redirect(_) => {
                stats.dropped += 1;
            }
            // Over WebTransport events come apart from their snapshots.
            ServerMsg::Events(e) => {
                for e in e.events {
                    events.write(SyncEvent::Game(e));
                }
            }
            msg @ (ServerMsg::Snapshot(_) | ServerMsg::Acked(_)) => {
                let sess = &mut *session;
                let now = sess.secs(at);
                let Some(n) = sess.netcode.as_mut() else {
                    continue;
                };
                let before: BTreeMap<PlayerId, (String, bool)> = n
                    .replica
                    .players
                    .iter()
                    .map(|(id, p)| (*id, (p.name.clone(), p.connected)))
                    .collect();
                let applied = match msg {
                    ServerMsg::Snapshot(snap) => {
                        n.handle_snapshot(&snap, now).map(|c| Some((snap, c)))
                    }
                    _ => n.handle_acked(&bytes, now).map(|o| o.map(|(s, c)| (*s, c))),
                };
                let (snap, changes) = match applied {
                    Ok(Some(x)) => x,
                    // A datagram that was stale (repeated, or overtaken): nothing changed.
                    Ok(None) => {
                        stats.dropped += 1;
                        continue;
                    }
                    Err(e) => {
                        // A replica that no longer matches the server cannot be repaired in
                        // place: drop the connection and start from a fresh full state.
                        warn!("replica diverged: {e}; reconnecting");
                        stats.dropped += 1;
                        net.command(ToNet::Reconnect(Disconnect::Diverged(e.to_string())));
                        sess.clear();
                        despawn_all(&mut commands, &mut map);
                        continue;
                    }
                };
                stats.snapshots += 1;
                if acked {
                    // Acknowledged by the next input, or alone if the last one still waits.
                    if sess.ack.is_some_and(|(_, sent)| !sent) {
                        let d = encode_datagram(Some(snap.tick), None, &n.replica.schema);
                        net.command(ToNet::Datagram(d));
                        sess.ack = Some((snap.tick, true));
                    } else {
                        sess.ack = Some((snap.tick, false));
                    }
                }
                let r = &n.replica;
                for (id, _) in &changes.removed {
                    if let Some(e) = map.0.remove(id) {
                        commands.entity(e).despawn();
                    }
                }
                for id in &changes.created {
                    let Some(e) = r.entities.get(id) else {
                        continue;
                    };
                    let mut ec = commands.spawn((
                        Replicated {
                            id: *id,
                            kind: e.kind,
                        },
                        Held(e.lanes.clone()),
                        Drawn {
                            lanes: e.lanes.iter().map(|v| *v as f64).collect(),
                            source: Source::Held,
                            ready: false,
                        },
                    ));
                    if n.owns(*id) {
                        ec.insert(Owned);
                    }
                    map.0.insert(*id, ec.id());
                }
                for (id, _) in &changes.updated {
                    if let (Some(ent), Some(e)) = (map.0.get(id), r.entities.get(id))
                        && let Ok((mut h, owned)) = held.get_mut(*ent)
                    {
                        h.0.clone_from(&e.lanes);
                        // The field that says whose it is may change (a card changing hands).
                        match (owned, n.owns(*id)) {
                            (false, true) => {
                                commands.entity(*ent).insert(Owned);
                            }
                            (true, false) => {
                                commands.entity(*ent).remove::<Owned>();
                            }
                            _ => {}
                        }
                    }
                }
                for p in &changes.players_left {
                    let name = before.get(p).map(|b| b.0.clone()).unwrap_or_default();
                    events.write(SyncEvent::Left { player: *p, name });
                }
                for p in &changes.players_changed {
                    let Some(now) = r.players.get(p) else {
                        continue;
                    };
                    match before.get(p) {
                        None => {
                            events.write(SyncEvent::Joined {
                                player: *p,
                                name: now.name.clone(),
                            });
                        }
                        Some((_, was)) if *was != now.connected => {
                            events.write(SyncEvent::Connection {
                                player: *p,
                                connected: now.connected,
                            });
                        }
                        Some(_) => {}
                    }
                }
                for (id, correction) in n.last_corrections() {
                    corrected.write(Corrected {
                        id: *id,
                        correction: *correction,
                        at,
                    });
                }
                for e in snap.events {
                    events.write(SyncEvent::Game(e));
                }
            }
        }
    }
}

fn send_input(
    link: Option<Res<Link>>,
    lanes: Res<InputLanes>,
    connection: Res<Connection>,
    mut session: ResMut<Session>,
) {
    let Some(link) = link else { return };
    let now = session.secs(Instant::now());
    let session = &mut *session;
    let Some(n) = session.netcode.as_mut() else {
        return;
    };
    let width = n.replica.schema.input.len();
    let mut cmd = lanes.0.clone();
    cmd.resize(width, 0);
    let msg = n.make_input(cmd);
    if connection.transport == Some(Transport::WebTransport) {
        // A datagram, carrying the acknowledgement of the newest snapshot applied.
        let ack = session.ack.as_mut().map(|(t, sent)| {
            *sent = true;
            *t
        });
        link.command(ToNet::Datagram(encode_datagram(
            ack,
            Some(&msg),
            &n.replica.schema,
        )));
    } else {
        let mut out = Vec::new();
        encode_client(&msg, &n.replica.schema, &mut out);
        link.command(ToNet::Send(out));
    }
    if let Some(ping) = n.poll_ping(now) {
        let mut out = Vec::new();
        encode_client(&ping, &n.replica.schema, &mut out);
        link.command(ToNet::Send(out));
    }
}

fn send_chat_and_actions(
    link: Option<Res<Link>>,
    session: Res<Session>,
    mut stats: ResMut<NetStats>,
    mut chat: MessageReader<SendChat>,
    mut actions: MessageReader<SendAction>,
) {
    let (Some(link), Some(n)) = (link, session.netcode.as_ref()) else {
        chat.clear();
        actions.clear();
        return;
    };
    let schema = &n.replica.schema;
    let send = |msg: ClientMsg| {
        let mut out = Vec::new();
        encode_client(&msg, schema, &mut out);
        link.command(ToNet::Send(out));
    };
    for line in chat.read() {
        let text = line.0.trim();
        if !text.is_empty() {
            send(ClientMsg::Chat(text.to_string()));
        }
    }
    for a in actions.read() {
        stats.actions += 1;
        send(ClientMsg::Action(Action {
            seq: stats.actions,
            kind: a.kind,
            values: a.values.clone(),
        }));
    }
}

fn update_drawn(mut session: ResMut<Session>, mut drawn: Query<(&Replicated, &mut Drawn)>) {
    let now = session.secs(Instant::now());
    let Some(n) = session.netcode.as_mut() else {
        return;
    };
    n.advance(now);
    for (r, mut d) in &mut drawn {
        match n.view(r.id) {
            Some(v) => {
                d.lanes = v.lanes;
                d.source = v.source;
                d.ready = true;
            }
            None => d.ready = false,
        }
    }
}
