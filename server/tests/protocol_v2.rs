//! Protocol version 2 over real loopback sockets: the server binary's code serving the arena
//! on the engine to [`GameClient`]s, and refusing the retired version 1.

mod common;

use common::{RawWs, TestServer, WAIT};
use tickwire_arena::{BODY, body, input};
use tickwire_client::{Client, GameClient, GameEvent};
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_shared::schema::engine_events;
use tickwire_shared::sync::{ClientMsg, Hello, PROTOCOL_VERSION, encode_client};
use tickwire_shared::{NetId, Tick};

/// A `Hello` of the retired protocol version 1 (its layout is version 2's, so only the
/// version number differs).
fn v1_hello_bytes(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_client(
        &ClientMsg::Hello(Hello {
            protocol_version: 1,
            name: name.into(),
            auth_token: None,
            resume_token: None,
        }),
        &tickwire_shared::schema::Schema::new(""),
        &mut out,
    );
    out
}

async fn join(server: &TestServer, name: &str) -> GameClient {
    GameClient::join(&server.ws_url(), name, None, WAIT)
        .await
        .expect("join")
}

/// The player's own body in its replica: (id, lanes).
fn own_body(c: &GameClient) -> Option<(NetId, Vec<i64>)> {
    let me = i64::from(c.welcome.player_id.0);
    c.replica
        .of_kind(BODY)
        .find(|(_, l)| l[body::player] == me)
        .map(|(id, l)| (id, l.to_vec()))
}

/// Receives snapshots until `done` holds for the client, for at most `WAIT`.
async fn until(c: &mut GameClient, what: &str, mut done: impl FnMut(&GameClient) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(c) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not in time: {what}"
        );
        match c.next_snapshot(WAIT).await {
            Ok(_) => {}
            Err(e) => panic!("no snapshot: {e}"),
        }
    }
}

#[tokio::test]
async fn a_v2_client_gets_the_schema_sees_its_body_and_moves_it() {
    let server = TestServer::start(Config {
        checksum_interval: 5,
        ..Config::ephemeral()
    })
    .await;
    let mut c = join(&server, "ada").await;
    assert_eq!(c.welcome.protocol_version, PROTOCOL_VERSION);
    assert_eq!(c.welcome.schema.game, "arena");
    assert_eq!(c.welcome.schema, tickwire_arena::schema());
    assert_eq!(c.welcome.checksum_interval, 5);
    until(&mut c, "own body in view", |c| own_body(c).is_some()).await;
    let (_, start) = own_body(&c).unwrap();
    let me = c.welcome.player_id;
    assert_eq!(c.replica.players[&me].name, "ada");

    // Move right for 30 commands, one per snapshot; the server acknowledges them and the
    // body's x grows.
    let mut lanes = vec![0; input::COUNT];
    lanes[input::move_x] = 127;
    let mut checked = 0;
    for _ in 0..30 {
        let view = c.replica.tick;
        c.send_input(view, lanes.clone()).await.unwrap();
        if let Ok(GameEvent::Snapshot { checked: true, .. }) = c.next_snapshot(WAIT).await {
            checked += 1;
        }
    }
    until(&mut c, "all 30 commands acknowledged", |c| {
        c.replica.ack_input_seq.0 == 30
    })
    .await;
    assert_eq!(c.pending().count(), 0, "acknowledged commands are let go");
    let (_, now) = own_body(&c).unwrap();
    assert!(
        now[body::x] > start[body::x] + 200 * 8,
        "x went from {} to {}",
        start[body::x],
        now[body::x]
    );
    assert_eq!(
        now[body::y],
        start[body::y],
        "no vertical input, no vertical move"
    );
    assert!(
        checked >= 3,
        "every 5th tick carries a checksum that matched: {checked}"
    );
    c.leave().await;
    server.stop().await;
}

#[tokio::test]
async fn a_version_1_hello_is_refused_and_rooms_name_their_game() {
    let server = TestServer::start(Config::ephemeral()).await;
    let mut v2 = join(&server, "two").await;
    v2.next_snapshot(WAIT).await.unwrap();
    let mut old = Client::connect(&server.ws_url(), WAIT).await.unwrap();
    old.send_bytes(v1_hello_bytes("old")).await.unwrap();
    let (code, reason) = old.wait_closed(WAIT).await.unwrap();
    assert_eq!(code, Some(4000));
    assert_eq!(
        reason,
        format!("protocol version 1 is not supported; this server speaks {PROTOCOL_VERSION}")
    );
    let (status, body) = server.http_get("/rooms").await;
    assert_eq!(status, 200);
    let rooms: Vec<RoomInfo> = serde_json::from_str(&body).unwrap();
    assert_eq!(rooms.len(), 1, "the refused client made no room: {rooms:?}");
    assert_eq!((rooms[0].game.as_str(), rooms[0].players), ("arena", 1));
    v2.leave().await;
    server.stop().await;
}

