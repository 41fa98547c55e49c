// The SDK over WebTransport, against a fake session with real web streams, a fake fetch for
// `GET /webtransport` and fake timers: discovery (404 → WebSocket at once), the session's URL
// and certificate hashes, the Hello and every reliable message in stream frames, the fallback
// to a WebSocket when the session plus Welcome is not up in 2 s or fails, the server's close
// frame driving the same retry policy as a WebSocket close, the client's own close frame; then
// GameClient: messages 5 as datagrams through Bases, inputs as datagrams carrying the ack, a
// lone ack when no input went between two snapshots, stale ones dropped, messages 6 to the
// event callbacks; no mirrored streams over WebTransport.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, WEBTRANSPORT_FALLBACK_MS, discoveryUrl, hexBytes, parseDiscovery, webTransportUrl } from '../src/sdk/connection.js';
import { GameClient } from '../src/sdk/client.js';
import { FrameReader, closeFrame, decodeDatagram, messageFrame } from '../src/sdk/acked.js';
import { decodeClient, encodeServer } from '../src/sdk/codec.js';
import { checksum } from '../src/sdk/replica.js';
import {
  FakeTimers, FakeWebSocket, FakeWebTransport, fakeFetch, settle, snapshot, toySchema, welcome,
} from './fakes.js';

const schema = toySchema();
const HASH = 'ab'.repeat(32);
const INFO = { port: 4433, path: '/ws', cert_hashes: [HASH] };
let timers;
let states;

beforeEach(() => {
  FakeWebSocket.reset();
  FakeWebTransport.reset();
  timers = new FakeTimers();
  states = [];
});

function connection(over = {}) {
  const frames = [];
  const c = new Connection({
    url: 'ws://example.test:8080/ws?room=r1&guest=g1',
    name: 'ann',
    onFrame: (b) => frames.push(b),
    onState: (s, d) => states.push([s, d]),
    WebSocket: FakeWebSocket,
    WebTransport: FakeWebTransport,
    fetch: fakeFetch(INFO),
    timers,
    random: () => 0,
    page: null,
    ...over,
  });
  c.frames = frames;
  return c;
}

/** The frames the client wrote on the session's stream. */
function streamFrames(wt) {
  const r = new FrameReader(1 << 20);
  r.push(wt.streamBytes());
  const out = [];
  for (let f = r.next(); f; f = r.next()) out.push(f);
  return out;
}

test('helpers: the discovery URL, the session URL with the same query, hex hashes, the answer checked', () => {
  assert.equal(discoveryUrl('ws://h.test:8080/ws?room=a'), 'http://h.test:8080/webtransport');
  assert.equal(discoveryUrl('wss://h.test/ws'), 'https://h.test/webtransport');
  assert.equal(discoveryUrl('not a url'), null);
  assert.equal(webTransportUrl('ws://h.test:8080/ws?room=a&token=t&seat=s', INFO), 'https://h.test:4433/ws?room=a&token=t&seat=s');
  assert.equal(webTransportUrl('ws://[::1]:8080/ws', INFO), 'https://[::1]:4433/ws');
  assert.deepEqual([...hexBytes('00ff10')], [0, 255, 16]);
  assert.throws(() => hexBytes('0g'), TypeError);
  assert.deepEqual(parseDiscovery(INFO), INFO);
  assert.deepEqual(parseDiscovery({ port: 1, path: '/ws', cert_hashes: [] }), { port: 1, path: '/ws', cert_hashes: [] });
  assert.equal(parseDiscovery({ port: 0, path: '/ws', cert_hashes: [] }), null);
  assert.equal(parseDiscovery({ port: 1, path: 'ws', cert_hashes: [] }), null);
  assert.equal(parseDiscovery({ port: 1, path: '/ws', cert_hashes: ['abc'] }), null);
  assert.equal(parseDiscovery(null), null);
});

