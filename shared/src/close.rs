//! Every WebSocket close code tickwire uses, in one place.
//!
//! [`CloseCode`] has one variant per code. Each maps to its number ([`CloseCode::code`]), a
//! default reason ([`CloseCode::reason`], also its `Display`) and a [`Retry`] policy: whether
//! a client that was closed with it should reconnect by itself. The server builds every close
//! frame through [`CloseReason::new`]; the Rust clients decide what to do after a close with
//! [`retry_policy`]; the browser client's copy of the table (`client-web/src/sdk/close.js`) is
//! checked against `client-web/test/close_codes.json`, which `shared/tests/close_codes.rs`
//! writes from this table, so the three cannot drift apart again.
//!
//! The table below is the only place a code, its reason and its policy are written.

/// Whether reconnecting after a close can help, and how soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// The condition was transient (the network, a server restart, a stall): reconnect by
    /// yourself with capped, jittered exponential backoff and present the resume token, so the
    /// server hands back the same player if it still holds it. Backoff restarts from its base
    /// once a session reaches `Welcome`.
    Reconnect,
    /// The server turned the connection away for load (no seat free). A seat may free up, but
    /// not within milliseconds, and a crowd of clients hammering a full server helps nobody:
    /// retry by yourself, but only after the backoff's longest delay, every time.
    Later,
    /// Reconnecting would get the same answer (a client bug, a wrong version, bad
    /// credentials), or would do harm (taking back a player another connection now owns), or
    /// the session ended on purpose. Do not retry by yourself: show the reason and wait for
    /// the player (or a code change) to ask again.
    Never,
}

impl Retry {
    /// The policy's name in the browser client's table: `"reconnect"`, `"later"`, `"never"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Retry::Reconnect => "reconnect",
            Retry::Later => "later",
            Retry::Never => "never",
        }
    }

    /// Whether a client should try again without being asked (after some delay).
    pub const fn is_automatic(self) -> bool {
        !matches!(self, Retry::Never)
    }
}

/// The policy for a close code this build does not know (a newer server, a proxy, 1005 or
/// 1015 from a browser). Retrying soon could loop on something permanent; never retrying
/// could strand a player after something transient; so: retry, but only after the longest
/// backoff delay.
pub const UNKNOWN_CODE_RETRY: Retry = Retry::Later;

macro_rules! close_codes {
    ($(
        $(#[$doc:meta])*
        $name:ident = $code:literal, $retry:ident, $reason:tt;
    )*) => {
        /// A reason the server closes a WebSocket (or, for [`CloseCode::Abnormal`], the way a
        /// socket ends without a close frame). One variant per close code; `Display` is the
        /// default reason text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        pub enum CloseCode {
            $(
                $(#[$doc])*
                #[error($reason)]
                $name,
            )*
        }

        impl CloseCode {
            /// Every variant, in table order.
            pub const ALL: &'static [CloseCode] = &[$(CloseCode::$name),*];

            /// The WebSocket close code on the wire.
            pub const fn code(self) -> u16 {
                match self {
                    $(CloseCode::$name => $code,)*
                }
            }

            /// The variant for a close code, if it is one of ours.
            pub const fn from_code(code: u16) -> Option<CloseCode> {
                match code {
                    $($code => Some(CloseCode::$name),)*
                    _ => None,
                }
            }

            /// Whether (and how soon) a client closed with this code should reconnect by
            /// itself.
            pub const fn retry(self) -> Retry {
                match self {
                    $(CloseCode::$name => Retry::$retry,)*
                }
            }

            /// The default reason text (what `Display` shows).
            pub const fn reason(self) -> &'static str {
                match self {
                    $(CloseCode::$name => $reason,)*
                }
            }

            /// The variant's name, e.g. `"Replaced"` (the `name` in the browser's table).
            pub const fn name(self) -> &'static str {
                match self {
                    $(CloseCode::$name => stringify!($name),)*
                }
            }
        }
    };
}

