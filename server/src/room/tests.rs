use super::*;
use tickwire_shared::protocol::{PlayerState, buttons, fields};
use tickwire_shared::quant::quantize_angle16;
use tickwire_shared::{InputSeq, Replica, decode_server};

/// Drives a room the way the network layer does, with replicas standing in for clients.
struct Harness {
    room: Room,
    clients: BTreeMap<PlayerId, TestClient>,
}

struct TestClient {
    replica: Replica,
    ready: bool,
    seq: u32,
    last: Option<Snapshot>,
    last_len: usize,
    received: u32,
}

impl Harness {
    fn new(config: RoomConfig) -> Self {
        Harness {
            room: Room::new(config),
            clients: BTreeMap::new(),
        }
    }

    fn join(&mut self, name: &str) -> PlayerId {
        let j = self.room.handle_join(name).unwrap();
        let ServerMsg::Welcome(w) = decode_server(&j.welcome).unwrap() else {
            panic!("not a welcome")
        };
        assert_eq!(w.player_id, j.player_id);
        let client = TestClient {
            replica: Replica::new(&w),
            ready: true,
            seq: 0,
            last: None,
            last_len: 0,
            received: 0,
        };
        self.clients.insert(j.player_id, client);
        j.player_id
    }

    fn input(&mut self, id: PlayerId, mx: i8, my: i8, aim: f32, b: u8) {
        let c = self.clients.get_mut(&id).unwrap();
        c.seq += 1;
        let cmd = InputCmd {
            seq: InputSeq(c.seq),
            move_x: mx,
            move_y: my,
            aim: quantize_angle16(aim),
            buttons: b,
            view_tick: c.replica.tick,
        };
        self.room.handle_inputs(id, &[cmd]);
    }

    fn tick(&mut self) -> TickOutput {
        let clients = &self.clients;
        let out = self.room.tick(|id| clients[&id].ready);
        for (id, bytes) in &out.messages {
            let ServerMsg::Snapshot(s) = decode_server(bytes).unwrap() else {
                panic!("not a snapshot")
            };
            let c = self.clients.get_mut(id).unwrap();
            c.replica.apply(&s).unwrap();
            c.last = Some(s);
            c.last_len = bytes.len();
            c.received += 1;
        }
        for (id, _) in &out.kicked {
            self.clients.remove(id);
        }
        out
    }

    /// Joins alice and bob, puts them at the given spots and runs the tick that sends each
    /// its first (full) snapshot.
    fn alice_and_bob(&mut self, at_a: (f32, f32), at_b: (f32, f32)) -> (PlayerId, PlayerId) {
        let a = self.join("alice");
        let b = self.join("bob");
        self.place(a, at_a.0, at_a.1);
        self.place(b, at_b.0, at_b.1);
        self.tick();
        (a, b)
    }

    fn place(&mut self, id: PlayerId, x: f32, y: f32) {
        let k = self.room.player_key(id).unwrap();
        self.room.sim_mut().player_mut(k).unwrap().pos = Vec2::new(x, y);
    }