test('a server without WebTransport (404) gets a WebSocket at once; so does a platform without it', async () => {
  const fetch = fakeFetch(null);
  const c = connection({ fetch });
  c.start();
  await settle();
  assert.deepEqual(fetch.urls, ['http://example.test:8080/webtransport']);
  assert.equal(FakeWebTransport.made.length, 0);
  assert.equal(FakeWebSocket.made.length, 1, 'no waiting for a fallback bound');
  assert.equal(timers.nowMs, 0);
  assert.equal(c.transport, 'websocket');
  assert.equal(c.fallbacks, 0);

  // No WebTransport class: no fetch either, and the socket opens synchronously, as before.
  FakeWebSocket.reset();
  const f2 = fakeFetch(INFO);
  const c2 = connection({ WebTransport: undefined, fetch: f2 });
  c2.start();
  assert.equal(FakeWebSocket.made.length, 1);
  assert.deepEqual(f2.urls, []);
  // 'websocket' asks for nothing else.
  FakeWebSocket.reset();
  const f3 = fakeFetch(INFO);
  connection({ transport: 'websocket', fetch: f3 }).start();
  assert.equal(FakeWebSocket.made.length, 1);
  assert.deepEqual(f3.urls, []);
});

test('over WebTransport: the session URL and hashes, the Hello in a stream frame, frames and datagrams to onFrame', async () => {
  const c = connection();
  c.start();
  await settle();
  const wt = FakeWebTransport.last();
  assert.equal(wt.url, 'https://example.test:4433/ws?room=r1&guest=g1');
  assert.equal(wt.opts.serverCertificateHashes.length, 1);
  assert.equal(wt.opts.serverCertificateHashes[0].algorithm, 'sha-256');
  assert.deepEqual([...wt.opts.serverCertificateHashes[0].value], new Array(32).fill(0xab));
  assert.equal(c.transport, 'webtransport');
  wt.accept();
  await settle();
  const sent = streamFrames(wt);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].kind, 'message');
  assert.deepEqual(decodeClient(sent[0].bytes), { type: 'Hello', protocol_version: 5, name: 'ann', auth_token: null, resume_token: null });
  // A Welcome in two pieces, then a datagram.
  const wel = messageFrame(encodeServer(welcome(schema)));
  wt.frame(wel.subarray(0, 7));
  await settle();
  assert.equal(c.frames.length, 0, 'nothing before the frame is complete');
  wt.frame(wel.subarray(7));
  wt.datagram(Uint8Array.of(9, 9));
  await settle();
  assert.equal(c.frames.length, 2);
  assert.deepEqual([...c.frames[0]], [...encodeServer(welcome(schema))]);
  assert.deepEqual([...c.frames[1]], [9, 9]);
  c.welcomed('room.tok');
  assert.equal(c.state, 'connected');
  // The fallback bound no longer applies once welcomed.
  timers.advance(WEBTRANSPORT_FALLBACK_MS * 2);
  assert.equal(FakeWebSocket.made.length, 0);
  assert.equal(c.send(Uint8Array.of(1, 2)), true);
  assert.equal(c.sendDatagram(Uint8Array.of(0, 3)), true);
  assert.equal(c.sendDatagram(new Uint8Array(1201)), false, 'over the datagram limit');
  await settle();
  assert.deepEqual(streamFrames(wt).at(-1), { kind: 'message', bytes: Uint8Array.of(1, 2) });
  assert.deepEqual(wt.sentDatagrams.map((d) => [...d]), [[0, 3]]);
  // Leaving: a close frame 1000, then the session's close.
  c.stop();
  await settle();
  assert.deepEqual(streamFrames(wt).at(-1), { kind: 'close', code: 1000, reason: 'client: leaving' });
  assert.equal(wt.closedByClient, true);
});

