//! Mirrored streams over real loopback TCP (`?mirror=1` and `?mirror=attach`): while the main
//! connection's downstream is held back (as a lost segment holds a TCP stream until its
//! repair), the game goes on from the mirror, each message once and in order (checksums on
//! every tick); when the hold ends, its copies are dropped. Each bad attach gets its close
//! code and reason, and the mirror goes with its session.
mod common;

use common::v2::Player;
use common::{TestServer, WAIT};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tickwire_client::{Client, CloseCode, GameClient, Received};
use tickwire_server::Config;
use tickwire_shared::sync::{ClientMsg, Hello, PROTOCOL_VERSION, encode_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn config() -> Config {
    Config {
        checksum_interval: 1,
        ..Config::ephemeral()
    }
}

/// A TCP relay to `to` whose first connection's server-to-client bytes wait while `hold` is
/// set (the main connection; the mirror, its second, always flows).
async fn relay(to: SocketAddr, hold: Arc<AtomicBool>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((client, _)) = l.accept().await {
            let server = TcpStream::connect(to).await.unwrap();
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let gate = first.then(|| hold.clone());
            first = false;
            tokio::spawn(pipe(client, server, gate));
        }
    });
    addr
}

async fn pipe(client: TcpStream, server: TcpStream, gate: Option<Arc<AtomicBool>>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::io::copy(&mut cr, &mut sw);
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = sr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            while gate.as_ref().is_some_and(|g| g.load(Ordering::Relaxed)) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            cw.write_all(&buf[..n]).await?;
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

fn hello_bytes(resume_token: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_client(
        &ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: "m".into(),
            auth_token: None,
            resume_token: resume_token.map(str::to_string),
        }),
        &tickwire_shared::schema::Schema::new(""),
        &mut out,
    );
    out
}

#[tokio::test]
async fn a_held_main_connection_is_covered_by_its_mirror() {
    let server = TestServer::start(config()).await;
    let hold = Arc::new(AtomicBool::new(false));
    let via = relay(server.addr, hold.clone()).await;
    let url = format!("ws://{via}/ws");
    let client = GameClient::join_mirrored(&url, "mirrored", None, 1, WAIT)
        .await
        .expect("joins with a mirror");
    let mut p = Player::of(client);
    let me = p.id();
    let mut ticks = Vec::new();
    let play = async |p: &mut Player, ticks: &mut Vec<u32>, n: usize| {
        let mut checked = 0;
        for _ in 0..n {
            let s = p.next_snapshot().await;
            checked += u32::from(s.checked);
            ticks.push(s.tick.0);
            let lanes = p.arena.input(127, 40, 0, 0);
            p.send_input(lanes).await;
        }
        checked
    };
    // In step first: the mirror's copies come after the main connection's.
    play(&mut p, &mut ticks, 30).await;
    let before = p.client.client().mirror_stats();
    assert_eq!(before.attached, 1, "{before:?}");
    let start = p.pos_of(me).expect("my body");

    // Hold the main connection's downstream for a second: snapshots keep coming.
    hold.store(true, Ordering::Relaxed);
    let held_at = Instant::now();
    let mut during = Vec::new();
    let checked = play(&mut p, &mut during, 25).await;
    let took = held_at.elapsed();
    let mid = p.client.client().mirror_stats();
    hold.store(false, Ordering::Relaxed);
    assert!(
        took < Duration::from_millis(1500),
        "25 snapshots while the main connection is held, in {took:?}"
    );
    assert!(
        mid.from_mirror >= before.from_mirror + 25,
        "the mirror brought them: {before:?} then {mid:?}"
    );
    assert!(
        checked >= 20,
        "checksums on the mirror's snapshots: {checked}"
    );
    ticks.extend(&during);

    // Released: the main connection's backlog is dropped as copies, the game goes on.
    play(&mut p, &mut ticks, 30).await;
    let after = p.client.client().mirror_stats();
    assert!(
        after.duplicates >= mid.duplicates + 25,
        "the held copies were dropped: {mid:?} then {after:?}"
    );
    assert!(
        ticks.windows(2).all(|w| w[1] > w[0]),
        "every snapshot once, in order: {ticks:?}"
    );
    let moved = p.pos_of(me).unwrap() - start;
    assert!(moved.x > 100.0, "the body kept moving: {moved:?}");
    server.stop().await;
}

/// Connects a raw client (frames as they come) to `url`.
async fn raw(url: &str) -> Client {
    Client::connect(url, WAIT).await.expect("connects")
}

/// The close an attach with `token` gets at `url` (`?mirror=attach` added).
async fn attach_close(server: &TestServer, token: Option<&str>) -> (Option<u16>, String) {
    let mut c = raw(&format!("{}?mirror=attach", server.ws_url())).await;
    c.send_bytes(hello_bytes(token)).await.unwrap();
    c.wait_closed(WAIT).await.expect("closed in time")
}

