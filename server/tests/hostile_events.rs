//! A client that stops reading while others chat: when it reads again, no snapshot it gets is
//! larger than the events bound (`--max-event-bytes`) allows, it is told how many events it
//! missed, its replica stays exact, and the players around it keep seeing every tick.

mod common;

use common::v2::{Player, hello_bytes};
use common::{RawWs, TestServer, WAIT, Witnesses};
use std::time::Duration;
use tickwire_server::Config;
use tickwire_shared::sync::{Replica, ServerMsg};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_behind_while_others_chat_gets_bounded_snapshots_and_an_exact_state() {
    let max_event_bytes = 16 * 1024;
    let server = TestServer::start(Config {
        checksum_interval: 1,
        outbox_capacity: 128,
        max_skipped_ticks: 900,
        chat_burst: 1_000_000,
        chat_interval: Duration::from_millis(1),
        max_event_bytes,
        max_messages_per_sec: 1000.0,
        message_burst: 1000.0,
        // Its writes block while it does not read: not for long enough to be closed for it.
        write_timeout: Duration::from_secs(60),
        ..Config::ephemeral()
    })
    .await;
    let url = server.ws_url();
    let witnesses = Witnesses::join(&url, 3).await;

    // The one that will fall behind: joined, with the Welcome and a first snapshot read.
    let mut slow = RawWs::connect_small_window(server.addr).await;
    slow.frame(2, true, &hello_bytes("slow")).await;
    let welcome = slow.read_binary().await.expect("a welcome");
    let ServerMsg::Welcome(w) = tickwire_shared::sync::decode_server(&welcome, None, &[]).unwrap()
    else {
        panic!("not a welcome")
    };
    let mut replica = Replica::new(&w);

    // Four chatters, six lines of 200 characters a tick each, reading their own snapshots.
    let stop = tokio_util::sync::CancellationToken::new();
    let mut chatters = Vec::new();
    for i in 0..4 {
        let mut p = Player::join(&url, &format!("chat{i}")).await;
        let stop = stop.clone();
        chatters.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.is_cancelled() {
                for _ in 0..6 {
                    n += 1;
                    let line = format!("{i}:{n:06} {}", "é".repeat(95));
                    p.client
                        .chat(&line)
                        .await
                        .expect("the chatter is connected");
                }
                p.next_snapshot().await;
            }
            n
        }));
    }

    // Eight seconds without reading: four of them fill the outbox (128 snapshots) and the
    // socket's buffers, the rest are skipped ticks whose events wait in the room.
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.cancel();
    let mut said = 0;
    for c in chatters {
        said += c.await.unwrap();
    }
    assert!(said > 4 * 6 * 30 * 6, "{said} lines: the chatters chatted");

    // Read everything it was sent, in order, until it is caught up.
    let mut largest = 0;
    let mut notices = 0;
    let mut snapshots = 0;
    let caught_up = tokio::time::timeout(WAIT, async {
        loop {
            let (op, bytes) = slow
                .read_frame()
                .await
                .expect("the server keeps the client");
            if op == 0x8 {
                panic!(
                    "closed: {} {}",
                    u16::from_be_bytes([bytes[0], bytes[1]]),
                    String::from_utf8_lossy(&bytes[2..])
                );
            }
            if op != 0x2 {
                continue;
            }
            largest = largest.max(bytes.len());
            let ServerMsg::Snapshot(s) = replica.decode(&bytes).expect("decodes") else {
                continue;
            };
            replica
                .apply(&s)
                .expect("applies, and the checksum matches");
            snapshots += 1;
            notices += s
                .events
                .iter()
                .filter(|e| {
                    e.values.first().is_some_and(|v| {
                        matches!(v, tickwire_shared::sync::Value::Str(t)
                            if t.ends_with("events were dropped while your connection was behind"))
                    })
                })
                .count();
            if notices > 0 && s.events.is_empty() {
                // Past the catch-up snapshot, and the chatters have stopped.
                break;
            }
        }
    })
    .await;
    assert!(caught_up.is_ok(), "caught up after {snapshots} snapshots");
    assert!(
        notices >= 1,
        "told that events were dropped ({snapshots} snapshots read)"
    );
    assert!(
        largest <= max_event_bytes as usize + 4096,
        "largest snapshot {largest} bytes: events bounded by {max_event_bytes}"
    );
    let (_, metrics) = server.http_get("/metrics").await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics"))
    };
    assert!(value("tickwire_events_dropped_total") > 0.0);
    assert_eq!(value("tickwire_net_id_errors_total"), 0.0);
    witnesses.finish().await;
    server.stop().await;
}
