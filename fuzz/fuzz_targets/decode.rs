//! The message decoders on arbitrary bytes, against a real game's schema (the arena's): they
//! never panic, and whatever decodes re-encodes to bytes that decode and re-encode to the very
//! same bytes. (Bytes, not values, are compared: a decoder accepts longer varint forms than the
//! encoder writes.) A snapshot's updates do not carry their kind on the wire; the fuzzer lets
//! an entity's id pick it, for the ids 0 to 63 the client is made to hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_shared::NetId;
use tickwire_shared::sync::{decode_client, decode_server, encode_client, encode_server};

fuzz_target!(|data: &[u8]| {
    let schema = tickwire_arena::schema();
    let kinds = schema.kinds.len() as u32;
    let held: Vec<(NetId, u16)> = (0..64).map(|i| (NetId(i), (i % kinds) as u16)).collect();
    if let Ok(msg) = decode_client(data, &schema) {
        let mut once = Vec::new();
        encode_client(&msg, &schema, &mut once);
        let again = decode_client(&once, &schema).expect("re-encoded message decodes");
        let mut twice = Vec::new();
        encode_client(&again, &schema, &mut twice);
        assert_eq!(once, twice);
    }
    if let Ok(msg) = decode_server(data, Some(&schema), &held) {
        let mut once = Vec::new();
        encode_server(&msg, &schema, &held, &mut once);
        let again = decode_server(&once, Some(&schema), &held).expect("re-encoded message decodes");
        let mut twice = Vec::new();
        encode_server(&again, &schema, &held, &mut twice);
        assert_eq!(once, twice);
    }
});
