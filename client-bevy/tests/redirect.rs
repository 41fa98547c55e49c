//! The Bevy client follows a cluster's redirects: a scripted node answers its `Hello` with a
//! `Redirect` to the real in-process server (room R1) and closes with 4007; the client plays
//! there at once, in that room, with the name it sent. A node that redirects to itself is left
//! after 4 redirects in a row: the client then backs off and says why.

mod common;

use bevy::prelude::*;
use common::WAIT;
use fastwebsockets::{Frame, OpCode, Payload};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tickwire_client::redirect::MAX_REDIRECTS;
use tickwire_client_bevy::net::{Connection, Disconnect, LinkConfig, LinkStatus, NetPlugin};
use tickwire_server::{Config, Server};
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::{ClientMsg, Redirect, ServerMsg, decode_client, encode_server};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Each connection's request path and the name in its `Hello`, in order.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A scripted node: every connection gets `to(n, own address)` as a `Redirect` after its
/// `Hello`, then a 4007 close.
async fn redirecting_node(
    listener: TcpListener,
    seen: Seen,
    to: Arc<dyn Fn(usize, SocketAddr) -> Redirect + Send + Sync>,
) {
    let own = listener.local_addr().unwrap();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (seen, to) = (seen.clone(), to.clone());
        tokio::spawn(async move {
            let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let (seen, to) = (seen.clone(), to.clone());
                let path = req.uri().to_string();
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
                        let n = {
                            let mut s = seen.lock().unwrap();
                            s.push((path, hello.name));
                            s.len() - 1
                        };
                        let mut bytes = Vec::new();
                        encode_server(
                            &ServerMsg::Redirect(to(n, own)),
                            &Schema::new(""),
                            &[],
                            &mut bytes,
                        );
                        let frame = Frame::new(true, OpCode::Binary, None, Payload::Owned(bytes));
                        if ws.write_frame(frame).await.is_err() {
                            return;
                        }
                        let _ = ws
                            .write_frame(Frame::close(4007, b"the room is on another node"))
                            .await;
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

fn app(url: String) -> App {
    let mut link = LinkConfig::new(url, "alice");
    link.backoff_base = Duration::from_millis(300);
    link.backoff_cap = Duration::from_secs(2);
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, NetPlugin { link }));
    app.finish();
    app.cleanup();
    app
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
        std::thread::sleep(common::FRAME);
    }
}

#[test]
fn a_redirect_takes_the_client_to_the_room_on_the_real_server() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let shutdown = CancellationToken::new();
    let server = runtime
        .block_on(Server::bind(Config::ephemeral(), shutdown.clone()))
        .expect("bind");
    let target = format!("ws://{}/ws", server.local_addr());
    let server_addr = server.local_addr();
    let task = runtime.spawn(server.run());
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let node = listener.local_addr().unwrap();
    let seen = Seen::default();
    runtime.spawn(redirecting_node(
        listener,
        seen.clone(),
        Arc::new(move |_, _| Redirect {
            url: target.clone(),
            room: "R1".into(),
            seat: String::new(),
        }),
    ));

    let mut app = app(format!("ws://{node}/ws?room=asked"));
    run_until(&mut app, "playing on the real server", |app| {
        matches!(
            app.world().resource::<Connection>().status,
            LinkStatus::Playing
        )
    });
    let c = app.world().resource::<Connection>();
    assert_eq!(
        c.sessions, 1,
        "one Welcome, from the server the redirect named"
    );
    assert_eq!(
        seen.lock().unwrap().clone(),
        [("/ws?room=asked".to_string(), "alice".to_string())]
    );
    // The server has alice in room R1 (and no room "asked").
    let rooms = runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(server_addr).await.unwrap();
        s.write_all(b"GET /rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    });
    assert!(rooms.contains(r#""id":"R1""#), "{rooms}");
    assert!(rooms.contains(r#""players":1"#), "{rooms}");
    assert!(!rooms.contains(r#""id":"asked""#), "{rooms}");
    drop(app);
    shutdown.cancel();
    runtime
        .block_on(async { tokio::time::timeout(WAIT, task).await })
        .expect("server stops")
        .unwrap();
}

#[test]
fn a_node_that_redirects_to_itself_is_left_after_four_then_retried_later() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let node = listener.local_addr().unwrap();
    let seen = Seen::default();
    runtime.spawn(redirecting_node(
        listener,
        seen.clone(),
        Arc::new(|n, own| Redirect {
            url: format!("ws://{own}/ws"),
            room: "loop".into(),
            seat: format!("s{n}"),
        }),
    ));
    let mut app = app(format!("ws://{node}/ws?token=t"));
    run_until(&mut app, "the loop to be given up", |app| {
        matches!(
            app.world().resource::<Connection>().status,
            LinkStatus::Retrying { .. }
        )
    });
    let LinkStatus::Retrying { cause, .. } = app.world().resource::<Connection>().status.clone()
    else {
        unreachable!()
    };
    let Disconnect::Closed { code, reason } = cause else {
        panic!("{cause:?}")
    };
    assert_eq!(code, Some(4007));
    assert!(reason.contains("5 times in a row"), "{reason}");
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(paths.len(), MAX_REDIRECTS + 1, "{paths:?}");
    assert_eq!(paths[0], "/ws?token=t");
    for (i, p) in paths.iter().enumerate().skip(1) {
        assert_eq!(p, &format!("/ws?token=t&room=loop&seat=s{}", i - 1));
    }
    // After the backoff, the configured URL again.
    run_until(&mut app, "the retry", |_| {
        seen.lock().unwrap().len() > MAX_REDIRECTS + 1
    });
    assert_eq!(seen.lock().unwrap()[MAX_REDIRECTS + 1].0, "/ws?token=t");
}
