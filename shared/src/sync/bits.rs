//! The bit stream of a snapshot's `updated` section (protocol version 5, `docs/PROTOCOL.md`,
//! "The `updated` section: bit-packed"): bits least significant first within each byte,
//! numbers least significant bit first; a skip as an Elias-gamma code; a kind's mask in the
//! course code ([`Bits::mask`]); a `delta` or `extrapolate` lane's zigzag in an Exp-Golomb code
//! cut at the field's widest zigzag ([`Code::Small`]); any other lane as `v − lo` in the bits
//! its type's range needs.

use super::wire::{WireError, check_range};
use crate::schema::{FieldDesc, FieldType};

/// Bits being written: whole bytes, then fewer than 32 bits waiting in `acc`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Bits {
    bytes: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// No bits (keeps the buffer).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.acc = 0;
        self.n = 0;
    }

    /// How many bits are written.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8 + self.n as usize
    }

    /// Whether no bit is written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the low `width` bits of `v` (at most 64), least significant first.
    // Always inlined: a few instructions, called for every skip, mask bit and lane of every
    // client's snapshot (out of line it was 13 % of a 1,000-client tick's instructions).
    #[inline(always)]
    pub fn put(&mut self, v: u64, width: u32) {
        if width > 32 {
            self.put32(v & 0xffff_ffff, 32);
            self.put32(v >> 32 & low(width - 32), width - 32);
        } else {
            self.put32(v & low(width), width);
        }
    }

    #[inline(always)]
    fn put32(&mut self, v: u64, width: u32) {
        // n < 32 and width ≤ 32: the sum fits the 64-bit accumulator.
        self.acc |= v << self.n;
        self.n += width;
        if self.n >= 32 {
            self.bytes
                .extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// The bits as one number, when there are at most 64.
    pub fn to_u64(&self) -> Option<u64> {
        if self.len() > 64 {
            return None;
        }
        let mut v = 0u64;
        for (i, b) in self.bytes.iter().enumerate() {
            v |= u64::from(*b) << (8 * i);
        }
        Some(
            v | self
                .acc
                .checked_shl(8 * self.bytes.len() as u32)
                .unwrap_or(0),
        )
    }

    /// `width` bits (at most 32) of the stream from bit `pos` (within [`Bits::len`]).
    fn bits_at(&self, pos: usize, width: u32) -> u64 {
        let (mut v, mut got, mut p) = (0u64, 0u32, pos);
        while got < width {
            let i = p / 8;
            let byte = match self.bytes.get(i) {
                Some(b) => u64::from(*b),
                None => self.acc >> ((i - self.bytes.len()) * 8) & 0xff,
            };
            let off = (p % 8) as u32;
            let take = (8 - off).min(width - got);
            v |= (byte >> off & low(take)) << got;
            got += take;
            p += take as usize;
        }
        v
    }

    /// Appends bits `from..to` of `other`.
    pub fn append_range(&mut self, other: &Bits, from: usize, to: usize) {
        debug_assert!(from <= to && to <= other.len());
        let mut p = from;
        while p < to {
            let w = ((to - p) as u32).min(32);
            self.put32(other.bits_at(p, w), w);
            p += w as usize;
        }
    }

    /// Appends every bit of `other`.
    #[inline]
    pub fn append(&mut self, other: &Bits) {
        let mut chunks = other.bytes.chunks_exact(4);
        for c in chunks.by_ref() {
            self.put32(u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])), 32);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut v = 0u64;
            for (i, b) in rest.iter().enumerate() {
                v |= u64::from(*b) << (8 * i);
            }
            self.put32(v, 8 * rest.len() as u32);
        }
        self.put32(other.acc, other.n);
    }

    /// Appends the bits as bytes, the last one padded with 0 bits.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bytes);
        let tail = self.n.div_ceil(8) as usize;
        out.extend_from_slice(&self.acc.to_le_bytes()[..tail]);
    }

    /// An Elias-gamma code of `v` (at least 1): `N = ⌊log₂ v⌋` zero bits, a one bit, then
    /// `v − 2^N` in `N` bits.
    #[inline]
    pub fn gamma(&mut self, v: u64) {
        debug_assert!(v >= 1);
        let n = 63 - v.leading_zeros();
        self.put(1 << n, n + 1);
        self.put(v - (1 << n), n);
    }

    /// A lane of an update in the field's code (see [`Code`]).
    #[inline]
    pub fn lane(&mut self, code: Code, v: i64) {
        match code {
            Code::Value { lo, bits } => self.put(v.wrapping_sub(lo) as u64, bits),
            Code::Small { k, w } => self.eg(((v << 1) ^ (v >> 63)) as u64, k, w),
            Code::Count { k, w } => self.eg(v as u64, k, w),
            Code::Since { .. } => panic!("a tick lane needs the snapshot's tick: Bits::lane_at"),
        }
    }

    /// A lane in its field's code, `now` being the snapshot's tick (for [`Code::Since`]).
    #[inline]
    pub fn lane_at(&mut self, code: Code, v: i64, now: u32) {
        match code {
            Code::Since { k } => self.lane(Code::Small { k, w: 33 }, i64::from(now) - v),
            code => self.lane(code, v),
        }
    }

    /// `z` in the Exp-Golomb code of order `k` cut at `w` bits (see [`Code::Small`]).
    #[inline]
    fn eg(&mut self, z: u64, k: u8, w: u8) {
        let (k, w) = (u32::from(k), u32::from(w));
        let c = bit_len((z >> k) + 1) - 1;
        if k + c >= w {
            // The last class: w − k one bits, then z itself.
            let c = w - k;
            self.put(low(c), c);
            self.put(z, w);
        } else {
            // c one bits and a zero, then z − base in k + c bits.
            self.put(low(c), c + 1);
            self.put(z - class_base(k, c), k + c);
        }
    }

    /// An update's mask in the course code of a kind whose `extrapolate` fields are the bits of
    /// `courses` (of `n` fields): with no such field, the mask's `n` bits. Otherwise a 1 when
    /// the mask is exactly `courses` (every course moved off its prediction, nothing else
    /// changed); else a 0, one bit per course field (in field order), then, when the kind has
    /// other fields, a 1 and one bit per other field if any of them is set, a 0 if none is.
    /// The reset escape, an empty mask, is a 0 and zeros.
    #[inline]
    pub fn mask(&mut self, n: u32, courses: u64, mask: u64) {
        if courses == 0 {
            self.put(mask, n);
            return;
        }
        if mask == courses {
            self.put(1, 1);
            return;
        }
        self.put(0, 1);
        self.put_bits_of(mask, courses);
        let others = low(n) & !courses;
        if others != 0 {
            let set = mask & others != 0;
            self.put(u64::from(set), 1);
            if set {
                self.put_bits_of(mask, others);
            }
        }
    }

    /// The bits of `mask` at the places `which` has set, lowest first.
    #[inline]
    fn put_bits_of(&mut self, mask: u64, which: u64) {
        let mut m = which;
        while m != 0 {
            self.put(mask >> m.trailing_zeros() & 1, 1);
            m &= m - 1;
        }
    }
}

