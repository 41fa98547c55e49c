//! Bots through matchmaking: the real server in-process on a loopback port, 12 bots that each
//! `POST /match` for a seat and connect to the ticket's node and room (`--match-url`), for a
//! couple of seconds through the same library code as the `bots` binary. Every bot is seated,
//! the summary reports matches per second and the time to seat, and a match URL nobody
//! answers fails the bots with the reason.

use std::time::Duration;
use tickwire_bench::{LoadConfig, run_load};
use tickwire_server::{Config, Server};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_get_their_seats_through_post_match() {
    let shutdown = CancellationToken::new();
    let server = Server::bind(
        Config {
            checksum_interval: 5,
            ..Config::ephemeral()
        },
        shutdown.clone(),
    )
    .await
    .expect("bind");
    let addr = server.local_addr();
    let task = tokio::spawn(server.run());

    // --url points nowhere useful: the tickets say where to go.
    let mut cfg = LoadConfig::for_url("ws://127.0.0.1:9/ws");
    cfg.match_url = Some(format!("http://{addr}/match"));
    cfg.metrics_url = Some("off".into());
    cfg.bots = 12;
    cfg.ramp = 60.0;
    cfg.duration = Duration::from_secs(2);
    cfg.ping_interval = Duration::from_millis(250);
    let report = run_load(&cfg, false).await.expect("run starts");
    let summary = report.summary();
    eprintln!("{summary}");
    assert_eq!(report.connections.failed, 0, "{:?}", report.connections);
    assert_eq!(report.connections.unexpected_disconnects, 0);
    let m = report.matchmaking.as_ref().expect("matchmaking figures");
    assert_eq!(m.matches, 12);
    assert_eq!(m.match_failures, 0);
    assert_eq!(m.time_to_seat_ms.samples, 12);
    assert!(m.time_to_seat_ms.p50 > 0.0 && m.time_to_seat_ms.p99 >= m.time_to_seat_ms.p50);
    assert!(m.matches_per_s > 0.0);
    assert!(report.snapshots > 0 && report.divergences == 0);
    assert!(summary.contains("matchmaking      12 matches"), "{summary}");
    assert!(report.passed(), "{:?}", report.failures);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["matchmaking"]["matches"], 12);

    // Without --match-url the report has no matchmaking part.
    let mut plain = LoadConfig::for_url(&format!("ws://{addr}/ws"));
    plain.metrics_url = Some("off".into());
    plain.bots = 2;
    plain.duration = Duration::from_millis(300);
    let r = run_load(&plain, false).await.expect("run starts");
    assert!(r.matchmaking.is_none() && r.passed(), "{:?}", r.failures);
    assert!(!r.summary().contains("matchmaking"));

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("server stops")
        .unwrap();

    // Nobody answers there now: each bot fails with the matchmaking error as its reason.
    let mut gone = cfg.clone();
    gone.bots = 2;
    gone.duration = Duration::from_millis(100);
    gone.connect_timeout = Duration::from_secs(2);
    let r = run_load(&gone, false).await.expect("run starts");
    assert_eq!(r.connections.failed, 2);
    assert_eq!(r.matchmaking.as_ref().unwrap().match_failures, 2);
    assert!(
        r.connections
            .failure_reasons
            .keys()
            .all(|k| k.starts_with("match: cannot connect")),
        "{:?}",
        r.connections.failure_reasons
    );
}
