//! A protocol-version-2 client for any game: joins, keeps the [`Replica`] the server's
//! snapshots describe (decoded with the schema from `Welcome`), numbers and repeats input
//! commands until the server acknowledges them, and sends actions, chat and pings.
//!
//! It knows no game: lanes go in and out as the game's schema lays them. Prediction and
//! interpolation sit on top ([`tickwire_shared::sync::netcode::Netcode`] has both); the
//! commands it still holds unacknowledged ([`GameClient::pending`]) are what a predictor
//! replays.

use crate::redirect::{MAX_REDIRECTS, has_seat, redirected_url, without_seat};
use crate::{Client, CloseCode, ConnectError, Received};
use std::time::Duration;
use tickwire_shared::sync::acked::{Applied, Bases, encode_datagram};
use tickwire_shared::sync::inputs::InputHistory;
use tickwire_shared::sync::replica::{Changes, Replica, ReplicaError};
use tickwire_shared::sync::{
    Action, ClientMsg, Event, Hello, InputCmd, PROTOCOL_VERSION, Ping, Pong, Redirect, ServerMsg,
    Welcome, encode_client,
};
use tickwire_shared::{InputSeq, Tick};

/// Why a join failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// No WebSocket.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The server closed instead of welcoming (full, unauthorized, wrong version…).
    #[error("refused with close {code:?}: {reason}")]
    Refused {
        /// Close code.
        code: Option<u16>,
        /// Close reason.
        reason: String,
    },
    /// The server answered something other than a `Welcome`, or nothing in time.
    #[error("no Welcome: {0}")]
    NoWelcome(String),
    /// Nodes kept sending the client elsewhere: more than [`MAX_REDIRECTS`] redirects (or
    /// expired seats) in a row without a `Welcome`, a loop between nodes most likely.
    #[error("gave up after {hops} redirects in a row without a Welcome (last to {last_url})")]
    TooManyRedirects {
        /// Redirects followed.
        hops: usize,
        /// Where the last one pointed.
        last_url: String,
    },
}

/// A client a server welcomed, before any game state: what [`join_raw`] returns.
pub struct Joined {
    /// The connection (to the node that welcomed it).
    pub client: Client,
    /// Its `Welcome`.
    pub welcome: Welcome,
    /// The `Welcome` frame's size, bytes.
    pub welcome_bytes: usize,
    /// Redirects followed (and seat retries) on the way.
    pub redirects: usize,
}

/// Says `hello` on `client` and waits for the `Welcome`, following redirects: a node that
/// answers with a `Redirect` (and closes with 4007, `Moved`) sends the client at once to the
/// redirect's URL with its room and seat (keeping the other query parameters, see
/// [`crate::redirect`]), where the same `hello` goes again; a 4008 (`SeatExpired`) retries the
/// same URL at once without the seat. At most [`MAX_REDIRECTS`] of those in a row. `limit`
/// bounds each connection and each wait for an answer.
pub async fn join_raw(
    mut client: Client,
    hello: &Hello,
    limit: Duration,
) -> Result<Joined, JoinError> {
    let mut out = Vec::new();
    // The schema is not known yet; a Hello does not need one.
    encode_client(
        &ClientMsg::Hello(hello.clone()),
        &tickwire_shared::schema::Schema::new(""),
        &mut out,
    );
    let refused = |code, reason| JoinError::Refused { code, reason };
    let mut hops = 0;
    loop {
        client
            .send_bytes(out.clone())
            .await
            .map_err(|_| refused(None, String::new()))?;
        let next = match answer(&mut client, limit).await? {
            Answer::Welcome(welcome, welcome_bytes) => {
                return Ok(Joined {
                    client,
                    welcome,
                    welcome_bytes,
                    redirects: hops,
                });
            }
            Answer::Redirect(r) => redirected_url(client.url(), &r),
            Answer::Closed(Some(code), _)
                if code == CloseCode::SeatExpired.code() && has_seat(client.url()) =>
            {
                without_seat(client.url())
            }
            Answer::Closed(code, reason) => return Err(refused(code, reason)),
        };
        hops += 1;
        if hops > MAX_REDIRECTS {
            return Err(JoinError::TooManyRedirects {
                hops: hops - 1,
                last_url: next,
            });
        }
        tracing::debug!(url = %next, hops, "following a redirect");
        let again = client.connect_like(&next, limit).await?;
        // The old node closes by itself (4007 follows its Redirect); ours goes as 1000.
        client = again;
    }
}

/// What a node answered a `Hello` with.
enum Answer {
    Welcome(Welcome, usize),
    Redirect(Redirect),
    Closed(Option<u16>, String),
}

