//! The operator's view: the page `/admin` and its JSON API `/admin/api/*`, on the player
//! listener and on `--admin-addr` alike.
//!
//! Off unless `--admin-token TOKEN` is set (every `/admin` path then answers 404 saying so).
//! The page and its two files hold no data and are served to anyone, so a browser can show
//! its token form; every API call needs `Authorization: Bearer TOKEN` (compared in constant
//! time; missing or wrong: 401 with a sentence). The page keeps the token in `sessionStorage`
//! and sends it as that header, never as a cookie, so another site cannot make a browser call
//! the API (no CSRF surface); it may be given once as `/admin?token=TOKEN`, which the page
//! takes out of the address at once.
//!
//! - `GET /admin/api/overview`: [`Overview`], this node and its rooms with their players.
//! - `POST /admin/api/kick` with `{"room":"ID","player":N}`: removes that player (close 1008
//!   `removed by an operator`, no resume); `{"kicked":true}`, 404 for an unknown room or
//!   player, 400 for a bad body (at most 4 KiB of JSON).
//!
//! [`local_overview`] and [`kick_local`] are this node's halves: a cluster merges the other
//! nodes' overviews into the same shape and forwards kicks to the node that has the room.

use super::AppState;
use super::http::{json_error, response};
use super::room_task::{KICKED_REASON, PlayerEntry, RoomCmd};
use super::web;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, AUTHORIZATION, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tickwire_shared::PlayerId;
use tokio::sync::oneshot;
use tracing::{debug, info};

/// Largest body `POST /admin/api/kick` reads.
const MAX_BODY_BYTES: usize = 4096;
/// How long the overview waits for the rooms' player lists (a room answers between two
/// ticks; one that is far behind is listed without its players rather than holding the page).
const PLAYERS_WAIT: Duration = Duration::from_millis(500);
/// How long a kick waits for its room.
const KICK_WAIT: Duration = Duration::from_secs(2);

/// `GET /admin/api/overview`: the nodes, every room and its players, and the time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// The node that answered (`--node`, else the host name, else `local`).
    pub node: String,
    /// Every node known (this one alone on a single node).
    pub nodes: Vec<NodeView>,
    /// Every room, of every node.
    pub rooms: Vec<RoomView>,
    /// When the answer was made, ms since the Unix epoch (the page's clock for rates).
    pub time_ms: u64,
}

/// One node of [`Overview::nodes`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    /// Its id.
    pub id: String,
    /// Where players reach it (`http(s)://` and the address it listens on).
    pub url: String,
    /// Rooms running on it.
    pub rooms: usize,
    /// Players in its rooms (including those in their resume grace).
    pub players: usize,
    /// Shutting down: it takes no new player.
    pub draining: bool,
    /// Answering.
    pub healthy: bool,
}

/// One room of [`Overview::rooms`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomView {
    /// Room id.
    pub id: String,
    /// The node that runs it.
    pub node: String,
    /// The game it plays.
    pub game: String,
    /// Players (including those in their resume grace).
    pub players: usize,
    /// Capacity.
    pub max_players: usize,
    /// Whether quick-match fills it.
    pub public: bool,
    /// Latest completed tick.
    pub tick: u32,
    /// How long that tick took, ms.
    pub tick_ms: f64,
    /// Bytes sent to its clients since it was created (rates come from successive polls).
    pub bytes_sent: u64,
    /// Seconds since it was created.
    pub uptime_secs: u64,
    /// Its players; empty if the room did not answer in time.
    pub player_list: Vec<PlayerView>,
}

/// One player of [`RoomView::player_list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerView {
    /// Player id in its room.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Connected, or waiting in its resume grace.
    pub connected: bool,
}

/// The body of `POST /admin/api/kick`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickRequest {
    /// Room id.
    pub room: String,
    /// Player id in that room.
    pub player: u32,
}

/// Why a kick did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KickError {
    /// No room by that id on this node.
    #[error("no room {0} on this node")]
    UnknownRoom(String),
    /// The room has no such player.
    #[error("room {room} has no player {player}")]
    UnknownPlayer {
        /// Room id.
        room: String,
        /// Player id.
        player: u32,
    },
    /// The room did not answer (it is shutting down, or far behind).
    #[error("room {0} did not answer; try again")]
    Unanswered(String),
}

