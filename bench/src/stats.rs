//! What each bot measures, and how bots' measurements add up. Latencies are kept in HDR
//! histograms (microseconds, 2 significant digits), so merging thousands of bots is exact
//! for counts and within 1 % for percentiles. A histogram is made at its first sample (about
//! 10 KiB): a bot that never measures something pays nothing for it, which keeps an idle bot
//! cheap (at 3 digits, three histograms were 300 KiB a bot).

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest latency recorded, in microseconds (larger values are clamped to it).
const MAX_MICROS: u64 = 60_000_000;

/// A latency histogram in microseconds (none until the first sample).
#[derive(Debug, Clone, Default)]
pub struct Latency(Option<Box<Histogram<u32>>>);

fn histogram() -> Box<Histogram<u32>> {
    Box::new(Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("constant bounds are valid"))
}

impl Latency {
    /// Records one sample.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(MAX_MICROS);
        self.0
            .get_or_insert_with(histogram)
            .saturating_record(us.clamp(1, MAX_MICROS));
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Latency) {
        if let Some(o) = &other.0 {
            // Same bounds on both sides, so adding cannot fail.
            let _ = self.0.get_or_insert_with(histogram).add(&**o);
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.0.as_ref().map_or(0, |h| h.len())
    }

    /// The value at quantile `q` (0..=1) in milliseconds; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        match &self.0 {
            Some(h) if !h.is_empty() => h.value_at_quantile(q) as f64 / 1000.0,
            _ => 0.0,
        }
    }

    /// Largest sample in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.0.as_ref().map_or(0.0, |h| h.max() as f64 / 1000.0)
    }

    /// Drops every sample.
    pub fn reset(&mut self) {
        if let Some(h) = &mut self.0 {
            h.reset();
        }
    }
}

/// Everything one bot counted while connected.
#[derive(Debug, Clone, Default)]
pub struct BotStats {
    /// Application-level ping round trips.
    pub rtt: Latency,
    /// |snapshot inter-arrival time − tick period|.
    pub jitter: Latency,
    /// WebSocket payload bytes received.
    pub bytes_in: u64,
    /// WebSocket payload bytes sent.
    pub bytes_out: u64,
    /// Messages received.
    pub msgs_in: u64,
    /// Messages sent.
    pub msgs_out: u64,
    /// Snapshots received.
    pub snapshots: u64,
    /// Entity updates received (for bytes per update).
    pub entity_updates: u64,
    /// Entities in the replica summed over snapshots (for the mean number in view).
    pub entities_in_view: u64,
    /// Bytes of snapshot payloads.
    pub snapshot_bytes: u64,
    /// Ticks for which no snapshot came (gaps in the snapshot tick sequence).
    pub missed_ticks: u64,
    /// Snapshots whose checksum the replica verified.
    pub checksums_verified: u64,
    /// Snapshots whose checksum disagreed with the replica.
    pub divergences: u64,
    /// Snapshots the replica could not apply at all (unknown id, duplicate create, ...).
    pub replica_errors: u64,
    /// Binary frames that did not decode.
    pub undecodable: u64,
    /// How long the bot was connected.
    pub connected_for: Duration,
    /// The checksum interval the server announced (largest seen across merged bots).
    pub checksum_interval: u16,
    /// Seats got through `POST /match` (with a match URL).
    pub matches: u64,
    /// From the start of `POST /match` to the `Welcome`.
    pub time_to_seat: Latency,
    /// Redirects followed on the way to the `Welcome`.
    pub redirects: u64,
}

impl BotStats {
    /// Adds another bot's counts.
    pub fn merge(&mut self, o: &BotStats) {
        self.rtt.merge(&o.rtt);
        self.jitter.merge(&o.jitter);
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        self.msgs_in += o.msgs_in;
        self.msgs_out += o.msgs_out;
        self.snapshots += o.snapshots;
        self.entity_updates += o.entity_updates;
        self.entities_in_view += o.entities_in_view;
        self.snapshot_bytes += o.snapshot_bytes;
        self.missed_ticks += o.missed_ticks;
        self.checksums_verified += o.checksums_verified;
        self.divergences += o.divergences;
        self.replica_errors += o.replica_errors;
        self.undecodable += o.undecodable;
        self.connected_for += o.connected_for;
        self.checksum_interval = self.checksum_interval.max(o.checksum_interval);
        self.matches += o.matches;
        self.time_to_seat.merge(&o.time_to_seat);
        self.redirects += o.redirects;
    }
}

