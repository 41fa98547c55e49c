//! The room registry: which rooms exist, matchmaking, and seat reservations.
//!
//! Quick-match puts a player in the fullest public room that has a free seat, and creates a
//! new public room when all are full. `?room=ID` joins (or creates) a named room, which
//! quick-match never fills with strangers. A reservation ([`Seat`]) counts against a room's
//! capacity from the moment a connection picks the room until the room has answered its
//! join, so concurrent joins cannot overfill a room. An empty room with no pending seat
//! removes itself after `--empty-room-timeout`; it does so under the registry lock, so a room
//! is never disposed of while a join is on its way.

use super::AppState;
use super::driver::RoomLogic;
use super::room_task::{self, RoomCmd};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tickwire_shared::close::{CloseCode, CloseReason};
use tokio::sync::mpsc;

/// Shared view of a running room.
pub struct RoomStats {
    /// Room id.
    pub id: String,
    /// Whether quick-match may put players here.
    pub public: bool,
    /// The game it plays (the schema's name).
    pub game: String,
    /// Players in the room (including ones within their resume grace period).
    pub players: AtomicUsize,
    /// Seats reserved by connections whose join is on its way.
    pub pending: AtomicUsize,
    /// Latest completed tick.
    pub tick: AtomicU32,
    /// Capacity.
    pub max_players: usize,
    /// Ticks per second.
    pub tick_rate: u16,
    /// When the room was created.
    pub created: Instant,
}

impl RoomStats {
    fn occupancy(&self) -> usize {
        self.players.load(Ordering::Relaxed) + self.pending.load(Ordering::Relaxed)
    }
}

/// A running room: its command channel and stats.
#[derive(Clone)]
pub struct RoomHandle {
    /// Where to send joins.
    pub cmds: mpsc::Sender<RoomCmd>,
    /// Its stats.
    pub stats: Arc<RoomStats>,
}

/// A reserved seat in a room; released on drop.
pub struct Seat {
    /// The room.
    pub room: RoomHandle,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.room.stats.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One row of `GET /rooms`.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct RoomInfo {
    /// Room id (use as `/ws?room=ID`).
    pub id: String,
    /// Players in the room.
    pub players: usize,
    /// Capacity.
    pub max_players: usize,
    /// Ticks per second.
    pub tick_rate: u16,
    /// Seconds since creation.
    pub uptime_secs: u64,
    /// Whether quick-match fills this room.
    pub public: bool,
    /// The game it plays (the schema's name).
    pub game: String,
}

#[derive(Default)]
struct Inner {
    rooms: BTreeMap<String, RoomHandle>,
    next_public: u64,
}

/// Every room of the process.
#[derive(Default)]
pub struct RoomRegistry {
    inner: Mutex<Inner>,
}

/// Whether a room id is acceptable in a URL (`[A-Za-z0-9_-]{1,32}`).
pub fn valid_room_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl RoomRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in a few lines of bookkeeping;
        // keep serving with the data as it is rather than poisoning every later join.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a seat: in room `wanted` (created if missing), in the room a resume token
    /// names, or by quick-match.
    pub(crate) fn reserve(
        &self,
        state: &Arc<AppState>,
        wanted: Option<&str>,
        resume_token: Option<&str>,
    ) -> Result<Seat, CloseReason> {
        let mut inner = self.lock();
        // A resume goes back to the room that issued the token, full or not: the player
        // still holds its seat there.
        let resume_room = resume_token
            .and_then(|t| t.split_once('.'))
            .map(|(room, _)| room);
        if let Some(handle) = resume_room.and_then(|r| inner.rooms.get(r)) {
            handle.stats.pending.fetch_add(1, Ordering::Relaxed);
            return Ok(Seat {
                room: handle.clone(),
            });
        }
        // Each room's own capacity: the server's --max-players, or fewer if its game seats
        // fewer (a card table).
        let chosen = match wanted {
            Some(id) => match inner.rooms.get(id) {
                Some(h) if h.stats.occupancy() < h.stats.max_players => Some(h.clone()),
                Some(h) => {
                    return Err(CloseReason::new(
                        CloseCode::Full,
                        format!("room {id} is full ({} players)", h.stats.max_players),
                    ));
                }
                None => None,
            },
            None => inner
                .rooms
                .values()
                .filter(|h| h.stats.public && h.stats.occupancy() < h.stats.max_players)
                .max_by_key(|h| (h.stats.occupancy(), std::cmp::Reverse(h.stats.created)))
                .cloned(),
        };
        let handle = match chosen {
            Some(h) => h,
            None => {
                if inner.rooms.len() >= state.config.max_rooms {
                    return Err(CloseReason::new(
                        CloseCode::Full,
                        format!("server is full ({} rooms)", state.config.max_rooms),
                    ));
                }
                let (id, public) = match wanted {
                    Some(id) => (id.to_string(), false),
                    None => loop {
                        inner.next_public += 1;
                        let id = inner.next_public.to_string();
                        if !inner.rooms.contains_key(&id) {
                            break (id, true);
                        }
                    },
                };
                let h = spawn_room(state, id.clone(), public);
                inner.rooms.insert(id, h.clone());
                h
            }
        };
        handle.stats.pending.fetch_add(1, Ordering::Relaxed);
        Ok(Seat { room: handle })
    }

    /// Removes an idle room if it is still empty with no seat pending. Returns whether it was
    /// removed (the room task then stops).
    pub fn remove_if_idle(&self, id: &str) -> bool {
        let mut inner = self.lock();
        let idle = inner
            .rooms
            .get(id)
            .is_some_and(|h| h.stats.occupancy() == 0);
        if idle {
            inner.rooms.remove(id);
        }
        idle
    }

    /// Rows for `GET /rooms`.
    pub fn list(&self) -> Vec<RoomInfo> {
        self.lock()
            .rooms
            .values()
            .map(|h| RoomInfo {
                id: h.stats.id.clone(),
                players: h.stats.players.load(Ordering::Relaxed),
                max_players: h.stats.max_players,
                tick_rate: h.stats.tick_rate,
                uptime_secs: h.stats.created.elapsed().as_secs(),
                public: h.stats.public,
                game: h.stats.game.clone(),
            })
            .collect()
    }

    /// Number of rooms.
    pub fn len(&self) -> usize {
        self.lock().rooms.len()
    }

    /// Whether there is no room.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Starts a room of the server's game.
fn spawn_room(state: &Arc<AppState>, id: String, public: bool) -> RoomHandle {
    let c = &state.config;
    let room: Box<dyn RoomLogic> = state.game.make(c, &id);
    let (tx, rx) = mpsc::channel(256);
    let stats = Arc::new(RoomStats {
        id,
        public,
        game: state.game.schema().game.clone(),
        players: AtomicUsize::new(0),
        pending: AtomicUsize::new(0),
        tick: AtomicU32::new(0),
        max_players: room.max_players(),
        tick_rate: c.tick_rate,
        created: Instant::now(),
    });
    state
        .tracker
        .spawn(room_task::run(room, rx, stats.clone(), state.clone()));
    RoomHandle { cmds: tx, stats }
}

#[cfg(test)]
mod tests {
    use super::valid_room_id;

    #[test]
    fn room_ids() {
        assert!(valid_room_id("lobby-2_b"));
        assert!(!valid_room_id(""));
        assert!(!valid_room_id("a b"));
        assert!(!valid_room_id(&"x".repeat(33)));
        assert!(!valid_room_id("../etc"));
    }
}
