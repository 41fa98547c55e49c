//! A room, sans-IO: it owns a [`Sim`], each client's input queue, and what each client has
//! been sent. The network driver feeds it joins, inputs and leaves, and calls [`Room::tick`]
//! at the tick rate; `tick` returns the bytes to send to each client. It never touches a socket
//! or reads a clock, so every behaviour here is tested deterministically.
//!
//! Per tick: each client's queued inputs are applied in sequence order (a bounded number per
//! tick), the sim steps, the world is laid into the interest grid, and for every client whose
//! outbox has room a snapshot is built as the delta between its baseline (what it was last
//! actually sent) and its current view. A client whose outbox is full skips the tick; its
//! baseline does not move, so the next delta it gets is correct. The same mechanism lets far
//! entities be updated less often (see [`UpdatePolicy`]). Events ride in snapshots and
//! wait for a skipping client, so none is lost. A client that skips for too long is dropped.

mod delta;
mod priority;

pub use crate::sim::lag_comp::lag_comp_ticks;
pub use delta::{EntityDelta, diff, diff_into, diff_with};
pub use priority::{Holder, TierParseError, UpdatePolicy, UpdateTier};
pub use tickwire_engine::{
    ChatOutcome, InputOutcome, InputQueue, JoinError, NetIds, Push, Sequenced,
};

use crate::interest::{InterestGrid, ViewEntity};
use crate::limits::TokenBucket;
use crate::sim::{PlayerKey, ProjectileKey, Sim, SimEvent};
use glam::Vec2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use slotmap::SecondaryMap;
use std::collections::{BTreeMap, HashMap};
use tickwire_engine::clean_text;
use tickwire_shared::close::{CloseCode, CloseReason};
use tickwire_shared::codec::encode_server_into;
use tickwire_shared::protocol::{
    Event, InputCmd, MAX_CHAT_CHARS, MAX_NAME_CHARS, PROTOCOL_VERSION, PlayerInfo, ServerMsg,
    Snapshot, Welcome,
};
use tickwire_shared::quant::quantize_pos;
use tickwire_shared::replica::{EntityState, checksum};
use tickwire_shared::rules::{Arena, Rules};
use tickwire_shared::{NetId, PlayerId, Tick};

/// Settings of one room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Ticks per second.
    pub tick_rate: u16,
    /// Radius of each client's view.
    pub view_radius: f32,
    /// Most players at once.
    pub max_players: usize,
    /// Most input commands applied per client per tick (lets a client catch up after a late
    /// frame without letting it move faster than a couple of ticks' worth).
    pub max_inputs_per_tick: usize,
    /// Most input commands queued per client.
    pub input_queue_capacity: usize,
    /// How far ahead of the last applied command a sequence number may be.
    pub input_window: u32,
    /// Snapshots carry a checksum every this many ticks (0 = never).
    pub checksum_interval: u16,
    /// A client whose outbox stays full this many ticks in a row is disconnected (and may
    /// resume within the grace period).
    pub max_skipped_ticks: u32,
    /// The arena.
    pub arena: Arena,
    /// Seed of the sim's random generator.
    pub seed: u64,
    /// The room's id (prefix of its resume tokens).
    pub id: String,
    /// Ticks a disconnected player is kept for a resume before it is removed.
    pub resume_grace_ticks: u32,
    /// Chat lines a player may send in a burst.
    pub chat_burst: u32,
    /// Ticks to earn back one chat line.
    pub chat_refill_ticks: u32,
    /// A server notice every new player gets with its first snapshot (message of the day).
    pub motd: Option<String>,
    /// How far back hitscan shots are resolved (the shooter's view, lag compensation),
    /// milliseconds; 0 turns lag compensation off.
    pub lag_comp_ms: u32,
    /// Which entity updates may wait a few ticks (far entities, tiny aim changes).
    pub update_policy: UpdatePolicy,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            tick_rate: 30,
            view_radius: 700.0,
            max_players: 256,
            max_inputs_per_tick: 3,
            input_queue_capacity: 64,
            input_window: 256,
            checksum_interval: 0,
            max_skipped_ticks: 150,
            arena: Arena::default(),
            seed: 1,
            id: "main".into(),
            resume_grace_ticks: 300,
            chat_burst: 5,
            chat_refill_ticks: 60,
            motd: None,
            lag_comp_ms: 250,
            update_policy: UpdatePolicy::default(),
        }
    }
}

