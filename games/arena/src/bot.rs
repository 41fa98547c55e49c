//! The arena's bots for the load tester: four ways of playing, read from the bot's replica
//! (its own body is the `body` whose `player` field is its id) and turned into input lanes.
//! Pure and seeded, so a bot's choices are reproducible and tested without sockets.

use crate::client::{ClientConfig, Intent, input_lanes};
use crate::quant::dequantize_pos;
use crate::{BODY, body};
use glam::Vec2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickwire_shared::sync::bot::BotBrain;
use tickwire_shared::sync::replica::Replica;

/// How an arena bot plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Walks in a random direction, turning every second or two and away from walls.
    Wander,
    /// Runs at the nearest player in view, aiming at them.
    Chase,
    /// Circles the nearest player in view, changing direction now and then, and fires at them.
    StrafeAndShoot,
    /// Stands still (sends inputs with no movement): for connection-count scenarios.
    Idle,
    /// Bot `i` takes wander, chase, strafe-and-shoot in turn.
    Mixed,
}

/// The behaviours' names, as the load tester's `--behaviour` takes them.
pub const BEHAVIOURS: &[&str] = &["wander", "chase", "strafe-and-shoot", "idle", "mixed"];

impl std::str::FromStr for Behaviour {
    type Err = String;

    fn from_str(s: &str) -> Result<Behaviour, String> {
        Ok(match s {
            "wander" => Behaviour::Wander,
            "chase" => Behaviour::Chase,
            "strafe-and-shoot" => Behaviour::StrafeAndShoot,
            "idle" => Behaviour::Idle,
            "mixed" => Behaviour::Mixed,
            _ => {
                return Err(format!(
                    "no arena behaviour {s:?}; expected one of {}",
                    BEHAVIOURS.join(", ")
                ));
            }
        })
    }
}

impl Behaviour {
    /// The concrete behaviour of bot number `index` (resolves [`Behaviour::Mixed`]).
    pub fn for_bot(self, index: usize) -> Behaviour {
        match self {
            Behaviour::Mixed => [
                Behaviour::Wander,
                Behaviour::Chase,
                Behaviour::StrafeAndShoot,
            ][index % 3],
            b => b,
        }
    }
}

/// A bot's decision state between inputs.
#[derive(Debug)]
pub struct Brain {
    behaviour: Behaviour,
    rng: SmallRng,
    heading: f32,
    /// Inputs left before the current heading or strafe direction changes.
    hold: u32,
    strafe_sign: f32,
    /// The arena's size, read from the `Welcome`'s game config on first use.
    size: Option<Vec2>,
}

/// How close a target must be before a strafing bot fires.
const FIRE_RANGE: f32 = 600.0;

/// A brain for bot `index` playing `behaviour` (before [`Behaviour::for_bot`]), seeded.
pub fn brain(behaviour: &str, index: usize, seed: u64) -> Result<Box<dyn BotBrain>, String> {
    let b: Behaviour = behaviour.parse()?;
    Ok(Box::new(Brain::new(b.for_bot(index), seed)))
}

impl Brain {
    /// A brain for one bot; `seed` makes it reproducible.
    pub fn new(behaviour: Behaviour, seed: u64) -> Brain {
        let mut rng = SmallRng::seed_from_u64(seed);
        let heading = rng.random_range(0.0..std::f32::consts::TAU);
        Brain {
            behaviour,
            rng,
            heading,
            hold: 0,
            strafe_sign: 1.0,
            size: None,
        }
    }

    /// The behaviour this brain plays.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }

    fn wander(&mut self, me: Vec2, size: Vec2, per_second: u32) -> Vec2 {
        let margin = 150.0;
        let near_wall =
            me.x < margin || me.y < margin || me.x > size.x - margin || me.y > size.y - margin;
        if near_wall {
            self.heading = (size * 0.5 - me).to_angle() + self.rng.random_range(-0.6..0.6);
            self.hold = per_second;
        } else if self.hold == 0 {
            self.heading += self.rng.random_range(-1.5..1.5);
            self.hold = self.rng.random_range(per_second..=per_second * 3);
        }
        self.hold = self.hold.saturating_sub(1);
        Vec2::from_angle(self.heading)
    }
}

