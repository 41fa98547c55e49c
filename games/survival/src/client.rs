//! What a survival client needs beyond the engine's client netcode: the game's constants from
//! `Welcome.game_config`, the prediction step (the server's own hero movement), and the input
//! command's lanes.

use crate::rules::{Rules, quantize_angle16, step_hero};
use crate::{hero, input};
use glam::Vec2;
use serde::Deserialize;
use tickwire_shared::sync::InputCmd;
use tickwire_shared::sync::predict::PredictStep;

/// The game's constants as the server sends them in `game_config`:
/// `{"rules": {...Rules...}, "view_radius": 600.0, "pickups": 2000}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClientConfig {
    /// The rules (the map's size among them).
    pub rules: Rules,
    /// How far a hero sees.
    pub view_radius: f32,
    /// Pickups the map holds.
    pub pickups: usize,
}

impl ClientConfig {
    /// Parses `game_config`.
    pub fn parse(game_config: &str) -> Result<ClientConfig, serde_json::Error> {
        serde_json::from_str(game_config)
    }
}

/// What the player wants this tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Intent {
    /// Movement, each axis in -1..=1 (y down).
    pub movement: Vec2,
    /// Aim in radians from +x towards +y.
    pub aim: f32,
    /// Fire held.
    pub fire: bool,
    /// Reload pressed.
    pub reload: bool,
}

/// The input command's lanes for an intent (`move_x`, `move_y`, `aim`, `fire`, `reload`).
pub fn input_lanes(intent: &Intent) -> Vec<i64> {
    let axis = |v: f32| (v.clamp(-1.0, 1.0) * 127.0).round() as i64;
    let mut l = vec![0; input::COUNT];
    l[input::move_x] = axis(intent.movement.x);
    l[input::move_y] = axis(intent.movement.y);
    l[input::aim] = quantize_angle16(intent.aim);
    l[input::fire] = i64::from(intent.fire);
    l[input::reload] = i64::from(intent.reload);
    l
}

/// The prediction step of a hero: the server's movement for one command on the hero's
/// lanes ([`step_hero`]). A fallen hero does not move.
pub fn predict_step(config: &ClientConfig) -> impl PredictStep + Send + Sync + 'static {
    let rules = config.rules.clone();
    move |lanes: &mut [i64], cmd: &InputCmd| {
        if lanes[hero::alive] == 0 {
            return;
        }
        let pos = Vec2::new(
            crate::rules::dequantize_pos(lanes[hero::x]),
            crate::rules::dequantize_pos(lanes[hero::y]),
        );
        let l = &cmd.lanes;
        let next = step_hero(pos, l[input::move_x], l[input::move_y], &rules);
        lanes[hero::x] = crate::rules::quantize_pos(next.x);
        lanes[hero::y] = crate::rules::quantize_pos(next.y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::dequantize_pos;
    use crate::{HERO, SurvivalConfig, SurvivalGame};
    use tickwire_engine::{EngineConfig, Game, Room};
    use tickwire_shared::sync::netcode::{Netcode, NetcodeConfig};
    use tickwire_shared::sync::{ClientMsg, ServerMsg, decode_server};

    #[test]
    fn the_config_parses_and_intents_become_lanes() {
        let game = SurvivalGame::new(SurvivalConfig::default());
        let c = ClientConfig::parse(&game.client_config()).unwrap();
        assert_eq!(c.rules, *game.sim().rules());
        assert_eq!(
            (c.rules.width, c.view_radius, c.pickups),
            (3000.0, 600.0, 2000)
        );
        assert!(ClientConfig::parse(r#"{"rules":{}}"#).is_err());
        let l = input_lanes(&Intent {
            movement: Vec2::new(-1.0, 0.5),
            aim: std::f32::consts::PI,
            fire: true,
            reload: false,
        });
        assert_eq!(l, [-127, 64, 32768, 1, 0]);
    }

    /// A client predicting through the engine's `Netcode`, fed the room's real bytes, walking
    /// into the map's edges and reloading and firing (which must not disturb its movement):
    /// every reconciliation finds the prediction exact.
    #[test]
    fn prediction_over_the_real_bytes_is_exact() {
        let config = SurvivalConfig {
            width: 1200.0,
            height: 1200.0,
            pickups: 0,
            ..SurvivalConfig::default()
        };
        let mut game = SurvivalGame::new(config);
        // No waves: zombies could kill the hero, which is interference the client cannot know.
        game.sim_mut().waves_on = false;
        let mut room = Room::new(EngineConfig::default(), game);
        let join = room.handle_join("walker", None).unwrap();
        let Ok(ServerMsg::Welcome(w)) = decode_server(&join.welcome, None, &[]) else {
            panic!("a welcome")
        };
        let config = ClientConfig::parse(&w.game_config).unwrap();
        let mut n = Netcode::new(
            &w,
            NetcodeConfig::new(&w),
            Some(Box::new(predict_step(&config))),
        );
        let dt = 1.0 / f64::from(w.tick_rate);
        let (mut moved, mut last, mut at_edge) = (0.0f32, None, 0);
        for tick in 0..600u32 {
            let a = (tick / 120) as f32 * 2.3;
            let intent = Intent {
                movement: Vec2::from_angle(a),
                aim: a + 1.0,
                fire: tick % 3 == 0,
                reload: tick % 50 == 0,
            };
            let ClientMsg::Input(cmds) = n.make_input(input_lanes(&intent)) else {
                panic!("an input message")
            };
            room.handle_inputs(join.player_id, cmds);
            let out = room.tick(|_| true);
            for (_, bytes) in &out.messages {
                let ServerMsg::Snapshot(s) = n.replica.decode(bytes).unwrap() else {
                    panic!("a snapshot")
                };
                n.handle_snapshot(&s, f64::from(tick) * dt).unwrap();
            }
            n.advance(f64::from(tick) * dt);
            let me = n.owned(Some(HERO)).next().expect("own hero");
            let p = n.predicted(me).unwrap();
            let pos = Vec2::new(dequantize_pos(p[hero::x]), dequantize_pos(p[hero::y]));
            if let Some(l) = last {
                moved += pos.distance(l);
            }
            let r = config.rules.hero_radius;
            if pos.x <= r || pos.y <= r || pos.x >= 1200.0 - r || pos.y >= 1200.0 - r {
                at_edge += 1;
            }
            last = Some(pos);
        }
        let stats = n.stats();
        assert!(stats.corrections.len() > 500, "{}", stats.corrections.len());
        assert!(
            stats.corrections.iter().all(|e| *e == 0.0),
            "max error {}",
            stats.corrections.iter().copied().fold(0.0, f32::max)
        );
        assert_eq!(stats.snaps, 0);
        assert!(moved > 2000.0, "it walked: {moved}");
        assert!(at_edge > 20, "it walked into the edges: {at_edge}");
        let shots = room.game().sim().heroes[&join.player_id].reserve;
        assert!(shots < config.rules.start_reserve, "it reloaded: {shots}");
    }
}
