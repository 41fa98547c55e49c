//! Netcode under simulated lag: the engine's arena room (`Room<ArenaGame>`, protocol
//! version 2) and the real client netcode (`tickwire_shared::sync::netcode::Netcode` with the
//! arena's prediction step) joined by the deterministic network simulator, driven by a fake
//! clock. Prediction, reconciliation, interpolation, input redundancy and lag-compensated
//! hitscan, at 0, 100 and 200 ms RTT.
//!
//! `cargo test -p tickwire-server --test netcode -- --nocapture` prints the netcode report
//! (the table in `docs/NETCODE.md`).

mod netsim;

use glam::Vec2;
use netsim::{Bot, Links, Peer, World, drawn, lanes_of, own_body};
use tickwire_arena::client::{Intent, input_lanes};
use tickwire_arena::rules::{Arena, Rect, Rules};
use tickwire_arena::{ArenaConfig, HITSCAN, input};
use tickwire_shared::PlayerId;
use tickwire_shared::netsim::LinkConfig;
use tickwire_shared::sync::netcode::NetcodeReport;
use tickwire_shared::{NetId, Tick};

/// The round trips of the tests, with jitter per direction.
const LAGS: [(f64, f64); 3] = [(0.0, 0.005), (0.1, 0.02), (0.2, 0.04)];
/// Loss in the report's lossy rows: on TCP a lost segment is a retransmit timeout during
/// which nothing arrives (head-of-line blocking).
const LOSS: f64 = 0.01;

fn config(lag_comp_ms: u32) -> ArenaConfig {
    ArenaConfig {
        arena: Arena {
            width: 2000.0,
            height: 2000.0,
            obstacles: vec![Rect::new(900.0, 900.0, 200.0, 200.0)],
        },
        view_radius: 800.0,
        lag_comp_ms,
        ..ArenaConfig::default()
    }
}

/// One tick of motion at top speed, world units.
fn tick_of_motion() -> f32 {
    let r = Rules::at_tick_rate(30);
    r.player_speed * r.dt()
}

/// The arena's input lanes for a stick position (no aim, no buttons).
fn stick(move_x: i8, move_y: i8) -> Vec<i64> {
    let mut lanes = vec![0; input::COUNT];
    lanes[input::move_x] = i64::from(move_x);
    lanes[input::move_y] = i64::from(move_y);
    lanes
}

fn idle() -> Bot {
    Box::new(|_, _| stick(0, 0))
}

/// Analog stick sweeping round: slides along walls and the obstacle.
fn wander() -> Bot {
    Box::new(|n, _| {
        let n = n as f32;
        stick(
            ((n * 0.07).sin() * 127.0) as i8,
            ((n * 0.031).cos() * 127.0) as i8,
        )
    })
}

/// A square path, `side` ticks per side, turning 90° at each corner.
fn square(side: u32) -> Bot {
    Box::new(move |n, _| match (n / side) % 4 {
        0 => stick(127, 0),
        1 => stick(0, 127),
        2 => stick(-127, 0),
        _ => stick(0, -127),
    })
}

/// Straight along (x, y) for `ticks` commands, then still.
fn walk(x: i8, y: i8, ticks: u32) -> Bot {
    Box::new(move |n, _| if n < ticks { stick(x, y) } else { stick(0, 0) })
}

fn q(v: &[f32], p: f64) -> f32 {
    let mut v: Vec<f64> = v.iter().map(|x| f64::from(*x)).collect();
    tickwire_shared::clock::percentile(&mut v, p) as f32
}

/// A wanderer sliding along the obstacle, a walker on a square path and an observer who
/// watches the walker: nobody touches anybody.
fn no_contention(rtt: f64, jitter: f64, loss: f64, seed: u64) -> World {
    no_contention_over(Links::tcp(rtt, jitter, loss), seed)
}

/// [`no_contention`] over given links (WebTransport's, say).
fn no_contention_over(links: Links, seed: u64) -> World {
    let mut w = World::new(config(250), seed);
    w.join(Vec2::new(820.0, 1000.0), links, 2, wander());
    w.join(Vec2::new(300.0, 1200.0), links, 2, square(45));
    w.join(Vec2::new(200.0, 1800.0), links, 2, idle());
    w.run(20.0);
    w
}