impl BotBrain for Brain {
    fn next_input(&mut self, replica: &Replica, inputs_per_second: f64) -> Vec<i64> {
        let size = *self
            .size
            .get_or_insert_with(|| arena_size(&replica.game_config));
        let me = own_position(replica);
        let per_second = inputs_per_second.max(1.0) as u32;
        let (dir, aim, fire) = match (self.behaviour, me) {
            (Behaviour::Idle, _) | (_, None) => (Vec2::ZERO, self.heading, false),
            (Behaviour::Wander, Some(me)) => {
                let d = self.wander(me, size, per_second);
                (d, d.to_angle(), false)
            }
            (Behaviour::Chase, Some(me)) => match nearest_player(replica, me) {
                Some(t) => {
                    let d = (t - me).normalize_or_zero();
                    (d, d.to_angle(), false)
                }
                None => {
                    let d = self.wander(me, size, per_second);
                    (d, d.to_angle(), false)
                }
            },
            (Behaviour::StrafeAndShoot, Some(me)) => match nearest_player(replica, me) {
                Some(t) => {
                    if self.hold == 0 {
                        self.strafe_sign = if self.rng.random_bool(0.5) { 1.0 } else { -1.0 };
                        self.hold = self.rng.random_range(per_second / 2..=per_second * 2);
                    }
                    self.hold -= 1;
                    let to = (t - me).normalize_or_zero();
                    let d = to.perp() * self.strafe_sign;
                    (d, to.to_angle(), me.distance(t) <= FIRE_RANGE)
                }
                None => {
                    let d = self.wander(me, size, per_second);
                    (d, d.to_angle(), false)
                }
            },
            (Behaviour::Mixed, Some(_)) => unreachable!("resolved by Behaviour::for_bot"),
        };
        input_lanes(&Intent {
            movement: dir,
            aim,
            fire,
            alt_fire: false,
        })
    }
}

/// The arena's size from the `Welcome`'s game config (the default arena's if unreadable).
fn arena_size(game_config: &str) -> Vec2 {
    let arena = ClientConfig::parse(game_config)
        .map(|c| c.arena)
        .unwrap_or_default();
    Vec2::new(arena.width, arena.height)
}

fn position(lanes: &[i64]) -> Vec2 {
    Vec2::new(
        dequantize_pos(lanes[body::x] as i32),
        dequantize_pos(lanes[body::y] as i32),
    )
}

/// Where the bot's own body is, when it is in its replica.
pub fn own_position(replica: &Replica) -> Option<Vec2> {
    let me = i64::from(replica.player_id.0);
    replica
        .of_kind(BODY)
        .find(|(_, l)| l[body::player] == me)
        .map(|(_, l)| position(l))
}

