// Interpolation of remote entities: each player body keeps a short buffer of the states it had
// at recent ticks, and is drawn at a render tick a little behind the newest data (see
// ClockSync.renderTick). Angles turn the short way; past the newest sample it extrapolates for
// a bounded number of ticks and then holds; it never interpolates across a respawn (the
// `status` byte's respawn counter), where the body teleported.

import { dequantizeAngle8, POS_SCALE } from './rules.js';

const TAU = 2 * Math.PI;

/** Shortest signed turn from angle `a` to angle `b`, radians. */
export function angleDelta(a, b) {
  let d = (b - a) % TAU;
  if (d > Math.PI) d -= TAU;
  if (d < -Math.PI) d += TAU;
  return d;
}

export class InterpolationBuffer {
  /** @param {number} capacity samples kept (about a second at 30 Hz by default) */
  constructor(capacity = 32) {
    this.capacity = capacity;
    /** @type {{tick:number,x:number,y:number,aim:number,alive:boolean,respawn:number}[]} */
    this.samples = [];
  }

  /** Records the quantized `PlayerState` an entity had at `tick` (ticks must increase). */
  push(tick, state) {
    const last = this.samples[this.samples.length - 1];
    if (last && tick <= last.tick) return;
    this.samples.push({
      tick,
      x: state.x / POS_SCALE,
      y: state.y / POS_SCALE,
      aim: dequantizeAngle8(state.aim),
      alive: (state.status & 1) !== 0,
      respawn: state.status >> 1,
    });
    if (this.samples.length > this.capacity) this.samples.shift();
  }

  /**
   * The state to draw at fractional `tick`. Extrapolates at most `maxExtrapolateTicks` past the
   * newest sample.
   */
  sample(tick, maxExtrapolateTicks = 3) {
    const s = this.samples;
    if (s.length === 0) return null;
    if (tick <= s[0].tick) return { ...s[0] };
    const last = s[s.length - 1];
    if (tick >= last.tick) {
      const prev = s[s.length - 2];
      if (!prev || prev.respawn !== last.respawn || !last.alive) return { ...last };
      const ahead = Math.min(tick - last.tick, maxExtrapolateTicks) / (last.tick - prev.tick);
      return {
        ...last,
        x: last.x + (last.x - prev.x) * ahead,
        y: last.y + (last.y - prev.y) * ahead,
      };
    }
    // Binary search for the pair around `tick`.
    let lo = 0;
    let hi = s.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (s[mid].tick <= tick) lo = mid;
      else hi = mid;
    }
    const a = s[lo];
    const b = s[hi];
    if (a.respawn !== b.respawn) return { ...(tick < b.tick ? a : b) };
    const t = (tick - a.tick) / (b.tick - a.tick);
    return {
      tick,
      x: a.x + (b.x - a.x) * t,
      y: a.y + (b.y - a.y) * t,
      aim: a.aim + angleDelta(a.aim, b.aim) * t,
      alive: t < 1 ? a.alive : b.alive,
      respawn: a.respawn,
    };
  }
}
