//! Survival: a co-op game against zombie waves on the tickwire engine, written on its public
//! API alone and deliberately unlike the arena.
//!
//! ## The rules
//!
//! Every player is a hero on a square map (3000 units a side by default). Waves of zombies
//! come in from the edges: wave `n` brings `8 + 6 (n − 1)` of them, the first three seconds
//! after the first hero arrives, the next forty seconds later, or at most eight seconds after
//! the last zombie of a wave falls. A zombie walks at the nearest living hero and bites it on
//! contact (10 of its 100 hit points, every 0.8 s). A fallen hero comes back at the centre
//! four seconds later. A hero shoots along its aim: an instant shot that reaches 320 units,
//! hits the first zombie on its line (two shots kill one) and costs one round of its
//! twelve-round clip; a reload takes 1.2 s and moves rounds from its reserve into the clip.
//! Thousands of pickups lie on the map: ammo crates (24 reserve rounds, taken only when the
//! reserve is not full) and coins (5 points for the team); a new one appears somewhere every
//! half second while the map holds fewer than it should. A kill is worth 10 points. The
//! rules travel to clients in `Welcome.game_config` ([`SurvivalGame::client_config`]).
//!
//! ## What each part exercises in the engine
//!
//! - **NPCs**: a [`zombie`] has no owner and no `Player` field; the server alone moves it,
//!   interest sends it to the heroes near it, and a kill despawns it
//!   ([`tickwire_engine::Ctx::despawn`]).
//! - **Static entities**: a [`pickup`] (`item`, `x`, `y` in whole units) never changes after
//!   it is created, so once a client holds it, it costs nothing until it leaves that client's
//!   view or is collected but the bits by which an update's skip grows when it passes over
//!   them (`tests::static_pickups_cost_at_most_one_skip_code_after_creation` measures it on
//!   the bytes: 2000 held pickups add at most 3 bytes to a tick in which heroes and zombies
//!   move; their creation costs about 11 bytes each). A hero walking at full speed on the
//!   default map pays only for the pickups crossing the edge of its view, about 27 bytes a
//!   tick.
//! - **Owner-only fields**: a [`hero`]'s `ammo` and `reserve` reach only its owner; every
//!   other client holds 0 in those lanes (hidden information, enforced by the engine).
//! - **Prediction**: a hero's `x`/`y` are predicted by its owner with [`client::predict_step`],
//!   which runs [`rules::step_hero`], the very code the server moves heroes with; `respawns`
//!   is a discontinuity.
//! - **Room state**: the [`room`] fields hold the wave, the tick the next wave comes at (a
//!   deadline rather than a countdown, so it changes once per wave instead of every tick: a
//!   client computes `next_wave_tick − tick`), the zombies left and the team's score.
//! - **A different input**: [`input`] is `move_x`, `move_y`, `aim` and two `Bool`s, `fire`
//!   and `reload`, where the arena has a buttons byte.
//! - **Spatial interest**: [`tickwire_engine::Game::view_radius`] around each hero; events
//!   of shots go to [`tickwire_engine::Audience::Near`] the shooter.
//!
//! The simulation is [`sim`]; [`SurvivalGame`] turns it into engine calls and lanes. The
//! client's pieces are in [`client`], the bots' brain in [`bot`].
//!
//! ## Serving it
//!
//! A room plays `SurvivalGame::new(SurvivalConfig { .. })` (its schema is named
//! [`GAME_NAME`], `"survival"`); give the engine's `EngineConfig::area` the map's size so the
//! interest grid covers it. A client parses `Welcome.game_config` with
//! [`client::ClientConfig::parse`] and predicts its hero with [`client::predict_step`].

#![warn(missing_docs)]

use glam::Vec2;
use tickwire_engine::{Ctx, EntityMeta, Game, World};
use tickwire_shared::schema::{FieldDesc, FieldType, KindDesc, MessageDesc, Schema, engine_events};
use tickwire_shared::sync::InputCmd;
use tickwire_shared::{NetId, PlayerId, fields};

pub mod bot;
pub mod client;
pub mod rules;
pub mod sim;

use rules::{Rules, quantize_pos};
use sim::Sim;

