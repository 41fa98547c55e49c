// The WebSocket life cycle with a fake socket and fake timers: Hello v2 with the name and
// tokens, the resume token of the last Welcome on every reconnection, backoff that grows and
// resets, the close-code policy (reconnect / later / never; 4006 never reconnects), faults that
// close the socket with their reason, a Welcome timeout, leaving for good; redirects to another
// node followed at once with the same Hello, the loop guard, 4008 dropping the seat; mirrored
// streams: the numbered session, its mirror's URL and Hello, each message once and in order, a
// mirror that closes or cannot be made leaving the session alone, a new mirror per session.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, MAX_REDIRECTS, closeReason, redirectUrl, withoutSeat } from '../src/sdk/connection.js';
import { decodeClient } from '../src/sdk/codec.js';
import { wrap } from '../src/sdk/mirror.js';
import { FakeTimers, FakeWebSocket } from './fakes.js';

let timers;
let frames;
let states;

beforeEach(() => {
  FakeWebSocket.reset();
  timers = new FakeTimers();
  frames = [];
  states = [];
});

function connection(over = {}) {
  return new Connection({
    url: 'ws://example.test/ws?room=a',
    name: 'ann',
    onFrame: (b) => frames.push(b),
    onState: (s, d) => states.push([s, d]),
    WebSocket: FakeWebSocket,
    timers,
    random: () => 0,
    ...over,
  });
}

const hello = (ws) => decodeClient(ws.sent[0]);

test('says Hello v2 with the name and tokens once the socket opens, and hands frames on', () => {
  const c = connection({ authToken: 'jwt' });
  c.start();
  const ws = FakeWebSocket.last();
  assert.equal(ws.url, 'ws://example.test/ws?room=a');
  assert.equal(ws.binaryType, 'arraybuffer');
  assert.equal(c.state, 'connecting');
  assert.equal(ws.sent.length, 0, 'nothing before the socket is open');
  ws.accept();
  assert.deepEqual(hello(ws), { type: 'Hello', protocol_version: 5, name: 'ann', auth_token: 'jwt', resume_token: null });
  ws.deliver([1, 2, 3]);
  assert.deepEqual(frames.map((f) => [...f]), [[1, 2, 3]]);
  assert.equal(c.bytesIn, 3);
  assert.equal(c.state, 'connecting', 'connected only once the client saw a Welcome');
  c.welcomed('room.t1');
  assert.equal(c.state, 'connected');
  assert.equal(c.hasWelcome, true);
});

test('a lost connection reconnects with backoff and resumes with the last token', () => {
  const c = connection();
  c.start();
  let ws = FakeWebSocket.last();
  ws.accept();
  c.welcomed('room.t1');
  ws.drop(1006);
  assert.equal(c.state, 'reconnecting');
  assert.match(c.detail, /Lost the connection.*retrying in 0\.3 s/);
  assert.equal(FakeWebSocket.made.length, 1);
  timers.advance(249);
  assert.equal(FakeWebSocket.made.length, 1, 'not before the backoff');
  timers.advance(1);
  ws = FakeWebSocket.last();
  assert.equal(FakeWebSocket.made.length, 2);
  assert.equal(c.hasWelcome, false, 'a new socket waits for its own Welcome');
  ws.accept();
  assert.equal(hello(ws).resume_token, 'room.t1');
  // Failures in a row double the delay (random 0: the lower end of each range).
  const delays = [];
  for (let i = 0; i < 6; i++) {
    FakeWebSocket.last().drop(1006);
    delays.push(c.retryDelayMs);
    timers.advance(c.retryDelayMs);
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 5000, 5000]);
  // A Welcome resets it, and the new token is the one sent next.
  FakeWebSocket.last().accept();
  c.welcomed('room.t2');
  FakeWebSocket.last().drop(1001, 'server shutting down');
  assert.equal(c.retryDelayMs, 250);
  timers.advance(250);
  FakeWebSocket.last().accept();
  assert.equal(hello(FakeWebSocket.last()).resume_token, 'room.t2');
});

