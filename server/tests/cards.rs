//! The card game (`--game cards`) over real loopback sockets: the server binary's code serves
//! Eights, two [`GameClient`]s play it by actions, every snapshot carries a checksum that
//! their replicas verify, a move out of turn is refused to its player alone, the hands stay
//! private, a round is played to its winner and the next one is dealt; `/` serves the cards
//! page and `/rooms` names the game.

mod common;

use common::{TestServer, WAIT};
use tickwire_cards::bot::{CardBot, Pick};
use tickwire_cards::{CARD, PLAY, WON, seat, table_fields};
use tickwire_client::{GameClient, GameEvent};
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_server::net::driver::GameName;
use tickwire_shared::schema::engine_events::REJECTED;
use tickwire_shared::sync::{Event, Value};
use tickwire_shared::{NetId, PlayerId};

async fn join(server: &TestServer, name: &str) -> GameClient {
    GameClient::join(&server.ws_url(), name, None, WAIT)
        .await
        .expect("join")
}

/// The next snapshot's events; every snapshot must carry a checksum the replica verified.
async fn step(c: &mut GameClient) -> Vec<Event> {
    match c.next_snapshot(WAIT).await {
        Ok(GameEvent::Snapshot {
            events, checked, ..
        }) => {
            assert!(checked, "every snapshot carries a checksum");
            events
        }
        other => panic!("no snapshot: {other:?}"),
    }
}

fn room(c: &GameClient, field: usize) -> i64 {
    c.replica.room[field]
}

fn me(c: &GameClient) -> i64 {
    i64::from(c.welcome.player_id.0)
}

fn hand(c: &GameClient) -> Vec<NetId> {
    c.replica.of_kind(CARD).map(|(id, _)| id).collect()
}

#[tokio::test]
async fn two_clients_play_a_round_of_cards_to_its_winner_over_loopback() {
    let server = TestServer::start(Config {
        game: GameName::Cards,
        checksum_interval: 1,
        ..Config::ephemeral()
    })
    .await;
    let (status, page) = server.http_get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("/cards/cards.js"), "/ serves the cards page");

    let mut a = join(&server, "ann").await;
    let mut b = join(&server, "bob").await;
    assert_eq!(a.welcome.schema, tickwire_cards::schema());
    let (_, rooms) = server.http_get("/rooms").await;
    let rooms: Vec<RoomInfo> = serde_json::from_str(&rooms).unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0].game, "cards");

    // Wait until both see the first round dealt.
    while room(&a, table_fields::turn) == 0 || room(&b, table_fields::turn) == 0 {
        step(&mut a).await;
        step(&mut b).await;
    }
    let (on, off) = if room(&a, table_fields::turn) == me(&a) {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    let on_name = on.replica.players[&on.welcome.player_id].name.clone();
    // The player off turn plays: refused, to it alone, with the reason.
    let card = hand(off)[0];
    let seq = off
        .action(PLAY, vec![Value::Int(i64::from(card.0))])
        .await
        .unwrap();
    let mut refusal = None;
    for _ in 0..60 {
        let off_events = step(off).await;
        let on_events = step(on).await;
        assert!(
            on_events.iter().all(|e| e.kind != REJECTED),
            "not to the other"
        );
        if let Some(e) = off_events.iter().find(|e| e.kind == REJECTED) {
            refusal = Some((e.values[0].int(), e.values[1].str().to_string()));
            break;
        }
    }
    let expected = format!("not your turn: it is {on_name}'s");
    assert_eq!(refusal, Some((i64::from(seq), expected)));
    assert!(hand(off).contains(&card), "the refused card is still held");

    // Both play with the bots' brain until a round is won and the next one is dealt.
    let mut brains = [CardBot::new(Pick::First, 1), CardBot::new(Pick::Random, 2)];
    let mut winner = None;
    let mut moves = 0;
    let deadline = tokio::time::Instant::now() + 4 * WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no round won in time"
        );
        for (c, brain) in [&mut a, &mut b].into_iter().zip(&mut brains) {
            // Once the round is won, nobody moves: the next one is only watched being dealt.
            if winner.is_none()
                && let Some((kind, values)) = brain.choose(&c.replica)
            {
                c.action(kind, values).await.unwrap();
                moves += 1;
            }
        }
        let ea = step(&mut a).await;
        let eb = step(&mut b).await;
        for e in ea.iter().chain(&eb) {
            assert_ne!(e.kind, REJECTED, "a legal move was refused: {e:?}");
        }
        if let Some(e) = ea.iter().find(|e| e.kind == WON) {
            winner = Some(e.values[0].int());
        }
        // The hands stay private: no card id is in both replicas; the public card count of
        // each player is its hand's size (as its own replica holds it, and as the other's
        // replica says when both are at the same tick).
        let (ha, hb) = (hand(&a), hand(&b));
        assert!(ha.iter().all(|id| !hb.contains(id)));
        let count = |c: &GameClient, p: PlayerId| c.replica.players[&p].lanes[seat::cards];
        let (pa, pb) = (a.welcome.player_id, b.welcome.player_id);
        assert_eq!(count(&a, pa), ha.len() as i64);
        assert_eq!(count(&b, pb), hb.len() as i64);
        if a.replica.tick == b.replica.tick {
            assert_eq!(count(&a, pb), hb.len() as i64);
            assert_eq!(count(&b, pa), ha.len() as i64);
        }
        if winner.is_some()
            && room(&a, table_fields::round) == 2
            && room(&b, table_fields::round) == 2
        {
            break;
        }
    }
    let w = winner.unwrap();
    assert!(w == me(&a) || w == me(&b), "a player won");
    assert!(moves >= 8, "{moves} moves");
    let wins = a.replica.players[&PlayerId(w as u32)].lanes[seat::wins];
    assert_eq!(wins, 1);
    assert_eq!(hand(&a).len(), 7, "round 2 is dealt");
    assert_eq!(hand(&b).len(), 7);
    a.leave().await;
    b.leave().await;
    server.stop().await;
}

/// A card table seats four: quick-match opens a second table for the fifth player, and a named
/// table refuses a fifth with 4003 and its capacity.
#[tokio::test]
async fn a_table_seats_four_and_quick_match_opens_another() {
    let server = TestServer::start(Config {
        game: GameName::Cards,
        ..Config::ephemeral()
    })
    .await;
    let mut players = Vec::new();
    for i in 0..5 {
        players.push(join(&server, &format!("p{i}")).await);
    }
    let (status, body) = server.http_get("/rooms").await;
    assert_eq!(status, 200);
    let mut rooms: Vec<RoomInfo> = serde_json::from_str(&body).unwrap();
    rooms.sort_by_key(|r| std::cmp::Reverse(r.players));
    let seats: Vec<(usize, usize)> = rooms.iter().map(|r| (r.players, r.max_players)).collect();
    assert_eq!(seats, [(4, 4), (1, 4)], "{rooms:?}");
    let url = format!("{}?room=table", server.ws_url());
    let mut named = Vec::new();
    for i in 0..4 {
        named.push(
            GameClient::join(&url, &format!("t{i}"), None, WAIT)
                .await
                .expect("a seat"),
        );
    }
    match GameClient::join(&url, "fifth", None, WAIT).await {
        Err(tickwire_client::game::JoinError::Refused { code, reason }) => {
            assert_eq!(code, Some(4003));
            assert_eq!(reason, "room table is full (4 players)");
        }
        Err(e) => panic!("expected 4003, got {e}"),
        Ok(_) => panic!("a fifth player was seated at a table of four"),
    }
    for p in players.into_iter().chain(named) {
        p.leave().await;
    }
    server.stop().await;
}
