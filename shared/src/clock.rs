//! Clock sync: the client's estimate of the server's tick, the round-trip time, and the server
//! tick the client is rendering.
//!
//! Two kinds of samples come in. Every snapshot for tick `T` arriving at local time `now` gives
//! an offset sample `T·dt − now`: the server clock minus ours, minus the one-way delay of that
//! snapshot. Delay only ever adds, so the largest sample in a sliding window (the least delayed
//! snapshot) is the best estimate; late snapshots (jitter, TCP retransmits) cannot drag it.
//! Pongs give round-trip samples; the estimate is their median over the last few, so one
//! stalled pong does not move it.
//!
//! **Lateness counts arrivals, not snapshots.** Snapshots that arrive together (less than
//! `burst_gap_ticks` apart: a TCP stall releasing everything it held back, or in-order jitter
//! bunching a few) are one *burst*, and a burst is one lateness sample: the lateness of its
//! first, most delayed snapshot. A 400 ms stall is then one late sample among the ~60 of the
//! window, not the twelve it released, and the 95th percentile of lateness (the jitter the
//! interpolation delay absorbs) stays what it was.
//!
//! **The delay rises at once and falls slowly.** The interpolation delay wanted is
//! `base_delay_ticks` plus `jitter_margin` times that percentile, capped at `max_delay_s`. When
//! the wanted delay rises, the delay follows at once; when it falls, the delay comes down by
//! at most `delay_fall_ticks_per_s`.
//!
//! **The render clock is slewed, never snapped, in normal play.** It plays back server time
//! `delay` behind the newest tick we expect to have, advancing with local time, and converges
//! on that target by running at most `max_warp` (5%) faster or slower than real time. So per
//! call of [`ClockSync::advance`] with `elapsed` seconds, the render tick moves forward by
//! between `(1 − max_warp)·elapsed/dt` and `(1 + max_warp)·elapsed/dt` ticks: never back, and
//! at 60 Hz never more than 1.05 frames' worth of server time in a frame. It *teleports* to
//! its target only when the error exceeds `snap_after_s` (1 s): more than any delay change can
//! cause (`max_delay_s` is 0.5 s), so only a real discontinuity does it: a server whose ticks
//! jumped (a restart), a stall longer than the window, a state far too old. A resumed or new
//! connection starts a new clock (a new `Netcode`).
//!
//! Nothing here reads a clock: local time is passed in as seconds (`f64`) from any monotonic
//! origin, so tests drive it with a fake clock.

use crate::ids::Tick;
use crate::sync::{Ping, Pong};
use std::collections::VecDeque;

/// Tuning of [`ClockSync`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClockConfig {
    /// Server ticks per second (from `Welcome`).
    pub tick_rate: u16,
    /// How long offset and lateness samples are kept, seconds.
    pub window_s: f64,
    /// Interpolation delay with no jitter, in snapshot intervals.
    pub base_delay_ticks: f64,
    /// Multiplier on the measured lateness (95th percentile of bursts) added to the delay:
    /// above 1 so the delay also covers the tail past that percentile.
    pub jitter_margin: f64,
    /// Largest interpolation delay, seconds.
    pub max_delay_s: f64,
    /// Largest fraction by which the render clock runs faster or slower than real time.
    pub max_warp: f64,
    /// Render-clock errors beyond this many seconds are a discontinuity, fixed by a teleport
    /// instead of a slew. Keep it above `max_delay_s`, so no change of the delay can cause one.
    pub snap_after_s: f64,
    /// Snapshots arriving less than this many ticks after the previous one belong to its
    /// burst, and a burst is one lateness sample.
    pub burst_gap_ticks: f64,
    /// How fast the interpolation delay may come down when less is needed, ticks per second
    /// (it rises at once).
    pub delay_fall_ticks_per_s: f64,
    /// Round-trip samples kept for the median.
    pub rtt_samples: usize,
}

