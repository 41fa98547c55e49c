//! The survival game on the engine, over the real bytes (`TestRoom`: one real client replica
//! per player, checksums every tick): owner-only ammo never reaches another client, zombies
//! replicate exactly, static pickups cost zero bytes once held (a walking hero pays only for
//! those crossing the edge of its view), waves advance on the room fields, and bots play a
//! whole room.

use super::*;
use crate::rules::quantize_angle16;
use crate::sim::{Item, Pickup};
use std::collections::{BTreeMap, BTreeSet};
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
    quiet_with(engine(), size, view_radius)
}

/// [`quiet`] with its own engine settings.
fn quiet_with(config: EngineConfig, size: f32, view_radius: f32) -> Harness {
    let mut game = SurvivalGame::new(SurvivalConfig {
        width: size,
        height: size,
        view_radius,
        pickups: 0,
        ..SurvivalConfig::default()
    });
    game.sim_mut().waves_on = false;
    TestRoom::new(config, game)
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

/// The zombies a hero's view holds, as the server has them: within the view radius of the
/// hero (inclusive, as the engine's interest).
fn zombies_in_view(h: &Harness, viewer: PlayerId, r: f32) -> BTreeMap<NetId, Vec<i64>> {
    let sim = h.room.game().sim();
    let c = sim.heroes[&viewer].pos;
    sim.zombies
        .iter()
        .filter(|(_, z)| z.pos.distance_squared(c) <= r * r)
        .map(|(id, z)| (*id, zombie_lanes(z).to_vec()))
        .collect()
}

#[test]
fn zombies_replicate_appear_move_and_die_in_every_view() {
    let r = 400.0;
    let mut h = quiet(2000.0, r);
    let near = [h.join("a"), h.join("b")];
    let far = h.join("far");
    place(&mut h, near[0], 500.0, 1000.0);
    place(&mut h, near[1], 560.0, 1000.0);
    place(&mut h, far, 1700.0, 1000.0);
    // A pack that walks into the near pair's view from the west, one already in it, and one
    // that walks at the far hero from the east.
    for i in 0..5 {
        let p = Vec2::new(20.0, 900.0 + 50.0 * i as f32);
        sim(&mut h).queued_zombies.push(p);
    }
    sim(&mut h).queued_zombies.push(Vec2::new(300.0, 1000.0));
    sim(&mut h).queued_zombies.push(Vec2::new(1990.0, 1000.0));
    h.tick();
    let mut ever_held: BTreeMap<PlayerId, BTreeSet<NetId>> = BTreeMap::new();
    let (mut appeared, mut moved, mut removed_dead, mut kills) = (0, 0, 0, 0);
    for t in 0..300 {
        for &p in near.iter().chain([&far]) {
            let me = h.room.game().sim().heroes[&p].pos;
            let target = h
                .room
                .game()
                .sim()
                .zombies
                .values()
                .map(|z| z.pos)
                .filter(|z| z.distance(me) < 300.0)
                .min_by(|a, b| a.distance(me).total_cmp(&b.distance(me)));
            let aim = target.map_or(0.0, |z| (z - me).to_angle());
            // Shoot only after the pack has come into view, so it is seen walking first.
            act(
                &mut h,
                p,
                0,
                0,
                aim,
                target.is_some() && t > 120,
                t % 30 == 29,
            );
        }
        let before: BTreeMap<PlayerId, BTreeMap<NetId, Vec<i64>>> = h
            .replicas
            .iter()
            .map(|(p, rep)| {
                let z = rep
                    .of_kind(ZOMBIE)
                    .map(|(id, l)| (id, l.to_vec()))
                    .collect();
                (*p, z)
            })
            .collect();
        h.tick();
        for (&p, rep) in &h.replicas {
            let held: BTreeMap<NetId, Vec<i64>> = rep
                .of_kind(ZOMBIE)
                .map(|(id, l)| (id, l.to_vec()))
                .collect();
            assert_eq!(held, zombies_in_view(&h, p, r), "player {p:?} at tick {t}");
            let (snap, _) = &h.last[&p];
            for id in held.keys() {
                match before[&p].get(id) {
                    None => appeared += 1,
                    Some(old) if *old != held[id] => moved += 1,
                    Some(_) => {}
                }
            }
            for id in &snap.removed {
                if before[&p].contains_key(id) && !h.room.game().sim().zombies.contains_key(id) {
                    removed_dead += 1;
                }
            }
            ever_held.entry(p).or_default().extend(held.keys());
        }
        kills = h.room.game().sim().heroes.values().map(|x| x.kills).sum();
    }
    assert!(kills >= 5, "zombies died: {kills}");
    assert!(
        removed_dead >= 5,
        "their deaths reached the replicas: {removed_dead}"
    );
    assert_eq!(appeared, 10, "the pack of 5 walked into both near views");
    assert!(moved > 300, "and moved in them: {moved}");
    // The far hero never saw the western pack, the near pair never saw the eastern zombie.
    assert_eq!(ever_held[&far].len(), 1, "{:?}", ever_held[&far]);
    assert_eq!(ever_held[&near[0]].len(), 6);
    // Zombies have no owner: nobody predicts them and no replica counts one as its own.
    for rep in h.replicas.values() {
        for (_, e) in rep.entities.iter().filter(|(_, e)| e.kind == ZOMBIE) {
            let schema = &rep.schema;
            let own = tickwire_shared::sync::netcode::owned_by_first_player_field;
            assert!(!own(schema, rep.player_id, e));
        }
    }
}

/// Bits a pickup's creation costs on the wire: its lanes, its kind, and its id when it follows
/// the id before it (an Elias-gamma gap of 1: one bit).
fn spawn_bits(lanes: &[i64], kinds: usize) -> usize {
    let mut b = tickwire_shared::sync::bits::Bits::default();
    tickwire_shared::sync::write_spawn(&mut b, &pickup::fields(), lanes, tickwire_shared::Tick(0));
    b.len() + tickwire_shared::sync::kind_bits(kinds) as usize + 1
}

/// The bytes the pickups' creations and removals take in the last snapshot `me` got: its
/// length less that of the same snapshot without them.
fn pickup_share(h: &Harness, me: PlayerId) -> usize {
    let (s, len) = &h.last[&me];
    let r = &h.replicas[&me];
    // What it held before: what it holds less what was created, with what was removed (their
    // kinds do not matter: nothing updates them).
    let mut before: Vec<(NetId, u16)> = r
        .held()
        .into_iter()
        .filter(|(id, _)| !s.created.iter().any(|c| c.id == *id))
        .chain(s.removed.iter().map(|id| (*id, PICKUP)))
        .collect();
    before.sort_unstable();
    let mut without = s.clone();
    without.removed.clear();
    let (mut created, mut lanes, mut at) = (Vec::new(), Vec::new(), 0);
    for c in &s.created {
        let n = r.schema.kinds[usize::from(c.kind)].fields.len();
        if c.kind != PICKUP {
            created.push(*c);
            lanes.extend_from_slice(&s.created_lanes[at..at + n]);
        }
        at += n;
    }
    (without.created, without.created_lanes) = (created, lanes);
    // Without its removals the view keeps those pickups: the updates' skips may pass over them.
    let mut out = Vec::new();
    let msg = tickwire_shared::sync::ServerMsg::Snapshot(without);
    tickwire_shared::sync::encode_server(&msg, &r.schema, &before, &mut out);
    len - out.len()
}

#[test]
fn static_pickups_cost_at_most_one_skip_code_after_creation() {
    const N: usize = 2000;
    // Two rooms alike in everything but where their N pickups lie: in `held` they lie in the
    // measured hero's view all along, in `away` in a far corner no one sees. Pickups take the
    // same wire ids in both, so the bytes of the heroes and zombies are the same in both.
    let room = |offset: f32| {
        // No byte budget: the 2,000 spawns would empty it, and the ticks after would hold
        // updates back to pay for them (the budget's own tests cover that).
        let config = EngineConfig {
            client_budget: None,
            ..engine()
        };
        let mut h = quiet_with(config, 4000.0, 700.0);
        let (me, other) = (h.join("me"), h.join("other"));
        place(&mut h, me, 1000.0, 1000.0);
        place(&mut h, other, 1150.0, 1000.0);
        h.tick();
        for i in 0..N {
            let (col, row) = ((i % 50) as f32, (i / 50) as f32);
            let pos = Vec2::new(700.0 + col * 12.0 + offset, 1100.0 + row * 10.0 + offset);
            let item = if i % 3 == 0 {
                Item::AmmoCrate
            } else {
                Item::Coin
            };
            sim(&mut h).queued_pickups.push(Pickup { item, pos });
        }
        for i in 0..4 {
            let p = Vec2::new(600.0 + 250.0 * i as f32, 600.0);
            sim(&mut h).queued_zombies.push(p);
        }
        (h, me, other)
    };
    let (mut held, me, other) = room(0.0);
    let (mut away, ..) = room(2500.0);
    let mut sizes = Vec::new();
    type Lanes = Vec<Vec<i64>>;
    let mut moving: Option<(Lanes, Lanes)> = None;
    for t in 0..90 {
        // The heroes walk left and right (never near a pickup), the zombies walk at them.
        for h in [&mut held, &mut away] {
            let sway = if (t / 15) % 2 == 0 { 127 } else { -127 };
            act(h, me, sway, 0, 0.0, false, false);
            act(h, other, -sway, 0, 0.0, false, false);
            h.tick();
        }
        let (a, b) = (&held.last[&me], &away.last[&me]);
        let pickups = held.replicas[&me].of_kind(PICKUP).count();
        assert_eq!(pickups, N, "the held room's client holds them all");
        assert_eq!(away.replicas[&me].of_kind(PICKUP).count(), 0);
        if t == 0 {
            // The tick they are created: every pickup's spawn (its ids follow one another),
            // give or take the created count's varint, the gaps before and after the run of
            // pickups and the padding: a few bytes.
            let kinds = held.replicas[&me].schema.kinds.len();
            let bits: usize = held.replicas[&me]
                .of_kind(PICKUP)
                .map(|(_, l)| spawn_bits(l, kinds))
                .sum();
            let spawns = bits.div_ceil(8);
            assert!(
                a.1.abs_diff(b.1 + spawns) <= 6,
                "creation: {} vs {} bytes, {spawns} for the spawns",
                a.1,
                b.1
            );
            eprintln!(
                "creation tick: {} bytes with {N} pickups in view, {} without ({spawns} for the spawns, {:.2} per pickup)",
                a.1,
                b.1,
                spawns as f64 / N as f64
            );
            continue;
        }
        // Every later tick: the heroes and zombies moved, and the snapshot is byte for byte
        // as long as the one of the room whose client holds no pickup.
        // (Their positions are extrapolated: one on its course costs nothing, so a tick may
        // carry no update of them at all; the replica still shows them moving.)
        let s = &a.0;
        let at = |kind| -> Vec<Vec<i64>> {
            held.replicas[&me]
                .of_kind(kind)
                .map(|(_, l)| l.to_vec())
                .collect()
        };
        let now = (at(ZOMBIE), at(HERO));
        if let Some(before) = &moving {
            assert_ne!(before.0, now.0, "zombies moved");
            assert_ne!(before.1, now.1, "heroes moved");
        }
        moving = Some(now);
        assert!(
            s.created
                .iter()
                .chain(&b.0.created)
                .all(|c| c.kind != PICKUP)
        );
        assert!(s.updated.iter().all(|u| u.kind != PICKUP));
        assert!(s.removed.is_empty());
        // The pickups' ids are one run between the heroes' and the zombies', so at most one
        // update's skip passes over them: its Elias-gamma code grows by 2 bits per doubling,
        // 22 bits for 2,000 (3 bytes at most after the padding).
        assert!(
            a.1 >= b.1 && a.1 - b.1 <= 3,
            "tick {t}: {N} pickups held cost {} bytes",
            a.1 as i64 - b.1 as i64
        );
        sizes.push(a.1);
    }
    // The replicas agree on everything but the pickups (and checksums held every tick).
    let strip = |h: &Harness| -> Vec<(NetId, Vec<i64>)> {
        let r = &h.replicas[&me];
        let e = r.entities.iter().filter(|(_, e)| e.kind != PICKUP);
        e.map(|(id, e)| (*id, e.lanes.clone())).collect()
    };
    assert_eq!(strip(&held), strip(&away));
    assert_eq!(strip(&held).len(), 6, "2 heroes and 4 zombies");
    let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    eprintln!(
        "moving ticks: {min}..={max} bytes per snapshot with {N} pickups held, at most 3 more than without"
    );
}

#[test]
fn waves_advance_on_the_room_fields() {
    let game = SurvivalGame::new(SurvivalConfig {
        width: 1000.0,
        height: 1000.0,
        pickups: 0,
        ..SurvivalConfig::default()
    })
    .with_rules(|r| {
        (r.wave_base, r.wave_growth) = (3, 2);
        r.zombie_speed = 1.0; // they barely move: the test shoots them where it puts them
        r.shot_range = 2000.0;
    });
    let mut h = TestRoom::new(engine(), game);
    let rules = h.room.game().sim().rules().clone();
    let a = h.join("a");
    h.tick();
    let watcher = h.join("late");
    place(&mut h, a, 500.0, 500.0);
    place(&mut h, watcher, 510.0, 560.0);
    let room_of = |h: &Harness, p: PlayerId| h.replicas[&p].room.clone();
    let first = i64::from(1 + rules.first_wave_ticks);
    assert_eq!(
        room_of(&h, a),
        [0, first, 0, 0],
        "no wave yet; the first one is due"
    );
    // The countdown is the client's: the room field is a deadline, sent once.
    let mut countdown = Vec::new();
    while h.room.tick_count().0 < first as u32 - 1 {
        h.tick();
        let r = &h.replicas[&watcher];
        countdown.push(r.room[room::next_wave_tick] - i64::from(r.tick.0));
        assert!(
            h.last[&a].0.room.is_none(),
            "no room bytes while nothing changes"
        );
    }
    assert_eq!(
        countdown.first(),
        Some(&(first - 2)),
        "its first snapshot is tick 2"
    );
    assert_eq!(countdown.last(), Some(&1));
    assert!(countdown.windows(2).all(|w| w[1] == w[0] - 1));
    h.tick();
    let wave1 = first;
    let next = wave1 + i64::from(rules.wave_interval_ticks);
    for p in [a, watcher] {
        assert_eq!(room_of(&h, p), [1, next, 3, 0], "wave 1: 3 zombies");
        let wave_events: Vec<_> = h.last[&p]
            .0
            .events
            .iter()
            .filter(|e| e.kind == WAVE)
            .collect();
        assert_eq!(wave_events.len(), 1);
    }
    // Line the zombies up east of `a` and shoot them down: zombies left and the score follow.
    for (i, z) in sim(&mut h).zombies.values_mut().enumerate() {
        z.pos = Vec2::new(700.0 + 40.0 * i as f32, 500.0);
    }
    let mut left = vec![3];
    while h.replicas[&a].room[room::zombies_left] > 0 {
        act(&mut h, a, 0, 0, 0.0, true, false);
        h.tick();
        let z = h.replicas[&watcher].room[room::zombies_left];
        if left.last() != Some(&z) {
            left.push(z);
        }
        assert!(h.room.tick_count().0 < 200, "the zombies die");
    }
    assert_eq!(left, [3, 2, 1, 0]);
    let cleared = i64::from(h.room.tick_count().0);
    let soon = cleared + i64::from(rules.break_ticks);
    assert!(soon < next);
    assert_eq!(
        room_of(&h, watcher),
        [1, soon, 0, 30],
        "a break, then the next wave"
    );
    while i64::from(h.room.tick_count().0) < soon {
        h.tick();
    }
    let after = soon + i64::from(rules.wave_interval_ticks);
    assert_eq!(
        room_of(&h, watcher),
        [2, after, 5, 30],
        "wave 2: 3 + 2 zombies"
    );
    assert_eq!(h.replicas[&watcher].room, h.room.game().room_lanes());
    // An empty room stops the clock: the next hero gets a fresh first delay.
    h.leave(a);
    h.leave(watcher);
    h.tick();
    assert_eq!(h.room.game().room_lanes()[room::next_wave_tick], 0);
}

#[test]
fn bots_play_a_room_with_kills_and_exact_replicas() {
    use tickwire_shared::sync::bot::BotBrain;
    let game = SurvivalGame::new(SurvivalConfig {
        width: 1500.0,
        height: 1500.0,
        pickups: 600,
        ..SurvivalConfig::default()
    });
    let mut h = TestRoom::new(engine(), game);
    let mut bots: Vec<(PlayerId, Box<dyn BotBrain>)> = (0..5)
        .map(|i| {
            (
                h.join(&format!("bot{i}")),
                bot::brain("survivor", i, 42).unwrap(),
            )
        })
        .collect();
    let (mut shots, mut waves) = (0, 0);
    for t in 0..900usize {
        for (id, brain) in &mut bots {
            let lanes = brain.next_input(&h.replicas[id], 30.0);
            h.input(*id, lanes);
        }
        // One bot's client is slow now and then: its next snapshot covers the gap.
        let slow = bots[t / 100 % bots.len()].0;
        let out = h.tick_with(|id| id != slow || t % 4 != 0);
        for (id, _) in &out.messages {
            let s = &h.last[id].0;
            shots += s.events.iter().filter(|e| e.kind == SHOT).count();
            waves += s.events.iter().filter(|e| e.kind == WAVE).count();
        }
    }
    let game = h.room.game();
    let kills: u32 = game.sim().heroes.values().map(|x| x.kills).sum();
    eprintln!(
        "900 ticks, 5 bots: {kills} kills, {shots} shot events, wave {}, score {}, {} deaths",
        game.sim().wave,
        game.sim().score,
        game.sim().heroes.values().map(|x| x.deaths).sum::<u32>()
    );
    assert!(kills >= 10, "the bots killed zombies: {kills}");
    // Each kill takes two shots, and each shot reaches at least its shooter.
    assert!(shots >= 2 * kills as usize, "{shots} shot events");
    assert_eq!(waves, 2 * bots.len(), "every bot heard of both waves");
    assert!(game.sim().wave >= 2, "wave {}", game.sim().wave);
    assert!(game.sim().score >= 10 * kills, "score {}", game.sim().score);
    for (&p, r) in &h.replicas {
        assert_eq!(r.room, game.room_lanes());
        let own = game.hero_of(p).unwrap();
        assert_eq!(r.entities[&own].lanes, game.hero_lanes(p).unwrap());
        for (q, rec) in &r.players {
            let hero = &game.sim().heroes[q];
            assert_eq!(rec.lanes, [i64::from(hero.kills), i64::from(hero.deaths)]);
        }
    }
}

#[test]
fn a_walking_hero_pays_only_for_pickups_crossing_its_view_edge_or_collected() {
    // The default map's density: 2000 pickups on 3000 × 3000, a 600-unit view.
    let mut game = SurvivalGame::new(SurvivalConfig::default());
    game.sim_mut().waves_on = false;
    let r = 600.0;
    let mut h = TestRoom::new(engine(), game);
    let me = h.join("walker");
    place(&mut h, me, 700.0, 1500.0);
    h.tick();
    let held = |h: &Harness| -> BTreeSet<NetId> {
        h.replicas[&me].of_kind(PICKUP).map(|(id, _)| id).collect()
    };
    let first = held(&h).len();
    let (mut pickup_bytes, mut ticks) = (0, 0);
    for _ in 0..150 {
        let before = held(&h);
        act(&mut h, me, 127, 0, 0.0, false, false);
        h.tick();
        let sim = h.room.game().sim();
        let c = sim.heroes[&me].pos;
        let in_view: BTreeSet<NetId> = sim
            .pickups
            .iter()
            .filter(|(_, p)| p.pos.distance_squared(c) <= r * r)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(held(&h), in_view);
        let s = &h.last[&me].0;
        let created: BTreeSet<NetId> = s.created.iter().map(|c| c.id).collect();
        let entered: BTreeSet<NetId> = in_view.difference(&before).copied().collect();
        assert_eq!(created, entered, "only pickups entering the view are sent");
        let gone: BTreeSet<NetId> = before.difference(&in_view).copied().collect();
        let removed: BTreeSet<NetId> = s.removed.iter().copied().collect();
        assert_eq!(
            removed, gone,
            "and only those leaving it (or collected) are removed"
        );
        pickup_bytes += pickup_share(&h, me);
        ticks += 1;
    }
    let per_tick = pickup_bytes as f64 / f64::from(ticks);
    eprintln!(
        "walking at full speed: {first} pickups in view, {per_tick:.1} bytes per tick for the ones crossing its edge or collected"
    );
    assert!(first > 150, "{first}");
    assert!(per_tick < 100.0, "{per_tick}");
}
