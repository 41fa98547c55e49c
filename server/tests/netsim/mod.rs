//! An arena room on the engine and its clients joined by simulated links, driven by a fake
//! clock in 1 ms steps.
//!
//! Each client runs the real client netcode (`tickwire_shared::sync::netcode::Netcode`, with
//! the arena's prediction step from `tickwire_arena::client`) fed by the real bytes of the
//! engine's `Room<ArenaGame>` (protocol version 2): the room ticks at its tick rate, every
//! snapshot and pong goes down a reliable, ordered link (TCP-like: loss is a retransmit
//! delay), encoded input and ping messages go up a link that is either TCP-like or unordered
//! and lossy (datagram-like) and are decoded by the room's side with the schema, as the
//! server does. Every snapshot carries a checksum, so each replica is proven exact every tick.
//! Clients make one input per tick and render at 60 Hz; every frame, remote bodies are
//! compared with where the arena's simulation really had them at the render tick.

#![allow(dead_code)]

use glam::Vec2;
use std::collections::BTreeMap;
use std::sync::Arc;
use tickwire_arena::client::{ClientConfig, predict_step};
use tickwire_arena::quant::quantize_pos;
use tickwire_arena::{ArenaConfig, ArenaGame, BODY, body};
use tickwire_engine::{EngineConfig, Room};
use tickwire_shared::netsim::{Link, LinkConfig};
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::acked::{decode_datagram, encode_datagram, peek_acked};
use tickwire_shared::sync::netcode::{Netcode, NetcodeConfig, Source};
use tickwire_shared::sync::{
    Acked, ClientMsg, Event, Pong, ServerMsg, decode_client, decode_server, encode_client,
    encode_server,
};
use tickwire_shared::{NetId, PlayerId, Tick};

/// Frames per second of every client's display.
pub const FPS: f64 = 60.0;

/// Decides a client's input lanes for its `n`-th command (0-based), seeing its own netcode.
pub type Bot = Box<dyn FnMut(u32, &Netcode) -> Vec<i64>>;

/// The links of one client.
#[derive(Debug, Clone, Copy)]
pub struct Links {
    /// Client → room.
    pub up: LinkConfig,
    /// Room → client: everything over a WebSocket (reliable and ordered: snapshots are deltas
    /// against what was sent); over WebTransport, the snapshots (messages 5) as datagrams.
    pub down: LinkConfig,
    /// Over WebTransport: the reliable stream room → client (the `Welcome`, pongs, events).
    pub stream: Option<LinkConfig>,
}

impl Links {
    /// TCP both ways (the real transport) with a round trip, jitter each way and loss.
    pub fn tcp(rtt_s: f64, jitter_s: f64, loss: f64) -> Links {
        Links {
            up: LinkConfig::tcp(rtt_s, jitter_s, loss),
            down: LinkConfig::tcp(rtt_s, jitter_s, loss),
            stream: None,
        }
    }

    /// TCP with the snapshots mirrored: every room message down over two connections (the
    /// first copy counts), inputs up over the main one.
    pub fn tcp_mirrored(rtt_s: f64, jitter_s: f64, loss: f64) -> Links {
        Links {
            up: LinkConfig::tcp(rtt_s, jitter_s, loss),
            down: LinkConfig::tcp_mirrored(rtt_s, jitter_s, loss),
            stream: None,
        }
    }

    /// WebTransport: datagrams both ways (lost, reordered by jitter, and `duplicate` of them
    /// delivered twice), and a reliable stream down whose losses are repaired as TCP's are.
    pub fn webtransport(rtt_s: f64, jitter_s: f64, loss: f64, duplicate: f64) -> Links {
        Links {
            up: LinkConfig::unordered(rtt_s, jitter_s, loss).duplicating(duplicate),
            down: LinkConfig::unordered(rtt_s, jitter_s, loss).duplicating(duplicate),
            stream: Some(LinkConfig::tcp(rtt_s, jitter_s, loss)),
        }
    }
}

/// A body position in lanes (x, y), as the wire and the prediction hold it.
pub type Lanes2 = (i64, i64);

/// The lanes of a world position.
pub fn lanes_of(p: Vec2) -> Lanes2 {
    (i64::from(quantize_pos(p.x)), i64::from(quantize_pos(p.y)))
}