/// How two players meet in [`collision`].
#[derive(Debug, Clone, Copy)]
enum Meeting {
    /// Walking past each other close enough to bump once.
    Bump,
    /// Nearly head-on, then pushing against each other for two seconds.
    Shove,
}

/// Two players collide: the server pushes them apart, which neither predicted. Then they
/// stand still.
fn collision(meeting: Meeting, rtt: f64, jitter: f64, loss: f64, seed: u64) -> World {
    let mut w = World::new(config(250), seed);
    let links = Links::tcp(rtt, jitter, loss);
    let (offset, ticks) = match meeting {
        Meeting::Bump => (12.0, 60),
        Meeting::Shove => (2.0, 90),
    };
    w.join(Vec2::new(300.0, 1500.0), links, 2, walk(127, 0, ticks));
    w.join(
        Vec2::new(700.0, 1500.0 + offset),
        links,
        2,
        walk(-127, 0, ticks),
    );
    w.run(5.0);
    w
}

fn assert_prediction_exact(p: &Peer, label: &str) {
    let stats = p.net().stats();
    assert!(
        p.prediction_checks > 400,
        "{label}: {}",
        p.prediction_checks
    );
    assert_eq!(p.prediction_mismatches, 0, "{label}");
    assert!(!stats.corrections.is_empty());
    assert!(
        stats.corrections.iter().all(|e| *e == 0.0),
        "{label}: corrections {:?}",
        stats
            .corrections
            .iter()
            .filter(|e| **e != 0.0)
            .collect::<Vec<_>>()
    );
    assert_eq!(stats.snaps, 0, "{label}");
}

/// Every snapshot a peer received carried a checksum, and its replica matched each one
/// (`Netcode::handle_snapshot` fails on a mismatch, which fails the run); all but the last
/// second's snapshots (in flight or held back by a retransmission) arrived.
fn assert_checksummed(w: &World, label: &str) {
    let ticks = w.room.tick_count().0;
    for p in &w.peers {
        assert!(
            p.checksums + 30 >= ticks,
            "{label}: {} checksums in {ticks} ticks",
            p.checksums
        );
    }
}

#[test]
fn prediction_equals_the_server_and_interpolation_follows_the_true_path() {
    for (rtt, jitter) in LAGS {
        let label = format!("{} ms RTT", rtt * 1000.0);
        let w = no_contention(rtt, jitter, 0.0, 1);
        assert_checksummed(&w, &label);
        // Local bodies: every acknowledged command left the body exactly where predicted.
        for p in &w.peers {
            assert_prediction_exact(p, &label);
        }
        // The observer's view of the walker: no backward jumps, within a tick of motion.
        let observer = &w.peers[2];
        assert!(observer.interp_errors.len() > 900, "{label}");
        assert_eq!(observer.backward_jumps, 0, "{label}");
        let worst = q(&observer.interp_errors, 1.0);
        assert!(worst <= tick_of_motion(), "{label}: worst {worst}");
    }
}

#[test]
fn collision_corrections_are_smoothed_and_converge() {
    for ((rtt, jitter), meeting) in LAGS
        .into_iter()
        .flat_map(|l| [(l, Meeting::Bump), (l, Meeting::Shove)])
    {
        let label = format!("{meeting:?} at {} ms RTT", rtt * 1000.0);
        let w = collision(meeting, rtt, jitter, LOSS, 2);
        assert_checksummed(&w, &label);
        for p in &w.peers {
            let net = p.net();
            let stats = net.stats();
            let nonzero = stats.corrections.iter().filter(|e| **e > 0.0).count();
            assert!(nonzero > 0, "{label}: the bump was mispredicted");
            assert_eq!(stats.snaps, 0, "{label}: corrected smoothly, not snapped");
            // The offset halves every 60 ms and shrinks by at least 40 units/s: a bump's
            // correction (5-11 units) is gone within a few frames.
            let worst = p.settle_frames.iter().copied().max().unwrap();
            assert!(worst <= 12, "{label}: settled in {worst} frames");
            // At rest: drawn = predicted = the server's position.
            let server = lanes_of(w.server_pos(p.id));
            let me = own_body(net).unwrap();
            let view = net.view(me).unwrap();
            assert_eq!(
                (
                    view.lanes[tickwire_arena::body::x],
                    view.lanes[tickwire_arena::body::y]
                ),
                (server.0 as f64, server.1 as f64),
                "{label}: drawn"
            );
            let predicted = net.predicted(me).unwrap();
            assert_eq!(
                (
                    predicted[tickwire_arena::body::x],
                    predicted[tickwire_arena::body::y]
                ),
                server,
                "{label}: predicted"
            );
        }
    }
}

