//! A tokio WebSocket client for tickwire servers.
//!
//! [`Client::connect`] does the HTTP upgrade (fastwebsockets over hyper) and starts one
//! background task that owns the socket: it answers WebSocket pings, decodes server
//! messages and writes what the caller queues. The caller talks to it through channels, so
//! [`Client::recv`] is cancel-safe and can sit in a `select!` next to a send timer.
//!
//! Bots, integration tests and native clients (the Bevy client) use it; the game logic on top
//! (replica, prediction) is in `tickwire-shared`.
#![warn(missing_docs)]

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError};
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use std::future::Future;
use std::time::Duration;
use tickwire_shared::{ClientMsg, CodecError, ServerMsg, decode_server, encode_client};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not `ws://host:port/path`.
    #[error("bad url {0:?}: expected ws://host:port/path")]
    BadUrl(String),
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Tcp {
        /// host:port.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The WebSocket handshake failed (for example the server answered 503).
    #[error("websocket handshake failed: {0}")]
    Handshake(#[from] WebSocketError),
    /// No answer in time.
    #[error("connect timed out")]
    Timeout,
}

/// Something that came from the server.
#[derive(Debug)]
pub enum Incoming {
    /// A decoded message and the size of its frame payload.
    Msg(ServerMsg, usize),
    /// A binary frame that did not decode.
    Undecodable(CodecError, usize),
    /// The connection ended. `code` is the server's close code, or `None` when the socket
    /// ended without a close frame.
    Closed {
        /// Close code.
        code: Option<u16>,
        /// Close reason.
        reason: String,
    },
}

/// A frame to send, for tests that need to break the protocol on purpose.
#[derive(Debug, Clone)]
pub struct RawFrame {
    /// Opcode.
    pub opcode: OpCode,
    /// FIN bit.
    pub fin: bool,
    /// Payload.
    pub payload: Vec<u8>,
}

enum Out {
    Frame(RawFrame),
    Close(u16, String),
}

/// A connected client.
pub struct Client {
    out: mpsc::Sender<Out>,
    incoming: mpsc::Receiver<Incoming>,
    closed: Option<(Option<u16>, String)>,
}

struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::spawn(fut);
    }
}

/// Splits `ws://host:port/path?query` into (`host:port`, `/path?query`).
pub fn parse_ws_url(url: &str) -> Result<(String, String), ConnectError> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| ConnectError::BadUrl(url.into()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || !authority.contains(':') {
        return Err(ConnectError::BadUrl(url.into()));
    }
    Ok((authority.to_string(), path.to_string()))
}

impl Client {
    /// Connects to `ws://host:port/path` within `limit`.
    pub async fn connect(url: &str, limit: Duration) -> Result<Client, ConnectError> {
        tokio::time::timeout(limit, Self::connect_inner(url))
            .await
            .map_err(|_| ConnectError::Timeout)?
    }

    async fn connect_inner(url: &str) -> Result<Client, ConnectError> {
        let (authority, path) = parse_ws_url(url)?;
        let stream = TcpStream::connect(&authority)
            .await
            .map_err(|source| ConnectError::Tcp {
                addr: authority.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let req = Request::builder()
            .method("GET")
            .uri(path)
            .header(HOST, &authority)
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "upgrade")
            .header(SEC_WEBSOCKET_KEY, fastwebsockets::handshake::generate_key())
            .header(SEC_WEBSOCKET_VERSION, "13")
            .body(Empty::<Bytes>::new())
            .map_err(|_| ConnectError::BadUrl(url.into()))?;
        let (ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, req, stream).await?;
        let (out_tx, out_rx) = mpsc::channel(64);
        let (in_tx, in_rx) = mpsc::channel(256);
        tokio::spawn(drive(ws, out_rx, in_tx));
        Ok(Client {
            out: out_tx,
            incoming: in_rx,
            closed: None,
        })
    }

    /// Queues a message. Fails only when the connection is gone.
    pub async fn send(&self, msg: &ClientMsg) -> Result<(), Closed> {
        self.send_raw(RawFrame {
            opcode: OpCode::Binary,
            fin: true,
            payload: encode_client(msg),
        })
        .await
    }

    /// Queues a raw frame (for protocol tests).
    pub async fn send_raw(&self, frame: RawFrame) -> Result<(), Closed> {
        self.out.send(Out::Frame(frame)).await.map_err(|_| Closed)
    }

    /// Sends a close frame; the connection ends when the server answers.
    pub async fn close(&self, code: u16, reason: &str) {
        let _ = self.out.send(Out::Close(code, reason.into())).await;
    }

    /// The next thing from the server; after `Closed` it keeps returning `Closed`.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Incoming {
        if let Some((code, reason)) = &self.closed {
            return Incoming::Closed {
                code: *code,
                reason: reason.clone(),
            };
        }
        let item = self.incoming.recv().await.unwrap_or(Incoming::Closed {
            code: None,
            reason: String::new(),
        });
        if let Incoming::Closed { code, reason } = &item {
            self.closed = Some((*code, reason.clone()));
        }
        item
    }

