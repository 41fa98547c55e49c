//! A tokio WebSocket client for tickwire servers.
//!
//! [`Client::connect`] does the HTTP upgrade (fastwebsockets over hyper) and starts one
//! background task that owns the socket: it answers WebSocket pings, hands over server
//! frames and writes what the caller queues. The caller talks to it through channels, so
//! [`Client::recv_frame`] is cancel-safe and can sit in a `select!` next to a send timer.
//!
//! Bots, integration tests and native clients (the Bevy client) use it; the game logic on top
//! (replica, netcode) is in `tickwire-shared`. [`Client`] carries frames; [`GameClient`] speaks
//! the protocol for any game: it decodes with the game's schema and keeps the replica.
#![warn(missing_docs)]

pub mod game;
pub mod matchmaking;
pub mod redirect;
pub mod webtransport;
pub use game::{GameClient, GameEvent, JoinError, Joined, join_raw};
pub use matchmaking::{MatchError, MatchTicket, quick_match};

use bytes::Bytes;
/// WebSocket opcodes, for building a [`RawFrame`].
pub use fastwebsockets::OpCode;
use fastwebsockets::{Frame, Payload, WebSocketError};
use http_body_util::Empty;
use hyper::Request;
use hyper::header::{CONNECTION, HOST, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE};
use rustls_pki_types::ServerName;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
/// The close-code table and retry policy, re-exported: [`CloseCode`] for each code the server
/// sends, [`retry_policy`] for what to do after [`Received::Closed`].
pub use tickwire_shared::close::{CloseCode, Retry, retry_policy};
/// The merge of a session's two connections ([`Client::attach_mirror`]).
pub use tickwire_shared::sync::mirror::Merge;
use tickwire_shared::sync::mirror::{self, Stream};
use tickwire_shared::sync::{ClientMsg, Hello, PROTOCOL_VERSION, encode_client};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
/// TLS settings of a `wss://` connection ([`Client::connect_with`]).
pub use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::RootCertStore;

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is not `ws://host:port/path`.
    #[error("bad url {0:?}: expected ws:// or wss://host:port/path")]
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
    /// The WebTransport session could not be set up.
    #[error("webtransport: {0}")]
    WebTransport(String),
    /// A mirror was asked of a connection that is not a WebSocket (datagrams do not stall).
    #[error("mirrored streams are for WebSocket connections")]
    NotWebSocket,
    /// A mirror was asked of a session whose messages are not numbered: it did not connect
    /// with `?mirror=1`, has no `Welcome` yet, or its server knows no mirrors.
    #[error(
        "the session's messages are not numbered: connect with ?mirror=1 to a server that offers mirrors"
    )]
    NotNumbered,
}

/// The transport a [`Client`] runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A WebSocket over TCP (or TLS): every message in order.
    WebSocket,
    /// A WebTransport session over QUIC: snapshots and inputs as datagrams.
    WebTransport,
}

impl Transport {
    /// `websocket` or `webtransport`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::WebTransport => "webtransport",
        }
    }
}

/// A server frame as it came (for clients that decode themselves, such as [`GameClient`]).
#[derive(Debug)]
pub enum Received {
    /// A binary message's payload.
    Binary(Vec<u8>),
    /// The connection ended. `code` is the server's close code, or `None` when the socket
    /// ended without a close frame.
    Closed {
        /// Close code.
        code: Option<u16>,
        /// Close reason.
        reason: String,
    },
}

impl Received {
    /// For [`Received::Closed`], whether reconnecting can help ([`retry_policy`] of its code:
    /// no close frame is network loss, unknown codes are retried slowly); `None` for a frame.
    pub fn retry(&self) -> Option<Retry> {
        match self {
            Received::Closed { code, .. } => Some(retry_policy(*code)),
            Received::Binary(_) => None,
        }
    }
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
    /// WebTransport only: an unreliable datagram.
    Datagram(Vec<u8>),
    Close(u16, String),
}

/// A connected client.
pub struct Client {
    task: tokio::task::JoinHandle<()>,
    out: mpsc::Sender<Out>,
    incoming: mpsc::Receiver<Received>,
    closed: Option<(Option<u16>, String)>,
    /// How it was connected, so a redirect reaches the next node the same way.
    how: How,
    transport: Transport,
    /// The session's mirror connections ([`Client::attach_mirror`]).
    mirrors: Vec<MirrorConn>,
    /// What every mirror brings, tagged with its number.
    mirror_in: (mpsc::Sender<Tagged>, mpsc::Receiver<Tagged>),
    /// Puts the numbered messages of every connection back into one stream.
    merge: Merge,
    /// How the last mirror to end ended.
    mirror_closed: Option<(Option<u16>, String)>,
    next_mirror: u64,
}

