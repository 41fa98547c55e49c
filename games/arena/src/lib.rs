//! The arena shooter as a game on the tickwire engine: top-down movement with obstacles,
//! projectiles, a hitscan rail gun with lag compensation, deaths, respawns and a scoreboard.
//!
//! Everything the engine needs to know is the [`schema`] (two entity kinds, the scoreboard as
//! player fields, the input command, three events) and the [`ArenaGame`] impl of
//! [`Game`]: join and leave add and remove a body, each input command moves and fires, each
//! step runs the simulation, and `replicate` writes bodies and projectiles as lanes. The
//! engine does the rest (interest, deltas, checksums, resume, chat).

use glam::Vec2;
use slotmap::SecondaryMap;
use std::collections::BTreeMap;
pub mod bot;
pub mod client;
pub mod quant;
pub mod rules;
pub mod sim;
pub mod state;

use crate::quant::quantize_pos;
use crate::rules::{Arena, Rules};
use sim::lag_comp::lag_comp_ticks;
use sim::{PlayerKey, ProjectileKey, Sim, SimEvent};
use tickwire_engine::{Audience, Ctx, EntityMeta, Game, MatchEnd, Standing, World};
use tickwire_shared::schema::{FieldDesc, FieldType, KindDesc, MessageDesc, Schema, engine_events};
use tickwire_shared::sync::{InputCmd, Value};
use tickwire_shared::{NetId, PlayerId, Tick, fields};

fields! {
    /// A player's body.
    pub mod body {
        player: Player;
        x: Fixed(8), interpolate, predict, extrapolate;
        y: Fixed(8), interpolate, predict, extrapolate;
        aim: Angle8, interpolate, extrapolate;
        health: U8;
        alive: Bool;
        respawns: U8, discontinuity;
    }
}

fields! {
    /// A projectile: fixed at launch, its path is `origin + heading × speed × (t − spawn_tick)`.
    pub mod projectile {
        owner: Player;
        origin_x: Fixed(8);
        origin_y: Fixed(8);
        heading: Angle16;
        spawn_tick: Tick;
    }
}

fields! {
    /// The scoreboard.
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
        buttons: U8;
    }
}

/// Kind index of bodies.
pub const BODY: u16 = 0;
/// Kind index of projectiles.
pub const PROJECTILE: u16 = 1;
/// Event: `kill { killer, victim }`.
pub const KILL: u16 = engine_events::COUNT;
/// Event: `respawn { player }`.
pub const RESPAWN: u16 = engine_events::COUNT + 1;
/// Event: `hitscan { shooter, from_x, from_y, to_x, to_y, victim }` (victim 0: none).
pub const HITSCAN: u16 = engine_events::COUNT + 2;

/// The arena's schema.
pub fn schema() -> Schema {
    use FieldType::{Fixed, Player};
    Schema::new("arena")
        .kind(KindDesc {
            name: "body".into(),
            fields: body::fields(),
        })
        .kind(KindDesc {
            name: "projectile".into(),
            fields: projectile::fields(),
        })
        .player_fields(scores::fields())
        .input(input::fields())
        .event(MessageDesc::new(
            "kill",
            vec![
                FieldDesc::new("killer", Player),
                FieldDesc::new("victim", Player),
            ],
        ))
        .event(MessageDesc::new(
            "respawn",
            vec![FieldDesc::new("player", Player)],
        ))
        .event(MessageDesc::new(
            "hitscan",
            vec![
                FieldDesc::new("shooter", Player),
                FieldDesc::new("from_x", Fixed(8)),
                FieldDesc::new("from_y", Fixed(8)),
                FieldDesc::new("to_x", Fixed(8)),
                FieldDesc::new("to_y", Fixed(8)),
                FieldDesc::new("victim", Player),
            ],
        ))
}