#[tokio::test]
async fn two_v2_players_see_each_other_chat_and_resume() {
    // A view over the whole arena, wherever the two spawn.
    let server = TestServer::start(Config {
        view_radius: 5000.0,
        ..Config::ephemeral()
    })
    .await;
    let mut a = join(&server, "ann").await;
    let mut b = join(&server, "bob").await;
    let (ida, idb) = (a.welcome.player_id, b.welcome.player_id);
    until(&mut a, "bob in the player list", |c| {
        c.replica.players.contains_key(&idb)
    })
    .await;
    assert_eq!(a.replica.players[&idb].name, "bob");
    until(&mut b, "both bodies in view", |c| {
        c.replica.of_kind(BODY).count() == 2
    })
    .await;

    b.chat("hello\u{7} there").await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let line = loop {
        assert!(tokio::time::Instant::now() < deadline, "no chat event");
        if let Ok(GameEvent::Snapshot { events, .. }) = a.next_snapshot(WAIT).await
            && let Some(e) = events.iter().find(|e| e.kind == engine_events::CHAT)
        {
            break e.clone();
        }
    };
    assert_eq!(line.values[0].int(), i64::from(idb.0));
    assert_eq!(
        line.values[1].str(),
        "hello there",
        "control characters stripped"
    );

    // Bob's connection drops without a close; ann sees him disconnected, then back.
    let token = b.welcome.resume_token.clone();
    b.abort();
    until(&mut a, "bob shown disconnected", |c| {
        !c.replica.players[&idb].connected
    })
    .await;
    let mut b = GameClient::join(&server.ws_url(), "bob", Some(token), WAIT)
        .await
        .unwrap();
    assert!(b.welcome.resumed);
    assert_eq!(b.welcome.player_id, idb);
    until(&mut a, "bob shown back", |c| {
        c.replica.players[&idb].connected
    })
    .await;
    until(&mut b, "resumed bob sees his body and ann", |c| {
        own_body(c).is_some() && c.replica.players.contains_key(&ida)
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn bad_v2_input_gets_a_clear_close_and_others_play_on() {
    let server = TestServer::start(Config::ephemeral()).await;
    let mut good = join(&server, "good").await;
    until(&mut good, "own body in view", |c| own_body(c).is_some()).await;
    let schema = tickwire_arena::schema();

    // An input lane out of its field's range (aim is an Angle16).
    let mut bad = join(&server, "bad").await;
    let mut lanes = vec![0; input::COUNT];
    lanes[input::aim] = 70_000;
    bad.send_input(Tick(0), lanes).await.unwrap();
    let (code, reason) = bad.client().wait_closed(WAIT).await.unwrap();
    assert_eq!(code, Some(1007), "{reason}");
    assert!(reason.contains("undecodable"), "{reason}");

    // An action the schema does not declare.
    let mut bad = join(&server, "bad2").await;
    let mut out = Vec::new();
    encode_client(&ClientMsg::Chat("x".into()), &schema, &mut out);
    out[0] = 4; // message 4 (action) of kind 9 with nothing after
    out.truncate(1);
    out.extend_from_slice(&[1, 9]);
    bad.client().send_bytes(out).await.unwrap();
    let (code, _) = bad.client().wait_closed(WAIT).await.unwrap();
    assert_eq!(code, Some(1007));

    // A version-2 Hello (the protocol before extrapolated fields) names the version spoken.
    let mut raw = RawWs::connect(server.addr).await;
    let mut out = Vec::new();
    encode_client(
        &ClientMsg::Hello(Hello {
            protocol_version: 2,
            name: "x".into(),
            auth_token: None,
            resume_token: None,
        }),
        &schema,
        &mut out,
    );
    raw.frame(0x2, true, &out).await;
    let (code, reason) = raw.read_close().await.unwrap();
    assert_eq!(code, 4000);
    assert!(
        reason.contains(&format!("speaks {PROTOCOL_VERSION}")),
        "{reason}"
    );

    // A version-2 input as a first message: Hello expected.
    let mut raw = RawWs::connect(server.addr).await;
    let mut out = Vec::new();
    encode_client(
        &ClientMsg::Ping(tickwire_shared::sync::Ping { client_time: 1 }),
        &schema,
        &mut out,
    );
    raw.frame(0x2, true, &out).await;
    assert_eq!(raw.read_close().await.unwrap().0, 4001);

    // The good player never noticed.
    for _ in 0..10 {
        good.next_snapshot(WAIT).await.unwrap();
    }
    assert!(own_body(&good).is_some());
    server.stop().await;
}

#[tokio::test]
async fn v2_ping_is_answered_with_the_tick() {
    let server = TestServer::start(Config::ephemeral()).await;
    let mut c = join(&server, "pinger").await;
    c.next_snapshot(WAIT).await.unwrap();
    c.ping(77).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, c.recv())
            .await
            .expect("pong")
        {
            GameEvent::Pong(p) => {
                assert_eq!(p.client_time, 77);
                assert!(p.tick.0 >= c.welcome.tick.0);
                break;
            }
            GameEvent::Snapshot { .. } => continue,
            other => panic!("{other:?}"),
        }
    }
    server.stop().await;
}

#[path = "../examples/own_game/game.rs"]
mod dots;

#[tokio::test]
async fn a_developers_own_game_is_served_by_the_same_server() {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let rooms = tickwire_server::GameRooms::new(|_, _| dots::Dots::default());
    let server = tickwire_server::Server::bind_game(Config::ephemeral(), rooms, shutdown.clone())
        .await
        .unwrap();
    let url = format!("ws://{}/ws", server.local_addr());
    let task = tokio::spawn(server.run());
    let mut c = GameClient::join(&url, "dev", None, WAIT).await.unwrap();
    assert_eq!(c.welcome.schema.game, "dots");
    for dx in [5, -2, 7] {
        c.send_input(Tick(0), vec![dx]).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while c.replica.of_kind(0).next().map(|(_, l)| l[dots::dot::x]) != Some(10) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dot never reached 10"
        );
        c.next_snapshot(WAIT).await.unwrap();
    }
    // Version 1 is refused here too.
    let mut old = Client::connect(&url, WAIT).await.unwrap();
    old.send_bytes(v1_hello_bytes("old")).await.unwrap();
    let (code, reason) = old.wait_closed(WAIT).await.unwrap();
    assert_eq!(code, Some(4000));
    assert!(
        reason.contains(&format!("speaks {PROTOCOL_VERSION}")),
        "{reason}"
    );
    shutdown.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}
