//! Golden vectors shared with the browser client (`client-web/`), so the Rust and JavaScript
//! implementations cannot drift apart.
//!
//! This test builds every message type with edge values, encodes each with the one codec and
//! describes it in JSON (the shape the JavaScript codec decodes to), and records sequences of
//! movement commands with the positions `step_player` produces. It compares the result with
//! the files checked in under `client-web/test/vectors/` and fails on any difference; the
//! JavaScript tests (`node --test` in `client-web/`) decode each `.bin`, compare it with the
//! JSON, re-encode it byte for byte and replay the movement.
//!
//! After a deliberate protocol or rules change, regenerate with
//! `TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-shared --test golden` and commit the files.

use glam::Vec2;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tickwire_shared::protocol::*;
use tickwire_shared::rules::{Arena, Rect, Rules, step_player};
use tickwire_shared::{InputSeq, NetId, PlayerId, Tick, encode_client, encode_server};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../client-web/test/vectors")
}

// ---- JSON descriptions (the JavaScript codec's object shapes) ----

fn cmd_json(c: &InputCmd) -> Value {
    json!({
        "seq": c.seq.0, "move_x": c.move_x, "move_y": c.move_y, "aim": c.aim,
        "buttons": c.buttons, "view_tick": c.view_tick.0,
    })
}

fn client_json(m: &ClientMsg) -> Value {
    match m {
        ClientMsg::Hello(h) => json!({
            "type": "Hello", "protocol_version": h.protocol_version, "name": h.name,
            "auth_token": h.auth_token, "resume_token": h.resume_token,
        }),
        ClientMsg::Input(cmds) => {
            json!({ "type": "Input", "cmds": cmds.iter().map(cmd_json).collect::<Vec<_>>() })
        }
        ClientMsg::Ping(p) => json!({ "type": "Ping", "client_time": p.client_time }),
        ClientMsg::Chat(text) => json!({ "type": "Chat", "text": text }),
    }
}

fn rect_json(r: &Rect) -> Value {
    json!({ "min_x": r.min_x, "min_y": r.min_y, "max_x": r.max_x, "max_y": r.max_y })
}

fn arena_json(a: &Arena) -> Value {
    json!({
        "width": a.width, "height": a.height,
        "obstacles": a.obstacles.iter().map(rect_json).collect::<Vec<_>>(),
    })
}

fn rules_json(r: &Rules) -> Value {
    json!({
        "tick_rate": r.tick_rate, "player_radius": r.player_radius,
        "player_speed": r.player_speed, "max_health": r.max_health,
        "respawn_ticks": r.respawn_ticks, "projectile_speed": r.projectile_speed,
        "projectile_radius": r.projectile_radius,
        "projectile_lifetime_ticks": r.projectile_lifetime_ticks,
        "projectile_damage": r.projectile_damage, "fire_cooldown_ticks": r.fire_cooldown_ticks,
        "hitscan_damage": r.hitscan_damage, "hitscan_range": r.hitscan_range,
        "hitscan_cooldown_ticks": r.hitscan_cooldown_ticks,
    })
}

fn player_state_json(s: &PlayerState) -> Value {
    json!({ "x": s.x, "y": s.y, "aim": s.aim, "health": s.health, "status": s.status })
}

fn spawn_json(s: &EntitySpawn) -> Value {
    let kind = match &s.kind {
        SpawnKind::Player { player, state } => json!({
            "type": "Player", "player": player.0, "state": player_state_json(state),
        }),
        SpawnKind::Projectile(p) => json!({
            "type": "Projectile", "owner": p.owner.0, "origin_x": p.origin_x,
            "origin_y": p.origin_y, "heading": p.heading, "spawn_tick": p.spawn_tick.0,
        }),
    };
    json!({ "id": s.id.0, "kind": kind })
}

fn update_json(u: &EntityUpdate) -> Value {
    // Fields absent from the mask are 0, as in the Rust type's `Default`.
    json!({
        "id": u.id.0, "mask": u.mask, "dx": u.dx, "dy": u.dy, "aim": u.aim,
        "health": u.health, "status": u.status,
    })
}

