//! Integration tests over real loopback sockets: clients join the real server, play, and their
//! replicas stay equal to the server's state.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::Duration;
use tickwire_client::Incoming;
use tickwire_server::Config;
use tickwire_shared::protocol::{ClientMsg, Event, InputCmd, Ping, ServerMsg, buttons};
use tickwire_shared::replica::EntityState;
use tickwire_shared::{InputSeq, Tick, close::CloseCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_play_and_replicas_match_the_server() {
    // Checksums on every snapshot: a replica that differs from what the server computed for
    // that client in any field fails `apply`.
    let server = TestServer::start(Config {
        checksum_interval: 1,
        tick_rate: 60,
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
    for round in 0..150u32 {
        for (i, p) in players.iter_mut().enumerate() {
            p.seq += 1;
            // Everyone circles and fires towards the arena centre: projectile churn.
            let a = round as f32 * 0.05 + i as f32 * 1.5;
            let cmd = InputCmd {
                seq: InputSeq(p.seq),
                move_x: (a.cos() * 127.0) as i8,
                move_y: (a.sin() * 127.0) as i8,
                aim: (i as u16) * 16000,
                buttons: buttons::FIRE,
                view_tick: p.replica.tick,
            };
            p.client.send(&ClientMsg::Input(vec![cmd])).await.unwrap();
        }
        for p in players.iter_mut() {
            let s = p.next_snapshot().await;
            projectiles_seen += s
                .created
                .iter()
                .filter(|c| matches!(c.kind, tickwire_shared::SpawnKind::Projectile(_)))
                .count();
            removed_seen += s.removed.len();
        }
    }
    assert!(
        projectiles_seen > 20,
        "projectiles were created: {projectiles_seen}"
    );
    assert!(removed_seen > 20, "and removed: {removed_seen}");
    // Every client's inputs were applied and acknowledged.
    for p in &mut players {
        while p.replica.ack_input_seq < InputSeq(p.seq) {
            p.next_snapshot().await;
        }
    }
    // Bring everyone to one tick and compare what they hold in common.
    let target = players.iter().map(|p| p.replica.tick).max().unwrap();
    for p in &mut players {
        while p.replica.tick < target {
            p.next_snapshot().await;
        }
    }
    let mut bodies: BTreeMap<tickwire_shared::PlayerId, EntityState> = BTreeMap::new();
    for p in &players {
        for e in p.replica.entities.values() {
            if let EntityState::Player { player, .. } = e
                && let Some(prev) = bodies.insert(*player, *e)
            {
                assert_eq!(
                    prev, *e,
                    "two clients see {player} differently at tick {}",
                    target.0
                );
            }
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_the_tick() {
    let server = TestServer::start(Config::ephemeral()).await;
    let mut p = Player::join(&server.ws_url(), "pinger").await;
    p.next_snapshot().await;
    p.client
        .send(&ClientMsg::Ping(Ping { client_time: 4242 }))
        .await
        .unwrap();
    loop {
        match p.client.recv_timeout(WAIT).await {
            Some(Incoming::Msg(ServerMsg::Pong(pong), _)) => {
                assert_eq!(pong.client_time, 4242);
                assert!(pong.tick >= p.replica.tick);
                break;
            }
            Some(Incoming::Msg(_, _)) => continue,
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
    let bob_id = b.welcome.player_id;
    b.client
        .send(&ClientMsg::Chat("  hello\u{7} room  ".into()))
        .await
        .unwrap();
    let mut got_chat = false;
    let mut got_leave = false;
    let mut b = Some(b);
    for _ in 0..300 {
        let s = a.next_snapshot().await;
        for e in &s.events {
            match e {
                Event::Chat { player, text } if *player == bob_id => {
                    assert_eq!(text, "hello room", "trimmed, control characters dropped");
                    got_chat = true;
                    b.take()
                        .unwrap()
                        .client
                        .close(CloseCode::Normal, "bye")
                        .await;
                }
                Event::Leave { player } if *player == bob_id => got_leave = true,
                _ => {}
            }
        }
        if got_leave {
            break;
        }
    }
    assert!(got_chat && got_leave);
    assert!(!a.replica.players.contains_key(&bob_id));
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
        let (code, reason) = p.client.wait_closed(WAIT).await.expect("closed in time");
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
    let mut c = tickwire_client::Client::connect(&server.ws_url(), WAIT)
        .await
        .unwrap();
    c.send(&hello("b")).await.unwrap();
    let (code, reason) = c.wait_closed(WAIT).await.unwrap();
    assert_eq!(code, Some(CloseCode::Full.code()));
    assert!(reason.contains("full"), "{reason}");
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
    silent
        .frame(2, true, &tickwire_shared::encode_client(&hello("silent")))
        .await;
    let (code, reason) = tokio::time::timeout(WAIT, silent.read_close())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, CloseCode::Timeout.code());
    assert!(reason.contains("no message"), "{reason}");
    // The watcher answers pings (its client does) so it stays, and sees the silent one leave
    // once its resume grace period is over.
    let mut left = false;
    for _ in 0..200 {
        let s = watcher.next_snapshot().await;
        if s.events.iter().any(|e| matches!(e, Event::Leave { .. })) {
            left = true;
            break;
        }
    }
    assert!(left);
    assert!(watcher.replica.tick > Tick(0));
    server.stop().await;
}
