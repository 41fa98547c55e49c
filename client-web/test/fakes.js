// Test doubles for the SDK's I/O, so its tests need no network and no real time: a fake clock
// with timers, a fake WebSocket the test opens, feeds and closes by hand, and schema builders.
// Everything a fake server sends goes through the SDK's real encoder.

/** A field descriptor: `field('x', { Fixed: 8 }, 'interpolate', 'predict', 'delta')`. */
export function field(name, ty, ...flags) {
  const has = (f) => flags.includes(f);
  return {
    name,
    ty,
    interp: has('angle') ? 'Angle' : has('interpolate') ? 'Linear' : 'None',
    predict: has('predict'),
    owner_only: has('owner_only'),
    delta: has('delta'),
    discontinuity: has('discontinuity'),
    extrapolate: has('extrapolate'),
  };
}

/** The engine's three events, first in every game's list. */
export function engineEvents() {
  return [
    { name: 'chat', fields: [field('player', 'Player'), field('text', { Str: 200 })] },
    { name: 'notice', fields: [field('text', { Str: 200 })] },
    { name: 'rejected', fields: [field('seq', 'U32'), field('reason', { Str: 120 })] },
  ];
}

/**
 * A small game using every flag the SDK acts on: `dot` (owned through its first Player field,
 * predicted x, interpolated x and angle, a respawn counter) and `rock` (nothing interpolated).
 */
export function toySchema() {
  return {
    game: 'toy',
    kinds: [
      {
        name: 'dot',
        fields: [
          field('owner', 'Player'),
          field('x', { Fixed: 8 }, 'interpolate', 'predict', 'delta'),
          field('a', 'Angle8', 'angle'),
          field('hp', 'U8'),
          field('life', 'U8', 'discontinuity'),
        ],
      },
      { name: 'rock', fields: [field('x', 'I32')] },
    ],
    player_fields: [field('score', 'U32')],
    room_fields: [field('round', 'U16')],
    input: [field('dx', 'I8')],
    actions: [{ name: 'buy', fields: [field('item', 'U16'), field('note', { Str: 20 })] }],
    events: [...engineEvents(), { name: 'boom', fields: [field('at', { Fixed: 8 })] }],
  };
}

/** A Welcome message object for `schema`. */
export function welcome(schema, over = {}) {
  return {
    type: 'Welcome',
    protocol_version: 5,
    player_id: 1,
    tick_rate: 30,
    tick: 0,
    checksum_interval: 0,
    resume_token: 'room.token1',
    resumed: false,
    schema,
    game_config: '',
    ...over,
  };
}

/** A snapshot message object with empty sections, overridden by `over`. */
export function snapshot(tick, over = {}) {
  return {
    type: 'Snapshot',
    tick,
    ack_input_seq: 0,
    removed: [],
    created: [],
    updated: [],
    players_left: [],
    players_joined: [],
    players_changed: [],
    room: null,
    events: [],
    checksum: null,
    ...over,
  };
}

/** Fake time (milliseconds) and the timers that run on it. */
export class FakeTimers {
  constructor() {
    this.nowMs = 0;
    this.nextId = 1;
    /** id → {at, fn, every} */
    this.timers = new Map();
    this.now = () => this.nowMs;
    this.setTimeout = (fn, ms) => this.add(fn, ms, 0);
    this.clearTimeout = (id) => this.timers.delete(id);
    this.setInterval = (fn, ms) => this.add(fn, ms, Math.max(1, ms));
    this.clearInterval = (id) => this.timers.delete(id);
  }

  add(fn, ms, every) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.nowMs + Math.max(0, ms), fn, every });
    return id;
  }

  /** Timeouts still waiting (not intervals). */
  pending() {
    return [...this.timers.values()].filter((t) => t.every === 0);
  }

  /** Moves time forward by `ms`, running every timer that falls due, in order. */
  advance(ms) {
    const end = this.nowMs + ms;
    for (;;) {
      let next = null;
      for (const [id, t] of this.timers) if (t.at <= end && (next === null || t.at < next[1].at)) next = [id, t];
      if (next === null) break;
      const [id, t] = next;
      this.nowMs = Math.max(this.nowMs, t.at);
      if (t.every) t.at += t.every;
      else this.timers.delete(id);
      t.fn();
    }
    this.nowMs = end;
  }
}

