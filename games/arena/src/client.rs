//! What an arena client needs beyond the engine's client netcode: the game's constants from
//! `Welcome.game_config`, the prediction step (the very movement code the server runs), the
//! input command's lanes, and where a projectile is at a render tick. The Bevy client uses
//! it; the browser page has the same in JS (`client-web/src/arena.js`, `rules.js`).

use crate::quant::{dequantize_pos, quantize_angle16, quantize_pos};
use crate::rules::{Arena, Rules, step_player};
use crate::state::{Command as ArenaCmd, ProjectileState, projectile_position};
use crate::{body, input, projectile};
use glam::Vec2;
use serde::Deserialize;
use tickwire_shared::sync::InputCmd;
use tickwire_shared::sync::predict::PredictStep;
use tickwire_shared::{InputSeq, PlayerId, Tick};

pub use crate::state::buttons;

/// The arena's constants as the server sends them in `game_config`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClientConfig {
    /// The map.
    pub arena: Arena,
    /// The rules the server moves players with.
    pub rules: Rules,
    /// How far a player sees.
    pub view_radius: f32,
}

impl ClientConfig {
    /// Parses `game_config`; an error names what is wrong (not the arena's config).
    pub fn parse(game_config: &str) -> Result<ClientConfig, serde_json::Error> {
        serde_json::from_str(game_config)
    }
}

/// What the player wants this tick, in world terms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Intent {
    /// Movement, each axis in -1..=1 (y down, as in the world).
    pub movement: Vec2,
    /// Aim angle in radians from +x towards +y.
    pub aim: f32,
    /// Primary fire held.
    pub fire: bool,
    /// Secondary fire held.
    pub alt_fire: bool,
}

/// The input command's lanes for an intent (`move_x`, `move_y`, `aim`, `buttons`).
pub fn input_lanes(intent: &Intent) -> Vec<i64> {
    let axis = |v: f32| (v.clamp(-1.0, 1.0) * 127.0).round() as i64;
    let mut pressed = 0;
    if intent.fire {
        pressed |= buttons::FIRE;
    }
    if intent.alt_fire {
        pressed |= buttons::ALT_FIRE;
    }
    let mut lanes = vec![0; input::COUNT];
    lanes[input::move_x] = axis(intent.movement.x);
    lanes[input::move_y] = axis(intent.movement.y);
    lanes[input::aim] = i64::from(quantize_angle16(intent.aim));
    lanes[input::buttons] = i64::from(pressed);
    lanes
}

/// The arena's command for the simulation, from the engine's.
pub fn arena_cmd(cmd: &InputCmd) -> ArenaCmd {
    let l = &cmd.lanes;
    ArenaCmd {
        seq: InputSeq(cmd.seq.0),
        move_x: l[input::move_x] as i8,
        move_y: l[input::move_y] as i8,
        aim: l[input::aim] as u16,
        buttons: l[input::buttons] as u8,
        view_tick: cmd.view_tick,
    }
}

/// The prediction step of a body: the server's movement for one command, on the body's
/// lanes. A dead body does not move.
pub fn predict_step(config: &ClientConfig) -> impl PredictStep + Send + Sync + 'static {
    let (rules, arena) = (config.rules.clone(), config.arena.clone());
    move |lanes: &mut [i64], cmd: &InputCmd| {
        if lanes[body::alive] == 0 {
            return;
        }
        let pos = Vec2::new(
            dequantize_pos(lanes[body::x] as i32),
            dequantize_pos(lanes[body::y] as i32),
        );
        let next = step_player(pos, &arena_cmd(cmd), &rules, &arena);
        lanes[body::x] = i64::from(quantize_pos(next.x));
        lanes[body::y] = i64::from(quantize_pos(next.y));
    }
}

/// A projectile's state from its lanes.
pub fn projectile_state(lanes: &[i64]) -> ProjectileState {
    ProjectileState {
        owner: PlayerId(lanes[projectile::owner] as u32),
        origin_x: lanes[projectile::origin_x] as i32,
        origin_y: lanes[projectile::origin_y] as i32,
        heading: lanes[projectile::heading] as u16,
        spawn_tick: Tick(lanes[projectile::spawn_tick] as u32),
    }
}

