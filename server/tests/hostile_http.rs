//! Hostile internet, the HTTP side (issue 20): attacks on the listener, the HTTP layer,
//! `/metrics`, health checks, auth and display names, each against the real server over real
//! sockets, with well-behaved players ([`Witnesses`]) in the same room where the attack runs
//! while people play.

mod common;

use common::{RawWs, TestServer, WAIT, Witnesses};
use std::net::SocketAddr;
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
    witnesses.finish().await;
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
        .args(["--addr", "127.0.0.1:0", "--jwt-secret", SECRET])
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