/// What a mirror brought, with the mirror's number.
type Tagged = (u64, Received);

/// Another WebSocket of the session that receives a copy of its numbered messages.
struct MirrorConn {
    number: u64,
    task: tokio::task::JoinHandle<()>,
    forward: tokio::task::JoinHandle<()>,
    /// Kept so that its writer lives (dropping it closes the mirror with 1000).
    _out: mpsc::Sender<Out>,
}

impl MirrorConn {
    fn abort(&self) {
        self.task.abort();
        self.forward.abort();
    }
}

/// What a client's mirrors have done ([`Client::mirror_stats`]).
#[derive(Debug, Clone, Default)]
pub struct MirrorStats {
    /// Mirrors attached now.
    pub attached: usize,
    /// Messages taken from a mirror because the main connection was behind.
    pub from_mirror: u64,
    /// Copies dropped because another connection brought them first.
    pub duplicates: u64,
    /// How the last mirror to end ended (close code, reason), if one did.
    pub closed: Option<(Option<u16>, String)>,
}

/// The URL a client connected to, its TLS settings and local address.
#[derive(Clone)]
struct How {
    url: String,
    tls: Option<Arc<ClientConfig>>,
    local: Option<std::net::IpAddr>,
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

/// A parsed `ws://` or `wss://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// Whether the scheme is `wss`.
    pub tls: bool,
    /// `host:port`.
    pub authority: String,
    /// `/path?query`.
    pub path: String,
}

impl WsUrl {
    /// The host part (the TLS server name).
    pub fn host(&self) -> &str {
        let a = &self.authority;
        if let Some(rest) = a.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h)
    }
}

/// Parses `ws://host:port/path?query` or `wss://…`.
pub fn parse_url(url: &str) -> Result<WsUrl, ConnectError> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("wss://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("ws://") {
        (false, r)
    } else {
        return Err(ConnectError::BadUrl(url.into()));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || !authority.contains(':') {
        return Err(ConnectError::BadUrl(url.into()));
    }
    Ok(WsUrl {
        tls,
        authority: authority.to_string(),
        path: path.to_string(),
    })
}

/// Splits `ws://host:port/path?query` into (`host:port`, `/path?query`).
pub fn parse_ws_url(url: &str) -> Result<(String, String), ConnectError> {
    match parse_url(url)? {
        WsUrl {
            tls: false,
            authority,
            path,
        } => Ok((authority, path)),
        _ => Err(ConnectError::BadUrl(url.into())),
    }
}

/// TLS settings trusting the public web roots.
pub fn default_tls_config() -> Arc<ClientConfig> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Arc::new(tls_config_with_roots(roots))
}

/// TLS settings trusting the certificates of a PEM file (a private CA, or a server's
/// self-signed CA), for `wss://` servers the public roots do not vouch for.
pub fn tls_config_from_pem(path: &std::path::Path) -> Result<Arc<ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(Arc::new(tls_config_with_roots(roots)))
}

/// TLS settings trusting the given roots (ring provider, HTTP/1.1 ALPN).
pub fn tls_config_with_roots(roots: RootCertStore) -> ClientConfig {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut c = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    c
}

impl Client {
    /// Connects to `ws://host:port/path` (or `wss://`, trusting the public web roots)
    /// within `limit`.
    pub async fn connect(url: &str, limit: Duration) -> Result<Client, ConnectError> {
        Self::connect_with(url, limit, None).await
    }

    /// Connects with a given TLS configuration for `wss://` (e.g. a private CA in tests).
    pub async fn connect_with(
        url: &str,
        limit: Duration,
        tls: Option<Arc<ClientConfig>>,
    ) -> Result<Client, ConnectError> {
        Self::connect_from_with(url, None, limit, tls).await
    }

    /// The URL this client connected to.
    pub fn url(&self) -> &str {
        &self.how.url
    }

