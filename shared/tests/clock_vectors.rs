//! Golden timing vectors of the render clock for the browser SDK: `ClockSync` fed scripted
//! snapshot and pong arrivals (a steady 30 Hz stream with a 400 ms and a 700 ms TCP stall,
//! a burst of jitter that comes and goes, a server restart), frame by frame at 60 Hz, written
//! with the render tick, delay, jitter and teleport count after every frame to
//! `client-web/test/vectors/clock_stalls.json`. `client-web/test/clock_vectors.test.js`
//! replays the same arrivals through `client-web/src/sdk/clock.js` and requires the same
//! values, so the JS clock cannot drift from this one.
//!
//! The test also checks, on the very frames it writes, what the clock promises: through the
//! stalls the render tick never goes back and moves within the slew bound every frame (no
//! jump either way), the delay does not rise, nothing teleports; only the restart teleports.
//!
//! It fails when the checked-in file differs from what Rust produces. After a deliberate
//! change of the clock, regenerate with
//! `TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-shared --test clock_vectors` and commit it.

use serde_json::{Value, json};
use std::path::PathBuf;
use tickwire_shared::Tick;
use tickwire_shared::clock::{ClockConfig, ClockSync};
use tickwire_shared::netsim::SplitMix64;
use tickwire_shared::sync::Pong;

const RATE: u16 = 30;
const DT: f64 = 1.0 / 30.0;

/// One scenario: its arrivals, in the order they are handled.
struct Script {
    name: &'static str,
    seconds: f64,
    /// (arrival time, tick), sorted by arrival.
    snapshots: Vec<(f64, u32)>,
    /// (arrival time, client_time of the ping it answers), sorted by arrival.
    pongs: Vec<(f64, u32)>,
}

/// A steady stream whose snapshot for tick `t` (sent at `t·dt`) arrives `delay(t)` later,
/// kept in order (TCP), and a ping every second answered after `rtt`.
fn stream(seconds: f64, first: u32, delay: impl Fn(u32) -> f64, rtt: f64) -> Script {
    let mut last = f64::NEG_INFINITY;
    let snapshots = (1..(seconds / DT) as u32)
        .map(|t| {
            last = last.max(f64::from(t) * DT + delay(t));
            (last, t + first)
        })
        .collect();
    let pongs = (1..seconds as u32)
        .map(|s| {
            let sent = f64::from(s) + 0.01;
            (sent + rtt, (sent * 1000.0).round() as u32)
        })
        .collect();
    Script {
        name: "",
        seconds,
        snapshots,
        pongs,
    }
}

fn scripts() -> Vec<Script> {
    // 100 ms one way, up to 20 ms of jitter kept in order, stalls of 400 ms at 6 s and 700 ms
    // at 12 s: everything sent meanwhile is held back and released at once.
    let mut rng = SplitMix64::new(19);
    let jitter: Vec<f64> = (0..2000).map(|_| rng.next_f64() * 0.02).collect();
    let mut stalls = stream(
        18.0,
        1000,
        |t| {
            let sent = f64::from(t) * DT;
            let mut d = 0.1 + jitter[t as usize];
            for (start, len) in [(6.0, 0.4), (12.0, 0.7)] {
                if sent >= start && sent < start + len {
                    d = d.max(start + len + 0.1 - sent);
                }
            }
            d
        },
        0.2,
    );
    stalls.name = "stalls";
    // 3 s of 100 ms jitter (independent per snapshot), then none: the delay rises at once and
    // falls slowly.
    let mut jittery = stream(
        14.0,
        0,
        |t| {
            let sent = f64::from(t) * DT;
            let j = if (4.0..7.0).contains(&sent) { 0.1 } else { 0.0 };
            0.05 + j * jitter[t as usize] / 0.02
        },
        0.1,
    );
    jittery.snapshots.sort_by(|a, b| a.0.total_cmp(&b.0));
    jittery.name = "jitter";
    // A server restart at 5 s: its ticks start again from 1.
    let mut restart = stream(10.0, 0, |_| 0.05, 0.1);
    for s in &mut restart.snapshots {
        if s.0 > 5.05 {
            s.1 -= 150 - 1;
        } else {
            s.1 += 9000;
        }
    }
    restart.name = "restart";
    vec![stalls, jittery, restart]
}

