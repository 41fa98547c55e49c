//! A network simulator for tests: one direction of a link between a client and a room, with
//! delay, jitter, loss and reordering, deterministic from a seed and driven by a fake clock
//! (seconds as `f64`). It carries any message type and does no I/O.
//!
//! How it models the real transport honestly:
//! - tickwire runs over WebSocket on TCP, which is reliable and ordered. In
//!   [`Delivery::ReliableOrdered`] nothing is dropped or reordered: a "lost" packet costs a
//!   retransmission timeout, and every message behind it waits (head-of-line blocking).
//!   Server → client snapshots are per-client deltas and must use this mode.
//! - [`Delivery::Unordered`] stands for an unreliable datagram transport (what a WebTransport
//!   or WebRTC data channel would give) and is only for client → server input frames: a lost
//!   frame is gone and jitter reorders frames. This is where input redundancy matters; the
//!   server de-duplicates by sequence number.
//!
//! One-way delay is `latency_s` plus a uniform draw in `[0, jitter_s]`, so `latency_s` is the
//! fastest a message can travel.

/// SplitMix64: a tiny, well-known generator whose output is fixed by its seed on every
/// platform and version (unlike `rand`'s `SmallRng`), which is what reproducible tests need.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a link treats loss and order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delivery {
    /// TCP-like: every message arrives, in order; a loss delays it by `retransmit_s` (per
    /// loss, which can repeat) and holds back everything sent after it.
    ReliableOrdered {
        /// Time to notice a loss and resend, seconds.
        retransmit_s: f64,
    },
    /// Datagram-like: a loss drops the message; jitter may reorder messages.
    Unordered,
}

/// Settings of one direction of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Fastest one-way delay, seconds.
    pub latency_s: f64,
    /// Extra one-way delay drawn uniformly from `[0, jitter_s]`.
    pub jitter_s: f64,
    /// Chance that a transmission is lost (0..1).
    pub loss: f64,
    /// What a loss means and whether order is kept.
    pub delivery: Delivery,
}

impl LinkConfig {
    /// A TCP-like direction of a link with round-trip time `rtt_s` (half of it each way):
    /// losses cost a retransmission timeout of `max(0.2 s, rtt + 4·jitter)` like TCP's RTO.
    pub fn tcp(rtt_s: f64, jitter_s: f64, loss: f64) -> LinkConfig {
        LinkConfig {
            latency_s: rtt_s / 2.0,
            jitter_s,
            loss,
            delivery: Delivery::ReliableOrdered {
                retransmit_s: (rtt_s + 4.0 * jitter_s).max(0.2),
            },
        }
    }

    /// A datagram-like direction with round-trip time `rtt_s`.
    pub fn unordered(rtt_s: f64, jitter_s: f64, loss: f64) -> LinkConfig {
        LinkConfig {
            latency_s: rtt_s / 2.0,
            jitter_s,
            loss,
            delivery: Delivery::Unordered,
        }
    }
}

/// Counters of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dropped (unordered mode only).
    pub dropped: u64,
    /// Transmissions lost and resent (reliable mode only).
    pub retransmits: u64,
    /// Messages delivered before one sent earlier (unordered mode only).
    pub reordered: u64,
}

/// One direction of a simulated link.
#[derive(Debug, Clone)]
pub struct Link<T> {
    config: LinkConfig,
    rng: SplitMix64,
    /// (delivery time, send order, message), unsorted.
    in_flight: Vec<(f64, u64, T)>,
    next_order: u64,
    last_delivery_at: f64,
    highest_delivered: Option<u64>,
    stats: LinkStats,
}

