// Interpolation of the fields a schema declares `interpolate`, for any game, as
// shared/src/sync/interpolate.rs.
//
// After each snapshot, `handleSnapshot` records, for every entity whose kind has interpolated
// fields, its lanes at the snapshot's tick. `sample` gives an entity at a render tick (server
// time minus the interpolation delay, from ClockSync): between the two recorded states around
// it, `Linear` fields linearly and `Angle` fields the short way round (wrapping at the angle
// type's turn); every other field as in the older state. Two states across a change of a
// `discontinuity` field (a respawn counter: the entity jumped) are never blended: the older is
// shown until the render tick reaches the newer. An entity that just entered view is not drawn
// before the render tick reaches its first state (it would have to be drawn where it was not yet).
//
// Through a stall (render tick past the newest state), linear fields are extrapolated along the
// entity's own last motion: at full speed for maxExtrapolationTicks − extrapolationEaseTicks
// ticks, then slowing evenly to a stop at maxExtrapolationTicks, then held; never across a
// discontinuity. When the late states arrive, the difference between where the extrapolation
// drew the entity and its real path becomes an offset that `advance` halves every
// blendHalfLifeS (never so fast that the drawn entity moves back against its path's motion);
// a discontinuity drops it. The same as shared/src/sync/interpolate.rs.
//
// Values stay in lane units (quantized, as floats); `dequantize` turns them into the game's.
// Nothing here reads a clock.

import { T } from './wire.js';
import { typeCode } from './schema.js';

/** Defaults of `InterpolationConfig::default()`. */
export function interpolationConfig() {
  return { maxExtrapolationTicks: 12, extrapolationEaseTicks: 6, blendHalfLifeS: 0.08, maxStates: 64 };
}

/**
 * How far along its last motion an entity is drawn `late` ticks past its newest state, in ticks
 * of that motion: `late` at first, easing to a stop at maxExtrapolationTicks.
 */
