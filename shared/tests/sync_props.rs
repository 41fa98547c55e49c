//! Property tests of the protocol (version 5): any declared schema round-trips any snapshot,
//! input and action built for it, and arbitrary bytes never panic the decoders. The `updated`
//! section's bit stream in particular: random views (held ids with gaps, removals and
//! creations in the same snapshot, updates of entities just created), random masks, and lanes
//! over each field type's whole range (plain values, `delta` changes and `extrapolate`
//! residuals in every class of the small-number code) decode to the same snapshot and
//! re-encode to the same bytes, and the replica ends with exactly the values meant; every
//! truncation of such a message is an error; and a message with random bits flipped either
//! is an error or decodes to a message that re-encodes to the flipped bytes themselves.

use proptest::prelude::*;
use std::collections::BTreeMap;
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
        Just(FieldType::Tick),
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

// ---- the updated section's bit stream over random views ----

/// An entity field of any numeric type, with any flags the schema allows: `delta`,
/// `extrapolate` (never both), `owner_only` or `discontinuity` (never both on one field, so
/// a kind with extrapolated fields stays valid).
fn entity_field() -> impl Strategy<Value = FieldDesc> {
    (numeric_type(), 0u8..7, any::<bool>()).prop_map(|(ty, how, interp)| {
        let mut d = FieldDesc::new("f", ty);
        let can_delta = ty.turn().is_none() && ty != FieldType::Bool;
        let can_extrapolate = !matches!(
            ty,
            FieldType::Bool | FieldType::Player | FieldType::Entity | FieldType::Tick
        );
        match how {
            0 | 1 if can_delta => d.delta = true,
            2 | 3 if can_extrapolate => d.extrapolate = true,
            4 => d.owner_only = true,
            5 => d.discontinuity = true,
            _ => {}
        }
        if interp {
            d = d.interpolate();
        }
        d
    })
}

/// A schema of one to four kinds: mostly a few fields, sometimes 60 to 64.
fn entity_schema() -> impl Strategy<Value = Schema> {
    let kind = prop_oneof![
        4 => prop::collection::vec(entity_field(), 0..12),
        1 => prop::collection::vec(entity_field(), 60..=64),
    ];
    (prop::collection::vec(kind, 1..4), fields(3, false)).prop_map(|(kinds, room)| {
        let mut s = Schema::new("bits").room_fields(room);
        for (i, fields) in kinds.into_iter().enumerate() {
            s = s.kind(KindDesc {
                name: format!("k{i}"),
                fields,
            });
        }
        s
    })
}

/// xorshift64*: the scenario is drawn from one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

/// A value in `lo..=hi`: the edges, values near 0 or near `near`, or anything.
fn value_in(rng: &mut Rng, lo: i64, hi: i64, near: i64) -> i64 {
    let small = |rng: &mut Rng| {
        // 0 to ±8, ±300 or ±70000: every class of the small-number code.
        let m = [9, 301, 70_001][rng.below(3) as usize];
        rng.below(2 * m + 1) as i64 - m as i64
    };
    let v = match rng.below(7) {
        0 => lo,
        1 => hi,
        2 => small(rng),
        3 | 4 => near + small(rng),
        _ => lo + (rng.next() % ((hi - lo) as u64 + 1)) as i64,
    };
    v.clamp(lo, hi)
}

/// One random step of a client's view: what it holds (a replica with gaps between the ids,
/// every course still), one snapshot against it (removals, creations, updates of any entity
/// of the new view, the ones just created included, with the checksum of the values meant),
/// and the table those values make.
struct Scenario {
    replica: Replica,
    snapshot: Snapshot,
    truth: BTreeMap<NetId, Vec<i64>>,
}

fn welcome_for(schema: &Schema) -> Welcome {
    Welcome {
        protocol_version: PROTOCOL_VERSION,
        player_id: PlayerId(1),
        tick_rate: 30,
        tick: Tick(10),
        checksum_interval: 1,
        resume_token: String::new(),
        resumed: false,
        schema: schema.clone(),
        game_config: String::new(),
    }
}

