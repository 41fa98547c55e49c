// Clock sync from snapshot arrivals and pongs, with injected time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClockSync } from '../src/clock.js';

test('steady arrivals give the server tick and a two-tick interpolation delay', () => {
  const c = new ClockSync(30);
  // Tick t arrives at 1000 + t * 33.3 ms.
  for (let t = 100; t < 200; t++) c.onSnapshot(t, 1000 + ((t - 100) * 1000) / 30);
  const now = 1000 + (100 * 1000) / 30;
  assert.ok(Math.abs(c.arrivalTick(now) - 200) < 0.05, `${c.arrivalTick(now)}`);
  assert.ok(c.jitterTicks < 0.01);
  assert.ok(Math.abs(c.renderTick(now) - 198) < 0.06, `${c.renderTick(now)}`);
});

test('jittery arrivals widen the delay, which stays bounded', () => {
  const c = new ClockSync(30);
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let t = 0; t < 300; t++) c.onSnapshot(t, (t * 1000) / 30 + rand() * 100); // up to 3 ticks late
  const d = c.interpolationDelayTicks();
  assert.ok(d > 3 && d <= 10, `delay ${d}`);
  // Rendering at that delay keeps us behind nearly every arrival.
  const lateness = [];
  for (let t = 300; t < 400; t++) {
    const at = (t * 1000) / 30 + rand() * 100;
    lateness.push(c.renderTick(at) <= t);
    c.onSnapshot(t, at);
  }
  assert.ok(lateness.filter(Boolean).length >= 95, 'render tick stays behind arrivals');
});

test('a pong gives the round-trip time and the server tick', () => {
  const c = new ClockSync(30);
  c.onPong(1000, 500, 1100); // sent at 1000 ms, answered at tick 500, back at 1100 ms
  assert.equal(c.rttMs, 100);
  // At 1100 ms the server is about half a round trip past tick 500.
  assert.ok(Math.abs(c.serverTick(1100) - 501.5) < 1e-9);
  // Time stamps wrap at 2^32 ms.
  const w = new ClockSync(30);
  w.onPong(2 ** 32 - 10, 1, 2 ** 32 + 30);
  assert.equal(w.rttMs, 40);
});

test('a large jump (server restart, sleeping tab) resets the estimate', () => {
  const c = new ClockSync(30);
  for (let t = 1000; t < 1010; t++) c.onSnapshot(t, (t - 1000) * 33.3);
  c.onSnapshot(5, 400);
  assert.ok(Math.abs(c.arrivalTick(400) - 5) < 1e-9);
});
