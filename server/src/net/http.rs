//! HTTP routing: `/ws` (WebSocket upgrade), `/rooms`, `/healthz`, `/readyz`, `/metrics`, the
//! operator's `/admin` (see [`super::admin`], on both listeners, whether or not the connection
//! was admitted), the browser client's files (see [`super::web`]); everything else 404. Checks made before an
//! upgrade (method, handshake headers, origin, room id, a token in the URL) answer with an
//! HTTP status and a sentence, so a browser sees a clear refusal rather than a dropped socket.
//!
//! A request head may be at most `--max-request-head-bytes` (hyper answers 431 past it), and a
//! connection not admitted under the connection limits still gets `/healthz`, `/readyz` and
//! `/metrics` (and 503 for everything else), so a full server is not mistaken for a dead one.

use super::conn::{self, MirrorParam, WsParams};
use super::rooms::valid_room_id;
use super::web;
use super::{Admission, AppState};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    ALLOW, CACHE_CONTROL, CONTENT_TYPE, ORIGIN, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tracing::debug;

type Body = Full<Bytes>;

/// What a connection is served.
pub(super) enum Routes {
    /// The player listener: every route. Without an admission (a connection limit reached)
    /// only the admin routes answer; everything else gets 503.
    Public(Option<Arc<Admission>>),
    /// The `--admin-addr` listener: `/healthz`, `/readyz`, `/metrics` and the operator's
    /// `/admin`; everything else 404.
    Admin,
}

/// Serves one connection with hyper until it ends, the server shuts down, or `evicted` fires
/// (too many connections in their HTTP phase: this one was the oldest).
pub(super) async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    state: Arc<AppState>,
    routes: Routes,
    evicted: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let st = state.clone();
    let routes = Arc::new(routes);
    let service = service_fn(move |req: Request<Incoming>| {
        let st = st.clone();
        let routes = routes.clone();
        async move {
            Ok::<_, Infallible>(match &*routes {
                // The operator's page and API (see [`super::admin`]), on both listeners.
                _ if super::admin::is_admin_path(req.uri().path()) => {
                    super::admin::serve(req, &st).await
                }
                Routes::Public(admitted) => route(req, peer, st, admitted.clone()).await,
                Routes::Admin => admin_route(&req, &st)
                    .unwrap_or_else(|| text(StatusCode::NOT_FOUND, "not found\n")),
            })
        }
    });
    let conn = http1::Builder::new()
        .header_read_timeout(state.config.handshake_timeout)
        .timer(hyper_util::rt::TokioTimer::new())
        .max_buf_size(state.config.max_request_head_bytes)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = evicted.cancelled() => {
            debug!(%peer, "oldest connection in its HTTP phase dropped for a new one");
            return;
        }
        _ = state.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn => r,
                _ = evicted.cancelled() => return,
            }
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "http connection ended with an error");
    }
}

pub(super) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header(CACHE_CONTROL, "no-store")
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    response(status, "text/plain; charset=utf-8", body.into())
}

async fn route(
    req: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
    admitted: Option<Arc<Admission>>,
) -> Response<Body> {
    // Health, readiness and metrics answer whether or not the connection was admitted: they
    // hold nothing once answered, and a load balancer must not take a full node for a dead one.
    if let Some(answer) = admin_route(&req, &state) {
        return answer;
    }
    let Some(admission) = admitted else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is at its connection limit; try again later\n",
        );
    };
    match req.uri().path() {
        "/rooms" => rooms(&req, &state).await,
        "/match" => quick_match(&req, &state).await,
        "/ws" => upgrade(req, peer, state, admission),
        "/webtransport" => match state.webtransport.get() {
            Some(info) => response(StatusCode::OK, "application/json", info.json()),
            None => text(
                StatusCode::NOT_FOUND,
                "this server has no WebTransport (start it with --webtransport)\n",
            ),
        },
        path if path.starts_with("/leaderboard/") => leaderboard(&req, &state).await,
        path => web::serve(
            path,
            req.headers(),
            state.config.web_dir.as_deref(),
            &state.game.schema().game,
        )
        .unwrap_or_else(|| text(StatusCode::NOT_FOUND, "not found\n")),
    }
}