close_codes! {
    /// 1000, normal closure: the echo of a client's own close. The session ended on purpose
    /// and the player has left the room (a normal close cannot be resumed): nothing to
    /// reconnect to.
    Normal = 1000, Never, "the connection was closed";
    /// 1001: the server is shutting down, or the client's room closed. A restart or another
    /// room is a reconnect away.
    GoingAway = 1001, Reconnect, "the server is going away";
    /// 1002: the client broke the WebSocket framing (a stray continuation, a malformed close
    /// frame). The same client would send the same frames again.
    ProtocolError = 1002, Never, "malformed WebSocket framing";
    /// 1003: a text frame; tickwire speaks binary frames only. A client bug: never retry.
    UnsupportedData = 1003, Never, "text frames are not supported";
    /// 1006: the socket ended without a close frame (network loss, a killed server). Never
    /// sent in a frame (RFC 6455 reserves it); clients use it for "no close code", and so does
    /// [`retry_policy`] for `None`. The classic transient failure: reconnect and resume.
    Abnormal = 1006, Reconnect, "the connection was lost";
    /// 1007: a binary frame that does not decode as a `ClientMsg` (or has trailing bytes). A
    /// codec mismatch or a bug; it would happen again.
    InvalidPayload = 1007, Never, "undecodable message";
    /// 1008: policy violation, e.g. the message rate limit. A client that floods would flood
    /// again on a new connection; retrying only turns it into a reconnect loop.
    PolicyViolation = 1008, Never, "policy violation";
    /// 1009: a message over the server's `--max-frame-bytes`. The same message would be too
    /// big again.
    MessageTooBig = 1009, Never, "message over the size limit";
    /// 1011: the server hit an unexpected condition. Not the client's fault and probably not
    /// permanent: reconnect and resume.
    InternalError = 1011, Reconnect, "the server hit an internal error";
    /// 4000: the client's `protocol_version` is not the server's. Only a client update (or a
    /// page reload) fixes it.
    VersionMismatch = 4000, Never, "protocol version not supported";
    /// 4001: the first message was not `Hello`, or `Hello` came twice. A client bug.
    HelloExpected = 4001, Never, "the first message must be Hello, and only once";
    /// 4002: silent past the idle timeout, or no `Hello` in time. Usually a stalled link:
    /// reconnect and resume (the server keeps the player for its resume grace).
    Timeout = 4002, Reconnect, "timed out";
    /// 4003: the named room is full, or no room is left for a new one. Players leave, so a
    /// seat may free up, but not at once: retry later (the longest backoff delay), not soon.
    Full = 4003, Later, "the room is full";
    /// 4004: authentication was required and failed (missing, invalid or expired token).
    /// The same credentials fail the same way; a new token needs the player or the app.
    Unauthorized = 4004, Never, "not authorised";
    /// 4005: the client could not keep up with snapshots for too long. The server keeps the
    /// player for a resume, and a fresh connection starts from a full state with an empty
    /// backlog: reconnect and resume.
    TooSlow = 4005, Reconnect, "could not keep up with the server";
    /// 4006: another connection resumed this player (the newer connection wins). The newer
    /// connection holds the player and its new resume token; reconnecting would either join a
    /// second, new player (the old token no longer names anyone) or, with a valid token, take
    /// the player back and get the other connection closed with 4006 in turn, and so on
    /// forever. Never retry by yourself: tell the player it is being played elsewhere.
    Replaced = 4006, Never, "replaced by a newer connection";
    /// 4007: the room (or the player a resume token names) lives on another node of the
    /// cluster. A `Redirect` message just before the close says where: reconnect there at
    /// once, with the seat it carries. A client that missed the message reconnects here and is
    /// redirected again.
    Moved = 4007, Reconnect, "the room is on another node";
    /// 4008: the seat token (`?seat=`) has expired, or its seat was already taken. A fresh
    /// match finds another seat: reconnect without the seat token.
    SeatExpired = 4008, Reconnect, "the seat reservation has expired";
}

impl CloseCode {
    /// Whether the code may appear in a close frame ([`CloseCode::Abnormal`], 1006, may not).
    pub const fn is_sendable(self) -> bool {
        !matches!(self, CloseCode::Abnormal)
    }
}

