//! `NetPlugin`: the arena on top of the game-independent [`SyncPlugin`].
//!
//! [`crate::sync`] mirrors the room into Bevy entities for any game; this module is what the
//! arena adds: its hooks (the schema's name and the prediction step from
//! `tickwire_arena::client`), the player's [`PlayerIntent`] turned into the input command's
//! lanes once per server tick, the game's events as [`GameEvent`]s, the scoreboard and map as
//! [`Game`], and a render-ready [`ViewState`] built each frame from the mirrored entities
//! ([`Replicated`], [`Held`], [`Drawn`]). It draws nothing and reads no keyboard: rendering and
//! controls are other plugins, so it runs headless under `MinimalPlugins` in tests.

use crate::from_shared;
pub use crate::sync::{
    Connection, Disconnect, Link, LinkConfig, LinkStatus, NetStats, SendChat as OutgoingChat,
    SyncSystems as NetSystems, ToNet,
};
use crate::sync::{
    Corrected, Drawn, GameHooks, Held, InputLanes, Owned, Replicated, Session, SyncEvent,
    SyncPlugin,
};
use bevy::prelude::*;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};
use tickwire_arena::client::{ClientConfig, Intent, input_lanes, predict_step, projectile_at};
use tickwire_arena::{BODY, HITSCAN, KILL, PROJECTILE, RESPAWN, body, scores};
use tickwire_shared::schema::engine_events;
use tickwire_shared::sync::netcode::Source;
use tickwire_shared::sync::predict::{Correction, PredictStep};
use tickwire_shared::sync::{Event, Welcome};
use tickwire_shared::{NetId, PlayerId};

/// The arena's networking: [`SyncPlugin`] with the arena's hooks, and the arena's view of it.
pub struct NetPlugin {
    /// Where to connect and how to reconnect.
    pub link: LinkConfig,
}

fn arena_step(w: &Welcome) -> Option<Box<dyn PredictStep + Send + Sync>> {
    match ClientConfig::parse(&w.game_config) {
        Ok(c) => Some(Box::new(predict_step(&c))),
        Err(e) => {
            warn!("the arena's game_config does not parse ({e}): nothing is predicted");
            None
        }
    }
}

impl Plugin for NetPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(SyncPlugin {
            link: self.link.clone(),
            hooks: GameHooks {
                game: Some("arena".into()),
                predict: Some(arena_step),
            },
        })
        .init_resource::<PlayerIntent>()
        .init_resource::<ViewState>()
        .init_resource::<Game>()
        .init_resource::<CorrectionLog>()
        .init_resource::<LocalTrail>()
        .add_message::<GameEvent>()
        .add_systems(
            PreUpdate,
            (refresh_game, translate_events, log_corrections)
                .chain()
                .after(NetSystems::Receive),
        )
        .add_systems(FixedUpdate, write_input.before(NetSystems::Send))
        .add_systems(Update, build_view.after(NetSystems::View));
    }
}

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

/// The intent as the arena's intent (the shared crate's `glam`).
pub fn to_arena_intent(i: &PlayerIntent) -> Intent {
    Intent {
        movement: glam::Vec2::new(i.movement.x, i.movement.y),
        aim: i.aim,
        fire: i.fire,
        alt_fire: i.alt_fire,
    }
}

/// One row of the scoreboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerEntry {
    /// Who.
    pub id: PlayerId,
    /// Display name.
    pub name: String,
    /// Kills.
    pub score: u32,
    /// Deaths.
    pub deaths: u32,
    /// Whether their connection is up.
    pub connected: bool,
}

/// The arena as this client knows it while connected.
#[derive(Debug, Clone)]
pub struct ArenaState {
    /// The map and the rules, from `Welcome`.
    pub config: ClientConfig,
    /// This client's player.
    pub player_id: PlayerId,
    /// Everyone in the room (the replicated player records).
    pub players: BTreeMap<PlayerId, PlayerEntry>,
    /// The server tick of the last snapshot.
    pub tick: u32,
}

/// The arena while connected; `None` between connections.
#[derive(Resource, Default)]
pub struct Game(pub Option<ArenaState>);