    /// Connects to `url` the way this client was connected (its TLS settings and local
    /// address), within `limit`: where a redirect sends it.
    pub async fn connect_like(&self, url: &str, limit: Duration) -> Result<Client, ConnectError> {
        if self.transport == Transport::WebTransport {
            return Self::connect_auto(url, limit).await;
        }
        let how = self.how.clone();
        Self::connect_from_with(url, how.local, limit, how.tls).await
    }

    /// Connects from a given local address (e.g. `127.0.0.2`, for a test that needs clients
    /// the server sees as different addresses; Linux routes all of 127/8 over loopback).
    pub async fn connect_from(
        url: &str,
        local: std::net::IpAddr,
        limit: Duration,
    ) -> Result<Client, ConnectError> {
        Self::connect_from_with(url, Some(local), limit, None).await
    }

    /// Connects from `local` (when given) with `tls` for `wss://` (when given; else the public
    /// roots), within `limit`.
    pub async fn connect_from_with(
        url: &str,
        local: Option<std::net::IpAddr>,
        limit: Duration,
        tls: Option<Arc<ClientConfig>>,
    ) -> Result<Client, ConnectError> {
        tokio::time::timeout(limit, Self::connect_inner(url, tls, local))
            .await
            .map_err(|_| ConnectError::Timeout)?
    }

