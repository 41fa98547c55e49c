//! The result of a load run: a serializable [`Report`] (written with `--json`), its human
//! summary, and the verdict (which targets failed).

use crate::server_metrics::{ServerSample, ServerWindow};
use crate::stats::Totals;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Matchmaking figures of a run with `--match-url`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Matchmaking {
    /// Bots that got a ticket and then a `Welcome` with it.
    pub matches: u64,
    /// `matches` over the ramp (from the first bot's start until all connected or gave up).
    pub matches_per_s: f64,
    /// From the start of `POST /match` to the `Welcome`, ms.
    pub time_to_seat_ms: Percentiles,
    /// Redirects bots followed on the way (a ticket names the right node: normally 0).
    pub redirects: u64,
    /// Bots whose `POST /match` failed.
    pub match_failures: u64,
}

impl Matchmaking {
    /// From the bots' totals; `ramp_s` is the ramp's length in seconds.
    pub fn from_totals(t: &Totals, ramp_s: f64) -> Matchmaking {
        let s = &t.stats;
        let h = &s.time_to_seat;
        Matchmaking {
            matches: s.matches,
            matches_per_s: if ramp_s > 0.0 {
                s.matches as f64 / ramp_s
            } else {
                0.0
            },
            time_to_seat_ms: Percentiles {
                samples: h.count(),
                p50: h.quantile_ms(0.5),
                p95: h.quantile_ms(0.95),
                p99: h.quantile_ms(0.99),
                max: h.max_ms(),
            },
            redirects: s.redirects,
            match_failures: t
                .failure_reasons
                .iter()
                .filter(|(r, _)| r.starts_with("match: "))
                .map(|(_, n)| n)
                .sum(),
        }
    }
}

/// Percentiles of a latency, ms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub samples: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Connection counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Connections {
    /// Bots started.
    pub attempted: u64,
    /// Bots that got a `Welcome`.
    pub ok: u64,
    /// Bots that did not.
    pub failed: u64,
    /// Failures by reason.
    pub failure_reasons: BTreeMap<String, u64>,
    /// Connections the server or network ended before the run did.
    pub unexpected_disconnects: u64,
    /// Those by close code (`none` = socket dropped without a close frame).
    pub close_codes: BTreeMap<String, u64>,
}

/// Traffic per connected client per second (payload bytes, WebSocket framing excluded).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Traffic {
    /// Bytes received per client per second.
    pub bytes_in_per_client_s: f64,
    /// Bytes sent per client per second.
    pub bytes_out_per_client_s: f64,
    /// Messages received per client per second.
    pub msgs_in_per_client_s: f64,
    /// Messages sent per client per second.
    pub msgs_out_per_client_s: f64,
    /// Messages received per second, all bots.
    pub msgs_in_per_s: f64,
    /// Messages sent per second, all bots.
    pub msgs_out_per_s: f64,
    /// Snapshots received per client per second.
    pub snapshots_per_client_s: f64,
    /// Mean snapshot payload, bytes.
    pub bytes_per_snapshot: f64,
    /// Mean entities in a bot's view (its own included).
    pub entities_in_view: f64,
    /// Mean entity updates per snapshot.
    pub updates_per_snapshot: f64,
    /// Snapshot bytes divided by entity updates (header included: an upper bound).
    pub bytes_per_entity_update: f64,
}

/// Server memory, when the server's pid was given.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    /// RSS before any bot connected, KiB.
    pub rss_before_kib: u64,
    /// RSS with every bot connected (end of the hold), KiB.
    pub rss_loaded_kib: u64,
    /// (loaded − before) / connected bots, KiB.
    pub rss_per_connection_kib: f64,
}

