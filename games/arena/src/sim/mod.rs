//! The game itself: pure state and rules, no networking and no clock.
//!
//! Players and projectiles live in `SlotMap`s. The room drives the sim in two phases per tick:
//! [`Sim::apply_input`] once per input command (movement and firing, with exactly the movement
//! code clients predict with), then [`Sim::step`] once (player separation, projectiles, hits,
//! deaths, respawns). Hitscan shots (`ALT_FIRE`) are resolved at once during `apply_input`,
//! against where the targets were at the tick the shooter saw ([`lag_comp`]). Randomness (spawn spots) comes from a seeded generator, so a sim is
//! reproducible from its seed and inputs.

pub mod lag_comp;
mod spawn;

use crate::quant::{dequantize_angle16, heading16, quantize_angle8, quantize_pos, snap_vec};
use crate::rules::{Arena, Rules, segment_circle_hit, step_player};
use crate::state::{
    Command as InputCmd, PlayerState, ProjectileState, buttons, projectile_position,
};
use glam::Vec2;
use lag_comp::PositionHistory;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use slotmap::{SlotMap, new_key_type};
use tickwire_engine::grid::SpatialGrid;
use tickwire_shared::{PlayerId, Tick};

new_key_type! {
    /// A player's slot in the sim.
    pub struct PlayerKey;
    /// A projectile's slot in the sim.
    pub struct ProjectileKey;
}

/// A player's body and standing.
#[derive(Debug, Clone)]
pub struct Player {
    /// The player's id.
    pub id: PlayerId,
    /// Display name.
    pub name: String,
    /// Position, always on the wire grid.
    pub pos: Vec2,
    /// Aim, radians.
    pub aim: f32,
    /// Health, 0 when dead.
    pub health: u8,
    /// Whether the player is in play.
    pub alive: bool,
    /// Respawns so far (mod 128): tells clients not to interpolate across a teleport.
    pub respawns: u8,
    /// When a dead player comes back.
    pub respawn_at: Tick,
    /// Earliest tick of the next projectile shot.
    pub next_fire: Tick,
    /// Earliest tick of the next hitscan shot.
    pub next_alt_fire: Tick,
    /// Kills.
    pub score: u32,
    /// Deaths.
    pub deaths: u32,
}

impl Player {
    /// The quantized state clients are sent.
    pub fn wire_state(&self) -> PlayerState {
        PlayerState {
            x: quantize_pos(self.pos.x),
            y: quantize_pos(self.pos.y),
            aim: quantize_angle8(self.aim),
            health: self.health,
        }
    }
}

/// A projectile in flight. Its path is fixed at launch (see [`ProjectileState`]).
#[derive(Debug, Clone)]
pub struct Projectile {
    /// Who fired it (a key that may no longer exist if the owner left).
    pub owner: PlayerKey,
    /// Launch state exactly as clients receive it.
    pub state: ProjectileState,
    /// Last tick it is in flight.
    pub expires: Tick,
}

/// Things that happened during a step that the room must relay or account for.
#[derive(Debug, Clone, PartialEq)]
pub enum SimEvent {
    /// `killer` brought `victim` to zero health.
    Kill {
        /// Shooter.
        killer: PlayerId,
        /// Victim.
        victim: PlayerId,
    },
    /// A dead player is back.
    Respawn(PlayerId),
    /// A projectile was created.
    ProjectileSpawned(ProjectileKey),
    /// A projectile was destroyed (hit, blocked or expired).
    ProjectileDespawned(ProjectileKey),
    /// A hitscan shot was fired (for tracers); any damage it did is applied already.
    Hitscan {
        /// Who fired.
        shooter: PlayerId,
        /// Where the shot started (the shooter's centre).
        from: Vec2,
        /// Where it stopped: a wall, the end of its range, or the victim.
        to: Vec2,
        /// Who it hit.
        victim: Option<PlayerId>,
    },
}

