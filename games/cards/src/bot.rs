//! The card game's bots for the load tester. A bot reads only what its client holds: the room
//! fields (whose turn, the top card, the move counter) and its own hand (the only cards its
//! replica ever receives). On its turn it plays a card that matches, or draws when none does;
//! it moves once per state of the table, so it never sends a second move before the first
//! one is seen. Pure and seeded: tested without sockets.

use crate::table::Card;
use crate::{CARD, DRAW, PLAY, table_fields};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickwire_shared::sync::Value;
use tickwire_shared::sync::bot::BotBrain;
use tickwire_shared::sync::replica::Replica;

/// The behaviours' names, as the load tester's `--behaviour` takes them.
pub const BEHAVIOURS: &[&str] = &["mixed", "first", "random"];

/// How a bot picks among the cards that play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The one with the lowest entity id.
    First,
    /// Any of them, at random.
    Random,
}

/// A card player.
pub struct CardBot {
    pick: Pick,
    rng: SmallRng,
    /// The (round, moves) at which it last moved.
    moved_at: Option<(i64, i64)>,
}

impl CardBot {
    /// A bot that picks with `pick`, seeded.
    pub fn new(pick: Pick, seed: u64) -> CardBot {
        CardBot {
            pick,
            rng: SmallRng::seed_from_u64(seed),
            moved_at: None,
        }
    }

    /// Its move now, if it is its turn and it has not moved in this state of the table:
    /// `play` with a matching card, else `draw`.
    pub fn choose(&mut self, replica: &Replica) -> Option<(u16, Vec<Value>)> {
        let room = &replica.room;
        if room.len() != table_fields::COUNT
            || room[table_fields::turn] != i64::from(replica.player_id.0)
        {
            return None;
        }
        let state = (room[table_fields::round], room[table_fields::moves]);
        if self.moved_at == Some(state) {
            return None;
        }
        self.moved_at = Some(state);
        let top = Card {
            rank: room[table_fields::top_rank] as u8,
            suit: room[table_fields::top_suit] as u8,
        };
        let mut playable: Vec<u32> = replica
            .of_kind(CARD)
            .filter(|(_, l)| {
                let c = Card {
                    rank: l[crate::card::rank] as u8,
                    suit: l[crate::card::suit] as u8,
                };
                c.plays_on(top)
            })
            .map(|(id, _)| id.0)
            .collect();
        playable.sort_unstable();
        let card = match self.pick {
            Pick::First => playable.first().copied(),
            Pick::Random if playable.is_empty() => None,
            Pick::Random => Some(playable[self.rng.random_range(0..playable.len())]),
        };
        Some(match card {
            Some(id) => (PLAY, vec![Value::Int(i64::from(id))]),
            None => (DRAW, vec![]),
        })
    }
}

impl BotBrain for CardBot {
    fn next_input(&mut self, _replica: &Replica, _inputs_per_second: f64) -> Vec<i64> {
        Vec::new()
    }

    fn next_action(&mut self, replica: &Replica) -> Option<(u16, Vec<Value>)> {
        self.choose(replica)
    }
}

/// The brain of bot number `index` with `behaviour` (`mixed`: every other bot picks at
/// random).
pub fn brain(behaviour: &str, index: usize, seed: u64) -> Result<Box<dyn BotBrain>, String> {
    let pick = match behaviour {
        "first" => Pick::First,
        "random" => Pick::Random,
        "mixed" if index.is_multiple_of(2) => Pick::First,
        "mixed" => Pick::Random,
        _ => {
            return Err(format!(
                "no cards behaviour {behaviour:?}; expected one of {}",
                BEHAVIOURS.join(", ")
            ));
        }
    };
    Ok(Box::new(CardBot::new(pick, seed)))
}