impl ClockConfig {
    /// Defaults for a tick rate.
    pub fn new(tick_rate: u16) -> ClockConfig {
        ClockConfig {
            tick_rate,
            window_s: 2.0,
            base_delay_ticks: 2.0,
            jitter_margin: 1.25,
            max_delay_s: 0.5,
            max_warp: 0.05,
            snap_after_s: 1.0,
            burst_gap_ticks: 0.25,
            delay_fall_ticks_per_s: 0.5,
            rtt_samples: 9,
        }
    }
}

/// Estimates of server time, round-trip time and jitter, and the render clock.
#[derive(Debug, Clone)]
pub struct ClockSync {
    config: ClockConfig,
    dt: f64,
    /// (arrival time, offset sample) of every snapshot, oldest first.
    offsets: VecDeque<(f64, f64)>,
    /// (arrival time of its first snapshot, lowest offset) of every burst, oldest first.
    bursts: VecDeque<(f64, f64)>,
    last_arrival: Option<f64>,
    best_offset: Option<f64>,
    lateness_p95: f64,
    /// The delay the lateness asks for, and the delay in use (which falls slowly), ticks.
    wanted_delay: f64,
    delay: f64,
    rtts: VecDeque<f64>,
    rtt: Option<f64>,
    render_tick: f64,
    render_started: bool,
    now: f64,
    teleports: u32,
    scratch: Vec<f64>,
}

