//! The operator's view (`--admin-token`): `/admin` and `/admin/api/*` on the player listener
//! and on `--admin-addr`, against the real server over loopback: off without the flag, 401
//! without the token, the overview of a room with its players, kicks (close 1008, no resume),
//! bad kick requests; and the Grafana dashboard's queries against the real `/metrics`.

mod common;

use common::WAIT;
use common::v2::{GameClient, GameEvent, Player};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tickwire_server::{Config, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-admin-token-0123456789";
/// What a 400 for a bad kick body says the body should be.
const SHAPE: &str = r#"is JSON {"room":"ID","player":N}"#;

struct Node {
    addr: SocketAddr,
    admin: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    async fn start(token: Option<&str>) -> Node {
        let config = Config {
            admin_addr: Some("127.0.0.1:0".parse().unwrap()),
            admin_token: token.map(str::to_string),
            node: Some("node-a".into()),
            ..Config::ephemeral()
        };
        let shutdown = CancellationToken::new();
        let server = Server::bind(config, shutdown.clone()).await.expect("bind");
        Node {
            addr: server.local_addr(),
            admin: server.admin_addr().expect("admin listener"),
            shutdown,
            task: tokio::spawn(server.run()),
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("server stops in time")
            .unwrap();
    }

    fn ws(&self, room: &str) -> String {
        format!("ws://{}/ws?room={room}", self.addr)
    }

    /// The overview, with the token, from the player listener.
    async fn overview(&self) -> Value {
        let r = request(self.addr, "GET", "/admin/api/overview", Some(TOKEN), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    /// Polls the overview until room `room` lists `n` players.
    async fn room_with(&self, room: &str, n: usize) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let o = self.overview().await;
            let r = o["rooms"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == room)
                .cloned();
            if let Some(r) = r
                && r["player_list"].as_array().unwrap().len() == n
                && r["players"] == n
            {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "room {room} never listed {n} players: {o}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.1 request with `Connection: close`; an optional Bearer token and body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(t) = token {
        head += &format!("Authorization: Bearer {t}\r\n");
    }
    if let Some(b) = body {
        head += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        );
    }
    head += "\r\n";
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or_default());
    s.write_all(&out).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    Answer {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

async fn kick(addr: SocketAddr, body: &str) -> Answer {
    let body = body.as_bytes();
    request(addr, "POST", "/admin/api/kick", Some(TOKEN), Some(body)).await
}

/// Receives until the connection ends; its close code and reason.
async fn closed(client: &mut GameClient) -> (Option<u16>, String) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline - tokio::time::Instant::now();
        match client.recv_timeout(left).await {
            Some(GameEvent::Closed { code, reason }) => return (code, reason),
            Some(_) => continue,
            None => panic!("the kicked client was not closed in time"),
        }
    }
}

#[tokio::test]
async fn without_the_flag_the_page_is_off() {
    let node = Node::start(None).await;
    for addr in [node.addr, node.admin] {
        for path in [
            "/admin",
            "/admin/",
            "/admin/admin.js",
            "/admin/api/overview",
        ] {
            let r = request(addr, "GET", path, Some(TOKEN), None).await;
            assert_eq!(r.status, 404, "{path}: {}", r.body);
            assert!(
                r.body.contains("operator's page is off") && r.body.contains("--admin-token"),
                "{path}: {}",
                r.body
            );
        }
        let r = request(addr, "POST", "/admin/api/kick", Some(TOKEN), Some(b"{}")).await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
    node.stop().await;
}

#[tokio::test]
async fn the_api_needs_the_token_on_both_listeners() {
    let node = Node::start(Some(TOKEN)).await;
    for addr in [node.addr, node.admin] {
        for (token, sentence) in [
            (None, "needs the admin token"),
            (Some("not-the-token-at-all-000"), "token is wrong"),
            (Some(&TOKEN[..TOKEN.len() - 1]), "token is wrong"),
            // "Bearer " alone: header values lose trailing spaces, so this is no token.
            (Some(""), "needs the admin token"),
        ] {
            let r = request(addr, "GET", "/admin/api/overview", token, None).await;
            assert_eq!(r.status, 401, "{token:?}: {}", r.body);
            let v: Value = serde_json::from_str(&r.body).unwrap();
            assert!(
                v["error"].as_str().unwrap().contains(sentence),
                "{token:?}: {}",
                r.body
            );
            assert!(r.head.contains("www-authenticate: bearer"), "{}", r.head);
            let body = br#"{"room":"x","player":1}"#;
            let r = request(addr, "POST", "/admin/api/kick", token, Some(body)).await;
            assert_eq!(r.status, 401, "{token:?}: {}", r.body);
        }
        // Another scheme is no token either.
        let mut s = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET /admin/api/overview HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Basic {TOKEN}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.unwrap();
        assert!(buf.starts_with("HTTP/1.1 401"), "{buf}");

        // The right token, and the scheme in any case (RFC 6750 schemes are case-blind).
        let r = request(addr, "GET", "/admin/api/overview", Some(TOKEN), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["node"], "node-a");

        // The page itself holds no data: it is served, for its token form.
        let r = request(addr, "GET", "/admin", None, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.head.contains("content-type: text/html"), "{}", r.head);
        assert!(r.body.contains("/admin/admin.js"), "{}", r.body);
        assert!(r.head.contains("x-frame-options: deny"), "{}", r.head);
        for file in ["/admin/admin.js", "/admin/admin.css"] {
            let r = request(addr, "GET", file, None, None).await;
            assert_eq!(r.status, 200, "{file}");
        }
        let r = request(addr, "GET", "/admin/nothing.js", None, None).await;
        assert_eq!(r.status, 404);
    }
    node.stop().await;
}

#[tokio::test]
async fn the_overview_lists_a_room_and_its_players_and_a_kick_removes_one() {
    let node = Node::start(Some(TOKEN)).await;
    let mut alice = Player::join(&node.ws("ops"), "alice").await;
    let bob = Player::join(&node.ws("ops"), "bob").await;
    let room = node.room_with("ops", 2).await;
    assert_eq!(room["node"], "node-a");
    assert_eq!(room["game"], "arena");
    assert_eq!(room["public"], false);
    assert!(room["max_players"].as_u64().unwrap() >= 2);
    assert!(room["bytes_sent"].as_u64().unwrap() > 0, "{room}");
    assert!(room["tick"].as_u64().unwrap() > 0, "{room}");
    assert!(room["tick_ms"].as_f64().unwrap() >= 0.0, "{room}");
    let mut names: Vec<(u64, String, bool)> = room["player_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_u64().unwrap(),
                p["name"].as_str().unwrap().to_string(),
                p["connected"].as_bool().unwrap(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            (u64::from(alice.id().0), "alice".into(), true),
            (u64::from(bob.id().0), "bob".into(), true),
        ]
    );
    let o = node.overview().await;
    assert_eq!(o["nodes"][0]["id"], "node-a");
    assert_eq!(o["nodes"][0]["rooms"], 1);
    assert_eq!(o["nodes"][0]["players"], 2);
    assert_eq!(o["nodes"][0]["draining"], false);
    assert_eq!(o["nodes"][0]["healthy"], true);
    assert!(o["time_ms"].as_u64().unwrap() > 1_600_000_000_000);
    // The same from the admin listener.
    let r = request(node.admin, "GET", "/admin/api/overview", Some(TOKEN), None).await;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["rooms"][0]["id"], "ops");

    // Kick alice (through the admin listener): her socket closes with the reason, she leaves
    // the room at once, and her resume token makes a new player.
    let token = alice.welcome().resume_token.clone();
    let body = format!(r#"{{"room":"ops","player":{}}}"#, alice.id().0);
    let r = kick(node.admin, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        serde_json::json!({ "kicked": true })
    );
    let (code, reason) = closed(&mut alice.client).await;
    assert_eq!(code, Some(1008));
    assert_eq!(reason, "removed by an operator");
    let room = node.room_with("ops", 1).await;
    assert_eq!(room["player_list"][0]["name"], "bob");
    let again = GameClient::join(&node.ws("ops"), "alice", Some(token), WAIT)
        .await
        .expect("joins again as a new player");
    assert!(!again.welcome.resumed, "a kicked player must not resume");
    assert_ne!(again.welcome.player_id, alice.id());

    // Kicking her again: she is no longer there.
    let r = kick(node.addr, &body).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("has no player"), "{}", r.body);
    let metrics = common::http_get(node.admin, "/metrics").await.1;
    assert!(
        metrics.contains(r#"tickwire_closes_total{code="1008",initiator="server"} 1"#),
        "{metrics}"
    );
    drop(bob);
    drop(again);
    node.stop().await;
}

#[tokio::test]
async fn bad_kick_requests_get_clear_errors() {
    let node = Node::start(Some(TOKEN)).await;
    let p = Player::join(&node.ws("ops"), "carol").await;
    node.room_with("ops", 1).await;
    let id = p.id().0;
    let cases: Vec<(String, u16, &str)> = vec![
        ("not json".into(), 400, SHAPE),
        ("{}".into(), 400, SHAPE),
        (r#"{"room":"ops"}"#.into(), 400, SHAPE),
        (r#"{"room":"ops","player":-1}"#.into(), 400, SHAPE),
        (r#"{"room":"ops","player":"1"}"#.into(), 400, SHAPE),
        (
            format!(r#"{{"room":"ops","player":{id},"extra":1}}"#),
            400,
            SHAPE,
        ),
        (
            r#"{"room":"nowhere","player":1}"#.into(),
            404,
            "no room nowhere",
        ),
        (
            r#"{"room":"ops","player":4000000}"#.into(),
            404,
            "has no player",
        ),
        (
            format!(
                r#"{{"room":"ops","player":{id},"pad":"{}"}}"#,
                "x".repeat(5000)
            ),
            413,
            "at most 4096 bytes",
        ),
    ];
    for (body, status, sentence) in cases {
        let r = kick(node.addr, &body).await;
        assert_eq!(r.status, status, "{body:.80}: {}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(sentence), "{body:.80}: {e}");
    }
    // Wrong methods, unknown API paths.
    let r = request(node.addr, "GET", "/admin/api/kick", Some(TOKEN), None).await;
    assert_eq!(r.status, 405);
    assert!(r.head.contains("allow: post"), "{}", r.head);
    let r = request(
        node.addr,
        "POST",
        "/admin/api/overview",
        Some(TOKEN),
        Some(b""),
    )
    .await;
    assert_eq!(r.status, 405);
    let r = request(node.addr, "GET", "/admin/api/nothing", Some(TOKEN), None).await;
    assert_eq!(r.status, 404);
    let r = request(node.addr, "DELETE", "/admin", Some(TOKEN), None).await;
    assert_eq!(r.status, 405);
    // Carol is still there after all of it.
    let room = node.room_with("ops", 1).await;
    assert_eq!(room["player_list"][0]["name"], "carol");
    drop(p);
    node.stop().await;
}

/// Every `tickwire_…` name a PromQL expression uses.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("tickwire_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_grafana_dashboard_queries_metrics_the_server_exposes() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/grafana/tickwire-dashboard.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .expect("the dashboard is JSON");
    let mut all = Vec::new();
    exprs(&dashboard["panels"], &mut all);
    assert!(all.len() >= 8, "panels with queries: {all:?}");

    // A server that has had a room, players and a close, so labelled families have series.
    let node = Node::start(Some(TOKEN)).await;
    let mut p = Player::join(&node.ws("dash"), "dave").await;
    p.next_snapshot().await;
    let body = format!(r#"{{"room":"dash","player":{}}}"#, p.id().0);
    assert_eq!(kick(node.addr, &body).await.status, 200);
    closed(&mut p.client).await;
    let (status, metrics) = common::http_get(node.admin, "/metrics").await;
    assert_eq!(status, 200);
    let samples: std::collections::BTreeSet<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut used = std::collections::BTreeSet::new();
    for e in &all {
        let names = metric_names(e);
        assert!(!names.is_empty(), "a query on no tickwire metric: {e}");
        used.extend(names);
    }
    for name in &used {
        assert!(
            samples.contains(name.as_str()),
            "the dashboard queries {name}, which /metrics does not expose; it has {samples:?}"
        );
    }
    for wanted in [
        "tickwire_players",
        "tickwire_rooms",
        "tickwire_tick_duration_seconds_bucket",
        "tickwire_bytes_sent_total",
        "tickwire_closes_total",
        "tickwire_connections",
        "tickwire_refused_connections_total",
        "tickwire_db_queued",
    ] {
        assert!(
            used.contains(wanted),
            "the dashboard has no panel on {wanted}"
        );
    }
    node.stop().await;
}
