//! `inview-bots`: the bots of the everyone-in-view scenario (`shared/peers/colyseus/SCENARIO.md`,
//! the game `--game inview` / `--game inview-plain` plays) over real WebSockets, all from one
//! process, and the downstream bytes they receive.
//!
//! ```sh
//! tickwire --game inview --max-players 2000 --max-seats-per-ip 2000 --max-connections-per-ip 2000 --checksum-interval 30 &
//! inview-bots --url ws://127.0.0.1:7000/ws --bots 300 --warmup 5 --duration 20 --server-pid $!
//! ```
//!
//! Bot i joins (quick-match: the server puts everyone in one room), then sends one input
//! command every 1/30 s from its own phase, on the course of [`BotCourse`] `i` (a new
//! direction every 30 inputs); a bot more than 3 periods late skips the missed inputs rather
//! than bursting. It sends an application `Ping` every 5 s (the client crate answers the
//! server's WebSocket pings). Joins go in batches of 50 at once, then `--warmup` seconds,
//! then the `--duration` window, in which every bot counts each downstream message's payload
//! bytes (what a WebSocket message carries: no frame header, no TCP/IP) and its frames.
//!
//! Only `--verify` K bots (default 1) decode: they keep the real [`Replica`] and check every
//! checksum the server sends (start the server with `--checksum-interval`); the others read
//! nothing but the first bytes of a snapshot's header (its tick), so that at 1000 bots the
//! bot process stays cheap and the server is what is measured. `--protocol V` puts V in the
//! `Hello` (the client messages of protocols 3 and 4 are those of 5), for an older server;
//! then `--verify` must be 0, since this build's codec decodes only version 5.
//!
//! With `--server-pid P`, the server's `/proc/P` is sampled at the window's edges: CPU
//! (utime + stime, % of one core), RSS and peak RSS, and its socket-level writes (`wchar`).
//! Prints one JSON line: see [`Summary`]. Exits 1 when a bot failed to join or a replica
//! diverged, 2 when the run could not start.

use anyhow::{Context, bail};
use clap::Parser;
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tickwire_client::{Client, CloseCode, Received};
use tickwire_inview::BotCourse;
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::replica::{Replica, ReplicaError};
use tickwire_shared::sync::{
    ClientMsg, Hello, InputCmd, PROTOCOL_VERSION, Ping, ServerMsg, decode_server, encode_client,
};
use tickwire_shared::{InputSeq, Tick};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bots of the everyone-in-view scenario over real WebSockets.
#[derive(Debug, Clone, Parser)]
#[command(version, about)]
struct Cli {
    /// The server's WebSocket URL (quick-match: no `room=`).
    #[arg(long, default_value = "ws://127.0.0.1:7000/ws")]
    url: String,
    /// Bots.
    #[arg(long, default_value_t = 100)]
    bots: usize,
    /// Seconds between the last join and the window.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Bots that decode every message with the real replica and check every checksum.
    #[arg(long, default_value_t = 1)]
    verify: usize,
    /// The protocol version the `Hello` announces.
    #[arg(long, default_value_t = PROTOCOL_VERSION)]
    protocol: u16,
    /// Input commands per second per bot (the scenario's 30).
    #[arg(long, default_value_t = 30.0)]
    input_rate: f64,
    /// The server's tick rate, for bytes per snapshot (a verifying bot reads it from
    /// `Welcome` instead).
    #[arg(long, default_value_t = 30)]
    tick_rate: u16,
    /// Joins at once.
    #[arg(long, default_value_t = 50)]
    join_batch: usize,
    /// Sample this process's /proc at the window's edges (the server's pid).
    #[arg(long)]
    server_pid: Option<u32>,
    /// A name for the run, copied into the summary.
    #[arg(long, default_value = "tickwire")]
    label: String,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Counters every bot adds to while the window is open.
#[derive(Default)]
struct Counters {
    counting: AtomicBool,
    bytes: AtomicU64,
    frames: AtomicU64,
    snapshots: AtomicU64,
    markers: AtomicU64,
    inputs: AtomicU64,
    late_resets: AtomicU64,
    closed: AtomicU64,
    checksums: AtomicU64,
    divergences: AtomicU64,
    replica_errors: AtomicU64,
}

/// The summary line.
#[derive(Debug, Serialize)]
struct Summary {
    label: String,
    protocol: u16,
    n: usize,
    joined: usize,
    failed: usize,
    closed_during_run: u64,
    ramp_s: f64,
    seconds: f64,
    /// Downstream WebSocket message payload bytes per bot per second.
    bytes_per_client_per_s: f64,
    /// Downstream messages per bot per second (snapshots, tick markers, pongs).
    frames_per_client_per_s: f64,
    snapshots_per_client_per_s: f64,
    markers_per_client_per_s: f64,
    /// Bytes per client per tick / N.
    bytes_per_player_per_snapshot: f64,
    tick_rate: u16,
    inputs_per_client_per_s: f64,
    input_late_resets: u64,
    verify: usize,
    checksums_verified: u64,
    divergences: u64,
    replica_errors: u64,
    /// Entities the first verifying bot holds at the end (N when everyone is in one room).
    observer_sees: Option<usize>,
    server: Option<Proc>,
    /// Server socket writes (`wchar`) per bot per second.
    server_write_bytes_per_client_per_s: Option<f64>,
    bots_process: Option<Proc>,
}

/// A process over the window.
#[derive(Debug, Serialize)]
struct Proc {
    cpu_pct: f64,
    user_pct: f64,
    rss_mib: f64,
    peak_rss_mib: f64,
    write_bytes_per_s: f64,
}

#[derive(Debug, Clone, Copy)]
struct ProcSample {
    at: Instant,
    utime: u64,
    stime: u64,
    rss_kib: u64,
    hwm_kib: u64,
    wchar: u64,
}

/// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`, 100 on Linux).
const CLK_TCK: f64 = 100.0;

fn sample(pid: &str) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let wchar = io
        .lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Some(ProcSample {
        at: Instant::now(),
        utime: rest.get(11)?.parse().ok()?,
        stime: rest.get(12)?.parse().ok()?,
        rss_kib: kib("VmRSS:")?,
        hwm_kib: kib("VmHWM:")?,
        wchar,
    })
}

