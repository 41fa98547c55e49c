// The WebSocket life cycle with a fake socket and fake timers: Hello v2 with the name and
// tokens, the resume token of the last Welcome on every reconnection, backoff that grows and
// resets, the close-code policy (reconnect / later / never; 4006 never reconnects), faults that
// close the socket with their reason, a Welcome timeout, leaving for good.
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, closeReason } from '../src/sdk/connection.js';
import { decodeClient } from '../src/sdk/codec.js';
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
  assert.deepEqual(hello(ws), { type: 'Hello', protocol_version: 3, name: 'ann', auth_token: 'jwt', resume_token: null });
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