    /// Every up-to-date replica holds exactly what the server recorded sending it, and that
    /// record agrees with the world: the same entities; health, status and projectiles exact;
    /// entities due this tick (and the client's own body) exact up to the aim deadband; held-back
    /// far entities within the distance they can cover in the policy's longest interval.
    fn assert_replicas_match(&self) {
        let policy = &self.room.config.update_policy;
        let tick = self.room.tick_count();
        let rules = self.room.sim().rules();
        // Per tick a body moves at most its speed, plus at most one radius of separation push.
        let per_tick = (rules.player_speed * rules.dt() + rules.player_radius) * 8.0;
        let lag_bound = (per_tick * (policy.max_interval() - 1) as f32).ceil() as i32;
        for (id, c) in &self.clients {
            if c.replica.tick != tick {
                continue; // skipped this tick: checked once it catches up
            }
            let sent = &self.room.clients[id].baseline;
            let got: Vec<(NetId, EntityState)> =
                c.replica.entities.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(&got, sent, "replica of {id} at tick {}", tick.0);

            let want = self.room.authoritative_view(*id);
            let ids = |v: &[(NetId, EntityState)]| v.iter().map(|e| e.0).collect::<Vec<_>>();
            assert_eq!(
                ids(sent),
                ids(&want),
                "entities in view of {id} at tick {}",
                tick.0
            );
            let own = self.room.clients[id].body;
            let center = self.room.view_center(&self.room.clients[id]);
            let center = (
                tickwire_shared::quant::quantize_pos(center.x),
                tickwire_shared::quant::quantize_pos(center.y),
            );
            for ((nid, s), (_, w)) in sent.iter().zip(&want) {
                let (
                    EntityState::Player {
                        player: sp,
                        state: s,
                    },
                    EntityState::Player {
                        player: wp,
                        state: w,
                    },
                ) = (s, w)
                else {
                    assert_eq!(s, w, "projectile {nid:?} seen by {id}");
                    continue;
                };
                let ctx = format!("entity {nid:?} seen by {id} at tick {}", tick.0);
                assert_eq!((sp, s.health, s.status), (wp, w.health, w.status), "{ctx}");
                let due = *nid == own
                    || policy.is_due(tick, *nid, (w.x, w.y), center, self.room.config.view_radius);
                if due {
                    assert_eq!((s.x, s.y), (w.x, w.y), "{ctx}: due, so exact");
                    assert!(
                        priority::aim_steps(s.aim, w.aim) <= policy.aim_deadband,
                        "{ctx}: aim {} vs {}",
                        s.aim,
                        w.aim
                    );
                } else {
                    assert!(
                        (s.x - w.x).abs() <= lag_bound && (s.y - w.y).abs() <= lag_bound,
                        "{ctx}: held back too far: ({}, {}) vs ({}, {}), bound {lag_bound}",
                        s.x,
                        s.y,
                        w.x,
                        w.y
                    );
                }
            }
        }
    }

    fn last(&self, id: PlayerId) -> &Snapshot {
        self.clients[&id].last.as_ref().unwrap()
    }
}

fn empty_arena_config() -> RoomConfig {
    RoomConfig {
        arena: Arena {
            width: 3000.0,
            height: 3000.0,
            obstacles: vec![],
        },
        view_radius: 500.0,
        ..RoomConfig::default()
    }
}

#[test]
fn first_snapshot_creates_the_view_then_idle_costs_nothing() {
    let mut h = Harness::new(empty_arena_config());
    let (a, _bob) = h.alice_and_bob((1000.0, 1000.0), (1100.0, 1000.0));
    assert_eq!(h.last(a).created.len(), 2);
    assert_eq!(
        h.clients[&a].replica.players.len(),
        2,
        "bob's join reached alice"
    );
    h.assert_replicas_match();

    let out = h.tick();
    assert_eq!(out.messages.len(), 2);
    let s = h.last(a);
    assert!(
        s.created.is_empty() && s.updated.is_empty() && s.removed.is_empty() && s.events.is_empty()
    );
    // Tick, ack and four empty lists: the whole snapshot is the fixed header.
    let empty = ServerMsg::Snapshot(Snapshot::empty(s.tick, s.ack_input_seq));
    assert_eq!(
        h.clients[&a].last_len,
        tickwire_shared::encode_server(&empty).len()
    );
    assert!(h.clients[&a].last_len <= 10, "{}", h.clients[&a].last_len);
}

#[test]
fn one_changed_field_sends_only_that_field() {
    let mut h = Harness::new(empty_arena_config());
    let (a, b) = h.alice_and_bob((1000.0, 1000.0), (1100.0, 1000.0));
    // Bob turns without moving: alice gets his aim and nothing else.
    h.input(b, 0, 0, 1.0, 0);
    h.tick();
    let s = h.last(a);
    assert_eq!(s.updated.len(), 1);
    assert_eq!(s.updated[0].mask, fields::AIM);
    assert_eq!(s.ack_input_seq, InputSeq(0), "alice sent nothing");
    assert_eq!(h.last(b).ack_input_seq, InputSeq(1));
    // Bob moves right: only position, as a small delta.
    h.input(b, 127, 0, 1.0, 0);
    h.tick();
    let u = h.last(a).updated[0];
    assert_eq!(u.mask, fields::POS);
    assert_eq!(
        (u.dx, u.dy),
        (59, 0),
        "220/30 units = 7.33, snapped to 7.375 = 59/8"
    );
    h.assert_replicas_match();
}

