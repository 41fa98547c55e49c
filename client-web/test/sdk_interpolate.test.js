// Interpolation by the schema's flags (mirror of shared/src/sync/interpolate.rs's tests and
// more): linear and short-way angle blending, other fields from the older state, no blending
// and no extrapolation across a discontinuity, bounded extrapolation, nothing drawn before an
// entity's first state, predicted entities skipped, entities that left view forgotten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interpolator, blend, turnOf } from '../src/sdk/interpolate.js';
import { Replica } from '../src/sdk/replica.js';
import { snapshot, toySchema, welcome } from './fakes.js';

const schema = toySchema();
// dot lanes: [owner, x (Fixed 8, linear), a (Angle8, angle), hp, life (discontinuity)]
const DOT = 0;
const ROCK = 1;

function feed(snaps) {
  const r = new Replica(welcome(schema));
  const i = new Interpolator(schema);
  for (const s of snaps) {
    r.apply(s);
    i.handleSnapshot(r);
  }
  return { r, i };
}

const create = (id, kind, lanes) => ({ id, kind, lanes });
const update = (id, mask, lanes) => ({ id, mask, lanes });

test('blends linear fields, angles the short way, and holds the rest at the older state', () => {
  const { i } = feed([
    snapshot(10, { created: [create(1, DOT, [2, 0, 250, 100, 0])] }),
    snapshot(12, { updated: [update(1, 0b1110, [800, 4, 90])] }), // x += 800 (delta), a → 4, hp → 90
  ]);
  assert.equal(i.sample(1, 9.5), null, 'not before it entered view');
  assert.deepEqual(i.sample(1, 11), { lanes: [2, 400, 255, 100, 0], lateTicks: 0 }, '250 → 4 via 0; hp of tick 10');
  assert.deepEqual(i.sample(1, 10).lanes, [2, 0, 250, 100, 0]);
  assert.deepEqual(i.sample(1, 12).lanes, [2, 800, 4, 90, 0]);
  assert.equal(i.sample(1, 11.5).lanes[2], (250 + 10 * 0.75) % 256, "three quarters of the 10 steps, past 0");
});

test('extrapolates linear fields at full speed for 6 ticks, easing to a stop at 12, then holds', () => {
  const { i } = feed([
    snapshot(10, { created: [create(1, DOT, [2, 0, 0, 100, 0])] }),
    snapshot(12, { updated: [update(1, 0b0110, [100, 20])] }),
  ]);
  assert.deepEqual(i.sample(1, 13), { lanes: [2, 150, 20, 100, 0], lateTicks: 1 }, 'angles are held, not extrapolated');
  assert.equal(i.sample(1, 18).lanes[1], 400);
  assert.equal(i.sample(1, 24).lanes[1], 550, '9 ticks of motion in all');
  assert.deepEqual(i.sample(1, 30), { lanes: [2, 550, 20, 100, 0], lateTicks: 18 });
  const xs = Array.from({ length: 100 }, (_, k) => i.sample(1, 12 + k * 0.2).lanes[1]);
  for (let k = 2; k < xs.length; k++) {
    assert.ok(xs[k - 1] >= xs[k - 2], 'never back');
    assert.ok(xs[k] - xs[k - 1] <= xs[k - 1] - xs[k - 2] + 1e-9, 'never speeding up');
  }
});

// A dot walking along x at speed(tick) lanes a tick; the states of the `stalled` ticks arrive
// late, all at once, when the render tick reaches `release`. Frames advance the render tick by
// half a tick. Per frame: [render tick, drawn x, path x without the offset].
function stall(speed, stalled, release) {
  const r = new Replica(welcome(schema));
  const i = new Interpolator(schema);
  let x = 0;
  let pending = [];
  const frames = [];
  let next = 1;
  let t = 0;
  const deliver = (tick, px) => {
    const lanes = [2, px, 0, 100, 0];
    r.apply(r.entities.size === 0 ? snapshot(tick, { created: [create(1, DOT, lanes)] }) : snapshot(tick, { updated: [update(1, 0b10, [px - r.entities.get(1).lanes[1]])] }));
    i.handleSnapshot(r);
  };
  const flush = () => {
    for (const [tick, px] of pending) deliver(tick, px);
    pending = [];
  };
  while (t < 80) {
    while (next <= t + 2) {
      x += speed(next);
      if (next >= stalled[0] && next < stalled[1] && t < release) pending.push([next, x]);
      else {
        flush();
        deliver(next, x);
      }
      next++;
    }
    if (t >= release) flush();
    t += 0.5;
    i.advance(t, 1 / 60);
    const s = i.sample(1, t);
    if (s === null) continue;
    frames.push([t, s.lanes[1], s.lanes[1] - i.offset(1)[1]]);
  }
  return frames;
}

