// What the page knows of the arena game (games/arena/src/lib.rs) beyond the SDK: its constants
// from Welcome.game_config (the map, the rules, the view radius), the lane index of each field
// it reads (looked up by name in the server's schema, so a reordered schema still works and a
// renamed field fails loudly at the Welcome, not as wrong pictures), the meaning of the button
// bits, and where a projectile is at a render tick.

import { projectilePosition } from './rules.js';

/** Button bits of the input's `buttons` lane (shared/src/protocol.rs `buttons`). */
export const BUTTONS = Object.freeze({ FIRE: 1, ALT_FIRE: 2 });

const FIELDS = {
  body: ['player', 'x', 'y', 'aim', 'health', 'alive', 'respawns'],
  projectile: ['owner', 'origin_x', 'origin_y', 'heading', 'spawn_tick'],
};
const INPUT = ['move_x', 'move_y', 'aim', 'buttons'];
const SCORES = ['kills', 'deaths'];

/** `{name: index}` of `names` among `fields`; throws naming what is missing. */
function indexOf(fields, names, what) {
  const out = {};
  for (const n of names) {
    const i = fields.findIndex((f) => f.name === n);
    if (i < 0) throw new Error(`the server's ${what} has no field "${n}": not the arena this page knows`);
    out[n] = i;
  }
  return out;
}

/**
 * Lane indices of every field the page uses: `{ body: {x, y, …}, projectile: {…}, input: {…},
 * scores: {kills, deaths} }`.
 */
export function arenaFields(schema) {
  const kind = (name) => {
    const k = schema.kinds.find((x) => x.name === name);
    if (!k) throw new Error(`the server's game has no "${name}" entities: not the arena this page knows`);
    return indexOf(k.fields, FIELDS[name], name);
  };
  return {
    body: kind('body'),
    projectile: kind('projectile'),
    input: indexOf(schema.input, INPUT, 'input'),
    scores: indexOf(schema.player_fields, SCORES, 'player record'),
  };
}

const f32 = (v) => (typeof v === 'number' ? Math.fround(v) : v);

/**
 * The arena's constants from `game_config` (JSON: `{arena, rules, view_radius}`). The server's
 * values are f32 printed in their shortest form; rounding each back to f32 gives the very
 * numbers the server moves players with, which bit-exact prediction needs.
 */
export function arenaConfig(gameConfig) {
  const c = JSON.parse(gameConfig);
  if (!c || typeof c !== 'object' || !c.arena || !c.rules) throw new Error('game_config has no arena and rules');
  const rules = Object.fromEntries(Object.entries(c.rules).map(([k, v]) => [k, f32(v)]));
  const arena = {
    width: f32(c.arena.width),
    height: f32(c.arena.height),
    obstacles: (c.arena.obstacles ?? []).map((o) => ({
      min_x: f32(o.min_x), min_y: f32(o.min_y), max_x: f32(o.max_x), max_y: f32(o.max_y),
    })),
  };
  return { arena, rules, viewRadius: f32(c.view_radius) };
}

/** Where a projectile (its held lanes) is at `tick`, world units. */
export function projectileAt(lanes, p, rules, tick) {
  return projectilePosition({
    origin_x: lanes[p.origin_x],
    origin_y: lanes[p.origin_y],
    heading: lanes[p.heading],
    spawn_tick: lanes[p.spawn_tick],
  }, rules, tick);
}
