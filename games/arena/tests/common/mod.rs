//! Arena bots in process for the engine's tests: the load tester's brains, each playing from
//! its own replica of the bytes it was sent.
use std::collections::BTreeMap;
use tickwire_arena::ArenaGame;
use tickwire_engine::{Room, TickOutput};
use tickwire_shared::sync::bot::BotBrain;
use tickwire_shared::sync::{InputCmd, Replica, ServerMsg, decode_server};
use tickwire_shared::{InputSeq, PlayerId};

/// Each bot's replica, brain and last command's seq.
pub type Bots = BTreeMap<PlayerId, (Replica, Box<dyn BotBrain>, u32)>;

/// Joins bot number `i` (the `mixed` brain seeded with `seed`).
pub fn join(room: &mut Room<ArenaGame>, bots: &mut Bots, i: usize, seed: u64) {
    let j = room.handle_join(&format!("bot{i}"), None).unwrap();
    let Ok(ServerMsg::Welcome(w)) = decode_server(&j.welcome, None, &[]) else {
        panic!("a welcome")
    };
    let brain = tickwire_arena::bot::brain("mixed", i, seed).unwrap();
    bots.insert(j.player_id, (Replica::new(&w), brain, 0));
}

/// One tick: every bot's command, the room's tick (`ready` says who takes a frame), every
/// frame of a bot decoded and applied (its checksum checked); returns the output and every
/// frame.
pub fn tick(
    room: &mut Room<ArenaGame>,
    bots: &mut Bots,
    ready: impl FnMut(PlayerId) -> bool,
) -> (TickOutput, Vec<(PlayerId, Vec<u8>)>) {
    for (id, (r, brain, seq)) in bots.iter_mut() {
        *seq += 1;
        let lanes = brain.next_input(r, 30.0);
        let cmd = InputCmd {
            seq: InputSeq(*seq),
            view_tick: r.tick,
            lanes,
        };
        room.handle_inputs(*id, vec![cmd]);
    }
    let mut out = room.tick(ready);
    let frames = std::mem::take(&mut out.messages);
    for (id, bytes) in &frames {
        // Frames for clients the caller plays itself are its own to apply.
        let Some((r, ..)) = bots.get_mut(id) else {
            continue;
        };
        if let ServerMsg::Snapshot(s) = r.decode(bytes).expect("a frame decodes") {
            r.apply(&s)
                .expect("a snapshot applies and its checksum holds");
        }
    }
    (out, frames)
}
