// Prediction and reconciliation of the local player against a server that runs the same rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Predictor, SNAP_DISTANCE } from '../src/prediction.js';
import { stepPlayer } from '../src/rules.js';

const f = Math.fround;
const rules = { tick_rate: 30, player_radius: 16, player_speed: 220 };
const arena = {
  width: 2400,
  height: 1600,
  obstacles: [{ min_x: f(1140), min_y: f(640), max_x: f(1260), max_y: f(960) }],
};
const cmd = (seq, mx, my = 0) => ({ seq, move_x: mx, move_y: my, aim: 0, buttons: 0, view_tick: 0 });

/** A server that applies commands as they arrive, with `lag` commands in flight. */
function simulate(moves, lag) {
  const p = new Predictor(rules, arena);
  p.reconcile(1000, 800, 0, true, false);
  let server = [1000, 800];
  let serverSeq = 0;
  const sent = [];
  const shown = [];
  moves.forEach(([mx, my], i) => {
    const c = cmd(i + 1, mx, my);
    p.applyLocal(c);
    sent.push(c);
    // The server catches up to `lag` commands behind and reports.
    while (serverSeq < sent.length - lag) {
      const s = sent[serverSeq++];
      server = stepPlayer(server[0], server[1], s.move_x, s.move_y, rules, arena);
    }
    p.reconcile(server[0], server[1], serverSeq, true, false);
    shown.push([p.x + p.errX, p.y + p.errY]);
  });
  return { p, server, shown };
}

test('with an agreeing server, prediction never needs correcting', () => {
  const moves = Array.from({ length: 90 }, (_, i) => [i % 30 < 15 ? 127 : -127, i % 7 === 0 ? 127 : 0]);
  const { p, shown } = simulate(moves, 5);
  assert.equal(p.errX, 0);
  assert.equal(p.errY, 0);
  // What was shown equals pure local integration, step by step.
  let x = 1000;
  let y = 800;
  moves.forEach(([mx, my], i) => {
    [x, y] = stepPlayer(x, y, mx, my, rules, arena);
    assert.deepEqual(shown[i], [x, y], `step ${i}`);
  });
  assert.equal(p.history.length, 5, 'only the commands in flight are kept');
});

test('acknowledged commands are dropped and the rest replayed on the server position', () => {
  const p = new Predictor(rules, arena);
  p.reconcile(100, 100, 0, true, false);
  for (let s = 1; s <= 5; s++) p.applyLocal(cmd(s, 127));
  // The server applied 1..3 but something pushed us 2 units down.
  let sx = 100;
  for (let s = 1; s <= 3; s++) [sx] = stepPlayer(sx, 100, 127, 0, rules, arena);
  p.reconcile(sx, 102, 3, true, false);
  assert.deepEqual(p.history.map((c) => c.seq), [4, 5]);
  let [x, y] = [sx, 102];
  for (let s = 4; s <= 5; s++) [x, y] = stepPlayer(x, y, 127, 0, rules, arena);
  assert.deepEqual([p.x, p.y], [x, y], 'replayed from the authoritative state');
  // The jump is smoothed: the body is still drawn where it was, and the offset decays.
  assert.ok(Math.abs(p.errY + 2) < 1e-9, `offset ${p.errY}`);
  p.decay(16);
  assert.ok(p.errY < 0 && p.errY > -2, 'decays');
  for (let i = 0; i < 20; i++) p.decay(16);
  assert.equal(p.errY, 0, 'gone after a few frames');
});

test('large corrections and respawns snap instead of smoothing', () => {
  const p = new Predictor(rules, arena);
  p.reconcile(100, 100, 0, true, false);
  p.applyLocal(cmd(1, 127));
  p.reconcile(100 + SNAP_DISTANCE * 2, 100, 1, true, false);
  assert.deepEqual([p.errX, p.errY], [0, 0]);
  assert.deepEqual([p.x, p.y], [100 + SNAP_DISTANCE * 2, 100]);
  p.applyLocal(cmd(2, 127));
  p.reconcile(2000, 1500, 1, true, true);
  assert.deepEqual([p.errX, p.errY], [0, 0]);
  assert.equal(p.y, 1500);
});

test('a dead player does not move', () => {
  const p = new Predictor(rules, arena);
  p.reconcile(100, 100, 0, false, false);
  p.applyLocal(cmd(1, 127));
  assert.deepEqual([p.x, p.y], [100, 100]);
});

test('the redundant input window holds the newest unacknowledged commands', () => {
  const p = new Predictor(rules, arena);
  p.reconcile(100, 100, 0, true, false);
  for (let s = 1; s <= 10; s++) p.applyLocal(cmd(s, 0));
  assert.deepEqual(p.unacked(4).map((c) => c.seq), [7, 8, 9, 10]);
  p.reconcile(100, 100, 9, true, false);
  assert.deepEqual(p.unacked(4).map((c) => c.seq), [10]);
});
