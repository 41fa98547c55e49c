//! One simulated player of any game. [`BotState`] is the sans-IO part: it keeps the bot's
//! [`Replica`] (protocol version 2, decoded with the schema from `Welcome`), checks every
//! snapshot (and its checksum, when the server sends one), counts what arrives, and asks the
//! game's [`BotBrain`] for each input. [`run_bot`] is the driver: it connects with
//! `tickwire-client` (first asking `POST /match` for a seat when the plan has a match URL),
//! says `Hello` (following a cluster's redirects to the node that holds its room), then sends
//! inputs, pings and chat on timers until told to stop, and closes the socket cleanly.

use crate::live::Live;
use crate::stats::{BotOutcome, BotStats, Ending};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tickwire_client::Transport;
use tickwire_client::webtransport::discover;
use tickwire_client::{Client, Joined, Received, join_raw, quick_match};
use tickwire_shared::Tick;
use tickwire_shared::close::CloseCode;
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::acked::{Applied, Bases, encode_datagram, peek_acked};
use tickwire_shared::sync::bot::BotBrain;
use tickwire_shared::sync::inputs::InputHistory;
use tickwire_shared::sync::replica::{Replica, ReplicaError};
use tickwire_shared::sync::{
    Action, ClientMsg, Hello, PROTOCOL_VERSION, Ping, ServerMsg, Snapshot, Welcome, encode_client,
};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// What a bot does, the same for every bot of a run.
#[derive(Debug, Clone)]
pub struct BotPlan {
    /// `ws://host:port/path`.
    pub url: String,
    /// `http://host:port/match`: each bot asks it for a seat (a ticket) and connects to the
    /// ticket's node and room instead of `url`.
    pub match_url: Option<String>,
    /// The game bots expect (its schema name; a server playing another is an error).
    pub game: String,
    /// How they play (a behaviour of that game).
    pub behaviour: String,
    /// Input commands per second (0 = none).
    pub input_rate: f64,
    /// Time between application pings.
    pub ping_interval: Duration,
    /// Time between chat lines (`None` = no chat).
    pub chat_interval: Option<Duration>,
    /// Limit for TCP connect + WebSocket handshake + `Welcome`.
    pub connect_timeout: Duration,
    /// Base seed; bot `i` uses `seed + i`.
    pub seed: u64,
    /// `websocket`, `webtransport` (snapshots as messages 5 and inputs as datagrams), `auto`
    /// (WebTransport when offered, else WebSocket), or `websocket-mirror` (a second
    /// WebSocket mirroring the room's messages).
    pub transport: String,
    /// Source addresses to connect from, bot `i` from the `i % len`-th (none: the system's
    /// choice).
    pub local_addrs: Vec<std::net::IpAddr>,
    /// TLS settings for `wss://` (`None`: the public roots).
    pub tls: Option<Arc<tickwire_client::ClientConfig>>,
}

/// What the bot did with one server message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A snapshot applied; `verified` when it carried a checksum that matched.
    Snapshot {
        /// Whether a checksum was checked.
        verified: bool,
    },
    /// A snapshot whose checksum disagreed with the replica.
    Divergence,
    /// A snapshot the replica could not apply.
    ReplicaError,
    /// A message that did not decode.
    Undecodable,
    /// A pong, with the round-trip time it measured (also recorded in the stats).
    Pong(Duration),
    /// Anything else.
    Other,
}

/// Most unacknowledged commands a bot keeps (and repeats the newest few of).
const PENDING: usize = 64;
/// How many of the newest unacknowledged commands each input message carries.
const REDUNDANCY: usize = 3;

