//! A client's queued input commands, kept in sequence order.
//!
//! Clients send each command once and may repeat recent unacknowledged ones, so the queue
//! de-duplicates by sequence number. It rejects commands far ahead of what was applied (a
//! client cannot pre-load minutes of input) and is bounded in length.

use std::collections::VecDeque;
use tickwire_shared::InputSeq;
use tickwire_shared::sync::InputCmd;

/// A command with a sequence number.
pub trait Sequenced {
    /// Its sequence number.
    fn seq(&self) -> InputSeq;
}

impl Sequenced for InputCmd {
    fn seq(&self) -> InputSeq {
        self.seq
    }
}

/// What happened to a pushed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued for a later tick.
    Queued,
    /// Already applied or already queued (a redundant repeat): ignored.
    Duplicate,
    /// Sequence number too far ahead of the last applied one: ignored.
    TooFarAhead,
    /// The queue is full: ignored.
    Full,
}

/// Pending input commands of one client.
#[derive(Debug)]
pub struct InputQueue<C = InputCmd> {
    last_applied: InputSeq,
    queued: VecDeque<C>,
    capacity: usize,
    window: u32,
}

impl<C: Sequenced> InputQueue<C> {
    /// A queue holding at most `capacity` commands and accepting sequence numbers at most
    /// `window` past the last applied one.
    pub fn new(capacity: usize, window: u32) -> Self {
        InputQueue {
            last_applied: InputSeq(0),
            queued: VecDeque::new(),
            capacity,
            window,
        }
    }

    /// The last applied sequence number (0 before any).
    pub fn last_applied(&self) -> InputSeq {
        self.last_applied
    }

    /// Commands waiting.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether no command waits.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Adds a command in sequence order.
    pub fn push(&mut self, cmd: C) -> Push {
        let seq = cmd.seq().0;
        if seq <= self.last_applied.0 {
            return Push::Duplicate;
        }
        // The first command may start anywhere (a client resuming keeps its counter).
        let fresh = self.last_applied.0 == 0 && self.queued.is_empty();
        if !fresh && seq - self.last_applied.0 > self.window {
            return Push::TooFarAhead;
        }
        let at = self.queued.partition_point(|c| c.seq().0 < seq);
        if self.queued.get(at).is_some_and(|c| c.seq().0 == seq) {
            return Push::Duplicate;
        }
        if self.queued.len() >= self.capacity {
            return Push::Full;
        }
        self.queued.insert(at, cmd);
        Push::Queued
    }

    /// Takes the oldest command and records it as applied.
    pub fn pop(&mut self) -> Option<C> {
        let cmd = self.queued.pop_front()?;
        self.last_applied = cmd.seq();
        Some(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(seq: u32) -> InputCmd {
        InputCmd {
            seq: InputSeq(seq),
            view_tick: tickwire_shared::Tick(0),
            lanes: Vec::new(),
        }
    }

    #[test]
    fn orders_and_deduplicates_redundant_sends() {
        let mut q: InputQueue = InputQueue::new(8, 100);
        // Frames repeating the last unacknowledged commands, one arriving out of order.
        for batch in [[1, 2, 3], [2, 3, 4], [3, 5, 4]] {
            for s in batch {
                q.push(c(s));
            }
        }
        assert_eq!(q.push(c(5)), Push::Duplicate);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|c| c.seq.0).collect();
        assert_eq!(order, vec![1, 2, 3, 4, 5]);
        assert_eq!(q.push(c(4)), Push::Duplicate, "already applied");
        assert_eq!(q.last_applied(), InputSeq(5));
    }

    #[test]
    fn rejects_far_future_and_overflow() {
        let mut q: InputQueue = InputQueue::new(2, 10);
        assert_eq!(q.push(c(1)), Push::Queued);
        assert_eq!(q.push(c(12)), Push::TooFarAhead);
        assert_eq!(q.push(c(3)), Push::Queued);
        assert_eq!(q.push(c(2)), Push::Full);
        // A first command may start anywhere.
        let mut q: InputQueue = InputQueue::new(2, 10);
        assert_eq!(q.push(c(5000)), Push::Queued);
        assert_eq!(q.push(c(5011)), Push::TooFarAhead);
    }
}
