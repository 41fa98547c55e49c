//! Golden vectors of the wire protocol (version 5), shared with the browser SDK (`client-web/src/sdk/`).
//!
//! A demo schema that uses every field type and flag, a `Welcome` carrying it, a sequence of
//! snapshots applied one after another to a [`Replica`] (creates, delta and absolute updates,
//! owner-only zeros, removals, players joining, changing and leaving, room fields, every
//! engine event and a game event with text, checksums; extrapolated fields moving on their
//! course with no update, residuals, a turn, a jump that stops the course, a gap of several
//! ticks, a teleport whose residual takes the small-number code's escape to the full width,
//! angle residuals at the edge of the half turn, a tick marker; the bit stream's corners:
//! updates on both sides of an entity created between held ids, an update of an entity in the
//! snapshot that creates it, a skip over ten entities, delta changes and plain values in one
//! update, and an update the server's budget held for three ticks, whose residual against the
//! client's own prediction brings it back to the server's values, checked by the server's
//! checksum), two redirects, and every client message. Each
//! message is encoded with the one codec, decoded back and re-encoded byte for byte here; the
//! files under `client-web/test/vectors/wire/` hold the bytes and, in `vectors.json`, the decoded
//! shape and the replica after each snapshot. The JS SDK's tests decode every `.bin`, compare
//! with the JSON, re-encode byte for byte and replay the snapshots into its own replica.
//!
//! The worked examples of `docs/PROTOCOL.md` (a `Welcome` of the smallest game, an `Input` and a
//! `Snapshot` on the arena's schema, and the checksum) are checked here too, byte for byte, from
//! the document's own text.
//!
//! After a deliberate change, regenerate with
//! `TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-shared --test sync_golden`.

use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tickwire_shared::schema::{KindDesc, MessageDesc, Schema, engine_events};
use tickwire_shared::sync::*;
use tickwire_shared::{InputSeq, NetId, PlayerId, Tick, fields};

fields! {
    /// A ship: predicted, interpolated, owner-only fuel, a respawn counter.
    mod ship {
        owner: Player;
        x: Fixed(8), interpolate, predict, extrapolate;
        y: Fixed(8), interpolate, predict, extrapolate;
        heading: Angle8, interpolate, extrapolate;
        hull: U8;
        fuel: U16, owner_only;
        status: U8, discontinuity;
    }
}

fields! {
    /// A rock: every other numeric type.
    mod rock {
        x: I32;
        y: I16, delta;
        size: I8;
        spin: Angle16, interpolate;
        alive: Bool;
        value: U32;
        target: Entity;
        scale: Fixed(100);
    }
}

fields! {
    mod player { score: U32; deaths: U16; gold: U32, owner_only; team: U8; }
}

fields! {
    mod room { wave: U16; ends_at: U32; }
}

fields! {
    mod input { move_x: I8; move_y: I8; aim: Angle16; buttons: U8; }
}

/// The demo schema.
pub fn demo_schema() -> Schema {
    use tickwire_shared::schema::{FieldDesc, FieldType::*};
    Schema::new("demo")
        .kind(KindDesc {
            name: "ship".into(),
            fields: ship::fields(),
        })
        .kind(KindDesc {
            name: "rock".into(),
            fields: rock::fields(),
        })
        .kind(KindDesc {
            name: "marker".into(),
            fields: vec![],
        })
        .player_fields(player::fields())
        .room_fields(room::fields())
        .input(input::fields())
        .action(MessageDesc::new(
            "buy",
            vec![FieldDesc::new("item", U16), FieldDesc::new("note", Str(20))],
        ))
        .action(MessageDesc::new("ready", vec![]))
        .event(MessageDesc::new(
            "kill",
            vec![
                FieldDesc::new("killer", Player),
                FieldDesc::new("victim", Player),
            ],
        ))
        .event(MessageDesc::new(
            "shout",
            vec![
                FieldDesc::new("at_x", Fixed(8)),
                FieldDesc::new("word", Str(10)),
                FieldDesc::new("loud", Bool),
            ],
        ))
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Int(i) => json!(i),
        Value::Str(s) => json!(s),
    }
}

fn values_json(v: &[Value]) -> Json {
    Json::Array(v.iter().map(value_json).collect())
}

fn client_json(m: &ClientMsg) -> Json {
    match m {
        ClientMsg::Hello(h) => json!({
            "type": "Hello", "protocol_version": h.protocol_version, "name": h.name,
            "auth_token": h.auth_token, "resume_token": h.resume_token,
        }),
        ClientMsg::Input(cmds) => json!({
            "type": "Input",
            "cmds": cmds.iter().map(|c| json!({
                "seq": c.seq.0, "view_tick": c.view_tick.0, "lanes": c.lanes,
            })).collect::<Vec<_>>(),
        }),
        ClientMsg::Ping(p) => json!({ "type": "Ping", "client_time": p.client_time }),
        ClientMsg::Chat(t) => json!({ "type": "Chat", "text": t }),
        ClientMsg::Action(a) => json!({
            "type": "Action", "seq": a.seq, "kind": a.kind, "values": values_json(&a.values),
        }),
    }
}

