//! WebTransport beside the WebSocket (`--webtransport`): HTTP/3 over QUIC on UDP, on the same
//! port number as the HTTP listener, through `wtransport` (quinn and rustls underneath).
//!
//! A session is one player's connection, as a WebSocket is: the same query parameters, the same
//! `Hello`, rooms, resume, limits and close codes. What differs is the framing (see
//! `tickwire_shared::sync::acked`): the client opens one bidirectional stream that carries
//! every message that must arrive, in frames, and a close frame with the code and reason; the
//! room sends this client's snapshots as messages 5 against the tick it acknowledged last,
//! which go out as unreliable datagrams (or on the stream when larger than a datagram), and
//! its events apart as messages 6 on the stream. Inputs, pings and acknowledgements come in
//! datagrams.
//!
//! Reader and writer are two futures joined, as for a WebSocket, sharing the connection's
//! [`Reader`] (handshake, join, routing, rate limit) and its ends ([`Ends`]).

use super::AppState;
use super::chan as mpsc;
use super::conn::{
    CLOSE_GRACE, Counted, End, Ends, MirrorParam, ReadError, Reader, Wired, WsParams, close_err,
    wire,
};
use crate::config::Config;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tickwire_shared::close::{CloseCode, CloseReason};
use tickwire_shared::sync::acked::{Frame, FrameReader, write_frame};
use tokio::time::{timeout, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, debug_span, warn};
use wtransport::endpoint::IncomingSession;
use wtransport::endpoint::endpoint_side::Server as Side;
use wtransport::{Connection, Endpoint, Identity, RecvStream, SendStream, ServerConfig, VarInt};

/// What `GET /webtransport` tells a client.
#[derive(Debug)]
pub(crate) struct Info {
    /// The UDP port (the HTTP listener's).
    pub port: u16,
    /// SHA-256 of each certificate the server may present, hex, for
    /// `serverCertificateHashes`; empty with a certificate of the server's own.
    hashes: Mutex<Vec<String>>,
}

impl Info {
    /// The JSON answer: `{"port", "path", "cert_hashes"}`.
    pub fn json(&self) -> String {
        let hashes = self
            .hashes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        serde_json::json!({ "port": self.port, "path": "/ws", "cert_hashes": hashes }).to_string()
    }
}

/// A self-signed certificate lives 14 days (the most `serverCertificateHashes` accepts); a
/// new one is made after this long, so none ever expires in service.
const RENEW_SELF_SIGNED: Duration = Duration::from_secs(12 * 24 * 3600);

/// The server's WebTransport side, bound.
pub(crate) struct WebTransport {
    endpoint: Endpoint<Side>,
    info: Arc<Info>,
    self_signed: bool,
    addr: SocketAddr,
}

