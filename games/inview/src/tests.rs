//! Deterministic tests: the generator, spawns, straight courses, the field's edges, the bots'
//! courses, and both encodings over the real bytes (every client's replica checked against
//! the room's checksum each tick).

use super::*;
use tickwire_engine::EngineConfig;
use tickwire_engine::testing::TestRoom;

/// A room of `n` players (joined, no tick yet) whose snapshots all carry a checksum.
fn room(extrapolate: bool, n: usize) -> (TestRoom<InviewGame>, Vec<PlayerId>) {
    let config = EngineConfig {
        max_players: n.max(1),
        checksum_interval: 1,
        ..EngineConfig::default()
    };
    let game = InviewGame::new(InviewConfig {
        extrapolate,
        ..InviewConfig::default()
    });
    let mut t = TestRoom::new(config, game);
    let ids = (0..n).map(|i| t.join(&format!("p{i}"))).collect();
    (t, ids)
}

fn state(t: &TestRoom<InviewGame>, p: PlayerId) -> State {
    *t.room.game().state(p).expect("a player in the room")
}

#[test]
fn mulberry32_gives_the_javascript_numbers() {
    // The first draws of `mulberry32(12345)` and `mulberry32(1)` in the Colyseus rig's JS.
    let mut r = Mulberry32::new(SPAWN_SEED);
    assert_eq!(r.next() * ARENA, 1959.4565355218947);
    assert_eq!(r.next() * ARENA, 613.5045289993286);
    let mut b = Mulberry32::new(1);
    assert_eq!(b.next(), 0.6270739405881613);
    assert_eq!(b.next(), 0.002735721180215478);
}

#[test]
fn players_spawn_from_the_seeded_generator_in_join_order() {
    let (t, ids) = room(true, 5);
    let mut r = Mulberry32::new(SPAWN_SEED);
    for &p in &ids {
        let (x, y) = (ARENA * r.next(), ARENA * r.next());
        let s = state(&t, p);
        assert_eq!(
            (s.x, s.y),
            ((x * 8.0).round() as i64, (y * 8.0).round() as i64)
        );
        assert_eq!((s.angle, s.step), (0, None));
    }
    // The first player: (1959.457, 613.505) on the 1/8 grid.
    assert_eq!((state(&t, ids[0]).x, state(&t, ids[0]).y), (15676, 4908));
    // Every spawn is inside the field.
    let (t, ids) = room(true, 200);
    for p in ids {
        let s = state(&t, p);
        assert!(
            (0..=16000).contains(&s.x) && (0..=16000).contains(&s.y),
            "{s:?}"
        );
    }
}

#[test]
fn a_player_without_input_stands_still() {
    let (mut t, ids) = room(true, 2);
    let before = state(&t, ids[1]);
    for _ in 0..10 {
        t.tick();
    }
    assert_eq!(state(&t, ids[1]), before);
}

#[test]
fn a_straight_course_moves_by_the_same_step_every_tick() {
    let (mut t, ids) = room(true, 3);
    // Player 1 (spawned at 968.4, 1635.9) goes left, player 2 diagonally up and left: one
    // command each, then none (the latest command stays in force).
    t.input(ids[1], input_lanes(std::f64::consts::PI));
    t.input(ids[2], input_lanes(1.25 * std::f64::consts::PI));
    t.tick();
    let game = t.room.game();
    // 200 units/s at 30 Hz is 6.67 units (53.3 eighths) a tick, rounded on each axis.
    assert_eq!(game.step_of(-127, 0), (-53, 0));
    assert_eq!(game.step_of(-90, -90), (-38, -38));
    let mut prev = (state(&t, ids[1]), state(&t, ids[2]));
    for _ in 0..20 {
        t.tick();
        let now = (state(&t, ids[1]), state(&t, ids[2]));
        assert_eq!((now.0.x - prev.0.x, now.0.y - prev.0.y), (-53, 0));
        assert_eq!((now.1.x - prev.1.x, now.1.y - prev.1.y), (-38, -38));
        prev = now;
    }
    // The angle is the aim, in 256 steps a turn.
    assert_eq!(prev.0.angle, 128);
    assert_eq!(prev.1.angle, 160);
    // Player 0 never sent anything.
    assert_eq!(state(&t, ids[0]).step, None);
}

#[test]
fn positions_are_clamped_at_the_field_edge() {
    let (mut t, ids) = room(true, 1);
    // Player 0 spawns at x = 1959.46 (15676 eighths), 324 eighths from the right edge: it
    // reaches the edge in 7 ticks of 53 and stays there, its y unchanged.
    t.input(ids[0], input_lanes(0.0));
    let y = state(&t, ids[0]).y;
    let mut xs = Vec::new();
    for _ in 0..10 {
        t.tick();
        xs.push(state(&t, ids[0]).x);
    }
    assert_eq!(
        xs,
        [
            15729, 15782, 15835, 15888, 15941, 15994, 16000, 16000, 16000, 16000
        ]
    );
    assert_eq!(state(&t, ids[0]).y, y);
    // Then up (−y) into the top edge: y = 0 and x stays at the right edge.
    t.input(ids[0], input_lanes(1.5 * std::f64::consts::PI));
    for _ in 0..200 {
        t.tick();
    }
    let s = state(&t, ids[0]);
    assert_eq!((s.x, s.y), (16000, 0));
}

