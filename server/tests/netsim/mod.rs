//! A room and its clients joined by simulated links, driven by a fake clock in 1 ms steps.
//!
//! Each client runs the real client netcode (`ClientNetcode`) fed by bytes from the real
//! `Room`: the room ticks at its tick rate, every snapshot and pong goes down a reliable,
//! ordered link (TCP-like: loss is a retransmit delay), inputs and pings go up a link that is
//! either TCP-like or unordered and lossy (datagram-like). Clients make one input per tick and
//! render at 60 Hz; every frame, remote bodies are compared with where the server really had
//! them at the render tick.

#![allow(dead_code)]

use glam::Vec2;
use std::collections::BTreeMap;
use tickwire_server::room::{Room, RoomConfig};
use tickwire_shared::input::Intent;
use tickwire_shared::netcode::{ClientNetcode, NetcodeConfig};
use tickwire_shared::netsim::{Link, LinkConfig};
use tickwire_shared::protocol::{ClientMsg, Event, Pong, ServerMsg};
use tickwire_shared::quant::dequantize_pos;
use tickwire_shared::replica::EntityState;
use tickwire_shared::{PlayerId, Tick, decode_server, encode_server};

/// Frames per second of every client's display.
pub const FPS: f64 = 60.0;

/// Decides a client's intent for its `n`-th command (0-based), seeing its own netcode.
pub type Bot = Box<dyn FnMut(u32, &ClientNetcode) -> Intent>;

/// The links of one client.
#[derive(Debug, Clone, Copy)]
pub struct Links {
    /// Client → room.
    pub up: LinkConfig,
    /// Room → client (must be reliable and ordered: snapshots are deltas).
    pub down: LinkConfig,
}

impl Links {
    /// TCP both ways (the real transport) with a round trip, jitter each way and loss.
    pub fn tcp(rtt_s: f64, jitter_s: f64, loss: f64) -> Links {
        Links {
            up: LinkConfig::tcp(rtt_s, jitter_s, loss),
            down: LinkConfig::tcp(rtt_s, jitter_s, loss),
        }
    }
}

/// One simulated client and what was measured of it.
pub struct Peer {
    /// Its player.
    pub id: PlayerId,
    /// Its netcode, once the `Welcome` arrived.
    pub net: Option<ClientNetcode>,
    up: Link<ClientMsg>,
    down: Link<Vec<u8>>,
    bot: Bot,
    redundancy: usize,
    commands: u32,
    next_input: f64,
    next_frame: f64,
    frame: u64,
    predicted_after: BTreeMap<u32, Vec2>,
    /// Snapshots whose acknowledged command was predicted: how many...
    pub prediction_checks: u32,
    /// ... and how many of those had the server somewhere else than predicted.
    pub prediction_mismatches: u32,
    /// Distance between each drawn remote body and the server's true position at the render
    /// tick, per frame and body.
    pub interp_errors: Vec<f32>,
    /// Frames where a remote body moved against its true direction of motion.
    pub backward_jumps: u32,
    last_drawn: BTreeMap<PlayerId, (f64, Vec2)>,
    correction_started: Option<u64>,
    /// For each correction, frames until the drawn position met the prediction again
    /// (measured from the latest correction).
    pub settle_frames: Vec<u64>,
    /// Input commands the room queued, ignored as duplicates, and rejected.
    pub inputs_queued: u32,
    /// Duplicates ignored by the room.
    pub inputs_duplicate: u32,
    /// Rejected by the room.
    pub inputs_rejected: u32,
    /// Every event received, with the tick of its snapshot.
    pub events: Vec<(Tick, Event)>,
}

/// The room, its clients, the fake clock and the server's true positions per tick.
pub struct World {
    /// The room under test.
    pub room: Room,
    /// Its clients.
    pub peers: Vec<Peer>,
    now_ms: u64,
    ticks_run: u64,
    tick_rate: f64,
    /// Server positions and status per player per tick.
    pub truth: BTreeMap<PlayerId, BTreeMap<u32, (Vec2, u8)>>,
    seed: u64,
}

