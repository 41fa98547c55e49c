//! Snapshots over an unreliable transport (WebTransport datagrams), and the framing of the
//! reliable stream beside them.
//!
//! Over datagrams a snapshot may be lost, duplicated or overtaken, so the server sends each
//! one against the newest tick the client *acknowledged* ([`Acked`], message 5), never against
//! what it merely sent: whatever is lost, the next snapshot is against a state the client
//! holds. The client keeps the replicas of the ticks it applied since the base of the newest
//! snapshot it applied ([`Bases`]), decodes each snapshot against its base's replica, applies
//! it to a copy, and acknowledges its tick in its next datagram ([`encode_datagram`]).
//! A snapshot for a tick not after the newest applied one is stale and dropped.
//!
//! Everything that must arrive goes on one bidirectional stream, in frames
//! ([`write_frame`], [`FrameReader`]): the `Welcome`, events (message 6), pongs, a snapshot too
//! big for a datagram, and the close (code and reason, as a WebSocket close frame carries
//! them, since a WebTransport session close carries neither through every stack).

use super::replica::{Changes, Replica, ReplicaError};
use super::wire::{Reader, WireError, Writer};
use super::{ClientMsg, Snapshot, decode_client, encode_client};
use crate::ids::Tick;
use crate::schema::Schema;
use std::collections::VecDeque;

/// Most replicas a client keeps (one per snapshot applied since the newest base; about four
/// seconds of snapshots at 30 Hz): a server that has sent [`MAX_BACK`] snapshots since its
/// base sends one against nothing instead.
pub const MAX_BASES: usize = 128;

/// The most snapshots a server sends against one base: past it (a client whose
/// acknowledgements have not arrived for that many snapshots) it sends everything again (`back`
/// 0). Below [`MAX_BASES`], so a client always still holds the base.
pub const MAX_BACK: u32 = 96;

/// The tick of a message 5 and how far back its base is; `None` for any other message.
pub fn peek_acked(bytes: &[u8]) -> Result<Option<(Tick, u32)>, WireError> {
    let mut r = Reader::new(bytes);
    if r.varint()? != 5 {
        return Ok(None);
    }
    let back = r.varint32()?;
    let tick = Tick(r.varint32()?);
    if back > tick.0 {
        return Err(WireError::Invalid(format!(
            "a snapshot of tick {} against {back} ticks before it",
            tick.0
        )));
    }
    Ok(Some((tick, back)))
}

/// What applying a message 5 did.
#[derive(Debug)]
pub enum Applied {
    /// It was for a tick not after the newest applied one (a duplicate, or overtaken): dropped.
    Stale,
    /// Applied: the snapshot (its tick to acknowledge), and what changed from the replica held
    /// before it.
    New(Box<Snapshot>, Changes),
}

/// The replicas a client over datagrams keeps: every tick applied since the base of the
/// newest snapshot applied, oldest first, the newest being the current one.
#[derive(Debug, Clone)]
pub struct Bases {
    held: VecDeque<Replica>,
    /// The replica before any snapshot (what `back` 0 is against).
    empty: Replica,
}

impl Bases {
    /// Bases for a replica just made from a `Welcome` (`Replica::new`), holding nothing yet.
    pub fn new(empty: &Replica) -> Bases {
        Bases {
            held: VecDeque::new(),
            empty: empty.clone(),
        }
    }

