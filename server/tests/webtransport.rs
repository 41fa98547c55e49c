//! WebTransport over real loopback UDP (`--webtransport`): a client plays (snapshots as
//! datagrams against its acknowledged ticks, checksums on every tick, inputs acknowledged,
//! its body moves), resumes after its session drops, a server without the flag sends the SDK
//! to a WebSocket, and bad input gets its close code and reason on the stream.
mod common;

use common::v2::Player;
use common::{TestServer, WAIT};
use std::time::Duration;
use tickwire_client::webtransport::{WtInfo, discover};
use tickwire_client::{Client, GameClient, Received, Transport};
use tickwire_server::Config;
use tickwire_shared::sync::ClientMsg;

fn config() -> Config {
    Config {
        webtransport: true,
        checksum_interval: 1,
        ..Config::ephemeral()
    }
}

async fn info(server: &TestServer) -> WtInfo {
    discover(&server.ws_url(), WAIT)
        .await
        .expect("GET /webtransport answers")
}

#[tokio::test]
async fn a_client_over_webtransport_plays_and_resumes() {
    let server = TestServer::start(config()).await;
    let (status, body) = server.http_get("/webtransport").await;
    assert_eq!(status, 200, "{body}");
    let i = info(&server).await;
    assert_eq!((i.port, i.path.as_str()), (server.addr.port(), "/ws"));
    assert_eq!(i.cert_hashes.len(), 1);
    assert_eq!(i.cert_hashes[0].len(), 64);

    let client = GameClient::join_auto(&server.ws_url(), "wt", None, WAIT)
        .await
        .expect("joins");
    assert_eq!(client.transport(), Transport::WebTransport);
    let mut p = Player::of(client);
    let me = p.id();
    let mut checked = 0;
    let mut start = None;
    for _ in 0..60 {
        let s = p.next_snapshot().await;
        checked += u64::from(s.checked);
        let lanes = p.arena.input(127, 0, 0, 0);
        p.send_input(lanes).await;
        if start.is_none() {
            start = p.pos_of(me);
        }
    }
    let moved = p.pos_of(me).unwrap() - start.unwrap();
    assert!(moved.x > 50.0, "the body moved right: {moved:?}");
    assert!(
        checked >= 55,
        "a checksum on (nearly) every snapshot: {checked}"
    );
    assert!(
        p.client.pending().count() < 10,
        "inputs sent as datagrams are acknowledged"
    );
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains("tickwire_connections_by_transport{transport=\"webtransport\"} 1"),
        "{metrics}"
    );
    let sent: f64 = metrics
        .lines()
        .find(|l| l.starts_with("tickwire_datagrams_sent_total"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("a datagram counter");
    assert!(sent >= 50.0, "snapshots went as datagrams: {sent}");

    // The session drops (no close frame); the token takes the same player back.
    let token = p.welcome().resume_token.clone();
    p.client.abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = GameClient::join_auto(&server.ws_url(), "wt", Some(token), WAIT)
        .await
        .expect("resumes");
    assert_eq!(again.transport(), Transport::WebTransport);
    assert!(again.welcome.resumed);
    assert_eq!(again.welcome.player_id, me);
    let mut p = Player::of(again);
    for _ in 0..5 {
        p.next_snapshot().await;
    }
    assert!(
        p.pos_of(me).is_some(),
        "the first snapshot after a resume is complete"
    );
    p.client.leave().await;
    server.stop().await;
}

#[tokio::test]
async fn without_the_flag_the_sdk_falls_back_to_a_websocket_at_once() {
    let server = TestServer::start(Config::ephemeral()).await;
    let (status, _) = server.http_get("/webtransport").await;
    assert_eq!(status, 404);
    let started = std::time::Instant::now();
    let client = GameClient::join_auto(&server.ws_url(), "ws", None, WAIT)
        .await
        .expect("joins");
    assert_eq!(client.transport(), Transport::WebSocket);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no wait for UDP"
    );
    client.leave().await;
    server.stop().await;
}

/// A raw session: its first frames, then the close the server sends.
async fn close_after(server: &TestServer, query: &str, first: &[Vec<u8>]) -> (Option<u16>, String) {
    let i = info(server).await;
    let url = format!("{}{query}", server.ws_url());
    let mut c = Client::connect_webtransport(&url, &i, WAIT)
        .await
        .expect("a session");
    for m in first {
        c.send_bytes(m.clone()).await.expect("open");
    }
    c.wait_closed(WAIT).await.expect("closed in time")
}

fn hello() -> Vec<u8> {
    common::v2::hello_bytes("x")
}

