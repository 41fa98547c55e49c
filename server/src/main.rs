//! `tickwire`: run the server.

use clap::Parser;
use tickwire_server::{Config, Server};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // A bad secret is a bad flag value: say so like clap does (exit 2), before anything runs.
    if let Some(secret) = &config.jwt_secret
        && let Err(e) = tickwire_server::auth::check_secret(secret)
    {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    // The pool that builds big rooms' snapshots (rayon's global one): sized once, here.
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(config.tick_threads)
        .thread_name(|i| format!("tickwire-tick-{i}"))
        .build_global()
    {
        eprintln!("error: cannot start the tick threads: {e}");
        std::process::exit(1);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    raise_open_file_limit(config.max_connections);
    let shutdown = CancellationToken::new();
    let server = Server::bind(config.clone(), shutdown.clone()).await?;
    let addr = server.local_addr();
    let (http, ws) = if server.is_tls() {
        ("https", "wss")
    } else {
        ("http", "ws")
    };
    tracing::info!(%addr, tick_rate = config.tick_rate, tick_threads = rayon::current_num_threads(), "tickwire listening");
    println!("tickwire listening on {http}://{addr} (WebSocket: {ws}://{addr}/ws)");
    if let Some(admin) = server.admin_addr() {
        println!("tickwire health and metrics on http://{admin} (/healthz, /readyz, /metrics)");
    }
    if let Some(node) = server.node_id() {
        println!(
            "tickwire node {node} of the cluster at {}",
            server.public_url()
        );
    }
    let drain = config.drain_timeout.unwrap_or(if config.redis.is_some() {
        std::time::Duration::from_secs(300)
    } else {
        std::time::Duration::ZERO
    });
    let drainer = server.drainer();
    tokio::spawn(async move {
        wait_for_signal().await;
        if !drain.is_zero() {
            tracing::info!("signal received: draining (a second signal stops at once)");
            drainer.drain(drain, wait_for_signal()).await;
        }
        tracing::info!("shutting down");
        shutdown.cancel();
    });
    server.run().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Descriptors the server needs besides one per connection (listeners, the database, the
/// WebTransport socket, a cluster's links).
const SPARE_FDS: u64 = 128;

/// Raises the soft open-file limit as far as `--max-connections` needs (up to the hard
/// limit), and says so when the hard limit is lower: past it, accepts fail and are retried.
fn raise_open_file_limit(max_connections: usize) {
    let need = max_connections as u64 + SPARE_FDS;
    match rlimit::increase_nofile_limit(need) {
        Ok(got) if got < need => tracing::warn!(
            limit = got,
            max_connections,
            "the open-file limit is below what --max-connections needs: past about {} \
             connections, new ones wait until others close; raise the hard limit \
             (LimitNOFILE, `ulimit -Hn`) to hold more",
            got.saturating_sub(SPARE_FDS)
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the open-file limit"),
    }
}
