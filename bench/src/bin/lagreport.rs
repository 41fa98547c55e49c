//! The netcode report over real sockets: starts the real server binary and three real clients
//! (each driving `tickwire_shared::sync::netcode::Netcode` with the arena's prediction step and
//! the wall clock: input at 30 Hz, render at 60 Hz) over real kernel TCP, and prints one row of
//! the table in `docs/NETCODE.md`. Run it under `../shared/lag/lag.sh` for lag, jitter and loss
//! (`scripts/lagreport.sh` does, for every row); on its own it measures plain loopback.
//!
//! The clients: a wanderer (analog stick sweeping round, sliding along walls), a walker on a
//! square path (90° turns every 1.5 s) and an observer standing still; nobody aims at anybody.
//! The server runs with a view radius covering the whole arena, so every client draws the two
//! others. The truth a remote body is measured against is the server's own state of that body
//! at every tick, as its owner's replica received it (every snapshot carries its own body), so
//! no server internals are needed.
//!
//! Columns beyond the simulator's report: render-clock jumps (frames where the render tick
//! moved more than a quarter tick away from where real time moved it: count and largest, in
//! ticks), on-screen backward moves (frames where a remote body moved against its true motion
//! at the render tick), the largest per-frame skip of a remote body (world units: how far its
//! drawn move in a frame differs from what the body really did in that frame's real time; a
//! clock jump of 11 ticks shows as ~80), and snapshot stalls (the gap between consecutive
//! snapshot arrivals at a client, p99 and max, ms).

use anyhow::{Context, Result, bail};
use clap::Parser;
use glam::Vec2;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tickwire_arena::client::{ClientConfig, Intent, input_lanes, predict_step};
use tickwire_arena::quant::dequantize_pos;
use tickwire_arena::{BODY, body};
use tickwire_client::webtransport::discover;
use tickwire_client::{Client, Received};
use tickwire_shared::clock::percentile;
use tickwire_shared::sync::acked::{encode_datagram, peek_acked};
use tickwire_shared::sync::netcode::{Netcode, NetcodeConfig, NetcodeReport, Source};
use tickwire_shared::sync::{
    ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg, decode_server, encode_client,
};
use tickwire_shared::{NetId, PlayerId, Tick};

/// The netcode report over real TCP (run it under lag.sh).
#[derive(Debug, Parser)]
struct Args {
    /// The server binary (default: `tickwire` beside this one).
    #[arg(long)]
    server: Option<std::path::PathBuf>,
    /// Port the server listens on (127.0.0.1).
    #[arg(long, default_value_t = 7311)]
    port: u16,
    /// Seconds measured (after 3 s of warm-up).
    #[arg(long, default_value_t = 45.0)]
    seconds: f64,
    /// What the row says about the link (e.g. "200 ms RTT, jitter 20 ms, loss 1%").
    #[arg(long, default_value = "loopback")]
    label: String,
    /// Extra flags for the server, e.g. `--server-arg=--tcp-congestion=cubic`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Print the markdown header before the row.
    #[arg(long)]
    header: bool,
    /// The clients' transport: `websocket` (TCP), `websocket-mirror` (`1 + --mirrors` TCP
    /// connections per client, each bringing every message of the room: `?mirror=1` and
    /// mirrors attached) or
    /// `webtransport` (the server gets `--webtransport`; snapshots and inputs go as
    /// datagrams).
    #[arg(long, default_value = "websocket")]
    transport: String,
    /// With `websocket-mirror`: mirror connections per client.
    #[arg(long, default_value_t = 1)]
    mirrors: usize,
}

const TICK_RATE: f64 = 30.0;
const FPS: f64 = 60.0;

/// One rendered frame: local time, render tick, and each remote body drawn (its player, where,
/// how many ticks past its newest state).
type Frame = (f64, f64, Vec<(PlayerId, Vec2, f64)>);