fn event_json(e: &Event) -> Value {
    match e {
        Event::Join { player, name } => json!({ "type": "Join", "player": player.0, "name": name }),
        Event::Leave { player } => json!({ "type": "Leave", "player": player.0 }),
        Event::Kill { killer, victim } => {
            json!({ "type": "Kill", "killer": killer.0, "victim": victim.0 })
        }
        Event::Respawn { player } => json!({ "type": "Respawn", "player": player.0 }),
        Event::Chat { player, text } => json!({ "type": "Chat", "player": player.0, "text": text }),
        Event::Notice { text } => json!({ "type": "Notice", "text": text }),
        Event::Hitscan {
            shooter,
            from_x,
            from_y,
            to_x,
            to_y,
            victim,
        } => json!({
            "type": "Hitscan", "shooter": shooter.0, "from_x": from_x, "from_y": from_y,
            "to_x": to_x, "to_y": to_y, "victim": victim.map(|v| v.0),
        }),
    }
}

fn server_json(m: &ServerMsg) -> Value {
    match m {
        ServerMsg::Welcome(w) => json!({
            "type": "Welcome", "protocol_version": w.protocol_version,
            "player_id": w.player_id.0, "entity_id": w.entity_id.0, "tick_rate": w.tick_rate,
            "tick": w.tick.0, "view_radius": w.view_radius,
            "checksum_interval": w.checksum_interval, "arena": arena_json(&w.arena),
            "rules": rules_json(&w.rules),
            "players": w.players.iter().map(|p| json!({
                "id": p.id.0, "name": p.name, "score": p.score, "deaths": p.deaths,
            })).collect::<Vec<_>>(),
            "resume_token": w.resume_token,
        }),
        ServerMsg::Snapshot(s) => json!({
            "type": "Snapshot", "tick": s.tick.0, "ack_input_seq": s.ack_input_seq.0,
            "removed": s.removed.iter().map(|r| r.0).collect::<Vec<_>>(),
            "created": s.created.iter().map(spawn_json).collect::<Vec<_>>(),
            "updated": s.updated.iter().map(update_json).collect::<Vec<_>>(),
            "events": s.events.iter().map(event_json).collect::<Vec<_>>(),
            "checksum": s.checksum,
        }),
        ServerMsg::Pong(p) => {
            json!({ "type": "Pong", "client_time": p.client_time, "tick": p.tick.0 })
        }
    }
}

// ---- The messages ----

/// Values at every varint boundary (1, 3, 5 and 9 byte forms).
const U32_EDGES: [u32; 8] = [0, 1, 250, 251, 65_535, 65_536, 0x7fff_ffff, u32::MAX];
const I32_EDGES: [i32; 10] = [0, -1, 1, -125, 125, -126, 126, -32_768, i32::MIN, i32::MAX];

fn cmd(seq: u32, move_x: i8, move_y: i8, aim: u16, buttons: u8, view_tick: u32) -> InputCmd {
    InputCmd {
        seq: InputSeq(seq),
        move_x,
        move_y,
        aim,
        buttons,
        view_tick: Tick(view_tick),
    }
}

fn client_messages() -> Vec<(&'static str, ClientMsg)> {
    let hello = |name: &str, auth: Option<&str>, resume: Option<&str>, v: u16| {
        ClientMsg::Hello(Hello {
            protocol_version: v,
            name: name.into(),
            auth_token: auth.map(Into::into),
            resume_token: resume.map(Into::into),
        })
    };
    vec![
        ("client_hello", hello("alice", None, None, PROTOCOL_VERSION)),
        (
            "client_hello_empty_name",
            hello("", None, None, PROTOCOL_VERSION),
        ),
        (
            "client_hello_tokens_unicode",
            hello("Zoë 🚀 名前", Some("secret-token"), Some(""), u16::MAX),
        ),
        ("client_input_empty", ClientMsg::Input(vec![])),
        (
            "client_input_doc_example",
            ClientMsg::Input(vec![cmd(1, 127, 0, 16384, 1, 300)]),
        ),
        (
            "client_input_edges",
            ClientMsg::Input(
                U32_EDGES
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let moves = [-128i8, -127, -1, 0, 1, 126, 127, 64];
                        let aims = [0u16, 1, 250, 251, 32_768, 65_535, 12_345, 255];
                        cmd(
                            v,
                            moves[i],
                            moves[7 - i],
                            aims[i],
                            [0, 1, 2, 3, 255][i % 5],
                            v,
                        )
                    })
                    .collect(),
            ),
        ),
        ("client_ping_zero", ClientMsg::Ping(Ping { client_time: 0 })),
        (
            "client_ping_max",
            ClientMsg::Ping(Ping {
                client_time: u32::MAX,
            }),
        ),
        ("client_chat_empty", ClientMsg::Chat(String::new())),
        (
            "client_chat_long_unicode",
            ClientMsg::Chat("héllo wörld ✓ ".repeat(20)),
        ),
    ]
}

