//! The hostile-input suite: attacks run against the real server while well-behaved players
//! play in the same room (protocol version 2, the arena on the engine; the attackers that say
//! `Hello` say a version-2 one and join that room). Every attacker gets its close code (or is
//! cut off by a timeout); no task panics; the players receive every snapshot, in order, and
//! their replicas match the server's checksums throughout.

mod common;

use common::v2::{Player, encode, hello_bytes};
use common::{RawWs, TestServer, WAIT, closed_within};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tickwire_server::Config;
use tickwire_shared::close::CloseCode;
use tickwire_shared::sync::{ClientMsg, Ping};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// A tiny deterministic generator for attack payloads.
struct Lcg(u64);

impl Lcg {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (self.0 >> 33) as u8
            })
            .collect()
    }
}

async fn joined_raw(addr: std::net::SocketAddr, name: &str) -> RawWs {
    let mut ws = RawWs::connect(addr).await;
    ws.frame(2, true, &hello_bytes(name)).await;
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_do_not_hurt_well_behaved_players() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    rlimit::increase_nofile_limit(10_000).expect("raise the open-file limit");

    let server = TestServer::start(Config {
        checksum_interval: 1,
        // A few seconds of snapshot buffering per player: the machine running this test is busy
        // opening thousands of sockets (and may be shared), and what is checked is that the
        // attacks cost the players nothing, not how the host schedules their tasks.
        outbox_capacity: 128,
        max_connections_per_ip: 5000,
        hello_timeout: Duration::from_secs(1),
        handshake_timeout: Duration::from_secs(1),
        max_messages_per_sec: 200.0,
        message_burst: 200.0,
        ..Config::ephemeral()
    })
    .await;
    let addr = server.addr;
    let url = server.ws_url();

    // Three well-behaved players, each in its own task, moving every tick and checking every
    // snapshot (Replica::apply verifies the per-tick checksum).
    // A token, not a `Notify`: `notify_waiters` only wakes tasks parked at that instant, so a
    // player busy sending its input would miss it and play forever.
    let stop = tokio_util::sync::CancellationToken::new();
    let mut players = Vec::new();
    for i in 0..3 {
        let mut p = Player::join(&url, &format!("good{i}")).await;
        let stop = stop.clone();
        players.push(tokio::spawn(async move {
            let first = p.next_snapshot().await.tick;
            let mut last = first;
            let mut n = 0u32;
            loop {
                n += 1;
                let lanes = p.arena.input(
                    if (n / 40).is_multiple_of(2) {
                        100
                    } else {
                        -100
                    },
                    40,
                    (n * 500) as u16,
                    0,
                );
                p.send_input(lanes).await;
                let s = tokio::select! {
                    s = p.next_snapshot() => s,
                    _ = stop.cancelled() => break,
                };
                assert_eq!(s.tick.0, last.0 + 1, "player {i} missed a snapshot");
                assert!(
                    s.checked,
                    "player {i}: a checksum every tick, and it matched"
                );
                last = s.tick;
            }
            assert!(p.body_of(p.id()).is_some(), "player {i} still has its body");
            (last.0 - first.0, p.replica().ack_input_seq)
        }));
    }

    let mut rng = Lcg(42);
    let mut results: Vec<(&str, Option<(u16, String)>)> = Vec::new();

    // Random bytes as a binary message after Hello.
    let mut ws = joined_raw(addr, "noise").await;
    ws.frame(2, true, &rng.bytes(300)).await;
    results.push((
        "random message",
        tokio::time::timeout(WAIT, ws.read_close()).await.unwrap(),
    ));

    // A text frame.
    let mut ws = joined_raw(addr, "text").await;
    ws.frame(1, true, b"hello?").await;
    results.push((
        "text frame",
        tokio::time::timeout(WAIT, ws.read_close()).await.unwrap(),
    ));

    // A frame header declaring 2^40 bytes.
    let mut ws = joined_raw(addr, "huge").await;
    let mut f = vec![0x82, 0x80 | 127];
    f.extend_from_slice(&(1u64 << 40).to_be_bytes());
    f.extend_from_slice(&[0; 4]);
    ws.stream.write_all(&f).await.unwrap();
    results.push((
        "huge length",
        tokio::time::timeout(WAIT, ws.read_close()).await.unwrap(),
    ));

    // A truncated frame: the header promises 100 bytes, 10 arrive, then nothing.
    let mut ws = RawWs::connect(addr).await;
    let mut f = vec![0x82, 0x80 | 100, 0, 0, 0, 0];
    f.extend_from_slice(&[1; 10]);
    ws.stream.write_all(&f).await.unwrap();
    results.push((
        "truncated frame",
        tokio::time::timeout(WAIT, ws.read_close()).await.unwrap(),
    ));

    // Thousands of messages per second.
    let mut ws = joined_raw(addr, "flood").await;
    let ping = encode(&ClientMsg::Ping(Ping { client_time: 1 }));
    let mut burst = Vec::new();
    for _ in 0..3000 {
        burst.extend_from_slice(&[0x82, 0x80 | ping.len() as u8, 0, 0, 0, 0]);
        burst.extend_from_slice(&ping);
    }
    let _ = ws.stream.write_all(&burst).await;
    results.push((
        "flood",
        tokio::time::timeout(WAIT, ws.read_close()).await.unwrap(),
    ));

    let expected = [
        ("random message", CloseCode::InvalidPayload.code()),
        ("text frame", CloseCode::UnsupportedData.code()),
        ("huge length", CloseCode::MessageTooBig.code()),
        ("truncated frame", CloseCode::Timeout.code()),
        ("flood", CloseCode::PolicyViolation.code()),
    ];
    for ((name, got), (want_name, want)) in results.iter().zip(expected) {
        assert_eq!(*name, want_name);
        let (code, reason) = got
            .clone()
            .unwrap_or_else(|| panic!("{name}: no close frame"));
        assert_eq!(code, want, "{name}: {reason}");
        assert!(!reason.is_empty(), "{name}: a reason is given");
    }

    // Random bytes instead of HTTP, and a request head that never finishes (slowloris): both
    // are cut off by the handshake timeout or answered with 400.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(&rng.bytes(200)).await.unwrap();
    assert!(
        closed_within(&mut garbage, Duration::from_secs(5)).await,
        "garbage connection closed"
    );
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: webso")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "slowloris connection closed"
    );

    // 2,000 connections opened and abandoned: bare TCP, WebSockets that never say Hello, and
    // players that join the same room and vanish.
    let mut abandoned = Vec::new();
    for i in 0..2000 {
        match i % 20 {
            0 => abandoned.push(joined_raw(addr, &format!("ghost{i}")).await.stream),
            1..10 => abandoned.push(RawWs::connect(addr).await.stream),
            _ => abandoned.push(TcpStream::connect(addr).await.unwrap()),
        }
    }
    drop(abandoned);
    assert_eq!(server.http_get("/healthz").await, (200, "ok\n".into()));
    // Those that said Hello joined the players' room: one room, of version 2.
    let (_, rooms) = server.http_get("/rooms").await;
    let rooms: Vec<tickwire_server::net::RoomInfo> = serde_json::from_str(&rooms).unwrap();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0].game, "arena");

    stop.cancel();
    for p in players {
        let (ticks, acked) = p.await.expect("player task ran to the end without a panic");
        assert!(
            ticks > 30,
            "players kept playing during the attacks: {ticks} ticks"
        );
        assert!(acked.0 > 30, "and their inputs were applied: {acked:?}");
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "no task panicked");
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains("tickwire_closes_total{code=\"1009\",initiator=\"server\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}
