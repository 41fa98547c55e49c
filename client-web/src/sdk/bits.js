// The bit stream of a snapshot's `updated` section (protocol version 5, docs/PROTOCOL.md, "The
// `updated` section: bit-packed"), exactly as shared/src/sync/bits.rs: bit k of the stream is bit
// k mod 8 (least significant first) of byte ⌊k / 8⌋, numbers go least significant bit first; a
// skip is an Elias-gamma code; a mask is in the course code (`BitWriter.mask`); a `delta` or
// `extrapolate` lane is the zigzag of its change or residual in an Exp-Golomb code of order k
// (3 for the 32-bit types, 2 for the others) cut at the field's widest zigzag w; any other lane
// is `v − lo` in the bits its type's range needs.
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
 * value, `{ small: true, k, w }` for the zigzag of a change or residual.
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
  // The order fitted to measured residuals of steering bodies (docs/PROTOCOL.md).
  return { small: true, k: Math.min(w > 16 ? 3 : 2, w), w };
}

/** The bits of a kind's `extrapolate` fields (its courses), as an array of field indices. */
export function coursesOf(p) {
  if (p.courses === undefined) {
    p.courses = [];
    p.others = [];
    p.extrap.forEach((x, i) => (x === 1 ? p.courses : p.others).push(i));
  }
  return p.courses;
}

/** The first zigzag of class c of an Exp-Golomb code of order k: 2^k (2^c − 1). */
const classBase = (k, c) => 2 ** k * (2 ** c - 1);

/**
 * How a field's lane goes in an entity's creation (`Code::spawn` in Rust): `{ small: false, lo,
 * bits }` for the 8- and 16-bit types, angles and `Bool`; `{ count: true, k, w }` for `v` itself
 * in the Exp-Golomb code of order k cut at w (Player 4, Entity 6, U32 8); `{ small: true, k, w }`
 * for its zigzag (I32 8, Fixed 12); `{ since: true, k }` for a Tick: the zigzag of (the
 * snapshot's tick − v), order 2 cut at 33.
 * @param {number} code the field's type code
 */
export function spawnCodeOf(code) {
  switch (code) {
    case T.Player: return { count: true, k: 4, w: 32 };
    case T.Entity: return { count: true, k: 6, w: 32 };
    case T.U32: return { count: true, k: 8, w: 32 };
    case T.I32: return { small: true, k: 8, w: 32 };
    case T.Fixed: return { small: true, k: 12, w: 32 };
    case T.Tick: return { since: true, k: 2 };
    default: {
      const [lo, hi] = RANGES[code];
      return { small: false, lo, bits: bitLen(hi - lo) };
    }
  }
}

/** The spawn codes of a plan's fields, cached on the plan. */
export function spawnCodesOf(p) {
  if (p.spawnCodes === undefined) p.spawnCodes = Array.from(p.codes, spawnCodeOf);
  return p.spawnCodes;
}

/** The bits a creation's kind takes: the bit length of the last kind index (0 for one kind). */
export const kindBits = (kinds) => bitLen(Math.max(kinds - 1, 0));

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
    this.eg(zig(v), c, v);
  }

  /** `z` in the Exp-Golomb code of order c.k cut at c.w bits (`v` names it in errors). */
  eg(z, c, v = z) {
    if (z >= 2 ** c.w) throw new WireError('OutOfRange', `${v} is too wide for the field`);
    let cls = 0;
    while (c.k + cls < c.w && z >= classBase(c.k, cls + 1)) cls++;
    if (c.k + cls >= c.w) {
      // The last class: w − k one bits, then z itself.
      for (let i = 0; i < c.w - c.k; i++) this.put(1, 1);
      this.put(z, c.w);
      return;
    }
    // cls one bits and a zero, then z − base in k + cls bits.
    for (let i = 0; i < cls; i++) this.put(1, 1);
    this.put(0, 1);
    this.put(z - classBase(c.k, cls), c.k + cls);
  }

  /** A lane of a creation in its spawn code (`spawnCodeOf`); `now` is the snapshot's tick. */
  spawnLane(c, code, v, now) {
    if (!Number.isSafeInteger(v)) throw new WireError('OutOfRange', `lane ${v}: not an integer`);
    const [lo, hi] = RANGES[code];
    if (v < lo || v > hi) throw new WireError('OutOfRange', `${v} is out of range for the field`);
    if (c.since) this.eg(zig(now - v), { k: c.k, w: 33 }, v);
    else if (c.count) this.eg(v, c);
    else this.lane(c, v);
  }

  /**
   * An update's mask in the course code (`Bits::mask` in Rust) for the kind plan `p`, as the
   * ascending field indices `set`: with no course field, one bit per field; else a 1 when `set`
   * is exactly the course fields, or a 0, one bit per course field, then (when the kind has
   * other fields) a 1 and one bit per other field if any is set, a 0 if none is.
   */
  mask(p, set) {
    const courses = coursesOf(p);
    const on = new Set(set);
    if (courses.length === 0) {
      for (let f = 0; f < p.codes.length; f++) this.put(on.has(f) ? 1 : 0, 1);
      return;
    }
    if (set.length === courses.length && courses.every((f) => on.has(f))) {
      this.put(1, 1);
      return;
    }
    this.put(0, 1);
    for (const f of courses) this.put(on.has(f) ? 1 : 0, 1);
    if (p.others.length) {
      const any = p.others.some((f) => on.has(f));
      this.put(any ? 1 : 0, 1);
      if (any) for (const f of p.others) this.put(on.has(f) ? 1 : 0, 1);
    }
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
    return unzig(this.eg(c));
  }

  /** A number in the Exp-Golomb code of order c.k cut at c.w bits. */
  eg(c) {
    let cls = 0;
    while (c.k + cls < c.w && this.get(1) === 1) cls++;
    if (c.k + cls >= c.w) {
      const z = this.get(c.w);
      if (cls > 0 && z < classBase(c.k, cls)) {
        throw new WireError('Invalid', 'a number in a wider code than it needs');
      }
      return z;
    }
    return classBase(c.k, cls) + this.get(c.k + cls);
  }

  /** A lane of a creation in its spawn code, checked against its type's range. */
  spawnLane(c, code, now) {
    let v;
    if (c.since) v = now - unzig(this.eg({ k: c.k, w: 33 }));
    else if (c.count) v = this.eg(c);
    else if (c.small) v = unzig(this.eg(c));
    else return this.lane(c, code);
    const [lo, hi] = RANGES[code];
    if (v < lo || v > hi) throw new WireError('OutOfRange', `${v} is out of range for the field`);
    return v;
  }

  /** An update's mask in the course code, as ascending field indices (see `BitWriter.mask`). */
  mask(p) {
    const courses = coursesOf(p);
    const set = [];
    if (courses.length === 0) {
      for (let f = 0; f < p.codes.length; f++) if (this.get(1) === 1) set.push(f);
      return set;
    }
    if (this.get(1) === 1) return courses.slice();
    for (const f of courses) if (this.get(1) === 1) set.push(f);
    if (p.others.length && this.get(1) === 1) {
      const before = set.length;
      for (const f of p.others) if (this.get(1) === 1) set.push(f);
      if (set.length === before) throw new WireError('Invalid', 'a mask in a longer code than it needs');
      set.sort((a, b) => a - b);
    }
    if (set.length === courses.length && set.every((f, i) => f === courses[i])) {
      throw new WireError('Invalid', 'a mask in a longer code than it needs');
    }
    return set;
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
