//! Attacks on the WebSocket frame layer (issue 20, items 1, 2, 3, 13 and the close reasons of
//! 14), each against the real server over loopback sockets while three well-behaved
//! [`Witnesses`] play in the same room and must see every tick: unmasked client frames,
//! ping floods, clients that never read (the write deadline, and the kick, the idle close and
//! shutdown acted on while a write is stuck), the Hello deadline kept with pings and empty
//! fragments, invalid close frames, and close reasons written for people.

mod common;

use common::v2::{encode, hello_bytes};
use common::{RawWs, TestServer, WAIT, Witnesses, rss_kib};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tickwire_server::Config;
use tickwire_shared::close::CloseCode;
use tickwire_shared::sync::{ClientMsg, InputCmd};
use tickwire_shared::{InputSeq, Tick};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One test at a time: some count the process's file descriptors and memory, and all of
/// them load a small machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PING: u8 = 0x9;
const PONG: u8 = 0xA;
const CLOSE: u8 = 0x8;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const FIN: u8 = 0x80;

/// A server the witnesses can check every tick of.
fn config() -> Config {
    Config {
        checksum_interval: 1,
        outbox_capacity: 128,
        max_connections_per_ip: 1000,
        // Socket send buffers of 32 KiB (the kernel doubles this), not loopback's 4 MiB: a
        // client that stops reading blocks the server's writes in seconds, not minutes.
        send_buffer_bytes: 16 * 1024,
        ..Config::ephemeral()
    }
}