/// A successful join.
#[derive(Debug)]
pub struct Joined {
    /// The player's id.
    pub player_id: PlayerId,
    /// The encoded `Welcome` to send first.
    pub welcome: Vec<u8>,
    /// Whether an existing player was taken back with a resume token.
    pub resumed: bool,
}

/// What one tick produced.
#[derive(Debug, Default)]
pub struct TickOutput {
    /// Encoded snapshot for each client that had room for one.
    pub messages: Vec<(PlayerId, Vec<u8>)>,
    /// Clients dropped this tick (already removed from the room) and why.
    pub kicked: Vec<(PlayerId, CloseReason)>,
    /// Clients whose outbox was full (they skipped this tick).
    pub skipped: u32,
}

struct Client {
    key: PlayerKey,
    body: NetId,
    inputs: InputQueue,
    /// What this client holds: exactly the entity states it has been sent, sorted by id.
    baseline: Vec<(NetId, EntityState)>,
    pending_events: Vec<Event>,
    skipped_in_a_row: u32,
    /// False between a disconnect and a resume (or removal after the grace period).
    connected: bool,
    disconnected_at: Tick,
    resume_token: String,
    chat: TokenBucket,
}

/// One game room.
pub struct Room {
    config: RoomConfig,
    sim: Sim,
    clients: BTreeMap<PlayerId, Client>,
    bodies: SecondaryMap<PlayerKey, NetId>,
    projectile_ids: SecondaryMap<ProjectileKey, NetId>,
    net_ids: NetIds,
    next_player: u32,
    interest: InterestGrid,
    view: Vec<(NetId, EntityState)>,
    delta: EntityDelta,
    encode_buf: Vec<u8>,
    tokens: HashMap<String, PlayerId>,
    token_rng: StdRng,
}

impl Room {
    /// An empty room.
    pub fn new(config: RoomConfig) -> Room {
        let rules = Rules::at_tick_rate(config.tick_rate);
        let mut sim = Sim::new(config.arena.clone(), rules, config.seed);
        sim.set_lag_compensation(lag_comp_ticks(config.lag_comp_ms, config.tick_rate));
        Room {
            sim,
            interest: InterestGrid::new(
                config.arena.width,
                config.arena.height,
                config.view_radius,
            ),
            config,
            clients: BTreeMap::new(),
            bodies: SecondaryMap::new(),
            projectile_ids: SecondaryMap::new(),
            net_ids: NetIds::default(),
            next_player: 1,
            view: Vec::new(),
            delta: EntityDelta::default(),
            encode_buf: Vec::new(),
            tokens: HashMap::new(),
            token_rng: StdRng::from_os_rng(),
        }
    }

    /// The room's settings.
    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    /// The sim (read-only).
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The sim, for tests and admin tools.
    pub fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// Last completed tick.
    pub fn tick_count(&self) -> Tick {
        self.sim.tick()
    }

    /// Players in the room (connected or within their resume grace period).
    pub fn player_count(&self) -> usize {
        self.clients.len()
    }

    /// Players whose connection is up.
    pub fn connected_count(&self) -> usize {
        self.clients.values().filter(|c| c.connected).count()
    }

    /// Entities alive in the world.
    pub fn entity_count(&self) -> usize {
        self.sim.players().len() + self.sim.projectiles().len()
    }

    /// Wire ids referenced by entities or client baselines.
    pub fn net_ids_in_use(&self) -> usize {
        self.net_ids.in_use()
    }

    /// A player's sim key.
    pub fn player_key(&self, id: PlayerId) -> Option<PlayerKey> {
        self.clients.get(&id).map(|c| c.key)
    }

    /// Adds a player. The returned `Welcome` must be the first message the client gets; its
    /// first snapshot (next tick) creates everything in its view.
    pub fn handle_join(&mut self, name: &str) -> Result<Joined, JoinError> {
        self.handle_join_or_resume(name, None)
    }

