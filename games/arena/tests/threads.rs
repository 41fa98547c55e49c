//! A room builds its clients' snapshots on every thread of the rayon pool it ticks in, and
//! the bytes are the same whatever the number of threads: 48 arena bots (the load tester's
//! mixed brains, each playing from its own replica, checksums every 10 ticks) for 1,000 ticks,
//! every client on a byte budget tight enough to hold updates back, and each client skipping
//! one tick in seven (its copied baseline). Run with 1, 2 and 4 threads: every frame of every
//! client is the same, byte for byte, in the same order.
mod common;

use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_engine::{EngineConfig, Room};
use tickwire_shared::PlayerId;

const PLAYERS: usize = 48;
const TICKS: u32 = 1000;

/// Every frame each client got, in order: (tick, client, bytes); and on how many ticks the
/// snapshots were built on more than one thread.
fn play(threads: usize) -> (Vec<(u32, PlayerId, Vec<u8>)>, u32) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let config = EngineConfig {
            max_players: PLAYERS + 1,
            checksum_interval: 10,
            client_budget: Some(1500),
            ..EngineConfig::default()
        };
        let mut room = Room::new(config, ArenaGame::new(ArenaConfig::default()));
        let mut bots = common::Bots::new();
        for i in 0..PLAYERS {
            common::join(&mut room, &mut bots, i, 7);
        }
        let (mut frames, mut parallel, mut held) = (Vec::new(), 0, 0);
        for t in 0..TICKS {
            let (out, got) = common::tick(&mut room, &mut bots, |p| (p.0 + t) % 7 != 0);
            parallel += u32::from(out.threads > 1);
            held += out.updates_held;
            assert!(out.threads <= threads);
            frames.extend(got.into_iter().map(|(id, bytes)| (t, id, bytes)));
        }
        assert!(held > 0, "the budget held updates back");
        (frames, parallel)
    })
}

#[test]
fn snapshots_are_the_same_bytes_on_any_number_of_threads() {
    let (one, parallel) = play(1);
    assert_eq!(parallel, 0, "one thread builds everything on one thread");
    for threads in [2, 4] {
        let (many, parallel) = play(threads);
        // 48 clients, about 41 due a snapshot each tick: always over the parallel threshold.
        assert_eq!(parallel, TICKS, "{threads} threads: every tick split");
        assert_eq!(many.len(), one.len(), "{threads} threads: as many frames");
        for (a, b) in one.iter().zip(&many) {
            assert!(
                a == b,
                "tick {}, client {}: another frame with {threads} threads",
                a.0,
                a.1.0
            );
        }
    }
}