/// A client frame: `first` is the first header byte (FIN, RSV bits, opcode); masked with a
/// key that changes the bytes (so the server has to unmask), or not masked at all.
fn frame(first: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    let bit = if masked { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        f.push(bit | len as u8);
    } else if len < 65536 {
        f.push(bit | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(bit | 127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if masked {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// One server frame: (opcode, payload); `None` at EOF or a reset.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    r.read_exact(&mut h).await.ok()?;
    assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
    let mut len = u64::from(h[1] & 0x7f);
    if len == 126 {
        let mut b = [0u8; 2];
        r.read_exact(&mut b).await.ok()?;
        len = u64::from(u16::from_be_bytes(b));
    } else if len == 127 {
        let mut b = [0u8; 8];
        r.read_exact(&mut b).await.ok()?;
        len = u64::from_be_bytes(b);
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await.ok()?;
    Some((h[0] & 0x0f, payload))
}

/// What a connection received up to its close.
#[derive(Debug, Default)]
struct Received {
    pongs: Vec<Vec<u8>>,
    close: Option<(u16, String)>,
}

/// Reads until the server's close frame (or EOF), within [`WAIT`].
async fn read_to_close<R: AsyncRead + Unpin>(r: &mut R) -> Received {
    let mut got = Received::default();
    let read = async {
        while let Some((op, payload)) = read_frame(r).await {
            match op {
                PONG => got.pongs.push(payload),
                CLOSE => {
                    assert!(payload.len() >= 2, "the server always sends a code");
                    let code = u16::from_be_bytes([payload[0], payload[1]]);
                    let reason = String::from_utf8(payload[2..].to_vec()).expect("UTF-8 reason");
                    got.close = Some((code, reason));
                    return;
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("the server closed in time");
    got
}

/// An upgraded WebSocket whose receive buffer is small, so a client that does not read fills
/// the path from the server quickly.
async fn small_window(addr: SocketAddr) -> TcpStream {
    RawWs::connect_small_window(addr).await.stream
}

/// A metric's value from `/metrics` (`name` with its labels as printed), 0 when absent.
async fn metric(server: &TestServer, name: &str) -> f64 {
    let (_, text) = server.http_get("/metrics").await;
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

fn closes(code: u16) -> String {
    format!("tickwire_closes_total{{code=\"{code}\",initiator=\"server\"}}")
}

/// Waits until the server holds exactly `n` WebSocket connections.
async fn connections_become(server: &TestServer, n: f64, within: Duration) {
    let start = Instant::now();
    loop {
        let now = metric(server, "tickwire_connections").await;
        if now == n {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{now} connections after {within:?}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Writes `n` pings of 125 bytes, 10 every 10 ms (1,000 a second), reading nothing; returns
/// how long until a write failed (the server dropped the connection), `None` if all went
/// through.
async fn ping_without_reading<W: AsyncWriteExt + Unpin>(w: &mut W, n: usize) -> Option<Duration> {
    let start = Instant::now();
    let batch: Vec<u8> = (0..10)
        .flat_map(|_| frame(FIN | PING, true, &[b'p'; 125]))
        .collect();
    for _ in 0..n.div_ceil(10) {
        if w.write_all(&batch).await.is_err() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmasked_client_frames_get_1002() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(config()).await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let hello = hello_bytes("raw");
    let input = encode(&ClientMsg::Input(vec![]));
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "an unmasked Hello",
            vec![frame(FIN | BINARY, false, &hello)],
        ),
        ("an unmasked ping", vec![frame(FIN | PING, false, b"hi")]),
        ("an unmasked pong", vec![frame(FIN | PONG, false, b"")]),
        (
            "an unmasked close",
            vec![frame(FIN | CLOSE, false, &close_payload(1000, b""))],
        ),
        (
            "an unmasked continuation",
            vec![
                frame(BINARY, true, &hello[..2]),
                frame(FIN | CONTINUATION, false, &hello[2..]),
            ],
        ),
        (
            "an unmasked input after a masked Hello",
            vec![
                frame(FIN | BINARY, true, &hello),
                frame(FIN | BINARY, false, &input),
            ],
        ),
    ];
    for (what, frames) in cases {
        let mut ws = RawWs::connect(server.addr).await;
        for f in frames {
            ws.stream.write_all(&f).await.unwrap();
        }
        let got = read_to_close(&mut ws.stream).await;
        let (code, reason) = got
            .close
            .unwrap_or_else(|| panic!("{what}: no close frame"));
        assert_eq!(code, CloseCode::ProtocolError.code(), "{what}: {reason}");
        assert!(reason.contains("masked"), "{what}: {reason:?}");
    }
    assert_eq!(metric(&server, &closes(1002)).await, 6.0);
    // The same Hello, masked with a key that changes its bytes, joins.
    let mut ws = RawWs::connect(server.addr).await;
    ws.stream
        .write_all(&frame(FIN | BINARY, true, &hello))
        .await
        .unwrap();
    let welcome = tokio::time::timeout(WAIT, ws.read_binary())
        .await
        .unwrap()
        .expect("a Welcome");
    assert!(
        matches!(
            tickwire_shared::sync::decode_server(&welcome, None, &[]),
            Ok(tickwire_shared::sync::ServerMsg::Welcome(_))
        ),
        "a masked Hello is unmasked and answered with a Welcome"
    );
    witnesses.finish().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_gets_1008_and_costs_the_witnesses_nothing() {
    let _serial = SERIAL.lock().await;
    // The default limits: 100 frames a second, 200 in a burst.
    let server = TestServer::start(config()).await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    // 20 connections, each writing 2,000 pings back to back before reading anything.
    let flood: Vec<u8> = (0..2000u32)
        .flat_map(|i| frame(FIN | PING, true, &i.to_be_bytes()))
        .collect();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let addr = server.addr;
        let flood = flood.clone();
        tasks.push(tokio::spawn(async move {
            let mut ws = RawWs::connect(addr).await;
            let _ = ws.stream.write_all(&flood).await;
            read_to_close(&mut ws.stream).await
        }));
    }
    for t in tasks {
        let got = t.await.unwrap();
        let (code, reason) = got.close.expect("a close frame");
        assert_eq!(code, CloseCode::PolicyViolation.code(), "{reason}");
        assert!(reason.contains("rate limit"), "{reason:?}");
        // Pongs echo pings, in order; when the writer is behind, only the newest ping is
        // answered. No more than the burst and what the sustained rate earned meanwhile.
        let seqs: Vec<u32> = got
            .pongs
            .iter()
            .map(|p| u32::from_be_bytes(p[..].try_into().expect("a ping's 4 bytes")))
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert!(seqs.last().is_none_or(|&s| s < 600), "{seqs:?}");
    }
    assert_eq!(metric(&server, &closes(1008)).await, 20.0);
    connections_become(&server, 3.0, WAIT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    witnesses.finish().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_are_closed_at_the_write_timeout_and_their_memory_returns() {
    let _serial = SERIAL.lock().await;
    let write_timeout = Duration::from_secs(1);
    let server = TestServer::start(Config {
        write_timeout,
        // Nothing but the write deadline ends these connections.
        max_messages_per_sec: 1e9,
        message_burst: 1e9,
        idle_timeout: Duration::from_secs(120),
        max_skipped_ticks: 100_000,
        // The smallest send buffers Linux allows: pongs coalesce and snapshots are small.
        send_buffer_bytes: 4096,
        ..config()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    connections_become(&server, 3.0, WAIT).await;
    let (fds, rss) = (open_fds(), rss_kib());
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let addr = server.addr;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            // They join (so snapshots come too), then ping and never read, until told.
            let mut s = small_window(addr).await;
            let hello = hello_bytes(&format!("deaf{i}"));
            s.write_all(&frame(FIN | BINARY, true, &hello))
                .await
                .unwrap();
            tokio::select! {
                _ = ping_without_reading(&mut s, 60_000) => {}
                _ = stop.cancelled() => {}
            }
        }));
    }
    // Seen from the server: every one of them closed while they still flood. (Seen from a
    // flooder, the end can take much longer: a socket closed with its unsent bytes waits in
    // FIN-WAIT-1 for the peer's zero window, and only a reset or the kernel's orphan limits
    // end it; see the report.)
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    connections_become(&server, 3.0, write_timeout + Duration::from_secs(40)).await;
    let took = start.elapsed();
    // Filling the buffers, the deadline, a second for the close frame: seconds (3 on a quiet
    // machine), not the minute the flood goes on for.
    eprintln!("20 flooders closed after {took:?}");
    assert_eq!(metric(&server, &closes(4005)).await, 20.0);
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    // The sockets are closed on both sides, and what the connections held is released.
    let start = Instant::now();
    while open_fds() > fds + 2 {
        assert!(start.elapsed() < WAIT, "{} fds, {fds} before", open_fds());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let grown = rss_kib().saturating_sub(rss);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
    let seen = witnesses.finish().await;
    eprintln!(
        "fds {fds} -> {}, RSS {rss} KiB -> {} KiB, witnesses {seen:?}",
        open_fds(),
        rss_kib()
    );
    server.stop().await;
}

/// `n` joined players that ping and never read, until the server's writers are stuck on
/// their full sockets: the room skips their snapshots (their outboxes are full, so nothing is
/// taking them out). Then, once the server counts `connections` connections if given (checked
/// while they still ping, so no idle timeout has begun), they fall silent; their sockets stay
/// open, unread.
async fn stuck_players(server: &TestServer, n: usize, connections: Option<f64>) -> Vec<TcpStream> {
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for i in 0..n {
        let addr = server.addr;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = small_window(addr).await;
            let hello = hello_bytes(&format!("stuck{i}"));
            s.write_all(&frame(FIN | BINARY, true, &hello))
                .await
                .unwrap();
            tokio::select! {
                _ = ping_without_reading(&mut s, 60_000) => panic!("dropped while flooding"),
                _ = stop.cancelled() => {}
            }
            s
        }));
    }
    let start = Instant::now();
    while metric(server, "tickwire_snapshots_skipped_total").await < (10 * n) as f64 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no writer got stuck"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(c) = connections {
        assert_eq!(metric(server, "tickwire_connections").await, c);
    }
    stop.cancel();
    let mut sockets = Vec::new();
    for t in tasks {
        sockets.push(t.await.unwrap());
    }
    sockets
}

/// The room's 4005 kick reaches connections whose writers are stuck (the write deadline is a
/// minute away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_writer_still_hears_the_kick() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(Config {
        write_timeout: Duration::from_secs(60),
        max_messages_per_sec: 1e9,
        message_burst: 1e9,
        max_skipped_ticks: 30,
        ..config()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let sockets = stuck_players(&server, 5, None).await;
    connections_become(&server, 3.0, WAIT).await;
    assert_eq!(metric(&server, &closes(4005)).await, 5.0);
    drop(sockets);
    witnesses.finish().await;
    server.stop().await;
}

/// The idle timeout reaches connections whose writers are stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_writer_still_hears_the_idle_timeout() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(Config {
        write_timeout: Duration::from_secs(60),
        max_messages_per_sec: 1e9,
        message_burst: 1e9,
        idle_timeout: Duration::from_secs(2),
        // No kick: only the idle timeout can end these.
        max_skipped_ticks: 100_000,
        ..config()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    // All eight still there while the stuck ones ping (checked before they fall silent: on a
    // loaded machine the 2 s idle timeout could end some before a check after).
    let sockets = stuck_players(&server, 5, Some(8.0)).await;
    connections_become(&server, 3.0, WAIT).await;
    assert_eq!(metric(&server, &closes(4002)).await, 5.0);
    drop(sockets);
    witnesses.finish().await;
    server.stop().await;
}

/// Shutdown reaches connections whose writers are stuck: the server stops within
/// `TestServer::stop`'s 10 s although its grace period and write deadline are a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_writer_still_hears_shutdown() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(Config {
        write_timeout: Duration::from_secs(60),
        shutdown_grace: Duration::from_secs(60),
        max_messages_per_sec: 1e9,
        message_burst: 1e9,
        max_skipped_ticks: 100_000,
        ..config()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let sockets = stuck_players(&server, 5, Some(8.0)).await;
    assert_eq!(metric(&server, "tickwire_connections").await, 8.0);
    witnesses.finish().await;
    server.stop().await;
    drop(sockets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hello_deadline_counts_from_the_upgrade() {
    let _serial = SERIAL.lock().await;
    let hello_timeout = Duration::from_millis(1500);
    let server = TestServer::start(Config {
        hello_timeout,
        ..config()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    // Something every 300 ms, never a Hello: pings, pongs, empty fragments of a message that
    // never ends.
    let keepers: [(&str, Vec<u8>, Vec<u8>); 3] = [
        ("pings", vec![], frame(FIN | PING, true, b"still here")),
        ("pongs", vec![], frame(FIN | PONG, true, b"")),
        (
            "empty continuations",
            frame(BINARY, true, b""),
            frame(CONTINUATION, true, b""),
        ),
    ];
    let mut tasks = Vec::new();
    for (what, first, again) in keepers {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let (mut rd, mut wr) = RawWs::connect(addr).await.stream.into_split();
            let start = Instant::now();
            let keep = tokio::spawn(async move {
                wr.write_all(&first).await.unwrap();
                loop {
                    if wr.write_all(&again).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
            let got = read_to_close(&mut rd).await;
            let took = start.elapsed();
            keep.abort();
            (what, got, took)
        }));
    }
    for t in tasks {
        let (what, got, took) = t.await.unwrap();
        let (code, reason) = got.close.unwrap_or_else(|| panic!("{what}: no close"));
        assert_eq!(code, CloseCode::Timeout.code(), "{what}: {reason}");
        assert!(reason.contains("no Hello"), "{what}: {reason:?}");
        assert!(
            took >= hello_timeout - Duration::from_millis(100)
                && took < hello_timeout + Duration::from_secs(3),
            "{what}: closed after {took:?}"
        );
        if what == "pings" {
            // Pings before the Hello are answered, with their payload.
            assert!(!got.pongs.is_empty(), "pongs before the Hello");
            assert!(got.pongs.iter().all(|p| p == b"still here"));
        }
    }
    witnesses.finish().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_close_frames_fail_the_connection() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(config()).await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let mut cases: Vec<(String, Vec<u8>, u16, &str)> = Vec::new();
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        cases.push((
            format!("close code {code}"),
            frame(FIN | CLOSE, true, &close_payload(code, b"bye")),
            1002,
            "may not be sent",
        ));
    }
    cases.push((
        "a reason that is not UTF-8".into(),
        frame(FIN | CLOSE, true, &close_payload(1000, &[b'o', 0xff, 0xfe])),
        1007,
        "UTF-8",
    ));
    cases.push((
        "a one-byte close".into(),
        frame(FIN | CLOSE, true, &[3]),
        1002,
        "two-byte code",
    ));
    cases.push((
        "a 126-byte close".into(),
        frame(FIN | CLOSE, true, &close_payload(1000, &[b'x'; 124])),
        1002,
        "125 bytes",
    ));
    cases.push((
        "a 126-byte pong".into(),
        frame(FIN | PONG, true, &[b'x'; 126]),
        1002,
        "125 bytes",
    ));
    cases.push((
        "a 126-byte ping".into(),
        frame(FIN | PING, true, &[b'x'; 126]),
        1002,
        "125 bytes",
    ));
    // Valid closes are echoed with 1000, as before; 125 bytes is the most a close may carry.
    for code in [
        1000u16, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 4000, 4999,
    ] {
        cases.push((
            format!("close code {code}"),
            frame(FIN | CLOSE, true, &close_payload(code, "adiós".as_bytes())),
            1000,
            "",
        ));
    }
    cases.push((
        "a 125-byte close".into(),
        frame(FIN | CLOSE, true, &close_payload(1000, &[b'x'; 123])),
        1000,
        "",
    ));
    cases.push((
        "an empty close".into(),
        frame(FIN | CLOSE, true, &[]),
        1000,
        "",
    ));
    let mut failed = 0;
    for (joined, (what, bytes, want, reason_has)) in cases.iter().enumerate() {
        let mut ws = RawWs::connect(server.addr).await;
        // Every other one after joining the witnesses' room.
        if joined % 2 == 1 {
            ws.stream
                .write_all(&frame(FIN | BINARY, true, &hello_bytes("closer")))
                .await
                .unwrap();
            ws.read_binary().await.expect("a Welcome");
        }
        ws.stream.write_all(bytes).await.unwrap();
        let got = read_to_close(&mut ws.stream).await;
        let (code, reason) = got
            .close
            .unwrap_or_else(|| panic!("{what}: no close frame"));
        assert_eq!(code, *want, "{what}: {reason:?}");
        assert!(reason.contains(reason_has), "{what}: {reason:?}");
        failed += usize::from(*want != 1000);
    }
    assert_eq!(
        metric(&server, &closes(1002)).await + metric(&server, &closes(1007)).await,
        failed as f64
    );
    witnesses.finish().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_reasons_are_sentences_not_debug_text() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(Config {
        max_frame_bytes: 512,
        ..config()
    })
    .await;
    let witnesses = Witnesses::join(&server.ws_url(), 3).await;
    let hello = hello_bytes("raw");
    let bin = |b: &[u8]| frame(FIN | BINARY, true, b);
    let mut trailing = hello.clone();
    trailing.push(0);
    let mut wrong_version = hello.clone();
    wrong_version[1] = 7;
    let input = encode(&ClientMsg::Input(vec![InputCmd {
        seq: InputSeq(1),
        view_tick: Tick(0),
        lanes: vec![0; tickwire_arena::input::COUNT],
    }]));
    // (what, said before the Hello or after it, the frames)
    let cases: Vec<(&str, bool, Vec<u8>)> = vec![
        // bincode's errors: a name that is not UTF-8, a u64 where the u16 version goes, an
        // option tag that is neither 0 nor 1, the bytes ending inside the Hello.
        (
            "a name not in UTF-8",
            false,
            bin(&[0, 2, 2, 0xff, 0xfe, 0, 0]),
        ),
        (
            "a u64 version",
            false,
            bin(&[0, 253, 2, 0, 0, 0, 0, 0, 0, 0]),
        ),
        ("a bad option tag", false, bin(&[0, 2, 1, b'a', 7])),
        ("a Hello cut short", false, bin(&hello[..3])),
        ("an unknown message", false, bin(&[9])),
        ("trailing bytes", false, bin(&trailing)),
        ("another version", false, bin(&wrong_version)),
        ("input first", false, bin(&input)),
        ("a text frame", false, frame(FIN | 0x1, true, b"hi")),
        (
            "reserved bits",
            false,
            frame(FIN | 0x40 | BINARY, true, b"x"),
        ),
        ("opcode 3", false, frame(FIN | 0x3, true, b"")),
        ("a fragmented ping", false, frame(PING, true, b"")),
        ("a frame over the limit", false, bin(&[0; 600])),
        ("fragments over the limit", false, {
            let mut f = frame(BINARY, true, &[0; 300]);
            f.extend(frame(FIN | CONTINUATION, true, &[0; 300]));
            f
        }),
        (
            "a stray continuation",
            false,
            frame(FIN | CONTINUATION, true, b"x"),
        ),
        ("a message inside a message", false, {
            let mut f = frame(BINARY, true, b"x");
            f.extend(bin(b"y"));
            f
        }),
        (
            "an unmasked frame",
            false,
            frame(FIN | BINARY, false, &hello),
        ),
        (
            "close code 5000",
            false,
            frame(FIN | CLOSE, true, &close_payload(5000, b"")),
        ),
        (
            "a close reason not in UTF-8",
            false,
            frame(FIN | CLOSE, true, &[3, 232, 0xc3]),
        ),
        ("a second Hello", true, bin(&hello)),
        ("chat not in UTF-8", true, bin(&[3, 2, 0xff, 0xfe])),
        ("an unknown action", true, bin(&[4, 1, 99])),
        ("an input cut short", true, bin(&input[..input.len() - 1])),
        ("a bad varint", true, bin(&[1, 254])),
    ];
    for (what, joined, bytes) in cases {
        let mut ws = RawWs::connect(server.addr).await;
        if joined {
            ws.stream.write_all(&bin(&hello)).await.unwrap();
            ws.read_binary().await.expect("a Welcome");
        }
        ws.stream.write_all(&bytes).await.unwrap();
        let got = read_to_close(&mut ws.stream).await;
        let (code, reason) = got
            .close
            .unwrap_or_else(|| panic!("{what}: no close frame"));
        eprintln!("{what}: {code} {reason:?}");
        assert_ne!(code, 1000, "{what} is refused");
        assert!(reason.len() > 8, "{what}: {reason:?} says something");
        for bad in ["{", "}", "::", "Error", "Utf8", "Invalid"] {
            assert!(!reason.contains(bad), "{what}: {reason:?} has {bad:?}");
        }
    }
    witnesses.finish().await;
    server.stop().await;
}
