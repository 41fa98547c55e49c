//! Integration tests over real loopback sockets: clients join the real server's arena rooms
//! (protocol version 2, the engine), play, and their replicas stay equal to the server's state.

mod common;

use common::v2::{Player, hello_bytes};
use common::{RawWs, TestServer, WAIT};
use std::collections::BTreeMap;
use std::time::Duration;
use tickwire_arena::state::buttons;
use tickwire_client::GameEvent;
use tickwire_client::game::JoinError;
use tickwire_server::Config;
use tickwire_shared::schema::engine_events;
use tickwire_shared::sync::{ServerMsg, decode_server};
use tickwire_shared::{NetId, PlayerId, Tick, close::CloseCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_play_and_replicas_match_the_server() {
    // Checksums on every snapshot: a replica that differs from what the server computed for
    // that client in any lane fails `apply` (and `next_snapshot` with it). A view over the
    // whole arena, so that every client holds every body and they can be compared.
    let server = TestServer::start(Config {
        checksum_interval: 1,
        tick_rate: 60,
        view_radius: 5000.0,
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    let mut players = Vec::new();
    for i in 0..4 {
        players.push(Player::join(&url, &format!("p{i}")).await);
    }
    let mut projectiles_seen = 0;
    let mut removed_seen = 0;
    let mut checked = 0;
    for round in 0..150u32 {
        for (i, p) in players.iter_mut().enumerate() {
            // Everyone circles and fires towards the arena centre: projectile churn.
            let a = round as f32 * 0.05 + i as f32 * 1.5;
            let lanes = p.arena.input(
                (a.cos() * 127.0) as i8,
                (a.sin() * 127.0) as i8,
                (i as u16) * 16000,
                buttons::FIRE,
            );
            p.send_input(lanes).await;
        }
        for p in players.iter_mut() {
            let s = p.next_snapshot().await;
            let projectile = p.arena.projectile;
            projectiles_seen += s
                .changes
                .created
                .iter()
                .filter(|id| p.replica().entities[id].kind == projectile)
                .count();
            removed_seen += s
                .changes
                .removed
                .iter()
                .filter(|(_, kind)| *kind == projectile)
                .count();
            checked += usize::from(s.checked);
        }
    }
    assert!(
        projectiles_seen > 20,
        "projectiles were created: {projectiles_seen}"
    );
    assert!(removed_seen > 20, "and removed: {removed_seen}");
    assert_eq!(
        checked,
        4 * 150,
        "every snapshot carried a checksum that held"
    );
    // Every client's inputs were applied and acknowledged.
    for p in &mut players {
        assert_eq!(p.seq.0, 150);
        while p.replica().ack_input_seq < p.seq {
            p.next_snapshot().await;
        }
        assert_eq!(p.client.pending().count(), 0);
    }
    // Bring everyone to one tick and compare what they hold in common: each body, by the
    // player it belongs to, has the same id and the same lanes for everyone who sees it.
    let target = players.iter().map(|p| p.replica().tick).max().unwrap();
    for p in &mut players {
        while p.replica().tick < target {
            p.next_snapshot().await;
        }
        assert_eq!(p.replica().tick, target, "{} skipped a tick", p.id());
    }
    let mut bodies: BTreeMap<PlayerId, (NetId, Vec<i64>)> = BTreeMap::new();
    let mut compared = 0;
    for p in &players {
        assert!(p.body_of(p.id()).is_some(), "{} holds its own body", p.id());
        assert_eq!(p.replica().of_kind(p.arena.body).count(), 4);
        for (id, lanes) in p.replica().of_kind(p.arena.body) {
            let player = PlayerId(lanes[p.arena.player] as u32);
            assert!(p.replica().players.contains_key(&player));
            if let Some(prev) = bodies.insert(player, (id, lanes.to_vec())) {
                compared += 1;
                assert_eq!(
                    prev,
                    (id, lanes.to_vec()),
                    "two clients see {player} differently at tick {}",
                    target.0
                );
            }
        }
    }
    assert_eq!(
        compared,
        4 * 3,
        "each body compared across the four clients"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_the_tick() {
    let server = TestServer::start(Config::ephemeral()).await;
    let mut p = Player::join(&server.ws_url(), "pinger").await;
    p.next_snapshot().await;
    p.client.ping(4242).await.unwrap();
    loop {
        match p.client.recv_timeout(WAIT).await {
            Some(GameEvent::Pong(pong)) => {
                assert_eq!(pong.client_time, 4242);
                assert!(pong.tick >= p.replica().tick);
                break;
            }
            Some(GameEvent::Snapshot { .. }) => continue,
            other => panic!("{other:?}"),
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reaches_everyone_and_leave_is_announced() {
    let server = TestServer::start(Config::ephemeral()).await;
    let url = server.ws_url();
    let mut a = Player::join(&url, "alice").await;
    let b = Player::join(&url, "bob").await;
    let bob_id = b.id();
    b.client.chat("  hello\u{7} room  ").await.unwrap();
    let mut got_chat = false;
    let mut got_leave = false;
    let mut b = Some(b);
    for _ in 0..300 {
        let s = a.next_snapshot().await;
        for e in &s.events {
            if e.kind == engine_events::CHAT && e.values[0].int() == i64::from(bob_id.0) {
                assert_eq!(
                    e.values[1].str(),
                    "hello room",
                    "trimmed, control characters dropped"
                );
                assert!(!got_chat, "one chat line, one event");
                got_chat = true;
                b.take().unwrap().client.leave().await;
            }
        }
        if s.changes.players_left.contains(&bob_id) {
            assert!(got_chat, "the leave comes after the chat");
            got_leave = true;
            break;
        }
    }
    assert!(got_chat && got_leave);
    assert!(!a.replica().players.contains_key(&bob_id));
    assert!(a.body_of(bob_id).is_none(), "and his body went with him");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_endpoints() {
    let server = TestServer::start(Config::ephemeral()).await;
    let _p = Player::join(&server.ws_url(), "m").await;
    assert_eq!(server.http_get("/healthz").await, (200, "ok\n".into()));
    let (status, body) = server.http_get("/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "tickwire_connections",
        "tickwire_players 1",
        "tickwire_rooms 1",
        "tickwire_tick_duration_seconds_bucket",
        "tickwire_bytes_sent_total",
        "tickwire_bytes_received_total",
        "tickwire_snapshots_skipped_total",
    ] {
        assert!(body.contains(name), "{name} missing from\n{body}");
    }
    assert_eq!(server.http_get("/nope").await.0, 404);
    assert_eq!(
        server.http_get("/ws").await.0,
        426,
        "plain GET on /ws asks for an upgrade"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_client_with_1001() {
    let server = TestServer::start(Config::ephemeral()).await;
    let url = server.ws_url();
    let mut a = Player::join(&url, "a").await;
    let mut b = Player::join(&url, "b").await;
    a.next_snapshot().await;
    server.shutdown.cancel();
    for p in [&mut a, &mut b] {
        let (code, reason) = p
            .client
            .client()
            .wait_closed(WAIT)
            .await
            .expect("closed in time");
        assert_eq!(code, Some(CloseCode::GoingAway.code()));
        assert_eq!(reason, "server shutting down");
    }
    tokio::time::timeout(WAIT, server.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_server_is_refused_with_4003() {
    let server = TestServer::start(Config {
        max_players: 1,
        max_rooms: 1,
        ..Config::ephemeral()
    })
    .await;
    let _a = Player::join(&server.ws_url(), "a").await;
    match tickwire_client::GameClient::join(&server.ws_url(), "b", None, WAIT).await {
        Err(JoinError::Refused { code, reason }) => {
            assert_eq!(code, Some(CloseCode::Full.code()));
            assert!(reason.contains("full"), "{reason}");
        }
        Err(e) => panic!("expected close 4003, got {e}"),
        Ok(_) => panic!("expected close 4003, got a Welcome"),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peer_is_closed_and_removed() {
    let server = TestServer::start(Config {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(800),
        resume_grace: Duration::from_millis(500),
        ..Config::ephemeral()
    })
    .await;
    let mut watcher = Player::join(&server.ws_url(), "watcher").await;
    // A peer that joins and then never sends another byte (not even pongs).
    let mut silent = RawWs::connect(server.addr).await;
    silent.frame(2, true, &hello_bytes("silent")).await;
    let welcome = silent.read_binary().await.expect("a Welcome");
    let Ok(ServerMsg::Welcome(w)) = decode_server(&welcome, None, &[]) else {
        panic!("not a Welcome")
    };
    let silent_id = w.player_id;
    assert_ne!(silent_id, watcher.id());
    let (code, reason) = tokio::time::timeout(WAIT, silent.read_close())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, CloseCode::Timeout.code());
    assert!(reason.contains("no message"), "{reason}");
    // The watcher answers pings (its client does) so it stays, and sees the silent one leave
    // once its resume grace period is over.
    let mut seen = false;
    let mut left = false;
    for _ in 0..200 {
        let s = watcher.next_snapshot().await;
        seen |= watcher.replica().players.contains_key(&silent_id);
        if s.changes.players_left.contains(&silent_id) {
            left = true;
            break;
        }
    }
    assert!(seen, "the silent one was in the room");
    assert!(left, "and left it");
    assert!(!watcher.replica().players.contains_key(&silent_id));
    assert!(watcher.replica().tick > Tick(0));
    assert!(
        watcher.replica().players.contains_key(&watcher.id()),
        "the watcher is still in"
    );
    server.stop().await;
}
