//! A network simulator for tests: one direction of a link between a client and a room, with
//! delay, jitter, loss and reordering, deterministic from a seed and driven by a fake clock
//! (seconds as `f64`). It carries any message type and does no I/O.
//!
//! How it models the real transport honestly:
//! - A WebSocket runs on TCP, which is reliable and ordered. In
//!   [`Delivery::ReliableOrdered`] nothing is dropped or reordered: a "lost" packet is
//!   repaired as Linux's fast retransmit does in a steady stream (about one round trip plus
//!   one or two send intervals; twice that when the retransmission is lost too), and every
//!   message behind it waits (head-of-line blocking). Snapshots over a WebSocket are deltas
//!   against what was sent and must use this mode (so must a WebTransport session's stream).
//! - [`Delivery::Unordered`] stands for an unreliable datagram transport (WebTransport's
//!   datagrams): a lost message is gone, jitter reorders messages, and a share of them may
//!   arrive twice ([`LinkConfig::duplicating`]). Snapshots over it are against the tick the
//!   client acknowledged; input redundancy covers lost inputs, and the server de-duplicates
//!   them by sequence number.
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
    /// TCP-like: every message arrives, in order; a loss holds it back until it is repaired
    /// and holds back everything sent after it (head-of-line blocking). As Linux repairs a
    /// loss in a steady stream (fast retransmit / RACK): the loss shows when the next
    /// message's acknowledgement comes back, so the repair costs the gap to the next send
    /// (this link's own send interval) plus `retransmit_s`; a lost retransmission costs
    /// `retransmit_s` again (doubling the repair), and so on.
    ReliableOrdered {
        /// Time from the next message's send until the lost one's resend: a round trip plus
        /// the reordering window, seconds.
        retransmit_s: f64,
    },
    /// Datagram-like: a loss drops the message; jitter may reorder messages.
    Unordered,
    /// Two TCP-like connections carrying the same messages (mirrored streams,
    /// `tickwire_shared::sync::mirror`): each has its own losses, repairs and jitter, and a
    /// message arrives with its first copy. In order, like each of them.
    MirroredReliable {
        /// As in [`Delivery::ReliableOrdered`], for each connection.
        retransmit_s: f64,
    },
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
    /// Datagram-like only: chance that a message arrives twice (a retransmission or a path
    /// that duplicates; each copy has its own delay, so the second may come first).
    pub duplicate: f64,
}

impl LinkConfig {
    /// A TCP-like direction of a link with round-trip time `rtt_s` (half of it each way):
    /// a loss is repaired the way Linux does in a steady stream: the next message's SACK
    /// comes back a round trip after it was sent, RACK waits a quarter of the round trip
    /// (its reordering window) plus the jitter, then resends; so `retransmit_s =
    /// 1.25·rtt + jitter`, and the stall is about one RTT plus one or two send intervals.
    pub fn tcp(rtt_s: f64, jitter_s: f64, loss: f64) -> LinkConfig {
        LinkConfig {
            latency_s: rtt_s / 2.0,
            jitter_s,
            loss,
            delivery: Delivery::ReliableOrdered {
                retransmit_s: 1.25 * rtt_s + jitter_s,
            },
            duplicate: 0.0,
        }
    }

    /// [`LinkConfig::tcp`] over two mirrored connections.
    pub fn tcp_mirrored(rtt_s: f64, jitter_s: f64, loss: f64) -> LinkConfig {
        let tcp = LinkConfig::tcp(rtt_s, jitter_s, loss);
        let Delivery::ReliableOrdered { retransmit_s } = tcp.delivery else {
            unreachable!("tcp() is reliable")
        };
        LinkConfig {
            delivery: Delivery::MirroredReliable { retransmit_s },
            ..tcp
        }
    }

    /// A datagram-like direction with round-trip time `rtt_s`.
    pub fn unordered(rtt_s: f64, jitter_s: f64, loss: f64) -> LinkConfig {
        LinkConfig {
            latency_s: rtt_s / 2.0,
            jitter_s,
            loss,
            delivery: Delivery::Unordered,
            duplicate: 0.0,
        }
    }

