//! Event delivery: which client gets which event, in order, with the snapshot after it.
//!
//! Most events are for everyone (kills, chat, notices): the [`Journal`] encodes each once and
//! keeps it until every connected client has been sent it; a client only remembers where it
//! is in the journal. Events for one player, a team or the players near a point go into
//! those clients' own [`Inbox`]es. Every event takes the next number of one sequence, so a
//! snapshot merges the two in the order they happened, and a client that skips ticks gets
//! everything it missed.

use std::collections::VecDeque;
use std::sync::Arc;
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::wire::Writer;
use tickwire_shared::sync::{EncodedEvents, Event, write_event};

/// Events for every connected client, encoded once, and the room's event sequence.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    next: u64,
    /// (seq, encoded event), ascending seq.
    all: VecDeque<(u64, Vec<u8>)>,
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
        self.all.push_back((seq, bytes));
    }

    /// An inbox that gets what is sent from now on (a client connecting or resuming).
    pub(crate) fn open(&self) -> Inbox {
        Inbox {
            from: self.next,
            own: Vec::new(),
        }
    }

    /// Moves everything `inbox` has not been sent into `out`, in order.
    pub(crate) fn take(&self, inbox: &mut Inbox, schema: &Schema, out: &mut EncodedEvents) {
        out.clear();
        let start = self.all.partition_point(|e| e.0 < inbox.from);
        let mut own = inbox.own.iter().peekable();
        for (seq, bytes) in self.all.range(start..) {
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
        inbox.from = self.next;
        inbox.own.clear();
        if inbox.own.capacity() > 8 {
            // A burst (many joins at once) should not pin memory in every client.
            inbox.own = Vec::new();
        }
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
