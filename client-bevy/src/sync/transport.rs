//! The socket side of the client: a background thread running a tokio runtime that owns the
//! WebSocket ([`tickwire_client::Client`]), says `Hello` (with the last resume token),
//! reconnects with backoff, optionally delays traffic to simulate lag, and talks to Bevy
//! systems through two channels. It never touches game state: frames go to Bevy as they
//! arrive (decoding a snapshot needs the replica, which lives there), and Bevy sends frames it
//! encoded with the game's schema. The only messages it reads are the `Welcome`, for the resume
//! token, and a `Redirect` before it: a node of a cluster sending the client to another
//! (docs/SCALING.md). It follows at once, with the same `Hello`, to the redirect's URL with its
//! room and seat (the URL's other query parameters kept), at most
//! [`MAX_REDIRECTS`](tickwire_client::redirect::MAX_REDIRECTS) in a row before it counts as a
//! failed attempt (backoff, then the configured URL again); a 4008 (the seat expired) retries
//! at once without the seat. After a `Welcome` it reconnects to the node that welcomed it, and
//! to the configured URL when that node cannot be reached.

use super::backoff::Backoff;
use super::delay_line::DelayLine;
use super::status::{Disconnect, LinkStatus};
use rand::Rng;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tickwire_client::redirect::{MAX_REDIRECTS, has_seat, redirected_url, without_seat};
use tickwire_client::{Client, CloseCode, Received, Retry, Transport};
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::{
    ClientMsg, Hello, PROTOCOL_VERSION, Redirect, ServerMsg, decode_server, encode_client,
};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::sleep_until;

/// How to reach the server and how to behave when the link drops.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// `ws://host:port/ws`.
    pub url: String,
    /// Display name sent in `Hello`.
    pub name: String,
    /// Simulated one-way latency added to every message in each direction.
    pub lag: Duration,
    /// First reconnect delay.
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_cap: Duration,
    /// Time allowed for TCP connect plus the WebSocket handshake.
    pub connect_timeout: Duration,
    /// Mirror WebSockets per session (0: none, and WebTransport is tried first). With any, the
    /// client connects over a WebSocket asking for numbered messages (`?mirror=1`) and, once
    /// welcomed, attaches this many mirrors, each bringing a copy of every room message, so a
    /// TCP stall of one connection does not stall the game (docs/PROTOCOL.md, "Mirrored
    /// streams").
    pub mirrors: usize,
}

impl LinkConfig {
    /// Defaults for `url` and `name`: no lag, reconnects from 0.5 s up to 8 s.
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> LinkConfig {
        LinkConfig {
            url: url.into(),
            name: name.into(),
            lag: Duration::ZERO,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(8),
            connect_timeout: Duration::from_secs(5),
            mirrors: 0,
        }
    }
}

/// From Bevy to the socket thread.
#[derive(Debug)]
pub enum ToNet {
    /// Send this encoded message (dropped when not connected).
    Send(Vec<u8>),
    /// Send this as a datagram (over WebTransport; a WebSocket sends it as a message).
    Datagram(Vec<u8>),
    /// Drop the current connection (or stop waiting) and connect again now.
    Reconnect(Disconnect),
    /// Close the current connection and do not reconnect until asked (`Reconnect`).
    Stop(Disconnect),
    /// Close politely and end the thread.
    Shutdown,
}

/// From the socket thread to Bevy.
#[derive(Debug)]
pub enum FromNet {
    /// The link changed state.
    Status(LinkStatus),
    /// A binary frame from the server and when it arrived (after any simulated lag).
    Frame(Vec<u8>, Instant),
    /// A connection is up, over this transport (before its `Hello`).
    Connected(Transport),
    /// Mirror connections now attached to the session (see [`LinkConfig::mirrors`]).
    Mirrors(usize),
}

