//! Newtypes for the small integers that travel on the wire, so a tick is never mistaken for a
//! sequence number or an entity id.

use serde::{Deserialize, Serialize};

/// A server simulation tick. Tick 0 is the room's first tick; it advances by one per step.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Tick(pub u32);

impl Tick {
    /// The tick after this one.
    pub fn next(self) -> Tick {
        Tick(self.0.wrapping_add(1))
    }

    /// Ticks elapsed from `earlier` to `self` (0 when `earlier` is later).
    pub fn since(self, earlier: Tick) -> u32 {
        self.0.saturating_sub(earlier.0)
    }
}

/// The sequence number a client gives each input command, starting at 1 and increasing by one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct InputSeq(pub u32);

/// A small integer naming an entity on the wire. The server maps its slotmap keys to these and
/// never reuses one while any client may still hold it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct NetId(pub u32);

/// A player (a connected person, as opposed to the entity that represents them). Never reused
/// within a server process.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct PlayerId(pub u32);

impl std::fmt::Display for PlayerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p{}", self.0)
    }
}
