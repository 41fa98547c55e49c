//! The byte-level rules of the schema-driven codec: bincode 2's varints (the same rules the
//! serde-encoded messages follow, so the whole protocol has one set), zigzag for signed
//! numbers, and how each [`FieldType`] puts an `i64` lane on the wire.
//!
//! - Unsigned varint: a value below 251 is one byte; otherwise a marker byte then the value
//!   little-endian: 251 + 2 bytes, 252 + 4 bytes, 253 + 8 bytes. Encoders write the shortest
//!   form; decoders accept any form that fits the type.
//! - Signed (zigzag): `(n << 1) ^ (n >> 63)`, then the unsigned varint.
//! - `Bool`, `U8`, `Angle8`: one raw byte; `I8`: one byte, two's complement.
//! - `U16`, `U32`, `Angle16`, `Player`, `Entity`: unsigned varint.
//! - `I16`, `I32`, `Fixed`: zigzag varint.
//! - `Str(n)`: varint byte length, then UTF-8 of at most `n` characters.
//! - A snapshot's `updated` section is a bit stream instead ([`super::bits`]): a `delta`
//!   field's change (`new − held`) and an `extrapolate` field's residual against the client's
//!   own prediction ([`predict`], [`residual`], [`apply_residual`], [`velocity`]) go there in
//!   the small-number code.

use crate::schema::FieldType;

/// The largest message either side decodes. Also bounds any allocation the decoder makes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The one bincode configuration (varints, little-endian, the size limit) for the parts of
/// messages encoded with serde (`Hello`, `Welcome`'s schema, pings).
const CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_MESSAGE_BYTES>,
> = bincode::config::standard().with_limit::<MAX_MESSAGE_BYTES>();

/// Why bytes do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes ended inside a value.
    #[error("message ended early")]
    Eof,
    /// A varint marker byte that is not 251, 252 or 253, or too wide for its type.
    #[error("bad varint")]
    BadVarint,
    /// A value outside its field type's range.
    #[error("{value} is out of range for {ty:?}")]
    OutOfRange {
        /// The field type.
        ty: FieldType,
        /// The decoded value.
        value: i64,
    },
    /// Text that is not UTF-8 or is longer than its field allows.
    #[error("bad text")]
    BadText,
    /// An unknown message, kind, section or mask bit.
    #[error("{0}")]
    Invalid(String),
    /// Bytes left after the message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// A serde-encoded part did not decode.
    #[error("malformed message: {0}")]
    Serde(String),
}

impl WireError {
    /// The error as a short sentence for people (a close reason, a status line): never Rust
    /// type names or debug text.
    pub fn for_people(&self) -> String {
        match self {
            WireError::Eof => "the message ended early".into(),
            WireError::BadVarint => "a number in the message is malformed".into(),
            WireError::OutOfRange { value, .. } => {
                format!("the value {value} is out of its field's range")
            }
            WireError::BadText => "a text in the message is not UTF-8 or is too long".into(),
            WireError::Invalid(s) | WireError::Serde(s) => s.clone(),
            WireError::TrailingBytes(1) => "a trailing byte after the message".into(),
            WireError::TrailingBytes(n) => format!("{n} trailing bytes after the message"),
        }
    }
}

/// A bincode decode error as a sentence (bincode's own `Display` is its `Debug` text).
fn describe_decode_error(e: &bincode::error::DecodeError) -> String {
    use bincode::error::DecodeError as E;
    match e {
        E::UnexpectedEnd { .. } => "the message ended early".into(),
        E::LimitExceeded => "a length in the message is over the limit".into(),
        E::InvalidIntegerType { .. } | E::NonZeroTypeIsZero { .. } | E::OutsideUsizeRange(_) => {
            "a number in the message does not fit its type".into()
        }
        E::UnexpectedVariant { found, .. } => format!("unknown variant {found} in the message"),
        E::Utf8 { .. } | E::InvalidCharEncoding(_) => {
            "a text in the message is not valid UTF-8".into()
        }
        E::InvalidBooleanValue(b) => format!("{b} is not a boolean"),
        _ => "a part of the message does not decode".into(),
    }
}