/// Whether a request path belongs to the operator's page or API.
pub(crate) fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// This node's overview: its rooms, with their players as each room task lists them.
pub(crate) async fn local_overview(state: &Arc<AppState>) -> Overview {
    let node = state.config.node_name();
    let handles = state.rooms.handles();
    // Ask every room at once, then collect the answers under one deadline.
    let asked: Vec<Option<oneshot::Receiver<Vec<PlayerEntry>>>> = handles
        .iter()
        .map(|h| {
            let (reply, answer) = oneshot::channel();
            // A room whose command queue is full is busy with joins: listed without players.
            h.cmds
                .try_send(RoomCmd::Players { reply })
                .ok()
                .map(|()| answer)
        })
        .collect();
    let deadline = tokio::time::Instant::now() + PLAYERS_WAIT;
    let mut rooms = Vec::with_capacity(handles.len());
    for (h, answer) in handles.iter().zip(asked) {
        let players = match answer {
            Some(a) => tokio::time::timeout_at(deadline, a)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let s = &h.stats;
        rooms.push(RoomView {
            id: s.id.clone(),
            node: node.clone(),
            game: s.game.clone(),
            players: s.players.load(Ordering::Relaxed),
            max_players: s.max_players,
            public: s.public,
            tick: s.tick.load(Ordering::Relaxed),
            tick_ms: f64::from(s.tick_micros.load(Ordering::Relaxed)) / 1000.0,
            bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
            uptime_secs: s.created.elapsed().as_secs(),
            player_list: players
                .into_iter()
                .map(|p| PlayerView {
                    id: p.id.0,
                    name: p.name,
                    connected: p.connected,
                })
                .collect(),
        });
    }
    let scheme = if state.config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let node = state.cluster.as_ref().map_or(node, |c| c.node.clone());
    for r in &mut rooms {
        r.node = node.clone();
    }
    let url = if state.public_url.is_empty() {
        format!("{scheme}://{}", state.config.addr)
    } else {
        state.public_url.clone()
    };
    Overview {
        nodes: vec![NodeView {
            id: node.clone(),
            url,
            rooms: rooms.len(),
            players: rooms.iter().map(|r| r.players).sum(),
            draining: state.shutdown.is_cancelled() || state.rooms.draining.load(Ordering::Relaxed),
            healthy: true,
        }],
        node,
        rooms,
        time_ms: now_ms(),
    }
}

/// The overview of the whole cluster (this node's alone without `--redis`, or with `local`):
/// this node's, and each other live node's, asked over HTTP at its public URL (the same API
/// with `?scope=local`, the same token) at once with one deadline. A node that does not answer
/// is shown unhealthy, its rooms as the directory lists them (without players).
pub(crate) async fn cluster_overview(state: &Arc<AppState>, local: bool) -> Overview {
    let mut overview = local_overview(state).await;
    let Some(cluster) = state.cluster.clone().filter(|_| !local) else {
        return overview;
    };
    let Ok(nodes) = cluster.nodes().await else {
        return overview;
    };
    let token = state.config.admin_token.clone().unwrap_or_default();
    let asks = nodes
        .iter()
        .filter(|n| n.id != cluster.node)
        .map(|n| {
            let (n, token) = (n.clone(), token.clone());
            tokio::spawn(async move {
                let got =
                    tokio::time::timeout(Duration::from_secs(1), fetch_overview(&n.url, &token))
                        .await
                        .ok()
                        .flatten();
                (n, got)
            })
        })
        .collect::<Vec<_>>();
    let (listed, _) = cluster.rooms_page(None, 500).await.unwrap_or_default();
    for ask in asks {
        let Ok((n, got)) = ask.await else { continue };
        match got {
            Some(o) => {
                overview.nodes.extend(o.nodes);
                overview.rooms.extend(o.rooms);
            }
            None => {
                overview
                    .rooms
                    .extend(listed.iter().filter(|r| r.node == n.id).map(|r| RoomView {
                        id: r.id.clone(),
                        node: n.id.clone(),
                        game: r.game.clone(),
                        players: r.players,
                        max_players: r.max_players,
                        public: r.public,
                        tick: 0,
                        tick_ms: 0.0,
                        bytes_sent: 0,
                        uptime_secs: r.uptime_secs,
                        player_list: Vec::new(),
                    }));
                overview.nodes.push(NodeView {
                    id: n.id,
                    url: n.url,
                    rooms: n.rooms as usize,
                    players: n.players as usize,
                    draining: n.draining,
                    healthy: false,
                });
            }
        }
    }
    overview.nodes.sort_by(|a, b| a.id.cmp(&b.id));
    overview
}

/// Another node's own overview, from its public WebSocket URL (`ws://host/prefix/ws` →
/// `http://host/prefix/admin/api/overview?scope=local`). Plain HTTP only: a node behind
/// `wss://` is shown from the directory.
async fn fetch_overview(ws_url: &str, token: &str) -> Option<Overview> {
    let rest = ws_url.strip_prefix("ws://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, "ws"));
    let prefix = path.strip_suffix("ws").unwrap_or("");
    let stream = tokio::net::TcpStream::connect(host).await.ok()?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .ok()?;
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(format!("/{prefix}admin/api/overview?scope=local"))
        .header(hyper::header::HOST, host)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .ok()?;
    let res = send.send_request(req).await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    let body = Limited::new(res.into_body(), 4 << 20)
        .collect()
        .await
        .ok()?;
    serde_json::from_slice(&body.to_bytes()).ok()
}

/// Removes `player` from room `room` of this node: its connection is closed with 1008
/// `removed by an operator` and it cannot resume.
pub(crate) async fn kick_local(
    state: &Arc<AppState>,
    room: &str,
    player: u32,
) -> Result<(), KickError> {
    let Some(h) = state
        .rooms
        .handles()
        .into_iter()
        .find(|h| h.stats.id == room)
    else {
        return Err(KickError::UnknownRoom(room.to_string()));
    };
    let (reply, answer) = oneshot::channel();
    let no_answer = || KickError::Unanswered(room.to_string());
    let cmd = RoomCmd::Kick {
        player: PlayerId(player),
        reply,
    };
    tokio::time::timeout(KICK_WAIT, h.cmds.send(cmd))
        .await
        .map_err(|_| no_answer())?
        .map_err(|_| no_answer())?;
    match tokio::time::timeout(KICK_WAIT, answer).await {
        Ok(Ok(true)) => {
            info!(room, player, reason = KICKED_REASON, "operator kick");
            Ok(())
        }
        Ok(Ok(false)) => Err(KickError::UnknownPlayer {
            room: room.to_string(),
            player,
        }),
        _ => Err(no_answer()),
    }
}

type Body = Full<Bytes>;

fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("admin answers serialize");
    response(status, "application/json", body)
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("this path answers {allow} only"),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// Equal without a timing difference: both sides are hashed first, so neither their
/// contents nor their lengths show in the time the comparison takes.
fn same_token(given: &[u8], token: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(token));
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

/// `None` when the request carries the token; else the 401 to answer.
fn refusal(req: &Request<Incoming>, token: &str) -> Option<Response<Body>> {
    let given = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    let bearer = given.and_then(|v| {
        let (scheme, rest) = v.split_at_checked(7)?;
        scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
    });
    let message = match bearer {
        Some(t) if same_token(t, token.as_bytes()) => return None,
        Some(_) => "the admin token is wrong",
        None => "the admin API needs the admin token: send Authorization: Bearer TOKEN",
    };
    debug!(path = req.uri().path(), "admin request refused: {message}");
    let mut r = json_error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"tickwire admin\""),
    );
    Some(r)
}

