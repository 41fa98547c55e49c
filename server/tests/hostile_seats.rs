//! Rooms, seats and resume against an attacker (issue 20, items 8, 9 and 10): one address
//! cannot take every room or every seat, quick-match keeps rooms of its own, a storm of joins
//! into free seats all get in, a player closed for abuse is removed at once and cannot resume,
//! unknown resume tokens are rate limited per address, and seats in resume grace count
//! against the address that held them. Every test runs witnesses in the attacked room (or
//! beside it) that must see every tick, checksummed.
//!
//! The server sees test clients at 127.0.0.1; `common::from_ip` binds client sockets to
//! 127.0.0.2, .3… so they count as other addresses.

mod common;

use common::from_ip::{self, loopback};
use common::v2::{self, GameClient};
use common::{RawWs, TestServer, WAIT, Witnesses};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tickwire_client::game::JoinError;
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_shared::PlayerId;
use tickwire_shared::close::CloseCode;
use tickwire_shared::sync::{ClientMsg, Hello, Ping, ServerMsg, Welcome, decode_server};

/// What the witnesses need: a checksum every tick and a few seconds of outbox.
fn witnessed(config: Config) -> Config {
    Config {
        checksum_interval: 1,
        outbox_capacity: 128,
        ..config
    }
}

async fn rooms(server: &TestServer) -> Vec<RoomInfo> {
    let (status, body) = server.http_get("/rooms").await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).unwrap()
}

async fn players_in(server: &TestServer, room: &str) -> usize {
    rooms(server)
        .await
        .iter()
        .find(|r| r.id == room)
        .map_or(0, |r| r.players)
}

