//! The engine without any real game: a test game of a few dozen lines (one entity kind, one
//! field) proves the API, and a second one with hidden information, unplaced entities, a
//! room field, player fields, actions and events drives the rest. Every client's replica is
//! decoded from the real bytes and compared with what the engine should have sent.

use super::*;
use glam::Vec2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use tickwire_shared::close::CloseCode;
use tickwire_shared::schema::{FieldDesc, FieldType, KindDesc, MessageDesc, Schema, engine_events};
use tickwire_shared::sync::{Action, InputCmd, Replica, ServerMsg, Value};
use tickwire_shared::{InputSeq, NetId, PlayerId, Tick, fields};

// ---- the smallest game: every player is a dot on a line ----

fields! { mod dot { x: I32, delta; } }
fields! { mod push { dx: I8; } }

#[derive(Default)]
struct Dots {
    dots: BTreeMap<PlayerId, (NetId, i64)>,
}

impl Game for Dots {
    fn schema(&self) -> Schema {
        Schema::new("dots")
            .kind(KindDesc {
                name: "dot".into(),
                fields: dot::fields(),
            })
            .input(push::fields())
    }
    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, _name: &str) -> Result<(), String> {
        self.dots.insert(player, (ctx.spawn(), 0));
        Ok(())
    }
    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        if let Some((id, _)) = self.dots.remove(&player) {
            ctx.despawn(id);
        }
    }
    fn input(&mut self, _ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        if let Some(d) = self.dots.get_mut(&player) {
            d.1 += cmd.lanes[push::dx];
        }
    }
    fn step(&mut self, _ctx: &mut Ctx<'_>) {}
    fn replicate(&self, world: &mut World) {
        for (p, (id, x)) in &self.dots {
            world.entity(EntityMeta::new(*id, 0).owned_by(*p), &[*x]);
        }
    }
}

/// A client as a real one is: a replica fed the room's bytes.
struct Client {
    replica: Option<Replica>,
}

impl Client {
    fn new(welcome: &[u8]) -> Client {
        let ServerMsg::Welcome(w) =
            tickwire_shared::sync::decode_server(welcome, None, &[]).unwrap()
        else {
            panic!("not a welcome")
        };
        Client {
            replica: Some(Replica::new(&w)),
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> tickwire_shared::sync::Snapshot {
        let r = self.replica.as_mut().unwrap();
        let ServerMsg::Snapshot(s) = r.decode(bytes).unwrap() else {
            panic!("not a snapshot")
        };
        r.apply(&s).unwrap();
        s
    }

    fn r(&self) -> &Replica {
        self.replica.as_ref().unwrap()
    }
}

fn cmd(seq: u32, lanes: Vec<i64>) -> InputCmd {
    InputCmd {
        seq: InputSeq(seq),
        view_tick: Tick(0),
        lanes,
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        checksum_interval: 1,
        ..EngineConfig::default()
    }
}

fn bytes_for(out: &TickOutput, id: PlayerId) -> Option<&[u8]> {
    out.messages
        .iter()
        .find(|(p, _)| *p == id)
        .map(|(_, b)| &b[..])
}

#[test]
fn a_game_of_a_few_lines_plays_and_only_the_changed_field_travels() {
    let mut room = Room::new(config(), Dots::default());
    let a = room.handle_join("ann", None).unwrap();
    let b = room.handle_join("bob", None).unwrap();
    let mut ca = Client::new(&a.welcome);
    let mut cb = Client::new(&b.welcome);
    let out = room.tick(|_| true);
    let s = ca.feed(bytes_for(&out, a.player_id).unwrap());
    cb.feed(bytes_for(&out, b.player_id).unwrap());
    assert_eq!(s.created.len(), 2, "both dots");
    assert_eq!(s.players_joined.len(), 2, "both players");
    assert_eq!(ca.r().players[&b.player_id].name, "bob");

    room.handle_inputs(a.player_id, vec![cmd(1, vec![5]), cmd(2, vec![-2])]);
    let out = room.tick(|_| true);
    let s = cb.feed(bytes_for(&out, b.player_id).unwrap());
    assert_eq!(s.updated.len(), 1);
    assert_eq!(s.updated_lanes, vec![3], "one delta lane: 5 - 2");
    let s = ca.feed(bytes_for(&out, a.player_id).unwrap());
    assert_eq!(s.ack_input_seq, InputSeq(2));
    let (_, lanes) = cb.r().of_kind(0).find(|(_, l)| l[0] == 3).unwrap();
    assert_eq!(lanes, [3]);

    // Nothing changes: each snapshot is the fixed header plus its checksum.
    let out = room.tick(|_| true);
    let idle = bytes_for(&out, b.player_id).unwrap();
    assert_eq!(idle.len(), 4 + 4, "{idle:?}");
    cb.feed(idle);
}

// ---- a game with hidden information, unplaced entities, room state, actions ----

fields! {
    mod unit {
        owner: Player;
        x: Fixed(8), interpolate, delta;
        secret: U16, owner_only;
    }
}
fields! { mod card { value: U8; } }
fields! { mod relic { holder: Player; charge: U16, owner_only; } }
fields! { mod stats { score: U32; coins: U16, owner_only; } }
fields! { mod turn { whose: Player; round: U16; } }
fields! { mod walk { dx: I8; } }

const UNIT: u16 = 0;
const CARD: u16 = 1;
const RELIC: u16 = 2;
const SCORED: u16 = tickwire_shared::schema::engine_events::COUNT;
const PING: u16 = SCORED + 1;

#[derive(Default)]
struct Rich {
    units: BTreeMap<PlayerId, (NetId, i64, i64)>,
    hands: BTreeMap<PlayerId, Vec<(NetId, i64)>>,
    score: BTreeMap<PlayerId, (i64, i64)>,
    round: i64,
    whose: i64,
    /// An unplaced entity whose owner (and so who sees its owner-only charge) changes every
    /// few ticks.
    relic: Option<(NetId, Option<PlayerId>, i64)>,
    /// Every `ping` event emitted (its serial and audience), for tests to drain.
    pings: Vec<(i64, Audience)>,
    serial: i64,
}

impl Game for Rich {
    fn schema(&self) -> Schema {
        Schema::new("rich")
            .kind(KindDesc {
                name: "unit".into(),
                fields: unit::fields(),
            })
            .kind(KindDesc {
                name: "card".into(),
                fields: card::fields(),
            })
            .kind(KindDesc {
                name: "relic".into(),
                fields: relic::fields(),
            })
            .player_fields(stats::fields())
            .room_fields(turn::fields())
            .input(walk::fields())
            .action(MessageDesc::new(
                "play",
                vec![FieldDesc::new("card", FieldType::Entity)],
            ))
            .event(MessageDesc::new(
                "scored",
                vec![
                    FieldDesc::new("player", FieldType::Player),
                    FieldDesc::new("note", FieldType::Str(16)),
                ],
            ))
            .event(MessageDesc::new(
                "ping",
                vec![FieldDesc::new("serial", FieldType::U32)],
            ))
    }
    fn view_radius(&self) -> Option<f32> {
        Some(100.0)
    }
    fn view_center(&self, player: PlayerId) -> Option<Vec2> {
        self.units
            .get(&player)
            .map(|u| Vec2::new(u.1 as f32 / 8.0, 50.0))
    }
    fn team(&self, player: PlayerId) -> Option<u16> {
        Some((player.0 % 2) as u16)
    }
    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, name: &str) -> Result<(), String> {
        if name == "banned" {
            return Err("not today".into());
        }
        let x = i64::from(player.0) * 8 * 150; // 150 units apart: out of each other's view
        self.units
            .insert(player, (ctx.spawn(), x, i64::from(player.0) * 11));
        let hand = (0..3).map(|v| (ctx.spawn(), v + 1)).collect();
        self.hands.insert(player, hand);
        self.score.insert(player, (0, 7));
        Ok(())
    }
    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        if let Some(u) = self.units.remove(&player) {
            ctx.despawn(u.0);
        }
        for (id, _) in self.hands.remove(&player).unwrap_or_default() {
            ctx.despawn(id);
        }
        self.score.remove(&player);
    }
    fn input(&mut self, _ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        if let Some(u) = self.units.get_mut(&player) {
            u.1 += cmd.lanes[walk::dx] * 8;
        }
    }
    fn action(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, a: &Action) -> Result<(), String> {
        if self.whose != i64::from(player.0) {
            return Err("not your turn".into());
        }
        let hand = self.hands.get_mut(&player).ok_or("no hand")?;
        let at = hand
            .iter()
            .position(|c| i64::from(c.0.0) == a.values[0].int())
            .ok_or("not in your hand")?;
        let (id, value) = hand.remove(at);
        ctx.despawn(id);
        let s = self.score.get_mut(&player).expect("joined");
        s.0 += value;
        s.1 -= 1;
        ctx.emit(
            Audience::All,
            SCORED,
            vec![Value::Int(i64::from(player.0)), Value::Str("played".into())],
        );
        Ok(())
    }
    fn step(&mut self, ctx: &mut Ctx<'_>) {
        let t = ctx.tick().0;
        let id = self.relic.map_or_else(|| ctx.spawn(), |r| r.0);
        let holder = match self.units.len() {
            0 => None,
            n => self.units.keys().nth((t / 5) as usize % n).copied(),
        };
        self.relic = Some((id, holder, i64::from(t % 1000)));
        // Four pings a tick: to everyone, one player, one team, and near a unit.
        let n = self.units.len().max(1);
        let one = self.units.keys().nth(t as usize % n).copied();
        let near = self.units.values().nth(t as usize / 3 % n);
        let near = near.map(|u| Vec2::new(u.1 as f32 / 8.0 + 60.0, 50.0));
        let audiences = [
            Some(Audience::All),
            one.map(Audience::Player),
            Some(Audience::Team((t % 2) as u16)),
            near.map(Audience::Near),
        ];
        for audience in audiences.into_iter().flatten() {
            let serial = self.serial;
            self.serial += 1;
            ctx.emit(audience, PING, vec![Value::Int(serial)]);
            self.pings.push((serial, audience));
        }
        if ctx.tick().0.is_multiple_of(10) {
            self.round += 1;
            self.whose = self.units.keys().next().map_or(0, |p| i64::from(p.0));
        }
    }
    fn replicate(&self, world: &mut World) {
        for (p, u) in &self.units {
            let meta = EntityMeta::new(u.0, UNIT)
                .at(Vec2::new(u.1 as f32 / 8.0, 50.0))
                .owned_by(*p);
            world.entity(meta, &[i64::from(p.0), u.1, u.2]);
        }
        for (p, hand) in &self.hands {
            for (id, v) in hand {
                let meta = EntityMeta::new(*id, CARD)
                    .owned_by(*p)
                    .visible_to(Visibility::Owner);
                world.entity(meta, &[*v]);
            }
        }
        for (p, s) in &self.score {
            world.player(*p, &[s.0, s.1]);
        }
        if let Some((id, holder, charge)) = self.relic {
            let meta = EntityMeta::new(id, RELIC);
            let meta = holder.map_or(meta, |p| meta.owned_by(p));
            world.entity(meta, &[holder.map_or(0, |p| i64::from(p.0)), charge]);
        }
        world.room(&[self.whose, self.round]);
    }
}

