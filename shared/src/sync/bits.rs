//! The bit stream of a snapshot's `updated` section (protocol version 4, `docs/PROTOCOL.md`,
//! "The `updated` section: bit-packed"): bits least significant first within each byte,
//! numbers least significant bit first; a skip as an Elias-gamma code; a kind's mask in one bit
//! per field; a `delta` or `extrapolate` lane's zigzag in the field's small-number code
//! (classes of 4, 8, 16 for the 32-bit types, and the field's full width); any other lane as
//! `v − lo` in the bits its type's range needs.

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
    #[inline]
    pub fn put(&mut self, v: u64, width: u32) {
        if width > 32 {
            self.put32(v & 0xffff_ffff, 32);
            self.put32(v >> 32 & low(width - 32), width - 32);
        } else {
            self.put32(v & low(width), width);
        }
    }

    #[inline]
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
            Code::Small { widths, classes } => {
                let z = ((v << 1) ^ (v >> 63)) as u64;
                let last = classes as usize - 1;
                let c = (0..last).find(|&c| z >> widths[c] == 0).unwrap_or(last);
                // c one bits, then a zero unless it is the last class.
                let prefix = c as u32 + u32::from(c != last);
                self.put((1 << c) - 1, prefix);
                self.put(z, u32::from(widths[c]));
            }
        }
    }
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
    /// The zigzag of a change or residual in one of `classes` widths, a unary class first.
    Small {
        /// The widths of the classes, narrowest first (the last is the field's widest zigzag).
        widths: [u8; 4],
        /// How many classes (1 to 4).
        classes: u8,
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
        let mut widths = [0; 4];
        let mut classes = 0;
        // 16 only for the 32-bit types (W = 33): a catch-up of a few hundred units then costs
        // 19 bits a lane, not 35.
        let sixteen = (w > 24).then_some(16);
        for c in [4, 8]
            .into_iter()
            .filter(|&c| c < w)
            .chain(sixteen)
            .chain([w])
        {
            widths[classes] = c;
            classes += 1;
        }
        Code::Small {
            widths,
            classes: classes as u8,
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
            Code::Small { widths, classes } => {
                let last = classes as usize - 1;
                let mut c = 0;
                while c < last && self.get32(1)? == 1 {
                    c += 1;
                }
                let z = self.get(u32::from(widths[c]))?;
                if c > 0 && z >> widths[c - 1] == 0 {
                    return Err(WireError::Invalid(
                        "a number in a wider code than it needs".into(),
                    ));
                }
                Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
        }
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
        // Skip 2, mask 0b0101 of 4 fields, x residual −14 (Fixed), aim residual +3 (Angle8).
        let x = Code::of(&FieldDesc::new("x", FieldType::Fixed(8)).extrapolate());
        let aim = Code::of(&FieldDesc::new("aim", FieldType::Angle8).extrapolate());
        let bytes = stream(|b| {
            b.gamma(3);
            b.put(0b0101, 4);
            b.lane(x, -14);
            b.lane(aim, 3);
        });
        assert_eq!(bytes, [0xae, 0x36, 0x18]);
        let mut r = BitReader::new(&bytes);
        assert_eq!(r.gamma().unwrap(), 3);
        assert_eq!(r.get(4).unwrap(), 0b0101);
        assert_eq!(r.lane(x, FieldType::Fixed(8)).unwrap(), -14);
        assert_eq!(r.lane(aim, FieldType::Angle8).unwrap(), 3);
        assert_eq!(r.finish().unwrap(), 3);
    }

    #[test]
    fn codes_by_field_type() {
        let small = |ty, x: bool| {
            let f = FieldDesc::new("f", ty);
            Code::of(&if x { f.extrapolate() } else { f.delta() })
        };
        let s = |w: [u8; 4], classes| Code::Small { widths: w, classes };
        assert_eq!(small(FieldType::Fixed(8), true), s([4, 8, 16, 33], 4));
        assert_eq!(small(FieldType::Angle8, true), s([4, 8, 0, 0], 2));
        assert_eq!(small(FieldType::Angle16, true), s([4, 8, 16, 0], 3));
        assert_eq!(small(FieldType::Angle8, false), s([4, 8, 9, 0], 3));
        assert_eq!(small(FieldType::Bool, false), s([2, 0, 0, 0], 1));
        assert_eq!(small(FieldType::U32, false), s([4, 8, 16, 33], 4));
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
                7,
                -8,
                8,
                127,
                -128,
                128,
                1 << 31,
                -(1 << 32) + 1,
                (1 << 32) - 1,
            ],
            &[0, 3, -128, 127, -7, 8],
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
        // z = 6 in the 8-bit class of a Fixed residual: 1 0, then 6 in 8 bits.
        let x = Code::of(&fields[0]);
        let wide = stream(|b| {
            b.put(0b01, 2);
            b.put(6, 8);
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