fn scenario(schema: &Schema, seed: u64) -> Scenario {
    let mut rng = Rng(seed | 1);
    let kinds = schema.kinds.len() as u64;
    let lanes_of = |rng: &mut Rng, kind: u16| -> Vec<i64> {
        schema.kinds[usize::from(kind)]
            .fields
            .iter()
            .map(|f| {
                let (lo, hi) = f.ty.range();
                value_in(rng, lo, hi, 0)
            })
            .collect()
    };
    let mut replica = Replica::new(&welcome_for(schema));
    // Held: up to 40 entities, ids with gaps (now and then one near the top of the range).
    let mut id = rng.below(3) as u32;
    for _ in 0..rng.below(41) {
        let kind = rng.below(kinds) as u16;
        let lanes = lanes_of(&mut rng, kind);
        let n = lanes.len();
        replica.entities.insert(
            NetId(id),
            Entity {
                kind,
                lanes,
                vel: vec![0; n],
            },
        );
        let gap = if rng.percent(10) { 1000 } else { 6 };
        id += 1 + rng.below(gap) as u32;
    }
    if rng.percent(10) {
        let kind = rng.below(kinds) as u16;
        let lanes = lanes_of(&mut rng, kind);
        let n = lanes.len();
        replica.entities.insert(
            NetId(u32::MAX - rng.below(3) as u32),
            Entity {
                kind,
                lanes,
                vel: vec![0; n],
            },
        );
    }
    let mut truth: BTreeMap<NetId, Vec<i64>> = replica
        .entities
        .iter()
        .map(|(id, e)| (*id, e.lanes.clone()))
        .collect();
    let mut s = Snapshot::empty(Tick(11), InputSeq(rng.below(1000) as u32));
    // Removals, then creations: new ids in the gaps and past the end, now and then an id
    // removed in this very snapshot.
    for id in replica.entities.keys() {
        if rng.percent(20) {
            s.removed.push(*id);
            truth.remove(id);
        }
    }
    let top = replica.entities.keys().next_back().map_or(0, |id| id.0);
    let mut fresh: Vec<u32> = (0..rng.below(7))
        .map(|_| match rng.below(4) {
            0 if !s.removed.is_empty() => s.removed[rng.below(s.removed.len() as u64) as usize].0,
            1 => top.saturating_add(1 + rng.below(50) as u32),
            _ => rng.below(u64::from(top) + 2) as u32,
        })
        .filter(|id| !truth.contains_key(&NetId(*id)))
        .collect();
    fresh.sort_unstable();
    fresh.dedup();
    for id in fresh {
        let kind = rng.below(kinds) as u16;
        let lanes = lanes_of(&mut rng, kind);
        s.created.push(Spawn {
            id: NetId(id),
            kind,
        });
        s.created_lanes.extend(&lanes);
        truth.insert(NetId(id), lanes);
    }
    // Updates of any entity of the new view, in view order.
    let mut view = Vec::new();
    view_after(&replica.held(), &s.removed, &s.created, &mut view).unwrap();
    let every = rng.percent(10);
    for (id, kind) in view {
        if !every && !rng.percent(40) {
            continue;
        }
        let fields = &schema.kinds[usize::from(kind)].fields;
        let all = if fields.len() == 64 {
            u64::MAX
        } else {
            (1u64 << fields.len()) - 1
        };
        let mask = match rng.below(10) {
            0 => 0,
            1 => all,
            _ => rng.next() & all,
        };
        // A kind with extrapolated fields reads an empty mask as the reset escape: an empty
        // update of it is a reset, and so are some others.
        if fields.iter().any(|f| f.extrapolate) && (mask == 0 || rng.percent(15)) {
            s.reset.push(id);
        }
        s.updated.push(Update { id, kind, mask });
        let lanes = truth.get_mut(&id).unwrap();
        let mut m = mask;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            let (f, held) = (&fields[i], lanes[i]);
            let (lo, hi) = f.ty.range();
            let new = value_in(&mut rng, lo, hi, held);
            // Every course is still: the prediction is the value held.
            s.updated_lanes.push(if f.extrapolate {
                wire::residual(f.ty, held, new)
            } else if f.delta {
                new - held
            } else {
                new
            });
            lanes[i] = new;
            m &= m - 1;
        }
    }
    if rng.percent(50) {
        s.room = Some(
            schema
                .room_fields
                .iter()
                .map(|f| {
                    let (lo, hi) = f.ty.range();
                    value_in(&mut rng, lo, hi, 0)
                })
                .collect(),
        );
    }
    let room = s.room.clone().unwrap_or_else(|| replica.room.clone());
    s.checksum = Some(replica::checksum(
        truth.iter().map(|(id, lanes)| {
            let kind = match replica.entities.get(id) {
                Some(e) if !s.created.iter().any(|c| c.id == *id) => e.kind,
                _ => s.created.iter().find(|c| c.id == *id).unwrap().kind,
            };
            (*id, kind, &lanes[..])
        }),
        &room,
    ));
    Scenario {
        replica,
        snapshot: s,
        truth,
    }
}

fn encode(msg: &ServerMsg, schema: &Schema, held: &[(NetId, u16)]) -> Vec<u8> {
    let mut b = Vec::new();
    encode_server(msg, schema, held, &mut b);
    b
}

