// The WebSocket life cycle of one player, for any game: open a binary socket, say Hello
// (protocol version 5, name, auth token, resume token), hand every frame to the client, and
// when the connection ends do what the shared close-code table says (close.js): reconnect with
// capped, jittered backoff (backoff.js) presenting the resume token, retry after the longest
// delay (a full room), or stop and say why (4006 "replaced": a newer connection owns the
// player, so reconnecting would only take it back and get that one closed in turn).
//
// A node of a cluster may answer the Hello with a Redirect (docs/SCALING.md): the client hands
// it over (`redirect`) and the connection goes at once, with no backoff, to the redirect's URL
// with `?room=ROOM&seat=SEAT`, keeping every other query parameter of its URL (`token`,
// `guest`) but its old room and seat, and says the same Hello there (same resume token). At
// most MAX_REDIRECTS in a row without a Welcome; past that it is a failed attempt (backoff,
// then the original URL again). A 4008 (the seat expired) retries at once without the seat.
// After a Welcome it reconnects to the node that welcomed it (without the seat, which is
// spent); when that node cannot even be reached, to the original URL, which redirects again.
//
// It knows nothing of messages beyond the Hello: the client decodes frames and tells it when a
// Welcome arrived (`welcomed`), when a node sent it elsewhere (`redirect`), or when what the
// server sent is bad (`fault`), which closes the socket with the reason and reconnects for a
// fresh state. Its state is one of 'idle',
// 'connecting', 'connected' (a Welcome arrived), 'reconnecting' and 'closed' (given up; the
// player may `retryNow`), with a sentence for the player in `detail`.
//
// WebTransport (docs/PROTOCOL.md, "WebTransport: snapshots as datagrams"): with `transport`
// 'auto' (the default) each attempt first asks the server's `GET /webtransport`; when it
// answers 200 and the platform has `WebTransport`, the attempt opens a session to
// `https://HOST:PORT/PATH?<the same query>` (`serverCertificateHashes` from the answer) through
// `WebTransportSocket`, which looks like a WebSocket to the rest of this file: one
// bidirectional stream carries the Hello and every reliable message in frames (acked.js), the
// server's close frame becomes the close event's code and reason, datagrams arrive as messages
// too and go out through `sendDatagram`. When the session plus its Welcome is not up within
// `fallbackMs` (2 s), or the session fails before the Welcome without a close frame from the
// server, the attempt goes on at once over a WebSocket (`transport` says which one is in use,
// `fallbackReason` why the last fallback happened). A 404 (a server without it), a failed
// fetch or no WebTransport in the platform: straight to the WebSocket, no delay. Every
// reconnection tries the same way again.
//
// Mirrored streams (docs/PROTOCOL.md, "Mirrored streams: two WebSockets for one session";
// mirror.js): with `mirror: true`, a WebSocket session connects with `mirror=1`, so the room
// numbers its messages, and once its Welcome came numbered it opens a second WebSocket to the
// same node (the session's URL without `seat`, with `mirror=attach`) whose only message is a
// Hello with the Welcome's resume token. Both sockets then bring the room's messages; each one
// is taken once, from whichever brings it first (`Merge`), and handed to `onFrame` unwrapped,
// in order, so nothing after this file knows there are two. The mirror is a spare: when it
// closes or fails the session goes on over its main socket; it goes when the session ends, and
// the next session (a resume, a reconnection) opens its own. Over WebTransport the option does
// nothing (datagrams do not stall; the server refuses `mirror` there). `mirror` says what the
// mirror did.
//
// The WebSocket and WebTransport classes, fetch, the timers and the random source are passed
// in, so tests drive it with fakes and no network; in a browser the defaults are the page's own.