/// The bits of a kind's `extrapolate` fields (its courses), as an update's mask would set them.
#[inline]
pub fn courses(fields: &[FieldDesc]) -> u64 {
    fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.extrapolate)
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// The first zigzag of class `c` of an Exp-Golomb code of order `k`: 2^k (2^c − 1).
#[inline]
fn class_base(k: u32, c: u32) -> u64 {
    (low(c)) << k
}

/// `width` low bits set (`width` ≤ 64).
#[inline]
fn low(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1 << width) - 1
    }
}

/// How one field's lane goes in an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `v − lo` in `bits` bits.
    Value {
        /// The type's least value.
        lo: i64,
        /// The bit length of its span.
        bits: u32,
    },
    /// The zigzag `z` of a change or residual in an Exp-Golomb code of order `k` cut at `w`,
    /// the field's widest zigzag: class `c` (0, 1, …) holds the 2^(k+c) zigzags from
    /// 2^k (2^c − 1) on, written as `c` one bits, a zero, then `z` less the class's first in
    /// `k + c` bits; the class whose width would reach `w` is the last: `w − k` one bits, then
    /// `z` itself in `w` bits.
    Small {
        /// The order: the narrowest class's width.
        k: u8,
        /// The bit length of the field's widest zigzag.
        w: u8,
    },
    /// A value of at least 0 in the same code as `Small`'s zigzags (no zigzag): a creation's
    /// ids and counts.
    Count {
        /// The order.
        k: u8,
        /// The bit length of the type's largest value.
        w: u8,
    },
    /// A [`FieldType::Tick`] in a creation: the zigzag of the snapshot's tick less the value,
    /// in `Small { k, w: 33 }` (a tick just past is a few bits).
    Since {
        /// The order.
        k: u8,
    },
}