test('4006 (replaced) and the other never-codes stop, whatever the time', () => {
  for (const [code, words] of [[4006, /another tab or window/], [4000, /different protocol versions/], [1008, /Policy violation/], [1000, /closed/]]) {
    FakeWebSocket.reset();
    const c = connection();
    c.start();
    FakeWebSocket.last().accept();
    c.welcomed('room.t1');
    FakeWebSocket.last().drop(code, code === 1008 ? 'message rate limit exceeded' : '');
    assert.equal(c.state, 'closed', String(code));
    assert.match(c.detail, words);
    assert.deepEqual(c.lastClose, { code, reason: code === 1008 ? 'message rate limit exceeded' : '' });
    timers.advance(60_000);
    assert.equal(FakeWebSocket.made.length, 1, `no reconnection after ${code}`);
  }
});

test('a full room (4003) and unknown codes retry after the longest delay', () => {
  for (const code of [4003, 4999]) {
    FakeWebSocket.reset();
    const c = connection();
    c.start();
    FakeWebSocket.last().accept();
    FakeWebSocket.last().drop(code, 'room lobby is full (256 players)');
    assert.equal(c.state, 'reconnecting');
    assert.equal(c.retryDelayMs, 5000, 'the jittered cap (random 0)');
    timers.advance(4999);
    assert.equal(FakeWebSocket.made.length, 1);
    timers.advance(1);
    assert.equal(FakeWebSocket.made.length, 2);
  }
});

test('a fault closes the socket with the reason and reconnects', () => {
  const c = connection();
  c.start();
  const ws = FakeWebSocket.last();
  ws.accept();
  c.welcomed('room.t1');
  ws.deliverText('hello?');
  assert.deepEqual(ws.closedWith, { code: 1000, reason: 'client: the server sent a text frame' });
  assert.equal(c.lastFault, 'the server sent a text frame');
  assert.equal(c.state, 'reconnecting');
  assert.match(c.detail, /cannot use \(the server sent a text frame\)/);
  ws.drop(1000, ''); // the echo of our close: ignored, the retry is already scheduled
  assert.equal(timers.pending().length, 1);
  timers.advance(250);
  assert.equal(FakeWebSocket.made.length, 2);
  // A frame handler that throws is a fault too, never an exception out of onmessage.
  const c2 = connection({ onFrame: () => { throw new RangeError('boom'); } });
  c2.start();
  const ws2 = FakeWebSocket.last();
  ws2.accept();
  assert.doesNotThrow(() => ws2.deliver([0]));
  assert.equal(ws2.closedWith.reason, 'client: could not handle a server message: boom');
});

test('an open socket without a Welcome is given up after the timeout', () => {
  const c = connection({ welcomeTimeoutMs: 3000 });
  c.start();
  const ws = FakeWebSocket.last();
  ws.accept();
  timers.advance(2999);
  assert.equal(ws.closedWith, null);
  timers.advance(1);
  assert.equal(ws.closedWith.reason, 'client: no Welcome within 3 s');
  assert.equal(c.state, 'reconnecting');
  // With a Welcome in time, nothing happens.
  timers.advance(250);
  const next = FakeWebSocket.last();
  next.accept();
  c.welcomed('t');
  timers.advance(10_000);
  assert.equal(next.closedWith, null);
});

test('stop leaves for good; retryNow starts over with a fresh backoff', () => {
  const c = connection();
  c.start();
  const ws = FakeWebSocket.last();
  ws.accept();
  c.welcomed('room.t1');
  c.stop();
  assert.deepEqual(ws.closedWith, { code: 1000, reason: 'client: leaving' });
  assert.equal(c.state, 'closed');
  ws.drop(1000);
  timers.advance(60_000);
  assert.equal(FakeWebSocket.made.length, 1);
  assert.equal(c.send(new Uint8Array([1])), false, 'nothing goes out once stopped');
  c.retryNow();
  assert.equal(FakeWebSocket.made.length, 2);
  FakeWebSocket.last().accept();
  assert.equal(hello(FakeWebSocket.last()).resume_token, 'room.t1');
});