import { backoffDelay, longestDelay } from './backoff.js';
import { describeClose, retryPolicy } from './close.js';
import { encodeClient, MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from './codec.js';
import { FrameReader, closeFrame, messageFrame } from './acked.js';
import { Merge, unwrap } from './mirror.js';

/** At most this many redirects (and seat retries) in a row without a Welcome. */
export const MAX_REDIRECTS = 4;
/** 4008 SeatExpired (close.js): the seat token is spent or expired. */
const SEAT_EXPIRED = 4008;

/**
 * Where a redirect sends a client that was at `from`: `redirect.url` with the query parameters
 * of `from` but `room` and `seat` (and those the node's URL sets itself), then `room=ROOM` and,
 * when non-empty, `seat=SEAT`. Throws a TypeError for a URL that does not parse.
 */
export function redirectUrl(from, redirect) {
  const to = new URL(redirect.url);
  to.searchParams.delete('room');
  to.searchParams.delete('seat');
  const own = new Set(to.searchParams.keys());
  for (const [k, v] of new URL(from).searchParams) {
    if (k !== 'room' && k !== 'seat' && !own.has(k)) to.searchParams.append(k, v);
  }
  if (redirect.room) to.searchParams.set('room', redirect.room);
  if (redirect.seat) to.searchParams.set('seat', redirect.seat);
  return to.toString();
}

/** `url` without its `seat` parameter (`url` itself when it has none). */
export function withoutSeat(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (!u.searchParams.has('seat')) return url;
  u.searchParams.delete('seat');
  return u.toString();
}

/** `url` with query parameter `key` set to `value` (replacing any it had). */
export function withParam(url, key, value) {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

/** Where a session's mirror connects: the session's URL without `seat` (spent), with `mirror=attach`. */
export function mirrorUrl(url) {
  return withParam(withoutSeat(url), 'mirror', 'attach');
}

/** The bytes of a binary message event's data, or null for a text frame. */
function binary(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/**
 * The number and message of a numbered message, or null for one that is not (or is cut short:
 * handed on as it is, the decoder says what is wrong with it).
 */
function numbered(bytes) {
  try {
    return unwrap(bytes);
  } catch {
    return null;
  }
}

/** Whether `url` carries a `seat` parameter. */
export function hasSeat(url) {
  try {
    return new URL(url).searchParams.has('seat');
  } catch {
    return false;
  }
}

/** WebSocket.OPEN, for WebSocket classes that do not define the constant. */
const OPEN = 1;
/** How long a WebTransport attempt has for its session and Welcome before the WebSocket. */
export const WEBTRANSPORT_FALLBACK_MS = 2000;

/** The bytes of a hex string (a certificate hash of `GET /webtransport`). */
export function hexBytes(hex) {
  if (typeof hex !== 'string' || hex.length % 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError(`not a hex string: ${JSON.stringify(hex)}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Where `GET /webtransport` is for a WebSocket URL (`ws://h:p/ws?…` → `http://h:p/webtransport`), or null. */
export function discoveryUrl(wsUrl) {
  let u;
  try {
    u = new URL(wsUrl);
  } catch {
    return null;
  }
  const scheme = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  return `${scheme}//${u.host}/webtransport`;
}

/**
 * The WebTransport URL for a WebSocket URL and the server's `GET /webtransport` answer
 * (`{port, path}`): `https://HOST:PORT/PATH` with the WebSocket URL's query (room, token,
 * guest, seat).
 */
export function webTransportUrl(wsUrl, info) {
  const u = new URL(wsUrl);
  return `https://${u.hostname}:${info.port}${info.path}${u.search}`;
}

/** `GET /webtransport`'s answer if it is one (`{port, path, cert_hashes}`), else null. */
export function parseDiscovery(body) {
  if (body === null || typeof body !== 'object') return null;
  const { port, path } = body;
  const hashes = body.cert_hashes ?? [];
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  if (typeof path !== 'string' || !path.startsWith('/')) return null;
  if (!Array.isArray(hashes) || !hashes.every((h) => typeof h === 'string' && /^[0-9a-fA-F]{64}$/.test(h))) return null;
  return { port, path, cert_hashes: hashes };
}

/**
 * A WebTransport session made to look like a WebSocket to `Connection`: `readyState` (0, 1
 * once the session and its bidirectional stream are up, 3 after), `onopen`, `onmessage({data})`
 * for every message frame of the stream and every datagram, `onclose({code, reason,
 * fromServer})` (the server's close frame's code and reason; 1006 for a session that failed or
 * ended without one), `send(bytes)` (a message frame), `sendDatagram(bytes)`, and
 * `close(code, reason)` (a close frame, then the session's close). `onfault(reason)`: the
 * stream broke the framing rules.
 */
export class WebTransportSocket {
  static OPEN = 1;

  /**
   * @param {string} url `https://…`
   * @param {object} [opts]
   * @param {string[]} [opts.certHashes] SHA-256 hashes, hex (`serverCertificateHashes`)
   * @param {Function} [opts.WebTransport]
   * @param {number} [opts.maxFrameBytes]
   * @param {object} [opts.timers]
   * @param {EventTarget} [opts.page] where `pagehide` is heard (the window)
   */
  constructor(url, {
    certHashes = [], WebTransport = globalThis.WebTransport, maxFrameBytes = MAX_MESSAGE_BYTES + 64,
    timers = globalThis, page = globalThis,
  } = {}) {
    this.url = url;
    this.readyState = 0;
    this.binaryType = 'arraybuffer';
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onfault = null;
    this.timers = timers;
    this.ended = false;
    this.writer = null;
    this.datagramWriter = null;
    this.frames = new FrameReader(maxFrameBytes);
    const opts = certHashes.length
      ? { serverCertificateHashes: certHashes.map((h) => ({ algorithm: 'sha-256', value: hexBytes(h) })) }
      : {};
    this.wt = new WebTransport(url, opts);
    this.page = typeof page?.addEventListener === 'function' ? page : null;
    this.onPageHide = () => this.close(1001, 'client: the page went away');
    this.page?.addEventListener('pagehide', this.onPageHide);
    this.wt.closed.then(
      () => this.end(1006, 'the WebTransport session ended', false),
      (e) => this.end(1006, `the WebTransport session failed: ${e?.message ?? e}`, false),
    );
    this.run();
  }

  async run() {
    try {
      await this.wt.ready;
      if (this.ended) return;
      const stream = await this.wt.createBidirectionalStream();
      if (this.ended) return;
      this.writer = stream.writable.getWriter();
      const dg = this.wt.datagrams;
      this.datagramWriter = (dg.writable ?? dg.createWritable()).getWriter();
      this.readyState = 1;
      this.readStream(stream.readable.getReader());
      this.readDatagrams(dg.readable.getReader());
      this.onopen?.({});
    } catch (e) {
      this.end(1006, `the WebTransport session failed: ${e?.message ?? e}`, false);
    }
  }

  deliver(bytes) {
    if (this.ended) return;
    this.onmessage?.({ data: bytes });
  }

  async readStream(reader) {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.ended) break;
        this.frames.push(value);
        for (let f = this.frames.next(); f !== null && !this.ended; f = this.frames.next()) {
          if (f.kind === 'close') {
            // The server says why, then ends the session.
            this.end(f.code, f.reason, true);
            return;
          }
          this.deliver(f.bytes);
        }
      }
      this.end(1006, 'the server ended the stream without a close frame', false);
    } catch (e) {
      if (this.ended) return;
      if (e?.name === 'WireError') this.onfault?.(`bad stream framing: ${e.message}`);
      else this.end(1006, `the stream failed: ${e?.message ?? e}`, false);
    }
  }

  async readDatagrams(reader) {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.ended) return;
        this.deliver(value);
      }
    } catch {
      // the session's end says why
    }
  }

  /** The session is over: tell the connection once, and let go of the session. */
  end(code, reason, fromServer) {
    if (this.ended) return;
    this.ended = true;
    this.readyState = 3;
    this.page?.removeEventListener('pagehide', this.onPageHide);
    try {
      this.wt.close();
    } catch {
      // closed already
    }
    this.onclose?.({ code, reason, fromServer, wasClean: fromServer });
  }

  /** The largest datagram the session takes (0: unknown). */
  get maxDatagramSize() {
    return this.wt.datagrams?.maxDatagramSize ?? 0;
  }

  /** A message frame on the stream. */
  send(bytes) {
    if (this.readyState !== 1) throw new Error('send on a WebTransport session that is not open');
    this.writer.write(messageFrame(bytes)).catch(() => {});
  }

  /** One datagram (a client datagram: acked.js's `encodeDatagram`). */
  sendDatagram(bytes) {
    if (this.readyState !== 1) throw new Error('send on a WebTransport session that is not open');
    this.datagramWriter.write(bytes).catch(() => {});
  }

  /** Leaves: a close frame with `code` and `reason`, the stream's end, then the session's close. */
  close(code = 1000, reason = '') {
    if (this.ended) return;
    this.ended = true;
    const wasOpen = this.readyState === 1;
    this.readyState = 3;
    this.page?.removeEventListener('pagehide', this.onPageHide);
    const wt = this.wt;
    const done = () => {
      try {
        wt.close();
      } catch {
        // closed already
      }
    };
    if (!wasOpen) {
      done();
    } else {
      const w = this.writer;
      // The frame first; the session's close may drop what is still queued on the stream, so it
      // waits for the stream's end (at most a second).
      const timer = this.timers.setTimeout(done, 1000);
      w.write(closeFrame(code, reason)).then(() => w.close()).catch(() => {}).finally(() => {
        this.timers.clearTimeout(timer);
        done();
      });
    }
    queueMicrotask(() => this.onclose?.({ code, reason, fromServer: false, wasClean: true }));
  }
}
/** Longest close reason a WebSocket may send, in UTF-8 bytes. */
const MAX_REASON_BYTES = 123;

