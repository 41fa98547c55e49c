//! The arena on the engine (protocol version 2) against the arena's version-1 room, in the
//! same run and the same scenario: a moving player must cost no more bytes on the engine.
//! `cargo test -p tickwire-server --test engine_vs_v1 -- --nocapture` prints the figures.

use glam::Vec2;
use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_server::engine::EngineConfig;
use tickwire_server::engine::testing::TestRoom;
use tickwire_server::room::{Room, RoomConfig, UpdatePolicy};
use tickwire_shared::protocol::InputCmd;
use tickwire_shared::quant::{quantize_angle16, snap_vec};
use tickwire_shared::rules::Arena;
use tickwire_shared::{InputSeq, PlayerId, Tick};

fn open_arena() -> Arena {
    Arena {
        width: 4000.0,
        height: 4000.0,
        obstacles: vec![],
    }
}

/// Mean snapshot bytes for the observer among `n` players moving and turning in a disc of
/// radius 950 (view radius 1000, so everyone is in view): (engine, version 1).
fn bytes_per_snapshot(n: usize) -> (usize, usize) {
    let layout = |i: usize| {
        let r = 950.0 * (i as f32 / n as f32).sqrt();
        let a = i as f32 * 2.399_963;
        snap_vec(Vec2::new(2000.0 + r * a.cos(), 2000.0 + r * a.sin()))
    };
    let mut v2 = TestRoom::new(
        EngineConfig::default(),
        ArenaGame::new(ArenaConfig {
            arena: open_arena(),
            view_radius: 1000.0,
            ..ArenaConfig::default()
        }),
    );
    let ids: Vec<PlayerId> = (0..n).map(|i| v2.join(&format!("p{i}"))).collect();
    for (i, &id) in ids.iter().enumerate() {
        let key = v2.room.game().player_key(id).unwrap();
        v2.room.game_mut().sim_mut().player_mut(key).unwrap().pos = layout(i);
    }
    v2.tick();
    let mut v1 = Room::new(RoomConfig {
        arena: open_arena(),
        view_radius: 1000.0,
        max_players: 100,
        update_policy: UpdatePolicy::off(),
        ..RoomConfig::default()
    });
    let ids1: Vec<PlayerId> = (0..n)
        .map(|i| v1.handle_join(&format!("p{i}")).unwrap().player_id)
        .collect();
    for (i, &id) in ids1.iter().enumerate() {
        let key = v1.player_key(id).unwrap();
        v1.sim_mut().player_mut(key).unwrap().pos = layout(i);
    }
    v1.tick(|_| true);
    let (mut total2, mut total1) = (0, 0);
    let ticks = 60;
    for t in 0..ticks {
        for (i, (&id, &id1)) in ids.iter().zip(&ids1).enumerate() {
            let a = (t as f32 * 0.1 + i as f32).sin();
            let (mx, aim) = ((a * 127.0) as i8, quantize_angle16(a));
            v2.input(id, vec![i64::from(mx), 90, i64::from(aim), 0]);
            let cmd = InputCmd {
                seq: InputSeq(t as u32 + 1),
                move_x: mx,
                move_y: 90,
                aim,
                buttons: 0,
                view_tick: Tick(0),
            };
            v1.handle_inputs(id1, &[cmd]);
        }
        v2.tick();
        total2 += v2.last[&ids[0]].1;
        let out = v1.tick(|_| true);
        total1 += out
            .messages
            .iter()
            .find(|m| m.0 == ids1[0])
            .unwrap()
            .1
            .len();
    }
    (total2 / ticks, total1 / ticks)
}

#[test]
fn a_moving_player_costs_no_more_on_the_engine_than_under_protocol_v1() {
    for n in [10usize, 50] {
        let (v2, v1) = bytes_per_snapshot(n);
        eprintln!(
            "{n} moving players in view: {v2} bytes per snapshot on the engine (v2), {v1} (v1)"
        );
        assert!(v2 * 10 <= v1 * 11, "{n} players: {v2} vs {v1} bytes");
        assert!(v2 >= 4 * n, "{n} players: everyone moves: {v2} bytes");
    }
}
