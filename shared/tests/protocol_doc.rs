//! The worked examples in `docs/PROTOCOL.md`, checked against the real codec so the document
//! cannot drift from the code.
//!
//! Each example in the document is a fenced block right after a `<!-- example: NAME -->`
//! marker. Its lines read `OFFSET  HEX BYTES  DESCRIPTION`, the three columns separated by at
//! least two spaces (the hex bytes by one). This test builds the very messages the document
//! describes, encodes them with `tickwire_shared::codec`, and asserts that the bytes, and every
//! line's offset, are exactly what the document shows. It also checks the rounding examples and
//! the decoder's size limit the document states.

use std::f32::consts::TAU;
use std::path::PathBuf;
use tickwire_shared::codec::MAX_MESSAGE_BYTES;
use tickwire_shared::protocol::*;
use tickwire_shared::quant::{dequantize_angle16, quantize_angle8, quantize_angle16, quantize_pos};
use tickwire_shared::replica::{EntityState, checksum};
use tickwire_shared::rules::{Arena, Rect, Rules};
use tickwire_shared::{
    InputSeq, NetId, PlayerId, Replica, Tick, decode_client, decode_server, encode_server,
};

fn protocol_doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/PROTOCOL.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of the example `name`, checking each line's offset on the way.
fn doc_example(doc: &str, name: &str) -> Vec<u8> {
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
        // A header line ("offset  bytes  field") or a continuation of a description.
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

/// The `Welcome` of the document: bob (player 3, body 2) joins a room where ann (player 1)
/// already plays, in a small arena with one obstacle, on a server at the default 30 Hz with a
/// 300-unit view.
fn welcome() -> Welcome {
    Welcome {
        protocol_version: PROTOCOL_VERSION,
        player_id: PlayerId(3),
        entity_id: NetId(2),
        tick_rate: 30,
        tick: Tick(1258),
        view_radius: 300.0,
        checksum_interval: 30,
        arena: Arena {
            width: 800.0,
            height: 600.0,
            obstacles: vec![Rect::new(100.0, 100.0, 200.0, 50.0)],
        },
        rules: Rules::at_tick_rate(30),
        players: vec![
            PlayerInfo {
                id: PlayerId(1),
                name: "ann".into(),
                score: 2,
                deaths: 1,
            },
            PlayerInfo {
                id: PlayerId(3),
                name: "bob".into(),
                score: 0,
                deaths: 0,
            },
        ],
        resume_token: "1.00112233445566778899aabbccddeeff".into(),
    }
}

/// Bob's body as his first snapshot creates it.
const BOB: PlayerState = PlayerState {
    x: 3200,
    y: 2400,
    aim: 64,
    health: 100,
    status: 1,
};

/// The snapshot before the documented one: bob's body and a projectile of ann's flying up
/// towards the obstacle; ann herself, at x = 702.3, is just beyond bob's view.
fn first_snapshot() -> Snapshot {
    Snapshot {
        created: vec![
            EntitySpawn {
                id: NetId(2),
                kind: SpawnKind::Player {
                    player: PlayerId(3),
                    state: BOB,
                },
            },
            EntitySpawn {
                id: NetId(7),
                kind: SpawnKind::Projectile(ProjectileState {
                    owner: PlayerId(1),
                    origin_x: 1600,
                    origin_y: 2400,
                    heading: 49152,
                    spawn_tick: Tick(1253),
                }),
            },
        ],
        ..Snapshot::empty(Tick(1259), InputSeq(0))
    }
}

/// The documented snapshot: the projectile hit the obstacle and is gone, bob's first command
/// moved and turned him, ann (walking left) comes into view and says "hi"; tick 1260 is a
/// multiple of the checksum interval, so it carries the checksum of bob's table.
fn snapshot() -> Snapshot {
    let ann = PlayerState {
        x: 5560,
        y: 2400,
        aim: 128,
        health: 100,
        status: 3,
    };
    let bob = PlayerState {
        x: 3259,
        y: 2397,
        aim: 0,
        ..BOB
    };
    let table = [
        (
            NetId(2),
            EntityState::Player {
                player: PlayerId(3),
                state: bob,
            },
        ),
        (
            NetId(4),
            EntityState::Player {
                player: PlayerId(1),
                state: ann,
            },
        ),
    ];
    Snapshot {
        tick: Tick(1260),
        ack_input_seq: InputSeq(1),
        removed: vec![NetId(7)],
        created: vec![EntitySpawn {
            id: NetId(4),
            kind: SpawnKind::Player {
                player: PlayerId(1),
                state: ann,
            },
        }],
        updated: vec![EntityUpdate::diff(NetId(2), &BOB, &bob).expect("bob changed")],
        events: vec![Event::Chat {
            player: PlayerId(1),
            text: "hi".into(),
        }],
        checksum: Some(checksum(table.iter().map(|(id, e)| (*id, e)))),
    }
}

#[test]
fn welcome_bytes_match_the_doc() {
    let msg = ServerMsg::Welcome(welcome());
    let bytes = encode_server(&msg);
    assert_eq!(
        doc_example(&protocol_doc(), "welcome"),
        bytes,
        "docs/PROTOCOL.md's Welcome example differs from the codec's bytes:\n{}",
        hex(&bytes)
    );
    assert_eq!(decode_server(&bytes).unwrap(), msg);
}

#[test]
fn snapshot_bytes_match_the_doc_and_apply_with_a_matching_checksum() {
    let snap = snapshot();
    assert_eq!(
        snap.updated[0].mask,
        fields::POS | fields::AIM,
        "the example update carries dx, dy and aim"
    );
    let msg = ServerMsg::Snapshot(snap.clone());
    let bytes = encode_server(&msg);
    assert_eq!(
        doc_example(&protocol_doc(), "snapshot"),
        bytes,
        "docs/PROTOCOL.md's Snapshot example differs from the codec's bytes:\n{}",
        hex(&bytes)
    );
    assert_eq!(decode_server(&bytes).unwrap(), msg);
    // The example is a real sequence: a client applying the Welcome, the first snapshot and
    // this one holds a table whose checksum is the one sent.
    let w = welcome();
    assert_eq!(w.tick.0 % u32::from(w.checksum_interval), 28);
    assert_eq!(snap.tick.0 % u32::from(w.checksum_interval), 0);
    let mut replica = Replica::new(&w);
    replica.apply(&first_snapshot()).unwrap();
    replica.apply(&snap).unwrap();
    assert_eq!(Some(replica.checksum()), snap.checksum);
    assert_eq!(
        replica.local_player().map(|s| (s.x, s.y)),
        Some((3259, 2397))
    );
}

#[test]
fn the_input_example_matches_the_doc() {
    let doc = protocol_doc();
    let bytes = doc_example(&doc, "input");
    let msg = ClientMsg::Input(vec![InputCmd {
        seq: InputSeq(1),
        move_x: 127,
        move_y: 0,
        aim: 16384,
        buttons: buttons::FIRE,
        view_tick: Tick(300),
    }]);
    assert_eq!(bytes, tickwire_shared::encode_client(&msg));
    assert_eq!(decode_client(&bytes).unwrap(), msg);
}

#[test]
fn the_checksum_example_hashes_to_the_snapshot_checksum() {
    let bytes = doc_example(&protocol_doc(), "checksum");
    let fnv1a = bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    });
    assert_eq!(Some(fnv1a), snapshot().checksum);
}

