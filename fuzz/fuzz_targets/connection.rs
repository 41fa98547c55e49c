//! The server's connection task on arbitrary client bytes (after the WebSocket handshake):
//! never panics, always answers with well-formed framing, and when it closes, it closes with
//! one of the protocol's codes (and never with 1006, which may not be sent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_shared::close::CloseCode;

fuzz_target!(|data: &[u8]| {
    let outcome = tickwire_server::net::fuzzing::connection(data);
    if let Some(code) = outcome.close_code {
        assert!(
            CloseCode::from_code(code).is_some_and(CloseCode::is_sendable),
            "unknown close code {code}"
        );
    }
});
