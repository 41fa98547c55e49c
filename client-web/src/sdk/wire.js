// Byte rules of the protocol (version 5), exactly as shared/src/sync/wire.rs (the normative implementation):
//
// - Unsigned varint: a value below 251 is one byte; otherwise a marker byte then the value
//   little-endian: 251 + 2 bytes, 252 + 4 bytes, 253 + 8 bytes. Writers use the shortest form;
//   the schema-driven parts accept any form whose value fits. The serde-encoded parts (Hello,
//   Ping, Pong, Welcome and the schema in it) follow bincode 2, which refuses a marker wider
//   than the type (a u16 never in the 252 form): see `Reader.serdeUint`.
// - Signed (zigzag): (n << 1) ^ (n >> 63), then the unsigned varint.
// - Bool, U8, Angle8: one raw byte; I8: one byte, two's complement.
// - U16, U32, Angle16, Player, Entity: unsigned varint. I16, I32, Fixed: zigzag varint.
// - Str(n): varint byte length, then UTF-8 of at most n characters.
// - The `updated` section of a snapshot is a bit stream instead (bits.js): a `delta` field's
//   change (new − held) and an `extrapolate` field's residual against the client's own
//   prediction (`predict`, `residual`, `applyResidual`, `anchor`, `velocity` below) go there in
//   the small-number code.
//
// Values are JS numbers. Every lane fits in [-2^31, 2^32 - 1]; a varint of 2^53 or more (only a
// u64 change mask can be one legitimately) is returned as a BigInt by `varint()`.

/** Field type codes: the variant index of `FieldType` in shared/src/schema.rs. */
export const T = Object.freeze({
  Bool: 0, U8: 1, U16: 2, U32: 3, I8: 4, I16: 5, I32: 6, Fixed: 7,
  Angle8: 8, Angle16: 9, Player: 10, Entity: 11, Str: 12, Tick: 13,
});

/** Names by type code. */
export const TYPE_NAMES = Object.freeze([
  'Bool', 'U8', 'U16', 'U32', 'I8', 'I16', 'I32', 'Fixed', 'Angle8', 'Angle16', 'Player',
  'Entity', 'Str', 'Tick',
]);

const U32_MAX = 0xffffffff;
const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;
const TWO_32 = 4294967296;

/** Inclusive lane range by type code (`FieldType::range`). */
export const RANGES = Object.freeze([
  [0, 1], [0, 255], [0, 65535], [0, U32_MAX], [-128, 127], [-32768, 32767], [I32_MIN, I32_MAX],
  [I32_MIN, I32_MAX], [0, 255], [0, 65535], [0, U32_MAX], [0, U32_MAX], [0, 0], [0, U32_MAX],
]);

