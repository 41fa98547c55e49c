//! The rules of one table: the deck, the hands, whose turn it is and the rounds. Seeded, so a
//! table plays the same way twice. It asks the engine (through [`Ctx`]) only for a wire id for
//! each card it deals, tells it when a card leaves a hand, and emits the game's events; what
//! clients see is written by the game's `replicate` (`lib.rs`), never here.

use crate::{DREW, PLAYED, WON};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use std::collections::BTreeMap;
use std::fmt;
use tickwire_engine::{Audience, Ctx, MatchEnd, Standing};
use tickwire_shared::sync::Value;
use tickwire_shared::{NetId, PlayerId, Tick};

/// At most this many players are dealt into a round; the others watch until a seat frees.
pub const MAX_SEATS: usize = 4;

/// Suit symbols, by suit number.
pub const SUITS: [char; 4] = ['♣', '♦', '♥', '♠'];

/// One card: rank 1 (ace) to 13 (king), suit 0 to 3 (clubs, diamonds, hearts, spades).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Card {
    /// 1 (ace) to 13 (king).
    pub rank: u8,
    /// Index into [`SUITS`].
    pub suit: u8,
}

impl Card {
    /// Whether it may be played on `top`: the same suit or the same rank.
    pub fn plays_on(self, top: Card) -> bool {
        self.suit == top.suit || self.rank == top.rank
    }

    /// The 52 cards, in order.
    pub fn deck() -> Vec<Card> {
        (0..4)
            .flat_map(|suit| (1..=13).map(move |rank| Card { rank, suit }))
            .collect()
    }

    /// The rank as written on the card: A, 2 to 10, J, Q, K.
    pub fn rank_name(self) -> String {
        match self.rank {
            1 => "A".into(),
            11 => "J".into(),
            12 => "Q".into(),
            13 => "K".into(),
            r => r.to_string(),
        }
    }
}

impl fmt::Display for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suit = SUITS.get(usize::from(self.suit)).copied().unwrap_or('?');
        write!(f, "{}{suit}", self.rank_name())
    }
}

/// Where the table is between rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Fewer than two players: nothing is dealt.
    Waiting,
    /// A round is being played.
    Playing,
    /// The round ended (won, blocked or abandoned); the next one is dealt at the deadline.
    Over {
        /// Who won it, if anyone did.
        winner: Option<PlayerId>,
    },
}

/// Timing of a table, in ticks.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A player who has not moved in this many ticks draws a card and the turn passes.
    pub turn_ticks: u32,
    /// Ticks between the end of a round and the next deal.
    pub break_ticks: u32,
}

/// A player at the table (seated in this round or watching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// Its name, for refusals ("it is ann's turn").
    pub name: String,
    /// Rounds won.
    pub wins: u32,
}

/// One table of the game.
pub struct Table {
    rng: SmallRng,
    timing: Timing,
    /// Everyone in the room, in join order (PlayerIds ascend).
    pub players: BTreeMap<PlayerId, Seat>,
    /// The players dealt into this round, in turn order.
    pub seats: Vec<PlayerId>,
    /// Each seated player's hand: the wire id of each card and the card.
    pub hands: BTreeMap<PlayerId, Vec<(NetId, Card)>>,
    /// The draw pile (the next card is the last).
    pub pile: Vec<Card>,
    /// Played cards (the top card is the last).
    pub discard: Vec<Card>,
    /// Index into `seats` of the player whose turn it is.
    pub turn: usize,
    /// Where the table is.
    pub phase: Phase,
    /// Rounds dealt so far.
    pub round: u32,
    /// Moves made so far (plays, draws and passes, every round).
    pub moves: u32,
    /// The tick at which the current turn times out, or the next round is dealt.
    pub deadline: u32,
    /// Turns in a row in which nothing could be played or drawn.
    passes: usize,
    /// The tick the current round was dealt at.
    dealt_at: u32,
}

impl Table {
    /// An empty table.
    pub fn new(seed: u64, timing: Timing) -> Table {
        Table {
            rng: SmallRng::seed_from_u64(seed),
            timing,
            players: BTreeMap::new(),
            seats: Vec::new(),
            hands: BTreeMap::new(),
            pile: Vec::new(),
            discard: Vec::new(),
            turn: 0,
            phase: Phase::Waiting,
            round: 0,
            moves: 0,
            deadline: 0,
            dealt_at: 0,
            passes: 0,
        }
    }