fn snapshot_json(s: &Snapshot, schema: &Schema) -> Json {
    let mut created = Vec::new();
    let mut lanes = &s.created_lanes[..];
    for c in &s.created {
        let n = schema.kinds[usize::from(c.kind)].fields.len();
        created.push(json!({ "id": c.id.0, "kind": c.kind, "lanes": &lanes[..n] }));
        lanes = &lanes[n..];
    }
    let mut updated = Vec::new();
    let mut lanes = &s.updated_lanes[..];
    for u in &s.updated {
        let n = u.mask.count_ones() as usize;
        updated.push(json!({ "id": u.id.0, "mask": u.mask, "lanes": &lanes[..n] }));
        lanes = &lanes[n..];
    }
    let n = schema.player_fields.len();
    let mut j = json!({
        "type": "Snapshot", "tick": s.tick.0, "ack_input_seq": s.ack_input_seq.0,
        "removed": s.removed.iter().map(|i| i.0).collect::<Vec<_>>(),
        "created": created, "updated": updated,
        "players_left": s.players_left.iter().map(|p| p.0).collect::<Vec<_>>(),
        "players_joined": s.players_joined.iter().enumerate().map(|(i, p)| json!({
            "id": p.id.0, "name": p.name, "connected": p.connected,
            "lanes": &s.joined_lanes[i * n..(i + 1) * n],
        })).collect::<Vec<_>>(),
        "players_changed": s.players_changed.iter().enumerate().map(|(i, p)| json!({
            "id": p.id.0, "connected": p.connected,
            "lanes": &s.changed_lanes[i * n..(i + 1) * n],
        })).collect::<Vec<_>>(),
        "room": s.room,
        "events": s.events.iter().map(|e| json!({
            "kind": e.kind, "values": values_json(&e.values),
        })).collect::<Vec<_>>(),
        "checksum": s.checksum,
    });
    // Only a snapshot with a reset names them (the SDK's decoder adds the key only then).
    if !s.reset.is_empty() {
        j["reset"] = json!(s.reset.iter().map(|i| i.0).collect::<Vec<_>>());
    }
    j
}

fn welcome_json(w: &Welcome) -> Json {
    json!({
        "type": "Welcome", "protocol_version": w.protocol_version, "player_id": w.player_id.0,
        "tick_rate": w.tick_rate, "tick": w.tick.0, "checksum_interval": w.checksum_interval,
        "resume_token": w.resume_token, "resumed": w.resumed,
        "schema": serde_json::to_value(&w.schema).unwrap(), "game_config": w.game_config,
    })
}

fn replica_json(r: &Replica) -> Json {
    json!({
        "tick": r.tick.0, "ack_input_seq": r.ack_input_seq.0,
        "entities": r.entities.iter().map(|(id, e)| json!({
            "id": id.0, "kind": e.kind, "lanes": e.lanes, "vel": e.vel,
        })).collect::<Vec<_>>(),
        "players": r.players.iter().map(|(id, p)| json!({
            "id": id.0, "name": p.name, "connected": p.connected, "lanes": p.lanes,
        })).collect::<Vec<_>>(),
        "room": r.room, "checksum": r.checksum(),
    })
}

fn ev(kind: u16, values: Vec<Value>) -> Event {
    Event { kind, values }
}