export function extrapolatedTicks(config, late) {
  const max = Math.max(config.maxExtrapolationTicks, 0);
  const ease = Math.min(Math.max(config.extrapolationEaseTicks ?? 0, 0), max);
  const full = max - ease;
  const l = Math.min(Math.max(late, 0), max);
  if (l <= full) return l;
  const e = l - full;
  return full + e - (e * e) / (2 * ease);
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
   * @param {{maxExtrapolationTicks: number, extrapolationEaseTicks: number, blendHalfLifeS: number, maxStates: number}} [config]
   */
  constructor(schema, config = interpolationConfig()) {
    this.config = { ...interpolationConfig(), ...config };
    this.kinds = schema.kinds.map((k) => kindPlan(k.fields));
    /** @type {Map<number, {kind: number, states: {tick: number, lanes: number[]}[], offset: number[], lastPath: number[]|null}>} */
    this.buffers = new Map();
    /** The render tick of the last `advance`, or null. */
    this.renderTickValue = null;
  }

  /**
   * Records the replica's entities after a snapshot was applied. Entities for which
   * `skip(id)` is true (the locally predicted ones) are not recorded; entities that left view
   * are forgotten. Where the new state moves an entity's path at the current render tick (the
   * late states of a stall), the difference becomes its blend-back offset.
   */
  handleSnapshot(replica, skip = () => false) {
    const tick = replica.tick;
    for (const id of this.buffers.keys()) {
      if (!replica.entities.has(id) || skip(id)) this.buffers.delete(id);
    }
    const t = this.renderTickValue;
    for (const [id, e] of replica.entities) {
      const k = this.kinds[e.kind];
      if (!k.any || skip(id)) continue;
      let buf = this.buffers.get(id);
      if (buf === undefined || buf.kind !== e.kind) {
        buf = { kind: e.kind, states: [], offset: new Array(e.lanes.length).fill(0), lastPath: null };
        this.buffers.set(id, buf);
      }
      const states = buf.states;
      if (states.length && states[states.length - 1].tick >= tick) continue;
      const before = t === null ? null : path(this.config, k, states, t);
      const jumpedNow = states.length > 0 && jumped(k, states[states.length - 1].lanes, e.lanes);
      states.push({ tick, lanes: [...e.lanes] });
      while (states.length > this.config.maxStates) states.shift();
      if (jumpedNow) {
        buf.offset.fill(0);
        continue;
      }
      const after = t === null ? null : path(this.config, k, states, t);
      if (before !== null && after !== null) {
        for (let i = 0; i < k.interp.length; i++) {
          if (k.interp[i] !== 'Linear') continue;
          const d = before.lanes[i] - after.lanes[i];
          buf.offset[i] += d;
          if (buf.lastPath !== null) buf.lastPath[i] -= d;
        }
      }
    }
  }

  /**
   * The server sent nothing after tick `from` until `to` (inclusive) because nothing changed:
   * the replica was still at `from` and those were quiet ticks. Every entity whose newest state
   * is at `from` holds it through `to`. Call it before `handleSnapshot` with the next frame's
   * tick less one, so a body that starts moving then is drawn standing until the tick before.
   */
  holdQuiet(from, to) {
    if (to <= from) return;
    for (const buf of this.buffers.values()) {
      const states = buf.states;
      const last = states[states.length - 1];
      if (last === undefined || last.tick !== from) continue;
      states.push({ tick: to, lanes: [...last.lanes] });
      while (states.length > this.config.maxStates) states.shift();
    }
  }

  /**
   * Moves display time to `renderTick`, `frameS` seconds after the last call: decays every
   * blend-back offset, but never so fast that the drawn entity would move back against its
   * motion along its path this frame.
   */
  advance(renderTick, frameS) {
    this.renderTickValue = renderTick;
    const keep = 0.5 ** (Math.max(frameS, 0) / Math.max(this.config.blendHalfLifeS, 1e-6));
    for (const buf of this.buffers.values()) {
      const k = this.kinds[buf.kind];
      const now = path(this.config, k, buf.states, renderTick);
      if (buf.offset.some((o) => o !== 0)) {
        const decayed = buf.offset.map((o) => (Math.abs(o) * keep < 0.05 ? 0 : o * keep));
        // The drawn motion this frame, m + s·(decayed − offset), must not point back against
        // the path's motion this frame (m) nor over the next tick: the largest s ≤ 1 that keeps
        // both.
        let scale = 1;
        if (now !== null && buf.lastPath !== null) {
          const last = buf.lastPath;
          const next = path(this.config, k, buf.states, renderTick + 1);
          const dirs = [now.lanes.map((v, i) => v - last[i])];
          if (next !== null) dirs.push(next.lanes.map((v, i) => v - now.lanes[i]));
          for (const c of dirs) {
            let mc = 0;
            let dc = 0;
            let cc = 0;
            for (let i = 0; i < k.interp.length; i++) {
              if (k.interp[i] !== 'Linear') continue;
              mc += (now.lanes[i] - last[i]) * c[i];
              dc += (decayed[i] - buf.offset[i]) * c[i];
              cc += c[i] * c[i];
            }
            if (cc > 0 && mc + dc < 0) scale = Math.min(scale, Math.max(-mc / dc, 0));
          }
        }
        for (let i = 0; i < buf.offset.length; i++) buf.offset[i] += (decayed[i] - buf.offset[i]) * scale;
      }
      buf.lastPath = now === null ? null : now.lanes;
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

  /** The blend-back offset of entity `id` (lane units per field), or null. */
  offset(id) {
    return this.buffers.get(id)?.offset ?? null;
  }

  /**
   * Entity `id` at `renderTick`: `{ lanes, lateTicks }` (lanes as floats, one per field of its
   * kind; lateTicks how far past its newest state the render tick is, 0 while interpolating),
   * or null when it is not interpolated or not drawable yet. Its path plus what is left of its
   * blend-back offset.
   */
  sample(id, renderTick) {
    const buf = this.buffers.get(id);
    if (buf === undefined) return null;
    const s = path(this.config, this.kinds[buf.kind], buf.states, renderTick);
    if (s === null) return null;
    for (let i = 0; i < s.lanes.length; i++) s.lanes[i] += buf.offset[i];
    return s;
  }
}

/** An entity's path at `t` from its states alone (between states, or extrapolated), or null. */
function path(config, k, states, t) {
  if (states.length === 0 || t < states[0].tick) return null;
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
  const ahead = extrapolatedTicks(config, late);
  const span = last.tick - prev.tick;
  for (let i = 0; i < n; i++) {
    const v = last.lanes[i];
    out[i] = k.interp[i] === 'Linear' ? v + ((v - prev.lanes[i]) / span) * ahead : v;
  }
  return { lanes: out, lateTicks: late };
}
