// Clock sync for any game, mirroring shared/src/clock.rs (`ClockSync`): the client's estimate
// of the server's tick, the round-trip time, and the server tick the client is rendering. It
// needs only the tick rate (from Welcome), snapshot ticks and Ping/Pong, so it knows no game.
//
// Every snapshot for tick T arriving at local time `now` gives an offset sample `T·dt − now`:
// the server clock minus ours, minus that snapshot's one-way delay. Delay only ever adds, so the
// largest sample in a sliding window (the least delayed snapshot) is the estimate; late
// snapshots cannot drag it. Pongs give round-trip samples; the RTT is their median over the last
// few.
//
// Lateness counts arrivals, not snapshots: snapshots arriving less than `burstGapTicks` apart (a
// TCP stall releasing what it held back) are one burst, and a burst is one lateness sample (its
// first, most delayed snapshot's). The interpolation delay wanted is base + margin × the 95th
// percentile of that lateness, capped; the delay in use rises to it at once and falls by at most
// `delayFallTicksPerS`.
//
// The render clock plays back server time `delay` behind the newest tick we expect to have. It
// advances with local time and slews (at most 5% faster or slower than real time) to converge on
// its target, so it never goes back and never skips; only an error beyond `snapAfterS` (1 s, more
// than any delay can cause: a server restart, ticks that jumped) teleports it. Nothing here reads
// a clock: time is passed in as seconds from any monotonic origin, so tests drive it with a fake
// clock. client-web/test/clock_vectors.test.js replays timing vectors Rust's clock wrote.

/** Defaults of `ClockConfig::new(tick_rate)`. */
export function clockConfig(tickRate) {
  return {
    tickRate,
    windowS: 2.0,
    baseDelayTicks: 2.0,
    jitterMargin: 1.25,
    maxDelayS: 0.5,
    maxWarp: 0.05,
    snapAfterS: 1.0,
    burstGapTicks: 0.25,
    delayFallTicksPerS: 0.5,
    rttSamples: 9,
  };
}

/** Nearest-rank percentile (sorts `values` in place); 0 for an empty list. */
export function percentile(values, q) {
  if (values.length === 0) return 0;
  values.sort((a, b) => a - b);
  const rank = Math.min(Math.max(Math.ceil(q * values.length), 1), values.length);
  return values[rank - 1];
}