/// The snapshots, built against a replica so each one's checksum is the true one.
fn snapshots(welcome: &Welcome) -> Vec<Snapshot> {
    let mut r = Replica::new(welcome);
    let mut out = Vec::new();
    let mut push = |mut s: Snapshot, with_checksum: bool, r: &mut Replica| {
        if with_checksum {
            let mut probe = r.clone();
            probe.apply(&s).unwrap();
            s.checksum = Some(probe.checksum());
        }
        r.apply(&s).unwrap();
        out.push(s);
    };
    // 1: the join snapshot: everything in view, every player, the room.
    let mut s = Snapshot::empty(Tick(101), InputSeq(0));
    s.created = vec![
        Spawn {
            id: NetId(0),
            kind: 0,
        },
        Spawn {
            id: NetId(3),
            kind: 0,
        },
        // (The marker has no lanes: the rock's follow the ships'.)
        Spawn {
            id: NetId(7),
            kind: 2,
        },
        Spawn {
            id: NetId(300),
            kind: 1,
        },
    ];
    s.created_lanes = vec![
        // ship 0, ours: fuel visible.
        1,
        800,
        1600,
        64,
        100,
        900,
        1, //
        // ship 3, someone else's: fuel is 0 for us.
        2,
        -80,
        4000,
        255,
        35,
        0,
        7, //
        // rock 300: extremes.
        i64::from(i32::MIN),
        -32768,
        -128,
        65535,
        1,
        i64::from(u32::MAX),
        3,
        i64::from(i32::MAX),
    ];
    s.players_joined = vec![
        PlayerJoin {
            id: PlayerId(1),
            name: "ann".into(),
            connected: true,
        },
        PlayerJoin {
            id: PlayerId(2),
            name: "bö😀".into(),
            connected: false,
        },
    ];
    s.joined_lanes = vec![0, 0, 250, 1, 3, 1, 0, 2];
    s.room = Some(vec![1, 4000]);
    s.events = vec![ev(
        engine_events::NOTICE,
        vec![Value::Str("welcome".into())],
    )];
    push(s, false, &mut r);
    // 2: small moves (delta lanes), an absolute heading, a rock change, a checksum.
    let mut s = Snapshot::empty(Tick(102), InputSeq(5));
    s.updated = vec![
        Update {
            id: NetId(0),
            kind: 0,
            mask: 0b110,
        },
        Update {
            id: NetId(3),
            kind: 0,
            mask: 0b1001110,
        },
        Update {
            id: NetId(300),
            kind: 1,
            mask: 0b11111111,
        },
    ];
    s.updated_lanes = vec![
        3, -2, // ship 0 moves by (3, -2): residuals against standing still
        -300, 1000, 1, 8, // ship 3 jumps (big residuals), heading 255 → 0, respawned
        0, 32767, 127, 0, 0, 0, 300, -1, // rock: every field
    ];
    s.players_changed = vec![PlayerChange {
        id: PlayerId(2),
        connected: true,
    }];
    s.changed_lanes = vec![1, 3, 0, 2];
    s.events = vec![
        ev(
            engine_events::CHAT,
            vec![Value::Int(2), Value::Str("hi there".into())],
        ),
        ev(engine_events::COUNT, vec![Value::Int(1), Value::Int(2)]),
        ev(
            engine_events::COUNT + 1,
            vec![Value::Int(-12345), Value::Str("ÿo".into()), Value::Int(1)],
        ),
    ];
    push(s, true, &mut r);
    // 3: nothing changed (the fixed header alone): ship 0 carries on by (3, -2); ship 3
    // jumped (its status changed), so it stands still.
    push(Snapshot::empty(Tick(103), InputSeq(6)), false, &mut r);
    // 4: a tick marker (tick 104, see `markers`): ship 0 on its course again.
    push(Snapshot::empty(Tick(104), InputSeq(6)), false, &mut r);
    // 5, six ticks later: ship 0 turned two ticks ago (now (-1, -2) a tick) and its heading
    // swings by half a turn back (-128, the edge of the residual's range); removals, a
    // player leaving, the room advancing, a rejection, a checksum.
    let mut s = Snapshot::empty(Tick(110), InputSeq(12));
    s.updated = vec![Update {
        id: NetId(0),
        kind: 0,
        mask: 0b1110,
    }];
    // Predicted over the gap: x 809 + 3×6 = 827, y 1594 − 2×6 = 1582; the truth is x 809 +
    // 3×4 − 1×2 = 819, y 1582: residuals −8 and none; heading 64 → 192: −128. Its per-tick
    // changes are then measured from one tick before by the old course (x 824: −5; the
    // heading −128), as the gap hides when the turn was.
    s.updated[0].mask = 0b1010;
    s.updated_lanes = vec![-8, -128];
    s.removed = vec![NetId(3), NetId(7)];
    s.players_left = vec![PlayerId(2)];
    s.room = Some(vec![2, 4600]);
    s.events = vec![ev(
        engine_events::REJECTED,
        vec![Value::Int(4), Value::Str("not your turn".into())],
    )];
    push(s, true, &mut r);
    // 6: ship 0 lands 70,000 eighths off its prediction (a teleport: the residual's zigzag
    // varint takes the 4-byte escape, 252 then u32 LE); its heading goes on turning by −128.
    let mut s = Snapshot::empty(Tick(111), InputSeq(13));
    s.updated = vec![Update {
        id: NetId(0),
        kind: 0,
        mask: 0b10,
    }];
    s.updated_lanes = vec![70_000];
    push(s, false, &mut r);
    // 7: after the teleport its per-tick change is the jump itself, and the next residual
    // takes it back (a teleport without a discontinuity field costs a second residual).
    let mut s = Snapshot::empty(Tick(112), InputSeq(13));
    s.updated = vec![Update {
        id: NetId(0),
        kind: 0,
        mask: 0b10,
    }];
    s.updated_lanes = vec![-70_000];
    push(s, true, &mut r);
    // 8: creations between the ids held (0 and 300): rock 50, updated in the same snapshot
    // (its delta `y` on the value just created, and a plain `size`), and rock 150, which the
    // update of rock 300 skips over (skip 1: `0 1 0`); six markers and ship 400 after them.
    // Ship 0's update is a plain value alone; rock 300's mixes plain lanes and a delta change.
    let mut s = Snapshot::empty(Tick(113), InputSeq(14));
    s.created = [50, 150, 310, 311, 312, 313, 314, 315, 400]
        .into_iter()
        .map(|id| Spawn {
            id: NetId(id),
            kind: match id {
                50 | 150 => 1,
                400 => 0,
                _ => 2,
            },
        })
        .collect();
    s.created_lanes = vec![
        10, 100, -5, 1000, 1, 7, 0, 250, // rock 50
        -20, 0, 1, 0, 1, 0, 50, 0, // rock 150
        // (the markers have no lanes) ship 400, someone else's: fuel 0 for us, still.
        3, 1000, 2000, 0, 80, 0, 0,
    ];
    s.updated = vec![
        Update {
            id: NetId(0),
            kind: 0,
            mask: 0b1_0000,
        },
        Update {
            id: NetId(50),
            kind: 1,
            mask: 0b110,
        },
        Update {
            id: NetId(300),
            kind: 1,
            mask: 0b1_0011,
        },
    ];
    s.updated_lanes = vec![
        99, // ship 0: hull 100 → 99
        5, -6, // rock 50: y 100 + 5 (delta), size −6
        12345, -3, 1, // rock 300: x 12345, y −1 − 3 (delta), alive
    ];
    push(s, false, &mut r);
    // 9: ship 400 sets off at (4, 2) a tick: its update skips the ten entities before it in
    // the view (0, 50, 150, 300, 310..=315): v = 11, the gamma code `0 0 0 1 1 1 0` (7 bits).
    let mut s = Snapshot::empty(Tick(114), InputSeq(14));
    s.updated = vec![Update {
        id: NetId(400),
        kind: 0,
        mask: 0b110,
    }];
    s.updated_lanes = vec![4, 2];
    push(s, true, &mut r);
    // 10 to 12: ship 400 turns at tick 115 (now (−2, 4) a tick) but the server's budget holds
    // its update for three ticks (gap 1 each, other entities updated): the client's copy runs
    // on along the old course, away from the truth (the server's checksums are of what the
    // client holds, so they hold throughout).
    let truth_400 = |tick: u32| match tick {
        113 => (1000, 2000),
        114 => (1004, 2002),
        t => (1004 - 2 * i64::from(t - 114), 2002 + 4 * i64::from(t - 114)),
    };
    let held_400 = |r: &Replica| {
        let e = &r.entities[&NetId(400)];
        ((e.lanes[1], e.lanes[2]), (e.vel[1], e.vel[2]))
    };
    assert_eq!(held_400(&r), (truth_400(114), (4, 2)));
    let others: [(u32, Update, i64); 3] = [
        // rock 150's x; rock 300's spin (a quarter turn); ship 0's hull.
        (
            115,
            Update {
                id: NetId(150),
                kind: 1,
                mask: 0b1,
            },
            -21,
        ),
        (
            116,
            Update {
                id: NetId(300),
                kind: 1,
                mask: 0b1000,
            },
            16384,
        ),
        (
            117,
            Update {
                id: NetId(0),
                kind: 0,
                mask: 0b1_0000,
            },
            98,
        ),
    ];
    for (tick, u, lane) in others {
        let mut s = Snapshot::empty(Tick(tick), InputSeq(14));
        s.updated = vec![u];
        s.updated_lanes = vec![lane];
        push(s, tick % 2 == 0, &mut r);
        let (x, y) = (
            1004 + 4 * i64::from(tick - 114),
            2002 + 2 * i64::from(tick - 114),
        );
        assert_eq!(held_400(&r), ((x, y), (4, 2)), "held on its old course");
        assert_ne!(held_400(&r).0, truth_400(tick));
    }
    // 13: the held update goes: the residual against the client's own prediction (1020, 2010)
    // to the truth (996, 2018), (−24, 8), both in the 8-bit class, with the reset escape (the
    // mask's 7 zero bits first): the catch-up is no course. The checksum is the server's,
    // hashed from the true table, so applying it proves the replica caught up.
    let mut s = Snapshot::empty(Tick(118), InputSeq(15));
    s.updated = vec![Update {
        id: NetId(400),
        kind: 0,
        mask: 0b110,
    }];
    s.updated_lanes = vec![-24, 8];
    s.reset = vec![NetId(400)];
    let mut truth = r.clone();
    truth
        .apply(&Snapshot::empty(Tick(118), InputSeq(15)))
        .unwrap();
    let (tx, ty) = truth_400(118);
    let e = truth.entities.get_mut(&NetId(400)).unwrap();
    (e.lanes[1], e.lanes[2]) = (tx, ty);
    s.checksum = Some(truth.checksum());
    push(s, false, &mut r);
    // Reset: its per-tick change restarts from 0 (measured from where the old course had it a
    // tick before, (1016, 2008), it would be the catch-up (−20, 10), no course at all).
    assert_eq!(held_400(&r), (truth_400(118), (0, 0)));
    // 14: so the engine sends its next update at once, whatever the budget: measured over one
    // tick, it sets the course right: predicted (996, 2018), the truth (994, 2022).
    let mut s = Snapshot::empty(Tick(119), InputSeq(15));
    s.updated = vec![Update {
        id: NetId(400),
        kind: 0,
        mask: 0b110,
    }];
    s.updated_lanes = vec![-2, 4];
    push(s, false, &mut r);
    assert_eq!(held_400(&r), (truth_400(119), (-2, 4)));
    // 15: on its course, it costs nothing: the header and the checksum alone.
    push(Snapshot::empty(Tick(120), InputSeq(15)), true, &mut r);
    assert_eq!(held_400(&r), (truth_400(120), (-2, 4)));
    out
}

