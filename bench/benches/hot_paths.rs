//! Criterion benches of the server's hot paths: one sim step, one interest query, one
//! client's delta build + encode, one whole room tick, and decoding an input frame.
//!
//! Worlds keep the density of 100 players in the demo arena (arena scaled by
//! sqrt(players / 100)), so a client sees about 30-50 players, as in the default scenario.
//! Players move and turn every tick; strafe-and-shoot style firing keeps projectiles alive.
//!
//! Run: `cargo bench -p tickwire-bench --bench hot_paths`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use glam::Vec2;
use std::hint::black_box;
use tickwire_server::Config;
use tickwire_server::interest::{InterestGrid, ViewEntity};
use tickwire_server::room::{Room, RoomConfig, UpdatePolicy, diff_with};
use tickwire_server::sim::Sim;
use tickwire_shared::codec::encode_server_into;
use tickwire_shared::protocol::{ClientMsg, InputCmd, PlayerState, ServerMsg, Snapshot, buttons};
use tickwire_shared::quant::quantize_angle16;
use tickwire_shared::replica::EntityState;
use tickwire_shared::rules::{Arena, Rules};
use tickwire_shared::{InputSeq, NetId, PlayerId, Tick, decode_client, encode_client};

/// The demo arena scaled for `players` at the density of 100 players in the unscaled arena.
fn arena_for(players: usize) -> Arena {
    Config {
        arena_scale: (players as f32 / 100.0).sqrt().max(1.0),
        ..Config::default()
    }
    .arena()
}

/// Player `i`'s command at tick `t`: a slowly turning walk, aim sweeping, firing every so often.
fn command(i: usize, t: u32, seq: u32) -> InputCmd {
    let phase = t as f32 * 0.05 + i as f32 * 0.7;
    InputCmd {
        seq: InputSeq(seq),
        move_x: (phase.cos() * 127.0) as i8,
        move_y: (phase.sin() * 127.0) as i8,
        aim: quantize_angle16(phase * 1.3),
        buttons: if i % 3 == 2 { buttons::FIRE } else { 0 },
        view_tick: Tick(t),
    }
}

fn sim_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim_step");
    for n in [100usize, 1_000, 5_000] {
        let mut sim = Sim::new(arena_for(n), Rules::at_tick_rate(30), 1);
        let keys: Vec<_> = (0..n)
            .map(|i| sim.add_player(PlayerId(i as u32 + 1), format!("p{i}")))
            .collect();
        let mut t = 0u32;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                t += 1;
                for (i, &k) in keys.iter().enumerate() {
                    sim.apply_input(k, &command(i, t, t));
                }
                sim.step();
                sim.drain_events().count()
            })
        });
    }
    g.finish();
}

fn player_entity(id: u32, pos: Vec2) -> ViewEntity {
    ViewEntity {
        id: NetId(id),
        pos,
        state: EntityState::Player {
            player: PlayerId(id),
            state: PlayerState {
                x: (pos.x * 8.0) as i32,
                y: (pos.y * 8.0) as i32,
                aim: 0,
                health: 100,
                status: 1,
            },
        },
    }
}

fn interest_query(c: &mut Criterion) {
    let mut g = c.benchmark_group("interest");
    let n = 1_000;
    let arena = arena_for(n);
    let view_radius = 700.0;
    // A deterministic scatter over the arena.
    let entities: Vec<ViewEntity> = (0..n as u32)
        .map(|i| {
            let x = (i as f32 * 0.618_034).fract() * arena.width;
            let y = (i as f32 * 0.754_877).fract() * arena.height;
            player_entity(i, Vec2::new(x, y))
        })
        .collect();
    let mut grid = InterestGrid::new(arena.width, arena.height, view_radius);
    g.bench_function("rebuild/1000", |b| {
        b.iter(|| grid.rebuild(entities.iter().copied()))
    });
    let mut out = Vec::new();
    let centre = Vec2::new(arena.width, arena.height) * 0.5;
    grid.view(centre, Some(NetId(0)), &mut out);
    let seen = out.len();
    g.bench_function(format!("view/1000 entities, {seen} in view"), |b| {
        b.iter(|| {
            grid.view(black_box(centre), Some(NetId(0)), &mut out);
            out.len()
        })
    });
    g.finish();
}

