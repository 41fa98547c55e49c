//! What a client over an unreliable transport holds: its snapshots are deltas against the
//! newest tick it acknowledged, never against what was merely sent (see
//! `tickwire_shared::sync::acked`).
//!
//! The engine keeps, per such client, the table of entities it held at its newest acknowledged
//! tick (the base) and the table each later snapshot would leave it holding. An
//! acknowledgement of one of those makes it the base and drops the older ones. A `NetId` is
//! retained once while any kept table holds it, so no id is reused for another entity while
//! the client may still decode against a table that names it.

use crate::net_ids::IdLog;
use crate::view::Table;
use std::collections::VecDeque;
use tickwire_shared::sync::acked::{MAX_BACK, MAX_BASES};
use tickwire_shared::{InputSeq, Tick};

/// What one snapshot left the client holding: its tick, its entities, and the input it
/// acknowledged.
#[derive(Debug)]
struct Sent {
    tick: Tick,
    table: Table,
    ack: InputSeq,
}

/// Ticks between two snapshots too large for a datagram while neither is acknowledged
/// (a second at 30 Hz: several round trips on any usable link).
pub const LARGE_EVERY: u32 = 30;

/// Ticks between two deltas too large for a datagram while neither is acknowledged.
pub const LARGE_DELTA_EVERY: u32 = 4;

/// One client's kept tables.
#[derive(Debug, Default)]
pub struct Acks {
    /// The newest acknowledged tick still kept, and what the client held then.
    base: Option<Sent>,
    /// What each snapshot sent after the base left the client holding, oldest first.
    sent: VecDeque<Sent>,
    /// Per id, how many of the kept tables hold it.
    holds: Vec<u16>,
    /// Acknowledgements that named no kept tick (late, duplicated, or made up).
    pub(crate) unknown_acks: u64,
    /// The tick of the newest snapshot sent too large for a datagram (so on the stream) that
    /// no acknowledgement has overtaken yet.
    large_in_flight: Option<(Tick, bool)>,
}

impl Acks {
    /// The base for the next snapshot: its tick, table and the input it acknowledged, or
    /// `None` (a snapshot against nothing: the first one, or [`MAX_BACK`] snapshots have gone
    /// since the base without an acknowledgement moving it).
    pub fn base(&self) -> Option<(Tick, &Table, InputSeq)> {
        // Counted in snapshots, not ticks: the client keeps a replica per snapshot applied
        // since the base (quiet ticks send none), and at least `MAX_BASES` of them.
        self.base
            .as_ref()
            .filter(|_| self.sent.len() < MAX_BACK as usize)
            .map(|s| (s.tick, &s.table, s.ack))
    }

    /// Keeps `table`, what the snapshot of `tick` leaves the client holding; the references it
    /// takes (and, past [`MAX_BASES`] kept tables, drops) go into `ids`.
    pub fn sent(&mut self, tick: Tick, table: Table, ack: InputSeq, ids: &mut IdLog) {
        for id in table.ids() {
            let i = id.0 as usize;
            if self.holds.len() <= i {
                self.holds.resize(i + 1, 0);
            }
            self.holds[i] += 1;
            if self.holds[i] == 1 {
                ids.retain(id);
            }
        }
        self.sent.push_back(Sent { tick, table, ack });
        while self.sent.len() > MAX_BASES {
            let old = self.sent.pop_front().expect("over the limit");
            self.forget(&old.table, ids);
        }
    }

    /// The client acknowledged `tick`: if that snapshot is kept, it becomes the base and every
    /// older table goes (their references into `ids`). Returns whether it was kept.
    pub fn ack(&mut self, tick: Tick, ids: &mut IdLog) -> bool {
        let Some(at) = self.sent.iter().position(|s| s.tick == tick) else {
            self.unknown_acks += 1;
            return false;
        };
        let mut older: Vec<Sent> = self.sent.drain(..=at).collect();
        let newest = older.pop().expect("drained through `at`");
        for s in older {
            self.forget(&s.table, ids);
        }
        if let Some(old) = self.base.replace(newest) {
            self.forget(&old.table, ids);
        }
        if self.large_in_flight.is_some_and(|(t, _)| t <= tick) {
            self.large_in_flight = None;
        }
        true
    }

