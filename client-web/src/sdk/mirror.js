// Mirrored streams (docs/PROTOCOL.md, "Mirrored streams: two WebSockets for one session"),
// exactly as shared/src/sync/mirror.rs: the room's messages over two TCP connections at once,
// so that a lost segment on one does not stall the game.
//
// Over TCP a lost segment holds back everything behind it until it is retransmitted, one round
// trip or more. A session that asks for it (`?mirror=1` on its WebSocket URL) gets every
// message of its room numbered, `[7][seq varint][message]`, and a second WebSocket
// (`?mirror=attach`, its Hello carrying the session's resume token) receives a copy of each one
// from then on. Both carry the same messages in the same order, so the client takes message
// `seq` from whichever brings it first and drops the other copy (`Merge`). Losses on two
// connections rarely overlap: a stall on one is covered by the other.
//
// Only the room's messages are numbered and mirrored (the Welcome, snapshots, events); what the
// connection itself answers (a Pong, a Redirect) comes unnumbered on the main connection only.

import { Reader, WireError, Writer } from './wire.js';

/** The message index of a numbered message. */
export const NUMBERED = 7;

/** Numbered message `seq` around the bytes `msg`. */
export function wrap(seq, msg) {
  const w = new Writer(msg.length + 10);
  w.varint(NUMBERED);
  w.varint(seq);
  w.bytes(msg);
  return w.finish();
}

/**
 * The number and the message inside a numbered message (`{seq, msg}`, `msg` a view of `bytes`),
 * or null for any other message. Throws a WireError for a numbered message that is cut short.
 */
export function unwrap(bytes) {
  const r = new Reader(bytes);
  if (r.varint() !== NUMBERED) return null;
  const seq = r.varint();
  // 2^53 messages would take millions of years at any tick rate: only a hostile server sends it.
  if (typeof seq !== 'number') throw new WireError('OutOfRange', `message number ${seq} is out of range`);
  if (r.left === 0) throw new WireError('Eof', 'a numbered message with no message in it');
  return { seq, msg: r.bytes.subarray(r.pos) };
}

/**
 * Puts the two streams back into one, each message once, in order.
 *
 * The main stream ('main') has every numbered message; the mirror ('mirror') has the same ones
 * from the moment it attached (less any the server had to skip for it). A message is taken when
 * it is the next one due: from the main stream whenever it is not older than that (nothing can
 * be missing behind it), from the mirror only when it is exactly the next (so a mirror that
 * started late, or skipped, never jumps ahead of what has been taken).
 */
export class Merge {
  constructor() {
    /** The number of the next message due (null before the first). */
    this.next = null;
    /** Copies dropped because the other stream brought them first. */
    this.duplicates = 0;
    /** Messages taken from the mirror (the main stream was behind). */
    this.fromMirror = 0;
  }

  /**
   * Whether to take numbered message `seq` that came on `stream` ('main' | 'mirror'); false for
   * a copy already taken, or a mirror message that is not the next due.
   */
  take(stream, seq) {
    const due = stream === 'main'
      ? this.next === null || seq >= this.next
      : this.next !== null && seq === this.next;
    if (due) {
      this.next = seq + 1;
      if (stream === 'mirror') this.fromMirror++;
    } else {
      this.duplicates++;
    }
    return due;
  }
}
