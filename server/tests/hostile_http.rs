//! Hostile internet, the HTTP side (issue 20): attacks on the listener, the HTTP layer,
//! `/metrics`, health checks, auth and display names, each against the real server over real
//! sockets, with well-behaved players ([`Witnesses`]) in the same room where the attack runs
//! while people play.

mod common;

use common::{RawWs, TestServer, WAIT, Witnesses};
use tickwire_server::Config;

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
