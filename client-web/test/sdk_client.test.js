// GameClient, the SDK's facade, against a fake socket, fake timers and snapshots made with the
// SDK's encoder: callbacks registered once fire for every connection, one command per tick with
// redundancy, prediction through the game's step for what the player owns, interpolation for
// the rest, reconnection with resume (what the old replica held is reported gone, numbering
// starts over), bad bytes and checksum mismatches closing the socket with their reason, a
// throwing callback reported without breaking the client, mirrored streams merged before the
// replica sees them.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { GameClient } from '../src/sdk/client.js';
import { decodeClient, encodeServer } from '../src/sdk/codec.js';
import { wrap } from '../src/sdk/mirror.js';
import { checksum } from '../src/sdk/replica.js';
import { FakeTimers, FakeWebSocket, snapshot, toySchema, welcome } from './fakes.js';

const schema = toySchema();
const DOT = 0;
const ROCK = 1;
const TICK_MS = 1000 / 30;
let timers;
let log;
let errors;

beforeEach(() => {
  FakeWebSocket.reset();
  timers = new FakeTimers();
  log = [];
  errors = [];
});

// The toy game's step: dx moves x by dx eighths, unless hp is 0.
const step = (lanes, cmd) => {
  if (lanes[3] > 0) lanes[1] += cmd.lanes[0];
};

function client(over = {}) {
  const c = new GameClient({
    url: 'ws://example.test/ws',
    name: 'ann',
    step,
    input: () => [8],
    WebSocket: FakeWebSocket,
    timers,
    now: timers.now,
    random: () => 0,
    onCallbackError: (e) => errors.push(e),
    ...over,
  });
  c.on('dot', {
    add: (id, e) => log.push(['add', id, e.lanes[1]]),
    change: (id, e, mask) => log.push(['change', id, mask]),
    remove: (id, e, info) => log.push(info?.reset ? ['reset', id] : ['remove', id]),
  });
  c.onPlayer({ join: (id, p) => log.push(['join', id, p.name]), leave: (id, info) => log.push([info?.reset ? 'reset' : 'leave', id]) });
  c.onEvent('boom', ({ at }) => log.push(['boom', at]));
  c.onRoom((room) => log.push(['room', room[0]]));
  return c;
}

/** Starts `c`, accepts its socket and sends the Welcome; returns the socket. */
function join(c, over = {}) {
  c.start();
  const ws = FakeWebSocket.last();
  ws.accept();
  ws.deliver(encodeServer(welcome(schema, over)));
  return ws;
}

const send = (ws, c, s) => ws.deliver(encodeServer(s, schema, c.replica ? c.replica.held() : []));
const sentOf = (ws, type) => ws.sent.map((b) => decodeClient(b, schema)).filter((m) => m.type === type);

function firstSnapshot(ws, c, tick = 1) {
  send(ws, c, snapshot(tick, {
    created: [
      { id: 0, kind: DOT, lanes: [1, 800, 0, 100, 0] }, // ours
      { id: 1, kind: DOT, lanes: [2, 1600, 0, 100, 0] }, // someone else's
      { id: 2, kind: ROCK, lanes: [5] },
    ],
    players_joined: [{ id: 1, name: 'ann', connected: true, lanes: [0] }, { id: 2, name: 'bob', connected: true, lanes: [3] }],
    room: [1],
  }));
}