#[test]
fn hidden_hands_owner_only_fields_room_state_actions_and_refusals() {
    let mut room = Room::new(config(), Rich::default());
    assert!(matches!(
        room.handle_join("banned", None),
        Err(crate::room::JoinError::Refused(_))
    ));
    let a = room.handle_join("ann", None).unwrap();
    let b = room.handle_join("bob", None).unwrap();
    let (pa, pb) = (a.player_id, b.player_id);
    let mut ca = Client::new(&a.welcome);
    let mut cb = Client::new(&b.welcome);
    for _ in 0..10 {
        let out = room.tick(|_| true);
        ca.feed(bytes_for(&out, pa).unwrap());
        cb.feed(bytes_for(&out, pb).unwrap());
    }
    // Each sees its own unit and its own three cards; the other unit is out of view.
    assert_eq!(ca.r().of_kind(UNIT).count(), 1);
    assert_eq!(ca.r().of_kind(CARD).count(), 3);
    assert_eq!(cb.r().of_kind(CARD).count(), 3);
    // Player records: everyone's score, only your own coins.
    assert_eq!(ca.r().players[&pa].lanes, vec![0, 7]);
    assert_eq!(
        ca.r().players[&pb].lanes,
        vec![0, 0],
        "bob's coins are hidden"
    );
    // Room state: round 1, ann's turn.
    assert_eq!(ca.r().room, vec![i64::from(pa.0), 1]);

    // Bob walks into ann's view: ann gets his unit with its secret zeroed.
    room.handle_inputs(pb, (1..=50).map(|s| cmd(s, vec![-3])).collect());
    for _ in 0..20 {
        let out = room.tick(|_| true);
        ca.feed(bytes_for(&out, pa).unwrap());
        cb.feed(bytes_for(&out, pb).unwrap());
    }
    let bobs = ca
        .r()
        .of_kind(UNIT)
        .find(|(_, l)| l[unit::owner] == i64::from(pb.0))
        .expect("bob came into view");
    assert_eq!(bobs.1[unit::secret], 0);
    let own = cb
        .r()
        .of_kind(UNIT)
        .find(|(_, l)| l[unit::owner] == i64::from(pb.0))
        .unwrap();
    assert_eq!(own.1[unit::secret], i64::from(pb.0) * 11);
    let anns = cb
        .r()
        .of_kind(UNIT)
        .find(|(_, l)| l[unit::owner] == i64::from(pa.0))
        .expect("ann is in bob's view too");
    assert_eq!(anns.1[unit::secret], 0);
    assert_eq!(ca.r().of_kind(CARD).count(), 3, "bob's cards stay hidden");

    // Bob plays out of turn: refused with a reason; ann plays: card gone, score and event.
    let bob_card = cb.r().of_kind(CARD).next().unwrap().0;
    let play = |seq, card: NetId| Action {
        seq,
        kind: 0,
        values: vec![Value::Int(i64::from(card.0))],
    };
    assert!(room.handle_action(pb, &play(1, bob_card)).is_err());
    let ann_card = ca.r().of_kind(CARD).next().unwrap();
    let (ann_card, value) = (ann_card.0, ann_card.1[0]);
    room.handle_action(pa, &play(2, ann_card)).unwrap();
    let out = room.tick(|_| true);
    let sa = ca.feed(bytes_for(&out, pa).unwrap());
    let sb = cb.feed(bytes_for(&out, pb).unwrap());
    assert!(sa.removed.contains(&ann_card));
    assert_eq!(ca.r().of_kind(CARD).count(), 2);
    assert_eq!(cb.r().players[&pa].lanes, vec![value, 0]);
    assert_eq!(ca.r().players[&pa].lanes, vec![value, 6]);
    assert!(sa.events.iter().any(|e| e.kind == SCORED));
    let rejected = sb
        .events
        .iter()
        .find(|e| e.kind == tickwire_shared::schema::engine_events::REJECTED)
        .expect("bob is told");
    assert_eq!(rejected.values[0].int(), 1);
    assert_eq!(rejected.values[1].str(), "not your turn");
    assert!(
        !sa.events
            .iter()
            .any(|e| e.kind == tickwire_shared::schema::engine_events::REJECTED)
    );
}

