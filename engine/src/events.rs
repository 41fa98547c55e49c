//! Event delivery: which client gets which event, in order, with the snapshot after it.
//!
//! Most events are for everyone (kills, chat, notices): the [`Journal`] encodes each once and
//! keeps it until every connected client has been sent it; a client only remembers where it
//! is in the journal. Events for one player, a team or the players near a point go into
//! those clients' own [`Inbox`]es. Every event takes the next number of one sequence, so a
//! snapshot merges the two in the order they happened, and a client that skips ticks gets
//! everything it missed.
//!
//! What one snapshot carries is bounded: a client that fell behind (its outbox full for
//! seconds while others chatted) would otherwise be sent every event it missed in one message,
//! past what any client's decoder accepts. Past the room's `max_event_bytes`, the oldest chat
//! lines and notices are dropped first, then the oldest of the game's own events, and the
//! client is told how many it missed.

use std::collections::VecDeque;
use std::sync::Arc;
use tickwire_shared::schema::{Schema, engine_events};
use tickwire_shared::sync::wire::Writer;
use tickwire_shared::sync::{EncodedEvents, Event, Value, write_event};

/// Events for every connected client, encoded once, and the room's event sequence.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    next: u64,
    /// (seq, encoded event, whether it may be dropped first), ascending seq.
    all: VecDeque<(u64, Vec<u8>, bool)>,
}

/// Scratch of [`Journal::take`] when a client's events are over the bound (one per worker
/// building snapshots).
#[derive(Debug, Default)]
pub(crate) struct CutScratch(Vec<Pending>);

/// One event due to a client, while its events are cut to the bound.
#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    /// Chat and notices: dropped before the game's own events.
    chatter: bool,
    keep: bool,
}

/// Chat lines and notices go first when a client's events are over the bound; the game's own
/// events (a kill, a card played) carry the game forward and go last.
fn is_chatter(kind: u16) -> bool {
    kind == engine_events::CHAT || kind == engine_events::NOTICE
}

/// A client's undelivered events.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    /// Journal events from this seq on are for it.
    from: u64,
    /// Events for it alone (or its team, or near it), with their seq.
    own: Vec<(u64, Arc<Event>)>,
}

impl Journal {
    /// The next number of the event sequence.
    pub(crate) fn seq(&mut self) -> u64 {
        self.next += 1;
        self.next - 1
    }

    /// An event for every client connected now.
    pub(crate) fn broadcast(&mut self, schema: &Schema, e: &Event) {
        let seq = self.seq();
        let mut bytes = Vec::new();
        write_event(&mut Writer::new(&mut bytes), schema, e);
        self.all.push_back((seq, bytes, is_chatter(e.kind)));
    }

    /// An inbox that gets what is sent from now on (a client connecting or resuming).
    pub(crate) fn open(&self) -> Inbox {
        Inbox {
            from: self.next,
            own: Vec::new(),
        }
    }

    /// Moves everything `inbox` has not been sent into `out`, in order, at most `max_bytes`
    /// of them (see the module's note); returns how many were dropped to stay under it.
    pub(crate) fn take(
        &self,
        inbox: &mut Inbox,
        schema: &Schema,
        max_bytes: usize,
        out: &mut EncodedEvents,
        scratch: &mut CutScratch,
    ) -> usize {
        out.clear();
        let start = self.all.partition_point(|e| e.0 < inbox.from);
        let mut own = inbox.own.iter().peekable();
        for (seq, bytes, _) in self.all.range(start..) {
            while let Some((_, e)) = own.next_if(|o| o.0 < *seq) {
                out.count += 1;
                write_event(&mut Writer::new(&mut out.bytes), schema, e);
            }
            out.push_encoded(bytes);
        }
        for (_, e) in own {
            out.count += 1;
            write_event(&mut Writer::new(&mut out.bytes), schema, e);
        }
        let dropped = if out.bytes.len() > max_bytes {
            self.cut(inbox, start, schema, max_bytes, out, scratch)
        } else {
            0
        };
        inbox.from = self.next;
        inbox.own.clear();
        if inbox.own.capacity() > 8 {
            // A burst (many joins at once) should not pin memory in every client.
            inbox.own = Vec::new();
        }
        dropped
    }

    /// The slow path of [`Journal::take`]: the same events, oldest chatter dropped first, then
    /// the oldest of the rest, until they and a notice of how many went fit in `max_bytes`.
    fn cut(
        &self,
        inbox: &Inbox,
        start: usize,
        schema: &Schema,
        max_bytes: usize,
        out: &mut EncodedEvents,
        scratch: &mut CutScratch,
    ) -> usize {
        let pending = &mut scratch.0;
        pending.clear();
        let mut own = inbox.own.iter().peekable();
        let push_own = |pending: &mut Vec<Pending>, e: &Event| {
            let mut bytes = Vec::new();
            write_event(&mut Writer::new(&mut bytes), schema, e);
            pending.push(Pending {
                bytes,
                chatter: is_chatter(e.kind),
                keep: true,
            });
        };
        for (seq, bytes, chatter) in self.all.range(start..) {
            while let Some((_, e)) = own.next_if(|o| o.0 < *seq) {
                push_own(pending, e);
            }
            pending.push(Pending {
                bytes: bytes.clone(),
                chatter: *chatter,
                keep: true,
            });
        }
        for (_, e) in own {
            push_own(pending, e);
        }
        // Room for the notice itself (its count has at most 20 digits).
        let notice = |n: usize| Event {
            kind: engine_events::NOTICE,
            values: vec![Value::Str(format!(
                "{n} events were dropped while your connection was behind"
            ))],
        };
        let mut notice_bytes = Vec::new();
        write_event(
            &mut Writer::new(&mut notice_bytes),
            schema,
            &notice(usize::MAX),
        );
        let budget = max_bytes.saturating_sub(notice_bytes.len());
        let mut total: usize = pending.iter().map(|p| p.bytes.len()).sum();
        let mut dropped = 0;
        for chatter_pass in [true, false] {
            for p in pending.iter_mut() {
                if total <= budget {
                    break;
                }
                if p.keep && p.chatter == chatter_pass {
                    p.keep = false;
                    total -= p.bytes.len();
                    dropped += 1;
                }
            }
        }
        out.clear();
        for p in pending.iter().filter(|p| p.keep) {
            out.push_encoded(&p.bytes);
        }
        out.count += 1;
        write_event(&mut Writer::new(&mut out.bytes), schema, &notice(dropped));
        pending.clear();
        if pending.capacity() > 1024 {
            *pending = Vec::new();
        }
        dropped
    }

    /// Forgets events every inbox from `oldest` on has been sent.
    pub(crate) fn prune(&mut self, oldest: u64) {
        while self.all.front().is_some_and(|e| e.0 < oldest) {
            self.all.pop_front();
        }
    }

    /// The seq the next event will take: an inbox that has been sent everything is here.
    pub(crate) fn end(&self) -> u64 {
        self.next
    }
}

impl Inbox {
    /// Adds an event for this client alone (numbered with [`Journal::seq`]).
    pub(crate) fn push(&mut self, seq: u64, e: Arc<Event>) {
        self.own.push((seq, e));
    }

    /// Where it is in the journal.
    pub(crate) fn from(&self) -> u64 {
        self.from
    }
}
