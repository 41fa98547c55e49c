//! Client-side prediction and reconciliation of the local player.
//!
//! Every input command is applied locally at once with [`step_player`], the very function the
//! server runs per command, at the same fixed `dt`, so with nobody else involved the prediction
//! is the server's result to the bit (positions live on the 1/8 wire grid on both sides). When a
//! snapshot acknowledges command `N`, [`Predictor::reconcile`] restarts from the server's state
//! for the local body and replays the commands after `N`. If the new prediction differs from
//! the old one (the server pushed us out of another player, we died), the difference becomes a
//! visual offset that decays over a few frames instead of a snap; a large error, a respawn or a
//! death is snapped at once.
//!
//! The predictor only moves the body: it never fires, damages or touches other entities, and it
//! reads no clock (frame time is passed to [`Predictor::advance`]).

use crate::protocol::{InputCmd, PlayerState};
use crate::quant::dequantize_pos;
use crate::rules::{Arena, Rules, step_player};
use glam::Vec2;

/// Tuning of [`Predictor`].
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionConfig {
    /// The visual correction halves every this many seconds...
    pub correction_half_life_s: f32,
    /// ...and shrinks by at least this many units per second, so it ends in bounded time.
    pub correction_min_speed: f32,
    /// Errors larger than this (units) are snapped instead of smoothed.
    pub snap_distance: f32,
}

impl Default for PredictionConfig {
    fn default() -> Self {
        PredictionConfig {
            correction_half_life_s: 0.06,
            correction_min_speed: 40.0,
            snap_distance: 64.0,
        }
    }
}

/// What a reconciliation found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correction {
    /// Distance between the old and the new prediction, units (0 when the prediction held).
    pub error: f32,
    /// Whether the display jumped (first state, respawn, death, or an error over
    /// `snap_distance`) instead of being smoothed.
    pub snapped: bool,
}

/// The local player's predicted body.
#[derive(Debug, Clone)]
pub struct Predictor {
    config: PredictionConfig,
    predicted: Option<Vec2>,
    server: PlayerState,
    offset: Vec2,
}

impl Predictor {
    /// A predictor that waits for the first server state.
    pub fn new(config: PredictionConfig) -> Predictor {
        Predictor {
            config,
            predicted: None,
            server: PlayerState::default(),
            offset: Vec2::ZERO,
        }
    }

    /// Applies a freshly made command to the prediction (no effect before the first server
    /// state, or while the body is dead: the server ignores a dead player's movement too).
    pub fn predict(&mut self, cmd: &InputCmd, rules: &Rules, arena: &Arena) {
        if let Some(p) = self.predicted.as_mut()
            && self.server.alive()
        {
            *p = step_player(*p, cmd, rules, arena);
        }
    }

