//! The connection's life cycle as the player sees it: the states the link goes through, why a
//! connection ended, in words, and whether to try again by ourselves.

use std::time::Instant;
use tickwire_shared::close;

/// Where the link to the server is.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkStatus {
    /// Opening the TCP connection and the WebSocket (attempt 1, 2, …).
    Connecting {
        /// Attempts since the last successful session.
        attempt: u32,
    },
    /// Socket open, `Hello` sent, waiting for `Welcome`.
    Joining {
        /// Whether a resume token was presented.
        resuming: bool,
    },
    /// In the game.
    Playing,
    /// Lost; the next attempt starts at `at`.
    Retrying {
        /// When the next attempt starts.
        at: Instant,
        /// Why the last connection ended.
        cause: Disconnect,
    },
    /// Lost for a reason that retrying will not fix; waits for the player to ask again.
    Stopped {
        /// Why.
        cause: Disconnect,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disconnect {
    /// The server closed the WebSocket with this code and reason.
    Closed {
        /// Close code (`None`: the socket ended without a close frame).
        code: Option<u16>,
        /// The server's reason text.
        reason: String,
    },
    /// The connection could not be made.
    Unreachable(String),
    /// The client dropped the connection itself because its copy of the world diverged.
    Diverged(String),
}

impl Disconnect {
    /// Whether reconnecting on our own could help. The protocol asks clients not to retry
    /// after a version mismatch, a protocol violation, a full room or an auth failure.
    pub fn retry_helps(&self) -> bool {
        !matches!(
            self,
            Disconnect::Closed {
                code: Some(
                    close::PROTOCOL_VERSION_MISMATCH
                        | close::HELLO_EXPECTED
                        | close::FULL
                        | close::UNAUTHORIZED
                ),
                ..
            }
        )
    }

    /// A sentence for the player.
    pub fn describe(&self) -> String {
        match self {
            Disconnect::Unreachable(e) => format!("Cannot reach the server: {e}"),
            Disconnect::Diverged(e) => format!("Resynchronising: {e}"),
            Disconnect::Closed { code, reason } => {
                let what = match code {
                    None => "The connection was lost",
                    Some(close::NORMAL) => "The server closed the connection",
                    Some(close::GOING_AWAY) => "The server is shutting down",
                    Some(close::PROTOCOL_ERROR) => "The server rejected a malformed frame",
                    Some(close::UNSUPPORTED_DATA) => "The server refused a text frame",
                    Some(close::INVALID_PAYLOAD) => "The server could not decode a message",
                    Some(close::POLICY_VIOLATION) => "Too many messages: the server dropped us",
                    Some(close::MESSAGE_TOO_BIG) => "A message was over the server's size limit",
                    Some(close::INTERNAL_ERROR) => "The server hit an internal error",
                    Some(close::PROTOCOL_VERSION_MISMATCH) => {
                        "This client's protocol version is not supported"
                    }
                    Some(close::HELLO_EXPECTED) => "The handshake went wrong",
                    Some(close::TIMEOUT) => "Timed out",
                    Some(close::FULL) => "The room is full",
                    Some(close::UNAUTHORIZED) => "Not authorised",
                    Some(close::TOO_SLOW) => "This client could not keep up with the server",
                    Some(_) => "The server closed the connection",
                };
                match (code, reason.is_empty()) {
                    (Some(c), true) => format!("{what} (code {c})"),
                    (Some(c), false) => format!("{what}: {reason} (code {c})"),
                    (None, _) => what.to_string(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_close_codes_and_knows_when_not_to_retry() {
        let full = Disconnect::Closed {
            code: Some(close::FULL),
            reason: "room is full (256 players)".into(),
        };
        assert!(!full.retry_helps());
        assert_eq!(
            full.describe(),
            "The room is full: room is full (256 players) (code 4003)"
        );
        let restart = Disconnect::Closed {
            code: Some(close::GOING_AWAY),
            reason: "server shutting down".into(),
        };
        assert!(restart.retry_helps());
        assert!(
            restart
                .describe()
                .starts_with("The server is shutting down")
        );
        assert!(Disconnect::Unreachable("refused".into()).retry_helps());
        let lost = Disconnect::Closed {
            code: None,
            reason: String::new(),
        };
        assert_eq!(lost.describe(), "The connection was lost");
    }
}