/// The server's own figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerFigures {
    /// `/metrics` before the first bot connected.
    pub before: ServerSample,
    /// `/metrics` once every bot was connected (start of the hold).
    pub hold_start: ServerSample,
    /// `/metrics` at the end of the hold, before bots disconnected.
    pub after: ServerSample,
    /// What the server did during the hold (tick percentiles estimated from buckets).
    pub hold: ServerWindow,
    /// Memory.
    pub memory: Option<Memory>,
    /// The server process's CPU during the hold, in cores (CPU seconds per second), when its
    /// pid was given.
    pub cpu_cores: Option<f64>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Scenario name, if given.
    pub scenario: Option<String>,
    /// Target bot count.
    pub bots: u64,
    /// Behaviour.
    pub behaviour: String,
    /// Inputs per second per bot.
    pub input_rate: f64,
    /// Seconds from the first connect until every bot was connected.
    pub ramp_s: f64,
    /// Seconds all bots were held connected.
    pub hold_s: f64,
    /// Connections.
    pub connections: Connections,
    /// Application-level ping round trips.
    pub rtt_ms: Percentiles,
    /// 99th percentile of |snapshot inter-arrival − tick period|, ms.
    pub snapshot_jitter_p99_ms: f64,
    /// Traffic.
    pub traffic: Traffic,
    /// Snapshots received in all.
    pub snapshots: u64,
    /// Ticks without a snapshot, as seen by bots (gaps in snapshot ticks).
    pub missed_snapshot_ticks: u64,
    /// Checksum interval the server announced (0 = it sends none: divergences go unseen).
    pub checksum_interval: u16,
    /// Snapshots whose checksum a replica verified.
    pub checksums_verified: u64,
    /// Checksums that disagreed with a replica (must be 0).
    pub divergences: u64,
    /// Snapshots a replica could not apply (must be 0).
    pub replica_errors: u64,
    /// Frames that did not decode (must be 0).
    pub undecodable: u64,
    /// The server's figures (absent when `/metrics` could not be read).
    pub server: Option<ServerFigures>,
    /// The bots' own process: RSS before the first bot and at the end of the hold, per bot
    /// connected then (what each simulated player costs the load tester).
    pub bots_memory: Option<Memory>,
    /// Seats through `POST /match` (with `--match-url` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matchmaking: Option<Matchmaking>,
    /// Why the run failed; empty when it passed.
    pub failures: Vec<String>,
}

impl Report {
    /// Fills the bot-side figures from totals; `wall_s` is the run's length in seconds.
    pub fn from_totals(t: &Totals, wall_s: f64) -> Report {
        let s = &t.stats;
        let pct = |h: &crate::stats::Latency| Percentiles {
            samples: h.count(),
            p50: h.quantile_ms(0.5),
            p95: h.quantile_ms(0.95),
            p99: h.quantile_ms(0.99),
            max: h.max_ms(),
        };
        let per_wall = |n: u64| if wall_s > 0.0 { n as f64 / wall_s } else { 0.0 };
        let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
        Report {
            connections: Connections {
                attempted: t.attempted,
                ok: t.ok,
                failed: t.failed,
                failure_reasons: t.failure_reasons.clone(),
                unexpected_disconnects: t.unexpected_disconnects(),
                close_codes: t.unexpected_closes.clone(),
            },
            rtt_ms: pct(&s.rtt),
            snapshot_jitter_p99_ms: s.jitter.quantile_ms(0.99),
            traffic: Traffic {
                bytes_in_per_client_s: t.per_client_second(s.bytes_in),
                bytes_out_per_client_s: t.per_client_second(s.bytes_out),
                msgs_in_per_client_s: t.per_client_second(s.msgs_in),
                msgs_out_per_client_s: t.per_client_second(s.msgs_out),
                msgs_in_per_s: per_wall(s.msgs_in),
                msgs_out_per_s: per_wall(s.msgs_out),
                snapshots_per_client_s: t.per_client_second(s.snapshots),
                bytes_per_snapshot: ratio(s.snapshot_bytes, s.snapshots),
                entities_in_view: ratio(s.entities_in_view, s.snapshots),
                updates_per_snapshot: ratio(s.entity_updates, s.snapshots),
                bytes_per_entity_update: ratio(s.snapshot_bytes, s.entity_updates),
            },
            snapshots: s.snapshots,
            missed_snapshot_ticks: s.missed_ticks,
            checksum_interval: s.checksum_interval,
            checksums_verified: s.checksums_verified,
            divergences: s.divergences,
            replica_errors: s.replica_errors,
            undecodable: s.undecodable,
            ..Report::default()
        }
    }