/// A shooter standing still fires the hitscan weapon at where it sees a walking target, at
/// 150 ms RTT. Returns the victim of the shot, the target, and how many ticks before the
/// server's tick the shooter's view was.
fn hitscan_at_150ms(lag_comp_ms: u32) -> (Option<PlayerId>, PlayerId, u32) {
    let mut w = World::new(config(lag_comp_ms), 3);
    let links = Links::tcp(0.15, 0.005, 0.0);
    let shooter = w.join(Vec2::new(300.0, 1000.0), links, 2, idle());
    let target = w.join(
        Vec2::new(700.0, 700.0),
        links,
        2,
        Box::new(|n, _| {
            if (n / 40) % 2 == 0 {
                stick(0, 127)
            } else {
                stick(0, -127)
            }
        }),
    );
    let fire_at = 150;
    let view = std::rc::Rc::new(std::cell::Cell::new(Tick(0)));
    let seen_at = view.clone();
    w.set_bot(
        shooter,
        Box::new(move |n, net| {
            if n != fire_at {
                return stick(0, 0);
            }
            seen_at.set(net.clock.view_tick());
            let me = own_body(net).expect("own body");
            let (me, _, _) = drawn(net, me).expect("drawn");
            let others: Vec<NetId> = net
                .replica
                .of_kind(tickwire_arena::BODY)
                .map(|(id, _)| id)
                .filter(|id| !net.is_predicted(*id))
                .collect();
            assert_eq!(others.len(), 1, "the target is in view");
            let (seen, _, _) = drawn(net, others[0]).expect("the target is drawn");
            let d = seen - me;
            input_lanes(&Intent {
                aim: d.y.atan2(d.x),
                alt_fire: true,
                ..Intent::default()
            })
        }),
    );
    w.run(6.0);
    let victim_field = tickwire_arena::schema().events[usize::from(HITSCAN)]
        .fields
        .iter()
        .position(|f| f.name == "victim")
        .expect("hitscan names its victim");
    let shots: Vec<_> = w.peers[shooter]
        .events
        .iter()
        .filter(|(_, e)| e.kind == HITSCAN)
        .map(|(tick, e)| (*tick, e.values[victim_field].int()))
        .collect();
    assert_eq!(shots.len(), 1, "one shot fired and its tracer received");
    // The shot was resolved while its command was applied, in the tick of the snapshot that
    // carried it, against the sim as it was after the tick before (the engine applies
    // inputs before `Sim::step`).
    let (tick, victim) = shots[0];
    let rewind = tick.0 - 1 - view.get().0;
    let victim = (victim != 0).then_some(PlayerId(victim as u32));
    (victim, w.peers[target].id, rewind)
}

#[test]
fn hitscan_at_150ms_hits_with_lag_compensation_misses_without_and_is_capped() {
    let (victim, target, rewind) = hitscan_at_150ms(250);
    println!("150 ms RTT: the shot was resolved {rewind} ticks in the past");
    // RTT (4.5 ticks) + interpolation delay (2 ticks + jitter) + waiting for the tick, within
    // the 250 ms (8 tick) cap.
    assert!((6..=8).contains(&rewind), "{rewind}");
    assert_eq!(
        victim,
        Some(target),
        "lag compensated: hits what the shooter saw"
    );
    let (victim, _, _) = hitscan_at_150ms(0);
    assert_eq!(victim, None, "not compensated: the target has moved on");
    // A cap of 100 ms (3 ticks) is shorter than this shooter's view is old: the claim is
    // clamped to 3 ticks back, where the target no longer was.
    let (victim, _, rewind) = hitscan_at_150ms(100);
    assert!(rewind > 3);
    assert_eq!(victim, None, "clamped to the cap: a miss");
}

