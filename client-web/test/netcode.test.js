// ClientNetcode (mirror of shared/src/netcode.rs) against a small simulated server over a
// simulated link, driven by a fake clock: every message goes through the real codec, the
// server moves players with the same rules, and the client predicts, reconciles and
// interpolates. Deterministic: no sockets, no timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeClient, decodeServer, encodeClient, encodeServer, PROTOCOL_VERSION } from '../src/codec.js';
import { ClientNetcode } from '../src/netcode.js';
import { stepPlayer } from '../src/rules.js';

const golden = JSON.parse(readFileSync(fileURLToPath(new URL('./vectors/messages.json', import.meta.url)), 'utf8'));
const WELCOME = golden.find((v) => v.name === 'server_welcome_default').message;
const rules = decodeServer(encodeServer(WELCOME)).rules; // exact f32 values
const arena = decodeServer(encodeServer(WELCOME)).arena;

/** Runs `seconds` of play with a one-way delay of `oneWayS`; returns what was observed. */
function play(seconds, oneWayS) {
  const dt = 1 / rules.tick_rate;
  const me = { id: 0, x: 600 * 8, y: 600 * 8, queue: [], applied: 0 };
  const other = { id: 1, x: 1500 * 8, y: 400 * 8 };
  const sent = new Map([[0, { x: me.x, y: me.y }], [1, { x: other.x, y: other.y }]]);
  const toClient = [];
  const toServer = [];
  const history = new Map(); // tick → other's position (world units)
  const welcome = { ...WELCOME, player_id: 1, entity_id: 0, tick: 0, players: [{ id: 1, name: 'me', score: 0, deaths: 0 }, { id: 2, name: 'them', score: 0, deaths: 0 }] };
  const net = new ClientNetcode(decodeServer(encodeServer(welcome)));
  let tick = 0;
  let created = false;
  const observed = { renderTicks: [], remoteErrors: [], viewTicks: [] };
  for (let ms = 0; ms < seconds * 1000; ms++) {
    const now = ms / 1000;
    // Client: one command per tick, a render frame at 60 Hz.
    if (ms % Math.round(dt * 1000) === 0) {
      const moveX = Math.floor(ms / 700) % 2 ? 127 : -127;
      const moveY = Math.floor(ms / 1100) % 2 ? 90 : -90;
      const frame = net.makeInput({ move_x: moveX, move_y: moveY, aim: 0, buttons: 0 });
      toServer.push([now + oneWayS, encodeClient(frame)]);
    }
    if (ms % 16 === 0) {
      net.advance(now);
      if (net.clock.isSynced()) {
        const rt = net.renderTick();
        observed.renderTicks.push(rt);
        const s = net.remote(1);
        const lo = history.get(Math.floor(rt));
        const hi = history.get(Math.floor(rt) + 1);
        if (s && lo && hi) {
          const f = rt - Math.floor(rt);
          observed.remoteErrors.push(Math.hypot(s.x - (lo[0] + (hi[0] - lo[0]) * f), s.y - (lo[1] + (hi[1] - lo[1]) * f)));
        }
      }
    }
    // Deliveries.
    while (toServer.length && toServer[0][0] <= now) {
      const msg = decodeClient(toServer.shift()[1]);
      for (const c of msg.cmds) if (c.seq > me.applied && !me.queue.some((q) => q.seq === c.seq)) me.queue.push(c);
      observed.viewTicks.push(msg.cmds[msg.cmds.length - 1].view_tick);
    }
    while (toClient.length && toClient[0][0] <= now) net.handleMessage(decodeServer(toClient.shift()[1]), now);
    // Server: a tick every dt.
    if (ms > 0 && ms % Math.round(dt * 1000) === 0) {
      tick++;
      for (const c of me.queue.splice(0, 3)) {
        [me.x, me.y] = stepPlayer(me.x / 8, me.y / 8, c.move_x, c.move_y, rules, arena).map((v) => v * 8);
        me.applied = c.seq;
      }
      // The other player walks a square, 6 units per tick.
      const leg = Math.floor(tick / 40) % 4;
      other.x += [48, 0, -48, 0][leg];
      other.y += [0, 48, 0, -48][leg];
      history.set(tick, [other.x / 8, other.y / 8]);
      const snap = { type: 'Snapshot', tick, ack_input_seq: me.applied, removed: [], created: [], updated: [], events: [], checksum: null };
      for (const body of [me, other]) {
        const state = { x: body.x, y: body.y, aim: 0, health: 100, status: 1 };
        if (!created) {
          snap.created.push({ id: body.id, kind: { type: 'Player', player: body.id + 1, state } });
        } else {
          const old = sent.get(body.id);
          if (old.x !== body.x || old.y !== body.y) snap.updated.push({ id: body.id, mask: 1, dx: body.x - old.x, dy: body.y - old.y, aim: 0, health: 0, status: 0 });
        }
        sent.set(body.id, { x: body.x, y: body.y });
      }
      created = true;
      toClient.push([now + oneWayS, encodeServer(snap)]);
      if (tick % 30 === 0) toClient.push([now + oneWayS, encodeServer({ type: 'Pong', client_time: net.clock.ping(now - oneWayS).client_time, tick })]);
    }
  }
  return { net, observed, me, tick };
}

for (const oneWay of [0.001, 0.05, 0.1]) {
  test(`prediction is exact and remotes follow the server's path at ${oneWay * 2000} ms RTT`, () => {
    const { net, observed, me, tick } = play(6, oneWay);
    assert.ok(net.stats.corrections > 100, `${net.stats.corrections} reconciliations`);
    assert.equal(net.stats.mispredicted, 0, 'no acknowledged state differed from the prediction');
    assert.equal(net.stats.snaps, 0);
    assert.ok(me.applied > 150, `${me.applied} commands applied`);
    for (let i = 1; i < observed.renderTicks.length; i++) {
      assert.ok(observed.renderTicks[i] >= observed.renderTicks[i - 1], 'render tick went back');
    }
    assert.ok(observed.remoteErrors.length > 200);
    assert.ok(Math.max(...observed.remoteErrors) < 1e-6, `remote drawn off the server's path by ${Math.max(...observed.remoteErrors)}`);
    // Inputs carry the render tick the client was showing: behind the server by the latency
    // and the interpolation delay.
    const lastView = observed.viewTicks[observed.viewTicks.length - 1];
    const behind = tick - lastView;
    const expected = (2 * oneWay) * rules.tick_rate + net.clock.delayTicks();
    assert.ok(Math.abs(behind - expected) <= 2, `view tick ${behind} behind, expected about ${expected.toFixed(1)}`);
    assert.equal(PROTOCOL_VERSION, 1);
  });
}
