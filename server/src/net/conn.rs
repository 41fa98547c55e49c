//! One WebSocket connection: a reader and a writer joined in one task.
//!
//! The reader decodes frames, enforces the handshake (`Hello` first, right protocol version)
//! and the limits (frame size, silence), answers pings, and forwards inputs and chat to the
//! room through the client's bounded inbox. The writer sends what the room queues in the
//! outbox, WebSocket pings on an interval, and exactly one close frame. Every way a
//! connection can go wrong maps to one close code from [`tickwire_shared::close`].
//!
//! fastwebsockets' `read_frame` is not cancel-safe, so the reader is never raced against
//! other work in a `select!`: reader and writer are two futures joined, talking through a
//! small control channel.

use super::AppState;
use super::driver::GameMsg;
use super::room_task::{ClientCmd, ClientLink, RoomCmd};
use super::rooms::RoomStats;
use crate::auth::Claims;
use crate::limits::TokenBucket;
use crate::metrics::{OutcomeLabels, ReasonLabels};
use bytes::Bytes;
use fastwebsockets::upgrade::UpgradeFut;
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError, WebSocketRead, WebSocketWrite};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tickwire_shared::close::{CloseCode, CloseReason};
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::{
    ClientMsg, Hello, PROTOCOL_VERSION, Pong, ServerMsg, decode_client, encode_server,
};
use tickwire_shared::{PlayerId, Tick};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{MissedTickBehavior, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, debug_span};

/// A byte stream a WebSocket can run over (TCP, TLS, or an in-memory pipe in fuzzing).
pub(crate) trait Socket:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Socket for T {}

/// Reader → writer.
enum Ctl {
    /// Send a WebSocket pong with this payload.
    Pong(Bytes),
    /// Send this encoded server message now (ahead of snapshots).
    Message(Bytes),
    /// Send a close frame and stop. `initiator` is for metrics.
    Close(CloseReason, &'static str),
    /// The peer is gone (EOF or I/O error): stop without a close frame.
    Gone,
}

/// What the HTTP layer learned before the upgrade.
#[derive(Debug, Default)]
pub(crate) struct WsParams {
    /// `?room=ID`.
    pub room: Option<String>,
    /// Claims of a valid `?token=`.
    pub claims: Option<Claims>,
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// How long we wait for the peer's close reply after sending ours.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

pub(super) async fn run(
    upgrade: UpgradeFut,
    peer: SocketAddr,
    state: Arc<AppState>,
    params: WsParams,
) {
    let ws = match upgrade.await {
        Ok(ws) => ws,
        Err(e) => {
            debug!(%peer, error = %e, "upgrade failed");
            return;
        }
    };
    serve(ws, peer, state, params).await;
}

/// Runs a WebSocket whose handshake is done until it closes.
pub(crate) async fn serve<S: Socket>(
    ws: fastwebsockets::WebSocket<S>,
    peer: SocketAddr,
    state: Arc<AppState>,
    params: WsParams,
) {
    state.metrics.connections.inc();
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let span = debug_span!("conn", id, %peer, player = tracing::field::Empty, room = tracing::field::Empty);
    async {
        let (mut rd, wr) = ws.split(tokio::io::split);
        rd.set_auto_close(false);
        rd.set_auto_pong(false);
        // fastwebsockets rejects frames of this length or more; the reader's own assembler
        // enforces the same limit across fragments.
        rd.set_max_message_size(state.config.max_frame_bytes + 1);

        let (ctl_tx, ctl_rx) = mpsc::channel(8);
        let (outbox_tx, outbox_rx) = mpsc::channel(state.config.outbox_capacity.max(1));
        let (kick_tx, kick_rx) = oneshot::channel();
        let close_sent = CancellationToken::new();

        let reader = Reader {
            state: state.clone(),
            params,
            ip: peer.ip(),
            ctl: ctl_tx,
            link: Some((outbox_tx, kick_tx)),
            inbox: None,
            schema: state.game.schema().clone(),
            room: None,
            rate: TokenBucket::new(state.config.max_messages_per_sec, state.config.message_burst, 0.0),
            started: Instant::now(),
        };
        let writer = write_loop(wr, ctl_rx, outbox_rx, kick_rx, &state, close_sent.clone());
        let reader = async {
            tokio::select! {
                _ = reader.run(rd) => {}
                // Once our close frame is out, give the peer a moment to answer, then stop.
                _ = async { close_sent.cancelled().await; tokio::time::sleep(CLOSE_GRACE).await } => {}
            }
        };
        tokio::join!(reader, writer);
    }
    .instrument(span)
    .await;
    state.metrics.connections.dec();
}

struct Reader {
    state: Arc<AppState>,
    params: WsParams,
    /// The peer's address (seats and resume attempts count against it).
    ip: std::net::IpAddr,
    ctl: mpsc::Sender<Ctl>,
    /// The room's ends of the channels, until handed over in the join.
    link: Option<(mpsc::Sender<Bytes>, oneshot::Sender<CloseReason>)>,
    /// Set once joined.
    inbox: Option<(PlayerId, mpsc::Sender<ClientCmd>)>,
    /// The game's schema (how the messages after `Hello` are decoded).
    schema: Arc<Schema>,
    /// The room joined (for the tick in pongs).
    room: Option<Arc<RoomStats>>,
    /// Message rate limit.
    rate: TokenBucket,
    started: Instant,
}

/// Reassembles fragmented messages under a size limit (fastwebsockets' own collector has none
/// across fragments).
struct Assembler {
    buf: Vec<u8>,
    active: bool,
    limit: usize,
}

enum ReadError {
    Close(CloseReason),
    Gone,
}

fn close_err(code: CloseCode, reason: impl Into<String>) -> ReadError {
    ReadError::Close(CloseReason::new(code, reason))
}

impl Reader {
    async fn run<S: Socket>(mut self, mut rd: WebSocketRead<ReadHalf<S>>) {
        let mut asm = Assembler {
            buf: Vec::new(),
            active: false,
            limit: self.state.config.max_frame_bytes,
        };
        let result = loop {
            match self.next_message(&mut rd, &mut asm).await {
                Ok(None) => continue,
                Ok(Some(msg)) => {
                    if let Err(e) = self.handle(msg).await {
                        break e;
                    }
                }
                Err(e) => break e,
            }
        };
        let (ctl, drain) = match result {
            ReadError::Close(reason) => {
                let initiator = if reason.code == CloseCode::Normal {
                    "client"
                } else {
                    "server"
                };
                (Ctl::Close(reason, initiator), initiator == "server")
            }
            ReadError::Gone => (Ctl::Gone, false),
        };
        let abused = match &ctl {
            Ctl::Close(r, _) => matches!(
                r.code,
                CloseCode::PolicyViolation | CloseCode::MessageTooBig | CloseCode::InvalidPayload
            )
            .then_some(r.code),
            _ => None,
        };
        let _ = self.ctl.send(ctl).await;
        // Closed for abuse: the room removes the player now (no resume grace, a dead token).
        if let (Some(code), Some((_, inbox))) = (abused, &self.inbox) {
            let _ = inbox.send(ClientCmd::Abused(code)).await;
        }
        if drain {
            // Keep reading (and discarding) until the peer answers our close or the grace
            // period ends: closing a socket with unread data would reset the connection, and
            // the peer would never see our close code and reason.
            let mut none =
                |_: Frame<'_>| std::future::ready(Ok::<(), std::convert::Infallible>(()));
            let _ = timeout(CLOSE_GRACE, async {
                while let Ok(f) = rd.read_frame(&mut none).await {
                    if f.opcode == OpCode::Close {
                        break;
                    }
                }
            })
            .await;
        }
        // Dropping `self` drops the inbox: the room removes the player on its next tick.
    }

