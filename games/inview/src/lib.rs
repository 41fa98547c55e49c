//! The everyone-in-view benchmark scenario as a real game: the arena scenario of
//! `shared/peers/colyseus/SCENARIO.md` (the one the Colyseus 0.18 rig runs), on the engine.
//!
//! ## The rules
//!
//! - One room holds every player on a 2000 × 2000 field; x and y stay in [0, 2000].
//! - A player's state is `x`, `y` (`Fixed(8)`, kept on the 1/8 grid so that a straight
//!   course moves by the same step every tick), `angle` (`Angle8`), `health` (100, never
//!   changes) and `score` (0, never changes), plus its `player` id.
//! - Player k, in join order, spawns at `x = 2000 r()`, `y = 2000 r()` (angle 0), from one
//!   [`Mulberry32`] seeded 12345 (the same generator and seed as the Colyseus server).
//! - The input is `dx`, `dy` (`I8`, a direction scaled by 127) and `aim` (`Angle16`). Inputs
//!   are not queued semantically: the latest command a player sent is its state of mind, and
//!   each tick it moves `200 · dt` units along the (renormalised) direction, `dt = 1 /
//!   tick_rate`, each axis clamped to [0, 2000]; the angle is the aim. A player that has sent
//!   no input yet stands still.
//! - No collisions, no shooting, no health or score changes.
//! - No interest management: [`InviewGame`] has no view radius, so every client receives every
//!   player's changes.
//!
//! [`InviewConfig::extrapolate`] chooses the encoding: `true` declares x, y and the angle
//! `extrapolate` (a player on a straight course costs nothing between its turns), `false` the
//! previous encoding (`delta` positions, the angle absolute), for comparisons.
//!
//! The bots' side of the scenario is here too: [`BotCourse`] (bot i's generator is seeded
//! `i + 1` and draws a new direction every 30 inputs) and [`input_lanes`].

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::f64::consts::TAU;
use tickwire_engine::{Ctx, EntityMeta, Game, World};
use tickwire_shared::schema::{FieldDesc, FieldType, KindDesc, Schema};
use tickwire_shared::sync::InputCmd;
use tickwire_shared::{NetId, PlayerId, fields};

fields! {
    /// A player (the only kind).
    pub mod player {
        player: Player;
        x: Fixed(8), interpolate, extrapolate;
        y: Fixed(8), interpolate, extrapolate;
        angle: Angle8, interpolate, extrapolate;
        health: U8;
        score: U16;
    }
}

fields! {
    /// One input command.
    pub mod input {
        dx: I8;
        dy: I8;
        aim: Angle16;
    }
}

/// Kind index of players.
pub const PLAYER: u16 = 0;
/// The game's name in its schema (what a client reads in `Welcome`).
pub const GAME_NAME: &str = "inview";
/// Side of the square field, units.
pub const ARENA: f64 = 2000.0;
/// Speed of every player, units per second.
pub const SPEED: f64 = 200.0;
/// Positions are kept in 1/`SCALE` units (the `Fixed(8)` grid).
pub const SCALE: i64 = 8;
/// Seed of the spawn generator.
pub const SPAWN_SEED: u32 = 12345;
/// Health of every player (constant).
pub const HEALTH: i64 = 100;
/// Inputs between two of a bot's direction changes.
pub const TURN_EVERY: u32 = 30;

/// The scenario's schema: with `extrapolate`, x, y and the angle are extrapolated; without,
/// the positions are `delta` and the angle absolute (the previous encoding).
pub fn schema(extrapolate: bool) -> Schema {
    let mut fields = player::fields();
    if !extrapolate {
        for f in &mut fields {
            if f.extrapolate {
                f.extrapolate = false;
                f.delta = f.ty == FieldType::Fixed(8);
            }
        }
    }
    Schema::new(GAME_NAME)
        .kind(KindDesc {
            name: "player".into(),
            fields,
        })
        .input(input::fields())
}

/// The scenario's schema as the server plays it (extrapolated).
pub fn default_schema() -> Schema {
    schema(true)
}

/// Sanity: the input fields' descriptors (for clients encoding by hand).
pub fn input_fields() -> Vec<FieldDesc> {
    input::fields()
}

/// The mulberry32 generator of the scenario (the same numbers as its JavaScript).
#[derive(Debug, Clone)]
pub struct Mulberry32(u32);

impl Mulberry32 {
    /// A generator seeded `seed`.
    pub fn new(seed: u32) -> Mulberry32 {
        Mulberry32(seed)
    }

    /// The next number in [0, 1).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x6d2b_79f5);
        let a = self.0;
        let mut r = (a ^ (a >> 15)).wrapping_mul(1 | a);
        r = r.wrapping_add((r ^ (r >> 7)).wrapping_mul(61 | r)) ^ r;
        f64::from(r ^ (r >> 14)) / 4_294_967_296.0
    }
}

/// Settings of one room.
#[derive(Debug, Clone, Copy)]
pub struct InviewConfig {
    /// Ticks per second (`dt = 1 / tick_rate`).
    pub tick_rate: u16,
    /// Extrapolated fields (`true`) or the previous `delta` encoding.
    pub extrapolate: bool,
}

