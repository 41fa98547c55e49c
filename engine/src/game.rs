//! What a game implements ([`Game`]) and what the engine hands it: a [`Ctx`] to spawn and
//! despawn entities and emit events, and a [`World`] to write what it replicates into.
//!
//! A game is plain deterministic Rust: it owns its state, the engine calls it at fixed points
//! of the tick, and time and ids come in through the context. It never sees a socket, a
//! client's baseline or a byte of the wire.

use crate::net_ids::NetIds;
use glam::Vec2;
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::{Action, Event, InputCmd, Value};
use tickwire_shared::{NetId, PlayerId, Tick};

/// Who receives an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Audience {
    /// Every connected player in the room.
    All,
    /// One player.
    Player(PlayerId),
    /// The players of one team (as [`Game::team`] says).
    Team(u16),
    /// The players whose view contains this point (everyone, for a game without a view
    /// radius).
    Near(Vec2),
}

/// Who may see an entity at all (interest then decides whether it is in view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Anyone whose view contains it.
    #[default]
    Everyone,
    /// Only its owner.
    Owner,
    /// Only players of this team.
    Team(u16),
}

/// One entity as the game replicates it this tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntityMeta {
    /// Its wire id (from [`Ctx::spawn`]).
    pub id: NetId,
    /// Index into the schema's kinds.
    pub kind: u16,
    /// The player it belongs to: it is always in its owner's view, and its owner-only fields
    /// reach only the owner.
    pub owner: Option<PlayerId>,
    /// Where it is, for spatial interest; `None` puts it in every view (a card, a scoreboard
    /// entity).
    pub pos: Option<Vec2>,
    /// Who may see it.
    pub visibility: Visibility,
    /// How much it matters to a viewer next to distance (1 by default): a client over its
    /// byte budget ([`crate::EngineConfig::client_budget`]) is sent the updates of entities
    /// with more accumulated priority first, and priority grows each tick an update waits by
    /// this weight times a closeness factor.
    pub relevance: f32,
}

impl EntityMeta {
    /// An entity everyone near it sees.
    pub fn new(id: NetId, kind: u16) -> EntityMeta {
        EntityMeta {
            id,
            kind,
            owner: None,
            pos: None,
            visibility: Visibility::Everyone,
            relevance: 1.0,
        }
    }

    /// Sets its relevance (see [`EntityMeta::relevance`]; negative values count as 0).
    pub fn relevance(mut self, r: f32) -> Self {
        self.relevance = r.max(0.0);
        self
    }

    /// Places it, for spatial interest.
    pub fn at(mut self, pos: Vec2) -> Self {
        self.pos = Some(pos);
        self
    }

    /// Gives it an owner.
    pub fn owned_by(mut self, player: PlayerId) -> Self {
        self.owner = Some(player);
        self
    }

    /// Restricts who may see it.
    pub fn visible_to(mut self, v: Visibility) -> Self {
        self.visibility = v;
        self
    }
}

/// What a game replicates this tick: its entities, every player's record and the room's
/// fields. The engine clears it before each [`Game::replicate`].
#[derive(Debug, Default)]
pub struct World {
    pub(crate) entities: Vec<(EntityMeta, u32)>,
    pub(crate) lanes: Vec<i64>,
    pub(crate) players: Vec<(PlayerId, u32)>,
    pub(crate) player_lanes: Vec<i64>,
    pub(crate) room: Vec<i64>,
}

impl World {
    /// Adds an entity with one lane per field of its kind (quantized: see
    /// [`tickwire_shared::schema`]).
    pub fn entity(&mut self, meta: EntityMeta, lanes: &[i64]) {
        self.entities.push((meta, self.lanes.len() as u32));
        self.lanes.extend_from_slice(lanes);
    }

    /// Sets a player's record lanes (one per schema player field).
    pub fn player(&mut self, player: PlayerId, lanes: &[i64]) {
        self.players.push((player, self.player_lanes.len() as u32));
        self.player_lanes.extend_from_slice(lanes);
    }

    /// Sets the room's lanes (one per schema room field).
    pub fn room(&mut self, lanes: &[i64]) {
        self.room.clear();
        self.room.extend_from_slice(lanes);
    }

    pub(crate) fn clear(&mut self) {
        self.entities.clear();
        self.lanes.clear();
        self.players.clear();
        self.player_lanes.clear();
        self.room.clear();
    }
}

/// One player's part in a finished match, as the game reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The player.
    pub player: PlayerId,
    /// Its score in this match.
    pub score: i64,
    /// One value per stat the game declares ([`Game::stats`]), in that order; each is added to
    /// the player's totals where results are kept.
    pub stats: Vec<i64>,
}

/// A match or round the game says is over ([`Ctx::end_match`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchEnd {
    /// The tick it started at.
    pub started: Tick,
    /// Who played, best first.
    pub standings: Vec<Standing>,
}