    /// Takes back a disconnected player whose resume token matches (same player, body, score
    /// and health; the next snapshot is a full one), or else adds a new player.
    pub fn handle_join_or_resume(
        &mut self,
        name: &str,
        resume: Option<&str>,
    ) -> Result<Joined, JoinError> {
        if let Some(id) = resume.and_then(|t| self.tokens.get(t).copied())
            && self.clients.get(&id).is_some_and(|c| !c.connected)
        {
            // Tell the others before this client counts as connected again.
            let name = self.player_name(id);
            self.broadcast(Event::Notice {
                text: format!("{name} is back"),
            });
            let token = self.new_token();
            let c = self.clients.get_mut(&id).expect("checked above");
            self.tokens.remove(&c.resume_token);
            c.resume_token = token.clone();
            c.connected = true;
            c.skipped_in_a_row = 0;
            self.tokens.insert(token, id);
            return Ok(Joined {
                player_id: id,
                welcome: self.welcome(id),
                resumed: true,
            });
        }
        if self.clients.len() >= self.config.max_players {
            return Err(JoinError::Full(self.config.max_players));
        }
        let id = PlayerId(self.next_player);
        self.next_player += 1;
        let name = clean_text(name, MAX_NAME_CHARS);
        let name = if name.is_empty() {
            format!("player-{}", id.0)
        } else {
            name
        };
        self.broadcast(Event::Join {
            player: id,
            name: name.clone(),
        });
        let key = self.sim.add_player(id, name);
        let mut pending_events = Vec::new();
        if let Some(motd) = &self.config.motd {
            pending_events.push(Event::Notice {
                text: clean_text(motd, MAX_CHAT_CHARS),
            });
        }
        let body = self.net_ids.alloc();
        self.bodies.insert(key, body);
        let token = self.new_token();
        self.tokens.insert(token.clone(), id);
        let now = f64::from(self.sim.tick().0);
        let chat = TokenBucket::new(
            1.0 / f64::from(self.config.chat_refill_ticks.max(1)),
            f64::from(self.config.chat_burst),
            now,
        );
        self.clients.insert(
            id,
            Client {
                key,
                body,
                inputs: self.new_input_queue(),
                baseline: Vec::new(),
                pending_events,
                skipped_in_a_row: 0,
                connected: true,
                disconnected_at: Tick(0),
                resume_token: token,
                chat,
            },
        );
        Ok(Joined {
            player_id: id,
            welcome: self.welcome(id),
            resumed: false,
        })
    }

    fn new_input_queue(&self) -> InputQueue {
        InputQueue::new(self.config.input_queue_capacity, self.config.input_window)
    }

    fn new_token(&mut self) -> String {
        let n: u128 = self.token_rng.random();
        format!("{}.{n:032x}", self.config.id)
    }

