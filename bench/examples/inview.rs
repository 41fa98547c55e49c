//! The everyone-in-view scenario of `../shared/peers/colyseus/SCENARIO.md`, in process, on the
//! engine's real encoder: one room, 30 Hz, 2000 × 2000, every player moving at 200 units/s
//! and turning about once a second (x, y as `Fixed(8)`, the angle as `Angle8`, health and
//! score constant), everyone in view. Prints, for each N, the bytes per client per second, the
//! bytes per moving player per snapshot and the room's tick time, with the fields declared
//! `extrapolate` and with the previous encoding (`delta` positions, the angle absolute), with no
//! byte budget. No sockets: payload bytes as a client would receive them.
//!
//!     cargo run --release -p tickwire-bench --example inview -- 100 300 1000
//!
//! `SHARE=0` turns off [`EngineConfig::share_views`] (each client walks the whole world), to
//! compare tick times; `RAYON_NUM_THREADS=1` builds the snapshots on one thread.
//!
//! With `--budget N` it shows instead what the per-client byte budget
//! ([`EngineConfig::client_budget`]) does with N players in view, for both encodings and a
//! range of budgets: bytes per client per second, how many updates wait per client and tick,
//! and, on real replicas of four clients fed the bytes (checksums every second), how far and
//! for how long their copies of the other players stray from the truth.
//!
//!     cargo run --release -p tickwire-bench --example inview -- --budget 200
use std::collections::BTreeMap;
use std::time::Instant;
use tickwire_engine::{Ctx, EngineConfig, EntityMeta, Game, Room, World};
use tickwire_shared::schema::{FieldDesc, FieldType, KindDesc, Schema};
use tickwire_shared::sync::{InputCmd, Replica, ServerMsg, decode_server};
use tickwire_shared::{NetId, PlayerId};

struct Scenario {
    extrapolate: bool,
    rng: u64,
    players: Vec<(PlayerId, NetId, [f32; 3], u32)>,
}

impl Scenario {
    fn r(&mut self) -> f32 {
        // xorshift: the scenario's draws need only be uniform.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 40) as f32 / (1u64 << 24) as f32
    }
}