/// One simulated client and what was measured of it.
pub struct Peer {
    /// Its player.
    pub id: PlayerId,
    /// Its netcode, once the `Welcome` arrived.
    pub net: Option<Netcode>,
    up: Link<Vec<u8>>,
    down: Link<Vec<u8>>,
    /// Over WebTransport: the reliable stream down.
    stream: Option<Link<Vec<u8>>>,
    /// Over WebTransport: the newest tick applied, and whether a datagram acknowledged it.
    ack: Option<(Tick, bool)>,
    /// Over WebTransport: snapshots dropped as stale (duplicates, overtaken).
    pub stale: u32,
    bot: Bot,
    repeats: usize,
    commands: u32,
    next_input: f64,
    next_frame: f64,
    frame: u64,
    predicted_after: BTreeMap<u32, Lanes2>,
    /// Snapshots whose acknowledged command was predicted: how many...
    pub prediction_checks: u32,
    /// ... and how many of those had the server somewhere else than predicted.
    pub prediction_mismatches: u32,
    /// Distance between each drawn remote body and the server's true position at the render
    /// tick, per frame and body, world units.
    pub interp_errors: Vec<f32>,
    /// Frames where a remote body moved against its true direction of motion.
    pub backward_jumps: u32,
    last_drawn: BTreeMap<PlayerId, (f64, Vec2)>,
    correction_started: Option<u64>,
    /// For each correction, frames until the drawn position met the prediction again
    /// (measured from the latest correction).
    pub settle_frames: Vec<u64>,
    /// Input commands the room queued.
    pub inputs_queued: u32,
    /// Duplicates ignored by the room.
    pub inputs_duplicate: u32,
    /// Rejected by the room.
    pub inputs_rejected: u32,
    /// Snapshots that carried a checksum (every one: the replica matched each).
    pub checksums: u32,
    /// Every event received, with the tick of its snapshot.
    pub events: Vec<(Tick, Event)>,
}

impl Peer {
    /// The netcode (panics before the `Welcome`).
    pub fn net(&self) -> &Netcode {
        self.net.as_ref().expect("welcomed")
    }
}

/// The local body of a netcode (the body the local player owns).
pub fn own_body(net: &Netcode) -> Option<NetId> {
    net.owned(Some(BODY)).next()
}

/// Where a netcode draws a body now, world units, and whether it is drawn alive; `None` when
/// it is not drawn (yet).
pub fn drawn(net: &Netcode, id: NetId) -> Option<(Vec2, bool, Source)> {
    let v = net.view(id)?;
    let fields = &net.replica.schema.kinds[usize::from(BODY)].fields;
    let world = |f: usize| fields[f].ty.dequantize(v.lanes[f]) as f32;
    let pos = Vec2::new(world(body::x), world(body::y));
    Some((pos, v.lanes[body::alive] != 0.0, v.source))
}

/// The room, its clients, the fake clock and the server's true positions per tick.
pub struct World {
    /// The room under test.
    pub room: Room<ArenaGame>,
    schema: Arc<Schema>,
    /// Its clients.
    pub peers: Vec<Peer>,
    now_ms: u64,
    ticks_run: u64,
    tick_rate: f64,
    /// Server positions and status (alive bit, respawns above) per player per tick.
    pub truth: BTreeMap<PlayerId, BTreeMap<u32, (Vec2, u8)>>,
    seed: u64,
}

impl World {
    /// An arena room with `config` (the engine's area is the arena's size, every snapshot
    /// carries a checksum), no clients, at time 0.
    pub fn new(config: ArenaConfig, seed: u64) -> World {
        let engine = EngineConfig {
            tick_rate: config.tick_rate,
            area: (config.arena.width, config.arena.height),
            checksum_interval: 1,
            ..EngineConfig::default()
        };
        let tick_rate = f64::from(config.tick_rate);
        let room = Room::new(engine, ArenaGame::new(config));
        World {
            tick_rate,
            schema: room.schema().clone(),
            room,
            peers: Vec::new(),
            now_ms: 0,
            ticks_run: 0,
            truth: BTreeMap::new(),
            seed,
        }
    }

    /// Seconds on the fake clock.
    pub fn now(&self) -> f64 {
        self.now_ms as f64 / 1000.0
    }

