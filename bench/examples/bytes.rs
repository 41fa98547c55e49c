//! Where a client's bytes go in the default scenario, in process: the demo arena with N
//! players (150 by default, as `bench/run-load.sh default`), each driven by the load tester's
//! `mixed` brain from its own replica of the bytes it was sent, 30 inputs a second. Prints the
//! bytes per client per second and how they split between the header, the entity updates,
//! the creations (and removals), the player records, the events and the checksums, by kind.
//!
//!     cargo run --release -p tickwire-bench --example bytes -- 150 30
//!
//! `BUDGET=bytes` sets the per-client budget (`0`: none; the engine's default otherwise); the
//! error line shows how far each client's copies of the other bodies are from the copies their
//! owners hold (exact, as every snapshot carries one's own body).
//! `MASKS=1` adds how often each update mask occurs and, per kind and field, how many lanes'
//! zigzags take each bit length (what the small-number code was fitted to); `ORDER=1` how
//! many body lanes (x, y, aim) one client's copy would need a residual for under the linear
//! predictor the protocol uses and under a quadratic one.
use std::collections::BTreeMap;
use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_engine::{EngineConfig, Room};
use tickwire_shared::sync::bot::BotBrain;
use tickwire_shared::sync::{InputCmd, Replica, ServerMsg, Snapshot, decode_server, encode_server};
use tickwire_shared::{InputSeq, PlayerId};

