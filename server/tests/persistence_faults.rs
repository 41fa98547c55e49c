//! Faults with the real binary: SIGKILL right after a round ends, then a restart: the result is
//! there exactly once (SQLite; and PostgreSQL, killed while the database is away so the result
//! can only be in the local outbox). PostgreSQL stopped mid-game: the room keeps ticking (its
//! tick time measured from `/metrics` with the database up and down), `/metrics` shows the
//! database down and the result queued, and the result lands once PostgreSQL is back.
//!
//! Run with `--nocapture` to see the measured tick times.

mod common;

use common::WAIT;
use common::v2::Player;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tickwire_server::persist::identity;
use tickwire_shared::schema::engine_events;
use tickwire_storage::testing::{PgServer, TempDir};
use tickwire_storage::{Options, Storage};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const GUEST: &str = "fault-guest-0123456789abcdef";

struct Binary {
    child: Child,
    addr: SocketAddr,
}

impl Binary {
    async fn start(args: &[&str]) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", std::env::var("TW_LOG").unwrap_or("warn".into()))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("the binary starts")
                .unwrap()
                .expect("the binary prints its address");
            if let Some(rest) = line.strip_prefix("tickwire listening on http://") {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        // The server's log (stdout) goes on to ours.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                println!("[tickwire] {line}");
            }
        });
        Binary { child, addr }
    }

    async fn metrics(&self) -> String {
        common::http_get(self.addr, "/metrics").await.1
    }

    async fn sigkill(mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }

    async fn sigterm(mut self) {
        let pid = self.child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exits")
            .unwrap();
        assert!(exit.success(), "{exit:?}");
    }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0)
}

/// Reads snapshots until one carries the arena's "Round over" notice.
async fn until_round_over(p: &mut Player, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        assert!(Instant::now() < deadline, "no round ended");
        let Ok(tickwire_client::GameEvent::Snapshot { events, .. }) =
            p.client.next_snapshot(WAIT).await
        else {
            panic!("the connection ended");
        };
        if events
            .iter()
            .any(|e| e.kind == engine_events::NOTICE && e.values[0].str().starts_with("Round over"))
        {
            return;
        }
    }
}