    /// Where the arena's simulation has a player's body now.
    pub fn server_pos(&self, id: PlayerId) -> Vec2 {
        let game = self.room.game();
        let key = game.player_key(id).expect("in the room");
        game.sim().player(key).expect("in the sim").pos
    }

    /// Adds a client whose body starts at `pos`, whose input messages carry `repeats`
    /// unacknowledged commands besides the newest; returns its index in `peers`.
    pub fn join(&mut self, pos: Vec2, links: Links, repeats: usize, bot: Bot) -> usize {
        let j = self.room.handle_join("bot", None).expect("room has space");
        let key = self.room.game().player_key(j.player_id).expect("joined");
        self.room
            .game_mut()
            .sim_mut()
            .player_mut(key)
            .expect("exists")
            .pos = pos;
        let n = self.peers.len() as u64;
        let mut down = Link::new(links.down, self.seed * 1000 + 2 * n);
        let mut stream = links
            .stream
            .map(|c| Link::new(c, self.seed * 1000 + 500 + n));
        match stream.as_mut() {
            Some(s) => {
                self.room.set_unreliable(j.player_id);
                s.send(self.now(), j.welcome);
            }
            None => down.send(self.now(), j.welcome),
        }
        let now = self.now();
        self.peers.push(Peer {
            id: j.player_id,
            net: None,
            up: Link::new(links.up, self.seed * 1000 + 2 * n + 1),
            down,
            stream,
            ack: None,
            stale: 0,
            bot,
            repeats,
            commands: 0,
            // Clients' ticks and frames are out of phase with the server's.
            next_input: now + 0.0137 * (n + 1) as f64,
            next_frame: now + 0.0051 * (n + 1) as f64,
            frame: 0,
            predicted_after: BTreeMap::new(),
            prediction_checks: 0,
            prediction_mismatches: 0,
            interp_errors: Vec::new(),
            backward_jumps: 0,
            last_drawn: BTreeMap::new(),
            correction_started: None,
            settle_frames: Vec::new(),
            inputs_queued: 0,
            inputs_duplicate: 0,
            inputs_rejected: 0,
            checksums: 0,
            events: Vec::new(),
        });
        self.peers.len() - 1
    }

    /// Replaces a client's bot.
    pub fn set_bot(&mut self, peer: usize, bot: Bot) {
        self.peers[peer].bot = bot;
    }

    /// Runs the fake clock for `seconds`.
    pub fn run(&mut self, seconds: f64) {
        let end = self.now_ms + (seconds * 1000.0).round() as u64;
        while self.now_ms < end {
            self.now_ms += 1;
            self.step();
        }
    }

    fn step(&mut self) {
        let now = self.now();
        // Client → room: decoded with the schema, as the server's connection task does.
        for p in &mut self.peers {
            while let Some(bytes) = p.up.poll(now) {
                let msg = if p.stream.is_some() {
                    // A datagram: its acknowledgement, then perhaps an input or a ping.
                    let (ack, msg) = decode_datagram(&bytes, &self.schema)
                        .expect("clients encode valid datagrams");
                    if let Some(t) = ack {
                        self.room.handle_ack(p.id, t);
                    }
                    match msg {
                        Some(m) => m,
                        None => continue,
                    }
                } else {
                    decode_client(&bytes, &self.schema).expect("clients encode valid messages")
                };
                match msg {
                    ClientMsg::Input(cmds) => {
                        let o = self.room.handle_inputs(p.id, cmds);
                        p.inputs_queued += o.queued;
                        p.inputs_duplicate += o.duplicates;
                        p.inputs_rejected += o.rejected;
                    }
                    ClientMsg::Ping(ping) => {
                        let pong = ServerMsg::Pong(Pong {
                            client_time: ping.client_time,
                            tick: self.room.tick_count(),
                        });
                        let mut out = Vec::new();
                        encode_server(&pong, &self.schema, &[], &mut out);
                        match p.stream.as_mut() {
                            Some(s) => s.send(now, out),
                            None => p.down.send(now, out),
                        }
                    }
                    other => panic!("the netcode sent {other:?}"),
                }
            }
        }
        // Room ticks.
        let due = ((self.ticks_run + 1) as f64 * 1000.0 / self.tick_rate).round() as u64;
        if self.now_ms >= due {
            self.ticks_run += 1;
            let out = self.room.tick(|_| true);
            assert!(out.kicked.is_empty(), "{:?}", out.kicked);
            for (id, bytes) in out.messages {
                if let Some(p) = self.peers.iter_mut().find(|p| p.id == id) {
                    match p.stream.as_mut() {
                        // Over WebTransport snapshots go as datagrams, the rest on the stream.
                        Some(s) if bytes.first() != Some(&5) => s.send(now, bytes),
                        _ => p.down.send(now, bytes),
                    }
                }
            }
            let tick = self.room.tick_count().0;
            let sim = self.room.game().sim();
            assert_eq!(sim.tick().0, tick, "the sim steps once per engine tick");
            for p in sim.players().values() {
                self.truth
                    .entry(p.id)
                    .or_default()
                    .insert(tick, (p.pos, u8::from(p.alive) | (p.respawns << 1)));
            }
        }
        // Room → client, inputs, frames.
        for i in 0..self.peers.len() {
            self.client_step(i, now);
        }
    }