fn sha256_hex(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn self_signed() -> Result<(Identity, String), String> {
    let id = Identity::self_signed(["localhost", "127.0.0.1", "::1"]).map_err(|e| e.to_string())?;
    let hash = sha256_hex(id.certificate_chain().as_slice()[0].der());
    Ok((id, hash))
}

/// Most a session's datagrams may queue to be sent: quinn drops the oldest beyond it, which
/// for snapshots is right (a newer one supersedes them), and it bounds a slow client's cost.
const DATAGRAM_SEND_BUFFER: usize = 64 * 1024;

/// QUIC's per-connection limits, sized for a game session instead of quinn's bulk-transfer
/// defaults (megabytes of window per connection): the client sends small messages (at most
/// `--max-frame-bytes`) and datagrams; the server's stream carries the Welcome, events and the
/// rare snapshot too large for a datagram.
fn transport_config() -> wtransport::config::QuicTransportConfig {
    use wtransport::quinn::VarInt as QVarInt;
    let mut tc = wtransport::config::QuicTransportConfig::default();
    tc.datagram_send_buffer_size(DATAGRAM_SEND_BUFFER);
    tc.datagram_receive_buffer_size(Some(64 * 1024));
    tc.stream_receive_window(QVarInt::from_u32(64 * 1024));
    tc.receive_window(QVarInt::from_u32(256 * 1024));
    tc.send_window(512 * 1024);
    tc
}

fn server_config(
    addr: SocketAddr,
    identity: Identity,
    config: &Config,
) -> Result<ServerConfig, String> {
    Ok(ServerConfig::builder()
        .with_bind_address(addr)
        .with_custom_transport(identity, transport_config())
        .keep_alive_interval(Some(config.ping_interval))
        .max_idle_timeout(Some(config.idle_timeout))
        .map_err(|e| e.to_string())?
        .build())
}

impl WebTransport {
    /// Binds UDP at `addr` (the HTTP listener's bound address), with the server's own
    /// certificate (`--tls-cert`) or a self-signed one.
    pub async fn bind(config: &Config, addr: SocketAddr) -> Result<WebTransport, String> {
        let (identity, hashes, self_signed) = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                let id = Identity::load_pemfiles(cert, key)
                    .await
                    .map_err(|e| format!("--tls-cert/--tls-key for WebTransport: {e}"))?;
                (id, Vec::new(), false)
            }
            _ => {
                let (id, hash) = self_signed()?;
                (id, vec![hash], true)
            }
        };
        let endpoint = Endpoint::server(server_config(addr, identity, config)?)
            .map_err(|e| format!("cannot listen on udp {addr}: {e}"))?;
        Ok(WebTransport {
            endpoint,
            info: Arc::new(Info {
                port: addr.port(),
                hashes: Mutex::new(hashes),
            }),
            self_signed,
            addr,
        })
    }

    /// What `GET /webtransport` answers.
    pub fn info(&self) -> Arc<Info> {
        self.info.clone()
    }

    /// Accepts sessions until shutdown; renews a self-signed certificate before it expires.
    pub async fn run(self, state: Arc<AppState>) {
        let mut renew = tokio::time::interval_at(
            tokio::time::Instant::now() + RENEW_SELF_SIGNED,
            RENEW_SELF_SIGNED,
        );
        loop {
            let incoming = tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = renew.tick(), if self.self_signed => {
                    self.renew(&state.config);
                    continue;
                }
                i = self.endpoint.accept() => i,
            };
            let peer = incoming.remote_address();
            let Some(admission) = super::admit(&state, peer.ip()) else {
                state.metrics.refused_connections.inc();
                debug!(%peer, "connection limit reached (webtransport)");
                incoming.refuse();
                continue;
            };
            let st = state.clone();
            state.tracker.spawn(async move {
                session(incoming, peer, st).await;
                drop(admission);
            });
        }
        // Sessions still open get their close frames from their writers (shutdown); the
        // endpoint goes when the last one does.
        self.endpoint
            .close(VarInt::from_u32(0), b"server shutting down");
    }

    fn renew(&self, config: &Config) {
        let made = self_signed().and_then(|(id, hash)| {
            let c = server_config(self.addr, id, config)?;
            self.endpoint
                .reload_config(c, false)
                .map_err(|e| e.to_string())?;
            Ok(hash)
        });
        match made {
            Ok(hash) => {
                *self.info.hashes.lock().unwrap_or_else(|e| e.into_inner()) = vec![hash];
                tracing::info!("renewed the WebTransport self-signed certificate");
            }
            Err(e) => warn!(error = %e, "could not renew the WebTransport certificate"),
        }
    }
}

