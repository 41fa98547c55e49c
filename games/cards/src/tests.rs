//! The card game on the engine, over the real bytes (`TestRoom`: every client's replica is
//! decoded from what the room sent it, checksums every tick): no hand ever reaches another
//! client, illegal moves are refused to their player alone and change nothing, and the bots'
//! brains play rounds to a winner and on into the next round.

use super::*;
use crate::bot::{CardBot, Pick};
use crate::table::Card;
use std::collections::{BTreeMap, BTreeSet};
use tickwire_engine::testing::TestRoom;
use tickwire_engine::{EngineConfig, TickOutput};
use tickwire_shared::NetId;
use tickwire_shared::schema::engine_events::REJECTED;
use tickwire_shared::sync::Value;
use tickwire_shared::sync::bot::BotBrain;

type Harness = TestRoom<CardsGame>;

fn harness(seed: u64) -> Harness {
    let engine = EngineConfig {
        checksum_interval: 1,
        ..EngineConfig::default()
    };
    let game = CardsGame::new(CardsConfig {
        seed,
        ..CardsConfig::default()
    });
    TestRoom::new(engine, game)
}

fn table(h: &Harness) -> &Table {
    h.room.game().table()
}

/// The cards a player holds on the server, by wire id.
fn hand(h: &Harness, p: PlayerId) -> BTreeMap<NetId, [i64; 2]> {
    table(h)
        .hands
        .get(&p)
        .into_iter()
        .flatten()
        .map(|(id, c)| (*id, [i64::from(c.rank), i64::from(c.suit)]))
        .collect()
}

/// The cards a player's replica holds, by wire id.
fn held(h: &Harness, p: PlayerId) -> BTreeMap<NetId, [i64; 2]> {
    h.replicas[&p]
        .of_kind(CARD)
        .map(|(id, l)| (id, [l[card::rank], l[card::suit]]))
        .collect()
}

/// What each client was sent this tick, decoded from its bytes: it creates and updates only
/// cards of its own hand, never an entity of anyone else's; its replica then holds exactly
/// its hand (ids and values) and no other entity at all; everyone's card count is public.
fn assert_hands_private(h: &Harness, out: &TickOutput) {
    let t = table(h);
    for (id, _) in &out.messages {
        let own = hand(h, *id);
        let others: BTreeSet<NetId> = t
            .hands
            .iter()
            .filter(|(p, _)| *p != id)
            .flat_map(|(_, cards)| cards.iter().map(|(n, _)| *n))
            .collect();
        let (s, _) = &h.last[id];
        let touched = s
            .created
            .iter()
            .map(|c| c.id)
            .chain(s.updated.iter().map(|u| u.id));
        for nid in touched {
            assert!(
                !others.contains(&nid),
                "{id:?} was sent {nid:?} of another hand"
            );
            assert!(
                own.contains_key(&nid),
                "{id:?} was sent {nid:?}, not its own"
            );
        }
        assert_eq!(held(h, *id), own, "{id:?} holds exactly its own hand");
        let r = &h.replicas[id];
        assert_eq!(r.entities.len(), own.len(), "{id:?} holds no other entity");
        for (p, rec) in &r.players {
            let n = t.hands.get(p).map_or(0, Vec::len) as i64;
            assert_eq!(rec.lanes[seat::cards], n, "{p:?}'s card count is public");
        }
    }
}

/// Lets the bots' brains move for every player (each on its own replica), asserting that
/// every move they make is legal; returns how many moves were made.
fn bots_move(h: &mut Harness, brains: &mut BTreeMap<PlayerId, CardBot>, seq: &mut u32) -> usize {
    let mut moves = 0;
    for (p, brain) in brains.iter_mut() {
        if let Some((kind, values)) = brain.next_action(&h.replicas[p]) {
            *seq += 1;
            let a = Action {
                seq: *seq,
                kind,
                values,
            };
            let r = h.room.handle_action(*p, &a);
            assert_eq!(r, Ok(()), "a bot's move {a:?} was refused");
            moves += 1;
        }
    }
    moves
}

/// Everything each client holds: entities, room fields, records.
fn replicas_state(h: &Harness) -> Vec<String> {
    h.replicas
        .values()
        .map(|r| format!("{:?} {:?} {:?}", r.entities, r.room, r.players))
        .collect()
}