/// The routes for load balancers and monitoring, on both listeners: `/healthz`, `/readyz`,
/// `/metrics` (and 405 for a method other than GET or HEAD); `None` for any other path.
fn admin_route(req: &Request<Incoming>, state: &AppState) -> Option<Response<Body>> {
    let path = req.uri().path();
    let own = matches!(path, "/healthz" | "/readyz" | "/metrics");
    if req.method() != Method::GET && req.method() != Method::HEAD && (own || path != "/match") {
        return Some(text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"));
    }
    match path {
        "/healthz" => Some(text(StatusCode::OK, "ok\n")),
        "/readyz" => Some(readiness(state)),
        "/metrics" => Some(response(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.render(),
        )),
        _ => None,
    }
}

/// `/readyz`: 200 while the server takes new players; 503 when it is shutting down or at its
/// connection limit (a new connection would be refused), so an orchestrator sends players
/// elsewhere while `/healthz` still says the process is alive.
fn readiness(state: &AppState) -> Response<Body> {
    if state.shutdown.is_cancelled() {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the server is shutting down\n",
        )
    } else if state
        .rooms
        .draining
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: draining (current rooms play on; no new players)\n",
        )
    } else if state.connection_limit.available_permits() == 0 {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the server is at its connection limit\n",
        )
    } else {
        text(StatusCode::OK, "ready\n")
    }
}

/// `GET /rooms?after=ID&limit=N`: a page of rooms by id (the cluster's with `--redis`, never
/// the whole directory at once), at most `limit` (default 100, at most 500); an
/// `X-Next-After` header names the cursor of the next page when there may be one. With Redis
/// away a node lists its own rooms and says so in `X-Tickwire-Partial`.
async fn rooms(req: &Request<Incoming>, state: &AppState) -> Response<Body> {
    let (mut after, mut limit) = (None::<String>, 100usize);
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match &*k {
            "after" if valid_room_id(&v) => after = Some(v.into_owned()),
            "after" => return json_error(StatusCode::BAD_REQUEST, "after must be a room id"),
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=500).contains(&n) => limit = n,
                _ => {
                    return json_error(
                        StatusCode::BAD_REQUEST,
                        "limit must be a number from 1 to 500",
                    );
                }
            },
            _ => {}
        }
    }
    let mut partial = None;
    let page = match &state.cluster {
        Some(c) => match c.rooms_page(after.as_deref(), limit).await {
            Ok(p) => Some(p),
            Err(_) => {
                partial =
                    Some("the cluster directory (Redis) is unreachable: this node's rooms only");
                None
            }
        },
        None => None,
    };
    let (rows, next) = page.unwrap_or_else(|| {
        let mut rows: Vec<_> = state
            .rooms
            .list()
            .into_iter()
            .filter(|r| after.as_deref().is_none_or(|a| r.id.as_str() > a))
            .collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
        (rows, next)
    });
    let body = serde_json::to_vec(&rows).expect("room rows serialize");
    let mut r = response(StatusCode::OK, "application/json", body);
    if let Some(n) = next.and_then(|n| hyper::header::HeaderValue::from_str(&n).ok()) {
        r.headers_mut().insert("x-next-after", n);
    }
    if let Some(p) = partial {
        r.headers_mut().insert(
            "x-tickwire-partial",
            hyper::header::HeaderValue::from_static(p),
        );
    }
    r
}

/// `POST /match?game=NAME`: a seat for one player. In a cluster: the fullest open room of the
/// game anywhere (or a new one on the least-loaded node), its seat reserved for `--seat-ttl`;
/// alone: the fullest public room here (its seat is checked when the player arrives). Answers
/// `{url, room, seat, node, expires_in_ms}`: connect to `url?room=ROOM&seat=SEAT`.
async fn quick_match(req: &Request<Incoming>, state: &AppState) -> Response<Body> {
    if req.method() != Method::POST {
        let mut r = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "ask for a match with POST /match (it reserves a seat)",
        );
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("POST"));
        return r;
    }
    let own = state.game.schema().game.clone();
    let mut game = own.clone();
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        if k == "game" {
            if !valid_board_name(&v) {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "game names are 1-32 characters of A-Z a-z 0-9 _ -",
                );
            }
            game = v.into_owned();
        }
    }
    let seat_ttl = state.config.seat_ttl;
    let ticket = |url: &str, room: &str, seat: &str, node: &str, exp_ms: u64| {
        let body = serde_json::json!({
            "url": url,
            "room": room,
            "seat": seat,
            "node": node,
            "expires_in_ms": exp_ms.saturating_sub(crate::cluster::seats::now_ms()),
        });
        response(StatusCode::OK, "application/json", body.to_string())
    };
    match &state.cluster {
        Some(c) => {
            if !c.is_up() {
                return json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the cluster directory (Redis) is unreachable, so no cross-node match can be made; try again shortly",
                );
            }
            match c.reserve(&game).await {
                Ok(Some((r, exp_ms))) => {
                    let node = crate::cluster::node_of(&r.room).unwrap_or("").to_string();
                    ticket(&r.url, &r.room, &r.seat, &node, exp_ms)
                }
                Ok(None) => json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "no node of game {game} can take a player now (all full or draining); try again shortly"
                    ),
                ),
                Err(_) => json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the cluster directory (Redis) did not answer; try again shortly",
                ),
            }
        }
        None => {
            if game != own {
                return json_error(
                    StatusCode::NOT_FOUND,
                    &format!("this server plays {own}, not {game}"),
                );
            }
            if state.shutdown.is_cancelled()
                || state
                    .rooms
                    .draining
                    .load(std::sync::atomic::Ordering::Relaxed)
            {
                return json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "this server is stopping and takes no new players",
                );
            }
            let room = state.rooms.pick_public();
            let (seat, exp_ms) = state.seats.issue(&room, "", "", seat_ttl);
            ticket(&state.public_url, &room, &seat, "", exp_ms)
        }
    }
}

