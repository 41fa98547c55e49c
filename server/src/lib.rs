//! The tickwire server: the network layer and the binary that runs bundled games.
//!
//! The engine ([`engine`], the `tickwire-engine` crate) runs any game: the sans-IO room with
//! its tick, input queues, interest, per-client deltas, checksums and resume. The arena shooter
//! ([`tickwire_arena`], `games/arena/`) is the game the binary plays by default; a developer's
//! own game is served with [`Server::bind_game`] and [`GameRooms::new`].
//!
//! Layers, inner to outer:
//! - [`engine`]: rooms of any game (re-exported), and [`sim`], the arena's simulation.
//! - [`net`]: hyper + fastwebsockets; one task per connection, one per room, bounded
//!   channels between them; quick-match and named rooms, limits, close codes.
//! - [`cluster`]: many nodes through one Redis (`--redis`): the room directory, matchmaking
//!   with seat reservations, redirects, cross-node messages, draining.
//! - [`config`], [`metrics`]: the command line and Prometheus metrics.
#![warn(missing_docs)]

pub mod auth;
pub mod cluster;
pub mod config;
pub mod metrics;
pub mod net;
pub mod persist;
pub mod tls;

pub use tickwire_arena::sim;
pub use tickwire_engine as engine;
pub use tickwire_engine::{grid, limits};

pub use config::Config;
pub use net::Server;
pub use net::driver::GameRooms;
