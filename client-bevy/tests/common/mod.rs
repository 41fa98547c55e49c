//! Test support shared by the headless Bevy tests: stepping apps until a condition holds, and
//! the arena's `Welcome` for the scripted servers.
#![allow(dead_code)]

use bevy::prelude::*;
use std::time::{Duration, Instant};
use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_server::engine::Game as _;
use tickwire_shared::sync::{PROTOCOL_VERSION, ServerMsg, Welcome, encode_server};
use tickwire_shared::{PlayerId, Tick};

/// The longest any wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(15);
/// Pause between frames, as a frame limiter would (about 200 frames per second).
pub const FRAME: Duration = Duration::from_millis(5);

/// Steps every app one frame at a time until `done` holds; panics with `what` at the deadline.
pub fn run_until(apps: &mut [&mut App], what: &str, mut done: impl FnMut(&mut [&mut App]) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        for app in apps.iter_mut() {
            app.update();
        }
        if done(apps) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(FRAME);
    }
}

/// An arena `Welcome` for player 7 at tick 100, as a real server would send it.
pub fn arena_welcome(resume_token: &str) -> Welcome {
    let game = ArenaGame::new(ArenaConfig::default());
    Welcome {
        protocol_version: PROTOCOL_VERSION,
        player_id: PlayerId(7),
        tick_rate: 30,
        tick: Tick(100),
        checksum_interval: 0,
        resume_token: resume_token.into(),
        resumed: false,
        schema: game.schema(),
        game_config: game.client_config(),
    }
}

/// A server message encoded with the arena's schema.
pub fn encode(msg: &ServerMsg) -> Vec<u8> {
    let mut out = Vec::new();
    encode_server(msg, &tickwire_arena::schema(), &[], &mut out);
    out
}