pub(super) fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": message });
    response(status, "application/json", body.to_string())
}

/// A game or stat name in a leaderboard path: 1-32 characters of `a-z A-Z 0-9 _ -`.
fn valid_board_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `GET /leaderboard/GAME/STAT?season=…&limit=…&around=PLAYER`: the board as JSON,
/// `{game, stat, season, total, rows: [{rank, player, name, value}], you}`. `around=me` centres
/// it on the guest the `X-Tickwire-Guest` header names (and `you` is that player's id, so a
/// page can find its own row). Bad parameters get 400 with a sentence, a database that does not
/// answer 503.
async fn leaderboard(req: &Request<Incoming>, state: &AppState) -> Response<Body> {
    let Some(persist) = &state.persist else {
        return json_error(
            StatusCode::NOT_FOUND,
            "this server keeps no results (--db off)",
        );
    };
    let parts: Vec<&str> = req.uri().path().split('/').collect();
    let (game, stat) = match parts.as_slice() {
        ["", "leaderboard", game, stat] if valid_board_name(game) && valid_board_name(stat) => {
            (*game, *stat)
        }
        _ => {
            return json_error(
                StatusCode::NOT_FOUND,
                "leaderboards are at /leaderboard/GAME/STAT (names of 1-32 characters of A-Z a-z 0-9 _ -)",
            );
        }
    };
    let max = state.config.leaderboard_max_limit;
    let (mut season, mut limit, mut around) = (String::new(), 10usize, None::<String>);
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match &*k {
            "season" if v.len() <= 64 => season = v.into_owned(),
            "season" => {
                return json_error(StatusCode::BAD_REQUEST, "a season is at most 64 bytes");
            }
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => limit = n,
                _ => {
                    return json_error(
                        StatusCode::BAD_REQUEST,
                        &format!("limit must be a number from 1 to {max}"),
                    );
                }
            },
            "around" if v.len() <= 200 => around = Some(v.into_owned()),
            "around" => return json_error(StatusCode::BAD_REQUEST, "around is too long"),
            _ => {}
        }
    }
    let you = req
        .headers()
        .get("x-tickwire-guest")
        .and_then(|v| v.to_str().ok())
        .and_then(|g| crate::persist::identity(None, Some(g)));
    if around.as_deref() == Some("me") {
        around = you.clone();
    }
    let Ok(_permit) = state.leaderboard_queries.clone().try_acquire_owned() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many leaderboard queries at once; try again shortly",
        );
    };
    let query = persist
        .storage()
        .leaderboard(game, stat, &season, limit as i64, around.as_deref());
    match tokio::time::timeout(std::time::Duration::from_secs(3), query).await {
        Ok(Ok(board)) => {
            let mut body = serde_json::to_value(&board).expect("a board serializes");
            body["you"] = serde_json::json!(you);
            response(StatusCode::OK, "application/json", body.to_string())
        }
        Ok(Err(e)) => {
            debug!(error = %e, "leaderboard query failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not answering; try again later",
            )
        }
        Err(_) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is not answering; try again later",
        ),
    }
}

/// Whether a `Sec-WebSocket-Key` is the base64 of exactly 16 bytes (RFC 6455 §4.2.1): 22
/// characters of the base64 alphabet and `==`.
pub(super) fn valid_websocket_key(key: &[u8]) -> bool {
    let base64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
    key.len() == 24 && key.ends_with(b"==") && key[..22].iter().all(base64)
}

