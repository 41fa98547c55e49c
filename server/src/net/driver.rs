//! What the room task drives: a room of any game, behind one object-safe trait.
//!
//! The room task and the connection tasks are the same for every game; what differs is the
//! room inside: an engine [`Room`] of some [`Game`], behind [`RoomLogic`] so the tasks are not
//! generic over the game. Its clients' messages are encoded from the game's schema
//! ([`RoomLogic::schema`]).

use crate::config::Config;
use std::sync::Arc;
use tickwire_engine::{ChatOutcome, EngineConfig, Game, InputOutcome, Room};
use tickwire_shared::close::CloseReason;
use tickwire_shared::schema::Schema;
use tickwire_shared::{PlayerId, Tick, sync};

/// A joined client's message for the game, decoded.
#[derive(Debug)]
pub enum GameMsg {
    /// Input commands of the game's schema.
    Inputs(Vec<sync::InputCmd>),
    /// A reliable action of the game's schema.
    Action(sync::Action),
}

/// A player let in by a room.
pub struct Admitted {
    /// The player.
    pub player_id: PlayerId,
    /// The encoded `Welcome`.
    pub welcome: Vec<u8>,
    /// Whether it took back a seat with a resume token.
    pub resumed: bool,
}

/// What one tick produced (see [`tickwire_engine::TickOutput`]).
pub struct Produced {
    /// Encoded snapshot for each client that had room for one.
    pub messages: Vec<(PlayerId, Vec<u8>)>,
    /// Clients dropped this tick and why.
    pub kicked: Vec<(PlayerId, CloseReason)>,
    /// Clients that skipped this tick.
    pub skipped: u32,
    /// Events dropped from snapshots this tick (clients that fell behind).
    pub events_dropped: u64,
    /// Entity updates held back this tick by the clients' byte budgets.
    pub updates_held: u64,
    /// NetId releases the room refused so far (see `Room::net_id_errors`).
    pub net_id_errors: u64,
    /// Matches the game ended (to be kept; see [`crate::persist`]).
    pub results: Vec<tickwire_engine::MatchResult>,
    /// A tick between snapshots (the room sends every few ticks under overload).
    pub between: bool,
}

/// What happened to a game message, for metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct MsgOutcome {
    /// Input commands (queued, duplicates, rejected).
    pub inputs: InputOutcome,
    /// An action the game refused.
    pub action_refused: bool,
}

/// A room the room task can drive, whatever its game.
pub trait RoomLogic: Send + 'static {
    /// The game's schema: what its clients' messages are encoded from.
    fn schema(&self) -> Arc<Schema>;
    /// The player a resume token belongs to.
    fn token_owner(&self, token: &str) -> Option<PlayerId>;
    /// Whether a player is connected (not waiting for a resume).
    fn is_connected(&self, id: PlayerId) -> bool;
    /// Whether a player is in the room (connected, or waiting for a resume).
    fn has_player(&self, id: PlayerId) -> bool;
    /// Every player in the room: id, display name, connected (not waiting for a resume).
    fn players(&self) -> Vec<(PlayerId, String, bool)>;
    /// A server notice for everyone (`to` None) or one player.
    fn notice(&mut self, to: Option<PlayerId>, text: &str);
    /// Adds a player, or takes a disconnected one back.
    fn join(&mut self, name: &str, resume: Option<&str>) -> Result<Admitted, CloseReason>;
    /// A player's connection dropped; it may resume.
    fn disconnect(&mut self, id: PlayerId);
    /// The player's connection takes its snapshots as datagrams ([`Room::set_unreliable`]).
    fn set_unreliable(&mut self, id: PlayerId);
    /// The player (over datagrams) applied the snapshot of `tick` ([`Room::handle_ack`]).
    fn ack(&mut self, id: PlayerId, tick: Tick);
    /// A player left for good.
    fn leave(&mut self, id: PlayerId);
    /// A message for the game from a joined player.
    fn message(&mut self, id: PlayerId, msg: GameMsg) -> MsgOutcome;
    /// A chat line.
    fn chat(&mut self, id: PlayerId, text: &str) -> ChatOutcome;
    /// Runs one tick; `ready(player)` says whether its outbox has room.
    fn tick(&mut self, ready: &mut dyn FnMut(PlayerId) -> bool) -> Produced;
    /// Sends snapshots every `ticks` ticks (1: every tick; see `Room::set_snapshot_interval`).
    fn set_snapshot_interval(&mut self, ticks: u32);
    /// The latest completed tick.
    fn tick_count(&self) -> Tick;
    /// Players, including those waiting for a resume.
    fn player_count(&self) -> usize;
    /// Replicated entities.
    fn entity_count(&self) -> usize;
    /// The most players it seats.
    fn max_players(&self) -> usize;
}