/** A WebSocket the test drives: `accept()`, `deliver(bytes)`, `drop(code, reason)`. */
export class FakeWebSocket {
  static OPEN = 1;
  /** Every socket made, in order. */
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    this.binaryType = 'blob';
    FakeWebSocket.made.push(this);
  }

  /** The server accepted the connection. */
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** A binary frame from the server. */
  deliver(bytes) {
    const copy = new Uint8Array(bytes);
    this.onmessage?.({ data: copy.buffer });
  }

  /** A text frame from the server. */
  deliverText(text) {
    this.onmessage?.({ data: text });
  }

  /** The connection ended (a close frame with `code`, or 1006 for a lost connection). */
  drop(code = 1006, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  send(bytes) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(new Uint8Array(bytes));
  }

  close(code, reason) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  static reset() {
    FakeWebSocket.made = [];
  }

  static last() {
    return FakeWebSocket.made[FakeWebSocket.made.length - 1];
  }
}

/** A deterministic generator (mulberry32) for test noise in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A WebTransport session the test drives, with real web streams: `accept()` (the session and
 * the stream are up), `fail(err)` (the session never comes up), `lose()` (it ends with nothing
 * said), `frame(bytes)` (bytes on the server's side of the bidirectional stream: whole frames
 * or pieces), `datagram(bytes)`. What the client wrote is in `written` (the stream's bytes, in
 * order) and `datagrams`; `closedByClient` once it called `close()`.
 */
export class FakeWebTransport {
  static made = [];

  constructor(url, opts = {}) {
    this.url = url;
    this.opts = opts;
    this.written = [];
    this.datagrams = null;
    this.sentDatagrams = [];
    this.closedByClient = false;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.resolveClosed = resolve;
      this.rejectClosed = reject;
    });
    this.ready.catch(() => {});
    this.closed.catch(() => {});
    const fake = this;
    this.streamIn = null;
    this.datagramsIn = null;
    this.datagrams = {
      maxDatagramSize: 1200,
      readable: new ReadableStream({ start: (c) => { fake.datagramsIn = c; } }),
      writable: new WritableStream({ write: (chunk) => { fake.sentDatagrams.push(new Uint8Array(chunk)); } }),
    };
    FakeWebTransport.made.push(this);
  }

  async createBidirectionalStream() {
    const fake = this;
    return {
      readable: new ReadableStream({ start: (c) => { fake.streamIn = c; } }),
      writable: new WritableStream({ write: (chunk) => { fake.written.push(new Uint8Array(chunk)); } }),
    };
  }

  accept() {
    this.resolveReady();
  }

  fail(err = new Error('QUIC handshake failed')) {
    this.rejectReady(err);
    this.rejectClosed(err);
  }

  lose() {
    this.resolveClosed({ closeCode: 0, reason: '' });
  }

  frame(bytes) {
    this.streamIn.enqueue(new Uint8Array(bytes));
  }

  datagram(bytes) {
    this.datagramsIn.enqueue(new Uint8Array(bytes));
  }

  close() {
    this.closedByClient = true;
    this.resolveClosed({ closeCode: 0, reason: '' });
  }

  /** Everything the client wrote on the stream, concatenated. */
  streamBytes() {
    const n = this.written.reduce((a, b) => a + b.length, 0);
    const out = new Uint8Array(n);
    let at = 0;
    for (const w of this.written) {
      out.set(w, at);
      at += w.length;
    }
    return out;
  }

  static reset() {
    FakeWebTransport.made = [];
  }

  static last() {
    return FakeWebTransport.made[FakeWebTransport.made.length - 1];
  }
}

/** A `fetch` answering `GET /webtransport` with `info` (200) or 404 when null; records the URLs. */
export function fakeFetch(info) {
  const f = async (url) => {
    f.urls.push(String(url));
    if (info === null) return { status: 404, json: async () => ({}) };
    return { status: 200, json: async () => info };
  };
  f.urls = [];
  return f;
}

/** Lets promise callbacks and stream reads run (a few turns of the event loop). */
export async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