#[test]
fn halves_round_away_from_zero_as_the_doc_says() {
    // Angles: a half step rounds up (they are in [0, 2π) before rounding).
    assert_eq!(quantize_angle8(TAU / 512.0), 1, "0.5 of a step");
    assert_eq!(quantize_angle8(dequantize_angle16(128)), 1, "u16 aim 128");
    assert_eq!(quantize_angle8(dequantize_angle16(384)), 2, "1.5 steps");
    assert_eq!(quantize_angle16(TAU / 131_072.0), 1, "0.5 of a u16 step");
    assert_eq!(
        quantize_angle8(-TAU / 512.0),
        0,
        "-0.5 step is 255.5, which wraps to 0"
    );
    assert_eq!(quantize_angle8(dequantize_angle16(640)), 3, "2.5 steps");
    assert_eq!(quantize_angle8(dequantize_angle16(65408)), 0, "255.5 wraps");
    // In f32, u16 aim 2944 (11.5 steps of 256 exactly) lands just below the half.
    assert_eq!(quantize_angle8(dequantize_angle16(2944)), 11);
    let shortcut_differs = (0..=u16::MAX)
        .filter(|&q| {
            let facing = u32::from(quantize_angle8(dequantize_angle16(q)));
            facing != ((u32::from(q) + 128) >> 8) & 255
        })
        .count();
    assert_eq!(shortcut_differs, 20, "(aim + 128) >> 8 is not the facing");
    // Positions: away from zero on both sides.
    assert_eq!(quantize_pos(0.0625), 1);
    assert_eq!(quantize_pos(-0.0625), -1);
    assert_eq!(quantize_pos(0.3125), 3, "2.5 eighths");
    assert_eq!(quantize_pos(-0.3125), -3);
}

#[test]
fn the_decode_limit_counts_decoded_widths_not_wire_bytes() {
    // Snapshot header at decoded widths: variant 4, tick 4, ack 4, four lengths 8 each, the
    // Option tag 1 = 45; each removed id 4 more, though it is one byte on the wire.
    let fits = (MAX_MESSAGE_BYTES - 45) / 4;
    let removed = |n: usize| {
        ServerMsg::Snapshot(Snapshot {
            removed: vec![NetId(1); n],
            ..Snapshot::empty(Tick(1), InputSeq(0))
        })
    };
    let ok = encode_server(&removed(fits));
    assert!(
        ok.len() < MAX_MESSAGE_BYTES / 3,
        "{} bytes on the wire",
        ok.len()
    );
    assert!(decode_server(&ok).is_ok());
    assert!(decode_server(&encode_server(&removed(fits + 1))).is_err());
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|c| {
            c.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
