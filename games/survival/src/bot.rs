//! The survival game's bots for the load tester. A survivor keeps its distance from the
//! nearest zombie it sees and shoots it, reloads an empty clip, goes for an ammo crate when
//! it runs low, and picks up coins when the coast is clear. It reads only its own replica
//! (its hero is the `hero` whose `player` field is its id; its `ammo` and `reserve` are real
//! there, since it owns them) and is seeded, so its choices are reproducible and tested
//! without sockets.

use crate::client::{ClientConfig, Intent, input_lanes};
use crate::rules::{Rules, dequantize_pos};
use crate::{HERO, PICKUP, ZOMBIE, hero, pickup, zombie};
use glam::Vec2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickwire_shared::sync::bot::BotBrain;
use tickwire_shared::sync::replica::Replica;

/// The behaviours' names, as the load tester's `--behaviour` takes them.
pub const BEHAVIOURS: &[&str] = &["survivor", "idle"];

/// A brain for bot `index` playing `behaviour`, seeded.
pub fn brain(behaviour: &str, index: usize, seed: u64) -> Result<Box<dyn BotBrain>, String> {
    match behaviour {
        "survivor" => Ok(Box::new(Brain::new(seed ^ index as u64))),
        "idle" => Ok(Box::new(Idle)),
        _ => Err(format!(
            "no survival behaviour {behaviour:?}; expected one of {}",
            BEHAVIOURS.join(", ")
        )),
    }
}

/// Stands still and never fires: for connection-count scenarios.
#[derive(Debug)]
pub struct Idle;

impl BotBrain for Idle {
    fn next_input(&mut self, _replica: &Replica, _inputs_per_second: f64) -> Vec<i64> {
        input_lanes(&Intent::default())
    }
}

/// A survivor's decision state between inputs.
#[derive(Debug)]
pub struct Brain {
    rng: SmallRng,
    /// Which way it circles a zombie it keeps at bay.
    strafe_sign: f32,
    /// Inputs left before it may change `strafe_sign`.
    hold: u32,
    wander: f32,
    rules: Option<Rules>,
}

/// Below this many rounds (clip and reserve) a survivor goes for ammo.
const LOW_AMMO: i64 = 16;

impl Brain {
    /// A survivor; `seed` makes it reproducible.
    pub fn new(seed: u64) -> Brain {
        let mut rng = SmallRng::seed_from_u64(seed);
        let wander = rng.random_range(0.0..std::f32::consts::TAU);
        Brain {
            rng,
            strafe_sign: 1.0,
            hold: 0,
            wander,
            rules: None,
        }
    }
}

fn pos(lanes: &[i64], x: usize, y: usize) -> Vec2 {
    Vec2::new(dequantize_pos(lanes[x]), dequantize_pos(lanes[y]))
}

/// The bot's own hero's lanes, when it is in its replica.
pub fn own_hero(replica: &Replica) -> Option<&[i64]> {
    let me = i64::from(replica.player_id.0);
    replica
        .of_kind(HERO)
        .find(|(_, l)| l[hero::player] == me)
        .map(|(_, l)| l)
}

fn nearest(points: impl Iterator<Item = Vec2>, me: Vec2) -> Option<Vec2> {
    points.min_by(|a, b| a.distance_squared(me).total_cmp(&b.distance_squared(me)))
}

