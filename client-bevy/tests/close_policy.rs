//! The client follows the shared close-code table (`tickwire_shared::close`) when a scripted
//! server welcomes it and then closes the socket with a given code: 4006 (a newer connection
//! took the player) leaves it given up, with the reason shown and no new connection until the
//! player asks; 4005 (too slow) reconnects and presents the resume token; 4003 (full) waits the
//! long delay before trying again.

mod common;

use bevy::prelude::*;
use common::encode;
use fastwebsockets::{Frame, OpCode, Payload};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tickwire_client_bevy::net::{
    Connection, Disconnect, Link, LinkConfig, LinkStatus, NetPlugin, ToNet,
};
use tickwire_shared::close::CloseCode;
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::{ClientMsg, ServerMsg, Welcome, decode_client};
use tokio::net::TcpListener;

use common::WAIT;
const TOKEN: &str = "r.resume-me";

fn welcome() -> Welcome {
    common::arena_welcome(TOKEN)
}

/// The resume token each connection's `Hello` carried, in order.
type Hellos = Arc<Mutex<Vec<Option<String>>>>;

/// Accepts connections; each gets `Welcome` after its `Hello`, then a close frame with
/// `code` and its default reason.
async fn serve(listener: TcpListener, code: CloseCode, hellos: Hellos) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let hellos = hellos.clone();
        tokio::spawn(async move {
            let service = service_fn(move |mut req| {
                let hellos = hellos.clone();
                async move {
                    let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut req)?;
                    tokio::spawn(async move {
                        let Ok(mut ws) = upgrade.await else { return };
                        let Ok(hello) = ws.read_frame().await else {
                            return;
                        };
                        let Ok(ClientMsg::Hello(hello)) =
                            decode_client(&hello.payload, &Schema::new(""))
                        else {
                            return;
                        };
                        hellos.lock().unwrap().push(hello.resume_token);
                        let w = encode(&ServerMsg::Welcome(Box::new(welcome())));
                        let frame = Frame::new(true, OpCode::Binary, None, Payload::Owned(w));
                        if ws.write_frame(frame).await.is_err() {
                            return;
                        }
                        let close = Frame::close(code.code(), code.reason().as_bytes());
                        if ws.write_frame(close).await.is_err() {
                            return;
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

/// A client app against a scripted server closing with `code`; the runtime must outlive it.
fn setup(code: CloseCode) -> (tokio::runtime::Runtime, App, Hellos) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let hellos = Hellos::default();
    runtime.spawn(serve(listener, code, hellos.clone()));

    let mut link = LinkConfig::new(format!("ws://{addr}/ws"), "alice");
    link.backoff_base = Duration::from_millis(50);
    link.backoff_cap = Duration::from_secs(2);
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, NetPlugin { link }));
    app.finish();
    app.cleanup();
    (runtime, app, hellos)
}

fn run_until(app: &mut App, what: &str, mut done: impl FnMut(&App) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        app.update();
        if done(app) {
            return;
        }
        let c = app.world().resource::<Connection>();
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {c:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn status(app: &App) -> LinkStatus {
    app.world().resource::<Connection>().status.clone()
}

#[test]
fn replaced_by_a_newer_connection_gives_up_and_shows_why() {
    let (_runtime, mut app, hellos) = setup(CloseCode::Replaced);
    run_until(&mut app, "the client gives up", |app| {
        matches!(status(app), LinkStatus::Stopped { .. })
    });
    let LinkStatus::Stopped { cause } = status(&app) else {
        unreachable!()
    };
    assert_eq!(
        cause,
        Disconnect::Closed {
            code: Some(4006),
            reason: "replaced by a newer connection".into()
        }
    );
    assert_eq!(
        cause.describe(),
        "Replaced by a newer connection (code 4006)"
    );
    assert_eq!(app.world().resource::<Connection>().sessions, 1);
    // Well past every backoff delay (at most 2 s here): still given up, still one connection.
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        app.update();
        assert!(
            matches!(status(&app), LinkStatus::Stopped { .. }),
            "{:?}",
            status(&app)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(hellos.lock().unwrap().len(), 1, "no reconnect by itself");
    // The player can still ask (R in the game).
    app.world()
        .resource::<Link>()
        .command(ToNet::Reconnect(Disconnect::Diverged("R pressed".into())));
    run_until(&mut app, "a second connection on request", |_| {
        hellos.lock().unwrap().len() == 2
    });
}

#[test]
fn too_slow_reconnects_with_the_resume_token() {
    let (_runtime, mut app, hellos) = setup(CloseCode::TooSlow);
    run_until(&mut app, "a reconnect", |app| {
        app.world().resource::<Connection>().sessions >= 2
    });
    let hellos = hellos.lock().unwrap().clone();
    assert_eq!(hellos[0], None);
    assert_eq!(hellos[1].as_deref(), Some(TOKEN));
}

#[test]
fn a_full_room_is_retried_after_the_long_delay() {
    let (_runtime, mut app, _hellos) = setup(CloseCode::Full);
    run_until(&mut app, "the retry is scheduled", |app| {
        matches!(status(app), LinkStatus::Retrying { .. })
    });
    let LinkStatus::Retrying { at, cause } = status(&app) else {
        unreachable!()
    };
    assert_eq!(
        cause,
        Disconnect::Closed {
            code: Some(4003),
            reason: "the room is full".into()
        }
    );
    // The long delay is at least half the 2 s cap; the first ordinary retry would be 25-50 ms.
    let wait = at.saturating_duration_since(Instant::now());
    assert!(wait > Duration::from_millis(600), "{wait:?}");
}
