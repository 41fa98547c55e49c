//! Property tests of protocol v2: any declared schema round-trips any snapshot, input and
//! action built for it, and arbitrary bytes never panic the decoders.

use proptest::prelude::*;
use tickwire_shared::schema::{FieldDesc, FieldType, KindDesc, MessageDesc, Schema};
use tickwire_shared::sync::*;
use tickwire_shared::{InputSeq, NetId, PlayerId, Tick};

fn numeric_type() -> impl Strategy<Value = FieldType> {
    prop_oneof![
        Just(FieldType::Bool),
        Just(FieldType::U8),
        Just(FieldType::U16),
        Just(FieldType::U32),
        Just(FieldType::I8),
        Just(FieldType::I16),
        Just(FieldType::I32),
        (1u16..1000).prop_map(FieldType::Fixed),
        Just(FieldType::Angle8),
        Just(FieldType::Angle16),
        Just(FieldType::Player),
        Just(FieldType::Entity),
    ]
}

fn field(allow_text: bool) -> impl Strategy<Value = FieldDesc> {
    let ty = if allow_text {
        prop_oneof![4 => numeric_type(), 1 => (0u16..40).prop_map(FieldType::Str)].boxed()
    } else {
        numeric_type().boxed()
    };
    (ty, any::<[bool; 5]>()).prop_map(|(ty, f)| {
        let mut d = FieldDesc::new("f", ty);
        if f[0] {
            d = d.interpolate();
        }
        d.predict = f[1];
        d.owner_only = f[2];
        // Delta only where the schema allows it.
        d.delta = f[3] && ty.turn().is_none() && ty != FieldType::Bool && !ty.is_text();
        d.discontinuity = f[4];
        d
    })
}

fn fields(max: usize, text: bool) -> impl Strategy<Value = Vec<FieldDesc>> {
    prop::collection::vec(field(text), 0..max)
}

fn schema() -> impl Strategy<Value = Schema> {
    (
        prop::collection::vec(fields(70, false), 1..4),
        fields(5, false),
        fields(4, false),
        fields(6, false),
        prop::collection::vec(fields(4, true), 0..3),
        prop::collection::vec(fields(4, true), 0..3),
    )
        .prop_map(|(kinds, players, room, input, actions, events)| {
            let mut s = Schema::new("prop")
                .player_fields(players)
                .room_fields(room)
                .input(input);
            for (i, mut f) in kinds.into_iter().enumerate() {
                f.truncate(64);
                s = s.kind(KindDesc {
                    name: format!("k{i}"),
                    fields: f,
                });
            }
            for f in actions {
                s = s.action(MessageDesc::new("a", f));
            }
            for f in events {
                s = s.event(MessageDesc::new("e", f));
            }
            s
        })
}

/// A value of `ty` from a random seed.
fn lane(ty: FieldType, seed: u64) -> i64 {
    let (lo, hi) = ty.range();
    let span = (hi - lo) as u64 + 1;
    // Edges often, anything else otherwise.
    match seed % 4 {
        0 => lo,
        1 => hi,
        _ => lo + (seed / 4 % span) as i64,
    }
}

fn text(seed: u64, max: u16) -> String {
    let chars = ['a', 'é', '😀', ' ', 'z'];
    (0..(seed % (u64::from(max) + 1)))
        .map(|i| chars[((seed >> (i % 60)) as usize + i as usize) % chars.len()])
        .collect()
}

fn value(f: &FieldDesc, seed: u64) -> Value {
    match f.ty {
        FieldType::Str(n) => Value::Str(text(seed, n)),
        ty => Value::Int(lane(ty, seed)),
    }
}