/// Random joins, inputs, actions, drops, resumes, grace expiries, leaves and skipped ticks;
/// every connected client's replica must verify its checksum every tick and equal the
/// engine's own brute-force view, no id may be handed to two live entities, and a twin room
/// that computes every delta against a copy of what the client holds (the path after a
/// skipped tick) must send the same bytes as the live path; every client gets exactly the
/// pings and chat lines of its audience, in order, each once, however many ticks it skips.
#[test]
fn replicas_stay_exact_through_random_churn_and_skipping() {
    for seed in 0..6u64 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let config = EngineConfig {
            checksum_interval: 1,
            resume_grace_ticks: 3,
            max_skipped_ticks: 1000,
            ..EngineConfig::default()
        };
        let mut room = Room::new(config.clone(), Rich::default());
        let mut twin = Room::new(config, Rich::default());
        twin.always_copy = true;
        let mut twin_tokens: BTreeMap<PlayerId, String> = BTreeMap::new();
        let mut clients: BTreeMap<PlayerId, (Client, String, u32)> = BTreeMap::new();
        let mut dropped: Vec<(PlayerId, String)> = Vec::new();
        // What each connected client must get next: (event kind, serial or chat tick).
        let mut expected: BTreeMap<PlayerId, Vec<(u16, i64)>> = BTreeMap::new();
        for t in 0..400 {
            match rng.random_range(0..20) {
                0 | 1 if clients.len() < 12 => {
                    let j = room.handle_join("p", None).unwrap();
                    let jt = twin.handle_join("p", None).unwrap();
                    assert_eq!(j.player_id, jt.player_id);
                    twin_tokens.insert(jt.player_id, token_of(&jt.welcome));
                    let token = token_of(&j.welcome);
                    clients.insert(j.player_id, (Client::new(&j.welcome), token, 0));
                    expected.insert(j.player_id, Vec::new());
                }
                2 if !clients.is_empty() => {
                    let id = *clients
                        .keys()
                        .nth(rng.random_range(0..clients.len()))
                        .unwrap();
                    let (_, token, _) = clients.remove(&id).unwrap();
                    room.handle_disconnect(id);
                    twin.handle_disconnect(id);
                    expected.remove(&id);
                    dropped.push((id, token));
                }
                3 if !dropped.is_empty() => {
                    let (id, token) = dropped.remove(rng.random_range(0..dropped.len()));
                    let jt = twin.handle_join("p", twin_tokens.get(&id).map(|t| &t[..]));
                    if let Ok(j) = room.handle_join("p", Some(&token)) {
                        let jt = jt.expect("the twin takes the same player");
                        assert_eq!(jt.player_id, j.player_id);
                        assert_eq!(jt.resumed, j.resumed);
                        twin_tokens.insert(jt.player_id, token_of(&jt.welcome));
                        let token = token_of(&j.welcome);
                        clients.insert(j.player_id, (Client::new(&j.welcome), token, 0));
                        expected.insert(j.player_id, Vec::new());
                    }
                }
                4 if !clients.is_empty() => {
                    let id = *clients
                        .keys()
                        .nth(rng.random_range(0..clients.len()))
                        .unwrap();
                    clients.remove(&id);
                    room.handle_leave(id);
                    twin.handle_leave(id);
                    expected.remove(&id);
                }
                _ => {}
            }
            for (id, (c, _, seq)) in clients.iter_mut() {
                if rng.random_bool(0.5) {
                    *seq += 1;
                    let c = cmd(*seq, vec![rng.random_range(-9..=9)]);
                    room.handle_inputs(*id, vec![c.clone()]);
                    twin.handle_inputs(*id, vec![c]);
                }
                if rng.random_bool(0.05)
                    && let Some((card, _)) = c.r().of_kind(CARD).next()
                {
                    let a = Action {
                        seq: t,
                        kind: 0,
                        values: vec![Value::Int(i64::from(card.0))],
                    };
                    assert_eq!(room.handle_action(*id, &a), twin.handle_action(*id, &a));
                }
            }
            if let Some(&id) = clients.keys().nth(t as usize % 7) {
                let text = format!("c{t}");
                let sent = room.handle_chat(id, &text);
                assert_eq!(sent, twin.handle_chat(id, &text));
                if sent == ChatOutcome::Sent {
                    for q in expected.values_mut() {
                        q.push((engine_events::CHAT, i64::from(t)));
                    }
                }
            }
            let skipping: Vec<PlayerId> = clients
                .keys()
                .copied()
                .filter(|_| rng.random_bool(0.2))
                .collect();
            let out = room.tick(|id| !skipping.contains(&id));
            let twin_out = twin.tick(|id| !skipping.contains(&id));
            for (serial, audience) in std::mem::take(&mut room.game_mut().pings) {
                for (id, q) in expected.iter_mut() {
                    let to = match audience {
                        Audience::All => true,
                        Audience::Player(p) => p == *id,
                        Audience::Team(team) => room.game().team(*id) == Some(team),
                        Audience::Near(p) => room
                            .game()
                            .view_center(*id)
                            .is_some_and(|c| c.distance_squared(p) <= 100.0 * 100.0),
                    };
                    if to {
                        q.push((PING, serial));
                    }
                }
            }
            assert_eq!(
                out.messages, twin_out.messages,
                "seed {seed} tick {t}: live and copied deltas differ"
            );
            for (id, bytes) in &out.messages {
                let (c, _, _) = clients
                    .get_mut(id)
                    .expect("only connected clients get bytes");
                let snap = c.feed(bytes);
                let got: Vec<(u16, i64)> = snap
                    .events
                    .iter()
                    .filter_map(|e| match e.kind {
                        PING => Some((PING, e.values[0].int())),
                        engine_events::CHAT => {
                            Some((engine_events::CHAT, e.values[1].str()[1..].parse().unwrap()))
                        }
                        _ => None,
                    })
                    .collect();
                let want = std::mem::take(expected.get_mut(id).expect("connected"));
                assert_eq!(got, want, "seed {seed} tick {t} client {id}: events");
                let want = room.interest.brute_force_view(
                    &view::Viewer {
                        player: *id,
                        center: room.game().view_center(*id),
                        team: None,
                    },
                    &room.masks,
                );
                let have: Vec<(NetId, u16, Vec<i64>)> = c
                    .r()
                    .entities
                    .iter()
                    .map(|(id, e)| (*id, e.kind, e.lanes.clone()))
                    .collect();
                let want: Vec<(NetId, u16, Vec<i64>)> = want
                    .iter(room.schema())
                    .map(|(id, k, l)| (id, k, l.to_vec()))
                    .collect();
                assert_eq!(have, want, "seed {seed} tick {t} client {id}");
                assert_eq!(c.r().players.len(), room.records.len());
                for (pid, r) in &room.records {
                    let mut want = r.lanes.clone();
                    if pid != id {
                        want[stats::coins] = 0;
                    }
                    let have = &c.r().players[pid];
                    assert_eq!(
                        have.lanes, want,
                        "seed {seed} tick {t} client {id} player {pid}"
                    );
                    assert_eq!(have.connected, r.connected);
                }
            }
            // No id is held by two live entities.
            let mut ids: Vec<NetId> = room.interest.entities.iter().map(|e| e.0.id).collect();
            let n = ids.len();
            ids.dedup();
            assert_eq!(ids.len(), n, "seed {seed} tick {t}: an id is shared");
        }
    }
}

fn token_of(welcome: &[u8]) -> String {
    match tickwire_shared::sync::decode_server(welcome, None, &[]).unwrap() {
        ServerMsg::Welcome(w) => w.resume_token,
        _ => panic!("not a welcome"),
    }
}

// ---- walkers on a line, with a view radius: the old version-1 room's tests, for any game ----

fields! { mod body { owner: Player; x: I32, delta; } }
fields! { mod tally { score: U32; } }
fields! { mod stride { dx: I8; } }

const STEPPED: u16 = engine_events::COUNT;
const RADIUS: f32 = 100.0;

/// Every player is a body on a line that sees `RADIUS` around itself (distance ≤ radius).
/// Each input command moves it by `dx` and is announced to the room as a
/// `stepped { player, seq }` event, so every applied command is visible on the wire. A dropped
/// player's body stays where it is until the player leaves; a score is the player's record.
#[derive(Default)]
struct Walkers {
    bodies: BTreeMap<PlayerId, Walker>,
    /// Every command applied, in order: (player, seq).
    applied: Vec<(PlayerId, u32)>,
}

struct Walker {
    id: NetId,
    x: i64,
    score: i64,
}

