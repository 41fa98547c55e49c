//! The server's connection task on arbitrary client bytes (after the WebSocket handshake):
//! never panics, always answers with well-formed framing, and when it closes, it closes with
//! one of the protocol's codes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickwire_shared::close;

const KNOWN: [u16; 15] = [
    close::NORMAL,
    close::GOING_AWAY,
    close::PROTOCOL_ERROR,
    close::UNSUPPORTED_DATA,
    close::INVALID_PAYLOAD,
    close::POLICY_VIOLATION,
    close::MESSAGE_TOO_BIG,
    close::INTERNAL_ERROR,
    close::PROTOCOL_VERSION_MISMATCH,
    close::HELLO_EXPECTED,
    close::TIMEOUT,
    close::FULL,
    close::UNAUTHORIZED,
    close::TOO_SLOW,
    close::REPLACED,
];

fuzz_target!(|data: &[u8]| {
    let outcome = tickwire_server::net::fuzzing::connection(data);
    if let Some(code) = outcome.close_code {
        assert!(KNOWN.contains(&code), "unknown close code {code}");
    }
});