/// A bot's view of the game and its counters, without any I/O.
pub struct BotState {
    /// The bot's copy of its view.
    pub replica: Replica,
    /// Counters.
    pub stats: BotStats,
    brain: Box<dyn BotBrain>,
    tick_period: Duration,
    /// When the last snapshot came, its tick, and whether the replica was still after it (then
    /// the server sends no frame until something moves, and a silence is not a missed tick).
    last_snapshot: Option<(Instant, Tick, bool)>,
    /// After an error the replica is unusable; later snapshots are only counted.
    broken: bool,
    /// Time base of ping timestamps.
    epoch: Instant,
    next_action: u32,
    inputs: InputHistory,
    /// Over WebTransport: the replicas its snapshots are against.
    bases: Bases,
    /// The newest tick applied over datagrams, and whether a datagram has acknowledged it.
    ack: Option<(Tick, bool)>,
    /// A lone acknowledgement to send now (two snapshots came without an input between).
    lone_ack: Option<Tick>,
}

impl BotState {
    /// A bot that has just been welcomed.
    pub fn new(welcome: &Welcome, brain: Box<dyn BotBrain>, epoch: Instant) -> BotState {
        BotState {
            replica: Replica::new(welcome),
            stats: BotStats {
                checksum_interval: welcome.checksum_interval,
                ..BotStats::default()
            },
            brain,
            tick_period: Duration::from_secs_f64(1.0 / f64::from(welcome.tick_rate.max(1))),
            last_snapshot: None,
            broken: false,
            epoch,
            next_action: 1,
            inputs: InputHistory::new(REDUNDANCY, PENDING),
            bases: Bases::new(&Replica::new(welcome)),
            ack: None,
            lone_ack: None,
        }
    }

    /// The schema messages are encoded with.
    pub fn schema(&self) -> &Schema {
        &self.replica.schema
    }