/// Serves an `/admin` path (see [`is_admin_path`]).
pub(super) async fn serve(req: Request<Incoming>, state: &Arc<AppState>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let Some(token) = state.config.admin_token.as_deref() else {
        return response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "the operator's page is off: start the server with --admin-token TOKEN to turn it on\n",
        );
    };
    let method = req.method().clone();
    let read_only = method == Method::GET || method == Method::HEAD;
    if let Some(api) = path.strip_prefix("/admin/api/") {
        match (api, read_only, method == Method::POST) {
            ("overview", true, _) => {
                if let Some(r) = refusal(&req, token) {
                    return r;
                }
                let local = req.uri().query().is_some_and(|q| q.contains("scope=local"));
                json(StatusCode::OK, &cluster_overview(state, local).await)
            }
            ("overview", false, _) => method_not_allowed("GET, HEAD"),
            ("kick", _, true) => {
                if let Some(r) = refusal(&req, token) {
                    return r;
                }
                kick(req, state).await
            }
            ("kick", _, false) => method_not_allowed("POST"),
            ("announce" | "message", _, true) => {
                if let Some(r) = refusal(&req, token) {
                    return r;
                }
                if api == "announce" {
                    announce(req, state).await
                } else {
                    message(req, state).await
                }
            }
            ("announce" | "message", _, false) => method_not_allowed("POST"),
            _ => json_error(
                StatusCode::NOT_FOUND,
                "the admin API has GET /admin/api/overview and POST /admin/api/kick, /admin/api/announce and /admin/api/message",
            ),
        }
    } else {
        if !read_only {
            let mut r = response(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "the operator's page answers GET and HEAD\n",
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let file = match path.as_str() {
            "/admin" | "/admin/" => "/admin/index.html",
            other => other,
        };
        let game = &state.game.schema().game;
        match web::serve(file, req.headers(), state.config.web_dir.as_deref(), game) {
            Some(mut r) => {
                let h = r.headers_mut();
                h.insert(
                    "content-security-policy",
                    HeaderValue::from_static(
                        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                    ),
                );
                h.insert("x-frame-options", HeaderValue::from_static("DENY"));
                // The token may arrive in the address once; it must not leave in a Referer.
                h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
                r
            }
            None => response(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "not found\n",
            ),
        }
    }
}

/// Reads a JSON request body of at most `MAX_BODY_BYTES`; the error answer otherwise.
async fn read_json<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
    state: &Arc<AppState>,
    shape: &str,
) -> Result<T, Response<Body>> {
    let body = Limited::new(req.into_body(), MAX_BODY_BYTES).collect();
    let bytes = match tokio::time::timeout(state.config.handshake_timeout, body).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("a request is at most {MAX_BODY_BYTES} bytes of JSON"),
            ));
        }
        Ok(Err(_)) => {
            return Err(json_error(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ));
        }
        Err(_) => {
            return Err(json_error(
                StatusCode::REQUEST_TIMEOUT,
                "the request body came too slowly",
            ));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        json_error(
            StatusCode::BAD_REQUEST,
            &format!("the request is JSON {shape} ({e})"),
        )
    })
}