/// Appends values to a byte buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    /// The buffer written to.
    pub out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Writer { out }
    }

    /// One raw byte.
    #[inline]
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// An unsigned varint, shortest form.
    #[inline]
    pub fn varint(&mut self, v: u64) {
        if v < 251 {
            self.out.push(v as u8);
        } else {
            self.wide_varint(v);
        }
    }

    #[inline]
    fn wide_varint(&mut self, v: u64) {
        if v <= u64::from(u16::MAX) {
            self.out.push(251);
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if v <= u64::from(u32::MAX) {
            self.out.push(252);
            self.out.extend_from_slice(&(v as u32).to_le_bytes());
        } else {
            self.out.push(253);
            self.out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// A signed varint (zigzag).
    #[inline]
    pub fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Text: byte length, then UTF-8.
    #[inline]
    pub fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    /// A lane, absolute, by its field type (text types write nothing: lanes are numbers).
    #[inline]
    pub fn lane(&mut self, ty: FieldType, v: i64) {
        match ty {
            FieldType::Bool | FieldType::U8 | FieldType::Angle8 | FieldType::I8 => self.u8(v as u8),
            FieldType::U16
            | FieldType::U32
            | FieldType::Angle16
            | FieldType::Player
            | FieldType::Entity
            | FieldType::Tick => self.varint(v as u64),
            FieldType::I16 | FieldType::I32 | FieldType::Fixed(_) => self.zigzag(v),
            FieldType::Str(_) => {}
        }
    }
}

/// Reads values from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// Skips `n` bytes (after a serde part decoded from [`Reader::rest`]).
    pub fn skip(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.bytes.len());
    }

    /// Errors unless every byte was read.
    pub fn finish(&self) -> Result<(), WireError> {
        match self.bytes.len() - self.pos {
            0 => Ok(()),
            n => Err(WireError::TrailingBytes(n)),
        }
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Eof)?;
        let s = self.bytes.get(self.pos..end).ok_or(WireError::Eof)?;
        self.pos = end;
        Ok(s)
    }

    /// One raw byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned varint.
    #[inline]
    pub fn varint(&mut self) -> Result<u64, WireError> {
        let b = self.u8()?;
        Ok(match b {
            0..=250 => u64::from(b),
            251 => u64::from(u16::from_le_bytes(self.take(2)?.try_into().expect("2"))),
            252 => u64::from(u32::from_le_bytes(self.take(4)?.try_into().expect("4"))),
            253 => u64::from_le_bytes(self.take(8)?.try_into().expect("8")),
            _ => return Err(WireError::BadVarint),
        })
    }

    /// An unsigned varint that must fit a u32.
    pub fn varint32(&mut self) -> Result<u32, WireError> {
        u32::try_from(self.varint()?).map_err(|_| WireError::BadVarint)
    }

    /// A count of items that each take at least one byte: never more than the bytes left, so a
    /// hostile count cannot make the caller allocate.
    pub fn count(&mut self) -> Result<usize, WireError> {
        let n = self.varint()?;
        if n > (self.bytes.len() - self.pos) as u64 {
            return Err(WireError::Eof);
        }
        Ok(n as usize)
    }

    /// A signed (zigzag) varint.
    #[inline]
    pub fn zigzag(&mut self) -> Result<i64, WireError> {
        let u = self.varint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// Text of at most `max_chars` characters.
    pub fn str(&mut self, max_chars: usize) -> Result<String, WireError> {
        let n = self.count()?;
        if n > max_chars.saturating_mul(4) {
            return Err(WireError::BadText);
        }
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| WireError::BadText)?;
        if s.chars().count() > max_chars {
            return Err(WireError::BadText);
        }
        Ok(s.to_string())
    }

    /// A lane, absolute, by its field type, checked against the type's range.
    #[inline]
    pub fn lane(&mut self, ty: FieldType) -> Result<i64, WireError> {
        let v = match ty {
            FieldType::Bool | FieldType::U8 | FieldType::Angle8 => i64::from(self.u8()?),
            FieldType::I8 => i64::from(self.u8()? as i8),
            FieldType::U16
            | FieldType::U32
            | FieldType::Angle16
            | FieldType::Player
            | FieldType::Entity
            | FieldType::Tick => i64::try_from(self.varint()?).map_err(|_| WireError::BadVarint)?,
            FieldType::I16 | FieldType::I32 | FieldType::Fixed(_) => self.zigzag()?,
            FieldType::Str(_) => {
                return Err(WireError::Invalid("a text type in a numeric lane".into()));
            }
        };
        check_range(ty, v)
    }
}

/// `v` if it is in `ty`'s range.
pub fn check_range(ty: FieldType, v: i64) -> Result<i64, WireError> {
    let (lo, hi) = ty.range();
    if v < lo || v > hi {
        return Err(WireError::OutOfRange { ty, value: v });
    }
    Ok(v)
}

/// `v` brought into `[−turn/2, turn/2)`: the short way round.
fn signed(v: i64, turn: i64) -> i64 {
    (v + turn / 2).rem_euclid(turn) - turn / 2
}