#[tokio::test]
async fn bad_attaches_get_their_close_code_and_reason() {
    let server = TestServer::start(config()).await;
    let mut plain = GameClient::join(&server.ws_url(), "plain", None, WAIT)
        .await
        .unwrap();
    // The SDK does not even try on a session whose messages are not numbered.
    let token = plain.welcome.resume_token.clone();
    let e = plain.client().attach_mirror(&token, WAIT).await;
    assert!(
        matches!(e, Err(tickwire_client::ConnectError::NotNumbered)),
        "{e:?}"
    );
    let numbered = GameClient::join(&format!("{}?mirror=1", server.ws_url()), "n", None, WAIT)
        .await
        .unwrap();

    let (code, reason) = attach_close(&server, None).await;
    assert_eq!(code, Some(CloseCode::Unauthorized.code()), "{reason}");
    assert!(reason.contains("resume token"), "{reason}");

    let (code, reason) = attach_close(&server, Some("nosuchroom.00ff")).await;
    assert_eq!(code, Some(CloseCode::Unauthorized.code()), "{reason}");
    assert!(reason.contains("no room of this server"), "{reason}");

    let room = numbered.welcome.resume_token.split('.').next().unwrap();
    let (code, reason) = attach_close(&server, Some(&format!("{room}.00ff"))).await;
    assert_eq!(code, Some(CloseCode::Unauthorized.code()), "{reason}");
    assert!(reason.contains("no connected player"), "{reason}");

    // A session that did not ask for numbered messages cannot be mirrored.
    let (code, reason) = attach_close(&server, Some(&plain.welcome.resume_token)).await;
    assert_eq!(code, Some(CloseCode::PolicyViolation.code()), "{reason}");
    assert!(reason.contains("?mirror=1"), "{reason}");

    // A mirror only receives.
    let mut m = raw(&format!("{}?mirror=attach", server.ws_url())).await;
    m.send_bytes(hello_bytes(Some(&numbered.welcome.resume_token)))
        .await
        .unwrap();
    let first = m.recv_timeout(WAIT).await.expect("a copy comes");
    assert!(matches!(first, Received::Binary(_)), "{first:?}");
    m.send_bytes(vec![2, 0]).await.unwrap();
    let (code, reason) = m.wait_closed(WAIT).await.expect("closed");
    assert_eq!(code, Some(CloseCode::PolicyViolation.code()), "{reason}");
    assert!(reason.contains("only receives"), "{reason}");

    // An unknown value of the parameter is refused before the upgrade.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"GET /ws?mirror=2 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(WAIT, s.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("mirror is 1"), "{answer}");

    // Both sessions played on untouched.
    for mut g in [plain, numbered] {
        let e = g.next_snapshot(WAIT).await.expect("still playing");
        assert!(
            matches!(e, tickwire_client::GameEvent::Snapshot { .. }),
            "{e:?}"
        );
    }
    server.stop().await;
}

/// Plays `g` (up to 90 snapshots, each of which must come) until a mirror of it has ended;
/// how it ended.
async fn mirror_end(g: &mut GameClient) -> Option<(Option<u16>, String)> {
    for _ in 0..90 {
        g.next_snapshot(WAIT).await.expect("still playing");
        if let Some(closed) = g.client().mirror_stats().closed {
            return Some(closed);
        }
    }
    None
}

/// A raw mirror of session `token`, once the first copy has come (it is attached).
async fn raw_mirror(server: &TestServer, token: &str) -> Client {
    let mut m = raw(&format!("{}?mirror=attach", server.ws_url())).await;
    m.send_bytes(hello_bytes(Some(token))).await.unwrap();
    let first = m.recv_timeout(WAIT).await;
    assert!(matches!(first, Some(Received::Binary(_))), "{first:?}");
    m
}

#[tokio::test]
async fn past_max_mirrors_a_newer_mirror_replaces_the_oldest_and_mirrors_go_with_their_session() {
    let server = TestServer::start(config()).await;
    let mut g = GameClient::join_mirrored(&server.ws_url(), "thrice", None, 1, WAIT)
        .await
        .unwrap();
    let token = g.welcome.resume_token.clone();
    // --max-mirrors is 2: a second one joins the SDK's, a third replaces the oldest (the
    // SDK's), which hears 4006; the game goes on.
    let mut b = raw_mirror(&server, &token).await;
    let mut c = raw_mirror(&server, &token).await;
    let (code, reason) = mirror_end(&mut g).await.expect("the SDK's mirror ended");
    assert_eq!(code, Some(CloseCode::Replaced.code()), "{reason}");
    assert_eq!(g.client().mirror_stats().attached, 0);

    let mut d = raw_mirror(&server, &token).await;
    let (code, reason) = b.wait_closed(WAIT).await.expect("replaced");
    assert_eq!(code, Some(CloseCode::Replaced.code()), "{reason}");

    // The session ends: its mirrors are closed with it.
    g.client().close(CloseCode::Normal, "bye").await;
    for m in [&mut c, &mut d] {
        let (code, reason) = m.wait_closed(WAIT).await.expect("the mirror closes");
        assert_eq!(code, Some(CloseCode::GoingAway.code()), "{reason}");
        assert!(reason.contains("main connection ended"), "{reason}");
    }
    server.stop().await;
}

#[tokio::test]
async fn with_max_mirrors_0_a_mirror_is_refused_and_the_session_plays_on() {
    let server = TestServer::start(Config {
        max_mirrors: 0,
        ..config()
    })
    .await;
    let mut g = GameClient::join_mirrored(&server.ws_url(), "alone", None, 1, WAIT)
        .await
        .unwrap();
    let (code, reason) = mirror_end(&mut g).await.expect("the mirror was refused");
    assert_eq!(code, Some(CloseCode::PolicyViolation.code()), "{reason}");
    assert!(reason.contains("--max-mirrors 0"), "{reason}");
    server.stop().await;
}
