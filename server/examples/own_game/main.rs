//! A game of one's own on tickwire: the whole server (rooms, quick-match, limits, resume,
//! metrics, TLS, auth) serving `Dots` instead of a bundled game. Every flag of `tickwire`
//! applies.
//!
//! ```text
//! cargo run -p tickwire-server --example own_game -- --addr 127.0.0.1:7001
//! ```
//! Any protocol-version-2 client plays it: it learns the game from the schema in `Welcome`.

mod game;

use clap::Parser;
use tickwire_server::{Config, GameRooms, Server};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let config = Config::parse();
    let shutdown = CancellationToken::new();
    let rooms = GameRooms::new(|_config, _engine| game::Dots::default());
    let server = Server::bind_game(config, rooms, shutdown.clone()).await?;
    tracing::info!(addr = %server.local_addr(), "serving dots");
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    });
    server.run().await;
    Ok(())
}