/** Why bytes do not decode (or a value cannot be encoded). `code` follows `WireError` in Rust. */
export class WireError extends Error {
  /**
   * @param {string} code Eof, BadVarint, OutOfRange, BadText, Invalid, TrailingBytes or Serde
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'WireError';
    this.code = code;
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Number of Unicode scalar values (Rust's `chars().count()`) of a well-formed string. */
export function charCount(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one character.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Throws unless `v` is an integer in the type's lane range. */
export function checkRange(code, v) {
  const r = RANGES[code];
  if (r === undefined) throw new WireError('Invalid', `unknown field type ${code}`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < r[0] || v > r[1]) {
    throw new WireError('OutOfRange', `${v} is out of range for ${TYPE_NAMES[code]}`);
  }
  return v;
}

// ---------------------------------------------------------------- writing

/** Appends values to a growing byte buffer. */
export class Writer {
  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.len = 0;
  }

  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** One raw byte (0..=255). */
  u8(v) {
    this.reserve(1);
    this.buf[this.len++] = v & 0xff;
  }

  /** Raw bytes. */
  bytes(b) {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A u32, 4 bytes little-endian (the snapshot checksum). */
  u32le(v) {
    if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
      throw new WireError('OutOfRange', `${v} is not a u32`);
    }
    this.reserve(4);
    this.view.setUint32(this.len, v, true);
    this.len += 4;
  }

  /** An unsigned varint (a number up to 2^53 - 1 or a BigInt up to 2^64 - 1), shortest form. */
  varint(v) {
    if (typeof v === 'bigint') {
      if (v < 0n || v > 0xffffffffffffffffn) throw new WireError('OutOfRange', `${v} is not a u64`);
      if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
        this.varint(Number(v));
        return;
      }
      this.reserve(9);
      this.buf[this.len++] = 253;
      this.view.setBigUint64(this.len, v, true);
      this.len += 8;
      return;
    }
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new WireError('OutOfRange', `varint of ${v}: not a non-negative integer`);
    }
    this.reserve(9);
    if (v < 251) {
      this.buf[this.len++] = v;
    } else if (v <= 0xffff) {
      this.buf[this.len++] = 251;
      this.view.setUint16(this.len, v, true);
      this.len += 2;
    } else if (v <= U32_MAX) {
      this.buf[this.len++] = 252;
      this.view.setUint32(this.len, v, true);
      this.len += 4;
    } else {
      this.buf[this.len++] = 253;
      this.view.setUint32(this.len, v % TWO_32, true);
      this.view.setUint32(this.len + 4, Math.floor(v / TWO_32), true);
      this.len += 8;
    }
  }

  /** A signed varint (zigzag) of a safe integer or a BigInt in the i64 range. */
  zigzag(v) {
    if (typeof v === 'number' && Number.isSafeInteger(v) && Math.abs(v) < 2 ** 52) {
      this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
      return;
    }
    let b;
    try {
      b = BigInt(v);
    } catch {
      throw new WireError('OutOfRange', `zigzag of ${v}: not an integer`);
    }
    if (b < -(2n ** 63n) || b >= 2n ** 63n) throw new WireError('OutOfRange', `${v} is not an i64`);
    this.varint(b >= 0n ? b * 2n : -b * 2n - 1n);
  }

  /** Text: byte length, then UTF-8; at most `maxChars` characters when given. */
  str(s, maxChars = Infinity) {
    if (typeof s !== 'string') throw new WireError('BadText', `expected a string, got ${typeof s}`);
    if (maxChars !== Infinity && charCount(s) > maxChars) {
      throw new WireError('BadText', `text longer than ${maxChars} characters`);
    }
    const b = utf8Encoder.encode(s);
    this.varint(b.length);
    this.bytes(b);
  }

  /** A lane, absolute, by its type code; throws if the value is outside the type's range. */
  lane(code, v) {
    checkRange(code, v);
    switch (code) {
      case T.Bool: case T.U8: case T.Angle8: case T.I8:
        this.u8(v);
        break;
      case T.U16: case T.U32: case T.Angle16: case T.Player: case T.Entity: case T.Tick:
        this.varint(v);
        break;
      case T.I16: case T.I32: case T.Fixed:
        this.zigzag(v);
        break;
      default:
        throw new WireError('Invalid', 'a text type in a numeric lane');
    }
  }

  /** A bincode bool. */
  bool(v) {
    if (typeof v !== 'boolean') throw new WireError('Serde', `expected a boolean, got ${v}`);
    this.u8(v ? 1 : 0);
  }

  /** A bincode Option<String>: 0, or 1 then the string. */
  optionStr(v) {
    if (v === null || v === undefined) {
      this.u8(0);
    } else {
      this.u8(1);
      this.str(v);
    }
  }

  /** A bincode unsigned integer (any width; same bytes as `varint`) checked against `max`. */
  serdeUint(v, max) {
    if (!Number.isInteger(v) || v < 0 || v > max) {
      throw new WireError('OutOfRange', `${v} is out of range 0..=${max}`);
    }
    this.varint(v);
  }

  /** The bytes written. */
  finish() {
    return this.buf.slice(0, this.len);
  }
}

// ---------------------------------------------------------------- reading

/** Reads values from bytes; every read is bounds-checked and throws a WireError. */
export class Reader {
  /** @param {Uint8Array | ArrayBuffer | ArrayLike<number>} bytes */
  constructor(bytes) {
    if (bytes instanceof Uint8Array) this.bytes = bytes;
    else if (bytes instanceof ArrayBuffer) this.bytes = new Uint8Array(bytes);
    else if (ArrayBuffer.isView(bytes)) {
      this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } else this.bytes = Uint8Array.from(bytes);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.pos = 0;
  }

  /** Bytes not read yet. */
  get left() {
    return this.bytes.length - this.pos;
  }

  need(n) {
    if (n > this.bytes.length - this.pos) throw new WireError('Eof', 'message ended early');
  }

  /** Throws unless every byte was read. */
  finish() {
    const n = this.bytes.length - this.pos;
    if (n !== 0) throw new WireError('TrailingBytes', `${n} trailing bytes after the message`);
  }

  /** One raw byte. */
  u8() {
    if (this.pos >= this.bytes.length) throw new WireError('Eof', 'message ended early');
    return this.bytes[this.pos++];
  }