/// Every frame of a script: [now, render tick, delay ticks, jitter s, teleports].
fn replay(s: &Script) -> (ClockSync, Vec<[f64; 5]>) {
    let mut clock = ClockSync::new(ClockConfig::new(RATE));
    let (mut next_snap, mut next_pong) = (0, 0);
    let mut frames = Vec::new();
    let mut frame = 0u32;
    loop {
        frame += 1;
        // 60 Hz, with the frame times a little uneven.
        let now = f64::from(frame) / 60.0 + if frame.is_multiple_of(7) { 0.004 } else { 0.0 };
        if now > s.seconds {
            break;
        }
        while next_snap < s.snapshots.len() && s.snapshots[next_snap].0 <= now {
            let (at, tick) = s.snapshots[next_snap];
            clock.handle_snapshot(Tick(tick), at);
            next_snap += 1;
        }
        while next_pong < s.pongs.len() && s.pongs[next_pong].0 <= now {
            let (at, client_time) = s.pongs[next_pong];
            let pong = Pong {
                client_time,
                tick: Tick(0),
            };
            clock.handle_pong(&pong, at);
            next_pong += 1;
        }
        clock.advance(now);
        if clock.is_synced() {
            frames.push([
                now,
                clock.render_tick(),
                clock.delay_ticks(),
                clock.jitter(),
                f64::from(clock.teleports()),
            ]);
        }
    }
    (clock, frames)
}

fn vectors() -> Value {
    let cases: Vec<Value> = scripts()
        .iter()
        .map(|s| {
            let (clock, frames) = replay(s);
            json!({
                "name": s.name,
                "tick_rate": RATE,
                "seconds": s.seconds,
                "snapshots": s.snapshots.iter().map(|(at, t)| json!([at, t])).collect::<Vec<_>>(),
                "pongs": s.pongs.iter().map(|(at, c)| json!([at, c])).collect::<Vec<_>>(),
                "frames": frames,
                "rtt": clock.rtt(),
            })
        })
        .collect();
    json!({
        "about": "ClockSync (shared/src/clock.rs) fed these arrivals; written by shared/tests/clock_vectors.rs",
        "frame_columns": ["now", "render_tick", "delay_ticks", "jitter_s", "teleports"],
        "cases": cases,
    })
}

#[test]
fn stalls_never_jump_the_render_clock() {
    let scripts = scripts();
    let (clock, frames) = replay(&scripts[0]);
    let warp = clock.config().max_warp;
    for w in frames.windows(2).skip(60) {
        let natural = (w[1][0] - w[0][0]) / DT;
        let moved = w[1][1] - w[0][1];
        assert!(
            moved >= natural * (1.0 - warp) - 1e-9 && moved <= natural * (1.0 + warp) + 1e-9,
            "at {:.3} s the render tick moved {moved:.4} ticks in {natural:.4} ticks of time",
            w[1][0]
        );
    }
    assert_eq!(clock.teleports(), 0);
    let most = frames.iter().map(|f| f[2]).fold(0.0, f64::max);
    let margin = clock.config().jitter_margin;
    assert!(
        most <= 2.0 + margin * 0.02 / DT + 1e-9,
        "delay rose to {most}"
    );
    // The jitter burst: the delay rose past 4 ticks, then fell by at most 0.5 tick/s.
    let (clock, frames) = replay(&scripts[1]);
    assert!(frames.iter().any(|f| f[2] > 4.0));
    for w in frames.windows(2) {
        assert!(w[0][2] - w[1][2] <= 0.5 * (w[1][0] - w[0][0]) + 1e-9);
        assert!(w[1][1] > w[0][1]);
    }
    assert_eq!(clock.teleports(), 0);
    // The restart is a discontinuity: one teleport, and the clock on the new ticks.
    let (clock, frames) = replay(&scripts[2]);
    assert_eq!(clock.teleports(), 1);
    // The newest tick is (now − 50 ms)/dt − 149; two ticks of delay behind it.
    let last = frames.last().unwrap();
    let want = (last[0] - 0.05) / DT - 149.0 - 2.0;
    assert!((last[1] - want).abs() < 0.1, "{last:?}, want {want}");
}

#[test]
fn clock_vectors_match_the_checked_in_file() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../client-web/test/vectors/clock_stalls.json");
    let mut text = serde_json::to_string(&vectors()).expect("JSON values serialize");
    text.push('\n');
    if std::env::var_os("TICKWIRE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let disk = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        disk == text,
        "{} differs from what ClockSync produces; if the change is deliberate, regenerate with \
         TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-shared --test clock_vectors",
        path.display()
    );
}
