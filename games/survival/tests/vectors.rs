//! The survival game's golden movement vectors for its browser page (`client-web/survival/`),
//! so the page's JavaScript prediction step cannot drift from Rust:
//! `client-web/test/vectors/survival_movement.json` holds sequences of input commands and the
//! hero lanes [`predict_step`] (the server's own `step_hero`) leaves after each, under several
//! rule sets (tick rates, map sizes); `client-web/test/survival_rules.test.js` replays them to
//! the bit.
//!
//! The test fails when the checked-in file differs from what Rust produces. After a deliberate
//! change of the rules or the movement, regenerate with
//! `TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-survival --test vectors` and commit it.

use serde_json::{Value, json};
use std::path::PathBuf;
use tickwire_shared::sync::InputCmd;
use tickwire_shared::sync::predict::PredictStep;
use tickwire_shared::{InputSeq, Tick};
use tickwire_survival::client::{ClientConfig, predict_step};
use tickwire_survival::rules::{Rules, quantize_pos};
use tickwire_survival::{hero, input};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../client-web/test/vectors")
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

    fn axis(&mut self) -> i64 {
        // Mostly full deflection (keyboards), sometimes partial (sticks), sometimes -128.
        match self.next() % 6 {
            0 => -127,
            1 => 127,
            2 => 0,
            3 => -128,
            _ => i64::from((self.next() % 256) as u8 as i8),
        }
    }

    fn coord(&mut self, max: f32) -> f32 {
        // Anywhere, often hugging an edge so the clamp is exercised.
        match self.next() % 4 {
            0 => (self.next() % 40) as f32 * 0.37,
            1 => max - (self.next() % 40) as f32 * 0.41,
            _ => (self.next() % 100_000) as f32 / 100_000.0 * max,
        }
    }
}

fn case(step: &dyn PredictStep, rules: &Rules, g: &mut Lcg, alive: bool) -> Value {
    let mut lanes = vec![0i64; hero::COUNT];
    lanes[hero::x] = quantize_pos(g.coord(rules.width));
    lanes[hero::y] = quantize_pos(g.coord(rules.height));
    lanes[hero::alive] = i64::from(alive);
    let start = [lanes[hero::x], lanes[hero::y]];
    let mut steps = Vec::new();
    let (mut mx, mut my) = (0, 0);
    for seq in 1..=60 {
        // Held keys: the intent changes now and then, not every command.
        if seq == 1 || g.next().is_multiple_of(5) {
            (mx, my) = (g.axis(), g.axis());
        }
        let mut cmd_lanes = vec![0i64; input::COUNT];
        cmd_lanes[input::move_x] = mx;
        cmd_lanes[input::move_y] = my;
        cmd_lanes[input::fire] = i64::from(g.next().is_multiple_of(3));
        let cmd = InputCmd {
            seq: InputSeq(seq),
            view_tick: Tick(0),
            lanes: cmd_lanes,
        };
        step.step(&mut lanes, &cmd);
        steps.push(json!([mx, my, lanes[hero::x], lanes[hero::y]]));
    }
    json!({ "start": start, "alive": alive, "steps": steps })
}

fn movement() -> Value {
    let mut g = Lcg(0x5eed_2026);
    let mut suites = Vec::new();
    for (width, height, tick_rate) in [
        (3000.0, 3000.0, 30),
        (1200.0, 800.0, 60),
        (517.5, 333.25, 20),
        (3000.0, 3000.0, 128),
        (250.0, 4000.0, 33),
    ] {
        let rules = Rules::new(width, height, tick_rate);
        let config = ClientConfig {
            rules: rules.clone(),
            view_radius: 600.0,
            pickups: 0,
        };
        let step = predict_step(&config);
        let cases: Vec<Value> = (0..24)
            .map(|i| case(&step, &rules, &mut g, i % 8 != 7))
            .collect();
        suites.push(json!({ "rules": rules, "cases": cases }));
    }
    json!({ "suites": suites })
}

#[test]
fn survival_vectors_match_the_checked_in_file() {
    // Compact: thousands of steps, each `[move_x, move_y, x, y]` (the lanes after the step).
    let mut bytes = serde_json::to_string(&movement()).expect("JSON values serialize");
    bytes.push('\n');
    let path = vectors_dir().join("survival_movement.json");
    if std::env::var_os("TICKWIRE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &bytes).unwrap();
        return;
    }
    let disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        disk == bytes.as_bytes(),
        "survival_movement.json differs from what the Rust code produces; if the change is \
         deliberate, regenerate with TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-survival \
         --test vectors"
    );
}