    /// Decides the verdict: connection failures, unexpected disconnects, divergences, replica
    /// errors and undecodable frames each fail the run.
    pub fn judge(&mut self) {
        let mut f = Vec::new();
        let c = &self.connections;
        if c.failed > 0 {
            f.push(format!(
                "{} of {} connections failed",
                c.failed, c.attempted
            ));
        }
        if c.unexpected_disconnects > 0 {
            f.push(format!(
                "{} unexpected disconnects",
                c.unexpected_disconnects
            ));
        }
        if self.divergences > 0 {
            f.push(format!("{} replica divergences", self.divergences));
        }
        if self.replica_errors > 0 {
            f.push(format!(
                "{} snapshots could not be applied",
                self.replica_errors
            ));
        }
        if self.checksum_interval > 0 && self.snapshots > 0 && self.checksums_verified == 0 {
            f.push("the server announced checksums but none was verified".into());
        }
        if self.undecodable > 0 {
            f.push(format!("{} undecodable frames", self.undecodable));
        }
        self.failures = f;
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let c = &self.connections;
        let t = &self.traffic;
        let _ = writeln!(
            s,
            "== load run{}: {} bots ({}, {} inputs/s), ramp {:.1}s, hold {:.1}s",
            self.scenario
                .as_deref()
                .map(|n| format!(" '{n}'"))
                .unwrap_or_default(),
            self.bots,
            self.behaviour,
            self.input_rate,
            self.ramp_s,
            self.hold_s
        );
        let _ = writeln!(
            s,
            "connections      attempted {}  ok {}  failed {}  unexpected disconnects {} {:?}",
            c.attempted, c.ok, c.failed, c.unexpected_disconnects, c.close_codes
        );
        for (reason, n) in &c.failure_reasons {
            let _ = writeln!(s, "  failed: {n} × {reason}");
        }
        if let Some(m) = &self.matchmaking {
            let t = &m.time_to_seat_ms;
            let _ = writeln!(
                s,
                "matchmaking      {} matches ({:.1}/s over the ramp), {} failed, time to seat p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms, {} redirects",
                m.matches, m.matches_per_s, m.match_failures, t.p50, t.p99, t.max, m.redirects
            );
        }
        let r = &self.rtt_ms;
        let _ = writeln!(
            s,
            "rtt (app ping)   p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} samples)",
            r.p50, r.p95, r.p99, r.max, r.samples
        );
        let _ = writeln!(
            s,
            "snapshots        {} received, {:.1}/s per client, jitter p99 {:.2} ms, {} ticks missed",
            self.snapshots,
            t.snapshots_per_client_s,
            self.snapshot_jitter_p99_ms,
            self.missed_snapshot_ticks
        );
        let _ = writeln!(
            s,
            "per client       in {:.0} B/s ({:.2} KiB/s)  out {:.0} B/s  msgs in {:.1}/s out {:.1}/s",
            t.bytes_in_per_client_s,
            t.bytes_in_per_client_s / 1024.0,
            t.bytes_out_per_client_s,
            t.msgs_in_per_client_s,
            t.msgs_out_per_client_s
        );
        let _ = writeln!(
            s,
            "snapshot size    {:.1} B mean, {:.1} entities in view, {:.1} entity updates each, {:.2} B per update",
            t.bytes_per_snapshot,
            t.entities_in_view,
            t.updates_per_snapshot,
            t.bytes_per_entity_update
        );
        let _ = writeln!(
            s,
            "all bots         msgs in {:.0}/s  out {:.0}/s",
            t.msgs_in_per_s, t.msgs_out_per_s
        );
        let _ = writeln!(
            s,
            "consistency      {} checksums verified (server sends one every {} ticks{}), {} divergences, {} replica errors, {} undecodable",
            self.checksums_verified,
            self.checksum_interval,
            if self.checksum_interval == 0 {
                ": OFF, start the server with --checksum-interval N to check replicas"
            } else {
                ""
            },
            self.divergences,
            self.replica_errors,
            self.undecodable
        );
        match &self.server {
            Some(sv) => {
                let h = &sv.hold;
                let _ = writeln!(
                    s,
                    "server (hold)    {} ticks, tick mean {:.3} ms, p50 ≈{:.3} ms, p99 ≈{:.3} ms (bucket ≤{} ms), {} snapshots skipped of {}",
                    h.ticks,
                    h.tick_mean_ms,
                    h.tick_p50_ms,
                    h.tick_p99_ms,
                    h.tick_p99_bucket_le_ms,
                    h.snapshots_skipped,
                    h.snapshots_sent + h.snapshots_skipped
                );
                let _ = writeln!(
                    s,
                    "server (totals)  before: {} players, {} skipped; after: {} players, {} skipped",
                    sv.before.players,
                    sv.before.snapshots_skipped,
                    sv.after.players,
                    sv.after.snapshots_skipped
                );
                if let Some(m) = &sv.memory {
                    let _ = writeln!(
                        s,
                        "server memory    RSS {} KiB before, {} KiB loaded: {:.1} KiB per connection",
                        m.rss_before_kib, m.rss_loaded_kib, m.rss_per_connection_kib
                    );
                }
                if let Some(c) = sv.cpu_cores {
                    let per = if self.connections.ok > 0 {
                        c * 1e3 / self.connections.ok as f64
                    } else {
                        0.0
                    };
                    let _ = writeln!(
                        s,
                        "server cpu       {c:.3} cores during the hold: {per:.3} ms of CPU per second per connection"
                    );
                }
            }
            None => {
                let _ = writeln!(s, "server           /metrics not available");
            }
        }
        // The bots' own process: measured without the server's /metrics.
        if let Some(m) = &self.bots_memory {
            let _ = writeln!(
                s,
                "bots memory      RSS {} KiB before, {} KiB loaded: {:.1} KiB per bot",
                m.rss_before_kib, m.rss_loaded_kib, m.rss_per_connection_kib
            );
        }
        if self.passed() {
            let _ = writeln!(s, "result           PASS");
        } else {
            let _ = writeln!(s, "result           FAIL: {}", self.failures.join("; "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{BotOutcome, BotStats, Ending};
    use std::time::Duration;

    #[test]
    fn verdict_fails_on_failed_connections_and_divergences_only() {
        let ok = BotOutcome {
            ending: Ending::Clean,
            stats: BotStats {
                snapshots: 300,
                snapshot_bytes: 30_000,
                entity_updates: 6_000,
                bytes_in: 31_000,
                connected_for: Duration::from_secs(10),
                ..BotStats::default()
            },
        };
        let mut r = Report::from_totals(&Totals::from_outcomes([&ok, &ok]), 10.0);
        r.judge();
        assert!(r.passed(), "{:?}", r.failures);
        assert_eq!(r.traffic.bytes_in_per_client_s, 3100.0);
        assert_eq!(r.traffic.bytes_per_snapshot, 100.0);
        assert_eq!(r.traffic.bytes_per_entity_update, 5.0);
        assert!(r.summary().contains("PASS"));

        let mut diverged = ok.clone();
        diverged.stats.divergences = 1;
        let failed = BotOutcome {
            ending: Ending::ConnectFailed("timed out".into()),
            stats: BotStats::default(),
        };
        let mut r = Report::from_totals(&Totals::from_outcomes([&ok, &diverged, &failed]), 10.0);
        r.judge();
        assert_eq!(r.failures.len(), 2, "{:?}", r.failures);
        assert!(r.summary().contains("FAIL"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["divergences"], 1);
        assert_eq!(json["connections"]["failed"], 1);
    }
}
