// The arena's movement rules and quantization, ported from games/arena/src/rules.rs and
// games/arena/src/quant.rs so the client predicts its own player exactly as the server moves
// it, and `bodyStep`, the step the SDK's prediction runs on the body's lanes for each input
// command. Rust computes in f32 and
// JavaScript in f64: every arithmetic step that Rust does in f32 is rounded here with
// Math.fround, in the same order, so the results agree to the bit (test/rules.test.js replays
// the Rust golden movement sequences).

import { dequantizeFixedF32, quantizeAngle16, quantizeFixedF32 } from './sdk/f32.js';

export { quantizeAngle16 };

const f = Math.fround;
const TAU = 2 * Math.PI;

/** Quantization steps per world unit for positions. */
export const POS_SCALE = 8;

/** World coordinate to its `Fixed(8)` lane. */
export function quantizePos(v) {
  return quantizeFixedF32(v, POS_SCALE);
}

/** A `Fixed(8)` lane back to a world coordinate. */
export function dequantizePos(q) {
  return dequantizeFixedF32(q, POS_SCALE);
}

/** Snaps a coordinate to the lane grid. */
export function snap(v) {
  return dequantizePos(quantizePos(v));
}

/** 65,536-steps angle back to radians. */
export function dequantizeAngle16(q) {
  return (q / 65536) * TAU;
}

/** 256-steps angle (snapshots) back to radians. */
export function dequantizeAngle8(q) {
  return (q / 256) * TAU;
}

/** Seconds per tick, as the f32 Rust uses. */
export function dt(rules) {
  return f(1 / rules.tick_rate);
}

/** The movement intent of a command as a vector of length at most 1 (`move_vector`). */
export function moveVector(moveX, moveY) {
  let x = f(Math.max(moveX, -127) / 127);
  let y = f(Math.max(moveY, -127) / 127);
  const len2 = f(f(x * x) + f(y * y));
  if (len2 > 1) {
    const recip = f(1 / f(Math.sqrt(len2)));
    x = f(x * recip);
    y = f(y * recip);
  }
  return [x, y];
}

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

/** `Rect::push_out`: moves a circle out of a rectangle along the shortest way. */
export function pushOut(o, cx, cy, r) {
  const closestX = clamp(cx, o.min_x, o.max_x);
  const closestY = clamp(cy, o.min_y, o.max_y);
  const dx = f(cx - closestX);
  const dy = f(cy - closestY);
  const len2 = f(f(dx * dx) + f(dy * dy));
  if (len2 >= f(r * r)) return [cx, cy];
  if (len2 > f(1e-12)) {
    const len = f(Math.sqrt(len2));
    return [f(closestX + f(f(dx / len) * r)), f(closestY + f(f(dy / len) * r))];
  }
  // Centre inside the rectangle: leave through the nearest side (first one on ties).
  const exits = [
    [f(cx - o.min_x), f(o.min_x - r), cy],
    [f(o.max_x - cx), f(o.max_x + r), cy],
    [f(cy - o.min_y), cx, f(o.min_y - r)],
    [f(o.max_y - cy), cx, f(o.max_y + r)],
  ];
  let best = exits[0];
  for (const e of exits) if (e[0] < best[0]) best = e;
  return [best[1], best[2]];
}

/** `Arena::resolve_circle`: out of every obstacle and inside the bounds. */
export function resolveCircle(arena, cx, cy, r) {
  let x = cx;
  let y = cy;
  for (let pass = 0; pass < 2; pass++) {
    for (const o of arena.obstacles) [x, y] = pushOut(o, x, y, r);
    x = clamp(x, r, f(arena.width - r));
    y = clamp(y, r, f(arena.height - r));
  }
  return [x, y];
}

/** `step_player`: one input command's movement, snapped to the wire grid. */
export function stepPlayer(x, y, moveX, moveY, rules, arena) {
  const [mx, my] = moveVector(moveX, moveY);
  const step = dt(rules);
  const tx = f(x + f(f(mx * rules.player_speed) * step));
  const ty = f(y + f(f(my * rules.player_speed) * step));
  const [rx, ry] = resolveCircle(arena, tx, ty, rules.player_radius);
  return [snap(rx), snap(ry)];
}

/**
 * The arena's prediction step for the SDK (`GameClient`'s `step`): one input command moves the
 * body's `x` and `y` lanes (1/8 units) exactly as the server's `Sim::apply_input` does; a dead
 * body does not move. `f` are the lane indices (`arenaFields`), `config` the arena's constants
 * (`arenaConfig`).
 */
export function bodyStep(f, config) {
  const { x, y, alive } = f.body;
  const { move_x: mx, move_y: my } = f.input;
  return (lanes, cmd) => {
    if (!lanes[alive]) return;
    const [nx, ny] = stepPlayer(lanes[x] / POS_SCALE, lanes[y] / POS_SCALE, cmd.lanes[mx], cmd.lanes[my], config.rules, config.arena);
    lanes[x] = quantizePos(nx);
    lanes[y] = quantizePos(ny);
  };
}

/** Where a projectile is at a (fractional) tick, from its immutable state. */
export function projectilePosition(p, rules, tick) {
  const elapsed = (Math.max(0, tick - p.spawn_tick) / rules.tick_rate) * rules.projectile_speed;
  const h = dequantizeAngle16(p.heading);
  return [p.origin_x / POS_SCALE + Math.cos(h) * elapsed, p.origin_y / POS_SCALE + Math.sin(h) * elapsed];
}

/** Whether a circle overlaps a rectangle (for drawing decisions, not for prediction). */
export function rectOverlapsCircle(o, cx, cy, r) {
  const dx = cx - clamp(cx, o.min_x, o.max_x);
  const dy = cy - clamp(cy, o.min_y, o.max_y);
  return dx * dx + dy * dy < r * r;
}