async fn answer(client: &mut Client, limit: Duration) -> Result<Answer, JoinError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let frame = tokio::time::timeout_at(deadline, client.recv_frame())
            .await
            .map_err(|_| JoinError::NoWelcome("timed out".into()))?;
        let bytes = match frame {
            Received::Binary(b) => b,
            Received::Closed { code, reason } => return Ok(Answer::Closed(code, reason)),
        };
        match tickwire_shared::sync::decode_server(&bytes, None, &[]) {
            Ok(ServerMsg::Welcome(w)) => return Ok(Answer::Welcome(*w, bytes.len())),
            Ok(ServerMsg::Redirect(r)) => return Ok(Answer::Redirect(r)),
            // A pong to a ping sent before the Welcome carries nothing yet.
            Ok(ServerMsg::Pong(_)) => continue,
            Ok(other) => return Err(JoinError::NoWelcome(format!("{other:?}"))),
            Err(e) => return Err(JoinError::NoWelcome(e.to_string())),
        }
    }
}

/// What [`GameClient::recv`] got.
#[derive(Debug)]
pub enum GameEvent {
    /// A snapshot, applied to the replica.
    Snapshot {
        /// Its tick.
        tick: Tick,
        /// What it changed.
        changes: Changes,
        /// The events it carried.
        events: Vec<Event>,
        /// Whether it carried a checksum (which matched: a mismatch is an error).
        checked: bool,
        /// Frame size, bytes.
        bytes: usize,
    },
    /// The answer to a ping.
    Pong(Pong),
    /// A message that did not decode: the replica is no longer trustworthy (reconnect and
    /// resume for a fresh one).
    Undecodable(String),
    /// A snapshot the replica could not take (its checksum differs, say): client and server
    /// disagree (reconnect and resume for a fresh replica).
    Diverged(ReplicaError),
    /// The connection ended.
    Closed {
        /// Close code (`None`: no close frame).
        code: Option<u16>,
        /// Close reason.
        reason: String,
    },
}

/// A joined client of one room.
pub struct GameClient {
    client: Client,
    /// The server's `Welcome` (schema, player id, resume token…).
    pub welcome: Welcome,
    /// What the server has sent, applied.
    pub replica: Replica,
    next_action: u32,
    /// Commands sent and not yet acknowledged (set its `redundancy` to repeat more or fewer).
    pub inputs: InputHistory,
    redirects: usize,
    /// Over WebTransport: the replicas snapshots are decoded against.
    bases: Bases,
    /// Events of messages 6 not yet handed out with a snapshot.
    events: Vec<Event>,
    /// The newest tick applied over datagrams, and whether a datagram has acknowledged it.
    ack: Option<(Tick, bool)>,
    /// Messages 5 dropped as stale (duplicates, overtaken).
    pub stale: u64,
}

impl GameClient {
    /// Connects to `url` and joins with `name` (and a resume token from an earlier
    /// `Welcome`, to take the same player back).
    pub async fn join(
        url: &str,
        name: &str,
        resume_token: Option<String>,
        limit: Duration,
    ) -> Result<GameClient, JoinError> {
        let client = Client::connect(url, limit).await?;
        Self::join_on(client, Self::hello(name, resume_token), limit).await
    }

    /// Like [`GameClient::join`], over WebTransport when the server offers it and the
    /// session and `Welcome` come within [`crate::webtransport::FALLBACK_AFTER`], else over a
    /// WebSocket ([`GameClient::transport`] says which).
    pub async fn join_auto(
        url: &str,
        name: &str,
        resume_token: Option<String>,
        limit: Duration,
    ) -> Result<GameClient, JoinError> {
        use crate::webtransport::{FALLBACK_AFTER, discover};
        if let Some(info) = discover(url, FALLBACK_AFTER).await {
            let attempt = async {
                let c = Client::connect_webtransport(url, &info, FALLBACK_AFTER).await?;
                Self::join_on(c, Self::hello(name, resume_token.clone()), FALLBACK_AFTER).await
            };
            match attempt.await {
                Ok(g) => return Ok(g),
                // A refusal by the server (full, unauthorised…) is the answer over any
                // transport; anything else is the transport's failure.
                Err(e @ JoinError::Refused { code: Some(_), .. }) => return Err(e),
                Err(e) => tracing::debug!(error = %e, "webtransport join failed: falling back"),
            }
        }
        Self::join(url, name, resume_token, limit).await
    }