/// The authoritative world.
pub struct Sim {
    arena: Arena,
    rules: Rules,
    tick: Tick,
    players: SlotMap<PlayerKey, Player>,
    projectiles: SlotMap<ProjectileKey, Projectile>,
    rng: SmallRng,
    events: Vec<SimEvent>,
    grid: SpatialGrid<PlayerKey>,
    scratch: Vec<PlayerKey>,
    history: PositionHistory,
}

impl Sim {
    /// An empty world.
    pub fn new(arena: Arena, rules: Rules, seed: u64) -> Sim {
        let cell = rules.player_radius * 8.0;
        Sim {
            grid: SpatialGrid::new(arena.width, arena.height, cell),
            arena,
            rules,
            tick: Tick(0),
            players: SlotMap::with_key(),
            projectiles: SlotMap::with_key(),
            rng: SmallRng::seed_from_u64(seed),
            events: Vec::new(),
            scratch: Vec::new(),
            history: PositionHistory::new(0),
        }
    }

    /// Keeps body positions for lag compensation up to `cap_ticks` back (0 turns it off:
    /// hitscan shots then hit where targets are now).
    pub fn set_lag_compensation(&mut self, cap_ticks: u32) {
        self.history = PositionHistory::new(cap_ticks);
    }

    /// The lag-compensation history.
    pub fn position_history(&self) -> &PositionHistory {
        &self.history
    }

    /// Completed steps so far.
    pub fn tick(&self) -> Tick {
        self.tick
    }

    /// The arena.
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// All players.
    pub fn players(&self) -> &SlotMap<PlayerKey, Player> {
        &self.players
    }

    /// One player.
    pub fn player(&self, key: PlayerKey) -> Option<&Player> {
        self.players.get(key)
    }

    /// Mutable access for tests and admin tools (e.g. placing a player).
    pub fn player_mut(&mut self, key: PlayerKey) -> Option<&mut Player> {
        self.players.get_mut(key)
    }

    /// All projectiles in flight.
    pub fn projectiles(&self) -> &SlotMap<ProjectileKey, Projectile> {
        &self.projectiles
    }

    /// Current position of a projectile.
    pub fn projectile_pos(&self, p: &Projectile) -> Vec2 {
        projectile_position(&p.state, &self.rules, self.tick.0 as f32)
    }

