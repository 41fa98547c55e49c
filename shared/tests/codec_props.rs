//! Property tests of the codec: every message type round-trips, and arbitrary bytes never
//! make the decoder panic.

use proptest::collection::vec;
use proptest::prelude::*;
use tickwire_shared::protocol::*;
use tickwire_shared::rules::{Arena, Rect, Rules};
use tickwire_shared::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "\\PC{0,40}", "[a-z]{1,8}"]
}

fn input() -> impl Strategy<Value = InputCmd> {
    (
        any::<u32>(),
        any::<i8>(),
        any::<i8>(),
        any::<u16>(),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(|(seq, move_x, move_y, aim, buttons, view)| InputCmd {
            seq: InputSeq(seq),
            move_x,
            move_y,
            aim,
            buttons,
            view_tick: Tick(view),
        })
}

fn client_msg() -> impl Strategy<Value = ClientMsg> {
    prop_oneof![
        (
            any::<u16>(),
            text(),
            proptest::option::of(text()),
            proptest::option::of(text())
        )
            .prop_map(|(protocol_version, name, auth_token, resume_token)| {
                ClientMsg::Hello(Hello {
                    protocol_version,
                    name,
                    auth_token,
                    resume_token,
                })
            }),
        vec(input(), 0..8).prop_map(ClientMsg::Input),
        any::<u32>().prop_map(|client_time| ClientMsg::Ping(Ping { client_time })),
        text().prop_map(ClientMsg::Chat),
    ]
}

fn player_state() -> impl Strategy<Value = PlayerState> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(x, y, aim, health, status)| PlayerState {
            x,
            y,
            aim,
            health,
            status,
        })
}

fn spawn() -> impl Strategy<Value = EntitySpawn> {
    let kind = prop_oneof![
        (any::<u32>(), player_state()).prop_map(|(p, state)| SpawnKind::Player {
            player: PlayerId(p),
            state
        }),
        (
            any::<u32>(),
            any::<i32>(),
            any::<i32>(),
            any::<u16>(),
            any::<u32>()
        )
            .prop_map(|(o, x, y, h, t)| {
                SpawnKind::Projectile(ProjectileState {
                    owner: PlayerId(o),
                    origin_x: x,
                    origin_y: y,
                    heading: h,
                    spawn_tick: Tick(t),
                })
            }),
    ];
    (any::<u32>(), kind).prop_map(|(id, kind)| EntitySpawn {
        id: NetId(id),
        kind,
    })
}

fn update() -> impl Strategy<Value = EntityUpdate> {
    (
        any::<u32>(),
        0u8..16,
        any::<i32>(),
        any::<i32>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(id, mask, dx, dy, aim, health, status)| {
            // Fields whose bit is clear are not sent, so they decode as zero.
            let on = |bit: u8| mask & bit != 0;
            EntityUpdate {
                id: NetId(id),
                mask,
                dx: if on(fields::POS) { dx } else { 0 },
                dy: if on(fields::POS) { dy } else { 0 },
                aim: if on(fields::AIM) { aim } else { 0 },
                health: if on(fields::HEALTH) { health } else { 0 },
                status: if on(fields::STATUS) { status } else { 0 },
            }
        })
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (any::<u32>(), text()).prop_map(|(p, name)| Event::Join {
            player: PlayerId(p),
            name
        }),
        any::<u32>().prop_map(|p| Event::Leave {
            player: PlayerId(p)
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(k, v)| Event::Kill {
            killer: PlayerId(k),
            victim: PlayerId(v)
        }),
        any::<u32>().prop_map(|p| Event::Respawn {
            player: PlayerId(p)
        }),
        (any::<u32>(), text()).prop_map(|(p, text)| Event::Chat {
            player: PlayerId(p),
            text
        }),
        text().prop_map(|text| Event::Notice { text }),
        (
            any::<u32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            proptest::option::of(any::<u32>())
        )
            .prop_map(|(s, from_x, from_y, to_x, to_y, v)| Event::Hitscan {
                shooter: PlayerId(s),
                from_x,
                from_y,
                to_x,
                to_y,
                victim: v.map(PlayerId),
            }),
    ]
}