impl Game for Walkers {
    fn schema(&self) -> Schema {
        Schema::new("walkers")
            .kind(KindDesc {
                name: "body".into(),
                fields: body::fields(),
            })
            .player_fields(tally::fields())
            .input(stride::fields())
            .event(MessageDesc::new(
                "stepped",
                vec![
                    FieldDesc::new("player", FieldType::Player),
                    FieldDesc::new("seq", FieldType::U32),
                ],
            ))
    }
    fn view_radius(&self) -> Option<f32> {
        Some(RADIUS)
    }
    fn view_center(&self, player: PlayerId) -> Option<Vec2> {
        self.bodies.get(&player).map(|w| Vec2::new(w.x as f32, 0.0))
    }
    fn join(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, _name: &str) -> Result<(), String> {
        // Close together (in each other's view) until a test places them.
        let x = 1000 + 10 * self.bodies.len() as i64;
        let id = ctx.spawn();
        self.bodies.insert(player, Walker { id, x, score: 0 });
        Ok(())
    }
    fn leave(&mut self, ctx: &mut Ctx<'_>, player: PlayerId) {
        if let Some(w) = self.bodies.remove(&player) {
            ctx.despawn(w.id);
        }
    }
    fn input(&mut self, ctx: &mut Ctx<'_>, player: PlayerId, cmd: &InputCmd) {
        if let Some(w) = self.bodies.get_mut(&player) {
            w.x += cmd.lanes[stride::dx];
            self.applied.push((player, cmd.seq.0));
            let values = vec![
                Value::Int(i64::from(player.0)),
                Value::Int(i64::from(cmd.seq.0)),
            ];
            ctx.emit(Audience::All, STEPPED, values);
        }
    }
    fn step(&mut self, _ctx: &mut Ctx<'_>) {}
    fn replicate(&self, world: &mut World) {
        for (p, w) in &self.bodies {
            let meta = EntityMeta::new(w.id, 0)
                .at(Vec2::new(w.x as f32, 0.0))
                .owned_by(*p);
            world.entity(meta, &[i64::from(p.0), w.x]);
            world.player(*p, &[w.score]);
        }
    }
}

type Walk = crate::testing::TestRoom<Walkers>;

fn walkers(config: EngineConfig) -> Walk {
    crate::testing::TestRoom::new(config, Walkers::default())
}

/// Joins through the room itself (to keep the resume token) and starts the player's replica
/// from its `Welcome`; returns the player and its token.
fn enter(t: &mut Walk, name: &str, token: Option<&str>) -> (Joined, String) {
    let j = t
        .room
        .handle_join(name, token)
        .expect("the room takes the player");
    let ServerMsg::Welcome(w) =
        tickwire_shared::sync::decode_server(&j.welcome, None, &[]).unwrap()
    else {
        panic!("not a welcome")
    };
    assert_eq!((w.player_id, w.resumed), (j.player_id, j.resumed));
    t.replicas.insert(j.player_id, Replica::new(&w));
    t.last.remove(&j.player_id);
    (j, w.resume_token)
}

fn place(t: &mut Walk, p: PlayerId, x: i64) {
    t.room.game_mut().bodies.get_mut(&p).expect("in the game").x = x;
}

fn body_of(t: &Walk, p: PlayerId) -> NetId {
    t.room.game().bodies[&p].id
}

fn last(t: &Walk, p: PlayerId) -> &tickwire_shared::sync::Snapshot {
    &t.last[&p].0
}

fn ids(created: &[tickwire_shared::sync::Spawn]) -> Vec<NetId> {
    created.iter().map(|c| c.id).collect()
}

/// A snapshot's events, readably.
fn said(s: &tickwire_shared::sync::Snapshot) -> Vec<String> {
    s.events
        .iter()
        .map(|e| {
            let v = &e.values;
            match e.kind {
                engine_events::CHAT => format!("chat {} {}", v[0].int(), v[1].str()),
                engine_events::NOTICE => format!("notice {}", v[0].str()),
                STEPPED => format!("stepped {} {}", v[0].int(), v[1].int()),
                k => format!("event {k}"),
            }
        })
        .collect()
}

/// Every connected client sent this tick's snapshot holds exactly what the game says it
/// sees (its own body, and every body within the radius of it, with their lanes) and every
/// player's record (name, connection, score).
fn assert_exact(t: &Walk) {
    let tick = t.room.tick_count();
    let game = t.room.game();
    for (me, r) in &t.replicas {
        if !t.room.is_connected(*me) || r.tick != tick {
            continue;
        }
        let at = game.bodies[me].x;
        let mut want: Vec<(NetId, u16, Vec<i64>)> = game
            .bodies
            .iter()
            .filter(|(p, w)| *p == me || (w.x - at).abs() as f32 <= RADIUS)
            .map(|(p, w)| (w.id, 0, vec![i64::from(p.0), w.x]))
            .collect();
        want.sort();
        let have: Vec<(NetId, u16, Vec<i64>)> = r
            .entities
            .iter()
            .map(|(id, e)| (*id, e.kind, e.lanes.clone()))
            .collect();
        assert_eq!(have, want, "tick {} client {me}: entities", tick.0);
        let want: Vec<(PlayerId, String, bool, Vec<i64>)> = game
            .bodies
            .iter()
            .map(|(p, w)| {
                let name = t.room.records[p].name.clone();
                (*p, name, t.room.is_connected(*p), vec![w.score])
            })
            .collect();
        let have: Vec<(PlayerId, String, bool, Vec<i64>)> = r
            .players
            .iter()
            .map(|(p, r)| (*p, r.name.clone(), r.connected, r.lanes.clone()))
            .collect();
        assert_eq!(have, want, "tick {} client {me}: players", tick.0);
    }
}

#[test]
fn a_still_tick_walks_no_view_and_what_changes_after_it_arrives_exactly() {
    // A checksum every tick: every client gets a frame, and every replica is checked.
    let mut t = walkers(config());
    let (a, b, c) = (t.join("ann"), t.join("bob"), t.join("cy"));
    place(&mut t, c, 2000);
    assert_eq!(
        t.tick().still_views,
        0,
        "the first snapshots create the views"
    );
    assert_exact(&t);
    for _ in 0..3 {
        let out = t.tick();
        assert_eq!(out.still_views, 3, "nothing changed: no view walked");
        assert_eq!(out.messages.len(), 3);
        assert_exact(&t);
    }
    // A step is a change: every view is walked, and bob sees it.
    t.input(a, vec![5]);
    assert_eq!(t.tick().still_views, 0);
    assert!(last(&t, b).created.is_empty());
    assert_eq!(last(&t, b).updated.len(), 1);
    assert_exact(&t);
    assert_eq!(t.tick().still_views, 3);
    assert_exact(&t);
    // A newcomer is a change; on the next still tick its view stays too.
    let d = t.join("dee");
    assert_eq!(t.tick().still_views, 0);
    assert_eq!(t.tick().still_views, 4);
    assert_exact(&t);
    // One that skipped a tick is walked in full, then stays again.
    let out = t.tick_with(|p| p != d);
    assert_eq!(out.still_views, 3);
    let out = t.tick();
    assert_eq!(out.still_views, 3, "dee skipped the last tick");
    assert_exact(&t);
    assert_eq!(t.tick().still_views, 4);
    // Cy walks into ann's view after the still ticks: both see each other, exactly.
    place(&mut t, c, 1020);
    assert_eq!(t.tick().still_views, 0);
    assert_exact(&t);
    assert!(ids(&last(&t, a).created).contains(&body_of(&t, c)));
    assert_eq!(t.tick().still_views, 4);
    assert_exact(&t);
}

#[test]
fn first_snapshot_creates_the_view_then_idle_costs_nothing() {
    // No checksums: an idle snapshot is the header alone.
    let mut t = walkers(EngineConfig::default());
    let (a, b, c) = (t.join("ann"), t.join("bob"), t.join("cy"));
    place(&mut t, a, 1000);
    place(&mut t, b, 1050);
    place(&mut t, c, 2000);
    let out = t.tick();
    assert_eq!(out.messages.len(), 3);
    // Complete: ann's view (her body and bob's, not cy's far away) and every player.
    let mut view = vec![body_of(&t, a), body_of(&t, b)];
    view.sort();
    let s = last(&t, a);
    assert_eq!(ids(&s.created), view);
    let joined: Vec<(PlayerId, &str, bool)> = s
        .players_joined
        .iter()
        .map(|p| (p.id, p.name.as_str(), p.connected))
        .collect();
    assert_eq!(
        joined,
        vec![(a, "ann", true), (b, "bob", true), (c, "cy", true)]
    );
    assert!(s.removed.is_empty() && s.updated.is_empty() && s.players_changed.is_empty());
    assert_eq!(ids(&last(&t, c).created), vec![body_of(&t, c)]);
    assert_eq!(last(&t, c).players_joined.len(), 3);
    assert_exact(&t);

    // Ann sends a command that moves nothing: her ack and its event, no entity.
    t.room.handle_inputs(a, vec![cmd(1, vec![0])]);
    t.tick();
    assert_eq!(last(&t, a).ack_input_seq, InputSeq(1));
    assert_eq!(said(last(&t, b)), vec![format!("stepped {} 1", a.0)]);
    assert!(last(&t, b).updated.is_empty());

    // Nothing changes: a quiet tick sends no frame at all.
    let out = t.tick();
    assert_eq!(out.messages.len(), 0, "quiet ticks cost nothing");
    // Without quiet ticks every snapshot is the 4-byte header (message 1, tick, ack, no
    // sections), the same bytes as an empty snapshot, tick after tick.
    t.room.config_mut().quiet_ticks = false;
    for _ in 0..3 {
        let out = t.tick();
        let tick = t.room.tick_count();
        assert_eq!(out.messages.len(), 3);
        for (p, bytes) in &out.messages {
            let ack = if *p == a { 1 } else { 0 };
            assert_eq!(bytes[..], [1, tick.0 as u8, ack, 0], "client {p}");
            let mut empty = Vec::new();
            let msg = ServerMsg::Snapshot(tickwire_shared::sync::Snapshot::empty(
                tick,
                InputSeq(u32::from(ack)),
            ));
            tickwire_shared::sync::encode_server(&msg, t.room.schema(), &[], &mut empty);
            assert_eq!(*bytes, empty);
        }
        assert_exact(&t);
    }
}

#[test]
fn entities_enter_and_leave_view_explicitly() {
    let mut t = walkers(config());
    let (a, b) = (t.join("ann"), t.join("bob"));
    place(&mut t, a, 1000);
    place(&mut t, b, 1100); // at the edge: distance ≤ radius is in view
    t.tick();
    let (ab, bb) = (body_of(&t, a), body_of(&t, b));
    assert!(t.replicas[&a].entities.contains_key(&bb));
    assert_exact(&t);

    // One unit past the edge: removed from ann's snapshot, and ann's from bob's.
    place(&mut t, b, 1101);
    t.tick();
    assert_eq!(last(&t, a).removed, vec![bb]);
    assert_eq!(last(&t, b).removed, vec![ab]);
    assert!(!t.replicas[&a].entities.contains_key(&bb));
    assert!(
        t.replicas[&b].entities.contains_key(&bb),
        "your own body is always in your view"
    );
    assert_exact(&t);
    // Removed once; it walks on out of view without a word.
    place(&mut t, b, 1300);
    t.tick();
    assert!(last(&t, a).removed.is_empty(), "removed once");
    assert!(last(&t, a).updated.is_empty() && last(&t, a).created.is_empty());
    assert_exact(&t);

    // Back at the edge: created again, whole, with the same id.
    place(&mut t, b, 1100);
    t.tick();
    let s = last(&t, a);
    assert_eq!(ids(&s.created), vec![bb]);
    assert_eq!(s.created_lanes, vec![i64::from(b.0), 1100]);
    assert!(s.removed.is_empty() && s.updated.is_empty());
    assert_exact(&t);
    t.tick();
    assert!(last(&t, a).created.is_empty(), "created once");
}

#[test]
fn slow_client_skips_ticks_then_gets_a_correct_delta_and_every_event() {
    let mut t = walkers(config());
    let (a, b, d) = (t.join("ann"), t.join("bob"), t.join("dan"));
    t.tick();
    let (bb, db) = (body_of(&t, b), body_of(&t, d));
    let before = t.replicas[&a].snapshots_applied;
    // Ann's outbox is full from now on; meanwhile cy joins, dan leaves, bob walks 20
    // commands of 3 units, his score changes twice, and he chats.
    let c = t.join("cy");
    for i in 1..=20u32 {
        t.room.handle_inputs(b, vec![cmd(i, vec![3])]);
        if i == 5 {
            t.room.game_mut().bodies.get_mut(&b).unwrap().score = 3;
        }
        if i == 12 {
            t.room.game_mut().bodies.get_mut(&b).unwrap().score = 9;
        }
        let out = t.tick_with(|p| p != a);
        assert_eq!(out.skipped, 1);
        assert!(bytes_for(&out, a).is_none());
        assert!(bytes_for(&out, b).is_some());
        if i == 8 {
            t.leave(d);
        }
        if i == 10 {
            assert_eq!(t.room.handle_chat(b, "hi"), ChatOutcome::Sent);
        }
    }
    assert_eq!(
        t.replicas[&a].snapshots_applied, before,
        "nothing while full"
    );
    assert_eq!(t.replicas[&a].entities[&bb].lanes[body::x], 1010);

    let out = t.tick();
    assert!(out.kicked.is_empty());
    assert_eq!(out.messages.iter().filter(|(p, _)| *p == a).count(), 1);
    let s = last(&t, a);
    // One delta against what ann holds: cy created, dan removed, bob's x moved by all 60.
    assert_eq!(ids(&s.created), vec![body_of(&t, c)]);
    assert_eq!(s.removed, vec![db]);
    assert_eq!(s.updated.len(), 1);
    assert_eq!((s.updated[0].id, s.updated[0].mask), (bb, 1 << body::x));
    assert_eq!(
        s.updated_lanes,
        vec![60],
        "the change of a delta field: 20 × 3"
    );
    assert_eq!(t.replicas[&a].entities[&bb].lanes[body::x], 1070);
    // Player records: cy joined, dan left, bob's latest score once.
    assert_eq!(
        s.players_joined.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![c]
    );
    assert_eq!(s.players_left, vec![d]);
    let changed: Vec<PlayerId> = s.players_changed.iter().map(|p| p.id).collect();
    assert_eq!((changed, s.changed_lanes.clone()), (vec![b], vec![9]));
    // Every event of the gap, in order, each once.
    let mut want: Vec<String> = (1..=10).map(|i| format!("stepped {} {i}", b.0)).collect();
    want.push(format!("chat {} hi", b.0));
    want.extend((11..=20).map(|i| format!("stepped {} {i}", b.0)));
    assert_eq!(said(s), want);
    assert!(s.checksum.is_some(), "the replica verified its checksum");
    assert_exact(&t);
    // And it is live again: the next tick is an ordinary one.
    t.tick();
    assert!(said(last(&t, a)).is_empty());
    assert_exact(&t);
}

#[test]
fn a_client_that_never_catches_up_is_dropped_then_removed_after_the_grace_period() {
    let grace = 10;
    let mut t = walkers(EngineConfig {
        max_skipped_ticks: 5,
        resume_grace_ticks: grace,
        ..config()
    });
    let (ja, token) = enter(&mut t, "ann", None);
    let a = ja.player_id;
    let b = t.join("bob");
    t.tick();
    let ab = body_of(&t, a);
    // Five skipped ticks in a row are tolerated, and a snapshot in between counts afresh.
    for _ in 0..2 {
        for _ in 0..5 {
            assert!(t.tick_with(|p| p != a).kicked.is_empty());
        }
        assert!(t.tick().kicked.is_empty());
        assert_exact(&t);
    }
    // The sixth in a row is one too many.
    for _ in 0..5 {
        assert!(t.tick_with(|p| p != a).kicked.is_empty());
    }
    let out = t.tick_with(|p| p != a);
    let kicked_at = t.room.tick_count();
    assert_eq!(out.kicked.len(), 1);
    let (who, why) = &out.kicked[0];
    assert_eq!(*who, a);
    assert_eq!(why.code, CloseCode::TooSlow);
    assert_eq!(
        why.reason,
        "could not keep up: 6 snapshots skipped in a row"
    );
    assert!(!t.room.is_connected(a));
    assert_eq!(t.room.player_count(), 2, "the seat is kept for a resume");
    assert_eq!(t.room.token_owner(&token), Some(a));
    // Bob is told and sees her record go offline; her body stays.
    let out = t.tick();
    assert!(bytes_for(&out, a).is_none(), "nothing for a dropped client");
    assert_eq!(said(last(&t, b)), vec!["notice ann lost connection"]);
    assert!(!t.replicas[&b].players[&a].connected);
    assert!(t.replicas[&b].entities.contains_key(&ab));
    assert_exact(&t);
    // Once the grace period is over she leaves: in one snapshot, her body with her, no notice.
    let mut left_at = None;
    while t.room.tick_count().since(kicked_at) < grace + 2 {
        let out = t.tick();
        assert!(out.kicked.is_empty() && bytes_for(&out, a).is_none());
        let s = last(&t, b);
        if !s.players_left.is_empty() {
            assert!(left_at.is_none(), "left once");
            assert_eq!(s.players_left, vec![a]);
            assert_eq!(s.removed, vec![ab]);
            assert!(said(s).is_empty(), "no notice for a player who leaves");
            left_at = Some(t.room.tick_count());
        } else {
            assert!(s.removed.is_empty());
        }
        assert_eq!(t.room.player_count(), if left_at.is_some() { 1 } else { 2 });
        assert_exact(&t);
    }
    let left_at = left_at.expect("removed once the grace period is over");
    assert_eq!(
        left_at.since(kicked_at),
        grace + 1,
        "kept for exactly the grace period, gone in the tick after it"
    );
    assert_eq!(t.room.token_owner(&token), None, "the token is spent");
    assert!(!t.replicas[&b].players.contains_key(&a));
    assert!(
        !t.room.game().bodies.contains_key(&a),
        "the game's leave ran"
    );
}

#[test]
fn resume_within_grace_keeps_player_body_and_score_and_sends_a_full_snapshot() {
    let mut t = walkers(EngineConfig {
        resume_grace_ticks: 30,
        ..config()
    });
    let (ja, token) = enter(&mut t, "ann", None);
    let a = ja.player_id;
    assert!(token.starts_with("main."), "{token}");
    let b = t.join("bob");
    place(&mut t, a, 1000);
    place(&mut t, b, 1060);
    t.room.handle_inputs(a, vec![cmd(1, vec![5])]);
    t.tick();
    let (ab, bb) = (body_of(&t, a), body_of(&t, b));
    t.room.game_mut().bodies.get_mut(&a).unwrap().score = 7;
    // Two commands queued but not applied when the connection drops: they are thrown away.
    t.room
        .handle_inputs(a, vec![cmd(2, vec![5]), cmd(3, vec![5])]);
    t.room.handle_disconnect(a);
    t.tick();
    assert_eq!(said(last(&t, b)), vec!["notice ann lost connection"]);
    for i in 0..19 {
        if i == 3 {
            assert_eq!(t.room.handle_chat(b, "anyone?"), ChatOutcome::Sent);
        }
        t.tick();
        assert!(
            t.replicas[&b].entities.contains_key(&ab),
            "the body stays in the world meanwhile"
        );
        assert_exact(&t);
    }
    assert_eq!(t.room.game().bodies[&a].x, 1005);
    assert_eq!(t.room.game().applied, vec![(a, 1)]);

    let (j, fresh) = enter(&mut t, "someone else", Some(&token));
    assert!(j.resumed);
    assert_eq!(j.player_id, a);
    assert_ne!(fresh, token, "tokens rotate");
    assert_eq!(t.room.token_owner(&token), None);
    assert_eq!(t.room.token_owner(&fresh), Some(a));
    t.tick();
    // Complete, as after a first join: her body (same id, where it was) and bob's, every
    // player with its record (her score kept, her name too).
    let s = last(&t, a);
    let mut view = vec![ab, bb];
    view.sort();
    assert_eq!(ids(&s.created), view);
    let joined: Vec<(PlayerId, &str, bool)> = s
        .players_joined
        .iter()
        .map(|p| (p.id, p.name.as_str(), p.connected))
        .collect();
    assert_eq!(joined, vec![(a, "ann", true), (b, "bob", true)]);
    assert_eq!(s.joined_lanes, vec![7, 0]);
    assert_eq!(
        t.replicas[&a].entities[&ab].lanes,
        vec![i64::from(a.0), 1005]
    );
    assert_eq!(s.ack_input_seq, InputSeq(0), "input numbering starts over");
    assert!(
        said(s).is_empty(),
        "nothing from the time away (bob's chat) nor her own notice: {:?}",
        said(s)
    );
    // Bob: the notice and her record online again, nothing else.
    let s = last(&t, b);
    assert_eq!(said(s), vec!["notice ann is back"]);
    let changed: Vec<(PlayerId, bool)> = s
        .players_changed
        .iter()
        .map(|p| (p.id, p.connected))
        .collect();
    assert_eq!(changed, vec![(a, true)]);
    assert!(s.created.is_empty() && s.removed.is_empty() && s.updated.is_empty());
    assert!(s.players_joined.is_empty() && s.players_left.is_empty());
    assert_exact(&t);
    // Her new connection numbers its commands from 1.
    t.room.handle_inputs(a, vec![cmd(1, vec![2])]);
    t.tick();
    assert_eq!(last(&t, a).ack_input_seq, InputSeq(1));
    assert_eq!(t.room.game().applied, vec![(a, 1), (a, 1)]);
    assert_eq!(t.replicas[&a].entities[&ab].lanes[body::x], 1007);
    assert_exact(&t);
    // The old token is spent (it makes a new player); the fresh one takes her back.
    t.room.handle_disconnect(a);
    let (j, _) = enter(&mut t, "x", Some(&token));
    assert!(!j.resumed);
    assert_ne!(j.player_id, a);
    let (j, _) = enter(&mut t, "x", Some(&fresh));
    assert!(j.resumed);
    assert_eq!(j.player_id, a);
    t.tick();
    assert_exact(&t);
}

#[test]
fn resume_after_grace_is_a_new_player() {
    let grace = 5;
    let mut t = walkers(EngineConfig {
        resume_grace_ticks: grace,
        ..config()
    });
    let (ja, ta) = enter(&mut t, "ann", None);
    let (jc, tc) = enter(&mut t, "cy", None);
    let (a, c) = (ja.player_id, jc.player_id);
    let b = t.join("bob");
    t.tick();
    let ab = body_of(&t, a);
    t.room.handle_disconnect(a);
    t.room.handle_disconnect(c);
    for _ in 0..grace {
        t.tick();
    }
    // Within the grace period: cy is taken back.
    let (j, _) = enter(&mut t, "cy", Some(&tc));
    assert!(j.resumed);
    assert_eq!(j.player_id, c);
    // The next tick is the first after her grace: ann's seat goes in it.
    t.tick();
    assert_exact(&t);
    // Ann's is over: she left, and her token makes a new player with a new body.
    assert!(!t.room.game().bodies.contains_key(&a));
    assert!(!t.replicas[&b].players.contains_key(&a));
    assert!(!t.replicas[&b].entities.contains_key(&ab));
    assert_eq!(t.room.token_owner(&ta), None);
    let (j, _) = enter(&mut t, "ann", Some(&ta));
    assert!(!j.resumed);
    let a2 = j.player_id;
    assert!(a2 != a && a2 != b && a2 != c);
    t.tick();
    assert_eq!(t.replicas[&b].players[&a2].name, "ann");
    assert_eq!(t.replicas[&b].players[&a2].lanes, vec![0], "a fresh record");
    assert!(t.replicas[&a2].players.contains_key(&c));
    assert_exact(&t);
}

#[test]
fn chat_is_rate_limited_per_player() {
    let mut t = walkers(EngineConfig {
        chat_burst: 2,
        chat_refill_ticks: 10,
        ..config()
    });
    let (a, b) = (t.join("ann"), t.join("bob"));
    let limited = "notice chat rate limit: message not sent";
    // A line empty once cleaned is dropped, and costs nothing.
    assert_eq!(t.room.handle_chat(a, " \n\t "), ChatOutcome::Dropped);
    // A burst of two, then refused.
    let outcomes: Vec<ChatOutcome> = (0..3)
        .map(|i| t.room.handle_chat(a, &format!("m{i}")))
        .collect();
    use ChatOutcome::{RateLimited, Sent};
    assert_eq!(outcomes, vec![Sent, Sent, RateLimited]);
    // Bob has his own bucket.
    assert_eq!(t.room.handle_chat(b, "hey"), Sent);
    t.tick();
    let (ca, cb) = (format!("chat {}", a.0), format!("chat {}", b.0));
    assert_eq!(
        said(last(&t, a)),
        vec![
            format!("{ca} m0"),
            format!("{ca} m1"),
            limited.into(),
            format!("{cb} hey")
        ],
        "the refused line is not relayed; its sender alone is told, in order"
    );
    assert_eq!(
        said(last(&t, b)),
        vec![format!("{ca} m0"), format!("{ca} m1"), format!("{cb} hey")]
    );
    // One line earned back every 10 ticks: half way, still refused.
    while t.room.tick_count() < Tick(5) {
        t.tick();
    }
    assert_eq!(t.room.handle_chat(a, "soon?"), RateLimited);
    t.tick();
    assert_eq!(said(last(&t, a)), vec![limited]);
    assert!(said(last(&t, b)).is_empty());
    while t.room.tick_count() < Tick(10) {
        t.tick();
    }
    assert_eq!(t.room.handle_chat(a, "later"), Sent);
    assert_eq!(
        t.room.handle_chat(a, "and more"),
        RateLimited,
        "one line, not a burst"
    );
    assert_eq!(t.room.handle_chat(b, "b1"), Sent);
    assert_eq!(
        t.room.handle_chat(b, "b2"),
        Sent,
        "bob's bucket is full again"
    );
    t.tick();
    assert_eq!(
        said(last(&t, a)),
        vec![
            format!("{ca} later"),
            limited.into(),
            format!("{cb} b1"),
            format!("{cb} b2")
        ]
    );
    assert_eq!(
        said(last(&t, b)),
        vec![
            format!("{ca} later"),
            format!("{cb} b1"),
            format!("{cb} b2")
        ]
    );
}

#[test]
fn full_room_refuses_with_a_reason() {
    let mut t = walkers(EngineConfig {
        max_players: 2,
        ..config()
    });
    let (ja, token) = enter(&mut t, "ann", None);
    let a = ja.player_id;
    let b = t.join("bob");
    let err = t.room.handle_join("cy", None).unwrap_err();
    assert_eq!(err, JoinError::Full(2));
    let why = err.close_reason();
    assert_eq!(why.code, CloseCode::Full);
    assert_eq!(why.reason, "room is full (2 players)");
    assert_eq!(t.room.player_count(), 2);
    assert_eq!(t.room.game().bodies.len(), 2, "the game never saw cy");
    t.tick();
    assert_eq!(t.replicas[&a].players.len(), 2);
    // A dropped player keeps its seat: still full, and she may still come back.
    t.room.handle_disconnect(a);
    t.tick();
    assert_eq!(
        t.room.handle_join("cy", None).unwrap_err(),
        JoinError::Full(2)
    );
    let (j, _) = enter(&mut t, "ann", Some(&token));
    assert!(j.resumed && j.player_id == a);
    // A player who leaves frees the seat.
    t.leave(b);
    let c = t.join("cy");
    assert!(c != a && c != b);
    t.tick();
    assert_eq!(
        t.replicas[&a].players.keys().copied().collect::<Vec<_>>(),
        vec![a, c]
    );
    assert_exact(&t);
}

#[test]
fn redundant_and_reordered_input_frames_apply_each_command_once() {
    let mut t = walkers(config());
    let (a, b) = (t.join("ann"), t.join("bob"));
    place(&mut t, a, 1000);
    t.tick();
    // Command s moves s units, so the position tells which commands were applied.
    let c = |s: u32| cmd(s, vec![i64::from(s)]);
    let outcome = |queued, duplicates, rejected| InputOutcome {
        queued,
        duplicates,
        rejected,
    };
    let stepped = |seqs: std::ops::RangeInclusive<u32>| -> Vec<String> {
        seqs.map(|s| format!("stepped {} {s}", a.0)).collect()
    };
    // Each frame repeats the unacknowledged commands before the new one.
    assert_eq!(t.room.handle_inputs(a, vec![c(1)]), outcome(1, 0, 0));
    assert_eq!(t.room.handle_inputs(a, vec![c(1), c(2)]), outcome(1, 1, 0));
    t.tick();
    assert_eq!(last(&t, a).ack_input_seq, InputSeq(2));
    assert_eq!(said(last(&t, b)), stepped(1..=2));
    // Late repeats of applied commands, and a frame whose commands arrive out of order.
    assert_eq!(
        t.room.handle_inputs(a, vec![c(1), c(2), c(3)]),
        outcome(1, 2, 0)
    );
    assert_eq!(
        t.room.handle_inputs(a, vec![c(4), c(3), c(2)]),
        outcome(1, 2, 0)
    );
    t.tick();
    assert_eq!(last(&t, a).ack_input_seq, InputSeq(4));
    assert_eq!(said(last(&t, b)), stepped(3..=4));
    // Queued out of order, applied in order; a seq far past the window is refused.
    assert_eq!(
        t.room.handle_inputs(a, vec![c(6), c(5), c(6), c(4 + 257)]),
        outcome(2, 1, 1)
    );
    t.tick();
    assert_eq!(last(&t, a).ack_input_seq, InputSeq(6));
    assert_eq!(said(last(&t, b)), stepped(5..=6));
    // At most three a tick; the rest wait for the next.
    assert_eq!(
        t.room.handle_inputs(a, (7..=11).map(c).collect()),
        outcome(5, 0, 0)
    );
    t.tick();
    assert_eq!(last(&t, a).ack_input_seq, InputSeq(9));
    assert_eq!(said(last(&t, b)), stepped(7..=9));
    t.tick();
    assert_eq!(last(&t, a).ack_input_seq, InputSeq(11));
    assert_eq!(said(last(&t, b)), stepped(10..=11));
    t.tick();
    assert!(said(last(&t, b)).is_empty());
    // Eleven commands, eleven steps: none applied twice, none lost.
    let want: Vec<(PlayerId, u32)> = (1..=11).map(|s| (a, s)).collect();
    assert_eq!(t.room.game().applied, want);
    assert_eq!(t.room.game().bodies[&a].x, 1000 + (1..=11).sum::<i64>());
    assert_eq!(
        t.replicas[&b].entities[&body_of(&t, a)].lanes[body::x],
        1066
    );
    assert_exact(&t);
}

/// A dropped player's grace runs out in the very tick another client would first see its
/// body: the body must leave the world before any view is built from it, or that client is
/// sent an entity that is already gone (and its id may later go to a second entity).
#[test]
fn a_body_whose_grace_expires_is_never_first_seen_in_that_tick() {
    let grace = 3;
    let mut covered = false;
    for offset in 0..grace + 3 {
        let mut t = walkers(EngineConfig {
            resume_grace_ticks: grace,
            ..config()
        });
        let (a, b) = (t.join("ann"), t.join("bob"));
        place(&mut t, a, 500);
        place(&mut t, b, 1500);
        t.tick();
        let ab = body_of(&t, a);
        t.room.handle_disconnect(a);
        let mut gone_at = None;
        let mut created = 0;
        for i in 0..grace + 3 {
            if i == offset {
                place(&mut t, b, 520); // bob walks into view of ann's body
            }
            t.tick();
            let gone = !t.room.game().bodies.contains_key(&a);
            if gone && gone_at.is_none() {
                gone_at = Some(i);
            }
            if ids(&last(&t, b).created).contains(&ab) {
                assert!(
                    !gone,
                    "offset {offset}: sent ann's body in the tick it left"
                );
                created += 1;
            }
            assert_eq!(
                t.replicas[&b].entities.contains_key(&ab),
                i >= offset && !gone,
                "offset {offset} tick {i}"
            );
            assert_exact(&t);
        }
        let gone_at = gone_at.expect("the grace period ran out");
        assert_eq!(created, usize::from(offset < gone_at), "offset {offset}");
        covered |= offset == gone_at;
        // Later entities never share an id with anything a client holds.
        for k in 0..4 {
            let p = t.join(&format!("late{k}"));
            place(&mut t, p, 510 + 10 * k);
            for s in 1..=3 {
                t.room.handle_inputs(p, vec![cmd(s, vec![1])]);
                t.tick();
                assert_exact(&t);
            }
        }
        let mut live: Vec<NetId> = t.room.game().bodies.values().map(|w| w.id).collect();
        live.sort();
        live.dedup();
        assert_eq!(live.len(), 5, "offset {offset}: bob and four late bodies");
    }
    assert!(covered, "bob walked in exactly as the grace ran out");
}

#[test]
fn new_players_get_the_message_of_the_day_and_only_they_do() {
    let mut t = walkers(EngineConfig {
        motd: Some("welcome\u{7}, be nice".into()),
        ..config()
    });
    let ann = t.join("ann");
    t.tick();
    assert_eq!(said(last(&t, ann)), ["notice welcome, be nice"]);
    // Later snapshots do not repeat it; a newcomer gets it alone.
    t.tick();
    assert!(said(last(&t, ann)).is_empty());
    let bob = t.join("bob");
    t.tick();
    assert_eq!(said(last(&t, bob)), ["notice welcome, be nice"]);
    assert!(said(last(&t, ann)).is_empty(), "{:?}", said(last(&t, ann)));
    // Without one, nothing is said.
    let mut quiet = walkers(config());
    let cid = quiet.join("cid");
    quiet.tick();
    assert!(said(last(&quiet, cid)).is_empty());
}

mod ids_under_churn {
    //! Property: through any sequence of joins, drops, resumes, leaves, moves in and out of
    //! view, skipped ticks and grace expiries, no two live entities ever share a NetId and no
    //! client is ever sent a `created` for an id it already holds (its replica refuses a
    //! duplicate create, which fails the tick), and every client holds exactly its view.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Join,
        Drop(usize),
        Resume(usize),
        Leave(usize),
        Move(usize, i64),
        Skip(usize),
        Ticks(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => Just(Op::Join),
            2 => any::<usize>().prop_map(Op::Drop),
            1 => any::<usize>().prop_map(Op::Resume),
            1 => any::<usize>().prop_map(Op::Leave),
            // Positions on a short line: bodies walk in and out of each other's view.
            4 => (any::<usize>(), 0i64..500).prop_map(|(i, x)| Op::Move(i, x)),
            2 => any::<usize>().prop_map(Op::Skip),
            3 => (1u8..5).prop_map(Op::Ticks),
        ]
    }