#[test]
fn entities_enter_and_leave_view_explicitly() {
    let mut h = Harness::new(empty_arena_config());
    let (a, b) = h.alice_and_bob((500.0, 500.0), (900.0, 500.0));
    let b_body = h.clients[&b].replica.entity_id;
    assert!(h.clients[&a].replica.entities.contains_key(&b_body));
    h.place(b, 1200.0, 500.0);
    h.tick();
    assert_eq!(h.last(a).removed, vec![b_body]);
    assert!(!h.clients[&a].replica.entities.contains_key(&b_body));
    h.tick();
    assert!(h.last(a).removed.is_empty(), "removed once");
    h.place(b, 990.0, 500.0);
    h.tick();
    assert_eq!(h.last(a).created.len(), 1);
    assert_eq!(h.last(a).created[0].id, b_body);
    h.assert_replicas_match();
}

#[test]
fn slow_client_skips_ticks_then_gets_a_correct_delta_and_every_event() {
    let mut h = Harness::new(empty_arena_config());
    let (a, b) = h.alice_and_bob((1000.0, 1000.0), (1100.0, 1000.0));
    h.clients.get_mut(&a).unwrap().ready = false;
    let before = h.clients[&a].received;
    let c = h.join("carol");
    for _ in 0..20 {
        h.input(b, 0, 127, 0.0, buttons::FIRE);
        let out = h.tick();
        assert_eq!(out.skipped, 1);
    }
    h.room.handle_chat(b, "hi");
    h.tick();
    assert_eq!(
        h.clients[&a].received, before,
        "nothing delivered while full"
    );
    h.clients.get_mut(&a).unwrap().ready = true;
    h.tick();
    let s = h.last(a);
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, Event::Join { player, .. } if *player == c))
    );
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, Event::Chat { text, .. } if text == "hi"))
    );
    let bu = s
        .updated
        .iter()
        .find(|u| u.id == h.clients[&b].replica.entity_id)
        .unwrap();
    assert!(
        bu.dy > 20 * 50,
        "one delta covers all skipped movement: {}",
        bu.dy
    );
    h.assert_replicas_match();
}

#[test]
fn a_client_that_never_catches_up_is_dropped_then_removed_after_the_grace_period() {
    let mut h = Harness::new(RoomConfig {
        max_skipped_ticks: 5,
        resume_grace_ticks: 10,
        ..empty_arena_config()
    });
    let a = h.join("alice");
    let b = h.join("bob");
    h.clients.get_mut(&a).unwrap().ready = false;
    let mut kicked = Vec::new();
    for _ in 0..6 {
        kicked.extend(h.tick().kicked);
    }
    assert_eq!(kicked.len(), 1);
    assert_eq!(kicked[0].0, a);
    assert_eq!(kicked[0].1.code, CloseCode::TooSlow);
    assert_eq!(h.room.connected_count(), 1);
    assert_eq!(h.room.player_count(), 2, "kept for a resume");
    let mut left = false;
    for _ in 0..11 {
        h.tick();
        left |= h.last(b).events.contains(&Event::Leave { player: a });
    }
    assert!(left, "removed once the grace period is over");
    assert_eq!(h.room.player_count(), 1);
    h.assert_replicas_match();
}

