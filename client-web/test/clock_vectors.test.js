// The render clock (src/sdk/clock.js) against the timing vectors Rust's ClockSync wrote
// (shared/tests/clock_vectors.rs → vectors/clock_stalls.json): the same snapshot and pong
// arrivals, handled in the same order, frame by frame, give the same render tick, delay, jitter
// and teleport count. The scripts are a 30 Hz stream with a 400 ms and a 700 ms TCP stall (no
// jump, no teleport, no rise of the delay), a burst of jitter (the delay rises at once and falls
// slowly) and a server restart (one teleport).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ClockSync, clockConfig } from '../src/sdk/clock.js';

const file = fileURLToPath(new URL('./vectors/clock_stalls.json', import.meta.url));
const vectors = JSON.parse(readFileSync(file, 'utf8'));

function replay(c) {
  const clock = new ClockSync(clockConfig(c.tick_rate));
  const frames = [];
  let nextSnap = 0;
  let nextPong = 0;
  for (let frame = 1; ; frame++) {
    const now = frame / 60 + (frame % 7 === 0 ? 0.004 : 0);
    if (now > c.seconds) break;
    while (nextSnap < c.snapshots.length && c.snapshots[nextSnap][0] <= now) {
      const [at, tick] = c.snapshots[nextSnap++];
      clock.handleSnapshot(tick, at);
    }
    while (nextPong < c.pongs.length && c.pongs[nextPong][0] <= now) {
      const [at, clientTime] = c.pongs[nextPong++];
      clock.handlePong({ client_time: clientTime, tick: 0 }, at);
    }
    clock.advance(now);
    if (clock.isSynced()) {
      frames.push([now, clock.renderTick(), clock.delayTicks(), clock.jitter(), clock.teleports()]);
    }
  }
  return { clock, frames };
}

test('the JS clock replays every Rust timing vector frame by frame', () => {
  assert.deepEqual(vectors.cases.map((c) => c.name), ['stalls', 'jitter', 'restart']);
  for (const c of vectors.cases) {
    const { clock, frames } = replay(c);
    assert.equal(frames.length, c.frames.length, `${c.name}: frames`);
    for (let i = 0; i < frames.length; i++) {
      for (let k = 0; k < 5; k++) {
        const [a, b] = [frames[i][k], c.frames[i][k]];
        assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${c.name} frame ${i} ${vectors.frame_columns[k]}: JS ${a}, Rust ${b}`);
      }
    }
    assert.ok(Math.abs(clock.rtt() - c.rtt) < 1e-12, `${c.name}: rtt`);
  }
});

test('through a 400 ms and a 700 ms stall the JS render clock neither jumps nor teleports', () => {
  const c = vectors.cases[0];
  const { clock, frames } = replay(c);
  const warp = clock.config.maxWarp;
  const dt = 1 / c.tick_rate;
  for (let i = 61; i < frames.length; i++) {
    const natural = (frames[i][0] - frames[i - 1][0]) / dt;
    const moved = frames[i][1] - frames[i - 1][1];
    assert.ok(moved >= natural * (1 - warp) - 1e-9 && moved <= natural * (1 + warp) + 1e-9, `at ${frames[i][0]}: ${moved} in ${natural}`);
  }
  assert.equal(clock.teleports(), 0);
  const margin = clock.config.jitterMargin;
  assert.ok(Math.max(...frames.map((f) => f[2])) <= 2 + (margin * 0.02) / dt + 1e-9, 'the delay did not rise');
});