    /// Handles one server message (its frame payload) that arrived at `now`.
    pub fn on_frame(&mut self, bytes: &[u8], now: Instant) -> Seen {
        self.stats.msgs_in += 1;
        self.stats.bytes_in += bytes.len() as u64;
        if self.broken {
            // Nothing decodes reliably once the replica is off (updates name what it holds);
            // count snapshots by their first byte only.
            if matches!(bytes.first(), Some(&1 | &5)) {
                self.stats.snapshots += 1;
                self.stats.snapshot_bytes += bytes.len() as u64;
            }
            return Seen::Other;
        }
        match peek_acked(bytes) {
            Ok(Some(_)) => {
                let applied = match self.bases.apply(&mut self.replica, bytes) {
                    Ok(Applied::Stale) => return Seen::Other,
                    Ok(Applied::New(snap, _)) => {
                        if self.ack.is_some_and(|(_, sent)| !sent) {
                            self.lone_ack = Some(snap.tick);
                            self.ack = Some((snap.tick, true));
                        } else {
                            self.ack = Some((snap.tick, false));
                        }
                        Ok(snap)
                    }
                    Err(e) => Err(e),
                };
                return self.after_snapshot(applied, bytes.len(), now);
            }
            Ok(None) => {}
            Err(_) => {
                self.stats.undecodable += 1;
                self.broken = true;
                return Seen::Undecodable;
            }
        }
        let msg = match self.replica.decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.stats.undecodable += 1;
                self.broken = true;
                return Seen::Undecodable;
            }
        };
        match msg {
            ServerMsg::Snapshot(snap) => {
                let applied = self.replica.apply(&snap).map(|_| Box::new(snap));
                self.after_snapshot(applied, bytes.len(), now)
            }
            ServerMsg::Pong(p) => {
                let now_us = self.micros(now);
                let rtt = Duration::from_micros(u64::from(now_us.wrapping_sub(p.client_time)));
                self.stats.rtt.record(rtt);
                Seen::Pong(rtt)
            }
            // `Replica::decode` turns a tick marker into its snapshot; messages 5 are applied
            // above, and the events of messages 6 mean nothing to a bot.
            ServerMsg::Welcome(_)
            | ServerMsg::Marker(_)
            | ServerMsg::Redirect(_)
            | ServerMsg::Acked(_)
            | ServerMsg::Events(_) => Seen::Other,
        }
    }

    /// Counts a snapshot applied (or refused) that arrived at `now` in `len` bytes.
    fn after_snapshot(
        &mut self,
        applied: Result<Box<Snapshot>, ReplicaError>,
        len: usize,
        now: Instant,
    ) -> Seen {
        self.stats.snapshots += 1;
        self.stats.snapshot_bytes += len as u64;
        let snap = match applied {
            Ok(s) => s,
            Err(ReplicaError::ChecksumMismatch { .. }) => {
                // The tables differ; every later checksum would too. Count it once and stop
                // checking this bot.
                self.stats.divergences += 1;
                self.broken = true;
                return Seen::Divergence;
            }
            Err(_) => {
                self.stats.replica_errors += 1;
                self.broken = true;
                return Seen::ReplicaError;
            }
        };
        self.stats.entity_updates += snap.updated.len() as u64;
        if let Some((at, tick, still)) = self.last_snapshot
            && !still
        {
            let gap = now.saturating_duration_since(at);
            self.stats.jitter.record(gap.abs_diff(self.tick_period));
            self.stats.missed_ticks += u64::from(snap.tick.since(tick).saturating_sub(1));
        }
        let still = self.replica.is_still();
        self.last_snapshot = Some((now, snap.tick, still));
        self.inputs.ack(snap.ack_input_seq);
        self.stats.entities_in_view += self.replica.entities.len() as u64;
        let verified = snap.checksum.is_some();
        self.stats.checksums_verified += u64::from(verified);
        Seen::Snapshot { verified }
    }

    /// Over WebTransport: the acknowledgement for the next datagram (marked sent).
    pub fn take_ack(&mut self) -> Option<Tick> {
        self.ack.as_mut().map(|(t, sent)| {
            *sent = true;
            *t
        })
    }

    /// Over WebTransport: a lone acknowledgement due now, if any.
    pub fn lone_ack(&mut self) -> Option<Tick> {
        self.lone_ack.take()
    }

    fn micros(&self, now: Instant) -> u32 {
        // Wraps after 71 minutes; runs are bounded well below that and wrapping_sub copes.
        now.saturating_duration_since(self.epoch).as_micros() as u32
    }

    /// The next input message (the brain's new command after the newest unacknowledged
    /// ones), and an action when the brain wants one.
    pub fn input(&mut self, input_rate: f64) -> (ClientMsg, Option<ClientMsg>) {
        let lanes = self.brain.next_input(&self.replica, input_rate);
        let input = ClientMsg::Input(self.inputs.push(self.replica.tick, lanes));
        let action = self.brain.next_action(&self.replica).map(|(kind, values)| {
            let seq = self.next_action;
            self.next_action += 1;
            ClientMsg::Action(Action { seq, kind, values })
        });
        (input, action)
    }

    /// A ping stamped with `now`.
    pub fn ping(&self, now: Instant) -> ClientMsg {
        ClientMsg::Ping(Ping {
            client_time: self.micros(now),
        })
    }

    /// Whether a checksum disagreed or a snapshot could not be applied.
    pub fn is_broken(&self) -> bool {
        self.broken
    }
}

async fn send(client: &Client, state: &mut BotState, live: &Live, msg: &ClientMsg) -> bool {
    let mut payload = Vec::new();
    encode_client(msg, state.schema(), &mut payload);
    send_payload(client, state, live, payload, false).await
}

/// Over WebTransport an input goes as a datagram carrying the acknowledgement.
async fn send_input(client: &Client, state: &mut BotState, live: &Live, msg: &ClientMsg) -> bool {
    if client.transport() != Transport::WebTransport {
        return send(client, state, live, msg).await;
    }
    let ack = state.take_ack();
    let payload = encode_datagram(ack, Some(msg), state.schema());
    send_payload(client, state, live, payload, true).await
}

