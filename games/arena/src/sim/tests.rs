use super::*;
use crate::rules::Rect;
use tickwire_shared::InputSeq;

fn open_arena() -> Arena {
    Arena {
        width: 1000.0,
        height: 1000.0,
        obstacles: vec![Rect::new(600.0, 0.0, 50.0, 1000.0)],
    }
}

fn cmd(seq: u32, mx: i8, my: i8, aim: f32, fire: bool) -> InputCmd {
    InputCmd {
        seq: InputSeq(seq),
        move_x: mx,
        move_y: my,
        aim: crate::quant::quantize_angle16(aim),
        buttons: if fire { buttons::FIRE } else { 0 },
        view_tick: Tick(0),
    }
}

fn sim_with(n: u32) -> (Sim, Vec<PlayerKey>) {
    let mut sim = Sim::new(open_arena(), Rules::at_tick_rate(30), 7);
    let keys = (0..n)
        .map(|i| sim.add_player(PlayerId(i + 1), format!("p{i}")))
        .collect();
    (sim, keys)
}

fn place(sim: &mut Sim, k: PlayerKey, x: f32, y: f32) {
    sim.player_mut(k).unwrap().pos = Vec2::new(x, y);
}

#[test]
fn players_spawn_clear_of_obstacles_and_each_other() {
    let (sim, keys) = sim_with(20);
    for &k in &keys {
        let p = sim.player(k).unwrap();
        assert!(sim.arena().is_clear(p.pos, 16.0), "{:?}", p.pos);
        for &o in &keys {
            if o != k {
                assert!(p.pos.distance(sim.player(o).unwrap().pos) >= 32.0);
            }
        }
    }
}

#[test]
fn movement_is_blocked_by_obstacles_and_bounds() {
    let (mut sim, keys) = sim_with(1);
    place(&mut sim, keys[0], 500.0, 500.0);
    for s in 0..60 {
        sim.apply_input(keys[0], &cmd(s + 1, 127, 0, 0.0, false));
        sim.step();
    }
    assert_eq!(sim.player(keys[0]).unwrap().pos, Vec2::new(584.0, 500.0));
    for s in 0..200 {
        sim.apply_input(keys[0], &cmd(s + 61, 0, 127, 0.0, false));
        sim.step();
    }
    assert_eq!(sim.player(keys[0]).unwrap().pos.y, 984.0);
}

#[test]
fn overlapping_players_are_pushed_apart() {
    let (mut sim, keys) = sim_with(2);
    place(&mut sim, keys[0], 300.0, 300.0);
    place(&mut sim, keys[1], 310.0, 300.0);
    sim.step();
    let (a, b) = (
        sim.player(keys[0]).unwrap().pos,
        sim.player(keys[1]).unwrap().pos,
    );
    assert!(a.distance(b) >= 31.9, "{a} {b}");
    assert!(a.x < 300.0 && b.x > 310.0);
}