test('joins, builds the replica from the Welcome and fires the callbacks registered before', () => {
  const welcomes = [];
  const c = client({ onWelcome: (r) => welcomes.push(r.playerId) });
  const ws = join(c);
  assert.deepEqual(decodeClient(ws.sent[0]), { type: 'Hello', protocol_version: 5, name: 'ann', auth_token: null, resume_token: null });
  assert.equal(c.state, 'connected');
  assert.deepEqual(welcomes, [1]);
  firstSnapshot(ws, c);
  send(ws, c, snapshot(2, { events: [{ kind: 3, values: [80] }] }));
  assert.deepEqual(log, [['add', 0, 800], ['add', 1, 1600], ['join', 1, 'ann'], ['join', 2, 'bob'], ['room', 1], ['boom', 10]]);
  assert.deepEqual(c.owned(), [0], 'owned through the first Player field');
  assert.deepEqual(c.owned('rock'), []);
  assert.equal(c.replica.playerValue(2, 'score'), 3);
  send(ws, c, snapshot(3, { removed: [1], players_left: [2] }));
  assert.deepEqual(log.slice(6), [['remove', 1], ['leave', 2]], 'real departures carry no reset flag');
  assert.deepEqual(errors, []);
});

test('one command per tick, seq 1 first, repeating the unacknowledged ones; pings', () => {
  const c = client();
  const ws = join(c);
  firstSnapshot(ws, c);
  for (let i = 0; i < 5; i++) {
    c.pump();
    timers.advance(TICK_MS);
  }
  const inputs = sentOf(ws, 'Input');
  assert.deepEqual(inputs.map((m) => m.cmds.map((x) => x.seq)), [[1], [1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]);
  assert.deepEqual(inputs[0].cmds[0].lanes, [8]);
  const pings = sentOf(ws, 'Ping');
  assert.equal(pings.length, 1, 'one ping right away, then one a second');
  // The server acknowledges up to 4: the next frame repeats only 5.
  send(ws, c, snapshot(2, { ack_input_seq: 4, updated: [{ id: 0, mask: 0b10, lanes: [32] }] }));
  c.pump();
  assert.deepEqual(sentOf(ws, 'Input').at(-1).cmds.map((x) => x.seq), [5, 6]);
  // The pong gives the round trip.
  timers.advance(40);
  ws.deliver(encodeServer({ type: 'Pong', client_time: pings[0].client_time, tick: 2 }));
  assert.ok(Math.abs(c.clock.rtt() - (5 * TICK_MS + 40) / 1000) < 0.002, String(c.clock.rtt()));
  // The automatic pump (start() set it) sends on its own as time passes.
  const before = sentOf(ws, 'Input').length;
  timers.advance(10 * TICK_MS);
  assert.ok(sentOf(ws, 'Input').length >= before + 9, 'about one frame per tick');
});

test('predicts owned entities through the step, exactly as the server then computes', () => {
  const c = client();
  const ws = join(c);
  firstSnapshot(ws, c);
  for (let i = 0; i < 3; i++) c.sendCommand();
  assert.deepEqual(c.predicted(0), [1, 824, 0, 100, 0], '3 commands of +8 on x');
  assert.equal(c.predicted(1), null, 'not ours');
  // The server applied 2 of them.
  send(ws, c, snapshot(2, { ack_input_seq: 2, updated: [{ id: 0, mask: 0b10, lanes: [16] }] }));
  assert.deepEqual(c.predicted(0), [1, 824, 0, 100, 0]);
  assert.deepEqual(c.stats, { ...c.stats, corrections: 1, mispredicted: 0, snaps: 0 });
  const v = c.view(0);
  assert.equal(v.how, 'predicted');
  assert.equal(v.value('x'), 103);
  // The server pushed it back 2 units: a glide, not a jump.
  send(ws, c, snapshot(3, { ack_input_seq: 3, updated: [{ id: 0, mask: 0b10, lanes: [-8] }] }));
  assert.deepEqual(c.predicted(0), [1, 808, 0, 100, 0], 'the server said 808 where 824 was predicted');
  assert.equal(c.stats.mispredicted, 1);
  assert.equal(c.view(0).lanes[1], 824, 'drawn where it was');
  c.frame(timers.now());
  c.frame(timers.now() + 20);
  const mid = c.view(0).lanes[1];
  assert.ok(mid > 808 && mid < 824, `gliding after 20 ms: ${mid}`);
  c.frame(timers.now() + 60);
  assert.equal(c.view(0).lanes[1], 808, 'a 2-unit correction is gone after 60 ms');
  // A respawn (discontinuity) snaps.
  send(ws, c, snapshot(4, { updated: [{ id: 0, mask: 0b10010, lanes: [4000, 1] }] }));
  assert.equal(c.view(0).lanes[1], 4808, 'at once');
  assert.equal(c.stats.snaps, 1);
});

test('interpolates entities it does not predict at the render tick; holds the rest', () => {
  const c = client();
  const ws = join(c);
  firstSnapshot(ws, c);
  c.frame();
  assert.equal(c.view(1), null, 'not before the render tick reaches its first state');
  for (let t = 2; t <= 12; t++) {
    timers.advance(TICK_MS);
    send(ws, c, snapshot(t, { updated: [{ id: 1, mask: 0b10, lanes: [16] }] }));
    c.frame();
  }
  const rt = c.renderTick();
  assert.ok(rt > 8 && rt < 11, `render tick ${rt}: about 2 ticks behind the newest, 12`);
  const v = c.view(1);
  assert.equal(v.how, 'interpolated');
  assert.ok(Math.abs(v.lanes[1] - (1600 + 16 * (rt - 1))) < 1e-9, `x ${v.lanes[1]} on the server's path at ${rt}`);
  const rock = c.views('rock');
  assert.deepEqual(rock.map((r) => [r.id, r.how, r.value('x')]), [[2, 'held', 5]]);
  assert.deepEqual(c.views('dot').map((d) => [d.id, d.how]), [[0, 'predicted'], [1, 'interpolated']]);
});

test('a silence while the replica is still is quiet ticks: a start is drawn from the tick before', () => {
  const c = client();
  const ws = join(c);
  firstSnapshot(ws, c);
  send(ws, c, snapshot(2));
  assert.ok(c.replica.isStill());
  // Nothing for tick 3 (a quiet tick), then the other dot moves 16.
  send(ws, c, snapshot(4, { updated: [{ id: 1, mask: 0b10, lanes: [16] }] }));
  assert.equal(c.interpolator.sample(1, 3).lanes[1], 1600, 'it stood through tick 3');
  assert.equal(c.interpolator.sample(1, 3.5).lanes[1], 1608);
  assert.equal(c.interpolator.sample(1, 2.5).lanes[1], 1600);
});

test('reconnects and resumes: the old replica is reported gone, numbering starts over', () => {
  const c = client();
  let ws = join(c);
  firstSnapshot(ws, c);
  c.pump();
  c.pump(timers.now() + TICK_MS);
  ws.drop(1006);
  assert.equal(c.state, 'reconnecting');
  timers.advance(250);
  ws = FakeWebSocket.last();
  ws.accept();
  assert.equal(decodeClient(ws.sent[0]).resume_token, 'room.token1');
  log.length = 0;
  ws.deliver(encodeServer(welcome(schema, { tick: 40, resumed: true, resume_token: 'room.token2' })));
  assert.deepEqual(log, [['reset', 0], ['reset', 1], ['reset', 1], ['reset', 2]], 'told apart from real departures');
  assert.equal(c.replica.entities.size, 0, 'a fresh replica');
  firstSnapshot(ws, c, 41);
  assert.deepEqual(log.slice(4, 6), [['add', 0, 800], ['add', 1, 1600]], 'callbacks carried over');
  c.pump();
  assert.deepEqual(sentOf(ws, 'Input')[0].cmds.map((x) => x.seq), [1], 'seq 1 again on the new connection');
  assert.equal(c.stats.welcomes, 2);
  ws.drop(4006, 'replaced by a newer connection');
  timers.advance(60_000);
  assert.equal(c.state, 'closed');
  assert.equal(FakeWebSocket.made.length, 2, 'never after 4006');
});

test('bad bytes and a checksum mismatch close the socket with a reason and reconnect; nothing throws', () => {
  const faults = [];
  const c = client({ onFault: (reason) => faults.push(reason) });
  let ws = join(c, { checksum_interval: 2 });
  firstSnapshot(ws, c);
  assert.doesNotThrow(() => ws.deliver([1, 2, 0x80])); // a snapshot with a truncated body
  assert.match(ws.closedWith.reason, /^client: undecodable message: /);
  assert.equal(c.state, 'reconnecting');
  timers.advance(250);
  ws = FakeWebSocket.last();
  ws.accept();
  ws.deliver(encodeServer(welcome(schema)));
  firstSnapshot(ws, c);
  const good = checksum(c.replica.entities, c.replica.room);
  send(ws, c, snapshot(2, { checksum: good }));
  assert.equal(ws.closedWith, null, 'a matching checksum is fine');
  assert.doesNotThrow(() => send(ws, c, snapshot(4, { checksum: (good + 1) >>> 0 })));
  assert.match(ws.closedWith.reason, /^client: replica diverged: checksum mismatch at tick 4/);
  assert.equal(c.stats.divergences, 1);
  assert.equal(c.stats.faults, 2);
  assert.equal(faults.length, 2);
  // A snapshot before any Welcome has no schema to decode with.
  timers.advance(1000);
  ws = FakeWebSocket.last();
  ws.accept();
  ws.deliver(encodeServer(snapshot(1), schema));
  assert.match(ws.closedWith.reason, /^client: expected a Welcome/);
  assert.deepEqual(errors, []);
});

test('a callback that throws is reported and the snapshot still applies', () => {
  const c = client();
  c.on('rock', { add: () => { throw new Error('game bug'); } });
  c.on('nope', { add: () => {} }); // a kind this game does not have
  const ws = join(c);
  assert.deepEqual(errors.map((e) => e.message), ['the schema has no entity kind "nope"']);
  firstSnapshot(ws, c);
  assert.deepEqual(errors.map((e) => e.message).slice(1), ['game bug']);
  assert.equal(ws.closedWith, null, 'not a fault of the server');
  assert.equal(c.replica.entities.size, 3);
  assert.ok(c.predicted(0), 'prediction still runs');
});

test('actions, chat and input checks', () => {
  const c = client({ input: () => [300] });
  assert.equal(c.chat('early'), false, 'nothing before the Welcome');
  const ws = join(c);
  assert.equal(c.action('buy', [7, 'rush']), 1);
  assert.equal(c.action('buy', [8, '']), 2);
  assert.ok(c.chat('gg'));
  assert.deepEqual(sentOf(ws, 'Action'), [
    { type: 'Action', seq: 1, kind: 0, values: [7, 'rush'] },
    { type: 'Action', seq: 2, kind: 0, values: [8, ''] },
  ]);
  assert.deepEqual(sentOf(ws, 'Chat'), [{ type: 'Chat', text: 'gg' }]);
  assert.throws(() => c.sendCommand(), /input lane dx = 300 is not a I8/);
  assert.equal(c.inputs.lastSeq, 0, 'a refused command is not numbered');
  c.stop();
  assert.equal(ws.closedWith.code, 1000);
  assert.equal(c.action('buy', [1, '']), null);
});

test('a Redirect before the Welcome sends the client to the other node, where it plays and resumes', () => {
  const c = client({ url: 'ws://a.test/ws?guest=g1', resumeToken: 'room.kept' });
  c.start();
  const a = FakeWebSocket.last();
  a.accept();
  assert.equal(decodeClient(a.sent[0]).resume_token, 'room.kept', 'the token a page kept goes in the first Hello');
  a.deliver(encodeServer({ type: 'Redirect', url: 'ws://b.test:7001/ws', room: 'R7', seat: '' }, null));
  a.drop(4007, 'the room is on another node');
  assert.equal(c.stats.redirects, 1);
  assert.equal(c.stats.faults, 0, 'a redirect is no fault');
  const b = FakeWebSocket.last();
  assert.equal(FakeWebSocket.made.length, 2);
  assert.equal(b.url, 'ws://b.test:7001/ws?guest=g1&room=R7');
  assert.equal(c.url, b.url);
  b.accept();
  assert.deepEqual(decodeClient(b.sent[0]), decodeClient(a.sent[0]), 'the same Hello again');
  b.deliver(encodeServer(welcome(schema, { resumed: true, resume_token: 'room.b1' })));
  assert.equal(c.state, 'connected');
  assert.equal(c.welcome.resumed, true);
  firstSnapshot(b, c);
  assert.deepEqual(log.slice(0, 2), [['add', 0, 800], ['add', 1, 1600]]);
  // A redirect after the Welcome is the server's mistake: the client faults and reconnects.
  b.deliver(encodeServer({ type: 'Redirect', url: 'ws://c.test/ws', room: 'x', seat: '' }, null));
  assert.equal(c.stats.faults, 1);
  assert.match(c.conn.lastFault, /a redirect after the Welcome/);
  assert.equal(c.stats.redirects, 1);
  assert.equal(FakeWebSocket.made.length, 2, 'not followed');
  timers.advance(c.conn.retryDelayMs);
  const back = FakeWebSocket.last();
  assert.equal(back.url, 'ws://b.test:7001/ws?guest=g1&room=R7', 'back to the node that welcomed it');
  back.accept();
  assert.equal(decodeClient(back.sent[0]).resume_token, 'room.b1');
});

test('mirrored streams: every snapshot reaches the replica once and in order, whichever socket brings it first', () => {
  const c = client({ mirror: true });
  c.start();
  const ws = FakeWebSocket.last();
  assert.equal(ws.url, 'ws://example.test/ws?mirror=1');
  ws.accept();
  ws.deliver(wrap(0, encodeServer(welcome(schema))));
  assert.equal(c.state, 'connected');
  const m = FakeWebSocket.last();
  assert.equal(m.url, 'ws://example.test/ws?mirror=attach');
  m.accept();
  let seq = 1;
  // The server numbers each message once and sends the same bytes on both sockets.
  const next = (s) => wrap(seq++, encodeServer(s, schema, c.replica.held()));
  const first = next(snapshot(1, {
    created: [{ id: 1, kind: DOT, lanes: [2, 800, 0, 100, 0] }],
    players_joined: [{ id: 2, name: 'bob', connected: true, lanes: [3] }],
  }));
  ws.deliver(first);
  m.deliver(first);
  // Bob's dot moves 16 a tick (a delta: a copy applied twice would move it 32). The main
  // socket stalls for ticks 2 to 6, which the mirror brings; its repair comes after.
  const move = (tick) => next(snapshot(tick, { updated: [{ id: 1, mask: 0b10, lanes: [16] }] }));
  const held = [];
  for (let tick = 2; tick <= 6; tick++) {
    const b = move(tick);
    m.deliver(b);
    held.push(b);
  }
  for (const b of held) ws.deliver(b);
  for (let tick = 7; tick <= 9; tick++) {
    const b = move(tick);
    ws.deliver(b);
    m.deliver(b);
  }
  assert.equal(c.replica.tick, 9);
  assert.equal(c.replica.entities.get(1).lanes[1], 800 + 8 * 16);
  assert.equal(log.filter(([what, id]) => what === 'change' && id === 1).length, 8);
  assert.equal(c.stats.snapshots, 9);
  assert.equal(c.stats.faults, 0);
  assert.equal(ws.closedWith, null);
  assert.deepEqual(c.mirror, { attached: true, fromMirror: 5, duplicates: 1 + 5 + 3, opened: 1, lastClose: null });
  // Commands and pings go on the main socket only.
  timers.advance(200);
  assert.ok(sentOf(ws, 'Input').length > 0);
  assert.equal(m.sent.length, 1, 'the Hello alone');
});
