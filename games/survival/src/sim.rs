//! The survival game's state and how it advances: heroes moved by their commands, zombies
//! walking at the nearest living hero and biting on contact, shots, pickups collected and
//! scattered anew, and the wave timer. It owns no wire format: it takes wire ids and emits
//! events through the engine's [`Ctx`], and [`crate::SurvivalGame`] writes it into the world.

use crate::rules::{Rules, quantize_pos, ray_hits_circle, snap, step_hero};
use crate::{FALLEN, SHOT, WAVE, input};
use glam::Vec2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use tickwire_engine::{Audience, Ctx};
use tickwire_shared::sync::{InputCmd, Value};
use tickwire_shared::{NetId, PlayerId, Tick};

/// What a pickup gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Item {
    /// Reserve rounds ([`Rules::crate_rounds`]).
    AmmoCrate = 0,
    /// Team score ([`Rules::coin_score`]).
    Coin = 1,
}

/// A player's hero.
#[derive(Debug, Clone)]
pub struct Hero {
    /// Its wire id.
    pub id: NetId,
    /// Where it is (on the lane grid).
    pub pos: Vec2,
    /// Where it aims (`Angle16` lane, from its last command).
    pub aim: i64,
    /// Hit points.
    pub hp: u8,
    /// Whether it is up.
    pub alive: bool,
    /// Times it respawned (wraps): a change is a jump.
    pub respawns: u8,
    /// Rounds in the clip.
    pub ammo: u8,
    /// Rounds carried besides the clip.
    pub reserve: u16,
    /// The tick its reload completes, while reloading.
    pub reload_done: Option<Tick>,
    /// No shot before this tick.
    pub next_shot: Tick,
    /// When a fallen hero comes back.
    pub respawn_at: Tick,
    /// Zombies it killed.
    pub kills: u32,
    /// Times it fell.
    pub deaths: u32,
}

/// A zombie: nobody's entity, driven by the server alone.
#[derive(Debug, Clone)]
pub struct Zombie {
    /// Where it is.
    pub pos: Vec2,
    /// Shots it still takes.
    pub hp: u8,
    /// No bite before this tick.
    pub next_bite: Tick,
}

/// A pickup: it never changes after it is created.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pickup {
    /// What it gives.
    pub item: Item,
    /// Where it lies (whole units).
    pub pos: Vec2,
}

/// The whole state of one survival room.
#[derive(Debug)]
pub struct Sim {
    rules: Rules,
    rng: SmallRng,
    /// Heroes by player.
    pub heroes: BTreeMap<PlayerId, Hero>,
    /// Zombies by wire id.
    pub zombies: BTreeMap<NetId, Zombie>,
    /// Pickups by wire id.
    pub pickups: BTreeMap<NetId, Pickup>,
    /// Pickups the room keeps on the map (it tops up one every `pickup_every` ticks).
    pub pickup_target: usize,
    /// Ticks between two new pickups while below the target.
    pub pickup_every: u32,
    /// Pickups to create at the next step (tests and admin tools place them here).
    pub queued_pickups: Vec<Pickup>,
    /// Zombies to create at the next step.
    pub queued_zombies: Vec<Vec2>,
    /// Whether waves come by themselves.
    pub waves_on: bool,
    /// The current wave (0 before the first).
    pub wave: u16,
    /// When the next wave comes; `None` while no hero is in the room.
    pub next_wave: Option<Tick>,
    /// The team's score.
    pub score: u32,
}

