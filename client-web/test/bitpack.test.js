// The bit stream of the `updated` section (src/sdk/bits.js) on its own: every code of every
// field type round-trips every value at the edges of its classes, in the fewest bits, with JS
// numbers past 32 bits (the zigzag of a 32-bit change takes 33); the codes are the Rust ones
// (shared/src/sync/bits.rs `codes_by_field_type`); Elias-gamma codes up to 33 zeros' worth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BitReader, BitWriter, codeOf, spawnCodeOf } from '../src/sdk/bits.js';
import { RANGES, T, WireError } from '../src/sdk/wire.js';

const bytes = (f) => {
  const w = new BitWriter();
  f(w);
  return { bytes: Uint8Array.from(w.finish()), bits: w.length };
};

test('the codes of each field type are those of Rust', () => {
  assert.deepEqual(codeOf(T.Fixed, false, true), { small: true, k: 3, w: 33 });
  assert.deepEqual(codeOf(T.Angle8, false, true), { small: true, k: 2, w: 8 });
  assert.deepEqual(codeOf(T.Angle16, false, true), { small: true, k: 2, w: 16 });
  assert.deepEqual(codeOf(T.Angle8, true, false), { small: true, k: 2, w: 9 });
  assert.deepEqual(codeOf(T.U16, true, false), { small: true, k: 3, w: 17 });
  assert.deepEqual(codeOf(T.U32, true, false), { small: true, k: 3, w: 33 });
  assert.deepEqual(codeOf(T.Bool, true, false), { small: true, k: 2, w: 2 });
  assert.deepEqual(codeOf(T.U8, false, false), { small: false, lo: 0, bits: 8 });
  assert.deepEqual(codeOf(T.I32, false, false), { small: false, lo: -0x80000000, bits: 32 });
  assert.deepEqual(codeOf(T.Bool, false, false), { small: false, lo: 0, bits: 1 });
});

test('every value at the edges of every class round-trips in the fewest bits', () => {
  const cases = [];
  for (const ty of [T.U8, T.U16, T.U32, T.I8, T.I16, T.I32, T.Fixed, T.Player, T.Entity, T.Bool]) {
    const [lo, hi] = RANGES[ty];
    cases.push([codeOf(ty, false, false), ty, [lo, hi, lo + 1, hi - 1, Math.floor((lo + hi) / 2)]]);
    const span = hi - lo;
    // The edges of the classes of orders 2 and 3 (zigzags 2^k (2^c − 1) − 1 and 2^k (2^c − 1)).
    const small = [0, 1, -1, 2, -2, 3, -4, 4, 5, -6, 11, -12, 12, 27, -28, 28, 59, -60, 60, 127, -128, 128, -129,
      32767, -32768, 32768, -32769, span, -span];
    cases.push([codeOf(ty, true, false), ty, small.filter((v) => Math.abs(v) <= span)]);
  }
  for (const ty of [T.Angle8, T.Angle16]) {
    const t = ty === T.Angle8 ? 256 : 65536;
    cases.push([codeOf(ty, false, true), ty, [0, 1, -1, 7, -8, 8, -9, t / 2 - 1, -t / 2]]);
  }
  for (const [code, ty, values] of cases) {
    for (const v of values) {
      const { bytes: b, bits } = bytes((w) => w.lane(code, v));
      const r = new BitReader(b);
      assert.equal(r.lane(code, ty), v, `${JSON.stringify(code)} ${v}`);
      assert.equal(r.finish(), b.length);
      if (code.small) {
        const z = v >= 0 ? 2 * v : -2 * v - 1;
        // Class c = ⌊log₂(z / 2^k + 1)⌋: c ones, a zero and k + c bits; w − k ones and w bits
        // once k + c reaches w.
        const c = Math.floor(Math.log2(Math.floor(z / 2 ** code.k) + 1));
        const want = code.k + c >= code.w ? 2 * code.w - code.k : 2 * c + 1 + code.k;
        assert.equal(bits, want, `${v}: its class, no wider`);
      } else {
        assert.equal(bits, code.bits);
      }
    }
  }
});

test('the worked example of the protocol document, bit for bit (bits.rs has the same bytes)', () => {
  // Fields x, y, aim (extrapolated), hp: skip 2, mask {x, aim}, x residual −14, aim +3.
  const k = { codes: [T.Fixed, T.Fixed, T.Angle8, T.U8], extrap: [1, 1, 1, 0], delta: [0, 0, 0, 0] };
  const x = codeOf(T.Fixed, false, true);
  const aim = codeOf(T.Angle8, false, true);
  const { bytes: b, bits } = bytes((w) => {
    w.gamma(3);
    w.mask(k, [0, 2]);
    w.lane(x, -14);
    w.lane(aim, 3);
  });
  assert.equal(bits, 21);
  assert.deepEqual([...b], [0x56, 0x1b, 0x09]);
  const r = new BitReader(b);
  assert.equal(r.gamma(), 3);
  assert.deepEqual(r.mask(k), [0, 2]);
  assert.equal(r.lane(x, T.Fixed), -14);
  assert.equal(r.lane(aim, T.Angle8), 3);
});

