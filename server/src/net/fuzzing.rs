//! Entry points for fuzzing the connection's frame handling (cargo feature `fuzzing`).
//!
//! [`connection`] runs the real connection task over an in-memory pipe: the fuzzer's bytes
//! are what a client wrote after the WebSocket handshake, and the server's answer is parsed
//! back. Time is tokio's paused clock, so timeouts fire at once and a run is quick and
//! deterministic. Each run gets a fresh server state (rooms, limits, metrics); what is the
//! same for every run (the settings, the game's schema) is built once per thread, which makes
//! a run several times cheaper.

use super::AppState;
use super::conn::{WsParams, serve};
use crate::config::Config;
use fastwebsockets::{Role, WebSocket};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// What the server did with a byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Server frames as (opcode, payload length).
    pub frames: Vec<(u8, usize)>,
    /// The close code the server sent, if it sent a close frame.
    pub close_code: Option<u16>,
}

/// Feeds `input` to a fresh server connection as client bytes and returns what came back.
/// Panics if the server's output is not well-formed WebSocket framing.
pub fn connection(input: &[u8]) -> Outcome {
    thread_local! {
        static FIXED: (Config, super::driver::GameRooms) = {
            let config = Config {
                hello_timeout: Duration::from_secs(1),
                idle_timeout: Duration::from_secs(2),
                ping_interval: Duration::from_secs(1),
                max_frame_bytes: 512,
                // The fewest ticks per paused second: a run that joins plays a few dozen.
                tick_rate: 10,
                ..Config::ephemeral()
            };
            let game = super::driver::GameRooms::bundled(config.game);
            (config, game)
        };
    }
    let (config, game) = FIXED.with(|f| f.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    rt.block_on(async {
        let state = AppState::new(config, game, CancellationToken::new());
        let (client, server) = tokio::io::duplex(1 << 16);
        let ws = WebSocket::after_handshake(server, Role::Server);
        let peer = "127.0.0.1:1".parse().expect("literal address");
        let conn = tokio::spawn(serve(ws, peer, state.clone(), WsParams::default()));
        let (mut rd, mut wr) = tokio::io::split(client);
        let input = input.to_vec();
        let writer = tokio::spawn(async move {
            let _ = wr.write_all(&input).await;
            // Keep the write side open a little (paused time) so the server answers first.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let _ = wr.shutdown().await;
        });
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), rd.read_to_end(&mut out)).await;
        writer.abort();
        let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
        state.shutdown.cancel();
        parse_server_frames(&out)
    })
}

/// Parses unmasked server frames; panics on malformed framing.
fn parse_server_frames(mut b: &[u8]) -> Outcome {
    let mut o = Outcome {
        frames: Vec::new(),
        close_code: None,
    };
    while !b.is_empty() {
        assert!(b.len() >= 2, "truncated server frame header");
        let opcode = b[0] & 0x0f;
        assert_eq!(b[1] & 0x80, 0, "server frames are never masked");
        let (len, head) = match b[1] & 0x7f {
            126 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        assert!(b.len() >= head + len, "truncated server frame payload");
        let payload = &b[head..head + len];
        if opcode == 0x8 {
            assert!(o.close_code.is_none(), "one close frame at most");
            assert!(len >= 2, "the server always sends a close code");
            o.close_code = Some(u16::from_be_bytes([payload[0], payload[1]]));
        } else {
            assert!(o.close_code.is_none(), "nothing after the close frame");
        }
        o.frames.push((opcode, len));
        b = &b[head + len..];
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_shared::close::CloseCode;

    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn a_text_frame_gets_1003_through_the_fuzz_entry_point() {
        assert_eq!(
            connection(&masked(1, b"hi")).close_code,
            Some(CloseCode::UnsupportedData.code())
        );
    }

    #[test]
    fn rfc_6455_rules_fastwebsockets_leaves_to_us() {
        // An unmasked frame (§5.1).
        assert_eq!(
            connection(&[0x89, 0x00]).close_code,
            Some(CloseCode::ProtocolError.code())
        );
        // Close codes no peer may send (§7.4), a reason not in UTF-8 (§8.1), a pong over 125
        // bytes (§5.5).
        for code in [0u16, 1005, 1006, 2999, 5000] {
            let o = connection(&masked(8, &code.to_be_bytes()));
            assert_eq!(
                o.close_code,
                Some(CloseCode::ProtocolError.code()),
                "{code}"
            );
        }
        assert_eq!(
            connection(&masked(8, &[3, 232, 0xff])).close_code,
            Some(CloseCode::InvalidPayload.code())
        );
        let mut pong = vec![0x8a, 0x80 | 126, 0, 126, 0, 0, 0, 0];
        pong.extend_from_slice(&[0; 126]);
        assert_eq!(
            connection(&pong).close_code,
            Some(CloseCode::ProtocolError.code())
        );
        // A valid close is echoed with 1000.
        assert_eq!(
            connection(&masked(8, &4000u16.to_be_bytes())).close_code,
            Some(CloseCode::Normal.code())
        );
    }

    #[test]
    fn pings_before_the_hello_are_answered_then_the_hello_timeout_closes() {
        // 20 pings and no Hello (the spacing of frames over time is tested over real sockets,
        // in tests/hostile_ws.rs): pongs come back, then 4002.
        let o = connection(&masked(9, b"x").repeat(20));
        assert_eq!(o.close_code, Some(CloseCode::Timeout.code()));
        assert!(o.frames.contains(&(0xa, 1)), "{o:?}");
    }

    #[test]
    fn silence_gets_the_hello_timeout() {
        assert_eq!(connection(&[]).close_code, Some(CloseCode::Timeout.code()));
    }

    #[test]
    fn a_hello_gets_a_welcome_then_snapshots() {
        use tickwire_shared::sync::{ClientMsg, Hello, PROTOCOL_VERSION, encode_client};
        let mut hello = Vec::new();
        encode_client(
            &ClientMsg::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                name: "f".into(),
                auth_token: None,
                resume_token: None,
            }),
            &tickwire_shared::schema::Schema::new(""),
            &mut hello,
        );
        let o = connection(&masked(2, &hello));
        assert!(o.frames.iter().filter(|f| f.0 == 2).count() > 2, "{o:?}");
    }
}