/// What a client should do after its connection ended with `code` (`None`: the socket ended
/// without a close frame, i.e. [`CloseCode::Abnormal`]). Codes this build does not know get
/// [`UNKNOWN_CODE_RETRY`].
pub const fn retry_policy(code: Option<u16>) -> Retry {
    match code {
        None => CloseCode::Abnormal.retry(),
        Some(c) => match CloseCode::from_code(c) {
            Some(known) => known.retry(),
            None => UNKNOWN_CODE_RETRY,
        },
    }
}

/// A close code and the reason sent with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code.
    pub code: CloseCode,
    /// Human-readable reason (at most 123 bytes on the wire).
    pub reason: String,
}

impl CloseReason {
    /// A close reason with a specific text; the text is cut to the 123 bytes a close frame
    /// can carry.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        debug_assert!(
            code.is_sendable(),
            "{code:?} cannot be sent in a close frame"
        );
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

impl From<CloseCode> for CloseReason {
    /// The close reason with the code's default text.
    fn from(code: CloseCode) -> Self {
        CloseReason::new(code, code.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let r = CloseReason::new(CloseCode::Normal, "é".repeat(100));
        assert!(r.reason.len() <= 123);
        assert!(r.reason.chars().all(|c| c == 'é'));
    }

    #[test]
    fn every_code_maps_back_to_its_variant_and_nothing_else_maps() {
        for &c in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(c.code()), Some(c));
            assert!(c.reason().len() <= 123, "{c:?}");
            assert_eq!(c.to_string(), c.reason());
        }
        let known = (0..=u16::MAX)
            .filter(|&n| CloseCode::from_code(n).is_some())
            .count();
        assert_eq!(known, CloseCode::ALL.len());
        assert_eq!(CloseCode::from_code(4009), None);
        assert_eq!(CloseCode::from_code(0), None);
    }

    #[test]
    fn the_codes_are_the_documented_numbers() {
        let table: Vec<(u16, &str)> = CloseCode::ALL
            .iter()
            .map(|c| (c.code(), c.name()))
            .collect();
        assert_eq!(
            table,
            [
                (1000, "Normal"),
                (1001, "GoingAway"),
                (1002, "ProtocolError"),
                (1003, "UnsupportedData"),
                (1006, "Abnormal"),
                (1007, "InvalidPayload"),
                (1008, "PolicyViolation"),
                (1009, "MessageTooBig"),
                (1011, "InternalError"),
                (4000, "VersionMismatch"),
                (4001, "HelloExpected"),
                (4002, "Timeout"),
                (4003, "Full"),
                (4004, "Unauthorized"),
                (4005, "TooSlow"),
                (4006, "Replaced"),
                (4007, "Moved"),
                (4008, "SeatExpired"),
            ]
        );
    }

    #[test]
    fn replaced_is_never_retried() {
        // A newer connection owns the player: reconnecting would steal it back (and get that
        // connection closed with 4006 in turn) or join as a second player.
        assert_eq!(CloseCode::Replaced.retry(), Retry::Never);
        assert_eq!(retry_policy(Some(4006)), Retry::Never);
        assert!(!Retry::Never.is_automatic());
    }

    #[test]
    fn retry_policy_per_code() {
        use Retry::*;
        let policy = |n| retry_policy(Some(n));
        for n in [1001, 1006, 1011, 4002, 4005, 4007, 4008] {
            assert_eq!(policy(n), Reconnect, "{n}");
        }
        assert_eq!(policy(4003), Later);
        for n in [1000, 1002, 1003, 1007, 1008, 1009, 4000, 4001, 4004, 4006] {
            assert_eq!(policy(n), Never, "{n}");
        }
        // No close frame at all is network loss.
        assert_eq!(retry_policy(None), Reconnect);
        // Codes we do not know are retried, slowly.
        assert_eq!(policy(4999), UNKNOWN_CODE_RETRY);
        assert_eq!(policy(1005), Later);
    }

    #[test]
    fn close_reasons_from_codes_carry_the_default_text() {
        let r = CloseReason::from(CloseCode::Replaced);
        assert_eq!(r.code.code(), 4006);
        assert_eq!(r.reason, "replaced by a newer connection");
        assert!(
            CloseCode::ALL
                .iter()
                .all(|c| c.is_sendable() != (c.code() == 1006))
        );
    }
}