fn notices(h: &Harness, id: PlayerId) -> Vec<String> {
    h.last(id)
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Notice { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn resume_token(h: &Harness, id: PlayerId) -> String {
    // The harness keeps the replica, not the welcome; ask the room for a fresh welcome.
    let ServerMsg::Welcome(w) = decode_server(&h.room.welcome(id)).unwrap() else {
        panic!()
    };
    w.resume_token
}

#[test]
fn resume_within_grace_keeps_player_body_and_score_and_sends_a_full_snapshot() {
    let mut h = Harness::new(RoomConfig {
        resume_grace_ticks: 30,
        ..empty_arena_config()
    });
    let (a, b) = h.alice_and_bob((1000.0, 1000.0), (1100.0, 1000.0));
    let body = h.clients[&a].replica.entity_id;
    let token = resume_token(&h, a);
    assert!(token.starts_with("main."), "{token}");
    let key = h.room.player_key(a).unwrap();
    h.room.sim_mut().player_mut(key).unwrap().score = 7;
    h.room.handle_disconnect(a);
    h.clients.remove(&a);
    h.tick();
    assert_eq!(notices(&h, b), vec!["alice lost connection".to_string()]);
    for _ in 0..19 {
        h.tick();
    }
    assert!(
        h.clients[&b].replica.entities.contains_key(&body),
        "the body stays in the world meanwhile"
    );
    let j = h
        .room
        .handle_join_or_resume("ignored", Some(&token))
        .unwrap();
    assert!(j.resumed);
    assert_eq!(j.player_id, a);
    let ServerMsg::Welcome(w) = decode_server(&j.welcome).unwrap() else {
        panic!()
    };
    assert_eq!(w.entity_id, body);
    assert_ne!(w.resume_token, token, "tokens rotate");
    assert_eq!(w.players.iter().find(|p| p.id == a).unwrap().score, 7);
    let client = TestClient {
        replica: Replica::new(&w),
        ready: true,
        seq: 0,
        last: None,
        last_len: 0,
        received: 0,
    };
    h.clients.insert(a, client);
    h.tick();
    assert_eq!(h.last(a).created.len(), 2, "full snapshot after a resume");
    assert_eq!(notices(&h, b), vec!["alice is back".to_string()]);
    assert!(
        notices(&h, a).is_empty(),
        "nothing queued for alice while she was away"
    );
    h.assert_replicas_match();
    // The old token is spent.
    h.room.handle_disconnect(a);
    let j = h.room.handle_join_or_resume("x", Some(&token)).unwrap();
    assert!(!j.resumed);
}

#[test]
fn resume_after_grace_is_a_new_player() {
    let mut h = Harness::new(RoomConfig {
        resume_grace_ticks: 5,
        ..empty_arena_config()
    });
    let a = h.join("alice");
    h.tick();
    let token = resume_token(&h, a);
    h.room.handle_disconnect(a);
    h.clients.remove(&a);
    for _ in 0..7 {
        h.tick();
    }
    let j = h.room.handle_join_or_resume("alice", Some(&token)).unwrap();
    assert!(!j.resumed);
    assert_ne!(j.player_id, a);
}

#[test]
fn chat_is_rate_limited_per_player() {
    let mut h = Harness::new(RoomConfig {
        chat_burst: 2,
        chat_refill_ticks: 10,
        ..empty_arena_config()
    });
    let a = h.join("alice");
    let outcomes: Vec<ChatOutcome> = (0..3)
        .map(|i| h.room.handle_chat(a, &format!("m{i}")))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ChatOutcome::Sent,
            ChatOutcome::Sent,
            ChatOutcome::RateLimited
        ]
    );
    h.tick();
    assert!(
        h.last(a)
            .events
            .iter()
            .any(|e| matches!(e, Event::Notice { text } if text.contains("rate limit")))
    );
    for _ in 0..10 {
        h.tick();
    }
    assert_eq!(h.room.handle_chat(a, "later"), ChatOutcome::Sent);
}

#[test]
fn full_room_refuses_with_a_reason() {
    let mut h = Harness::new(RoomConfig {
        max_players: 1,
        ..empty_arena_config()
    });
    h.join("alice");
    let err = h.room.handle_join("bob").unwrap_err();
    assert_eq!(err.close_reason().code, CloseCode::Full);
}

