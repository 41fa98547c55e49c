// The survival page predicts its hero to the bit: replays the sequences Rust's `predict_step`
// produced (games/survival/tests/vectors.rs → vectors/survival_movement.json) through the
// JavaScript step (survival/rules.js `heroStep`), on the hero's lanes as the SDK holds them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { heroStep, quantizeAngle16, quantizePos, snap, stepHero } from '../survival/rules.js';

const file = fileURLToPath(new URL('./vectors/survival_movement.json', import.meta.url));
const golden = JSON.parse(readFileSync(file, 'utf8'));

// The lane layout of the hero and input as in games/survival/src/lib.rs (what survivalFields
// finds in the schema).
const fields = {
  hero: { player: 0, x: 1, y: 2, aim: 3, hp: 4, alive: 5, respawns: 6, ammo: 7, reserve: 8, reloading: 9 },
  input: { move_x: 0, move_y: 1, aim: 2, fire: 3, reload: 4 },
};

for (const suite of golden.suites) {
  const { rules } = suite;
  test(`predict_step matches Rust on a ${rules.width}×${rules.height} map at ${rules.tick_rate} Hz`, () => {
    const step = heroStep(fields, rules);
    let steps = 0;
    let clamped = 0;
    suite.cases.forEach((c, i) => {
      const lanes = new Array(10).fill(0);
      [lanes[1], lanes[2]] = c.start;
      lanes[5] = c.alive ? 1 : 0;
      c.steps.forEach(([mx, my, wantX, wantY], s) => {
        step(lanes, { seq: s + 1, view_tick: 0, lanes: [mx, my, 0, 0, 0] });
        assert.ok(lanes[1] === wantX && lanes[2] === wantY,
          `case ${i} step ${s} (${mx},${my}): got (${lanes[1]}, ${lanes[2]}), Rust (${wantX}, ${wantY})`);
        const r = quantizePos(rules.hero_radius);
        if (lanes[1] === r || lanes[2] === r) clamped++;
        steps++;
      });
    });
    assert.ok(steps >= 1000, `only ${steps} steps checked`);
    assert.ok(clamped > 0, 'the vectors reach the map edge');
  });
}

test('the diagonal is not faster, -128 reads as a full deflection, a fallen hero stays', () => {
  const rules = golden.suites[0].rules;
  const [x, y] = stepHero(500, 400, 127, 127, rules);
  assert.ok(Math.abs(Math.hypot(x - 500, y - 400) - rules.hero_speed / rules.tick_rate) < 0.1);
  assert.deepEqual(stepHero(500, 400, 127, 0, rules), [507, 400], '210 u/s at 30 Hz');
  assert.deepEqual(stepHero(500, 400, -128, 0, rules), [493, 400]);
  const lanes = [0, 800, 800, 0, 0, 0, 0, 0, 0, 0];
  heroStep(fields, rules)(lanes, { lanes: [127, 127, 0, 0, 0] });
  assert.deepEqual(lanes.slice(1, 3), [800, 800]);
  assert.equal(snap(10.03), 10);
  assert.equal(quantizeAngle16(Math.PI), 32768);
});