/// Something that happened in the arena, for the kill feed, chat and effects.
#[derive(Debug, Clone, PartialEq)]
pub enum ArenaEvent {
    /// `killer` killed `victim` (the same player: died alone).
    Kill {
        /// Who scored.
        killer: PlayerId,
        /// Who died.
        victim: PlayerId,
    },
    /// A player is back in play.
    Respawn {
        /// Who.
        player: PlayerId,
    },
    /// A rail shot, from where to where it stopped.
    Hitscan {
        /// Who fired.
        shooter: PlayerId,
        /// Start, world units.
        from: Vec2,
        /// End, world units.
        to: Vec2,
        /// Who was hit.
        victim: Option<PlayerId>,
    },
    /// A chat line.
    Chat {
        /// Who said it.
        player: PlayerId,
        /// What.
        text: String,
    },
    /// A message from the server.
    Notice {
        /// What.
        text: String,
    },
    /// A player joined.
    Join {
        /// Who.
        player: PlayerId,
        /// Their name.
        name: String,
    },
    /// A player left for good.
    Leave {
        /// Who.
        player: PlayerId,
        /// Their name.
        name: String,
    },
    /// A player's connection dropped (they may come back) or came back.
    Connection {
        /// Who.
        player: PlayerId,
        /// Whether it is up now.
        connected: bool,
    },
}

/// An arena event, as a Bevy message.
#[derive(Message, Debug, Clone)]
pub struct GameEvent(pub ArenaEvent);

fn refresh_game(session: Res<Session>, mut game: ResMut<Game>) {
    let (Some(n), Some(w)) = (session.netcode.as_ref(), session.welcome.as_ref()) else {
        game.0 = None;
        return;
    };
    if game.0.as_ref().is_some_and(|g| g.tick == n.replica.tick.0) {
        return;
    }
    let config = match game.0.take() {
        Some(g) if g.player_id == n.replica.player_id => g.config,
        _ => match ClientConfig::parse(&w.game_config) {
            Ok(c) => c,
            Err(e) => {
                warn!("the arena's game_config does not parse: {e}");
                return;
            }
        },
    };
    let players = n
        .replica
        .players
        .iter()
        .map(|(id, p)| {
            let lane = |i: usize| p.lanes.get(i).copied().unwrap_or(0) as u32;
            let entry = PlayerEntry {
                id: *id,
                name: p.name.clone(),
                score: lane(scores::kills),
                deaths: lane(scores::deaths),
                connected: p.connected,
            };
            (*id, entry)
        })
        .collect();
    game.0 = Some(ArenaState {
        config,
        player_id: n.replica.player_id,
        players,
        tick: n.replica.tick.0,
    });
}

fn translate_events(mut sync: MessageReader<SyncEvent>, mut out: MessageWriter<GameEvent>) {
    for e in sync.read() {
        let event = match e {
            SyncEvent::Game(e) => arena_event(e),
            SyncEvent::Joined { player, name } => Some(ArenaEvent::Join {
                player: *player,
                name: name.clone(),
            }),
            SyncEvent::Left { player, name } => Some(ArenaEvent::Leave {
                player: *player,
                name: name.clone(),
            }),
            SyncEvent::Connection { player, connected } => Some(ArenaEvent::Connection {
                player: *player,
                connected: *connected,
            }),
        };
        if let Some(e) = event {
            out.write(GameEvent(e));
        }
    }
}

/// The arena's meaning of an event (`None` for ones the client does not show).
pub fn arena_event(e: &Event) -> Option<ArenaEvent> {
    let int = |i: usize| e.values.get(i).map_or(0, |v| v.int());
    let player = |i: usize| PlayerId(int(i) as u32);
    let pos = |i: usize, j: usize| Vec2::new(int(i) as f32 / 8.0, int(j) as f32 / 8.0);
    let text = |i: usize| e.values.get(i).map_or("", |v| v.str()).to_string();
    Some(match e.kind {
        engine_events::CHAT => ArenaEvent::Chat {
            player: player(0),
            text: text(1),
        },
        engine_events::NOTICE => ArenaEvent::Notice { text: text(0) },
        KILL => ArenaEvent::Kill {
            killer: player(0),
            victim: player(1),
        },
        RESPAWN => ArenaEvent::Respawn { player: player(0) },
        HITSCAN => ArenaEvent::Hitscan {
            shooter: player(0),
            from: pos(1, 2),
            to: pos(3, 4),
            victim: Some(player(5)).filter(|p| p.0 != 0),
        },
        _ => return None,
    })
}

/// The local body's exact predicted position before and after the last command, to draw it
/// between the two (it moves every frame, not every tick).
#[derive(Resource, Debug, Default)]
struct LocalTrail {
    previous: Option<glam::Vec2>,
}

fn local_exact(session: &Session) -> Option<(NetId, glam::Vec2)> {
    let n = session.netcode.as_ref()?;
    let id = n.owned(Some(BODY)).next()?;
    let p = n.predicted(id)?;
    Some((id, body_pos(p[body::x] as f64, p[body::y] as f64)))
}

fn body_pos(x: f64, y: f64) -> glam::Vec2 {
    glam::Vec2::new((x / 8.0) as f32, (y / 8.0) as f32)
}

