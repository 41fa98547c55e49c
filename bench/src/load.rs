//! A load run: starts bots at the ramp rate, holds them for the duration, stops them all
//! cleanly, and builds the [`Report`]. Bounded in bots ([`MAX_BOTS`]) and time (connect
//! timeout, [`MAX_DURATION`], a bounded wait for bots to finish).

use crate::bot::{BotPlan, run_bot};
use crate::live::Live;
use crate::report::{Matchmaking, Memory, Report, ServerFigures};
use crate::server_metrics::{ServerSample, ServerWindow, metrics_url_for, rss_kib, scrape};
use crate::stats::{BotOutcome, BotStats, Ending, Totals};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Most bots one run may start (past one source address's ephemeral ports, give
/// `--local-addrs`).
pub const MAX_BOTS: usize = 200_000;
/// Longest hold.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// How long stopping bots may take before the rest are abandoned.
const STOP_GRACE: Duration = Duration::from_secs(15);

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

/// Settings of a load run (also the `bots` command line).
#[derive(Debug, Clone, clap::Args)]
pub struct LoadConfig {
    /// WebSocket URL of the server.
    #[arg(long, default_value = "ws://127.0.0.1:7000/ws")]
    pub url: String,
    /// Matchmaking URL (`http://host:port/match`): each bot POSTs there (with `?game=`) for a
    /// seat and connects to the ticket's node and room instead of --url, following redirects.
    /// The summary then reports matches per second and the time from the POST to the Welcome.
    #[arg(long)]
    pub match_url: Option<String>,
    /// Number of bots.
    #[arg(long, default_value_t = 100)]
    pub bots: usize,
    /// Bots started per second during ramp-up.
    #[arg(long, default_value_t = 200.0)]
    pub ramp: f64,
    /// How long all bots are held connected once the ramp is over.
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub duration: Duration,
    /// The game the server plays: arena, cards or survival (bots check it against the schema
    /// in `Welcome`).
    #[arg(long, default_value = "arena")]
    pub game: String,
    /// How bots play: a behaviour of the game (arena: wander, chase, strafe-and-shoot, idle,
    /// mixed; cards: mixed, first, random; survival: mixed, survivor, idle).
    #[arg(long, default_value = "mixed")]
    pub behaviour: String,
    /// Input commands per second per bot (0 = none).
    #[arg(long, default_value_t = 30.0)]
    pub input_rate: f64,
    /// Time between application pings of each bot.
    #[arg(long, default_value = "1s", value_parser = duration)]
    pub ping_interval: Duration,
    /// Each bot says something in chat this often (off unless given).
    #[arg(long, value_parser = duration)]
    pub chat_interval: Option<Duration>,
    /// Limit for one bot's connect + handshake + Welcome.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub connect_timeout: Duration,
    /// Base random seed of the bots' behaviour.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The server's `/metrics` URL (default: derived from --url; "off" to skip).
    #[arg(long)]
    pub metrics_url: Option<String>,
    /// Pid of a server on this machine, to report its memory per connection.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Scenario name for the report.
    #[arg(long)]
    pub scenario: Option<String>,
    /// The bots' transport: `websocket`; `webtransport` (the server needs `--webtransport`; a
    /// bot that cannot open a session fails to connect, so a run measures one transport); or
    /// `auto`, as the SDKs connect: WebTransport when the server offers it and the session
    /// is up within 2 s, else WebSocket; or `websocket-mirror`: two WebSockets per bot, each
    /// bringing every message of its room (`?mirror=1` and a mirror attached).
    #[arg(long, default_value = "websocket", value_parser = ["websocket", "webtransport", "auto", "websocket-mirror"])]
    pub transport: String,
    /// Source addresses the bots connect from, in turn (e.g. `127.0.0.2,127.0.0.3`; Linux
    /// routes all of 127/8 over loopback): each gives its own range of ephemeral ports (about
    /// 28,000), so more bots fit than one address allows. The server sees each as a client
    /// address of its own. WebSocket transports only.
    #[arg(long, value_delimiter = ',')]
    pub local_addrs: Vec<std::net::IpAddr>,
    /// Trust the certificates of this PEM file for `wss://` (a private CA): by default only
    /// the public roots are.
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<std::path::PathBuf>,
}

impl LoadConfig {
    /// Defaults pointed at `url`.
    pub fn for_url(url: &str) -> LoadConfig {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            c: LoadConfig,
        }
        let mut c = Wrap::parse_from(["bots"]).c;
        c.url = url.into();
        c
    }

    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), String> {
        if self.bots == 0 || self.bots > MAX_BOTS {
            return Err(format!("--bots must be 1..={MAX_BOTS}"));
        }
        if self.duration > MAX_DURATION {
            return Err(format!("--duration must be at most {MAX_DURATION:?}"));
        }
        if !self.ramp.is_finite() || self.ramp <= 0.0 {
            return Err("--ramp must be positive".into());
        }
        if !(0.0..=1000.0).contains(&self.input_rate) {
            return Err("--input-rate must be 0..=1000".into());
        }
        tickwire_client::parse_url(&self.url).map_err(|e| e.to_string())?;
        if !self.local_addrs.is_empty() && !self.transport.starts_with("websocket") {
            return Err("--local-addrs works with the websocket transports only".into());
        }
        if let Some(m) = &self.match_url
            && !(m.starts_with("http://") || m.starts_with("https://"))
        {
            return Err(format!(
                "--match-url {m:?}: expected http://host:port/match or https://…"
            ));
        }
        crate::behaviour::check(&self.game, &self.behaviour)
    }

    fn metrics(&self) -> Option<String> {
        match self.metrics_url.as_deref() {
            Some("off") => None,
            Some(u) => Some(u.to_string()),
            None => metrics_url_for(&self.url),
        }
    }
}