fn server_msg() -> impl Strategy<Value = ServerMsg> {
    let snapshot = (
        any::<u32>(),
        any::<u32>(),
        vec(any::<u32>().prop_map(NetId), 0..6),
        vec(spawn(), 0..6),
        vec(update(), 0..6),
        vec(event(), 0..4),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(t, a, removed, created, updated, events, checksum)| {
            ServerMsg::Snapshot(Snapshot {
                tick: Tick(t),
                ack_input_seq: InputSeq(a),
                removed,
                created,
                updated,
                events,
                checksum,
            })
        });
    let welcome = (
        any::<u32>(),
        any::<u32>(),
        10u16..128,
        any::<u32>(),
        0u16..100,
        text(),
        0.0f32..5000.0,
    )
        .prop_map(|(p, e, rate, t, ci, token, r)| {
            ServerMsg::Welcome(Welcome {
                protocol_version: PROTOCOL_VERSION,
                player_id: PlayerId(p),
                entity_id: NetId(e),
                tick_rate: rate,
                tick: Tick(t),
                view_radius: r,
                checksum_interval: ci,
                arena: Arena {
                    width: r,
                    height: r * 0.5,
                    obstacles: vec![Rect::new(1.0, 2.0, r, 4.0)],
                },
                rules: Rules::at_tick_rate(rate),
                players: vec![PlayerInfo {
                    id: PlayerId(p),
                    name: token.clone(),
                    score: t,
                    deaths: e,
                }],
                resume_token: token,
            })
        });
    let pong = (any::<u32>(), any::<u32>()).prop_map(|(c, t)| {
        ServerMsg::Pong(Pong {
            client_time: c,
            tick: Tick(t),
        })
    });
    prop_oneof![snapshot, welcome, pong]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn client_messages_round_trip(msg in client_msg()) {
        let bytes = encode_client(&msg);
        prop_assert_eq!(decode_client(&bytes).unwrap(), msg);
    }

    #[test]
    fn server_messages_round_trip(msg in server_msg()) {
        let bytes = encode_server(&msg);
        prop_assert_eq!(decode_server(&bytes).unwrap(), msg);
    }

    #[test]
    fn truncated_messages_are_errors_not_panics(msg in server_msg(), cut in 0usize..64) {
        let bytes = encode_server(&msg);
        let cut = cut.min(bytes.len().saturating_sub(1));
        prop_assert!(decode_server(&bytes[..cut]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = decode_client(&bytes);
        let _ = decode_server(&bytes);
    }
}

#[test]
fn huge_length_prefixes_are_rejected_without_allocating() {
    // Chat with a declared length of 2^60 bytes (varint tag 253 = u64 follows).
    let mut bytes = vec![3u8, 253];
    bytes.extend_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(decode_client(&bytes).is_err());
    // Input batch claiming 2^31 commands.
    let mut bytes = vec![1u8, 252];
    bytes.extend_from_slice(&(1u32 << 31).to_le_bytes());
    assert!(decode_client(&bytes).is_err());
}

#[test]
fn unknown_update_mask_bits_are_rejected() {
    let snap = ServerMsg::Snapshot(Snapshot {
        tick: Tick(1),
        ack_input_seq: InputSeq(0),
        removed: vec![],
        created: vec![],
        updated: vec![EntityUpdate {
            id: NetId(1),
            mask: fields::AIM,
            aim: 5,
            ..Default::default()
        }],
        events: vec![],
        checksum: None,
    });
    let mut bytes = encode_server(&snap);
    // Layout: variant, tick, ack, removed len, created len, updated len, id, mask, aim, ...
    assert_eq!(&bytes[..9], &[1, 1, 0, 0, 0, 1, 1, fields::AIM, 5]);
    bytes[7] |= 0x80;
    assert!(decode_server(&bytes).is_err());
}
