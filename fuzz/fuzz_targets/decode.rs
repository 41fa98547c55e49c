//! The message decoders on arbitrary bytes, against two schemas: a real game's (the arena's)
//! and the golden vectors' demo schema (every field type and flag, `delta` fields among them;
//! read from the `welcome.bin` seed, so the snapshot seeds decode against the schema they
//! were written for). They never panic, and whatever decodes re-encodes to bytes that decode
//! and re-encode to the very same bytes. (Bytes, not values, are compared: a decoder accepts
//! longer varint forms than the encoder writes.) A snapshot's updates do not carry their kind
//! on the wire; the fuzzer lets an entity's id pick it, for the ids 0 to 63 the client is made
//! to hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tickwire_shared::NetId;
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::{
    ServerMsg, decode_client, decode_server, encode_client, encode_server,
};

struct Case {
    schema: Schema,
    held: Vec<(NetId, u16)>,
}

fn case(schema: Schema) -> Case {
    let kinds = schema.kinds.len() as u32;
    let held = (0..64).map(|i| (NetId(i), (i % kinds) as u16)).collect();
    Case { schema, held }
}

fn cases() -> &'static [Case; 2] {
    static CASES: OnceLock<[Case; 2]> = OnceLock::new();
    CASES.get_or_init(|| {
        let welcome = include_bytes!("../seeds/decode/welcome.bin");
        let Ok(ServerMsg::Welcome(demo)) = decode_server(welcome, None, &[]) else {
            panic!("seeds/decode/welcome.bin is not a Welcome");
        };
        [case(tickwire_arena::schema()), case(demo.schema)]
    })
}

fuzz_target!(|data: &[u8]| {
    for Case { schema, held } in cases() {
        if let Ok(msg) = decode_client(data, schema) {
            let mut once = Vec::new();
            encode_client(&msg, schema, &mut once);
            let again = decode_client(&once, schema).expect("re-encoded message decodes");
            let mut twice = Vec::new();
            encode_client(&again, schema, &mut twice);
            assert_eq!(once, twice);
        }
        if let Ok(msg) = decode_server(data, Some(schema), held) {
            let mut once = Vec::new();
            encode_server(&msg, schema, held, &mut once);
            let again =
                decode_server(&once, Some(schema), held).expect("re-encoded message decodes");
            let mut twice = Vec::new();
            encode_server(&again, schema, held, &mut twice);
            assert_eq!(once, twice);
        }
    }
});