/// A finished match as the engine hands it on ([`TickOutput::results`]
/// (crate::TickOutput::results)): the game's [`MatchEnd`] with the tick it ended at, each
/// player's name and the stats by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchResult {
    /// The tick it started at.
    pub started: Tick,
    /// The tick the game reported it over.
    pub ended: Tick,
    /// Ticks per second (to turn ticks into time).
    pub tick_rate: u16,
    /// Who played, best first.
    pub players: Vec<ResultRow>,
}

/// One player's line of a [`MatchResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    /// The player.
    pub player: PlayerId,
    /// Its name in the room (`player-N` if it had left before the result was taken).
    pub name: String,
    /// Its score.
    pub score: i64,
    /// The game's stats, by the names [`Game::stats`] declares.
    pub stats: Vec<(&'static str, i64)>,
}

/// What the engine lends a game while it runs: the tick, wire ids and the event queue.
pub struct Ctx<'a> {
    pub(crate) tick: Tick,
    pub(crate) tick_rate: u16,
    pub(crate) ids: &'a mut NetIds,
    pub(crate) events: &'a mut Vec<(Audience, Event)>,
    pub(crate) ended: &'a mut Vec<(Tick, MatchEnd)>,
}

impl Ctx<'_> {
    /// The tick being computed (in `step`), or the last completed one (elsewhere).
    pub fn tick(&self) -> Tick {
        self.tick
    }

    /// Ticks per second.
    pub fn tick_rate(&self) -> u16 {
        self.tick_rate
    }

    /// A wire id for a new entity. It stays the entity's until [`Ctx::despawn`], and is not
    /// given to another entity while any client may still hold it.
    pub fn spawn(&mut self) -> NetId {
        self.ids.alloc()
    }

    /// The entity is gone: clients that hold it get its removal with their next snapshot.
    pub fn despawn(&mut self, id: NetId) {
        self.ids.release(id);
    }

    /// Sends an event (index into the schema's events) to an audience with the next
    /// snapshot, in order with the state it belongs to.
    pub fn emit(&mut self, audience: Audience, kind: u16, values: Vec<Value>) {
        self.events.push((audience, Event { kind, values }));
    }

    /// A match or round is over: its result goes out with this tick's output
    /// ([`TickOutput::results`](crate::TickOutput::results)), once, for the server to keep
    /// (players, scores, duration, and the stats [`Game::stats`] declares). Called between
    /// ticks, it goes out with the next tick's.
    pub fn end_match(&mut self, result: MatchEnd) {
        self.ended.push((self.tick, result));
    }
}

/// A game on the engine. The engine calls, each tick: [`Game::input`] for each queued
/// command of each player in sequence order, then [`Game::step`], then [`Game::replicate`];
/// [`Game::join`], [`Game::leave`] and [`Game::action`] between ticks as they arrive.
pub trait Game: Send + 'static {
    /// What the game replicates. Called once, when its room is made.
    fn schema(&self) -> Schema;

    /// The per-player stats the game reports with each [`MatchEnd`] (kills, deaths, wins…), in
    /// the order of [`Standing::stats`]; where results are kept, each is totalled per player
    /// and has its leaderboard. None by default.
    fn stats(&self) -> &'static [&'static str] {
        &[]
    }

    /// The game's constants for its client code (JSON), sent in `Welcome`.
    fn client_config(&self) -> String {
        String::new()
    }

    /// How far each player sees around [`Game::view_center`]; `None` sends every entity to
    /// everyone (whom visibility allows).
    fn view_radius(&self) -> Option<f32> {
        None
    }

    /// Where a player's view is centred (its body); `None` sees only unplaced and owned
    /// entities.
    fn view_center(&self, _player: PlayerId) -> Option<Vec2> {
        None
    }

    /// A player's team, for team visibility and team events.
    fn team(&self, _player: PlayerId) -> Option<u16> {
        None
    }

    /// A player joins. Refuse with a reason (the room is in a match, say) by returning `Err`.
    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, name: &str) -> Result<(), String>;

    /// A player leaves for good (left, or its resume grace ran out).
    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId);

    /// A player's connection dropped; it may resume within the grace period.
    fn disconnected(&mut self, _ctx: &mut Ctx<'_>, _player: PlayerId) {}

    /// A disconnected player took its seat back.
    fn resumed(&mut self, _ctx: &mut Ctx<'_>, _player: PlayerId) {}

    /// One input command of a player (lanes of the schema's input fields, in range).
    fn input(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd);

    /// A reliable action; `Err(reason)` refuses it (the player gets a `rejected` event).
    fn action(
        &mut self,
        _ctx: &mut Ctx<'_>,
        _player: PlayerId,
        _action: &Action,
    ) -> Result<(), String> {
        Err("this game has no actions".into())
    }

    /// Advances the game by one tick.
    fn step(&mut self, ctx: &mut Ctx<'_>);

    /// Writes what is replicated now: every entity, every player's record, the room.
    fn replicate(&self, world: &mut World);
}