/** Local seconds to the `client_time` of a Ping: milliseconds mod 2^32. */
export function millis(now) {
  const ms = Math.round(now * 1000);
  return ((ms % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

export class ClockSync {
  constructor(config) {
    this.config = config;
    this.dt = 1 / Math.max(1, config.tickRate);
    /** [arrival time, offset sample] of every snapshot in the window. */
    this.offsets = [];
    /** [arrival time of its first snapshot, lowest offset] of every burst in the window. */
    this.bursts = [];
    this.lastArrival = null;
    this.bestOffset = null;
    this.latenessP95 = 0;
    this.wantedDelay = config.baseDelayTicks;
    this.delay = config.baseDelayTicks;
    this.rtts = [];
    this.rttS = null;
    this.renderTickValue = 0;
    this.renderStarted = false;
    this.now = 0;
    this.teleportCount = 0;
  }

  /** A snapshot for `tick` arrived at `now` (seconds). */
  handleSnapshot(tick, now) {
    const sample = tick * this.dt - now;
    const from = now - this.config.windowS;
    this.offsets.push([now, sample]);
    while (this.offsets.length > 1 && this.offsets[0][0] < from) this.offsets.shift();
    const inBurst = this.lastArrival !== null && now - this.lastArrival < this.config.burstGapTicks * this.dt;
    this.lastArrival = now;
    const last = this.bursts[this.bursts.length - 1];
    if (inBurst && last !== undefined) last[1] = Math.min(last[1], sample);
    else this.bursts.push([now, sample]);
    while (this.bursts.length > 1 && this.bursts[0][0] < from) this.bursts.shift();
    let best = -Infinity;
    for (const [, o] of this.offsets) best = Math.max(best, o);
    this.bestOffset = best;
    this.updateLateness(best);
    this.delay = Math.max(this.delay, this.wantedDelay);
  }

  /** The 95th percentile of the bursts' lateness against `best`, and the delay it asks for. */
  updateLateness(best) {
    this.latenessP95 = percentile(this.bursts.map(([, o]) => Math.max(best - o, 0)), 0.95);
    const base = this.config.baseDelayTicks;
    const wanted = base + (this.config.jitterMargin * this.latenessP95) / this.dt;
    this.wantedDelay = Math.min(Math.max(wanted, base), Math.max(this.config.maxDelayS / this.dt, base));
  }

  /** The Ping message to send at `now` (`client_time` is milliseconds mod 2^32). */
  ping(now) {
    return { type: 'Ping', client_time: millis(now) };
  }

  /** A Pong arrived at `now`. */
  handlePong(pong, now) {
    const rtt = ((millis(now) - pong.client_time + 2 ** 32) % 2 ** 32) / 1000;
    if (rtt > 60) return;
    this.rtts.push(rtt);
    while (this.rtts.length > Math.max(1, this.config.rttSamples)) this.rtts.shift();
    this.rttS = percentile([...this.rtts], 0.5);
  }

  /**
   * Moves the render clock to `now` (call once per frame): forward by elapsed/dt ticks give or
   * take `maxWarp` of that, unless the error is a discontinuity.
   */
  advance(now) {
    const elapsed = Math.max(0, now - this.now);
    this.now = Math.max(this.now, now);
    this.delay = Math.max(this.delay - this.config.delayFallTicksPerS * elapsed, this.wantedDelay);
    const target = this.targetRenderTick();
    if (target === null) return;
    if (!this.renderStarted) {
      this.renderTickValue = target;
      this.renderStarted = true;
      return;
    }
    const natural = this.renderTickValue + elapsed / this.dt;
    const error = target - natural;
    if (Math.abs(error) * this.dt > this.config.snapAfterS) {
      // A discontinuity: samples from before it say nothing about the delay now.
      const keep = (s) => s[1] >= this.bestOffset - this.config.snapAfterS;
      this.offsets = this.offsets.filter(keep);
      this.bursts = this.bursts.filter(keep);
      this.updateLateness(this.bestOffset);
      this.delay = this.wantedDelay;
      this.renderTickValue = this.targetRenderTick();
      this.teleportCount++;
    } else {
      const most = (this.config.maxWarp * elapsed) / this.dt;
      this.renderTickValue = natural + Math.min(Math.max(error, -most), most);
    }
  }

  targetRenderTick() {
    const newest = this.newestTick();
    return newest === null ? null : newest - this.delayTicks();
  }

  /** The tick of the freshest snapshot we expect to have by now. */
  newestTick() {
    return this.bestOffset === null ? null : (this.now + this.bestOffset) / this.dt;
  }

  /** The server's current tick (newest plus half the RTT). */
  serverTick() {
    const newest = this.newestTick();
    return newest === null ? null : newest + (this.rttS ?? 0) / 2 / this.dt;
  }

  /** Interpolation delay in use, ticks: rises at once to what lateness asks, falls slowly. */
  delayTicks() {
    return this.delay;
  }

  /** The delay the measured lateness asks for now, ticks. */
  wantedDelayTicks() {
    return this.wantedDelay;
  }

  /** Target minus render tick: what the slew is still working off, ticks. */
  slewTicks() {
    const target = this.targetRenderTick();
    return target === null ? 0 : target - this.renderTickValue;
  }

  /** How many times the render clock teleported (a discontinuity). */
  teleports() {
    return this.teleportCount;
  }

  renderTick() {
    return this.renderTickValue;
  }

  isSynced() {
    return this.renderStarted;
  }

  /** What goes in `InputCmd.view_tick`. */
  viewTick() {
    return this.renderStarted ? Math.max(0, Math.round(this.renderTickValue)) : 0;
  }

  /** Round-trip time, seconds, or null before the first pong. */
  rtt() {
    return this.rttS;
  }

  /** Jitter (95th percentile lateness of bursts), seconds. */
  jitter() {
    return this.latenessP95;
  }
}
