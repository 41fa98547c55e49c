// The interpolation buffer: linear between samples, angles the short way, bounded
// extrapolation, and no interpolation across a respawn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterpolationBuffer, angleDelta } from '../src/interpolation.js';

const state = (x, y, aim = 0, status = 1) => ({ x: x * 8, y: y * 8, aim, health: 100, status });
const near = (a, b, msg) => assert.ok(Math.abs(a - b) < 1e-9, `${msg}: ${a} vs ${b}`);

test('positions interpolate linearly between ticks', () => {
  const b = new InterpolationBuffer();
  b.push(10, state(100, 200));
  b.push(12, state(120, 180));
  const s = b.sample(11.5);
  near(s.x, 115, 'x');
  near(s.y, 185, 'y');
  near(b.sample(10).x, 100, 'at the first sample');
  near(b.sample(5).x, 100, 'before the first sample it holds');
});

test('angles turn the short way across zero', () => {
  assert.ok(Math.abs(angleDelta(6.2, 0.1) - (0.1 + 2 * Math.PI - 6.2)) < 1e-9);
  const b = new InterpolationBuffer();
  b.push(1, state(0, 0, 250)); // just below a full turn
  b.push(2, state(0, 0, 6)); // just past zero
  const mid = b.sample(1.5).aim;
  const wrapped = ((mid % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
  // Halfway is at 256/256 of a turn = 0, not half a turn round the other way.
  assert.ok(wrapped < 0.1 || wrapped > 2 * Math.PI - 0.1, `halfway aim ${wrapped}`);
});

test('extrapolation continues the last motion for a bounded number of ticks, then holds', () => {
  const b = new InterpolationBuffer();
  b.push(1, state(0, 0));
  b.push(2, state(10, 0));
  near(b.sample(3).x, 20, 'one tick ahead');
  near(b.sample(4, 3).x, 30, 'two ticks ahead');
  near(b.sample(100, 3).x, 40, 'capped at three ticks');
  near(b.sample(100, 0).x, 10, 'no extrapolation when disabled');
});

test('no interpolation or extrapolation across a respawn', () => {
  const b = new InterpolationBuffer();
  b.push(1, state(0, 0, 0, 0b01)); // alive, respawn counter 0
  b.push(2, state(2000, 1000, 0, 0b11)); // respawned far away: counter 1
  near(b.sample(1.9).x, 0, 'holds the old spot until the respawn tick');
  near(b.sample(2).x, 2000, 'then jumps');
  near(b.sample(5).x, 2000, 'and does not extrapolate the jump');
});

test('dead bodies are not extrapolated and old samples are dropped', () => {
  const b = new InterpolationBuffer(4);
  for (let t = 1; t <= 10; t++) b.push(t, state(t, 0, 0, t === 10 ? 0 : 1));
  assert.equal(b.samples.length, 4);
  assert.equal(b.samples[0].tick, 7);
  near(b.sample(12).x, 10, 'a dead body holds');
  b.push(10, state(99, 0));
  assert.equal(b.samples.length, 4, 'a sample for an old tick is ignored');
});
