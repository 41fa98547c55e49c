//! The survival game on the engine, over the real bytes (`TestRoom`: one real client replica
//! per player, checksums every tick): owner-only ammo never reaches another client, zombies
//! replicate exactly, static pickups cost zero bytes once held, waves advance on the room
//! fields, and bots play a whole room.

use super::*;
use crate::rules::quantize_angle16;
use crate::sim::{Item, Pickup};
use std::collections::BTreeSet;
use tickwire_engine::EngineConfig;
use tickwire_engine::testing::TestRoom;
use tickwire_shared::sync::Snapshot;

type Harness = TestRoom<SurvivalGame>;

fn engine() -> EngineConfig {
    EngineConfig {
        checksum_interval: 1,
        ..EngineConfig::default()
    }
}

/// A room on a `size × size` map without waves or pickups of its own: each test adds what it
/// needs.
fn quiet(size: f32, view_radius: f32) -> Harness {
    let mut game = SurvivalGame::new(SurvivalConfig {
        width: size,
        height: size,
        view_radius,
        pickups: 0,
        ..SurvivalConfig::default()
    });
    game.sim_mut().waves_on = false;
    TestRoom::new(engine(), game)
}

fn sim(h: &mut Harness) -> &mut sim::Sim {
    h.room.game_mut().sim_mut()
}

fn place(h: &mut Harness, id: PlayerId, x: f32, y: f32) {
    sim(h).heroes.get_mut(&id).unwrap().pos = rules::snap(Vec2::new(x, y));
}

/// One command: movement, aim in radians, fire, reload.
fn act(h: &mut Harness, id: PlayerId, mx: i64, my: i64, aim: f32, fire: bool, reload: bool) {
    h.input(
        id,
        vec![
            mx,
            my,
            quantize_angle16(aim),
            i64::from(fire),
            i64::from(reload),
        ],
    );
}

/// The hero lanes of `of` as the replica of `viewer` holds them.
fn held_hero(h: &Harness, viewer: PlayerId, of: PlayerId) -> Option<Vec<i64>> {
    let id = h.room.game().hero_of(of)?;
    h.replicas[&viewer]
        .entities
        .get(&id)
        .map(|e| e.lanes.clone())
}

/// Every creation and update of a hero other than `own` in a snapshot, as it was on the wire:
/// (mask, lanes), with a creation's mask all ones and its lanes whole, an update's lanes
/// those of its mask's bits.
fn other_heroes_on_the_wire(s: &Snapshot, own: NetId) -> Vec<(u64, Vec<i64>)> {
    let kinds = schema().kinds;
    let mut out = Vec::new();
    let mut lanes = &s.created_lanes[..];
    for c in &s.created {
        let n = kinds[usize::from(c.kind)].fields.len();
        if c.kind == HERO && c.id != own {
            out.push((u64::MAX, lanes[..n].to_vec()));
        }
        lanes = &lanes[n..];
    }
    let mut lanes = s.updated_lanes.iter();
    for u in &s.updated {
        let changed: Vec<i64> = (0..u.mask.count_ones())
            .map(|_| *lanes.next().unwrap())
            .collect();
        if u.kind == HERO && u.id != own {
            out.push((u.mask, changed));
        }
    }
    out
}

#[test]
fn owner_only_ammo_never_reaches_another_client() {
    let mut h = quiet(1200.0, 800.0);
    let players: Vec<PlayerId> = (0..3).map(|i| h.join(&format!("p{i}"))).collect();
    for (i, p) in players.iter().enumerate() {
        place(&mut h, *p, 400.0 + 100.0 * i as f32, 600.0);
    }
    // Zombies to shoot at, north of the heroes; ammo crates south of them.
    for i in 0..6 {
        sim(&mut h)
            .queued_zombies
            .push(Vec2::new(300.0 + 80.0 * i as f32, 150.0));
    }
    for i in 0..3 {
        let pos = Vec2::new(400.0 + 100.0 * i as f32, 700.0);
        sim(&mut h).queued_pickups.push(Pickup {
            item: Item::AmmoCrate,
            pos,
        });
    }
    h.tick();
    let mut seen = BTreeSet::new();
    let (mut shots, mut crates, mut other_updates) = (0, 0, 0);
    for t in 0..240 {
        for (i, &p) in players.iter().enumerate() {
            // p0 fires and reloads all the time, p1 fires then walks to its crate, p2 only
            // walks to its crate at once.
            let (fire, walk) = match i {
                0 => (true, false),
                1 => (t < 60, (60..75).contains(&t)),
                _ => (false, t < 15),
            };
            let aim = -std::f32::consts::FRAC_PI_2;
            // Everyone sways left and right, so the others' heroes change on the wire too.
            let sway = if (t / 10) % 2 == 0 { 40 } else { -40 };
            act(
                &mut h,
                p,
                sway,
                if walk { 127 } else { 0 },
                aim,
                fire,
                t % 40 == 39,
            );
        }
        h.tick();
        shots += h
            .last
            .values()
            .flat_map(|(s, _)| &s.events)
            .filter(|e| e.kind == SHOT)
            .count();
        for &viewer in &players {
            for &of in &players {
                let real = h.room.game().hero_lanes(of).unwrap();
                let held = held_hero(&h, viewer, of).expect("everyone in view");
                if of == viewer {
                    assert_eq!(held, real, "the owner holds its real ammo");
                    seen.insert((of, real[hero::ammo], real[hero::reserve]));
                } else {
                    assert_eq!((held[hero::ammo], held[hero::reserve]), (0, 0));
                    let mut public = real.clone();
                    (public[hero::ammo], public[hero::reserve]) = (0, 0);
                    assert_eq!(held, public, "everything else is the real value");
                }
            }
            // On the wire: no update of another hero ever carries an ammo or reserve bit, and
            // no creation carries anything but 0 there.
            let (snap, _) = &h.last[&viewer];
            let own = h.room.game().hero_of(viewer).unwrap();
            for (mask, lanes) in other_heroes_on_the_wire(snap, own) {
                if mask == u64::MAX {
                    assert_eq!((lanes[hero::ammo], lanes[hero::reserve]), (0, 0));
                } else {
                    assert_eq!(mask & (1 << hero::ammo | 1 << hero::reserve), 0, "{mask:b}");
                    other_updates += 1;
                }
            }
        }
        crates = 3 - sim(&mut h).pickups.len();
    }
    assert!(shots > 40, "shots were fired: {shots}");
    assert!(
        other_updates > 100,
        "other heroes' updates were checked: {other_updates}"
    );
    assert_eq!(crates, 2, "p1 and p2 took their crates");
    // The hidden lanes really moved, for their owners: shots, reloads and crates.
    let any = |p: PlayerId, f: &dyn Fn(i64, i64) -> bool| {
        seen.iter()
            .any(|&(o, ammo, reserve)| o == p && f(ammo, reserve))
    };
    let (clip, start) = (12, 36);
    assert!(any(players[0], &|a, _| a < clip), "p0 shot: {seen:?}");
    assert!(any(players[0], &|_, r| r < start), "p0 reloaded: {seen:?}");
    assert!(any(players[1], &|a, _| a < clip), "p1 shot: {seen:?}");
    assert!(
        any(players[1], &|_, r| r > start),
        "p1 took a crate: {seen:?}"
    );
    assert!(
        any(players[2], &|_, r| r == start + 24),
        "p2 took a crate: {seen:?}"
    );
}