/// Bevy's end of the link: the two channels and the thread. Dropping it shuts the thread down.
pub struct NetLink {
    to_net: UnboundedSender<ToNet>,
    from_net: UnboundedReceiver<FromNet>,
    thread: Option<JoinHandle<()>>,
}

impl NetLink {
    /// Starts the socket thread; it begins connecting at once.
    pub fn spawn(config: LinkConfig) -> std::io::Result<NetLink> {
        let (to_net, cmds) = mpsc::unbounded_channel();
        let (events, from_net) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("tickwire-net".into())
            .spawn(move || runtime.block_on(run_link(config, cmds, events)))?;
        Ok(NetLink {
            to_net,
            from_net,
            thread: Some(thread),
        })
    }

    /// Queues a command for the socket thread.
    pub fn command(&self, cmd: ToNet) {
        // Fails only when the thread has ended, and then there is nobody to tell.
        let _ = self.to_net.send(cmd);
    }

    /// Queues an encoded message for the server.
    pub fn send(&self, bytes: Vec<u8>) {
        self.command(ToNet::Send(bytes));
    }

    /// The next event from the socket thread, without waiting.
    pub fn try_recv(&mut self) -> Option<FromNet> {
        self.from_net.try_recv().ok()
    }
}

impl Drop for NetLink {
    fn drop(&mut self) {
        let _ = self.to_net.send(ToNet::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How a session ended.
enum SessionEnd {
    /// Bevy asked the thread to stop.
    Shutdown,
    /// The connection ended; `welcomed` tells whether it got as far as `Welcome`.
    Lost { cause: Disconnect, welcomed: bool },
    /// The node sent the client elsewhere before any `Welcome`.
    Redirected(Redirect),
}

/// The thread's whole life: connect, play, and reconnect until told to stop.
async fn run_link(
    config: LinkConfig,
    mut cmds: UnboundedReceiver<ToNet>,
    events: UnboundedSender<FromNet>,
) {
    let emit = |e: FromNet| {
        let _ = events.send(e);
    };
    let mut backoff = Backoff::new(config.backoff_base, config.backoff_cap);
    let mut resume_token: Option<String> = None;
    // Where the next connection goes: the configured URL, or where a redirect sent us.
    let mut url = config.url.clone();
    // Redirects (and seat retries) since the last Welcome.
    let mut hops = 0;
    loop {
        emit(FromNet::Status(LinkStatus::Connecting {
            attempt: backoff.failures() + 1,
        }));
        let connected = tokio::select! {
            // WebTransport when the server offers it and it comes up in time, else WebSocket;
            // a WebSocket with numbered messages when mirrors are asked for.
            c = connect(&config, &url) => Some(c),
            stop = wait_for_stop(&mut cmds) => if stop { return } else { None },
        };
        let cause = match connected {
            // Asked to reconnect while connecting: start over at once.
            None => continue,
            Some(Err(e)) => {
                // A node that cannot be reached: the configured URL finds where the room went.
                url = config.url.clone();
                Disconnect::Unreachable(e.to_string())
            }
            Some(Ok(client)) => {
                emit(FromNet::Connected(client.transport()));
                match run_session(&config, client, &mut resume_token, &mut cmds, &events).await {
                    SessionEnd::Shutdown => return,
                    SessionEnd::Redirected(r) if hops < MAX_REDIRECTS => {
                        hops += 1;
                        url = redirected_url(&url, &r);
                        tracing::info!(%url, hops, "redirected to another node");
                        continue;
                    }
                    SessionEnd::Redirected(r) => {
                        hops = 0;
                        url = config.url.clone();
                        Disconnect::Closed {
                            code: Some(CloseCode::Moved.code()),
                            reason: format!(
                                "redirected {} times in a row without a welcome (last to {})",
                                MAX_REDIRECTS + 1,
                                r.url
                            ),
                        }
                    }
                    SessionEnd::Lost { cause, welcomed } => {
                        if welcomed {
                            backoff.reset();
                            hops = 0;
                            // The seat is spent: come back to this node and room without it.
                            url = without_seat(&url);
                        }
                        if let Disconnect::Closed { code: Some(c), .. } = &cause
                            && *c == CloseCode::SeatExpired.code()
                            && has_seat(&url)
                        {
                            url = without_seat(&url);
                            if hops < MAX_REDIRECTS {
                                hops += 1;
                                continue;
                            }
                        }
                        cause
                    }
                }
            }
        };
        let retry = cause.retry();
        if retry == Retry::Never {
            tracing::info!(reason = %cause.describe(), "disconnected; not retrying");
            emit(FromNet::Status(LinkStatus::Stopped { cause }));
            // Wait for the player to ask again.
            loop {
                match cmds.recv().await {
                    None | Some(ToNet::Shutdown) => return,
                    Some(ToNet::Reconnect(_)) => break,
                    Some(ToNet::Send(_) | ToNet::Datagram(_) | ToNet::Stop(_)) => {}
                }
            }
            backoff.reset();
            continue;
        }
        if matches!(cause, Disconnect::Diverged(_)) {
            // Our own decision to resync: no reason to wait.
            continue;
        }
        let jitter = rand::rng().random::<f64>();
        let delay = match retry {
            // Turned away for load (a full room): the long wait every time.
            Retry::Later => backoff.longest_delay(jitter),
            _ => backoff.next_delay(jitter),
        };
        let at = Instant::now() + delay;
        tracing::info!(reason = %cause.describe(), ?delay, "disconnected; retrying");
        emit(FromNet::Status(LinkStatus::Retrying { at, cause }));
        tokio::select! {
            _ = sleep_until(at.into()) => {}
            stop = wait_for_stop(&mut cmds) => if stop { return },
        }
    }
}

/// Waits for `Shutdown` (true) or `Reconnect` (false), dropping messages meant for a server
/// we are not connected to.
async fn wait_for_stop(cmds: &mut UnboundedReceiver<ToNet>) -> bool {
    loop {
        match cmds.recv().await {
            None | Some(ToNet::Shutdown) => return true,
            Some(ToNet::Reconnect(_)) => return false,
            Some(ToNet::Send(_) | ToNet::Datagram(_) | ToNet::Stop(_)) => {}
        }
    }
}

async fn connect(config: &LinkConfig, url: &str) -> Result<Client, tickwire_client::ConnectError> {
    if config.mirrors == 0 {
        return Client::connect_auto(url, config.connect_timeout).await;
    }
    let url = tickwire_client::redirect::with_param(url, "mirror", "1");
    Client::connect(&url, config.connect_timeout).await
}

/// Attaches `config.mirrors` mirror connections to the session that was just welcomed (a
/// refused or failed one leaves the session on its other connections) and says how many.
async fn attach_mirrors(
    config: &LinkConfig,
    client: &mut Client,
    token: &str,
    events: &UnboundedSender<FromNet>,
) {
    if config.mirrors == 0 {
        return;
    }
    for _ in 0..config.mirrors {
        if let Err(e) = client.attach_mirror(token, config.connect_timeout).await {
            tracing::warn!(error = %e, "no mirror connection");
            break;
        }
    }
    let _ = events.send(FromNet::Mirrors(client.mirror_stats().attached));
}

/// One connection: `Hello`, then messages both ways until it ends.
async fn run_session(
    config: &LinkConfig,
    mut client: Client,
    resume_token: &mut Option<String>,
    cmds: &mut UnboundedReceiver<ToNet>,
    events: &UnboundedSender<FromNet>,
) -> SessionEnd {
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: config.name.clone(),
        auth_token: None,
        resume_token: resume_token.clone(),
    });
    let mut bytes = Vec::new();
    // A Hello does not depend on the game's schema, which is not known yet.
    encode_client(&hello, &Schema::new(""), &mut bytes);
    let resuming = resume_token.is_some();
    if client.send_bytes(bytes).await.is_err() {
        return SessionEnd::Lost {
            cause: Disconnect::Closed {
                code: None,
                reason: String::new(),
            },
            welcomed: false,
        };
    }
    let _ = events.send(FromNet::Status(LinkStatus::Joining { resuming }));
    let mut welcomed = false;
    let mut abort = false;
    let mut inbound: DelayLine<FromNet> = DelayLine::new(config.lag);
    // (bytes, as a datagram)
    let mut outbound: DelayLine<(Vec<u8>, bool)> = DelayLine::new(config.lag);
    let far_future = || tokio::time::Instant::now() + Duration::from_secs(3600);
    let end = loop {
        let next_in = inbound
            .next_due()
            .map(Into::into)
            .unwrap_or_else(far_future);
        let next_out = outbound
            .next_due()
            .map(Into::into)
            .unwrap_or_else(far_future);
        tokio::select! {
            incoming = client.recv_frame() => match incoming {
                Received::Binary(bytes) => {
                    if !welcomed {
                        match decode_server(&bytes, None, &[]) {
                            Ok(ServerMsg::Welcome(w)) => {
                                welcomed = true;
                                *resume_token =
                                    (!w.resume_token.is_empty()).then_some(w.resume_token);
                                if let Some(token) = resume_token.as_deref() {
                                    attach_mirrors(config, &mut client, token, events).await;
                                }
                            }
                            // Go there at once (the node closes with 4007 by itself); Bevy
                            // never sees it.
                            Ok(ServerMsg::Redirect(r)) => break SessionEnd::Redirected(r),
                            _ => {}
                        }
                    }
                    inbound.push(Instant::now(), FromNet::Frame(bytes, Instant::now()));
                }
                Received::Closed { code, reason } => {
                    break SessionEnd::Lost { cause: Disconnect::Closed { code, reason }, welcomed };
                }
            },
            cmd = cmds.recv() => match cmd {
                Some(ToNet::Send(msg)) => outbound.push(Instant::now(), (msg, false)),
                Some(ToNet::Datagram(d)) => outbound.push(Instant::now(), (d, true)),
                Some(ToNet::Reconnect(cause)) => {
                    // Drop the socket without a goodbye, so the server keeps the player for
                    // a resume instead of removing it.
                    abort = true;
                    break SessionEnd::Lost { cause, welcomed };
                }
                Some(ToNet::Stop(cause)) => {
                    goodbye(&mut client).await;
                    break SessionEnd::Lost { cause, welcomed };
                }
                None | Some(ToNet::Shutdown) => {
                    goodbye(&mut client).await;
                    break SessionEnd::Shutdown;
                }
            },
            _ = sleep_until(next_in) => {
                let now = Instant::now();
                while let Some(item) = inbound.pop_due(now) {
                    let item = match item {
                        // Stamp arrival after the simulated delay, as a slow link would.
                        FromNet::Frame(bytes, _) => FromNet::Frame(bytes, now),
                        other => other,
                    };
                    let _ = events.send(item);
                }
            }
            _ = sleep_until(next_out) => {
                while let Some((bytes, datagram)) = outbound.pop_due(Instant::now()) {
                    let sent = if datagram {
                        client.send_datagram(bytes).await
                    } else {
                        client.send_bytes(bytes).await
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            }
        }
    };
    if abort {
        client.abort();
    } else {
        // What already arrived is still worth showing (kill events, the last positions).
        for item in inbound.drain() {
            let _ = events.send(item);
        }
    }
    end
}

/// Closes with 1000 and waits (a second at most) for the server's echo, so the close frame is
/// on the wire before the thread ends: without it the server would keep the player for a
/// resume that never comes.
async fn goodbye(client: &mut Client) {
    client.close(CloseCode::Normal, "bye").await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while !matches!(client.recv_frame().await, Received::Closed { .. }) {}
    })
    .await;
}