    /// Like [`Client::recv`] but gives up after `limit` (returns `None`).
    pub async fn recv_timeout(&mut self, limit: Duration) -> Option<Incoming> {
        tokio::time::timeout(limit, self.recv()).await.ok()
    }

    /// Waits for the close, skipping messages, up to `limit`; returns (code, reason).
    pub async fn wait_closed(&mut self, limit: Duration) -> Option<(Option<u16>, String)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.recv()).await.ok()? {
                Incoming::Closed { code, reason } => return Some((code, reason)),
                _ => continue,
            }
        }
    }
}

/// The connection is gone.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("connection closed")]
pub struct Closed;

type Ws = fastwebsockets::WebSocket<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

async fn drive(ws: Ws, mut out: mpsc::Receiver<Out>, incoming: mpsc::Sender<Incoming>) {
    let (mut rd, mut wr) = ws.split(tokio::io::split);
    rd.set_auto_close(false);
    rd.set_auto_pong(false);
    let (pong_tx, mut pong_rx) = mpsc::channel::<Vec<u8>>(4);
    let reader = async move {
        let mut none = |_: Frame<'_>| std::future::ready(Ok::<(), std::convert::Infallible>(()));
        loop {
            let frame = match rd.read_frame(&mut none).await {
                Ok(f) => f,
                Err(_) => {
                    let _ = incoming
                        .send(Incoming::Closed {
                            code: None,
                            reason: String::new(),
                        })
                        .await;
                    return;
                }
            };
            match frame.opcode {
                OpCode::Binary => {
                    let len = frame.payload.len();
                    let item = match decode_server(&frame.payload) {
                        Ok(m) => Incoming::Msg(m, len),
                        Err(e) => Incoming::Undecodable(e, len),
                    };
                    if incoming.send(item).await.is_err() {
                        return;
                    }
                }
                OpCode::Ping => {
                    let _ = pong_tx.send(frame.payload.to_vec()).await;
                }
                OpCode::Close => {
                    let p = &frame.payload;
                    let code = (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
                    let reason = if p.len() > 2 {
                        String::from_utf8_lossy(&p[2..]).into_owned()
                    } else {
                        String::new()
                    };
                    let _ = incoming.send(Incoming::Closed { code, reason }).await;
                    return;
                }
                _ => {}
            }
        }
    };
    let writer = async move {
        loop {
            let res = tokio::select! {
                p = pong_rx.recv() => match p {
                    Some(p) => wr.write_frame(Frame::pong(Payload::Owned(p))).await,
                    None => return,
                },
                o = out.recv() => match o {
                    Some(Out::Frame(f)) => wr.write_frame(Frame::new(f.fin, f.opcode, None, Payload::Owned(f.payload))).await,
                    Some(Out::Close(code, reason)) => {
                        let _ = wr.write_frame(Frame::close(code, reason.as_bytes())).await;
                        return;
                    }
                    None => {
                        let _ = wr.write_frame(Frame::close(1000, b"")).await;
                        return;
                    }
                },
            };
            if res.is_err() {
                return;
            }
        }
    };
    // The reader ends on the server's close or EOF; the writer on ours or on drop.
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            parse_ws_url("ws://127.0.0.1:7000/ws").unwrap(),
            ("127.0.0.1:7000".into(), "/ws".into())
        );
        assert_eq!(parse_ws_url("ws://h:1").unwrap().1, "/");
        assert!(parse_ws_url("http://h:1/ws").is_err());
        assert!(parse_ws_url("ws://host/ws").is_err());
    }
}
