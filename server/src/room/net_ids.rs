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

    /// Drops a reference; at zero the id is free again.
    pub fn release(&mut self, id: NetId) {
        let r = &mut self.refs[id.0 as usize];
        debug_assert!(*r > 0, "net id {} released too often", id.0);
        *r = r.saturating_sub(1);
        if *r == 0 {
            self.free.push(Reverse(id.0));
        }
    }

    /// Ids currently referenced.
    pub fn in_use(&self) -> usize {
        self.refs.len() - self.free.len()
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
}
