//! Everything a tickwire client and server agree on, with no I/O.
//!
//! - [`protocol`]: the wire messages ([`ClientMsg`], [`ServerMsg`]) and their field types.
//! - [`codec`]: the one place that turns messages into bytes and back (bincode 2 + serde,
//!   one configuration). Swap the codec here and nowhere else.
//! - [`quant`]: quantization of positions and angles, with `quantize`/`dequantize` side by side.
//! - [`rules`]: the arena and the movement rules. The server runs them to move players and the
//!   client runs the very same code to predict its own player, so they agree to the bit.
//! - [`replica`]: the client's copy of the world, built from `Welcome` and `Snapshot` messages.
//! - [`close`]: every WebSocket close code the server uses, in one table.
//! - [`schema`]: how a game declares what it replicates, once; [`sync`]: protocol version 2,
//!   whose snapshots, inputs, actions and events are encoded from that schema, and the
//!   [`sync::Replica`] for any game.
//!
//! Client netcode (see `docs/NETCODE.md`):
//! - [`clock`]: round-trip time, server tick estimate, jitter and the render clock.
//! - [`input`]: numbered input commands, acknowledgement, redundant input frames.
//! - [`prediction`]: local prediction, reconciliation and smoothed corrections.
//! - [`interpolation`]: buffers that draw remote bodies in the past, with bounded extrapolation.
//! - [`netcode`]: [`ClientNetcode`], the facade over all of the above, and the netcode report.
//! - [`netsim`]: a deterministic network simulator for tests (delay, jitter, loss, reordering).
//!
//! The crate never touches a socket or a clock: time is passed in as ticks, so every piece of
//! client logic is testable deterministically.
#![warn(missing_docs)]

pub mod clock;
pub mod close;
pub mod codec;
pub mod ids;
pub mod input;
pub mod interpolation;
pub mod netcode;
pub mod netsim;
pub mod prediction;
pub mod protocol;
pub mod quant;
pub mod replica;
pub mod rules;
pub mod schema;
pub mod sync;

pub use codec::{CodecError, decode_client, decode_server, encode_client, encode_server};
pub use ids::{InputSeq, NetId, PlayerId, Tick};
pub use netcode::{ClientNetcode, NetcodeConfig};
pub use protocol::*;
pub use replica::{Replica, ReplicaError};
