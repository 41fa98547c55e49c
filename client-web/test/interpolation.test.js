// Interpolation (mirror of shared/src/interpolation.rs): linear between states, angles the
// short way, bounded extrapolation, never across a teleport, nothing before the first state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interpolator, interpolationConfig, lerpAngle8 } from '../src/interpolation.js';

const rules = { tick_rate: 30, player_radius: 16, player_speed: 220 };
const near = (a, b, msg) => assert.ok(Math.abs(a - b) < 1e-6, `${msg}: ${a} vs ${b}`);

/** A minimal replica: entity 0 is the local body, 5 a remote one. */
function replica() {
  return { tick: 0, entities: new Map([[0, { type: 'Player', player: 1, state: { x: 0, y: 0, aim: 0, health: 100, status: 1 } }]]) };
}

function put(interp, r, tick, x, aim = 0, status = 1) {
  r.tick = tick;
  r.entities.set(5, { type: 'Player', player: 2, state: { x: x * 8, y: 80, aim, health: 100, status } });
  interp.handleSnapshot(r, 0);
}

test('bodies interpolate between states and the local body is never buffered', () => {
  const i = new Interpolator(interpolationConfig(rules));
  const r = replica();
  put(i, r, 10, 100);
  put(i, r, 12, 110);
  assert.deepEqual([...i.ids()], [5]);
  assert.equal(i.sample(5, 9.5), null, 'not drawn before its first state');
  near(i.sample(5, 11).x, 105, 'halfway');
  near(i.sample(5, 11).y, 10, 'y');
  near(i.sample(5, 12).x, 110, 'at the newest');
});

test('angles take the short way round', () => {
  near(lerpAngle8(250, 6, 0.5), 0, 'across zero');
  near(lerpAngle8(6, 250, 0.5), 0, 'backwards across zero');
  near(lerpAngle8(0, 64, 0.5), Math.PI / 4, 'a quarter turn');
});

test('extrapolation along the last velocity is capped at three ticks; dead bodies hold', () => {
  const i = new Interpolator(interpolationConfig(rules));
  const r = replica();
  put(i, r, 1, 100);
  put(i, r, 2, 105);
  near(i.sample(5, 3).x, 110, 'one tick late');
  assert.equal(i.sample(5, 3).lateTicks, 1);
  near(i.sample(5, 50).x, 120, 'capped');
  put(i, r, 3, 110, 0, 0); // died
  near(i.sample(5, 10).x, 110, 'held');
});

test('never blended across a respawn or an impossible move', () => {
  const i = new Interpolator(interpolationConfig(rules));
  const r = replica();
  put(i, r, 1, 100, 0, 0b01);
  put(i, r, 2, 100, 0, 0b11); // respawned in place
  put(i, r, 3, 900, 0, 0b11); // moved 800 units in one tick
  near(i.sample(5, 1.5).x, 100, 'respawn: the older state is held');
  near(i.sample(5, 2.9).x, 100, 'teleport: held until the newer tick');
  near(i.sample(5, 3).x, 900, 'then shown');
  near(i.sample(5, 6).x, 900, 'and not extrapolated');
});

test('bodies that leave the replica are dropped; pruning keeps what the render tick needs', () => {
  const i = new Interpolator(interpolationConfig(rules));
  const r = replica();
  for (let t = 1; t <= 10; t++) put(i, r, t, t * 5);
  i.prune(7.5);
  assert.equal(i.buffers.get(5)[0].tick, 7);
  near(i.sample(5, 7.5).x, 37.5, 'still interpolates');
  r.entities.delete(5);
  r.tick = 11;
  i.handleSnapshot(r, 0);
  assert.equal(i.sample(5, 11), null);
});
