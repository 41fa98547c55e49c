//! The arena on the engine: replicas decoded from the real bytes stay exact through combat,
//! churn and skipped ticks; the scoreboard is replicated state; and a moving player costs no
//! more bytes than under protocol version 1, measured side by side in the same run.

use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickwire_server::engine::{EngineConfig, Room, TickOutput};
use tickwire_server::room::{Room as RoomV1, RoomConfig, UpdatePolicy};
use tickwire_shared::quant::{quantize_angle16, snap_vec};
use tickwire_shared::sync::{Replica, ServerMsg, Snapshot, decode_server};
use tickwire_shared::{InputSeq, Tick};

struct Harness {
    room: Room<ArenaGame>,
    replicas: BTreeMap<PlayerId, Replica>,
    seqs: BTreeMap<PlayerId, u32>,
    last: BTreeMap<PlayerId, (Snapshot, usize)>,
}

impl Harness {
    fn new(engine: EngineConfig, arena: ArenaConfig) -> Harness {
        Harness {
            room: Room::new(engine, ArenaGame::new(arena)),
            replicas: BTreeMap::new(),
            seqs: BTreeMap::new(),
            last: BTreeMap::new(),
        }
    }

    fn join(&mut self, name: &str) -> PlayerId {
        let j = self.room.handle_join(name, None).unwrap();
        let ServerMsg::Welcome(w) = decode_server(&j.welcome, None, &|_| None).unwrap() else {
            panic!("not a welcome")
        };
        self.replicas.insert(j.player_id, Replica::new(&w));
        self.seqs.insert(j.player_id, 0);
        j.player_id
    }

    fn input(&mut self, id: PlayerId, mx: i8, my: i8, aim: f32, buttons: u8) {
        let seq = self.seqs.get_mut(&id).unwrap();
        *seq += 1;
        let cmd = InputCmd {
            seq: InputSeq(*seq),
            view_tick: self.room.tick_count(),
            lanes: vec![
                i64::from(mx),
                i64::from(my),
                i64::from(quantize_angle16(aim)),
                i64::from(buttons),
            ],
        };
        self.room.handle_inputs(id, vec![cmd]);
    }

    fn place(&mut self, id: PlayerId, x: f32, y: f32) {
        let key = self.room.game().player_key(id).unwrap();
        self.room.game_mut().sim_mut().player_mut(key).unwrap().pos = snap_vec(Vec2::new(x, y));
    }

    fn tick_with(&mut self, ready: impl FnMut(PlayerId) -> bool) -> TickOutput {
        let out = self.room.tick(ready);
        for (id, bytes) in &out.messages {
            let r = self.replicas.get_mut(id).unwrap();
            let ServerMsg::Snapshot(s) = r.decode(bytes).unwrap() else {
                panic!("not a snapshot")
            };
            r.apply(&s).unwrap();
            self.last.insert(*id, (s, bytes.len()));
        }
        out
    }

    fn tick(&mut self) {
        self.tick_with(|_| true);
    }
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
    let mut h = Harness::new(
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
            h.room.handle_leave(gone);
            h.replicas.remove(&gone);
            players.push(h.join("late"));
        }
        for &id in &players {
            let b = if rng.random_bool(0.3) { 1 } else { 0 }
                | if rng.random_bool(0.05) { 2 } else { 0 };
            h.input(
                id,
                rng.random_range(-127..=127),
                rng.random_range(-127..=127),
                rng.random_range(0.0..6.28),
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

/// Mean snapshot bytes for the observer among `n` players moving and turning in a disc
/// (everyone in view), under the engine and under the version-1 room, same scenario.
fn bytes_per_snapshot(n: usize) -> (usize, usize) {
    let spread = 950.0;
    let layout = |i: usize| {
        let r = spread * (i as f32 / n as f32).sqrt();
        let a = i as f32 * 2.399_963;
        (2000.0 + r * a.cos(), 2000.0 + r * a.sin())
    };
    let mut h = Harness::new(
        EngineConfig::default(),
        ArenaConfig {
            arena: open_arena(),
            view_radius: 1000.0,
            ..ArenaConfig::default()
        },
    );
    let ids: Vec<PlayerId> = (0..n).map(|i| h.join(&format!("p{i}"))).collect();
    for (i, &id) in ids.iter().enumerate() {
        let (x, y) = layout(i);
        h.place(id, x, y);
    }
    h.tick();
    let mut v1 = RoomV1::new(RoomConfig {
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
        let (x, y) = layout(i);
        let key = v1.player_key(id).unwrap();
        v1.sim_mut().player_mut(key).unwrap().pos = snap_vec(Vec2::new(x, y));
    }
    v1.tick(|_| true);
    let (mut total, mut total1) = (0, 0);
    let ticks = 60;
    for t in 0..ticks {
        for (i, (&id, &id1)) in ids.iter().zip(&ids1).enumerate() {
            let a = (t as f32 * 0.1 + i as f32).sin();
            h.input(id, (a * 127.0) as i8, 90, a, 0);
            let cmd = ArenaCmd {
                seq: InputSeq(t as u32 + 1),
                move_x: (a * 127.0) as i8,
                move_y: 90,
                aim: quantize_angle16(a),
                buttons: 0,
                view_tick: Tick(0),
            };
            v1.handle_inputs(id1, &[cmd]);
        }
        h.tick();
        total += h.last[&ids[0]].1;
        let out = v1.tick(|_| true);
        total1 += out
            .messages
            .iter()
            .find(|m| m.0 == ids1[0])
            .unwrap()
            .1
            .len();
    }
    (total / ticks, total1 / ticks)
}

#[test]
fn a_moving_player_costs_no_more_than_under_protocol_v1() {
    for n in [10usize, 50] {
        let (v2, v1) = bytes_per_snapshot(n);
        eprintln!("{n} moving players in view: {v2} bytes per snapshot (engine, v2), {v1} (v1)");
        assert!(v2 * 10 <= v1 * 11, "{n} players: {v2} vs {v1} bytes");
        assert!(v2 >= 4 * n, "{n} players: everyone moves: {v2} bytes");
    }
}

#[test]
fn hitscan_and_kills_reach_everyone_and_the_own_body_is_always_in_view() {
    let mut h = Harness::new(
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
    h.place(a, 1000.0, 1000.0);
    h.place(b, 1100.0, 1000.0);
    h.place(far, 3500.0, 3500.0);
    h.tick();
    for _ in 0..200 {
        h.input(a, 0, 0, 0.0, 2);
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
