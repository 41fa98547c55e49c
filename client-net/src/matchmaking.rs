//! Matchmaking over HTTP (docs/SCALING.md): `POST /match` (optionally `?game=NAME`) on any node
//! answers with a ticket, the node and room where a seat is held for a while, and the seat's
//! token; the client then connects to `url?room=ROOM&seat=SEAT` ([`MatchTicket::ws_url`],
//! [`crate::GameClient::join_ticket`]). Plain `http://` and `https://` (with the public web
//! roots, or given TLS settings), HTTP/1.1 with hyper's client.

use crate::redirect::{encode_component, with_room_seat};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::{CONTENT_LENGTH, HOST};
use rustls_pki_types::ServerName;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;

/// A held seat, as `POST /match` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MatchTicket {
    /// The node's WebSocket URL (`ws://host:port/ws`, no query).
    pub url: String,
    /// The room the seat is in.
    pub room: String,
    /// The seat token (`?seat=`).
    pub seat: String,
    /// The node's id.
    pub node: String,
    /// How long the seat is held, ms.
    pub expires_in_ms: u64,
}

impl MatchTicket {
    /// Where to connect: the node's URL with `?room=ROOM&seat=SEAT`.
    pub fn ws_url(&self) -> String {
        with_room_seat(&self.url, "", &self.room, &self.seat)
    }
}

/// Why no ticket came.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// The URL is not `http://host:port/path` or `https://…`.
    #[error("bad match url {0:?}: expected http://host:port/path or https://…")]
    BadUrl(String),
    /// TCP connect or TLS failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("match request failed: {0}")]
    Http(#[from] hyper::Error),
    /// The node refused (4xx/5xx), with the sentence of its `{"error": …}` body.
    #[error("matchmaking refused ({status}): {error}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The node's reason (or the body as it came, when it is not the JSON expected).
        error: String,
    },
    /// A 200 whose body is not a ticket.
    #[error("not a match ticket: {0}")]
    BadTicket(String),
    /// No answer in time.
    #[error("match request timed out")]
    Timeout,
}

/// `POST match_url` (e.g. `http://127.0.0.1:7000/match`), with `?game=NAME` when `game` is
/// given, within `limit`: a ticket for a held seat.
pub async fn quick_match(
    match_url: &str,
    game: Option<&str>,
    limit: Duration,
) -> Result<MatchTicket, MatchError> {
    quick_match_with(match_url, game, limit, None).await
}

/// [`quick_match`] with given TLS settings for `https://` (a private CA in tests).
pub async fn quick_match_with(
    match_url: &str,
    game: Option<&str>,
    limit: Duration,
    tls: Option<Arc<ClientConfig>>,
) -> Result<MatchTicket, MatchError> {
    tokio::time::timeout(limit, post_match(match_url, game, tls))
        .await
        .map_err(|_| MatchError::Timeout)?
}

async fn post_match(
    match_url: &str,
    game: Option<&str>,
    tls: Option<Arc<ClientConfig>>,
) -> Result<MatchTicket, MatchError> {
    let bad = || MatchError::BadUrl(match_url.into());
    let (secure, rest) = if let Some(r) = match_url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = match_url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(bad());
    }
    let addr = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_string()
    } else {
        format!("{authority}:{}", if secure { 443 } else { 80 })
    };
    let mut path = path.to_string();
    if let Some(g) = game {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str("game=");
        path.push_str(&encode_component(g));
    }
    let connect = |source| MatchError::Connect {
        addr: addr.clone(),
        source,
    };
    let tcp = TcpStream::connect(&addr).await.map_err(connect)?;
    let _ = tcp.set_nodelay(true);
    let req = Request::builder()
        .method("POST")
        .uri(&path)
        .header(HOST, authority)
        .header(CONTENT_LENGTH, "0")
        .body(Empty::<Bytes>::new())
        .map_err(|_| bad())?;
    if !secure {
        return exchange(tcp, req).await;
    }
    let host = authority
        .strip_prefix('[')
        .and_then(|a| a.split(']').next())
        .unwrap_or_else(|| authority.rsplit_once(':').map_or(authority, |(h, _)| h));
    let name = ServerName::try_from(host.to_string()).map_err(|_| bad())?;
    let stream = TlsConnector::from(tls.unwrap_or_else(crate::default_tls_config))
        .connect(name, tcp)
        .await
        .map_err(connect)?;
    exchange(stream, req).await
}

async fn exchange<S>(stream: S, req: Request<Empty<Bytes>>) -> Result<MatchTicket, MatchError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let res = sender.send_request(req).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    conn.abort();
    let text = String::from_utf8_lossy(&body);
    if status != 200 {
        #[derive(Deserialize)]
        struct Failure {
            error: String,
        }
        let error = serde_json::from_slice::<Failure>(&body)
            .map(|f| f.error)
            .unwrap_or_else(|_| text.trim().to_string());
        return Err(MatchError::Refused { status, error });
    }
    serde_json::from_slice(&body).map_err(|e| MatchError::BadTicket(format!("{e}: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_names_its_room_and_seat() {
        let t: MatchTicket = serde_json::from_str(
            r#"{"url":"ws://10.0.0.2:7000/ws","room":"r-3","seat":"abc","node":"b","expires_in_ms":5000}"#,
        )
        .unwrap();
        assert_eq!(t.ws_url(), "ws://10.0.0.2:7000/ws?room=r-3&seat=abc");
        assert_eq!(t.expires_in_ms, 5000);
    }
}