/// One session: its request checked as a WebSocket upgrade is, then played.
async fn session(incoming: IncomingSession, peer: SocketAddr, state: Arc<AppState>) {
    let limit = state.config.hello_timeout;
    let Ok(Ok(req)) = timeout(limit, incoming).await else {
        debug!(%peer, "webtransport handshake failed or timed out");
        return;
    };
    let (path, query) = req.path().split_once('?').unwrap_or((req.path(), ""));
    if path != "/ws" {
        req.not_found().await;
        return;
    }
    if state.shutdown.is_cancelled() {
        req.too_many_requests().await;
        return;
    }
    let allowed = &state.config.allowed_origins;
    if let Some(origin) = req.origin()
        && !allowed.is_empty()
        && !allowed.iter().any(|a| a == origin)
    {
        req.forbidden().await;
        return;
    }
    let params = super::http::ws_params(query, &state).and_then(|p| {
        if p.mirror == MirrorParam::Off {
            Ok(p)
        } else {
            // Datagrams do not stall on a loss: there is nothing to mirror.
            Err((
                hyper::StatusCode::BAD_REQUEST,
                "mirrored streams are for WebSocket connections".into(),
            ))
        }
    });
    let conn = match req.accept().await {
        Ok(c) => c,
        Err(e) => {
            debug!(%peer, error = %e, "webtransport session not accepted");
            return;
        }
    };
    let stream = timeout(limit, conn.accept_bi()).await;
    let Ok(Ok((send, recv))) = stream else {
        debug!(%peer, "no stream within the Hello deadline");
        conn.close(
            VarInt::from_u32(CloseCode::Timeout.code().into()),
            b"no stream",
        );
        return;
    };
    match params {
        Ok(p) => serve(conn, send, recv, peer, state, p).await,
        // What a WebSocket gets as an HTTP status before the upgrade, a session gets as a
        // close frame (the session close itself carries no reason through every stack).
        Err((status, why)) => {
            let code = if status == hyper::StatusCode::UNAUTHORIZED {
                CloseCode::Unauthorized
            } else {
                CloseCode::PolicyViolation
            };
            let mut send = send;
            let mut out = Vec::new();
            write_frame(&Frame::Close(code.code(), why.trim_end().into()), &mut out);
            let _ = timeout(CLOSE_GRACE, async {
                send.write_all(&out).await?;
                send.finish().await
            })
            .await;
            state.metrics.closed(code.code(), "server");
            tokio::time::sleep(Duration::from_millis(100)).await;
            conn.close(VarInt::from_u32(0), b"");
        }
    }
}

/// Runs a session whose stream is open until it closes.
async fn serve(
    conn: Connection,
    send: SendStream,
    recv: RecvStream,
    peer: SocketAddr,
    state: Arc<AppState>,
    params: WsParams,
) {
    let _counted = Counted::new(&state, "webtransport");
    let span =
        debug_span!("wt", %peer, player = tracing::field::Empty, room = tracing::field::Empty);
    async {
        let Wired {
            reader,
            ends,
            messages,
            outbox,
            // A WebSocket's ping slot: QUIC answers its own pings.
            pong: _,
        } = wire(&state, params, peer.ip(), true);
        let close_sent = CancellationToken::new();
        let hang_up = CancellationToken::new();
        let writer = write_loop(
            &conn,
            send,
            (messages, outbox),
            ends,
            &state,
            close_sent.clone(),
            hang_up.clone(),
        );
        let reader = async {
            tokio::select! {
                _ = read_loop(reader, &conn, recv, &state) => {}
                _ = async { close_sent.cancelled().await; tokio::time::sleep(CLOSE_GRACE).await } => {}
                _ = hang_up.cancelled() => {}
            }
        };
        tokio::join!(reader, writer);
        conn.close(VarInt::from_u32(0), b"");
    }
    .instrument(span)
    .await;
}

enum Got {
    Stream(Result<Option<usize>, wtransport::error::StreamReadError>),
    Datagram(Result<wtransport::datagram::Datagram, wtransport::error::ConnectionError>),
}

