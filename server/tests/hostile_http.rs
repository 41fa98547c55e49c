//! Hostile internet, the HTTP side (issue 20): attacks on the listener, the HTTP layer,
//! `/metrics`, health checks, auth and display names, each against the real server over real
//! sockets, with well-behaved players ([`Witnesses`]) in the same room where the attack runs
//! while people play.

mod common;

use common::{RawWs, TestServer, WAIT, Witnesses, closed_within, http_get, rss_kib};
use std::net::SocketAddr;
use std::time::Duration;
use tickwire_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server the witnesses can watch: a checksum every tick and an outbox of a few seconds.
fn watched() -> Config {
    Config {
        checksum_interval: 1,
        outbox_capacity: 128,
        ..Config::ephemeral()
    }
}

/// Lets the witnesses play a few more ticks after a quick attack (a witness that received no
/// snapshot at all fails), then checks what they saw.
async fn watch_a_little(witnesses: Witnesses) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    witnesses.finish().await;
}

fn close_series(metrics: &str) -> usize {
    metrics
        .lines()
        .filter(|l| l.starts_with("tickwire_closes_total{"))
        .count()
}

/// Item 5: a client chooses the code it closes with; 2,000 distinct codes must not become
/// 2,000 series (they were never removed, and every scrape grew with them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_codes_from_clients_do_not_grow_metrics() {
    let server = TestServer::start(watched()).await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    // One close of each kind the server itself counts, so the baseline has its usual series.
    let mut ws = RawWs::connect(server.addr).await;
    ws.frame(0x8, true, &1000u16.to_be_bytes()).await;
    let _ = tokio::time::timeout(WAIT, ws.read_close()).await;
    let (code, before) = server.http_get("/metrics").await;
    assert_eq!(code, 200);

    for code in 3000u16..5000 {
        let mut ws = RawWs::connect(server.addr).await;
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(b"bye");
        ws.frame(0x8, true, &payload).await;
        let _ = tokio::time::timeout(WAIT, ws.read_close()).await;
    }

    let (code, after) = server.http_get("/metrics").await;
    assert_eq!(code, 200);
    let series = close_series(&after);
    assert!(
        series <= 16,
        "{series} close series after 2,000 distinct codes:\n{after}"
    );
    assert!(
        after.contains(r#"tickwire_closes_total{code="other",initiator="client"} "#)
            || after.contains(r#"initiator="server"}"#),
        "the closes are counted:\n{after}"
    );
    assert!(
        after.len() < before.len() + 2048,
        "/metrics went from {} to {} bytes",
        before.len(),
        after.len()
    );
    watch_a_little(witnesses).await;
    server.stop().await;
}

/// Runs the real binary with `args` and returns its exit code and standard error.
async fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickwire"));
    cmd.args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("TICKWIRE_JWT_SECRET")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(WAIT, cmd.output())
        .await
        .expect("the binary exits at once instead of serving")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Item 11: an empty or short secret (tokens signed with the empty key were admitted) stops
/// the binary before it listens, with exit code 2 and a sentence that names the flag and the
/// length it needs; the secret itself is not printed.
#[tokio::test]
async fn empty_and_short_jwt_secrets_refuse_to_start() {
    let (code, err) = run_binary(&["--jwt-secret", ""], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--jwt-secret") && err.contains("empty"),
        "{err}"
    );
    let (code, err) = run_binary(&["--jwt-secret", "hunter2hunter2"], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("14 bytes") && err.contains("at least 32 bytes"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the secret is not echoed: {err}");
    let (code, err) = run_binary(&[], &[("TICKWIRE_JWT_SECRET", "short")]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("TICKWIRE_JWT_SECRET"), "{err}");
    // An embedder that builds a Config by hand is refused the same way.
    let weak = Config {
        jwt_secret: Some(String::new()),
        ..Config::ephemeral()
    };
    let err = tickwire_server::Server::bind(weak, Default::default())
        .await
        .err()
        .expect("bind refuses an empty secret");
    assert!(err.to_string().contains("empty"), "{err}");
}

/// Item 11: a long enough secret starts (the check is not a refusal of every secret).
#[tokio::test]
async fn a_32_byte_secret_starts() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--jwt-secret",
            SECRET,
            "--db",
            "sqlite::memory:",
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(
        WAIT,
        tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(line.contains("listening"), "{line}");
    child.kill().await.unwrap();
}

const SECRET: &str = "hostile_http test secret 32 byte";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt(name: &str, nbf: Option<u64>) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let claims = tickwire_server::auth::Claims {
        sub: format!("acct-{name}"),
        name: Some(name.into()),
        exp: now() + 3 * 86_400,
        nbf,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// Item 11: `nbf` is checked. A token valid only from tomorrow is refused in the URL (401,
/// with the reason) and in `Hello` (close 4004, with the reason); the same token without
/// `nbf`, or with one in the past, is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_valid_only_from_tomorrow_is_refused() {
    use tickwire_client::game::JoinError;
    use tickwire_client::{Client, GameClient};
    use tickwire_shared::close::CloseCode;
    let server = TestServer::start(Config {
        jwt_secret: Some(SECRET.into()),
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    let tomorrow = jwt("early", Some(now() + 86_400));
    let answer = raw_request(
        server.addr,
        format!(
            "GET /ws?token={tomorrow} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(status(&answer), 401, "{answer}");
    assert!(answer.contains("the token is not valid yet"), "{answer}");

    let c = Client::connect(&url, WAIT).await.unwrap();
    let hello = tickwire_shared::sync::Hello {
        auth_token: Some(tomorrow),
        ..common::v2::hello("x")
    };
    match GameClient::join_on(c, hello, WAIT).await {
        Err(JoinError::Refused { code, reason }) => {
            assert_eq!(code, Some(CloseCode::Unauthorized.code()));
            assert!(reason.contains("not valid yet"), "{reason}");
        }
        Err(e) => panic!("expected a close, got {e}"),
        Ok(_) => panic!("a token valid only from tomorrow was admitted"),
    }
    let mut p = common::v2::Player::join(
        &format!("{url}?token={}", jwt("Ada", Some(now() - 60))),
        "x",
    )
    .await;
    p.next_snapshot().await;
    assert_eq!(p.replica().players[&p.id()].name, "Ada");
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains(r#"tickwire_auth_failures_total{reason="not_yet_valid"} 2"#),
        "{metrics}"
    );
    server.stop().await;
}

/// Sends `request` as it is and reads one answer: its head and a `content-length` body (or
/// until the server closes, or `WAIT`).
async fn raw_request(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    read_answer(&mut s).await
}

async fn read_answer(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    return;
                }
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The status code of an HTTP answer (0 if there is none).
fn status(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Item 12: a spoofed name (a right-to-left override that makes "gnp.exe" read "exe.png",
/// zero-width characters, a line separator) and a spoofed chat line arrive cleaned at another
/// player; a name that is nothing but invisible characters gets the default name. Witnesses
/// play in the room throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_names_and_chat_arrive_cleaned() {
    use common::v2::Player;
    use tickwire_shared::schema::engine_events;
    let server = TestServer::start(Config {
        view_radius: 5000.0,
        ..watched()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let mut observer = Player::join(&server.ws_url(), "observer").await;
    let mut spoofer = Player::join(
        &server.ws_url(),
        "\u{202e}gnp.exe\u{200b}\u{200d}\u{2028}\u{2066}x\u{2069}\u{feff}",
    )
    .await;
    let blank = Player::join(&server.ws_url(), "\u{200b}\u{3164}\u{202e} \u{2029}").await;
    let (spoofer_id, blank_id) = (spoofer.id(), blank.id());
    spoofer.next_snapshot().await;
    spoofer
        .client
        .chat("click\u{2028}here \u{202e}txt.exe\u{2066}\u{200b}  now\u{e0001}")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let line = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no chat line arrived"
        );
        let s = observer.next_snapshot().await;
        if let Some(e) = s.events.iter().find(|e| e.kind == engine_events::CHAT) {
            break e.clone();
        }
    };
    assert_eq!(line.values[0].int(), i64::from(spoofer_id.0));
    assert_eq!(line.values[1].str(), "clickhere txt.exe now");
    while !observer.replica().players.contains_key(&blank_id) {
        observer.next_snapshot().await;
    }
    let players = &observer.replica().players;
    assert_eq!(players[&spoofer_id].name, "gnp.exex");
    assert_eq!(players[&blank_id].name, format!("player-{}", blank_id.0));
    watch_a_little(witnesses).await;
    server.stop().await;
}

/// A WebSocket handshake with `key` (`None`: no key header) and extra header lines.
fn handshake(method: &str, version: &str, key: Option<&str>, extra: &str) -> Vec<u8> {
    let key = key
        .map(|k| format!("Sec-WebSocket-Key: {k}\r\n"))
        .unwrap_or_default();
    format!(
        "{method} /ws {version}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         {key}{extra}\r\n"
    )
    .into_bytes()
}

/// Reads just an answer's head (for HEAD requests and 101s, which have no body to wait for).
async fn head_only(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    let _ = tokio::time::timeout(WAIT, async {
        while !buf.ends_with(b"\r\n\r\n") {
            match s.read(&mut b).await {
                Ok(0) | Err(_) => return,
                Ok(_) => buf.push(b[0]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// Item 14: RFC 6455 §4.2.1 handshakes. A `Sec-WebSocket-Key` that is not the base64 of
/// exactly 16 bytes gets 400 (missing, unpadded, bad characters, 15 or 17 bytes, two keys); a
/// HEAD is not upgraded (405, `Allow: GET`); another version gets 426 with the one we speak;
/// HTTP/1.0 gets 400; a good key is still upgraded. Witnesses play throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshakes_are_checked() {
    let server = TestServer::start(watched()).await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let v13 = "Sec-WebSocket-Version: 13\r\n";
    let two_keys = format!("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n{v13}");
    let bad: [(Option<&str>, &str); 8] = [
        (None, v13),
        (Some(""), v13),
        (Some("abc"), v13),
        (Some("dGhlIHNhbXBsZSBub25jZQ"), v13), // 16 bytes, no padding
        (Some("dGhlIHNhbXBsZSBub25jZ!=="), v13), // not the alphabet
        (Some("AAAAAAAAAAAAAAAAAAAA"), v13),   // 15 bytes
        (Some("AAAAAAAAAAAAAAAAAAAAAAA="), v13), // 17 bytes
        (Some("dGhlIHNhbXBsZSBub25jZQ=="), &two_keys),
    ];
    for (key, extra) in bad {
        let answer = raw_request(server.addr, &handshake("GET", "HTTP/1.1", key, extra)).await;
        assert_eq!(status(&answer), 400, "key {key:?}: {answer}");
        assert!(answer.contains("Sec-WebSocket-Key must be"), "{answer}");
    }
    let good = Some("dGhlIHNhbXBsZSBub25jZQ==");
    let answer = head_only(server.addr, &handshake("HEAD", "HTTP/1.1", good, v13)).await;
    assert_eq!(status(&answer), 405, "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("allow: get"),
        "{answer}"
    );
    let answer = raw_request(
        server.addr,
        &handshake("GET", "HTTP/1.1", good, "Sec-WebSocket-Version: 8\r\n"),
    )
    .await;
    assert_eq!(status(&answer), 426, "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{answer}"
    );
    let answer = raw_request(server.addr, &handshake("GET", "HTTP/1.0", good, v13)).await;
    assert_eq!(status(&answer), 400, "{answer}");
    assert!(answer.contains("HTTP/1.1"), "{answer}");
    // Plain HEAD and GET of /ws without the upgrade: 426 as before.
    let answer = head_only(server.addr, b"HEAD /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status(&answer), 426, "{answer}");
    // A good handshake still upgrades (lower-case padding-free keys are not the only form).
    for key in [
        "dGhlIHNhbXBsZSBub25jZQ==",
        "AAAAAAAAAAAAAAAAAAAAAA==",
        "+/+/+/+/+/+/+/+/+/+/+w==",
    ] {
        let answer = head_only(server.addr, &handshake("GET", "HTTP/1.1", Some(key), v13)).await;
        assert_eq!(status(&answer), 101, "{key}: {answer}");
    }
    RawWs::connect(server.addr).await;
    watch_a_little(witnesses).await;
    server.stop().await;
}

/// Item 7: a request head over `--max-request-head-bytes` (8192 by default) gets hyper's 431
/// and the connection ends; one just under it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_the_cap_gets_431() {
    let server = TestServer::start(watched()).await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let head = |filler: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
            "a".repeat(filler)
        )
        .into_bytes()
    };
    let answer = raw_request(server.addr, &head(7000)).await;
    assert_eq!(status(&answer), 200, "{answer}");
    let answer = raw_request(server.addr, &head(9000)).await;
    assert_eq!(status(&answer), 431, "{answer}");
    assert!(
        answer.contains("Request Header Fields Too Large"),
        "{answer}"
    );
    // Many small headers add up the same way.
    let many: String = (0..90)
        .map(|i| format!("X-H{i}: {}\r\n", "b".repeat(100)))
        .collect();
    let answer = raw_request(
        server.addr,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status(&answer), 431, "{answer}");
    // The cap is a flag.
    let bigger = TestServer::start(Config {
        max_request_head_bytes: 16384,
        ..Config::ephemeral()
    })
    .await;
    let answer = raw_request(bigger.addr, &head(9000)).await;
    assert_eq!(status(&answer), 200, "{answer}");
    bigger.stop().await;
    watch_a_little(witnesses).await;
    server.stop().await;
}

/// Polls `path` until it answers `want` (the server admits and counts connections as it
/// accepts them, a moment after the attacker's connect returns).
async fn until_status(addr: SocketAddr, path: &str, want: u16) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (code, body) = http_get(addr, path).await;
        if code == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} answers {code} {body:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A metric's value in a `/metrics` text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// What a player trying to join a full server meets: HTTP 503 before the upgrade.
async fn player_refused_with_503(url: &str) {
    let err = tickwire_client::Client::connect(url, WAIT)
        .await
        .err()
        .expect("a player is refused at the limit");
    assert!(err.to_string().contains("503"), "{err}");
}

/// Item 6: an attacker fills `--max-connections` with idle TCP connections. `/healthz` still
/// answers 200 promptly (a load balancer would otherwise take a healthy node out), `/metrics`
/// answers, `/readyz` says 503 (no player would get in) until the attacker leaves; players get
/// their 503 as before; the witnesses, admitted before, play on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_when_the_connection_limit_is_full() {
    let server = TestServer::start(Config {
        max_connections: 20,
        ..watched()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    until_status(server.addr, "/readyz", 200).await;
    let mut idle = Vec::new();
    for _ in 0..17 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    until_status(server.addr, "/readyz", 503).await;
    for _ in 0..20 {
        let t = std::time::Instant::now();
        let (code, body) = server.http_get("/healthz").await;
        assert_eq!((code, body.as_str()), (200, "ok\n"));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    let (code, body) = server.http_get("/readyz").await;
    assert_eq!(code, 503);
    assert!(body.contains("connection limit"), "{body}");
    let (code, metrics) = server.http_get("/metrics").await;
    assert_eq!(code, 200);
    assert!(metric(&metrics, "tickwire_refused_connections_total") >= 1.0);
    player_refused_with_503(&server.ws_url()).await;
    let (code, body) = server.http_get("/").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("connection limit"), "{body}");
    drop(idle);
    until_status(server.addr, "/readyz", 200).await;
    common::v2::Player::join(&server.ws_url(), "after").await;
    watch_a_little(witnesses).await;
    server.stop().await;
}

/// Item 6, per address: the attacker fills `--max-connections-per-ip` from the address the
/// health checker shares. `/healthz` answers 200; a player from that address gets 503; the
/// server as a whole is still ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_when_the_per_ip_limit_is_full() {
    let server = TestServer::start(Config {
        max_connections_per_ip: 6,
        ..watched()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Wait for the idle connections to be counted: a page then gets 503.
    until_status(server.addr, "/", 503).await;
    let (code, _) = server.http_get("/healthz").await;
    assert_eq!(code, 200);
    let (code, _) = server.http_get("/readyz").await;
    assert_eq!(code, 200, "the server as a whole takes players");
    player_refused_with_503(&server.ws_url()).await;
    drop(idle);
    until_status(server.addr, "/", 200).await;
    watch_a_little(witnesses).await;
    server.stop().await;
}

/// Item 7: connections that never finish their request head are capped at
/// `--max-handshakes`; each new one past the cap drops the oldest, so a player (whose
/// handshake takes one round trip) still gets in, and `/healthz` answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_handshakes_past_the_cap_drop_the_oldest() {
    let server = TestServer::start(Config {
        max_handshakes: 30,
        handshake_timeout: Duration::from_secs(60),
        ..watched()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let mut parked = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaa")
            .await
            .unwrap();
        parked.push(s);
    }
    for (i, s) in parked.iter_mut().enumerate().take(70) {
        assert!(
            closed_within(s, WAIT).await,
            "parked connection {i} is still open"
        );
    }
    // The newest stay (the server does not drop what it need not).
    for (i, s) in parked.iter_mut().enumerate().skip(75) {
        assert!(
            !closed_within(s, Duration::from_millis(100)).await,
            "parked connection {i} was closed"
        );
    }
    let (code, _) = server.http_get("/healthz").await;
    assert_eq!(code, 200);
    let mut p = common::v2::Player::join(&server.ws_url(), "newcomer").await;
    p.next_snapshot().await;
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(metric(&metrics, "tickwire_handshakes_evicted_total") >= 70.0);
    assert!(metric(&metrics, "tickwire_handshakes") <= 30.0);
    drop(parked);
    // Back to baseline: only the scrape itself is in its HTTP phase.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, metrics) = server.http_get("/metrics").await;
        if metric(&metrics, "tickwire_handshakes") <= 1.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watch_a_little(witnesses).await;
    server.stop().await;
}

/// Item 7: handshakes in progress cost bounded memory. 300 connections each push a 256 KiB
/// request head (each cost up to 383 KiB of buffer before: ~75 MB here), and 600 more park a
/// 7 KB head, under the request-head buffer: the server's (in-process) resident memory grows
/// by a few MB, not by what the attackers sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_headers_cost_bounded_memory() {
    let server = TestServer::start(Config {
        max_handshakes: 200,
        handshake_timeout: Duration::from_secs(60),
        ..watched()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let before = rss_kib() * 1024;
    let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.resize(256 * 1024, b'a');
    let big: std::sync::Arc<[u8]> = big.into();
    let mut pushers = tokio::task::JoinSet::new();
    for _ in 0..300 {
        let big = big.clone();
        let addr = server.addr;
        pushers.spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let _ = tokio::time::timeout(WAIT, s.write_all(&big)).await;
            let answer = read_answer(&mut s).await;
            // 431, or (a write the server never read) a reset before the answer arrived.
            assert!(answer.is_empty() || status(&answer) == 431, "{answer}");
            s
        });
    }
    let mut held = Vec::new();
    while let Some(s) = pushers.join_next().await {
        held.push(s.unwrap());
    }
    let mut parked = Vec::new();
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec();
    head.resize(7000, b'b');
    for _ in 0..600 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(&head).await.unwrap();
        parked.push(s);
    }
    let (code, metrics) = server.http_get("/metrics").await;
    assert_eq!(code, 200);
    let grew = (rss_kib() * 1024).saturating_sub(before);
    assert!(
        metric(&metrics, "tickwire_handshakes") <= 200.0,
        "{metrics}"
    );
    assert!(
        grew < 24 << 20,
        "resident memory grew by {} KiB with 900 hostile handshakes",
        grew >> 10
    );
    eprintln!("resident memory grew by {} KiB", grew >> 10);
    drop((held, parked));
    watch_a_little(witnesses).await;
    server.stop().await;
}

/// Item 6, the second answer: `--admin-addr`. The player listener is full and its handshakes
/// churn (an attacker opens far more idle connections than `--max-connections` and
/// `--max-handshakes` allow); on the admin listener `/healthz` and `/metrics` answer 200 at
/// once, `/readyz` says the player side is full, and nothing else is served there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_answers_however_full_the_player_listener_is() {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tickwire_server::Server::bind(
        Config {
            max_connections: 10,
            max_handshakes: 8,
            admin_addr: Some("127.0.0.1:0".parse().unwrap()),
            ..watched()
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let (addr, admin) = (server.local_addr(), server.admin_addr().expect("bound"));
    let task = tokio::spawn(server.run());
    let witnesses = Witnesses::join(&format!("ws://{addr}/ws"), 3).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    until_status(admin, "/readyz", 503).await;
    for _ in 0..20 {
        let t = std::time::Instant::now();
        assert_eq!(http_get(admin, "/healthz").await.0, 200);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    let (code, metrics) = http_get(admin, "/metrics").await;
    assert_eq!(code, 200);
    assert!(metric(&metrics, "tickwire_handshakes_evicted_total") >= 1.0);
    for path in ["/", "/ws", "/rooms"] {
        assert_eq!(http_get(admin, path).await.0, 404, "{path}");
    }
    drop(idle);
    until_status(admin, "/readyz", 200).await;
    watch_a_little(witnesses).await;
    shutdown.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}

/// `--max-admin-connections`: past it a new admin connection is closed at once (the admin
/// listener is for load balancers and monitoring, which open few); the ones held are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_has_its_own_small_cap() {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tickwire_server::Server::bind(
        Config {
            admin_addr: Some("127.0.0.1:0".parse().unwrap()),
            max_admin_connections: 2,
            ..Config::ephemeral()
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let admin = server.admin_addr().unwrap();
    let task = tokio::spawn(server.run());
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(admin).await.unwrap());
    }
    let mut third = TcpStream::connect(admin).await.unwrap();
    assert!(closed_within(&mut third, WAIT).await, "a third is closed");
    // A held one still answers.
    held[0]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(status(&read_answer(&mut held[0]).await), 200);
    drop(held);
    until_status(admin, "/healthz", 200).await;
    shutdown.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}

/// The new flags parse with their documented defaults and bounds.
#[test]
fn the_http_limits_are_flags() {
    use clap::Parser;
    let c = Config::parse_from(["tickwire"]);
    assert_eq!(c.max_request_head_bytes, 8192);
    assert_eq!(c.max_handshakes, 2048);
    assert_eq!(c.admin_addr, None);
    assert_eq!(c.max_admin_connections, 64);
    let c = Config::parse_from([
        "tickwire",
        "--max-request-head-bytes",
        "16384",
        "--max-handshakes",
        "10",
        "--admin-addr",
        "127.0.0.1:7001",
    ]);
    assert_eq!((c.max_request_head_bytes, c.max_handshakes), (16384, 10));
    assert_eq!(c.admin_addr, Some("127.0.0.1:7001".parse().unwrap()));
    // hyper refuses a read buffer under 8192 bytes; so does the flag.
    let err = Config::try_parse_from(["tickwire", "--max-request-head-bytes", "4096"]).unwrap_err();
    assert!(err.to_string().contains("8192"), "{err}");
    assert!(Config::try_parse_from(["tickwire", "--max-handshakes", "0"]).is_err());
}