fn welcome(players: Vec<PlayerInfo>, rules: Rules, arena: Arena, token: &str) -> ServerMsg {
    ServerMsg::Welcome(Welcome {
        protocol_version: PROTOCOL_VERSION,
        player_id: PlayerId(7),
        entity_id: NetId(300),
        tick_rate: rules.tick_rate,
        tick: Tick(65_536),
        view_radius: 700.0,
        checksum_interval: 30,
        arena,
        rules,
        players,
        resume_token: token.into(),
    })
}

fn server_messages() -> Vec<(&'static str, ServerMsg)> {
    let player = |id: u32, name: &str, score: u32, deaths: u32| PlayerInfo {
        id: PlayerId(id),
        name: name.into(),
        score,
        deaths,
    };
    let empty_snapshot = Snapshot {
        tick: Tick(0),
        ack_input_seq: InputSeq(0),
        removed: vec![],
        created: vec![],
        updated: vec![],
        events: vec![],
        checksum: None,
    };
    let mut odd_rules = Rules::at_tick_rate(128);
    odd_rules.player_radius = 0.1;
    odd_rules.player_speed = -0.0;
    odd_rules.hitscan_range = f32::MAX;
    odd_rules.projectile_radius = f32::MIN_POSITIVE;
    odd_rules.max_health = 255;
    let updates: Vec<EntityUpdate> = (0u8..16)
        .map(|mask| {
            let i = usize::from(mask);
            EntityUpdate {
                id: NetId(U32_EDGES[i % U32_EDGES.len()]),
                mask,
                dx: if mask & fields::POS != 0 {
                    I32_EDGES[i % 10]
                } else {
                    0
                },
                dy: if mask & fields::POS != 0 {
                    I32_EDGES[(i + 3) % 10]
                } else {
                    0
                },
                aim: if mask & fields::AIM != 0 {
                    255 - mask
                } else {
                    0
                },
                health: if mask & fields::HEALTH != 0 {
                    mask * 16
                } else {
                    0
                },
                status: if mask & fields::STATUS != 0 {
                    0xff - mask
                } else {
                    0
                },
            }
        })
        .collect();
    let created = vec![
        EntitySpawn {
            id: NetId(1),
            kind: SpawnKind::Player {
                player: PlayerId(7),
                state: PlayerState {
                    x: 9_600,
                    y: 6_400,
                    aim: 64,
                    health: 100,
                    status: 1,
                },
            },
        },
        EntitySpawn {
            id: NetId(u32::MAX),
            kind: SpawnKind::Player {
                player: PlayerId(u32::MAX),
                state: PlayerState {
                    x: i32::MIN,
                    y: i32::MAX,
                    aim: 255,
                    health: 0,
                    status: 0xfe,
                },
            },
        },
        EntitySpawn {
            id: NetId(251),
            kind: SpawnKind::Projectile(ProjectileState {
                owner: PlayerId(7),
                origin_x: -1,
                origin_y: 125,
                heading: 65_535,
                spawn_tick: Tick(65_536),
            }),
        },
    ];
    let events = vec![
        Event::Join {
            player: PlayerId(8),
            name: "bob".into(),
        },
        Event::Join {
            player: PlayerId(u32::MAX),
            name: String::new(),
        },
        Event::Leave {
            player: PlayerId(250),
        },
        Event::Kill {
            killer: PlayerId(7),
            victim: PlayerId(8),
        },
        Event::Respawn {
            player: PlayerId(8),
        },
        Event::Chat {
            player: PlayerId(7),
            text: "gg ✓".into(),
        },
        Event::Notice {
            text: "server restarting in 5 minutes".into(),
        },
        Event::Hitscan {
            shooter: PlayerId(7),
            from_x: 100,
            from_y: -100,
            to_x: i32::MAX,
            to_y: i32::MIN,
            victim: Some(PlayerId(8)),
        },
        Event::Hitscan {
            shooter: PlayerId(8),
            from_x: 0,
            from_y: 0,
            to_x: 7_200,
            to_y: 0,
            victim: None,
        },
    ];
    vec![
        (
            "server_welcome_default",
            welcome(
                vec![player(7, "alice", 0, 0)],
                Rules::at_tick_rate(30),
                Arena::default(),
                "",
            ),
        ),
        (
            "server_welcome_edges",
            welcome(
                vec![
                    player(7, "alice", 3, 1),
                    player(8, "Zoë 🚀", u32::MAX, 251),
                    player(u32::MAX, "", 65_536, 0),
                ],
                odd_rules,
                Arena {
                    width: 0.1,
                    height: 1e30,
                    obstacles: vec![Rect::new(-0.5, 1.25, 1e-3, 3.0e38)],
                },
                "resume-me",
            ),
        ),
        (
            "server_snapshot_empty",
            ServerMsg::Snapshot(empty_snapshot.clone()),
        ),
        (
            "server_snapshot_full",
            ServerMsg::Snapshot(Snapshot {
                tick: Tick(u32::MAX),
                ack_input_seq: InputSeq(65_535),
                removed: U32_EDGES.iter().map(|&v| NetId(v)).collect(),
                created,
                updated: updates,
                events,
                checksum: Some(0xdead_beef),
            }),
        ),
        (
            "server_snapshot_checksum_zero",
            ServerMsg::Snapshot(Snapshot {
                tick: Tick(251),
                ack_input_seq: InputSeq(250),
                checksum: Some(0),
                ..empty_snapshot
            }),
        ),
        (
            "server_pong",
            ServerMsg::Pong(Pong {
                client_time: 123_456_789,
                tick: Tick(42),
            }),
        ),
        (
            "server_pong_max",
            ServerMsg::Pong(Pong {
                client_time: u32::MAX,
                tick: Tick(u32::MAX),
            }),
        ),
    ]
}