impl ClockSync {
    /// A clock with no samples yet.
    pub fn new(config: ClockConfig) -> ClockSync {
        ClockSync {
            dt: 1.0 / f64::from(config.tick_rate.max(1)),
            wanted_delay: config.base_delay_ticks,
            delay: config.base_delay_ticks,
            config,
            offsets: VecDeque::new(),
            bursts: VecDeque::new(),
            last_arrival: None,
            best_offset: None,
            lateness_p95: 0.0,
            rtts: VecDeque::new(),
            rtt: None,
            render_tick: 0.0,
            render_started: false,
            now: 0.0,
            teleports: 0,
            scratch: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClockConfig {
        &self.config
    }

    /// Seconds per tick.
    pub fn tick_seconds(&self) -> f64 {
        self.dt
    }

    /// Records that a snapshot for `tick` arrived at `now`.
    pub fn handle_snapshot(&mut self, tick: Tick, now: f64) {
        let sample = f64::from(tick.0) * self.dt - now;
        let since = |at: &(f64, f64)| at.0 >= now - self.config.window_s;
        self.offsets.push_back((now, sample));
        while self.offsets.len() > 1 && self.offsets.front().is_some_and(|s| !since(s)) {
            self.offsets.pop_front();
        }
        let in_burst = self
            .last_arrival
            .is_some_and(|t| now - t < self.config.burst_gap_ticks * self.dt);
        self.last_arrival = Some(now);
        match self.bursts.back_mut() {
            Some(b) if in_burst => b.1 = b.1.min(sample),
            _ => self.bursts.push_back((now, sample)),
        }
        while self.bursts.len() > 1 && self.bursts.front().is_some_and(|s| !since(s)) {
            self.bursts.pop_front();
        }
        let best = self
            .offsets
            .iter()
            .map(|(_, o)| *o)
            .fold(f64::NEG_INFINITY, f64::max);
        self.best_offset = Some(best);
        self.update_lateness(best);
        self.delay = self.delay.max(self.wanted_delay);
    }

    /// The 95th percentile of the bursts' lateness against `best`, and the delay it asks for.
    fn update_lateness(&mut self, best: f64) {
        self.scratch.clear();
        self.scratch
            .extend(self.bursts.iter().map(|(_, o)| (best - *o).max(0.0)));
        self.lateness_p95 = percentile(&mut self.scratch, 0.95);
        let base = self.config.base_delay_ticks;
        let wanted = base + self.config.jitter_margin * self.lateness_p95 / self.dt;
        self.wanted_delay = wanted.clamp(base, (self.config.max_delay_s / self.dt).max(base));
    }

    /// A ping to send now; its pong gives a round-trip sample.
    pub fn ping(&self, now: f64) -> Ping {
        Ping {
            client_time: millis(now),
        }
    }

    /// Records the answer to one of our pings, arriving at `now`.
    pub fn handle_pong(&mut self, pong: &Pong, now: f64) {
        let rtt = f64::from(millis(now).wrapping_sub(pong.client_time)) / 1000.0;
        // A pong older than a minute is not ours (or the counter wrapped): ignore it.
        if rtt > 60.0 {
            return;
        }
        self.rtts.push_back(rtt);
        while self.rtts.len() > self.config.rtt_samples.max(1) {
            self.rtts.pop_front();
        }
        self.scratch.clear();
        self.scratch.extend(self.rtts.iter().copied());
        self.rtt = Some(percentile(&mut self.scratch, 0.5));
    }

    /// Moves the render clock to local time `now`. Call once per frame before reading
    /// [`ClockSync::render_tick`]. The render tick moves forward by `elapsed/dt` ticks give or
    /// take `max_warp` of that, unless the error is a discontinuity (see the module docs).
    pub fn advance(&mut self, now: f64) {
        let elapsed = (now - self.now).max(0.0);
        self.now = self.now.max(now);
        self.delay =
            (self.delay - self.config.delay_fall_ticks_per_s * elapsed).max(self.wanted_delay);
        let Some(target) = self.target_render_tick() else {
            return;
        };
        if !self.render_started {
            self.render_tick = target;
            self.render_started = true;
            return;
        }
        let natural = self.render_tick + elapsed / self.dt;
        let error = target - natural;
        if error.abs() * self.dt > self.config.snap_after_s {
            // A discontinuity: samples from before it say nothing about the delay now.
            let best = self.best_offset.unwrap_or(0.0);
            let keep = |s: &(f64, f64)| s.1 >= best - self.config.snap_after_s;
            self.offsets.retain(keep);
            self.bursts.retain(keep);
            self.update_lateness(best);
            self.delay = self.wanted_delay;
            self.render_tick = self.target_render_tick().unwrap_or(target);
            self.teleports += 1;
        } else {
            let most = self.config.max_warp * elapsed / self.dt;
            self.render_tick = natural + error.clamp(-most, most);
        }
    }

    fn target_render_tick(&self) -> Option<f64> {
        Some(self.newest_tick_at(self.best_offset?, self.now) - self.delay_ticks())
    }

    fn newest_tick_at(&self, offset: f64, now: f64) -> f64 {
        (now + offset) / self.dt
    }

    /// The tick of the freshest snapshot we expect to have by now (fractional), once any
    /// snapshot has arrived.
    pub fn newest_tick(&self) -> Option<f64> {
        Some(self.newest_tick_at(self.best_offset?, self.now))
    }

    /// The server's current tick as estimated here: the newest tick plus half a round trip.
    pub fn server_tick(&self) -> Option<f64> {
        Some(self.newest_tick()? + self.rtt.unwrap_or(0.0) / 2.0 / self.dt)
    }

    /// The interpolation delay in use, in ticks: at least `base_delay_ticks` plus the
    /// measured lateness of bursts (capped at `max_delay_s`); it rises at once and falls by at
    /// most `delay_fall_ticks_per_s`. The render clock slews towards it.
    pub fn delay_ticks(&self) -> f64 {
        self.delay
    }

    /// The delay the measured lateness asks for now, ticks (what [`ClockSync::delay_ticks`]
    /// comes down to).
    pub fn wanted_delay_ticks(&self) -> f64 {
        self.wanted_delay
    }

    /// How far the render tick is from where the render clock is heading (target minus
    /// render tick), ticks: what the slew is still working off.
    pub fn slew_ticks(&self) -> f64 {
        self.target_render_tick()
            .map_or(0.0, |t| t - self.render_tick)
    }

    /// How many times the render clock teleported (a discontinuity) since it started.
    pub fn teleports(&self) -> u32 {
        self.teleports
    }

    /// The server tick being rendered (fractional), for remote entities and for
    /// [`InputCmd::view_tick`](crate::sync::InputCmd::view_tick).
    pub fn render_tick(&self) -> f64 {
        self.render_tick
    }

    /// Whether a snapshot has arrived and the render clock runs.
    pub fn is_synced(&self) -> bool {
        self.render_started
    }

    /// The render tick rounded to the tick a command should name as seen (0 before sync).
    pub fn view_tick(&self) -> Tick {
        if self.render_started {
            Tick(self.render_tick.round().max(0.0) as u32)
        } else {
            Tick(0)
        }
    }

    /// Median round-trip time over the last pongs, seconds.
    pub fn rtt(&self) -> Option<f64> {
        self.rtt
    }

    /// How much later than the best snapshot in the window bursts arrive (95th percentile),
    /// seconds: the jitter the interpolation delay absorbs.
    pub fn jitter(&self) -> f64 {
        self.lateness_p95
    }
}

/// Local seconds to the millisecond counter carried in pings (wraps every ~49 days).
fn millis(now: f64) -> u32 {
    ((now * 1000.0).round() as i64).rem_euclid(1 << 32) as u32
}

/// The `q` quantile (0..=1) of `values` by nearest rank; 0 when empty. Reorders `values`.
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netsim::SplitMix64;

    const RATE: u16 = 30;
    const DT: f64 = 1.0 / 30.0;

    /// Snapshots of one tick each, sent at the tick's time, delayed by `base` plus uniform
    /// jitter and an occasional outlier; frames at 60 Hz in between.
    fn run(base: f64, jitter: f64, seconds: f64) -> (ClockSync, Vec<(f64, f64)>) {
        let mut clock = ClockSync::new(ClockConfig::new(RATE));
        let mut rng = SplitMix64::new(42);
        // The client's clock started 3.7 s after the server's.
        let skew = 3.7;
        let mut arrivals: Vec<(f64, u32)> = (1..(seconds / DT) as u32)
            .map(|t| {
                let mut delay = base + rng.next_f64() * jitter;
                if t % 97 == 0 {
                    delay += 0.3; // an outlier
                }
                (f64::from(t) * DT + delay - skew, t)
            })
            .collect();
        arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut renders = Vec::new();
        let mut next = 0;
        let mut now = 0.0;
        let mut frame = 0u32;
        while now < seconds - skew - 0.5 {
            now += 1.0 / 60.0;
            frame += 1;
            if frame.is_multiple_of(30) {
                // A ping every half second; its pong comes back after a jittered round trip.
                let ping = clock.ping(now);
                let rtt = 2.0 * base + rng.next_f64() * 2.0 * jitter;
                clock.handle_pong(
                    &Pong {
                        client_time: ping.client_time,
                        tick: Tick(0),
                    },
                    now + rtt,
                );
            }
            while next < arrivals.len() && arrivals[next].0 <= now {
                clock.handle_snapshot(Tick(arrivals[next].1), arrivals[next].0);
                next += 1;
            }
            clock.advance(now);
            if clock.is_synced() {
                renders.push((now, clock.render_tick()));
            }
        }
        (clock, renders)
    }

    #[test]
    fn render_tick_is_monotonic_and_tracks_server_time_under_jitter() {
        for (base, jitter) in [(0.0, 0.0), (0.05, 0.02), (0.1, 0.04)] {
            let (clock, renders) = run(base, jitter, 20.0);
            for w in renders.windows(2) {
                assert!(w[1].1 >= w[0].1, "render tick went back: {w:?}");
            }
            // After settling, the render tick is the true server tick minus the one-way
            // delay and the interpolation delay.
            let (now, render) = *renders.last().unwrap();
            let server_tick = (now + 3.7) / DT;
            let behind = (server_tick - render) * DT;
            let expected = base + clock.delay_ticks() * DT;
            assert!(
                (behind - expected).abs() < 0.01,
                "base {base} jitter {jitter}: behind {behind:.4} s, expected {expected:.4} s"
            );
            // The server's current tick: newest tick plus half the round trip.
            let estimate = clock.server_tick().unwrap();
            assert!(
                (estimate - server_tick).abs() * DT <= jitter + 0.002,
                "server tick estimate {estimate:.2}, true {server_tick:.2}"
            );
            // The delay covers the measured jitter but not the rare outliers.
            assert!(clock.jitter() <= jitter + 1e-9, "{}", clock.jitter());
            assert!(clock.jitter() >= jitter * 0.8, "{}", clock.jitter());
            assert!(clock.delay_ticks() >= 2.0);
        }
    }

    /// A steady 30 Hz stream over TCP: one-way delay 100 ms plus up to 20 ms of jitter kept in
    /// order, with the stream stalled (everything held back, then released at once, as a
    /// retransmission does) for each `(start, length)` of `stalls`; frames at 60 Hz. Returns
    /// the clock and (now, render tick, delay) per frame.
    fn stalled(stalls: &[(f64, f64)], seconds: f64) -> (ClockSync, Vec<(f64, f64, f64)>) {
        let mut clock = ClockSync::new(ClockConfig::new(RATE));
        let mut rng = SplitMix64::new(7);
        let mut last = f64::NEG_INFINITY;
        let arrivals: Vec<(f64, u32)> = (1..(seconds / DT) as u32)
            .map(|t| {
                let sent = f64::from(t) * DT;
                let mut at = sent + 0.1 + rng.next_f64() * 0.02;
                for (start, len) in stalls {
                    if sent >= *start && sent < start + len {
                        at = at.max(start + len + 0.1);
                    }
                }
                last = at.max(last);
                (last, t)
            })
            .collect();
        let mut frames = Vec::new();
        let mut next = 0;
        let mut now = 0.0;
        while now < seconds - 0.2 {
            now += 1.0 / 60.0;
            while next < arrivals.len() && arrivals[next].0 <= now {
                clock.handle_snapshot(Tick(arrivals[next].1), arrivals[next].0);
                next += 1;
            }
            clock.advance(now);
            if clock.is_synced() {
                frames.push((now, clock.render_tick(), clock.delay_ticks()));
            }
        }
        (clock, frames)
    }

    #[test]
    fn a_400_and_a_700_ms_stall_neither_jump_the_clock_nor_raise_the_delay() {
        let (clock, frames) = stalled(&[(6.0, 0.4), (12.0, 0.7)], 20.0);
        let warp = clock.config().max_warp;
        let before = frames.iter().find(|f| f.0 > 5.9).unwrap().2;
        for w in frames.windows(2).skip(120) {
            let natural = (w[1].0 - w[0].0) / DT;
            let moved = w[1].1 - w[0].1;
            // Never back, never faster than the slew bound: no jump either way.
            assert!(moved > 0.0, "render tick went back at {:.3}: {w:?}", w[1].0);
            assert!(
                moved >= natural * (1.0 - warp) - 1e-9 && moved <= natural * (1.0 + warp) + 1e-9,
                "at {:.3} s the render tick moved {moved:.4} ticks in a {natural:.4}-tick frame",
                w[1].0
            );
        }
        assert_eq!(clock.teleports(), 0);
        // One stalled burst is one late sample among ~60: the delay never exceeds what the
        // 20 ms of jitter alone asks for (2 ticks + the margin times 0.6).
        let most = frames.iter().map(|f| f.2).fold(0.0, f64::max);
        assert!(
            most <= 2.0 + clock.config().jitter_margin * 0.02 / DT + 1e-9,
            "delay rose from {before:.3} to {most:.3} ticks"
        );
        // And the render clock still sits where it should once the stalls are over.
        assert!(clock.slew_ticks().abs() < 0.05, "{}", clock.slew_ticks());
    }

    #[test]
    fn the_delay_rises_at_once_with_jitter_and_falls_slowly_without_a_jump() {
        // 3 s of 100 ms jitter (independent per snapshot, so lateness is spread, not bursts),
        // then none.
        let mut clock = ClockSync::new(ClockConfig::new(RATE));
        let mut rng = SplitMix64::new(3);
        let mut arrivals: Vec<(f64, u32)> = (1..600u32)
            .map(|t| {
                let sent = f64::from(t) * DT;
                let j = if (4.0..7.0).contains(&sent) { 0.1 } else { 0.0 };
                (sent + 0.05 + rng.next_f64() * j, t)
            })
            .collect();
        arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut next, mut now, mut prev) = (0, 0.0, None::<(f64, f64, f64)>);
        let (mut peak, mut fall_rate) = (0.0f64, 0.0f64);
        while now < 19.5 {
            now += 1.0 / 60.0;
            while next < arrivals.len() && arrivals[next].0 <= now {
                clock.handle_snapshot(Tick(arrivals[next].1), arrivals[next].0);
                next += 1;
            }
            clock.advance(now);
            let d = clock.delay_ticks();
            peak = peak.max(d);
            if let Some((t, r, pd)) = prev {
                let natural = (now - t) / DT;
                assert!((clock.render_tick() - r - natural).abs() <= 0.05 * natural + 1e-9);
                fall_rate = fall_rate.max((pd - d) / (now - t));
            }
            if clock.is_synced() {
                prev = Some((now, clock.render_tick(), d));
            }
        }
        assert!(peak > 4.0, "the delay rose with the jitter: {peak}");
        assert!(fall_rate <= 0.5 + 1e-9, "fell at {fall_rate} ticks/s");
        assert!(
            clock.delay_ticks() < 2.01,
            "and came back down: {}",
            clock.delay_ticks()
        );
        assert_eq!(clock.teleports(), 0);
    }