    async fn connect_inner(
        url: &str,
        tls: Option<Arc<ClientConfig>>,
        local: Option<std::net::IpAddr>,
    ) -> Result<Client, ConnectError> {
        let parsed = parse_url(url)?;
        let authority = parsed.authority.clone();
        let tcp = |source| ConnectError::Tcp {
            addr: authority.clone(),
            source,
        };
        let stream = match local {
            None => TcpStream::connect(&authority).await.map_err(tcp)?,
            Some(ip) => {
                let remote = tokio::net::lookup_host(&authority)
                    .await
                    .map_err(tcp)?
                    .find(|a| a.is_ipv4() == ip.is_ipv4())
                    .ok_or_else(|| {
                        tcp(std::io::Error::new(
                            std::io::ErrorKind::AddrNotAvailable,
                            "no address of the local address's family",
                        ))
                    })?;
                let socket = if ip.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()
                } else {
                    tokio::net::TcpSocket::new_v6()
                }
                .map_err(tcp)?;
                socket.bind(std::net::SocketAddr::new(ip, 0)).map_err(tcp)?;
                socket.connect(remote).await.map_err(tcp)?
            }
        };
        let _ = stream.set_nodelay(true);
        let how = How {
            url: url.to_string(),
            tls: tls.clone(),
            local,
        };
        if !parsed.tls {
            return Self::handshake(how, &parsed, stream).await;
        }
        let name = ServerName::try_from(parsed.host().to_string())
            .map_err(|_| ConnectError::BadUrl(url.into()))?;
        let stream = TlsConnector::from(tls.unwrap_or_else(default_tls_config))
            .connect(name, stream)
            .await
            .map_err(|source| ConnectError::Tcp {
                addr: authority.clone(),
                source,
            })?;
        Self::handshake(how, &parsed, stream).await
    }

    async fn handshake<S>(how: How, parsed: &WsUrl, stream: S) -> Result<Client, ConnectError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        let (authority, path) = (&parsed.authority, &parsed.path);
        let req = Request::builder()
            .method("GET")
            .uri(path)
            .header(HOST, authority.as_str())
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "upgrade")
            .header(SEC_WEBSOCKET_KEY, fastwebsockets::handshake::generate_key())
            .header(SEC_WEBSOCKET_VERSION, "13")
            .body(Empty::<Bytes>::new())
            .map_err(|_| ConnectError::BadUrl(how.url.clone()))?;
        let (ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, req, stream).await?;
        let (out_tx, out_rx) = mpsc::channel(64);
        let (in_tx, in_rx) = mpsc::channel(256);
        let task = tokio::spawn(drive(ws, out_rx, in_tx));
        Ok(Client {
            task,
            out: out_tx,
            incoming: in_rx,
            closed: None,
            how,
            transport: Transport::WebSocket,
            mirrors: Vec::new(),
            mirror_in: mpsc::channel(256),
            merge: Merge::new(),
            mirror_closed: None,
            next_mirror: 0,
        })
    }

    /// Opens another WebSocket to this session's node (`?mirror=attach`,
    /// [`redirect::mirror_url`]) that receives a copy of every numbered message, so that a
    /// stall of one TCP connection does not stall the game while another brings the messages
    /// ([`tickwire_shared::sync::mirror`]). The session must have connected with `?mirror=1`;
    /// `resume_token` is its `Welcome`'s. Returns once the mirror's `Hello` is sent: a refusal
    /// comes as its close ([`Client::mirror_stats`]), and the session goes on without it.
    /// Call it again for more mirrors (the server keeps up to its `--max-mirrors`, replacing
    /// the oldest past that).
    pub async fn attach_mirror(
        &mut self,
        resume_token: &str,
        limit: Duration,
    ) -> Result<(), ConnectError> {
        if self.transport != Transport::WebSocket {
            return Err(ConnectError::NotWebSocket);
        }
        // A server that does not number the session's messages knows no mirrors: it would
        // take the mirror's Hello for a resume and close this connection with 4006.
        if self.merge.next().is_none() {
            return Err(ConnectError::NotNumbered);
        }
        let url = redirect::mirror_url(&self.how.url);
        let c = Self::connect_from_with(&url, self.how.local, limit, self.how.tls.clone()).await?;
        let mut hello = Vec::new();
        encode_client(
            &ClientMsg::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: String::new(),
                auth_token: None,
                resume_token: Some(resume_token.to_string()),
            }),
            &tickwire_shared::schema::Schema::new(""),
            &mut hello,
        );
        c.send_bytes(hello)
            .await
            .map_err(|_| ConnectError::Handshake(WebSocketError::ConnectionClosed))?;
        let Client {
            task,
            out,
            mut incoming,
            ..
        } = c;
        let number = self.next_mirror;
        self.next_mirror += 1;
        let to = self.mirror_in.0.clone();
        let forward = tokio::spawn(async move {
            loop {
                let item = incoming.recv().await.unwrap_or(Received::Closed {
                    code: None,
                    reason: String::new(),
                });
                let end = matches!(item, Received::Closed { .. });
                if to.send((number, item)).await.is_err() || end {
                    return;
                }
            }
        });
        self.mirrors.push(MirrorConn {
            number,
            task,
            forward,
            _out: out,
        });
        Ok(())
    }

    /// What the mirrors have done so far.
    pub fn mirror_stats(&self) -> MirrorStats {
        MirrorStats {
            attached: self.mirrors.len(),
            from_mirror: self.merge.from_mirror,
            duplicates: self.merge.duplicates,
            closed: self.mirror_closed.clone(),
        }
    }

    /// The transport this client runs over.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Queues a datagram (WebTransport; over a WebSocket it goes as a binary frame, reliably).
    /// Fails only when the connection is gone.
    pub async fn send_datagram(&self, payload: Vec<u8>) -> Result<(), Closed> {
        let out = match self.transport {
            Transport::WebTransport => Out::Datagram(payload),
            Transport::WebSocket => Out::Frame(RawFrame {
                opcode: OpCode::Binary,
                fin: true,
                payload,
            }),
        };
        self.out.send(out).await.map_err(|_| Closed)
    }

    /// Queues an encoded message as one binary frame. Fails only when the connection is gone.
    pub async fn send_bytes(&self, payload: Vec<u8>) -> Result<(), Closed> {
        self.send_raw(RawFrame {
            opcode: OpCode::Binary,
            fin: true,
            payload,
        })
        .await
    }

    /// Queues a raw frame (for protocol tests).
    pub async fn send_raw(&self, frame: RawFrame) -> Result<(), Closed> {
        self.out.send(Out::Frame(frame)).await.map_err(|_| Closed)
    }

    /// Drops the connection without a close frame, as a network failure would.
    pub fn abort(self) {
        self.task.abort();
        for m in &self.mirrors {
            m.abort();
        }
    }

    /// Sends a close frame; the connection ends when the server answers. (A client closes
    /// with [`CloseCode::Normal`]: the server then removes the player at once.)
    pub async fn close(&self, code: CloseCode, reason: &str) {
        let _ = self.out.send(Out::Close(code.code(), reason.into())).await;
    }

    /// The next server frame as it came (a numbered message unwrapped, and taken once from
    /// whichever of the session's connections brought it first); after `Closed` it keeps
    /// returning `Closed`. Cancel-safe.
    pub async fn recv_frame(&mut self) -> Received {
        loop {
            if let Some((code, reason)) = &self.closed {
                return Received::Closed {
                    code: *code,
                    reason: reason.clone(),
                };
            }
            let (item, stream) = if self.mirrors.is_empty() {
                (self.incoming.recv().await, Stream::Main)
            } else {
                tokio::select! {
                    i = self.incoming.recv() => (i, Stream::Main),
                    Some((number, i)) = self.mirror_in.1.recv() => {
                        match i {
                            Received::Binary(b) => (Some(Received::Binary(b)), Stream::Mirror),
                            // A mirror ended: the session goes on over the others.
                            Received::Closed { code, reason } => {
                                if let Some(k) = self.mirrors.iter().position(|m| m.number == number) {
                                    self.mirrors.remove(k).abort();
                                    self.mirror_closed = Some((code, reason));
                                }
                                continue;
                            }
                        }
                    }
                }
            };
            match (stream, item) {
                (Stream::Mirror, Some(Received::Binary(b))) => {
                    if let Ok(Some((seq, msg))) = mirror::unwrap(&b)
                        && self.merge.take(Stream::Mirror, seq)
                    {
                        return Received::Binary(msg.to_vec());
                    }
                }
                (Stream::Mirror, _) => {}
                (Stream::Main, Some(Received::Binary(b))) => match mirror::unwrap(&b) {
                    Ok(Some((seq, msg))) => {
                        if self.merge.take(Stream::Main, seq) {
                            return Received::Binary(msg.to_vec());
                        }
                    }
                    // Unnumbered (or malformed: the decoder will say so).
                    _ => return Received::Binary(b),
                },
                (Stream::Main, end) => {
                    let (code, reason) = match end {
                        Some(Received::Closed { code, reason }) => (code, reason),
                        _ => (None, String::new()),
                    };
                    self.closed = Some((code, reason.clone()));
                    for m in self.mirrors.drain(..) {
                        m.abort();
                    }
                    return Received::Closed { code, reason };
                }
            }
        }
    }

    /// Like [`Client::recv_frame`] but gives up after `limit` (returns `None`).
    pub async fn recv_timeout(&mut self, limit: Duration) -> Option<Received> {
        tokio::time::timeout(limit, self.recv_frame()).await.ok()
    }

    /// Waits for the close, skipping messages, up to `limit`; returns (code, reason).
    pub async fn wait_closed(&mut self, limit: Duration) -> Option<(Option<u16>, String)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.recv_frame())
                .await
                .ok()?
            {
                Received::Closed { code, reason } => return Some((code, reason)),
                Received::Binary(_) => continue,
            }
        }
    }
}

