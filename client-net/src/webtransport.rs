//! The WebTransport backend of [`Client`]: the same channels as a WebSocket's, over one
//! WebTransport session (`wtransport`): server messages from the stream and from datagrams
//! come out of [`Client::recv_frame`] alike, [`Client::send_bytes`] writes a stream frame,
//! [`Client::send_datagram`] a datagram, and the server's close frame ends it with its code
//! and reason (see `tickwire_shared::sync::acked`).

use crate::{Client, ConnectError, How, Out, Received, Transport};
use std::time::Duration;
use tickwire_shared::close::CloseCode;
use tickwire_shared::sync::acked::{Frame, FrameReader, write_frame};
use tokio::sync::mpsc;
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Connection, Endpoint, RecvStream, SendStream, VarInt};

/// How long [`Client::connect_auto`] gives WebTransport before it falls back to WebSocket.
pub const FALLBACK_AFTER: Duration = Duration::from_secs(2);

/// The largest server frame accepted on the stream (a complete snapshot can be large).
const MAX_FRAME: usize = 16 << 20;

/// QUIC limits for a game client rather than quinn's bulk-transfer defaults (megabytes of
/// buffers per connection): a few snapshots' worth of datagrams queue, older ones are dropped
/// (a newer snapshot supersedes them), and the stream's window holds a complete snapshot.
fn transport_config() -> wtransport::config::QuicTransportConfig {
    use wtransport::quinn::VarInt as QVarInt;
    let mut tc = wtransport::config::QuicTransportConfig::default();
    tc.datagram_receive_buffer_size(Some(64 * 1024));
    tc.datagram_send_buffer_size(16 * 1024);
    tc.stream_receive_window(QVarInt::from_u32(1 << 20));
    tc.receive_window(QVarInt::from_u32(2 << 20));
    tc.send_window(64 * 1024);
    tc
}

/// What `GET /webtransport` answered.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct WtInfo {
    /// The UDP port.
    pub port: u16,
    /// The path (`/ws`).
    pub path: String,
    /// SHA-256 (hex) of the certificates a self-signed server may present.
    pub cert_hashes: Vec<String>,
}

fn digest(hex: &str) -> Option<Sha256Digest> {
    if hex.len() != 64 {
        return None;
    }
    let mut b = [0u8; 32];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(Sha256Digest::new(b))
}

/// Asks the server at `ws_url` (`ws://host:port/...`) whether it speaks WebTransport:
/// `None` when it does not (404) or cannot say.
pub async fn discover(ws_url: &str, limit: Duration) -> Option<WtInfo> {
    let parsed = crate::parse_url(ws_url).ok()?;
    if parsed.tls {
        // The plain-HTTP probe below speaks no TLS; a TLS server names itself in its URL.
        return None;
    }
    let fetch = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(&parsed.authority)
            .await
            .ok()?;
        let req = format!(
            "GET /webtransport HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            parsed.authority
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut body = Vec::new();
        s.read_to_end(&mut body).await.ok()?;
        let text = String::from_utf8(body).ok()?;
        let (head, json) = text.split_once("\r\n\r\n")?;
        if !head.starts_with("HTTP/1.1 200") {
            return None;
        }
        serde_json::from_str::<WtInfo>(json.trim()).ok()
    };
    tokio::time::timeout(limit, fetch).await.ok().flatten()
}

impl Client {
    /// Connects over WebTransport to the server whose WebSocket URL is `ws_url` (the same host,
    /// path and query; `info` from [`discover`]), within `limit`.
    pub async fn connect_webtransport(
        ws_url: &str,
        info: &WtInfo,
        limit: Duration,
    ) -> Result<Client, ConnectError> {
        tokio::time::timeout(limit, Self::connect_wt_inner(ws_url, info))
            .await
            .map_err(|_| ConnectError::Timeout)?
    }