async fn wait_metric(b: &Binary, name: &str, pred: impl Fn(f64) -> bool, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = b.metrics().await;
        if pred(metric(&m, name)) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {name} never got there:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One result of the guest, once: one match row, one player row, `matches` = 1.
async fn exactly_once(s: &Storage) {
    let ids = s.matches("arena").await.unwrap();
    assert_eq!(ids.len(), 1, "one match: {ids:?}");
    assert_eq!(s.match_count(&ids[0]).await.unwrap(), (1, 1));
    let me = identity(None, Some(GUEST)).unwrap();
    let b = s
        .leaderboard("arena", "matches", "", 10, Some(&me))
        .await
        .unwrap();
    assert_eq!(b.rows.len(), 1);
    assert_eq!(
        (b.rows[0].player.as_str(), b.rows[0].value),
        (me.as_str(), 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_right_after_a_round_ends_and_a_restart_keep_the_result_once_sqlite() {
    let dir = TempDir::new("fault-sqlite");
    let db = dir.path().join("t.db").display().to_string();
    let args = ["--db", &db, "--round-time", "2s", "--tick-rate", "20"];
    let b = Binary::start(&args).await;
    let url = format!("ws://{}/ws?guest={GUEST}", b.addr);
    let mut p = Player::join(&url, "kenny").await;
    until_round_over(&mut p, Duration::from_secs(20)).await;
    // At once: the result is in the database already or in the outbox, nowhere in between.
    b.sigkill().await;
    drop(p);
    let b = Binary::start(&args).await;
    wait_metric(
        &b,
        "tickwire_db_queued",
        |v| v == 0.0,
        "the outbox is written",
    )
    .await;
    b.sigterm().await;
    let s = Storage::open(&Options::new(db)).await.unwrap();
    exactly_once(&s).await;
    assert!(s.pending().await.unwrap().is_empty(), "the outbox is empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_away_then_sigkill_the_outbox_writes_the_result_once_on_restart() {
    let mut pg = PgServer::start();
    let url = pg.create_db("killed");
    let dir = TempDir::new("fault-pg-kill");
    let outbox = dir.path().join("outbox.db").display().to_string();
    let args = [
        "--db",
        &url,
        "--outbox",
        &outbox,
        "--round-time",
        "2s",
        "--tick-rate",
        "20",
    ];
    let b = Binary::start(&args).await;
    let mut p = Player::join(&format!("ws://{}/ws?guest={GUEST}", b.addr), "kenny").await;
    pg.stop();
    until_round_over(&mut p, Duration::from_secs(20)).await;
    wait_metric(&b, "tickwire_db_queued", |v| v >= 1.0, "the result waits").await;
    b.sigkill().await;
    drop(p);
    pg.resume();
    let b = Binary::start(&args).await;
    wait_metric(
        &b,
        "tickwire_db_results_written_total",
        |v| v >= 1.0,
        "replayed",
    )
    .await;
    wait_metric(&b, "tickwire_db_queued", |v| v == 0.0, "nothing left").await;
    b.sigterm().await;
    let mut o = Options::new(url);
    o.outbox = dir.path().join("outbox.db");
    let s = Storage::open(&o).await.unwrap();
    exactly_once(&s).await;
    assert!(s.pending().await.unwrap().is_empty());
}

/// (sum, count) of the tick-duration histogram.
fn ticks(m: &str) -> (f64, f64) {
    (
        metric(m, "tickwire_tick_duration_seconds_sum"),
        metric(m, "tickwire_tick_duration_seconds_count"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_game_the_room_keeps_ticking_and_the_result_lands_after() {
    let mut pg = PgServer::start();
    let url = pg.create_db("midgame");
    let dir = TempDir::new("fault-pg-down");
    let outbox = dir.path().join("outbox.db").display().to_string();
    let rate = 30.0;
    let args = [
        "--db",
        &url,
        "--outbox",
        &outbox,
        "--round-time",
        "3s",
        "--db-retry-max",
        "1s",
        "--db-timeout",
        "1s",
    ];
    let b = Binary::start(&args).await;
    let mut p = Player::join(&format!("ws://{}/ws?guest={GUEST}", b.addr), "kenny").await;
    // A round with the database up.
    until_round_over(&mut p, Duration::from_secs(20)).await;
    let m = wait_metric(&b, "tickwire_db_results_written_total", |v| v == 1.0, "up").await;
    let (s0, n0) = ticks(&m);
    let t0 = Instant::now();
    // The next round ends with PostgreSQL stopped.
    pg.stop();
    let up_window = (s0, n0);
    until_round_over(&mut p, Duration::from_secs(20)).await;
    let m = wait_metric(&b, "tickwire_db_up", |v| v == 0.0, "down shows").await;
    assert!(metric(&m, "tickwire_db_queued") >= 1.0, "{m}");
    assert_eq!(metric(&m, "tickwire_db_results_written_total"), 1.0);
    // Keep playing a while with the database down, reading every snapshot.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let _ = p.client.next_snapshot(WAIT).await.expect("snapshots go on");
    }
    let m = b.metrics().await;
    let (s1, n1) = ticks(&m);
    let down_secs = t0.elapsed().as_secs_f64();
    let down_ticks = n1 - n0;
    assert!(
        down_ticks >= rate * down_secs * 0.8,
        "the room kept ticking: {down_ticks} ticks in {down_secs:.1} s"
    );
    assert!(metric(&m, "tickwire_db_write_failures_total") >= 1.0, "{m}");
    pg.resume();
    let m = wait_metric(
        &b,
        "tickwire_db_results_written_total",
        |v| v >= 2.0,
        "lands",
    )
    .await;
    assert_eq!(metric(&m, "tickwire_db_up"), 1.0);
    // Tick time: the first round (database up, from the start) against the outage.
    let up_mean = up_window.0 / up_window.1;
    let down_mean = (s1 - s0) / down_ticks;
    println!(
        "tick time: database up {:.1} µs/tick ({} ticks), PostgreSQL stopped {:.1} µs/tick \
         ({down_ticks} ticks in {down_secs:.1} s); ratio down/up {:.2}",
        up_mean * 1e6,
        up_window.1,
        down_mean * 1e6,
        down_mean / up_mean
    );
    assert!(
        down_mean < 0.010,
        "a tick stays far under its 33 ms: {down_mean}"
    );
    drop(p);
    b.sigterm().await;
    let n: i64 = pg
        .psql("midgame", "SELECT COUNT(*) FROM matches")
        .parse()
        .unwrap();
    assert!(n >= 2, "both rounds' results are in PostgreSQL: {n}");
}