    fn nth<T: Copy>(v: &[T], i: usize) -> Option<T> {
        (!v.is_empty()).then(|| v[i % v.len()])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn no_two_live_entities_share_an_id_and_no_create_repeats(ops in prop::collection::vec(op(), 1..120)) {
            let mut t = walkers(EngineConfig {
                resume_grace_ticks: 2,
                max_skipped_ticks: 1000,
                ..config()
            });
            let mut tokens: BTreeMap<PlayerId, String> = BTreeMap::new();
            let mut dropped: Vec<PlayerId> = Vec::new();
            let mut skipping: Vec<PlayerId> = Vec::new();
            for op in ops {
                let online: Vec<PlayerId> = tokens
                    .keys()
                    .copied()
                    .filter(|p| t.room.is_connected(*p))
                    .collect();
                let mut ticks = 0;
                match op {
                    Op::Join => {
                        let (j, token) = enter(&mut t, "p", None);
                        tokens.insert(j.player_id, token);
                    }
                    Op::Drop(i) => {
                        if let Some(p) = nth(&online, i) {
                            t.room.handle_disconnect(p);
                            t.replicas.remove(&p);
                            dropped.push(p);
                        }
                    }
                    Op::Resume(i) => {
                        if let Some(p) = nth(&dropped, i) {
                            dropped.retain(|d| *d != p);
                            let token = tokens[&p].clone();
                            if let Ok(j) = t.room.handle_join("p", Some(&token)) {
                                // The seat was still held: the same player, resumed.
                                prop_assert_eq!(j.player_id, p);
                                tokens.remove(&p);
                                let (j, token) = {
                                    // Decode the Welcome as `enter` does.
                                    let ServerMsg::Welcome(w) = tickwire_shared::sync::decode_server(
                                        &j.welcome, None, &[],
                                    )
                                    .unwrap() else {
                                        panic!("not a welcome")
                                    };
                                    t.replicas.insert(j.player_id, Replica::new(&w));
                                    t.last.remove(&j.player_id);
                                    (j, w.resume_token)
                                };
                                tokens.insert(j.player_id, token);
                            } else {
                                tokens.remove(&p);
                            }
                        }
                    }
                    Op::Leave(i) => {
                        if let Some(p) = nth(&online, i) {
                            t.leave(p);
                            tokens.remove(&p);
                        }
                    }
                    Op::Move(i, x) => {
                        if let Some(p) = nth(&online, i) {
                            place(&mut t, p, x);
                        }
                    }
                    Op::Skip(i) => {
                        if let Some(p) = nth(&online, i) {
                            skipping.push(p);
                        }
                    }
                    Op::Ticks(n) => ticks = n,
                }
                for _ in 0..ticks {
                    let skip = std::mem::take(&mut skipping);
                    t.tick_with(|p| !skip.contains(&p));
                    // Players whose grace ran out are gone from the game and the token map.
                    tokens.retain(|p, _| t.room.game().bodies.contains_key(p));
                    dropped.retain(|p| tokens.contains_key(p));
                    let mut live: Vec<NetId> =
                        t.room.game().bodies.values().map(|w| w.id).collect();
                    let n = live.len();
                    live.sort();
                    live.dedup();
                    prop_assert_eq!(live.len(), n, "two live bodies share an id");
                    for (p, r) in &t.replicas {
                        if r.tick == t.room.tick_count() {
                            for id in r.entities.keys() {
                                prop_assert!(
                                    t.room.game().bodies.values().any(|w| w.id == *id),
                                    "{} holds {:?}, which no live body has", p, id
                                );
                            }
                        }
                    }
                    assert_exact(&t);
                }
            }
            prop_assert_eq!(t.room.net_id_errors(), 0, "no id was released twice");
        }
    }
}