/// Everything the table holds.
fn table_state(h: &Harness) -> String {
    let t = table(h);
    format!(
        "{:?} {:?} {:?} {:?} {} {:?} {} {} {} {:?}",
        t.hands,
        t.pile,
        t.discard,
        t.seats,
        t.turn,
        t.phase,
        t.round,
        t.moves,
        t.deadline,
        t.players
    )
}

fn play(seq: u32, card: NetId) -> Action {
    Action {
        seq,
        kind: PLAY,
        values: vec![Value::Int(i64::from(card.0))],
    }
}

fn draw(seq: u32) -> Action {
    Action {
        seq,
        kind: DRAW,
        values: vec![],
    }
}

/// The `rejected` events in a player's last snapshot, as (seq, reason).
fn rejections(h: &Harness, p: PlayerId) -> Vec<(i64, String)> {
    h.last[&p]
        .0
        .events
        .iter()
        .filter(|e| e.kind == REJECTED)
        .map(|e| (e.values[0].int(), e.values[1].str().to_string()))
        .collect()
}

#[test]
fn a_hand_never_reaches_another_client() {
    let mut h = harness(7);
    let players: Vec<PlayerId> = ["ann", "bob", "cat", "dan", "eve"]
        .iter()
        .map(|n| h.join(n))
        .collect();
    let mut brains: BTreeMap<PlayerId, CardBot> = players
        .iter()
        .map(|p| (*p, CardBot::new(Pick::Random, u64::from(p.0))))
        .collect();
    let eve = players[4];
    let mut seq = 0;
    let mut watched = 0;
    let mut checked = 0;
    for _ in 0..3000 {
        bots_move(&mut h, &mut brains, &mut seq);
        let out = h.tick();
        assert_hands_private(&h, &out);
        checked += out.messages.len();
        if table(&h).phase == Phase::Playing && !table(&h).seats.contains(&eve) {
            // Eve is not dealt in: she sees the table and the counts, and no card at all.
            assert!(h.replicas[&eve].entities.is_empty());
            watched += 1;
        }
        if table(&h).round == 2 && table(&h).seats.len() == 4 && h.replicas.len() == 5 {
            // Ann leaves: the next round deals eve in.
            brains.remove(&players[0]);
            h.leave(players[0]);
        }
        if table(&h).round >= 4 {
            break;
        }
    }
    assert!(table(&h).round >= 4, "the bots played three rounds");
    assert!(watched > 0, "eve watched a round");
    assert!(
        table(&h).seats.contains(&eve),
        "eve was dealt in after ann left"
    );
    assert!(checked > 1000);
}