/// The connection is gone.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("connection closed")]
pub struct Closed;

type Ws = fastwebsockets::WebSocket<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

async fn drive(ws: Ws, mut out: mpsc::Receiver<Out>, incoming: mpsc::Sender<Received>) {
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
                        .send(Received::Closed {
                            code: None,
                            reason: String::new(),
                        })
                        .await;
                    return;
                }
            };
            match frame.opcode {
                OpCode::Binary => {
                    let item = Received::Binary(frame.payload.to_vec());
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
                    let _ = incoming.send(Received::Closed { code, reason }).await;
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
                    Some(Out::Datagram(d)) => wr.write_frame(Frame::binary(Payload::Owned(d))).await,
                    Some(Out::Close(code, reason)) => {
                        let _ = wr.write_frame(Frame::close(code, reason.as_bytes())).await;
                        return;
                    }
                    None => {
                        let _ = wr.write_frame(Frame::close(CloseCode::Normal.code(), b"")).await;
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
        let u = parse_url("wss://example.com:443/ws?room=a").unwrap();
        assert!(u.tls);
        assert_eq!(u.host(), "example.com");
        assert_eq!(u.path, "/ws?room=a");
        assert_eq!(parse_url("ws://[::1]:7000/ws").unwrap().host(), "::1");
    }

    #[test]
    fn closes_carry_the_shared_retry_policy() {
        let closed = |code| Received::Closed {
            code,
            reason: String::new(),
        };
        assert_eq!(closed(Some(4006)).retry(), Some(Retry::Never));
        assert_eq!(closed(Some(4003)).retry(), Some(Retry::Later));
        assert_eq!(closed(Some(1001)).retry(), Some(Retry::Reconnect));
        assert_eq!(closed(None).retry(), Some(Retry::Reconnect));
        assert_eq!(Received::Binary(vec![0xff]).retry(), None);
    }
}