/// A client that stops reading for seconds while others chat is not sent every missed line
/// in one message: its snapshot's events stay under `max_event_bytes`, the oldest chat goes
/// first, the game's own events are kept, the order is kept, and it is told how many it missed.
#[test]
fn a_client_behind_gets_bounded_events_oldest_chat_dropped_first() {
    let max = 3000;
    let mut t = walkers(EngineConfig {
        max_event_bytes: max,
        chat_burst: 10_000,
        chat_refill_ticks: 1,
        max_skipped_ticks: 10_000,
        ..config()
    });
    let (a, b, c) = (t.join("ann"), t.join("bob"), t.join("cy"));
    t.tick();
    // c stops reading for 120 ticks; ann chats two long lines a tick and bob walks.
    let line = |n: u32| format!("{n:04} {}", "x".repeat(150));
    let mut said_all = Vec::new();
    for n in 0..120u32 {
        for k in 0..2 {
            assert_eq!(t.room.handle_chat(a, &line(2 * n + k)), ChatOutcome::Sent);
            said_all.push(format!("chat {} {}", a.0, line(2 * n + k)));
        }
        if n % 10 == 0 {
            t.input(b, vec![1]);
        }
        let out = t.tick_with(|p| p != c);
        assert_eq!(out.events_dropped, 0, "the readers are never cut");
        if n % 10 == 0 {
            said_all.push(format!("stepped {} {}", b.0, n / 10 + 1));
        }
    }
    let out = t.tick();
    let (snap, bytes) = &t.last[&c];
    let got = said(snap);
    assert!(out.events_dropped > 0);
    assert!(
        *bytes < max + 200,
        "{bytes} bytes: events bounded near {max}"
    );
    let notice = got.last().expect("a notice of what was dropped");
    assert_eq!(
        *notice,
        format!(
            "notice {} events were dropped while your connection was behind",
            out.events_dropped
        )
    );
    let kept = &got[..got.len() - 1];
    // Every step of bob's is there; chat only the newest lines; all in the order they happened.
    let steps: Vec<&String> = said_all
        .iter()
        .filter(|s| s.starts_with("stepped"))
        .collect();
    assert_eq!(
        kept.iter()
            .filter(|s| s.starts_with("stepped"))
            .collect::<Vec<_>>(),
        steps
    );
    let chats: Vec<&String> = kept.iter().filter(|s| s.starts_with("chat")).collect();
    assert!(!chats.is_empty() && chats.len() < 240);
    let all_chats: Vec<&String> = said_all.iter().filter(|s| s.starts_with("chat")).collect();
    assert_eq!(
        chats[..],
        all_chats[all_chats.len() - chats.len()..],
        "the newest lines, oldest dropped first"
    );
    let mut in_order = said_all.iter();
    for e in kept {
        assert!(in_order.any(|s| s == e), "{e} out of order");
    }
    assert_eq!(
        kept.len() + out.events_dropped as usize,
        said_all.len(),
        "dropped + kept is everything cy missed"
    );
    // Caught up: the next snapshot carries only what is new.
    t.room.handle_chat(a, "hi");
    t.tick();
    assert_eq!(said(&t.last[&c].0), vec![format!("chat {} hi", a.0)]);
}