  /** 4 bytes little-endian. */
  u32le() {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /**
   * An unsigned varint in any form: a number, or a BigInt when it is 2^53 or more.
   * @param {number} [widest] the widest marker accepted (251, 252 or 253; bincode's serde rules)
   */
  varint(widest = 253) {
    const b = this.u8();
    if (b < 251) return b;
    if (b > widest) {
      throw new WireError(b > 253 ? 'BadVarint' : 'Serde',
        b > 253 ? 'bad varint' : `varint marker ${b} is too wide for its type`);
    }
    if (b === 251) {
      this.need(2);
      const v = this.view.getUint16(this.pos, true);
      this.pos += 2;
      return v;
    }
    if (b === 252) {
      this.need(4);
      const v = this.view.getUint32(this.pos, true);
      this.pos += 4;
      return v;
    }
    this.need(8);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    if (hi < 0x200000) return hi * TWO_32 + lo;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** An unsigned varint that must fit a u32. */
  varint32() {
    const v = this.varint();
    if (typeof v !== 'number' || v > U32_MAX) throw new WireError('BadVarint', 'bad varint');
    return v;
  }

  /**
   * A count of items that each take at least one byte: never more than the bytes left, so a
   * hostile count cannot make the caller allocate or loop.
   */
  count() {
    const n = this.varint();
    if (typeof n !== 'number' || n > this.bytes.length - this.pos) {
      throw new WireError('Eof', `count ${n} is larger than the ${this.left} bytes left`);
    }
    return n;
  }

  /** A signed (zigzag) varint, as a safe integer. */
  zigzag() {
    const u = this.varint();
    if (typeof u === 'number') return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
    const v = (u >> 1n) ^ -(u & 1n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      // No lane is this large: it can only be a hostile value (a delta that cannot apply).
      throw new WireError('OutOfRange', `${v} is out of range for any lane`);
    }
    return Number(v);
  }

  /** Text of at most `maxChars` characters. */
  str(maxChars) {
    const n = this.count();
    if (n > maxChars * 4) throw new WireError('BadText', 'bad text: too long');
    const s = this.utf8(n, 'BadText');
    if (maxChars < n && charCount(s) > maxChars) {
      throw new WireError('BadText', `bad text: more than ${maxChars} characters`);
    }
    return s;
  }

  utf8(n, code) {
    const bytes = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      throw new WireError(code, 'bad text: not UTF-8');
    }
  }

  /** A lane, absolute, by its type code, checked against the type's range. */
  lane(code) {
    let v;
    switch (code) {
      case T.Bool: case T.U8: case T.Angle8:
        v = this.u8();
        break;
      case T.I8:
        v = this.u8();
        if (v >= 128) v -= 256;
        break;
      case T.U16: case T.U32: case T.Angle16: case T.Player: case T.Entity: case T.Tick:
        v = this.varint();
        if (typeof v !== 'number') throw new WireError('BadVarint', 'bad varint');
        break;
      case T.I16: case T.I32: case T.Fixed:
        v = this.zigzag();
        break;
      default:
        throw new WireError('Invalid', 'a text type in a numeric lane');
    }
    const r = RANGES[code];
    if (v < r[0] || v > r[1]) {
      throw new WireError('OutOfRange', `${v} is out of range for ${TYPE_NAMES[code]}`);
    }
    return v;
  }

  // -- the serde (bincode 2) parts: Hello, Ping, Pong, Welcome, the schema

  /** A bincode unsigned integer of at most `max` (0xffff, 0xffffffff or a length). */
  serdeUint(max) {
    const widest = max <= 0xffff ? 251 : max <= U32_MAX ? 252 : 253;
    const v = this.varint(widest);
    if (typeof v !== 'number' || v > max) {
      throw new WireError('Serde', `malformed message: ${v} does not fit its integer type`);
    }
    return v;
  }

  serdeU16() {
    return this.serdeUint(0xffff);
  }

  serdeU32() {
    return this.serdeUint(U32_MAX);
  }

  /** A bincode length (u64): bounded by the bytes left when each item takes a byte or more. */
  serdeLen() {
    const n = this.varint(253);
    if (typeof n !== 'number' || n > this.bytes.length - this.pos) {
      throw new WireError('Eof', `length ${n} is larger than the ${this.left} bytes left`);
    }
    return n;
  }

  /** A bincode bool: 0 or 1. */
  bool() {
    const b = this.u8();
    if (b > 1) throw new WireError('Serde', `malformed message: ${b} is not a bool`);
    return b === 1;
  }

  /** A bincode String (no length limit beyond the bytes there are). */
  serdeStr() {
    return this.utf8(this.serdeLen(), 'Serde');
  }

  /** A bincode Option<String>, as null or the string. */
  optionStr() {
    const tag = this.u8();
    if (tag === 0) return null;
    if (tag !== 1) throw new WireError('Serde', `malformed message: option tag ${tag}`);
    return this.serdeStr();
  }

  /** A bincode enum variant index (u32) below `n`. */
  variant(n, what) {
    const v = this.serdeU32();
    if (v >= n) throw new WireError('Serde', `malformed message: unknown ${what} variant ${v}`);
    return v;
  }
}

// ---------------------------------------------------------------- hashing

/** A running FNV-1a (32-bit) hash. */
export class Fnv1a {
  constructor() {
    this.h = 0x811c9dc5;
  }