    #[test]
    fn only_a_discontinuity_teleports_the_clock() {
        // A server restart: its ticks start again from 1. The window forgets the old server's
        // samples after 2 s; the error is then far beyond anything a delay causes.
        let mut clock = ClockSync::new(ClockConfig::new(RATE));
        let mut now = 0.0;
        for t in 5000..5060 {
            now += DT;
            clock.handle_snapshot(Tick(t), now);
            clock.advance(now);
        }
        for t in 1..120 {
            now += DT;
            clock.handle_snapshot(Tick(t), now);
            clock.advance(now);
        }
        assert_eq!(clock.teleports(), 1);
        assert!(
            (clock.render_tick() - 117.0).abs() < 1.5,
            "{}",
            clock.render_tick()
        );
        // A stream 3 s ahead of what the clock expects (ticks jumped forward): at once.
        for t in 210..215 {
            now += DT;
            clock.handle_snapshot(Tick(t), now);
            clock.advance(now);
        }
        assert_eq!(clock.teleports(), 2);
        assert!(
            (clock.render_tick() - 212.0).abs() < 1.5,
            "{}",
            clock.render_tick()
        );
        // A stall longer than the window is not a discontinuity: the clock ran on meanwhile.
        let (clock, _) = stalled(&[(5.0, 3.0)], 12.0);
        assert_eq!(clock.teleports(), 0);
    }

