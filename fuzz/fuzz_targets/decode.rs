//! The message decoder on arbitrary bytes: never panics, and whatever decodes re-encodes to
//! bytes that decode and re-encode to the very same bytes. (Bytes, not values, are compared:
//! a decoded `f32` may be NaN, which is not equal to itself.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_shared::{decode_client, decode_server, encode_client, encode_server};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_client(data) {
        let once = encode_client(&msg);
        let twice = encode_client(&decode_client(&once).expect("re-encoded message decodes"));
        assert_eq!(once, twice);
    }
    if let Ok(msg) = decode_server(data) {
        let once = encode_server(&msg);
        let twice = encode_server(&decode_server(&once).expect("re-encoded message decodes"));
        assert_eq!(once, twice);
    }
});