fn over(a: Option<ProcSample>, b: Option<ProcSample>) -> Option<Proc> {
    let (a, b) = (a?, b?);
    let secs = b.at.duration_since(a.at).as_secs_f64();
    let pct = |t: u64| t as f64 / CLK_TCK / secs * 100.0;
    Some(Proc {
        cpu_pct: pct((b.utime + b.stime).saturating_sub(a.utime + a.stime)),
        user_pct: pct(b.utime.saturating_sub(a.utime)),
        rss_mib: b.rss_kib as f64 / 1024.0,
        peak_rss_mib: b.hwm_kib as f64 / 1024.0,
        write_bytes_per_s: b.wchar.saturating_sub(a.wchar) as f64 / secs,
    })
}

/// A bot that got its `Welcome`.
struct Seated {
    client: Client,
    /// The verifying bots' replica.
    replica: Option<Replica>,
}

/// What a bot ends with.
struct Ended {
    /// Entities its replica holds (verifying bots).
    sees: Option<usize>,
    tick_rate: Option<u16>,
}

fn encode(msg: &ClientMsg, schema: &Schema) -> Vec<u8> {
    let mut out = Vec::new();
    encode_client(msg, schema, &mut out);
    out
}

async fn join(cli: &Cli, i: usize, verify: bool) -> anyhow::Result<Seated> {
    let limit = Duration::from_secs(20);
    let mut client = Client::connect(&cli.url, limit).await?;
    let hello = ClientMsg::Hello(Hello {
        protocol_version: cli.protocol,
        name: format!("bot{i}"),
        auth_token: None,
        resume_token: None,
    });
    client
        .send_bytes(encode(&hello, &Schema::new("")))
        .await
        .map_err(|_| anyhow::anyhow!("closed before the Hello went"))?;
    match tokio::time::timeout(limit, client.recv_frame()).await {
        Err(_) => bail!("no Welcome in {limit:?}"),
        Ok(Received::Closed { code, reason }) => bail!("closed before Welcome: {code:?} {reason}"),
        Ok(Received::Binary(bytes)) => {
            // Message 0 is the Welcome; only a verifying bot decodes it (this build's codec).
            if bytes.first() != Some(&0) {
                bail!("the first message is not a Welcome: {:?}", bytes.first());
            }
            let replica = if verify {
                match decode_server(&bytes, None, &[]) {
                    Ok(ServerMsg::Welcome(w)) => {
                        if w.schema.game != tickwire_inview::GAME_NAME {
                            bail!("the server plays {:?}, not inview", w.schema.game);
                        }
                        Some(Replica::new(&w))
                    }
                    Ok(other) => bail!("not a Welcome: {other:?}"),
                    Err(e) => bail!("the Welcome does not decode: {e}"),
                }
            } else {
                None
            };
            Ok(Seated { client, replica })
        }
    }
}

