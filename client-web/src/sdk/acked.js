// Snapshots over an unreliable transport (WebTransport datagrams), and the framing of the
// reliable stream beside them: the browser's copy of shared/src/sync/acked.rs
// (docs/PROTOCOL.md, "WebTransport: snapshots as datagrams").
//
// Over datagrams a snapshot may be lost, duplicated or overtaken, so the server sends each one
// against the newest tick the client *acknowledged* (message 5, `{type: 'Acked', back,
// snapshot}`), never against what it merely sent. The client keeps the replicas of the ticks it
// applied since the base of the newest snapshot it applied (`Bases`), decodes each message 5
// against its base's replica, applies it to a copy, and acknowledges its tick in its next
// datagram (`encodeDatagram`). A message 5 for a tick not after the newest applied one is stale
// and dropped.
//
// Everything that must arrive goes on one bidirectional stream, in frames (`writeFrame`,
// `FrameReader`): `kind: u8 (0 message, 1 close), len: varint, payload`. A close frame carries
// the close code (u16 big-endian) and a UTF-8 reason of at most 123 bytes, as a WebSocket close
// frame does.

import { Reader, WireError, Writer } from './wire.js';
import { ReplicaError } from './replica.js';

/** Most replicas a client keeps (about four seconds at 30 Hz): `MAX_BASES` in Rust. */
export const MAX_BASES = 128;
/** The oldest base a server uses, ticks before the snapshot (past it, `back` 0). */
export const MAX_BACK = 96;
/** Frame kinds on the stream. */
export const FRAME_MESSAGE = 0;
export const FRAME_CLOSE = 1;
/** Longest close reason, UTF-8 bytes (a WebSocket close frame's limit). */
export const MAX_CLOSE_REASON = 123;

const invalid = (msg) => new WireError('Invalid', msg);
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function asBytes(b) {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return Uint8Array.from(b);
}

/**
 * The tick of a message 5 and how far back its base is, `{tick, back}`; null for any other
 * message. Throws a WireError for a base before tick 0 or bytes that end early.
 */
export function peekAcked(bytes) {
  const r = new Reader(asBytes(bytes));
  if (r.varint() !== 5) return null;
  const back = r.varint32();
  const tick = r.varint32();
  if (back > tick) throw invalid(`a snapshot of tick ${tick} against ${back} ticks before it`);
  return { tick, back };
}

/**
 * The replicas a client over datagrams keeps: every tick applied since the base of the newest
 * snapshot applied, oldest first, the newest being the current one's state.
 */
export class Bases {
  /** @param {import('./replica.js').Replica} empty a replica just made from a Welcome */
  constructor(empty) {
    /** @type {import('./replica.js').Replica[]} */
    this.held = [];
    /** The replica before any snapshot (what `back` 0 is against). */
    this.empty = empty.clone();
  }

  /** Replicas kept now. */
  get length() {
    return this.held.length;
  }

  /** The ticks of the replicas kept, oldest first. */
  ticks() {
    return this.held.map((r) => r.tick);
  }

  /**
   * Decodes message 5 `bytes` against its base and, unless it is stale, applies it to a copy of
   * the base whose state `current` (the replica the page holds: the newest applied, or the
   * empty one) then takes, keeping its callbacks, which are called as `Replica.apply` calls
   * them (`dispatch: false` to skip them). Returns `{stale: true}` for a duplicate or an
   * overtaken one, else `{stale: false, snapshot, back, changes, replica}`: the snapshot (its
   * tick to acknowledge), how far back its base was, what changed from `current` as it was, and
   * the new replica kept as a base.
   * Throws a ReplicaError (MissingBase: a base the client never had or has dropped; a checksum
   * mismatch...) or a WireError when client and server disagree: reconnect.
   */
  apply(current, bytes, { dispatch = true } = {}) {
    bytes = asBytes(bytes);
    const peek = peekAcked(bytes);
    if (peek === null) throw invalid('not a message 5');
    const { tick, back } = peek;
    if (current.snapshotsApplied > 0 && tick <= current.tick) return { stale: true, tick };
    let base;
    if (back === 0) {
      base = this.empty;
    } else {
      const at = tick - back;
      base = this.held.find((r) => r.tick === at && r.snapshotsApplied > 0);
      if (base === undefined) {
        throw new ReplicaError('MissingBase', `a snapshot of tick ${tick} against tick ${at}, which this client does not hold`, { tick: at });
      }
    }
    const msg = base.decode(bytes);
    const snap = msg.snapshot;
    const next = base.clone();
    // The copy's count goes on from the replica it replaces (the base may be older).
    next.snapshotsApplied = current.snapshotsApplied;
    next.apply(snap); // a clone has no callbacks: nothing runs yet
    const changes = next.changesFrom(current);
    // The server's base only moves forward: the bases it can still use are this one's and
    // later ones. (A snapshot against nothing says nothing of its base.)
    if (back > 0) {
      const keepFrom = tick - back;
      while (this.held.length && this.held[0].tick < keepFrom) this.held.shift();
    }
    this.held.push(next);
    while (this.held.length > MAX_BASES) this.held.shift();
    const gone = changes.removed.map(({ id }) => current.entities.get(id));
    const joined = changes.players_changed.filter((id) => !current.players.has(id));
    current.assume(next);
    if (dispatch) current.dispatch(snap, changes, gone, joined);
    return { stale: false, snapshot: snap, back, changes, replica: next };
  }
}