/** `text` cut to at most `MAX_REASON_BYTES` of UTF-8, on a character boundary. */
export function closeReason(text) {
  const enc = new TextEncoder();
  let out = '';
  for (const ch of String(text)) {
    if (enc.encode(out + ch).length > MAX_REASON_BYTES) break;
    out += ch;
  }
  return out;
}

export class Connection {
  /**
   * @param {object} opts
   * @param {string} opts.url WebSocket URL (`ws://host/ws`, with `?room=` / `?token=` if wanted)
   * @param {string} opts.name player name for Hello (ignored by the server on a resume)
   * @param {string | null} [opts.authToken] Hello.auth_token
   * @param {string | null} [opts.resumeToken] Hello.resume_token of the first connection (one
   *   a page kept from an earlier Welcome, across a reload)
   * @param {number} [opts.protocolVersion] 2; another number only to test the 4000 close
   * @param {(bytes: Uint8Array) => void} opts.onFrame every binary frame from the server
   * @param {(state: string, detail: string) => void} [opts.onState]
   * @param {number} [opts.welcomeTimeoutMs] an open socket with no Welcome after this is dropped
   * @param {Function} [opts.WebSocket] the WebSocket class (default: the global one)
   * @param {{setTimeout: Function, clearTimeout: Function}} [opts.timers]
   * @param {() => number} [opts.random] for the backoff's jitter
   * @param {'auto' | 'websocket' | 'webtransport'} [opts.transport] 'auto': WebTransport when
   *   the server and the platform have it, else (or when it is not up in `fallbackMs`) a
   *   WebSocket; 'webtransport' the same; 'websocket' only that
   * @param {Function} [opts.WebTransport] the WebTransport class (default: the global one)
   * @param {Function} [opts.fetch] for `GET /webtransport` (default: the global one)
   * @param {number} [opts.fallbackMs] how long a WebTransport attempt has for its Welcome
   * @param {EventTarget} [opts.page] where a WebTransport session hears `pagehide`
   * @param {boolean} [opts.mirror] over a WebSocket, take the room's messages from a second
   *   socket too (mirrored streams), so a TCP stall of one is covered by the other
   */
  constructor({
    url, name, authToken = null, resumeToken = null, protocolVersion = PROTOCOL_VERSION, onFrame, onState = () => {},
    welcomeTimeoutMs = 10_000, WebSocket = globalThis.WebSocket, timers = globalThis,
    random = Math.random, transport = 'auto', WebTransport = globalThis.WebTransport,
    fetch = globalThis.fetch?.bind(globalThis), fallbackMs = WEBTRANSPORT_FALLBACK_MS,
    page = globalThis, mirror = false,
  }) {
    /** The URL this connection was made with (where it goes back to when lost). */
    this.baseUrl = url;
    /** The URL of the current (or next) socket: the node a redirect sent it to. */
    this.url = url;
    this.name = name;
    this.authToken = authToken;
    this.protocolVersion = protocolVersion;
    this.onFrame = onFrame;
    this.onState = onState;
    this.welcomeTimeoutMs = welcomeTimeoutMs;
    this.WebSocket = WebSocket;
    this.timers = timers;
    this.random = random;
    this.transportWanted = transport;
    this.WebTransport = WebTransport;
    this.fetch = fetch;
    this.fallbackMs = fallbackMs;
    this.page = page;
    /** @type {'webtransport' | 'websocket' | null} the transport of the current socket */
    this.transport = null;
    /** Why the last WebTransport attempt gave way to a WebSocket, or null. */
    this.fallbackReason = null;
    /** WebTransport attempts and how many of them fell back. */
    this.webTransportAttempts = 0;
    this.fallbacks = 0;
    /** Each `open` numbers its attempt, so a late `GET /webtransport` answer is ignored. */
    this.openSeq = 0;
    this.fallbackTimer = null;
    this.state = 'idle';
    this.detail = '';
    /** Reconnection attempts since the last Welcome (the backoff's exponent). */
    this.attempt = 0;
    /** The token of the last Welcome, sent in the next Hello. */
    this.resumeToken = resumeToken || null;
    /** Redirects followed since the last Welcome (the loop guard's count). */
    this.redirects = 0;
    /** Redirects followed in all. */
    this.redirectsTotal = 0;
    /** `{code, reason}` of the last close, ours or the server's. */
    this.lastClose = null;
    /** The last thing the server sent that the client refused (a sentence), or null. */
    this.lastFault = null;
    /** Bytes received (on both sockets of a mirrored session) and sent. */
    this.bytesIn = 0;
    this.bytesOut = 0;
    /** Whether WebSocket sessions ask for mirrored streams. */
    this.mirrorWanted = mirror;
    /** The merge of the current WebSocket session's two streams, or null when it is not numbered. */
    this.merge = null;
    /** The current session's mirror socket, or null. */
    this.mirrorWs = null;
    /** Whether that mirror is open and has said its Hello. */
    this.mirrorAttached = false;
    /** Mirror sockets opened in all (one per numbered session). */
    this.mirrorsOpened = 0;
    /** `{code, reason}` of how the last mirror ended (ours or the server's), or null. */
    this.mirrorClose = null;
    this.ws = null;
    this.retryTimer = null;
    this.welcomeTimer = null;
    this.everConnected = false;
    this.stopped = true;
    /** Whether the current socket has had its Welcome (frames before it carry no schema). */
    this.hasWelcome = false;
  }