/// What the server's seat accounting rests on (issue 20): `has_player` is true for exactly as
/// long as a player holds its seat (connected, then through its resume grace), and a player
/// removed at once (the server's answer to abuse: `handle_leave`, not `handle_disconnect`)
/// leaves everyone's list in the next snapshot and leaves a dead token, which makes a new
/// player like any unknown token.
#[test]
fn a_player_removed_at_once_loses_its_seat_and_its_token() {
    let grace = 4;
    let mut t = walkers(EngineConfig {
        resume_grace_ticks: grace,
        ..config()
    });
    let (ja, ta) = enter(&mut t, "ann", None);
    let (jb, _) = enter(&mut t, "bob", None);
    let (jc, _) = enter(&mut t, "cy", None);
    let (a, b, c) = (ja.player_id, jb.player_id, jc.player_id);
    t.tick();
    assert!(t.room.has_player(a) && t.room.has_player(b) && t.room.has_player(c));
    // Bob drops: he keeps his seat through the grace, then loses it.
    t.room.handle_disconnect(b);
    for _ in 0..grace {
        assert!(t.room.has_player(b), "bob holds his seat in his grace");
        t.tick();
    }
    t.tick();
    assert!(!t.room.has_player(b), "and not after it");
    // Ann is removed at once: no grace, no seat, no token.
    t.room.handle_leave(a);
    assert!(!t.room.has_player(a));
    assert_eq!(t.room.player_count(), 1);
    assert_eq!(t.room.token_owner(&ta), None);
    t.tick();
    assert!(!t.replicas[&c].players.contains_key(&a), "cy saw ann go");
    let (j, _) = enter(&mut t, "ann", Some(&ta));
    assert!(!j.resumed, "the dead token took nobody back");
    assert!(j.player_id != a && t.room.has_player(j.player_id));
    t.tick();
    assert_exact(&t);
}