test('no session and Welcome within 2 s: the same attempt goes on over a WebSocket', async () => {
  const c = connection();
  c.start();
  await settle();
  const wt = FakeWebTransport.last();
  timers.advance(WEBTRANSPORT_FALLBACK_MS - 1);
  assert.equal(FakeWebSocket.made.length, 0);
  timers.advance(1);
  assert.equal(FakeWebSocket.made.length, 1);
  assert.equal(FakeWebSocket.last().url, 'ws://example.test:8080/ws?room=r1&guest=g1');
  assert.equal(c.transport, 'websocket');
  assert.match(c.fallbackReason, /within 2 s/);
  assert.equal(wt.closedByClient, true, 'the half-open session is let go');
  // A session that comes up now is ignored.
  wt.accept();
  await settle();
  assert.deepEqual(wt.written, []);
  FakeWebSocket.last().accept();
  assert.deepEqual(decodeClient(FakeWebSocket.last().sent[0]).type, 'Hello');

  // A session up but with no Welcome in the bound falls back too.
  FakeWebSocket.reset();
  const c2 = connection();
  c2.start();
  await settle();
  FakeWebTransport.last().accept();
  await settle();
  timers.advance(WEBTRANSPORT_FALLBACK_MS);
  assert.equal(FakeWebSocket.made.length, 1);
  assert.equal(c2.transport, 'websocket');
});

test('a session that fails before its Welcome falls back at once; one that drops after it reconnects and tries WebTransport again', async () => {
  const fetch = fakeFetch(INFO);
  const c = connection({ fetch });
  c.start();
  await settle();
  FakeWebTransport.last().fail();
  await settle();
  assert.equal(timers.nowMs, 0);
  assert.equal(FakeWebSocket.made.length, 1);
  assert.match(c.fallbackReason, /QUIC handshake failed/);

  FakeWebSocket.reset();
  const c2 = connection({ fetch });
  c2.start();
  await settle();
  const wt = FakeWebTransport.last();
  wt.accept();
  await settle();
  wt.frame(messageFrame(encodeServer(welcome(schema))));
  await settle();
  c2.welcomed('room.tok');
  wt.lose();
  await settle();
  assert.equal(FakeWebSocket.made.length, 0, 'a lost session after its Welcome is not a fallback');
  assert.equal(c2.state, 'reconnecting');
  assert.deepEqual(c2.lastClose, { code: 1006, reason: 'the WebTransport session ended' });
  const before = FakeWebTransport.made.length;
  timers.advance(c2.retryDelayMs);
  await settle();
  assert.equal(FakeWebTransport.made.length, before + 1, 'the reconnection asks for WebTransport again');
  FakeWebTransport.last().accept();
  await settle();
  const hello = decodeClient(streamFrames(FakeWebTransport.last())[0].bytes);
  assert.equal(hello.resume_token, 'room.tok', 'and resumes');
});

test("the server's close frame is the close: its code and reason drive the retry policy, no fallback", async () => {
  const c = connection();
  c.start();
  await settle();
  const wt = FakeWebTransport.last();
  wt.accept();
  await settle();
  wt.frame(closeFrame(4003, 'the room is full'));
  await settle();
  assert.deepEqual(c.lastClose, { code: 4003, reason: 'the room is full' });
  assert.equal(FakeWebSocket.made.length, 0);
  assert.equal(c.state, 'reconnecting');
  assert.ok(c.retryDelayMs >= 5000, 'a full room waits the longest delay');

  const c2 = connection();
  c2.start();
  await settle();
  const wt2 = FakeWebTransport.last();
  wt2.accept();
  await settle();
  wt2.frame(messageFrame(encodeServer(welcome(schema))));
  await settle();
  c2.welcomed('t');
  wt2.frame(closeFrame(4006, ''));
  await settle();
  assert.equal(c2.state, 'closed', '4006: never retried');
  assert.match(c2.detail, /taken over/);
});

test('bad framing from the server is a fault: the client closes with a close frame saying why', async () => {
  const c = connection();
  c.start();
  await settle();
  const wt = FakeWebTransport.last();
  wt.accept();
  await settle();
  wt.frame(Uint8Array.of(7, 0));
  await settle();
  assert.match(c.lastFault, /unknown stream frame kind 7/);
  const last = streamFrames(wt).at(-1);
  assert.equal(last.kind, 'close');
  assert.equal(last.code, 1000);
  assert.match(last.reason, /^client: bad stream framing/);
  assert.equal(c.state, 'reconnecting');
});

// ---------------------------------------------------------------- GameClient over WebTransport