    /// Like [`GameClient::join`], with `mirrors` more WebSockets: the session asks for
    /// numbered messages (`?mirror=1`) and each mirror connection gets a copy of every one,
    /// so a lost TCP segment on one connection does not stall the game while another brings
    /// the messages ([`Client::attach_mirror`]). Costs `1 + mirrors` times the bytes from the
    /// server. The game goes on over the main connection if a mirror is refused or ends.
    pub async fn join_mirrored(
        url: &str,
        name: &str,
        resume_token: Option<String>,
        mirrors: usize,
        limit: Duration,
    ) -> Result<GameClient, JoinError> {
        let url = crate::redirect::with_param(url, "mirror", "1");
        let mut g = Self::join(&url, name, resume_token, limit).await?;
        let token = g.welcome.resume_token.clone();
        for _ in 0..mirrors {
            g.client.attach_mirror(&token, limit).await?;
        }
        Ok(g)
    }

    fn hello(name: &str, resume_token: Option<String>) -> Hello {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.into(),
            auth_token: None,
            resume_token,
        }
    }

    /// Says `hello` on a connected client and waits for the `Welcome`, following redirects
    /// to other nodes on the way ([`join_raw`]).
    pub async fn join_on(
        client: Client,
        hello: Hello,
        limit: Duration,
    ) -> Result<GameClient, JoinError> {
        let joined = join_raw(client, &hello, limit).await?;
        Ok(GameClient::from_joined(joined))
    }

    /// Joins with a ticket from [`crate::quick_match`]: connects to its node's URL with its
    /// room and seat ([`crate::MatchTicket::ws_url`]) and says `hello` (following redirects
    /// from there too).
    pub async fn join_ticket(
        ticket: &crate::MatchTicket,
        hello: Hello,
        limit: Duration,
    ) -> Result<GameClient, JoinError> {
        let client = Client::connect(&ticket.ws_url(), limit).await?;
        Self::join_on(client, hello, limit).await
    }

    /// A game client from what [`join_raw`] returned.
    pub fn from_joined(joined: Joined) -> GameClient {
        let Joined {
            client,
            welcome,
            redirects,
            ..
        } = joined;
        let replica = Replica::new(&welcome);
        GameClient {
            client,
            bases: Bases::new(&replica),
            events: Vec::new(),
            ack: None,
            stale: 0,
            replica,
            welcome,
            next_action: 1,
            // A few seconds of commands at 30 a second; the server refuses what is far behind.
            inputs: InputHistory::new(4, 256),
            redirects,
        }
    }

    /// The URL of the node this client plays on (after any redirect).
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// How many redirects the join followed.
    pub fn redirects(&self) -> usize {
        self.redirects
    }

    /// The next thing from the server: snapshots are applied to the replica before they
    /// are returned. Cancel-safe.
    pub async fn recv(&mut self) -> GameEvent {
        loop {
            let bytes = match self.client.recv_frame().await {
                Received::Binary(b) => b,
                Received::Closed { code, reason } => return GameEvent::Closed { code, reason },
            };
            if let Some(e) = self.handle(bytes).await {
                return e;
            }
        }
    }

    /// One server message: `None` for one that hands nothing out (a stale datagram, events
    /// that wait for their snapshot).
    async fn handle(&mut self, bytes: Vec<u8>) -> Option<GameEvent> {
        match tickwire_shared::sync::acked::peek_acked(&bytes) {
            Ok(Some(_)) => return self.acked(bytes).await,
            Ok(None) => {}
            Err(e) => return Some(GameEvent::Undecodable(e.to_string())),
        }
        Some(match self.replica.decode(&bytes) {
            Ok(ServerMsg::Snapshot(s)) => match self.replica.apply(&s) {
                Ok(changes) => {
                    self.inputs.ack(s.ack_input_seq);
                    GameEvent::Snapshot {
                        tick: s.tick,
                        changes,
                        events: s.events,
                        checked: s.checksum.is_some(),
                        bytes: bytes.len(),
                    }
                }
                Err(e) => GameEvent::Diverged(e),
            },
            Ok(ServerMsg::Events(e)) => {
                // Handed out with the next snapshot, as if they had come in it.
                self.events.extend(e.events);
                return None;
            }
            Ok(ServerMsg::Pong(p)) => GameEvent::Pong(p),
            Ok(ServerMsg::Welcome(_)) => GameEvent::Undecodable("a second Welcome".into()),
            // `Replica::decode` turns a tick marker into its snapshot; messages 5 are above.
            Ok(ServerMsg::Marker(_) | ServerMsg::Acked(_)) => {
                GameEvent::Undecodable("a tick marker".into())
            }
            // A server redirects before its Welcome, never after.
            Ok(ServerMsg::Redirect(_)) => {
                GameEvent::Undecodable("a redirect after the welcome".into())
            }
            Err(e) => GameEvent::Undecodable(e.to_string()),
        })
    }

    /// A message 5: applied against its base (stale ones dropped), and acknowledged: by the
    /// next input, or alone when the previous acknowledgement is still unsent.
    async fn acked(&mut self, bytes: Vec<u8>) -> Option<GameEvent> {
        match self.bases.apply(&mut self.replica, &bytes) {
            Err(e) => Some(GameEvent::Diverged(e)),
            Ok(Applied::Stale) => {
                self.stale += 1;
                None
            }
            Ok(Applied::New(s, changes)) => {
                self.inputs.ack(s.ack_input_seq);
                let unsent = self.ack.is_some_and(|(_, sent)| !sent);
                self.ack = Some((s.tick, false));
                if unsent {
                    let d = encode_datagram(Some(s.tick), None, &self.replica.schema);
                    if self.client.send_datagram(d).await.is_ok() {
                        self.ack = Some((s.tick, true));
                    }
                }
                Some(GameEvent::Snapshot {
                    tick: s.tick,
                    changes,
                    events: std::mem::take(&mut self.events),
                    checked: s.checksum.is_some(),
                    bytes: bytes.len(),
                })
            }
        }
    }

    /// The transport underneath.
    pub fn transport(&self) -> crate::Transport {
        self.client.transport()
    }

    /// Like [`GameClient::recv`] but gives up after `limit`.
    pub async fn recv_timeout(&mut self, limit: Duration) -> Option<GameEvent> {
        tokio::time::timeout(limit, self.recv()).await.ok()
    }

    /// Receives until the next snapshot (skipping pongs); `Err` for anything else.
    pub async fn next_snapshot(&mut self, limit: Duration) -> Result<GameEvent, String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.recv()).await {
                Err(_) => return Err("no snapshot in time".into()),
                Ok(GameEvent::Pong(_)) => continue,
                Ok(e @ GameEvent::Snapshot { .. }) => return Ok(e),
                Ok(other) => return Err(format!("{other:?}")),
            }
        }
    }

    /// Numbers a command with the game's input `lanes` and sends it, repeating the newest
    /// unacknowledged ones (so a lost message costs nothing). Returns its seq.
    pub async fn send_input(
        &mut self,
        view_tick: Tick,
        lanes: Vec<i64>,
    ) -> Result<InputSeq, crate::Closed> {
        let cmds = self.inputs.push(view_tick, lanes);
        let seq = cmds.last().map_or(InputSeq(0), |c| c.seq);
        let msg = ClientMsg::Input(cmds);
        if self.client.transport() == crate::Transport::WebTransport {
            // A datagram, carrying the acknowledgement of the newest snapshot applied.
            let ack = self.ack.map(|(t, _)| t);
            let d = encode_datagram(ack, Some(&msg), &self.replica.schema);
            self.client.send_datagram(d).await?;
            if let Some((_, sent)) = self.ack.as_mut() {
                *sent = true;
            }
        } else {
            self.send(&msg).await?;
        }
        Ok(seq)
    }

    /// Commands sent and not yet acknowledged, oldest first (what prediction replays).
    pub fn pending(&self) -> impl Iterator<Item = &InputCmd> + '_ {
        self.inputs.pending()
    }

    /// Sends an action (`kind` indexes the schema's actions); returns its seq, which a
    /// `rejected` event names if the game refuses it.
    pub async fn action(
        &mut self,
        kind: u16,
        values: Vec<tickwire_shared::sync::Value>,
    ) -> Result<u32, crate::Closed> {
        let seq = self.next_action;
        self.next_action += 1;
        self.send(&ClientMsg::Action(Action { seq, kind, values }))
            .await?;
        Ok(seq)
    }

    /// Sends a chat line.
    pub async fn chat(&self, text: &str) -> Result<(), crate::Closed> {
        self.send(&ClientMsg::Chat(text.into())).await
    }

    /// Sends a ping (`client_time` comes back in the pong).
    pub async fn ping(&self, client_time: u32) -> Result<(), crate::Closed> {
        self.send(&ClientMsg::Ping(Ping { client_time })).await
    }

    /// Encodes and sends any client message.
    pub async fn send(&self, msg: &ClientMsg) -> Result<(), crate::Closed> {
        let mut out = Vec::new();
        encode_client(msg, &self.replica.schema, &mut out);
        self.client.send_bytes(out).await
    }

    /// The connection underneath (raw frames, close, abort).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Drops the connection without a close frame, as a network failure would (the server
    /// keeps the player for a resume).
    pub fn abort(self) {
        self.client.abort();
    }

    /// Leaves for good (a normal close: the server removes the player at once).
    pub async fn leave(mut self) {
        self.client.close(crate::CloseCode::Normal, "bye").await;
        let _ = self.client.wait_closed(Duration::from_secs(2)).await;
    }
}