test('a URL the WebSocket refuses is not retried', () => {
  class Refusing {
    constructor() {
      throw new SyntaxError('bad url');
    }
  }
  const c = connection({ WebSocket: Refusing });
  c.start();
  assert.equal(c.state, 'closed');
  assert.match(c.detail, /bad url/);
  assert.equal(timers.pending().length, 0);
});

test('close reasons fit the 123 bytes a close frame allows, on a character boundary', () => {
  assert.equal(closeReason('short'), 'short');
  const long = 'é'.repeat(100);
  const cut = closeReason(long);
  assert.equal(new TextEncoder().encode(cut).length, 122);
  assert.equal(cut, 'é'.repeat(61));
});

// ---------------------------------------------------------------- redirects (docs/SCALING.md)

const params = (url) => Object.fromEntries(new URL(url).searchParams);

test('a redirect URL keeps the other query parameters and replaces room and seat', () => {
  const from = 'ws://a.test:7000/ws?token=jwt&room=old&seat=s0&guest=g1';
  const to = redirectUrl(from, { url: 'ws://b.test:7001/ws', room: 'R7', seat: 'a+b/c=' });
  assert.equal(to, 'ws://b.test:7001/ws?token=jwt&guest=g1&room=R7&seat=a%2Bb%2Fc%3D');
  assert.deepEqual(params(to), { token: 'jwt', guest: 'g1', room: 'R7', seat: 'a+b/c=' });
  // A resume redirect has no seat; the node's own parameters win.
  assert.deepEqual(params(redirectUrl(from, { url: 'wss://b.test/ws?token=fresh', room: 'R7', seat: '' })),
    { token: 'fresh', guest: 'g1', room: 'R7' });
  assert.equal(withoutSeat('ws://b.test/ws?room=R&seat=S&token=t'), 'ws://b.test/ws?room=R&token=t');
  assert.equal(withoutSeat('ws://b.test/ws?room=R'), 'ws://b.test/ws?room=R');
});

test('a redirect before the Welcome is followed at once, with the same Hello and token', () => {
  const c = connection({ url: 'ws://a.test/ws?room=mine&guest=g1', authToken: 'jwt', resumeToken: 'room.old' });
  c.start();
  const a = FakeWebSocket.last();
  a.accept();
  assert.equal(hello(a).resume_token, 'room.old', 'a token kept from before (a reload) goes in the first Hello');
  c.redirect({ url: 'ws://b.test:7001/ws', room: 'R7', seat: 'seat1' });
  assert.deepEqual(a.closedWith, { code: 1000, reason: 'client: redirected' });
  assert.equal(FakeWebSocket.made.length, 2, 'at once: no timer in between');
  assert.equal(timers.pending().length, 0, 'no backoff was scheduled');
  const b = FakeWebSocket.last();
  assert.equal(b.url, 'ws://b.test:7001/ws?guest=g1&room=R7&seat=seat1');
  assert.equal(c.url, b.url);
  assert.match(c.detail, /Moving to ws:\/\/b\.test:7001\/ws/);
  // The old node's 4007 close arrives after: it changes nothing.
  a.drop(4007, 'the room is on another node');
  assert.equal(FakeWebSocket.made.length, 2);
  b.accept();
  assert.deepEqual(hello(b), hello(a), 'the same Hello: name, auth token, resume token');
  c.welcomed('room.new');
  assert.equal(c.state, 'connected');
  assert.equal(c.redirects, 0);
  assert.equal(c.redirectsTotal, 1);
  // A lost connection comes back to the node that welcomed it, without the spent seat.
  b.drop(1006);
  timers.advance(c.retryDelayMs);
  const again = FakeWebSocket.last();
  assert.equal(again.url, 'ws://b.test:7001/ws?guest=g1&room=R7');
  assert.equal(c.attempt, 1, 'a drop after the Welcome is an ordinary reconnection');
  // …and when that node cannot even be reached, to the original URL, which redirects again.
  again.drop(1006);
  timers.advance(c.retryDelayMs);
  const back = FakeWebSocket.last();
  assert.equal(back.url, 'ws://a.test/ws?room=mine&guest=g1');
  back.accept();
  assert.equal(hello(back).resume_token, 'room.new');
});