fn write_input(
    intent: Res<PlayerIntent>,
    session: Res<Session>,
    mut lanes: ResMut<InputLanes>,
    mut trail: ResMut<LocalTrail>,
) {
    trail.previous = local_exact(&session).map(|(_, p)| p);
    lanes.0 = input_lanes(&to_arena_intent(&intent));
}

/// Reconciliation corrections as they happened.
#[derive(Resource, Debug, Default)]
pub struct CorrectionLog {
    recent: VecDeque<(Instant, f64)>,
    sum: f64,
    summary: Corrections,
}

/// How long the "largest recent correction" looks back.
const RECENT: Duration = Duration::from_secs(1);

impl CorrectionLog {
    fn record(&mut self, at: Instant, c: Correction) {
        if c.snapped {
            self.summary.snaps += 1;
            return;
        }
        let s = &mut self.summary;
        let error = c.error as f32;
        s.samples += 1;
        s.last = error;
        if error > 0.0 {
            s.count += 1;
        }
        self.sum += c.error;
        s.mean = (self.sum / s.samples as f64) as f32;
        s.max = s.max.max(error);
        self.recent.push_back((at, c.error));
    }

    fn summary(&mut self, now: Instant) -> Corrections {
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RECENT)
        {
            self.recent.pop_front();
        }
        self.summary.max_recent = self
            .recent
            .iter()
            .map(|(_, e)| *e as f32)
            .fold(0.0, f32::max);
        self.summary
    }
}

fn log_corrections(
    mut corrected: MessageReader<Corrected>,
    connection: Res<Connection>,
    mut log: ResMut<CorrectionLog>,
    mut trail: ResMut<LocalTrail>,
    mut sessions: Local<u32>,
) {
    if *sessions != connection.sessions {
        *sessions = connection.sessions;
        *log = CorrectionLog::default();
        trail.previous = None;
    }
    for c in corrected.read() {
        log.record(c.at, c.correction);
        if c.correction.snapped {
            // A jump (respawn): do not draw a slide from the old place.
            trail.previous = None;
        }
    }
}

/// How far reconciliation had to move the local player's prediction (world units), for the
/// debug overlay.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Corrections {
    /// The last correction.
    pub last: f32,
    /// The largest in the last second.
    pub max_recent: f32,
    /// The largest this session.
    pub max: f32,
    /// Mean over every reconciliation.
    pub mean: f32,
    /// Reconciliations that found the prediction wrong (error above 0).
    pub count: u64,
    /// Reconciliations (smoothed ones; snaps are counted apart).
    pub samples: u64,
    /// Reconciliations that jumped instead (spawn, respawn, large error).
    pub snaps: u64,
}

/// What kind of thing a [`ViewEntity`] is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ViewKind {
    /// A player's body.
    Player {
        /// Whose.
        player: PlayerId,
        /// Health, 0..=max.
        health: u8,
        /// Whether alive.
        alive: bool,
        /// Whether it is this client's player.
        local: bool,
    },
    /// A projectile.
    Projectile,
}

/// An entity as it should be drawn this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewEntity {
    /// Its wire id.
    pub id: NetId,
    /// What it is.
    pub kind: ViewKind,
    /// World position (y down).
    pub pos: Vec2,
    /// Facing, radians.
    pub aim: f32,
}

/// The local player's two positions: where prediction says it is and where the server last
/// said it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalView {
    /// Where the body is drawn: the prediction (between its last two ticks) plus the
    /// decaying visual correction.
    pub predicted: Vec2,
    /// Authoritative position from the last snapshot (the debug ghost).
    pub server: Vec2,
}

/// Everything the renderer and HUD need for this frame.
#[derive(Resource, Debug, Default)]
pub struct ViewState {
    /// Entities in view.
    pub entities: Vec<ViewEntity>,
    /// The local player, once its body is known.
    pub local: Option<LocalView>,
    /// The server tick being shown for remote entities (fractional).
    pub render_tick: f64,
    /// The estimated current server tick.
    pub server_tick: f64,
    /// Interpolation delay, milliseconds.
    pub interp_delay_ms: f32,
    /// Median round trip, when measured.
    pub rtt: Option<Duration>,
    /// Reconciliation figures.
    pub corrections: Corrections,
    /// The instant this view was built for (the render clock's "now").
    pub built_at: Option<Instant>,
}

impl ViewState {
    /// Forgets everything (between connections).
    pub fn clear(&mut self) {
        self.entities.clear();
        self.local = None;
    }

    /// The view entity of a player's body, if in view.
    pub fn player(&self, player: PlayerId) -> Option<&ViewEntity> {
        self.entities
            .iter()
            .find(|e| matches!(e.kind, ViewKind::Player { player: p, .. } if p == player))
    }
}