impl<G: Game> RoomLogic for Room<G> {
    fn schema(&self) -> Arc<Schema> {
        Room::schema(self).clone()
    }

    fn token_owner(&self, token: &str) -> Option<PlayerId> {
        Room::token_owner(self, token)
    }

    fn is_connected(&self, id: PlayerId) -> bool {
        Room::is_connected(self, id)
    }

    fn has_player(&self, id: PlayerId) -> bool {
        Room::has_player(self, id)
    }

    fn notice(&mut self, to: Option<PlayerId>, text: &str) {
        match to {
            None => Room::notice(self, text),
            Some(id) => Room::notice_to(self, id, text),
        }
    }

    fn players(&self) -> Vec<(PlayerId, String, bool)> {
        Room::players(self)
            .map(|(id, name, connected)| (id, name.to_string(), connected))
            .collect()
    }

    fn join(&mut self, name: &str, resume: Option<&str>) -> Result<Admitted, CloseReason> {
        self.handle_join(name, resume)
            .map(|j| Admitted {
                player_id: j.player_id,
                welcome: j.welcome,
                resumed: j.resumed,
            })
            .map_err(|e| e.close_reason())
    }

    fn disconnect(&mut self, id: PlayerId) {
        self.handle_disconnect(id);
    }

    fn set_unreliable(&mut self, id: PlayerId) {
        Room::set_unreliable(self, id);
    }

    fn ack(&mut self, id: PlayerId, tick: Tick) {
        self.handle_ack(id, tick);
    }

    fn leave(&mut self, id: PlayerId) {
        self.handle_leave(id);
    }

    fn message(&mut self, id: PlayerId, msg: GameMsg) -> MsgOutcome {
        match msg {
            GameMsg::Inputs(cmds) => MsgOutcome {
                inputs: self.handle_inputs(id, cmds),
                action_refused: false,
            },
            GameMsg::Action(a) => MsgOutcome {
                inputs: InputOutcome::default(),
                action_refused: self.handle_action(id, &a).is_err(),
            },
        }
    }

    fn chat(&mut self, id: PlayerId, text: &str) -> ChatOutcome {
        self.handle_chat(id, text)
    }

    fn tick(&mut self, ready: &mut dyn FnMut(PlayerId) -> bool) -> Produced {
        let out = Room::tick(self, ready);
        Produced {
            messages: out.messages,
            kicked: out.kicked,
            skipped: out.skipped,
            events_dropped: out.events_dropped,
            updates_held: out.updates_held,
            net_id_errors: self.net_id_errors(),
            results: out.results,
            between: out.between,
        }
    }

    fn set_snapshot_interval(&mut self, ticks: u32) {
        Room::set_snapshot_interval(self, ticks);
    }

    fn tick_count(&self) -> Tick {
        Room::tick_count(self)
    }

    fn player_count(&self) -> usize {
        Room::player_count(self)
    }

    fn entity_count(&self) -> usize {
        Room::entity_count(self)
    }

    fn max_players(&self) -> usize {
        Room::max_players(self)
    }
}

/// The games this binary bundles (`--game NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GameName {
    /// The arena shooter (the default).
    Arena,
    /// Eights, a turn-based card game with hidden hands (`games/cards`).
    Cards,
    /// A co-op survival against zombie waves (`games/survival`).
    Survival,
    /// The everyone-in-view benchmark scenario (`games/inview`): one room, everyone moving,
    /// no interest management; positions and angle declared `extrapolate`.
    Inview,
    /// The same scenario with the encoding games used before extrapolation (`delta`
    /// positions, the angle absolute), for comparisons.
    InviewPlain,
}

