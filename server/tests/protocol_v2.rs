//! Protocol version 2 over real loopback sockets: the server binary's code serving the arena
//! on the engine to [`GameClient`]s, next to version-1 clients in rooms of their own.

mod common;

use common::{RawWs, TestServer, WAIT};
use tickwire_arena::{BODY, body, input};
use tickwire_client::{Client, GameClient, GameEvent};
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_shared::schema::engine_events;
use tickwire_shared::sync::{ClientMsg, Hello, encode_client};
use tickwire_shared::{NetId, Tick};

/// Version 1, which these tests meet only to check that the server still answers a v1
/// `Hello` (in a v1 room of its own) and that a game without a v1 room refuses it. Encoded
/// and decoded with the v1 codec; this module goes with version 1 and is deleted with it.
mod v1 {
    use super::WAIT;
    use tickwire_client::{Client, Received};
    use tickwire_shared::protocol::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg};

    /// A version-1 `Hello`, encoded with the v1 codec.
    pub fn hello_bytes(name: &str) -> Vec<u8> {
        tickwire_shared::encode_client(&ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.into(),
            auth_token: None,
            resume_token: None,
        }))
    }

    /// The next server message, decoded with the v1 codec (`None`: closed or nothing in time).
    pub async fn recv(c: &mut Client) -> Option<ServerMsg> {
        match tokio::time::timeout(WAIT, c.recv_frame()).await.ok()? {
            Received::Binary(b) => {
                Some(tickwire_shared::decode_server(&b).expect("a version-1 message"))
            }
            Received::Closed { .. } => None,
        }
    }

    /// Connects and says a v1 `Hello`; the server answers with a v1 `Welcome`.
    pub async fn join(url: &str, name: &str) -> Client {
        let mut c = Client::connect(url, WAIT).await.expect("connect");
        c.send_bytes(hello_bytes(name)).await.unwrap();
        match recv(&mut c).await {
            Some(ServerMsg::Welcome(w)) => assert_eq!(w.protocol_version, 1),
            other => panic!("expected a version-1 Welcome, got {other:?}"),
        }
        c
    }

    /// Sends a v1 `Ping` and receives until its v1 `Pong`; returns the pong's tick.
    pub async fn ping(c: &mut Client, client_time: u32) -> u32 {
        let ping = ClientMsg::Ping(tickwire_shared::protocol::Ping { client_time });
        c.send_bytes(tickwire_shared::encode_client(&ping))
            .await
            .unwrap();
        loop {
            match recv(c).await {
                Some(ServerMsg::Pong(p)) => {
                    assert_eq!(p.client_time, client_time);
                    return p.tick.0;
                }
                Some(_) => continue,
                None => panic!("expected a version-1 pong"),
            }
        }
    }

    /// Receives until the next v1 snapshot.
    pub async fn next_snapshot(c: &mut Client) {
        loop {
            match recv(c).await {
                Some(ServerMsg::Snapshot(_)) => return,
                Some(_) => continue,
                None => panic!("expected a version-1 snapshot"),
            }
        }
    }
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
    assert_eq!(c.welcome.protocol_version, 2);
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
async fn v1_and_v2_clients_are_matched_into_rooms_of_their_own_version() {
    let server = TestServer::start(Config::ephemeral()).await;
    let mut v2 = join(&server, "two").await;
    let mut one = v1::join(&server.ws_url(), "one").await;
    v1::next_snapshot(&mut one).await;
    v2.next_snapshot(WAIT).await.unwrap();
    let (status, body) = server.http_get("/rooms").await;
    assert_eq!(status, 200);
    let mut rooms: Vec<RoomInfo> = serde_json::from_str(&body).unwrap();
    rooms.sort_by_key(|r| r.protocol);
    assert_eq!(rooms.len(), 2, "{rooms:?}");
    assert_eq!((rooms[0].protocol, rooms[0].players), (1, 1));
    assert_eq!((rooms[1].protocol, rooms[1].players), (2, 1));
    assert_ne!(rooms[0].id, rooms[1].id);
    // The v2 player sees only itself (the v1 player's room is its own: one player above).
    assert_eq!(v2.replica.players.len(), 1);

    // A named room of one version refuses a client of the other with 4000.
    let url = format!("{}?room={}", server.ws_url(), rooms[0].id);
    match GameClient::join(&url, "lost", None, WAIT).await {
        Err(tickwire_client::game::JoinError::Refused { code, reason }) => {
            assert_eq!(code, Some(4000));
            assert!(reason.contains("version 1"), "{reason}");
        }
        Err(e) => panic!("expected close 4000, got {e}"),
        Ok(_) => panic!("expected close 4000, got a Welcome"),
    }
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

    // An unknown protocol version names the versions spoken.
    let mut raw = RawWs::connect(server.addr).await;
    let mut out = Vec::new();
    encode_client(
        &ClientMsg::Hello(Hello {
            protocol_version: 3,
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
    assert!(reason.contains("speaks 1 and 2"), "{reason}");

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
    // A version-1 client on the same server still gets version-1 pongs (goes with
    // version 1).
    let mut old = v1::join(&server.ws_url(), "old").await;
    v1::ping(&mut old, 78).await;
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
    // The arena's version-1 clients are not served: only the arena has a version-1 room
    // (goes with version 1).
    let mut old = Client::connect(&url, WAIT).await.unwrap();
    old.send_bytes(v1::hello_bytes("old")).await.unwrap();
    let (code, reason) = old.wait_closed(WAIT).await.unwrap();
    assert_eq!(code, Some(4000));
    assert!(reason.contains("speaks 2"), "{reason}");
    shutdown.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}
