//! What a simulated player does: turns the bot's replica (where it is, who it sees) into the
//! next input command. Pure and seeded, so a bot's choices are reproducible and testable
//! without sockets.

use glam::Vec2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickwire_shared::protocol::{InputCmd, buttons};
use tickwire_shared::quant::{dequantize_pos, quantize_angle16};
use tickwire_shared::replica::EntityState;
use tickwire_shared::{InputSeq, Replica};

/// How a bot plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
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
    seq: u32,
}

/// How close a target must be before a strafing bot fires.
const FIRE_RANGE: f32 = 600.0;

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
            seq: 0,
        }
    }

    /// The behaviour this brain plays.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }

    /// Sequence number of the last command made.
    pub fn last_seq(&self) -> InputSeq {
        InputSeq(self.seq)
    }

    /// The next command, given what the bot currently knows. `inputs_per_second` scales how
    /// long a heading is held.
    pub fn next_input(&mut self, replica: &Replica, inputs_per_second: f64) -> InputCmd {
        self.seq += 1;
        let me = replica
            .local_player()
            .map(|s| Vec2::new(dequantize_pos(s.x), dequantize_pos(s.y)));
        let per_second = inputs_per_second.max(1.0) as u32;
        let (dir, aim, fire) = match (self.behaviour, me) {
            (Behaviour::Idle, _) | (_, None) => (Vec2::ZERO, self.heading, false),
            (Behaviour::Wander, Some(me)) => {
                let d = self.wander(me, replica, per_second);
                (d, d.to_angle(), false)
            }
            (Behaviour::Chase, Some(me)) => match nearest_player(replica, me) {
                Some(t) => {
                    let d = (t - me).normalize_or_zero();
                    (d, d.to_angle(), false)
                }
                None => {
                    let d = self.wander(me, replica, per_second);
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
                    let d = self.wander(me, replica, per_second);
                    (d, d.to_angle(), false)
                }
            },
            (Behaviour::Mixed, Some(_)) => unreachable!("resolved by Behaviour::for_bot"),
        };
        InputCmd {
            seq: InputSeq(self.seq),
            move_x: (dir.x * 127.0).round() as i8,
            move_y: (dir.y * 127.0).round() as i8,
            aim: quantize_angle16(aim),
            buttons: if fire { buttons::FIRE } else { 0 },
            view_tick: replica.tick,
        }
    }

    fn wander(&mut self, me: Vec2, replica: &Replica, per_second: u32) -> Vec2 {
        let margin = 150.0;
        let a = &replica.arena;
        let near_wall =
            me.x < margin || me.y < margin || me.x > a.width - margin || me.y > a.height - margin;
        if near_wall {
            let centre = Vec2::new(a.width, a.height) * 0.5;
            self.heading = (centre - me).to_angle() + self.rng.random_range(-0.6..0.6);
            self.hold = per_second;
        } else if self.hold == 0 {
            self.heading += self.rng.random_range(-1.5..1.5);
            self.hold = self.rng.random_range(per_second..=per_second * 3);
        }
        self.hold = self.hold.saturating_sub(1);
        Vec2::from_angle(self.heading)
    }
}

/// The nearest living player other than the bot itself.
fn nearest_player(replica: &Replica, me: Vec2) -> Option<Vec2> {
    replica
        .entities
        .iter()
        .filter(|(id, _)| **id != replica.entity_id)
        .filter_map(|(_, e)| match e {
            EntityState::Player { state, .. } if state.alive() => {
                Some(Vec2::new(dequantize_pos(state.x), dequantize_pos(state.y)))
            }
            _ => None,
        })
        .min_by(|a, b| a.distance_squared(me).total_cmp(&b.distance_squared(me)))
}
