//! The engine without any real game: a test game of a few dozen lines (one entity kind, one
//! field) proves the API, and a second one with hidden information, unplaced entities, a
//! room field, player fields, actions and events drives the rest. Every client's replica is
//! decoded from the real bytes and compared with what the engine should have sent.

use super::*;
use glam::Vec2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
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
            tickwire_shared::sync::decode_server(welcome, None, &|_| None).unwrap()
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
    match tickwire_shared::sync::decode_server(welcome, None, &|_| None).unwrap() {
        ServerMsg::Welcome(w) => w.resume_token,
        _ => panic!("not a welcome"),
    }
}
