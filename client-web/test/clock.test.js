// Clock sync (src/sdk/clock.js, mirror of shared/src/clock.rs) with a fake clock: the render tick never goes
// back and sits the right distance behind the server under jitter; RTT is a median that
// ignores outliers and survives the millisecond counter wrapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClockSync, clockConfig, millis, percentile } from '../src/sdk/clock.js';
import { rng } from './fakes.js';

const RATE = 30;
const DT = 1 / RATE;

function run(base, jitter, secondsLong) {
  const clock = new ClockSync(clockConfig(RATE));
  const rand = rng(42);
  const skew = 3.7; // the server started 3.7 s before our clock's origin
  const arrivals = [];
  for (let t = 1; t < secondsLong / DT; t++) {
    let delay = base + rand() * jitter;
    if (t % 97 === 0) delay += 0.3; // an outlier
    arrivals.push([t * DT + delay - skew, t]);
  }
  arrivals.sort((a, b) => a[0] - b[0]);
  const renders = [];
  let next = 0;
  let now = 0;
  let frame = 0;
  while (now < secondsLong - skew - 0.5) {
    now += 1 / 60;
    frame++;
    if (frame % 30 === 0) {
      const ping = clock.ping(now);
      const rtt = 2 * base + rand() * 2 * jitter;
      clock.handlePong({ client_time: ping.client_time, tick: 0 }, now + rtt);
    }
    while (next < arrivals.length && arrivals[next][0] <= now) {
      clock.handleSnapshot(arrivals[next][1], arrivals[next][0]);
      next++;
    }
    clock.advance(now);
    if (clock.isSynced()) renders.push([now, clock.renderTick()]);
  }
  return { clock, renders, skew };
}

test('the render tick is monotonic and tracks server time under jitter', () => {
  for (const [base, jitter] of [[0.0, 0.0], [0.05, 0.02], [0.1, 0.04]]) {
    const { clock, renders, skew } = run(base, jitter, 20);
    for (let i = 1; i < renders.length; i++) assert.ok(renders[i][1] >= renders[i - 1][1], 'render tick went back');
    // After settling, the render tick is the true server tick minus the one-way delay and the
    // interpolation delay.
    const [now, tick] = renders[renders.length - 1];
    const serverTick = (now + skew) / DT;
    const behind = (serverTick - tick) * DT;
    const expected = base + clock.delayTicks() * DT;
    assert.ok(Math.abs(behind - expected) < 0.01, `behind ${behind.toFixed(4)} s, expected ${expected.toFixed(4)} s`);
    // The server's current tick: newest tick plus half the round trip.
    assert.ok(Math.abs(clock.serverTick() - serverTick) * DT <= jitter + 0.002, `server tick ${clock.serverTick()} vs ${serverTick}`);
    // The delay covers the measured jitter but not the rare outliers.
    assert.ok(clock.jitter() <= jitter + 1e-9, `${clock.jitter()}`);
    assert.ok(clock.jitter() >= jitter * 0.8, `${clock.jitter()}`);
    assert.ok(clock.delayTicks() >= 2);
  }
});

test('RTT is the median of recent pongs and ignores outliers', () => {
  const clock = new ClockSync(clockConfig(RATE));
  assert.equal(clock.rtt(), null);
  let now = 10;
  for (let i = 0; i < 20; i++) {
    const ping = clock.ping(now);
    const rtt = i % 5 === 0 ? 2.0 : 0.1 + (i % 3) * 0.01;
    clock.handlePong({ client_time: ping.client_time, tick: 0 }, now + rtt);
    now += 1;
  }
  assert.ok(clock.rtt() >= 0.1 && clock.rtt() <= 0.12, `${clock.rtt()}`);
  // Millisecond time stamps wrap at 2^32.
  const c2 = new ClockSync(clockConfig(RATE));
  const before = 2 ** 32 / 1000 - 0.2;
  const ping = c2.ping(before);
  c2.handlePong({ client_time: ping.client_time, tick: 0 }, before + 0.4);
  assert.ok(Math.abs(c2.rtt() - 0.4) < 0.002, `${c2.rtt()}`);
  assert.equal(millis(2 ** 32 / 1000), 0);
});

test('the server tick adds half the RTT to the newest tick; view_tick is the rounded render tick', () => {
  const clock = new ClockSync(clockConfig(RATE));
  assert.equal(clock.viewTick(), 0, 'unknown before sync');
  clock.handleSnapshot(300, 1.0);
  clock.handlePong({ client_time: millis(0.9), tick: 300 }, 1.1);
  clock.advance(1.0);
  assert.ok(Math.abs(clock.newestTick() - 300) < 1e-9);
  assert.ok(Math.abs(clock.serverTick() - 303) < 1e-6, 'half of a 200 ms round trip is 3 ticks');
  assert.equal(clock.viewTick(), 298, 'two ticks of delay');
});

test('a server restart (tick jumps back) makes the render clock jump instead of crawling', () => {
  const clock = new ClockSync(clockConfig(RATE));
  let now = 0;
  for (let t = 5000; t < 5060; t++) {
    now += DT;
    clock.handleSnapshot(t, now);
    clock.advance(now);
  }
  // The window still holds the old samples for 2 s; after that the new server's ticks win.
  for (let t = 1; t < 120; t++) {
    now += DT;
    clock.handleSnapshot(t, now);
    clock.advance(now);
  }
  assert.ok(Math.abs(clock.renderTick() - 117) < 1.5, `${clock.renderTick()}`);
});

test('percentile by nearest rank', () => {
  assert.equal(percentile([5, 1, 4, 2, 3], 0.5), 3);
  assert.equal(percentile([5, 1, 4, 2, 3], 0.99), 5);
  assert.equal(percentile([5, 1, 4, 2, 3], 0), 1);
  assert.equal(percentile([], 0.5), 0);
});