    /// Reads one frame; returns a complete binary message, or `None` for control frames and
    /// partial fragments.
    async fn next_message<S: Socket>(
        &mut self,
        rd: &mut WebSocketRead<ReadHalf<S>>,
        asm: &mut Assembler,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        let (limit, what) = if self.inbox.is_some() {
            (self.state.config.idle_timeout, "no message")
        } else {
            (self.state.config.hello_timeout, "no Hello")
        };
        let mut no_obligations =
            |_: Frame<'_>| std::future::ready(Ok::<(), std::convert::Infallible>(()));
        let frame = match timeout(limit, rd.read_frame(&mut no_obligations)).await {
            Err(_) => {
                return Err(close_err(
                    CloseCode::Timeout,
                    format!("{what} for {}s", limit.as_secs_f32()),
                ));
            }
            Ok(Err(e)) => return Err(read_error(e)),
            Ok(Ok(f)) => f,
        };
        self.state
            .metrics
            .bytes_received
            .inc_by(frame.payload.len() as u64);
        match frame.opcode {
            OpCode::Close => {
                let code = match frame.payload.len() {
                    0 => CloseCode::Normal.code(),
                    1 => return Err(close_err(CloseCode::ProtocolError, "malformed close frame")),
                    _ => u16::from_be_bytes([frame.payload[0], frame.payload[1]]),
                };
                debug!(code, "client closed");
                self.state.metrics.closed(code, "client");
                // A deliberate goodbye: leave now instead of waiting for a resume.
                if let Some((_, inbox)) = &self.inbox {
                    let _ = inbox.send(ClientCmd::Quit).await;
                }
                // Echo a normal close; the writer does not count it again.
                Err(ReadError::Close(CloseReason::new(CloseCode::Normal, "")))
            }
            OpCode::Ping => {
                let _ = self
                    .ctl
                    .send(Ctl::Pong(Bytes::copy_from_slice(&frame.payload)))
                    .await;
                Ok(None)
            }
            OpCode::Pong => Ok(None),
            OpCode::Text => Err(close_err(
                CloseCode::UnsupportedData,
                "text frames are not supported; send binary",
            )),
            OpCode::Binary | OpCode::Continuation => {
                if frame.opcode == OpCode::Binary {
                    if asm.active {
                        return Err(close_err(
                            CloseCode::ProtocolError,
                            "new message inside a fragmented one",
                        ));
                    }
                    if frame.fin {
                        return Ok(Some(frame.payload.to_vec()));
                    }
                    asm.active = true;
                    asm.buf.clear();
                } else if !asm.active {
                    return Err(close_err(
                        CloseCode::ProtocolError,
                        "continuation without a message",
                    ));
                }
                if asm.buf.len() + frame.payload.len() > asm.limit {
                    return Err(close_err(
                        CloseCode::MessageTooBig,
                        format!("message over {} bytes", asm.limit),
                    ));
                }
                asm.buf.extend_from_slice(&frame.payload);
                if frame.fin {
                    asm.active = false;
                    return Ok(Some(std::mem::take(&mut asm.buf)));
                }
                Ok(None)
            }
        }
    }