    /// This datagram-like direction with a chance `p` that a message arrives twice.
    pub fn duplicating(self, p: f64) -> LinkConfig {
        LinkConfig {
            duplicate: p,
            ..self
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
    /// Messages sent twice (unordered mode only).
    pub duplicated: u64,
}

/// One direction of a simulated link.
#[derive(Debug, Clone)]
pub struct Link<T> {
    config: LinkConfig,
    rng: SplitMix64,
    /// (delivery time, send order, message), unsorted.
    in_flight: Vec<(f64, u64, T)>,
    next_order: u64,
    /// When the newest message arrives, over each (mirrored) connection.
    last_delivery_at: [f64; 2],
    highest_delivered: Option<u64>,
    /// When the last message was sent, and the gap between the last two sends.
    last_send: Option<f64>,
    send_gap: f64,
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
            last_delivery_at: [f64::NEG_INFINITY; 2],
            highest_delivered: None,
            last_send: None,
            send_gap: 0.0,
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

    /// Messages still in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

impl<T: Clone> Link<T> {
    /// Sends a message at `now`.
    pub fn send(&mut self, now: f64, msg: T) {
        self.stats.sent += 1;
        if let Some(last) = self.last_send
            && now > last
        {
            self.send_gap = now - last;
        }
        self.last_send = Some(now);
        let one_way =
            |rng: &mut SplitMix64, c: &LinkConfig| c.latency_s + rng.next_f64() * c.jitter_s;
        let at = match self.config.delivery {
            Delivery::Unordered => {
                if self.rng.next_f64() < self.config.loss {
                    self.stats.dropped += 1;
                    return;
                }
                if self.rng.next_f64() < self.config.duplicate {
                    self.stats.duplicated += 1;
                    let at = now + one_way(&mut self.rng, &self.config);
                    self.in_flight.push((at, self.next_order, msg.clone()));
                }
                now + one_way(&mut self.rng, &self.config)
            }
            Delivery::ReliableOrdered { retransmit_s } => self.reliable_at(now, retransmit_s, 0),
            Delivery::MirroredReliable { retransmit_s } => self
                .reliable_at(now, retransmit_s, 0)
                .min(self.reliable_at(now, retransmit_s, 1)),
        };
        self.in_flight.push((at, self.next_order, msg));
        self.next_order += 1;
    }

    /// When a message sent at `now` arrives over reliable connection `path`: its losses and
    /// repairs, its jitter, never before the one sent before it.
    fn reliable_at(&mut self, now: f64, retransmit_s: f64, path: usize) -> f64 {
        let mut at = now;
        // At most 16 resends: a loss of 1.0 would otherwise never deliver. The first is
        // noticed through the next message (one send interval later).
        for k in 0..16 {
            if self.rng.next_f64() >= self.config.loss {
                break;
            }
            self.stats.retransmits += 1;
            at += retransmit_s + if k == 0 { self.send_gap } else { 0.0 };
        }
        let at = at + self.config.latency_s + self.rng.next_f64() * self.config.jitter_s;
        // In order: nothing overtakes a message sent earlier.
        let at = at.max(self.last_delivery_at[path]);
        self.last_delivery_at[path] = at;
        at
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
    fn a_duplicating_datagram_link_delivers_some_messages_twice_each_copy_on_its_own_time() {
        let mut link = Link::new(LinkConfig::unordered(0.1, 0.04, 0.1).duplicating(0.2), 7);
        for i in 0..1000u32 {
            link.send(f64::from(i) * 0.01, i);
        }
        let got = drain(&mut link, 12.0);
        let s = link.stats();
        assert!(s.duplicated > 150 && s.duplicated < 250, "{s:?}");
        assert!(s.dropped > 60 && s.dropped < 140, "{s:?}");
        assert_eq!(got.len() as u64, s.sent - s.dropped + s.duplicated);
        let mut seen = std::collections::BTreeMap::new();
        for (t, m) in &got {
            seen.entry(*m).or_insert_with(Vec::new).push(*t);
        }
        let twice: Vec<_> = seen.values().filter(|ts| ts.len() == 2).collect();
        assert_eq!(twice.len() as u64, s.duplicated);
        assert!(twice.iter().any(|ts| ts[0] != ts[1]), "copies travel apart");
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

    /// Stalls (gaps between arrivals) of a 30 Hz stream over `seconds`.
    fn stalls(rtt: f64, jitter: f64, loss: f64, seconds: u32, seed: u64) -> Vec<f64> {
        stalls_over(LinkConfig::tcp(rtt, jitter, loss), seconds, seed)
    }

    fn stalls_over(config: LinkConfig, seconds: u32, seed: u64) -> Vec<f64> {
        let mut link = Link::new(config, seed);
        for i in 0..30 * seconds {
            link.send(f64::from(i) / 30.0, i);
        }
        let mut at = Vec::new();
        while let Some(t) = link.next_arrival() {
            while link.poll(t).is_some() {
                at.push(t);
            }
        }
        at.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// A repair is one round trip plus a send interval and RACK's window: at 200 ms RTT and
    /// 20 ms jitter, ~0.30 s on top of the interval; a lost retransmission doubles it. (Real
    /// TCP under lag.sh at 200 ms ± 20 ms and 1%: stall p99 242–258 ms, max 345–407 ms; see
    /// docs/NETCODE.md.)
    #[test]
    fn reliable_link_repairs_a_loss_in_about_one_rtt_and_doubles_for_a_lost_resend() {
        let mut gaps = stalls(0.2, 0.02, 0.01, 600, 11);
        let worst = gaps.iter().copied().fold(0.0, f64::max);
        let repairs = gaps.iter().filter(|g| **g > 0.15).count();
        let p99 = crate::clock::percentile(&mut gaps, 0.99);
        println!(
            "30 Hz, 200 ms RTT, 1% loss: {repairs} repairs, stall p99 {p99:.3} s, max {worst:.3} s"
        );
        assert!((120..=240).contains(&repairs), "{repairs}");
        // One repair: 1.25·0.2 + 0.02 + 1/30 = 0.30 s, give or take the jitter.
        assert!((0.27..0.40).contains(&worst), "{worst}");
        // With 10% loss, retransmissions are lost too: the repair doubles (and more).
        let gaps = stalls(0.2, 0.02, 0.1, 100, 12);
        let doubled = gaps.iter().filter(|g| **g > 0.55).count();
        assert!(doubled >= 3, "{doubled}");
        assert!(gaps.iter().all(|g| *g < 0.35 * 4.0));
    }

    /// Two mirrored connections: every message once, in order, and a repair on one is
    /// covered by the other unless both lose within one repair of each other (about one loss
    /// in ten at 200 ms RTT and 1 % loss, and then for the overlap only).
    #[test]
    fn mirrored_links_cover_each_others_repairs() {
        let mut link = Link::new(LinkConfig::tcp_mirrored(0.2, 0.02, 0.01), 13);
        for i in 0..30 * 300u32 {
            link.send(f64::from(i) / 30.0, i);
        }
        let mut got = Vec::new();
        while let Some(t) = link.next_arrival() {
            while let Some(m) = link.poll(t) {
                got.push(m);
            }
        }
        assert_eq!(
            got,
            (0..30 * 300).collect::<Vec<_>>(),
            "every message once, in order"
        );
        let long = |gaps: &[f64]| gaps.iter().filter(|g| **g > 0.15).count();
        let one = stalls(0.2, 0.02, 0.01, 300, 13);
        let two = stalls_over(LinkConfig::tcp_mirrored(0.2, 0.02, 0.01), 300, 13);
        let worst = |gaps: &[f64]| gaps.iter().copied().fold(0.0, f64::max);
        println!(
            "30 Hz, 200 ms RTT, 1% loss, 5 min: stalls over 150 ms: one connection {} (max {:.3} s), mirrored {} (max {:.3} s)",
            long(&one),
            worst(&one),
            long(&two),
            worst(&two)
        );
        assert!(long(&one) >= 60, "{}", long(&one));
        assert!(
            long(&two) * 5 < long(&one),
            "{} vs {}",
            long(&two),
            long(&one)
        );
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