#[test]
fn replicas_match_the_server_through_combat_and_churn() {
    // With far updates held back, so the oracle's lag bound is exercised through all of it.
    let mut h = Harness::new(RoomConfig {
        checksum_interval: 1,
        view_radius: 600.0,
        update_policy: UpdatePolicy::recommended(),
        ..RoomConfig::default()
    });
    let ids: Vec<PlayerId> = (0..12).map(|i| h.join(&format!("bot{i}"))).collect();
    let mut max_ids = 0;
    for t in 0..900u32 {
        for (i, &id) in ids.iter().enumerate() {
            let phase = t as f32 * 0.03 + i as f32;
            let mx = (phase.cos() * 127.0) as i8;
            let my = ((phase * 0.7).sin() * 127.0) as i8;
            // Everyone aims at the arena centre and fires: lots of projectiles and kills.
            let me = h
                .room
                .sim()
                .player(h.room.player_key(id).unwrap())
                .unwrap()
                .pos;
            let aim = (Vec2::new(1200.0, 800.0) - me).to_angle();
            if !(t % 97 == 0 && i == 3) {
                h.input(id, mx, my, aim, buttons::FIRE);
            }
        }
        // A slow client now and then.
        h.clients.get_mut(&ids[5]).unwrap().ready = t % 7 != 0;
        let out = h.tick();
        assert!(out.kicked.is_empty());
        max_ids = max_ids.max(h.room.net_ids_in_use());
        if t % 10 == 0 {
            h.assert_replicas_match();
        }
    }
    h.tick();
    h.assert_replicas_match();
    let kills: u32 = h.room.sim().players().values().map(|p| p.score).sum();
    assert!(kills > 5, "combat happened: {kills} kills");
    assert!(max_ids < 400, "ids are recycled: {max_ids} in use at most");
    // The scoreboard every client built from events equals the server's.
    for c in h.clients.values() {
        for p in h.room.sim().players().values() {
            let info = &c.replica.players[&p.id];
            assert_eq!((info.score, info.deaths), (p.score, p.deaths));
        }
    }
}

/// Mean snapshot bytes seen by one client among `n` players moving and turning in a disc of
/// radius `spread` around the arena centre (view radius 1000, so everyone is in view).
fn bytes_per_snapshot(n: usize, spread: f32, policy: UpdatePolicy) -> usize {
    let mut h = Harness::new(RoomConfig {
        arena: Arena {
            width: 4000.0,
            height: 4000.0,
            obstacles: vec![],
        },
        view_radius: 1000.0,
        max_players: 100,
        update_policy: policy,
        ..RoomConfig::default()
    });
    let ids: Vec<PlayerId> = (0..n).map(|i| h.join(&format!("p{i}"))).collect();
    for (i, &id) in ids.iter().enumerate() {
        // A sunflower layout: evenly spread over the disc, the observer (i = 0) at the centre.
        let r = spread * (i as f32 / n as f32).sqrt();
        let a = i as f32 * 2.399_963;
        h.place(id, 2000.0 + r * a.cos(), 2000.0 + r * a.sin());
    }
    h.tick();
    let mut total = 0;
    let ticks = 60;
    for t in 0..ticks {
        for (i, &id) in ids.iter().enumerate() {
            let a = (t as f32 * 0.1 + i as f32).sin();
            h.input(id, (a * 127.0) as i8, 90, a, 0);
        }
        h.tick();
        total += h.clients[&ids[0]].last_len;
        h.assert_replicas_match();
    }
    total / ticks
}

#[test]
fn bytes_per_snapshot_for_10_and_50_moving_players_in_view() {
    for n in [10usize, 50] {
        let full = bytes_per_snapshot(n, 950.0, UpdatePolicy::off());
        let tiered = bytes_per_snapshot(n, 950.0, UpdatePolicy::recommended());
        eprintln!(
            "{n} moving players in view: {full} bytes per snapshot at full rate, {tiered} with the recommended update policy"
        );
        // Header ~6 bytes; each moving player costs id + mask + dx + dy + aim = 5 bytes.
        assert!(full <= 8 + 5 * n, "{n} players: {full} bytes");
        assert!(full >= 4 * n, "{n} players: everyone moves: {full} bytes");
        // Spread evenly over the view, most players are far: well under two thirds of the cost.
        assert!(
            tiered * 3 < full * 2,
            "{n} players: {tiered} vs {full} bytes"
        );
    }
}

