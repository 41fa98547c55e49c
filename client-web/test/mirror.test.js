// Mirrored streams (mirror.js, the copy of shared/src/sync/mirror.rs): numbered messages wrap
// and unwrap at every varint width, other messages are not numbered, cut ones are refused; the
// merge takes each message once and in order, with the same cases and counts as the Rust tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Merge, NUMBERED, unwrap, wrap } from '../src/sdk/mirror.js';
import { WireError } from '../src/sdk/wire.js';

test('wraps and unwraps at every varint width', () => {
  const msg = [1, 2, 3];
  // The number in the project's varint: one byte below 251, else 251 + u16, 252 + u32 (LE).
  const cases = [
    [0, [7, 0]],
    [1, [7, 1]],
    [250, [7, 250]],
    [251, [7, 251, 251, 0]],
    [70_000, [7, 252, 0x70, 0x11, 0x01, 0x00]],
  ];
  for (const [seq, head] of cases) {
    const bytes = wrap(seq, Uint8Array.from(msg));
    assert.deepEqual([...bytes], [...head, ...msg], `seq ${seq}`);
    const got = unwrap(bytes);
    assert.equal(got.seq, seq);
    assert.deepEqual([...got.msg], msg);
  }
  assert.equal(NUMBERED, 7);
  assert.equal(unwrap(Uint8Array.of(1, 9, 9)), null, 'a snapshot is not numbered');
  assert.throws(() => unwrap(Uint8Array.of(7, 3)), WireError, 'a number with nothing after it');
  assert.throws(() => unwrap(Uint8Array.of(7)), WireError);
  assert.throws(() => unwrap(Uint8Array.of(7, 251, 1)), WireError, 'a number cut short');
  // 2^53: past what a JS number counts exactly (a real session never gets there).
  assert.throws(() => unwrap(Uint8Array.of(7, 253, 0, 0, 0, 0, 0, 0, 0x20, 0, 1)), /out of range/);
});

/**
 * Two copies of the same stream, the main one stalled for a while: every message is taken once,
 * in order, whichever way the copies interleave.
 */
test('takes each message once, in order', () => {
  const m = new Merge();
  const taken = [];
  const feed = (stream, seq) => {
    if (m.take(stream, seq)) taken.push(seq);
  };
  // Main brings 0..=9; the mirror attached at 5 and brings 5..=9 too.
  for (let seq = 0; seq < 5; seq++) feed('main', seq);
  // The main stream stalls after 5: the mirror brings 6, 7, 8 first.
  feed('main', 5);
  feed('mirror', 5);
  for (let seq = 6; seq < 9; seq++) feed('mirror', seq);
  // The main stream's repair arrives in a burst.
  for (let seq = 6; seq < 10; seq++) feed('main', seq);
  feed('mirror', 9);
  assert.deepEqual(taken, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(m.fromMirror, 3);
  assert.equal(m.duplicates, 5);
  assert.equal(m.next, 10);
});

/**
 * A mirror that starts ahead (it attached while the main stream was stalled) or skipped a
 * message is not taken until it is in step: nothing behind it is lost.
 */
test('a mirror ahead of what was taken waits for the main stream', () => {
  const m = new Merge();
  assert.equal(m.take('mirror', 0), false, "nothing before the main stream's first");
  assert.equal(m.take('main', 0), true);
  assert.equal(m.take('mirror', 3), false, '1 and 2 are still to come');
  assert.equal(m.take('main', 1), true);
  assert.equal(m.take('main', 2), true);
  assert.equal(m.take('mirror', 4), false, 'the mirror skipped 3');
  assert.equal(m.take('main', 3), true);
  assert.equal(m.take('main', 4), true);
  assert.equal(m.take('mirror', 5), true, 'in step again');
  assert.equal(m.take('main', 5), false);
  assert.equal(m.fromMirror, 1);
});