  setState(state, detail = '') {
    this.state = state;
    this.detail = detail;
    this.onState(state, detail);
  }

  /** Connects (once; later connections are the retry policy's business). */
  start() {
    this.stopped = false;
    this.open();
  }

  /** Whether an attempt asks for WebTransport first. */
  wantsWebTransport() {
    return this.transportWanted !== 'websocket' && typeof this.WebTransport === 'function'
      && typeof this.fetch === 'function';
  }

  open() {
    this.clearTimers();
    this.setState(this.everConnected ? 'reconnecting' : 'connecting', this.detail);
    const seq = ++this.openSeq;
    this.ws = null;
    this.hasWelcome = false;
    if (!this.wantsWebTransport()) {
      this.openWebSocket();
      return;
    }
    const url = this.url;
    this.discover(url).then((info) => {
      if (seq !== this.openSeq || this.stopped || this.ws !== null) return;
      if (info) this.openWebTransport(url, info);
      else this.openWebSocket();
    });
  }

  /** `GET /webtransport` of the node `url` names: its answer, or null (404, unreachable, not JSON, slow). */
  async discover(url) {
    const where = discoveryUrl(url);
    if (where === null) return null;
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = this.timers.setTimeout(() => ctl?.abort(), this.fallbackMs);
    try {
      const res = await this.fetch(where, { signal: ctl?.signal, cache: 'no-store' });
      if (res.status !== 200) return null;
      return parseDiscovery(await res.json());
    } catch {
      return null;
    } finally {
      this.timers.clearTimeout(timer);
    }
  }

