//! One WebSocket connection: a reader and a writer joined in one task.
//!
//! The reader decodes frames, enforces the handshake (`Hello` first, right protocol version,
//! within `--hello-timeout` of the upgrade), RFC 6455's rules that fastwebsockets leaves to us
//! (client frames masked, control frames at most 125 bytes, valid close codes and UTF-8 close
//! reasons) and the limits (frame size, frame rate, silence), answers pings, and forwards
//! inputs and chat to the room through the client's bounded inbox. The writer sends what the
//! room queues in the outbox, WebSocket pings on an interval, and exactly one close frame.
//! Every way a connection can go wrong maps to one close code from
//! [`tickwire_shared::close`], with a reason written for people.
//!
//! fastwebsockets' `read_frame` is not cancel-safe, so the reader is never raced against
//! other work in a `select!`: reader and writer are two futures joined. The reader never
//! waits on the writer: a pong is a coalescing slot (only the newest ping is answered when
//! the writer is behind), an application pong is dropped when the writer is behind, and the
//! reader's last word is a oneshot. The writer frames its messages itself and writes them
//! with a deadline (`--write-timeout`), still hearing the kick, the reader's end and shutdown
//! while a write waits, so a client that never reads cannot pin a connection.

use super::AppState;
use super::chan as mpsc;
use super::driver::GameMsg;
use super::lean::{LeanRead, masked};
use super::room_task::{ClientCmd, ClientLink, MirrorLink, Numbering, RoomCmd};
use super::rooms::RoomStats;
use crate::auth::Claims;
use crate::limits::TokenBucket;
use crate::metrics::{OutcomeLabels, ReasonLabels};
use bytes::Bytes;
use fastwebsockets::upgrade::UpgradeFut;
use fastwebsockets::{OpCode, WebSocketError};
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
use tokio::io::{AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;
use tokio::time::{MissedTickBehavior, timeout, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, debug_span};

/// A byte stream a WebSocket can run over (TCP, TLS, or an in-memory pipe in fuzzing).
pub(crate) trait Socket:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Socket for T {}

/// The reader's last word to the writer.
pub(super) enum Last {
    /// Send a close frame and stop. `initiator` is for metrics.
    Close(CloseReason, &'static str),
    /// The peer is gone (EOF or I/O error): stop without a close frame.
    Gone,
}

/// The reader's ends of what it tells the writer; none of them ever waits.
pub(super) struct ToWriter {
    /// Encoded server messages to send ahead of snapshots (application pongs); full means
    /// the writer is behind, and the message is dropped.
    pub(super) messages: mpsc::Sender<Bytes>,
    /// The payload of the newest ping not yet answered.
    pub(super) pong: Arc<PongSlot>,
    /// The reader's end.
    pub(super) last: Option<oneshot::Sender<Last>>,
}

/// The payload of the newest ping not yet answered (RFC 6455 §5.5.3 lets us answer only the
/// most recent one): the reader puts, the writer takes, neither waits. (A `watch` channel did
/// this for ten times the memory.)
#[derive(Default)]
pub(super) struct PongSlot {
    payload: std::sync::Mutex<Option<Bytes>>,
    ready: tokio::sync::Notify,
}

impl PongSlot {
    fn put(&self, payload: Bytes) {
        *self.payload.lock().unwrap_or_else(|e| e.into_inner()) = Some(payload);
        self.ready.notify_one();
    }

    fn take(&self) -> Option<Bytes> {
        self.payload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// What the HTTP layer learned before the upgrade.
#[derive(Debug, Default)]
pub(crate) struct WsParams {
    /// `?room=ID`.
    pub room: Option<String>,
    /// Claims of a valid `?token=`.
    pub claims: Option<Claims>,
    /// `?guest=ID`: the guest id a browser keeps, for its results (checked by the HTTP layer).
    pub guest: Option<String>,
    /// `?seat=TOKEN`: a seat reserved by `POST /match` (checked at the join).
    pub seat: Option<String>,
    /// `?mirror=1` or `?mirror=attach`.
    pub mirror: MirrorParam,
}

/// What a connection asked of mirrored streams ([`tickwire_shared::sync::mirror`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MirrorParam {
    /// Plain messages.
    #[default]
    Off,
    /// `?mirror=1`: number the room's messages, so that a mirror can attach.
    Numbered,
    /// `?mirror=attach`: this connection is the mirror of the session whose resume token its
    /// `Hello` carries: it only receives.
    Attach,
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// How long we wait for the peer's close reply after sending ours; also the longest the
/// close frame may take to write.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

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

/// A player connection counted in `/metrics` (in total and by transport) while it lives.
pub(super) struct Counted {
    state: Arc<AppState>,
    labels: crate::metrics::TransportLabels,
}

impl Counted {
    pub(super) fn new(state: &Arc<AppState>, transport: &'static str) -> Counted {
        let labels = crate::metrics::TransportLabels { transport };
        state.metrics.connections.inc();
        state
            .metrics
            .connections_by_transport
            .get_or_create(&labels)
            .inc();
        Counted {
            state: state.clone(),
            labels,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.state.metrics.connections.dec();
        self.state
            .metrics
            .connections_by_transport
            .get_or_create(&self.labels)
            .dec();
    }
}

/// A connection's reader and the ends its writer listens to, joined by their channels.
pub(super) struct Wired {
    pub(super) reader: Reader,
    pub(super) ends: Ends,
    /// Application messages from the reader (pongs, a redirect).
    pub(super) messages: mpsc::Receiver<Bytes>,
    /// The newest WebSocket ping to answer.
    pub(super) pong: Arc<PongSlot>,
    /// What the room sends.
    pub(super) outbox: mpsc::Receiver<Bytes>,
}

/// The channels of a new connection from `ip` (over datagrams when `unreliable`).
pub(super) fn wire(
    state: &Arc<AppState>,
    params: WsParams,
    ip: std::net::IpAddr,
    unreliable: bool,
) -> Wired {
    let (msg_tx, messages) = mpsc::channel(8);
    let pong = Arc::new(PongSlot::default());
    let (last_tx, last_rx) = oneshot::channel();
    // Over datagrams a tick may bring two messages (its events apart): room for both.
    let least = 1 + usize::from(unreliable);
    let (outbox_tx, outbox) = mpsc::channel(state.config.outbox_capacity.max(least));
    let (kick_tx, kick_rx) = oneshot::channel();
    let reader = Reader::new(
        state,
        params,
        ip,
        ToWriter {
            messages: msg_tx,
            pong: pong.clone(),
            last: Some(last_tx),
        },
        (outbox_tx, kick_tx),
        unreliable,
    );
    let ends = Ends {
        last: last_rx,
        kick: kick_rx,
        kick_done: false,
        shutdown: state.shutdown.clone(),
    };
    Wired {
        reader,
        ends,
        messages,
        pong,
        outbox,
    }
}

/// Runs a WebSocket whose handshake is done until it closes.
pub(crate) async fn serve<S: Socket>(
    ws: fastwebsockets::WebSocket<S>,
    peer: SocketAddr,
    state: Arc<AppState>,
    params: WsParams,
) {
    let _counted = Counted::new(&state, "websocket");
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let span = debug_span!("conn", id, %peer, player = tracing::field::Empty, room = tracing::field::Empty);
    async {
        // The handshake is done and fastwebsockets has buffered nothing yet: take the stream
        // back, read with fastwebsockets, and frame what we write ourselves (its writer cannot
        // take up a write that a deadline cut short).
        let (r, w) = tokio::io::split(ws.into_inner());
        // fastwebsockets rejects frames of this length or more; the reader's own assembler
        // enforces the same limit across fragments.
        let rd = LeanRead::new(r, state.config.max_frame_bytes + 1);

        let close_sent = CancellationToken::new();
        let hang_up = CancellationToken::new();
        // Both halves are pinned where they are made and polled through references: a
        // future moved into `join!` or `select!` after being made would be stored twice in
        // this task (rustc does not overlap the two), and a connection task's size is most of
        // what an idle connection costs.
        let (run, writer) = halves(
            (rd, w),
            &state,
            params,
            peer.ip(),
            (close_sent.clone(), hang_up.clone()),
        );
        tokio::pin!(writer, run);
        let reader = async {
            tokio::select! {
                _ = &mut run => {}
                // Once our close frame is out, give the peer a moment to answer, then stop.
                _ = async { close_sent.cancelled().await; tokio::time::sleep(CLOSE_GRACE).await } => {}
                // The writer gave up on the peer: drop the socket now.
                _ = hang_up.cancelled() => {}
            }
        };
        tokio::pin!(reader);
        tokio::join!(&mut reader, &mut writer);
    }
    .instrument(span)
    .await;
}

/// A WebSocket connection's reader and writer, not started; `ends` are the writer's signals
/// to the reader (its close frame is out; it gave up on the peer).
fn halves<'a, S: Socket>(
    (rd, w): (LeanRead<ReadHalf<S>>, WriteHalf<S>),
    state: &'a Arc<AppState>,
    params: WsParams,
    ip: std::net::IpAddr,
    (close_sent, hang_up): (CancellationToken, CancellationToken),
) -> (
    impl std::future::Future<Output = ()> + 'a,
    impl std::future::Future<Output = ()> + 'a,
) {
    let Wired {
        reader,
        ends,
        messages,
        pong,
        outbox,
    } = wire(state, params, ip, false);
    let writer = write_loop(
        Out::new(w),
        Wants {
            messages,
            pong,
            outbox,
        },
        ends,
        state,
        close_sent,
        hang_up,
    );
    (reader.run(rd), writer)
}

pub(super) struct Reader {
    state: Arc<AppState>,
    /// Boxed: read at the join only, and a connection task holds the reader all its life.
    params: Box<WsParams>,
    /// The peer's address (seats and resume attempts count against it).
    ip: std::net::IpAddr,
    to_writer: ToWriter,
    /// The room's ends of the channels, until handed over in the join.
    link: Option<(mpsc::Sender<Bytes>, oneshot::Sender<CloseReason>)>,
    /// Set once joined.
    inbox: Option<(PlayerId, mpsc::Sender<ClientCmd>)>,
    /// The game's schema (how the messages after `Hello` are decoded).
    schema: Arc<Schema>,
    /// The room joined (for the tick in pongs).
    room: Option<Arc<RoomStats>>,
    /// Frame rate limit (every frame but a close takes a token).
    rate: TokenBucket,
    /// When the upgrade finished: the Hello deadline counts from here.
    started: Instant,
    /// Over an unreliable transport (WebTransport datagrams): the room sends its snapshots
    /// against acknowledged ticks.
    unreliable: bool,
    /// Set once this connection is attached as the mirror of that player's session.
    mirror_of: Option<PlayerId>,
    /// A mirror the room refused: its outbox, kept open until this reader ends.
    refused_mirror: Option<MirrorLink>,
    /// A refused join's outbox, kept open until this reader ends.
    refused_outbox: Option<mpsc::Sender<Bytes>>,
}

/// Reassembles fragmented messages under a size limit (fastwebsockets' own collector has none
/// across fragments).
struct Assembler {
    buf: Vec<u8>,
    active: bool,
    limit: usize,
}

pub(super) enum ReadError {
    Close(CloseReason),
    Gone,
}

pub(super) fn close_err(code: CloseCode, reason: impl Into<String>) -> ReadError {
    ReadError::Close(CloseReason::new(code, reason))
}

impl Reader {
    /// A reader for a new connection (`to_writer` its writer's ends; `link` the room's ends of
    /// its outbox and kick, handed over at the join).
    pub(super) fn new(
        state: &Arc<AppState>,
        params: WsParams,
        ip: std::net::IpAddr,
        to_writer: ToWriter,
        link: (mpsc::Sender<Bytes>, oneshot::Sender<CloseReason>),
        unreliable: bool,
    ) -> Reader {
        Reader {
            state: state.clone(),
            params: Box::new(params),
            ip,
            to_writer,
            link: Some(link),
            inbox: None,
            schema: state.game.schema().clone(),
            room: None,
            rate: TokenBucket::new(
                state.config.max_messages_per_sec,
                state.config.message_burst,
                0.0,
            ),
            started: Instant::now(),
            unreliable,
            mirror_of: None,
            refused_mirror: None,
            refused_outbox: None,
        }
    }

    /// Takes a token of the message rate limit (every frame and datagram but a close); a
    /// client over it gets 1008.
    pub(super) fn take_token(&mut self) -> Result<(), ReadError> {
        if self.rate.try_take(self.started.elapsed().as_secs_f64()) {
            return Ok(());
        }
        self.state
            .metrics
            .rate_limited
            .get_or_create(&OutcomeLabels {
                outcome: "messages",
            })
            .inc();
        Err(close_err(
            CloseCode::PolicyViolation,
            "message rate limit exceeded",
        ))
    }

    /// When the next message must come by, and what the close says if it does not: the Hello
    /// deadline before the join, the idle timeout after.
    pub(super) fn deadline(&self) -> (tokio::time::Instant, String) {
        // A mirror sends no messages: its answers to the server's pings keep it.
        if self.inbox.is_some() || self.mirror_of.is_some() {
            let limit = self.state.config.idle_timeout;
            (
                tokio::time::Instant::now() + limit,
                format!("no message for {}s", limit.as_secs_f32()),
            )
        } else {
            let limit = self.state.config.hello_timeout;
            (
                tokio::time::Instant::from_std(self.started + limit),
                format!("no Hello within {}s of connecting", limit.as_secs_f32()),
            )
        }
    }

    /// The client said goodbye with `code`: anything but 1001 leaves the room now.
    pub(super) async fn goodbye(&mut self, code: u16) {
        self.state.metrics.closed(code, "client");
        if code != CloseCode::GoingAway.code()
            && let Some((_, inbox)) = &self.inbox
        {
            let _ = inbox.send(ClientCmd::Quit).await;
        }
    }

    /// The end of a reader: what the writer is told (close or gone), and, for a close for
    /// abuse, the room removes the player now. Returns whether the server closed it.
    pub(super) async fn finish(&mut self, result: ReadError) -> bool {
        let (last, drain) = match result {
            ReadError::Close(reason) => {
                let initiator = if reason.code == CloseCode::Normal {
                    "client"
                } else {
                    "server"
                };
                (Last::Close(reason, initiator), initiator == "server")
            }
            ReadError::Gone => (Last::Gone, false),
        };
        let abused = match &last {
            Last::Close(r, _) => matches!(
                r.code,
                CloseCode::PolicyViolation | CloseCode::MessageTooBig | CloseCode::InvalidPayload
            )
            .then_some(r.code),
            _ => None,
        };
        if let Some(tx) = self.to_writer.last.take() {
            let _ = tx.send(last);
        }
        // Closed for abuse: the room removes the player now (no resume grace, a dead token).
        if let (Some(code), Some((_, inbox))) = (abused, &self.inbox) {
            let _ = inbox.send(ClientCmd::Abused(code)).await;
        }
        drain
    }

    /// A datagram: its acknowledgement goes to the room, its message (an `Input` or a `Ping`)
    /// as if it came on the stream.
    pub(super) async fn datagram(&mut self, bytes: &[u8]) -> Result<(), ReadError> {
        let (ack, msg) = tickwire_shared::sync::acked::decode_datagram(bytes, &self.schema)
            .map_err(undecodable)?;
        let Some((_, inbox)) = &self.inbox else {
            return Err(hello_expected());
        };
        if let Some(t) = ack {
            inbox
                .send(ClientCmd::Ack(t))
                .await
                .map_err(|_| room_gone())?;
        }
        match msg {
            Some(m) => self.dispatch(m).await,
            None => Ok(()),
        }
    }

    async fn run<S: Socket>(mut self, mut rd: LeanRead<ReadHalf<S>>) {
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
        let drain = Box::pin(self.finish(result)).await;
        if drain {
            // Keep reading (and discarding) until the peer answers our close or the grace
            // period ends: closing a socket with unread data would reset the connection, and
            // the peer would never see our close code and reason.
            // Boxed: it runs once, at the end (see `handle`).
            let _ = Box::pin(timeout(CLOSE_GRACE, async {
                while let Ok(f) = rd.read_frame().await {
                    if f.opcode == OpCode::Close {
                        break;
                    }
                }
            }))
            .await;
        }
        // Dropping `self` drops the inbox: the room removes the player on its next tick.
    }

    /// Reads one frame; returns a complete binary message, or `None` for control frames and
    /// partial fragments.
    async fn next_message<S: Socket>(
        &mut self,
        rd: &mut LeanRead<ReadHalf<S>>,
        asm: &mut Assembler,
    ) -> Result<Option<Vec<u8>>, ReadError> {
        // Joined: silence for --idle-timeout ends it. Not yet: --hello-timeout from the
        // upgrade, whatever comes before the Hello (pings, empty fragments) or not.
        let (deadline, what) = self.deadline();
        let mut frame = match timeout_at(deadline, rd.read_frame()).await {
            Err(_) => return Err(close_err(CloseCode::Timeout, what)),
            Ok(Err(e)) => return Err(read_error(e)),
            Ok(Ok(f)) => f,
        };
        self.state
            .metrics
            .bytes_received
            .inc_by(frame.payload.len() as u64);
        // RFC 6455 §5.1: a server must close on an unmasked client frame. fastwebsockets
        // unmasks what is masked and passes the rest on as it came.
        if !masked(&mut frame) {
            return Err(close_err(
                CloseCode::ProtocolError,
                "client frames must be masked",
            ));
        }
        // §5.5: fastwebsockets checks the length of pings only.
        if is_control(frame.opcode) && frame.payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(close_err(
                CloseCode::ProtocolError,
                "a control frame carried more than 125 bytes",
            ));
        }
        if frame.opcode != OpCode::Close {
            self.take_token()?;
        }
        match frame.opcode {
            OpCode::Close => {
                let code = match frame.payload.len() {
                    0 => CloseCode::Normal.code(),
                    1 => {
                        return Err(close_err(
                            CloseCode::ProtocolError,
                            "a close frame must carry a two-byte code",
                        ));
                    }
                    _ => u16::from_be_bytes([frame.payload[0], frame.payload[1]]),
                };
                // RFC 6455 §7.4 and §8.1: fail the connection on a code no peer may send and
                // on a reason that is not UTF-8.
                if !close_code_allowed(code) {
                    return Err(close_err(
                        CloseCode::ProtocolError,
                        format!("close code {code} may not be sent"),
                    ));
                }
                if frame.payload.len() > 2 && std::str::from_utf8(&frame.payload[2..]).is_err() {
                    return Err(close_err(
                        CloseCode::InvalidPayload,
                        "the close reason is not valid UTF-8",
                    ));
                }
                debug!(code, "client closed");
                // A deliberate goodbye: leave now instead of waiting for a resume. 1001 is a
                // browser page going away (a reload, a navigation): the player is kept for its
                // resume grace, so the reloaded page takes it back with its saved token.
                self.goodbye(code).await;
                // Echo a normal close; the writer does not count it again.
                Err(ReadError::Close(CloseReason::new(CloseCode::Normal, "")))
            }
            OpCode::Ping => {
                // Replaces a pong the writer has not sent yet: never waits, never queues.
                self.to_writer
                    .pong
                    .put(Bytes::copy_from_slice(&frame.payload));
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

    /// A whole message from the client: the `Hello` before the join, a game message after.
    pub(super) async fn handle(&mut self, bytes: Vec<u8>) -> Result<(), ReadError> {
        if self.mirror_of.is_some() {
            return Err(close_err(
                CloseCode::PolicyViolation,
                "a mirror only receives: send on the session's main connection",
            ));
        }
        if self.inbox.is_none() {
            let hello = first_message(&bytes, &self.state)?;
            // Boxed: these run once a connection, and inline they would make every
            // connection's task as large as their state for its whole life.
            if self.params.mirror == MirrorParam::Attach {
                return Box::pin(self.attach(hello)).await;
            }
            return Box::pin(self.join(hello)).await;
        }
        let msg = decode_client(&bytes, &self.schema).map_err(undecodable)?;
        self.dispatch(msg).await
    }

    async fn dispatch(&mut self, msg: ClientMsg) -> Result<(), ReadError> {
        let msg = match msg {
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
                    &[],
                    &mut pong,
                );
                let len = pong.len() as u64;
                // A writer that is behind has no room: the pong is dropped (a client that
                // does not read does not need it), and the reader never waits.
                if self.to_writer.messages.try_send(Bytes::from(pong)).is_ok() {
                    self.state.metrics.bytes_sent.inc_by(len);
                }
                Ok(())
            }
        }
    }

    /// The room to join here (and whether a new one is public), after the seat token's
    /// check and, in a cluster, the routing: a join that belongs on another node gets a
    /// `Redirect` and close 4007.
    async fn route(
        &mut self,
        resume_token: Option<&str>,
    ) -> Result<(Option<String>, bool), ReadError> {
        use crate::cluster::seats::SeatError;
        let claims = match self.params.seat.as_deref() {
            None => None,
            Some(t) => Some(self.state.seats.verify(t).map_err(|e| match e {
                SeatError::Expired => close_err(CloseCode::SeatExpired, e.to_string()),
                SeatError::Invalid => close_err(CloseCode::Unauthorized, e.to_string()),
            })?),
        };
        if let (Some(c), Some(r)) = (&claims, &self.params.room)
            && c.room != *r
        {
            return Err(close_err(
                CloseCode::Unauthorized,
                format!("the seat token is for room {}, not {r}", c.room),
            ));
        }
        let Some(cluster) = self.state.cluster.clone() else {
            return Ok(match claims {
                Some(c) => (Some(c.room), true),
                None => (self.params.room.clone(), false),
            });
        };
        let state = self.state.clone();
        let route = crate::cluster::route(
            &cluster,
            self.params.room.as_deref(),
            resume_token,
            claims.as_ref().zip(self.params.seat.as_deref()),
            |id| state.rooms.contains(id),
        )
        .await
        .map_err(ReadError::Close)?;
        match route {
            crate::cluster::Route::Local { room, public } => {
                if let Some(c) = &claims
                    && c.node == cluster.node
                    && !cluster.consume(c).await
                {
                    return Err(close_err(
                        CloseCode::SeatExpired,
                        "the seat was already taken or has expired; ask for a new match",
                    ));
                }
                Ok((room, public))
            }
            crate::cluster::Route::Redirect(r) => {
                debug!(to = %r.url, room = %r.room, "redirected to another node");
                let mut bytes = Vec::new();
                encode_server(&ServerMsg::Redirect(r), &self.schema, &[], &mut bytes);
                let _ = self.to_writer.messages.send(Bytes::from(bytes)).await;
                Err(close_err(
                    CloseCode::Moved,
                    "the room is on another node: follow the redirect",
                ))
            }
        }
    }

    /// `?mirror=attach`: this connection becomes the mirror of the session whose resume
    /// token the `Hello` carries (it must be connected and have asked for `?mirror=1`).
    async fn attach(&mut self, hello: Hello) -> Result<(), ReadError> {
        let Some(token) = hello.resume_token else {
            return Err(close_err(
                CloseCode::Unauthorized,
                "a mirror's Hello carries its session's resume token",
            ));
        };
        let (room, attempt) = self
            .state
            .rooms
            .mirror_room(&self.state, &token, self.ip)
            .map_err(ReadError::Close)?;
        let (outbox, kick) = self.link.take().expect("attach happens once");
        let (reply_tx, reply_rx) = oneshot::channel();
        room.cmds
            .send(RoomCmd::Mirror {
                token,
                link: MirrorLink::new(outbox, kick),
                reply: reply_tx,
            })
            .await
            .map_err(|_| room_gone())?;
        match reply_rx.await {
            Ok(Ok(id)) => {
                attempt.succeeded();
                let span = tracing::Span::current();
                span.record("player", tracing::field::display(id));
                span.record("room", tracing::field::display(&room.stats.id));
                debug!(player = %id, "attached as a mirror");
                self.mirror_of = Some(id);
                self.room = Some(room.stats);
                Ok(())
            }
            Ok(Err((reason, link))) => {
                // Held until this reader ends, after its close: the writer must not see the
                // outbox end (1001) before the reason.
                self.refused_mirror = Some(link);
                Err(ReadError::Close(reason))
            }
            Err(_) => Err(room_gone()),
        }
    }

    async fn join(&mut self, hello: Hello) -> Result<(), ReadError> {
        let mut name = hello.name;
        let mut identity = crate::persist::identity(None, self.params.guest.as_deref());
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
            identity = crate::persist::identity(Some(&claims), None);
        }
        let (room, public) = self.route(hello.resume_token.as_deref()).await?;
        let seat = self
            .state
            .rooms
            .reserve(
                &self.state,
                room.as_deref(),
                public,
                hello.resume_token.as_deref(),
                self.ip,
            )
            .map_err(ReadError::Close)?;
        let (outbox, kick) = self.link.take().expect("join happens once");
        let (inbox_tx, inbox_rx) = mpsc::channel(self.state.config.inbox_capacity.max(1));
        let (reply_tx, reply_rx) = oneshot::channel();
        // A refused join's outbox stays open until this reader has closed with the reason:
        // the room drops its end at once, and the writer must not see that (1001) first.
        let keep = outbox.clone();
        let link = ClientLink {
            outbox,
            inbox: inbox_rx,
            kick,
            unreliable: self.unreliable,
            numbering: (self.params.mirror == MirrorParam::Numbered).then(Numbering::default),
        };
        let room = seat.room.clone();
        room.cmds
            .send(RoomCmd::Join {
                name,
                resume_token: hello.resume_token,
                link,
                reply: reply_tx,
                seat,
                identity,
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
                drop(keep);
                Ok(())
            }
            Ok(Err(reason)) => {
                self.refused_outbox = Some(keep);
                Err(ReadError::Close(reason))
            }
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

pub(super) fn undecodable(e: tickwire_shared::sync::wire::WireError) -> ReadError {
    close_err(
        CloseCode::InvalidPayload,
        format!("undecodable message: {}", e.for_people()),
    )
}

fn is_control(op: OpCode) -> bool {
    matches!(op, OpCode::Close | OpCode::Ping | OpCode::Pong)
}

/// The close codes a peer may send (RFC 6455 §7.4.1-7.4.2 and the IANA registry): the
/// defined 1000-1003 and 1007-1011, the registered 1012-1014, and 3000-4999 for libraries
/// and applications. 1004-1006 and 1015 are reserved or must never be sent; 0-999,
/// 1016-2999 and 5000 up are not in use.
fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
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

pub(super) fn hello_expected() -> ReadError {
    close_err(CloseCode::HelloExpected, "the first message must be Hello")
}

fn room_gone() -> ReadError {
    close_err(CloseCode::GoingAway, "room closed")
}

fn read_error(e: WebSocketError) -> ReadError {
    let reason = match e {
        WebSocketError::FrameTooLarge => {
            return close_err(CloseCode::MessageTooBig, "frame over the size limit");
        }
        WebSocketError::InvalidUTF8 => {
            return close_err(CloseCode::InvalidPayload, "invalid UTF-8 in a text frame");
        }
        WebSocketError::UnexpectedEOF
        | WebSocketError::IoError(_)
        | WebSocketError::ConnectionClosed => return ReadError::Gone,
        WebSocketError::ReservedBitsNotZero => "reserved bits set without an extension",
        WebSocketError::InvalidValue => "unknown frame opcode",
        WebSocketError::ControlFrameFragmented => "a control frame was fragmented",
        WebSocketError::PingFrameTooLarge => "a control frame carried more than 125 bytes",
        other => {
            debug!(error = %other, "bad frame");
            "malformed WebSocket framing"
        }
    };
    close_err(CloseCode::ProtocolError, reason)
}

/// Why the writer stops.
pub(super) enum End {
    /// Send this close frame (the reader's, the room's kick). `initiator` is for metrics.
    Close(CloseReason, &'static str),
    /// The server is shutting down.
    Shutdown,
    /// A write waited past `--write-timeout`.
    Stalled,
    /// The peer is gone: no close frame.
    Gone,
}

impl End {
    /// The close frame this end sends, counted in `/metrics` when the server started it;
    /// `None` when the peer is gone (counted as 1006 from the client, nothing to send).
    pub(super) fn into_close(
        self,
        state: &AppState,
        write_timeout: Duration,
    ) -> Option<CloseReason> {
        let (reason, initiator) = match self {
            End::Close(reason, initiator) => (reason, initiator),
            End::Shutdown => (
                CloseReason::new(CloseCode::GoingAway, "server shutting down"),
                "server",
            ),
            End::Stalled => {
                debug!(?write_timeout, "a write waited too long: closing");
                let reason = CloseReason::new(
                    CloseCode::TooSlow,
                    format!(
                        "the connection took no data for {}s",
                        write_timeout.as_secs_f32()
                    ),
                );
                (reason, "server")
            }
            End::Gone => {
                state.metrics.closed(CloseCode::Abnormal.code(), "client");
                return None;
            }
        };
        if initiator == "server" {
            state.metrics.closed(reason.code.code(), "server");
        }
        Some(reason)
    }
}

/// What ends a connection from the writer's side: the reader's last word, the room's kick,
/// shutdown.
pub(super) struct Ends {
    pub(super) last: oneshot::Receiver<Last>,
    pub(super) kick: oneshot::Receiver<CloseReason>,
    pub(super) kick_done: bool,
    pub(super) shutdown: CancellationToken,
}

impl Ends {
    /// Waits for the end. Cancel-safe.
    pub(super) async fn next(&mut self) -> End {
        loop {
            tokio::select! {
                biased;
                l = &mut self.last => {
                    return match l {
                        Ok(Last::Close(reason, initiator)) => End::Close(reason, initiator),
                        Ok(Last::Gone) | Err(_) => End::Gone,
                    };
                }
                k = &mut self.kick, if !self.kick_done => {
                    self.kick_done = true;
                    // A dropped sender is the room letting go without a kick: keep going.
                    if let Ok(reason) = k {
                        return End::Close(reason, "server");
                    }
                }
                _ = self.shutdown.cancelled() => return End::Shutdown,
            }
        }
    }
}

/// What the writer sends when it can: application messages from the reader, the pong slot,
/// the room's outbox.
struct Wants {
    messages: mpsc::Receiver<Bytes>,
    pong: Arc<PongSlot>,
    outbox: mpsc::Receiver<Bytes>,
}

/// The write side: frames are encoded into one buffer and written from it, so a write cut
/// short (by a deadline, by the end of the connection) can be taken up again where it
/// stopped, and a close frame can follow a half-written one.
struct Out<W> {
    w: W,
    buf: Vec<u8>,
    /// How much of `buf` is written.
    pos: usize,
}

/// The buffer kept between writes; a larger one (the `Welcome`, a snapshot) is released once
/// written, so that an idle connection holds none (a new one costs an allocation per write,
/// against a system call per write).
const OUT_KEEP: usize = 128;

impl<W: AsyncWrite + Unpin> Out<W> {
    fn new(w: W) -> Self {
        Out {
            w,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Appends a server frame (unmasked, final) after what is not written yet.
    fn push(&mut self, opcode: OpCode, payload: &[u8]) {
        let len = payload.len();
        self.buf.reserve(len + 10);
        self.buf.push(0x80 | opcode as u8);
        if len < 126 {
            self.buf.push(len as u8);
        } else if let Ok(n) = u16::try_from(len) {
            self.buf.push(126);
            self.buf.extend_from_slice(&n.to_be_bytes());
        } else {
            self.buf.push(127);
            self.buf.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.buf.extend_from_slice(payload);
    }

    /// Writes everything buffered, then flushes (TLS). Cancel-safe: what was written stays
    /// written, and the next call goes on from there.
    async fn drain(&mut self) -> std::io::Result<()> {
        while self.pos < self.buf.len() {
            let n = self.w.write(&self.buf[self.pos..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.pos += n;
        }
        self.w.flush().await?;
        self.buf.clear();
        self.pos = 0;
        if self.buf.capacity() > OUT_KEEP {
            self.buf = Vec::new();
        }
        Ok(())
    }
}

async fn write_loop<S: Socket>(
    mut out: Out<WriteHalf<S>>,
    mut wants: Wants,
    mut ends: Ends,
    state: &AppState,
    close_sent: CancellationToken,
    hang_up: CancellationToken,
) {
    let write_timeout = state.config.write_timeout;
    let mut ping = tokio::time::interval(state.config.ping_interval);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.tick().await;
    let end = loop {
        // Something to write, or the end.
        tokio::select! {
            biased;
            e = ends.next() => break e,
            Some(m) = wants.messages.recv() => out.push(OpCode::Binary, &m),
            () = wants.pong.ready.notified() => {
                if let Some(p) = wants.pong.take() {
                    out.push(OpCode::Pong, &p);
                }
            }
            m = wants.outbox.recv() => match m {
                Some(b) => out.push(OpCode::Binary, &b),
                None => break End::Close(CloseReason::new(CloseCode::GoingAway, "room closed"), "server"),
            },
            _ = ping.tick() => out.push(OpCode::Ping, &[]),
        }
        // Write it within the deadline, still hearing the end. While a write waits, the
        // room's outbox fills (the room skips ticks), pongs coalesce and application pongs
        // are dropped: nothing queues without bound.
        let deadline = tokio::time::Instant::now() + write_timeout;
        tokio::select! {
            biased;
            r = timeout_at(deadline, out.drain()) => match r {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break End::Gone,
                Err(_) => break End::Stalled,
            },
            e = ends.next() => break e,
        }
    };
    // The close frame goes after whatever part of a frame is still unwritten, and gets a
    // second (at most --write-timeout): a peer that takes nothing is not waited for again.
    let Some(reason) = end.into_close(state, write_timeout) else {
        hang_up.cancel();
        return;
    };
    // What the reader queued before it ended goes first (a `Redirect` before its 4007).
    while let Ok(m) = wants.messages.try_recv() {
        out.push(OpCode::Binary, &m);
    }
    let mut payload = Vec::with_capacity(2 + reason.reason.len());
    payload.extend_from_slice(&reason.code.code().to_be_bytes());
    payload.extend_from_slice(reason.reason.as_bytes());
    out.push(OpCode::Close, &payload);
    match timeout(CLOSE_GRACE.min(write_timeout), out.drain()).await {
        Ok(Ok(())) => close_sent.cancel(),
        _ => {
            debug!("the close frame could not be written: dropping the socket");
            hang_up.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use fastwebsockets::{Role, WebSocket};

    /// Most of what an idle connection costs is its task: the state of its reader and writer
    /// futures. Their sizes are fixed by the compiler; this keeps them from creeping back up
    /// (a future moved after it is made is stored twice, for one).
    #[tokio::test]
    async fn a_connection_task_stays_small() {
        let config = Config::ephemeral();
        let game = super::super::driver::GameRooms::bundled(config.game);
        let state = AppState::new(config, game, CancellationToken::new());
        let (_client, server) = tokio::io::duplex(64);
        let ws = WebSocket::after_handshake(server, Role::Server);
        let peer = "127.0.0.1:1".parse().expect("literal address");
        let task = serve(ws, peer, state.clone(), WsParams::default());
        let (_client, server) = tokio::io::duplex(64);
        let (r, w) = tokio::io::split(server);
        let tokens = (CancellationToken::new(), CancellationToken::new());
        let (run, writer) = halves(
            (LeanRead::new(r, 100), w),
            &state,
            WsParams::default(),
            peer.ip(),
            tokens,
        );
        let sizes = (
            std::mem::size_of_val(&task),
            std::mem::size_of_val(&run),
            std::mem::size_of_val(&writer),
        );
        eprintln!(
            "connection task {} B: reader {} B, writer {} B",
            sizes.0, sizes.1, sizes.2
        );
        // Debug builds lay futures out far more loosely.
        let bound = if cfg!(debug_assertions) {
            32 * 1024
        } else {
            4096
        };
        assert!(sizes.0 <= bound, "a connection task takes {} B", sizes.0);
    }
}
