//! `tickwire-client-bevy`: play tickwire in a window.
//!
//! `cargo run --release -p tickwire-client-bevy -- --url ws://127.0.0.1:7000/ws --name alice`

use anyhow::Context;
use bevy::prelude::*;
use bevy::window::{PresentMode, WindowResolution};
use clap::Parser;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;
use tickwire_client_bevy::capture::CapturePlugin;
use tickwire_client_bevy::controls::ControlsPlugin;
use tickwire_client_bevy::hud::HudPlugin;
use tickwire_client_bevy::net::{LinkConfig, NetPlugin};
use tickwire_client_bevy::overlay::OverlayPlugin;
use tickwire_client_bevy::render::RenderPlugin;

/// The tickwire demo client.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:7000/ws")]
    url: String,
    /// Player name (asked for on the terminal when missing).
    #[arg(long)]
    name: Option<String>,
    /// Simulated latency added to each direction, milliseconds (to watch the netcode work).
    #[arg(long, default_value_t = 0)]
    lag_ms: u64,
    /// Play by itself (wander and shoot), for scripted runs.
    #[arg(long)]
    autopilot: bool,
    /// Start with the F3 netcode overlay shown.
    #[arg(long)]
    debug_overlay: bool,
    /// Save a screenshot (PNG) here when `--exit-after` elapses.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Exit after this many seconds (taking the screenshot first, if asked).
    #[arg(long)]
    exit_after: Option<f64>,
    /// World units per pixel (2 shows the whole demo arena in a 1280x720 window).
    #[arg(long, default_value_t = 1.0)]
    zoom: f32,
    /// Window size, e.g. 1280x720.
    #[arg(long, default_value = "1280x720")]
    size: String,
    /// Mirror WebSockets per session: every room message also comes over this many more TCP
    /// connections, so a lost packet on one does not stall the game (for networks where
    /// WebTransport cannot be used; each costs one more copy of the server's bytes).
    #[arg(long, default_value_t = 0)]
    mirrors: usize,
}

fn ask_name() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(String::new());
    }
    print!("Your name: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let name = match args.name.clone() {
        Some(n) => n,
        None => ask_name().context("reading the name")?,
    };
    let (w, h) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .context("--size must look like 1280x720")?;
    let mut link = LinkConfig::new(args.url.clone(), name);
    link.lag = Duration::from_millis(args.lag_ms);
    link.mirrors = args.mirrors;
    let exit = App::new()
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "tickwire".into(),
                resolution: WindowResolution::new(w, h),
                present_mode: PresentMode::AutoNoVsync,
                ..default()
            }),
            ..default()
        }))
        .add_plugins((
            NetPlugin { link },
            ControlsPlugin {
                autopilot: args.autopilot,
            },
            RenderPlugin { zoom: args.zoom },
            HudPlugin,
            OverlayPlugin {
                shown: args.debug_overlay,
            },
            CapturePlugin {
                screenshot: args.screenshot.clone(),
                after: args.exit_after.map(Duration::from_secs_f64),
            },
        ))
        .run();
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("exited with code {code}"),
    }
}