async fn send_payload(
    client: &Client,
    state: &mut BotState,
    live: &Live,
    payload: Vec<u8>,
    datagram: bool,
) -> bool {
    let len = payload.len() as u64;
    let sent = if datagram {
        client.send_datagram(payload).await.is_ok()
    } else {
        client.send_bytes(payload).await.is_ok()
    };
    if sent {
        state.stats.msgs_out += 1;
        state.stats.bytes_out += len;
        live.bytes_out.fetch_add(len, Ordering::Relaxed);
    }
    sent
}

/// A bot that got its `Welcome`.
struct Seated {
    joined: Joined,
    /// From the start of `POST /match` to the `Welcome` (with a match URL only).
    time_to_seat: Option<Duration>,
}

/// Asks for a seat when the plan has a match URL, connects and says `Hello` (following
/// redirects); the client, its `Welcome` and how it got there.
async fn connect(plan: &BotPlan, index: usize, name: &str) -> Result<Seated, String> {
    let attempt = async {
        let started = Instant::now();
        let url = match &plan.match_url {
            Some(m) => quick_match(m, Some(&plan.game), plan.connect_timeout)
                .await
                .map_err(|e| format!("match: {e}"))?
                .ws_url(),
            None => plan.url.clone(),
        };
        let client = match plan.transport.as_str() {
            "webtransport" => {
                let info = discover(&url, plan.connect_timeout)
                    .await
                    .ok_or("the server offers no WebTransport (GET /webtransport)")?;
                Client::connect_webtransport(&url, &info, plan.connect_timeout).await
            }
            "auto" => Client::connect_auto(&url, plan.connect_timeout).await,
            "websocket-mirror" => {
                let url = tickwire_client::redirect::with_param(&url, "mirror", "1");
                connect_ws(plan, index, &url).await
            }
            _ => connect_ws(plan, index, &url).await,
        }
        .map_err(|e| e.to_string())?;
        let hello = Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.into(),
            auth_token: None,
            resume_token: None,
        };
        let mut joined = join_raw(client, &hello, plan.connect_timeout)
            .await
            .map_err(|e| match e {
                tickwire_client::JoinError::Refused { code, reason } => format!(
                    "closed before welcome: {} {reason}",
                    code.map_or_else(|| "none".into(), |c| c.to_string())
                ),
                other => other.to_string(),
            })?;
        if plan.transport == "websocket-mirror" {
            let token = joined.welcome.resume_token.clone();
            joined
                .client
                .attach_mirror(&token, plan.connect_timeout)
                .await
                .map_err(|e| format!("mirror: {e}"))?;
        }
        Ok(Seated {
            joined,
            time_to_seat: plan.match_url.is_some().then(|| started.elapsed()),
        })
    };
    tokio::time::timeout(plan.connect_timeout, attempt)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// A WebSocket from the bot's source address, if the plan gives any (its mirror then comes
/// from the same one), with the plan's TLS settings.
async fn connect_ws(
    plan: &BotPlan,
    index: usize,
    url: &str,
) -> Result<Client, tickwire_client::ConnectError> {
    let local = plan
        .local_addrs
        .get(index % plan.local_addrs.len().max(1))
        .copied();
    Client::connect_from_with(url, local, plan.connect_timeout, plan.tls.clone()).await
}