impl World {
    /// A room with `config`, no clients, at time 0.
    pub fn new(config: RoomConfig, seed: u64) -> World {
        World {
            tick_rate: f64::from(config.tick_rate),
            room: Room::new(config),
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

    /// Adds a client whose body starts at `pos`; returns its index in `peers`.
    pub fn join(&mut self, pos: Vec2, links: Links, redundancy: usize, bot: Bot) -> usize {
        let j = self.room.handle_join("bot").expect("room has space");
        let key = self.room.player_key(j.player_id).expect("just joined");
        self.room.sim_mut().player_mut(key).expect("exists").pos = pos;
        let n = self.peers.len() as u64;
        let mut down = Link::new(links.down, self.seed * 1000 + 2 * n);
        down.send(self.now(), j.welcome);
        let now = self.now();
        self.peers.push(Peer {
            id: j.player_id,
            net: None,
            up: Link::new(links.up, self.seed * 1000 + 2 * n + 1),
            down,
            bot,
            redundancy,
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
        // Client → room.
        for p in &mut self.peers {
            while let Some(msg) = p.up.poll(now) {
                match msg {
                    ClientMsg::Input(cmds) => {
                        let o = self.room.handle_inputs(p.id, &cmds);
                        p.inputs_queued += o.queued;
                        p.inputs_duplicate += o.duplicates;
                        p.inputs_rejected += o.rejected;
                    }
                    ClientMsg::Ping(ping) => {
                        let pong = ServerMsg::Pong(Pong {
                            client_time: ping.client_time,
                            tick: self.room.tick_count(),
                        });
                        p.down.send(now, encode_server(&pong));
                    }
                    ClientMsg::Hello(_) | ClientMsg::Chat(_) => {}
                }
            }
        }
        // Room ticks.
        let due = ((self.ticks_run + 1) as f64 * 1000.0 / self.tick_rate).round() as u64;
        if self.now_ms >= due {
            self.ticks_run += 1;
            let out = self.room.tick(|_| true);
            for (id, bytes) in out.messages {
                if let Some(p) = self.peers.iter_mut().find(|p| p.id == id) {
                    p.down.send(now, bytes);
                }
            }
            let tick = self.room.tick_count().0;
            for p in self.room.sim().players().values() {
                self.truth
                    .entry(p.id)
                    .or_default()
                    .insert(tick, (p.pos, p.wire_state().status));
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
        while let Some(bytes) = p.down.poll(now) {
            match decode_server(&bytes).expect("the room encodes valid messages") {
                ServerMsg::Welcome(w) => {
                    let mut config = NetcodeConfig::new(&w);
                    config.input_redundancy = p.redundancy;
                    p.net = Some(ClientNetcode::new(&w, config));
                }
                ServerMsg::Snapshot(s) => {
                    let net = p.net.as_mut().expect("welcome first");
                    let c = net.handle_snapshot(&s, now).expect("replica in step");
                    p.events
                        .extend(s.events.iter().map(|e| (s.tick, e.clone())));
                    if c.is_some_and(|c| c.error > 0.0 && !c.snapped) {
                        p.correction_started = Some(p.frame);
                    }
                    if let (Some(predicted), Some(server)) = (
                        p.predicted_after.get(&s.ack_input_seq.0),
                        net.replica.local_player(),
                    ) {
                        p.prediction_checks += 1;
                        let server = Vec2::new(dequantize_pos(server.x), dequantize_pos(server.y));
                        if *predicted != server {
                            p.prediction_mismatches += 1;
                        }
                    }
                    p.predicted_after.retain(|seq, _| *seq > s.ack_input_seq.0);
                }
                msg @ ServerMsg::Pong(_) => {
                    let net = p.net.as_mut().expect("welcome first");
                    net.handle_message(&msg, now).expect("pongs always apply");
                }
            }
        }
        let Some(net) = p.net.as_mut() else {
            return;
        };
        while now >= p.next_input {
            p.next_input += dt;
            let intent = (p.bot)(p.commands, net);
            p.commands += 1;
            let frame = net.make_input(intent);
            if let Some(pos) = net.prediction.predicted_position() {
                p.predicted_after.insert(net.inputs.last_seq().0, pos);
            }
            p.up.send(now, frame);
            if let Some(ping) = net.poll_ping(now) {
                p.up.send(now, ping);
            }
        }
        if now >= p.next_frame {
            p.next_frame += 1.0 / FPS;
            p.frame += 1;
            net.advance(now);
            if net.prediction.correction_offset() == Vec2::ZERO
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
    for (id, drawn) in net.remotes() {
        let Some(EntityState::Player { player, .. }) = net.replica.entities.get(&id) else {
            continue;
        };
        let Some(path) = truth.get(player) else {
            continue;
        };
        let t0 = t.floor() as u32;
        let (Some(a), Some(b)) = (path.get(&t0), path.get(&(t0 + 1))) else {
            continue;
        };
        if a.1 != b.1 || !drawn.state.alive() {
            continue; // a teleport or a dead body: not a path
        }
        let f = (t - f64::from(t0)) as f32;
        let true_pos = a.0.lerp(b.0, f);
        p.interp_errors.push(drawn.pos.distance(true_pos));
        if let Some((t_prev, prev)) = p.last_drawn.get(player) {
            // Where the server really went over the same stretch of render time.
            let tp0 = t_prev.floor() as u32;
            if let (Some(pa), Some(pb)) = (path.get(&tp0), path.get(&(tp0 + 1))) {
                let true_prev = pa.0.lerp(pb.0, (*t_prev - f64::from(tp0)) as f32);
                let true_move = true_pos - true_prev;
                let drawn_move = drawn.pos - *prev;
                if true_move.length() > 0.5 && drawn_move.dot(true_move.normalize()) < -0.01 {
                    p.backward_jumps += 1;
                }
            }
        }
        p.last_drawn.insert(*player, (t, drawn.pos));
    }
}