#[test]
fn far_players_lag_by_at_most_the_longest_interval_and_catch_up_exactly() {
    let mut h = Harness::new(RoomConfig {
        checksum_interval: 1,
        update_policy: UpdatePolicy::recommended(),
        ..empty_arena_config()
    });
    let (a, b) = h.alice_and_bob((1000.0, 1000.0), (1450.0, 1000.0)); // 90 % of the view radius: every 4th tick
    let b_body = h.clients[&b].replica.entity_id;
    let mut updates_of_b = Vec::new();
    for _ in 0..16 {
        h.input(b, 0, 127, 0.0, 0);
        h.tick();
        h.assert_replicas_match();
        let s = h.last(a);
        updates_of_b.extend(
            s.updated
                .iter()
                .filter(|u| u.id == b_body)
                .map(|u| (s.tick, u.dy)),
        );
        // Bob's own snapshot always carries his own body.
        assert!(h.last(b).updated.iter().any(|u| u.id == b_body));
    }
    assert_eq!(updates_of_b.len(), 4, "every 4th tick: {updates_of_b:?}");
    for w in updates_of_b.windows(2) {
        assert_eq!(w[1].0.0 - w[0].0.0, 4);
    }
    assert!(
        updates_of_b.iter().skip(1).all(|u| u.1 == 4 * 59),
        "{updates_of_b:?}"
    );
    // A hit is never held back.
    let k = h.room.player_key(b).unwrap();
    h.room.sim_mut().player_mut(k).unwrap().health = 50;
    let tick_now = h.room.tick_count().0 + 1;
    h.tick();
    let hit = h.last(a).updated.iter().find(|u| u.id == b_body).copied();
    assert!(
        hit.is_some_and(|u| u.mask & fields::HEALTH != 0 && u.health == 50),
        "tick {tick_now}: {hit:?}"
    );
    h.assert_replicas_match();
}

#[test]
fn player_state_round_trips_through_updates() {
    let a = PlayerState {
        x: 5,
        y: -7,
        aim: 3,
        health: 90,
        status: 3,
    };
    let b = PlayerState {
        x: -300,
        y: 70000,
        aim: 200,
        health: 0,
        status: 4,
    };
    let u = tickwire_shared::protocol::EntityUpdate::diff(NetId(1), &a, &b).unwrap();
    let mut c = a;
    u.apply(&mut c);
    assert_eq!(c, b);
}

#[test]
fn redundant_and_reordered_input_frames_apply_each_command_once() {
    let mut h = Harness::new(empty_arena_config());
    let a = h.join("a");
    h.place(a, 500.0, 500.0);
    let cmd = |s| InputCmd {
        seq: InputSeq(s),
        move_x: 127,
        ..Default::default()
    };
    let outcome = |queued, duplicates| InputOutcome {
        queued,
        duplicates,
        rejected: 0,
    };
    // Each frame repeats the unacknowledged commands before the new one.
    assert_eq!(h.room.handle_inputs(a, &[cmd(1)]), outcome(1, 0));
    assert_eq!(h.room.handle_inputs(a, &[cmd(1), cmd(2)]), outcome(1, 1));
    h.tick();
    assert_eq!(h.last(a).ack_input_seq, InputSeq(2));
    // Late repeats of applied commands, and a frame whose commands arrive out of order.
    assert_eq!(
        h.room.handle_inputs(a, &[cmd(1), cmd(2), cmd(3)]),
        outcome(1, 2)
    );
    assert_eq!(
        h.room.handle_inputs(a, &[cmd(4), cmd(3), cmd(2)]),
        outcome(1, 2)
    );
    h.tick();
    assert_eq!(h.last(a).ack_input_seq, InputSeq(4));
    // Four commands, four steps: no command applied twice.
    let (rules, arena) = (h.room.sim().rules().clone(), h.room.sim().arena().clone());
    let mut want = Vec2::new(500.0, 500.0);
    for s in 1..=4 {
        want = tickwire_shared::rules::step_player(want, &cmd(s), &rules, &arena);
    }
    let k = h.room.player_key(a).unwrap();
    assert_eq!(h.room.sim().player(k).unwrap().pos, want);
}