    #[test]
    fn rtt_is_the_median_and_ignores_outliers() {
        let mut clock = ClockSync::new(ClockConfig::new(RATE));
        assert_eq!(clock.rtt(), None);
        let mut now = 100.0;
        for i in 0..20 {
            let ping = clock.ping(now);
            let rtt = if i % 5 == 0 {
                1.5
            } else {
                0.1 + 0.01 * (i % 3) as f64
            };
            now += rtt;
            clock.handle_pong(
                &Pong {
                    client_time: ping.client_time,
                    tick: Tick(0),
                },
                now,
            );
            now += 0.5;
        }
        let rtt = clock.rtt().unwrap();
        assert!((0.1..=0.12).contains(&rtt), "{rtt}");
        // A pong from before the millisecond counter wrapped still measures right.
        let ping = clock.ping(4_294_967.0);
        let mut c2 = ClockSync::new(ClockConfig::new(RATE));
        c2.handle_pong(
            &Pong {
                client_time: ping.client_time,
                tick: Tick(0),
            },
            4_294_967.0 + 0.4,
        );
        assert!((c2.rtt().unwrap() - 0.4).abs() < 0.002);
    }

    #[test]
    fn percentile_by_nearest_rank() {
        let mut v = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(percentile(&mut v, 0.5), 3.0);
        assert_eq!(percentile(&mut v, 0.99), 5.0);
        assert_eq!(percentile(&mut v, 0.0), 1.0);
        assert_eq!(percentile(&mut [], 0.5), 0.0);
    }
}
