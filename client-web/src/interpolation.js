// Entity interpolation for everything the client does not predict, mirroring
// shared/src/interpolation.rs (`Interpolator`).
//
// Each remote player body has a buffer of the states it had at the snapshot ticks received.
// Bodies are drawn at the render tick (ClockSync) between the two states around it: positions
// linearly, angles the short way round. Two states across a teleport (the `status` byte changed:
// respawn counter or alive bit; or the body moved farther than it could have) are never
// blended: the older is shown until the newer one's tick. Past the newest state the body is
// extrapolated along its last velocity for at most 3 ticks, then held; dead bodies are not
// extrapolated. A body that just entered view is not drawn until the render tick reaches its
// first state.

import { POS_SCALE, dequantizeAngle8, dt } from './rules.js';

const TAU = 2 * Math.PI;

/** Defaults of `InterpolationConfig::new(rules)`. */
export function interpolationConfig(rules) {
  return {
    maxExtrapolationTicks: 3,
    teleportUnitsPerTick: 2 * rules.player_speed * dt(rules) + rules.player_radius,
    maxStates: 64,
  };
}

/** Angle between two `u8` facings, `f` of the way from `a` to `b` the short way, radians. */
export function lerpAngle8(a, b, f) {
  const step = (((b - a) & 0xff) << 24) >> 24; // wrapping u8 difference as i8
  const r = dequantizeAngle8(a) + (step / 256) * TAU * f;
  return ((r % TAU) + TAU) % TAU;
}

export class Interpolator {
  constructor(config) {
    this.config = config;
    /** id → [{tick, x, y, state}] in tick order. */
    this.buffers = new Map();
  }

  /** Records the state of every remote body after a snapshot was applied to `replica`. */
  handleSnapshot(replica, local) {
    const tick = replica.tick;
    for (const id of this.buffers.keys()) {
      if (replica.entities.get(id)?.type !== 'Player') this.buffers.delete(id);
    }
    for (const [id, e] of replica.entities) {
      if (e.type !== 'Player' || id === local) continue;
      let buf = this.buffers.get(id);
      if (!buf) this.buffers.set(id, (buf = []));
      if (buf.length && buf[buf.length - 1].tick >= tick) continue;
      buf.push({ tick, x: e.state.x / POS_SCALE, y: e.state.y / POS_SCALE, state: { ...e.state } });
      while (buf.length > this.config.maxStates) buf.shift();
    }
  }

  /** Drops states no render tick at or after `renderTick` needs. */
  prune(renderTick) {
    for (const buf of this.buffers.values()) {
      while (buf.length > 2 && buf[1].tick <= renderTick) buf.shift();
    }
  }

  ids() {
    return this.buffers.keys();
  }

  teleported(a, b) {
    const ticks = Math.max(1, b.tick - a.tick);
    return a.state.status !== b.state.status || Math.hypot(b.x - a.x, b.y - a.y) > this.config.teleportUnitsPerTick * ticks;
  }

  /** `{x, y, aim, state, lateTicks}` to draw body `id` at `renderTick`, or null. */
  sample(id, renderTick) {
    const buf = this.buffers.get(id);
    if (!buf || buf.length === 0) return null;
    const t = renderTick;
    const hold = (s, late) => ({ x: s.x, y: s.y, aim: dequantizeAngle8(s.state.aim), state: s.state, lateTicks: late });
    if (t < buf[0].tick) return null;
    // First state with tick > t.
    let lo = 0;
    let hi = buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (buf[mid].tick <= t) lo = mid + 1;
      else hi = mid;
    }
    const after = lo;
    if (after < buf.length) {
      const a = buf[after - 1];
      const b = buf[after];
      if (this.teleported(a, b)) return hold(a, 0);
      const f = (t - a.tick) / (b.tick - a.tick);
      return {
        x: a.x + (b.x - a.x) * f,
        y: a.y + (b.y - a.y) * f,
        aim: lerpAngle8(a.state.aim, b.state.aim, f),
        state: a.state,
        lateTicks: 0,
      };
    }
    const last = buf[buf.length - 1];
    const late = t - last.tick;
    if (buf.length < 2 || !(last.state.status & 1)) return hold(last, late);
    const prev = buf[buf.length - 2];
    if (this.teleported(prev, last)) return hold(last, late);
    const span = last.tick - prev.tick;
    const ahead = Math.min(late, this.config.maxExtrapolationTicks);
    return {
      x: last.x + ((last.x - prev.x) / span) * ahead,
      y: last.y + ((last.y - prev.y) / span) * ahead,
      aim: dequantizeAngle8(last.state.aim),
      state: last.state,
      lateTicks: late,
    };
  }
}