#[test]
fn hitscan_shots_reach_every_client_as_tracer_events() {
    let mut h = Harness::new(empty_arena_config());
    let (a, b) = (h.join("a"), h.join("b"));
    h.place(a, 500.0, 500.0);
    h.place(b, 700.0, 500.0);
    h.tick();
    h.input(a, 0, 0, 0.0, buttons::ALT_FIRE);
    h.tick();
    for id in [a, b] {
        let tracers: Vec<&Event> = h
            .last(id)
            .events
            .iter()
            .filter(|e| matches!(e, Event::Hitscan { .. }))
            .collect();
        assert_eq!(
            tracers,
            vec![&Event::Hitscan {
                shooter: a,
                from_x: 4000,
                from_y: 4000,
                to_x: 5472, // 684 units: where the ray meets b's body
                to_y: 4000,
                victim: Some(b),
            }]
        );
    }
    let k = h.room.player_key(b).unwrap();
    let damage = h.room.sim().rules().hitscan_damage;
    assert_eq!(h.room.sim().player(k).unwrap().health, 100 - damage);
}

#[test]
fn lag_compensation_cap_is_whole_ticks_and_zero_turns_it_off() {
    assert_eq!(lag_comp_ticks(250, 30), 8);
    assert_eq!(lag_comp_ticks(250, 60), 15);
    assert_eq!(lag_comp_ticks(0, 30), 0);
    assert_eq!(lag_comp_ticks(1000, 128), 128);
    let room = Room::new(RoomConfig {
        lag_comp_ms: 100,
        ..RoomConfig::default()
    });
    assert_eq!(room.sim().position_history().cap_ticks(), 3);
}

#[test]
fn new_players_get_the_message_of_the_day() {
    let mut h = Harness::new(RoomConfig {
        motd: Some("welcome to tickwire".into()),
        ..empty_arena_config()
    });
    let a = h.join("alice");
    h.tick();
    assert_eq!(notices(&h, a), vec!["welcome to tickwire".to_string()]);
    let b = h.join("bob");
    h.tick();
    assert_eq!(notices(&h, b), vec!["welcome to tickwire".to_string()]);
    assert!(notices(&h, a).is_empty(), "only the new player gets it");
}

/// A dropped player's grace runs out in the very tick another client first sees its body:
/// the body must leave the world before any view is built from it, or that client takes a
/// reference to an id that was just freed, and the id is later handed to a second entity.
#[test]
fn a_body_whose_grace_expires_is_never_first_seen_in_that_tick() {
    let grace = 3;
    for offset in 0..grace + 3 {
        let mut h = Harness::new(RoomConfig {
            resume_grace_ticks: grace,
            checksum_interval: 1,
            ..empty_arena_config()
        });
        let (a, b) = h.alice_and_bob((500.0, 500.0), (1500.0, 1000.0));
        h.room.handle_disconnect(a);
        h.clients.remove(&a);
        for t in 0..grace + 3 {
            if t == offset {
                // Bob walks into alice's body's view this tick.
                h.place(b, 520.0, 500.0);
            }
            h.tick();
            h.assert_replicas_match();
        }
        // Later entities and players never share an id with anything a client holds.
        for i in 0..4 {
            let p = h.join(&format!("late{i}"));
            h.place(p, 510.0 + 10.0 * i as f32, 520.0);
            for _ in 0..3 {
                h.input(p, 0, 0, 0.0, buttons::FIRE);
                h.tick();
                h.assert_replicas_match();
            }
        }
    }
}