/// The bit length of `v` (0 for 0).
fn bit_len(v: u64) -> u32 {
    64 - v.leading_zeros()
}

impl Code {
    /// The code of a field in an update.
    pub fn of(f: &FieldDesc) -> Code {
        let (lo, hi) = f.ty.range();
        let span = (hi - lo) as u64;
        if !(f.delta || f.extrapolate) {
            return Code::Value {
                lo,
                bits: bit_len(span),
            };
        }
        let w = match f.ty.turn() {
            Some(t) if f.extrapolate => bit_len(t as u64 - 1),
            _ => bit_len(2 * span),
        } as u8;
        // The order fitted to measured residuals of steering bodies (docs/PROTOCOL.md): 3 for
        // the 32-bit types (positions in 1/8 units a few units off course a tick), 2 for the
        // narrower ones.
        let k = if w > 16 { 3 } else { 2 };
        Code::Small { k: k.min(w), w }
    }

    /// The code of a field's lane in an entity's creation (the whole value): a `Bool`, the 8-
    /// and 16-bit types and the angles as `v − lo` in their bits; the 32-bit types in an
    /// Exp-Golomb code whose order fits what they usually hold: a `Player` (order 4) or an
    /// `Entity` (6) id, a `U32` (8) as it is; an `I32` (8) or a `Fixed` (12: coordinates of a
    /// few thousand units in 1/8 units take 15 to 19 bits) as its zigzag; a `Tick` against the
    /// snapshot's tick ([`Code::Since`], order 2).
    pub fn spawn(ty: FieldType) -> Code {
        let (lo, hi) = ty.range();
        match ty {
            FieldType::Player => Code::Count { k: 4, w: 32 },
            FieldType::Entity => Code::Count { k: 6, w: 32 },
            FieldType::U32 => Code::Count { k: 8, w: 32 },
            FieldType::I32 => Code::Small { k: 8, w: 32 },
            FieldType::Fixed(_) => Code::Small { k: 12, w: 32 },
            FieldType::Tick => Code::Since { k: 2 },
            _ => Code::Value {
                lo,
                bits: bit_len((hi - lo) as u64),
            },
        }
    }

    /// The codes of a kind's fields.
    pub fn of_fields(fields: &[FieldDesc]) -> Vec<Code> {
        fields.iter().map(Code::of).collect()
    }
}