/// Which of the snapshots go on the wire as a tick marker (their index, the gap).
fn markers() -> Vec<(usize, u32)> {
    vec![(3, 1)]
}

fn welcome() -> Welcome {
    Welcome {
        protocol_version: PROTOCOL_VERSION,
        player_id: PlayerId(1),
        tick_rate: 30,
        tick: Tick(100),
        checksum_interval: 2,
        resume_token: "main.0123abcd".into(),
        resumed: false,
        schema: demo_schema(),
        game_config: r#"{"width":2000}"#.into(),
    }
}

fn client_messages() -> Vec<(&'static str, ClientMsg)> {
    vec![
        (
            "hello",
            ClientMsg::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: "ann".into(),
                auth_token: None,
                resume_token: Some("main.0123abcd".into()),
            }),
        ),
        (
            "input",
            ClientMsg::Input(vec![
                InputCmd {
                    seq: InputSeq(1),
                    view_tick: Tick(0),
                    lanes: vec![127, -127, 65535, 3],
                },
                InputCmd {
                    seq: InputSeq(70000),
                    view_tick: Tick(300),
                    lanes: vec![0, -1, 16384, 0],
                },
            ]),
        ),
        (
            "ping",
            ClientMsg::Ping(Ping {
                client_time: 123456,
            }),
        ),
        ("chat", ClientMsg::Chat("hello, room ✓".into())),
        (
            "action_buy",
            ClientMsg::Action(Action {
                seq: 4,
                kind: 0,
                values: vec![Value::Int(700), Value::Str("rush".into())],
            }),
        ),
        (
            "action_ready",
            ClientMsg::Action(Action {
                seq: 5,
                kind: 1,
                values: vec![],
            }),
        ),
    ]
}

