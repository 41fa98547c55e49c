//! CI smoke run: the real server in-process on a loopback port, 20 bots for a few seconds
//! through the same library code as the `bots` binary. Asserts that every bot connected,
//! nobody was disconnected, checksums were verified and none diverged.

use std::time::Duration;
use tickwire_bench::{LoadConfig, run_load};
use tickwire_server::{Config, Server};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bots_for_a_few_seconds_with_zero_divergences() {
    twenty_bots("websocket").await;
}

/// The same over WebTransport: snapshots as datagrams against acknowledged ticks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bots_over_webtransport_with_zero_divergences() {
    twenty_bots("webtransport").await;
}

/// `--transport auto` against a server that offers WebTransport takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bots_on_auto_take_webtransport_when_offered() {
    twenty_bots("auto").await;
}

/// With a mirror per bot: every bot's room messages over two WebSockets, merged once, in
/// order (checksums keep passing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bots_with_mirrors_with_zero_divergences() {
    twenty_bots("websocket-mirror").await;
}

/// A room over its tick budget (here any tick is: `--tick-budget` 0.000001) degrades to a
/// snapshot every third tick: the bots get 10 a second, every replica stays exact, and
/// `/metrics` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_room_sends_every_third_tick_and_every_replica_stays_exact() {
    let (url, shutdown, task) = start(Config {
        checksum_interval: 3,
        tick_budget: 0.000_001,
        overload_max_interval: 3,
        ..Config::ephemeral()
    })
    .await;
    let mut cfg = twenty_bots_on(&url);
    cfg.duration = Duration::from_secs(5);
    let report = run_load(&cfg, false).await.expect("run starts");
    eprintln!("{}", report.summary());
    assert_eq!(report.connections.failed, 0, "{:?}", report.connections);
    assert_eq!(report.connections.unexpected_disconnects, 0);
    assert_eq!((report.divergences, report.replica_errors), (0, 0));
    assert!(report.passed(), "{:?}", report.failures);
    let text = metrics_text(&url).await;
    assert_eq!(metric(&text, "tickwire_rooms_degraded"), 1.0);
    let between = metric(&text, "tickwire_ticks_between_snapshots_total");
    let snapshots = metric(&text, "tickwire_snapshots_sent_total");
    // Degraded a tick per second: 1 s at every tick, then every 2nd, then every 3rd.
    assert!(between > 30.0 * 2.0, "{between} ticks between snapshots");
    assert!(
        report.checksums_verified > 20 * 5,
        "checksums were checked: {}",
        report.checksums_verified
    );
    // 20 bots for about 5 s: at most a third of 30 a second each once degraded.
    assert!(snapshots < 20.0 * 30.0 * 7.0 * 0.6, "{snapshots} snapshots");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("server stops")
        .unwrap();
}

/// 20 bots joining at once, for 4 s, an application ping every 250 ms.
fn twenty_bots_on(url: &str) -> LoadConfig {
    let mut cfg = LoadConfig::for_url(url);
    cfg.bots = 20;
    cfg.ramp = 100.0;
    cfg.duration = Duration::from_secs(4);
    cfg.ping_interval = Duration::from_millis(250);
    cfg
}

/// The real server on a loopback port: its WebSocket URL, its shutdown and its task.
async fn start(config: Config) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let server = Server::bind(config, shutdown.clone()).await.expect("bind");
    let url = format!("ws://{}/ws", server.local_addr());
    (url, shutdown, tokio::spawn(server.run()))
}

