//! The server's own figures, read from its Prometheus text at `/metrics` and, when the server
//! runs on this machine, its resident memory from `/proc/<pid>/status`.
//!
//! Tick-duration percentiles are estimated from histogram buckets: the quantile's rank is
//! located in a bucket and interpolated linearly between that bucket's bounds, the way
//! Prometheus' `histogram_quantile` does. The estimate is only as fine as the buckets; the
//! upper bound of the bucket holding the quantile is reported next to it.

use serde::Serialize;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why the metrics could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// Socket trouble.
    #[error("cannot fetch {0}: {1}")]
    Io(String, std::io::Error),
    /// No answer in time.
    #[error("fetching {0} timed out")]
    Timeout(String),
    /// Not a 200 answer.
    #[error("{0} answered: {1}")]
    Status(String, String),
}

/// One reading of the server's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerSample {
    /// Tick-duration histogram: (upper bound in seconds, cumulative count), ascending,
    /// ending with `+Inf`.
    pub tick_buckets: Vec<(f64, u64)>,
    /// Ticks observed.
    pub ticks: u64,
    /// Sum of tick durations, seconds.
    pub tick_seconds: f64,
    /// Snapshots not built because an outbox was full.
    pub snapshots_skipped: u64,
    /// Snapshots queued.
    pub snapshots_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Players in the room.
    pub players: u64,
    /// Open WebSocket connections.
    pub connections: u64,
    /// Resident set size of the server process, KiB (when its pid was given).
    pub rss_kib: Option<u64>,
    /// CPU time the server process has used, user + system, seconds (when its pid was
    /// given).
    pub cpu_s: Option<f64>,
}

fn value(line: &str) -> Option<f64> {
    line.rsplit(' ').next()?.parse().ok()
}

/// Parses the Prometheus/OpenMetrics text the server serves.
pub fn parse_metrics(text: &str) -> ServerSample {
    let mut s = ServerSample::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(v) = value(line) else { continue };
        let name = line.split([' ', '{']).next().unwrap_or("");
        match name {
            "tickwire_tick_duration_seconds_bucket" => {
                let le = line
                    .split("le=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .map(|b| {
                        if b == "+Inf" {
                            f64::INFINITY
                        } else {
                            b.parse().unwrap_or(f64::NAN)
                        }
                    });
                if let Some(le) = le.filter(|x| !x.is_nan()) {
                    s.tick_buckets.push((le, v as u64));
                }
            }
            "tickwire_tick_duration_seconds_count" => s.ticks = v as u64,
            "tickwire_tick_duration_seconds_sum" => s.tick_seconds = v,
            "tickwire_snapshots_skipped_total" => s.snapshots_skipped = v as u64,
            "tickwire_snapshots_sent_total" => s.snapshots_sent = v as u64,
            "tickwire_bytes_sent_total" => s.bytes_sent = v as u64,
            "tickwire_bytes_received_total" => s.bytes_received = v as u64,
            "tickwire_players" => s.players = v as u64,
            "tickwire_connections" => s.connections = v as u64,
            _ => {}
        }
    }
    s.tick_buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    s
}

/// Estimated quantile of cumulative `buckets` (upper bound seconds, count), with the upper
/// bound of the bucket that holds it. `None` when empty.
pub fn bucket_quantile(buckets: &[(f64, u64)], q: f64) -> Option<(f64, f64)> {
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut lower = 0.0;
    let mut below = 0u64;
    for &(upper, count) in buckets {
        if count as f64 >= rank && count > below {
            if upper.is_infinite() {
                // Prometheus' convention: the highest finite bound.
                return Some((lower, upper));
            }
            let frac = (rank - below as f64) / (count - below) as f64;
            return Some((lower + (upper - lower) * frac.clamp(0.0, 1.0), upper));
        }
        lower = upper;
        below = count;
    }
    None
}

/// What the server did between two samples.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerWindow {
    /// Ticks in the window.
    pub ticks: u64,
    /// Mean tick duration, ms.
    pub tick_mean_ms: f64,
    /// Estimated median tick duration, ms (from buckets).
    pub tick_p50_ms: f64,
    /// Estimated 99th percentile tick duration, ms (from buckets).
    pub tick_p99_ms: f64,
    /// Upper bound of the bucket holding the 99th percentile, ms.
    pub tick_p99_bucket_le_ms: f64,
    /// Snapshots skipped because an outbox was full.
    pub snapshots_skipped: u64,
    /// Snapshots sent.
    pub snapshots_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
}

