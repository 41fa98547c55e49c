// The bit stream of a snapshot's `updated` section (protocol version 4, docs/PROTOCOL.md, "The
// `updated` section: bit-packed"), exactly as shared/src/sync/bits.rs: bit k of the stream is bit
// k mod 8 (least significant first) of byte ⌊k / 8⌋, numbers go least significant bit first; a
// skip is an Elias-gamma code; a `delta` or `extrapolate` lane is the zigzag of its change or
// residual in the field's small-number code (classes of 4, 8, 16 for the 32-bit types, and the
// field's widest zigzag);
// any other lane is `v − lo` in the bits its type's range needs.
//
// Lanes reach 33 bits (the zigzag of a 32-bit change), past JS's 32-bit operators, so numbers
// are cut into bytes with arithmetic, not shifts.

import { RANGES, T, WireError } from './wire.js';

const TURNS = { [T.Angle8]: 256, [T.Angle16]: 65536 };

/** The bit length of a non-negative safe integer (0 for 0). */
function bitLen(v) {
  let n = 0;
  while (v >= 1) {
    v = Math.floor(v / 2);
    n++;
  }
  return n;
}

/**
 * How a field's lane goes in an update (`Code::of` in Rust): `{ small: false, lo, bits }` for a
 * value, `{ small: true, widths }` for the zigzag of a change or residual.
 * @param {number} code the field's type code
 * @param {boolean} delta
 * @param {boolean} extrapolate
 */
export function codeOf(code, delta, extrapolate) {
  const [lo, hi] = RANGES[code];
  const span = hi - lo;
  if (!delta && !extrapolate) return { small: false, lo, bits: bitLen(span) };
  const turn = TURNS[code];
  const w = extrapolate && turn !== undefined ? bitLen(turn - 1) : bitLen(2 * span);
  const widths = [4, 8].filter((c) => c < w);
  if (w > 24) widths.push(16);
  widths.push(w);
  return { small: true, widths };
}

/** The codes of a plan's fields (`plan(schema).kinds[k]`), cached on the plan. */
export function codesOf(p) {
  if (p.bitCodes === undefined) {
    p.bitCodes = Array.from(p.codes, (c, i) => codeOf(c, p.delta[i] === 1, p.extrap[i] === 1));
  }
  return p.bitCodes;
}

const zig = (v) => (v >= 0 ? v * 2 : -v * 2 - 1);
const unzig = (z) => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

/** Bits being written, into whole bytes. */
export class BitWriter {
  constructor() {
    this.bytes = [];
    this.cur = 0;
    this.n = 0; // bits of `cur` in use, 0..7
  }

  /** Bits written so far. */
  get length() {
    return this.bytes.length * 8 + this.n;
  }

  /** Appends the low `width` bits of the non-negative safe integer `v`. */
  put(v, width) {
    while (width > 0) {
      const k = Math.min(width, 8 - this.n);
      const m = 2 ** k;
      const low = v % m;
      this.cur |= low << this.n;
      v = (v - low) / m;
      width -= k;
      this.n += k;
      if (this.n === 8) {
        this.bytes.push(this.cur);
        this.cur = 0;
        this.n = 0;
      }
    }
  }

  /** The Elias-gamma code of `v` ≥ 1: ⌊log₂ v⌋ zero bits, a one bit, then v − 2^N in N bits. */
  gamma(v) {
    const n = bitLen(v) - 1;
    this.put(0, n);
    this.put(1, 1);
    this.put(v - 2 ** n, n);
  }

  /** A lane in the field's code (`codeOf`). */
  lane(c, v) {
    if (!Number.isSafeInteger(v)) throw new WireError('OutOfRange', `lane ${v}: not an integer`);
    if (!c.small) {
      const u = v - c.lo;
      if (u < 0 || u >= 2 ** c.bits) throw new WireError('OutOfRange', `${v} does not fit the field`);
      this.put(u, c.bits);
      return;
    }
    const z = zig(v);
    const last = c.widths.length - 1;
    let k = 0;
    while (k < last && z >= 2 ** c.widths[k]) k++;
    if (z >= 2 ** c.widths[k]) throw new WireError('OutOfRange', `${v} is too wide for the field`);
    // k one bits, then a zero unless it is the last class.
    for (let i = 0; i < k; i++) this.put(1, 1);
    if (k !== last) this.put(0, 1);
    this.put(z, c.widths[k]);
  }

  /** The bytes, the last one padded with 0 bits. */
  finish() {
    return this.n === 0 ? this.bytes : [...this.bytes, this.cur];
  }
}

/** Reads a bit stream from `bytes` (a Uint8Array), starting at byte `start`. */
export class BitReader {
  constructor(bytes, start = 0) {
    this.bytes = bytes;
    this.pos = start * 8;
    this.start = start;
  }

  /** `width` bits as a number. */
  get(width) {
    if (this.pos + width > this.bytes.length * 8) throw new WireError('Eof', 'message ended early');
    let v = 0;
    let scale = 1;
    while (width > 0) {
      const at = this.pos >> 3;
      const off = this.pos & 7;
      const k = Math.min(width, 8 - off);
      v += ((this.bytes[at] >> off) & ((1 << k) - 1)) * scale;
      scale *= 2 ** k;
      this.pos += k;
      width -= k;
    }
    return v;
  }

  /** An Elias-gamma code; at most 32 leading zeros. */
  gamma() {
    let n = 0;
    while (this.get(1) === 0) {
      n++;
      if (n > 32) throw new WireError('Invalid', 'a skip code longer than 32 bits');
    }
    return 2 ** n + this.get(n);
  }

  /** A lane in the field's code: the change or residual for a small code, else the value. */
  lane(c, code) {
    if (!c.small) {
      const v = c.lo + this.get(c.bits);
      if (v > RANGES[code][1]) {
        throw new WireError('OutOfRange', `${v} is out of range for the field`);
      }
      return v;
    }
    const last = c.widths.length - 1;
    let k = 0;
    while (k < last && this.get(1) === 1) k++;
    const z = this.get(c.widths[k]);
    if (k > 0 && z < 2 ** c.widths[k - 1]) {
      throw new WireError('Invalid', 'a number in a wider code than it needs');
    }
    return unzig(z);
  }

  /** Checks the padding bits are 0; returns the whole bytes the stream took. */
  finish() {
    const used = Math.ceil(this.pos / 8);
    const pad = (8 - (this.pos % 8)) % 8;
    if (pad !== 0 && this.bytes[used - 1] >> (8 - pad) !== 0) {
      throw new WireError('Invalid', 'padding bits that are not 0');
    }
    return used - this.start;
  }
}
