// Prediction and reconciliation (mirror of shared/src/prediction.rs) against a server that runs
// the same rules, and the input history that feeds it (shared/src/input.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputHistory } from '../src/input.js';
import { Predictor, predictionConfig } from '../src/prediction.js';
import { stepPlayer } from '../src/rules.js';

const f = Math.fround;
const rules = { tick_rate: 30, player_radius: 16, player_speed: 220 };
const arena = {
  width: 2400,
  height: 1600,
  obstacles: [{ min_x: f(1140), min_y: f(640), max_x: f(1260), max_y: f(960) }],
};
const state = (x, y, status = 1) => ({ x: Math.round(x * 8), y: Math.round(y * 8), aim: 0, health: 100, status });
const intent = (mx, my = 0) => ({ move_x: mx, move_y: my, aim: 0, buttons: 0 });

test('with an agreeing server and commands in flight, prediction is exact and never corrected', () => {
  const inputs = new InputHistory();
  const p = new Predictor();
  p.reconcile(state(1100, 700), [], rules, arena);
  let server = [1100, 700];
  let applied = 0;
  const sent = [];
  let local = [1100, 700];
  for (let i = 0; i < 120; i++) {
    const cmd = inputs.push(intent(i % 40 < 20 ? 127 : -127, i % 7 === 0 ? 127 : -40), 0);
    p.predict(cmd, rules, arena);
    sent.push(cmd);
    local = stepPlayer(local[0], local[1], cmd.move_x, cmd.move_y, rules, arena);
    assert.deepEqual(p.predictedPosition(), local, `predicted step ${i}`);
    // The server is five commands behind (latency) and reports every tick.
    while (applied < sent.length - 5) {
      const c = sent[applied++];
      server = stepPlayer(server[0], server[1], c.move_x, c.move_y, rules, arena);
    }
    inputs.acknowledge(applied);
    const c = p.reconcile(state(server[0], server[1]), inputs.unacked(), rules, arena);
    assert.equal(c.error, 0, `step ${i}`);
    assert.deepEqual(p.correctionOffset(), [0, 0]);
  }
  assert.equal(inputs.unacked().length, 5);
});

test('a push the client did not predict becomes an offset that decays within a few frames', () => {
  const p = new Predictor();
  p.reconcile(state(100, 100), [], rules, arena);
  const c = p.reconcile(state(100, 106), [], rules, arena);
  assert.deepEqual(c, { error: 6, snapped: false });
  assert.deepEqual(p.predictedPosition(), [100, 106]);
  assert.deepEqual(p.renderPosition(), [100, 100], 'still drawn where it was');
  const cfg = predictionConfig();
  p.advance(cfg.correctionHalfLifeS);
  const [, oy] = p.correctionOffset();
  // Halved by the half-life, less the minimum speed: 6 / 2 - 40 × 0.06 = 0.6.
  assert.ok(Math.abs(oy + 0.6) < 1e-9, `half-life and minimum speed: ${oy}`);
  let frames = 1;
  while (p.correctionOffset()[1] !== 0) {
    p.advance(1 / 60);
    frames++;
  }
  assert.ok(frames <= 12, `${frames} frames`);
  assert.deepEqual(p.renderPosition(), [100, 106]);
});

test('large errors, respawns and deaths snap', () => {
  const p = new Predictor();
  p.reconcile(state(100, 100), [], rules, arena);
  assert.deepEqual(p.reconcile(state(300, 100), [], rules, arena), { error: 200, snapped: true });
  assert.deepEqual(p.correctionOffset(), [0, 0]);
  // Respawn counter 0 → 1, same place: still a teleport.
  assert.equal(p.reconcile(state(300, 101, 0b11), [], rules, arena).snapped, true);
  // Death (alive bit off) snaps, and a dead body does not move.
  assert.equal(p.reconcile(state(300, 101, 0b10), [], rules, arena).snapped, true);
  p.predict({ seq: 1, move_x: 127, move_y: 0 }, rules, arena);
  assert.deepEqual(p.predictedPosition(), [300, 101]);
});

test('the input history numbers commands, builds redundant frames and drops acknowledged ones', () => {
  const h = new InputHistory(4);
  for (let i = 0; i < 6; i++) h.push(intent(i), 100 + i);
  assert.equal(h.lastSeq, 6);
  assert.deepEqual(h.unacked().map((c) => c.seq), [3, 4, 5, 6], 'capacity');
  assert.deepEqual(h.frame(2).cmds.map((c) => c.seq), [4, 5, 6], 'newest plus two repeats');
  assert.equal(h.frame(2).cmds[2].view_tick, 105);
  h.acknowledge(5);
  assert.deepEqual(h.frame(2).cmds.map((c) => c.seq), [6]);
  h.acknowledge(3);
  assert.equal(h.acknowledged(), 5, 'acknowledgements never go back');
});
