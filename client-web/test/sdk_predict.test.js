// Prediction through the game's step (mirror of shared/src/sync/predict.rs's test and more):
// commands replayed on top of the server's lanes after each ack, only `predict` fields taken
// from the step, a surprise smoothed and decaying, a respawn or a large error snapped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Predictor, predictionConfig } from '../src/sdk/predict.js';
import { field } from './fakes.js';

// lanes: [x (Fixed 8, predicted, linear), hp (not predicted), life (discontinuity)]
const fields = [
  field('x', { Fixed: 8 }, 'interpolate', 'predict'),
  field('hp', 'U8'),
  field('life', 'U8', 'discontinuity'),
];
const cmd = (seq, dx) => ({ seq, view_tick: 0, lanes: [dx] });
// The step moves x by the command and (wrongly, for this test) also writes hp: not shown.
const walk = (l, c) => {
  if (l[1] === 0) return; // a dead body does not move: the step reads non-predicted fields
  l[0] += c.lanes[0];
  l[1] = 1;
};

test('replays unacknowledged commands and smooths a surprise', () => {
  // The half-life alone (no minimum speed), to check it exactly.
  const p = new Predictor(fields, walk, { ...predictionConfig(), correctionMinSpeed: 0 });
  p.predict(cmd(1, 8));
  assert.equal(p.predictedLanes(), null, 'nothing before the first server state');
  assert.deepEqual(p.reconcile([0, 100, 0], []), { error: 0, snapped: true }, 'the first state');
  const cmds = [1, 2, 3].map((s) => cmd(s, 8));
  for (const c of cmds) p.predict(c);
  assert.deepEqual(p.predictedLanes(), [24, 100, 0], 'hp stays the server\'s: it is not predicted');
  // The server applied command 1 exactly as predicted.
  assert.deepEqual(p.reconcile([8, 100, 0], cmds.slice(1)), { error: 0, snapped: false });
  // The server pushed us back by 2 units (16 lanes): smoothed, not snapped.
  assert.deepEqual(p.reconcile([0, 100, 0], cmds.slice(2)), { error: 2, snapped: false });
  assert.deepEqual(p.predictedLanes(), [8, 100, 0]);
  assert.equal(p.render()[0], 24, 'drawn where it was');
  p.advance(0.06);
  assert.equal(p.render()[0], 16, 'half the way after one half-life');
  for (let i = 0; i < 20; i++) p.advance(0.06);
  assert.equal(p.render()[0], 8, 'the correction dies away completely');
});

test('a small correction ends in a few frames: the minimum speed', () => {
  const p = new Predictor(fields, walk);
  p.reconcile([0, 100, 0], []);
  const c1 = cmd(1, 47);
  p.predict(c1);
  // Pushed back by 47 lanes (5.9 units): gone within 8 frames at 60 Hz, not 36.
  const c = p.reconcile([-47, 100, 0], [c1]);
  assert.equal(c.snapped, false);
  let frames = 0;
  while (p.render()[0] !== 0) {
    p.advance(1 / 60);
    frames++;
    assert.ok(frames <= 8, `still ${p.render()[0]} lanes off`);
  }
  assert.ok(frames >= 3, `smoothed, not dropped: ${frames} frames`);
});

test('the step sees the server\'s non-predicted fields', () => {
  const p = new Predictor(fields, walk);
  p.reconcile([40, 0, 0], []);
  p.predict(cmd(1, 8));
  assert.deepEqual(p.predictedLanes(), [40, 0, 0], 'dead: the step does not move it');
  p.reconcile([40, 100, 0], [cmd(1, 8)]);
  assert.deepEqual(p.predictedLanes(), [48, 100, 0]);
});

test('a respawn (discontinuity) or an error past snapDistance snaps', () => {
  const p = new Predictor(fields, walk, { correctionHalfLifeS: 0.06, snapDistance: 64 });
  p.reconcile([0, 100, 0], []);
  p.predict(cmd(1, 8));
  assert.deepEqual(p.reconcile([800, 100, 1], []), { error: 99, snapped: true });
  assert.equal(p.render()[0], 800);
  // 65 units away without a respawn: too far to glide.
  const c = p.reconcile([800 + 65 * 8, 100, 1], []);
  assert.deepEqual(c, { error: 65, snapped: true });
  assert.equal(p.render()[0], 1320);
  // 60 units: smoothed.
  const d = p.reconcile([1320 + 60 * 8, 100, 1], []);
  assert.deepEqual(d, { error: 60, snapped: false });
  assert.equal(p.render()[0], 1320);
});