impl<T> Link<T> {
    /// An empty link.
    pub fn new(config: LinkConfig, seed: u64) -> Link<T> {
        Link {
            config,
            rng: SplitMix64::new(seed),
            in_flight: Vec::new(),
            next_order: 0,
            last_delivery_at: f64::NEG_INFINITY,
            highest_delivered: None,
            stats: LinkStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Sends a message at `now`.
    pub fn send(&mut self, now: f64, msg: T) {
        self.stats.sent += 1;
        let one_way =
            |rng: &mut SplitMix64, c: &LinkConfig| c.latency_s + rng.next_f64() * c.jitter_s;
        let at = match self.config.delivery {
            Delivery::Unordered => {
                if self.rng.next_f64() < self.config.loss {
                    self.stats.dropped += 1;
                    return;
                }
                now + one_way(&mut self.rng, &self.config)
            }
            Delivery::ReliableOrdered { retransmit_s } => {
                let mut at = now;
                // At most 16 resends: a loss of 1.0 would otherwise never deliver.
                for _ in 0..16 {
                    if self.rng.next_f64() >= self.config.loss {
                        break;
                    }
                    self.stats.retransmits += 1;
                    at += retransmit_s;
                }
                let at = at + one_way(&mut self.rng, &self.config);
                // In order: nothing overtakes a message sent earlier.
                let at = at.max(self.last_delivery_at);
                self.last_delivery_at = at;
                at
            }
        };
        self.in_flight.push((at, self.next_order, msg));
        self.next_order += 1;
    }

    /// When the next message arrives, if any is in flight.
    pub fn next_arrival(&self) -> Option<f64> {
        self.in_flight
            .iter()
            .map(|m| m.0)
            .min_by(|a, b| a.total_cmp(b))
    }

    /// Takes the next message that has arrived by `now` (earliest first; equal times in send
    /// order).
    pub fn poll(&mut self, now: f64) -> Option<T> {
        let (i, _) = self
            .in_flight
            .iter()
            .enumerate()
            .filter(|(_, m)| m.0 <= now)
            .min_by(|(_, a), (_, b)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))?;
        let (_, order, msg) = self.in_flight.swap_remove(i);
        self.stats.delivered += 1;
        if self.highest_delivered.is_some_and(|h| order < h) {
            self.stats.reordered += 1;
        }
        self.highest_delivered = Some(self.highest_delivered.map_or(order, |h| h.max(order)));
        Some(msg)
    }

    /// Messages still in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(link: &mut Link<u32>, until: f64) -> Vec<(f64, u32)> {
        let mut out = Vec::new();
        let mut t = 0.0;
        while t <= until {
            while let Some(m) = link.poll(t) {
                out.push((t, m));
            }
            t += 0.001;
        }
        out
    }

    #[test]
    fn reliable_link_keeps_order_and_turns_loss_into_delay() {
        let mut link = Link::new(LinkConfig::tcp(0.1, 0.03, 0.1), 7);
        for i in 0..300u32 {
            link.send(f64::from(i) / 30.0, i);
        }
        let got = drain(&mut link, 20.0);
        assert_eq!(got.len(), 300, "nothing is dropped");
        assert!(got.windows(2).all(|w| w[0].1 < w[1].1), "in order");
        let s = link.stats();
        assert!(
            s.retransmits > 10 && s.dropped == 0 && s.reordered == 0,
            "{s:?}"
        );
        // Every message takes at least the latency; a lost one at least a resend more.
        for (at, i) in &got {
            assert!(*at >= f64::from(*i) / 30.0 + 0.05 - 1e-9);
        }
        let worst = got
            .iter()
            .map(|(at, i)| at - f64::from(*i) / 30.0)
            .fold(0.0, f64::max);
        assert!(worst >= 0.25, "head-of-line blocking shows: {worst}");
    }

    #[test]
    fn unordered_link_drops_and_reorders_deterministically() {
        let run = |seed| {
            let mut link = Link::new(LinkConfig::unordered(0.1, 0.05, 0.1), seed);
            for i in 0..300u32 {
                link.send(f64::from(i) / 30.0, i);
            }
            (drain(&mut link, 20.0), link.stats())
        };
        let (a, sa) = run(3);
        let (b, _) = run(3);
        assert_eq!(a, b, "same seed, same run");
        assert!(sa.dropped > 10 && sa.reordered > 10, "{sa:?}");
        assert_eq!(sa.delivered + sa.dropped, 300);
        let (c, _) = run(4);
        assert_ne!(a, c);
    }
}
