//! The message decoder on arbitrary bytes: never panics, and whatever decodes re-encodes to
//! bytes that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_shared::{decode_client, decode_server, encode_client, encode_server};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_client(data) {
        let again = encode_client(&msg);
        assert_eq!(decode_client(&again).expect("re-encoded message decodes"), msg);
    }
    if let Ok(msg) = decode_server(data) {
        let again = encode_server(&msg);
        assert_eq!(decode_server(&again).expect("re-encoded message decodes"), msg);
    }
});