/// A varint of the wire (`< 251` one byte; 251, 252, 253: 2, 4, 8 bytes little-endian).
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let t = *b.first()?;
    let n = match t {
        0..=250 => return Some((u64::from(t), 1)),
        251 => 2,
        252 => 4,
        253 => 8,
        _ => return None,
    };
    let v = b.get(1..1 + n)?;
    let mut x = 0u64;
    for (k, byte) in v.iter().enumerate() {
        x |= u64::from(*byte) << (8 * k);
    }
    Some((x, 1 + n))
}

async fn run_bot(
    i: usize,
    seated: Seated,
    period: Duration,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> Ended {
    let Seated {
        mut client,
        mut replica,
    } = seated;
    let schema = tickwire_inview::default_schema();
    let (mut course, phase) = BotCourse::new(i);
    let epoch = Instant::now();
    let mut next = tokio::time::Instant::now() + period.mul_f64(phase);
    let mut pings = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(5).mul_f64(phase),
        Duration::from_secs(5),
    );
    let mut seq = 0u32;
    let mut tick = 0u32;
    let mut broken = false;
    let c = &*counters;
    let timer = tokio::time::sleep_until(next);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            frame = client.recv_frame() => match frame {
                Received::Binary(bytes) => {
                    if c.counting.load(Ordering::Relaxed) {
                        c.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                        c.frames.fetch_add(1, Ordering::Relaxed);
                        match bytes.first() {
                            Some(1) => c.snapshots.fetch_add(1, Ordering::Relaxed),
                            Some(3) => c.markers.fetch_add(1, Ordering::Relaxed),
                            _ => 0,
                        };
                    }
                    // The tick only, from the header (snapshot: index, tick; marker: index, gap).
                    match (bytes.first(), varint(bytes.get(1..).unwrap_or(&[]))) {
                        (Some(1), Some((t, _))) => tick = t as u32,
                        (Some(3), Some((g, _))) => tick = tick.wrapping_add(g as u32),
                        _ => {}
                    }
                    if let Some(r) = replica.as_mut().filter(|_| !broken) {
                        let counting = c.counting.load(Ordering::Relaxed);
                        let result = match r.decode(&bytes) {
                            Ok(ServerMsg::Snapshot(s)) => r.apply(&s).map(|_| s.checksum.is_some()),
                            Ok(_) => Ok(false),
                            Err(e) => Err(ReplicaError::BadValue(e)),
                        };
                        match result {
                            Ok(verified) => {
                                if verified && counting {
                                    c.checksums.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(e) => {
                                broken = true;
                                eprintln!("bot {i}: {e}");
                                if matches!(e, ReplicaError::ChecksumMismatch { .. }) {
                                    c.divergences.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    c.replica_errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                }
                Received::Closed { code, reason } => {
                    eprintln!("bot {i}: closed by the server: {code:?} {reason}");
                    c.closed.fetch_add(1, Ordering::Relaxed);
                    return Ended { sees: None, tick_rate: None };
                }
            },
            _ = &mut timer => {
                let now = tokio::time::Instant::now();
                if now.duration_since(next) > period * 3 {
                    // Fell behind: skip the missed inputs instead of bursting.
                    next = now;
                    if c.counting.load(Ordering::Relaxed) {
                        c.late_resets.fetch_add(1, Ordering::Relaxed);
                    }
                }
                next += period;
                timer.as_mut().reset(next);
                seq += 1;
                let cmd = InputCmd {
                    seq: InputSeq(seq),
                    view_tick: Tick(tick),
                    lanes: course.next_input().to_vec(),
                };
                if client.send_bytes(encode(&ClientMsg::Input(vec![cmd]), &schema)).await.is_ok()
                    && c.counting.load(Ordering::Relaxed)
                {
                    c.inputs.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ = pings.tick() => {
                let ping = ClientMsg::Ping(Ping { client_time: epoch.elapsed().as_millis() as u32 });
                let _ = client.send_bytes(encode(&ping, &schema)).await;
            }
        }
    }
    client.close(CloseCode::Normal, "bench over").await;
    let _ = client.wait_closed(Duration::from_secs(3)).await;
    Ended {
        sees: replica
            .as_ref()
            .filter(|_| !broken)
            .map(|r| r.entities.len()),
        tick_rate: replica.as_ref().map(|r| r.tick_rate),
    }
}

async fn run(cli: Cli) -> anyhow::Result<Summary> {
    let counters = Arc::new(Counters::default());
    let stop = CancellationToken::new();
    let period = Duration::from_secs_f64(1.0 / cli.input_rate.max(0.1));
    let cli = Arc::new(cli);
    let (seated_tx, mut seated_rx) = mpsc::channel::<Result<(), String>>(cli.join_batch.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    let (mut joined, mut failed) = (0, 0);
    for batch in (0..cli.bots)
        .collect::<Vec<_>>()
        .chunks(cli.join_batch.max(1))
    {
        for &i in batch {
            let (cli, counters, stop, tx) = (
                cli.clone(),
                counters.clone(),
                stop.clone(),
                seated_tx.clone(),
            );
            tasks.spawn(async move {
                match join(&cli, i, i < cli.verify).await {
                    Ok(seated) => {
                        let _ = tx.send(Ok(())).await;
                        Some(run_bot(i, seated, period, counters, stop).await)
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("bot {i}: {e:#}"))).await;
                        None
                    }
                }
            });
        }
        for _ in batch {
            match seated_rx.recv().await {
                Some(Ok(())) => joined += 1,
                Some(Err(e)) => {
                    failed += 1;
                    if failed <= 3 {
                        eprintln!("{e}");
                    }
                }
                None => bail!("the join tasks ended"),
            }
        }
    }
    let ramp = started.elapsed();
    eprintln!(
        "joined {joined}/{} in {:.1}s, failed {failed}; warm-up {}s, measuring {}s",
        cli.bots,
        ramp.as_secs_f64(),
        cli.warmup,
        cli.duration
    );
    tokio::time::sleep(Duration::from_secs_f64(cli.warmup)).await;
    let pid = cli.server_pid.map(|p| p.to_string());
    let s0 = pid.as_deref().and_then(sample);
    let b0 = sample("self");
    counters.counting.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(cli.duration)).await;
    counters.counting.store(false, Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let s1 = pid.as_deref().and_then(sample);
    let b1 = sample("self");
    stop.cancel();
    let mut sees = None;
    let mut tick_rate = None;
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(e)) = done {
            // Bot 0 is the first verifying bot; any verifying bot's count will do.
            sees = sees.or(e.sees);
            tick_rate = tick_rate.or(e.tick_rate);
        }
    }
    let c = &*counters;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let per = |a: &AtomicU64| get(a) as f64 / joined.max(1) as f64 / secs;
    let tick_rate = tick_rate.unwrap_or(cli.tick_rate).max(1);
    let server = over(s0, s1);
    Ok(Summary {
        label: cli.label.clone(),
        protocol: cli.protocol,
        n: cli.bots,
        joined,
        failed,
        closed_during_run: get(&c.closed),
        ramp_s: ramp.as_secs_f64(),
        seconds: secs,
        bytes_per_client_per_s: per(&c.bytes),
        frames_per_client_per_s: per(&c.frames),
        snapshots_per_client_per_s: per(&c.snapshots),
        markers_per_client_per_s: per(&c.markers),
        bytes_per_player_per_snapshot: per(&c.bytes) / f64::from(tick_rate) / cli.bots as f64,
        tick_rate,
        inputs_per_client_per_s: per(&c.inputs),
        input_late_resets: get(&c.late_resets),
        verify: cli.verify.min(cli.bots),
        checksums_verified: get(&c.checksums),
        divergences: get(&c.divergences),
        replica_errors: get(&c.replica_errors),
        observer_sees: sees,
        server_write_bytes_per_client_per_s: server
            .as_ref()
            .map(|s| s.write_bytes_per_s / joined.max(1) as f64),
        server,
        bots_process: over(b0, b1),
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.protocol != PROTOCOL_VERSION && cli.verify > 0 {
        eprintln!(
            "inview-bots: --protocol {} needs --verify 0 (this build decodes protocol {PROTOCOL_VERSION} only)",
            cli.protocol
        );
        return ExitCode::from(2);
    }
    let need = cli.bots as u64 + 64;
    match rlimit::increase_nofile_limit(need) {
        Ok(got) if got >= need => {}
        other => {
            eprintln!(
                "inview-bots: {} bots need {need} open files ({other:?})",
                cli.bots
            );
            return ExitCode::from(2);
        }
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = cli.threads {
        rt.worker_threads(n.max(1));
    }
    let result = rt
        .build()
        .context("cannot start the runtime")
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(s) => {
            println!(
                "{}",
                serde_json::to_string(&s).expect("a summary serializes")
            );
            if s.failed > 0 || s.divergences > 0 || s.replica_errors > 0 || s.closed_during_run > 0
            {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("inview-bots: {e:#}");
            ExitCode::from(2)
        }
    }
}