/// Inputs over a lossy, reordering datagram link (the mode where redundancy matters): with
/// two repeats per message no command is lost and the room drops the repeats by sequence
/// number; without, lost messages are lost movement the prediction has to take back.
#[test]
fn redundant_input_frames_survive_loss_and_are_deduplicated() {
    let run = |repeats| {
        let mut w = World::new(config(250), 4);
        let links = Links {
            up: LinkConfig::unordered(0.1, 0.03, 0.1),
            down: LinkConfig::tcp(0.1, 0.01, 0.0),
            stream: None,
        };
        w.join(Vec2::new(400.0, 400.0), links, repeats, square(30));
        w.run(10.0);
        w.peers.remove(0)
    };
    let with = run(2);
    let without = run(0);
    println!(
        "2 repeats: {} duplicates dropped, {} of {} acknowledged states mispredicted; \
         no repeats: {} of {} mispredicted",
        with.inputs_duplicate,
        with.prediction_mismatches,
        with.prediction_checks,
        without.prediction_mismatches,
        without.prediction_checks
    );
    assert!(with.inputs_duplicate > 300, "{}", with.inputs_duplicate);
    assert_eq!(with.inputs_rejected, 0);
    assert!(with.prediction_checks > 200);
    assert_eq!(with.prediction_mismatches, 0, "no command lost");
    assert_eq!(without.inputs_duplicate, 0);
    assert!(
        without.prediction_mismatches > 10,
        "lost messages cost movement: {}",
        without.prediction_mismatches
    );
}

/// Over WebTransport datagrams (1 % loss each way, 1 % of datagrams delivered twice, jitter
/// reordering them) snapshots never diverge (a checksum on every one, each applied against
/// its acknowledged base), prediction stays exact, and a lost snapshot costs one tick instead
/// of a TCP repair: remote bodies stay within a tick of motion at p99, where TCP at the same
/// link drifts by several.
#[test]
fn over_datagrams_a_loss_costs_a_tick_not_a_stall() {
    let (rtt, jitter) = LAGS[2];
    let wt = no_contention_over(Links::webtransport(rtt, jitter, LOSS, 0.01), 1);
    let tcp = no_contention(rtt, jitter, LOSS, 1);
    let ticks = wt.room.tick_count().0;
    for p in &wt.peers {
        assert_prediction_exact(p, "webtransport");
        // Every snapshot but the lost ones (about 1 % each way) and the last ones in flight.
        assert!(
            p.checksums * 100 >= ticks * 95,
            "{} of {ticks}",
            p.checksums
        );
        assert!(
            p.stale > 0,
            "duplicates and overtaken datagrams were dropped"
        );
    }
    let p99 = |w: &World| q(&w.peers[2].interp_errors, 0.99);
    let (wt99, tcp99) = (p99(&wt), p99(&tcp));
    println!("observer's interpolation error p99: webtransport {wt99:.2}, tcp {tcp99:.2}");
    assert!(wt99 < tick_of_motion(), "{wt99} over a tick of motion");
    assert!(wt99 < tcp99, "datagrams {wt99} vs tcp {tcp99}");
}

/// Over two mirrored TCP connections (every room message down on both, the first copy taken)
/// a loss on one is covered by the other: prediction stays exact and remote bodies stay
/// within a tick of motion at p99, where one TCP connection on the same link drifts by
/// several.
#[test]
fn over_mirrored_tcp_a_loss_is_covered_by_the_other_connection() {
    let (rtt, jitter) = LAGS[2];
    let m = no_contention_over(Links::tcp_mirrored(rtt, jitter, LOSS), 1);
    let tcp = no_contention(rtt, jitter, LOSS, 1);
    for p in &m.peers {
        assert_prediction_exact(p, "mirrored");
    }
    let p99 = |w: &World| q(&w.peers[2].interp_errors, 0.99);
    let (m99, tcp99) = (p99(&m), p99(&tcp));
    println!("observer's interpolation error p99: mirrored tcp {m99:.2}, tcp {tcp99:.2}");
    assert!(m99 < tick_of_motion(), "{m99} over a tick of motion");
    assert!(m99 < tcp99, "mirrored {m99} vs tcp {tcp99}");
}