    /// Replicas kept now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Decodes message 5 `bytes` against its base and, unless it is stale, applies it to a copy
    /// of the base that becomes `current` (which must be the newest replica applied, or the
    /// empty one). An error means client and server disagree (a base the client never had or
    /// has dropped, a checksum mismatch): reconnect.
    pub fn apply(&mut self, current: &mut Replica, bytes: &[u8]) -> Result<Applied, ReplicaError> {
        let Some((tick, back)) = peek_acked(bytes)? else {
            return Err(WireError::Invalid("not a message 5".into()).into());
        };
        if current.snapshots_applied > 0 && tick <= current.tick {
            return Ok(Applied::Stale);
        }
        let base = if back == 0 {
            &self.empty
        } else {
            let at = Tick(tick.0 - back);
            self.held
                .iter()
                .find(|r| r.tick == at && r.snapshots_applied > 0)
                .ok_or(ReplicaError::MissingBase(at.0))?
        };
        let snap = match base.decode(bytes)? {
            super::ServerMsg::Acked(a) => a.snapshot,
            _ => unreachable!("peeked as a message 5"),
        };
        let mut next = base.clone();
        // The copy's count goes on from the replica it replaces (the base may be older).
        next.snapshots_applied = current.snapshots_applied;
        next.apply(&snap)?;
        let changes = next.changes_from(current);
        // The server's base only moves forward: the bases it can still use are this one's
        // and later ones. (A snapshot against nothing says nothing of its base: any tick
        // applied may be acknowledged yet.)
        if back > 0 {
            let keep_from = Tick(tick.0 - back);
            while self.held.front().is_some_and(|r| r.tick < keep_from) {
                self.held.pop_front();
            }
        }
        self.held.push_back(next.clone());
        while self.held.len() > MAX_BASES {
            self.held.pop_front();
        }
        *current = next;
        Ok(Applied::New(Box::new(snap), changes))
    }
}

/// A client datagram: the newest tick applied (its acknowledgement, `None` before any) and
/// perhaps one message (an `Input` or a `Ping`).
pub fn encode_datagram(ack: Option<Tick>, msg: Option<&ClientMsg>, schema: &Schema) -> Vec<u8> {
    let mut out = Vec::new();
    Writer::new(&mut out).varint(u64::from(ack.map_or(0, |t| t.0)));
    if let Some(m) = msg {
        encode_client(m, schema, &mut out);
    }
    out
}

/// Decodes a client datagram ([`encode_datagram`]). Only an `Input` or a `Ping` may ride in
/// one.
pub fn decode_datagram(
    bytes: &[u8],
    schema: &Schema,
) -> Result<(Option<Tick>, Option<ClientMsg>), WireError> {
    let mut r = Reader::new(bytes);
    let ack = r.varint32()?;
    let ack = (ack != 0).then_some(Tick(ack));
    let rest = r.rest();
    if rest.is_empty() {
        return Ok((ack, None));
    }
    match decode_client(rest, schema)? {
        m @ (ClientMsg::Input(_) | ClientMsg::Ping(_)) => Ok((ack, Some(m))),
        _ => Err(WireError::Invalid(
            "only an Input or a Ping may ride in a datagram".into(),
        )),
    }
}

/// A frame of the reliable stream: a message, or the close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One message (as one binary WebSocket message carries it).
    Message(Vec<u8>),
    /// The end: a close code and its reason, as a WebSocket close frame has them.
    Close(u16, String),
}

/// Frame kinds on the stream.
const FRAME_MESSAGE: u8 = 0;
const FRAME_CLOSE: u8 = 1;

/// Longest close reason (a WebSocket close frame's limit, 123 bytes).
pub const MAX_CLOSE_REASON: usize = 123;

/// Appends a frame: its kind (a byte: 0 message, 1 close), its length (varint) and its
/// payload (a close: the code, two bytes big-endian, then the reason in UTF-8).
pub fn write_frame(frame: &Frame, out: &mut Vec<u8>) {
    match frame {
        Frame::Message(m) => {
            out.push(FRAME_MESSAGE);
            Writer::new(out).varint(m.len() as u64);
            out.extend_from_slice(m);
        }
        Frame::Close(code, reason) => {
            let mut end = reason.len().min(MAX_CLOSE_REASON);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            out.push(FRAME_CLOSE);
            Writer::new(out).varint(2 + end as u64);
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(&reason.as_bytes()[..end]);
        }
    }
}

/// Reads frames out of a byte stream as it arrives, refusing any longer than its limit.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    limit: usize,
}

