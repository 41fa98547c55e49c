//! The real `tickwire` binary: starts, prints where it listens, serves a player (protocol
//! version 2, the arena on the engine), and on SIGTERM closes every client with 1001 and
//! exits 0.

mod common;

use common::v2::Player;
use common::{WAIT, http_get};
use std::process::Stdio;
use tickwire_shared::close::CloseCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_and_shuts_down_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--tick-rate",
            "20",
            "--db",
            "sqlite::memory:",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let mut p = Player::join(&format!("ws://{addr}/ws"), "bin").await;
    assert_eq!(p.welcome().tick_rate, 20);
    assert_eq!(p.welcome().schema, tickwire_arena::schema());
    let s = p.next_snapshot().await;
    assert!(s.tick > p.welcome().tick);
    assert!(
        p.body_of(p.id()).is_some(),
        "the first snapshot has its body"
    );
    assert_eq!(http_get(addr.parse().unwrap(), "/healthz").await.0, 200);

    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, _) = p.client.client().wait_closed(WAIT).await.expect("closed");
    assert_eq!(code, Some(CloseCode::GoingAway.code()));
    let exit = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits promptly")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn bad_flags_get_a_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["--tick-rate", "500"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tick-rate"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["--addr", "256.0.0.1:1"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
}