/// The answer to a handshake that fails the checks of RFC 6455 §4.2.1 that fastwebsockets
/// leaves to us: a GET (405 for a HEAD, whose answer has no body and must not switch
/// protocols), HTTP/1.1, version 13 (426 naming it otherwise, §4.4), one key that is the
/// base64 of 16 bytes (400).
fn handshake_refusal(req: &Request<Incoming>) -> Option<Response<Body>> {
    if req.method() != Method::GET {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket handshake is a GET request (RFC 6455 section 4.1)\n",
        );
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET"));
        return Some(r);
    }
    if req.version() < Version::HTTP_11 {
        return Some(text(
            StatusCode::BAD_REQUEST,
            "a WebSocket handshake needs HTTP/1.1\n",
        ));
    }
    if req
        .headers()
        .get(SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        let mut r = text(
            StatusCode::UPGRADE_REQUIRED,
            "this server speaks WebSocket version 13 (Sec-WebSocket-Version: 13)\n",
        );
        r.headers_mut().insert(
            SEC_WEBSOCKET_VERSION,
            hyper::header::HeaderValue::from_static("13"),
        );
        return Some(r);
    }
    let mut keys = req.headers().get_all(SEC_WEBSOCKET_KEY).iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) if valid_websocket_key(key.as_bytes()) => None,
        _ => Some(text(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key must be one header holding the base64 of 16 random bytes \
             (RFC 6455 section 4.2.1)\n",
        )),
    }
}

/// What a connection's query (`room`, `token`, `guest`, `seat`) asks for, checked; or the
/// HTTP status and text that refuse it. Shared by the WebSocket and WebTransport paths.
pub(super) fn ws_params(query: &str, state: &AppState) -> Result<WsParams, (StatusCode, String)> {
    let mut params = WsParams::default();
    let mut token = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "room" => params.room = Some(v.into_owned()),
            "token" => token = Some(v.into_owned()),
            "guest" => params.guest = Some(v.into_owned()),
            "seat" if v.len() <= 1024 => params.seat = Some(v.into_owned()),
            "seat" => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    "a seat token is at most 1024 bytes\n".into(),
                ));
            }
            "mirror" => {
                params.mirror = match &*v {
                    "1" => MirrorParam::Numbered,
                    "attach" => MirrorParam::Attach,
                    _ => {
                        return Err((
                            StatusCode::BAD_REQUEST,
                            "mirror is 1 (number the messages) or attach (be a mirror)\n".into(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(g) = &params.guest
        && !crate::persist::valid_guest_id(g)
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "guest ids are 16-64 characters of A-Z a-z 0-9 _ -\n".into(),
        ));
    }
    if let Some(room) = &params.room
        && !valid_room_id(room)
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "room ids are 1-32 characters of A-Z a-z 0-9 _ -\n".into(),
        ));
    }
    if let (Some(jwt), Some(token)) = (&state.jwt, token.as_deref()) {
        match jwt.verify(Some(token)) {
            Ok(claims) => params.claims = Some(claims),
            Err(e) => {
                state
                    .metrics
                    .auth_failures
                    .get_or_create(&crate::metrics::ReasonLabels { reason: e.label() })
                    .inc();
                return Err((StatusCode::UNAUTHORIZED, format!("{e}\n")));
            }
        }
    }
    Ok(params)
}

fn upgrade(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
    admission: Arc<Admission>,
) -> Response<Body> {
    if !fastwebsockets::upgrade::is_upgrade_request(&req) {
        return text(
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint speaks WebSocket\n",
        );
    }
    if let Some(refusal) = handshake_refusal(&req) {
        return refusal;
    }
    if state.shutdown.is_cancelled() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down\n");
    }
    let allowed = &state.config.allowed_origins;
    if let Some(origin) = req.headers().get(ORIGIN)
        && !allowed.is_empty()
        && !allowed.iter().any(|a| a.as_bytes() == origin.as_bytes())
    {
        return text(StatusCode::FORBIDDEN, "origin not allowed\n");
    }
    let params = match ws_params(req.uri().query().unwrap_or(""), &state) {
        Ok(p) => p,
        Err((status, why)) => return text(status, why),
    };
    match fastwebsockets::upgrade::upgrade(&mut req) {
        Ok((response, upgrade)) => {
            let st = state.clone();
            state.tracker.spawn(async move {
                conn::run(upgrade, peer, st, params).await;
                // The WebSocket counts against the limits until it ends.
                drop(admission);
            });
            let (parts, _) = response.into_parts();
            Response::from_parts(parts, Full::new(Bytes::new()))
        }
        Err(e) => {
            debug!(%peer, error = %e, "bad upgrade request");
            text(StatusCode::BAD_REQUEST, "bad WebSocket upgrade request\n")
        }
    }
}