fn generate() -> BTreeMap<String, Vec<u8>> {
    let schema = demo_schema();
    schema.validate().unwrap();
    let welcome = welcome();
    let mut files = BTreeMap::new();
    let mut doc = json!({ "schema_hash": schema.hash() });

    let mut bytes = Vec::new();
    encode_server(
        &ServerMsg::Welcome(Box::new(welcome.clone())),
        &schema,
        &[],
        &mut bytes,
    );
    let back = decode_server(&bytes, None, &[]).unwrap();
    assert_eq!(back, ServerMsg::Welcome(Box::new(welcome.clone())));
    files.insert("welcome.bin".to_string(), bytes);
    doc["welcome"] = json!({ "file": "welcome.bin", "msg": welcome_json(&welcome) });

    let mut replica = Replica::new(&welcome);
    let mut snaps = Vec::new();
    for (i, s) in snapshots(&welcome).into_iter().enumerate() {
        let mut bytes = Vec::new();
        let marker = markers().into_iter().find(|m| m.0 == i);
        let (name, msg_json) = if let Some((_, gap)) = marker {
            let m = ServerMsg::Marker(Marker { gap });
            encode_server(&m, &schema, &[], &mut bytes);
            let raw = decode_server(&bytes, Some(&schema), &[]).unwrap();
            assert_eq!(raw, m);
            // The replica turns it into the empty snapshot it stands for.
            assert_eq!(
                replica.decode(&bytes).unwrap(),
                ServerMsg::Snapshot(s.clone())
            );
            (
                format!("marker_{}.bin", i + 1),
                json!({ "type": "Marker", "gap": gap }),
            )
        } else {
            let msg = ServerMsg::Snapshot(s.clone());
            let held = replica.held();
            encode_server(&msg, &schema, &held, &mut bytes);
            let back = replica.decode(&bytes).unwrap();
            assert_eq!(back, msg, "snapshot {i} round trip");
            let mut again = Vec::new();
            encode_server(&back, &schema, &held, &mut again);
            assert_eq!(again, bytes);
            (
                format!("snapshot_{}.bin", i + 1),
                snapshot_json(&s, &schema),
            )
        };
        let ch = replica.apply(&s).unwrap();
        let changes = json!({
            "removed": ch.removed.iter().map(|(id, kind)| json!({ "id": id.0, "kind": kind }))
                .collect::<Vec<_>>(),
            "created": ch.created.iter().map(|id| id.0).collect::<Vec<_>>(),
            "updated": ch.updated.iter().map(|(id, mask)| json!({ "id": id.0, "mask": mask }))
                .collect::<Vec<_>>(),
            "players_left": ch.players_left.iter().map(|p| p.0).collect::<Vec<_>>(),
            "players_changed": ch.players_changed.iter().map(|p| p.0).collect::<Vec<_>>(),
            "room_changed": ch.room_changed,
        });
        snaps.push(json!({
            "file": name, "msg": msg_json, "replica": replica_json(&replica), "changes": changes,
        }));
        files.insert(name, bytes);
    }
    doc["snapshots"] = Json::Array(snaps);

    let mut client = Vec::new();
    for (name, m) in client_messages() {
        let mut bytes = Vec::new();
        encode_client(&m, &schema, &mut bytes);
        assert_eq!(decode_client(&bytes, &schema).unwrap(), m, "{name}");
        let file = format!("client_{name}.bin");
        client.push(json!({ "file": file, "msg": client_json(&m) }));
        files.insert(file, bytes);
    }
    doc["client"] = Json::Array(client);

    // Redirects (a node of a cluster sends the client elsewhere): one with a seat token long
    // enough for the wide length prefix, one for a resume (no seat).
    let mut server = Vec::new();
    let redirects = [
        (
            "redirect",
            Redirect {
                url: "wss://node-b.example.com:7443/ws".into(),
                room: "r-42".into(),
                seat: "s".repeat(3) + &"0123456789abcdef".repeat(16) + "é",
            },
        ),
        (
            "redirect_resume",
            Redirect {
                url: "ws://10.0.0.2:7000/ws".into(),
                room: "duel".into(),
                seat: String::new(),
            },
        ),
    ];
    for (name, r) in redirects {
        let msg = ServerMsg::Redirect(r.clone());
        let mut bytes = Vec::new();
        encode_server(&msg, &schema, &[], &mut bytes);
        assert_eq!(decode_server(&bytes, None, &[]).unwrap(), msg, "{name}");
        let file = format!("server_{name}.bin");
        server.push(json!({
            "file": file,
            "msg": { "type": "Redirect", "url": r.url, "room": r.room, "seat": r.seat },
        }));
        files.insert(file, bytes);
    }
    doc["server"] = Json::Array(server);
    let mut text = serde_json::to_vec_pretty(&doc).unwrap();
    text.push(b'\n');
    files.insert("vectors.json".to_string(), text);
    files
}

