//! The connection's life cycle as the player sees it: the states the link goes through, why a
//! connection ended, in words, and whether to try again by ourselves.

use std::time::Instant;
use tickwire_shared::close::{self, CloseCode, Retry};

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
    /// The server runs another game than this client plays.
    WrongGame(String),
}

impl Disconnect {
    /// Whether (and how soon) to reconnect by ourselves: the shared close-code table's policy
    /// for a close ([`close::retry_policy`]; no close frame counts as network loss). An
    /// unreachable server may come back, and a diverged replica wants a fresh connection at
    /// once, so both reconnect; another game will still be another game, so that stops.
    pub fn retry(&self) -> Retry {
        match self {
            Disconnect::Closed { code, .. } => close::retry_policy(*code),
            Disconnect::Unreachable(_) | Disconnect::Diverged(_) => Retry::Reconnect,
            Disconnect::WrongGame(_) => Retry::Never,
        }
    }

    /// A sentence for the player: the code's meaning from the shared table, the server's own
    /// reason when it says more, and the code.
    pub fn describe(&self) -> String {
        match self {
            Disconnect::Unreachable(e) => format!("Cannot reach the server: {e}"),
            Disconnect::Diverged(e) => format!("Resynchronising: {e}"),
            Disconnect::WrongGame(e) => format!("Wrong game: {e}"),
            Disconnect::Closed { code, reason } => {
                let known = code.map_or(Some(CloseCode::Abnormal), CloseCode::from_code);
                let what = known.map_or_else(
                    || "The server closed the connection".to_string(),
                    |c| capitalized(c.reason()),
                );
                let said = match known {
                    Some(c) if reason.eq_ignore_ascii_case(c.reason()) => "",
                    _ => reason.as_str(),
                };
                match (code, said.is_empty()) {
                    (Some(c), true) => format!("{what} (code {c})"),
                    (Some(c), false) => format!("{what}: {said} (code {c})"),
                    (None, _) => what,
                }
            }
        }
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(code: CloseCode, reason: &str) -> Disconnect {
        Disconnect::Closed {
            code: Some(code.code()),
            reason: reason.into(),
        }
    }

    #[test]
    fn names_close_codes_and_follows_the_shared_retry_policy() {
        let full = closed(CloseCode::Full, "room is full (256 players)");
        assert_eq!(full.retry(), Retry::Later);
        assert_eq!(
            full.describe(),
            "The room is full: room is full (256 players) (code 4003)"
        );
        let restart = closed(CloseCode::GoingAway, "server shutting down");
        assert_eq!(restart.retry(), Retry::Reconnect);
        assert_eq!(
            restart.describe(),
            "The server is going away: server shutting down (code 1001)"
        );
        assert_eq!(closed(CloseCode::VersionMismatch, "").retry(), Retry::Never);
        assert_eq!(
            Disconnect::Unreachable("refused".into()).retry(),
            Retry::Reconnect
        );
        let lost = Disconnect::Closed {
            code: None,
            reason: String::new(),
        };
        assert_eq!(lost.retry(), Retry::Reconnect);
        assert_eq!(lost.describe(), "The connection was lost");
        let odd = Disconnect::Closed {
            code: Some(4999),
            reason: "odd".into(),
        };
        assert_eq!(odd.retry(), Retry::Later);
        assert_eq!(
            odd.describe(),
            "The server closed the connection: odd (code 4999)"
        );
    }

    #[test]
    fn replaced_gives_up_and_says_why() {
        // A newer connection took this player: reconnecting would come back as a second
        // player or steal it back, so the client stops and tells the player.
        let replaced = closed(CloseCode::Replaced, "replaced by a newer connection");
        assert_eq!(replaced.retry(), Retry::Never);
        assert_eq!(
            replaced.describe(),
            "Replaced by a newer connection (code 4006)"
        );
    }
}