fields! {
    /// A player's hero.
    pub mod hero {
        player: Player;
        x: Fixed(8), interpolate, predict, extrapolate;
        y: Fixed(8), interpolate, predict, extrapolate;
        aim: Angle8, interpolate, extrapolate;
        hp: U8;
        alive: Bool;
        respawns: U8, discontinuity;
        ammo: U8, owner_only;
        reserve: U16, owner_only;
        reloading: Bool;
    }
}

fields! {
    /// A zombie (nobody's: no `Player` field, no owner).
    pub mod zombie {
        x: Fixed(8), interpolate, extrapolate;
        y: Fixed(8), interpolate, extrapolate;
        hp: U8;
    }
}

fields! {
    /// A pickup: fixed from creation to collection. `item` 0 is an ammo crate, 1 a coin.
    pub mod pickup {
        item: U8;
        x: U16;
        y: U16;
    }
}

fields! {
    /// The room's state.
    pub mod room {
        wave: U16;
        next_wave_tick: U32;
        zombies_left: U16;
        score: U32;
    }
}

fields! {
    /// Each player's record.
    pub mod scores {
        kills: U32;
        deaths: U32;
    }
}

fields! {
    /// One input command.
    pub mod input {
        move_x: I8;
        move_y: I8;
        aim: Angle16;
        fire: Bool;
        reload: Bool;
    }
}

/// Kind index of heroes.
pub const HERO: u16 = 0;
/// Kind index of zombies.
pub const ZOMBIE: u16 = 1;
/// Kind index of pickups.
pub const PICKUP: u16 = 2;
/// Event `shot { shooter, from_x, from_y, to_x, to_y }`, to the players near the shooter.
pub const SHOT: u16 = engine_events::COUNT;
/// Event `wave { number }`, to everyone.
pub const WAVE: u16 = engine_events::COUNT + 1;
/// Event `fallen { player }`, to everyone.
pub const FALLEN: u16 = engine_events::COUNT + 2;

/// The game's name in its schema (what a client reads in `Welcome`).
pub const GAME_NAME: &str = "survival";

/// The survival game's schema.
pub fn schema() -> Schema {
    use FieldType::{Fixed, Player, U16};
    let kind = |name: &str, fields| KindDesc {
        name: name.into(),
        fields,
    };
    Schema::new(GAME_NAME)
        .kind(kind("hero", hero::fields()))
        .kind(kind("zombie", zombie::fields()))
        .kind(kind("pickup", pickup::fields()))
        .player_fields(scores::fields())
        .room_fields(room::fields())
        .input(input::fields())
        .event(MessageDesc::new(
            "shot",
            vec![
                FieldDesc::new("shooter", Player),
                FieldDesc::new("from_x", Fixed(8)),
                FieldDesc::new("from_y", Fixed(8)),
                FieldDesc::new("to_x", Fixed(8)),
                FieldDesc::new("to_y", Fixed(8)),
            ],
        ))
        .event(MessageDesc::new(
            "wave",
            vec![FieldDesc::new("number", U16)],
        ))
        .event(MessageDesc::new(
            "fallen",
            vec![FieldDesc::new("player", Player)],
        ))
}

/// Settings of one survival room.
#[derive(Debug, Clone)]
pub struct SurvivalConfig {
    /// Width of the map.
    pub width: f32,
    /// Height of the map.
    pub height: f32,
    /// Ticks per second (the rules' durations scale with it).
    pub tick_rate: u16,
    /// How far each hero sees.
    pub view_radius: f32,
    /// Pickups the map holds.
    pub pickups: usize,
    /// Seed of pickups and zombie entries.
    pub seed: u64,
}

impl Default for SurvivalConfig {
    fn default() -> Self {
        SurvivalConfig {
            width: 3000.0,
            height: 3000.0,
            tick_rate: 30,
            view_radius: 600.0,
            pickups: 2000,
            seed: 1,
        }
    }
}

/// The survival game on the engine.
pub struct SurvivalGame {
    sim: Sim,
    view_radius: f32,
}

impl SurvivalGame {
    /// An empty map; the first step lays out its pickups.
    pub fn new(config: SurvivalConfig) -> SurvivalGame {
        let rules = Rules::new(config.width, config.height, config.tick_rate);
        SurvivalGame {
            sim: Sim::new(rules, config.pickups, config.seed),
            view_radius: config.view_radius,
        }
    }

