//! Every WebSocket close code the server sends, in one place. Each protocol error maps to
//! exactly one code; the close frame's reason string says what happened in words.

/// A close code and the reason sent with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The WebSocket close code.
    pub code: u16,
    /// Human-readable reason (at most 123 bytes on the wire).
    pub reason: String,
}

impl CloseReason {
    /// A close reason; the text is cut to the 123 bytes a close frame can carry.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > 123 {
            let mut cut = 123;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        CloseReason { code, reason }
    }
}

/// Normal closure: the client said goodbye.
pub const NORMAL: u16 = 1000;
/// The server is shutting down.
pub const GOING_AWAY: u16 = 1001;
/// The peer sent a text frame; tickwire speaks binary frames only.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// A binary frame that does not decode as a `ClientMsg`.
pub const INVALID_PAYLOAD: u16 = 1007;
/// Policy violation: too many messages (rate limit) or a forbidden request.
pub const POLICY_VIOLATION: u16 = 1008;
/// A message larger than the server's `--max-frame-bytes`.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The server hit an unexpected condition.
pub const INTERNAL_ERROR: u16 = 1011;
/// The client's `protocol_version` differs from the server's.
pub const PROTOCOL_VERSION_MISMATCH: u16 = 4000;
/// The first message was not `Hello`, or `Hello` came twice.
pub const HELLO_EXPECTED: u16 = 4001;
/// The peer was silent past the idle timeout, or did not send `Hello` in time.
pub const TIMEOUT: u16 = 4002;
/// No room for another player (room or server full).
pub const FULL: u16 = 4003;
/// Authentication was required and failed.
pub const UNAUTHORIZED: u16 = 4004;
/// The client could not keep up with snapshots for too long and was dropped.
pub const TOO_SLOW: u16 = 4005;
/// Another connection resumed this player (the newer connection wins).
pub const REPLACED: u16 = 4006;
/// The client broke the protocol in a way not covered above (e.g. a malformed frame).
pub const PROTOCOL_ERROR: u16 = 1002;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let r = CloseReason::new(NORMAL, "é".repeat(100));
        assert!(r.reason.len() <= 123);
        assert!(r.reason.chars().all(|c| c == 'é'));
    }
}
