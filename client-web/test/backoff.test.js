// The reconnection schedule: exponential, jittered, capped; and which closes are retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, describeClose, shouldRetry } from '../src/backoff.js';

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

test('version, handshake, full, auth and replaced closes are not retried; the rest are', () => {
  for (const code of [4000, 4001, 4003, 4004, 4006]) assert.equal(shouldRetry(code), false, String(code));
  for (const code of [1000, 1001, 1006, 1011, 4002, 4005]) assert.equal(shouldRetry(code), true, String(code));
});

test('close reasons read as sentences', () => {
  assert.match(describeClose(4000, 'protocol version 2 is not supported'), /different protocol versions: protocol version 2/);
  assert.match(describeClose(1001, 'server shutting down'), /shutting down/);
  assert.match(describeClose(4005, ''), /^Kicked/);
  assert.match(describeClose(1006, ''), /Lost the connection/);
  assert.match(describeClose(4242, 'odd'), /code 4242\): odd/);
});