test('redirects in a row: at most MAX_REDIRECTS, then a failed attempt with backoff from the start', () => {
  const c = connection({ url: 'ws://a.test/ws?token=t' });
  c.start();
  for (let i = 0; i < MAX_REDIRECTS; i++) {
    const ws = FakeWebSocket.last();
    ws.accept();
    c.redirect({ url: 'ws://a.test/ws', room: 'loop', seat: `s${i}` });
    assert.equal(FakeWebSocket.made.length, i + 2, `redirect ${i + 1} followed at once`);
  }
  assert.equal(c.redirects, MAX_REDIRECTS);
  const last = FakeWebSocket.last();
  assert.equal(last.url, 'ws://a.test/ws?token=t&room=loop&seat=s3');
  last.accept();
  c.redirect({ url: 'ws://a.test/ws', room: 'loop', seat: 's4' });
  assert.equal(FakeWebSocket.made.length, MAX_REDIRECTS + 1, 'the fifth is not followed');
  assert.equal(c.state, 'reconnecting');
  assert.match(c.detail, /Redirected 5 times in a row.*retrying in 0\.3 s/);
  assert.equal(c.attempt, 1, 'counted as a failed attempt');
  timers.advance(c.retryDelayMs);
  const retry = FakeWebSocket.last();
  assert.equal(retry.url, 'ws://a.test/ws?token=t', 'back to the original URL');
  retry.accept();
  c.redirect({ url: 'ws://b.test/ws', room: 'R', seat: '' });
  assert.equal(FakeWebSocket.last().url, 'ws://b.test/ws?token=t&room=R', 'the guard starts over');
});

test('a 4007 without a Redirect reconnects as for any reconnect code', () => {
  const c = connection();
  c.start();
  FakeWebSocket.last().accept();
  FakeWebSocket.last().drop(4007, 'the room is on another node');
  assert.equal(c.state, 'reconnecting');
  assert.equal(FakeWebSocket.made.length, 1, 'after the backoff, not at once');
  timers.advance(c.retryDelayMs);
  assert.equal(FakeWebSocket.last().url, 'ws://example.test/ws?room=a');
});

test('4008 (the seat expired) retries at once without the seat, keeping the room', () => {
  const c = connection({ url: 'ws://a.test/ws?guest=g1&room=R&seat=old' });
  c.start();
  FakeWebSocket.last().accept();
  FakeWebSocket.last().drop(4008, 'the seat reservation has expired');
  assert.equal(FakeWebSocket.made.length, 2, 'at once');
  const ws = FakeWebSocket.last();
  assert.equal(ws.url, 'ws://a.test/ws?guest=g1&room=R');
  ws.accept();
  assert.equal(hello(ws).name, 'ann');
  // Without a seat to drop, a 4008 is an ordinary reconnect code.
  ws.drop(4008, 'the seat reservation has expired');
  assert.equal(FakeWebSocket.made.length, 2);
  assert.equal(c.state, 'reconnecting');
});

// ---------------------------------------------------------------- mirrored streams

/** A mirrored session through its Welcome: `{c, ws, m}` (the main socket and the mirror, not accepted). */
function mirrored(over = {}) {
  const c = connection({ mirror: true, ...over });
  c.start();
  const ws = FakeWebSocket.last();
  ws.accept();
  ws.deliver(wrap(0, [9, 9]));
  c.welcomed('room.t1');
  return { c, ws, m: FakeWebSocket.last() };
}