async fn sample(url: Option<&str>, pid: Option<u32>) -> Option<ServerSample> {
    let mut s = match url {
        Some(u) => scrape(u).await.ok()?,
        None => ServerSample::default(),
    };
    s.rss_kib = pid.and_then(rss_kib);
    s.cpu_s = pid.and_then(crate::server_metrics::cpu_seconds);
    Some(s)
}

fn progress_bar(target: u64, show: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(
        Some(target),
        if show {
            ProgressDrawTarget::stderr_with_hz(2)
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    pb.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} connected  {msg}")
            .expect("static template is valid")
            .progress_chars("=> "),
    );
    pb
}

/// Runs a load test. `show_progress` draws the live bar on stderr.
pub async fn run_load(cfg: &LoadConfig, show_progress: bool) -> Result<Report, String> {
    cfg.validate()?;
    let metrics_url = cfg.metrics();
    let before = sample(metrics_url.as_deref(), cfg.server_pid).await;
    let own_before = rss_kib(std::process::id());
    let live = Arc::new(Live::default());
    let stop = CancellationToken::new();
    let plan = Arc::new(BotPlan {
        url: cfg.url.clone(),
        match_url: cfg.match_url.clone(),
        game: cfg.game.clone(),
        behaviour: cfg.behaviour.clone(),
        input_rate: cfg.input_rate,
        ping_interval: cfg.ping_interval,
        chat_interval: cfg.chat_interval,
        connect_timeout: cfg.connect_timeout,
        seed: cfg.seed,
        transport: cfg.transport.clone(),
        local_addrs: cfg.local_addrs.clone(),
        tls: match &cfg.tls_ca {
            Some(path) => Some(tickwire_client::tls_config_from_pem(path)?),
            None => None,
        },
    });

    let pb = progress_bar(cfg.bots as u64, show_progress);
    let display = {
        let live = live.clone();
        let pb = pb.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            let (mut snaps, mut bin, mut bout) = (0u64, 0u64, 0u64);
            let mut rtt = None;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = every.tick() => {}
                }
                let s = live.snapshots.load(Ordering::Relaxed);
                let i = live.bytes_in.load(Ordering::Relaxed);
                let o = live.bytes_out.load(Ordering::Relaxed);
                rtt = live.take_rtt_p50_ms().or(rtt);
                pb.set_position(live.connected.load(Ordering::Relaxed));
                pb.set_message(format!(
                    "{} snap/s  in {:.0} KiB/s  out {:.0} KiB/s  rtt p50 {}  failed {}  errors {}",
                    s - snaps,
                    (i - bin) as f64 / 1024.0,
                    (o - bout) as f64 / 1024.0,
                    rtt.map_or_else(|| "-".into(), |r: f64| format!("{r:.1} ms")),
                    live.failed.load(Ordering::Relaxed),
                    live.errors.load(Ordering::Relaxed),
                ));
                (snaps, bin, bout) = (s, i, o);
            }
        })
    };

    // Ramp: start bot i at i / ramp seconds.
    let start = Instant::now();
    let t0 = tokio::time::Instant::now();
    let mut handles = Vec::with_capacity(cfg.bots);
    for i in 0..cfg.bots {
        tokio::time::sleep_until(t0 + Duration::from_secs_f64(i as f64 / cfg.ramp)).await;
        handles.push(tokio::spawn(run_bot(
            i,
            plan.clone(),
            live.clone(),
            stop.clone(),
        )));
    }
    // The hold starts when every bot has connected or given up (bounded by the connect
    // timeout, which every attempt obeys).
    let settle_deadline =
        tokio::time::Instant::now() + cfg.connect_timeout + Duration::from_secs(1);
    while (live.connected.load(Ordering::Relaxed) + live.failed.load(Ordering::Relaxed))
        < cfg.bots as u64
        && tokio::time::Instant::now() < settle_deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_s = start.elapsed().as_secs_f64();
    let hold_start = sample(metrics_url.as_deref(), cfg.server_pid).await;
    let connected_at_hold = live.connected.load(Ordering::Relaxed);
    let hold_began = Instant::now();
    tokio::time::sleep(cfg.duration).await;
    let after = sample(metrics_url.as_deref(), cfg.server_pid).await;
    let own_loaded = rss_kib(std::process::id());
    let connected_at_end = live.connected.load(Ordering::Relaxed);
    let hold_s = hold_began.elapsed().as_secs_f64();

    stop.cancel();
    let _ = display.await;
    pb.finish_and_clear();
    let mut outcomes = Vec::with_capacity(handles.len());
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    for h in handles {
        let abort = h.abort_handle();
        match tokio::time::timeout_at(deadline, h).await {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => outcomes.push(BotOutcome {
                ending: Ending::Unexpected(None, format!("bot task failed: {e}")),
                stats: BotStats::default(),
            }),
            Err(_) => {
                abort.abort();
                outcomes.push(BotOutcome {
                    ending: Ending::Unexpected(None, "did not stop in time".into()),
                    stats: BotStats::default(),
                });
            }
        }
    }
    let wall_s = start.elapsed().as_secs_f64();

    let totals = Totals::from_outcomes(&outcomes);
    let mut report = Report::from_totals(&totals, wall_s);
    report.scenario = cfg.scenario.clone();
    report.bots = cfg.bots as u64;
    report.behaviour = format!("{} {}", cfg.game, cfg.behaviour);
    report.input_rate = cfg.input_rate;
    report.ramp_s = ramp_s;
    report.hold_s = hold_s;
    report.bots_memory = match (own_before, own_loaded) {
        (Some(b), Some(a)) if connected_at_end > 0 => Some(Memory {
            rss_before_kib: b,
            rss_loaded_kib: a,
            rss_per_connection_kib: a.saturating_sub(b) as f64 / connected_at_end as f64,
        }),
        _ => None,
    };
    if cfg.match_url.is_some() {
        report.matchmaking = Some(Matchmaking::from_totals(&totals, ramp_s));
    }
    if metrics_url.is_some()
        && let (Some(before), Some(hold_start), Some(after)) = (before, hold_start, after)
    {
        let memory = match (before.rss_kib, after.rss_kib) {
            (Some(b), Some(a)) if connected_at_hold > 0 => Some(Memory {
                rss_before_kib: b,
                rss_loaded_kib: a,
                rss_per_connection_kib: a.saturating_sub(b) as f64 / connected_at_hold as f64,
            }),
            _ => None,
        };
        let cpu_cores = match (hold_start.cpu_s, after.cpu_s) {
            (Some(a), Some(b)) if hold_s > 0.0 => Some((b - a) / hold_s),
            _ => None,
        };
        report.server = Some(ServerFigures {
            cpu_cores,
            hold: ServerWindow::between(&hold_start, &after),
            before,
            hold_start,
            after,
            memory,
        });
    }
    report.judge();
    Ok(report)
}
