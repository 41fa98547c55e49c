// The input history: seq 1 first and +1 each, commands kept until acknowledged, frames that
// repeat the newest unacknowledged commands (oldest first), a bounded history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputHistory } from '../src/sdk/inputs.js';
import { decodeClient, encodeClient } from '../src/sdk/codec.js';
import { toySchema } from './fakes.js';

test('numbers commands from 1 and copies their lanes', () => {
  const h = new InputHistory();
  const lanes = [5];
  const a = h.push(lanes, 10);
  lanes[0] = 99;
  const b = h.push([-3], 11);
  assert.deepEqual(a, { seq: 1, view_tick: 10, lanes: [5] }, 'the caller may reuse its array');
  assert.deepEqual(b, { seq: 2, view_tick: 11, lanes: [-3] });
  assert.equal(h.lastSeq, 2);
});

test('frames repeat the newest unacknowledged commands, oldest first, and go through the codec', () => {
  const h = new InputHistory({ redundancy: 2, capacity: 256 });
  for (let i = 1; i <= 5; i++) h.push([i], 100 + i);
  const f = h.frame();
  assert.deepEqual(f.cmds.map((c) => c.seq), [3, 4, 5]);
  const schema = toySchema();
  assert.deepEqual(decodeClient(encodeClient(f, schema), schema), f);
  h.acknowledge(4);
  assert.deepEqual(h.frame().cmds.map((c) => c.seq), [5], 'only the unacknowledged one is left');
  assert.deepEqual(h.unacked().map((c) => c.seq), [5]);
});

test('an ack drops every command up to it, never goes back, and may skip a gap', () => {
  const h = new InputHistory();
  for (let i = 0; i < 6; i++) h.push([0], 0);
  h.acknowledge(3);
  assert.deepEqual(h.unacked().map((c) => c.seq), [4, 5, 6]);
  h.acknowledge(2);
  assert.equal(h.acknowledged(), 3, 'an older ack changes nothing');
  assert.deepEqual(h.unacked().map((c) => c.seq), [4, 5, 6]);
  h.acknowledge(6);
  assert.deepEqual(h.unacked(), []);
  assert.deepEqual(h.frame().cmds, [], 'nothing to repeat');
  assert.equal(h.push([1], 0).seq, 7, 'numbering goes on');
});

test('the history is bounded: the oldest unacknowledged command goes first', () => {
  const h = new InputHistory({ redundancy: 0, capacity: 4 });
  for (let i = 0; i < 10; i++) h.push([i], 0);
  assert.deepEqual(h.unacked().map((c) => c.seq), [7, 8, 9, 10]);
  assert.deepEqual(h.frame().cmds.map((c) => c.seq), [10], 'redundancy 0 sends the newest alone');
});