    async fn handle(&mut self, bytes: Vec<u8>) -> Result<(), ReadError> {
        if !self.rate.try_take(self.started.elapsed().as_secs_f64()) {
            self.state
                .metrics
                .rate_limited
                .get_or_create(&OutcomeLabels {
                    outcome: "messages",
                })
                .inc();
            return Err(close_err(
                CloseCode::PolicyViolation,
                "message rate limit exceeded",
            ));
        }
        if self.inbox.is_none() {
            let hello = first_message(&bytes, &self.state)?;
            return self.join(hello).await;
        }
        let msg = match decode_client(&bytes, &self.schema).map_err(undecodable)? {
            ClientMsg::Hello(_) => Incoming::Hello,
            ClientMsg::Input(cmds) => Incoming::Game(GameMsg::Inputs(cmds)),
            ClientMsg::Action(a) => Incoming::Game(GameMsg::Action(a)),
            ClientMsg::Chat(text) => Incoming::Chat(text),
            ClientMsg::Ping(p) => Incoming::Ping(p.client_time),
        };
        let Some((_, inbox)) = &self.inbox else {
            unreachable!("joined above");
        };
        match msg {
            Incoming::Hello => Err(close_err(
                CloseCode::HelloExpected,
                "Hello was already sent",
            )),
            Incoming::Game(m) => inbox
                .send(ClientCmd::Game(m))
                .await
                .map_err(|_| room_gone()),
            Incoming::Chat(text) => inbox
                .send(ClientCmd::Chat(text))
                .await
                .map_err(|_| room_gone()),
            Incoming::Ping(client_time) => {
                let tick = Tick(
                    self.room
                        .as_ref()
                        .map_or(0, |r| r.tick.load(Ordering::Relaxed)),
                );
                let mut pong = Vec::new();
                encode_server(
                    &ServerMsg::Pong(Pong { client_time, tick }),
                    &self.schema,
                    &mut pong,
                );
                self.state.metrics.bytes_sent.inc_by(pong.len() as u64);
                let _ = self.ctl.send(Ctl::Message(Bytes::from(pong))).await;
                Ok(())
            }
        }
    }

