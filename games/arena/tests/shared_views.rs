//! Clients who hold and see the whole world share one encoding of each tick's entity changes
//! (`EngineConfig::share_views`), each getting it with its own entities' updates put in: the
//! bytes are exactly those of each client walking the world itself. 24 arena bots (the load
//! tester's mixed brains, each playing from its own replica; combat, respawns, projectiles
//! created and removed) in an arena they all see, joining over the first 100 ticks, each
//! skipping one tick in ten, for 600 ticks, with sharing on and off: every frame the same.
mod common;

use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_engine::{EngineConfig, Room};
use tickwire_shared::PlayerId;

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
    let mut bots = common::Bots::new();
    let (mut frames, mut shared) = (Vec::new(), 0);
    for t in 0..TICKS {
        if t % 4 == 0 && bots.len() < PLAYERS {
            let i = bots.len();
            common::join(&mut room, &mut bots, i, 11);
        }
        let (out, got) = common::tick(&mut room, &mut bots, |p| (p.0 + t) % 10 != 0);
        shared += out.shared_views;
        frames.extend(got.into_iter().map(|(id, bytes)| (t, id, bytes)));
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