    fn client_step(&mut self, i: usize, now: f64) {
        let dt = 1.0 / self.tick_rate;
        let p = &mut self.peers[i];
        loop {
            // The stream first (a Welcome before the datagrams it makes sense of).
            let from_stream = p.stream.as_mut().and_then(|s| s.poll(now));
            let Some(bytes) = from_stream.or_else(|| p.down.poll(now)) else {
                break;
            };
            let Some(net) = p.net.as_mut() else {
                let Ok(ServerMsg::Welcome(w)) = decode_server(&bytes, None, &[]) else {
                    panic!("a Welcome first")
                };
                let mut config = NetcodeConfig::new(&w);
                // The newest command and `repeats` unacknowledged ones before it.
                config.input_redundancy = p.repeats + 1;
                let arena = ClientConfig::parse(&w.game_config).expect("the arena's config");
                p.net = Some(Netcode::new(
                    &w,
                    config,
                    Some(Box::new(predict_step(&arena))),
                ));
                continue;
            };
            let acked = peek_acked(&bytes).expect("the room encodes valid messages");
            let msg = if acked.is_some() {
                match net
                    .handle_acked(&bytes, now)
                    .expect("replica in step against its base, checksum equal")
                {
                    None => {
                        p.stale += 1;
                        continue;
                    }
                    Some((s, _)) => {
                        // Acknowledged by the next input, or alone if the last one waits.
                        if p.ack.is_some_and(|(_, sent)| !sent) {
                            let d = encode_datagram(Some(s.tick), None, &net.replica.schema);
                            p.up.send(now, d);
                            p.ack = Some((s.tick, true));
                        } else {
                            p.ack = Some((s.tick, false));
                        }
                        ServerMsg::Acked(Acked {
                            back: 0,
                            snapshot: *s,
                        })
                    }
                }
            } else {
                net.replica
                    .decode(&bytes)
                    .expect("the room encodes valid messages")
            };
            match msg {
                ServerMsg::Snapshot(s) | ServerMsg::Acked(Acked { snapshot: s, .. }) => {
                    if acked.is_none() {
                        net.handle_snapshot(&s, now)
                            .expect("replica in step, checksum equal");
                    }
                    if s.checksum.is_some() {
                        p.checksums += 1;
                    }
                    p.events
                        .extend(s.events.iter().map(|e| (s.tick, e.clone())));
                    if net
                        .last_corrections()
                        .iter()
                        .any(|(_, c)| c.error > 0.0 && !c.snapped)
                    {
                        p.correction_started = Some(p.frame);
                    }
                    let me = own_body(net).expect("the own body is always in view");
                    let l = &net.replica.entities[&me].lanes;
                    if let Some(predicted) = p.predicted_after.get(&s.ack_input_seq.0) {
                        p.prediction_checks += 1;
                        if *predicted != (l[body::x], l[body::y]) {
                            p.prediction_mismatches += 1;
                        }
                    }
                    p.predicted_after.retain(|seq, _| *seq > s.ack_input_seq.0);
                }
                msg @ ServerMsg::Pong(_) => {
                    net.handle_message(&msg, now).expect("pongs always apply");
                }
                ServerMsg::Welcome(_) => panic!("a second Welcome"),
                ServerMsg::Marker(_) => panic!("Replica::decode expands tick markers"),
                ServerMsg::Redirect(_) => panic!("one server redirects nobody"),
                ServerMsg::Events(e) => {
                    p.events.extend(e.events.into_iter().map(|ev| (e.tick, ev)));
                }
            }
        }
        let Some(net) = p.net.as_mut() else {
            return;
        };
        while now >= p.next_input {
            p.next_input += dt;
            let lanes = (p.bot)(p.commands, net);
            p.commands += 1;
            let msg = net.make_input(lanes);
            let ClientMsg::Input(cmds) = &msg else {
                panic!("make_input makes an input message")
            };
            let seq = cmds.last().expect("the new command").seq.0;
            if let Some(l) = own_body(net).and_then(|me| net.predicted(me)) {
                p.predicted_after.insert(seq, (l[body::x], l[body::y]));
            }
            if p.stream.is_some() {
                let ack = p.ack.as_mut().map(|(t, sent)| {
                    *sent = true;
                    *t
                });
                p.up.send(now, encode_datagram(ack, Some(&msg), &net.replica.schema));
                if let Some(ping) = net.poll_ping(now) {
                    p.up.send(now, encode_datagram(ack, Some(&ping), &net.replica.schema));
                }
            } else {
                let mut out = Vec::new();
                encode_client(&msg, &net.replica.schema, &mut out);
                p.up.send(now, out);
                if let Some(ping) = net.poll_ping(now) {
                    let mut out = Vec::new();
                    encode_client(&ping, &net.replica.schema, &mut out);
                    p.up.send(now, out);
                }
            }
        }
        if now >= p.next_frame {
            p.next_frame += 1.0 / FPS;
            p.frame += 1;
            net.advance(now);
            if let Some(me) = own_body(net)
                && let (Some(view), Some(predicted)) = (net.view(me), net.predicted(me))
                && view.lanes[body::x] == predicted[body::x] as f64
                && view.lanes[body::y] == predicted[body::y] as f64
                && let Some(start) = p.correction_started.take()
            {
                p.settle_frames.push(p.frame - start);
            }
            if net.clock.is_synced() {
                measure_remotes(p, &self.truth);
            }
        }
    }
}

