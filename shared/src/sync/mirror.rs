//! Mirrored streams: the room's messages over two TCP connections at once, so a lost segment
//! on one does not stall the game.
//!
//! Over TCP a lost segment holds back everything behind it until it is retransmitted, one
//! round trip or more. A client that asks for it (`?mirror=1` on its WebSocket URL) gets every
//! message of its room numbered, `[7][seq][message]`, and may open a second WebSocket
//! (`?mirror=attach`, its `Hello` carrying the session's resume token) that receives a copy of
//! each one from then on. Both streams carry the same messages in the same order, so the
//! client takes message `seq` from whichever stream brings it first and drops the other copy
//! ([`Merge`]). Losses on two connections rarely overlap: a stall on one is covered by the
//! other.
//!
//! Only the room's messages are numbered and mirrored (the `Welcome`, snapshots, events);
//! what the connection itself answers (a `Pong`, a `Redirect`) comes unnumbered on the main
//! stream only.

use super::wire::{Reader, WireError, Writer};

/// The message index of a numbered message.
pub const NUMBERED: u64 = 7;

/// Appends `msg` as numbered message `seq`.
pub fn wrap(seq: u64, msg: &[u8], out: &mut Vec<u8>) {
    let mut w = Writer::new(out);
    w.varint(NUMBERED);
    w.varint(seq);
    out.extend_from_slice(msg);
}

/// The number and the message inside a numbered message; `None` for any other message.
pub fn unwrap(bytes: &[u8]) -> Result<Option<(u64, &[u8])>, WireError> {
    let mut r = Reader::new(bytes);
    if r.varint()? != NUMBERED {
        return Ok(None);
    }
    let seq = r.varint()?;
    let rest = r.rest();
    if rest.is_empty() {
        return Err(WireError::Eof);
    }
    Ok(Some((seq, rest)))
}

/// Which of a client's two connections a message came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The connection that joined: it carries every message.
    Main,
    /// The attached copy: it carries the room's messages from the moment it attached, and may
    /// miss some when it falls behind.
    Mirror,
}

/// Puts the two streams back into one, each message once, in order.
///
/// The main stream has every numbered message; the mirror has the same ones from the moment
/// it attached (less any the server had to skip for it). A message is taken when it is the
/// next one due: from the main stream whenever it is not older than that (nothing can be
/// missing behind it), from the mirror only when it is exactly the next (so a mirror that
/// started late, or skipped, never jumps ahead of what has been taken).
#[derive(Debug, Default, Clone)]
pub struct Merge {
    next: Option<u64>,
    /// Copies dropped because the other stream brought them first.
    pub duplicates: u64,
    /// Messages taken from the mirror (the main stream was behind).
    pub from_mirror: u64,
}

impl Merge {
    /// A merge that has taken nothing yet.
    pub fn new() -> Merge {
        Merge::default()
    }

    /// Whether to take numbered message `seq` that came on `stream` (false: a copy already
    /// taken, or a mirror message that is not the next due).
    pub fn take(&mut self, stream: Stream, seq: u64) -> bool {
        let due = match (stream, self.next) {
            (Stream::Main, None) => true,
            (Stream::Main, Some(n)) => seq >= n,
            (Stream::Mirror, Some(n)) => seq == n,
            (Stream::Mirror, None) => false,
        };
        if due {
            self.next = Some(seq + 1);
            if stream == Stream::Mirror {
                self.from_mirror += 1;
            }
        } else {
            self.duplicates += 1;
        }
        due
    }

    /// The number of the next message due (`None` before the first).
    pub fn next(&self) -> Option<u64> {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_unwraps() {
        for seq in [0, 1, 250, 251, 70_000] {
            let mut out = Vec::new();
            wrap(seq, &[1, 2, 3], &mut out);
            assert_eq!(unwrap(&out).unwrap(), Some((seq, &[1u8, 2, 3][..])));
        }
        assert_eq!(
            unwrap(&[1, 9, 9]).unwrap(),
            None,
            "a snapshot is not numbered"
        );
        assert!(unwrap(&[7, 3]).is_err(), "a number with nothing after it");
        assert!(unwrap(&[7]).is_err());
    }

    /// Two copies of the same stream, the main one stalled for a while: every message is taken
    /// once, in order, whichever way the copies interleave.
    #[test]
    fn takes_each_message_once_in_order() {
        let mut m = Merge::new();
        let mut taken = Vec::new();
        // Main brings 0..=9; the mirror attached at 5 and brings 5..=9 too.
        let mut feed = |m: &mut Merge, s, seq| {
            if m.take(s, seq) {
                taken.push(seq);
            }
        };
        for seq in 0..5 {
            feed(&mut m, Stream::Main, seq);
        }
        // The main stream stalls after 5: the mirror brings 6, 7, 8 first.
        feed(&mut m, Stream::Main, 5);
        feed(&mut m, Stream::Mirror, 5);
        for seq in 6..9 {
            feed(&mut m, Stream::Mirror, seq);
        }
        // The main stream's repair arrives in a burst.
        for seq in 6..10 {
            feed(&mut m, Stream::Main, seq);
        }
        feed(&mut m, Stream::Mirror, 9);
        assert_eq!(taken, (0..10).collect::<Vec<_>>());
        assert_eq!(m.from_mirror, 3);
        assert_eq!(m.duplicates, 5);
        assert_eq!(m.next(), Some(10));
    }

    /// A mirror that starts ahead (it attached while the main stream was stalled) or skipped
    /// a message is not taken until it is in step: nothing behind it is lost.
    #[test]
    fn a_mirror_ahead_of_what_was_taken_waits_for_the_main_stream() {
        let mut m = Merge::new();
        assert!(
            !m.take(Stream::Mirror, 0),
            "nothing before the main stream's first"
        );
        assert!(m.take(Stream::Main, 0));
        assert!(!m.take(Stream::Mirror, 3), "1 and 2 are still to come");
        assert!(m.take(Stream::Main, 1));
        assert!(m.take(Stream::Main, 2));
        assert!(!m.take(Stream::Mirror, 4), "the mirror skipped 3");
        assert!(m.take(Stream::Main, 3));
        assert!(m.take(Stream::Main, 4));
        assert!(m.take(Stream::Mirror, 5), "in step again");
        assert!(!m.take(Stream::Main, 5));
        assert_eq!(m.from_mirror, 1);
    }
}