/// Settings of one arena.
#[derive(Debug, Clone)]
pub struct ArenaConfig {
    /// The map.
    pub arena: Arena,
    /// Ticks per second (the rules scale with it).
    pub tick_rate: u16,
    /// How far each player sees.
    pub view_radius: f32,
    /// Seed of the spawn spots.
    pub seed: u64,
    /// Lag compensation of hitscan shots, milliseconds (0: off).
    pub lag_comp_ms: u32,
    /// Length of a round in seconds (0: one endless round). At its end the round's result
    /// (kills, deaths, and a win for the top player) is reported to the engine
    /// ([`Ctx::end_match`]), everyone is told who won, and the scores start again from 0.
    pub round_secs: u32,
}

impl Default for ArenaConfig {
    fn default() -> Self {
        ArenaConfig {
            arena: Arena::default(),
            tick_rate: 30,
            view_radius: 700.0,
            seed: 1,
            lag_comp_ms: 250,
            round_secs: 180,
        }
    }
}

/// The stats the arena reports with each round ([`Game::stats`]).
pub const STATS: &[&str] = &["kills", "deaths", "wins"];

/// The arena shooter.
pub struct ArenaGame {
    sim: Sim,
    view_radius: f32,
    players: BTreeMap<PlayerId, (PlayerKey, NetId)>,
    projectiles: SecondaryMap<ProjectileKey, NetId>,
    /// Ticks a round lasts (0: endless).
    round_ticks: u32,
    /// The tick the current round started at.
    round_started: Tick,
}

impl ArenaGame {
    /// An empty arena.
    pub fn new(config: ArenaConfig) -> ArenaGame {
        let rules = Rules::at_tick_rate(config.tick_rate);
        let mut sim = Sim::new(config.arena, rules, config.seed);
        sim.set_lag_compensation(lag_comp_ticks(config.lag_comp_ms, config.tick_rate));
        ArenaGame {
            sim,
            view_radius: config.view_radius,
            players: BTreeMap::new(),
            projectiles: SecondaryMap::new(),
            round_ticks: config
                .round_secs
                .saturating_mul(u32::from(config.tick_rate)),
            round_started: Tick(0),
        }
    }

    /// The tick the current round started at.
    pub fn round_started(&self) -> Tick {
        self.round_started
    }

    /// Ends the round when its time is up: reports every player's kills and deaths (best
    /// first, the top player with a win if it killed anyone), says who won, and starts the
    /// next round from 0.
    fn maybe_end_round(&mut self, ctx: &mut Ctx<'_>) {
        if self.round_ticks == 0 || ctx.tick().since(self.round_started) < self.round_ticks {
            return;
        }
        let mut rows: Vec<(PlayerId, u32, u32, String)> = self
            .players
            .iter()
            .filter_map(|(id, (key, _))| {
                let p = self.sim.player(*key)?;
                Some((*id, p.score, p.deaths, p.name.clone()))
            })
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
        if !rows.is_empty() {
            let standings = rows
                .iter()
                .enumerate()
                .map(|(i, (id, kills, deaths, _))| {
                    let won = i == 0 && *kills > 0;
                    Standing {
                        player: *id,
                        score: i64::from(*kills),
                        stats: vec![i64::from(*kills), i64::from(*deaths), i64::from(won)],
                    }
                })
                .collect();
            ctx.end_match(MatchEnd {
                started: self.round_started,
                standings,
            });
            let text = match rows.first() {
                Some((_, kills, _, name)) if *kills > 0 => {
                    format!("Round over: {name} wins with {kills} kills. New round!")
                }
                _ => "Round over: no kills this time. New round!".to_string(),
            };
            ctx.emit(Audience::All, engine_events::NOTICE, vec![Value::Str(text)]);
        }
        self.sim.reset_scores();
        self.round_started = ctx.tick();
    }

    /// The simulation (read-only).
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The simulation, for tests and admin tools.
    pub fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// A player's sim key.
    pub fn player_key(&self, id: PlayerId) -> Option<PlayerKey> {
        self.players.get(&id).map(|p| p.0)
    }

    /// A player's body id.
    pub fn body_of(&self, id: PlayerId) -> Option<NetId> {
        self.players.get(&id).map(|p| p.1)
    }