#[test]
fn golden_vectors_match_the_checked_in_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../client-web/test/vectors/wire");
    let files = generate();
    if std::env::var_os("TICKWIRE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        return;
    }
    for (name, bytes) in &files {
        let on_disk = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}; regenerate with TICKWIRE_UPDATE_GOLDEN=1"));
        assert!(
            &on_disk == bytes,
            "{name} differs from what the codec writes; regenerate with TICKWIRE_UPDATE_GOLDEN=1"
        );
    }
}

#[test]
fn the_idle_snapshot_is_four_bytes_and_deltas_are_small() {
    let schema = demo_schema();
    let mut b = Vec::new();
    encode_server(
        &ServerMsg::Snapshot(Snapshot::empty(Tick(100), InputSeq(7))),
        &schema,
        &[],
        &mut b,
    );
    assert_eq!(b, [1, 100, 7, 0]);
    // A ship (the only entity held) off its course by (3, -2): the count, then 14 bits: skip 0
    // (`1`), the mask (`0`, the courses x, y, heading `1 1 0`, no other field `0`), two
    // residuals in class 0 of order 3 (`0` + 3 bits each: zigzags 6 and 3).
    let mut s = Snapshot::empty(Tick(100), InputSeq(7));
    s.updated.push(Update {
        id: NetId(5),
        kind: 0,
        mask: 0b110,
    });
    s.updated_lanes = vec![3, -2];
    let mut b = Vec::new();
    let held = [(NetId(5), 0)];
    encode_server(&ServerMsg::Snapshot(s.clone()), &schema, &held, &mut b);
    assert_eq!(b, [1, 100, 7, 1, 1, 0b0000_1101, 0b0001_1011]);
    assert_eq!(
        decode_server(&b, Some(&schema), &held).unwrap(),
        ServerMsg::Snapshot(s)
    );
}

// ---- the worked examples of docs/PROTOCOL.md ----
//
// Each example in the document is a fenced block right after a `<!-- example: NAME -->`
// marker. Its lines read `OFFSET  HEX BYTES  DESCRIPTION`, the three columns separated by at
// least two spaces (the hex bytes by one); a line without an offset (a header, or a
// description carried over) is skipped. Each test below builds the very message the document
// describes, encodes it with the one codec, and asserts that the bytes, and every line's
// offset, are exactly what the document shows.

fn protocol_doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/PROTOCOL.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of the example `name`, checking each line's offset on the way.
fn doc_example(name: &str) -> Vec<u8> {
    let doc = protocol_doc();
    let marker = format!("<!-- example: {name} -->");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no {marker}"));
    let mut lines = doc[start + marker.len()..]
        .lines()
        .skip_while(|l| l.trim().is_empty());
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "{marker} must be followed by a fenced block"
    );
    let mut bytes = Vec::new();
    for line in lines.take_while(|l| !l.starts_with("```")) {
        let cols: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let Some(offset) = cols.first().and_then(|c| c.parse::<usize>().ok()) else {
            continue;
        };
        assert_eq!(offset, bytes.len(), "{name}: wrong offset on line {line:?}");
        let hex = cols
            .get(1)
            .unwrap_or_else(|| panic!("{name}: no bytes on {line:?}"));
        for b in hex.split(' ') {
            bytes.push(
                u8::from_str_radix(b, 16)
                    .unwrap_or_else(|_| panic!("{name}: {b:?} is not a hex byte ({line:?})")),
            );
        }
    }
    assert!(!bytes.is_empty(), "{name}: no bytes found");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

/// Asserts that the document's example `name` is exactly `bytes`.
fn assert_doc_example(name: &str, bytes: &[u8]) {
    let doc = doc_example(name);
    assert!(
        doc == bytes,
        "docs/PROTOCOL.md's {name} example differs from the codec:\n  doc:   {}\n  codec: {}",
        hex(&doc),
        hex(bytes)
    );
}