/// How one bot's session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Never connected (or never got a `Welcome`); the reason.
    ConnectFailed(String),
    /// Ran to the end and closed normally.
    Clean,
    /// The server closed or the socket dropped before the end: close code (None = no close
    /// frame) and reason.
    Unexpected(Option<u16>, String),
}

/// One bot's result.
#[derive(Debug, Clone)]
pub struct BotOutcome {
    /// How it ended.
    pub ending: Ending,
    /// What it measured.
    pub stats: BotStats,
}

/// All bots' results added up.
#[derive(Debug, Default)]
pub struct Totals {
    /// Bots started.
    pub attempted: u64,
    /// Bots that connected and got a `Welcome`.
    pub ok: u64,
    /// Bots that did not.
    pub failed: u64,
    /// Connection failures by reason.
    pub failure_reasons: BTreeMap<String, u64>,
    /// Unexpected disconnects by close code ("none" when the socket just dropped).
    pub unexpected_closes: BTreeMap<String, u64>,
    /// Every bot's stats merged.
    pub stats: BotStats,
}

impl Totals {
    /// Adds up bot outcomes.
    pub fn from_outcomes<'a>(outcomes: impl IntoIterator<Item = &'a BotOutcome>) -> Totals {
        let mut t = Totals::default();
        for o in outcomes {
            t.attempted += 1;
            match &o.ending {
                Ending::ConnectFailed(reason) => {
                    t.failed += 1;
                    *t.failure_reasons.entry(reason.clone()).or_default() += 1;
                }
                Ending::Clean => t.ok += 1,
                Ending::Unexpected(code, _) => {
                    t.ok += 1;
                    let key = code.map_or_else(|| "none".to_string(), |c| c.to_string());
                    *t.unexpected_closes.entry(key).or_default() += 1;
                }
            }
            t.stats.merge(&o.stats);
        }
        t
    }

    /// Unexpected disconnects in all.
    pub fn unexpected_disconnects(&self) -> u64 {
        self.unexpected_closes.values().sum()
    }

    /// Per connected client per second: `count / total connected seconds`.
    pub fn per_client_second(&self, count: u64) -> f64 {
        let secs = self.stats.connected_for.as_secs_f64();
        if secs > 0.0 { count as f64 / secs } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(rtts_ms: &[u64], bytes_in: u64, secs: u64, ending: Ending) -> BotOutcome {
        let mut s = BotStats {
            bytes_in,
            bytes_out: bytes_in / 10,
            connected_for: Duration::from_secs(secs),
            snapshots: secs * 30,
            ..BotStats::default()
        };
        for &ms in rtts_ms {
            s.rtt.record(Duration::from_millis(ms));
        }
        BotOutcome { ending, stats: s }
    }

    #[test]
    fn totals_add_counts_rates_and_percentiles_across_bots() {
        let outcomes = vec![
            bot(&[1; 98], 30_000, 10, Ending::Clean),
            bot(
                &[50, 100],
                10_000,
                10,
                Ending::Unexpected(Some(4005), "slow".into()),
            ),
            bot(&[], 0, 0, Ending::ConnectFailed("refused".into())),
            bot(&[], 0, 0, Ending::ConnectFailed("refused".into())),
            bot(&[], 0, 5, Ending::Unexpected(None, String::new())),
        ];
        let t = Totals::from_outcomes(&outcomes);
        assert_eq!((t.attempted, t.ok, t.failed), (5, 3, 2));
        assert_eq!(t.failure_reasons["refused"], 2);
        assert_eq!(t.unexpected_disconnects(), 2);
        assert_eq!(t.unexpected_closes["4005"], 1);
        assert_eq!(t.unexpected_closes["none"], 1);
        // 40,000 bytes over 25 connected seconds.
        assert!((t.per_client_second(t.stats.bytes_in) - 1600.0).abs() < 1e-9);
        assert_eq!(t.stats.snapshots, 750);
        // 100 samples: 98 of 1 ms, then 50 and 100 (within the histograms' 1 %).
        assert_eq!(t.stats.rtt.count(), 100);
        assert!((t.stats.rtt.quantile_ms(0.5) - 1.0).abs() < 0.01);
        assert!((t.stats.rtt.quantile_ms(0.99) - 50.0).abs() < 0.5);
        assert!((t.stats.rtt.max_ms() - 100.0).abs() < 1.0);
        // A bot that measured nothing holds no histogram, and merges as nothing.
        assert_eq!(outcomes[2].stats.rtt.count(), 0);
        assert!(outcomes[2].stats.rtt.0.is_none());
    }
}
