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
// The WebSocket class, the timers and the random source are passed in, so tests drive it with
// fakes and no network; in a browser the defaults are the page's own.

import { backoffDelay, longestDelay } from './backoff.js';
import { describeClose, retryPolicy } from './close.js';
import { encodeClient, PROTOCOL_VERSION } from './codec.js';

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
   */
  constructor({
    url, name, authToken = null, resumeToken = null, protocolVersion = PROTOCOL_VERSION, onFrame, onState = () => {},
    welcomeTimeoutMs = 10_000, WebSocket = globalThis.WebSocket, timers = globalThis,
    random = Math.random,
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
    this.bytesIn = 0;
    this.bytesOut = 0;
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

  open() {
    this.clearTimers();
    this.setState(this.everConnected ? 'reconnecting' : 'connecting', this.detail);
    let ws;
    try {
      ws = new this.WebSocket(this.url);
    } catch (e) {
      // A malformed URL: trying again gets the same answer.
      this.setState('closed', `Cannot connect to ${this.url}: ${e.message ?? e}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.hasWelcome = false;
    let opened = false;
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
      const data = ev.data;
      if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
        this.fault('the server sent a text frame');
        return;
      }
      const bytes = data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.bytesIn += bytes.length;
      try {
        this.onFrame(bytes);
      } catch (e) {
        // The client handles what it can; anything that still escapes is about this frame.
        this.fault(`could not handle a server message: ${e.message ?? e}`);
      }
    };
    ws.onerror = () => {}; // a close event always follows
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
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

  clearTimers() {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    if (this.welcomeTimer !== null) this.timers.clearTimeout(this.welcomeTimer);
    this.retryTimer = null;
    this.welcomeTimer = null;
  }

  /** The client read a Welcome on this connection: remember its resume token. */
  welcomed(resumeToken) {
    if (this.welcomeTimer !== null) this.timers.clearTimeout(this.welcomeTimer);
    this.welcomeTimer = null;
    this.hasWelcome = true;
    this.attempt = 0;
    this.everConnected = true;
    this.redirects = 0;
    this.resumeToken = resumeToken || null;
    // The seat is spent: a reconnection comes back to this node and room without it.
    this.url = withoutSeat(this.url);
    this.setState('connected');
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

  /** Leaves for good: the server ends the seat at once (no resume). */
  stop() {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'client: leaving');
    this.setState('closed', 'Left the game');
  }
}