#[test]
fn bot_courses_turn_every_thirty_inputs_from_their_own_seed() {
    let (mut c, phase) = BotCourse::new(0);
    assert_eq!(phase, 0.6270739405881613);
    let first = input_lanes(TAU * 0.002735721180215478);
    for _ in 0..TURN_EVERY {
        assert_eq!(c.next_input(), first.as_slice());
    }
    let second = c.next_input().to_vec();
    assert_ne!(second, first);
    for _ in 1..TURN_EVERY {
        assert_eq!(c.next_input(), second.as_slice());
    }
    // Another bot, another course; the same bot, the same course.
    let (mut d, phase_d) = BotCourse::new(1);
    assert_ne!(phase_d, phase);
    assert_ne!(d.next_input(), first.as_slice());
    let (mut again, _) = BotCourse::new(0);
    assert_eq!(again.next_input(), first.as_slice());
}

#[test]
fn input_lanes_are_a_unit_direction_and_the_aim() {
    assert_eq!(input_lanes(0.0), [127, 0, 0]);
    assert_eq!(input_lanes(std::f64::consts::FRAC_PI_2), [0, 127, 16384]);
    assert_eq!(input_lanes(std::f64::consts::PI), [-127, 0, 32768]);
    assert_eq!(input_lanes(-std::f64::consts::FRAC_PI_2), [0, -127, 49152]);
    assert_eq!(input_lanes(TAU), [127, 0, 0]);
}

#[test]
fn the_schemas_differ_only_in_the_encoding_flags() {
    let x = schema(true);
    let p = schema(false);
    assert_eq!(x.validate(), Ok(()));
    assert_eq!(p.validate(), Ok(()));
    let (xf, pf) = (&x.kinds[0].fields, &p.kinds[0].fields);
    assert_eq!(xf.len(), player::COUNT);
    for (a, b) in xf.iter().zip(pf) {
        assert_eq!((&a.name, a.ty, a.interp), (&b.name, b.ty, b.interp));
        assert!(!b.extrapolate);
    }
    let names = |f: &[FieldDesc], pick: fn(&FieldDesc) -> bool| -> Vec<String> {
        f.iter()
            .filter(|f| pick(f))
            .map(|f| f.name.clone())
            .collect()
    };
    assert_eq!(names(xf, |f| f.extrapolate), ["x", "y", "angle"]);
    assert_eq!(names(pf, |f| f.delta), ["x", "y"]);
    assert_eq!(x.input, input_fields());
}

/// Everyone heads for the centre (no wall within reach) on one command; returns the
/// snapshots' update counts and sizes per tick, for player 0.
fn run_straight(extrapolate: bool, n: usize, ticks: usize) -> Vec<(usize, usize)> {
    let (mut t, ids) = room(extrapolate, n);
    for &p in &ids {
        let s = state(&t, p);
        let c = (ARENA * SCALE as f64 / 2.0) as i64;
        let a = ((c - s.y) as f64).atan2((c - s.x) as f64);
        t.input(p, input_lanes(a));
    }
    let mut seen = Vec::new();
    for _ in 0..ticks {
        t.tick(); // every client's replica applies its bytes and checks the checksum
        let (snap, bytes) = &t.last[&ids[0]];
        seen.push((snap.updated.len(), *bytes));
        // The replica holds the room's truth.
        let r = &t.replicas[&ids[0]];
        for &p in &ids {
            let s = state(&t, p);
            let e = &r.entities[&s.id];
            assert_eq!(
                &e.lanes[..],
                &[i64::from(p.0), s.x, s.y, s.angle, HEALTH, 0][..]
            );
        }
    }
    seen
}

#[test]
fn on_a_straight_course_extrapolated_players_cost_nothing() {
    let n = 40;
    let x = run_straight(true, n, 8);
    // Tick 1 creates everyone; tick 2 carries each player's first step (its course); from
    // tick 3 on nobody leaves their course: no update at all, only the header and checksum.
    assert_eq!(x[0].0, 0);
    assert_eq!(x[1].0, n);
    for &(updates, bytes) in &x[2..] {
        assert_eq!(updates, 0);
        assert!(bytes <= 12, "{bytes} bytes");
    }
    // The previous encoding sends every moving player's x and y change every tick.
    let p = run_straight(false, n, 8);
    for &(updates, bytes) in &p[1..] {
        assert_eq!(updates, n);
        assert!(bytes > 2 * n, "{bytes} bytes");
    }
}

#[test]
fn a_turn_costs_one_residual_per_axis_then_nothing() {
    let (mut t, ids) = room(true, 2);
    t.input(ids[1], input_lanes(0.5));
    for _ in 0..5 {
        t.tick();
    }
    assert!(t.last[&ids[0]].0.updated.is_empty());
    t.input(ids[1], input_lanes(2.0));
    t.tick();
    let (snap, _) = &t.last[&ids[0]];
    assert_eq!(snap.updated.len(), 1);
    // The next tick the angle's jump, taken as a course for one tick, is taken back; the
    // position is on its new course already.
    t.tick();
    assert_eq!(t.last[&ids[0]].0.updated.len(), 1);
    for _ in 0..5 {
        t.tick();
        assert!(t.last[&ids[0]].0.updated.is_empty());
    }
}