/// A snapshot for `schema` against an empty replica, then one against what that created.
fn snapshots(schema: &Schema, seeds: &[u64]) -> (Snapshot, Snapshot) {
    let mut seed = seeds.iter().copied().cycle();
    let mut next = move || seed.next().unwrap();
    let mut a = Snapshot::empty(Tick(5), InputSeq(1));
    let n = (next() % 6) as u32;
    for i in 0..n {
        let kind = (next() % schema.kinds.len() as u64) as u16;
        a.created.push(Spawn {
            id: NetId(i * 97),
            kind,
        });
        for f in &schema.kinds[usize::from(kind)].fields {
            a.created_lanes.push(lane(f.ty, next()));
        }
    }
    for i in 0..(next() % 3) {
        a.players_joined.push(PlayerJoin {
            id: PlayerId(i as u32 + 1),
            name: text(next(), 24),
            connected: next() % 2 == 0,
        });
        for f in &schema.player_fields {
            a.joined_lanes.push(lane(f.ty, next()));
        }
    }
    if next() % 2 == 0 {
        a.room = Some(
            schema
                .room_fields
                .iter()
                .map(|f| lane(f.ty, next()))
                .collect(),
        );
    }
    for _ in 0..(next() % 3) {
        if schema.events.is_empty() {
            break;
        }
        let kind = (next() % schema.events.len() as u64) as u16;
        let values = schema.events[usize::from(kind)]
            .fields
            .iter()
            .map(|f| value(f, next()))
            .collect();
        a.events.push(Event { kind, values });
    }
    if next() % 2 == 0 {
        a.checksum = Some(next() as u32);
    }
    // The second snapshot updates what the first created.
    let mut b = Snapshot::empty(Tick(6), InputSeq(2));
    let mut lanes = &a.created_lanes[..];
    for c in &a.created {
        let fields = &schema.kinds[usize::from(c.kind)].fields;
        let held = &lanes[..fields.len()];
        lanes = &lanes[fields.len()..];
        let mask = if fields.len() == 64 {
            next()
        } else {
            next() & ((1u64 << fields.len()) - 1)
        };
        if mask == 0 {
            continue;
        }
        b.updated.push(Update {
            id: c.id,
            kind: c.kind,
            mask,
        });
        let mut m = mask;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            let new = lane(fields[i].ty, next());
            b.updated_lanes
                .push(if fields[i].delta { new - held[i] } else { new });
            m &= m - 1;
        }
    }
    (a, b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_schema_round_trips_its_messages(schema in schema(), seeds in prop::collection::vec(any::<u64>(), 1..64)) {
        prop_assert_eq!(schema.validate(), Ok(()));
        let welcome = Welcome {
            protocol_version: PROTOCOL_VERSION,
            player_id: PlayerId(1),
            tick_rate: 30,
            tick: Tick(4),
            checksum_interval: 0,
            resume_token: String::new(),
            resumed: false,
            schema: schema.clone(),
            game_config: String::new(),
        };
        let mut bytes = Vec::new();
        encode_server(&ServerMsg::Welcome(Box::new(welcome.clone())), &schema, &[], &mut bytes);
        let ServerMsg::Welcome(back) = decode_server(&bytes, None, &[]).unwrap() else {
            panic!("not a welcome");
        };
        prop_assert_eq!(&back.schema, &schema);
        prop_assert_eq!(back.schema.hash(), schema.hash());

        let mut replica = Replica::new(&welcome);
        let (a, b) = snapshots(&schema, &seeds);
        for s in [a, b] {
            let msg = ServerMsg::Snapshot(s.clone());
            let mut bytes = Vec::new();
            encode_server(&msg, &schema, &replica.held(), &mut bytes);
            prop_assert_eq!(replica.decode(&bytes).unwrap(), msg);
            let mut s = s;
            s.checksum = None;
            replica.apply(&s).unwrap();
        }

        let mut next = seeds.iter().copied().cycle();
        let input = ClientMsg::Input(vec![InputCmd {
            seq: InputSeq(next.next().unwrap() as u32),
            view_tick: Tick(9),
            lanes: schema.input.iter().map(|f| lane(f.ty, next.next().unwrap())).collect(),
        }]);
        let mut bytes = Vec::new();
        encode_client(&input, &schema, &mut bytes);
        prop_assert_eq!(decode_client(&bytes, &schema).unwrap(), input);
        for (kind, a) in schema.actions.iter().enumerate() {
            let action = ClientMsg::Action(Action {
                seq: 3,
                kind: kind as u16,
                values: a.fields.iter().map(|f| value(f, next.next().unwrap())).collect(),
            });
            let mut bytes = Vec::new();
            encode_client(&action, &schema, &mut bytes);
            prop_assert_eq!(decode_client(&bytes, &schema).unwrap(), action);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(schema in schema(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_client(&bytes, &schema);
        let kinds = schema.kinds.len() as u32;
        let held: Vec<_> = (0..40).map(|i| (NetId(i), (i % 3 % kinds) as u16)).collect();
        let _ = decode_server(&bytes, Some(&schema), &held);
    }
}
