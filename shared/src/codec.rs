//! The one place that turns messages into bytes and back.
//!
//! bincode 2 through serde, with one configuration: little-endian, variable-length integers
//! (see `docs/PROTOCOL.md` for the exact byte layout), and a decode limit so a hostile length
//! prefix can never make the decoder allocate more than a frame could hold. A frame must be
//! consumed exactly: trailing bytes are an error.

use crate::protocol::{ClientMsg, ServerMsg};
use bincode::config::{Configuration, Limit, LittleEndian, Varint};

/// The largest message either side decodes. Also bounds any allocation the decoder makes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

type Config = Configuration<LittleEndian, Varint, Limit<MAX_MESSAGE_BYTES>>;

/// The one bincode configuration, shared with the schema-driven codec in [`crate::sync`].
pub(crate) const CONFIG: Config = bincode::config::standard().with_limit::<MAX_MESSAGE_BYTES>();

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The bytes are not a valid message.
    #[error("malformed message: {0}")]
    Malformed(#[from] bincode::error::DecodeError),
    /// A valid message followed by extra bytes.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The message could not be encoded (only on a bug: every message type encodes).
    #[error("cannot encode: {0}")]
    Encode(#[from] bincode::error::EncodeError),
}

fn encode<T: serde::Serialize>(msg: &T, out: &mut Vec<u8>) {
    // Encoding into a Vec cannot fail for our types: no maps with non-string keys, no
    // unsupported serde features, and the limit applies to decoding only.
    bincode::serde::encode_into_std_write(msg, out, CONFIG)
        .expect("encoding a protocol message into a Vec cannot fail");
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (msg, used) = bincode::serde::decode_from_slice(bytes, CONFIG)?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - used));
    }
    Ok(msg)
}

/// Encodes a client message.
pub fn encode_client(msg: &ClientMsg) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    encode(msg, &mut out);
    out
}

/// Encodes a server message.
pub fn encode_server(msg: &ServerMsg) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    encode(msg, &mut out);
    out
}

/// Encodes a server message, appending to `out` (lets the caller reuse buffers).
pub fn encode_server_into(msg: &ServerMsg, out: &mut Vec<u8>) {
    encode(msg, out);
}

/// Decodes a client message; the whole slice must be one message.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg, CodecError> {
    decode(bytes)
}

/// Decodes a server message; the whole slice must be one message.
pub fn decode_server(bytes: &[u8]) -> Result<ServerMsg, CodecError> {
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::InputCmd;
    use crate::{InputSeq, Tick};

    /// The worked example in docs/PROTOCOL.md.
    #[test]
    fn input_layout_matches_the_protocol_doc() {
        let msg = ClientMsg::Input(vec![InputCmd {
            seq: InputSeq(1),
            move_x: 127,
            move_y: 0,
            aim: 16384,
            buttons: 1,
            view_tick: Tick(300),
        }]);
        let bytes = encode_client(&msg);
        assert_eq!(
            bytes,
            [
                0x01, 0x01, 0x01, 0x7f, 0x00, 0xfb, 0x00, 0x40, 0x01, 0xfb, 0x2c, 0x01
            ]
        );
        assert_eq!(decode_client(&bytes).unwrap(), msg);
    }

    #[test]
    fn encoders_write_minimal_varints_and_decoders_accept_longer_ones() {
        use crate::protocol::Ping;
        let ping = ClientMsg::Ping(Ping { client_time: 5 });
        assert_eq!(encode_client(&ping), [0x02, 0x05]);
        // The same value in the 3-byte form decodes too (documented in PROTOCOL.md).
        assert_eq!(decode_client(&[0x02, 0xfb, 0x05, 0x00]).unwrap(), ping);
    }
}