type MakeRoom = dyn Fn(&Config, EngineConfig) -> Box<dyn RoomLogic> + Send + Sync;

/// The game a server's version-2 rooms play: how to make one room of it, and its schema.
/// [`Server::bind`](crate::Server::bind) plays the bundled game `--game` names; a developer's
/// own game is served with [`Server::bind_game`](crate::Server::bind_game) and
/// [`GameRooms::new`].
#[derive(Clone)]
pub struct GameRooms {
    schema: Arc<Schema>,
    make: Arc<MakeRoom>,
}

impl GameRooms {
    /// Rooms of a game: `make` builds the game of a new room from the server's settings, and
    /// may adjust the engine's settings for it (the world's size, say).
    pub fn new<G: Game>(
        make: impl Fn(&Config, &mut EngineConfig) -> G + Send + Sync + 'static,
    ) -> GameRooms {
        let schema = make(&Config::default(), &mut EngineConfig::default()).schema();
        GameRooms {
            schema: Arc::new(schema),
            make: Arc::new(move |config, mut engine| {
                let game = make(config, &mut engine);
                Box::new(Room::new(engine, game))
            }),
        }
    }

    /// A bundled game.
    pub fn bundled(name: GameName) -> GameRooms {
        match name {
            GameName::Arena => GameRooms::new(|config, engine| {
                let arena = config.arena();
                engine.area = (arena.width, arena.height);
                tickwire_arena::ArenaGame::new(tickwire_arena::ArenaConfig {
                    arena,
                    tick_rate: config.tick_rate,
                    view_radius: config.view_radius,
                    seed: config.seed,
                    lag_comp_ms: config.lag_comp_ms,
                    round_secs: config.round_time.as_secs() as u32,
                })
            }),
            GameName::Cards => GameRooms::new(|config, engine| {
                // A table seats four: quick-match opens another for the fifth player.
                engine.max_players = engine.max_players.min(tickwire_cards::table::MAX_SEATS);
                // Every room shuffles its own way: the server's seed mixed with the room's id.
                let room = engine.id.bytes().fold(0u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
                tickwire_cards::CardsGame::new(tickwire_cards::CardsConfig {
                    seed: config.seed ^ room,
                    tick_rate: config.tick_rate,
                    ..tickwire_cards::CardsConfig::default()
                })
            }),
            GameName::Survival => GameRooms::new(|config, engine| {
                let survival = tickwire_survival::SurvivalConfig {
                    tick_rate: config.tick_rate,
                    view_radius: config.view_radius,
                    seed: config.seed,
                    ..tickwire_survival::SurvivalConfig::default()
                };
                engine.area = (survival.width, survival.height);
                tickwire_survival::SurvivalGame::new(survival)
            }),
            GameName::Inview | GameName::InviewPlain => GameRooms::new(move |config, _| {
                tickwire_inview::InviewGame::new(tickwire_inview::InviewConfig {
                    tick_rate: config.tick_rate,
                    extrapolate: name == GameName::Inview,
                })
            }),
        }
    }

    /// The game's schema (what connections decode with).
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// A new room with id `id`.
    pub fn make(&self, config: &Config, id: &str) -> Box<dyn RoomLogic> {
        (self.make)(config, engine_config(config, id))
    }
}

/// The engine's settings of room `id` from the server's.
pub fn engine_config(config: &Config, id: &str) -> EngineConfig {
    EngineConfig {
        tick_rate: config.tick_rate,
        max_players: config.max_players,
        checksum_interval: config.checksum_interval,
        max_skipped_ticks: config.max_skipped_ticks,
        id: id.to_string(),
        resume_grace_ticks: config.ticks(config.resume_grace),
        chat_burst: config.chat_burst,
        chat_refill_ticks: config.ticks(config.chat_interval),
        motd: config.motd.clone(),
        max_event_bytes: config.max_event_bytes as usize,
        client_budget: (config.client_budget > 0).then_some(config.client_budget),
        ..EngineConfig::default()
    }
}
