//! A whole arena room on the engine (N players at the default density, walking, turning and
//! firing, 60 warm-up ticks), for instruction-count profiles of the engine's tick:
//!
//! ```sh
//! cargo build --release -p tickwire-bench --example engine_profile
//! valgrind --tool=callgrind target/release/examples/engine_profile 1000 20
//! ```

use std::time::Instant;
use tickwire_arena::quant::quantize_angle16;
use tickwire_arena::rules::Arena;
use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_server::engine::{EngineConfig, Room};
use tickwire_shared::sync::InputCmd;
use tickwire_shared::{InputSeq, Tick};

fn main() {
    let arg = |i: usize, d: u32| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (n, ticks) = (arg(1, 1000) as usize, arg(2, 20));
    let f = (n as f32 / 100.0).sqrt().max(1.0);
    let game = ArenaGame::new(ArenaConfig {
        arena: Arena::default().scaled(f),
        ..ArenaConfig::default()
    });
    let mut room = Room::new(
        EngineConfig {
            max_players: n,
            ..EngineConfig::default()
        },
        game,
    );
    let ids: Vec<_> = (0..n)
        .map(|i| room.handle_join(&format!("p{i}"), None).unwrap().player_id)
        .collect();
    let step = |room: &mut Room<ArenaGame>, t: u32| {
        for (i, &id) in ids.iter().enumerate() {
            let phase = t as f32 * 0.05 + i as f32 * 0.7;
            let lanes = vec![
                i64::from((phase.cos() * 127.0) as i8),
                i64::from((phase.sin() * 127.0) as i8),
                i64::from(quantize_angle16(phase * 1.3)),
                if i % 3 == 2 { 1 } else { 0 },
            ];
            let cmd = InputCmd {
                seq: InputSeq(t),
                view_tick: Tick(t),
                lanes,
            };
            room.handle_inputs(id, vec![cmd]);
        }
        room.tick(|_| true)
            .messages
            .iter()
            .map(|m| m.1.len())
            .sum::<usize>()
    };
    for t in 1..=60 {
        step(&mut room, t);
    }
    let start = Instant::now();
    let mut bytes = 0;
    for t in 61..61 + ticks {
        bytes += step(&mut room, t);
    }
    eprintln!(
        "{n} players: {:.2} ms per tick over {ticks} ticks, {} snapshot bytes per tick",
        start.elapsed().as_secs_f64() * 1000.0 / f64::from(ticks.max(1)),
        bytes / ticks.max(1) as usize
    );
}
