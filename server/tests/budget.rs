//! The per-client byte budget over real sockets (`--client-budget`): sixteen arena players
//! turning every tick want more than the budget allows; each client is then sent no more than
//! its budget on average, every checksum (one a tick) still matches, and `/metrics` counts the
//! updates that waited. The same room without a budget sends well over it.

mod common;

use common::v2::Player;
use common::{TestServer, WAIT};
use std::time::{Duration, Instant};
use tickwire_server::Config;

const PLAYERS: usize = 16;
const BUDGET: u32 = 400;

/// Runs the room for `secs` after a warm-up; returns what player 0 was sent a second, and the
/// server's `updates_held_total`.
async fn run(budget: u32, secs: f64) -> (f64, f64) {
    let server = TestServer::start(Config {
        checksum_interval: 1,
        client_budget: budget,
        ..Config::ephemeral()
    })
    .await;
    let url = format!("{}?room=crowd", server.ws_url());
    let mut players = Vec::new();
    for i in 0..PLAYERS {
        players.push(Player::join(&url, &format!("p{i}")).await);
    }
    let start = Instant::now();
    let warm = Duration::from_secs(2);
    let until = warm + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for (i, mut p) in players.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut bytes = 0usize;
            let mut k = i as u32 * 7;
            while start.elapsed() < until {
                let s = p.next_snapshot().await;
                if start.elapsed() > warm {
                    bytes += s.bytes;
                }
                // A new direction every tick: a residual every tick for everyone else.
                k += 1;
                let (mx, my) = [(127, 0), (90, 90), (0, 127), (-90, 90)][(k % 4) as usize];
                let lanes = p.arena.input(mx, my, (k * 1000 % 65536) as u16, 0);
                p.send_input(lanes).await;
            }
            bytes
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.push(tokio::time::timeout(WAIT * 4, t).await.unwrap().unwrap());
    }
    let (_, metrics) = server.http_get("/metrics").await;
    let held = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("tickwire_updates_held_total")?
                .trim()
                .parse()
                .ok()
        })
        .expect("updates_held_total in /metrics");
    server.stop().await;
    (sent[0] as f64 / secs, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_budget_is_sent_no_more_than_it_and_stays_exact() {
    let (free, none_held) = run(0, 4.0).await;
    let (limited, held) = run(BUDGET, 4.0).await;
    eprintln!(
        "without a budget {free:.0} B/s; with {BUDGET} B/s: {limited:.0} B/s, {held} updates held"
    );
    assert_eq!(none_held, 0.0, "no budget, nothing held");
    assert!(
        free > f64::from(BUDGET) * 1.3,
        "the room wants more than the budget: {free:.0} B/s"
    );
    // The bucket's burst (8 ticks' share) aside, within the budget; every checksum matched
    // (`next_snapshot` fails the test otherwise).
    assert!(limited <= f64::from(BUDGET) * 1.1, "{limited:.0} B/s");
    assert!(held > 0.0);
}
