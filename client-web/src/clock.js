// Clock sync: estimates the server's tick as a function of local time, from snapshot arrivals
// (what the interpolation buffer needs: when ticks reach us) and from Pong answers (round-trip
// time, and the server's tick when it answered). Time is always passed in (milliseconds), so the
// logic is deterministic and unit tested.

export class ClockSync {
  /** @param {number} tickRate server ticks per second */
  constructor(tickRate) {
    this.tickRate = tickRate;
    /** Estimated tick at local time 0 from arrivals, in ticks; null until the first snapshot. */
    this.arrivalOffset = null;
    /** Mean absolute deviation of arrivals from the estimate, in ticks. */
    this.jitterTicks = 0;
    /** Smoothed round-trip time, ms; null until the first pong. */
    this.rttMs = null;
    /** Estimated server tick at local time 0, from pongs. */
    this.serverOffset = null;
  }

  ticksAt(ms) {
    return (ms * this.tickRate) / 1000;
  }

  /** A snapshot for `tick` arrived at local time `nowMs`. */
  onSnapshot(tick, nowMs) {
    const sample = tick - this.ticksAt(nowMs);
    if (this.arrivalOffset === null) {
      this.arrivalOffset = sample;
      return;
    }
    const err = sample - this.arrivalOffset;
    if (Math.abs(err) > 30) {
      // A jump of a second or more (tab asleep, server restart): start over.
      this.arrivalOffset = sample;
      this.jitterTicks = 0;
      return;
    }
    this.jitterTicks += (Math.abs(err) - this.jitterTicks) * 0.1;
    // Track the early edge of arrivals quickly and drift down slowly, so late snapshots fall
    // inside the interpolation delay instead of dragging the clock back and forth.
    this.arrivalOffset += err * (err > 0 ? 0.25 : 0.02);
  }

  /** A pong echoing `clientTime` (ms mod 2^32) with server `tick` arrived at `nowMs`. */
  onPong(clientTime, tick, nowMs) {
    const rtt = (((Math.floor(nowMs) >>> 0) - clientTime) >>> 0);
    if (rtt > 60_000) return; // not one of ours, or absurd
    this.rttMs = this.rttMs === null ? rtt : this.rttMs + (rtt - this.rttMs) * 0.2;
    const sample = tick + this.ticksAt(rtt / 2) - this.ticksAt(nowMs);
    this.serverOffset = this.serverOffset === null ? sample : this.serverOffset + (sample - this.serverOffset) * 0.2;
  }

  /** The latest tick we expect to have received by `nowMs` (fractional). */
  arrivalTick(nowMs) {
    return this.arrivalOffset === null ? null : this.arrivalOffset + this.ticksAt(nowMs);
  }

  /** The server's current tick as best we know (fractional). */
  serverTick(nowMs) {
    const offset = this.serverOffset ?? this.arrivalOffset;
    return offset === null ? null : offset + this.ticksAt(nowMs);
  }

  /** How far behind the latest arrivals to render others: about two snapshot intervals, more
   * when arrivals jitter, in ticks. */
  interpolationDelayTicks() {
    return Math.min(10, Math.max(2, 1.5 + 3 * this.jitterTicks));
  }

  /** The tick to render other entities at. */
  renderTick(nowMs) {
    const t = this.arrivalTick(nowMs);
    return t === null ? null : t - this.interpolationDelayTicks();
  }
}