impl FrameReader {
    /// A reader of frames of at most `limit` bytes of payload.
    pub fn new(limit: usize) -> FrameReader {
        FrameReader {
            buf: Vec::new(),
            limit,
        }
    }

    /// Appends what arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes waiting (a frame not yet complete).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, if one has arrived. An error (an unknown kind, a frame over
    /// the limit, a close without its code or with a reason that is not UTF-8) ends the
    /// stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        let Some(&kind) = self.buf.first() else {
            return Ok(None);
        };
        if kind > FRAME_CLOSE {
            return Err(WireError::Invalid(format!(
                "unknown stream frame kind {kind}"
            )));
        }
        let mut r = Reader::new(&self.buf[1..]);
        let len = match r.varint() {
            Ok(n) => n,
            // A varint cut short: wait for more (one over 10 bytes is refused below).
            Err(_) if self.buf.len() < 11 => return Ok(None),
            Err(e) => return Err(e),
        };
        if len > self.limit as u64 {
            return Err(WireError::Invalid(format!(
                "a stream frame of {len} bytes, over the {}-byte limit",
                self.limit
            )));
        }
        let head = self.buf.len() - 1 - r.rest().len() + 1;
        let len = len as usize;
        if self.buf.len() < head + len {
            return Ok(None);
        }
        let payload: Vec<u8> = self.buf[head..head + len].to_vec();
        self.buf.drain(..head + len);
        Ok(Some(match kind {
            FRAME_MESSAGE => Frame::Message(payload),
            _ => {
                if payload.len() < 2 {
                    return Err(WireError::Invalid(
                        "a close frame must carry a two-byte code".into(),
                    ));
                }
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = String::from_utf8(payload[2..].to_vec())
                    .map_err(|_| WireError::Invalid("the close reason is not UTF-8".into()))?;
                Frame::Close(code, reason)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces_and_refuse_what_breaks_the_rules() {
        let mut bytes = Vec::new();
        write_frame(&Frame::Message(vec![1, 2, 3]), &mut bytes);
        write_frame(&Frame::Message(vec![7; 300]), &mut bytes);
        write_frame(&Frame::Close(4003, "room full".into()), &mut bytes);
        let mut r = FrameReader::new(1000);
        let mut got = Vec::new();
        // One byte at a time: no frame before it is complete.
        for b in &bytes {
            r.push(std::slice::from_ref(b));
            while let Some(f) = r.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            vec![
                Frame::Message(vec![1, 2, 3]),
                Frame::Message(vec![7; 300]),
                Frame::Close(4003, "room full".into()),
            ]
        );
        assert_eq!(r.pending(), 0);

        let mut r = FrameReader::new(100);
        let mut big = Vec::new();
        write_frame(&Frame::Message(vec![0; 101]), &mut big);
        r.push(&big[..3]);
        assert!(
            r.next_frame()
                .unwrap_err()
                .to_string()
                .contains("over the 100-byte limit")
        );
        let mut r = FrameReader::new(100);
        r.push(&[9, 0]);
        assert!(r.next_frame().is_err());
        let mut r = FrameReader::new(100);
        r.push(&[1, 1, 0x03]);
        assert!(
            r.next_frame()
                .unwrap_err()
                .to_string()
                .contains("two-byte code")
        );
        let mut r = FrameReader::new(100);
        r.push(&[1, 3, 0x03, 0xe8, 0xff]);
        assert!(r.next_frame().unwrap_err().to_string().contains("UTF-8"));
    }

    #[test]
    fn a_close_reason_is_cut_at_a_character_boundary() {
        let mut bytes = Vec::new();
        let long = "é".repeat(100);
        write_frame(&Frame::Close(1000, long), &mut bytes);
        let mut r = FrameReader::new(1000);
        r.push(&bytes);
        let Some(Frame::Close(1000, reason)) = r.next_frame().unwrap() else {
            panic!("a close");
        };
        assert_eq!(reason, "é".repeat(61));
    }
}
