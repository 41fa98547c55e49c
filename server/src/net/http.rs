//! HTTP routing: `/ws` (WebSocket upgrade), `/rooms`, `/healthz`, `/metrics`, the browser
//! client's files (see [`super::web`]); everything else 404. Checks made before an upgrade
//! (origin, room id, a token in the URL) answer with an HTTP status, so a browser sees a clear
//! refusal rather than a dropped socket.

use super::conn::{self, WsParams};
use super::rooms::valid_room_id;
use super::web;
use super::{Admission, AppState};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, ORIGIN};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::debug;

type Body = Full<Bytes>;

/// Serves one connection with hyper until it ends or the server shuts down. Without an
/// admission (a connection limit reached) every request gets 503.
pub(super) async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    state: Arc<AppState>,
    admitted: Option<Arc<Admission>>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let st = state.clone();
    let service = service_fn(move |req| {
        let st = st.clone();
        let admitted = admitted.clone();
        async move { Ok::<_, Infallible>(route(req, peer, st, admitted)) }
    });
    let conn = http1::Builder::new()
        .header_read_timeout(state.config.handshake_timeout)
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = state.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "http connection ended with an error");
    }
}

fn response(
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

fn route(
    req: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
    admitted: Option<Arc<Admission>>,
) -> Response<Body> {
    let Some(admission) = admitted else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "server is at its connection limit
",
        );
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/metrics" => response(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.render(),
        ),
        "/rooms" => {
            let body = serde_json::to_vec(&state.rooms.list()).expect("room rows serialize");
            response(StatusCode::OK, "application/json", body)
        }
        "/ws" => upgrade(req, peer, state, admission),
        path => web::serve(
            path,
            req.headers(),
            state.config.web_dir.as_deref(),
            &state.game.schema().game,
        )
        .unwrap_or_else(|| text(StatusCode::NOT_FOUND, "not found\n")),
    }
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
    let mut params = WsParams::default();
    let mut token = None;
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match &*k {
            "room" => params.room = Some(v.into_owned()),
            "token" => token = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(room) = &params.room
        && !valid_room_id(room)
    {
        return text(
            StatusCode::BAD_REQUEST,
            "room ids are 1-32 characters of A-Z a-z 0-9 _ -\n",
        );
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
                return text(StatusCode::UNAUTHORIZED, format!("{e}\n"));
            }
        }
    }
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