/**
 * A client datagram: the newest tick applied (its acknowledgement; 0 or null before any), then
 * perhaps one message, already encoded (`encodeClient` of an Input or a Ping).
 * @param {number | null} ack
 * @param {Uint8Array | null} [msg]
 * @returns {Uint8Array}
 */
export function encodeDatagram(ack, msg = null) {
  const w = new Writer(16 + (msg ? msg.length : 0));
  w.varint(ack ?? 0);
  if (msg) w.bytes(asBytes(msg));
  return w.finish();
}

/**
 * Splits a client datagram: `{ack, msg}`, `ack` null for 0, `msg` the message's bytes or null.
 * (Only the server decodes these; the SDK's tests use it.)
 */
export function decodeDatagram(bytes) {
  const r = new Reader(asBytes(bytes));
  const ack = r.varint32();
  const rest = r.bytes.subarray(r.pos);
  return { ack: ack === 0 ? null : ack, msg: rest.length ? rest : null };
}

/** The longest prefix of `reason` within `MAX_CLOSE_REASON` UTF-8 bytes, on a character boundary. */
function cutReason(reason) {
  const bytes = utf8.encode(String(reason ?? ''));
  if (bytes.length <= MAX_CLOSE_REASON) return bytes;
  let end = MAX_CLOSE_REASON;
  // Back over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * The bytes of a frame of the stream: `{kind: 'message', bytes}` or `{kind: 'close', code,
 * reason}` (the reason cut at 123 bytes on a character boundary).
 * @returns {Uint8Array}
 */
export function writeFrame(frame) {
  if (frame.kind === 'message') {
    const m = asBytes(frame.bytes);
    const w = new Writer(m.length + 10);
    w.u8(FRAME_MESSAGE);
    w.varint(m.length);
    w.bytes(m);
    return w.finish();
  }
  if (frame.kind === 'close') {
    const code = frame.code;
    if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw invalid(`a close code of ${code}`);
    const reason = cutReason(frame.reason);
    const w = new Writer(reason.length + 8);
    w.u8(FRAME_CLOSE);
    w.varint(2 + reason.length);
    w.u8(code >> 8);
    w.u8(code & 0xff);
    w.bytes(reason);
    return w.finish();
  }
  throw invalid(`unknown frame kind ${frame.kind}`);
}

/** A message frame's bytes. */
export const messageFrame = (bytes) => writeFrame({ kind: 'message', bytes });
/** A close frame's bytes. */
export const closeFrame = (code, reason) => writeFrame({ kind: 'close', code, reason });

/** Reads frames out of a byte stream as it arrives, refusing any longer than its limit. */
export class FrameReader {
  /** @param {number} limit the most payload bytes a frame may have */
  constructor(limit) {
    this.limit = limit;
    this.buf = new Uint8Array(0);
  }

  /** Appends what arrived. */
  push(bytes) {
    bytes = asBytes(bytes);
    if (bytes.length === 0) return;
    const next = new Uint8Array(this.buf.length + bytes.length);
    next.set(this.buf);
    next.set(bytes, this.buf.length);
    this.buf = next;
  }

  /** Bytes waiting (a frame not yet complete). */
  pending() {
    return this.buf.length;
  }

  /**
   * The next complete frame, or null until one has arrived: `{kind: 'message', bytes}` or
   * `{kind: 'close', code, reason}`. Throws a WireError (an unknown kind, a frame over the
   * limit, a close without its code or with a reason that is not UTF-8): the stream is over.
   */
  next() {
    if (this.buf.length === 0) return null;
    const kind = this.buf[0];
    if (kind > FRAME_CLOSE) throw invalid(`unknown stream frame kind ${kind}`);
    const r = new Reader(this.buf.subarray(1));
    let len;
    try {
      len = r.varint();
    } catch (e) {
      // A varint cut short: wait for more (the longest takes 9 bytes).
      if (e instanceof WireError && e.code === 'Eof') return null;
      throw e;
    }
    if (typeof len !== 'number' || len > this.limit) {
      throw invalid(`a stream frame of ${len} bytes, over the ${this.limit}-byte limit`);
    }
    const head = 1 + r.pos;
    if (this.buf.length < head + len) return null;
    const payload = this.buf.slice(head, head + len);
    this.buf = this.buf.slice(head + len);
    if (kind === FRAME_MESSAGE) return { kind: 'message', bytes: payload };
    if (payload.length < 2) throw invalid('a close frame must carry a two-byte code');
    const code = (payload[0] << 8) | payload[1];
    let reason;
    try {
      reason = strictUtf8.decode(payload.subarray(2));
    } catch {
      throw invalid('the close reason is not UTF-8');
    }
    return { kind: 'close', code, reason };
  }
}