impl ServerWindow {
    /// The difference `after − before`.
    pub fn between(before: &ServerSample, after: &ServerSample) -> ServerWindow {
        let buckets: Vec<(f64, u64)> = after
            .tick_buckets
            .iter()
            .map(|&(le, n)| {
                let was = before
                    .tick_buckets
                    .iter()
                    .find(|b| b.0 == le)
                    .map_or(0, |b| b.1);
                (le, n.saturating_sub(was))
            })
            .collect();
        let ticks = after.ticks.saturating_sub(before.ticks);
        let p50 = bucket_quantile(&buckets, 0.5).unwrap_or_default();
        let p99 = bucket_quantile(&buckets, 0.99).unwrap_or_default();
        ServerWindow {
            ticks,
            tick_mean_ms: if ticks > 0 {
                (after.tick_seconds - before.tick_seconds) / ticks as f64 * 1000.0
            } else {
                0.0
            },
            tick_p50_ms: p50.0 * 1000.0,
            tick_p99_ms: p99.0 * 1000.0,
            tick_p99_bucket_le_ms: p99.1 * 1000.0,
            snapshots_skipped: after
                .snapshots_skipped
                .saturating_sub(before.snapshots_skipped),
            snapshots_sent: after.snapshots_sent.saturating_sub(before.snapshots_sent),
            bytes_sent: after.bytes_sent.saturating_sub(before.bytes_sent),
        }
    }
}

/// `http://host:port/metrics` for a `ws://host:port/...` URL.
pub fn metrics_url_for(ws_url: &str) -> Option<String> {
    let (authority, _) = tickwire_client::parse_ws_url(ws_url).ok()?;
    Some(format!("http://{authority}/metrics"))
}

/// Fetches and parses `/metrics` (plain HTTP/1.1 GET over loopback or LAN).
pub async fn scrape(url: &str) -> Result<ServerSample, ScrapeError> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let fetch = async {
        let mut s = TcpStream::connect(authority).await?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
    };
    let text = tokio::time::timeout(Duration::from_secs(10), fetch)
        .await
        .map_err(|_| ScrapeError::Timeout(url.into()))?
        .map_err(|e| ScrapeError::Io(url.into(), e))?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("");
    if !status.contains(" 200") {
        return Err(ScrapeError::Status(url.into(), status.into()));
    }
    Ok(parse_metrics(body))
}

/// Resident memory of a local process, KiB (Linux `/proc`; `None` elsewhere or if gone).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time (user + system) a process has used, seconds, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count the fields after its closing paren.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    // Fields 3.. follow: utime and stime are fields 14 and 15, so the 12th and 13th here.
    let utime: f64 = f.nth(11)?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    // /proc counts in USER_HZ, which Linux fixes at 100 for its user-space ABI.
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# HELP tickwire_tick_duration_seconds Time spent per room tick.
# TYPE tickwire_tick_duration_seconds histogram
tickwire_tick_duration_seconds_sum 0.5
tickwire_tick_duration_seconds_count 200
tickwire_tick_duration_seconds_bucket{le=\"0.001\"} 100
tickwire_tick_duration_seconds_bucket{le=\"0.002\"} 190
tickwire_tick_duration_seconds_bucket{le=\"0.005\"} 200
tickwire_tick_duration_seconds_bucket{le=\"+Inf\"} 200
# TYPE tickwire_snapshots_skipped counter
tickwire_snapshots_skipped_total 7
tickwire_snapshots_sent_total 4000
tickwire_bytes_sent_total 123456
tickwire_players 20
tickwire_connections 21
# EOF
";

    #[test]
    fn parses_the_server_text_and_estimates_quantiles_from_buckets() {
        let s = parse_metrics(SAMPLE);
        assert_eq!(s.ticks, 200);
        assert_eq!(s.snapshots_skipped, 7);
        assert_eq!((s.players, s.connections), (20, 21));
        assert_eq!(s.tick_buckets.len(), 4);
        // Median: rank 100 is the top of the first bucket.
        let (p50, le) = bucket_quantile(&s.tick_buckets, 0.5).unwrap();
        assert!((p50 - 0.001).abs() < 1e-12 && le == 0.001);
        // p99: rank 198 lies 8/10 of the way through the 2..5 ms bucket.
        let (p99, le) = bucket_quantile(&s.tick_buckets, 0.99).unwrap();
        assert!((p99 - 0.0044).abs() < 1e-9, "{p99}");
        assert_eq!(le, 0.005);
        let w = ServerWindow::between(&ServerSample::default(), &s);
        assert_eq!(w.ticks, 200);
        assert!((w.tick_mean_ms - 2.5).abs() < 1e-9);
        assert_eq!(w.snapshots_skipped, 7);
        // A window that saw nothing new.
        let w = ServerWindow::between(&s, &s);
        assert_eq!((w.ticks, w.tick_p99_ms), (0, 0.0));
    }

    #[test]
    fn metrics_url_follows_the_ws_url() {
        assert_eq!(
            metrics_url_for("ws://127.0.0.1:7000/ws").as_deref(),
            Some("http://127.0.0.1:7000/metrics")
        );
    }
}