#[tokio::test]
async fn bad_input_over_webtransport_gets_its_close_code_and_reason() {
    let server = TestServer::start(Config {
        max_frame_bytes: 256,
        ..config()
    })
    .await;
    // Not a Hello first.
    let ping = common::v2::encode(&ClientMsg::Ping(tickwire_shared::sync::Ping {
        client_time: 1,
    }));
    let (code, reason) = close_after(&server, "", &[ping]).await;
    assert_eq!(code, Some(4001), "{reason}");
    // Undecodable.
    let (code, reason) = close_after(&server, "", &[vec![200, 1, 2]]).await;
    assert_eq!(code, Some(1007), "{reason}");
    assert!(reason.starts_with("undecodable message"), "{reason}");
    // A bad query, as the WebSocket's HTTP 400.
    let (code, reason) = close_after(&server, "?room=bad%20room", &[]).await;
    assert_eq!(code, Some(1008));
    assert!(reason.contains("room ids"), "{reason}");
    // A frame over --max-frame-bytes.
    let (code, reason) = close_after(&server, "", &[hello(), vec![1; 300]]).await;
    assert_eq!(code, Some(1009), "{reason}");
    // A datagram that does not decode, after the join.
    let i = info(&server).await;
    let mut c = Client::connect_webtransport(&server.ws_url(), &i, WAIT)
        .await
        .unwrap();
    c.send_bytes(hello()).await.unwrap();
    let Some(Received::Binary(w)) = c.recv_timeout(WAIT).await else {
        panic!("a welcome");
    };
    assert_eq!(w[0], 0, "the Welcome first");
    c.send_datagram(vec![0, 200, 7]).await.unwrap();
    let (code, reason) = c.wait_closed(WAIT).await.expect("closed");
    assert_eq!(code, Some(1007), "{reason}");
    // The server is still fine for everyone else.
    let ok = GameClient::join_auto(&server.ws_url(), "fine", None, WAIT)
        .await
        .expect("joins");
    assert_eq!(ok.transport(), Transport::WebTransport);
    ok.leave().await;
    server.stop().await;
}

const SECRET: &str = "webtransport test secret, 32 byte";

#[tokio::test]
async fn auth_the_rate_limit_and_the_connection_limit_hold_over_webtransport() {
    // Auth: a bad token gets 4004 with the reason, a good one plays under the claims' name.
    let server = TestServer::start(Config {
        jwt_secret: Some(SECRET.into()),
        ..config()
    })
    .await;
    let bad = format!(
        "?token={}",
        common::jwt("not the secret, but 32 bytes long!", "x", 60)
    );
    let (code, reason) = close_after(&server, &bad, &[]).await;
    assert_eq!(code, Some(4004), "{reason}");
    let url = format!(
        "{}?token={}",
        server.ws_url(),
        common::jwt(SECRET, "Ada", 60)
    );
    let g = GameClient::join_auto(&url, "ignored", None, WAIT)
        .await
        .expect("joins");
    assert_eq!(g.transport(), Transport::WebTransport);
    let mut p = Player::of(g);
    p.next_snapshot().await;
    assert_eq!(p.replica().players[&p.id()].name, "Ada");
    p.client.leave().await;
    server.stop().await;

    // The message rate limit counts datagrams: a flood gets 1008, the server goes on.
    let server = TestServer::start(Config {
        max_messages_per_sec: 20.0,
        message_burst: 20.0,
        ..config()
    })
    .await;
    let i = info(&server).await;
    let mut c = Client::connect_webtransport(&server.ws_url(), &i, WAIT)
        .await
        .unwrap();
    c.send_bytes(hello()).await.unwrap();
    let Some(Received::Binary(_)) = c.recv_timeout(WAIT).await else {
        panic!("a welcome");
    };
    for _ in 0..100 {
        // An acknowledgement of nothing, alone: valid, and one message each.
        let _ = c.send_datagram(vec![0]).await;
    }
    let (code, reason) = c.wait_closed(WAIT).await.expect("closed");
    assert_eq!(code, Some(1008), "{reason}");
    assert_eq!(reason, "message rate limit exceeded");
    server.stop().await;

    // --max-connections-per-ip counts sessions: the second from this address is refused.
    let server = TestServer::start(Config {
        max_connections_per_ip: 1,
        ..config()
    })
    .await;
    let i = info(&server).await;
    let first = Client::connect_webtransport(&server.ws_url(), &i, WAIT)
        .await
        .expect("the first session");
    let second = Client::connect_webtransport(&server.ws_url(), &i, Duration::from_secs(3)).await;
    assert!(
        second.is_err(),
        "a second session over the limit is refused"
    );
    drop(first);
    server.stop().await;
}