    async fn join(&mut self, hello: Hello) -> Result<(), ReadError> {
        let mut name = hello.name;
        if let Some(jwt) = &self.state.jwt {
            let claims = match self.params.claims.take() {
                Some(c) => c,
                None => jwt.verify(hello.auth_token.as_deref()).map_err(|e| {
                    self.state
                        .metrics
                        .auth_failures
                        .get_or_create(&ReasonLabels { reason: e.label() })
                        .inc();
                    close_err(CloseCode::Unauthorized, e.to_string())
                })?,
            };
            debug!(account = %claims.sub, "authenticated");
            name = claims.display_name().to_string();
        }
        let seat = self
            .state
            .rooms
            .reserve(
                &self.state,
                self.params.room.as_deref(),
                hello.resume_token.as_deref(),
                self.ip,
            )
            .map_err(ReadError::Close)?;
        let (outbox, kick) = self.link.take().expect("join happens once");
        let (inbox_tx, inbox_rx) = mpsc::channel(self.state.config.inbox_capacity.max(1));
        let (reply_tx, reply_rx) = oneshot::channel();
        let link = ClientLink {
            outbox,
            inbox: inbox_rx,
            kick,
        };
        let room = seat.room.clone();
        room.cmds
            .send(RoomCmd::Join {
                name,
                resume_token: hello.resume_token,
                link,
                reply: reply_tx,
                seat,
            })
            .await
            .map_err(|_| room_gone())?;
        let reply = reply_rx.await;
        let room = room.stats;
        match reply {
            Ok(Ok(r)) => {
                let span = tracing::Span::current();
                span.record("player", tracing::field::display(r.player_id));
                span.record("room", tracing::field::display(&room.id));
                debug!(player = %r.player_id, resumed = r.resumed, "joined");
                self.inbox = Some((r.player_id, inbox_tx));
                self.room = Some(room);
                Ok(())
            }
            Ok(Err(reason)) => Err(ReadError::Close(reason)),
            Err(_) => Err(room_gone()),
        }
    }
}

/// A joined client's message.
enum Incoming {
    Hello,
    Game(GameMsg),
    Chat(String),
    Ping(u32),
}

fn undecodable(e: impl std::fmt::Display) -> ReadError {
    close_err(
        CloseCode::InvalidPayload,
        format!("undecodable message: {e}"),
    )
}

/// Decodes a connection's first message, which must be a `Hello` of the protocol version this
/// server speaks; a first message that is something else gets 4001.
fn first_message(bytes: &[u8], state: &AppState) -> Result<Hello, ReadError> {
    let hello = match decode_client(bytes, state.game.schema()).map_err(undecodable)? {
        ClientMsg::Hello(h) => h,
        _ => return Err(hello_expected()),
    };
    if hello.protocol_version != PROTOCOL_VERSION {
        return Err(close_err(
            CloseCode::VersionMismatch,
            format!(
                "protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}",
                hello.protocol_version
            ),
        ));
    }
    Ok(hello)
}

fn hello_expected() -> ReadError {
    close_err(CloseCode::HelloExpected, "the first message must be Hello")
}

fn room_gone() -> ReadError {
    close_err(CloseCode::GoingAway, "room closed")
}

fn read_error(e: WebSocketError) -> ReadError {
    match e {
        WebSocketError::FrameTooLarge => {
            close_err(CloseCode::MessageTooBig, "frame over the size limit")
        }
        WebSocketError::InvalidUTF8 => {
            close_err(CloseCode::InvalidPayload, "invalid UTF-8 in a text frame")
        }
        WebSocketError::UnexpectedEOF
        | WebSocketError::IoError(_)
        | WebSocketError::ConnectionClosed => ReadError::Gone,
        other => close_err(CloseCode::ProtocolError, format!("bad frame: {other}")),
    }
}

async fn write_loop<S: Socket>(
    mut wr: WebSocketWrite<WriteHalf<S>>,
    mut ctl: mpsc::Receiver<Ctl>,
    mut outbox: mpsc::Receiver<Bytes>,
    mut kick: oneshot::Receiver<CloseReason>,
    state: &AppState,
    close_sent: CancellationToken,
) {
    let mut ping = tokio::time::interval(state.config.ping_interval);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.tick().await;
    let mut kick_done = false;
    let close = loop {
        let res = tokio::select! {
            biased;
            c = ctl.recv() => match c {
                Some(Ctl::Pong(p)) => wr.write_frame(Frame::pong(Payload::Owned(p.to_vec()))).await,
                Some(Ctl::Message(b)) => write_binary(&mut wr, &b).await,
                Some(Ctl::Close(reason, initiator)) => break Some((reason, initiator)),
                Some(Ctl::Gone) | None => break None,
            },
            k = &mut kick, if !kick_done => {
                kick_done = true;
                match k {
                    Ok(reason) => break Some((reason, "server")),
                    Err(_) => continue,
                }
            }
            _ = state.shutdown.cancelled() => {
                break Some((CloseReason::new(CloseCode::GoingAway, "server shutting down"), "server"));
            }
            m = outbox.recv() => match m {
                Some(b) => write_binary(&mut wr, &b).await,
                None => break Some((CloseReason::new(CloseCode::GoingAway, "room closed"), "server")),
            },
            _ = ping.tick() => wr.write_frame(Frame::new(true, OpCode::Ping, None, Payload::Borrowed(&[]))).await,
        };
        if res.is_err() {
            // The peer is unreachable; nothing more to write.
            break None;
        }
    };
    match close {
        Some((reason, initiator)) => {
            if initiator == "server" {
                state.metrics.closed(reason.code.code(), "server");
            }
            let _ = wr
                .write_frame(Frame::close(reason.code.code(), reason.reason.as_bytes()))
                .await;
            close_sent.cancel();
        }
        None => {
            state.metrics.closed(CloseCode::Abnormal.code(), "client");
            close_sent.cancel();
        }
    }
}

async fn write_binary<S: Socket>(
    wr: &mut WebSocketWrite<WriteHalf<S>>,
    b: &[u8],
) -> Result<(), WebSocketError> {
    wr.write_frame(Frame::binary(Payload::Borrowed(b))).await
}
