// The arena page's own pieces on the SDK: its field indices by name, its constants from
// game_config exactly as f32, and its prediction step (rules.js bodyStep) on the body's lanes
// replaying the movement Rust recorded (vectors/movement.json) to the bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { arenaConfig, arenaFields, projectileAt } from '../src/arena.js';
import { bodyStep, quantizePos } from '../src/rules.js';
import { arenaGameConfig, arenaSchema } from './arena_fixture.js';

const movement = JSON.parse(readFileSync(fileURLToPath(new URL('./vectors/movement.json', import.meta.url)), 'utf8'));

test('fields are found by name, whatever their order, and a missing one is named', () => {
  const f = arenaFields(arenaSchema());
  assert.deepEqual(f.body, { player: 0, x: 1, y: 2, aim: 3, health: 4, alive: 5, respawns: 6 });
  assert.deepEqual(f.input, { move_x: 0, move_y: 1, aim: 2, buttons: 3 });
  assert.deepEqual(f.scores, { kills: 0, deaths: 1 });
  const s = arenaSchema();
  s.kinds[0].fields.reverse();
  assert.equal(arenaFields(s).body.x, 5);
  s.kinds[0].fields = s.kinds[0].fields.filter((x) => x.name !== 'alive');
  assert.throws(() => arenaFields(s), /body has no field "alive"/);
  assert.throws(() => arenaFields({ ...arenaSchema(), kinds: [] }), /no "body" entities/);
});

test('game_config numbers become the server\'s f32 values', () => {
  const c = arenaConfig(JSON.stringify({
    arena: { width: 2400, height: 1600, obstacles: [{ min_x: 0.1, min_y: 1, max_x: 2, max_y: 3 }] },
    rules: { tick_rate: 30, player_speed: 0.1, player_radius: 16 },
    view_radius: 700.5,
  }));
  assert.equal(c.rules.player_speed, Math.fround(0.1));
  assert.notEqual(c.rules.player_speed, 0.1);
  assert.equal(c.arena.obstacles[0].min_x, Math.fround(0.1));
  assert.equal(c.viewRadius, 700.5);
  assert.throws(() => arenaConfig('{}'), /no arena and rules/);
  assert.throws(() => arenaConfig('not json'));
});

for (const suite of movement.suites) {
  test(`bodyStep on lanes matches Rust's step_player at ${suite.rules.tick_rate} Hz`, () => {
    const f = arenaFields(arenaSchema());
    let steps = 0;
    suite.cases.forEach((c, i) => {
      const config = arenaConfig(JSON.stringify({ arena: movement.arenas[c.arena], rules: suite.rules, view_radius: 700 }));
      const step = bodyStep(f, config);
      // Lanes hold grid positions: start from the first step's result (starts may be off-grid).
      const [first, ...rest] = c.steps;
      const lanes = [7, quantizePos(first[2]), quantizePos(first[3]), 0, 100, 1, 0];
      rest.forEach(([mx, my, wantX, wantY], s) => {
        step(lanes, { seq: s + 1, view_tick: 0, lanes: [mx, my, 0, 0] });
        assert.ok(lanes[1] === quantizePos(wantX) && lanes[2] === quantizePos(wantY),
          `case ${i} step ${s + 1}: got (${lanes[1] / 8}, ${lanes[2] / 8}), Rust (${wantX}, ${wantY})`);
        assert.equal(lanes[1] / 8, wantX, 'the lane is the exact grid position');
        steps++;
      });
    });
    assert.ok(steps > 1000, `only ${steps} steps checked`);
  });
}

test('a dead body does not move, and the step touches only x and y', () => {
  const step = bodyStep(arenaFields(arenaSchema()), arenaConfig(arenaGameConfig()));
  const dead = [7, 4000, 4000, 9, 0, 0, 3];
  step(dead, { seq: 1, view_tick: 0, lanes: [127, 127, 0, 1] });
  assert.deepEqual(dead, [7, 4000, 4000, 9, 0, 0, 3]);
  const alive = [7, 4000, 4000, 9, 100, 1, 3];
  step(alive, { seq: 1, view_tick: 0, lanes: [127, 0, 0, 1] });
  assert.deepEqual(alive, [7, 4000 + Math.round((220 / 30) * 8), 4000, 9, 100, 1, 3]);
});

test('projectiles fly straight from their lanes', () => {
  const f = arenaFields(arenaSchema());
  const rules = arenaConfig(arenaGameConfig()).rules;
  const lanes = [3, 800, 1600, 16384, 90]; // from (100, 200), heading +y (a quarter turn)
  const [x, y] = projectileAt(lanes, f.projectile, rules, 93);
  assert.ok(Math.abs(x - 100) < 1e-9);
  assert.ok(Math.abs(y - (200 + 700 * 0.1)) < 1e-9, String(y));
  assert.deepEqual(projectileAt(lanes, f.projectile, rules, 80), [100, 200], 'not before its spawn tick');
});
