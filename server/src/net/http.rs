//! HTTP routing: `/ws` (WebSocket upgrade), `/healthz`, `/metrics`; everything else 404.

use super::AppState;
use super::conn;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tracing::debug;

type Body = Full<Bytes>;

/// Serves one TCP connection with hyper until it ends or the server shuts down. With
/// `admitted == false` (connection limit reached) every request gets 503.
pub(super) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<AppState>,
    admitted: bool,
) {
    let st = state.clone();
    let service = service_fn(move |req| {
        let st = st.clone();
        async move { Ok::<_, Infallible>(route(req, peer, st, admitted)) }
    });
    let conn = http1::Builder::new()
        .header_read_timeout(state.config.hello_timeout)
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

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("static response parts are valid")
}

fn route(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
    admitted: bool,
) -> Response<Body> {
    if !admitted {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "server is at its connection limit\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/metrics" => Response::builder()
            .header(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .header(CACHE_CONTROL, "no-store")
            .body(Full::new(Bytes::from(state.metrics.render())))
            .expect("static response parts are valid"),
        "/ws" => {
            if !fastwebsockets::upgrade::is_upgrade_request(&req) {
                return text(
                    StatusCode::UPGRADE_REQUIRED,
                    "this endpoint speaks WebSocket\n",
                );
            }
            if state.shutdown.is_cancelled() {
                return text(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down\n");
            }
            match fastwebsockets::upgrade::upgrade(&mut req) {
                Ok((response, upgrade)) => {
                    let st = state.clone();
                    state.tracker.spawn(conn::run(upgrade, peer, st));
                    let (parts, _) = response.into_parts();
                    Response::from_parts(parts, Full::new(Bytes::new()))
                }
                Err(e) => {
                    debug!(%peer, error = %e, "bad upgrade request");
                    text(StatusCode::BAD_REQUEST, "bad WebSocket upgrade request\n")
                }
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}
