//! The tickwire server: the network layer and the binary that runs bundled games.
//!
//! The engine ([`engine`], the `tickwire-engine` crate) runs any game on protocol version 2;
//! the arena shooter ([`tickwire_arena`], `games/arena/`) is the first game on it. The running
//! server still serves the arena through its version-1 room while the network layer moves onto
//! the engine.
//!
//! Layers, inner to outer:
//! - [`sim`]: the arena's simulation (re-exported from `games/arena`).
//! - [`room`]: the arena's version-1 sans-IO room: it owns a sim, each client's input queue
//!   and what each client was last sent; `tick()` returns the bytes for each client.
//! - [`interest`] and [`grid`]: who sees what, via a spatial grid.
//! - [`net`]: hyper + fastwebsockets; one task per connection, one per room, bounded
//!   channels between them.
//! - [`config`], [`metrics`]: the command line and Prometheus metrics.
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod interest;
pub mod metrics;
pub mod net;
pub mod room;
pub mod tls;

pub use tickwire_arena::sim;
pub use tickwire_engine as engine;
pub use tickwire_engine::{grid, limits};

pub use config::Config;
pub use net::Server;
pub use net::driver::GameRooms;