fn delta_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("delta_build_encode");
    for n in [10u32, 50, 200] {
        let baseline: Vec<(NetId, EntityState)> = (0..n)
            .map(|i| {
                let e = player_entity(i, Vec2::new(100.0 + i as f32 * 20.0, 300.0));
                (e.id, e.state)
            })
            .collect();
        // Everyone moved a tick's worth and turned a little.
        let view: Vec<(NetId, EntityState)> = baseline
            .iter()
            .map(|(id, e)| {
                let mut e = *e;
                if let EntityState::Player { state, .. } = &mut e {
                    state.x += 59;
                    state.y -= 20;
                    state.aim = state.aim.wrapping_add(3);
                }
                (*id, e)
            })
            .collect();
        let mut buf = Vec::with_capacity(4096);
        let mut scratch = view.clone();
        let policy = UpdatePolicy::recommended();
        let mut tick = 1000u32;
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                // What the room does per client with --update-tiers on: the policy decides, in
                // the same pass as the diff, which changes are due (the viewer stands at the
                // first entity).
                tick += 1;
                scratch.copy_from_slice(&view);
                let holder = policy.holder(Tick(tick), Vec2::new(100.0, 300.0), NetId(0), 700.0);
                let d = diff_with(black_box(&baseline), &mut scratch, |id, old, new| {
                    holder.hold(id, old, new)
                });
                let snap = ServerMsg::Snapshot(Snapshot {
                    tick: Tick(tick),
                    ack_input_seq: InputSeq(900),
                    removed: d.removed,
                    created: d.created,
                    updated: d.updated,
                    events: Vec::new(),
                    checksum: None,
                });
                buf.clear();
                encode_server_into(&snap, &mut buf);
                buf.len()
            })
        });
    }
    g.finish();
}

fn room_tick(c: &mut Criterion) {
    let mut g = c.benchmark_group("room_tick");
    g.sample_size(30);
    let cases = [
        (100usize, "default"),
        (500, "default"),
        (1_000, "default"),
        (1_000, "tiered"),
    ];
    for (n, policy) in cases {
        let mut room = Room::new(RoomConfig {
            arena: arena_for(n),
            max_players: n,
            update_policy: if policy == "tiered" {
                UpdatePolicy::recommended()
            } else {
                UpdatePolicy::off()
            },
            ..RoomConfig::default()
        });
        let ids: Vec<PlayerId> = (0..n)
            .map(|i| {
                room.handle_join(&format!("p{i}"))
                    .expect("room has space")
                    .player_id
            })
            .collect();
        let mut t = 0u32;
        let mut step = |room: &mut Room| {
            t += 1;
            for (i, &id) in ids.iter().enumerate() {
                room.handle_inputs(id, &[command(i, t, t)]);
            }
            let out = room.tick(|_| true);
            out.messages.len()
        };
        // Let projectiles fill the air before measuring.
        for _ in 0..60 {
            step(&mut room);
        }
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new(policy, n), |b| b.iter(|| step(&mut room)));
    }
    g.finish();
}

fn decode_input(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_input");
    for cmds in [1u32, 3] {
        let frame = encode_client(&ClientMsg::Input(
            (0..cmds)
                .map(|i| command(i as usize, 500, 1000 + i))
                .collect(),
        ));
        g.bench_function(format!("{cmds} cmd, {} bytes", frame.len()), |b| {
            b.iter(|| decode_client(black_box(&frame)).expect("valid frame"))
        });
    }
    g.finish();
}

/// The same scenario as `room_tick`, with the arena running as a game on the engine
/// (schema-driven views, deltas and encoding), so the two compare in one run.
fn engine_room_tick(c: &mut Criterion) {
    use tickwire_arena::{ArenaConfig, ArenaGame};
    use tickwire_server::engine::{EngineConfig, Room as EngineRoom};
    let mut g = c.benchmark_group("engine_room_tick");
    g.sample_size(30);
    for n in [100usize, 1_000] {
        let game = ArenaGame::new(ArenaConfig {
            arena: arena_for(n),
            ..ArenaConfig::default()
        });
        let mut room = EngineRoom::new(
            EngineConfig {
                max_players: n,
                ..EngineConfig::default()
            },
            game,
        );
        let ids: Vec<PlayerId> = (0..n)
            .map(|i| {
                room.handle_join(&format!("p{i}"), None)
                    .expect("room has space")
                    .player_id
            })
            .collect();
        let mut t = 0u32;
        let mut step = |room: &mut EngineRoom<ArenaGame>| {
            t += 1;
            for (i, &id) in ids.iter().enumerate() {
                let c = command(i, t, t);
                let cmd = tickwire_shared::sync::InputCmd {
                    seq: c.seq,
                    view_tick: c.view_tick,
                    lanes: vec![
                        i64::from(c.move_x),
                        i64::from(c.move_y),
                        i64::from(c.aim),
                        i64::from(c.buttons),
                    ],
                };
                room.handle_inputs(id, vec![cmd]);
            }
            let out = room.tick(|_| true);
            out.messages.len()
        };
        for _ in 0..60 {
            step(&mut room);
        }
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("default", n), |b| {
            b.iter(|| step(&mut room))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    sim_step,
    interest_query,
    delta_encode,
    room_tick,
    engine_room_tick,
    decode_input
);
criterion_main!(benches);
