//! Load testing and benchmarks for tickwire.
//!
//! The `bots` binary starts many simulated players over real WebSocket connections (with
//! `tickwire-client`) from a multi-threaded tokio runtime. Each bot keeps a
//! [`tickwire_shared::sync::Replica`] of its view and checks it against the state checksums the
//! server sends every K ticks (`--checksum-interval K` on the server), so any desync shows up
//! as a counted divergence. A run ends with a [`report::Report`]: connections, disconnects,
//! round-trip times, snapshot jitter, traffic per client, divergences, and the server's own
//! figures scraped from `/metrics`.
//!
//! - [`behaviour`]: which game's bot brain plays (each game provides its own, pure and seeded).
//! - [`bot`]: one bot: sans-IO [`bot::BotState`] and the [`bot::run_bot`] driver.
//! - [`stats`]: per-bot counters and their aggregation.
//! - [`live`]: counters shared with the progress display.
//! - [`server_metrics`]: parsing `/metrics`, quantiles from histogram buckets, server RSS.
//! - [`report`]: the report, its summary and verdict.
//! - [`load`]: a whole run (ramp, hold, stop).
//!
//! The criterion benches of the server's hot paths are in `benches/hot_paths.rs`.
#![warn(missing_docs)]

pub mod behaviour;
pub mod bot;
pub mod live;
pub mod load;
pub mod report;
pub mod server_metrics;
pub mod stats;

pub use load::{LoadConfig, run_load};