#[allow(clippy::too_many_arguments)]
fn build_view(
    session: Res<Session>,
    game: Res<Game>,
    fixed: Res<Time<Fixed>>,
    intent: Res<PlayerIntent>,
    trail: Res<LocalTrail>,
    mut log: ResMut<CorrectionLog>,
    mut view: ResMut<ViewState>,
    entities: Query<(&Replicated, &Held, &Drawn, Has<Owned>)>,
) {
    let (Some(n), Some(g)) = (session.netcode.as_ref(), game.0.as_ref()) else {
        view.clear();
        return;
    };
    let now = Instant::now();
    view.entities.clear();
    view.local = None;
    view.built_at = Some(now);
    view.render_tick = n.clock.render_tick();
    view.server_tick = n.clock.server_tick().unwrap_or(f64::from(n.replica.tick.0));
    view.interp_delay_ms = (n.clock.delay_ticks() * n.clock.tick_seconds() * 1000.0) as f32;
    view.rtt = n.clock.rtt().map(Duration::from_secs_f64);
    view.corrections = log.summary(now);
    let angle8 = |v: f64| (v / 256.0 * std::f64::consts::TAU) as f32;
    for (r, held, drawn, owned) in &entities {
        if !drawn.ready {
            continue;
        }
        let d = &drawn.lanes;
        match r.kind {
            BODY => {
                let player = PlayerId(held.0[body::player] as u32);
                let local = owned && drawn.source == Source::Predicted;
                let mut pos = from_shared(body_pos(d[body::x], d[body::y]));
                let mut aim = angle8(d[body::aim]);
                if local {
                    // Between the last two predictions by how far this frame is into the
                    // tick, plus the decaying correction the predictor adds.
                    let exact = local_exact(&session).map(|(_, p)| p);
                    if let Some(current) = exact {
                        let offset = body_pos(d[body::x], d[body::y]) - current;
                        let previous = trail.previous.unwrap_or(current);
                        let f = fixed.overstep_fraction().clamp(0.0, 1.0);
                        pos = from_shared(previous.lerp(current, f) + offset);
                    }
                    aim = intent.aim;
                    let server =
                        from_shared(body_pos(held.0[body::x] as f64, held.0[body::y] as f64));
                    view.local = Some(LocalView {
                        predicted: pos,
                        server,
                    });
                }
                view.entities.push(ViewEntity {
                    id: r.id,
                    kind: ViewKind::Player {
                        player,
                        health: held.0[body::health].clamp(0, 255) as u8,
                        alive: held.0[body::alive] != 0,
                        local,
                    },
                    pos,
                    aim,
                });
            }
            PROJECTILE => {
                let pos = projectile_at(&held.0, &g.config.rules, view.render_tick);
                view.entities.push(ViewEntity {
                    id: r.id,
                    kind: ViewKind::Projectile,
                    pos: from_shared(pos),
                    aim: 0.0,
                });
            }
            _ => {}
        }
    }
    // The local body first, then by id: a stable order for the renderer and tests.
    view.entities.sort_by_key(|e| {
        (
            !matches!(e.kind, ViewKind::Player { local: true, .. }),
            e.id,
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_shared::sync::Value;

    #[test]
    fn correction_log_keeps_last_recent_max_and_mean() {
        let t0 = Instant::now();
        let mut log = CorrectionLog::default();
        let c = |error| Correction {
            error,
            snapped: false,
        };
        log.record(t0, c(0.0));
        log.record(t0, c(3.0));
        log.record(
            t0 + Duration::from_millis(1500),
            Correction {
                error: 99.0,
                snapped: true,
            },
        );
        log.record(t0 + Duration::from_millis(1600), c(1.5));
        let s = log.summary(t0 + Duration::from_millis(1700));
        assert_eq!((s.last, s.max_recent, s.max, s.mean), (1.5, 1.5, 3.0, 1.5));
        assert_eq!((s.count, s.samples, s.snaps), (2, 3, 1));
    }

    #[test]
    fn arena_events_are_read_by_field() {
        let e = |kind, values: Vec<i64>| Event {
            kind,
            values: values.into_iter().map(Value::Int).collect(),
        };
        assert_eq!(
            arena_event(&e(HITSCAN, vec![3, 80, 16, 800, 160, 0])),
            Some(ArenaEvent::Hitscan {
                shooter: PlayerId(3),
                from: Vec2::new(10.0, 2.0),
                to: Vec2::new(100.0, 20.0),
                victim: None,
            })
        );
        assert_eq!(
            arena_event(&e(KILL, vec![1, 2])),
            Some(ArenaEvent::Kill {
                killer: PlayerId(1),
                victim: PlayerId(2)
            })
        );
        assert_eq!(arena_event(&e(engine_events::REJECTED, vec![1])), None);
    }
}