/// The value an `extrapolate` lane is predicted to have `gap` ticks after it was `x`, moving
/// by `d` a tick: `x + d × gap`, clamped into the type's range; for angles modulo the turn.
/// Exact integer arithmetic, identical in every client (`docs/PROTOCOL.md`).
#[inline]
pub fn predict(ty: FieldType, x: i64, d: i64, gap: u32) -> i64 {
    let g = i64::from(gap);
    match ty.turn() {
        Some(t) => (x + d.rem_euclid(t) * (g % t)).rem_euclid(t),
        None => {
            let (lo, hi) = ty.range();
            (i128::from(x) + i128::from(d) * i128::from(g)).clamp(i128::from(lo), i128::from(hi))
                as i64
        }
    }
}

/// What the server sends for an `extrapolate` lane: `truth − predicted`, for angles the short
/// way round (in `[−turn/2, turn/2)`); 0 means the field is not in the update.
#[inline]
pub fn residual(ty: FieldType, predicted: i64, truth: i64) -> i64 {
    match ty.turn() {
        Some(t) => signed(truth - predicted, t),
        None => truth - predicted,
    }
}

/// A residual applied to a prediction: the new value, or an error when it leaves the type's
/// range (for angles: when the residual itself is outside `[−turn/2, turn/2)`).
#[inline]
pub fn apply_residual(ty: FieldType, predicted: i64, r: i64) -> Result<i64, WireError> {
    match ty.turn() {
        Some(t) if (-t / 2..t / 2).contains(&r) => Ok((predicted + r).rem_euclid(t)),
        Some(_) => Err(WireError::OutOfRange { ty, value: r }),
        None => check_range(
            ty,
            predicted
                .checked_add(r)
                .ok_or(WireError::OutOfRange { ty, value: r })?,
        ),
    }
}

/// Where an `extrapolate` lane that was `x`, moving by `d`, would have been by its own motion
/// one tick before a snapshot `gap` ticks later: `x + d × (gap − 1)` (angles modulo the turn;
/// saturated to the `i64` range). [`velocity`] measures the new per-tick change from it.
#[inline]
pub fn anchor(ty: FieldType, x: i64, d: i64, gap: u32) -> i64 {
    let k = i64::from(gap.saturating_sub(1));
    match ty.turn() {
        Some(t) => (x + d.rem_euclid(t) * (k % t)).rem_euclid(t),
        None => (i128::from(x) + i128::from(d) * i128::from(k))
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
    }
}

/// The per-tick change an `extrapolate` lane holds after a snapshot: `new − anchor` (see
/// [`anchor`]; on consecutive ticks simply `new − old`), clamped to ± the type's span, for
/// angles the short way round. A lane on its course keeps its change across any gap.
#[inline]
pub fn velocity(ty: FieldType, anchor: i64, new: i64) -> i64 {
    match ty.turn() {
        Some(t) => signed(new - anchor, t),
        None => {
            let (lo, hi) = ty.range();
            let span = hi - lo;
            new.saturating_sub(anchor).clamp(-span, span)
        }
    }
}

/// Appends a serde value with the protocol's one bincode configuration.
pub fn encode_serde<T: serde::Serialize>(v: &T, out: &mut Vec<u8>) {
    // Encoding into a Vec cannot fail for the protocol's types (no maps, no unsupported serde
    // features; the limit applies to decoding only).
    bincode::serde::encode_into_std_write(v, out, CONFIG)
        .expect("encoding a protocol value into a Vec cannot fail");
}

/// Decodes a serde value from the reader's position, advancing past it.
pub fn decode_serde<T: serde::de::DeserializeOwned>(r: &mut Reader<'_>) -> Result<T, WireError> {
    let (v, used) = bincode::serde::decode_from_slice(r.rest(), CONFIG)
        .map_err(|e| WireError::Serde(describe_decode_error(&e)))?;
    r.skip(used);
    Ok(v)
}

/// FNV-1a, 32-bit.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h = Fnv1a::default();
    h.write(bytes);
    h.0
}

/// A running FNV-1a (32-bit) hash.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(pub u32);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0x811c_9dc5)
    }
}

