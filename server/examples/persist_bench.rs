//! Persistence figures for docs/BENCHMARKS.md: match results written per second on each
//! backend (SQLite file, PostgreSQL started here), and a room's tick time while its database is
//! idle against while it is busy (another writer hammering the same database), same run.
//!
//! `cargo run --release -p tickwire-server --example persist_bench` (needs PostgreSQL's server
//! binaries: `apt-get install postgresql`).

use std::time::{Duration, Instant};
use tickwire_server::{Config, Server};
use tickwire_storage::testing::{PgServer, TempDir};
use tickwire_storage::{MatchRecord, Options, PlayerResult, Storage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn record(i: u64) -> MatchRecord {
    MatchRecord {
        match_id: format!("bench-{i}"),
        game: "arena".into(),
        room: "main".into(),
        node: "bench".into(),
        season: "s1".into(),
        started_at_ms: 0,
        ended_at_ms: 180_000,
        players: (0..8)
            .map(|p| PlayerResult {
                player: Some(format!("guest:{:04}", (i * 7 + p) % 500)),
                name: format!("p{p}"),
                score: (p * 3) as i64,
                stats: vec![
                    ("kills".into(), (p * 3) as i64),
                    ("deaths".into(), 2),
                    ("wins".into(), i64::from(p == 0)),
                ],
            })
            .collect(),
    }
}

/// Results written per second through the writer's own path (outbox, then the transaction).
async fn write_rate(s: &Storage, n: u64, from: u64) -> f64 {
    let t = Instant::now();
    for i in from..from + n {
        let m = record(i);
        s.enqueue(&m).await.unwrap();
        s.deliver(&m).await.unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

async fn metrics(addr: std::net::SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    buf
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Mean tick time over `secs` of play, from the server's histogram.
async fn mean_tick(addr: std::net::SocketAddr, secs: u64) -> (f64, f64) {
    let a = metrics(addr).await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let b = metrics(addr).await;
    let sum = metric(&b, "tickwire_tick_duration_seconds_sum")
        - metric(&a, "tickwire_tick_duration_seconds_sum");
    let n = metric(&b, "tickwire_tick_duration_seconds_count")
        - metric(&a, "tickwire_tick_duration_seconds_count");
    (sum / n, n)
}

async fn tick_time(name: &str, db: String, busy: Storage, dir: &TempDir) {
    let config = Config {
        db,
        outbox: dir.path().join("outbox.db"),
        round_time: Duration::from_secs(1),
        ..Config::ephemeral()
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = Server::bind(config, shutdown.clone()).await.unwrap();
    let addr = server.local_addr();
    let task = tokio::spawn(server.run());
    let mut clients = Vec::new();
    for i in 0..16 {
        let url = format!("ws://{addr}/ws?guest=bench-guest-{i:08}-xxxxxxxx");
        let mut c = tickwire_client::GameClient::join(
            &url,
            &format!("b{i}"),
            None,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        clients.push(tokio::spawn(async move {
            loop {
                if let tickwire_client::GameEvent::Closed { .. } = c.recv().await {
                    return;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle, n_idle) = mean_tick(addr, 10).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 1_000_000;
            let mut written = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let m = record(i);
                busy.enqueue(&m).await.unwrap();
                busy.deliver(&m).await.unwrap();
                i += 1;
                written += 1;
            }
            written
        })
    };
    let (loaded, n_loaded) = mean_tick(addr, 10).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = hammer.await.unwrap();
    // Idle again, so the order of the phases does not decide the ratio.
    let (idle2, _) = mean_tick(addr, 10).await;
    let m = metrics(addr).await;
    println!(
        "{name}: 16 players, rounds of 1 s: tick {:.1} µs idle database ({n_idle} ticks), {:.1} µs \
         busy ({written} results written meanwhile by another writer, {n_loaded} ticks), {:.1} µs \
         idle again; ratio busy/idle {:.2} (against the mean of both idle phases); the room's \
         own results written: {}",
        idle * 1e6,
        loaded * 1e6,
        idle2 * 1e6,
        loaded / ((idle + idle2) / 2.0),
        metric(&m, "tickwire_db_results_written_total"),
    );
    shutdown.cancel();
    let _ = task.await;
    for c in clients {
        c.abort();
    }
}

#[tokio::main]
async fn main() {
    let dir = TempDir::new("bench-sqlite");
    let file = dir.path().join("bench.db").display().to_string();
    let s = Storage::open(&Options::new(file.clone())).await.unwrap();
    let r = write_rate(&s, 2000, 0).await;
    println!(
        "sqlite (WAL, synchronous=NORMAL): {r:.0} results/s (8 players, 3 stats each, one at a time)"
    );
    let pg = PgServer::start();
    let url = pg.create_db("bench");
    let pdir = TempDir::new("bench-pg");
    let mut o = Options::new(url.clone());
    o.outbox = pdir.path().join("outbox.db");
    let p = Storage::open(&o).await.unwrap();
    let r = write_rate(&p, 2000, 0).await;
    println!(
        "postgres (loopback, fsync on): {r:.0} results/s (8 players, 3 stats each, one at a time)"
    );

    // Tick time with the database idle and busy. A second handle on the same database is the
    // load.
    let busy = Storage::open(&Options::new(file.clone())).await.unwrap();
    tick_time("sqlite", file, busy, &dir).await;
    let db2 = pg.create_db("bench2");
    let mut o2 = Options::new(db2.clone());
    let bdir = TempDir::new("bench-pg-busy");
    o2.outbox = bdir.path().join("outbox.db");
    let busy = Storage::open(&o2).await.unwrap();
    tick_time("postgres", db2, busy, &pdir).await;
}