    /// Restarts from the server's state of the local body and replays `pending` (the commands
    /// after the acknowledged one, oldest first).
    pub fn reconcile<'a>(
        &mut self,
        server: &PlayerState,
        pending: impl IntoIterator<Item = &'a InputCmd>,
        rules: &Rules,
        arena: &Arena,
    ) -> Correction {
        let mut pos = Vec2::new(dequantize_pos(server.x), dequantize_pos(server.y));
        if server.alive() {
            for cmd in pending {
                pos = step_player(pos, cmd, rules, arena);
            }
        }
        let teleported = server.status != self.server.status;
        self.server = *server;
        let Some(old) = self.predicted.replace(pos) else {
            self.offset = Vec2::ZERO;
            return Correction {
                error: 0.0,
                snapped: true,
            };
        };
        let error = old - pos;
        let snapped = teleported || error.length() > self.config.snap_distance;
        if snapped {
            self.offset = Vec2::ZERO;
        } else {
            self.offset += error;
            if self.offset.length() > self.config.snap_distance {
                self.offset = Vec2::ZERO;
            }
        }
        Correction {
            error: error.length(),
            snapped,
        }
    }

    /// Lets the visual correction decay over `frame_s` seconds of display time.
    pub fn advance(&mut self, frame_s: f32) {
        let len = self.offset.length();
        if len == 0.0 {
            return;
        }
        let decayed = len * 0.5f32.powf(frame_s / self.config.correction_half_life_s)
            - self.config.correction_min_speed * frame_s;
        self.offset = if decayed <= 0.0 {
            Vec2::ZERO
        } else {
            self.offset * (decayed / len)
        };
    }

    /// Where the server will put the body once it has applied every command made so far.
    pub fn predicted_position(&self) -> Option<Vec2> {
        self.predicted
    }

    /// Where to draw the body: the prediction plus the decaying correction.
    pub fn render_position(&self) -> Option<Vec2> {
        self.predicted.map(|p| p + self.offset)
    }

    /// The correction still to be shown, units.
    pub fn correction_offset(&self) -> Vec2 {
        self.offset
    }

    /// The last server state reconciled from.
    pub fn server_state(&self) -> &PlayerState {
        &self.server
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InputSeq;
    use crate::quant::quantize_pos;

    fn setup() -> (Rules, Arena) {
        (
            Rules::at_tick_rate(30),
            Arena {
                width: 1000.0,
                height: 1000.0,
                obstacles: vec![],
            },
        )
    }

    fn state(x: f32, y: f32, status: u8) -> PlayerState {
        PlayerState {
            x: quantize_pos(x),
            y: quantize_pos(y),
            aim: 0,
            health: 100,
            status,
        }
    }

    fn right(seq: u32) -> InputCmd {
        InputCmd {
            seq: InputSeq(seq),
            move_x: 127,
            ..Default::default()
        }
    }

    #[test]
    fn replay_after_ack_matches_and_errors_decay_or_snap() {
        let (rules, arena) = setup();
        let mut p = Predictor::new(PredictionConfig::default());
        let first = p.reconcile(&state(100.0, 100.0, 1), [], &rules, &arena);
        assert!(first.snapped);
        let cmds: Vec<InputCmd> = (1..=5).map(right).collect();
        for c in &cmds {
            p.predict(c, &rules, &arena);
        }
        let ahead = p.predicted_position().unwrap();
        // The server applied 1..=2 exactly as we did: replaying 3..=5 lands on the same spot.
        let mut server = Vec2::new(100.0, 100.0);
        for c in &cmds[..2] {
            server = step_player(server, c, &rules, &arena);
        }
        let s = state(server.x, server.y, 1);
        let c = p.reconcile(&s, &cmds[2..], &rules, &arena);
        assert_eq!(c.error, 0.0);
        assert_eq!(p.predicted_position(), Some(ahead));
        assert_eq!(p.render_position(), Some(ahead));

        // The server pushed us 6 units up: smoothed, the drawn position does not jump.
        let s = state(server.x, server.y - 6.0, 1);
        let c = p.reconcile(&s, &cmds[2..], &rules, &arena);
        assert!(!c.snapped && (c.error - 6.0).abs() < 0.01);
        assert_eq!(p.render_position(), Some(ahead));
        let mut frames = 0;
        while p.correction_offset() != Vec2::ZERO {
            p.advance(1.0 / 60.0);
            frames += 1;
        }
        assert!(frames <= 8, "{frames} frames");
        assert_eq!(p.render_position(), p.predicted_position());

        // A respawn (status change) snaps.
        let c = p.reconcile(&state(500.0, 500.0, 1 | 2), [], &rules, &arena);
        assert!(c.snapped);
        assert_eq!(p.render_position(), Some(Vec2::new(500.0, 500.0)));

        // Dead: inputs do not move the body.
        p.reconcile(&state(500.0, 500.0, 2), [], &rules, &arena);
        p.predict(&right(6), &rules, &arena);
        assert_eq!(p.predicted_position(), Some(Vec2::new(500.0, 500.0)));
    }

    #[test]
    fn large_errors_snap() {
        let (rules, arena) = setup();
        let mut p = Predictor::new(PredictionConfig::default());
        p.reconcile(&state(100.0, 100.0, 1), [], &rules, &arena);
        let c = p.reconcile(&state(300.0, 100.0, 1), [], &rules, &arena);
        assert!(c.snapped && c.error == 200.0);
        assert_eq!(p.correction_offset(), Vec2::ZERO);
    }
}