/// The nearest living body other than the bot's own.
fn nearest_player(replica: &Replica, me: Vec2) -> Option<Vec2> {
    let own = i64::from(replica.player_id.0);
    replica
        .of_kind(BODY)
        .filter(|(_, l)| l[body::player] != own && l[body::alive] != 0)
        .map(|(_, l)| position(l))
        .min_by(|a, b| a.distance_squared(me).total_cmp(&b.distance_squared(me)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::buttons;
    use crate::rules::Arena;
    use crate::{ArenaConfig, ArenaGame, input};
    use tickwire_engine::EngineConfig;
    use tickwire_engine::testing::TestRoom;
    use tickwire_shared::PlayerId;

    fn open_room() -> TestRoom<ArenaGame> {
        TestRoom::new(
            EngineConfig::default(),
            ArenaGame::new(ArenaConfig {
                arena: Arena {
                    width: 2000.0,
                    height: 2000.0,
                    obstacles: vec![],
                },
                view_radius: 3000.0,
                ..ArenaConfig::default()
            }),
        )
    }

    fn place(t: &mut TestRoom<ArenaGame>, id: PlayerId, at: Vec2) {
        let key = t.room.game().player_key(id).unwrap();
        t.room.game_mut().sim_mut().player_mut(key).unwrap().pos = at;
    }

    /// Plays `brain` for bot `me` for `n` ticks; returns the bot's positions.
    fn play(t: &mut TestRoom<ArenaGame>, me: PlayerId, brain: &mut Brain, n: usize) -> Vec<Vec2> {
        let mut path = Vec::new();
        for _ in 0..n {
            let lanes = brain.next_input(&t.replicas[&me], 30.0);
            t.input(me, lanes);
            t.tick();
            path.push(own_position(&t.replicas[&me]).expect("own body in view"));
        }
        path
    }

    #[test]
    fn a_chasing_bot_closes_in_on_the_nearest_player() {
        let mut t = open_room();
        let (bot, target) = (t.join("bot"), t.join("target"));
        place(&mut t, bot, Vec2::new(400.0, 1000.0));
        place(&mut t, target, Vec2::new(1400.0, 1000.0));
        t.tick();
        let mut brain = Brain::new(Behaviour::Chase, 7);
        let path = play(&mut t, bot, &mut brain, 30);
        let gap = |p: Vec2| p.distance(Vec2::new(1400.0, 1000.0));
        assert!(
            gap(*path.last().unwrap()) < gap(Vec2::new(400.0, 1000.0)) - 200.0,
            "{path:?}"
        );
    }

    #[test]
    fn a_strafing_bot_fires_only_in_range_and_an_idle_one_stays_put() {
        let mut t = open_room();
        let (bot, target) = (t.join("bot"), t.join("target"));
        place(&mut t, bot, Vec2::new(500.0, 1000.0));
        place(&mut t, target, Vec2::new(1800.0, 1000.0));
        t.tick();
        let mut brain = Brain::new(Behaviour::StrafeAndShoot, 3);
        let far = brain.next_input(&t.replicas[&bot], 30.0);
        assert_eq!(far[input::buttons], 0, "1300 units away: out of range");
        place(&mut t, target, Vec2::new(900.0, 1000.0));
        t.tick();
        let near = brain.next_input(&t.replicas[&bot], 30.0);
        assert_eq!(near[input::buttons], i64::from(buttons::FIRE));

        let mut idle = Brain::new(Behaviour::Idle, 3);
        let path = play(&mut t, bot, &mut idle, 10);
        assert!(path.windows(2).all(|w| w[0] == w[1]), "{path:?}");
    }

    #[test]
    fn a_wandering_bot_turns_back_from_the_walls_and_is_reproducible() {
        let mut t = open_room();
        let bot = t.join("bot");
        place(&mut t, bot, Vec2::new(1000.0, 1000.0));
        t.tick();
        let mut brain = Brain::new(Behaviour::Wander, 11);
        let path = play(&mut t, bot, &mut brain, 600);
        assert!(
            path.iter()
                .all(|p| p.x > 20.0 && p.y > 20.0 && p.x < 1980.0 && p.y < 1980.0),
            "kept off the walls"
        );
        let far = path
            .iter()
            .map(|p| p.distance(Vec2::splat(1000.0)))
            .fold(0.0, f32::max);
        assert!(far > 300.0, "it does wander: {far}");

        let (mut a, mut b) = (
            Brain::new(Behaviour::Wander, 5),
            Brain::new(Behaviour::Wander, 5),
        );
        let r = &t.replicas[&bot];
        for _ in 0..50 {
            assert_eq!(
                a.next_input(r, 30.0),
                b.next_input(r, 30.0),
                "same seed, same choices"
            );
        }
    }

    #[test]
    fn behaviours_are_named_and_mixed_takes_turns() {
        assert!(brain("chase", 0, 1).is_ok());
        let e = brain("dance", 0, 1).err().expect("unknown name");
        assert!(e.contains("wander, chase"), "{e}");
        let turns: Vec<_> = (0..4).map(|i| Behaviour::Mixed.for_bot(i)).collect();
        assert_eq!(
            turns,
            [
                Behaviour::Wander,
                Behaviour::Chase,
                Behaviour::StrafeAndShoot,
                Behaviour::Wander
            ]
        );
        assert_eq!(
            arena_size("not json"),
            Vec2::new(Arena::default().width, Arena::default().height)
        );
    }
}