#[test]
fn fire_respects_cooldown_and_projectiles_expire() {
    let (mut sim, keys) = sim_with(1);
    place(&mut sim, keys[0], 100.0, 100.0);
    let mut spawned = 0;
    let mut despawned = 0;
    let cooldown = u32::from(sim.rules().fire_cooldown_ticks);
    let lifetime = u32::from(sim.rules().projectile_lifetime_ticks);
    for s in 0..cooldown * 3 {
        // Aim down the open column x = 100 so nothing blocks the shots.
        sim.apply_input(
            keys[0],
            &cmd(s + 1, 0, 0, std::f32::consts::FRAC_PI_2, true),
        );
        sim.step();
        for e in sim.drain_events() {
            match e {
                SimEvent::ProjectileSpawned(_) => spawned += 1,
                SimEvent::ProjectileDespawned(_) => despawned += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(spawned, 3, "one shot per cooldown");
    for _ in 0..lifetime + 1 {
        sim.step();
        despawned += sim
            .drain_events()
            .filter(|e| matches!(e, SimEvent::ProjectileDespawned(_)))
            .count();
    }
    assert_eq!(despawned, 3);
    assert!(sim.projectiles().is_empty());
}

#[test]
fn projectiles_stop_at_obstacles() {
    let (mut sim, keys) = sim_with(1);
    place(&mut sim, keys[0], 560.0, 500.0);
    sim.apply_input(keys[0], &cmd(1, 0, 0, 0.0, true));
    sim.step();
    sim.step();
    assert!(
        sim.projectiles().is_empty(),
        "hit the wall at x=600 within two ticks"
    );
}

#[test]
fn hits_kill_score_and_respawn() {
    let (mut sim, keys) = sim_with(2);
    let (shooter, victim) = (keys[0], keys[1]);
    place(&mut sim, shooter, 100.0, 500.0);
    place(&mut sim, victim, 300.0, 500.0);
    let hits_to_kill = 100u32.div_ceil(u32::from(sim.rules().projectile_damage));
    let mut events = Vec::new();
    for s in 0..200 {
        sim.apply_input(shooter, &cmd(s + 1, 0, 0, 0.0, true));
        sim.step();
        events.extend(sim.drain_events().filter(|e| {
            !matches!(
                e,
                SimEvent::ProjectileSpawned(_) | SimEvent::ProjectileDespawned(_)
            )
        }));
        if events.iter().any(|e| matches!(e, SimEvent::Respawn(_))) {
            break;
        }
    }
    let (sid, vid) = (
        sim.player(shooter).unwrap().id,
        sim.player(victim).unwrap().id,
    );
    assert_eq!(
        events,
        vec![
            SimEvent::Kill {
                killer: sid,
                victim: vid
            },
            SimEvent::Respawn(vid)
        ]
    );
    let v = sim.player(victim).unwrap();
    assert!(v.alive);
    assert_eq!(v.health, 100);
    assert_eq!(v.deaths, 1);
    assert_eq!(v.respawns, 1);
    assert_eq!(sim.player(shooter).unwrap().score, 1);
    assert!(hits_to_kill == 4);
}

#[test]
fn dead_players_ignore_input_and_are_not_hit() {
    let (mut sim, keys) = sim_with(2);
    place(&mut sim, keys[1], 300.0, 300.0);
    sim.damage(keys[1], keys[0], PlayerId(1), 255);
    assert!(!sim.player(keys[1]).unwrap().alive);
    sim.apply_input(keys[1], &cmd(1, 127, 0, 0.0, true));
    assert_eq!(sim.player(keys[1]).unwrap().pos, Vec2::new(300.0, 300.0));
    assert!(sim.projectiles().is_empty());
}

#[test]
fn same_seed_same_world() {
    let run = || {
        let (mut sim, keys) = sim_with(6);
        for s in 0..300u32 {
            for (i, &k) in keys.iter().enumerate() {
                let a = (s as f32 * 0.05 + i as f32).sin();
                sim.apply_input(
                    k,
                    &cmd(s + 1, (a * 127.0) as i8, 60, s as f32 * 0.1, s % 3 == 0),
                );
            }
            sim.step();
        }
        keys.iter()
            .map(|&k| sim.player(k).unwrap().wire_state())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

fn alt_fire(seq: u32, aim: f32, view_tick: u32) -> InputCmd {
    InputCmd {
        buttons: buttons::ALT_FIRE,
        view_tick: Tick(view_tick),
        ..cmd(seq, 0, 0, aim, false)
    }
}

fn hitscans(sim: &mut Sim) -> Vec<SimEvent> {
    sim.drain_events()
        .filter(|e| matches!(e, SimEvent::Hitscan { .. }))
        .collect()
}

#[test]
fn hitscan_hits_the_nearest_body_is_blocked_by_walls_and_has_a_cooldown() {
    let (mut sim, keys) = sim_with(3);
    let (shooter, near, far) = (keys[0], keys[1], keys[2]);
    place(&mut sim, shooter, 100.0, 500.0);
    place(&mut sim, near, 300.0, 505.0);
    place(&mut sim, far, 500.0, 500.0);
    sim.step();
    sim.drain_events().for_each(drop);
    sim.apply_input(shooter, &alt_fire(1, 0.0, 0));
    let got = hitscans(&mut sim);
    let ids = |k| sim.player(k).unwrap().id;
    assert_eq!(got.len(), 1);
    let SimEvent::Hitscan {
        shooter: s,
        from,
        to,
        victim,
    } = got[0]
    else {
        unreachable!()
    };
    assert_eq!((s, victim), (ids(shooter), Some(ids(near))));
    assert_eq!(from, Vec2::new(100.0, 500.0));
    assert!(
        (to.x - (300.0 - 15.2)).abs() < 0.2,
        "stops at the body: {to}"
    );
    assert_eq!(sim.player(near).unwrap().health, 100 - 34);
    assert_eq!(sim.player(far).unwrap().health, 100);

    // Cooldown: a second shot at once does nothing.
    sim.apply_input(shooter, &alt_fire(2, 0.0, 0));
    assert!(hitscans(&mut sim).is_empty());

    // Past the cooldown, with the near body out of the way, a wall (x = 600) stops the ray
    // before a body behind it.
    place(&mut sim, near, 300.0, 900.0);
    place(&mut sim, far, 700.0, 500.0);
    for _ in 0..sim.rules().hitscan_cooldown_ticks {
        sim.step();
    }
    sim.apply_input(shooter, &alt_fire(3, 0.0, 0));
    let got = hitscans(&mut sim);
    let SimEvent::Hitscan { to, victim, .. } = got[0] else {
        unreachable!()
    };
    assert_eq!(victim, None);
    assert!((to.x - 600.0).abs() < 0.01, "{to}");
    assert_eq!(sim.player(far).unwrap().health, 100);
}

/// A target walking down past a shooter; returns the sim at tick 20 and where the target was
/// at each tick.
fn walking_target(lag_comp_ticks: u32) -> (Sim, PlayerKey, PlayerKey, Vec<Vec2>) {
    let (mut sim, keys) = sim_with(2);
    sim.set_lag_compensation(lag_comp_ticks);
    place(&mut sim, keys[0], 100.0, 500.0);
    place(&mut sim, keys[1], 400.0, 100.0);
    let mut path = vec![Vec2::ZERO; 21];
    path[0] = sim.player(keys[1]).unwrap().pos;
    for s in 0..20 {
        sim.apply_input(keys[1], &cmd(s + 1, 0, 127, 0.0, false));
        sim.step();
        path[sim.tick().0 as usize] = sim.player(keys[1]).unwrap().pos;
    }
    sim.drain_events().for_each(drop);
    (sim, keys[0], keys[1], path)
}

fn shoot_at(sim: &mut Sim, shooter: PlayerKey, at: Vec2, view_tick: u32) -> Option<PlayerId> {
    let from = sim.player(shooter).unwrap().pos;
    let d = at - from;
    sim.apply_input(shooter, &alt_fire(1, d.y.atan2(d.x), view_tick));
    match hitscans(sim).as_slice() {
        [SimEvent::Hitscan { victim, .. }] => *victim,
        other => panic!("{other:?}"),
    }
}

#[test]
fn lag_compensation_resolves_shots_where_the_shooter_saw_the_target() {
    // The target moves 7.3 units a tick: 5 ticks ago it was 37 units from where it is now,
    // more than a body's width.
    let (mut sim, shooter, target, path) = walking_target(8);
    assert!(path[15].distance(path[20]) > 32.0);
    let hit = shoot_at(&mut sim, shooter, path[15], 15);
    assert_eq!(hit, Some(sim.player(target).unwrap().id));
    assert_eq!(sim.player(target).unwrap().health, 66);

    // Without lag compensation the same shot misses.
    let (mut sim, shooter, _, path) = walking_target(0);
    assert_eq!(shoot_at(&mut sim, shooter, path[15], 15), None);

    // Claiming no view tick (0) resolves against the present.
    let (mut sim, shooter, target, path) = walking_target(8);
    assert_eq!(shoot_at(&mut sim, shooter, path[15], 0), None);
    let (mut sim2, shooter2, _, _) = walking_target(8);
    assert_eq!(
        shoot_at(&mut sim2, shooter2, path[20], 0),
        Some(sim.player(target).unwrap().id)
    );
}

#[test]
fn shots_claiming_a_view_older_than_the_cap_are_clamped() {
    // Cap of 4 ticks at tick 20: the oldest tick a shot can be resolved at is 16.
    let (sim, _, _, _) = walking_target(4);
    let h = sim.position_history();
    assert_eq!(h.rewind_tick(Tick(20), Tick(2)), Tick(16));
    assert_eq!(h.rewind_tick(Tick(20), Tick(18)), Tick(18));
    assert_eq!(
        h.rewind_tick(Tick(20), Tick(25)),
        Tick(20),
        "no shots from the future"
    );
    assert_eq!(h.rewind_tick(Tick(20), Tick(0)), Tick(20));
    assert!(
        h.at(Tick(15)).is_none(),
        "nothing older than the cap is kept"
    );
    assert!(h.at(Tick(16)).is_some());

    // Aimed where the target was at tick 10, claiming tick 10: resolved at 16, a miss.
    let (mut sim, shooter, _, path) = walking_target(4);
    assert_eq!(shoot_at(&mut sim, shooter, path[10], 10), None);
    // Aimed where it was at tick 16 while claiming tick 2: resolved at 16, a hit.
    let (mut sim, shooter, target, path) = walking_target(4);
    assert_eq!(
        shoot_at(&mut sim, shooter, path[16], 2),
        Some(sim.player(target).unwrap().id)
    );
}

#[test]
fn a_body_that_respawned_since_the_view_tick_is_not_hit_where_it_was() {
    // A cap long enough to reach back past the respawn.
    let (mut sim, shooter, target, path) = walking_target(100);
    sim.damage(target, shooter, PlayerId(1), 255);
    for _ in 0..sim.rules().respawn_ticks {
        sim.step();
    }
    assert!(sim.player(target).unwrap().alive);
    assert_eq!(sim.player(target).unwrap().respawns, 1);
    // Its old spot at tick 20, when it was alive there: no hit on the respawned body.
    assert_eq!(shoot_at(&mut sim, shooter, path[20], 20), None);
}