/// A report row of [`no_contention`]: every client's corrections, the observer's
/// interpolation.
fn no_contention_row(w: &World, label: String) -> NetcodeReport {
    let mut stats = w.peers[0].net().stats().clone();
    for p in &w.peers[1..] {
        stats.corrections.extend(p.net().stats().corrections.iter());
    }
    let observer = &w.peers[2];
    let ostats = observer.net().stats();
    stats.body_render_s = ostats.body_render_s;
    stats.extrapolating_s = ostats.extrapolating_s;
    NetcodeReport::new(label, &stats, &observer.interp_errors)
}

/// A report row's link: "200 ms RTT, jitter 40 ms, loss 1%".
fn lag_label(rtt: f64, jitter: f64, loss: f64) -> String {
    format!(
        "{:.0} ms RTT, jitter {:.0} ms, loss {:.0}%",
        rtt * 1000.0,
        jitter * 1000.0,
        loss * 100.0
    )
}

/// Prints the netcode report of `docs/NETCODE.md`.
#[test]
fn netcode_report() {
    let mut rows = Vec::new();
    for loss in [0.0, LOSS] {
        for (rtt, jitter) in LAGS {
            let lag = lag_label(rtt, jitter, loss);
            let w = no_contention(rtt, jitter, loss, 1);
            println!(
                "{lag}: observer backward jumps {}, prediction mismatches {}",
                w.peers[2].backward_jumps,
                w.peers.iter().map(|p| p.prediction_mismatches).sum::<u32>()
            );
            rows.push(no_contention_row(&w, format!("{lag}, no contention")));
            for meeting in [Meeting::Bump, Meeting::Shove] {
                let w = collision(meeting, rtt, jitter, loss, 2);
                let mut stats = w.peers[0].net().stats().clone();
                let other = w.peers[1].net().stats();
                stats.corrections.extend(other.corrections.iter());
                stats.snaps += other.snaps;
                stats.body_render_s += other.body_render_s;
                stats.extrapolating_s += other.extrapolating_s;
                let errors: Vec<f32> = w
                    .peers
                    .iter()
                    .flat_map(|p| p.interp_errors.clone())
                    .collect();
                let settle = w.peers.iter().flat_map(|p| p.settle_frames.iter()).max();
                println!("{lag}, {meeting:?}: corrections settle within {settle:?} frames");
                rows.push(NetcodeReport::new(
                    format!("{lag}, {meeting:?}"),
                    &stats,
                    &errors,
                ));
            }
        }
    }
    // The same no-contention scenario over WebTransport datagrams (the lossy rows also
    // deliver 1 % of datagrams twice).
    for loss in [0.0, LOSS] {
        for (rtt, jitter) in LAGS {
            let lag = lag_label(rtt, jitter, loss);
            let w = no_contention_over(Links::webtransport(rtt, jitter, loss, loss), 1);
            rows.push(no_contention_row(
                &w,
                format!("{lag}, no contention, webtransport"),
            ));
        }
    }
    // And over TCP with the room's messages mirrored on a second connection.
    for loss in [0.0, LOSS] {
        for (rtt, jitter) in LAGS {
            let lag = lag_label(rtt, jitter, loss);
            let w = no_contention_over(Links::tcp_mirrored(rtt, jitter, loss), 1);
            rows.push(no_contention_row(
                &w,
                format!("{lag}, no contention, mirrored tcp"),
            ));
        }
    }
    println!("{}", NetcodeReport::markdown_header());
    for r in &rows {
        println!("{}", r.markdown_row());
        assert!(r.corrections > 0);
    }
}

#[test]
fn lag_comp_flag_defaults_to_250_ms_and_is_bounded() {
    use clap::Parser;
    use tickwire_server::Config;
    assert_eq!(Config::parse_from(["tickwire"]).lag_comp_ms, 250);
    assert_eq!(ArenaConfig::default().lag_comp_ms, 250);
    let off = Config::parse_from(["tickwire", "--lag-comp-ms", "0"]);
    assert_eq!(off.lag_comp_ms, 0);
    assert!(Config::try_parse_from(["tickwire", "--lag-comp-ms", "5000"]).is_err());
}