#[derive(Deserialize)]
struct AnnounceRequest {
    text: String,
}

#[derive(Deserialize)]
struct MessageRequest {
    room: String,
    player: u32,
    text: String,
}

/// `POST /admin/api/announce` `{"text"}`: a notice to every player of every room, on every
/// node of the cluster.
async fn announce(req: Request<Incoming>, state: &Arc<AppState>) -> Response<Body> {
    let r: AnnounceRequest = match read_json(req, state, "{\"text\":\"...\"}").await {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::cluster::send(
        state,
        None,
        crate::cluster::ClusterMsg::Announce { text: r.text },
    )
    .await
    {
        Ok(nodes) => json(StatusCode::OK, &serde_json::json!({ "nodes": nodes })),
        Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}

/// `POST /admin/api/message` `{"room","player","text"}`: a notice to one player, on whichever
/// node runs its room.
async fn message(req: Request<Incoming>, state: &Arc<AppState>) -> Response<Body> {
    let r: MessageRequest = match read_json(
        req,
        state,
        "{\"room\":\"ID\",\"player\":N,\"text\":\"...\"}",
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return e,
    };
    let msg = crate::cluster::ClusterMsg::Direct {
        room: r.room.clone(),
        player: r.player,
        text: r.text,
    };
    match crate::cluster::send(state, Some(&r.room), msg).await {
        Ok(nodes) => json(StatusCode::OK, &serde_json::json!({ "nodes": nodes })),
        Err(e) => json_error(StatusCode::NOT_FOUND, &e),
    }
}

/// `POST /admin/api/kick`.
async fn kick(req: Request<Incoming>, state: &Arc<AppState>) -> Response<Body> {
    let request: KickRequest = match read_json(req, state, "{\"room\":\"ID\",\"player\":N}").await {
        Ok(r) => r,
        Err(e) => return e,
    };
    if !state.rooms.contains(&request.room) && state.cluster.is_some() {
        // The room may be on another node: that node kicks.
        let msg = crate::cluster::ClusterMsg::Kick {
            room: request.room.clone(),
            player: request.player,
        };
        return match crate::cluster::send(state, Some(&request.room), msg).await {
            Ok(_) => json(
                StatusCode::OK,
                &serde_json::json!({ "kicked": true, "remote": true }),
            ),
            Err(e) => json_error(StatusCode::NOT_FOUND, &e),
        };
    }
    match kick_local(state, &request.room, request.player).await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "kicked": true })),
        Err(e @ (KickError::UnknownRoom(_) | KickError::UnknownPlayer { .. })) => {
            json_error(StatusCode::NOT_FOUND, &e.to_string())
        }
        Err(e @ KickError::Unanswered(_)) => {
            json_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
        }
    }
}
