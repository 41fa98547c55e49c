//! Everything a tickwire client and server agree on, for any game, with no I/O.
//!
//! - [`schema`]: how a game declares what it replicates, once: entity kinds and their fields
//!   (wire type, precision, interpolate / predict / delta / owner-only / discontinuity), player
//!   and room fields, the input command, actions and events.
//! - [`sync`]: the wire protocol (version 2): messages encoded field by field from the schema
//!   ([`sync::wire`] has the byte rules), the client's [`sync::Replica`] with its checksum,
//!   and the client netcode for any game: [`sync::inputs`] (numbered, redundant commands),
//!   [`sync::predict`] (the game's own step on the local entity, reconciliation, smoothed
//!   corrections), [`sync::interpolate`] (drawing in the past with bounded extrapolation), and
//!   [`sync::netcode::Netcode`], all of them together, plus the netcode report.
//! - [`clock`]: round-trip time, server tick estimate, jitter and the render clock.
//! - [`close`]: every WebSocket close code, its reason and whether reconnecting can help.
//! - [`ids`]: `PlayerId`, `NetId`, `Tick`, `InputSeq`.
//! - [`netsim`]: a deterministic network simulator for tests (delay, jitter, loss, reordering).
//!
//! Nothing here names a game: a game's rules and units live in its own crate (`games/`). The
//! crate never touches a socket or a clock: time is passed in, so every piece of client logic
//! is testable deterministically.
#![warn(missing_docs)]

pub mod clock;
pub mod close;
pub mod ids;
pub mod netsim;
pub mod schema;
pub mod sync;

pub use ids::{InputSeq, NetId, PlayerId, Tick};
