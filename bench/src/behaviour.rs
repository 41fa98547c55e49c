//! Which bots play which game. A game gives the load tester a [`BotBrain`] per bot (see
//! [`tickwire_shared::sync::bot`]); this table maps the bundled games' names (the `game` of
//! their schema, which a bot reads in `Welcome`) to their brains and behaviour names.

use tickwire_shared::sync::bot::BotBrain;

/// The games bots can play, by schema name.
pub const GAMES: &[&str] = &["arena", "cards", "survival"];

/// The survival game's behaviours as the load tester offers them: the game's own
/// ([`tickwire_survival::bot::BEHAVIOURS`]) after `mixed`, the load tester's default, which
/// like the card game's `mixed` picks one of the game's brains by the bot's index: every third
/// bot idles (a target standing in the swarm), the others are survivors.
pub const SURVIVAL: &[&str] = &["mixed", "survivor", "idle"];

/// The behaviours a game's bots know (`--behaviour`).
pub fn behaviours(game: &str) -> Option<&'static [&'static str]> {
    match game {
        "arena" => Some(tickwire_arena::bot::BEHAVIOURS),
        "cards" => Some(tickwire_cards::bot::BEHAVIOURS),
        "survival" => Some(SURVIVAL),
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
        "cards" => tickwire_cards::bot::brain(behaviour, index, seed),
        "survival" => {
            let behaviour = match behaviour {
                "mixed" if index % 3 == 2 => "idle",
                "mixed" => "survivor",
                own => own,
            };
            tickwire_survival::bot::brain(behaviour, index, seed)
        }
        _ => unreachable!("checked above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_shared::sync::{Replica, ServerMsg, decode_server};

    #[test]
    fn every_game_has_brains_for_every_behaviour_it_names() {
        for game in GAMES {
            for behaviour in behaviours(game).unwrap() {
                assert!(brain(game, behaviour, 0, 1).is_ok(), "{game} {behaviour}");
            }
            assert!(check(game, "no-such-behaviour").is_err());
        }
        assert!(check("chess", "mixed").is_err());
        // The load tester's default behaviour is one of each game's.
        for game in GAMES {
            assert!(check(game, "mixed").is_ok(), "{game}");
        }
    }

    /// A card bot from the table plays its turn in a real room: every move it makes is legal,
    /// and it moves only on its turn (no sockets: the room's bytes feed its replica).
    #[test]
    fn card_bots_play_legal_moves_in_a_room() {
        use tickwire_cards::{CardsConfig, CardsGame, WON};
        use tickwire_engine::{EngineConfig, Room};
        let config = EngineConfig {
            checksum_interval: 1,
            ..EngineConfig::default()
        };
        let mut room = Room::new(config, CardsGame::new(CardsConfig::default()));
        let mut bots = Vec::new();
        for i in 0..3 {
            let j = room.handle_join(&format!("bot{i}"), None).unwrap();
            let ServerMsg::Welcome(w) = decode_server(&j.welcome, None, &[]).unwrap() else {
                panic!("not a welcome")
            };
            bots.push((
                j.player_id,
                Replica::new(&w),
                brain("cards", "mixed", i, 7).unwrap(),
            ));
        }
        let (mut seq, mut moves, mut won) = (0, 0, 0);
        for _ in 0..2000 {
            let out = room.tick(|_| true);
            for (id, replica, _) in &mut bots {
                let bytes = &out.messages.iter().find(|(p, _)| p == id).unwrap().1;
                let ServerMsg::Snapshot(s) = replica.decode(bytes).unwrap() else {
                    panic!("not a snapshot")
                };
                replica.apply(&s).unwrap();
                won += s.events.iter().filter(|e| e.kind == WON).count();
            }
            for (id, replica, brain) in &mut bots {
                assert!(brain.next_input(replica, 30.0).is_empty(), "no input lanes");
                if let Some((kind, values)) = brain.next_action(replica) {
                    seq += 1;
                    let a = tickwire_shared::sync::Action { seq, kind, values };
                    assert_eq!(room.handle_action(*id, &a), Ok(()), "{a:?}");
                    moves += 1;
                }
            }
            if won >= 3 * bots.len() {
                break;
            }
        }
        assert!(won >= 3 * bots.len(), "every bot saw three rounds won");
        assert!(moves > 30);
    }

    /// Survival bots from the table in a real room fed by its bytes (no sockets): every one
    /// of the game's behaviours is in the table and `mixed` is made of them; the survivors of
    /// `mixed` walk and fire, the idle one never moves nor fires, and every input
    /// has the game's lanes.
    #[test]
    fn survival_bots_from_the_table_play_a_room() {
        use tickwire_engine::{EngineConfig, Room};
        use tickwire_shared::sync::InputCmd;
        use tickwire_shared::{InputSeq, Tick};
        use tickwire_survival::{SHOT, SurvivalConfig, SurvivalGame, bot, hero, input};
        for b in bot::BEHAVIOURS {
            assert!(SURVIVAL.contains(b), "{b}");
        }
        let config = EngineConfig {
            checksum_interval: 1,
            area: (1500.0, 1500.0),
            ..EngineConfig::default()
        };
        let game = SurvivalGame::new(SurvivalConfig {
            width: 1500.0,
            height: 1500.0,
            pickups: 300,
            ..SurvivalConfig::default()
        });
        let mut room = Room::new(config, game);
        let mut bots = Vec::new();
        for i in 0..3 {
            let j = room.handle_join(&format!("bot{i}"), None).unwrap();
            let ServerMsg::Welcome(w) = decode_server(&j.welcome, None, &[]).unwrap() else {
                panic!("not a welcome")
            };
            bots.push((
                j.player_id,
                Replica::new(&w),
                brain("survival", "mixed", i, 7).unwrap(),
            ));
        }
        let pos = |room: &Room<SurvivalGame>, p| {
            let l = room.game().hero_lanes(p).unwrap();
            (l[hero::x], l[hero::y])
        };
        let mut last: Vec<_> = bots.iter().map(|(p, _, _)| pos(&room, *p)).collect();
        let (mut shots, mut walked, mut pressed) = ([0; 3], [0i64; 3], [false; 3]);
        for tick in 0..900u32 {
            let out = room.tick(|_| true);
            for (i, (id, replica, brain)) in bots.iter_mut().enumerate() {
                let bytes = &out.messages.iter().find(|(p, _)| p == id).unwrap().1;
                let ServerMsg::Snapshot(s) = replica.decode(bytes).unwrap() else {
                    panic!("not a snapshot")
                };
                replica.apply(&s).unwrap();
                let me = i64::from(id.0);
                shots[i] += s
                    .events
                    .iter()
                    .filter(|e| e.kind == SHOT && e.values[0].int() == me)
                    .count();
                let (x, y) = pos(&room, *id);
                let step = (x - last[i].0).abs() + (y - last[i].1).abs();
                // A respawn is a jump to the centre, not a walk.
                if step < 8 * 20 {
                    walked[i] += step;
                }
                last[i] = (x, y);
                let lanes = brain.next_input(replica, 30.0);
                assert_eq!(lanes.len(), input::COUNT);
                pressed[i] |= lanes.iter().any(|l| *l != 0);
                let cmd = InputCmd {
                    seq: InputSeq(tick + 1),
                    view_tick: Tick(replica.tick.0),
                    lanes,
                };
                room.handle_inputs(*id, vec![cmd]);
            }
        }
        for i in 0..bots.len() {
            if i % 3 == 2 {
                assert_eq!(shots[i], 0, "the idle bot never fires");
                assert!(!pressed[i], "the idle bot never moves nor fires");
            } else {
                assert!(
                    walked[i] > 8 * 500,
                    "survivor {i} walked: {}",
                    walked[i] / 8
                );
            }
        }
    }
}