impl Game for Scenario {
    fn schema(&self) -> Schema {
        let pos = |n: &str| {
            let f = FieldDesc::new(n, FieldType::Fixed(8)).interpolate();
            if self.extrapolate {
                f.extrapolate()
            } else {
                f.delta()
            }
        };
        let angle = FieldDesc::new("angle", FieldType::Angle8).interpolate();
        let angle = if self.extrapolate {
            angle.extrapolate()
        } else {
            angle
        };
        Schema::new("inview").kind(KindDesc {
            name: "player".into(),
            fields: vec![
                FieldDesc::new("player", FieldType::Player),
                pos("x"),
                pos("y"),
                angle,
                FieldDesc::new("health", FieldType::U8),
                FieldDesc::new("score", FieldType::U16),
            ],
        })
    }
    fn join(&mut self, ctx: &mut Ctx<'_>, p: PlayerId, _: &str) -> Result<(), String> {
        let (x, y) = (2000.0 * self.r(), 2000.0 * self.r());
        let phase = (self.r() * 30.0) as u32;
        let id = ctx.spawn();
        self.players.push((p, id, [x, y, 0.0], phase));
        Ok(())
    }
    fn leave(&mut self, _: &mut Ctx<'_>, _: PlayerId) {}
    fn view_center(&self, p: PlayerId) -> Option<glam::Vec2> {
        // No view radius (everyone is in view): the centre only weighs a budget's priorities.
        let s = self.players.iter().find(|q| q.0 == p)?.2;
        Some(glam::Vec2::new(s[0], s[1]))
    }
    fn input(&mut self, _: &mut Ctx<'_>, _: PlayerId, _: &InputCmd) {}
    fn step(&mut self, ctx: &mut Ctx<'_>) {
        let tick = ctx.tick().0;
        for i in 0..self.players.len() {
            if (tick + self.players[i].3).is_multiple_of(30) {
                self.players[i].2[2] = std::f32::consts::TAU * self.r();
            }
            let s = &mut self.players[i].2;
            let dt = 1.0 / 30.0;
            s[0] = (s[0] + s[2].cos() * 200.0 * dt).clamp(0.0, 2000.0);
            s[1] = (s[1] + s[2].sin() * 200.0 * dt).clamp(0.0, 2000.0);
            // The state stays on the 1/8 grid, as the arena keeps its bodies: the wire then
            // holds the authoritative positions, and a straight course has a constant step.
            s[0] = (s[0] * 8.0).round() / 8.0;
            s[1] = (s[1] * 8.0).round() / 8.0;
        }
    }
    fn replicate(&self, world: &mut World) {
        for (p, id, s, _) in &self.players {
            let a = ((s[2] / std::f32::consts::TAU * 256.0).round() as i64).rem_euclid(256);
            let lanes = [
                i64::from(p.0),
                (s[0] * 8.0).round() as i64,
                (s[1] * 8.0).round() as i64,
                a,
                100,
                0,
            ];
            let at = glam::Vec2::new(s[0], s[1]);
            world.entity(EntityMeta::new(*id, 0).owned_by(*p).at(at), &lanes);
        }
    }
}

/// A room of the scenario with room for `n` players.
fn scenario(n: usize, extrapolate: bool, config: EngineConfig) -> Room<Scenario> {
    let config = EngineConfig {
        max_players: n + 1,
        ..config
    };
    let game = Scenario {
        extrapolate,
        rng: 12345,
        players: Vec::new(),
    };
    Room::new(config, game)
}

fn run(n: usize, extrapolate: bool) -> (f64, f64, f64) {
    let config = EngineConfig {
        client_budget: None,
        // `SHARE=0`: every client walks the world itself (the bytes are the same).
        share_views: std::env::var("SHARE").map_or(true, |v| v != "0"),
        ..EngineConfig::default()
    };
    let mut room = scenario(n, extrapolate, config);
    for i in 0..n {
        room.handle_join(&format!("bot{i}"), None).unwrap();
    }
    for _ in 0..150 {
        room.tick(|_| true); // warm-up: the join snapshots and 5 s
    }
    let (ticks, mut bytes, mut time) = (300u32, 0usize, 0.0);
    for _ in 0..ticks {
        let t = Instant::now();
        let out = room.tick(|_| true);
        time += t.elapsed().as_secs_f64();
        bytes += out.messages.iter().map(|(_, m)| m.len()).sum::<usize>();
    }
    let per_client_tick = bytes as f64 / (n as f64 * f64::from(ticks));
    (
        per_client_tick * 30.0,
        per_client_tick / n as f64,
        time / f64::from(ticks) * 1000.0,
    )
}

/// What a budget did in one run.
struct Budgeted {
    bytes_per_s: f64,
    waiting: f64,
    err_mean: f64,
    err_max: f64,
    stale_max: u32,
    divergences: u32,
}

fn run_budget(n: usize, extrapolate: bool, budget: Option<u32>) -> Budgeted {
    let config = EngineConfig {
        client_budget: budget,
        checksum_interval: 30,
        ..EngineConfig::default()
    };
    let mut room = scenario(n, extrapolate, config);
    let mut replicas = BTreeMap::new();
    for i in 0..n {
        let j = room.handle_join(&format!("bot{i}"), None).unwrap();
        if i % (n / 4).max(1) == 0 {
            let Ok(ServerMsg::Welcome(w)) = decode_server(&j.welcome, None, &[]) else {
                panic!("a welcome")
            };
            replicas.insert(j.player_id, Replica::new(&w));
        }
    }
    let (warm, ticks) = (150u32, 300u32);
    let (mut bytes, mut waiting, mut divergences) = (0usize, 0usize, 0u32);
    let (mut err_sum, mut err_n, mut err_max) = (0.0f64, 0u64, 0.0f64);
    let mut stale: BTreeMap<(PlayerId, NetId), u32> = BTreeMap::new();
    let mut stale_max = 0;
    for t in 0..warm + ticks {
        let out = room.tick(|_| true);
        for (p, m) in &out.messages {
            if let Some(r) = replicas.get_mut(p) {
                let applied = match r.decode(m) {
                    Ok(ServerMsg::Snapshot(s)) => r.apply(&s).is_ok(),
                    _ => false,
                };
                divergences += u32::from(!applied);
            }
        }
        if t < warm {
            continue;
        }
        bytes += out.messages.iter().map(|(_, m)| m.len()).sum::<usize>();
        for (_, id, s, _) in &room.game().players {
            for (p, r) in &replicas {
                let Some(e) = r.entities.get(id) else {
                    continue;
                };
                let dx = e.lanes[1] as f64 / 8.0 - f64::from(s[0]);
                let dy = e.lanes[2] as f64 / 8.0 - f64::from(s[1]);
                let err = (dx * dx + dy * dy).sqrt();
                err_sum += err;
                err_n += 1;
                err_max = err_max.max(err);
                let k = stale.entry((*p, *id)).or_default();
                *k = if err > 0.0 { *k + 1 } else { 0 };
                stale_max = stale_max.max(*k);
            }
        }
        waiting += replicas
            .keys()
            .filter_map(|p| room.client_budget(*p))
            .map(|b| b.waiting())
            .sum::<usize>();
    }
    Budgeted {
        bytes_per_s: bytes as f64 / (n as f64 * f64::from(ticks)) * 30.0,
        waiting: waiting as f64 / (replicas.len() as f64 * f64::from(ticks)),
        err_mean: err_sum / err_n.max(1) as f64,
        err_max,
        stale_max,
        divergences,
    }
}

fn budgets(n: usize) {
    println!(
        "| encoding | budget B/s | B/client/s | updates waiting per client and tick | error mean / max, units | longest inexact, ticks | divergences |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (x, name) in [(true, "extrapolated"), (false, "previous (delta)")] {
        for b in [
            None,
            Some(32 * 1024),
            Some(8192),
            Some(4096),
            Some(2048),
            Some(1024),
        ] {
            let r = run_budget(n, x, b);
            let b = b.map_or("none".to_string(), |b| b.to_string());
            println!(
                "| {name} | {b} | {:.0} | {:.1} | {:.2} / {:.1} | {} | {} |",
                r.bytes_per_s, r.waiting, r.err_mean, r.err_max, r.stale_max, r.divergences
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--budget") {
        let n = args.get(i + 1).and_then(|a| a.parse().ok()).unwrap_or(200);
        budgets(n);
        return;
    }
    let ns: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let ns = if ns.is_empty() {
        vec![100, 300, 1000]
    } else {
        ns
    };
    println!(
        "| N | encoding | B/client/s | B per moving player per snapshot | tick ms (one core) |"
    );
    println!("|---|---|---:|---:|---:|");
    for n in ns {
        for (x, name) in [(false, "previous (delta)"), (true, "extrapolated")] {
            let (bps, per, ms) = run(n, x);
            println!("| {n} | {name} | {bps:.0} | {per:.3} | {ms:.2} |");
        }
    }
}