impl Sim {
    /// An empty map that will hold `pickups` pickups, seeded.
    pub fn new(rules: Rules, pickups: usize, seed: u64) -> Sim {
        Sim {
            pickup_every: u32::from(rules.tick_rate / 2).max(1),
            rules,
            rng: SmallRng::seed_from_u64(seed),
            heroes: BTreeMap::new(),
            zombies: BTreeMap::new(),
            pickups: BTreeMap::new(),
            pickup_target: pickups,
            queued_pickups: Vec::new(),
            queued_zombies: Vec::new(),
            waves_on: true,
            wave: 0,
            next_wave: None,
            score: 0,
        }
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The rules, to adjust before the room is made.
    pub fn rules_mut(&mut self) -> &mut Rules {
        &mut self.rules
    }

    /// A fresh hero at the centre (spread a little by player id so heroes do not stack).
    pub fn add_hero(&mut self, id: NetId, player: PlayerId) {
        let a = player.0 as f32 * 2.4;
        let pos = snap(self.rules.centre() + Vec2::from_angle(a) * 40.0);
        self.heroes.insert(
            player,
            Hero {
                id,
                pos,
                aim: 0,
                hp: self.rules.hero_hp,
                alive: true,
                respawns: 0,
                ammo: self.rules.clip_size,
                reserve: self.rules.start_reserve,
                reload_done: None,
                next_shot: Tick(0),
                respawn_at: Tick(0),
                kills: 0,
                deaths: 0,
            },
        );
    }

    /// One command of a player: move, aim, reload, fire.
    pub fn apply_input(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        let rules = &self.rules;
        let Some(h) = self.heroes.get_mut(&player) else {
            return;
        };
        if !h.alive {
            return;
        }
        let l = &cmd.lanes;
        h.pos = step_hero(h.pos, l[input::move_x], l[input::move_y], rules);
        h.aim = l[input::aim];
        let now = ctx.tick();
        if l[input::reload] != 0
            && h.reload_done.is_none()
            && h.ammo < rules.clip_size
            && h.reserve > 0
        {
            h.reload_done = Some(Tick(now.0 + rules.reload_ticks));
        }
        if l[input::fire] != 0 && h.reload_done.is_none() && h.ammo > 0 && now >= h.next_shot {
            h.ammo -= 1;
            h.next_shot = Tick(now.0 + rules.shot_cooldown_ticks);
            let (from, dir) = (
                h.pos,
                Vec2::from_angle(crate::rules::dequantize_angle16(h.aim)),
            );
            self.shoot(ctx, player, from, dir);
        }
    }

    /// A shot from `from` along `dir`: the first zombie on the ray within range takes it.
    fn shoot(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, from: Vec2, dir: Vec2) {
        let (range, zr) = (self.rules.shot_range, self.rules.zombie_radius);
        let hit = self
            .zombies
            .iter()
            .filter_map(|(id, z)| ray_hits_circle(from, dir, range, z.pos, zr).map(|t| (*id, t)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let reach = hit.map_or(range, |(_, t)| t);
        let to = from + dir * reach;
        let pos = |v: f32| Value::Int(quantize_pos(v));
        ctx.emit(
            Audience::Near(from),
            SHOT,
            vec![
                Value::Int(i64::from(player.0)),
                pos(from.x),
                pos(from.y),
                pos(to.x),
                pos(to.y),
            ],
        );
        let Some((id, _)) = hit else { return };
        let z = self.zombies.get_mut(&id).expect("found above");
        z.hp = z.hp.saturating_sub(1);
        if z.hp == 0 {
            self.zombies.remove(&id);
            ctx.despawn(id);
            self.score += self.rules.kill_score;
            if let Some(h) = self.heroes.get_mut(&player) {
                h.kills += 1;
            }
            if self.zombies.is_empty()
                && let Some(next) = &mut self.next_wave
            {
                let soon = Tick(ctx.tick().0 + self.rules.break_ticks);
                *next = (*next).min(soon);
            }
        }
    }

    /// One tick: reloads and respawns, zombies, pickups, waves.
    pub fn step(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.tick();
        self.step_heroes(now);
        self.step_zombies(ctx, now);
        self.collect_pickups(ctx);
        self.scatter_pickups(ctx, now);
        self.step_waves(ctx, now);
        for p in std::mem::take(&mut self.queued_zombies) {
            self.zombies.insert(
                ctx.spawn(),
                Zombie {
                    pos: p,
                    hp: self.rules.zombie_hp,
                    next_bite: now,
                },
            );
        }
    }

    fn step_heroes(&mut self, now: Tick) {
        let rules = &self.rules;
        for (player, h) in &mut self.heroes {
            if let Some(done) = h.reload_done
                && now >= done
            {
                let moved = u16::from(rules.clip_size - h.ammo).min(h.reserve);
                h.ammo += moved as u8;
                h.reserve -= moved;
                h.reload_done = None;
            }
            if !h.alive && now >= h.respawn_at {
                let a = player.0 as f32 * 2.4 + h.respawns as f32;
                h.pos = snap(rules.centre() + Vec2::from_angle(a) * 40.0);
                h.alive = true;
                h.hp = rules.hero_hp;
                h.respawns = h.respawns.wrapping_add(1);
                h.ammo = rules.clip_size;
                h.reserve = h.reserve.max(rules.start_reserve);
                h.reload_done = None;
            }
        }
    }

    fn step_zombies(&mut self, ctx: &mut Ctx<'_>, now: Tick) {
        let rules = &self.rules;
        let reach = rules.hero_radius + rules.zombie_radius;
        let step = rules.zombie_speed * rules.dt();
        let ids: Vec<NetId> = self.zombies.keys().copied().collect();
        for id in &ids {
            let z = self.zombies.get_mut(id).expect("listed");
            let target = self
                .heroes
                .iter_mut()
                .filter(|(_, h)| h.alive)
                .min_by(|a, b| {
                    a.1.pos
                        .distance_squared(z.pos)
                        .total_cmp(&b.1.pos.distance_squared(z.pos))
                });
            let Some((player, h)) = target else { continue };
            let to = h.pos - z.pos;
            let d = to.length();
            if d > reach {
                z.pos += to / d * step.min(d - reach);
            } else if now >= z.next_bite {
                z.next_bite = Tick(now.0 + rules.bite_cooldown_ticks);
                h.hp = h.hp.saturating_sub(rules.bite_damage);
                if h.hp == 0 {
                    h.alive = false;
                    h.deaths += 1;
                    h.respawn_at = Tick(now.0 + rules.respawn_ticks);
                    h.reload_done = None;
                    ctx.emit(Audience::All, FALLEN, vec![Value::Int(i64::from(player.0))]);
                }
            }
        }
        // Zombies push each other apart so a horde spreads out instead of stacking.
        let min = rules.zombie_radius * 2.0;
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let (pa, pb) = (self.zombies[a].pos, self.zombies[b].pos);
                let d = pb - pa;
                let len = d.length();
                if len < min && len > 1e-3 {
                    let push = d / len * (min - len) * 0.5;
                    self.zombies.get_mut(a).expect("listed").pos -= push;
                    self.zombies.get_mut(b).expect("listed").pos += push;
                }
            }
        }
        let (w, h) = (rules.width, rules.height);
        for z in self.zombies.values_mut() {
            z.pos = z.pos.clamp(Vec2::ZERO, Vec2::new(w, h));
        }
    }

    fn collect_pickups(&mut self, ctx: &mut Ctx<'_>) {
        let rules = &self.rules;
        let r2 = rules.pickup_radius * rules.pickup_radius;
        let mut taken = Vec::new();
        for h in self.heroes.values_mut().filter(|h| h.alive) {
            for (id, p) in &self.pickups {
                if taken.contains(id) || p.pos.distance_squared(h.pos) > r2 {
                    continue;
                }
                match p.item {
                    Item::AmmoCrate if h.reserve < rules.max_reserve => {
                        h.reserve = (h.reserve + rules.crate_rounds).min(rules.max_reserve);
                    }
                    Item::AmmoCrate => continue,
                    Item::Coin => self.score += rules.coin_score,
                }
                taken.push(*id);
            }
        }
        for id in taken {
            self.pickups.remove(&id);
            ctx.despawn(id);
        }
    }

    fn scatter_pickups(&mut self, ctx: &mut Ctx<'_>, now: Tick) {
        let mut new = std::mem::take(&mut self.queued_pickups);
        if self.pickups.is_empty() && new.is_empty() {
            // The first step lays the whole field out.
            while new.len() < self.pickup_target {
                new.push(self.random_pickup());
            }
        } else if self.pickups.len() < self.pickup_target && now.0.is_multiple_of(self.pickup_every)
        {
            new.push(self.random_pickup());
        }
        for p in new {
            self.pickups.insert(ctx.spawn(), p);
        }
    }

    fn random_pickup(&mut self) -> Pickup {
        let m = 20.0;
        let x = self.rng.random_range(m..self.rules.width - m).round();
        let y = self.rng.random_range(m..self.rules.height - m).round();
        let item = if self.rng.random_bool(0.4) {
            Item::AmmoCrate
        } else {
            Item::Coin
        };
        Pickup {
            item,
            pos: Vec2::new(x, y),
        }
    }

    fn step_waves(&mut self, ctx: &mut Ctx<'_>, now: Tick) {
        if !self.waves_on {
            return;
        }
        if self.heroes.is_empty() {
            self.next_wave = None;
            return;
        }
        let next = *self
            .next_wave
            .get_or_insert(Tick(now.0 + self.rules.first_wave_ticks));
        if now < next {
            return;
        }
        self.wave = self.wave.saturating_add(1);
        self.next_wave = Some(Tick(now.0 + self.rules.wave_interval_ticks));
        let room = usize::from(self.rules.max_zombies).saturating_sub(self.zombies.len());
        let n = usize::from(self.rules.wave_size(self.wave)).min(room);
        for _ in 0..n {
            let p = self.edge_point();
            self.queued_zombies.push(p);
        }
        ctx.emit(Audience::All, WAVE, vec![Value::Int(i64::from(self.wave))]);
    }

    /// A random point on the map's edge.
    fn edge_point(&mut self) -> Vec2 {
        let (w, h) = (self.rules.width, self.rules.height);
        let t = self.rng.random_range(0.0..2.0 * (w + h));
        if t < w {
            Vec2::new(t, 0.0)
        } else if t < 2.0 * w {
            Vec2::new(t - w, h)
        } else if t < 2.0 * w + h {
            Vec2::new(0.0, t - 2.0 * w)
        } else {
            Vec2::new(w, t - 2.0 * w - h)
        }
    }

    /// Zombies alive plus those arriving at the next step.
    pub fn zombies_left(&self) -> usize {
        self.zombies.len() + self.queued_zombies.len()
    }
}