test('masks in the course code: one bit for every course, and the long forms refused', () => {
  // Fields: 0 plain, 1 and 2 courses, 3 plain (bits.rs masks_in_the_course_code).
  const k = { codes: [T.U8, T.Fixed, T.Fixed, T.U8], extrap: [0, 1, 1, 0], delta: [0, 0, 0, 0] };
  const len = (set) => bytes((w) => w.mask(k, set)).bits;
  assert.equal(len([1, 2]), 1);
  assert.equal(len([1]), 4);
  assert.equal(len([3]), 6);
  assert.equal(len([1, 2, 3]), 6);
  assert.equal(len([]), 4, 'the reset escape');
  for (let m = 0; m < 16; m++) {
    const set = [0, 1, 2, 3].filter((f) => (m >> f) & 1);
    assert.deepEqual(new BitReader(bytes((w) => w.mask(k, set)).bytes).mask(k), set);
  }
  const plain = { codes: [T.U8, T.U8, T.U8], extrap: [0, 0, 0], delta: [0, 0, 0] };
  assert.deepEqual([...bytes((w) => w.mask(plain, [0, 2])).bytes], [0b101]);
  const long = (f) => () => new BitReader(bytes(f).bytes).mask(k);
  assert.throws(long((w) => { w.put(0, 1); w.put(3, 2); w.put(0, 1); }), /longer code/);
  assert.throws(long((w) => { w.put(0, 1); w.put(1, 2); w.put(1, 1); w.put(0, 2); }), /longer code/);
});

test('spawn codes by type, as bits.rs spawn_codes_by_type_and_ticks_against_the_snapshot', () => {
  const len = (code, v, now = 0) => {
    const c = spawnCodeOf(code);
    const { bytes: b, bits } = bytes((w) => w.spawnLane(c, code, v, now));
    assert.equal(new BitReader(b).spawnLane(c, code, now), v, `${code} ${v}`);
    return bits;
  };
  const cases = [
    [T.Bool, 1, 1], [T.U8, 200, 8], [T.I8, -128, 8], [T.Angle8, 255, 8], [T.U16, 65535, 16],
    [T.I16, -32768, 16], [T.Angle16, 49152, 16], [T.Player, 3, 5], [T.Player, 16, 7],
    [T.Entity, 63, 7], [T.Entity, 64, 9], [T.U32, 255, 9], [T.U32, 2 ** 32 - 1, 56],
    [T.I32, -128, 9], [T.I32, -(2 ** 31), 56], [T.I32, 2 ** 31 - 1, 56], [T.Fixed, 19200, 19],
    [T.Fixed, 0, 13], [T.Fixed, -(2 ** 31), 52],
  ];
  for (const [code, v, bits] of cases) assert.equal(len(code, v), bits, `${code} ${v}`);
  assert.equal(len(T.Tick, 999, 1000), 3);
  assert.equal(len(T.Tick, 1000, 1000), 3);
  assert.equal(len(T.Tick, 1001, 1000), 3);
  assert.equal(len(T.Tick, 0, 2 ** 32 - 1), 64);
  assert.equal(len(T.Tick, 2 ** 32 - 1, 0), 64);
  // A tick before 0 (from a hostile stream): refused.
  const { bytes: b } = bytes((w) => w.lane({ small: true, k: 2, w: 33 }, 1));
  assert.throws(() => new BitReader(b).spawnLane(spawnCodeOf(T.Tick), T.Tick, 0), (e) => e.code === 'OutOfRange');
});

test('a value does not fit its code: the writer refuses it', () => {
  assert.throws(() => bytes((w) => w.lane(codeOf(T.Angle8, false, true), 128)), WireError);
  assert.throws(() => bytes((w) => w.lane(codeOf(T.U8, false, false), 256)), WireError);
  assert.throws(() => bytes((w) => w.lane(codeOf(T.Bool, true, false), 2)), WireError);
  assert.throws(() => bytes((w) => w.lane(codeOf(T.U8, false, false), 1.5)), WireError);
});

test('Elias-gamma codes and long runs of bits round-trip across byte edges', () => {
  const values = [1, 2, 3, 4, 5, 250, 251, 2 ** 16, 2 ** 32 - 1, 2 ** 32, 2 ** 33 - 1];
  const { bytes: b } = bytes((w) => {
    w.put(1, 3); // off the byte edge
    for (const v of values) w.gamma(v);
    w.put(2 ** 33 - 2, 33);
  });
  const r = new BitReader(b);
  assert.equal(r.get(3), 1);
  for (const v of values) assert.equal(r.gamma(), v);
  assert.equal(r.get(33), 2 ** 33 - 2);
  assert.equal(r.finish(), b.length);
  // 33 zeros is no skip code; a code cut short is the end of the message.
  assert.throws(() => new BitReader(bytes((w) => w.put(0, 40)).bytes).gamma(), /longer than 32 bits/);
  assert.throws(() => new BitReader(Uint8Array.of(0)).gamma(), (e) => e.code === 'Eof');
});
