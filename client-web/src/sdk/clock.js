// Clock sync for any game, mirroring shared/src/clock.rs (`ClockSync`): the client's estimate
// of the server's tick, the round-trip time, and the server tick the client is rendering. It
// needs only the tick rate (from Welcome), snapshot ticks and Ping/Pong, so it knows no game.
//
// Every snapshot for tick T arriving at local time `now` gives an offset sample `T·dt − now`:
// the server clock minus ours, minus that snapshot's one-way delay. Delay only ever adds, so the
// largest sample in a sliding window (the least delayed snapshot) is the estimate; late
// snapshots cannot drag it. How much later than that best snapshot the others arrive (95th
// percentile in the window) is the jitter, and the interpolation delay grows with it. Pongs give
// round-trip samples; the RTT is their median over the last few.
//
// The render clock plays back server time `delay` behind the newest tick we expect to have. It
// advances with local time and is warped (at most 5%) to converge on its target; only an error
// beyond 250 ms (a stall, a server restart) makes it jump. Nothing here reads a clock: time is
// passed in as seconds from any monotonic origin, so tests drive it with a fake clock.

/** Defaults of `ClockConfig::new(tick_rate)`. */
export function clockConfig(tickRate) {
  return {
    tickRate,
    windowS: 2.0,
    baseDelayTicks: 2.0,
    jitterMargin: 1.0,
    maxDelayS: 0.5,
    maxWarp: 0.05,
    snapAfterS: 0.25,
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
    /** [arrival time, offset sample] in the window. */
    this.offsets = [];
    this.bestOffset = null;
    this.latenessP95 = 0;
    this.rtts = [];
    this.rttS = null;
    this.renderTickValue = 0;
    this.renderStarted = false;
    this.now = 0;
  }

  /** A snapshot for `tick` arrived at `now` (seconds). */
  handleSnapshot(tick, now) {
    const sample = tick * this.dt - now;
    this.offsets.push([now, sample]);
    while (this.offsets.length > 1 && this.offsets[0][0] < now - this.config.windowS) this.offsets.shift();
    let best = -Infinity;
    for (const [, o] of this.offsets) best = Math.max(best, o);
    this.bestOffset = best;
    this.latenessP95 = percentile(this.offsets.map(([, o]) => best - o), 0.95);
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

  /** Moves the render clock to `now` (call once per frame). */
  advance(now) {
    const elapsed = Math.max(0, now - this.now);
    this.now = Math.max(this.now, now);
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
      this.renderTickValue = target;
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

  /** Interpolation delay in ticks: base plus the measured jitter, capped. */
  delayTicks() {
    const base = this.config.baseDelayTicks;
    const withJitter = base + (this.config.jitterMargin * this.latenessP95) / this.dt;
    return Math.min(Math.max(withJitter, base), Math.max(this.config.maxDelayS / this.dt, base));
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

  /** Jitter (95th percentile lateness), seconds. */
  jitter() {
    return this.latenessP95;
  }
}
