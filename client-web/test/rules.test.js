// Movement prediction matches the server to the bit: replays the sequences Rust's `step_player`
// produced (shared/tests/golden.rs → vectors/movement.json) through the JavaScript port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { moveVector, quantizeAngle16, quantizePos, snap, stepPlayer } from '../src/rules.js';

const file = fileURLToPath(new URL('./vectors/movement.json', import.meta.url));
const golden = JSON.parse(readFileSync(file, 'utf8'));

const f32Rules = (r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.fround(v)]));
const f32Arena = (a) => ({
  width: Math.fround(a.width),
  height: Math.fround(a.height),
  obstacles: a.obstacles.map((o) => f32Rules(o)),
});

for (const suite of golden.suites) {
  test(`step_player matches Rust at ${suite.rules.tick_rate} Hz`, () => {
    const rules = f32Rules(suite.rules);
    let steps = 0;
    suite.cases.forEach((c, i) => {
      const arena = f32Arena(golden.arenas[c.arena]);
      let x = Math.fround(c.start_x);
      let y = Math.fround(c.start_y);
      c.steps.forEach(([mx, my, wantX, wantY], s) => {
        [x, y] = stepPlayer(x, y, mx, my, rules, arena);
        assert.ok(x === wantX && y === wantY,
          `case ${i} step ${s} (${mx},${my}): got (${x}, ${y}), Rust (${wantX}, ${wantY})`);
        steps++;
      });
    });
    assert.ok(steps > 1000, `only ${steps} steps checked`);
  });
}

test('move vectors are clamped to length 1 and -128 reads as -127', () => {
  const [x, y] = moveVector(127, 127);
  assert.ok(Math.abs(Math.hypot(x, y) - 1) < 1e-6);
  assert.deepEqual(moveVector(-128, 0), moveVector(-127, 0));
  assert.deepEqual(moveVector(0, 0), [0, 0]);
});

test('quantization rounds half away from zero like Rust', () => {
  assert.equal(quantizePos(0.0625), 1);
  assert.equal(quantizePos(-0.0625), -1);
  assert.equal(snap(10.03), 10);
  assert.equal(quantizeAngle16(Math.PI), 32768);
  assert.equal(quantizeAngle16(-Math.PI / 2), 49152);
  assert.equal(quantizeAngle16(2 * Math.PI), 0);
});