fn size(s: &Snapshot, r: &Replica) -> usize {
    let mut out = Vec::new();
    let held: Vec<_> = r.held();
    encode_server(&ServerMsg::Snapshot(s.clone()), &r.schema, &held, &mut out);
    out.len()
}

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (n, secs) = (arg(1, 150), arg(2, 30));
    let budget = std::env::var("BUDGET").ok().and_then(|b| b.parse().ok());
    let config = EngineConfig {
        max_players: n + 1,
        checksum_interval: 10,
        client_budget: if std::env::var("BUDGET").is_ok() {
            budget.filter(|&b| b > 0)
        } else {
            EngineConfig::default().client_budget
        },
        ..EngineConfig::default()
    };
    let mut room = Room::new(config, ArenaGame::new(ArenaConfig::default()));
    let mut bots: BTreeMap<PlayerId, (Replica, Box<dyn BotBrain>, u32)> = BTreeMap::new();
    for i in 0..n {
        let j = room.handle_join(&format!("bot{i}"), None).unwrap();
        let Ok(ServerMsg::Welcome(w)) = decode_server(&j.welcome, None, &[]) else {
            panic!("a welcome")
        };
        let brain = tickwire_arena::bot::brain("mixed", i, 7).unwrap();
        bots.insert(j.player_id, (Replica::new(&w), brain, 0));
    }
    let warm = 150;
    let ticks = secs * 30;
    let first = *bots.keys().next().expect("a bot");
    let mut total = 0usize;
    // Bytes by part, over every snapshot of every client.
    let mut parts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut frames = 0usize;
    let mut masks: BTreeMap<u64, usize> = BTreeMap::new();
    // Per kind and field: how many lanes' zigzags take each bit length.
    let mut zbits: BTreeMap<(u16, usize), [usize; 34]> = BTreeMap::new();
    let mut hist: BTreeMap<tickwire_shared::NetId, Vec<[i64; 3]>> = BTreeMap::new();
    let mut order = [0u64; 3];
    // Error of the other bodies: sum (units), count, max, how many inexact.
    let mut err = (0.0f64, 0usize, 0.0f64, 0usize);
    for t in 0..warm + ticks {
        for (id, (r, brain, seq)) in bots.iter_mut() {
            *seq += 1;
            let lanes = brain.next_input(r, 30.0);
            let cmd = InputCmd {
                seq: InputSeq(*seq),
                view_tick: r.tick,
                lanes,
            };
            room.handle_inputs(*id, vec![cmd]);
        }
        let out = room.tick(|_| true);
        if t >= warm {
            // Every client's copy of every other body against the copy its owner holds (a
            // player's own body is always exact: every snapshot carries it).
            for (c, (r, ..)) in &bots {
                for (eid, e) in &r.entities {
                    if e.kind != 0 || e.lanes[0] == i64::from(c.0) {
                        continue;
                    }
                    let owner = PlayerId(e.lanes[0] as u32);
                    let Some(t) = bots.get(&owner).and_then(|(o, ..)| o.entities.get(eid)) else {
                        continue;
                    };
                    let (dx, dy) = (
                        (e.lanes[1] - t.lanes[1]) as f64,
                        (e.lanes[2] - t.lanes[2]) as f64,
                    );
                    let d = (dx * dx + dy * dy).sqrt() / 8.0;
                    err.0 += d;
                    err.1 += 1;
                    err.2 = err.2.max(d);
                    err.3 += usize::from(d > 0.0);
                }
            }
        }
        for (id, bytes) in &out.messages {
            let (r, ..) = bots.get_mut(id).unwrap();
            let msg = r.decode(bytes).expect("decodes");
            let ServerMsg::Snapshot(s) = msg else {
                continue;
            };
            if t >= warm {
                frames += 1;
                total += bytes.len();
                if bytes[0] == 3 {
                    *parts.entry("tick markers").or_default() += bytes.len();
                } else {
                    // Each part is what the snapshot would lose without it.
                    let full = size(&s, r);
                    let without = |f: &dyn Fn(&mut Snapshot)| {
                        let mut c = s.clone();
                        f(&mut c);
                        full - size(&c, r)
                    };
                    let upd = without(&|c| {
                        c.updated.clear();
                        c.updated_lanes.clear();
                    });
                    let mut by_kind = [0usize; 2];
                    for c in &s.created {
                        by_kind[usize::from(c.kind).min(1)] += 1;
                    }
                    let created = without(&|c| {
                        c.created.clear();
                        c.created_lanes.clear();
                        c.updated.clear();
                        c.updated_lanes.clear();
                    }) - upd;
                    let removed = without(&|c| c.removed.clear());
                    let events = without(&|c| c.events.clear());
                    let checksum = without(&|c| c.checksum = None);
                    let players = without(&|c| {
                        c.players_changed.clear();
                        c.changed_lanes.clear();
                        c.players_joined.clear();
                        c.joined_lanes.clear();
                        c.players_left.clear();
                    });
                    let room_f = without(&|c| c.room = None);
                    let header =
                        full - upd - created - removed - events - checksum - players - room_f;
                    for (k, v) in [
                        ("entity updates", upd),
                        ("creations", created),
                        ("removals", removed),
                        ("events", events),
                        ("checksums", checksum),
                        ("player records", players),
                        ("room fields", room_f),
                        ("header", header),
                    ] {
                        *parts.entry(k).or_default() += v;
                    }
                    *parts.entry("bodies created (count)").or_default() += by_kind[0];
                    *parts.entry("projectiles created (count)").or_default() += by_kind[1];
                    *parts.entry("updates (count)").or_default() += s.updated.len();
                    if std::env::var("MASKS").is_ok() {
                        let mut lanes = s.updated_lanes.iter();
                        for u in &s.updated {
                            *masks.entry(u.mask).or_default() += 1;
                            let mut m = u.mask;
                            while m != 0 {
                                let f = m.trailing_zeros() as usize;
                                m &= m - 1;
                                let v = *lanes.next().unwrap();
                                let z = ((v << 1) ^ (v >> 63)) as u64;
                                let h = zbits.entry((u.kind, f)).or_insert([0; 34]);
                                h[(64 - z.leading_zeros()) as usize] += 1;
                            }
                        }
                    }
                }
            }
            r.apply(&s).expect("applies");
            if std::env::var("ORDER").is_ok() && t >= warm && *id == first {
                // The first client's view of every body: residuals of a linear and a
                // quadratic predictor on x, y and aim, tick after tick.
                for (eid, e) in &r.entities {
                    if e.kind != 0 {
                        continue;
                    }
                    let h = hist.entry(*eid).or_default();
                    h.push([e.lanes[1], e.lanes[2], e.lanes[3]]);
                    if h.len() > 4 {
                        h.remove(0);
                    }
                    if h.len() == 4 || h.len() == 3 {
                        let n = h.len();
                        #[allow(clippy::needless_range_loop)]
                        // f picks the lane of each of the last ticks
                        for f in 0..3 {
                            let v = |k: usize| h[n - 1 - k][f];
                            let lin = v(1) + (v(1) - v(2));
                            let mut dl = v(0) - lin;
                            if f == 2 {
                                dl = (dl + 128).rem_euclid(256) - 128;
                            }
                            if n == 4 {
                                let quad = 3 * v(1) - 3 * v(2) + v(3);
                                let mut dq = v(0) - quad;
                                if f == 2 {
                                    dq = (dq + 128).rem_euclid(256) - 128;
                                }
                                order[0] += u64::from(dl != 0);
                                order[1] += u64::from(dq != 0);
                                order[2] += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    if err.1 > 0 {
        println!(
            "  other bodies as each client holds them against their owners' copies: error mean {:.3} units, max {:.1}, {:.2} % of them inexact",
            err.0 / err.1 as f64,
            err.2,
            100.0 * err.3 as f64 / err.1 as f64
        );
    }
    let per_client_s = |b: usize| b as f64 / n as f64 / ticks as f64 * 30.0;
    println!(
        "{n} players, {secs} s: {:.0} B/client/s ({:.2} KiB/s), {:.1} frames/client/s, {:.1} B a frame",
        per_client_s(total),
        per_client_s(total) / 1024.0,
        frames as f64 / n as f64 / ticks as f64 * 30.0,
        total as f64 / frames.max(1) as f64
    );
    if order[2] > 0 {
        println!(
            "  nonzero residuals, linear {} / quadratic {} of {} lanes",
            order[0], order[1], order[2]
        );
    }
    if !masks.is_empty() {
        println!("  masks: {masks:?}");
        for ((k, f), h) in &zbits {
            let last = h.iter().rposition(|&c| c > 0).unwrap_or(0);
            println!(
                "  kind {k} field {f}: zigzag bit lengths 0..={last}: {:?}",
                &h[..=last]
            );
        }
    }
    for (k, v) in &parts {
        if k.ends_with("(count)") {
            println!("  {k}: {:.2} a frame", *v as f64 / frames.max(1) as f64);
        } else {
            println!(
                "  {k}: {:.0} B/client/s ({:.0} %)",
                per_client_s(*v),
                100.0 * *v as f64 / total.max(1) as f64
            );
        }
    }
}