impl Fnv1a {
    /// Hashes more bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_take_the_shortest_form_and_accept_longer_ones() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        for v in [0u64, 250, 251, 65535, 65536, u64::from(u32::MAX), u64::MAX] {
            w.varint(v);
        }
        assert_eq!(out.len(), 1 + 1 + 3 + 3 + 5 + 5 + 9);
        let mut r = Reader::new(&out);
        for v in [0u64, 250, 251, 65535, 65536, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(r.varint().unwrap(), v);
        }
        r.finish().unwrap();
        assert_eq!(Reader::new(&[251, 5, 0]).varint().unwrap(), 5);
        assert_eq!(Reader::new(&[254]).varint(), Err(WireError::BadVarint));
    }

    #[test]
    fn zigzag_matches_bincode_for_i32() {
        for v in [0i32, -1, 1, -64, 63, 1000, -1000, i32::MIN, i32::MAX] {
            let mut ours = Vec::new();
            Writer::new(&mut ours).zigzag(i64::from(v));
            let mut theirs = Vec::new();
            encode_serde(&v, &mut theirs);
            assert_eq!(ours, theirs, "{v}");
            assert_eq!(Reader::new(&ours).zigzag().unwrap(), i64::from(v));
        }
    }

    #[test]
    fn lanes_are_range_checked_and_counts_bounded() {
        let mut r = Reader::new(&[2]);
        assert!(matches!(
            r.lane(FieldType::Bool),
            Err(WireError::OutOfRange { .. })
        ));
        // A count larger than the bytes left is refused before anything is allocated.
        assert_eq!(Reader::new(&[252, 0, 0, 0, 1]).count(), Err(WireError::Eof));
        let mut out = Vec::new();
        Writer::new(&mut out).str("héllo");
        assert_eq!(Reader::new(&out).str(5).unwrap(), "héllo");
        assert_eq!(Reader::new(&out).str(4), Err(WireError::BadText));
    }

    #[test]
    fn the_predictor_continues_a_course_wraps_angles_and_clamps_the_rest() {
        use FieldType::{Angle8, Fixed, U8};
        // A body at 100 moving +3 a tick: 103 a tick later, 115 five ticks later.
        assert_eq!(predict(Fixed(8), 100, 3, 1), 103);
        assert_eq!(predict(Fixed(8), 100, 3, 5), 115);
        assert_eq!(predict(U8, 250, 3, 5), 255);
        assert_eq!(predict(U8, 2, -3, 1), 0);
        assert_eq!(predict(Angle8, 250, 10, 1), 4);
        assert_eq!(predict(Angle8, 3, -10, 1), 249);
        // The short way round: from 250 to 4 is +10.
        assert_eq!(residual(Angle8, 250, 4), 10);
        assert_eq!(residual(Angle8, 0, 128), -128);
        assert_eq!(apply_residual(Angle8, 250, 10), Ok(4));
        assert!(apply_residual(Angle8, 250, 128).is_err());
        assert!(apply_residual(U8, 250, 6).is_err());
        assert!(apply_residual(Fixed(8), i64::MAX - 1, 5).is_err());
        // On course across a gap of 4: the change stays 3.
        let a = anchor(Fixed(8), 100, 3, 4);
        assert_eq!(velocity(Fixed(8), a, predict(Fixed(8), 100, 3, 4)), 3);
        // A turn on consecutive ticks: the new change is new − old.
        assert_eq!(velocity(Fixed(8), anchor(Fixed(8), 100, 3, 1), 98), -2);
        assert_eq!(velocity(Angle8, anchor(Angle8, 250, 0, 1), 4), 10);
        // Hostile magnitudes saturate instead of overflowing.
        let a = anchor(Fixed(8), 0, i64::from(u32::MAX), u32::MAX);
        assert_eq!(velocity(Fixed(8), a, 0), -(i64::from(u32::MAX)));
        assert_eq!(
            predict(Fixed(8), 0, -(1 << 33), u32::MAX),
            i64::from(i32::MIN)
        );
    }

    #[test]
    fn decode_errors_read_as_sentences_not_debug_text() {
        // A (u16, String) as bincode writes it: a u64-width varint where a u16 belongs, then
        // a string that is not UTF-8.
        let cases: [&[u8]; 4] = [
            &[253, 1, 0, 0, 0, 0, 0, 0, 0],
            &[2, 2, 0xff, 0xfe],
            &[2],
            &[],
        ];
        for bytes in cases {
            let e = decode_serde::<(u16, String)>(&mut Reader::new(bytes)).unwrap_err();
            let text = e.for_people();
            assert!(
                !text.contains('{') && !text.contains("::") && !e.to_string().contains('{'),
                "{text:?} / {e}"
            );
        }
        let e = check_range(FieldType::Fixed(100), i64::MAX).unwrap_err();
        assert!(!e.for_people().contains("Fixed"), "{}", e.for_people());
    }
}