async fn read_loop(mut reader: Reader, conn: &Connection, mut recv: RecvStream, state: &AppState) {
    let mut frames = FrameReader::new(state.config.max_frame_bytes);
    let mut buf = vec![0u8; 4096];
    let result = loop {
        let (deadline, what) = reader.deadline();
        let got = tokio::select! {
            r = recv.read(&mut buf) => Got::Stream(r),
            d = conn.receive_datagram() => Got::Datagram(d),
            _ = tokio::time::sleep_until(deadline) => break close_err(CloseCode::Timeout, what),
        };
        let step = match got {
            Got::Stream(Ok(Some(n))) => {
                state.metrics.bytes_received.inc_by(n as u64);
                frames.push(&buf[..n]);
                stream_frames(&mut reader, &mut frames).await
            }
            // The client ended its stream, or the session is gone.
            Got::Stream(Ok(None) | Err(_)) | Got::Datagram(Err(_)) => Err(ReadError::Gone),
            Got::Datagram(Ok(d)) => {
                state
                    .metrics
                    .bytes_received
                    .inc_by(d.payload().len() as u64);
                match reader.take_token() {
                    Ok(()) => reader.datagram(&d.payload()).await,
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = step {
            break e;
        }
    };
    reader.finish(result).await;
    // Dropping `reader` drops the inbox: the room removes the player on its next tick.
}

/// Handles every complete frame the stream holds.
async fn stream_frames(reader: &mut Reader, frames: &mut FrameReader) -> Result<(), ReadError> {
    loop {
        let frame = frames.next_frame().map_err(|e| {
            let why = e.for_people();
            let code = if why.contains("limit") {
                CloseCode::MessageTooBig
            } else {
                CloseCode::ProtocolError
            };
            close_err(code, why)
        })?;
        match frame {
            None => return Ok(()),
            Some(Frame::Message(m)) => {
                reader.take_token()?;
                reader.handle(m).await?;
            }
            Some(Frame::Close(code, _)) => {
                debug!(code, "client closed");
                reader.goodbye(code).await;
                return Err(ReadError::Close(CloseReason::new(CloseCode::Normal, "")));
            }
        }
    }
}

/// Whether a room's message is a snapshot against an acknowledged tick (message 5).
fn is_datagram_snapshot(b: &[u8]) -> bool {
    b.first() == Some(&5)
}

async fn drain(send: &mut SendStream, out: &mut Vec<u8>, pos: &mut usize) -> Result<(), ()> {
    while *pos < out.len() {
        let n = send.write(&out[*pos..]).await.map_err(|_| ())?;
        *pos += n;
    }
    out.clear();
    *pos = 0;
    Ok(())
}

async fn write_loop(
    conn: &Connection,
    mut send: SendStream,
    (mut messages, mut outbox): (mpsc::Receiver<Bytes>, mpsc::Receiver<Bytes>),
    mut ends: Ends,
    state: &AppState,
    close_sent: CancellationToken,
    hang_up: CancellationToken,
) {
    let write_timeout = state.config.write_timeout;
    let (mut out, mut pos) = (Vec::new(), 0usize);
    let end = loop {
        tokio::select! {
            biased;
            e = ends.next() => break e,
            Some(m) = messages.recv() => write_frame(&Frame::Message(m.to_vec()), &mut out),
            m = outbox.recv() => match m {
                Some(b) => {
                    let fits = conn.max_datagram_size().is_some_and(|max| b.len() <= max);
                    if is_datagram_snapshot(&b) && fits && conn.send_datagram(&b).is_ok() {
                        state.metrics.datagrams_sent.inc();
                        continue;
                    }
                    // Larger than a datagram (a complete first snapshot), or anything else.
                    write_frame(&Frame::Message(b.to_vec()), &mut out);
                }
                None => break End::Close(CloseReason::new(CloseCode::GoingAway, "room closed"), "server"),
            },
        }
        let deadline = tokio::time::Instant::now() + write_timeout;
        tokio::select! {
            biased;
            r = timeout_at(deadline, drain(&mut send, &mut out, &mut pos)) => match r {
                Ok(Ok(())) => {}
                Ok(Err(())) => break End::Gone,
                Err(_) => break End::Stalled,
            },
            e = ends.next() => break e,
        }
    };
    let Some(reason) = end.into_close(state, write_timeout) else {
        hang_up.cancel();
        return;
    };
    while let Ok(m) = messages.try_recv() {
        write_frame(&Frame::Message(m.to_vec()), &mut out);
    }
    write_frame(
        &Frame::Close(reason.code.code(), reason.reason.clone()),
        &mut out,
    );
    let closed = timeout(CLOSE_GRACE.min(write_timeout), async {
        drain(&mut send, &mut out, &mut pos).await?;
        send.finish().await.map_err(|_| ())
    })
    .await;
    match closed {
        Ok(Ok(())) => close_sent.cancel(),
        _ => {
            debug!("the close frame could not be written: dropping the session");
            hang_up.cancel();
        }
    }
}
