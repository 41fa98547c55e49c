//! The client against a scripted server that misbehaves: a frame that does not decode is
//! dropped (and counted) without disturbing the session, and a snapshot that does not fit the
//! replica makes the client reconnect for a fresh state instead of panicking.

mod common;

use bevy::prelude::*;
use common::encode;
use fastwebsockets::{Frame, OpCode, Payload};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};
use tickwire_arena::BODY;
use tickwire_client_bevy::net::{
    Connection, Game, LinkConfig, LinkStatus, NetPlugin, NetStats, ViewState,
};
use tickwire_shared::sync::{PlayerJoin, ServerMsg, Snapshot, Spawn, Welcome};
use tickwire_shared::{InputSeq, NetId, PlayerId, Tick};
use tokio::net::TcpListener;

use common::WAIT;

fn welcome() -> Welcome {
    common::arena_welcome("")
}

fn snapshot(tick: u32) -> Snapshot {
    Snapshot::empty(Tick(tick), InputSeq(0))
}

/// What the scripted server sends after `Hello`, in order, on the first connection; later
/// connections get a welcome and a valid first snapshot only.
fn script() -> Vec<Vec<u8>> {
    let mut first = snapshot(101);
    first.players_joined.push(PlayerJoin {
        id: PlayerId(7),
        name: "alice".into(),
        connected: true,
    });
    first.joined_lanes.extend([0, 0]);
    first.created.push(Spawn {
        id: NetId(1),
        kind: BODY,
    });
    // player, x, y (1/8 units), aim, health, alive, respawns
    first.created_lanes.extend([7, 800, 800, 0, 100, 1, 0]);
    let mut bad = snapshot(102);
    // Creates the entity the client already holds: the replica is out of step.
    bad.created.push(Spawn {
        id: NetId(1),
        kind: BODY,
    });
    bad.created_lanes.extend([7, 800, 800, 0, 100, 1, 0]);
    vec![
        encode(&ServerMsg::Welcome(Box::new(welcome()))),
        vec![0xff, 0xfe, 0x00, 0x13],
        encode(&ServerMsg::Snapshot(first)),
        b"not a message at all".to_vec(),
        encode(&ServerMsg::Snapshot(bad)),
    ]
}

async fn serve(listener: TcpListener) {
    // Counted per WebSocket, not per TCP connection: the client asks `GET /webtransport`
    // first (answered with an error: this server has none), then upgrades.
    let sessions = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let sessions = sessions.clone();
        tokio::spawn(async move {
            let service = service_fn(move |mut req| {
                let sessions = sessions.clone();
                async move {
                    let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut req)?;
                    let n = sessions.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    let frames: Vec<Vec<u8>> = if n == 1 {
                        script()
                    } else {
                        script().into_iter().step_by(2).take(2).collect()
                    };
                    tokio::spawn(async move {
                        let Ok(mut ws) = upgrade.await else { return };
                        // Wait for Hello, then play the script and keep the socket open.
                        let _ = ws.read_frame().await;
                        for f in frames {
                            let frame = Frame::new(true, OpCode::Binary, None, Payload::Owned(f));
                            if ws.write_frame(frame).await.is_err() {
                                return;
                            }
                        }
                        while let Ok(f) = ws.read_frame().await {
                            if f.opcode == OpCode::Close {
                                return;
                            }
                        }
                    });
                    Ok::<_, fastwebsockets::WebSocketError>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

#[test]
fn garbage_is_dropped_and_a_diverged_replica_reconnects() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(serve(listener));

    let mut link = LinkConfig::new(format!("ws://{addr}/ws"), "alice");
    link.backoff_base = Duration::from_millis(50);
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, NetPlugin { link }));
    app.finish();
    app.cleanup();

    let deadline = Instant::now() + WAIT;
    let mut saw_body = false;
    loop {
        app.update();
        saw_body |= app.world().resource::<ViewState>().local.is_some();
        let c = app.world().resource::<Connection>();
        if c.sessions >= 2 && c.status == LinkStatus::Playing && saw_body {
            break;
        }
        assert!(Instant::now() < deadline, "no reconnect: {c:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Two undecodable frames and one snapshot that did not fit were dropped, and the client
    // came back for a fresh state on a new connection.
    let stats = app.world().resource::<NetStats>();
    assert_eq!(stats.dropped, 3, "{stats:?}");
    assert!(app.world().resource::<Game>().0.is_some());
}
