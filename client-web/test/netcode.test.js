// The arena page's netcode on the SDK, end to end without sockets: a GameClient with the
// arena's step (rules.js bodyStep) plays against a small simulated arena server over a
// simulated link at 2–200 ms RTT, on a fake clock, every message through the v2 codec. The
// server moves bodies with the same rules and acknowledges commands like the engine (up to 3 a
// tick, in seq order, repeats ignored). Checked: no acknowledged state ever differs from the
// prediction, the remote body is drawn exactly on the server's path, the render tick never
// goes back, and inputs carry the view tick the client was showing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GameClient } from '../src/sdk/client.js';
import { decodeClient, encodeServer } from '../src/sdk/codec.js';
import { arenaConfig, arenaFields } from '../src/arena.js';
import { bodyStep } from '../src/rules.js';
import { FakeTimers, FakeWebSocket, snapshot, welcome } from './fakes.js';
import { arenaGameConfig, arenaSchema } from './arena_fixture.js';

const schema = arenaSchema();
const F = arenaFields(schema);
const config = arenaConfig(arenaGameConfig());
const step = bodyStep(F, config);
const RATE = 30;
const TICK_MS = 1000 / RATE;

function play(seconds, oneWayMs) {
  FakeWebSocket.reset();
  const timers = new FakeTimers();
  const link = []; // [deliverAt, direction, bytes]
  let client;
  client = new GameClient({
    url: 'ws://sim/ws',
    name: 'me',
    step,
    input: () => {
      const t = timers.now();
      return [Math.floor(t / 700) % 2 ? 127 : -127, Math.floor(t / 1100) % 2 ? 90 : -90, 0, 0];
    },
    WebSocket: FakeWebSocket,
    timers,
    now: timers.now,
    random: () => 0.5,
    onCallbackError: (e) => { throw e; },
  });
  client.start();
  const ws = FakeWebSocket.last();
  ws.accept();
  const lanesOf = (id, x, y) => [id === 0 ? 1 : 2, x, y, 0, 100, 1, 0];
  const me = { id: 0, x: 600 * 8, y: 600 * 8, queue: [], applied: 0 };
  const other = { id: 1, x: 1500 * 8, y: 400 * 8 };
  const sent = new Map([[0, [me.x, me.y]], [1, [other.x, other.y]]]);
  const history = new Map(); // tick → the other body's position, world units
  link.push([oneWayMs, 'down', encodeServer(welcome(schema, { game_config: arenaGameConfig(), tick_rate: RATE }))]);
  const observed = { renderTicks: [], remoteErrors: [], viewTicks: [], pings: 0 };
  let tick = 0;
  let seenSent = 0;
  for (let ms = 1; ms <= seconds * 1000; ms++) {
    timers.advance(1); // the client's own pump timer runs here
    // What the client sent goes on the link.
    for (; seenSent < ws.sent.length; seenSent++) link.push([ms + oneWayMs, 'up', ws.sent[seenSent]]);
    for (let i = 0; i < link.length;) {
      const [at, dir, bytes] = link[i];
      if (at > ms) {
        i++;
        continue;
      }
      link.splice(i, 1);
      if (dir === 'down') {
        ws.deliver(bytes);
        continue;
      }
      const msg = decodeClient(bytes, schema);
      if (msg.type === 'Ping') {
        observed.pings++;
        link.push([ms + oneWayMs, 'down', encodeServer({ type: 'Pong', client_time: msg.client_time, tick })]);
      } else if (msg.type === 'Input') {
        for (const c of msg.cmds) {
          if (c.seq > me.applied && !me.queue.some((q) => q.seq === c.seq)) me.queue.push(c);
        }
        me.queue.sort((a, b) => a.seq - b.seq);
        observed.viewTicks.push([tick, msg.cmds[msg.cmds.length - 1].view_tick]);
      }
    }
    if (ms % 16 === 0) {
      client.frame();
      const rt = client.renderTick();
      const v = client.clock?.isSynced() && client.view(1);
      if (v) {
        observed.renderTicks.push(rt);
        const lo = history.get(Math.floor(rt));
        const hi = history.get(Math.floor(rt) + 1);
        if (lo && hi) {
          const f = rt - Math.floor(rt);
          observed.remoteErrors.push(Math.hypot(v.value('x') - (lo[0] + (hi[0] - lo[0]) * f), v.value('y') - (lo[1] + (hi[1] - lo[1]) * f)));
        }
      }
    }
    // The server: a tick every TICK_MS.
    if (ms >= (tick + 1) * TICK_MS) {
      tick++;
      for (const c of me.queue.splice(0, 3)) {
        const lanes = lanesOf(0, me.x, me.y);
        step(lanes, c);
        [me.x, me.y] = [lanes[F.body.x], lanes[F.body.y]];
        me.applied = c.seq;
      }
      const leg = Math.floor(tick / 40) % 4; // the other body walks a square, 6 units a tick
      other.x += [48, 0, -48, 0][leg];
      other.y += [0, 48, 0, -48][leg];
      history.set(tick, [other.x / 8, other.y / 8]);
      const s = snapshot(tick, { ack_input_seq: me.applied });
      for (const b of [me, other]) {
        if (tick === 1) {
          s.created.push({ id: b.id, kind: 0, lanes: lanesOf(b.id, b.x, b.y) });
        } else {
          // x and y are extrapolated: the residual against the client's prediction (what it
          // holds plus its last per-tick change; every tick is sent, so that is new − old).
          const [ox, oy, vx, vy] = sent.get(b.id);
          const [rx, ry] = [b.x - (ox + vx), b.y - (oy + vy)];
          const mask = (rx !== 0 ? 0b10 : 0) | (ry !== 0 ? 0b100 : 0);
          if (mask) s.updated.push({ id: b.id, mask, lanes: [rx, ry].filter((r) => r !== 0) });
        }
        const [ox, oy] = sent.get(b.id) ?? [b.x, b.y];
        sent.set(b.id, [b.x, b.y, tick === 1 ? 0 : b.x - ox, tick === 1 ? 0 : b.y - oy]);
      }
      if (tick === 1) s.players_joined = [{ id: 1, name: 'me', connected: true, lanes: [0, 0] }, { id: 2, name: 'them', connected: true, lanes: [0, 0] }];
      // The client holds both bodies from tick 1 on; updates go in ascending id order.
      const held = tick === 1 ? [] : [me, other].map((b) => [b.id, 0]).sort((a, b) => a[0] - b[0]);
      s.updated.sort((a, b) => a.id - b.id);
      link.push([ms + oneWayMs, 'down', encodeServer(s, schema, held)]);
    }
  }
  client.stop();
  return { client, observed, me, tick };
}