#[test]
fn illegal_moves_are_refused_to_that_player_only_and_change_nothing() {
    let mut h = harness(3);
    let ann = h.join("ann");
    // Alone, nothing is dealt; any move is refused.
    h.tick();
    assert_eq!(table(&h).phase, Phase::Waiting);
    assert!(h.room.handle_action(ann, &draw(1)).is_err());
    h.tick();
    assert_eq!(
        rejections(&h, ann),
        vec![(1, "waiting for a second player".into())]
    );
    let bob = h.join("bob");
    h.tick();
    h.tick();
    assert_eq!(table(&h).phase, Phase::Playing);
    let on = table(&h).whose_turn().unwrap();
    let off = if on == ann { bob } else { ann };
    let name = |p: PlayerId| if p == ann { "ann" } else { "bob" };
    // The player on turn holds a card that does not play: make the top card one that
    // matches neither its suit nor its rank (the other cards of its hand may play on it).
    let (bad_id, bad) = table(&h).hands[&on][0];
    let top = Card {
        rank: bad.rank % 13 + 1,
        suit: (bad.suit + 1) % 4,
    };
    *h.room.game_mut().table_mut().discard.last_mut().unwrap() = top;
    // And a card that does play, so it may not draw.
    let good = Card {
        rank: top.rank,
        suit: (top.suit + 2) % 4,
    };
    h.room.game_mut().table_mut().hands.get_mut(&on).unwrap()[1].1 = good;
    h.tick();
    let before = (replicas_state(&h), table_state(&h));

    let off_card = *held(&h, off).keys().next().unwrap();
    let cases = [
        (
            off,
            play(10, off_card),
            format!("not your turn: it is {}'s", name(on)),
        ),
        (
            off,
            draw(11),
            format!("not your turn: it is {}'s", name(on)),
        ),
        (
            on,
            play(12, off_card),
            "that card is not in your hand".into(),
        ),
        (
            on,
            play(13, NetId(9999)),
            "that card is not in your hand".into(),
        ),
        (
            on,
            play(14, bad_id),
            format!(
                "{bad} does not match the top card {top}: play a {} or a {}, or draw",
                table::SUITS[usize::from(top.suit)],
                top.rank_name()
            ),
        ),
        (
            on,
            draw(15),
            format!("{good} plays on {top}: you may draw only when no card of yours does"),
        ),
    ];
    for (p, a, reason) in &cases {
        assert_eq!(h.room.handle_action(*p, a), Err(reason.clone()), "{a:?}");
    }
    h.tick();
    let told = |p: PlayerId| -> Vec<(i64, String)> {
        cases
            .iter()
            .filter(|(q, _, _)| *q == p)
            .map(|(_, a, r)| (i64::from(a.seq), r.clone()))
            .collect()
    };
    // Each refusal reached its player, in order, and nobody else.
    assert_eq!(rejections(&h, off), told(off));
    assert_eq!(rejections(&h, on), told(on));
    assert_eq!(told(off).len(), 2);
    assert_eq!(told(on).len(), 4);
    // Nothing changed: not the table, not a single lane any client holds.
    assert_eq!((replicas_state(&h), table_state(&h)), before);
    assert!(h.last[&on].0.room.is_none() && h.last[&on].0.created.is_empty());
    assert!(h.last[&on].0.removed.is_empty() && h.last[&on].0.updated.is_empty());

    // A legal move then plays: the card leaves the hand and is the top card for everyone.
    let good_id = table(&h).hands[&on][1].0;
    h.room.handle_action(on, &play(16, good_id)).unwrap();
    h.tick();
    assert!(rejections(&h, on).is_empty());
    assert!(!held(&h, on).contains_key(&good_id));
    for p in [ann, bob] {
        let room = &h.replicas[&p].room;
        assert_eq!(room[table_fields::top_rank], i64::from(good.rank));
        assert_eq!(room[table_fields::top_suit], i64::from(good.suit));
        assert_eq!(room[table_fields::turn], i64::from(off.0));
    }
}

#[test]
fn bots_play_rounds_to_a_winner_and_the_next_round_is_dealt() {
    let mut h = harness(11);
    let players: Vec<PlayerId> = ["ann", "bob", "cat"].iter().map(|n| h.join(n)).collect();
    let mut brains: BTreeMap<PlayerId, CardBot> = players
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let pick = if i.is_multiple_of(2) {
                Pick::First
            } else {
                Pick::Random
            };
            (*p, CardBot::new(pick, i as u64))
        })
        .collect();
    let mut seq = 0;
    let mut winners = Vec::new();
    let mut moves = 0;
    let mut results = Vec::new();
    for _ in 0..5000 {
        moves += bots_move(&mut h, &mut brains, &mut seq);
        results.extend(h.tick().results);
        let won: Vec<i64> = h.last[&players[0]]
            .0
            .events
            .iter()
            .filter(|e| e.kind == WON)
            .map(|e| e.values[0].int())
            .collect();
        for w in won {
            // Every client is told, and sees the winner with an empty hand and no turn.
            for p in &players {
                let r = &h.replicas[p];
                assert_eq!(r.room[table_fields::winner], w);
                assert_eq!(r.room[table_fields::turn], 0);
                let rec = &r.players[&PlayerId(w as u32)];
                assert_eq!(rec.lanes[seat::cards], 0, "the winner emptied its hand");
            }
            winners.push(w);
        }
        if winners.len() == 3 && table(&h).phase == Phase::Playing {
            break;
        }
    }
    assert_eq!(winners.len(), 3, "three rounds were won");
    assert!(winners.iter().all(|w| *w != 0));
    // Each won round was reported to the engine once: the winner first with its win.
    assert_eq!(results.len(), 3);
    for (r, w) in results.iter().zip(&winners) {
        assert_eq!(i64::from(r.players[0].player.0), *w);
        assert_eq!(r.players[0].stats, vec![("wins", 1)]);
        assert_eq!(r.players.len(), 3, "every seated player");
        assert!(r.players[1..].iter().all(|p| p.stats == vec![("wins", 0)]));
        assert!(r.ended > r.started);
    }
    assert!(moves > 30, "{moves} moves");
    // The fourth round is dealt: everyone holds five new cards, the table is fresh.
    assert_eq!(table(&h).round, 4);
    for p in &players {
        assert_eq!(held(&h, *p).len(), 5);
        let r = &h.replicas[p];
        assert_eq!(r.room[table_fields::round], 4);
        assert_eq!(r.room[table_fields::winner], 0);
        assert_eq!(r.room[table_fields::pile], 52 - 15 - 1);
    }
    // The records count the wins.
    let r = &h.replicas[&players[0]];
    let total: i64 = players.iter().map(|p| r.players[p].lanes[seat::wins]).sum();
    assert_eq!(total, 3);
    for w in &winners {
        assert!(r.players[&PlayerId(*w as u32)].lanes[seat::wins] >= 1);
    }
}

