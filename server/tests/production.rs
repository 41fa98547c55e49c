//! Production features over loopback, on protocol version 2 (the arena's rooms on the
//! engine): rooms and matchmaking, `/rooms`, session resume, JWT auth, TLS, connection limits,
//! message flood, origin allowlist.

mod common;

use common::v2::{Player, hello, hello_bytes};
use common::{RawWs, TestServer, WAIT};
use std::time::Duration;
use tickwire_arena::quant::quantize_angle16;
use tickwire_arena::state::buttons;
use tickwire_client::game::JoinError;
use tickwire_client::{Client, ConnectError, GameClient};
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_shared::sync::{Hello, Replica, ServerMsg, decode_server};
use tickwire_shared::{PlayerId, close::CloseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn rooms(server: &TestServer) -> Vec<RoomInfo> {
    let (status, body) = server.http_get("/rooms").await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).unwrap()
}

/// Polls `/rooms` until `pred` holds (the room task publishes counts once per tick).
async fn wait_rooms(server: &TestServer, pred: impl Fn(&[RoomInfo]) -> bool) -> Vec<RoomInfo> {
    for _ in 0..400 {
        let r = rooms(server).await;
        if pred(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "rooms never reached the expected state: {:?}",
        rooms(server).await
    );
}

/// The close a join was refused with.
fn refused(r: Result<GameClient, JoinError>) -> (Option<u16>, String) {
    match r {
        Err(JoinError::Refused { code, reason }) => (code, reason),
        Err(e) => panic!("expected a close, got {e}"),
        Ok(_) => panic!("expected a close, got a Welcome"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_match_fills_rooms_and_creates_new_ones() {
    let server = TestServer::start(Config {
        max_players: 2,
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    let room_of = |p: &Player| {
        p.welcome()
            .resume_token
            .split('.')
            .next()
            .unwrap()
            .to_string()
    };
    let a = Player::join(&url, "a").await;
    let b = Player::join(&url, "b").await;
    let mut c = Player::join(&url, "c").await;
    assert_eq!(room_of(&a), "1");
    assert_eq!(room_of(&b), "1", "fullest open room first");
    assert_eq!(room_of(&c), "2", "room 1 full: a new room");
    // The first snapshot lists the room's players: c alone in room 2.
    c.next_snapshot().await;
    let players: Vec<PlayerId> = c.replica().players.keys().copied().collect();
    assert_eq!(players, vec![c.id()]);
    let named = Player::join(&format!("{url}?room=lobby"), "d").await;
    assert_eq!(room_of(&named), "lobby");
    let d2 = Player::join(&url, "e").await;
    assert_eq!(room_of(&d2), "2", "quick-match skips named rooms");
    let list = wait_rooms(&server, |r| r.iter().map(|x| x.players).sum::<usize>() == 5).await;
    let summary: Vec<(String, usize, usize, bool)> = list
        .iter()
        .map(|r| (r.id.clone(), r.players, r.max_players, r.public))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("1".into(), 2, 2, true),
            ("2".into(), 2, 2, true),
            ("lobby".into(), 1, 2, false)
        ]
    );
    assert!(list.iter().all(|r| r.tick_rate == 30));
    assert!(list.iter().all(|r| r.game == "arena"), "{list:?}");
    assert_eq!(
        server.http_get("/ws?room=../x").await.0,
        426,
        "no upgrade headers: 426 first"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_room_id_is_refused_before_the_upgrade() {
    let server = TestServer::start(Config::ephemeral()).await;
    let err = Client::connect(&format!("{}?room=a%20b", server.ws_url()), WAIT)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ConnectError::Handshake(_)), "{err}");
    assert!(err.to_string().contains("400"), "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_rooms_are_disposed_of() {
    let server = TestServer::start(Config {
        empty_room_timeout: Duration::from_millis(200),
        ..Config::ephemeral()
    })
    .await;
    let p = Player::join(&format!("{}?room=short", server.ws_url()), "a").await;
    let list = wait_rooms(&server, |r| r.len() == 1 && r[0].players == 1).await;
    assert_eq!(
        (list[0].id.as_str(), list[0].game.as_str()),
        ("short", "arena")
    );
    p.client.leave().await;
    wait_rooms(&server, |r| r.is_empty()).await;
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(metrics.contains("tickwire_rooms 0"), "{metrics}");
    server.stop().await;
}

async fn send(p: &mut Player, move_to: Option<glam::Vec2>, aim_at: Option<glam::Vec2>, fire: bool) {
    let me = p.pos_of(p.id()).expect("own body in view");
    let dir = move_to
        .map(|t| (t - me).normalize_or_zero())
        .unwrap_or_default();
    let aim = aim_at.map(|t| (t - me).to_angle()).unwrap_or(0.0);
    let lanes = p.arena.input(
        (dir.x * 127.0) as i8,
        (dir.y * 127.0) as i8,
        quantize_angle16(aim),
        if fire { buttons::FIRE } else { 0 },
    );
    p.send_input(lanes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_within_grace_keeps_player_body_and_score() {
    let server = TestServer::start(Config {
        tick_rate: 60,
        seed: 3,
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    let mut a = Player::join(&url, "hunter").await;
    let mut b = Player::join(&url, "target").await;
    let (aid, bid) = (a.id(), b.id());
    a.next_snapshot().await;
    b.next_snapshot().await;
    // The two walk towards each other until close, then `a` shoots `b` until it dies.
    let mut killed = false;
    for _ in 0..3000 {
        let (pa, pb) = (a.pos_of(aid), b.pos_of(bid));
        let target = a.pos_of(bid).or(pb);
        let close_enough = matches!((pa, target), (Some(x), Some(y)) if x.distance(y) < 250.0);
        send(&mut a, target, target, close_enough).await;
        send(&mut b, pa, None, false).await;
        let s = a.next_snapshot().await;
        b.next_snapshot().await;
        let kill = a.arena.kill;
        if s.events.iter().any(|e| {
            e.kind == kill
                && e.values[0].int() == i64::from(aid.0)
                && e.values[1].int() == i64::from(bid.0)
        }) {
            killed = true;
            break;
        }
    }
    assert!(killed, "the hunter scored");
    let kills = a.arena.kills;
    assert_eq!(a.record(aid, kills), Some(1));
    assert_eq!(a.record(bid, a.arena.deaths), Some(1));
    let token = a.welcome().resume_token.clone();
    let (body, _) = a.body_of(aid).expect("the hunter's body");
    // The connection drops without a close frame (as on a network failure).
    a.client.abort();
    let again = Player::join(&url, "hunter-again").await;
    assert_ne!(again.id(), aid, "no token: a new player");
    assert!(!again.welcome().resumed);
    again.client.leave().await;
    let c = GameClient::join(&url, "ignored", Some(token.clone()), WAIT)
        .await
        .expect("resumed");
    let mut c = Player::of(c);
    assert_eq!(c.id(), aid);
    assert!(c.welcome().resumed);
    assert_ne!(c.welcome().resume_token, token, "a fresh token");
    let s = c.next_snapshot().await;
    assert!(
        s.changes.created.contains(&body),
        "a full snapshot with the body"
    );
    assert_eq!(
        c.body_of(aid).map(|(id, _)| id),
        Some(body),
        "the same body"
    );
    let me = &c.replica().players[&aid];
    assert_eq!(me.name, "hunter", "the name of the player taken back");
    assert!(me.connected);
    assert_eq!(c.record(aid, kills), Some(1), "the score kept");
    assert!(
        c.replica().players.contains_key(&bid),
        "and the room's players"
    );
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(metrics.contains("tickwire_resumes_total 1"), "{metrics}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_grace_is_a_new_player_and_a_live_connection_is_replaced() {
    let server = TestServer::start(Config {
        resume_grace: Duration::from_millis(300),
        // Should the aborted client's socket outlive its task for a moment, the server still
        // drops it soon (the others answer the pings, so they stay).
        idle_timeout: Duration::from_secs(2),
        ping_interval: Duration::from_millis(500),
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    let mut watcher = Player::join(&url, "watcher").await;
    let a = Player::join(&url, "a").await;
    let (aid, token) = (a.id(), a.welcome().resume_token.clone());
    // The watcher first sees `a` in the room: otherwise, on a loaded machine, its snapshots
    // may cover `a`'s whole stay (join, drop, grace) in one gap, and there is no leave to see.
    while !watcher.replica().players.contains_key(&aid) {
        watcher.next_snapshot().await;
    }
    a.client.abort();
    // The watcher sees `a` leave once the grace period is over.
    let mut left = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        let s = watcher.next_snapshot().await;
        if s.changes.players_left.contains(&aid) {
            left = true;
            break;
        }
    }
    assert!(left, "a left after the grace period");
    let mut late = GameClient::join(&url, "a", Some(token), WAIT)
        .await
        .expect("a Welcome");
    assert_ne!(late.welcome.player_id, aid, "too late: a new player");
    assert!(!late.welcome.resumed);

    // A second connection with a live player's token takes it over; the first is told why.
    let second = GameClient::join(&url, "a", Some(late.welcome.resume_token.clone()), WAIT)
        .await
        .expect("a Welcome");
    assert_eq!(second.welcome.player_id, late.welcome.player_id);
    assert!(second.welcome.resumed);
    let (code, reason) = late.client().wait_closed(WAIT).await.unwrap();
    assert_eq!(code, Some(CloseCode::Replaced.code()), "{reason}");
    server.stop().await;
}

/// A secret of the 32 bytes the server asks for at least.
const SECRET: &str = "production test secret, 32 bytes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_auth_refuses_bad_tokens_and_takes_the_name_from_claims() {
    let server = TestServer::start(Config {
        jwt_secret: Some(SECRET.into()),
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    // A bad token in the URL: HTTP 401 before the upgrade.
    let err = Client::connect(
        &format!("{url}?token={}", common::jwt("wrong", "x", 60)),
        WAIT,
    )
    .await
    .err()
    .unwrap();
    assert!(err.to_string().contains("401"), "{err}");
    // No token at all: close 4004 after Hello.
    assert_eq!(
        refused(GameClient::join(&url, "anon", None, WAIT).await),
        (
            Some(CloseCode::Unauthorized.code()),
            "a token is required".into()
        )
    );
    // An expired token in Hello: 4004 with the reason.
    let c = Client::connect(&url, WAIT).await.unwrap();
    let expired = Hello {
        auth_token: Some(common::jwt(SECRET, "old", -120)),
        ..hello("x")
    };
    assert_eq!(
        refused(GameClient::join_on(c, expired, WAIT).await),
        (
            Some(CloseCode::Unauthorized.code()),
            "the token has expired".into()
        )
    );
    // A good token in the URL: admitted, named by the claims, not by Hello.
    let mut p = Player::join(
        &format!("{url}?token={}", common::jwt(SECRET, "Ada", 60)),
        "ignored",
    )
    .await;
    p.next_snapshot().await;
    assert_eq!(p.replica().players[&p.id()].name, "Ada");
    // And a good token in Hello.
    let c = Client::connect(&url, WAIT).await.unwrap();
    let mut g = Player::join_on(
        c,
        Hello {
            auth_token: Some(common::jwt(SECRET, "Grace", 60)),
            ..hello("x")
        },
    )
    .await;
    g.next_snapshot().await;
    assert_eq!(g.replica().players[&g.id()].name, "Grace");
    assert_eq!(g.replica().players[&p.id()].name, "Ada");
    let (_, metrics) = server.http_get("/metrics").await;
    for reason in ["invalid", "missing", "expired"] {
        assert!(
            metrics.contains(&format!(
                "tickwire_auth_failures_total{{reason=\"{reason}\"}} 1"
            )),
            "{metrics}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_client_plays_over_tls() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("tickwire-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let server = TestServer::start(Config {
        tls_cert: Some(cert_path.clone()),
        tls_key: Some(key_path.clone()),
        ..Config::ephemeral()
    })
    .await;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let tls = std::sync::Arc::new(tickwire_client::tls_config_with_roots(roots));
    let url = format!("wss://localhost:{}/ws", server.addr.port());
    let c = Client::connect_with(&url, WAIT, Some(tls.clone()))
        .await
        .unwrap();
    let mut p = Player::join_on(c, hello("secure")).await;
    let mut last = p.next_snapshot().await.tick;
    for _ in 0..4 {
        // Moving, so that every tick brings a frame (a still view gets one a second).
        let lanes = p.arena.input(100, 0, 0, 0);
        p.send_input(lanes).await;
        let s = p.next_snapshot().await;
        assert_eq!(s.tick.0, last.0 + 1);
        last = s.tick;
    }
    assert!(p.body_of(p.id()).is_some());
    // Plain ws:// to a TLS port does not get through.
    assert!(
        Client::connect(
            &format!("ws://localhost:{}/ws", server.addr.port()),
            Duration::from_secs(3)
        )
        .await
        .is_err()
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_ip_connection_limit_gets_503() {
    let server = TestServer::start(Config {
        max_connections_per_ip: 3,
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(Player::join(&url, &format!("p{i}")).await);
    }
    let err = Client::connect(&url, WAIT).await.err().unwrap();
    assert!(err.to_string().contains("503"), "{err}");
    // Closing one frees a slot.
    let p = held.pop().unwrap();
    p.client.leave().await;
    let mut ok = false;
    for _ in 0..100 {
        if Client::connect(&url, WAIT).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "slot freed");
    for p in held {
        p.client.leave().await;
    }
    let mut metrics = String::new();
    for _ in 0..100 {
        let (status, body) = server.http_get("/metrics").await;
        if status == 200 {
            metrics = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        metrics.contains("tickwire_refused_connections_total"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_flood_gets_1008_and_others_keep_playing() {
    let server = TestServer::start(Config {
        max_messages_per_sec: 50.0,
        message_burst: 50.0,
        checksum_interval: 1,
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    let mut watcher = Player::join(&url, "watcher").await;
    let start = watcher.next_snapshot().await.tick;
    let mut flooder = Player::join(&url, "flooder").await;
    for i in 0..1000 {
        if flooder.client.ping(i).await.is_err() {
            break;
        }
    }
    let (code, reason) = flooder.client.client().wait_closed(WAIT).await.unwrap();
    assert_eq!(code, Some(CloseCode::PolicyViolation.code()));
    assert_eq!(reason, "message rate limit exceeded");
    let mut last = start;
    for _ in 0..10 {
        let s = watcher.next_snapshot().await;
        assert_eq!(s.tick.0, last.0 + 1);
        assert!(s.checked, "a checksum every tick, and it matched");
        last = s.tick;
    }
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains("tickwire_rate_limited_total{outcome=\"messages\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}

async fn upgrade_status(addr: std::net::SocketAddr, origin: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: {origin}\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_allowlist() {
    let server = TestServer::start(Config {
        allowed_origins: vec!["https://game.example".into()],
        ..Config::ephemeral()
    })
    .await;
    assert!(
        upgrade_status(server.addr, "https://evil.example")
            .await
            .starts_with("HTTP/1.1 403")
    );
    assert!(
        upgrade_status(server.addr, "https://game.example")
            .await
            .starts_with("HTTP/1.1 101")
    );
    // Non-browser clients send no Origin and are let in.
    let mut p = Player::join(&server.ws_url(), "native").await;
    p.next_snapshot().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_dropped_by_the_heartbeat_resumes() {
    let server = TestServer::start(Config {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(600),
        ..Config::ephemeral()
    })
    .await;
    // A client that joins, then goes silent (answers no ping) until the server gives up on it.
    let mut silent = RawWs::connect(server.addr).await;
    silent.frame(2, true, &hello_bytes("sleepy")).await;
    let welcome = silent.read_binary().await.unwrap();
    let Ok(ServerMsg::Welcome(w)) = decode_server(&welcome, None, &[]) else {
        panic!("not a Welcome")
    };
    // Reading is not talking: its first snapshot says which body is its.
    let mut r = Replica::new(&w);
    let first = silent.read_binary().await.unwrap();
    let Ok(ServerMsg::Snapshot(s)) = r.decode(&first) else {
        panic!("not a snapshot")
    };
    r.apply(&s).unwrap();
    let arena = common::v2::Arena::of(&w.schema);
    let (body, _) = arena.body_of(&r, w.player_id).expect("its body");
    let (code, _) = tokio::time::timeout(WAIT, silent.read_close())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, CloseCode::Timeout.code());
    // It comes back with its token within the grace period: same player, same body.
    let c = GameClient::join(
        &server.ws_url(),
        "sleepy",
        Some(w.resume_token.clone()),
        WAIT,
    )
    .await
    .expect("a Welcome");
    let mut p = Player::of(c);
    assert_eq!(p.id(), w.player_id);
    assert!(p.welcome().resumed);
    p.next_snapshot().await;
    assert_eq!(p.body_of(p.id()).map(|(id, _)| id), Some(body));
    server.stop().await;
}
