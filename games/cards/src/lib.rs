//! Eights, a small turn-based card game with hidden hands, on the tickwire engine's public API
//! alone: no bodies, no spatial view, every move a reliable action the game validates.
//!
//! # The rules (a simplified crazy eights, with no wild cards)
//!
//! - One deck of 52 cards. Two to four players are dealt into a round: seven cards each when
//!   two play, five when three or four do. Players beyond four watch and are dealt in at the
//!   next round. One card is turned up: the top card.
//! - On your turn, play one card of your hand that has the **same suit or the same rank** as
//!   the top card; it becomes the top card. If none of your cards does, **draw** one card
//!   from the pile (you may not draw while a card of yours plays). Either way the turn passes
//!   to the next player.
//! - When the pile is empty, the played cards under the top card are shuffled into a new
//!   pile. If there are none either, drawing draws nothing; when every player in a row could
//!   neither play nor draw, the round is blocked and the player with the fewest cards wins it.
//! - A player who has not moved within the turn time (20 s by default) draws a card and the
//!   turn passes, so an absent player never stalls the table.
//! - **The first to empty their hand wins the round.** After a short break (4 s) a new round
//!   is dealt with a fresh deck; the first turn goes round the table from round to round.
//!
//! # On the engine
//!
//! - Each card in a hand is an entity of kind `card` (`rank`, `suit`) that is owned by its
//!   player and [`Visibility::Owner`]: only its owner ever receives it, so another client
//!   learns neither a card's value nor that it exists. How many cards each player holds is
//!   public, as a player field (`cards`).
//! - The room fields are the table everyone sees: the round, whose turn it is, the top card,
//!   the size of the draw pile, the last winner, a move counter and the turn's deadline.
//! - Moves are the actions `play { card }` (the card's entity id) and `draw {}`. A move out of
//!   turn, of a card not in the hand, of a card that does not match, or a draw while a card
//!   plays is refused with its reason, which reaches that player alone (the engine's
//!   `rejected` event), and changes nothing.
//! - No input command, no view radius, no view centre: nothing here is spatial.
//!
//! The rules themselves are in [`table`]; [`bot`] has the load tester's players.

#![warn(missing_docs)]

pub mod bot;
pub mod table;

use table::{Phase, Table, Timing};
use tickwire_engine::{Ctx, EntityMeta, Game, Visibility, World};
use tickwire_shared::schema::{FieldDesc, FieldType, KindDesc, MessageDesc, Schema, engine_events};
use tickwire_shared::sync::{Action, InputCmd};
use tickwire_shared::{PlayerId, fields};

fields! {
    /// A card in a hand (only its owner receives it).
    pub mod card {
        rank: U8;
        suit: U8;
    }
}

fields! {
    /// A player's public record.
    pub mod seat {
        cards: U8;
        wins: U16;
        dealt_in: Bool;
    }
}

fields! {
    /// The table everyone sees.
    pub mod table_fields {
        round: U16;
        turn: Player;
        top_rank: U8;
        top_suit: U8;
        pile: U8;
        winner: Player;
        moves: U32;
        deadline: U32;
    }
}

/// Kind index of cards.
pub const CARD: u16 = 0;
/// Action: `play { card }`.
pub const PLAY: u16 = 0;
/// Action: `draw {}`.
pub const DRAW: u16 = 1;
/// Event: `played { player, rank, suit }`.
pub const PLAYED: u16 = engine_events::COUNT;
/// Event: `drew { player, got }` (`got` is false when there was nothing left to draw).
pub const DREW: u16 = engine_events::COUNT + 1;
/// Event: `won { player, round }` (player 0: nobody, the round was abandoned).
pub const WON: u16 = engine_events::COUNT + 2;

/// The game's schema.
pub fn schema() -> Schema {
    Schema::new("cards")
        .kind(KindDesc {
            name: "card".into(),
            fields: card::fields(),
        })
        .player_fields(seat::fields())
        .room_fields(table_fields::fields())
        .action(MessageDesc::new(
            "play",
            vec![FieldDesc::new("card", FieldType::Entity)],
        ))
        .action(MessageDesc::new("draw", vec![]))
        .event(MessageDesc::new(
            "played",
            vec![
                FieldDesc::new("player", FieldType::Player),
                FieldDesc::new("rank", FieldType::U8),
                FieldDesc::new("suit", FieldType::U8),
            ],
        ))
        .event(MessageDesc::new(
            "drew",
            vec![
                FieldDesc::new("player", FieldType::Player),
                FieldDesc::new("got", FieldType::Bool),
            ],
        ))
        .event(MessageDesc::new(
            "won",
            vec![
                FieldDesc::new("player", FieldType::Player),
                FieldDesc::new("round", FieldType::U16),
            ],
        ))
}