  openWebTransport(url, info) {
    this.webTransportAttempts++;
    let ws;
    try {
      ws = new WebTransportSocket(webTransportUrl(url, info), {
        certHashes: info.cert_hashes, WebTransport: this.WebTransport, timers: this.timers, page: this.page,
      });
    } catch (e) {
      this.fallBack(`WebTransport could not start: ${e.message ?? e}`);
      return;
    }
    this.attach(ws, 'webtransport');
    this.fallbackTimer = this.timers.setTimeout(() => {
      this.fallbackTimer = null;
      if (this.ws === ws && !this.hasWelcome) {
        this.fallBack(`no WebTransport session and Welcome within ${this.fallbackMs / 1000} s`);
      }
    }, this.fallbackMs);
  }

  /** The WebTransport attempt is given up: the same attempt goes on over a WebSocket, at once. */
  fallBack(reason) {
    const ws = this.ws;
    this.ws = null;
    this.clearTimers();
    this.fallbacks++;
    this.fallbackReason = reason;
    if (ws) {
      ws.onclose = null;
      try {
        ws.close(1000, 'client: falling back to a WebSocket');
      } catch {
        // already closing
      }
    }
    if (this.stopped) return;
    this.openWebSocket();
  }

  openWebSocket() {
    let ws;
    try {
      ws = new this.WebSocket(this.mirrorWanted ? withParam(this.url, 'mirror', '1') : this.url);
    } catch (e) {
      // A malformed URL: trying again gets the same answer.
      this.setState('closed', `Cannot connect to ${this.url}: ${e.message ?? e}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.attach(ws, 'websocket');
  }

  /** Wires a socket (a WebSocket, or a WebTransportSocket that looks like one) to this connection. */
  attach(ws, transport) {
    this.ws = ws;
    this.transport = transport;
    this.hasWelcome = false;
    // A socket that asked for `mirror=1` numbers from 0: a merge of its own.
    this.merge = transport === 'websocket' && this.mirrorWanted ? new Merge() : null;
    let opened = false;
    ws.onfault = (reason) => {
      if (this.ws === ws) this.fault(reason);
    };
    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      this.send(encodeClient({
        type: 'Hello',
        protocol_version: this.protocolVersion,
        name: this.name,
        auth_token: this.authToken,
        resume_token: this.resumeToken,
      }));
      this.welcomeTimer = this.timers.setTimeout(() => {
        if (this.ws === ws && this.state !== 'connected') {
          this.fault(`no Welcome within ${this.welcomeTimeoutMs / 1000} s`);
        }
      }, this.welcomeTimeoutMs);
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const bytes = binary(ev.data);
      if (bytes === null) {
        this.fault('the server sent a text frame');
        return;
      }
      this.bytesIn += bytes.length;
      // What the connection itself answers (a Pong, a Redirect) is not numbered: it goes on as
      // it came.
      const n = this.merge === null ? null : numbered(bytes);
      if (n === null) this.hand(bytes);
      else if (this.merge.take('main', n.seq)) this.hand(n.msg);
    };
    ws.onerror = () => {}; // a close event always follows
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      if (transport === 'webtransport' && !this.hasWelcome && !ev.fromServer) {
        // The session failed (or ended) before its Welcome with nothing said: a WebSocket now.
        this.fallBack(ev.reason || 'the WebTransport session failed');
        return;
      }
      this.ws = null;
      this.clearTimers();
      this.closeMirror('client: the session ended');
      this.lastClose = { code: ev.code, reason: ev.reason ?? '' };
      if (this.stopped) return;
      if (ev.code === SEAT_EXPIRED && hasSeat(this.url)) {
        // The seat is gone: the same room without it, at once (within the loop guard).
        this.url = withoutSeat(this.url);
        if (this.redirects < MAX_REDIRECTS) {
          this.redirects++;
          this.open();
          return;
        }
      }
      // A node that cannot be reached: the original URL finds where the room went.
      if (!opened) this.url = this.baseUrl;
      this.scheduleRetry(ev.code, ev.reason ?? '');
    };
  }

  /** One server message, unwrapped, to the client. */
  hand(bytes) {
    try {
      this.onFrame(bytes);
    } catch (e) {
      // The client handles what it can; anything that still escapes is about this frame.
      this.fault(`could not handle a server message: ${e.message ?? e}`);
    }
  }

  /**
   * The session's mirror: a second WebSocket to the same node that says a Hello with the
   * session's resume token, then only receives. Nothing it does reaches the session but the
   * messages it brings first.
   */
  openMirror() {
    let m;
    try {
      m = new this.WebSocket(mirrorUrl(this.url));
    } catch (e) {
      this.mirrorClose = { code: 1006, reason: `the mirror could not connect: ${e.message ?? e}` };
      return;
    }
    m.binaryType = 'arraybuffer';
    this.mirrorWs = m;
    this.mirrorsOpened++;
    m.onopen = () => {
      if (this.mirrorWs !== m) return;
      // The name is ignored: the token says which session this copies.
      m.send(encodeClient({
        type: 'Hello', protocol_version: this.protocolVersion, name: '', auth_token: null, resume_token: this.resumeToken,
      }));
      this.mirrorAttached = true;
    };
    m.onmessage = (ev) => {
      if (this.mirrorWs !== m) return;
      const bytes = binary(ev.data);
      if (bytes === null) return;
      this.bytesIn += bytes.length;
      // A mirror brings numbered messages only; anything else is not the session's to read.
      const n = numbered(bytes);
      if (n !== null && this.merge.take('mirror', n.seq)) this.hand(n.msg);
    };
    m.onerror = () => {}; // a close event always follows
    m.onclose = (ev) => {
      if (this.mirrorWs !== m) return;
      // The session goes on over its main socket, as it would have without a mirror.
      this.mirrorWs = null;
      this.mirrorAttached = false;
      this.mirrorClose = { code: ev.code, reason: ev.reason ?? '' };
    };
  }

  /** Closes the session's mirror, if it has one, with `reason`. */
  closeMirror(reason) {
    const m = this.mirrorWs;
    if (m === null) return;
    this.mirrorWs = null;
    this.mirrorAttached = false;
    this.mirrorClose = { code: 1000, reason };
    try {
      m.close(1000, reason);
    } catch {
      // already closing
    }
  }

  /**
   * What mirrored streams did for the current (or last) WebSocket session, or null when it
   * does not number its messages (the option is off, WebTransport, no numbered Welcome yet):
   * `attached` (a mirror is open and said its Hello), `fromMirror` (messages taken from it:
   * the main socket was behind), `duplicates` (copies dropped), `opened` (mirrors opened in
   * all, across sessions), `lastClose` (how the last one ended, ours or the server's).
   */
  get mirror() {
    if (this.merge === null || this.merge.next === null) return null;
    return {
      attached: this.mirrorAttached,
      fromMirror: this.merge.fromMirror,
      duplicates: this.merge.duplicates,
      opened: this.mirrorsOpened,
      lastClose: this.mirrorClose,
    };
  }

  clearTimers() {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    if (this.welcomeTimer !== null) this.timers.clearTimeout(this.welcomeTimer);
    if (this.fallbackTimer !== null) this.timers.clearTimeout(this.fallbackTimer);
    this.retryTimer = null;
    this.welcomeTimer = null;
    this.fallbackTimer = null;
  }

  /** The client read a Welcome on this connection: remember its resume token. */
  welcomed(resumeToken) {
    if (this.welcomeTimer !== null) this.timers.clearTimeout(this.welcomeTimer);
    this.welcomeTimer = null;
    if (this.fallbackTimer !== null) this.timers.clearTimeout(this.fallbackTimer);
    this.fallbackTimer = null;
    this.hasWelcome = true;
    this.attempt = 0;
    this.everConnected = true;
    this.redirects = 0;
    this.resumeToken = resumeToken || null;
    // The seat is spent: a reconnection comes back to this node and room without it.
    this.url = withoutSeat(this.url);
    this.setState('connected');
    // A numbered Welcome: this node keeps the session's messages for a mirror (one that
    // ignored `mirror=1` would take the mirror's Hello for a resume of the session).
    if (this.merge !== null && this.merge.next !== null && this.resumeToken !== null) this.openMirror();
  }

  /**
   * A node sent `{url, room, seat}` (a Redirect before any Welcome): leave this socket and
   * open one there at once with the same Hello, unless MAX_REDIRECTS in a row were followed
   * already (then it is a failed attempt: backoff, and the original URL again).
   */
  redirect(r) {
    const ws = this.ws;
    if (!ws || this.hasWelcome) return;
    let next;
    try {
      next = redirectUrl(this.url, r);
    } catch (e) {
      this.fault(`a redirect to a bad URL ${JSON.stringify(r.url)}: ${e.message ?? e}`);
      return;
    }
    this.ws = null;
    this.clearTimers();
    try {
      ws.close(1000, 'client: redirected');
    } catch {
      // already closing
    }
    if (this.stopped) return;
    if (this.redirects >= MAX_REDIRECTS) {
      const text = `Redirected ${this.redirects + 1} times in a row (last to ${r.url})`;
      this.lastClose = { code: 1000, reason: text };
      this.redirects = 0;
      this.url = this.baseUrl;
      this.scheduleRetry(1000, text, 'reconnect', text);
      return;
    }
    this.redirects++;
    this.redirectsTotal++;
    this.url = next;
    this.detail = `Moving to ${r.url}`;
    this.open();
  }

  /**
   * What the server sent is bad (undecodable bytes, a replica that no longer matches): close
   * this socket with `reason`, so the server's log says why, and reconnect for a fresh state.
   * The server ends the seat of a client that closes itself, so the next Hello, though it
   * carries the token, makes a new player in the same room.
   */
  fault(reason) {
    this.lastFault = reason;
    const ws = this.ws;
    this.ws = null;
    this.clearTimers();
    this.lastClose = { code: 1000, reason };
    this.closeMirror('client: the session ended');
    if (ws) {
      try {
        ws.close(1000, closeReason(`client: ${reason}`));
      } catch {
        // already closing
      }
    }
    if (this.stopped) return;
    this.scheduleRetry(1000, reason, 'reconnect', `The server sent something this page cannot use (${reason})`);
  }

  /** After a close with `code`: retry as `policy` says ('reconnect' | 'later' | 'never'). */
  scheduleRetry(code, reason, policy = retryPolicy(code), text = describeClose(code, reason)) {
    if (policy === 'never') {
      this.setState('closed', text);
      return;
    }
    const delay = policy === 'later'
      ? longestDelay({ random: this.random })
      : backoffDelay(this.attempt++, { random: this.random });
    this.everConnected = true;
    this.retryDelayMs = delay;
    this.setState('reconnecting', `${text} — retrying in ${(delay / 1000).toFixed(1)} s`);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  /** Retries at once (the player asked), resetting the backoff. */
  retryNow() {
    this.attempt = 0;
    this.redirects = 0;
    this.stopped = false;
    const ws = this.ws;
    this.ws = null;
    this.closeMirror('client: reconnecting');
    if (ws) ws.close(1000, 'client: reconnecting');
    this.open();
  }

  /** Sends bytes if the socket is open; returns whether it was. */
  send(bytes) {
    const ws = this.ws;
    if (!ws || ws.readyState !== (this.WebSocket.OPEN ?? OPEN)) return false;
    ws.send(bytes);
    this.bytesOut += bytes.length;
    return true;
  }

  /**
   * Sends one datagram if the socket is an open WebTransport session; returns whether it was
   * (over a WebSocket there are none: the caller sends on the socket instead).
   */
  sendDatagram(bytes) {
    const ws = this.ws;
    if (!ws || this.transport !== 'webtransport' || ws.readyState !== OPEN) return false;
    if (ws.maxDatagramSize > 0 && bytes.length > ws.maxDatagramSize) return false;
    ws.sendDatagram(bytes);
    this.bytesOut += bytes.length;
    return true;
  }

  /** Leaves for good: the server ends the seat at once (no resume). */
  stop() {
    this.stopped = true;
    this.openSeq++;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.closeMirror('client: leaving');
    if (ws) ws.close(1000, 'client: leaving');
    this.setState('closed', 'Left the game');
  }
}