#[test]
fn an_absent_player_draws_when_its_time_is_up() {
    let mut h = harness(5);
    let ann = h.join("ann");
    let bob = h.join("bob");
    h.tick();
    let on = table(&h).whose_turn().unwrap();
    let deadline = table(&h).deadline;
    assert_eq!(deadline, h.room.tick_count().0 + 20 * 30);
    let cards = held(&h, on).len();
    while h.room.tick_count().0 < deadline {
        h.tick();
    }
    assert_eq!(held(&h, on).len(), cards + 1, "it drew a card");
    let next = if on == ann { bob } else { ann };
    assert_eq!(
        h.replicas[&next].room[table_fields::turn],
        i64::from(next.0)
    );
    let drew = h.last[&next]
        .0
        .events
        .iter()
        .find(|e| e.kind == DREW)
        .unwrap();
    assert_eq!(drew.values[0].int(), i64::from(on.0));
}

#[test]
fn a_player_leaving_passes_its_turn_and_a_lone_player_waits() {
    let mut h = harness(9);
    let ids: Vec<PlayerId> = ["ann", "bob", "cat"].iter().map(|n| h.join(n)).collect();
    h.tick();
    let on = table(&h).whose_turn().unwrap();
    let at = table(&h).seats.iter().position(|p| *p == on).unwrap();
    let next = table(&h).seats[(at + 1) % 3];
    h.leave(on);
    h.tick();
    assert_eq!(table(&h).whose_turn(), Some(next));
    for r in h.replicas.values() {
        assert_eq!(r.room[table_fields::turn], i64::from(next.0));
        assert!(!r.players.contains_key(&on));
    }
    // One more leaves: the round ends with no winner, and the last player waits alone.
    let other = *ids.iter().find(|p| **p != on && **p != next).unwrap();
    h.leave(other);
    h.tick();
    assert_eq!(table(&h).phase, Phase::Over { winner: None });
    for _ in 0..200 {
        h.tick();
    }
    assert_eq!(table(&h).phase, Phase::Waiting);
    assert!(
        h.replicas[&next].entities.is_empty(),
        "its cards were taken back"
    );
    assert_eq!(h.replicas[&next].room[table_fields::turn], 0);
}

#[test]
fn a_bot_moves_only_on_its_turn_and_once_per_state_of_the_table() {
    let mut h = harness(13);
    let ann = h.join("ann");
    let bob = h.join("bob");
    h.tick();
    let on = table(&h).whose_turn().unwrap();
    let off = if on == ann { bob } else { ann };
    let mut bot_on = CardBot::new(Pick::First, 1);
    let mut bot_off = CardBot::new(Pick::First, 2);
    assert_eq!(bot_off.next_action(&h.replicas[&off]), None);
    let (kind, values) = bot_on.next_action(&h.replicas[&on]).expect("its turn");
    let top = table(&h).top().unwrap();
    let cards = &table(&h).hands[&on];
    match kind {
        PLAY => {
            // The playable card with the lowest id.
            let want = cards
                .iter()
                .filter(|(_, c)| c.plays_on(top))
                .map(|(id, _)| id.0)
                .min();
            assert_eq!(Some(values[0].int()), want.map(i64::from));
        }
        _ => assert!(
            cards.iter().all(|(_, c)| !c.plays_on(top)),
            "drew with a card that plays"
        ),
    }
    // Until the table changes, it does not move again.
    assert_eq!(bot_on.next_action(&h.replicas[&on]), None);
    let a = Action {
        seq: 1,
        kind,
        values,
    };
    h.room.handle_action(on, &a).unwrap();
    h.tick();
    assert_eq!(
        bot_on.next_action(&h.replicas[&on]),
        None,
        "no longer its turn"
    );
    assert!(
        bot_off.next_action(&h.replicas[&off]).is_some(),
        "now the other's"
    );
}
