//! Rate limiting: a token bucket, used per connection for message rate (in seconds) and per
//! player for chat (in ticks). Time is passed in, so it is tested without clocks.

/// A token bucket: holds up to `burst` tokens, refilled at `rate` tokens per time unit.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: f64,
}

impl TokenBucket {
    /// A full bucket at time `now`.
    pub fn new(rate: f64, burst: f64, now: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: f64) -> bool {
        if now > self.last {
            self.tokens = (self.tokens + (now - self.last) * self.rate).min(self.burst);
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_the_rate() {
        let mut b = TokenBucket::new(10.0, 5.0, 0.0);
        assert_eq!((0..8).filter(|_| b.try_take(0.0)).count(), 5);
        assert!(!b.try_take(0.05), "half a token after 50 ms");
        assert!(b.try_take(0.1));
        // One second at 10/s refills to the burst cap, not beyond.
        assert_eq!((0..20).filter(|_| b.try_take(5.0)).count(), 5);
    }
}
