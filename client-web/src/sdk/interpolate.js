// Interpolation of the fields a schema declares `interpolate`, for any game, as
// shared/src/sync/interpolate.rs.
//
// After each snapshot, `handleSnapshot` records, for every entity whose kind has interpolated
// fields, its lanes at the snapshot's tick. `sample` gives an entity at a render tick (server
// time minus the interpolation delay, from ClockSync): between the two recorded states around
// it, `Linear` fields linearly and `Angle` fields the short way round (wrapping at the angle
// type's turn); every other field as in the older state. Two states across a change of a
// `discontinuity` field (a respawn counter: the entity jumped) are never blended: the older is
// shown until the render tick reaches the newer. Past the newest state, linear fields are
// extrapolated along their last rate of change for at most `maxExtrapolationTicks`, then held;
// never across a discontinuity. An entity that just entered view is not drawn before the render
// tick reaches its first state (it would have to be drawn where it was not yet).
//
// Values stay in lane units (quantized, as floats); `dequantize` turns them into the game's.
// Nothing here reads a clock.

import { T } from './wire.js';
import { typeCode } from './schema.js';

/** Defaults of `InterpolationConfig::default()`. */
export function interpolationConfig() {
  return { maxExtrapolationTicks: 3, maxStates: 64 };
}

/** Lane steps in one full turn of an angle type, or null for any other type. */
export function turnOf(ty) {
  const code = typeCode(ty);
  if (code === T.Angle8) return 256;
  if (code === T.Angle16) return 65536;
  return null;
}

const mod = (a, n) => ((a % n) + n) % n;

/**
 * `a` towards `b` by `f` (0..=1) as the field's `interp` says ('None' | 'Linear' | 'Angle');
 * `turn` wraps angles (an `Angle` field of a non-angle type blends linearly).
 */
export function blend(interp, turn, a, b, f) {
  if (interp === 'Linear' || (interp === 'Angle' && turn === null)) return a + (b - a) * f;
  if (interp === 'Angle') {
    let d = mod(b - a, turn);
    if (d > turn / 2) d -= turn;
    return mod(a + d * f, turn);
  }
  return a;
}

/** What a kind needs for sampling, computed once per kind. */
function kindPlan(fields) {
  return {
    interp: fields.map((f) => f.interp ?? 'None'),
    turn: fields.map((f) => turnOf(f.ty)),
    discontinuity: fields.map((f) => !!f.discontinuity),
    any: fields.some((f) => (f.interp ?? 'None') !== 'None'),
  };
}

/** Whether a `discontinuity` field differs between two states of a kind. */
function jumped(k, a, b) {
  for (let i = 0; i < a.length; i++) if (k.discontinuity[i] && a[i] !== b[i]) return true;
  return false;
}

export class Interpolator {
  /**
   * @param {object} schema the game's schema (from Welcome)
   * @param {{maxExtrapolationTicks: number, maxStates: number}} [config]
   */
  constructor(schema, config = interpolationConfig()) {
    this.config = config;
    this.kinds = schema.kinds.map((k) => kindPlan(k.fields));
    /** @type {Map<number, {kind: number, states: {tick: number, lanes: number[]}[]}>} */
    this.buffers = new Map();
  }

  /**
   * Records the replica's entities after a snapshot was applied. Entities for which
   * `skip(id)` is true (the locally predicted ones) are not recorded; entities that left view
   * are forgotten.
   */
  handleSnapshot(replica, skip = () => false) {
    const tick = replica.tick;
    for (const id of this.buffers.keys()) {
      if (!replica.entities.has(id) || skip(id)) this.buffers.delete(id);
    }
    for (const [id, e] of replica.entities) {
      if (!this.kinds[e.kind].any || skip(id)) continue;
      let buf = this.buffers.get(id);
      if (buf === undefined || buf.kind !== e.kind) {
        buf = { kind: e.kind, states: [] };
        this.buffers.set(id, buf);
      }
      const states = buf.states;
      if (states.length && states[states.length - 1].tick >= tick) continue;
      states.push({ tick, lanes: [...e.lanes] });
      while (states.length > this.config.maxStates) states.shift();
    }
  }

  /** Drops states no render tick at or after `renderTick` needs (keeps one before it). */
  prune(renderTick) {
    for (const { states } of this.buffers.values()) {
      while (states.length > 2 && states[1].tick <= renderTick) states.shift();
    }
  }

  /** The ids of the entities being interpolated. */
  ids() {
    return this.buffers.keys();
  }

  has(id) {
    return this.buffers.has(id);
  }

  /**
   * Entity `id` at `renderTick`: `{ lanes, lateTicks }` (lanes as floats, one per field of its
   * kind; lateTicks how far past its newest state the render tick is, 0 while interpolating),
   * or null when it is not interpolated or not drawable yet.
   */
  sample(id, renderTick) {
    const buf = this.buffers.get(id);
    if (buf === undefined || buf.states.length === 0) return null;
    const k = this.kinds[buf.kind];
    const states = buf.states;
    const t = renderTick;
    if (t < states[0].tick) return null;
    // The first state after t.
    let lo = 0;
    let hi = states.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (states[mid].tick <= t) lo = mid + 1;
      else hi = mid;
    }
    const n = k.interp.length;
    const out = new Array(n);
    if (lo < states.length) {
      const a = states[lo - 1].lanes;
      const b = states[lo].lanes;
      if (jumped(k, a, b)) return { lanes: a.slice(), lateTicks: 0 };
      const f = (t - states[lo - 1].tick) / (states[lo].tick - states[lo - 1].tick);
      for (let i = 0; i < n; i++) out[i] = blend(k.interp[i], k.turn[i], a[i], b[i], f);
      return { lanes: out, lateTicks: 0 };
    }
    const last = states[states.length - 1];
    const late = t - last.tick;
    if (states.length < 2) return { lanes: last.lanes.slice(), lateTicks: late };
    const prev = states[states.length - 2];
    if (jumped(k, prev.lanes, last.lanes)) return { lanes: last.lanes.slice(), lateTicks: late };
    const ahead = Math.min(late, this.config.maxExtrapolationTicks);
    const span = last.tick - prev.tick;
    for (let i = 0; i < n; i++) {
      const v = last.lanes[i];
      out[i] = k.interp[i] === 'Linear' ? v + ((v - prev.lanes[i]) / span) * ahead : v;
    }
    return { lanes: out, lateTicks: late };
  }
}