/// Runs bot number `index` until `stop` fires or the server ends the connection.
pub async fn run_bot(
    index: usize,
    plan: Arc<BotPlan>,
    live: Arc<Live>,
    stop: CancellationToken,
) -> BotOutcome {
    let name = format!("bot{index}");
    let seated = tokio::select! {
        r = connect(&plan, index, &name) => match r {
            Ok(x) => x,
            Err(reason) => {
                live.failed.fetch_add(1, Ordering::Relaxed);
                return BotOutcome { ending: Ending::ConnectFailed(reason), stats: BotStats::default() };
            }
        },
        _ = stop.cancelled() => {
            live.failed.fetch_add(1, Ordering::Relaxed);
            return BotOutcome { ending: Ending::ConnectFailed("stopped before connecting".into()), stats: BotStats::default() };
        }
    };
    let Seated {
        joined:
            Joined {
                mut client,
                welcome,
                welcome_bytes: welcome_len,
                redirects,
            },
        time_to_seat,
    } = seated;
    let seed = plan.seed.wrapping_add(index as u64);
    let brain = if welcome.schema.game == plan.game {
        crate::behaviour::brain(&plan.game, &plan.behaviour, index, seed)
    } else {
        Err(format!(
            "the server plays {:?}, not {:?}",
            welcome.schema.game, plan.game
        ))
    };
    let brain = match brain {
        Ok(b) => b,
        Err(reason) => {
            client.close(CloseCode::Normal, "wrong game").await;
            live.failed.fetch_add(1, Ordering::Relaxed);
            return BotOutcome {
                ending: Ending::ConnectFailed(reason),
                stats: BotStats::default(),
            };
        }
    };
    live.connected.fetch_add(1, Ordering::Relaxed);
    let connected_at = Instant::now();
    let mut state = BotState::new(&welcome, brain, live.epoch);
    state.stats.msgs_in += 1;
    state.stats.bytes_in += welcome_len as u64;
    state.stats.redirects += redirects as u64;
    if let Some(t) = time_to_seat {
        state.stats.matches += 1;
        state.stats.time_to_seat.record(t);
    }

    // Timers start at a per-bot offset so bots do not all send in the same instant.
    let offset = |period: Duration| period.mul_f64((seed % 1000) as f64 / 1000.0);
    let make = |period: Duration| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset(period), period);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    };
    let input_period =
        (plan.input_rate > 0.0).then(|| Duration::from_secs_f64(1.0 / plan.input_rate.min(1000.0)));
    let mut inputs = make(input_period.unwrap_or(Duration::from_secs(3600)));
    let mut pings = make(plan.ping_interval.max(Duration::from_millis(10)));
    let mut chats = make(plan.chat_interval.unwrap_or(Duration::from_secs(3600)));
    let mut chat_lines = 0u32;

    let ending = loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break Ending::Clean,
            incoming = client.recv_frame() => match incoming {
                Received::Binary(bytes) => {
                    let seen = state.on_frame(&bytes, Instant::now());
                    live.bytes_in.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    match seen {
                        Seen::Snapshot { .. } => { live.snapshots.fetch_add(1, Ordering::Relaxed); }
                        Seen::Divergence | Seen::ReplicaError => {
                            live.snapshots.fetch_add(1, Ordering::Relaxed);
                            live.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        Seen::Undecodable => { live.errors.fetch_add(1, Ordering::Relaxed); }
                        Seen::Pong(rtt) => live.record_rtt(rtt),
                        Seen::Other => {}
                    }
                    if let Some(t) = state.lone_ack() {
                        let payload = encode_datagram(Some(t), None, state.schema());
                        send_payload(&client, &mut state, &live, payload, true).await;
                    }
                }
                Received::Closed { code, reason } => {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    break Ending::Unexpected(code, reason);
                }
            },
            _ = inputs.tick(), if input_period.is_some() => {
                let (input, action) = state.input(plan.input_rate);
                send_input(&client, &mut state, &live, &input).await;
                if let Some(action) = action {
                    send(&client, &mut state, &live, &action).await;
                }
            }
            _ = pings.tick() => {
                let msg = state.ping(Instant::now());
                send(&client, &mut state, &live, &msg).await;
            }
            _ = chats.tick(), if plan.chat_interval.is_some() => {
                chat_lines += 1;
                let msg = ClientMsg::Chat(format!("{name} says hello #{chat_lines}"));
                send(&client, &mut state, &live, &msg).await;
            }
        }
    };
    state.stats.connected_for = connected_at.elapsed();
    if ending == Ending::Clean {
        // Close cleanly and wait for the server's answer, bounded.
        client.close(CloseCode::Normal, "load test over").await;
        let _ = client.wait_closed(Duration::from_secs(5)).await;
    }
    live.connected.fetch_sub(1, Ordering::Relaxed);
    BotOutcome {
        ending,
        stats: state.stats,
    }
}
