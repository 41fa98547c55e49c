//! Which bots play which game. A game gives the load tester a [`BotBrain`] per bot (see
//! [`tickwire_shared::sync::bot`]); this table maps the bundled games' names (the `game` of
//! their schema, which a bot reads in `Welcome`) to their brains and behaviour names.

use tickwire_shared::sync::bot::BotBrain;

/// The games bots can play, by schema name.
pub const GAMES: &[&str] = &["arena"];

/// The behaviours a game's bots know (`--behaviour`).
pub fn behaviours(game: &str) -> Option<&'static [&'static str]> {
    match game {
        "arena" => Some(tickwire_arena::bot::BEHAVIOURS),
        _ => None,
    }
}

/// Checks a `--game` / `--behaviour` pair before any bot starts.
pub fn check(game: &str, behaviour: &str) -> Result<(), String> {
    let Some(names) = behaviours(game) else {
        return Err(format!(
            "no bots for game {game:?}; bots play {}",
            GAMES.join(", ")
        ));
    };
    if names.contains(&behaviour) {
        Ok(())
    } else {
        Err(format!(
            "game {game} has no bot behaviour {behaviour:?}; it has {}",
            names.join(", ")
        ))
    }
}

/// The brain of bot number `index` playing `game` with `behaviour`, seeded.
pub fn brain(
    game: &str,
    behaviour: &str,
    index: usize,
    seed: u64,
) -> Result<Box<dyn BotBrain>, String> {
    check(game, behaviour)?;
    match game {
        "arena" => tickwire_arena::bot::brain(behaviour, index, seed),
        _ => unreachable!("checked above"),
    }
}