    /// An encoded `Welcome` for a player in the room (what a join or resume sends).
    pub fn welcome(&self, id: PlayerId) -> Vec<u8> {
        let c = &self.clients[&id];
        let welcome = ServerMsg::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            player_id: id,
            entity_id: c.body,
            tick_rate: self.config.tick_rate,
            tick: self.sim.tick(),
            view_radius: self.config.view_radius,
            checksum_interval: self.config.checksum_interval,
            arena: self.sim.arena().clone(),
            rules: self.sim.rules().clone(),
            players: self.player_infos(),
            resume_token: c.resume_token.clone(),
        });
        let mut bytes = Vec::new();
        encode_server_into(&welcome, &mut bytes);
        bytes
    }

    /// A player's connection dropped (or was dropped for being too slow). The player stays in
    /// the world for the resume grace period; what its client held is forgotten, so a resumed
    /// client gets a full snapshot.
    pub fn handle_disconnect(&mut self, id: PlayerId) {
        let tick = self.sim.tick();
        let fresh_inputs = self.new_input_queue();
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if !c.connected {
            return;
        }
        c.connected = false;
        c.disconnected_at = tick;
        for (nid, _) in c.baseline.drain(..) {
            self.net_ids.release(nid);
        }
        c.pending_events.clear();
        c.skipped_in_a_row = 0;
        c.inputs = fresh_inputs;
        let name = self.player_name(id);
        self.broadcast(Event::Notice {
            text: format!("{name} lost connection"),
        });
    }

    fn player_name(&self, id: PlayerId) -> String {
        self.clients
            .get(&id)
            .and_then(|c| self.sim.player(c.key))
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    }

    /// The player a resume token belongs to.
    pub fn token_owner(&self, token: &str) -> Option<PlayerId> {
        self.tokens.get(token).copied()
    }

    /// Whether a player is in the room and connected.
    pub fn is_connected(&self, id: PlayerId) -> bool {
        self.clients.get(&id).is_some_and(|c| c.connected)
    }

    fn player_infos(&self) -> Vec<PlayerInfo> {
        let mut v: Vec<PlayerInfo> = self
            .sim
            .players()
            .values()
            .map(|p| PlayerInfo {
                id: p.id,
                name: p.name.clone(),
                score: p.score,
                deaths: p.deaths,
            })
            .collect();
        v.sort_by_key(|p| p.id);
        v
    }

    /// Removes a player (disconnect or kick). Their body disappears from every view on the
    /// next tick; the ids this client held are released.
    pub fn handle_leave(&mut self, id: PlayerId) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        self.tokens.remove(&client.resume_token);
        self.sim.remove_player(client.key);
        if let Some(body) = self.bodies.remove(client.key) {
            self.net_ids.release(body);
        }
        for (nid, _) in &client.baseline {
            self.net_ids.release(*nid);
        }
        self.broadcast(Event::Leave { player: id });
    }

    /// Queues input commands of a player.
    pub fn handle_inputs(&mut self, id: PlayerId, cmds: &[InputCmd]) -> InputOutcome {
        let mut out = InputOutcome::default();
        let Some(c) = self.clients.get_mut(&id) else {
            return out;
        };
        for cmd in cmds {
            match c.inputs.push(*cmd) {
                Push::Queued => out.queued += 1,
                Push::Duplicate => out.duplicates += 1,
                Push::TooFarAhead | Push::Full => out.rejected += 1,
            }
        }
        out
    }

    /// A chat line from a player, relayed to the room (cut to the length limit; blank lines
    /// are dropped).
    pub fn handle_chat(&mut self, id: PlayerId, text: &str) -> ChatOutcome {
        let now = f64::from(self.sim.tick().0);
        let Some(c) = self.clients.get_mut(&id) else {
            return ChatOutcome::Dropped;
        };
        let text = clean_text(text, MAX_CHAT_CHARS);
        if text.is_empty() {
            return ChatOutcome::Dropped;
        }
        if !c.chat.try_take(now) {
            c.pending_events.push(Event::Notice {
                text: "chat rate limit: message not sent".into(),
            });
            return ChatOutcome::RateLimited;
        }
        self.broadcast(Event::Chat { player: id, text });
        ChatOutcome::Sent
    }

    /// A message from the server to everyone in the room.
    pub fn notice(&mut self, text: &str) {
        self.broadcast(Event::Notice {
            text: clean_text(text, MAX_CHAT_CHARS),
        });
    }

    /// Queues an event for every connected client. A disconnected one gets none: if it
    /// resumes, its `Welcome` and first (full) snapshot carry the state instead.
    fn broadcast(&mut self, e: Event) {
        for c in self.clients.values_mut().filter(|c| c.connected) {
            c.pending_events.push(e.clone());
        }
    }

    /// Runs one tick. `ready(player)` says whether that client's outbox has room for a message;
    /// a client that is not ready skips this tick.
    pub fn tick(&mut self, mut ready: impl FnMut(PlayerId) -> bool) -> TickOutput {
        // Seats whose resume grace has run out leave first, before the world is laid into the
        // interest grid: a view built from a grid that still holds a removed body would take
        // a reference to its freed id.
        let now = self.sim.tick().next();
        let grace = self.config.resume_grace_ticks;
        let expired: Vec<PlayerId> = self
            .clients
            .iter()
            .filter(|(_, c)| !c.connected && now.since(c.disconnected_at) > grace)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.handle_leave(id);
        }
        for c in self.clients.values_mut() {
            for _ in 0..self.config.max_inputs_per_tick {
                let Some(cmd) = c.inputs.pop() else { break };
                self.sim.apply_input(c.key, &cmd);
            }
        }
        self.sim.step();
        self.absorb_sim_events();
        self.rebuild_interest();

        let tick = self.sim.tick();
        let with_checksum = self.config.checksum_interval > 0
            && tick
                .0
                .is_multiple_of(u32::from(self.config.checksum_interval));
        let mut out = TickOutput::default();
        let ids: Vec<PlayerId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.connected)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if !ready(id) {
                out.skipped += 1;
                let c = self.clients.get_mut(&id).expect("id from the map");
                c.skipped_in_a_row += 1;
                if c.skipped_in_a_row > self.config.max_skipped_ticks {
                    out.kicked.push((
                        id,
                        CloseReason::new(
                            CloseCode::TooSlow,
                            format!(
                                "could not keep up: {} snapshots skipped in a row",
                                c.skipped_in_a_row
                            ),
                        ),
                    ));
                }
                continue;
            }
            let bytes = self.snapshot_for(id, tick, with_checksum);
            out.messages.push((id, bytes));
        }
        for (id, _) in &out.kicked {
            self.handle_disconnect(*id);
        }
        out
    }

    fn absorb_sim_events(&mut self) {
        let events: Vec<SimEvent> = self.sim.drain_events().collect();
        for e in events {
            match e {
                SimEvent::ProjectileSpawned(k) => {
                    let id = self.net_ids.alloc();
                    self.projectile_ids.insert(k, id);
                }
                SimEvent::ProjectileDespawned(k) => {
                    if let Some(id) = self.projectile_ids.remove(k) {
                        self.net_ids.release(id);
                    }
                }
                SimEvent::Kill { killer, victim } => self.broadcast(Event::Kill { killer, victim }),
                SimEvent::Respawn(player) => self.broadcast(Event::Respawn { player }),
                SimEvent::Hitscan {
                    shooter,
                    from,
                    to,
                    victim,
                } => self.broadcast(Event::Hitscan {
                    shooter,
                    from_x: quantize_pos(from.x),
                    from_y: quantize_pos(from.y),
                    to_x: quantize_pos(to.x),
                    to_y: quantize_pos(to.y),
                    victim,
                }),
            }
        }
    }

    fn rebuild_interest(&mut self) {
        let sim = &self.sim;
        let bodies = &self.bodies;
        let projectile_ids = &self.projectile_ids;
        let players = sim.players().iter().map(|(k, p)| ViewEntity {
            id: bodies[k],
            pos: p.pos,
            state: EntityState::Player {
                player: p.id,
                state: p.wire_state(),
            },
        });
        let projectiles = sim.projectiles().iter().map(|(k, p)| ViewEntity {
            id: projectile_ids[k],
            pos: sim.projectile_pos(p),
            state: EntityState::Projectile(p.state),
        });
        self.interest.rebuild(players.chain(projectiles));
    }

    fn view_center(&self, c: &Client) -> Vec2 {
        self.sim.player(c.key).map_or(Vec2::ZERO, |p| p.pos)
    }

    fn snapshot_for(&mut self, id: PlayerId, tick: Tick, with_checksum: bool) -> Vec<u8> {
        let center = self.view_center(&self.clients[&id]);
        let c = self.clients.get_mut(&id).expect("caller checked");
        self.interest.view(center, Some(c.body), &mut self.view);
        let holder =
            self.config
                .update_policy
                .holder(tick, center, c.body, self.config.view_radius);
        let delta = &mut self.delta;
        diff_into(delta, &c.baseline, &mut self.view, |id, old, new| {
            holder.hold(id, old, new)
        });
        for e in &delta.created {
            self.net_ids.retain(e.id);
        }
        for nid in &delta.removed {
            self.net_ids.release(*nid);
        }
        std::mem::swap(&mut c.baseline, &mut self.view);
        c.skipped_in_a_row = 0;
        let snap = ServerMsg::Snapshot(Snapshot {
            tick,
            ack_input_seq: c.inputs.last_applied(),
            removed: std::mem::take(&mut delta.removed),
            created: std::mem::take(&mut delta.created),
            updated: std::mem::take(&mut delta.updated),
            events: std::mem::take(&mut c.pending_events),
            checksum: with_checksum.then(|| checksum(c.baseline.iter().map(|(id, e)| (*id, e)))),
        });
        self.encode_buf.clear();
        encode_server_into(&snap, &mut self.encode_buf);
        // Hand the buffers back for the next client instead of allocating new ones.
        let ServerMsg::Snapshot(snap) = snap else {
            unreachable!("built above")
        };
        (delta.removed, delta.created, delta.updated) = (snap.removed, snap.created, snap.updated);
        c.pending_events = snap.events;
        c.pending_events.clear();
        if c.pending_events.capacity() > 8 {
            // A burst (say, many joins at once) should not pin memory in every client.
            c.pending_events = Vec::new();
        }
        self.encode_buf.clone()
    }

    /// What a client should hold right now, computed straight from the sim by brute force
    /// (no grid, no baseline): the oracle tests compare replicas against.
    pub fn authoritative_view(&self, id: PlayerId) -> Vec<(NetId, EntityState)> {
        let Some(c) = self.clients.get(&id) else {
            return Vec::new();
        };
        let center = self.view_center(c);
        let r2 = self.config.view_radius * self.config.view_radius;
        let mut v = Vec::new();
        for (k, p) in self.sim.players() {
            if k == c.key || p.pos.distance_squared(center) <= r2 {
                v.push((
                    self.bodies[k],
                    EntityState::Player {
                        player: p.id,
                        state: p.wire_state(),
                    },
                ));
            }
        }
        for (k, p) in self.sim.projectiles() {
            if self.sim.projectile_pos(p).distance_squared(center) <= r2 {
                v.push((self.projectile_ids[k], EntityState::Projectile(p.state)));
            }
        }
        v.sort_by_key(|e| e.0);
        v
    }
}

#[cfg(test)]
mod tests;