fields! {
    mod arena_body {
        player: Player;
        x: Fixed(8), interpolate, predict, extrapolate;
        y: Fixed(8), interpolate, predict, extrapolate;
        aim: Angle8, interpolate, extrapolate;
        health: U8;
        alive: Bool;
        respawns: U8, discontinuity;
    }
}

fields! {
    mod arena_projectile {
        owner: Player;
        origin_x: Fixed(8);
        origin_y: Fixed(8);
        heading: Angle16;
        spawn_tick: Tick;
    }
}

fields! {
    mod arena_scores { kills: U32; deaths: U32; }
}

fields! {
    mod arena_input { move_x: I8; move_y: I8; aim: Angle16; buttons: U8; }
}

/// The arena's schema as docs/PROTOCOL.md documents it: a copy of `tickwire_arena::schema()`
/// (`games/arena/src/lib.rs`; this crate cannot depend on the game's), so the examples built
/// on it are encoded by the schema a client really receives.
fn arena_schema() -> Schema {
    use tickwire_shared::schema::{FieldDesc, FieldType::*};
    Schema::new("arena")
        .kind(KindDesc {
            name: "body".into(),
            fields: arena_body::fields(),
        })
        .kind(KindDesc {
            name: "projectile".into(),
            fields: arena_projectile::fields(),
        })
        .player_fields(arena_scores::fields())
        .input(arena_input::fields())
        .event(MessageDesc::new(
            "kill",
            vec![
                FieldDesc::new("killer", Player),
                FieldDesc::new("victim", Player),
            ],
        ))
        .event(MessageDesc::new(
            "respawn",
            vec![FieldDesc::new("player", Player)],
        ))
        .event(MessageDesc::new(
            "hitscan",
            vec![
                FieldDesc::new("shooter", Player),
                FieldDesc::new("from_x", Fixed(8)),
                FieldDesc::new("from_y", Fixed(8)),
                FieldDesc::new("to_x", Fixed(8)),
                FieldDesc::new("to_y", Fixed(8)),
                FieldDesc::new("victim", Player),
            ],
        ))
}

/// The document's `Welcome`: the smallest game (one kind `dot` with one field `x: I32,
/// delta`; input `dx: I8`), player 1, 30 Hz, tick 300, no checksums, token `"t"`.
#[test]
fn the_documented_welcome_example_encodes_to_its_bytes() {
    use tickwire_shared::schema::{FieldDesc, FieldType};
    let schema = Schema::new("dots")
        .kind(KindDesc {
            name: "dot".into(),
            fields: vec![FieldDesc::new("x", FieldType::I32).delta()],
        })
        .input(vec![FieldDesc::new("dx", FieldType::I8)]);
    let w = Welcome {
        protocol_version: PROTOCOL_VERSION,
        player_id: PlayerId(1),
        tick_rate: 30,
        tick: Tick(300),
        checksum_interval: 0,
        resume_token: "t".into(),
        resumed: false,
        schema: schema.clone(),
        game_config: String::new(),
    };
    let msg = ServerMsg::Welcome(Box::new(w));
    let mut b = Vec::new();
    encode_server(&msg, &schema, &[], &mut b);
    assert_doc_example("welcome", &b);
    assert_eq!(decode_server(&b, None, &[]).unwrap(), msg);
}

/// The copy above is the arena's real schema: `games/arena/tests/vectors.rs` writes that into
/// `client-web/test/vectors/arena.json`, and the two must agree, so a change of the arena's
/// schema shows up here (and in the document's examples) instead of going unnoticed.
#[test]
fn the_documented_arena_schema_is_the_arenas() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../client-web/test/vectors/arena.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let arena: Json = serde_json::from_str(&text).unwrap();
    let real: Schema = serde_json::from_value(arena["schema"].clone()).unwrap();
    assert_eq!(arena_schema(), real);
}

/// The document's `Input` on the arena's schema: bob's commands 2 and 3 (the last snapshot
/// acknowledged 1), the older one repeated.
#[test]
fn the_documented_input_example_encodes_to_its_bytes() {
    let schema = arena_schema();
    let msg = ClientMsg::Input(vec![
        InputCmd {
            seq: InputSeq(2),
            view_tick: Tick(1258),
            lanes: vec![127, 0, 0, 0],
        },
        InputCmd {
            seq: InputSeq(3),
            view_tick: Tick(1259),
            lanes: vec![127, -127, 57344, 1],
        },
    ]);
    let mut b = Vec::new();
    encode_client(&msg, &schema, &mut b);
    assert_doc_example("input", &b);
    assert_eq!(decode_client(&b, &schema).unwrap(), msg);
}

