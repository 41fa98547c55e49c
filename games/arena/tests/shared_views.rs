//! Clients who hold and see the whole world share one encoding of each tick's entity changes
//! (`EngineConfig::share_views`), each getting it with its own entities' updates put in: the
//! bytes are exactly those of each client walking the world itself. 24 arena bots (the load
//! tester's mixed brains, each playing from its own replica; combat, respawns, projectiles
//! created and removed) in an arena they all see, joining over the first 100 ticks, each
//! skipping one tick in ten, for 600 ticks, with sharing on and off: every frame the same.
use std::collections::BTreeMap;
use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_engine::{EngineConfig, Room};
use tickwire_shared::sync::{InputCmd, Replica, ServerMsg, decode_server};
use tickwire_shared::{InputSeq, PlayerId};

const PLAYERS: usize = 24;
const TICKS: u32 = 600;

/// Every frame each client got, in order, and how many snapshots came from the shared
/// encoding.
fn play(share: bool) -> (Vec<(u32, PlayerId, Vec<u8>)>, u32) {
    let config = EngineConfig {
        max_players: PLAYERS + 1,
        checksum_interval: 10,
        share_views: share,
        ..EngineConfig::default()
    };
    let game = ArenaGame::new(ArenaConfig {
        view_radius: 10_000.0,
        ..ArenaConfig::default()
    });
    let mut room = Room::new(config, game);
    let mut bots = BTreeMap::new();
    let (mut frames, mut shared) = (Vec::new(), 0);
    for t in 0..TICKS {
        if t % 4 == 0 && bots.len() < PLAYERS {
            let i = bots.len();
            let j = room.handle_join(&format!("bot{i}"), None).unwrap();
            let Ok(ServerMsg::Welcome(w)) = decode_server(&j.welcome, None, &[]) else {
                panic!("a welcome")
            };
            let brain = tickwire_arena::bot::brain("mixed", i, 11).unwrap();
            bots.insert(j.player_id, (Replica::new(&w), brain, 0u32));
        }
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
        let out = room.tick(|p| (p.0 + t) % 10 != 0);
        shared += out.shared_views;
        for (id, bytes) in out.messages {
            let (r, ..) = bots.get_mut(&id).unwrap();
            if let ServerMsg::Snapshot(s) = r.decode(&bytes).expect("a frame decodes") {
                r.apply(&s)
                    .expect("a snapshot applies and its checksum holds");
            }
            frames.push((t, id, bytes));
        }
    }
    (frames, shared)
}

#[test]
fn shared_views_write_the_same_bytes_as_each_client_alone() {
    let (alone, none) = play(false);
    let (shared, used) = play(true);
    assert_eq!(none, 0);
    assert_eq!(shared.len(), alone.len());
    for (a, b) in alone.iter().zip(&shared) {
        assert!(a == b, "tick {}, client {}: another frame", a.0, a.1.0);
    }
    eprintln!("{used} of {} snapshots shared", alone.len());
    // Most snapshots come from the shared encoding (not those after a skipped tick, nor the
    // ones that create a client's own entities).
    assert!(
        used as usize > alone.len() / 2,
        "{used} of {} snapshots shared",
        alone.len()
    );
}