    /// Takes the events of the last inputs and step.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, SimEvent> {
        self.events.drain(..)
    }

    /// Adds a player, alive, at a free spot.
    pub fn add_player(&mut self, id: PlayerId, name: String) -> PlayerKey {
        let pos = self.free_spot();
        self.players.insert(Player {
            id,
            name,
            pos,
            aim: 0.0,
            health: self.rules.max_health,
            alive: true,
            respawns: 0,
            respawn_at: Tick(0),
            next_fire: Tick(0),
            next_alt_fire: Tick(0),
            score: 0,
            deaths: 0,
        })
    }

    /// A new round: every player's kills and deaths back to 0 (bodies stay where they are).
    pub fn reset_scores(&mut self) {
        for p in self.players.values_mut() {
            p.score = 0;
            p.deaths = 0;
        }
    }

    /// Removes a player. Their projectiles fly on.
    pub fn remove_player(&mut self, key: PlayerKey) -> Option<Player> {
        self.players.remove(key)
    }

    /// Applies one input command of one player: move by the shared rules, aim, fire.
    pub fn apply_input(&mut self, key: PlayerKey, cmd: &InputCmd) {
        let tick = self.tick;
        let Some(p) = self.players.get_mut(key) else {
            return;
        };
        if !p.alive {
            return;
        }
        p.pos = step_player(p.pos, cmd, &self.rules, &self.arena);
        p.aim = dequantize_angle16(cmd.aim);
        if cmd.buttons & buttons::FIRE != 0 && tick >= p.next_fire {
            p.next_fire = Tick(tick.0 + u32::from(self.rules.fire_cooldown_ticks));
            let dir = heading16(cmd.aim);
            let muzzle =
                p.pos + dir * (self.rules.player_radius + self.rules.projectile_radius + 1.0);
            let state = ProjectileState {
                owner: p.id,
                origin_x: quantize_pos(muzzle.x),
                origin_y: quantize_pos(muzzle.y),
                heading: cmd.aim,
                spawn_tick: tick,
            };
            let expires = Tick(tick.0 + u32::from(self.rules.projectile_lifetime_ticks));
            let k = self.projectiles.insert(Projectile {
                owner: key,
                state,
                expires,
            });
            self.events.push(SimEvent::ProjectileSpawned(k));
        }
        if cmd.buttons & buttons::ALT_FIRE != 0 && tick >= p.next_alt_fire {
            p.next_alt_fire = Tick(tick.0 + u32::from(self.rules.hitscan_cooldown_ticks));
            self.fire_hitscan(key, cmd);
        }
    }

    /// Resolves a hitscan shot: a ray from the shooter's centre along its aim, stopped by
    /// obstacles and the arena's edge, against the bodies as they were at the shooter's view
    /// tick (clamped by the lag-compensation cap). The nearest body hit takes the damage.
    fn fire_hitscan(&mut self, key: PlayerKey, cmd: &InputCmd) {
        let Some(shooter) = self.players.get(key) else {
            return;
        };
        let (shooter_id, from) = (shooter.id, shooter.pos);
        let end = from + heading16(cmd.aim) * self.rules.hitscan_range;
        let reach = self.arena.segment_blocked_at(from, end).unwrap_or(1.0);
        let r = self.rules.player_radius;
        let mut best: Option<(f32, PlayerKey)> = None;
        let mut consider = |t: Option<f32>, k: PlayerKey| {
            if let Some(t) = t
                && t <= reach
                && best.is_none_or(|(bt, bk)| t < bt || (t == bt && k < bk))
            {
                best = Some((t, k));
            }
        };
        let rewind = self.history.rewind_tick(self.tick, cmd.view_tick);
        match self.history.at(rewind) {
            Some(past) => {
                for b in past {
                    // Only bodies still in play, and not respawned elsewhere since.
                    let now = self.players.get(b.key);
                    if b.key != key && now.is_some_and(|p| p.alive && p.respawns == b.respawns) {
                        consider(segment_circle_hit(from, end, b.pos, r), b.key);
                    }
                }
            }
            None => {
                for (k, p) in &self.players {
                    if k != key && p.alive {
                        consider(segment_circle_hit(from, end, p.pos, r), k);
                    }
                }
            }
        }
        let t = best.map_or(reach, |b| b.0);
        let victim = best.map(|(_, k)| k);
        self.events.push(SimEvent::Hitscan {
            shooter: shooter_id,
            from,
            to: from + (end - from) * t,
            victim: victim.and_then(|k| self.players.get(k)).map(|p| p.id),
        });
        if let Some(v) = victim {
            self.damage(v, key, shooter_id, self.rules.hitscan_damage);
        }
    }

    /// Advances the world by one tick: separates overlapping players, moves projectiles and
    /// resolves their hits, respawns the dead whose time has come.
    pub fn step(&mut self) {
        self.separate_players();
        self.tick = self.tick.next();
        self.move_projectiles();
        self.respawn_due();
        self.history.record(self.tick, &self.players);
    }

    fn rebuild_grid(&mut self) {
        self.grid.clear();
        for (k, p) in &self.players {
            if p.alive {
                self.grid.insert(p.pos, k);
            }
        }
    }

    /// Pushes apart players whose bodies overlap, half the overlap each, then keeps them out of
    /// obstacles. Done after all inputs so the result does not depend on input order.
    fn separate_players(&mut self) {
        self.rebuild_grid();
        let r = self.rules.player_radius;
        let mut pushes: Vec<(PlayerKey, Vec2)> = Vec::new();
        for (k, p) in &self.players {
            if !p.alive {
                continue;
            }
            let mut push = Vec2::ZERO;
            self.grid.for_each_within(p.pos, 2.0 * r, |q, other| {
                if other == k {
                    return;
                }
                let d = p.pos - q;
                let dist = d.length();
                let overlap = 2.0 * r - dist;
                if overlap > 0.0 {
                    // Coincident bodies split along x, the lower key going left.
                    let dir = if dist > 1e-4 {
                        d / dist
                    } else if k < other {
                        Vec2::NEG_X
                    } else {
                        Vec2::X
                    };
                    push += dir * overlap * 0.5;
                }
            });
            if push != Vec2::ZERO {
                pushes.push((k, push));
            }
        }
        for (k, push) in pushes {
            let p = &mut self.players[k];
            p.pos = snap_vec(self.arena.resolve_circle(p.pos + push, r));
        }
    }

    fn move_projectiles(&mut self) {
        self.rebuild_grid();
        let reach = self.rules.player_radius + self.rules.projectile_radius;
        let mut dead: Vec<(ProjectileKey, Option<PlayerKey>)> = Vec::new();
        for (k, proj) in &self.projectiles {
            let from = projectile_position(&proj.state, &self.rules, (self.tick.0 - 1) as f32);
            let to = projectile_position(&proj.state, &self.rules, self.tick.0 as f32);
            let blocked = self.arena.segment_blocked_at(from, to);
            let mut best: Option<(f32, PlayerKey)> = None;
            let mid = (from + to) * 0.5;
            let search = from.distance(to) * 0.5 + reach;
            self.grid.for_each_within(mid, search + reach, |pos, pk| {
                if pk == proj.owner {
                    return;
                }
                if let Some(t) = segment_circle_hit(from, to, pos, reach)
                    && best.is_none_or(|(bt, bk)| t < bt || (t == bt && pk < bk))
                {
                    best = Some((t, pk));
                }
            });
            match (best, blocked) {
                (Some((t, pk)), b) if b.is_none_or(|bt| t <= bt) => dead.push((k, Some(pk))),
                (_, Some(_)) => dead.push((k, None)),
                _ if self.tick >= proj.expires => dead.push((k, None)),
                _ => {}
            }
        }
        // Apply in key order so simultaneous hits resolve the same way on every run.
        dead.sort_by_key(|d| d.0);
        for (k, victim) in dead {
            let proj = self
                .projectiles
                .remove(k)
                .expect("collected from the map above");
            self.events.push(SimEvent::ProjectileDespawned(k));
            if let Some(v) = victim {
                self.damage(
                    v,
                    proj.owner,
                    proj.state.owner,
                    self.rules.projectile_damage,
                );
            }
        }
    }

    /// Lowers a player's health; at zero the player dies and the shooter scores.
    pub fn damage(
        &mut self,
        victim: PlayerKey,
        shooter: PlayerKey,
        shooter_id: PlayerId,
        amount: u8,
    ) {
        let respawn_at = Tick(self.tick.0 + u32::from(self.rules.respawn_ticks));
        let Some(v) = self.players.get_mut(victim) else {
            return;
        };
        if !v.alive {
            return;
        }
        v.health = v.health.saturating_sub(amount);
        if v.health > 0 {
            return;
        }
        v.alive = false;
        v.deaths += 1;
        v.respawn_at = respawn_at;
        let victim_id = v.id;
        if let Some(s) = self.players.get_mut(shooter)
            && s.id == shooter_id
        {
            s.score += 1;
        }
        self.events.push(SimEvent::Kill {
            killer: shooter_id,
            victim: victim_id,
        });
    }

    fn respawn_due(&mut self) {
        self.scratch.clear();
        self.scratch.extend(
            self.players
                .iter()
                .filter(|(_, p)| !p.alive && p.respawn_at <= self.tick)
                .map(|(k, _)| k),
        );
        for i in 0..self.scratch.len() {
            let k = self.scratch[i];
            let pos = self.free_spot();
            let max = self.rules.max_health;
            let p = &mut self.players[k];
            p.pos = pos;
            p.health = max;
            p.alive = true;
            p.respawns = (p.respawns + 1) % 128;
            let id = p.id;
            self.events.push(SimEvent::Respawn(id));
        }
    }
}

#[cfg(test)]
mod tests;
