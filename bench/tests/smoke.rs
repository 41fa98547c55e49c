//! CI smoke run: the real server in-process on a loopback port, 20 bots for a few seconds
//! through the same library code as the `bots` binary. Asserts that every bot connected,
//! nobody was disconnected, checksums were verified and none diverged.

use std::time::Duration;
use tickwire_bench::{LoadConfig, run_load};
use tickwire_server::{Config, Server};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bots_for_a_few_seconds_with_zero_divergences() {
    let shutdown = CancellationToken::new();
    let server = Server::bind(
        Config {
            checksum_interval: 3,
            ..Config::ephemeral()
        },
        shutdown.clone(),
    )
    .await
    .expect("bind");
    let url = format!("ws://{}/ws", server.local_addr());
    let task = tokio::spawn(server.run());

    let mut cfg = LoadConfig::for_url(&url);
    cfg.bots = 20;
    cfg.ramp = 100.0;
    cfg.duration = Duration::from_secs(4);
    cfg.chat_interval = Some(Duration::from_secs(2));
    cfg.ping_interval = Duration::from_millis(250);
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

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("server stops")
        .unwrap();
}
