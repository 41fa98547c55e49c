//! The arena's golden vectors for the browser page (`client-web/`), so the JavaScript port
//! of the arena cannot drift from Rust:
//!
//! - `arena.json`: the arena's schema and its default `game_config`, exactly as a server sends
//!   them in `Welcome` (the page's deterministic tests build their rooms from it);
//! - `movement.json`: sequences of movement commands with the positions `step_player`
//!   produces, which the page's prediction replays to the bit.
//!
//! The test fails when the checked-in files differ from what Rust produces. After a deliberate
//! change of the schema or the rules, regenerate with
//! `TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-arena --test vectors` and commit them.

use glam::Vec2;
use serde_json::{Value, json};
use std::path::PathBuf;
use tickwire_arena::rules::{Arena, Rect, Rules, step_player};
use tickwire_arena::state::Command;
use tickwire_arena::{ArenaConfig, ArenaGame};
use tickwire_engine::Game;
use tickwire_shared::{InputSeq, Tick};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../client-web/test/vectors")
}

fn cmd(seq: u32, move_x: i8, move_y: i8, aim: u16, buttons: u8, view_tick: u32) -> Command {
    Command {
        seq: InputSeq(seq),
        move_x,
        move_y,
        aim,
        buttons,
        view_tick: Tick(view_tick),
    }
}

fn rect_json(r: &Rect) -> Value {
    json!({ "min_x": r.min_x, "min_y": r.min_y, "max_x": r.max_x, "max_y": r.max_y })
}

fn arena_json(a: &Arena) -> Value {
    json!({
        "width": a.width, "height": a.height,
        "obstacles": a.obstacles.iter().map(rect_json).collect::<Vec<_>>(),
    })
}

fn rules_json(r: &Rules) -> Value {
    json!({
        "tick_rate": r.tick_rate, "player_radius": r.player_radius,
        "player_speed": r.player_speed, "max_health": r.max_health,
        "respawn_ticks": r.respawn_ticks, "projectile_speed": r.projectile_speed,
        "projectile_radius": r.projectile_radius,
        "projectile_lifetime_ticks": r.projectile_lifetime_ticks,
        "projectile_damage": r.projectile_damage, "fire_cooldown_ticks": r.fire_cooldown_ticks,
        "hitscan_damage": r.hitscan_damage, "hitscan_range": r.hitscan_range,
        "hitscan_cooldown_ticks": r.hitscan_cooldown_ticks,
    })
}

/// A small deterministic generator (no dependency, same sequence everywhere).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    fn axis(&mut self) -> i8 {
        // Mostly full deflection (keyboards), sometimes partial (sticks), sometimes -128.
        match self.next() % 6 {
            0 => -127,
            1 => 127,
            2 => 0,
            3 => -128,
            _ => (self.next() % 255) as i32 as i8,
        }
    }
}

fn movement_case(
    rules: &Rules,
    (arena_name, arena): (&str, &Arena),
    start: Vec2,
    moves: impl IntoIterator<Item = (i8, i8)>,
) -> Value {
    let mut pos = start;
    let steps: Vec<Value> = moves
        .into_iter()
        .enumerate()
        .map(|(i, (mx, my))| {
            pos = step_player(pos, &cmd(i as u32 + 1, mx, my, 0, 0, 0), rules, arena);
            json!([mx, my, pos.x, pos.y])
        })
        .collect();
    json!({ "arena": arena_name, "start_x": start.x, "start_y": start.y, "steps": steps })
}

fn movement() -> Value {
    let arena = Arena::default();
    let walls = Arena {
        width: 200.0,
        height: 150.0,
        obstacles: vec![
            Rect::new(90.0, 0.0, 20.0, 100.0),
            Rect::new(40.0, 60.0, 30.0, 30.0),
        ],
    };
    let mut rng = Lcg(0x7469_636b_7769_7265);
    let mut suites = Vec::new();
    for tick_rate in [30u16, 60, 128, 10] {
        let rules = Rules::at_tick_rate(tick_rate);
        let mut cases = Vec::new();
        // Into each obstacle of the demo arena from the left, then along its face.
        for o in &arena.obstacles {
            let start = Vec2::new(o.min_x - 60.0, (o.min_y + o.max_y) / 2.0);
            let moves =
                std::iter::repeat_n((127, 0), 40).chain(std::iter::repeat_n((127, -90), 40));
            cases.push(movement_case(&rules, ("demo", &arena), start, moves));
        }
        // Into the corners and walls.
        for (start, dir) in [
            (Vec2::new(30.0, 30.0), (-127, -127)),
            (Vec2::new(2370.0, 1570.0), (127, 127)),
            (Vec2::new(1200.0, 20.0), (-128, -128)),
        ] {
            cases.push(movement_case(
                &rules,
                ("demo", &arena),
                start,
                std::iter::repeat_n(dir, 20),
            ));
        }
        // Random walks from off-grid starts (and from inside obstacles) in a tight arena.
        for start in [
            Vec2::new(123.456, 77.7),
            Vec2::new(100.0, 50.0),
            Vec2::new(55.0, 75.0),
            Vec2::new(16.0, 16.0),
        ] {
            let moves: Vec<(i8, i8)> = (0..200).map(|_| (rng.axis(), rng.axis())).collect();
            cases.push(movement_case(&rules, ("walls", &walls), start, moves));
        }
        let moves: Vec<(i8, i8)> = (0..400).map(|_| (rng.axis(), rng.axis())).collect();
        cases.push(movement_case(
            &rules,
            ("demo", &arena),
            Vec2::new(1000.0, 800.0),
            moves,
        ));
        suites.push(json!({ "rules": rules_json(&rules), "cases": cases }));
    }
    json!({
        "arenas": { "demo": arena_json(&arena), "walls": arena_json(&walls) },
        "suites": suites,
    })
}

/// The arena as a server describes it: schema and default game_config.
fn arena_description() -> Value {
    let game = ArenaGame::new(ArenaConfig::default());
    json!({
        "schema": serde_json::to_value(game.schema()).expect("the schema serializes"),
        "game_config": game.client_config(),
    })
}

fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mut arena = serde_json::to_string_pretty(&arena_description()).expect("JSON serializes");
    arena.push('\n');
    // Compact: thousands of steps, each `[move_x, move_y, x, y]` (the position after the step).
    let mut moves = serde_json::to_string(&movement()).expect("JSON values serialize");
    moves.push('\n');
    vec![
        ("arena.json", arena.into_bytes()),
        ("movement.json", moves.into_bytes()),
    ]
}

#[test]
fn arena_vectors_match_the_checked_in_files() {
    let dir = vectors_dir();
    for (name, bytes) in files() {
        let path = dir.join(name);
        if std::env::var_os("TICKWIRE_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            disk == bytes,
            "{name} differs from what the Rust code produces; if the change is deliberate, \
             regenerate with TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-arena --test vectors"
        );
    }
}