/// What one client measured.
#[derive(Default)]
struct Measured {
    me: Option<PlayerId>,
    /// Its own body's server position and status (alive bit, respawns above) per tick.
    truth: BTreeMap<u32, (Vec2, i64)>,
    /// Per frame: (local time, render tick, remote bodies drawn: player, position, late ticks).
    frames: Vec<Frame>,
    /// Snapshot arrival times.
    arrivals: Vec<f64>,
    checks: u32,
    mismatches: u32,
    corrections: Vec<f32>,
    snaps: u32,
    teleports: u32,
}

fn stick(x: f32, y: f32) -> Intent {
    Intent {
        movement: Vec2::new(x, y),
        ..Intent::default()
    }
}

fn bot(kind: usize, n: u32) -> Intent {
    let f = n as f32;
    match kind {
        0 => stick((f * 0.07).sin(), (f * 0.031).cos()),
        1 => match (n / 45) % 4 {
            0 => stick(1.0, 0.0),
            1 => stick(0.0, 1.0),
            2 => stick(-1.0, 0.0),
            _ => stick(0.0, -1.0),
        },
        _ => stick(0.0, 0.0),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    WebSocket,
    Mirrored,
    WebTransport,
}

async fn run_client(
    url: String,
    kind: usize,
    start: Instant,
    until: f64,
    mode: Mode,
    mirrors: usize,
) -> Result<Measured> {
    let limit = Duration::from_secs(10);
    let webtransport = mode == Mode::WebTransport;
    let mut client = match mode {
        Mode::WebTransport => {
            let info = discover(&url, limit)
                .await
                .context("the server offers no WebTransport")?;
            Client::connect_webtransport(&url, &info, limit).await?
        }
        Mode::Mirrored => Client::connect(&format!("{url}?mirror=1"), limit).await?,
        Mode::WebSocket => Client::connect(&url, limit).await?,
    };
    let mut hello = Vec::new();
    encode_client(
        &ClientMsg::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            name: format!("lag{kind}"),
            auth_token: None,
            resume_token: None,
        }),
        &tickwire_shared::schema::Schema::new(""),
        &mut hello,
    );
    client.send_bytes(hello).await?;
    let welcome = match tokio::time::timeout(Duration::from_secs(10), client.recv_frame()).await? {
        Received::Binary(b) => match decode_server(&b, None, &[])? {
            ServerMsg::Welcome(w) => *w,
            other => bail!("expected a Welcome, got {other:?}"),
        },
        other => bail!("expected a Welcome, got {other:?}"),
    };
    if mode == Mode::Mirrored {
        for _ in 0..mirrors {
            client
                .attach_mirror(&welcome.resume_token, limit)
                .await
                .context("attaching a mirror")?;
        }
    }
    let arena = ClientConfig::parse(&welcome.game_config).context("the arena's config")?;
    let mut net = Netcode::new(
        &welcome,
        NetcodeConfig::new(&welcome),
        Some(Box::new(predict_step(&arena))),
    );
    let schema = welcome.schema.clone();
    let encode = |msg: &ClientMsg| {
        let mut out = Vec::new();
        encode_client(msg, &schema, &mut out);
        out
    };
    let now = || start.elapsed().as_secs_f64();
    let mut m = Measured {
        me: Some(welcome.player_id),
        ..Measured::default()
    };
    let mut inputs = tokio::time::interval(Duration::from_secs_f64(1.0 / TICK_RATE));
    let mut frames = tokio::time::interval(Duration::from_secs_f64(1.0 / FPS));
    inputs.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut predicted_after: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
    // Over datagrams: the newest tick applied, and whether a datagram has carried it.
    let mut ack: Option<(Tick, bool)> = None;
    let mut n = 0u32;
    let warmup = 3.0;
    while now() < until {
        tokio::select! {
            _ = inputs.tick() => {
                let msg = net.make_input(input_lanes(&bot(kind, n)));
                n += 1;
                if let ClientMsg::Input(cmds) = &msg
                    && let Some(seq) = cmds.last().map(|c| c.seq.0)
                    && let Some(p) = net.owned(Some(BODY)).next().and_then(|me| net.predicted(me))
                {
                    predicted_after.insert(seq, (p[body::x], p[body::y]));
                }
                if webtransport {
                    let a = ack.as_mut().map(|(t, sent)| {
                        *sent = true;
                        *t
                    });
                    client.send_datagram(encode_datagram(a, Some(&msg), &schema)).await?;
                } else {
                    client.send_bytes(encode(&msg)).await?;
                }
                if let Some(ping) = net.poll_ping(now()) {
                    client.send_bytes(encode(&ping)).await?;
                }
            }
            _ = frames.tick() => {
                let t = now();
                net.advance(t);
                if !net.clock.is_synced() || t < warmup {
                    continue;
                }
                let mut drawn = Vec::new();
                for (id, l) in net.replica.of_kind(BODY) {
                    if net.is_predicted(id) {
                        continue;
                    }
                    if let Some((pos, late)) = view(&net, id) {
                        drawn.push((PlayerId(l[body::player] as u32), pos, late));
                    }
                }
                m.frames.push((t, net.render_tick(), drawn));
            }
            frame = client.recv_frame() => match frame {
                Received::Binary(bytes) => {
                    let t = now();
                    // Over TCP a silence while the replica is still is quiet ticks: the
                    // server had nothing changed on them (docs/PROTOCOL.md), so the truth
                    // holds. (A lost datagram may have carried a change.)
                    let quiet = (!webtransport && net.replica.is_still()).then_some(net.replica.tick);
                    let snap = if peek_acked(&bytes)?.is_some() {
                        // A datagram: against its base; a stale one changes nothing.
                        let Some((s, _)) = net.handle_acked(&bytes, t).context("replica in step")? else {
                            continue;
                        };
                        if ack.is_some_and(|(_, sent)| !sent) {
                            client.send_datagram(encode_datagram(Some(s.tick), None, &schema)).await?;
                            ack = Some((s.tick, true));
                        } else {
                            ack = Some((s.tick, false));
                        }
                        Some(*s)
                    } else {
                        let msg = net.replica.decode(&bytes)?;
                        net.handle_message(&msg, t).context("replica in step")?;
                        match msg {
                            ServerMsg::Snapshot(s) => Some(s),
                            _ => None,
                        }
                    };
                    if let Some(s) = &snap {
                        if t >= warmup {
                            m.arrivals.push(t);
                        }
                        if let Some(me) = net.owned(Some(BODY)).next() {
                            let l = &net.replica.entities[&me].lanes;
                            let pos = Vec2::new(
                                dequantize_pos(l[body::x] as i32),
                                dequantize_pos(l[body::y] as i32),
                            );
                            let status = l[body::alive] | (l[body::respawns] << 1);
                            if let Some(from) = quiet
                                && let Some(held) = m.truth.get(&from.0).copied()
                            {
                                for q in from.0 + 1..s.tick.0 {
                                    m.truth.insert(q, held);
                                }
                            }
                            m.truth.insert(s.tick.0, (pos, status));
                            if let Some(want) = predicted_after.get(&s.ack_input_seq.0)
                                && t >= warmup
                            {
                                m.checks += 1;
                                if *want != (l[body::x], l[body::y]) {
                                    m.mismatches += 1;
                                }
                            }
                        }
                        predicted_after.retain(|seq, _| *seq > s.ack_input_seq.0);
                    }
                }
                Received::Closed { code, reason } => bail!("closed: {code:?} {reason}"),
            },
        }
    }
    let stats = net.stats();
    m.corrections = stats.corrections.clone();
    m.snaps = stats.snaps;
    m.teleports = net.clock.teleports();
    if mode == Mode::Mirrored {
        let ms = client.mirror_stats();
        anyhow::ensure!(
            ms.attached == mirrors,
            "{} of {mirrors} mirrors left at the end: {:?}",
            ms.attached,
            ms.closed
        );
        eprintln!(
            "client {kind}: {} messages from a mirror first, {} copies dropped",
            ms.from_mirror, ms.duplicates
        );
    }
    Ok(m)
}