    /// The same game with its rules adjusted (before its room is made: the rules go to
    /// clients in `Welcome`).
    pub fn with_rules(mut self, adjust: impl FnOnce(&mut Rules)) -> SurvivalGame {
        adjust(self.sim.rules_mut());
        self
    }

    /// The simulation (read-only).
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The simulation, for tests and admin tools.
    pub fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// A player's hero's wire id.
    pub fn hero_of(&self, player: PlayerId) -> Option<NetId> {
        self.sim.heroes.get(&player).map(|h| h.id)
    }

    /// The lanes of a hero as its owner holds them (everyone else holds 0 in the owner-only
    /// ones).
    pub fn hero_lanes(&self, player: PlayerId) -> Option<Vec<i64>> {
        let h = self.sim.heroes.get(&player)?;
        let mut l = vec![0; hero::COUNT];
        l[hero::player] = i64::from(player.0);
        l[hero::x] = quantize_pos(h.pos.x);
        l[hero::y] = quantize_pos(h.pos.y);
        l[hero::aim] = ((h.aim + 128) >> 8) & 255;
        l[hero::hp] = i64::from(h.hp);
        l[hero::alive] = i64::from(h.alive);
        l[hero::respawns] = i64::from(h.respawns);
        l[hero::ammo] = i64::from(h.ammo);
        l[hero::reserve] = i64::from(h.reserve);
        l[hero::reloading] = i64::from(h.reload_done.is_some());
        Some(l)
    }

    /// The room's lanes.
    pub fn room_lanes(&self) -> Vec<i64> {
        let mut l = vec![0; room::COUNT];
        l[room::wave] = i64::from(self.sim.wave);
        l[room::next_wave_tick] = self.sim.next_wave.map_or(0, |t| i64::from(t.0));
        l[room::zombies_left] = self.sim.zombies_left() as i64;
        l[room::score] = i64::from(self.sim.score);
        l
    }
}

/// A zombie's lanes.
pub fn zombie_lanes(z: &sim::Zombie) -> [i64; zombie::COUNT] {
    [
        quantize_pos(z.pos.x),
        quantize_pos(z.pos.y),
        i64::from(z.hp),
    ]
}

/// A pickup's lanes.
pub fn pickup_lanes(p: &sim::Pickup) -> [i64; pickup::COUNT] {
    [p.item as i64, p.pos.x as i64, p.pos.y as i64]
}

impl Game for SurvivalGame {
    fn schema(&self) -> Schema {
        schema()
    }

    fn client_config(&self) -> String {
        serde_json::json!({
            "rules": self.sim.rules(),
            "view_radius": self.view_radius,
            "pickups": self.sim.pickup_target,
        })
        .to_string()
    }

    fn view_radius(&self) -> Option<f32> {
        Some(self.view_radius)
    }

    fn view_center(&self, player: PlayerId) -> Option<Vec2> {
        self.sim.heroes.get(&player).map(|h| h.pos)
    }

    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, _name: &str) -> Result<(), String> {
        self.sim.add_hero(ctx.spawn(), player);
        Ok(())
    }

    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        if let Some(h) = self.sim.heroes.remove(&player) {
            ctx.despawn(h.id);
        }
    }

    fn input(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        self.sim.apply_input(ctx, player, cmd);
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) {
        self.sim.step(ctx);
    }

    fn replicate(&self, world: &mut World) {
        for (player, h) in &self.sim.heroes {
            let lanes = self.hero_lanes(*player).expect("listed");
            world.entity(
                EntityMeta::new(h.id, HERO).at(h.pos).owned_by(*player),
                &lanes,
            );
            let s = &[i64::from(h.kills), i64::from(h.deaths)];
            world.player(*player, s);
        }
        for (id, z) in &self.sim.zombies {
            world.entity(EntityMeta::new(*id, ZOMBIE).at(z.pos), &zombie_lanes(z));
        }
        for (id, p) in &self.sim.pickups {
            world.entity(EntityMeta::new(*id, PICKUP).at(p.pos), &pickup_lanes(p));
        }
        world.room(&self.room_lanes());
    }
}

#[cfg(test)]
mod tests;