test('through a stall a dot turning back is blended back without a snap, never against its path', () => {
  const frames = stall((t) => (t <= 20 ? 10 : -10), [18, 30], 27);
  const release = frames.findIndex((f) => f[0] > 27);
  const snap = Math.abs(frames[release - 1][1] - frames[release][2]);
  assert.ok(snap > 50, `the overshoot to blend back: ${snap}`);
  let largest = 0;
  for (let k = 1; k < frames.length; k++) {
    const moved = frames[k][1] - frames[k - 1][1];
    const along = frames[k][2] - frames[k - 1][2];
    largest = Math.max(largest, Math.abs(moved));
    if (Math.abs(along) > 1e-9) assert.ok(moved * along >= -1e-9, `against the path at ${frames[k][0]}`);
  }
  assert.ok(largest <= 5 + 0.14 * snap, `largest step ${largest}`);
  const end = frames[frames.length - 1];
  assert.equal(end[1], end[2], 'the offset is gone');
});

test('a dot that slowed during a stall is never drawn moving back', () => {
  const frames = stall((t) => (t <= 20 ? 10 : 2), [18, 30], 27);
  for (let k = 1; k < frames.length; k++) assert.ok(frames[k][1] >= frames[k - 1][1] - 1e-9, `moved back at ${frames[k][0]}`);
  const end = frames[frames.length - 1];
  assert.equal(end[1], end[2], 'the offset is gone');
});

test('never blends or extrapolates across a discontinuity', () => {
  const { i } = feed([
    snapshot(10, { created: [create(1, DOT, [2, 0, 0, 100, 0])] }),
    snapshot(12, { updated: [update(1, 0b10010, [7200, 1])] }), // respawned far away
  ]);
  assert.equal(i.sample(1, 11).lanes[1], 0, 'the old place until the jump');
  assert.equal(i.sample(1, 11.99).lanes[1], 0);
  assert.equal(i.sample(1, 12).lanes[1], 7200, 'the new place from its tick');
  assert.equal(i.sample(1, 14).lanes[1], 7200, 'no extrapolation from the jump');
});

test('only kinds with interpolated fields are buffered; skipped and departed entities are dropped', () => {
  const r = new Replica(welcome(schema));
  const i = new Interpolator(schema);
  r.apply(snapshot(1, { created: [create(1, DOT, [1, 0, 0, 0, 0]), create(2, DOT, [2, 0, 0, 0, 0]), create(3, ROCK, [5])] }));
  i.handleSnapshot(r, (id) => id === 1);
  assert.deepEqual([...i.ids()], [2], 'the predicted dot and the rock are not interpolated');
  r.apply(snapshot(2, { removed: [2] }));
  i.handleSnapshot(r);
  assert.deepEqual([...i.ids()], [1], 'the removed dot is forgotten; dot 1 is no longer skipped');
  // The same id reused for another entity starts a new buffer.
  r.apply(snapshot(3, { created: [create(2, DOT, [3, 80, 0, 0, 0])] }));
  i.handleSnapshot(r);
  assert.equal(i.sample(2, 2.5), null, 'nothing of the old entity 2 is drawn');
  assert.equal(i.sample(2, 3).lanes[1], 80);
});

test('a snapshot for a tick already recorded adds nothing, and pruning keeps one state before the render tick', () => {
  const r = new Replica(welcome(schema));
  const i = new Interpolator(schema, { maxStates: 3 });
  r.apply(snapshot(1, { created: [create(1, DOT, [1, 0, 0, 0, 0])] }));
  i.handleSnapshot(r);
  i.handleSnapshot(r);
  assert.equal(i.buffers.get(1).states.length, 1);
  for (let t = 2; t <= 6; t++) {
    r.apply(snapshot(t, { updated: [update(1, 0b10, [8])] }));
    i.handleSnapshot(r);
  }
  assert.deepEqual(i.buffers.get(1).states.map((s) => s.tick), [4, 5, 6], 'at most maxStates');
  i.prune(5.5);
  assert.deepEqual(i.buffers.get(1).states.map((s) => s.tick), [5, 6]);
  assert.equal(i.sample(1, 5.5).lanes[1], 36, "halfway between 32 and 40");
});

test('blend and turnOf', () => {
  assert.equal(turnOf('Angle8'), 256);
  assert.equal(turnOf('Angle16'), 65536);
  assert.equal(turnOf({ Fixed: 8 }), null);
  assert.equal(blend('Angle', 65536, 65000, 500, 0.5), (65000 + 518) % 65536);
  assert.equal(blend('Angle', 256, 10, 250, 0.5), 2, 'backwards through 0');
  assert.equal(blend('Angle', null, 10, 250, 0.5), 130, 'an angle flag on a non-angle type is linear');
  assert.equal(blend('None', null, 10, 250, 0.9), 10);
});