impl BotBrain for Brain {
    fn next_input(&mut self, replica: &Replica, inputs_per_second: f64) -> Vec<i64> {
        let rules = self
            .rules
            .get_or_insert_with(|| {
                ClientConfig::parse(&replica.game_config)
                    .map(|c| c.rules)
                    .unwrap_or_else(|_| Rules::new(3000.0, 3000.0, 30))
            })
            .clone();
        let Some(me_lanes) = own_hero(replica) else {
            return input_lanes(&Intent::default());
        };
        if me_lanes[hero::alive] == 0 {
            return input_lanes(&Intent::default());
        }
        let me = pos(me_lanes, hero::x, hero::y);
        let (ammo, reserve) = (me_lanes[hero::ammo], me_lanes[hero::reserve]);
        let zombie = nearest(
            replica
                .of_kind(ZOMBIE)
                .map(|(_, l)| pos(l, zombie::x, zombie::y)),
            me,
        );
        let item = |want: i64| {
            nearest(
                replica
                    .of_kind(PICKUP)
                    .filter(|(_, l)| l[pickup::item] == want)
                    .map(|(_, l)| Vec2::new(l[pickup::x] as f32, l[pickup::y] as f32)),
                me,
            )
        };
        let per_second = inputs_per_second.max(1.0) as u32;
        let keep = rules.shot_range * 0.55;
        let mut intent = Intent {
            reload: ammo == 0 && reserve > 0 && me_lanes[hero::reloading] == 0,
            ..Intent::default()
        };
        let low = ammo + reserve < LOW_AMMO;
        let goal = if low { item(0) } else { item(1) };
        let mut dir;
        match zombie {
            Some(z) if me.distance(z) < keep || goal.is_none() || !low => {
                let d = me.distance(z);
                let to = (z - me).normalize_or_zero();
                if self.hold == 0 {
                    self.strafe_sign = if self.rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    self.hold = self.rng.random_range(per_second..=per_second * 3);
                }
                self.hold -= 1;
                dir = if d < keep {
                    -to + to.perp() * self.strafe_sign * 0.6
                } else if d > rules.shot_range * 0.9 {
                    to
                } else {
                    to.perp() * self.strafe_sign
                };
                intent.aim = to.to_angle();
                intent.fire = ammo > 0 && d <= rules.shot_range;
            }
            _ => {
                if let Some(g) = goal {
                    dir = (g - me).normalize_or_zero();
                } else {
                    if self.rng.random_range(0..per_second.max(1) * 2) == 0 {
                        self.wander += self.rng.random_range(-1.5..1.5);
                    }
                    dir = Vec2::from_angle(self.wander);
                }
                intent.aim = dir.to_angle();
            }
        }
        // Away from the edges, where a horde would corner it.
        let margin = 120.0;
        let size = Vec2::new(rules.width, rules.height);
        if me.x < margin || me.y < margin || me.x > size.x - margin || me.y > size.y - margin {
            dir += (size * 0.5 - me).normalize_or_zero();
        }
        intent.movement = dir.normalize_or_zero();
        input_lanes(&intent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SurvivalConfig, SurvivalGame, input};
    use tickwire_engine::EngineConfig;
    use tickwire_engine::testing::TestRoom;
    use tickwire_shared::PlayerId;

    fn room(pickups: usize) -> TestRoom<SurvivalGame> {
        let mut game = SurvivalGame::new(SurvivalConfig {
            width: 1500.0,
            height: 1500.0,
            pickups,
            ..SurvivalConfig::default()
        });
        game.sim_mut().waves_on = false;
        TestRoom::new(
            EngineConfig {
                checksum_interval: 1,
                ..EngineConfig::default()
            },
            game,
        )
    }

    fn place(t: &mut TestRoom<SurvivalGame>, id: PlayerId, at: Vec2) {
        t.room.game_mut().sim_mut().heroes.get_mut(&id).unwrap().pos = at;
    }

    fn me(t: &TestRoom<SurvivalGame>, id: PlayerId) -> Vec2 {
        let l = own_hero(&t.replicas[&id]).unwrap();
        pos(l, hero::x, hero::y)
    }

    #[test]
    fn a_survivor_backs_off_from_a_close_zombie_and_shoots_it() {
        let mut t = room(0);
        let bot = t.join("bot");
        place(&mut t, bot, Vec2::new(750.0, 750.0));
        t.room
            .game_mut()
            .sim_mut()
            .queued_zombies
            .push(Vec2::new(800.0, 750.0));
        t.tick();
        let mut b = Brain::new(3);
        let lanes = b.next_input(&t.replicas[&bot], 30.0);
        assert_eq!(lanes[input::fire], 1, "in range, clip full");
        assert!(lanes[input::move_x] < 0, "it backs off: {lanes:?}");
        let aim = crate::rules::dequantize_angle16(lanes[input::aim]);
        assert!(
            aim.abs() < 0.01 || (aim - std::f32::consts::TAU).abs() < 0.01,
            "{aim}"
        );
        for i in 0..60 {
            let l = b.next_input(&t.replicas[&bot], 30.0);
            t.input(bot, l);
            t.tick();
            if i == 4 {
                assert!(me(&t, bot).x < 740.0, "it backs off: {}", me(&t, bot));
            }
        }
        let sim = t.room.game().sim();
        assert!(sim.zombies.is_empty(), "the zombie is dead");
        assert_eq!(sim.heroes[&bot].kills, 1);
        assert_eq!(
            sim.heroes[&bot].hp, 100,
            "it kept its distance: never bitten"
        );
    }

    #[test]
    fn a_survivor_low_on_ammo_walks_to_a_crate_and_reloads_an_empty_clip() {
        let mut t = room(0);
        let bot = t.join("bot");
        place(&mut t, bot, Vec2::new(750.0, 750.0));
        {
            let sim = t.room.game_mut().sim_mut();
            let h = sim.heroes.get_mut(&bot).unwrap();
            (h.ammo, h.reserve) = (0, 5);
            let crate_at = crate::sim::Pickup {
                item: crate::sim::Item::AmmoCrate,
                pos: Vec2::new(750.0, 950.0),
            };
            let coin = crate::sim::Pickup {
                item: crate::sim::Item::Coin,
                pos: Vec2::new(600.0, 750.0),
            };
            sim.queued_pickups.extend([crate_at, coin]);
        }
        t.tick();
        let mut b = Brain::new(5);
        let first = b.next_input(&t.replicas[&bot], 30.0);
        assert_eq!(first[input::reload], 1, "an empty clip and a reserve");
        assert_eq!(first[input::fire], 0);
        assert!(
            first[input::move_y] > 100 && first[input::move_x] == 0,
            "{first:?}"
        );
        for _ in 0..60 {
            let l = b.next_input(&t.replicas[&bot], 30.0);
            t.input(bot, l);
            t.tick();
        }
        let h = &t.room.game().sim().heroes[&bot];
        // The crate was taken before the 36-tick reload completed, so the reload filled the
        // clip from 5 + 24 rounds.
        assert_eq!((h.ammo, h.reserve), (12, 17), "took the crate and reloaded");
    }

    #[test]
    fn behaviours_are_named_and_brains_are_reproducible() {
        assert!(brain("survivor", 0, 1).is_ok());
        let e = brain("dance", 0, 1).err().expect("unknown");
        assert!(e.contains("survivor, idle"), "{e}");
        let mut t = room(50);
        let bot = t.join("bot");
        t.room
            .game_mut()
            .sim_mut()
            .queued_zombies
            .push(Vec2::new(900.0, 750.0));
        t.tick();
        let (mut a, mut b) = (Brain::new(9), Brain::new(9));
        for _ in 0..50 {
            let r = &t.replicas[&bot];
            assert_eq!(a.next_input(r, 30.0), b.next_input(r, 30.0));
        }
        let mut idle = Idle;
        assert_eq!(idle.next_input(&t.replicas[&bot], 30.0), [0, 0, 0, 0, 0]);
    }
}