/// Where a netcode draws a remote body (world units) and how late past its newest state.
fn view(net: &Netcode, id: NetId) -> Option<(Vec2, f64)> {
    let v = net.view(id)?;
    if v.lanes[body::alive] == 0.0 {
        return None;
    }
    let late = match v.source {
        Source::Interpolated { late_ticks } => late_ticks,
        _ => 0.0,
    };
    let fields = &net.replica.schema.kinds[usize::from(BODY)].fields;
    let w = |f: usize| fields[f].ty.dequantize(v.lanes[f]) as f32;
    Some((Vec2::new(w(body::x), w(body::y)), late))
}

/// The true position of a body at fractional tick `t`, if known on both sides and no
/// teleport or death lies between.
fn truth_at(path: &BTreeMap<u32, (Vec2, i64)>, t: f64) -> Option<Vec2> {
    let (ta, a) = path.range(..=t.floor() as u32).next_back()?;
    let (tb, b) = path.range(t.floor() as u32 + 1..).next()?;
    if a.1 != b.1 || a.1 & 1 == 0 || tb - ta > 3 {
        return None;
    }
    let f = ((t - f64::from(*ta)) / f64::from(tb - ta)) as f32;
    Some(a.0.lerp(b.0, f))
}

fn q(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    percentile(&mut v, p)
}