// ---- Movement ----

/// A small deterministic generator (no dependency, same sequence everywhere).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    fn axis(&mut self) -> i8 {
        // Mostly full deflection (keyboards), sometimes partial (sticks), sometimes -128.
        match self.next() % 6 {
            0 => -127,
            1 => 127,
            2 => 0,
            3 => -128,
            _ => (self.next() % 255) as i32 as i8,
        }
    }
}

fn movement_case(
    rules: &Rules,
    (arena_name, arena): (&str, &Arena),
    start: Vec2,
    moves: impl IntoIterator<Item = (i8, i8)>,
) -> Value {
    let mut pos = start;
    let steps: Vec<Value> = moves
        .into_iter()
        .enumerate()
        .map(|(i, (mx, my))| {
            pos = step_player(pos, &cmd(i as u32 + 1, mx, my, 0, 0, 0), rules, arena);
            json!([mx, my, pos.x, pos.y])
        })
        .collect();
    json!({ "arena": arena_name, "start_x": start.x, "start_y": start.y, "steps": steps })
}

fn movement() -> Value {
    let arena = Arena::default();
    let walls = Arena {
        width: 200.0,
        height: 150.0,
        obstacles: vec![
            Rect::new(90.0, 0.0, 20.0, 100.0),
            Rect::new(40.0, 60.0, 30.0, 30.0),
        ],
    };
    let mut rng = Lcg(0x7469_636b_7769_7265);
    let mut suites = Vec::new();
    for tick_rate in [30u16, 60, 128, 10] {
        let rules = Rules::at_tick_rate(tick_rate);
        let mut cases = Vec::new();
        // Into each obstacle of the demo arena from the left, then along its face.
        for o in &arena.obstacles {
            let start = Vec2::new(o.min_x - 60.0, (o.min_y + o.max_y) / 2.0);
            let moves =
                std::iter::repeat_n((127, 0), 40).chain(std::iter::repeat_n((127, -90), 40));
            cases.push(movement_case(&rules, ("demo", &arena), start, moves));
        }
        // Into the corners and walls.
        for (start, dir) in [
            (Vec2::new(30.0, 30.0), (-127, -127)),
            (Vec2::new(2370.0, 1570.0), (127, 127)),
            (Vec2::new(1200.0, 20.0), (-128, -128)),
        ] {
            cases.push(movement_case(
                &rules,
                ("demo", &arena),
                start,
                std::iter::repeat_n(dir, 20),
            ));
        }
        // Random walks from off-grid starts (and from inside obstacles) in a tight arena.
        for start in [
            Vec2::new(123.456, 77.7),
            Vec2::new(100.0, 50.0),
            Vec2::new(55.0, 75.0),
            Vec2::new(16.0, 16.0),
        ] {
            let moves: Vec<(i8, i8)> = (0..200).map(|_| (rng.axis(), rng.axis())).collect();
            cases.push(movement_case(&rules, ("walls", &walls), start, moves));
        }
        let moves: Vec<(i8, i8)> = (0..400).map(|_| (rng.axis(), rng.axis())).collect();
        cases.push(movement_case(
            &rules,
            ("demo", &arena),
            Vec2::new(1000.0, 800.0),
            moves,
        ));
        suites.push(json!({ "rules": rules_json(&rules), "cases": cases }));
    }
    json!({
        "arenas": { "demo": arena_json(&arena), "walls": arena_json(&walls) },
        "suites": suites,
    })
}

