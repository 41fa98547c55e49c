//! The arena on the engine: replicas decoded from the real bytes stay exact through combat,
//! churn and skipped ticks; the scoreboard is replicated state; hitscan kills reach players
//! far away through the board while their view holds only their own body.

use super::*;
use crate::quant::{quantize_angle16, snap_vec};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickwire_engine::EngineConfig;
use tickwire_engine::testing::TestRoom;

type Harness = TestRoom<ArenaGame>;

fn harness(engine: EngineConfig, arena: ArenaConfig) -> Harness {
    TestRoom::new(engine, ArenaGame::new(arena))
}

/// One arena command: movement, aim in radians, buttons.
fn input(h: &mut Harness, id: PlayerId, mx: i8, my: i8, aim: f32, buttons: u8) {
    let lanes = vec![
        i64::from(mx),
        i64::from(my),
        i64::from(quantize_angle16(aim)),
        i64::from(buttons),
    ];
    h.input(id, lanes);
}

fn place(h: &mut Harness, id: PlayerId, x: f32, y: f32) {
    let key = h.room.game().player_key(id).unwrap();
    h.room.game_mut().sim_mut().player_mut(key).unwrap().pos = snap_vec(Vec2::new(x, y));
}

fn open_arena() -> Arena {
    Arena {
        width: 4000.0,
        height: 4000.0,
        obstacles: vec![],
    }
}

#[test]
fn replicas_stay_exact_through_combat_churn_and_skipping() {
    let mut h = harness(
        EngineConfig {
            checksum_interval: 1,
            resume_grace_ticks: 5,
            ..EngineConfig::default()
        },
        ArenaConfig {
            view_radius: 300.0,
            arena: Arena::default().scaled(0.5),
            ..ArenaConfig::default()
        },
    );
    let mut rng = SmallRng::seed_from_u64(7);
    let mut players: Vec<PlayerId> = (0..8).map(|i| h.join(&format!("p{i}"))).collect();
    let mut kills = 0;
    for t in 0..600 {
        if t % 50 == 25 {
            let gone = players.remove(rng.random_range(0..players.len()));
            h.leave(gone);
            players.push(h.join("late"));
        }
        for &id in &players {
            let b = if rng.random_bool(0.3) { 1 } else { 0 }
                | if rng.random_bool(0.05) { 2 } else { 0 };
            input(
                &mut h,
                id,
                rng.random_range(-127..=127),
                rng.random_range(-127..=127),
                rng.random_range(0.0..std::f32::consts::TAU),
                b,
            );
        }
        let skip = players[t % players.len()];
        h.tick_with(|id| id != skip || t % 7 != 0);
        kills += h
            .last
            .values()
            .flat_map(|(s, _)| &s.events)
            .filter(|e| e.kind == KILL)
            .count();
    }
    assert!(kills > 0, "combat happened");
    // The scoreboard is replicated state: every replica agrees with the sim.
    for r in h.replicas.values() {
        for (id, rec) in &r.players {
            let key = h.room.game().player_key(*id).unwrap();
            let p = h.room.game().sim().player(key).unwrap();
            assert_eq!(rec.lanes, vec![i64::from(p.score), i64::from(p.deaths)]);
        }
        assert_eq!(r.players.len(), players.len());
    }
}

#[test]
fn hitscan_and_kills_reach_everyone_and_the_own_body_is_always_in_view() {
    let mut h = harness(
        EngineConfig::default(),
        ArenaConfig {
            arena: open_arena(),
            view_radius: 300.0,
            lag_comp_ms: 0,
            ..ArenaConfig::default()
        },
    );
    let a = h.join("ann");
    let b = h.join("bob");
    let far = h.join("far");
    place(&mut h, a, 1000.0, 1000.0);
    place(&mut h, b, 1100.0, 1000.0);
    place(&mut h, far, 3500.0, 3500.0);
    h.tick();
    for _ in 0..200 {
        input(&mut h, a, 0, 0, 0.0, 2);
        h.tick();
        if h.replicas[&far].players[&b].lanes[scores::deaths] > 0 {
            break;
        }
    }
    let r = &h.replicas[&far];
    assert_eq!(
        r.players[&b].lanes[scores::deaths],
        1,
        "far sees bob's death on the board"
    );
    assert_eq!(r.players[&a].lanes[scores::kills], 1);
    // Far sees only its own body.
    assert_eq!(r.of_kind(BODY).count(), 1);
    let own = r.of_kind(BODY).next().unwrap();
    assert_eq!(own.1[body::player], i64::from(far.0));
}

#[test]
fn a_body_walking_a_straight_line_in_any_direction_costs_nothing_between_its_turns() {
    // A position on the wire grid plus the same step, snapped to the grid, rounds the same way
    // every tick: a straight course moves by the same integers every tick, the observer's
    // extrapolation of it is exact, and after its first updates the walker costs not even its
    // id.
    for (mx, my) in [(127, 0), (127, 127), (90, -40), (-127, 33), (5, 127)] {
        let mut h = harness(
            EngineConfig {
                checksum_interval: 1,
                quiet_ticks: false,
                ..EngineConfig::default()
            },
            ArenaConfig {
                arena: open_arena(),
                view_radius: 5000.0,
                ..ArenaConfig::default()
            },
        );
        let (walker, watcher) = (h.join("walker"), h.join("watcher"));
        place(&mut h, walker, 2000.0, 2000.0);
        place(&mut h, watcher, 1000.0, 1000.0);
        let mut carried = Vec::new();
        for t in 0..60 {
            input(&mut h, walker, mx, my, 0.5, 0);
            input(&mut h, watcher, 0, 0, 0.0, 0);
            h.tick();
            let s = &h.last[&watcher].0;
            let id = h.replicas[&watcher]
                .entities
                .iter()
                .find(|(_, e)| e.kind == BODY && e.lanes[body::player] == i64::from(walker.0))
                .map(|(id, _)| *id)
                .expect("the walker in view");
            if s.updated.iter().any(|u| u.id == id) {
                carried.push(t);
            }
        }
        // Its start (the first tick it moves, and the one after, which sets its course).
        assert!(
            carried.iter().all(|&t| t < 3),
            "({mx}, {my}): updates of the walker at ticks {carried:?}"
        );
    }
}
