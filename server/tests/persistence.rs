//! Results and leaderboards through the real server, on both real backends: an SQLite file in a
//! temp dir, and a PostgreSQL server the test starts (its own data dir, a loopback port).
//! Players join with guest ids over real sockets, the arena's rounds end, the results reach
//! `GET /leaderboard/…` (all-time and the season, `around=me`); bad requests get 400 with a
//! sentence; a database of a newer schema or one that is not there stops the server at start.

mod common;

use common::v2::Player;
use common::{TestServer, WAIT};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tickwire_server::Config;
use tickwire_server::persist::identity;
use tickwire_storage::testing::{PgServer, TempDir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ANN: &str = "ann-guest-0123456789abcdef";
const BOB: &str = "bob-guest-0123456789abcdef";

/// GET with extra headers; (status, body).
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1.to_string());
    (status, body.unwrap_or_default())
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0)
}

fn config(db: String, outbox: &TempDir) -> Config {
    Config {
        db,
        outbox: outbox.path().join("outbox.db"),
        round_time: Duration::from_secs(1),
        tick_rate: 20,
        season: "s1".into(),
        ..Config::ephemeral()
    }
}

async fn plays_rounds_onto_the_board(backend: &str, config: Config) {
    let server = TestServer::start(config).await;
    let url = |g: &str| format!("{}?guest={g}", server.ws_url());
    let mut ann = Player::join(&url(ANN), "ann").await;
    let mut bob = Player::join(&url(BOB), "bob").await;
    let mut anon = Player::join(&server.ws_url(), "anon").await;
    // Rounds of one second: wait for the first results to be written.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for p in [&mut ann, &mut bob, &mut anon] {
            let _ = p.client.recv_timeout(Duration::from_millis(20)).await;
        }
        let (_, m) = server.http_get("/metrics").await;
        if metric(&m, "tickwire_db_results_written_total") >= 1.0 {
            assert_eq!(metric(&m, "tickwire_db_up"), 1.0, "{backend}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{backend}: no result written: {m}"
        );
    }
    let (status, body) = server.http_get("/leaderboard/arena/matches").await;
    assert_eq!(status, 200, "{backend}: {body}");
    let board: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        board["total"], 2,
        "{backend}: the guest without an id is not ranked: {body}"
    );
    let mut names: Vec<&str> = board["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ann", "bob"], "{backend}");
    assert!(board["rows"][0]["value"].as_i64().unwrap() >= 1);
    assert_eq!(board["rows"][0]["rank"], 1);
    // The season the server runs with, and a season nobody played.
    let (_, s1) = server
        .http_get("/leaderboard/arena/matches?season=s1")
        .await;
    let s1: serde_json::Value = serde_json::from_str(&s1).unwrap();
    assert_eq!(
        (s1["season"].as_str(), s1["total"].as_i64()),
        (Some("s1"), Some(2))
    );
    let (_, s0) = server.http_get("/leaderboard/arena/kills?season=s0").await;
    assert!(s0.contains(r#""total":0"#), "{backend}: {s0}");
    // around=me: the guest the header names, and its id for the page to find its row.
    let (status, me) = get(
        server.addr,
        "/leaderboard/arena/wins?around=me&limit=1",
        &[("X-Tickwire-Guest", BOB)],
    )
    .await;
    assert_eq!(status, 200, "{me}");
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    let bob_id = identity(None, Some(BOB)).unwrap();
    assert_eq!(me["you"], bob_id.as_str());
    assert_eq!(me["rows"][0]["player"], bob_id.as_str(), "{backend}: {me}");
    assert!(
        !me.to_string().contains(BOB),
        "the guest id itself never shows"
    );
    drop((ann, bob, anon));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_reach_the_leaderboard_with_sqlite() {
    let dir = TempDir::new("persist-sqlite");
    let db = dir.path().join("t.db").display().to_string();
    plays_rounds_onto_the_board("sqlite", config(db.clone(), &dir)).await;
    // The file is there, with the players in it.
    let s = tickwire_storage::Storage::open(&tickwire_storage::Options::new(db))
        .await
        .unwrap();
    let ann = identity(None, Some(ANN)).unwrap();
    assert_eq!(s.player(&ann).await.unwrap().unwrap().0, "ann");
    assert!(!s.matches("arena").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_reach_the_leaderboard_with_postgres() {
    let pg = PgServer::start();
    let url = pg.create_db("persist");
    let dir = TempDir::new("persist-pg");
    plays_rounds_onto_the_board("postgres", config(url, &dir)).await;
    let rows = pg.psql("persist", "SELECT COUNT(*) FROM players");
    assert_eq!(rows, "2", "ann and bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_leaderboard_requests_and_guest_ids_get_a_clear_refusal() {
    let server = TestServer::start(Config {
        leaderboard_max_limit: 50,
        ..Config::ephemeral()
    })
    .await;
    for (path, status, words) in [
        (
            "/leaderboard/arena/kills?limit=0",
            400,
            "limit must be a number from 1 to 50",
        ),
        ("/leaderboard/arena/kills?limit=51", 400, "from 1 to 50"),
        ("/leaderboard/arena/kills?limit=x", 400, "limit must be"),
        ("/leaderboard/arena", 404, "/leaderboard/GAME/STAT"),
        (
            "/leaderboard/arena/kills/extra",
            404,
            "/leaderboard/GAME/STAT",
        ),
        ("/leaderboard/arena/k%20ills", 404, "/leaderboard/GAME/STAT"),
        ("/leaderboard/arena/kills?limit=50", 200, r#""rows":[]"#),
    ] {
        let (got, body) = server.http_get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(words), "{path}: {body}");
    }
    let long = "x".repeat(65);
    let (got, body) = server
        .http_get(&format!("/leaderboard/arena/kills?season={long}"))
        .await;
    assert_eq!((got, body.contains("at most 64")), (400, true), "{body}");
    // A guest id that is not one: the WebSocket handshake is refused with a reason.
    for bad in ["short", &"y".repeat(65), "has%20space-0123456789"] {
        let url = format!("{}?guest={bad}", server.ws_url());
        let err = tickwire_client::GameClient::join(&url, "x", None, WAIT)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("400"), "{bad}: {err}");
    }
    server.stop().await;
    // With --db off there are no leaderboards.
    let off = TestServer::start(Config {
        db: "off".into(),
        ..Config::ephemeral()
    })
    .await;
    let (got, body) = off.http_get("/leaderboard/arena/kills").await;
    assert_eq!((got, body.contains("--db off")), (404, true), "{body}");
    off.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_schema_or_none_at_all_stops_the_server_at_start() {
    let dir = TempDir::new("persist-newer");
    let file = dir.path().join("t.db");
    let db = file.display().to_string();
    let s = tickwire_storage::Storage::open(&tickwire_storage::Options::new(db.clone()))
        .await
        .unwrap();
    s.close().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{db}"))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (7, 'later', true, X'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let err = tickwire_server::Server::bind(
        Config {
            db,
            ..Config::ephemeral()
        },
        Default::default(),
    )
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(
        err.contains("schema version 7, newer than this build's 1"),
        "{err}"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = Config {
        db: format!("postgres://tw:secret@127.0.0.1:{port}/nothing"),
        outbox: dir.path().join("outbox.db"),
        ..Config::ephemeral()
    };
    let err = tickwire_server::Server::bind(config, Default::default())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.starts_with("cannot open the database postgres://tw:***@"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_show_the_same_leaderboard() {
    let pg = PgServer::start();
    let url = pg.create_db("cluster");
    let (da, db) = (TempDir::new("node-a"), TempDir::new("node-b"));
    let a = TestServer::start(Config {
        node: Some("node-a".into()),
        ..config(url.clone(), &da)
    })
    .await;
    let b = TestServer::start(Config {
        node: Some("node-b".into()),
        ..config(url, &db)
    })
    .await;
    // ann plays on node A, bob on node B.
    let mut ann = Player::join(&format!("{}?guest={ANN}", a.ws_url()), "ann").await;
    let mut bob = Player::join(&format!("{}?guest={BOB}", b.ws_url()), "bob").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (board_a, board_b) = loop {
        for p in [&mut ann, &mut bob] {
            let _ = p.client.recv_timeout(Duration::from_millis(20)).await;
        }
        let (_, ba) = a.http_get("/leaderboard/arena/matches?limit=5").await;
        let (_, bb) = b.http_get("/leaderboard/arena/matches?limit=5").await;
        let names = |s: &str| {
            let v: serde_json::Value = serde_json::from_str(s).unwrap();
            let mut n: Vec<String> = v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string())
                .collect();
            n.sort();
            n
        };
        if names(&ba) == ["ann", "bob"] && names(&bb) == ["ann", "bob"] {
            break (names(&ba), names(&bb));
        }
        assert!(Instant::now() < deadline, "node A: {ba}\nnode B: {bb}");
    };
    assert_eq!(board_a, board_b, "the same board from every node");
    let nodes = pg.psql(
        "cluster",
        "SELECT string_agg(DISTINCT node, ',' ORDER BY node) FROM matches",
    );
    assert_eq!(nodes, "node-a,node-b");
    drop((ann, bob));
    a.stop().await;
    b.stop().await;
}
