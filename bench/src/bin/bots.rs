//! `bots`: load-test a tickwire server with simulated players.
//!
//! ```sh
//! cargo run --release -p tickwire-bench --bin bots -- --url ws://127.0.0.1:7000/ws --bots 500 --duration 60s
//! ```
//!
//! With `--match-url http://127.0.0.1:7000/match` each bot asks matchmaking for a seat first
//! and connects to the node and room of its ticket (any node of a cluster will do); the
//! summary adds matches per second and the time from the POST to the `Welcome`.
//!
//! Exits 0 when every connection succeeded and no replica diverged, 1 otherwise, 2 when the
//! run could not start (bad arguments, open-file limit too low).

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use tickwire_bench::{LoadConfig, run_load};

/// Load-test a tickwire server with simulated players over real WebSockets.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    load: LoadConfig,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Worker threads of the runtime (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// File descriptors a run needs besides one per bot (runtime, stdio, metrics scrapes).
const SPARE_FDS: u64 = 64;

fn raise_open_file_limit(bots: usize) -> anyhow::Result<()> {
    let need = bots as u64 + SPARE_FDS;
    let got = rlimit::increase_nofile_limit(need).context("cannot read the open-file limit")?;
    if got < need {
        anyhow::bail!(
            "the open-file limit is {got} but {bots} bots need about {need}; raise the hard limit \
             (e.g. `ulimit -Hn {need}` as root, or LimitNOFILE in systemd) or run fewer bots"
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = raise_open_file_limit(cli.load.bots) {
        eprintln!("bots: {e:#}");
        return ExitCode::from(2);
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = cli.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bots: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match rt.block_on(run_load(&cli.load, !cli.quiet)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bots: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", report.summary());
    if let Some(path) = &cli.json {
        let written = serde_json::to_string_pretty(&report)
            .context("cannot serialize the report")
            .and_then(|j| std::fs::write(path, j + "\n").context("cannot write the report"));
        if let Err(e) = written {
            eprintln!("bots: {}: {e:#}", path.display());
            return ExitCode::from(2);
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