/// Where a projectile (its lanes) is at a fractional `tick`.
pub fn projectile_at(lanes: &[i64], rules: &Rules, tick: f64) -> Vec2 {
    projectile_position(&projectile_state(lanes), rules, tick as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArenaConfig, ArenaGame};
    use tickwire_engine::Game;

    #[test]
    fn the_config_the_server_sends_parses_and_predicts_like_the_server() {
        let game = ArenaGame::new(ArenaConfig::default());
        let config = ClientConfig::parse(&game.client_config()).unwrap();
        assert_eq!(config.rules, *game.sim().rules());
        let step = predict_step(&config);
        let cmd = InputCmd {
            seq: InputSeq(1),
            view_tick: Tick(0),
            lanes: input_lanes(&Intent {
                movement: Vec2::new(1.0, 0.0),
                ..Intent::default()
            }),
        };
        let start = Vec2::new(400.0, 400.0);
        let mut lanes = vec![0; body::COUNT];
        lanes[body::x] = i64::from(quantize_pos(start.x));
        lanes[body::y] = i64::from(quantize_pos(start.y));
        lanes[body::alive] = 1;
        step.step(&mut lanes, &cmd);
        let server = step_player(start, &arena_cmd(&cmd), &config.rules, &config.arena);
        assert_eq!(
            (lanes[body::x], lanes[body::y]),
            (
                i64::from(quantize_pos(server.x)),
                i64::from(quantize_pos(server.y))
            )
        );
        assert!(server.x > start.x, "it moved");
        lanes[body::alive] = 0;
        let before = lanes.clone();
        step.step(&mut lanes, &cmd);
        assert_eq!(lanes, before, "the dead do not move");
        assert!(ClientConfig::parse(r#"{"rules":{}}"#).is_err());
    }

    /// A client predicting through the engine's `Netcode`, fed the room's real bytes, walking
    /// into walls and obstacles: every reconciliation finds the prediction exact.
    #[test]
    fn prediction_over_the_real_bytes_is_exact() {
        use tickwire_engine::{EngineConfig, Room};
        use tickwire_shared::sync::netcode::{Netcode, NetcodeConfig};
        use tickwire_shared::sync::{ClientMsg, ServerMsg, decode_server};
        let mut room = Room::new(
            EngineConfig::default(),
            ArenaGame::new(ArenaConfig::default()),
        );
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
        let mut moved = 0.0f32;
        let mut last = None;
        for tick in 0..600u32 {
            // Turn every 40 ticks; a long straight run reaches the walls.
            let a = (tick / 40) as f32 * 2.1;
            let intent = Intent {
                movement: Vec2::from_angle(a),
                aim: a,
                ..Intent::default()
            };
            let ClientMsg::Input(cmds) = n.make_input(input_lanes(&intent)) else {
                panic!("an input message")
            };
            room.handle_inputs(join.player_id, cmds);
            let out = room.tick(|_| true);
            for (id, bytes) in &out.messages {
                assert_eq!(*id, join.player_id);
                let ServerMsg::Snapshot(s) = n.replica.decode(bytes).unwrap() else {
                    panic!("a snapshot")
                };
                n.handle_snapshot(&s, f64::from(tick) * dt).unwrap();
            }
            n.advance(f64::from(tick) * dt);
            let me = n.owned(Some(crate::BODY)).next().expect("own body");
            let p = n.predicted(me).unwrap();
            let pos = Vec2::new(
                dequantize_pos(p[body::x] as i32),
                dequantize_pos(p[body::y] as i32),
            );
            if let Some(l) = last {
                moved += pos.distance(l);
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
        assert!(moved > 1000.0, "it walked: {moved}");
    }

    #[test]
    fn intents_become_lanes() {
        let l = input_lanes(&Intent {
            movement: Vec2::new(1.0, -1.0),
            aim: std::f32::consts::FRAC_PI_2,
            fire: true,
            alt_fire: false,
        });
        assert_eq!(l, [127, -127, 16384, 1]);
    }
}
