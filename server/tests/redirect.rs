//! The Rust client follows a cluster's redirects (docs/SCALING.md) to the real server: a fake
//! node (a loopback listener doing the WebSocket upgrade with fastwebsockets, as the server
//! does) reads the client's `Hello`, answers with a `Redirect` to the in-process
//! [`tickwire_server::Server`] and closes with 4007; the client ends up welcomed there, in the
//! room the redirect named, with the name and resume token it sent. A node that keeps
//! redirecting to itself makes the client give up after 4 with a clear error; a 4008 sends it
//! back without the seat; a match ticket from `POST /match` takes it to its node and room.

mod common;

use bytes::Bytes;
use common::{TestServer, WAIT};
use fastwebsockets::{Frame, OpCode, Payload};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tickwire_client::redirect::MAX_REDIRECTS;
use tickwire_client::{Client, GameClient, JoinError, MatchError, quick_match};
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::{
    ClientMsg, Hello, PROTOCOL_VERSION, Redirect, ServerMsg, decode_client, encode_server,
};
use tokio::net::TcpListener;

/// What the fake node does with connection number `n` (0 first), asked at `path`; `own` is
/// its own address.
enum Reply {
    /// Sends this `Redirect`, then closes with 4007.
    Redirect(Redirect),
    /// Closes with this code.
    Close(u16, &'static str),
}

type Answer = dyn Fn(usize, &str, SocketAddr) -> Reply + Send + Sync;

/// A fake node: every request's path and query and the `Hello` that came on it.
struct FakeNode {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<(String, Hello)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeNode {
    async fn start(answer: Box<Answer>) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<(String, Hello)>>> = Arc::default();
        let answer: Arc<Answer> = Arc::from(answer);
        let log = seen.clone();
        let task = tokio::spawn(async move {
            let conns = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (answer, log, conns) = (answer.clone(), log.clone(), conns.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |mut req: Request<hyper::body::Incoming>| {
                        let path = req.uri().to_string();
                        let n = conns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let (answer, log) = (answer.clone(), log.clone());
                        let (response, upgrade) =
                            fastwebsockets::upgrade::upgrade(&mut req).expect("an upgrade");
                        tokio::spawn(async move {
                            let mut ws = upgrade.await.expect("the upgrade completes");
                            let frame = ws.read_frame().await.expect("a Hello");
                            assert_eq!(frame.opcode, OpCode::Binary);
                            let ClientMsg::Hello(hello) =
                                decode_client(&frame.payload, &Schema::new("")).unwrap()
                            else {
                                panic!("the first message is a Hello");
                            };
                            log.lock().unwrap().push((path.clone(), hello));
                            let (code, reason) = match answer(n, &path, addr) {
                                Reply::Redirect(r) => {
                                    let mut bytes = Vec::new();
                                    encode_server(
                                        &ServerMsg::Redirect(r),
                                        &Schema::new(""),
                                        &[],
                                        &mut bytes,
                                    );
                                    let _ =
                                        ws.write_frame(Frame::binary(Payload::Owned(bytes))).await;
                                    (4007, "the room is on another node")
                                }
                                Reply::Close(code, reason) => (code, reason),
                            };
                            let _ = ws.write_frame(Frame::close(code, reason.as_bytes())).await;
                        });
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        FakeNode { addr, seen, task }
    }

    fn url(&self, query: &str) -> String {
        format!("ws://{}/ws{query}", self.addr)
    }

    fn seen(&self) -> Vec<(String, Hello)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn redirect(url: String, room: &str, seat: &str) -> Redirect {
    Redirect {
        url,
        room: room.into(),
        seat: seat.into(),
    }
}

fn hello(name: &str, resume_token: Option<String>) -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        name: name.into(),
        auth_token: None,
        resume_token,
    }
}

async fn rooms(server: &TestServer) -> Vec<RoomInfo> {
    let (status, body) = server.http_get("/rooms").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The names in the client's replica once its first snapshot came.
async fn names(c: &mut GameClient) -> Vec<String> {
    c.next_snapshot(WAIT).await.expect("a snapshot");
    c.replica.players.values().map(|p| p.name.clone()).collect()
}

const GUEST: &str = "guest-0123456789abcdef";

#[tokio::test]
async fn a_redirect_takes_the_client_to_the_named_room_on_the_real_server() {
    let server = TestServer::start(Config::ephemeral()).await;
    let target = server.ws_url();
    let node = FakeNode::start(Box::new(move |_, _, _| {
        Reply::Redirect(redirect(target.clone(), "R1", ""))
    }))
    .await;
    let from = node.url(&format!("?guest={GUEST}&room=asked"));
    let mut c = GameClient::join(&from, "alice", None, WAIT)
        .await
        .expect("welcomed after the redirect");
    assert_eq!(c.redirects(), 1);
    assert_eq!(
        c.url(),
        format!("{}?guest={GUEST}&room=R1", server.ws_url()),
        "the guest id kept, the room replaced"
    );
    let seen = node.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, format!("/ws?guest={GUEST}&room=asked"));
    assert_eq!(seen[0].1.name, "alice");
    assert_eq!(names(&mut c).await, vec!["alice".to_string()]);
    let listed = rooms(&server).await;
    let r1 = listed
        .iter()
        .find(|r| r.id == "R1")
        .expect("room R1 on the server");
    assert_eq!(r1.players, 1);
    assert!(!listed.iter().any(|r| r.id == "asked"), "{listed:?}");
    c.leave().await;
    server.stop().await;
}

#[tokio::test]
async fn a_resume_is_redirected_to_the_node_that_holds_the_player() {
    let server = TestServer::start(Config::ephemeral()).await;
    let first = GameClient::join(&format!("{}?room=duel", server.ws_url()), "bob", None, WAIT)
        .await
        .expect("join");
    let (id, token) = (first.welcome.player_id, first.welcome.resume_token.clone());
    // Lost without a goodbye: the server keeps bob for a resume.
    first.abort();
    let target = server.ws_url();
    let node = FakeNode::start(Box::new(move |_, _, _| {
        Reply::Redirect(redirect(target.clone(), "duel", ""))
    }))
    .await;
    let client = Client::connect(&node.url(""), WAIT).await.unwrap();
    let mut c = GameClient::join_on(client, hello("bob", Some(token.clone())), WAIT)
        .await
        .expect("resumed after the redirect");
    assert!(c.welcome.resumed, "the same player, taken back");
    assert_eq!(c.welcome.player_id, id);
    assert_eq!(
        node.seen()[0].1.resume_token.as_deref(),
        Some(token.as_str())
    );
    assert_eq!(c.url(), format!("{}?room=duel", server.ws_url()));
    assert_eq!(names(&mut c).await, vec!["bob".to_string()]);
    c.leave().await;
    server.stop().await;
}

#[tokio::test]
async fn a_node_that_redirects_to_itself_is_left_after_four() {
    let looping = FakeNode::start(Box::new(|n, _, own| {
        Reply::Redirect(redirect(format!("ws://{own}/ws"), "loop", &format!("s{n}")))
    }))
    .await;
    let err = match GameClient::join(
        &looping.url(&format!("?guest={GUEST}")),
        "carol",
        None,
        WAIT,
    )
    .await
    {
        Ok(_) => panic!("a redirect loop was followed for ever"),
        Err(e) => e,
    };
    match &err {
        JoinError::TooManyRedirects { hops, last_url } => {
            assert_eq!(*hops, MAX_REDIRECTS);
            assert!(last_url.ends_with("room=loop&seat=s4"), "{last_url}");
        }
        other => panic!("not the loop error: {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("4 redirects in a row without a Welcome"),
        "{text}"
    );
    let seen = looping.seen();
    assert_eq!(
        seen.len(),
        MAX_REDIRECTS + 1,
        "the first connection and 4 redirects"
    );
    assert_eq!(seen[0].0, format!("/ws?guest={GUEST}"));
    for (i, (path, h)) in seen.iter().enumerate().skip(1) {
        assert_eq!(
            path,
            &format!("/ws?guest={GUEST}&room=loop&seat=s{}", i - 1)
        );
        assert_eq!(h.name, "carol", "the same Hello every time");
        assert_eq!(h.resume_token, None);
    }
}

#[tokio::test]
async fn an_expired_seat_is_retried_at_once_without_it() {
    let server = TestServer::start(Config::ephemeral()).await;
    let target = server.ws_url();
    // The first connection carries a stale seat: 4008. The retry, without it, is redirected.
    let node = FakeNode::start(Box::new(move |_, path, _| {
        if path.contains("seat=") {
            Reply::Close(4008, "the seat reservation has expired")
        } else {
            Reply::Redirect(redirect(target.clone(), "R3", ""))
        }
    }))
    .await;
    let mut c = GameClient::join(&node.url("?room=R3&seat=stale"), "dave", None, WAIT)
        .await
        .expect("welcomed after the seat retry and the redirect");
    let paths: Vec<String> = node.seen().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["/ws?room=R3&seat=stale", "/ws?room=R3"]);
    assert_eq!(c.redirects(), 2, "the seat retry and the redirect");
    assert_eq!(names(&mut c).await, vec!["dave".to_string()]);
    assert!(
        rooms(&server)
            .await
            .iter()
            .any(|r| r.id == "R3" && r.players == 1)
    );
    c.leave().await;
    server.stop().await;
}

/// A plain HTTP server answering every request with `answer(method, path)`: (status, body).
async fn fake_http(
    answer: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (status, body) = answer(req.method().as_str(), &req.uri().to_string());
                    async move {
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_match_ticket_takes_the_client_to_its_node_and_room() {
    let server = TestServer::start(Config::ephemeral()).await;
    let target = server.ws_url();
    let (addr, http) = fake_http(move |method, path| {
        if method != "POST" || path != "/match?game=arena" {
            return (405, r#"{"error":"POST /match only"}"#.into());
        }
        let ticket = serde_json::json!({
            "url": target, "room": "M1", "seat": "", "node": "n1", "expires_in_ms": 5000,
        });
        (200, ticket.to_string())
    })
    .await;
    let ticket = quick_match(&format!("http://{addr}/match"), Some("arena"), WAIT)
        .await
        .expect("a ticket");
    assert_eq!(ticket.room, "M1");
    assert_eq!(ticket.node, "n1");
    assert_eq!(ticket.ws_url(), format!("{}?room=M1", server.ws_url()));
    let mut c = GameClient::join_ticket(&ticket, hello("erin", None), WAIT)
        .await
        .expect("welcomed with the ticket");
    assert_eq!(names(&mut c).await, vec!["erin".to_string()]);
    assert!(
        rooms(&server)
            .await
            .iter()
            .any(|r| r.id == "M1" && r.players == 1)
    );
    // A refusal carries the node's sentence (this one wants ?game=arena).
    match quick_match(&format!("http://{addr}/match"), None, WAIT).await {
        Err(MatchError::Refused { status, error }) => {
            assert_eq!(status, 405);
            assert_eq!(error, "POST /match only");
        }
        other => panic!("not refused: {other:?}"),
    }
    c.leave().await;
    http.abort();
    server.stop().await;
}

#[tokio::test]
async fn a_match_failure_says_why() {
    let (addr, http) = fake_http(|_, _| {
        (
            503,
            r#"{"error":"no node has a free seat for arena"}"#.into(),
        )
    })
    .await;
    let err = quick_match(&format!("http://{addr}/match"), Some("arena"), WAIT)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "matchmaking refused (503): no node has a free seat for arena"
    );
    // Nobody listening, and a URL that is not http(s).
    http.abort();
    let _ = http.await;
    assert!(matches!(
        quick_match(&format!("http://{addr}/match"), None, WAIT).await,
        Err(MatchError::Connect { .. })
    ));
    assert!(matches!(
        quick_match("ws://127.0.0.1:1/match", None, WAIT).await,
        Err(MatchError::BadUrl(_))
    ));
}
