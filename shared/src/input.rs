//! The client's input history: it numbers input commands, keeps the ones the server has not
//! acknowledged yet (prediction replays them after each snapshot), and builds the
//! `ClientMsg::Input` frames sent once per tick, each repeating the last few unacknowledged
//! commands so that one late or lost frame does not lose input. The server de-duplicates by
//! sequence number.

use crate::ids::{InputSeq, Tick};
use crate::protocol::{ClientMsg, InputCmd};
use std::collections::VecDeque;

/// What the player wants during one tick, before it gets a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Intent {
    /// Movement on x, -127..=127.
    pub move_x: i8,
    /// Movement on y (down is positive), -127..=127.
    pub move_y: i8,
    /// Aim, 65,536 steps per turn.
    pub aim: u16,
    /// Bit set of [`crate::protocol::buttons`].
    pub buttons: u8,
}

/// Numbered input commands not yet acknowledged by the server.
#[derive(Debug, Clone)]
pub struct InputHistory {
    last_seq: InputSeq,
    acked: InputSeq,
    unacked: VecDeque<InputCmd>,
    capacity: usize,
}

impl InputHistory {
    /// A history that keeps at most `capacity` unacknowledged commands (the oldest are
    /// forgotten beyond that: a server that far behind is reconciled by a snap anyway).
    pub fn new(capacity: usize) -> InputHistory {
        InputHistory {
            last_seq: InputSeq(0),
            acked: InputSeq(0),
            unacked: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Numbers an intent as the next command, made while the client rendered `view_tick`.
    pub fn push(&mut self, intent: Intent, view_tick: Tick) -> InputCmd {
        self.last_seq = InputSeq(self.last_seq.0 + 1);
        let cmd = InputCmd {
            seq: self.last_seq,
            move_x: intent.move_x,
            move_y: intent.move_y,
            aim: intent.aim,
            buttons: intent.buttons,
            view_tick,
        };
        if self.unacked.len() == self.capacity {
            self.unacked.pop_front();
        }
        self.unacked.push_back(cmd);
        cmd
    }

    /// Forgets every command up to and including `seq` (the server has applied them).
    pub fn acknowledge(&mut self, seq: InputSeq) {
        if seq <= self.acked {
            return;
        }
        self.acked = seq;
        while self.unacked.front().is_some_and(|c| c.seq <= seq) {
            self.unacked.pop_front();
        }
    }

    /// The last acknowledged sequence number.
    pub fn acknowledged(&self) -> InputSeq {
        self.acked
    }

    /// The last sequence number handed out.
    pub fn last_seq(&self) -> InputSeq {
        self.last_seq
    }

    /// Unacknowledged commands, oldest first.
    pub fn unacked(&self) -> impl Iterator<Item = &InputCmd> {
        self.unacked.iter()
    }

    /// The frame to send now: the newest command and up to `redundancy` unacknowledged ones
    /// before it, oldest first.
    pub fn frame(&self, redundancy: usize) -> ClientMsg {
        let n = self.unacked.len().min(redundancy + 1);
        ClientMsg::Input(
            self.unacked
                .range(self.unacked.len() - n..)
                .copied()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(msg: &ClientMsg) -> Vec<u32> {
        let ClientMsg::Input(cmds) = msg else {
            panic!("not input")
        };
        cmds.iter().map(|c| c.seq.0).collect()
    }

    #[test]
    fn frames_repeat_unacknowledged_commands_oldest_first() {
        let mut h = InputHistory::new(64);
        assert_eq!(seqs(&h.frame(2)), Vec::<u32>::new());
        let c = h.push(Intent::default(), Tick(7));
        assert_eq!((c.seq, c.view_tick), (InputSeq(1), Tick(7)));
        assert_eq!(seqs(&h.frame(2)), vec![1]);
        for _ in 0..4 {
            h.push(Intent::default(), Tick(8));
        }
        assert_eq!(seqs(&h.frame(2)), vec![3, 4, 5]);
        assert_eq!(seqs(&h.frame(0)), vec![5]);
        h.acknowledge(InputSeq(4));
        assert_eq!(seqs(&h.frame(2)), vec![5]);
        h.acknowledge(InputSeq(2)); // stale ack: no effect
        assert_eq!(h.acknowledged(), InputSeq(4));
        assert_eq!(h.unacked().count(), 1);
    }

    #[test]
    fn history_is_bounded() {
        let mut h = InputHistory::new(3);
        for _ in 0..10 {
            h.push(Intent::default(), Tick(0));
        }
        let kept: Vec<u32> = h.unacked().map(|c| c.seq.0).collect();
        assert_eq!(kept, vec![8, 9, 10]);
    }
}