async fn twenty_bots(transport: &str) {
    let (url, shutdown, task) = start(Config {
        checksum_interval: 3,
        webtransport: !transport.starts_with("websocket"),
        ..Config::ephemeral()
    })
    .await;

    let mut cfg = twenty_bots_on(&url);
    cfg.chat_interval = Some(Duration::from_secs(2));
    cfg.transport = transport.into();
    let report = run_load(&cfg, false).await.expect("run starts");
    eprintln!("{}", report.summary());

    assert_eq!(report.connections.attempted, 20);
    assert_eq!(report.connections.failed, 0, "{:?}", report.connections);
    assert_eq!(report.connections.unexpected_disconnects, 0);
    assert_eq!(report.divergences, 0);
    assert_eq!(report.replica_errors, 0);
    assert!(
        report.checksums_verified > 20 * 10,
        "checksums were checked: {}",
        report.checksums_verified
    );
    assert!(report.rtt_ms.samples >= 20 * 8, "{:?}", report.rtt_ms);
    assert!(report.traffic.bytes_out_per_client_s > 0.0);
    let server_figures = report.server.as_ref().expect("metrics were scraped");
    assert_eq!(server_figures.hold_start.players, 20);
    assert!(server_figures.hold.ticks > 0);
    assert!(report.passed(), "{:?}", report.failures);
    if transport == "websocket-mirror" {
        let attached = metric(&metrics_text(&url).await, "tickwire_mirrors_attached_total");
        assert_eq!(attached, 20.0, "a mirror per bot");
    } else if transport != "websocket" {
        let datagrams = metric(&metrics_text(&url).await, "tickwire_datagrams_sent_total");
        // 20 bots, 4 s held, 30 snapshots a second: most of them went as datagrams.
        assert!(datagrams > 20.0 * 4.0 * 30.0 * 0.8, "{datagrams} datagrams");
    }

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("server stops")
        .unwrap();
}

/// The value of the unlabelled metric `name` in a `/metrics` text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// The server's `/metrics` text, over a plain HTTP/1.1 request.
async fn metrics_text(ws_url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = ws_url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_string();
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    body
}

/// `--local-addrs`: bots connect from each address in turn, and the server counts them apart.
/// Six bots over a per-address limit of four fit from two addresses (three each); from one
/// they would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_from_two_source_addresses_count_as_two_clients() {
    let (url, shutdown, task) = start(Config {
        max_connections_per_ip: 4,
        ..Config::ephemeral()
    })
    .await;
    let mut cfg = LoadConfig::for_url(&url);
    cfg.bots = 6;
    cfg.duration = Duration::from_secs(1);
    cfg.local_addrs = vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()];
    let report = run_load(&cfg, false).await.expect("run starts");
    assert_eq!(report.connections.ok, 6, "{:?}", report.connections);
    assert!(
        report.bots_memory.is_some(),
        "the bots measure their own memory"
    );
    // The same six from one address: two are refused.
    cfg.local_addrs = vec!["127.0.0.4".parse().unwrap()];
    let report = run_load(&cfg, false).await.expect("run starts");
    assert_eq!(report.connections.ok, 4, "{:?}", report.connections);
    assert_eq!(report.connections.failed, 2);
    shutdown.cancel();
    let _ = task.await;
}

/// `--tls-ca`: bots play over `wss://` against a server whose certificate only that file
/// vouches for; without it the public roots refuse it and no bot connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_over_wss_trust_the_given_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("tickwire-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let (url, shutdown, task) = start(Config {
        tls_cert: Some(cert_path.clone()),
        tls_key: Some(key_path),
        checksum_interval: 3,
        ..Config::ephemeral()
    })
    .await;
    let url = url.replace("ws://127.0.0.1", "wss://localhost");
    let mut cfg = LoadConfig::for_url(&url);
    cfg.bots = 4;
    cfg.duration = Duration::from_secs(1);
    cfg.tls_ca = Some(cert_path);
    let report = run_load(&cfg, false).await.expect("run starts");
    assert_eq!(report.connections.ok, 4, "{:?}", report.connections);
    assert_eq!(report.divergences, 0);
    assert!(report.checksums_verified > 0);
    cfg.tls_ca = None;
    let report = run_load(&cfg, false).await.expect("run starts");
    assert_eq!(report.connections.failed, 4, "{:?}", report.connections);
    shutdown.cancel();
    let _ = task.await;
    let _ = std::fs::remove_dir_all(&dir);
}
