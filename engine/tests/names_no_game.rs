//! The engine and every game-independent client part name no game: nothing in their sources
//! speaks of projectiles, hitscan, obstacles, health, weapons or the arena. A game's words
//! belong in its own crate (`games/`); this test fails the day one leaks back.

use std::path::{Path, PathBuf};

/// Words of the arena (and of shooters in general) that no engine source may contain.
const GAME_WORDS: &[&str] = &[
    "arena",
    "projectile",
    "hitscan",
    "obstacle",
    "health",
    "weapon",
    "bullet",
    "shoot",
];

/// The game-independent sources, relative to the workspace root.
const ENGINE_SOURCES: &[&str] = &[
    "engine/src",
    "shared/src",
    "client-net/src",
    "client-bevy/src/sync",
    "client-web/src/sdk",
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "js") {
            out.push(path);
        }
    }
}

#[test]
fn engine_sources_name_no_game() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut sources = Vec::new();
    for dir in ENGINE_SOURCES {
        files(&root.join(dir), &mut sources);
    }
    assert!(sources.len() > 20, "found only {} sources", sources.len());
    let mut found = Vec::new();
    for path in &sources {
        let text = std::fs::read_to_string(path).unwrap().to_lowercase();
        for (n, line) in text.lines().enumerate() {
            for word in GAME_WORDS {
                if line.contains(word) {
                    found.push(format!("{}:{}: {word}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "game words in engine sources:\n{}",
        found.join("\n")
    );
}
