//! The tickwire server: an authoritative game state sync server.
//!
//! Layers, inner to outer:
//! - [`sim`]: the game, pure state and rules in slotmaps. No networking, no clock.
//! - [`room`]: a sans-IO room that owns a sim, each client's input queue and what each client
//!   was last sent; `tick()` returns the bytes for each client.
//! - [`interest`] and [`grid`]: who sees what, via a spatial grid.
//! - [`net`]: hyper + fastwebsockets; one task per connection, one per room, bounded
//!   channels between them.
//! - [`config`], [`metrics`]: the command line and Prometheus metrics.
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod engine;
pub mod grid;
pub mod interest;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod room;
pub mod sim;
pub mod tls;

pub use config::Config;
pub use net::Server;