    fn absorb(&mut self, ctx: &mut Ctx<'_>) {
        let events: Vec<SimEvent> = self.sim.drain_events().collect();
        let pid = |p: PlayerId| Value::Int(i64::from(p.0));
        let pos = |v: f32| Value::Int(i64::from(quantize_pos(v)));
        for e in events {
            match e {
                SimEvent::ProjectileSpawned(k) => {
                    let id = ctx.spawn();
                    self.projectiles.insert(k, id);
                }
                SimEvent::ProjectileDespawned(k) => {
                    if let Some(id) = self.projectiles.remove(k) {
                        ctx.despawn(id);
                    }
                }
                SimEvent::Kill { killer, victim } => {
                    ctx.emit(Audience::All, KILL, vec![pid(killer), pid(victim)]);
                }
                SimEvent::Respawn(p) => ctx.emit(Audience::All, RESPAWN, vec![pid(p)]),
                SimEvent::Hitscan {
                    shooter,
                    from,
                    to,
                    victim,
                } => ctx.emit(
                    Audience::All,
                    HITSCAN,
                    vec![
                        pid(shooter),
                        pos(from.x),
                        pos(from.y),
                        pos(to.x),
                        pos(to.y),
                        pid(victim.unwrap_or(PlayerId(0))),
                    ],
                ),
            }
        }
    }
}

impl Game for ArenaGame {
    fn schema(&self) -> Schema {
        schema()
    }

    fn client_config(&self) -> String {
        format!(
            r#"{{"arena":{},"rules":{},"view_radius":{}}}"#,
            serde_json::to_string(self.sim.arena()).expect("plain data"),
            serde_json::to_string(self.sim.rules()).expect("plain data"),
            self.view_radius
        )
    }

    fn view_radius(&self) -> Option<f32> {
        Some(self.view_radius)
    }

    fn view_center(&self, player: PlayerId) -> Option<Vec2> {
        let (key, _) = self.players.get(&player)?;
        self.sim.player(*key).map(|p| p.pos)
    }

    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, name: &str) -> Result<(), String> {
        let key = self.sim.add_player(player, name.to_string());
        self.players.insert(player, (key, ctx.spawn()));
        Ok(())
    }

    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        if let Some((key, body)) = self.players.remove(&player) {
            self.sim.remove_player(key);
            ctx.despawn(body);
        }
    }

    fn input(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        let Some((key, _)) = self.players.get(&player) else {
            return;
        };
        let c = client::arena_cmd(cmd);
        self.sim.apply_input(*key, &c);
        self.absorb(ctx);
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) {
        self.sim.step();
        self.absorb(ctx);
        self.maybe_end_round(ctx);
    }

    fn stats(&self) -> &'static [&'static str] {
        STATS
    }

    fn replicate(&self, world: &mut World) {
        for (id, (key, body)) in &self.players {
            let Some(p) = self.sim.player(*key) else {
                continue;
            };
            let s = p.wire_state();
            let meta = EntityMeta::new(*body, BODY).at(p.pos).owned_by(*id);
            world.entity(
                meta,
                &[
                    i64::from(id.0),
                    i64::from(s.x),
                    i64::from(s.y),
                    i64::from(s.aim),
                    i64::from(s.health),
                    i64::from(p.alive),
                    i64::from(p.respawns),
                ],
            );
            world.player(*id, &[i64::from(p.score), i64::from(p.deaths)]);
        }
        for (k, p) in self.sim.projectiles() {
            let s = &p.state;
            let meta =
                EntityMeta::new(self.projectiles[k], PROJECTILE).at(self.sim.projectile_pos(p));
            world.entity(
                meta,
                &[
                    i64::from(s.owner.0),
                    i64::from(s.origin_x),
                    i64::from(s.origin_y),
                    i64::from(s.heading),
                    i64::from(s.spawn_tick.0),
                ],
            );
        }
    }
}

#[cfg(test)]
mod tests;