    /// The top card of the discard pile (none before the first deal).
    pub fn top(&self) -> Option<Card> {
        self.discard.last().copied()
    }

    /// The player whose turn it is, while a round is played.
    pub fn whose_turn(&self) -> Option<PlayerId> {
        match self.phase {
            Phase::Playing => self.seats.get(self.turn).copied(),
            _ => None,
        }
    }

    /// Advances time: deals when enough players are in, times a turn out, starts the next
    /// round after the break.
    pub fn step(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.tick().0;
        match self.phase {
            Phase::Waiting if self.players.len() >= 2 => self.deal(ctx),
            Phase::Playing if now >= self.deadline => {
                if let Some(p) = self.whose_turn() {
                    self.draw_and_pass(ctx, p);
                }
            }
            Phase::Over { .. } if now >= self.deadline => {
                if self.players.len() >= 2 {
                    self.deal(ctx);
                } else {
                    self.clear_hands(ctx);
                    self.phase = Phase::Waiting;
                    self.deadline = 0;
                }
            }
            _ => {}
        }
    }

    /// A player sits down (dealt in at the next round).
    pub fn join(&mut self, player: PlayerId, name: &str) {
        self.players.insert(
            player,
            Seat {
                name: name.to_string(),
                wins: 0,
            },
        );
    }