/** A GameClient joined over a fake session; returns it and the session. */
async function joinedClient(log) {
  const c = new GameClient({
    url: 'ws://example.test:8080/ws',
    name: 'ann',
    input: () => [3],
    WebSocket: FakeWebSocket,
    WebTransport: FakeWebTransport,
    fetch: fakeFetch(INFO),
    timers,
    now: timers.now,
    random: () => 0,
    config: { pumpIntervalMs: 0 },
    onCallbackError: (e) => { throw e; },
  });
  c.on('rock', { add: (id) => log.push(['add', id]), change: (id, e) => log.push(['change', id, e.lanes[0]]), remove: (id) => log.push(['remove', id]) });
  c.onEvent('boom', ({ at }) => log.push(['boom', at]));
  c.start();
  await settle();
  const wt = FakeWebTransport.last();
  wt.accept();
  await settle();
  // A datagram that overtakes the Welcome is dropped, not a fault.
  wt.datagram(five(0, snapshot(10, { created: [{ id: 7, kind: 1, lanes: [1] }] }), []));
  await settle();
  assert.equal(c.stats.early, 1);
  assert.equal(c.stats.faults, 0);
  wt.frame(messageFrame(encodeServer(welcome(schema, { tick: 10 }))));
  await settle();
  return { c, wt };
}

const five = (back, s, held) => encodeServer({ type: 'Acked', back, snapshot: s }, schema, held);
const rocks = (...pairs) => new Map(pairs.map(([id, x]) => [id, { kind: 1, lanes: [x] }]));
const sum = (...pairs) => checksum(rocks(...pairs), [0]);

test('GameClient over WebTransport: messages 5 through Bases, acks on input datagrams and alone, stale dropped, messages 6 to onEvent', async () => {
  const log = [];
  const { c, wt } = await joinedClient(log);
  assert.equal(c.transport, 'webtransport');
  assert.equal(c.ready, true);
  // Tick 11 against nothing, as a datagram.
  wt.datagram(five(0, snapshot(11, { created: [{ id: 1, kind: 1, lanes: [5] }], checksum: sum([1, 5]) }), []));
  await settle();
  assert.equal(c.ackTick, 11);
  assert.deepEqual(log, [['add', 1]]);
  // An input goes as a datagram carrying the ack; nothing on the stream but the Hello and a ping.
  c.pump();
  await settle();
  const inputs = wt.sentDatagrams.map((d) => decodeDatagram(d));
  assert.equal(inputs.length, 1);
  assert.equal(inputs[0].ack, 11);
  assert.equal(decodeClient(inputs[0].msg, schema).type, 'Input');
  assert.deepEqual(streamFrames(wt).map((f) => decodeClient(f.bytes).type), ['Hello', 'Ping']);
  // Tick 12 against 11 (x 5 → 7), then 13 against 11 (12's ack was not in yet): no input went
  // out between 12 and 13, so a lone ack of 12 goes before 13 is applied.
  wt.datagram(five(1, snapshot(12, { updated: [{ id: 1, mask: 1, lanes: [7] }], checksum: sum([1, 7]) }), [[1, 1]]));
  await settle();
  wt.datagram(five(2, snapshot(13, { updated: [{ id: 1, mask: 1, lanes: [9] }], created: [{ id: 2, kind: 1, lanes: [1] }], checksum: sum([1, 9], [2, 1]) }), [[1, 1]]));
  await settle();
  assert.deepEqual(wt.sentDatagrams.slice(1).map((d) => decodeDatagram(d)), [{ ack: 12, msg: null }]);
  assert.equal(c.stats.loneAcks, 1);
  assert.deepEqual(log, [['add', 1], ['change', 1, 7], ['add', 2], ['change', 1, 9]]);
  // A repeat of 12 and one of 13 are stale: dropped, nothing called, no ack sent for them.
  wt.datagram(five(1, snapshot(12, { updated: [{ id: 1, mask: 1, lanes: [7] }] }), [[1, 1]]));
  wt.datagram(five(2, snapshot(13, { updated: [{ id: 1, mask: 1, lanes: [9] }], created: [{ id: 2, kind: 1, lanes: [1] }] }), [[1, 1]]));
  await settle();
  assert.equal(c.stats.stale, 2);
  assert.equal(c.replica.tick, 13);
  assert.equal(c.stats.acked, 3);
  assert.equal(c.stats.againstBase, 2);
  assert.equal(c.stats.snapshots, 3);
  // Events come on the stream in a message 6.
  wt.frame(messageFrame(encodeServer({ type: 'Events', tick: 13, events: [{ kind: 3, values: [16] }] }, schema)));
  await settle();
  assert.deepEqual(log.at(-1), ['boom', 2]);
  assert.equal(c.stats.eventMessages, 1);
  // A message 5 too big for a datagram comes on the stream: the same path. 14 against 13,
  // removing rock 2.
  wt.frame(messageFrame(five(1, snapshot(14, { removed: [2], checksum: sum([1, 9]) }), [[1, 1], [2, 1]])));
  await settle();
  assert.deepEqual(log.at(-1), ['remove', 2]);
  // The next input acknowledges 14.
  timers.advance(40);
  c.pump();
  await settle();
  assert.equal(decodeDatagram(wt.sentDatagrams.at(-1)).ack, 14);
  assert.equal(c.stats.inputDatagrams, 2);
  assert.equal(c.stats.divergences, 0);
});

