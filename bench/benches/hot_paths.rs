//! Criterion benches of the server's hot paths: one arena sim step, one whole engine room tick
//! (interest, per-client deltas, encoding, for every client), encoding one client's snapshot,
//! and decoding an input message.
//!
//! Worlds keep the density of 100 players in the demo arena (arena scaled by
//! sqrt(players / 100)), so a client sees about 30-50 players, as in the default scenario.
//! Players move and turn every tick; strafe-and-shoot style firing keeps projectiles alive.
//!
//! Run: `cargo bench -p tickwire-bench --bench hot_paths`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tickwire_arena::client::{Intent, input_lanes};
use tickwire_arena::quant::quantize_angle16;
use tickwire_arena::rules::{Arena, Rules};
use tickwire_arena::state::{Command, buttons};
use tickwire_arena::{ArenaConfig, ArenaGame, BODY};
use tickwire_server::Config;
use tickwire_server::engine::{EngineConfig, Room};
use tickwire_server::sim::Sim;
use tickwire_shared::sync::{
    ClientMsg, InputCmd, ServerMsg, Snapshot, Update, decode_client, encode_client, encode_server,
};
use tickwire_shared::{InputSeq, NetId, PlayerId, Tick};

/// The demo arena scaled for `players` at the density of 100 players in the unscaled arena.
fn arena_for(players: usize) -> Arena {
    Config {
        arena_scale: (players as f32 / 100.0).sqrt().max(1.0),
        ..Config::default()
    }
    .arena()
}

/// Player `i`'s command at tick `t`: a slowly turning walk, aim sweeping, firing every so often.
fn command(i: usize, t: u32, seq: u32) -> Command {
    let phase = t as f32 * 0.05 + i as f32 * 0.7;
    Command {
        seq: InputSeq(seq),
        move_x: (phase.cos() * 127.0) as i8,
        move_y: (phase.sin() * 127.0) as i8,
        aim: quantize_angle16(phase * 1.3),
        buttons: if i % 3 == 2 { buttons::FIRE } else { 0 },
        view_tick: Tick(t),
    }
}

/// The same command as the engine's input lanes.
fn engine_command(i: usize, t: u32, seq: u32) -> InputCmd {
    let phase = t as f32 * 0.05 + i as f32 * 0.7;
    InputCmd {
        seq: InputSeq(seq),
        view_tick: Tick(t),
        lanes: input_lanes(&Intent {
            movement: glam::Vec2::from_angle(phase),
            aim: phase * 1.3,
            fire: i % 3 == 2,
            alt_fire: false,
        }),
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

/// One whole engine room tick with every player sending a command: the arena's inputs and
/// step, interest, each client's delta and its encoding.
fn room_tick(c: &mut Criterion) {
    let mut g = c.benchmark_group("room_tick");
    g.sample_size(30);
    for n in [100usize, 500, 1_000, 5_000] {
        let game = ArenaGame::new(ArenaConfig {
            arena: arena_for(n),
            ..ArenaConfig::default()
        });
        let mut room = Room::new(
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
        let mut step = |room: &mut Room<ArenaGame>| {
            t += 1;
            for (i, &id) in ids.iter().enumerate() {
                room.handle_inputs(id, vec![engine_command(i, t, t)]);
            }
            let out = room.tick(|_| true);
            out.messages.len()
        };
        // Let projectiles fill the air before measuring.
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

/// Encoding one client's snapshot in which `n` bodies moved a tick's worth and turned a
/// little (x and y are delta fields, aim a plain one).
fn snapshot_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot_encode");
    let schema = tickwire_arena::schema();
    for n in [10u32, 50, 200] {
        let mut snap = Snapshot::empty(Tick(1000), InputSeq(900));
        for i in 0..n {
            snap.updated.push(Update {
                id: NetId(i + 1),
                kind: BODY,
                mask: 0b1110,
            });
            snap.updated_lanes.extend([59, -20, i64::from(i % 256)]);
        }
        let msg = ServerMsg::Snapshot(snap);
        let mut buf = Vec::with_capacity(4096);
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                buf.clear();
                encode_server(black_box(&msg), &schema, &[], &mut buf);
                buf.len()
            })
        });
    }
    g.finish();
}

fn decode_input(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_input");
    let schema = tickwire_arena::schema();
    for cmds in [1u32, 3] {
        let mut frame = Vec::new();
        encode_client(
            &ClientMsg::Input(
                (0..cmds)
                    .map(|i| engine_command(i as usize, 500, 1000 + i))
                    .collect(),
            ),
            &schema,
            &mut frame,
        );
        g.bench_function(format!("{cmds} cmd, {} bytes", frame.len()), |b| {
            b.iter(|| decode_client(black_box(&frame), &schema).expect("valid frame"))
        });
    }
    g.finish();
}

criterion_group!(benches, sim_step, room_tick, snapshot_encode, decode_input);
criterion_main!(benches);