/// Where the `updated` section's bit stream lies in the encoded snapshot: after the header,
/// the removals, the creations and the update count.
fn stream_range(s: &Snapshot, schema: &Schema, held: &[(NetId, u16)]) -> std::ops::Range<usize> {
    let entities = Snapshot {
        tick: s.tick,
        ack_input_seq: s.ack_input_seq,
        removed: s.removed.clone(),
        created: s.created.clone(),
        created_lanes: s.created_lanes.clone(),
        ..Snapshot::default()
    };
    let before = encode(&ServerMsg::Snapshot(entities.clone()), schema, held).len();
    let with = Snapshot {
        updated: s.updated.clone(),
        updated_lanes: s.updated_lanes.clone(),
        reset: s.reset.clone(),
        ..entities
    };
    let end = encode(&ServerMsg::Snapshot(with), schema, held).len();
    let count = if s.updated.len() < 251 { 1 } else { 3 };
    before + count..end
}

/// The snapshot without its updates, to compare what else a message carries.
fn without_updates(s: &Snapshot) -> Snapshot {
    Snapshot {
        updated: Vec::new(),
        updated_lanes: Vec::new(),
        reset: Vec::new(),
        ..s.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_views_round_trip_to_the_same_snapshot_and_bytes(
        schema in entity_schema(),
        seed in any::<u64>(),
    ) {
        prop_assert_eq!(schema.validate(), Ok(()));
        let Scenario { replica, snapshot: s, truth } = scenario(&schema, seed);
        let held = replica.held();
        let msg = ServerMsg::Snapshot(s.clone());
        let bytes = encode(&msg, &schema, &held);
        let back = decode_server(&bytes, Some(&schema), &held).unwrap();
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(encode(&back, &schema, &held), bytes.clone());
        prop_assert_eq!(replica.decode(&bytes).unwrap(), msg);
        // A skip takes at least one bit: the stream is empty exactly when no update is sent.
        let r = stream_range(&s, &schema, &held);
        prop_assert_eq!(r.is_empty(), s.updated.is_empty());
        // The replica ends with exactly the values meant (and the checksum agrees).
        let mut after = replica.clone();
        after.apply(&s).unwrap();
        let got: BTreeMap<NetId, Vec<i64>> =
            after.entities.iter().map(|(id, e)| (*id, e.lanes.clone())).collect();
        prop_assert_eq!(got, truth);
    }

    #[test]
    fn every_truncation_of_a_snapshot_is_an_error(schema in entity_schema(), seed in any::<u64>()) {
        let Scenario { replica, snapshot: s, .. } = scenario(&schema, seed);
        let held = replica.held();
        let bytes = encode(&ServerMsg::Snapshot(s), &schema, &held);
        for cut in 0..bytes.len() {
            prop_assert!(
                decode_server(&bytes[..cut], Some(&schema), &held).is_err(),
                "decoded a message cut at {} of {}", cut, bytes.len()
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(decode_server(&longer, Some(&schema), &held).is_err());
    }

    #[test]
    fn flipped_bits_are_an_error_or_a_message_that_re_encodes_to_them(
        schema in entity_schema(),
        seed in any::<u64>(),
        flips in prop::collection::vec((any::<bool>(), any::<u64>()), 1..4),
    ) {
        let Scenario { replica, snapshot: s, .. } = scenario(&schema, seed);
        let held = replica.held();
        let bytes = encode(&ServerMsg::Snapshot(s.clone()), &schema, &held);
        let stream = stream_range(&s, &schema, &held);
        let mut flipped = bytes.clone();
        let mut in_stream = true;
        for (into_stream, at) in flips {
            // Half the flips in the bit stream, the others anywhere.
            let bit = if into_stream && !stream.is_empty() {
                stream.start * 8 + (at % (stream.len() as u64 * 8)) as usize
            } else {
                (at % (bytes.len() as u64 * 8)) as usize
            };
            in_stream &= stream.contains(&(bit / 8));
            flipped[bit / 8] ^= 1 << (bit % 8);
        }
        let Ok(msg) = decode_server(&flipped, Some(&schema), &held) else {
            return Ok(());
        };
        // What decodes re-encodes to a message that decodes to itself, a fixed point.
        let once = encode(&msg, &schema, &held);
        let again = decode_server(&once, Some(&schema), &held).unwrap();
        prop_assert_eq!(&again, &msg);
        prop_assert_eq!(encode(&again, &schema, &held), once.clone());
        if let ServerMsg::Snapshot(got) = &msg {
            // Flips inside the bit stream that leave the rest of the message as it was: the
            // stream has one encoding, so the message re-encodes to the flipped bytes.
            if in_stream && without_updates(got) == without_updates(&s) && once.len() == flipped.len() {
                prop_assert_eq!(&once, &flipped);
            }
            // Applying it fails cleanly or works; it never panics.
            let _ = replica.clone().apply(got);
        }
    }
}
