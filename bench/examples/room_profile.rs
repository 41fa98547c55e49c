//! A fixed room workload for instruction-count profiles (deterministic, unlike wall time on a
//! shared machine): N clients in the demo arena scaled to the density of 100 players, 60
//! warm-up ticks, then a given number of measured ticks (default 20); a third argument
//! `tiered` turns on the recommended update policy. Instructions per tick
//! are the difference of two runs divided by the tick count:
//!
//! ```sh
//! cargo build --release -p tickwire-bench --example room_profile
//! valgrind --tool=callgrind target/release/examples/room_profile 1000 0
//! valgrind --tool=callgrind target/release/examples/room_profile 1000 20
//! ```

use std::time::Instant;
use tickwire_server::room::{Room, RoomConfig, UpdatePolicy};
use tickwire_shared::protocol::{InputCmd, buttons};
use tickwire_shared::quant::quantize_angle16;
use tickwire_shared::rules::Arena;
use tickwire_shared::{InputSeq, Tick};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let ticks: u32 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let f = (n as f32 / 100.0).sqrt().max(1.0);
    let arena = Arena::default().scaled(f);
    let tiered = std::env::args().nth(3).as_deref() == Some("tiered");
    let mut room = Room::new(RoomConfig {
        arena,
        max_players: n,
        update_policy: if tiered {
            UpdatePolicy::recommended()
        } else {
            UpdatePolicy::off()
        },
        ..RoomConfig::default()
    });
    let ids: Vec<_> = (0..n)
        .map(|i| room.handle_join(&format!("p{i}")).expect("space").player_id)
        .collect();
    let mut bytes = 0usize;
    let run = |room: &mut Room, t: u32| {
        for (i, &id) in ids.iter().enumerate() {
            let phase = t as f32 * 0.05 + i as f32 * 0.7;
            room.handle_inputs(
                id,
                &[InputCmd {
                    seq: InputSeq(t),
                    move_x: (phase.cos() * 127.0) as i8,
                    move_y: (phase.sin() * 127.0) as i8,
                    aim: quantize_angle16(phase * 1.3),
                    buttons: if i % 3 == 2 { buttons::FIRE } else { 0 },
                    view_tick: Tick(t),
                }],
            );
        }
        room.tick(|_| true)
            .messages
            .iter()
            .map(|m| m.1.len())
            .sum::<usize>()
    };
    for t in 1..=60 {
        run(&mut room, t);
    }
    let start = Instant::now();
    for t in 61..=60 + ticks {
        bytes += run(&mut room, t);
    }
    let per_tick = start.elapsed() / ticks.max(1);
    println!(
        "{n} clients: {per_tick:?} per tick, {} snapshot bytes per tick",
        bytes / ticks.max(1) as usize
    );
}