    async fn connect_wt_inner(ws_url: &str, info: &WtInfo) -> Result<Client, ConnectError> {
        let parsed = crate::parse_url(ws_url)?;
        let query = parsed.path.split_once('?').map_or("", |(_, q)| q);
        let host = parsed.host();
        let url = if query.is_empty() {
            format!("https://{host}:{}{}", info.port, info.path)
        } else {
            format!("https://{host}:{}{}?{query}", info.port, info.path)
        };
        let wt_err = |e: String| ConnectError::WebTransport(e);
        let builder = ClientConfig::builder().with_bind_default();
        let mut config = if info.cert_hashes.is_empty() {
            builder.with_native_certs().build()
        } else {
            let hashes: Vec<Sha256Digest> =
                info.cert_hashes.iter().filter_map(|h| digest(h)).collect();
            builder.with_server_certificate_hashes(hashes).build()
        };
        config
            .quic_config_mut()
            .transport_config(std::sync::Arc::new(transport_config()));
        let endpoint = Endpoint::client(config).map_err(|e| wt_err(e.to_string()))?;
        let conn = endpoint
            .connect(&url)
            .await
            .map_err(|e| wt_err(e.to_string()))?;
        let (send, recv) = conn
            .open_bi()
            .await
            .map_err(|e| wt_err(e.to_string()))?
            .await
            .map_err(|e| wt_err(e.to_string()))?;
        let (out_tx, out_rx) = mpsc::channel(64);
        let (in_tx, in_rx) = mpsc::channel(256);
        let task = tokio::spawn(drive(endpoint, conn, send, recv, out_rx, in_tx));
        Ok(Client {
            task,
            out: out_tx,
            incoming: in_rx,
            closed: None,
            how: How {
                url: ws_url.to_string(),
                tls: None,
                local: None,
            },
            transport: Transport::WebTransport,
            mirrors: Vec::new(),
            mirror_in: mpsc::channel(1),
            merge: crate::Merge::new(),
            mirror_closed: None,
            next_mirror: 0,
        })
    }

    /// Connects to `ws_url`'s server over WebTransport when it offers it (`GET /webtransport`)
    /// and the session is up within [`FALLBACK_AFTER`], else over WebSocket within `limit`.
    /// [`Client::transport`] says which.
    pub async fn connect_auto(ws_url: &str, limit: Duration) -> Result<Client, ConnectError> {
        if let Some(info) = discover(ws_url, FALLBACK_AFTER).await {
            match Self::connect_webtransport(ws_url, &info, FALLBACK_AFTER.min(limit)).await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::debug!(error = %e, "webtransport failed: falling back to websocket")
                }
            }
        }
        Self::connect(ws_url, limit).await
    }
}

async fn drive(
    _endpoint: Endpoint<wtransport::endpoint::endpoint_side::Client>,
    conn: Connection,
    mut send: SendStream,
    mut recv: RecvStream,
    mut out: mpsc::Receiver<Out>,
    incoming: mpsc::Sender<Received>,
) {
    let gone = |reason: &str| Received::Closed {
        code: None,
        reason: reason.into(),
    };
    let reader = async {
        let mut frames = FrameReader::new(MAX_FRAME);
        let mut buf = vec![0u8; 16 * 1024];
        // A datagram can overtake the Welcome on the stream: one before the first stream
        // message is a snapshot the client cannot decode yet, dropped (the next one repairs it).
        let mut welcomed = false;
        loop {
            tokio::select! {
                r = recv.read(&mut buf) => match r {
                    Ok(Some(n)) => {
                        frames.push(&buf[..n]);
                        loop {
                            match frames.next_frame() {
                                Ok(None) => break,
                                Ok(Some(Frame::Message(m))) => {
                                    welcomed = true;
                                    if incoming.send(Received::Binary(m)).await.is_err() {
                                        return;
                                    }
                                }
                                Ok(Some(Frame::Close(code, reason))) => {
                                    let _ = incoming.send(Received::Closed { code: Some(code), reason }).await;
                                    return;
                                }
                                Err(e) => {
                                    let _ = incoming.send(gone(&e.for_people())).await;
                                    return;
                                }
                            }
                        }
                    }
                    _ => {
                        let _ = incoming.send(gone("")).await;
                        return;
                    }
                },
                d = conn.receive_datagram() => match d {
                    Ok(_) if !welcomed => {}
                    Ok(d) => {
                        if incoming.send(Received::Binary(d.payload().to_vec())).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = incoming.send(gone("")).await;
                        return;
                    }
                },
            }
        }
    };
    let writer = async {
        loop {
            let mut bytes = Vec::new();
            match out.recv().await {
                Some(Out::Frame(f)) => write_frame(&Frame::Message(f.payload), &mut bytes),
                Some(Out::Datagram(d)) => {
                    // A datagram the connection cannot take is lost, as on the network.
                    let _ = conn.send_datagram(&d);
                    continue;
                }
                Some(Out::Close(code, reason)) => {
                    write_frame(&Frame::Close(code, reason), &mut bytes);
                    let _ = send.write_all(&bytes).await;
                    let _ = send.finish().await;
                    return;
                }
                None => {
                    write_frame(
                        &Frame::Close(CloseCode::Normal.code(), String::new()),
                        &mut bytes,
                    );
                    let _ = send.write_all(&bytes).await;
                    let _ = send.finish().await;
                    return;
                }
            }
            if send.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    // The reader ends on the server's close or the session's end; the writer on ours.
    tokio::join!(reader, writer);
    conn.close(VarInt::from_u32(0), b"");
}