/// A table's settings.
#[derive(Debug, Clone, Copy)]
pub struct CardsConfig {
    /// Seed of the shuffles.
    pub seed: u64,
    /// Ticks per second (to turn the times below into ticks).
    pub tick_rate: u16,
    /// Seconds a player has to move before it draws and the turn passes.
    pub turn_secs: f32,
    /// Seconds between a round's end and the next deal.
    pub break_secs: f32,
}

impl Default for CardsConfig {
    fn default() -> Self {
        CardsConfig {
            seed: 1,
            tick_rate: 30,
            turn_secs: 20.0,
            break_secs: 4.0,
        }
    }
}

/// The card game: one table per room.
pub struct CardsGame {
    config: CardsConfig,
    table: Table,
}

impl CardsGame {
    /// A table with no players.
    pub fn new(config: CardsConfig) -> CardsGame {
        let ticks = |s: f32| ((s * f32::from(config.tick_rate)).round() as u32).max(1);
        let timing = Timing {
            turn_ticks: ticks(config.turn_secs),
            break_ticks: ticks(config.break_secs),
        };
        CardsGame {
            config,
            table: Table::new(config.seed, timing),
        }
    }

    /// The table (for tests and tools).
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The table, to set up a situation in a test.
    pub fn table_mut(&mut self) -> &mut Table {
        &mut self.table
    }
}

impl Game for CardsGame {
    fn schema(&self) -> Schema {
        schema()
    }

    fn client_config(&self) -> String {
        format!(
            "{{\"max_seats\":{},\"turn_secs\":{},\"break_secs\":{}}}",
            table::MAX_SEATS,
            self.config.turn_secs,
            self.config.break_secs
        )
    }

    fn join(&mut self, _ctx: &mut Ctx<'_>, player: PlayerId, name: &str) -> Result<(), String> {
        self.table.join(player, name);
        Ok(())
    }

    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        self.table.leave(ctx, player);
    }

    fn input(&mut self, _ctx: &mut Ctx<'_>, _player: PlayerId, _cmd: &InputCmd) {}

    fn action(
        &mut self,
        ctx: &mut Ctx<'_>,
        player: PlayerId,
        action: &Action,
    ) -> Result<(), String> {
        match action.kind {
            PLAY => {
                let id = action.values.first().map_or(0, |v| v.int());
                self.table.play(ctx, player, id)
            }
            DRAW => self.table.draw(ctx, player),
            k => Err(format!("no action {k}")),
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) {
        self.table.step(ctx);
    }

    /// A won round reports `wins` (1 for the winner) for each seated player.
    fn stats(&self) -> &'static [&'static str] {
        &["wins"]
    }

    fn replicate(&self, world: &mut World) {
        let t = &self.table;
        for (player, hand) in &t.hands {
            for (id, c) in hand {
                let meta = EntityMeta::new(*id, CARD)
                    .owned_by(*player)
                    .visible_to(Visibility::Owner);
                world.entity(meta, &[i64::from(c.rank), i64::from(c.suit)]);
            }
        }
        for (player, s) in &t.players {
            let cards = t.hands.get(player).map_or(0, Vec::len);
            let dealt_in = t.seats.contains(player);
            world.player(
                *player,
                &[cards as i64, i64::from(s.wins), i64::from(dealt_in)],
            );
        }
        let pid = |p: Option<PlayerId>| p.map_or(0, |p| i64::from(p.0));
        let top = t.top();
        let winner = match t.phase {
            Phase::Over { winner } => winner,
            _ => None,
        };
        world.room(&[
            i64::from(t.round),
            pid(t.whose_turn()),
            top.map_or(0, |c| i64::from(c.rank)),
            top.map_or(0, |c| i64::from(c.suit)),
            t.pile.len() as i64,
            pid(winner),
            i64::from(t.moves),
            i64::from(t.deadline),
        ]);
    }
}

#[cfg(test)]
mod tests;
