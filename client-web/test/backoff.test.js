// The reconnection schedule: exponential, jittered, capped (which closes are retried: close.test.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, longestDelay } from '../src/sdk/backoff.js';

test('the ceiling doubles from the base up to the cap', () => {
  const top = (n) => backoffDelay(n, { random: () => 1 });
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map(top), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
});

test('jitter spreads each delay over the upper half of its ceiling', () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 250);
  assert.equal(backoffDelay(3, { random: () => 0 }), 2000);
  assert.equal(backoffDelay(3, { random: () => 0.5 }), 3000);
  // With the real random source every delay stays in bounds.
  for (let attempt = 0; attempt < 20; attempt++) {
    const ceiling = Math.min(10_000, 500 * 2 ** attempt);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt);
      assert.ok(d >= ceiling / 2 && d <= ceiling, `${attempt}: ${d}`);
    }
  }
});

test('custom base and cap', () => {
  assert.equal(backoffDelay(2, { baseMs: 100, capMs: 300, random: () => 1 }), 300);
  assert.equal(backoffDelay(1, { baseMs: 100, capMs: 300, random: () => 1 }), 200);
});

test('the longest delay is the jittered cap', () => {
  assert.equal(longestDelay({ random: () => 0 }), 5000);
  assert.equal(longestDelay({ random: () => 1 }), 10_000);
  assert.equal(longestDelay({ capMs: 300, random: () => 0.5 }), 225);
});