    /// A player leaves: its cards go under the discard pile, the turn moves on if it was its,
    /// and a round left with one player ends with no winner.
    pub fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        self.players.remove(&player);
        for (id, card) in self.hands.remove(&player).unwrap_or_default() {
            ctx.despawn(id);
            self.discard.insert(0, card);
        }
        let Some(at) = self.seats.iter().position(|p| *p == player) else {
            return;
        };
        self.seats.remove(at);
        if self.phase != Phase::Playing {
            self.turn = 0;
            return;
        }
        if self.seats.len() < 2 {
            self.end_round(ctx, None);
        } else if at < self.turn {
            self.turn -= 1;
        } else if at == self.turn {
            // The next player (now at the same index) starts a fresh turn.
            self.turn %= self.seats.len();
            self.deadline = ctx.tick().0 + self.timing.turn_ticks;
        }
    }

    /// Plays the card `id` of `player`'s hand, or says why not.
    pub fn play(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, id: i64) -> Result<(), String> {
        self.check_turn(player)?;
        let top = self.top().ok_or("there is no top card")?;
        let hand = self.hands.get_mut(&player).ok_or("you hold no cards")?;
        let at = hand
            .iter()
            .position(|(nid, _)| i64::from(nid.0) == id)
            .ok_or("that card is not in your hand")?;
        let (nid, card) = hand[at];
        if !card.plays_on(top) {
            return Err(format!(
                "{card} does not match the top card {top}: play a {} or a {}, or draw",
                SUITS[usize::from(top.suit)],
                top.rank_name()
            ));
        }
        hand.remove(at);
        let emptied = hand.is_empty();
        ctx.despawn(nid);
        self.discard.push(card);
        self.moves += 1;
        self.passes = 0;
        ctx.emit(
            Audience::All,
            PLAYED,
            vec![
                Value::Int(i64::from(player.0)),
                Value::Int(i64::from(card.rank)),
                Value::Int(i64::from(card.suit)),
            ],
        );
        if emptied {
            self.end_round(ctx, Some(player));
        } else {
            self.next_turn(ctx);
        }
        Ok(())
    }

    /// `player` draws a card, which it may do only when no card of its hand plays; the turn
    /// passes.
    pub fn draw(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) -> Result<(), String> {
        self.check_turn(player)?;
        let top = self.top().ok_or("there is no top card")?;
        let hand = self.hands.get(&player).map(Vec::as_slice).unwrap_or(&[]);
        if let Some((_, card)) = hand.iter().find(|(_, c)| c.plays_on(top)) {
            return Err(format!(
                "{card} plays on {top}: you may draw only when no card of yours does"
            ));
        }
        self.draw_and_pass(ctx, player);
        Ok(())
    }

    fn check_turn(&self, player: PlayerId) -> Result<(), String> {
        match self.phase {
            Phase::Waiting => return Err("waiting for a second player".into()),
            Phase::Over { .. } => return Err("the round is over: the next one starts soon".into()),
            Phase::Playing => {}
        }
        if !self.seats.contains(&player) {
            return Err("you are not dealt into this round: wait for the next one".into());
        }
        match self.whose_turn() {
            Some(p) if p == player => Ok(()),
            Some(p) => Err(format!(
                "not your turn: it is {}'s",
                self.players.get(&p).map_or("someone", |s| s.name.as_str())
            )),
            None => Err("nobody's turn".into()),
        }
    }

    /// Draws one card for `player` (if any is left) and passes the turn; a round in which
    /// every seated player in a row could neither play nor draw is blocked, and the fewest
    /// cards win it.
    fn draw_and_pass(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        let drew = self.draw_one(ctx, player);
        self.moves += 1;
        ctx.emit(
            Audience::All,
            DREW,
            vec![Value::Int(i64::from(player.0)), Value::Int(i64::from(drew))],
        );
        if drew {
            self.passes = 0;
        } else {
            self.passes += 1;
            if self.passes >= self.seats.len() {
                let fewest = self
                    .seats
                    .iter()
                    .min_by_key(|p| self.hands.get(p).map_or(0, Vec::len))
                    .copied();
                self.end_round(ctx, fewest);
                return;
            }
        }
        self.next_turn(ctx);
    }

    fn draw_one(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) -> bool {
        if self.pile.is_empty() && self.discard.len() > 1 {
            let top = self.discard.pop().expect("more than one");
            self.pile = std::mem::replace(&mut self.discard, vec![top]);
            self.pile.shuffle(&mut self.rng);
        }
        let Some(card) = self.pile.pop() else {
            return false;
        };
        let id = ctx.spawn();
        self.hands.entry(player).or_default().push((id, card));
        true
    }

    fn next_turn(&mut self, ctx: &mut Ctx<'_>) {
        self.turn = (self.turn + 1) % self.seats.len().max(1);
        self.deadline = ctx.tick().0 + self.timing.turn_ticks;
    }

    fn end_round(&mut self, ctx: &mut Ctx<'_>, winner: Option<PlayerId>) {
        if let Some(seat) = winner.and_then(|w| self.players.get_mut(&w)) {
            seat.wins += 1;
        }
        if let Some(w) = winner {
            // The result: the winner first with a win, then the others, fewest cards left
            // first (the engine hands it on to be kept; see `CardsGame::stats`).
            let mut rest: Vec<(usize, PlayerId)> = self
                .seats
                .iter()
                .filter(|p| **p != w)
                .map(|p| (self.hands.get(p).map_or(0, Vec::len), *p))
                .collect();
            rest.sort();
            let standings = std::iter::once(Standing {
                player: w,
                score: 1,
                stats: vec![1],
            })
            .chain(rest.into_iter().map(|(_, p)| Standing {
                player: p,
                score: 0,
                stats: vec![0],
            }))
            .collect();
            ctx.end_match(MatchEnd {
                started: Tick(self.dealt_at),
                standings,
            });
        }
        self.phase = Phase::Over { winner };
        self.deadline = ctx.tick().0 + self.timing.break_ticks;
        ctx.emit(
            Audience::All,
            WON,
            vec![
                Value::Int(winner.map_or(0, |w| i64::from(w.0))),
                Value::Int(i64::from(self.round)),
            ],
        );
    }

    fn clear_hands(&mut self, ctx: &mut Ctx<'_>) {
        for (_, hand) in std::mem::take(&mut self.hands) {
            for (id, _) in hand {
                ctx.despawn(id);
            }
        }
        self.seats.clear();
    }

    /// A new round: a shuffled deck, the first [`MAX_SEATS`] players dealt seven cards each
    /// when two play and five when more do, one card turned up, the first turn going round
    /// the table from round to round.
    fn deal(&mut self, ctx: &mut Ctx<'_>) {
        self.clear_hands(ctx);
        self.dealt_at = ctx.tick().0;
        self.seats = self.players.keys().take(MAX_SEATS).copied().collect();
        let mut deck = Card::deck();
        deck.shuffle(&mut self.rng);
        self.pile = deck;
        self.discard.clear();
        let per_hand = if self.seats.len() == 2 { 7 } else { 5 };
        for _ in 0..per_hand {
            for p in self.seats.clone() {
                self.draw_one(ctx, p);
            }
        }
        let up = self
            .pile
            .pop()
            .expect("52 cards cover four hands and a top card");
        self.discard.push(up);
        self.round += 1;
        self.turn = (self.round as usize - 1) % self.seats.len();
        self.phase = Phase::Playing;
        self.passes = 0;
        self.deadline = ctx.tick().0 + self.timing.turn_ticks;
    }
}
