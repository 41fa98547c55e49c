//! Counters every bot updates while it runs, read once a second by the progress display.
//! Atomics only (plus one small lock for the recent round-trip times), so bots never wait on
//! each other.

use crate::stats::Latency;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// Live totals of a run.
#[derive(Debug)]
pub struct Live {
    /// Time base of ping timestamps.
    pub epoch: Instant,
    /// Bots connected right now.
    pub connected: AtomicU64,
    /// Bots that failed to connect.
    pub failed: AtomicU64,
    /// Snapshots received.
    pub snapshots: AtomicU64,
    /// Payload bytes received.
    pub bytes_in: AtomicU64,
    /// Payload bytes sent.
    pub bytes_out: AtomicU64,
    /// Divergences, replica errors, undecodable frames and unexpected disconnects.
    pub errors: AtomicU64,
    recent_rtt: Mutex<Latency>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            epoch: Instant::now(),
            connected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            recent_rtt: Mutex::new(Latency::default()),
        }
    }
}

impl Live {
    /// Records a round trip for the live display.
    pub fn record_rtt(&self, rtt: Duration) {
        if let Ok(mut h) = self.recent_rtt.lock() {
            h.record(rtt);
        }
    }

    /// Median of the round trips since the last call, ms (`None` if there were none); resets.
    pub fn take_rtt_p50_ms(&self) -> Option<f64> {
        let mut h = self.recent_rtt.lock().ok()?;
        let p50 = (h.count() > 0).then(|| h.quantile_ms(0.5));
        h.reset();
        p50
    }
}