test('mirror: the session asks for numbered messages, its mirror says a Hello with the token, each message is handed on once, unwrapped, in order', () => {
  const c = connection({ mirror: true, url: 'ws://example.test/ws?room=a&seat=s1' });
  c.start();
  const ws = FakeWebSocket.last();
  assert.equal(ws.url, 'ws://example.test/ws?room=a&seat=s1&mirror=1');
  ws.accept();
  assert.equal(hello(ws).name, 'ann');
  ws.deliver(wrap(0, [9, 9]));
  assert.deepEqual(frames.map((f) => [...f]), [[9, 9]], 'the Welcome, unwrapped');
  assert.equal(FakeWebSocket.made.length, 1, 'no mirror before the Welcome');
  c.welcomed('room.t1');
  assert.equal(FakeWebSocket.made.length, 2);
  const m = FakeWebSocket.last();
  assert.equal(m.url, 'ws://example.test/ws?room=a&mirror=attach', 'the same node and room, without the spent seat');
  assert.equal(m.binaryType, 'arraybuffer');
  assert.deepEqual(c.mirror, { attached: false, fromMirror: 0, duplicates: 0, opened: 1, lastClose: null });
  m.accept();
  assert.deepEqual(decodeClient(m.sent[0]), { type: 'Hello', protocol_version: 5, name: '', auth_token: null, resume_token: 'room.t1' });
  assert.equal(c.mirror.attached, true);
  // A Pong is the connection's own answer: unnumbered, as it came.
  ws.deliver([3, 1]);
  // The main socket brings 1; it stalls, the mirror brings 1 again, then 2 and 3; the main
  // socket's repair arrives, then the mirror's 4 and the main socket's.
  ws.deliver(wrap(1, [10]));
  m.deliver(wrap(1, [10]));
  m.deliver(wrap(2, [11]));
  m.deliver(wrap(3, [12]));
  for (const seq of [2, 3, 4]) ws.deliver(wrap(seq, [9 + seq]));
  m.deliver(wrap(4, [13]));
  assert.deepEqual(frames.map((f) => [...f]), [[9, 9], [3, 1], [10], [11], [12], [13]]);
  assert.deepEqual(c.mirror, { attached: true, fromMirror: 2, duplicates: 4, opened: 1, lastClose: null });
  assert.equal(c.bytesIn, 4 + 2 + 4 * 3 + 4 * 3, 'the bytes of both sockets (the Welcome, the Pong, 1 to 4 on each)');
  // Everything goes on the main socket; the mirror said its Hello and nothing else.
  assert.equal(c.send(Uint8Array.of(4, 4)), true);
  assert.deepEqual([...ws.sent.at(-1)], [4, 4]);
  assert.equal(m.sent.length, 1);
  // A text frame or an unnumbered message on the mirror is not the session's.
  m.deliverText('hi');
  m.deliver([1, 2, 3]);
  assert.equal(frames.length, 6);
  assert.equal(c.state, 'connected');
  assert.equal(ws.closedWith, null);
});

test('mirror: one that closes or is refused leaves the session as it was; the session goes on over its main socket', () => {
  const { c, ws, m } = mirrored();
  m.accept();
  m.drop(4005, 'the mirror could not keep up');
  assert.equal(c.state, 'connected');
  assert.equal(c.mirror.attached, false);
  assert.deepEqual(c.mirror.lastClose, { code: 4005, reason: 'the mirror could not keep up' });
  ws.deliver(wrap(1, [10]));
  assert.deepEqual([...frames.at(-1)], [10]);
  timers.advance(60_000);
  assert.equal(FakeWebSocket.made.length, 2, 'no reconnection, no new mirror within the session');
  assert.equal(ws.closedWith, null);

  // A mirror that cannot even be made: the session does not notice.
  FakeWebSocket.reset();
  class NoMirror extends FakeWebSocket {
    constructor(url) {
      if (url.includes('mirror=attach')) throw new SyntaxError('blocked port');
      super(url);
    }
  }
  const r = mirrored({ WebSocket: NoMirror });
  assert.equal(r.c.state, 'connected');
  assert.equal(FakeWebSocket.made.length, 1);
  assert.match(r.c.mirror.lastClose.reason, /could not connect: blocked port/);
  r.ws.deliver(wrap(1, [10]));
  assert.deepEqual([...frames.at(-1)], [10]);
});

