use super::*;
use tickwire_shared::InputSeq;
use tickwire_shared::rules::Rect;

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
        aim: tickwire_shared::quant::quantize_angle16(aim),
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