  byte(b) {
    this.h = Math.imul(this.h ^ b, 0x01000193) >>> 0;
  }

  bytes(bytes) {
    let h = this.h;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
    this.h = h >>> 0;
  }

  /** `v` as u32 little-endian. */
  u32(v) {
    for (let i = 0; i < 4; i++) this.byte((v >>> (8 * i)) & 0xff);
  }

  /** `v` as u16 little-endian. */
  u16(v) {
    this.byte(v & 0xff);
    this.byte((v >>> 8) & 0xff);
  }

  /** A safe integer as i64 little-endian (two's complement). */
  i64(v) {
    this.u32(v >>> 0);
    this.u32(Math.floor(v / TWO_32) >>> 0);
  }

  get value() {
    return this.h;
  }
}

/** FNV-1a, 32-bit, of bytes. */
export function fnv1a(bytes) {
  const h = new Fnv1a();
  h.bytes(bytes);
  return h.value;
}

// ---------------------------------------------------------------- extrapolation
//
// Exactly `predict`, `residual`, `apply_residual`, `anchor` and `velocity` of
// shared/src/sync/wire.rs, in doubles: every product that matters stays below 2^53, and one
// that does not only ever lands beyond a clamp, on the same side as the exact one.

const TURNS = { [T.Angle8]: 256, [T.Angle16]: 65536 };
const mod = (v, m) => ((v % m) + m) % m;
const signedTurn = (v, t) => mod(v + t / 2, t) - t / 2;

/** The value an `extrapolate` lane is predicted to have `gap` ticks after `x`, moving by `d`. */
export function predict(code, x, d, gap) {
  const t = TURNS[code];
  if (t !== undefined) return mod(x + mod(d, t) * (gap % t), t);
  const [lo, hi] = RANGES[code];
  return Math.min(hi, Math.max(lo, x + d * gap));
}

/** What the server sends: truth − predicted, for angles the short way round. */
export function residual(code, predicted, truth) {
  const t = TURNS[code];
  return t !== undefined ? signedTurn(truth - predicted, t) : truth - predicted;
}

/** A residual applied to a prediction; null when it leaves the type's range. */
export function applyResidual(code, predicted, r) {
  const t = TURNS[code];
  if (t !== undefined) return r >= -t / 2 && r < t / 2 ? mod(predicted + r, t) : null;
  const v = predicted + r;
  const [lo, hi] = RANGES[code];
  return Number.isSafeInteger(v) && v >= lo && v <= hi ? v : null;
}

/** Where the lane would have been by its old course one tick before the new value. */
export function anchor(code, x, d, gap) {
  const k = Math.max(0, gap - 1);
  const t = TURNS[code];
  return t !== undefined ? mod(x + mod(d, t) * (k % t), t) : x + d * k;
}

/** The per-tick change held after a snapshot: new − anchor, clamped (angles: signed). */
export function velocity(code, anchorValue, value) {
  const t = TURNS[code];
  if (t !== undefined) return signedTurn(value - anchorValue, t);
  const [lo, hi] = RANGES[code];
  const span = hi - lo;
  return Math.min(span, Math.max(-span, value - anchorValue));
}

/** The bit indices set in a change mask (a number or, for bits 53..63, a BigInt), ascending. */
export function maskBits(mask) {
  let lo;
  let hi;
  if (typeof mask === 'bigint') {
    if (mask < 0n || mask > 0xffffffffffffffffn) throw new WireError('Invalid', `bad mask ${mask}`);
    lo = Number(mask & 0xffffffffn);
    hi = Number(mask >> 32n);
  } else {
    if (!Number.isSafeInteger(mask) || mask < 0) throw new WireError('Invalid', `bad mask ${mask}`);
    lo = mask % TWO_32;
    hi = Math.floor(mask / TWO_32);
  }
  const out = [];
  for (let i = 0; lo !== 0; i++, lo >>>= 1) if (lo & 1) out.push(i);
  for (let i = 32; hi !== 0; i++, hi >>>= 1) if (hi & 1) out.push(i);
  return out;
}

/** A mask from bit indices: a number when below 2^53, else a BigInt. */
export function maskOf(bits) {
  let m = 0n;
  for (const b of bits) m |= 1n << BigInt(b);
  return m <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(m) : m;
}