    /// Drops every table (its references into `ids`).
    pub fn clear(&mut self, ids: &mut IdLog) {
        if let Some(s) = self.base.take() {
            self.forget(&s.table, ids);
        }
        while let Some(s) = self.sent.pop_front() {
            self.forget(&s.table, ids);
        }
    }

    /// Whether a snapshot of `len` bytes at `now` should wait: it is too large for a datagram
    /// (`limit`), so it would go on the reliable stream, and one sent there not long ago is
    /// still unacknowledged: [`LARGE_EVERY`] ticks for a complete state (`complete`: before
    /// the first acknowledgement), [`LARGE_DELTA_EVERY`] for a delta. Sending such a snapshot
    /// every tick until the first is acknowledged would only queue near-copies behind it on the
    /// stream (each delta against the same base holds all the last one did), which is what
    /// makes a slow client slower; the one in flight arrives, its acknowledgement moves the
    /// base, and the next delta is small again. A client that keeps up never meets this: its
    /// deltas are against a base a round trip old and fit a datagram.
    pub fn hold_large(&mut self, now: Tick, len: usize, limit: usize, complete: bool) -> bool {
        if len <= limit {
            return false;
        }
        let every = if complete {
            LARGE_EVERY
        } else {
            LARGE_DELTA_EVERY
        };
        if self
            .large_in_flight
            .is_some_and(|(t, c)| now.since(t) < if c { LARGE_EVERY } else { every })
        {
            return true;
        }
        self.large_in_flight = Some((now, complete));
        false
    }

    /// Whether a complete state too large for a datagram went less than [`LARGE_EVERY`] ticks
    /// before `now` and no acknowledgement has overtaken it: then this tick's would be as large
    /// (there is still no base), and is not built at all.
    pub fn waiting_for_large(&self, now: Tick) -> bool {
        self.large_in_flight
            .is_some_and(|(t, complete)| complete && now.since(t) < LARGE_EVERY)
    }

    /// The oldest tick a later snapshot may be measured from: the base's, or, before the
    /// first acknowledgement, the oldest snapshot sent (an acknowledgement makes one of those
    /// the base). What happened after it (player joins, say) must still be at hand.
    pub fn oldest_base(&self) -> Option<Tick> {
        self.base.as_ref().or(self.sent.front()).map(|s| s.tick)
    }

    fn forget(&mut self, table: &Table, ids: &mut IdLog) {
        for id in table.ids() {
            let h = &mut self.holds[id.0 as usize];
            *h -= 1;
            if *h == 0 {
                ids.release(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_the_first_acknowledgement_the_oldest_snapshot_sent_may_become_the_base() {
        let (mut acks, mut ids) = (Acks::default(), IdLog::default());
        assert_eq!(acks.oldest_base(), None, "nothing sent");
        // The complete state at tick 1, then deltas waiting on its acknowledgement.
        for t in 1..=3 {
            acks.sent(Tick(t), Table::default(), InputSeq(0), &mut ids);
        }
        assert!(acks.base().is_none());
        assert_eq!(acks.oldest_base(), Some(Tick(1)));
        // Tick 1 is acknowledged late: it is the base, and what came after it is still due.
        assert!(acks.ack(Tick(1), &mut ids));
        assert_eq!(acks.base().map(|b| b.0), Some(Tick(1)));
        assert_eq!(acks.oldest_base(), Some(Tick(1)));
        assert!(acks.ack(Tick(3), &mut ids));
        assert_eq!(acks.oldest_base(), Some(Tick(3)));
    }
}