/// Compares every drawn remote body with the server's true position at the render tick.
fn measure_remotes(p: &mut Peer, truth: &BTreeMap<PlayerId, BTreeMap<u32, (Vec2, u8)>>) {
    let net = p.net.as_ref().expect("caller checked");
    let t = net.render_tick();
    let remotes: Vec<(NetId, PlayerId)> = net
        .replica
        .of_kind(BODY)
        .filter(|(id, _)| !net.is_predicted(*id))
        .map(|(id, l)| (id, PlayerId(l[body::player] as u32)))
        .collect();
    for (id, player) in remotes {
        let Some((drawn_pos, alive, source)) = drawn(net, id) else {
            continue; // not drawn before the render tick reaches its first state
        };
        assert!(
            matches!(source, Source::Interpolated { .. }),
            "a remote body is interpolated: {source:?}"
        );
        let Some(path) = truth.get(&player) else {
            continue;
        };
        let t0 = t.floor() as u32;
        let (Some(a), Some(b)) = (path.get(&t0), path.get(&(t0 + 1))) else {
            continue;
        };
        if a.1 != b.1 || !alive {
            continue; // a teleport or a dead body: not a path
        }
        let f = (t - f64::from(t0)) as f32;
        let true_pos = a.0.lerp(b.0, f);
        p.interp_errors.push(drawn_pos.distance(true_pos));
        if let Some((t_prev, prev)) = p.last_drawn.get(&player) {
            // Where the server really went over the same stretch of render time.
            let tp0 = t_prev.floor() as u32;
            if let (Some(pa), Some(pb)) = (path.get(&tp0), path.get(&(tp0 + 1))) {
                let true_prev = pa.0.lerp(pb.0, (*t_prev - f64::from(tp0)) as f32);
                let true_move = true_pos - true_prev;
                let drawn_move = drawn_pos - *prev;
                if true_move.length() > 0.5 && drawn_move.dot(true_move.normalize()) < -0.01 {
                    p.backward_jumps += 1;
                }
            }
        }
        p.last_drawn.insert(player, (t, drawn_pos));
    }
}
