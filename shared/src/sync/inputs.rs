//! A client's input commands between sending and acknowledgement: numbered from 1, the
//! newest unacknowledged ones repeated in every input message (so a lost message costs
//! nothing), let go once a snapshot's `ack_input_seq` covers them. What a predictor replays
//! is [`InputHistory::pending`].

use super::InputCmd;
use crate::ids::{InputSeq, Tick};
use std::collections::VecDeque;

/// Commands sent and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct InputHistory {
    next_seq: u32,
    pending: VecDeque<InputCmd>,
    /// How many of the newest unacknowledged commands each message carries (at least 1).
    pub redundancy: usize,
    /// Most commands kept; older ones are dropped (the server would refuse them anyway).
    pub capacity: usize,
}

impl InputHistory {
    /// An empty history; the first command gets seq 1.
    pub fn new(redundancy: usize, capacity: usize) -> InputHistory {
        InputHistory {
            next_seq: 1,
            pending: VecDeque::new(),
            redundancy,
            capacity,
        }
    }

    /// Numbers a new command and returns the commands of the next input message (it last).
    pub fn push(&mut self, view_tick: Tick, lanes: Vec<i64>) -> Vec<InputCmd> {
        self.pending.push_back(InputCmd {
            seq: InputSeq(self.next_seq),
            view_tick,
            lanes,
        });
        self.next_seq += 1;
        while self.pending.len() > self.capacity.max(1) {
            self.pending.pop_front();
        }
        let from = self.pending.len().saturating_sub(self.redundancy.max(1));
        self.pending.iter().skip(from).cloned().collect()
    }

    /// Lets go of every command up to `acked`.
    pub fn ack(&mut self, acked: InputSeq) {
        while self.pending.front().is_some_and(|c| c.seq <= acked) {
            self.pending.pop_front();
        }
    }

    /// Commands sent and not yet acknowledged, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &InputCmd> + '_ {
        self.pending.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_repeats_and_lets_go_on_ack() {
        let mut h = InputHistory::new(3, 4);
        let seqs = |cmds: &[InputCmd]| cmds.iter().map(|c| c.seq.0).collect::<Vec<_>>();
        assert_eq!(seqs(&h.push(Tick(5), vec![1])), [1]);
        assert_eq!(seqs(&h.push(Tick(6), vec![2])), [1, 2]);
        assert_eq!(seqs(&h.push(Tick(7), vec![3])), [1, 2, 3]);
        let m = h.push(Tick(8), vec![4]);
        assert_eq!(seqs(&m), [2, 3, 4]);
        assert_eq!((m[2].view_tick, m[2].lanes.clone()), (Tick(8), vec![4]));
        h.ack(InputSeq(2));
        assert_eq!(h.pending().map(|c| c.seq.0).collect::<Vec<_>>(), [3, 4]);
        h.push(Tick(9), vec![5]);
        h.push(Tick(9), vec![6]);
        h.push(Tick(9), vec![7]);
        assert_eq!(
            h.pending().map(|c| c.seq.0).collect::<Vec<_>>(),
            [4, 5, 6, 7],
            "capacity 4: the oldest goes"
        );
        h.ack(InputSeq(7));
        assert_eq!(h.pending().count(), 0);
    }
}