test('GameClient over WebTransport: a message 5 against a base it does not hold, or a checksum mismatch, is a fault', async () => {
  const log = [];
  const { c, wt } = await joinedClient(log);
  wt.datagram(five(0, snapshot(11, { created: [{ id: 1, kind: 1, lanes: [5] }] }), []));
  await settle();
  wt.datagram(five(3, snapshot(15, { updated: [{ id: 1, mask: 1, lanes: [7] }] }), [[1, 1]]));
  await settle();
  assert.equal(c.stats.divergences, 1);
  assert.match(c.conn.lastFault, /replica diverged: .*tick 12/);
  const last = streamFrames(wt).at(-1);
  assert.equal(last.kind, 'close');
  assert.match(last.reason, /^client: replica diverged/);

  const { c: c2, wt: wt2 } = await joinedClient([]);
  wt2.datagram(five(0, snapshot(11, { created: [{ id: 1, kind: 1, lanes: [5] }], checksum: 1234 }), []));
  await settle();
  assert.match(c2.conn.lastFault, /checksum mismatch at tick 11/);
});

test('GameClient falls back to a WebSocket and plays as before; transport says so', async () => {
  const c = new GameClient({
    url: 'ws://example.test:8080/ws',
    name: 'ann',
    WebSocket: FakeWebSocket,
    WebTransport: FakeWebTransport,
    fetch: fakeFetch(INFO),
    timers,
    now: timers.now,
    random: () => 0,
    config: { pumpIntervalMs: 0 },
  });
  c.start();
  await settle();
  timers.advance(WEBTRANSPORT_FALLBACK_MS);
  const ws = FakeWebSocket.last();
  ws.accept();
  ws.deliver(encodeServer(welcome(schema)));
  assert.equal(c.transport, 'websocket');
  ws.deliver(encodeServer(snapshot(1, { created: [{ id: 1, kind: 1, lanes: [5] }] }), schema, []));
  c.pump();
  const types = ws.sent.map((b) => decodeClient(b, schema).type);
  assert.deepEqual(types, ['Hello', 'Input', 'Ping']);
  assert.equal(c.stats.inputDatagrams, 0);
});

test('mirror: over WebTransport the option does nothing; the fallback WebSocket asks for it', async () => {
  const c = connection({ mirror: true });
  c.start();
  await settle();
  const wt = FakeWebTransport.last();
  assert.equal(wt.url, 'https://example.test:4433/ws?room=r1&guest=g1', 'no mirror: the server refuses it here');
  wt.accept();
  await settle();
  wt.frame(messageFrame(encodeServer(welcome(schema))));
  await settle();
  c.welcomed('room.tok');
  assert.equal(c.state, 'connected');
  assert.equal(FakeWebSocket.made.length, 0, 'no mirror socket');
  assert.equal(c.mirror, null);

  FakeWebTransport.reset();
  const c2 = connection({ mirror: true });
  c2.start();
  await settle();
  timers.advance(WEBTRANSPORT_FALLBACK_MS);
  assert.equal(FakeWebSocket.last().url, 'ws://example.test:8080/ws?room=r1&guest=g1&mirror=1');
});