for (const oneWay of [1, 50, 100]) {
  test(`prediction is exact and the remote follows the server's path at ${oneWay * 2} ms RTT`, () => {
    const { client, observed, me, tick } = play(6, oneWay);
    const st = client.stats;
    assert.equal(st.faults, 0);
    assert.ok(st.corrections > 100, `${st.corrections} reconciliations`);
    assert.equal(st.mispredicted, 0, 'no acknowledged state differed from the prediction');
    assert.equal(st.snaps, 0);
    assert.ok(me.applied > 150, `${me.applied} commands applied`);
    assert.ok(observed.pings >= 5, `${observed.pings} pings in 6 s`);
    assert.ok(Math.abs(client.clock.rtt() * 1000 - 2 * oneWay) <= 2, `rtt ${client.clock.rtt()}`);
    for (let i = 1; i < observed.renderTicks.length; i++) {
      assert.ok(observed.renderTicks[i] >= observed.renderTicks[i - 1], 'render tick went back');
    }
    assert.ok(observed.remoteErrors.length > 200, `${observed.remoteErrors.length} samples`);
    const worst = Math.max(...observed.remoteErrors);
    assert.ok(worst < 1e-6, `remote drawn off the server's path by ${worst}`);
    // Inputs carry the render tick the client was showing: behind the server by the latency
    // and the interpolation delay.
    const [serverTick, viewTick] = observed.viewTicks[observed.viewTicks.length - 1];
    const behind = serverTick - viewTick;
    const expected = (2 * oneWay * RATE) / 1000 + client.clock.delayTicks();
    assert.ok(Math.abs(behind - expected) <= 2, `view tick ${behind} behind, expected about ${expected.toFixed(1)}`);
    assert.ok(tick >= 179);
  });
}