/// Reads a bit stream.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    /// `width` bits (at most 32).
    #[inline]
    fn get32(&mut self, width: u32) -> Result<u64, WireError> {
        if width == 0 {
            return Ok(0);
        }
        let end = self.pos + width as usize;
        if end > self.bytes.len() * 8 {
            return Err(WireError::Eof);
        }
        let at = self.pos / 8;
        let mut word = [0u8; 8];
        let avail = (self.bytes.len() - at).min(8);
        word[..avail].copy_from_slice(&self.bytes[at..at + avail]);
        let v = u64::from_le_bytes(word) >> (self.pos % 8);
        self.pos = end;
        Ok(v & low(width))
    }

    /// `width` bits (at most 64), least significant first.
    #[inline]
    pub fn get(&mut self, width: u32) -> Result<u64, WireError> {
        if width > 32 {
            let lo = self.get32(32)?;
            Ok(lo | self.get32(width - 32)? << 32)
        } else {
            self.get32(width)
        }
    }

    /// An Elias-gamma code (see [`Bits::gamma`]); at most 32 leading zeros.
    #[inline]
    pub fn gamma(&mut self) -> Result<u64, WireError> {
        let mut n = 0;
        while self.get32(1)? == 0 {
            n += 1;
            if n > 32 {
                return Err(WireError::Invalid("a skip code longer than 32 bits".into()));
            }
        }
        Ok((1 << n) | self.get(n)?)
    }

    /// A lane of an update in the field's code: the change or residual for a small code, the
    /// value (checked against `ty`'s range) otherwise.
    #[inline]
    pub fn lane(&mut self, code: Code, ty: FieldType) -> Result<i64, WireError> {
        match code {
            Code::Value { lo, bits } => check_range(ty, lo.wrapping_add(self.get(bits)? as i64)),
            Code::Small { k, w } => {
                let z = self.eg(k, w)?;
                Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            Code::Count { k, w } => check_range(ty, self.eg(k, w)? as i64),
            Code::Since { .. } => Err(WireError::Invalid(
                "a tick lane needs the snapshot's tick".into(),
            )),
        }
    }

    /// A lane in its field's code, `now` being the snapshot's tick: a [`Code::Since`] lane
    /// comes back as the tick it names, checked against `ty`'s range.
    #[inline]
    pub fn lane_at(&mut self, code: Code, ty: FieldType, now: u32) -> Result<i64, WireError> {
        match code {
            Code::Since { k } => {
                let back = self.lane(Code::Small { k, w: 33 }, ty)?;
                check_range(ty, i64::from(now) - back)
            }
            Code::Small { .. } => check_range(ty, self.lane(code, ty)?),
            code => self.lane(code, ty),
        }
    }

    /// A number in the Exp-Golomb code of order `k` cut at `w` bits.
    #[inline]
    fn eg(&mut self, k: u8, w: u8) -> Result<u64, WireError> {
        let (k, w) = (u32::from(k), u32::from(w));
        let mut c = 0;
        while k + c < w && self.get32(1)? == 1 {
            c += 1;
        }
        if k + c >= w {
            let z = self.get(w)?;
            if c > 0 && z < class_base(k, c) {
                return Err(WireError::Invalid(
                    "a number in a wider code than it needs".into(),
                ));
            }
            Ok(z)
        } else {
            Ok(class_base(k, c) + self.get(k + c)?)
        }
    }

    /// An update's mask in the course code (see [`Bits::mask`]); a mask of exactly `courses`
    /// written the long way is refused.
    #[inline]
    pub fn mask(&mut self, n: u32, courses: u64) -> Result<u64, WireError> {
        if courses == 0 {
            return self.get(n);
        }
        if self.get32(1)? == 1 {
            return Ok(courses);
        }
        let mut mask = self.bits_of(courses)?;
        let others = low(n) & !courses;
        if others != 0 && self.get32(1)? == 1 {
            let rest = self.bits_of(others)?;
            if rest == 0 {
                return Err(WireError::Invalid(
                    "a mask in a longer code than it needs".into(),
                ));
            }
            mask |= rest;
        }
        if mask == courses {
            return Err(WireError::Invalid(
                "a mask in a longer code than it needs".into(),
            ));
        }
        Ok(mask)
    }

    /// One bit for each place `which` has set, lowest first, as a mask.
    #[inline]
    fn bits_of(&mut self, which: u64) -> Result<u64, WireError> {
        let mut out = 0;
        let mut m = which;
        while m != 0 {
            let i = m.trailing_zeros();
            out |= self.get32(1)? << i;
            m &= m - 1;
        }
        Ok(out)
    }

    /// The whole bytes read so far (the last one partly), after checking that the bits of
    /// it not read are 0.
    pub fn finish(&self) -> Result<usize, WireError> {
        let used = self.pos.div_ceil(8);
        let pad = (8 - self.pos % 8) % 8;
        if pad != 0 && self.bytes[used - 1] >> (8 - pad) != 0 {
            return Err(WireError::Invalid("padding bits that are not 0".into()));
        }
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(f: impl FnOnce(&mut Bits)) -> Vec<u8> {
        let mut b = Bits::default();
        f(&mut b);
        let mut out = Vec::new();
        b.write_to(&mut out);
        out
    }

    #[test]
    fn the_worked_example_of_the_protocol_document() {
        // Skip 2; of 4 fields (x, y extrapolated; aim extrapolated; hp plain), x and aim off
        // course: mask 0b0101; x residual −14 (Fixed), aim residual +3 (Angle8).
        let fields = [
            FieldDesc::new("x", FieldType::Fixed(8)).extrapolate(),
            FieldDesc::new("y", FieldType::Fixed(8)).extrapolate(),
            FieldDesc::new("aim", FieldType::Angle8).extrapolate(),
            FieldDesc::new("hp", FieldType::U8),
        ];
        let (x, aim) = (Code::of(&fields[0]), Code::of(&fields[2]));
        let courses = courses(&fields);
        assert_eq!(courses, 0b0111);
        let bytes = stream(|b| {
            b.gamma(3);
            b.mask(4, courses, 0b0101);
            b.lane(x, -14);
            b.lane(aim, 3);
        });
        // gamma(3): 0 1 1. The mask: 0 (not every course), the courses 1 0 1, the others' 0.
        // x: z = 27, class 2 of order 3 (24..55): 1 1 0, then 27 − 24 = 3 in 5 bits. aim:
        // z = 6, class 1 of order 2 (4..11): 1 0, then 6 − 4 = 2 in 3 bits. 21 bits in all:
        // 0110_1010 1101_1000 1001_0 (stream order), bytes 0x56 0x1b 0x09.
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.gamma().unwrap(), 3);
        assert_eq!(r.mask(4, courses).unwrap(), 0b0101);
        assert_eq!(r.lane(x, FieldType::Fixed(8)).unwrap(), -14);
        assert_eq!(r.lane(aim, FieldType::Angle8).unwrap(), 3);
        assert_eq!(bytes, WORKED);
        assert_eq!(r.finish().unwrap(), 3);
    }

    /// The worked example's bytes (docs/PROTOCOL.md).
    const WORKED: [u8; 3] = [0x56, 0x1b, 0x09];

    #[test]
    fn codes_by_field_type() {
        let small = |ty, x: bool| {
            let f = FieldDesc::new("f", ty);
            Code::of(&if x { f.extrapolate() } else { f.delta() })
        };
        let s = |k, w| Code::Small { k, w };
        assert_eq!(small(FieldType::Fixed(8), true), s(3, 33));
        assert_eq!(small(FieldType::Angle8, true), s(2, 8));
        assert_eq!(small(FieldType::Angle16, true), s(2, 16));
        assert_eq!(small(FieldType::Angle8, false), s(2, 9));
        assert_eq!(small(FieldType::Bool, false), s(2, 2));
        assert_eq!(small(FieldType::U32, false), s(3, 33));
        let v = |ty| Code::of(&FieldDesc::new("f", ty));
        assert_eq!(v(FieldType::Bool), Code::Value { lo: 0, bits: 1 });
        assert_eq!(v(FieldType::I8), Code::Value { lo: -128, bits: 8 });
        assert_eq!(
            v(FieldType::Fixed(1)),
            Code::Value {
                lo: i64::from(i32::MIN),
                bits: 32
            }
        );
    }

    /// The bits a lane takes in its code.
    fn lane_bits(code: Code, v: i64) -> usize {
        let mut b = Bits::default();
        b.lane(code, v);
        b.len()
    }

    #[test]
    fn each_class_of_the_small_code_is_as_long_as_the_document_says() {
        let x = Code::of(&FieldDesc::new("x", FieldType::Fixed(8)).extrapolate());
        // Order 3: zigzags 0..7 in 4 bits, 8..23 in 6, 24..55 in 8, 56..119 in 10, …
        for (v, bits) in [
            (0, 4),
            (-4, 4),
            (3, 4),
            (4, 6),
            (-12, 6),
            (11, 6),
            (12, 8),
            (-28, 8),
            (27, 8),
            (28, 10),
        ] {
            assert_eq!(lane_bits(x, v), bits, "x {v}");
        }
        // The last class: 30 one bits, then the zigzag in 33 bits.
        assert_eq!(lane_bits(x, (1 << 32) - 1), 63);
        assert_eq!(lane_bits(x, -(1 << 32) + 1), 63);
        let aim = Code::of(&FieldDesc::new("aim", FieldType::Angle8).extrapolate());
        // Order 2 cut at 8: 0..3 in 3 bits, 4..11 in 5, 12..27 in 7, 28..59 in 9, 60..123 in
        // 11, 124..251 in 13, and the last class (6 one bits, then 8 bits) from 252.
        for (v, bits) in [(0, 3), (1, 3), (-2, 3), (2, 5), (-6, 5), (6, 7), (-128, 14)] {
            assert_eq!(lane_bits(aim, v), bits, "aim {v}");
        }
    }

    #[test]
    fn spawn_codes_by_type_and_ticks_against_the_snapshot() {
        use FieldType::*;
        let bits = |ty, v: i64, now: u32| {
            let mut b = Bits::default();
            b.lane_at(Code::spawn(ty), v, now);
            let mut out = Vec::new();
            b.write_to(&mut out);
            let mut r = BitReader::new(&out);
            assert_eq!(
                r.lane_at(Code::spawn(ty), ty, now).unwrap(),
                v,
                "{ty:?} {v}"
            );
            b.len()
        };
        for (ty, v, len) in [
            (Bool, 1, 1),
            (U8, 200, 8),
            (I8, -128, 8),
            (Angle8, 255, 8),
            (U16, 65535, 16),
            (I16, -32768, 16),
            (Angle16, 49152, 16),
            // Order 4: 0..15 in 5 bits, 16..47 in 7.
            (Player, 3, 5),
            (Player, 16, 7),
            (Entity, 63, 7),
            (Entity, 64, 9),
            (U32, 255, 9),
            (U32, (1 << 32) - 1, 24 + 32),
            (I32, -128, 9),
            (I32, i64::from(i32::MIN), 24 + 32),
            (I32, i64::from(i32::MAX), 24 + 32),
            // Order 12 of the zigzag: 2400.0 units in 1/8 is zigzag 38400, class 3 (28672..).
            (Fixed(8), 19200, 19),
            (Fixed(8), 0, 13),
            (Fixed(8), i64::from(i32::MIN), 20 + 32),
        ] {
            assert_eq!(bits(ty, v, 0), len, "{ty:?} {v}");
        }
        // A tick one before the snapshot's: zigzag 2, 3 bits; the same tick 1; one ahead 3; the
        // ends of the range from either end.
        assert_eq!(bits(Tick, 999, 1000), 3);
        assert_eq!(bits(Tick, 1000, 1000), 3);
        assert_eq!(bits(Tick, 1001, 1000), 3);
        assert_eq!(bits(Tick, 0, u32::MAX), 31 + 33);
        assert_eq!(bits(Tick, i64::from(u32::MAX), 0), 31 + 33);
        // A tick outside its range (from a hostile stream): refused.
        let mut b = Bits::default();
        b.lane(Code::Small { k: 2, w: 33 }, 1);
        let mut out = Vec::new();
        b.write_to(&mut out);
        assert!(matches!(
            BitReader::new(&out).lane_at(Code::spawn(Tick), Tick, 0),
            Err(WireError::OutOfRange { .. })
        ));
    }

    #[test]
    fn masks_in_the_course_code() {
        // Fields: 0 plain, 1 and 2 courses, 3 plain.
        let (n, courses) = (4, 0b0110);
        let len = |mask| {
            let mut b = Bits::default();
            b.mask(n, courses, mask);
            b.len()
        };
        assert_eq!(len(0b0110), 1, "every course, nothing else: one bit");
        assert_eq!(len(0b0010), 4, "0, the course bits, no others");
        assert_eq!(len(0b1000), 6, "0, the course bits, 1, the other bits");
        assert_eq!(len(0b1110), 6);
        assert_eq!(len(0), 4, "the reset escape");
        for mask in 0..16u64 {
            let bytes = stream(|b| b.mask(n, courses, mask));
            assert_eq!(BitReader::new(&bytes).mask(n, courses).unwrap(), mask);
        }
        // A kind with no course: the mask's bits as they are.
        assert_eq!(stream(|b| b.mask(3, 0, 0b101)), [0b101]);
        // Every course written the long way, or others flagged with none set: refused.
        for long in [
            stream(|b| {
                b.put(0, 1);
                b.put(0b11, 2);
                b.put(0, 1);
            }),
            stream(|b| {
                b.put(0, 1);
                b.put(0b01, 2);
                b.put(1, 1);
                b.put(0, 2);
            }),
        ] {
            assert!(matches!(
                BitReader::new(&long).mask(n, courses),
                Err(WireError::Invalid(_))
            ));
        }
        // A kind whose every field is a course has no others' flag.
        let mut b = Bits::default();
        b.mask(2, 0b11, 0b01);
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn every_value_round_trips_in_its_shortest_class_and_a_wider_one_is_refused() {
        let fields = [
            FieldDesc::new("x", FieldType::Fixed(8)).extrapolate(),
            FieldDesc::new("a", FieldType::Angle8).extrapolate(),
            FieldDesc::new("b", FieldType::Bool).delta(),
            FieldDesc::new("u", FieldType::U32),
            FieldDesc::new("i", FieldType::I16),
            FieldDesc::new("w", FieldType::U32).delta(),
        ];
        let values: [&[i64]; 6] = [
            &[
                0,
                1,
                -1,
                3,
                -4,
                4,
                11,
                -12,
                12,
                127,
                -128,
                128,
                1 << 31,
                (1 << 32) - 5,
                -(1 << 32) + 1,
                (1 << 32) - 1,
            ],
            &[0, 3, -128, 127, -7, 8, 62, 63, -63, -64],
            &[0, 1, -1],
            &[0, 1, (1 << 32) - 1],
            &[-32768, 0, 32767],
            &[(1 << 32) - 1, -(1 << 32) + 1, 200],
        ];
        for (f, vs) in fields.iter().zip(values) {
            let code = Code::of(f);
            for &v in vs {
                let bytes = stream(|b| {
                    b.gamma(1);
                    b.lane(code, v);
                });
                let mut r = BitReader::new(&bytes);
                r.gamma().unwrap();
                assert_eq!(r.lane(code, f.ty).unwrap(), v, "{} {v}", f.name);
                r.finish().unwrap();
            }
        }
        // z = 6 in the last class of a Fixed residual (30 one bits, then 33 bits): refused.
        let x = Code::of(&fields[0]);
        let wide = stream(|b| {
            b.put((1 << 30) - 1, 30);
            b.put(6, 33);
        });
        assert!(matches!(
            BitReader::new(&wide).lane(x, FieldType::Fixed(8)),
            Err(WireError::Invalid(_))
        ));
    }

    #[test]
    fn gamma_codes_padding_and_the_ends_of_the_stream() {
        assert_eq!(stream(|b| b.gamma(1)), [0b1]);
        assert_eq!(stream(|b| b.gamma(2)), [0b010]);
        assert_eq!(stream(|b| b.gamma(3)), [0b110]);
        assert_eq!(stream(|b| b.gamma(4)), [0b00100]);
        for v in [1u64, 2, 31, 1000, u64::from(u32::MAX), 1 << 32] {
            let bytes = stream(|b| b.gamma(v));
            assert_eq!(BitReader::new(&bytes).gamma().unwrap(), v);
        }
        // 33 zeros: refused, not read on.
        let zeros = [0u8; 6];
        assert!(matches!(
            BitReader::new(&zeros).gamma(),
            Err(WireError::Invalid(_))
        ));
        assert_eq!(BitReader::new(&[0, 0]).gamma(), Err(WireError::Eof));
        // Padding must be 0.
        let mut r = BitReader::new(&[0b1001]);
        assert_eq!(r.gamma().unwrap(), 1);
        assert!(r.finish().is_err());
        let mut r = BitReader::new(&[0b0001]);
        r.gamma().unwrap();
        assert_eq!(r.finish().unwrap(), 1);
    }

    #[test]
    fn appending_bits_is_writing_them() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..200 {
            let (mut whole, mut a, mut b) = (Bits::default(), Bits::default(), Bits::default());
            for part in [&mut a, &mut b] {
                for _ in 0..next() % 20 {
                    let w = (next() % 65) as u32;
                    let v = next();
                    part.put(v, w);
                    whole.put(v, w);
                }
            }
            let mut joined = a.clone();
            joined.append(&b);
            assert_eq!(joined, whole);
            assert_eq!(joined.len(), a.len() + b.len());
        }
    }
}