impl Default for InviewConfig {
    fn default() -> Self {
        InviewConfig {
            tick_rate: 30,
            extrapolate: true,
        }
    }
}

/// One player's state, on the wire's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// Its wire id.
    pub id: NetId,
    /// x in 1/8 units.
    pub x: i64,
    /// y in 1/8 units.
    pub y: i64,
    /// The angle, 256 steps a turn.
    pub angle: i64,
    /// The latest input's step per tick in 1/8 units (x, y), `None` before any input.
    pub step: Option<(i64, i64)>,
}

/// The scenario on the engine.
pub struct InviewGame {
    config: InviewConfig,
    spawn: Mulberry32,
    players: BTreeMap<PlayerId, State>,
}

impl InviewGame {
    /// An empty room.
    pub fn new(config: InviewConfig) -> InviewGame {
        InviewGame {
            config,
            spawn: Mulberry32::new(SPAWN_SEED),
            players: BTreeMap::new(),
        }
    }

    /// A player's state.
    pub fn state(&self, player: PlayerId) -> Option<&State> {
        self.players.get(&player)
    }

    /// Players in the room.
    pub fn len(&self) -> usize {
        self.players.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.players.is_empty()
    }

    /// The step per tick, in 1/8 units, of a direction: `200 · dt` along `(dx, dy)`
    /// renormalised (none for a zero direction), rounded to the grid so that a straight course
    /// has a constant step.
    pub fn step_of(&self, dx: i64, dy: i64) -> (i64, i64) {
        let (dx, dy) = (dx as f64, dy as f64);
        let len = dx.hypot(dy);
        if len == 0.0 {
            return (0, 0);
        }
        let d = SPEED / f64::from(self.config.tick_rate.max(1)) * SCALE as f64 / len;
        ((dx * d).round() as i64, (dy * d).round() as i64)
    }
}

/// An axis clamped to the field, in 1/8 units.
fn clamp(v: i64) -> i64 {
    v.clamp(0, ARENA as i64 * SCALE)
}

impl Game for InviewGame {
    fn schema(&self) -> Schema {
        schema(self.config.extrapolate)
    }

    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, _name: &str) -> Result<(), String> {
        let x = ARENA * self.spawn.next();
        let y = ARENA * self.spawn.next();
        let grid = |v: f64| clamp((v * SCALE as f64).round() as i64);
        let state = State {
            id: ctx.spawn(),
            x: grid(x),
            y: grid(y),
            angle: 0,
            step: None,
        };
        self.players.insert(player, state);
        Ok(())
    }

    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        if let Some(s) = self.players.remove(&player) {
            ctx.despawn(s.id);
        }
    }

    fn input(&mut self, _ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        // The latest command wins: it replaces the direction and the aim; the move itself
        // happens once per tick, in `step`.
        let l = &cmd.lanes;
        let step = self.step_of(l[input::dx], l[input::dy]);
        if let Some(s) = self.players.get_mut(&player) {
            s.step = Some(step);
            s.angle = ((l[input::aim] + 128) >> 8) & 255;
        }
    }

    fn step(&mut self, _ctx: &mut Ctx<'_>) {
        for s in self.players.values_mut() {
            if let Some((dx, dy)) = s.step {
                s.x = clamp(s.x + dx);
                s.y = clamp(s.y + dy);
            }
        }
    }

    fn replicate(&self, world: &mut World) {
        for (p, s) in &self.players {
            let lanes = [i64::from(p.0), s.x, s.y, s.angle, HEALTH, 0];
            world.entity(EntityMeta::new(s.id, PLAYER).owned_by(*p), &lanes);
        }
    }
}

/// The input lanes of a direction `a` (radians): `dx = cos a`, `dy = sin a` scaled by 127,
/// `aim = a` in 65,536 steps a turn.
pub fn input_lanes(a: f64) -> Vec<i64> {
    let mut l = vec![0; input::COUNT];
    l[input::dx] = (a.cos() * 127.0).round() as i64;
    l[input::dy] = (a.sin() * 127.0).round() as i64;
    l[input::aim] = ((a / TAU * 65536.0).round() as i64).rem_euclid(65536);
    l
}

/// Bot i's course: a generator seeded `i + 1` (it also gives the bot's phase, its first
/// draw), and a new direction every [`TURN_EVERY`] inputs.
#[derive(Debug, Clone)]
pub struct BotCourse {
    rng: Mulberry32,
    left: u32,
    lanes: Vec<i64>,
}

impl BotCourse {
    /// Bot `i`'s course and its phase, in [0, 1) of an input period.
    pub fn new(i: usize) -> (BotCourse, f64) {
        let mut rng = Mulberry32::new(i as u32 + 1);
        let phase = rng.next();
        let course = BotCourse {
            rng,
            left: 0,
            lanes: input_lanes(0.0),
        };
        (course, phase)
    }

    /// The lanes of the next input (a new direction on the first and every 30th after).
    pub fn next_input(&mut self) -> &[i64] {
        if self.left == 0 {
            let a = TAU * self.rng.next();
            self.lanes = input_lanes(a);
            self.left = TURN_EVERY;
        }
        self.left -= 1;
        &self.lanes
    }
}

#[cfg(test)]
mod tests;
