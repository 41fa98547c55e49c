//! Lag compensation: a short history of where every living body was at each tick, so a
//! hitscan shot is resolved against the world the shooter saw (the tick it was rendering, sent
//! as `InputCmd::view_tick`) rather than the world as it is when the command arrives. The
//! rewind is capped (`cap_ticks`): a claim older than the cap is clamped to it, so a laggy or
//! lying client cannot shoot far into the past. A cap of 0 turns lag compensation off.

use super::{Player, PlayerKey};
use glam::Vec2;
use std::collections::VecDeque;
use tickwire_shared::Tick;

/// Where a body was at a past tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PastBody {
    /// Which player.
    pub key: PlayerKey,
    /// Its position then.
    pub pos: Vec2,
    /// Its respawn counter then (a body that respawned since is not where it was).
    pub respawns: u8,
}

#[derive(Debug, Clone)]
struct Frame {
    tick: Tick,
    bodies: Vec<PastBody>,
}

/// Ring buffer of body positions for the last `cap_ticks + 1` ticks.
#[derive(Debug, Clone, Default)]
pub struct PositionHistory {
    cap_ticks: u32,
    frames: VecDeque<Frame>,
}

impl PositionHistory {
    /// A history that rewinds at most `cap_ticks` (0: no history, no rewind).
    pub fn new(cap_ticks: u32) -> PositionHistory {
        PositionHistory {
            cap_ticks,
            frames: VecDeque::new(),
        }
    }

    /// The cap, ticks.
    pub fn cap_ticks(&self) -> u32 {
        self.cap_ticks
    }

    /// Records the living bodies at the end of `tick`, forgetting frames past the cap.
    pub fn record<'a>(
        &mut self,
        tick: Tick,
        players: impl IntoIterator<Item = (PlayerKey, &'a Player)>,
    ) {
        if self.cap_ticks == 0 {
            return;
        }
        // Reuse the oldest frame's allocation once the ring is full.
        let mut frame = if self.frames.len() > self.cap_ticks as usize {
            self.frames.pop_front().expect("non-empty")
        } else {
            Frame {
                tick,
                bodies: Vec::new(),
            }
        };
        frame.tick = tick;
        frame.bodies.clear();
        frame.bodies.extend(
            players
                .into_iter()
                .filter(|(_, p)| p.alive)
                .map(|(key, p)| PastBody {
                    key,
                    pos: p.pos,
                    respawns: p.respawns,
                }),
        );
        self.frames.push_back(frame);
    }

    /// The tick a shot made while viewing `view_tick` is resolved at, when the last completed
    /// tick is `now`: `view_tick` clamped to `[now - cap, now]` and to the history kept; `now`
    /// when the client did not say (0) or lag compensation is off.
    pub fn rewind_tick(&self, now: Tick, view_tick: Tick) -> Tick {
        if self.cap_ticks == 0 || view_tick.0 == 0 {
            return now;
        }
        let oldest = self.frames.front().map_or(now, |f| f.tick);
        let floor = Tick(now.0.saturating_sub(self.cap_ticks)).max(oldest);
        view_tick.clamp(floor.min(now), now)
    }

    /// The bodies recorded at `tick`, if that tick is in the history.
    pub fn at(&self, tick: Tick) -> Option<&[PastBody]> {
        let newest = self.frames.back()?.tick;
        let back = newest.0.checked_sub(tick.0)? as usize;
        let i = self.frames.len().checked_sub(back + 1)?;
        let f = &self.frames[i];
        (f.tick == tick).then_some(f.bodies.as_slice())
    }
}

/// The lag-compensation cap in ticks: `ms` rounded up to whole ticks.
pub fn lag_comp_ticks(ms: u32, tick_rate: u16) -> u32 {
    (u64::from(ms) * u64::from(tick_rate)).div_ceil(1000) as u32
}
