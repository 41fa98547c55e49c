// What the survival page knows of the game (games/survival/src/lib.rs) beyond the SDK: the lane
// index of each field it reads, looked up by name in the server's schema (a renamed field fails
// loudly at the Welcome, not as wrong pictures), and the hero's movement ported from
// games/survival/src/rules.rs (`step_hero`, `quantize_pos`, `snap`) and client.rs
// (`predict_step`), so the page predicts its own hero exactly as the server moves it. Rust
// computes in f32 and JavaScript in f64: every step Rust does in f32 is rounded here with
// Math.fround, in the same order, so the results agree to the bit
// (test/survival_rules.test.js replays the golden vectors games/survival/tests/vectors.rs
// writes).

import { dequantizeFixedF32, quantizeAngle16, quantizeFixedF32 } from '../src/sdk/f32.js';

export { quantizeAngle16 };

const f = Math.fround;

/** Quantization steps per world unit of a moving position (`Fixed(8)` lanes). */
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

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

/**
 * `step_hero`: one input command's movement for a hero at (x, y): `moveX`/`moveY` in
 * -128..=127 (the diagonal is not faster), kept inside the map, snapped to the lane grid.
 * `rules` are the game's rules as `Welcome.game_config` carries them.
 */
export function stepHero(x, y, moveX, moveY, rules) {
  // Vec2::new(move_x as f32, move_y as f32) / 127.0, normalized when longer than 1
  // (glam: x * (1 / sqrt(x·x + y·y))).
  let dx = f(moveX / 127);
  let dy = f(moveY / 127);
  const len2 = f(f(dx * dx) + f(dy * dy));
  if (len2 > 1) {
    const recip = f(1 / f(Math.sqrt(len2)));
    dx = f(dx * recip);
    dy = f(dy * recip);
  }
  const r = f(rules.hero_radius);
  const speed = f(rules.hero_speed);
  const dt = f(1 / rules.tick_rate);
  // pos + dir * hero_speed * dt, left to right.
  const nx = f(x + f(f(dx * speed) * dt));
  const ny = f(y + f(f(dy * speed) * dt));
  return [snap(clamp(nx, r, f(f(rules.width) - r))), snap(clamp(ny, r, f(f(rules.height) - r)))];
}

/**
 * `predict_step`: the hero's prediction step for the SDK (`GameClient`'s `step`): one input
 * command moves the hero's `x` and `y` lanes exactly as the server does; a fallen hero does not
 * move. `fields` are the lane indices (`survivalFields`), `rules` the game's rules.
 */
export function heroStep(fields, rules) {
  const { x, y, alive } = fields.hero;
  const { move_x: mx, move_y: my } = fields.input;
  return (lanes, cmd) => {
    if (lanes[alive] === 0) return;
    const [nx, ny] = stepHero(dequantizePos(lanes[x]), dequantizePos(lanes[y]), cmd.lanes[mx], cmd.lanes[my], rules);
    lanes[x] = quantizePos(nx);
    lanes[y] = quantizePos(ny);
  };
}

const FIELDS = {
  hero: ['player', 'x', 'y', 'aim', 'hp', 'alive', 'respawns', 'ammo', 'reserve', 'reloading'],
  zombie: ['x', 'y', 'hp'],
  pickup: ['item', 'x', 'y'],
};
const INPUT = ['move_x', 'move_y', 'aim', 'fire', 'reload'];
const ROOM = ['wave', 'next_wave_tick', 'zombies_left', 'score'];
const SCORES = ['kills', 'deaths'];

/** Pickup `item` values. */
export const ITEMS = Object.freeze({ CRATE: 0, COIN: 1 });

/** `{name: index}` of `names` among `fields`; throws naming what is missing. */
function indexOf(fields, names, what) {
  const out = {};
  for (const n of names) {
    const i = fields.findIndex((d) => d.name === n);
    if (i < 0) throw new Error(`the server's ${what} has no field "${n}": not the survival game this page knows`);
    out[n] = i;
  }
  return out;
}

/**
 * Lane indices of every field the page uses: `{ hero: {x, y, …}, zombie, pickup, input, room,
 * scores }`.
 */
export function survivalFields(schema) {
  const kind = (name) => {
    const k = schema.kinds.find((d) => d.name === name);
    if (!k) throw new Error(`the server's game has no "${name}" entities: not the survival game this page knows`);
    return indexOf(k.fields, FIELDS[name], name);
  };
  return {
    hero: kind('hero'),
    zombie: kind('zombie'),
    pickup: kind('pickup'),
    input: indexOf(schema.input, INPUT, 'input'),
    room: indexOf(schema.room_fields, ROOM, 'room'),
    scores: indexOf(schema.player_fields, SCORES, 'player record'),
  };
}