test("mirror: the session's end closes it, and the next session (a resume) opens its own", () => {
  const { c, ws, m } = mirrored();
  m.accept();
  m.deliver(wrap(1, [10]));
  ws.drop(1006);
  assert.deepEqual(m.closedWith, { code: 1000, reason: 'client: the session ended' });
  assert.equal(c.mirror.attached, false);
  // A late message on the closed mirror is ignored.
  m.deliver(wrap(2, [11]));
  assert.deepEqual([...frames.at(-1)], [10]);
  timers.advance(c.retryDelayMs);
  const ws2 = FakeWebSocket.last();
  assert.equal(ws2.url, 'ws://example.test/ws?room=a&mirror=1');
  ws2.accept();
  assert.equal(hello(ws2).resume_token, 'room.t1');
  assert.equal(c.mirror, null, 'nothing numbered on the new socket yet');
  // The resumed session numbers from 0 again, with a merge and a mirror of its own.
  ws2.deliver(wrap(0, [9, 9]));
  c.welcomed('room.t2');
  const m2 = FakeWebSocket.last();
  assert.notEqual(m2, m);
  assert.equal(m2.url, 'ws://example.test/ws?room=a&mirror=attach');
  m2.accept();
  assert.equal(decodeClient(m2.sent[0]).resume_token, 'room.t2');
  m2.deliver(wrap(1, [20]));
  assert.deepEqual(c.mirror, { attached: true, fromMirror: 1, duplicates: 0, opened: 2, lastClose: { code: 1000, reason: 'client: the session ended' } });
  // A fault, a retry and leaving close it too.
  c.fault('replica diverged: checksum mismatch at tick 9');
  assert.deepEqual(m2.closedWith, { code: 1000, reason: 'client: the session ended' });
  timers.advance(c.retryDelayMs);
  const ws3 = FakeWebSocket.last();
  ws3.accept();
  ws3.deliver(wrap(0, [9, 9]));
  c.welcomed('room.t3');
  const m3 = FakeWebSocket.last();
  c.retryNow();
  assert.deepEqual(m3.closedWith, { code: 1000, reason: 'client: reconnecting' });
  const ws4 = FakeWebSocket.last();
  ws4.accept();
  ws4.deliver(wrap(0, [9, 9]));
  c.welcomed('room.t4');
  const m4 = FakeWebSocket.last();
  c.stop();
  assert.deepEqual(m4.closedWith, { code: 1000, reason: 'client: leaving' });
  assert.deepEqual(ws4.closedWith, { code: 1000, reason: 'client: leaving' });
});

test('mirror: an unnumbered Welcome (a server that ignored mirror=1) opens none; without the option nothing is unwrapped', () => {
  const c = connection({ mirror: true });
  c.start();
  FakeWebSocket.last().accept();
  FakeWebSocket.last().deliver([9, 9]);
  c.welcomed('room.t1');
  assert.equal(FakeWebSocket.made.length, 1);
  assert.equal(c.mirror, null);

  FakeWebSocket.reset();
  frames = [];
  const plain = connection();
  plain.start();
  const ws = FakeWebSocket.last();
  assert.equal(ws.url, 'ws://example.test/ws?room=a');
  ws.accept();
  ws.deliver(wrap(0, [9, 9]));
  plain.welcomed('room.t1');
  assert.deepEqual([...frames[0]], [7, 0, 9, 9], 'handed on as it came');
  assert.equal(FakeWebSocket.made.length, 1);
  assert.equal(plain.mirror, null);
});