/// The room of the document's snapshot example: bob (player 3) joined an arena room at tick
/// 1258 on a server with `--checksum-interval 30`; his first snapshot (tick 1259) created his
/// body (NetId 2) and a projectile of ann's (NetId 7), and listed ann (1), bob and eve (5).
fn bob_after_his_first_snapshot() -> Replica {
    let welcome = Welcome {
        protocol_version: PROTOCOL_VERSION,
        player_id: PlayerId(3),
        tick_rate: 30,
        tick: Tick(1258),
        checksum_interval: 30,
        resume_token: "1.00112233445566778899aabbccddeeff".into(),
        resumed: false,
        schema: arena_schema(),
        game_config: String::new(),
    };
    let mut r = Replica::new(&welcome);
    let mut first = Snapshot::empty(Tick(1259), InputSeq(0));
    first.created = vec![
        Spawn {
            id: NetId(2),
            kind: 0,
        },
        Spawn {
            id: NetId(7),
            kind: 1,
        },
    ];
    first.created_lanes = vec![
        // bob's body at (400, 300) facing down.
        3, 3200, 2400, 64, 100, 1, 0, //
        // ann's projectile flying up.
        1, 3440, 2880, 49152, 1255,
    ];
    first.players_joined = ["ann", "bob", "eve"]
        .iter()
        .zip([1, 3, 5])
        .map(|(name, id)| PlayerJoin {
            id: PlayerId(id),
            name: name.to_string(),
            connected: true,
        })
        .collect();
    first.joined_lanes = vec![2, 1, 0, 0, 0, 0];
    let mut bytes = Vec::new();
    encode_server(
        &ServerMsg::Snapshot(first.clone()),
        &r.schema,
        &[],
        &mut bytes,
    );
    let ServerMsg::Snapshot(s) = r.decode(&bytes).unwrap() else {
        panic!("a snapshot");
    };
    assert_eq!(s, first);
    r.apply(&s).unwrap();
    r
}

/// The document's `Snapshot`: bob's second one (tick 1260), with every section the arena
/// uses. Its checksum is the one bob's replica reaches.
fn documented_snapshot(r: &Replica) -> Snapshot {
    let mut s = Snapshot::empty(Tick(1260), InputSeq(1));
    s.removed = vec![NetId(7)];
    s.created = vec![Spawn {
        id: NetId(4),
        kind: 0,
    }];
    // ann's body: (695, 300) facing -x, full health, alive, respawned once.
    s.created_lanes = vec![1, 5560, 2400, 128, 100, 1, 1];
    s.updated = vec![Update {
        id: NetId(2),
        kind: 0,
        mask: 0b1110,
    }];
    // bob's body moved by (+59, -3) eighths and turned from 64 to 0 (face +x): residuals
    // against standing still, since it was created in the last snapshot.
    s.updated_lanes = vec![59, -3, -64];
    s.players_joined = vec![PlayerJoin {
        id: PlayerId(6),
        name: "dan".into(),
        connected: true,
    }];
    s.joined_lanes = vec![0, 0];
    s.players_changed = vec![
        PlayerChange {
            id: PlayerId(1),
            connected: true,
        },
        PlayerChange {
            id: PlayerId(5),
            connected: true,
        },
    ];
    s.changed_lanes = vec![3, 1, 0, 1];
    s.events = vec![
        ev(
            engine_events::CHAT,
            vec![Value::Int(1), Value::Str("hi".into())],
        ),
        ev(engine_events::COUNT, vec![Value::Int(1), Value::Int(5)]),
    ];
    let mut probe = r.clone();
    probe.apply(&s).unwrap();
    s.checksum = Some(probe.checksum());
    s
}

#[test]
fn the_documented_snapshot_example_encodes_to_its_bytes_and_checks_out() {
    let mut r = bob_after_his_first_snapshot();
    let s = documented_snapshot(&r);
    let mut b = Vec::new();
    encode_server(
        &ServerMsg::Snapshot(s.clone()),
        &r.schema,
        &r.held(),
        &mut b,
    );
    assert_doc_example("snapshot", &b);
    assert_eq!(r.decode(&b).unwrap(), ServerMsg::Snapshot(s.clone()));
    // Applying it verifies the checksum.
    r.apply(&s).unwrap();
    assert_eq!(r.entities[&NetId(2)].lanes, [3, 3259, 2397, 0, 100, 1, 0]);
    assert_eq!(r.players[&PlayerId(6)].name, "dan");
}

/// The document's checksum example: what bob's replica hashes after the example snapshot,
/// and that the hash is the snapshot's checksum.
#[test]
fn the_documented_checksum_example_hashes_to_the_snapshots_checksum() {
    let mut r = bob_after_his_first_snapshot();
    let s = documented_snapshot(&r);
    r.apply(&s).unwrap();
    let mut hashed = Vec::new();
    for (id, e) in &r.entities {
        hashed.extend_from_slice(&id.0.to_le_bytes());
        hashed.extend_from_slice(&e.kind.to_le_bytes());
        for v in &e.lanes {
            hashed.extend_from_slice(&v.to_le_bytes());
        }
    }
    // The arena has no room fields: nothing follows the entities.
    assert_doc_example("checksum", &hashed);
    let sum = tickwire_shared::sync::wire::fnv1a(&hashed);
    assert_eq!(Some(sum), s.checksum);
    let doc = protocol_doc();
    assert!(
        doc.contains(&format!("`{sum:#010x}`")),
        "docs/PROTOCOL.md should name the checksum {sum:#010x}"
    );
}