/// Polls `/rooms` until `room` has `n` players (a generous bound: the machine is shared).
async fn wait_players(server: &TestServer, room: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while players_in(server, room).await != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "room {room} never had {n} players: {:?}",
            rooms(server).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn refused(r: Result<GameClient, JoinError>) -> (u16, String) {
    match r {
        Err(JoinError::Refused {
            code: Some(code),
            reason,
        }) => (code, reason),
        Err(e) => panic!("expected a close with a code, got {e}"),
        Ok(_) => panic!("expected a close, got a Welcome"),
    }
}

fn hello(name: &str, resume_token: Option<String>) -> Hello {
    Hello {
        resume_token,
        ..v2::hello(name)
    }
}

/// What the server answered a raw `Hello` with.
#[derive(Debug)]
enum Answer {
    Welcome(Box<Welcome>),
    Closed(u16, String),
    Eof,
}

async fn say_hello(ws: &mut RawWs, hello: Hello) -> Answer {
    ws.frame(2, true, &v2::encode(&ClientMsg::Hello(hello)))
        .await;
    match tokio::time::timeout(WAIT, ws.read_binary_or_close())
        .await
        .expect("an answer to Hello in time")
    {
        Some(Ok(bytes)) => match decode_server(&bytes, None, &[]) {
            Ok(ServerMsg::Welcome(w)) => Answer::Welcome(w),
            other => panic!("not a Welcome: {other:?}"),
        },
        Some(Err((code, reason))) => Answer::Closed(code, reason),
        None => Answer::Eof,
    }
}

/// A raw join from `ip` at `path`: the socket and its `Welcome`, or the refusal.
async fn raw_join(addr: SocketAddr, ip: IpAddr, path: &str, hello: Hello) -> (RawWs, Answer) {
    let mut ws = from_ip::raw(addr, ip, path).await;
    let answer = say_hello(&mut ws, hello).await;
    (ws, answer)
}

/// Drops a socket with a TCP reset (SO_LINGER 0): no close frame, no FIN.
fn reset(ws: RawWs) {
    ws.stream.set_zero_linger().unwrap();
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_joins_into_exactly_enough_free_seats_all_get_in() {
    const STORM: usize = 250;
    let server = TestServer::start(witnessed(Config {
        max_players: STORM + 2,
        max_connections_per_ip: 1000,
        max_seats_per_ip: 1000,
        ..Config::ephemeral()
    }))
    .await;
    let url = format!("{}?room=storm", server.ws_url());
    let witnesses = Witnesses::join(&url, 2).await;
    // All at once: each join's TCP connect, upgrade and Hello race every other's.
    let joins: Vec<_> = (0..STORM)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(
                async move { GameClient::join(&url, &format!("storm{i}"), None, WAIT).await },
            )
        })
        .collect();
    let mut joined = Vec::new();
    let mut turned_away = Vec::new();
    for j in joins {
        match j.await.unwrap() {
            Ok(c) => joined.push(c),
            Err(e) => turned_away.push(e.to_string()),
        }
    }
    assert!(
        turned_away.is_empty(),
        "{} of {STORM} joins into {STORM} free seats were turned away, e.g. {:?}",
        turned_away.len(),
        &turned_away[..turned_away.len().min(3)]
    );
    let mut ids: Vec<PlayerId> = joined.iter().map(|c| c.welcome.player_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), STORM, "every one a player of its own");
    wait_players(&server, "storm", STORM + 2).await;
    // Now it is full, and says so.
    let (code, reason) = refused(GameClient::join(&url, "one-too-many", None, WAIT).await);
    assert_eq!(code, CloseCode::Full.code());
    assert!(reason.contains("room storm is full"), "{reason}");
    for c in joined {
        c.leave().await;
    }
    witnesses.finish().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_takes_neither_every_room_nor_every_seat_and_quick_match_keeps_rooms() {
    let server = TestServer::start(witnessed(Config {
        max_players: 6,
        // Three of these six rooms for named rooms (the default half), three for quick-match.
        max_rooms: 6,
        max_rooms_per_ip: 2,
        max_seats_per_ip: 4,
        ..Config::ephemeral()
    }))
    .await;
    let base = server.ws_url();
    let named = |room: &str| format!("{base}?room={room}");
    // The witnesses quick-match into public room 1 (from 127.0.0.1).
    let witnesses = Witnesses::join(&base, 2).await;
    let attacker = loopback(3);
    let mut held = Vec::new();

    // Rooms per address: two named rooms, then a clear no.
    for room in ["a1", "a2"] {
        held.push(from_ip::player(&named(room), attacker, "attacker").await);
    }
    let (code, reason) =
        refused(from_ip::try_join(&named("a3"), attacker, v2::hello("attacker")).await);
    assert_eq!(code, CloseCode::Full.code());
    assert!(
        reason.contains("your address has created 2 rooms"),
        "{reason}"
    );
    // Seats per address: two more in a1 (four in all), then a clear no, though a1 has room.
    for _ in 0..2 {
        held.push(from_ip::player(&named("a1"), attacker, "attacker").await);
    }
    let (code, reason) =
        refused(from_ip::try_join(&named("a1"), attacker, v2::hello("attacker")).await);
    assert_eq!(code, CloseCode::Full.code());
    assert!(
        reason.contains("your address already holds 4 seats"),
        "{reason}"
    );
    // Quick-match refuses it the same way: the limit is the address's, over all rooms.
    let (code, reason) = refused(from_ip::try_join(&base, attacker, v2::hello("attacker")).await);
    assert_eq!(code, CloseCode::Full.code());
    assert!(reason.contains("holds 4 seats"), "{reason}");
    // Someone else still gets into the attacker's room.
    held.push(from_ip::player(&named("a1"), loopback(4), "friend").await);
    wait_players(&server, "a1", 4).await;

    // The named-room budget: a third named room (another address), then no more, from any
    // address.
    held.push(from_ip::player(&named("b1"), loopback(4), "b").await);
    let (code, reason) =
        refused(from_ip::try_join(&named("c1"), loopback(5), v2::hello("c")).await);
    assert_eq!(code, CloseCode::Full.code());
    assert!(
        reason.contains("no room is left for a new named room (3 at most)"),
        "{reason}"
    );

    // Quick-match still has three rooms of six seats: room 1 (with the two witnesses), then
    // rooms it creates, for sixteen new players, each from an address of its own.
    for i in 0..16u8 {
        held.push(from_ip::player(&base, loopback(10 + i), "newcomer").await);
    }
    let list = rooms(&server).await;
    let public: Vec<(String, usize)> = list
        .iter()
        .filter(|r| r.public)
        .map(|r| (r.id.clone(), r.players))
        .collect();
    assert_eq!(list.len(), 6, "{list:?}");
    assert_eq!(public.len(), 3, "{list:?}");
    assert!(public.iter().all(|(_, n)| *n == 6), "{list:?}");
    // Only now, with every seat of every room taken, is the server full for quick-match.
    let (code, reason) = refused(from_ip::try_join(&base, loopback(40), v2::hello("late")).await);
    assert_eq!(code, CloseCode::Full.code());
    assert!(reason.contains("server is full (6 rooms)"), "{reason}");

    witnesses.finish().await;
    drop(held);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_closed_for_abuse_is_removed_at_once_and_cannot_resume() {
    let server = TestServer::start(witnessed(Config {
        max_messages_per_sec: 50.0,
        message_burst: 50.0,
        // Far longer than the test: a player still there was kept for a resume.
        resume_grace: Duration::from_secs(120),
        ..Config::ephemeral()
    }))
    .await;
    let addr = server.addr;
    let path = "/ws?room=abuse";
    let url = format!("{}?room=abuse", server.ws_url());
    let witnesses = Witnesses::join(&url, 2).await;
    let ip = loopback(2);
    let ping = v2::encode(&ClientMsg::Ping(Ping { client_time: 1 }));
    let abuses: [(&str, CloseCode); 3] = [
        ("flood", CloseCode::PolicyViolation),
        ("oversized", CloseCode::MessageTooBig),
        ("undecodable", CloseCode::InvalidPayload),
    ];
    for (abuse, want) in abuses {
        let (mut ws, answer) = raw_join(addr, ip, path, hello(abuse, None)).await;
        let Answer::Welcome(w) = answer else {
            panic!("{abuse}: no Welcome: {answer:?}")
        };
        wait_players(&server, "abuse", 3).await;
        match abuse {
            "flood" => {
                let mut burst = Vec::new();
                for _ in 0..500 {
                    burst.extend_from_slice(&[0x82, 0x80 | ping.len() as u8, 0, 0, 0, 0]);
                    burst.extend_from_slice(&ping);
                }
                use tokio::io::AsyncWriteExt;
                let _ = ws.stream.write_all(&burst).await;
            }
            "oversized" => ws.frame(2, true, &vec![0u8; 5000]).await,
            _ => ws.frame(2, true, &[0xff, 0xff, 0xff, 0xff]).await,
        }
        let (code, reason) = tokio::time::timeout(WAIT, ws.read_close())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{abuse}: no close frame"));
        assert_eq!(code, want.code(), "{abuse}: {reason}");
        // Gone from the room at once, not after its (two-minute) grace.
        wait_players(&server, "abuse", 2).await;
        // Its token died with it: the same answer an unknown token gets, a new player.
        let (again_ws, answer) =
            raw_join(addr, ip, path, hello("again", Some(w.resume_token.clone()))).await;
        let Answer::Welcome(again) = answer else {
            panic!("{abuse}: the dead token was answered with {answer:?}")
        };
        assert!(!again.resumed, "{abuse}: the player was taken back");
        assert_ne!(again.player_id, w.player_id, "{abuse}");
        wait_players(&server, "abuse", 3).await;
        // A reset is no abuse: that player waits for its resume, and takes it.
        reset(again_ws);
        let (mut back, answer) = raw_join(
            addr,
            ip,
            path,
            hello("again", Some(again.resume_token.clone())),
        )
        .await;
        let Answer::Welcome(back_w) = answer else {
            panic!("{abuse}: a dropped player could not resume: {answer:?}")
        };
        assert!(back_w.resumed && back_w.player_id == again.player_id);
        // It says goodbye, which also removes it at once.
        back.frame(8, true, &1000u16.to_be_bytes()).await;
        let _ = tokio::time::timeout(WAIT, back.read_close()).await;
        wait_players(&server, "abuse", 2).await;
    }
    witnesses.finish().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_resume_tokens_are_rate_limited_per_address() {
    const BURST: u32 = 20;
    const GUESSES: usize = 500;
    let server = TestServer::start(witnessed(Config {
        resume_guess_burst: BURST,
        // No refill to speak of while the test runs.
        resume_guess_interval: Duration::from_secs(3600),
        resume_grace: Duration::from_secs(120),
        max_connections_per_ip: 1000,
        ..Config::ephemeral()
    }))
    .await;
    let addr = server.addr;
    let url = format!("{}?room=guess", server.ws_url());
    let witnesses = Witnesses::join(&url, 2).await;
    // A legitimate player at another address, dropped (a reset), waiting to resume.
    let (legit, answer) = raw_join(addr, loopback(2), "/ws?room=guess", hello("legit", None)).await;
    let Answer::Welcome(legit_w) = answer else {
        panic!("{answer:?}")
    };
    reset(legit);

    // The guesser: tokens of the right shape for the room, as fast as it can, 50 at a time.
    let guesser = loopback(4);
    let mut welcomed = 0;
    let mut limited = 0;
    let mut other = Vec::new();
    for batch in 0..GUESSES / 50 {
        let tries: Vec<_> = (0..50)
            .map(|i| {
                let token = format!("guess.{:032x}", (batch * 50 + i) as u128 * 0x9e37_79b9);
                tokio::spawn(async move {
                    raw_join(addr, guesser, "/ws", hello("guess", Some(token))).await
                })
            })
            .collect();
        for t in tries {
            match t.await.unwrap() {
                (_ws, Answer::Welcome(w)) => {
                    assert!(!w.resumed, "a guessed token took a player");
                    welcomed += 1;
                }
                (_, Answer::Closed(code, reason))
                    if code == CloseCode::PolicyViolation.code()
                        && reason.contains("too many resume attempts") =>
                {
                    limited += 1
                }
                (_, a) => other.push(format!("{a:?}")),
            }
        }
    }
    assert!(other.is_empty(), "other answers: {other:?}");
    // Under the limit an unknown token is what it always was, a new player; past it, refused.
    assert_eq!(welcomed, BURST as usize, "{limited} limited");
    assert_eq!(limited, GUESSES - BURST as usize);
    // A real resume from the other address still works.
    let (_legit, answer) = raw_join(
        addr,
        loopback(2),
        "/ws",
        hello("legit", Some(legit_w.resume_token.clone())),
    )
    .await;
    let Answer::Welcome(back) = answer else {
        panic!("the legitimate resume was refused: {answer:?}")
    };
    assert!(back.resumed, "{back:?}");
    assert_eq!(back.player_id, legit_w.player_id);
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains(&format!(
            "tickwire_rate_limited_total{{outcome=\"resume\"}} {}",
            GUESSES - BURST as usize
        )),
        "{metrics}"
    );
    // So do joins without a token from the guessing address: only resume attempts are limited.
    let (_fresh, answer) = raw_join(addr, guesser, "/ws", hello("fresh", None)).await;
    assert!(matches!(answer, Answer::Welcome(_)), "{answer:?}");
    witnesses.finish().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_followed_by_resets_cannot_fill_a_room() {
    const SEATS_PER_IP: usize = 3;
    let server = TestServer::start(witnessed(Config {
        max_players: 8,
        max_seats_per_ip: SEATS_PER_IP,
        // Every ghost stays in its grace for the whole test.
        resume_grace: Duration::from_secs(120),
        ..Config::ephemeral()
    }))
    .await;
    let addr = server.addr;
    let url = format!("{}?room=ghosts", server.ws_url());
    let witnesses = Witnesses::join(&url, 2).await;
    let attacker = loopback(3);
    let mut welcomed = 0;
    for i in 0..30 {
        let (ws, answer) = raw_join(addr, attacker, "/ws?room=ghosts", hello("ghost", None)).await;
        match answer {
            Answer::Welcome(_) => welcomed += 1,
            Answer::Closed(code, reason) => {
                assert_eq!(code, CloseCode::Full.code(), "{reason}");
                assert!(
                    reason.contains(&format!("your address already holds {SEATS_PER_IP} seats")),
                    "{reason}"
                );
                assert!(welcomed == SEATS_PER_IP, "refused after {welcomed} ghosts");
            }
            Answer::Eof => panic!("join {i}: no answer"),
        }
        reset(ws);
        let n = players_in(&server, "ghosts").await;
        assert!(n <= 2 + SEATS_PER_IP, "{n} players after {i} ghosts");
    }
    assert_eq!(welcomed, SEATS_PER_IP);
    // The ghosts hold their seats (waiting in their grace), and the room still has room.
    wait_players(&server, "ghosts", 2 + SEATS_PER_IP).await;
    let mut guest = from_ip::player(&url, loopback(2), "guest").await;
    guest.next_snapshot().await;
    // Its first snapshot lists everyone: the witnesses, the ghosts (not connected) and itself.
    let listed = &guest.replica().players;
    assert_eq!(listed.len(), 2 + SEATS_PER_IP + 1, "{listed:?}");
    assert_eq!(
        listed.values().filter(|p| !p.connected).count(),
        SEATS_PER_IP
    );
    witnesses.finish().await;
    server.stop().await;
}
