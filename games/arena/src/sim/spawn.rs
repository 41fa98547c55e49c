//! Choosing where a player (re)appears.

use super::Sim;
use crate::quant::snap_vec;
use glam::Vec2;
use rand::Rng;

/// Candidate spots drawn per spawn; the one farthest from everyone wins.
const CANDIDATES: usize = 16;

impl Sim {
    /// A clear spot inside the arena, as far from living players as a few random draws allow.
    pub(super) fn free_spot(&mut self) -> Vec2 {
        let r = self.rules.player_radius;
        let margin = r + 2.0;
        let mut best: Option<(f32, Vec2)> = None;
        let mut draws = 0;
        while draws < CANDIDATES * 8 && (best.is_none() || draws < CANDIDATES) {
            draws += 1;
            let p = snap_vec(Vec2::new(
                self.rng.random_range(margin..self.arena.width - margin),
                self.rng.random_range(margin..self.arena.height - margin),
            ));
            if !self.arena.is_clear(p, r + 1.0) {
                continue;
            }
            let nearest = self
                .players
                .values()
                .filter(|o| o.alive)
                .map(|o| o.pos.distance_squared(p))
                .fold(f32::INFINITY, f32::min);
            if best.is_none_or(|(d, _)| nearest > d) {
                best = Some((nearest, p));
            }
        }
        // An arena with no clear spot at all is a configuration error; fall back to the middle.
        best.map(|b| b.1)
            .unwrap_or_else(|| snap_vec(Vec2::new(self.arena.width, self.arena.height) * 0.5))
    }
}
