//! Reconnect pacing: capped exponential backoff with jitter. Pure arithmetic; the caller
//! supplies the random draw so tests are deterministic.

use std::time::Duration;

/// Delays between reconnect attempts: `base · 2^n`, capped at `cap`, with "equal jitter"
/// (half the delay fixed, half random) so a server restart is not met by every client at once.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff starting at `base` and never waiting more than `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            failures: 0,
        }
    }

    /// The delay before the next attempt, given a random draw `jitter` in `0.0..=1.0`; each
    /// call counts one more failure.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let doubled = self
            .base
            .saturating_mul(1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX));
        let ceiling = doubled.min(self.cap);
        self.failures = self.failures.saturating_add(1);
        let jitter = jitter.clamp(0.0, 1.0);
        ceiling / 2 + ceiling.mul_f64(jitter / 2.0)
    }

    /// The longest delay (the cap, with the same jitter), for closes that say "retry later"
    /// (a full room); counts one more failure.
    pub fn longest_delay(&mut self, jitter: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let jitter = jitter.clamp(0.0, 1.0);
        self.cap / 2 + self.cap.mul_f64(jitter / 2.0)
    }

    /// Forgets past failures (after a session got as far as `Welcome`).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures counted since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_inside_the_upper_half() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(4));
        let lows: Vec<_> = (0..7).map(|_| b.next_delay(0.0)).collect();
        assert_eq!(
            lows,
            [125, 250, 500, 1000, 2000, 2000, 2000].map(Duration::from_millis)
        );
        b.reset();
        assert_eq!(b.next_delay(1.0), Duration::from_millis(250));
        assert_eq!(b.next_delay(0.5), Duration::from_millis(375));
        for _ in 0..100 {
            assert!(
                b.next_delay(1.0) <= Duration::from_secs(4),
                "never above the cap"
            );
        }
    }

    #[test]
    fn the_longest_delay_is_the_jittered_cap_from_the_first_failure() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(4));
        assert_eq!(b.longest_delay(0.0), Duration::from_secs(2));
        assert_eq!(b.longest_delay(1.0), Duration::from_secs(4));
        assert_eq!(b.failures(), 2);
    }
}