// ---- Files ----

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).expect("JSON values serialize");
    s.push('\n');
    s.into_bytes()
}

fn generate() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut index = Vec::new();
    for (name, msg) in client_messages() {
        files.insert(format!("{name}.bin"), encode_client(&msg));
        index.push(json!({ "name": name, "direction": "client", "message": client_json(&msg) }));
    }
    for (name, msg) in server_messages() {
        files.insert(format!("{name}.bin"), encode_server(&msg));
        index.push(json!({ "name": name, "direction": "server", "message": server_json(&msg) }));
    }
    files.insert("messages.json".into(), pretty(&Value::Array(index)));
    // Compact: thousands of steps, each `[move_x, move_y, x, y]` (the position after the step).
    let mut moves = serde_json::to_string(&movement()).expect("JSON values serialize");
    moves.push('\n');
    files.insert("movement.json".into(), moves.into_bytes());
    files
}

#[test]
fn golden_vectors_match_the_checked_in_files() {
    let dir = vectors_dir();
    let files = generate();
    if std::env::var_os("TICKWIRE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            // Subdirectories (v2/) belong to other golden tests.
            if path.is_file() {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        return;
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let expected: Vec<String> = files.keys().cloned().collect();
    assert_eq!(
        on_disk, expected,
        "the vector files differ from the generated set; regenerate with TICKWIRE_UPDATE_GOLDEN=1"
    );
    for (name, bytes) in &files {
        let disk = std::fs::read(dir.join(name)).unwrap();
        assert!(
            &disk == bytes,
            "{name} differs from what the Rust code produces; if the change is deliberate, \
             regenerate with TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-shared --test golden"
        );
    }
}

#[test]
fn every_message_variant_has_a_vector() {
    let client: Vec<&str> = client_messages()
        .iter()
        .map(|(_, m)| match m {
            ClientMsg::Hello(_) => "Hello",
            ClientMsg::Input(_) => "Input",
            ClientMsg::Ping(_) => "Ping",
            ClientMsg::Chat(_) => "Chat",
        })
        .collect();
    for v in ["Hello", "Input", "Ping", "Chat"] {
        assert!(client.contains(&v), "no vector for ClientMsg::{v}");
    }
    let mut events = std::collections::BTreeSet::new();
    let mut server = std::collections::BTreeSet::new();
    for (_, m) in server_messages() {
        server.insert(server_json(&m)["type"].as_str().unwrap().to_owned());
        if let ServerMsg::Snapshot(s) = &m {
            for e in &s.events {
                events.insert(event_json(e)["type"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(server.len(), 3, "{server:?}");
    assert_eq!(events.len(), 7, "{events:?}");
}