fn start_server(args: &Args) -> Result<Child> {
    let bin = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("tickwire"),
    };
    let child = Command::new(&bin)
        .args([
            "--addr",
            &format!("127.0.0.1:{}", args.port),
            "--view-radius",
            "5000",
        ])
        .args(&args.server_args)
        .args((args.transport == "webtransport").then_some("--webtransport"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(child)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mode = match args.transport.as_str() {
        "websocket" => Mode::WebSocket,
        "websocket-mirror" => Mode::Mirrored,
        "webtransport" => Mode::WebTransport,
        other => {
            bail!("--transport is websocket, websocket-mirror or webtransport, not {other:?}")
        }
    };
    let mut server = start_server(&args)?;
    let url = format!("ws://127.0.0.1:{}/ws", args.port);
    // Wait until it listens.
    let up = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", args.port)).is_err() {
        if up.elapsed() > Duration::from_secs(20) {
            let _ = server.kill();
            bail!("the server did not listen on port {}", args.port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let start = Instant::now();
    let until = 3.0 + args.seconds;
    let tasks: Vec<_> = (0..3)
        .map(|k| tokio::spawn(run_client(url.clone(), k, start, until, mode, args.mirrors)))
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await?);
    }
    let _ = server.kill();
    let _ = server.wait();
    let all: Vec<Measured> = all.into_iter().collect::<Result<_>>()?;
    let truth: BTreeMap<PlayerId, &BTreeMap<u32, (Vec2, i64)>> =
        all.iter().map(|m| (m.me.unwrap(), &m.truth)).collect();

    let dt = 1.0 / TICK_RATE;
    let (mut errors, mut steps) = (Vec::<f32>::new(), Vec::<f64>::new());
    let (mut backward, mut jumps, mut largest_jump) = (0u32, 0u32, 0.0f64);
    let mut gaps = Vec::new();
    // Time drawn and time extrapolating, over every remote body every client drew after the
    // warm-up (a frame lasts until the next).
    let (mut body_render_s, mut extrapolating_s) = (0.0, 0.0);
    for m in &all {
        for w in m.arrivals.windows(2) {
            gaps.push((w[1] - w[0]) * 1000.0);
        }
        let mut last: BTreeMap<PlayerId, Vec2> = BTreeMap::new();
        for (i, (t, render, drawn)) in m.frames.iter().enumerate() {
            if i > 0 {
                let (pt, prender, _) = &m.frames[i - 1];
                body_render_s += (t - pt) * drawn.len() as f64;
                extrapolating_s += (t - pt) * drawn.iter().filter(|d| d.2 > 0.0).count() as f64;
                let off = (render - prender) - (t - pt) / dt;
                if off.abs() > 0.25 {
                    jumps += 1;
                    largest_jump = largest_jump.max(off.abs());
                }
            }
            let mut seen = BTreeMap::new();
            for (player, pos, _) in drawn {
                seen.insert(*player, *pos);
                let Some(path) = truth.get(player) else {
                    continue;
                };
                let Some(true_pos) = truth_at(path, *render) else {
                    last.remove(player);
                    continue;
                };
                errors.push(pos.distance(true_pos));
                if let Some(prev) = last.get(player) {
                    let moved = *pos - *prev;
                    // Against what the body really did in this frame's real time.
                    let (pt, prender, _) = &m.frames[i - 1];
                    if let (Some(a), Some(b)) = (
                        truth_at(path, *prender),
                        truth_at(path, prender + (t - pt) / dt),
                    ) {
                        steps.push(f64::from((moved - (b - a)).length()));
                    }
                    // The body's true motion at the render tick, over one tick.
                    if let Some(ahead) = truth_at(path, render + 1.0) {
                        let v = ahead - true_pos;
                        if v.length() > 1.0 && moved.dot(v.normalize()) < -0.01 {
                            backward += 1;
                            if std::env::var_os("LAGREPORT_DEBUG").is_some() {
                                let late = drawn.iter().find(|d| d.0 == *player).map(|d| d.2);
                                eprintln!(
                                    "backward: t {t:.3} render {render:.2} player {player:?} moved {moved:?} true v {v:?} late {late:?} err {:.2}",
                                    pos.distance(true_pos)
                                );
                            }
                        }
                    }
                }
                last.insert(*player, *pos);
            }
            last.retain(|p, _| seen.contains_key(p));
        }
    }
    let mut stats = tickwire_shared::sync::netcode::NetcodeStats::default();
    for m in &all {
        stats.corrections.extend(&m.corrections);
        stats.snaps += m.snaps;
    }
    stats.body_render_s = body_render_s;
    stats.extrapolating_s = extrapolating_s;
    let report = NetcodeReport::new(args.label.clone(), &stats, &errors);
    let cc = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .unwrap_or_default()
        .trim()
        .to_string();
    // The server's default is cubic; `system` (or empty) keeps the namespace's.
    let server_cc = match args
        .server_args
        .iter()
        .rev()
        .find_map(|a| a.strip_prefix("--tcp-congestion="))
    {
        None => "cubic".to_string(),
        Some("" | "system") => cc.clone(),
        Some(name) => name.to_string(),
    };
    // Over WebTransport the snapshots and inputs ride QUIC datagrams: quinn's own congestion
    // control (cubic), not the kernel's TCP.
    let (server_cc, cc) = match mode {
        Mode::WebTransport => ("QUIC datagrams".to_string(), "quinn cubic".to_string()),
        Mode::Mirrored => (format!("{} × TCP {server_cc}", 1 + args.mirrors), cc),
        Mode::WebSocket => (server_cc, cc),
    };
    let row = report.markdown_row();
    let (checks, mismatches): (u32, u32) = all
        .iter()
        .fold((0, 0), |(c, x), m| (c + m.checks, x + m.mismatches));
    let teleports: u32 = all.iter().map(|m| m.teleports).sum();
    let extra = format!(
        " {} | {} | {:.2} | {} | {:.2} | {:.0} | {:.0} | {server_cc} / {cc} |",
        jumps,
        teleports,
        largest_jump,
        backward,
        q(&steps, 1.0),
        q(&gaps, 0.99),
        q(&gaps, 1.0),
    );
    if args.header {
        let (head, rule) = NetcodeReport::markdown_header()
            .split_once('\n')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap();
        println!(
            "{head} clock jumps | teleports | largest jump (ticks) | backward moves | largest frame skip | stall p99 (ms) | stall max (ms) | congestion control (server / client) |"
        );
        println!("{rule}---:|---:|---:|---:|---:|---:|---:|---|");
    }
    println!("{row}{extra}");
    eprintln!(
        "{}: {} frames, {} interpolation samples, prediction: {mismatches} of {checks} acknowledged states mispredicted, error p50 {:.3} p99.9 {:.3}",
        args.label,
        all.iter().map(|m| m.frames.len()).sum::<usize>(),
        errors.len(),
        q(
            &errors.iter().map(|e| f64::from(*e)).collect::<Vec<_>>(),
            0.5
        ),
        q(
            &errors.iter().map(|e| f64::from(*e)).collect::<Vec<_>>(),
            0.999
        ),
    );
    Ok(())
}
