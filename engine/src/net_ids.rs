//! Wire ids for entities.
//!
//! Each id is counted: one reference while its entity exists, plus one for every client whose
//! baseline holds it. An id returns to the free list only at zero, so a client never sees an id
//! reused for another entity while it may still hold the old one. Free ids are handed out
//! lowest first, which keeps them small (most encode in one byte).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use tickwire_shared::NetId;

/// Reference-counted allocator of [`NetId`]s.
#[derive(Debug, Default)]
pub struct NetIds {
    refs: Vec<u32>,
    free: BinaryHeap<Reverse<u32>>,
    /// Releases refused because the id had no reference left: each one is a bookkeeping
    /// slip that, unguarded, would have put the id on the free list twice.
    refused: u64,
}

impl NetIds {
    /// A fresh id with one reference (its entity's).
    pub fn alloc(&mut self) -> NetId {
        let id = match self.free.pop() {
            Some(Reverse(id)) => id,
            None => {
                self.refs.push(0);
                (self.refs.len() - 1) as u32
            }
        };
        self.refs[id as usize] = 1;
        NetId(id)
    }

    /// Adds a reference (a client now holds the id).
    pub fn retain(&mut self, id: NetId) {
        self.refs[id.0 as usize] += 1;
    }

    /// Drops a reference; at zero the id is free again. Releasing an id that has no
    /// reference left (or was never handed out) changes nothing, is counted in
    /// [`NetIds::refused`] and returns false, in release builds as in debug ones: an id can
    /// never reach the free list twice, so two live entities can never share it.
    pub fn release(&mut self, id: NetId) -> bool {
        let r = match self.refs.get_mut(id.0 as usize) {
            Some(r) if *r > 0 => r,
            _ => {
                self.refused += 1;
                return false;
            }
        };
        *r -= 1;
        if *r == 0 {
            self.free.push(Reverse(id.0));
        }
        true
    }

    /// Releases refused so far (see [`NetIds::release`]); 0 unless the room's bookkeeping
    /// slipped.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Ids currently referenced.
    pub fn in_use(&self) -> usize {
        self.refs.len() - self.free.len()
    }

    /// Applies the references a client's snapshot took and dropped, in order, and empties
    /// the log.
    pub fn apply(&mut self, log: &mut IdLog) {
        for (id, take) in log.0.drain(..) {
            if take {
                self.retain(id);
            } else {
                self.release(id);
            }
        }
    }
}

/// References to ids taken and dropped while a client's snapshot is built (in parallel with
/// other clients'), for the room to apply in client order afterwards: the same as if each
/// snapshot had changed [`NetIds`] itself, one after another.
#[derive(Debug, Default)]
pub struct IdLog(Vec<(NetId, bool)>);

impl IdLog {
    /// A reference taken (see [`NetIds::retain`]).
    pub fn retain(&mut self, id: NetId) {
        self.0.push((id, true));
    }

    /// A reference dropped (see [`NetIds::release`]).
    pub fn release(&mut self, id: NetId) {
        self.0.push((id, false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_held_by_a_client_is_not_reused() {
        let mut ids = NetIds::default();
        let a = ids.alloc();
        let b = ids.alloc();
        ids.retain(a); // a client was sent `a`
        ids.release(a); // the entity is destroyed
        assert_eq!(ids.alloc(), NetId(2), "a is still held by the client");
        ids.release(a); // the client was sent the removal
        assert_eq!(ids.alloc(), a, "lowest free id first");
        assert_eq!(ids.in_use(), 3);
        ids.release(b);
        assert_eq!(ids.in_use(), 2);
    }

    #[test]
    fn a_double_release_is_refused_and_the_id_is_handed_out_once() {
        let mut ids = NetIds::default();
        let a = ids.alloc();
        assert!(ids.release(a));
        assert!(!ids.release(a), "no reference left");
        assert!(!ids.release(NetId(99)), "never handed out");
        assert_eq!(ids.refused(), 2, "both refusals are counted");
        assert_eq!(ids.alloc(), a);
        assert_ne!(ids.alloc(), a, "the id was on the free list only once");
    }
}
