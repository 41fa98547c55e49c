//! The room registry: which rooms exist, matchmaking, and seat reservations.
//!
//! Quick-match puts a player in the fullest public room that has a free seat, and creates a
//! new public room when all are full. `?room=ID` joins (or creates) a named room, which
//! quick-match never fills with strangers.
//!
//! A [`Seat`] is taken when a connection picks a room and is held for as long as the player
//! is in that room: the room task keeps it from the join it admits until the player leaves
//! (including its resume grace), and drops it when it refuses the join. So a room's
//! occupancy counts every player exactly once, joins on their way included, and concurrent
//! joins can neither overfill a room nor be refused while seats are free.
//!
//! One address cannot take the server: a seat counts against the client's IP address (an
//! IPv6 client's /64, see [`address_key`]) (`--max-seats-per-ip`) for as long as it is held, a seat in resume grace too, so joins
//! followed by a dropped socket cannot keep a room full; one address has a budget of named
//! rooms it created that still exist (`--max-rooms-per-ip`); and named rooms together may
//! take only part of `--max-rooms` (`--max-named-rooms`), so quick-match always has rooms
//! of its own. Resume attempts are charged to the address (`--resume-guess-burst`, refilled
//! every `--resume-guess-interval`) and a successful resume is refunded, so only unknown
//! tokens use the budget up.
//!
//! An empty room with no seat held or resume on its way removes itself after
//! `--empty-room-timeout`; it does so under the registry lock, so a room is never disposed of
//! while a join is on its way.

use super::AppState;
use super::driver::RoomLogic;
use super::room_task::{self, RoomCmd};
use crate::config::Config;
use crate::metrics::OutcomeLabels;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// Seats held: one per player in the room (connected or in its grace) and per new
    /// player's join on its way. What the room's capacity is checked against.
    pub seats: AtomicUsize,
    /// Resumes on their way (a resumed player keeps the seat it holds).
    pub resuming: AtomicUsize,
    /// Latest completed tick.
    pub tick: AtomicU32,
    /// How long the latest tick took, microseconds (simulation, views, encoding, sending).
    pub tick_micros: AtomicU32,
    /// Bytes sent to this room's clients since it was created (welcomes and snapshots).
    pub bytes_sent: AtomicU64,
    /// Capacity.
    pub max_players: usize,
    /// Ticks per second.
    pub tick_rate: u16,
    /// When the room was created.
    pub created: Instant,
}

impl RoomStats {
    fn occupancy(&self) -> usize {
        self.seats.load(Ordering::Relaxed)
    }

    /// No seat held and no resume on its way.
    pub fn is_idle(&self) -> bool {
        self.occupancy() == 0 && self.resuming.load(Ordering::Relaxed) == 0
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

/// Seats and resume budgets per client address. Entries go when they are back to nothing.
#[derive(Default)]
struct Ledger {
    seats: HashMap<IpAddr, usize>,
    guesses: HashMap<IpAddr, Allowance>,
    /// Size of `guesses` at which the next pruning happens (twice what the last one kept, so
    /// pruning costs amortised O(1) a guess even when few entries can go).
    prune_at: usize,
}

/// A per-address budget of resume attempts (a token bucket that can be refunded).
struct Allowance {
    tokens: f64,
    last: f64,
}

type SharedLedger = Arc<Mutex<Ledger>>;

fn lock_ledger(l: &Mutex<Ledger>) -> MutexGuard<'_, Ledger> {
    // Plain counters: a panic elsewhere leaves them usable.
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// One unit of a room's capacity and of its address's `--max-seats-per-ip`; given back on
/// drop.
pub struct HeldSeat {
    stats: Arc<RoomStats>,
    ip: IpAddr,
    ledger: SharedLedger,
}

impl Drop for HeldSeat {
    fn drop(&mut self) {
        self.stats.seats.fetch_sub(1, Ordering::Relaxed);
        let mut l = lock_ledger(&self.ledger);
        if let Some(n) = l.seats.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                l.seats.remove(&self.ip);
            }
        }
    }
}

/// A resume on its way: keeps its room from being disposed of; its attempt was charged to
/// the address ([`ResumeAttempt::succeeded`] refunds it).
pub struct ResumeAttempt {
    stats: Arc<RoomStats>,
    ip: IpAddr,
    ledger: SharedLedger,
    burst: f64,
}

impl ResumeAttempt {
    /// The token was good: the attempt does not count against the address.
    pub fn succeeded(self) {
        let mut l = lock_ledger(&self.ledger);
        if let Some(a) = l.guesses.get_mut(&self.ip) {
            a.tokens = (a.tokens + 1.0).min(self.burst);
        }
    }
}

impl Drop for ResumeAttempt {
    fn drop(&mut self) {
        self.stats.resuming.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A reservation in a room, handed to the room task with the join. Whatever of it the room
/// does not keep is released on drop.
pub struct Seat {
    /// The room.
    pub room: RoomHandle,
    /// A seat for a new player (for a resume, when one was free: the token may turn out not
    /// to name a player of the room, and the `Hello` then makes a new player).
    pub held: Option<HeldSeat>,
    /// Set for a resume.
    pub resume: Option<ResumeAttempt>,
    /// For a resume without a held seat: why a new player could not be seated.
    pub refusal: Option<CloseReason>,
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
    /// The node that runs it (empty on a lone server).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// Seats held (players, and joins and resumes on their way): what capacity counts.
    #[serde(skip)]
    pub occupied: usize,
}

#[derive(Default)]
struct Inner {
    rooms: BTreeMap<String, RoomHandle>,
    next_public: u64,
    /// Named rooms open now.
    named: usize,
    /// Who created each named room, and how many open named rooms each address created.
    creators: HashMap<String, IpAddr>,
    created_by: HashMap<IpAddr, usize>,
}

/// Every room of the process.
pub struct RoomRegistry {
    inner: Mutex<Inner>,
    ledger: SharedLedger,
    /// Time zero of the resume allowances.
    epoch: Instant,
    /// The node id in a cluster (new public rooms are `NODE-xN` when this node opens one by
    /// itself), empty alone.
    node: String,
    /// Set on SIGTERM: no new rooms or seats, only resumes.
    pub draining: std::sync::atomic::AtomicBool,
}

impl Default for RoomRegistry {
    fn default() -> Self {
        RoomRegistry {
            inner: Mutex::default(),
            ledger: SharedLedger::default(),
            epoch: Instant::now(),
            node: String::new(),
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// Whether a room id is acceptable in a URL (`[A-Za-z0-9_-]{1,32}`).
pub fn valid_room_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The address limits count against: an IPv4 address (also when it arrives IPv4-mapped on an
/// IPv6 socket) or an IPv6 /64, the block one subscriber is usually given, so one host cannot
/// walk through its 2^64 addresses for fresh budgets.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

fn full(reason: String) -> CloseReason {
    CloseReason::new(CloseCode::Full, reason)
}

/// Allowances are pruned once at least this many addresses have one (the full ones go: a
/// full allowance is the same as none).
const PRUNE_GUESSES_AT: usize = 1024;

impl RoomRegistry {
    /// A registry for node `node` of a cluster.
    pub fn for_node(node: &str) -> RoomRegistry {
        RoomRegistry {
            node: node.to_string(),
            ..RoomRegistry::default()
        }
    }

    /// Whether room `id` runs here.
    pub fn contains(&self, id: &str) -> bool {
        self.lock().rooms.contains_key(id)
    }

    /// A lone server's quick-match for `POST /match`: the fullest public room with a free
    /// seat, else the id of a new one (opened when its player arrives).
    pub fn pick_public(&self) -> String {
        let mut inner = self.lock();
        if let Some(h) = inner
            .rooms
            .values()
            .filter(|h| h.stats.public && h.stats.occupancy() < h.stats.max_players)
            .max_by_key(|h| (h.stats.occupancy(), std::cmp::Reverse(h.stats.created)))
        {
            return h.stats.id.clone();
        }
        Self::new_public_id(&mut inner, &self.node)
    }

    fn new_public_id(inner: &mut Inner, node: &str) -> String {
        loop {
            inner.next_public += 1;
            let id = if node.is_empty() {
                inner.next_public.to_string()
            } else {
                format!("{node}-x{}", inner.next_public)
            };
            if !inner.rooms.contains_key(&id) {
                break id;
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in a few lines of bookkeeping;
        // keep serving with the data as it is rather than poisoning every later join.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Charges a resume attempt to `ip`; false when its budget is used up.
    fn charge_resume(&self, ip: IpAddr, c: &Config) -> bool {
        let burst = f64::from(c.resume_guess_burst);
        let rate = 1.0 / c.resume_guess_interval.as_secs_f64().max(1e-3);
        let now = self.epoch.elapsed().as_secs_f64();
        let mut l = lock_ledger(&self.ledger);
        if l.guesses.len() >= l.prune_at.max(PRUNE_GUESSES_AT) && !l.guesses.contains_key(&ip) {
            l.guesses
                .retain(|_, a| a.tokens + (now - a.last) * rate < burst);
            l.prune_at = 2 * l.guesses.len();
        }
        let a = l.guesses.entry(ip).or_insert(Allowance {
            tokens: burst,
            last: now,
        });
        a.tokens = (a.tokens + (now - a.last).max(0.0) * rate).min(burst);
        a.last = now;
        if a.tokens >= 1.0 {
            a.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Seats `ip` (its [`address_key`]) holds now, across all rooms.
    pub fn seats_held_by(&self, ip: IpAddr) -> usize {
        lock_ledger(&self.ledger)
            .seats
            .get(&address_key(ip))
            .copied()
            .unwrap_or(0)
    }

    /// Why `ip` may not take another seat, if it may not.
    fn over_ip_limit(&self, ip: IpAddr, c: &Config) -> Option<CloseReason> {
        let n = self.seats_held_by(ip);
        (n >= c.max_seats_per_ip).then(|| {
            full(format!(
                "your address already holds {n} seats on this server, the most one address may"
            ))
        })
    }

    /// Takes a seat in `h` for `ip` (the caller holds the registry lock, so the checks and
    /// the counts cannot be raced by another reservation).
    fn take_seat(&self, h: &RoomHandle, ip: IpAddr, c: &Config) -> Result<HeldSeat, CloseReason> {
        if h.stats.occupancy() >= h.stats.max_players {
            return Err(full(format!(
                "room {} is full ({} players)",
                h.stats.id, h.stats.max_players
            )));
        }
        if let Some(r) = self.over_ip_limit(ip, c) {
            return Err(r);
        }
        h.stats.seats.fetch_add(1, Ordering::Relaxed);
        *lock_ledger(&self.ledger).seats.entry(ip).or_insert(0) += 1;
        Ok(HeldSeat {
            stats: h.stats.clone(),
            ip,
            ledger: self.ledger.clone(),
        })
    }

    /// The room whose session `token` names, for a mirror connection from `ip` to attach to.
    /// Charged to the address like a resume attempt (so tokens cannot be guessed through
    /// mirrors either); the attempt is refunded when the mirror attaches.
    pub(crate) fn mirror_room(
        &self,
        state: &Arc<AppState>,
        token: &str,
        ip: IpAddr,
    ) -> Result<(RoomHandle, ResumeAttempt), CloseReason> {
        let ip = address_key(ip);
        self.charge_or_refuse(state, ip, "wait a little")?;
        let inner = self.lock();
        let handle = token
            .split_once('.')
            .and_then(|(room, _)| inner.rooms.get(room))
            .cloned()
            .ok_or_else(|| {
                CloseReason::new(
                    CloseCode::Unauthorized,
                    "no room of this server issued that resume token",
                )
            })?;
        let attempt = self.attempt(&handle, ip, &state.config);
        Ok((handle, attempt))
    }

    /// Charges a resume attempt to address key `ip`; when its budget is used up, the refusal
    /// (its reason ending in `then`, what the client can do).
    fn charge_or_refuse(
        &self,
        state: &AppState,
        ip: IpAddr,
        then: &str,
    ) -> Result<(), CloseReason> {
        if self.charge_resume(ip, &state.config) {
            return Ok(());
        }
        state
            .metrics
            .rate_limited
            .get_or_create(&OutcomeLabels { outcome: "resume" })
            .inc();
        Err(CloseReason::new(
            CloseCode::PolicyViolation,
            format!("too many resume attempts with unknown tokens from your address; {then}"),
        ))
    }

    /// A resume attempt from address key `ip` on its way to `handle`'s room (which it keeps
    /// from being disposed of until it is dropped).
    fn attempt(&self, handle: &RoomHandle, ip: IpAddr, c: &Config) -> ResumeAttempt {
        handle.stats.resuming.fetch_add(1, Ordering::Relaxed);
        ResumeAttempt {
            stats: handle.stats.clone(),
            ip,
            ledger: self.ledger.clone(),
            burst: f64::from(c.resume_guess_burst),
        }
    }

    /// Reserves a seat for a client at `ip`: in room `wanted` (created if missing), in the
    /// room a resume token names, or by quick-match.
    pub(crate) fn reserve(
        &self,
        state: &Arc<AppState>,
        wanted: Option<&str>,
        public_new: bool,
        resume_token: Option<&str>,
        ip: IpAddr,
    ) -> Result<Seat, CloseReason> {
        let c = &state.config;
        let ip = address_key(ip);
        if resume_token.is_some() {
            self.charge_or_refuse(state, ip, "wait a little, or join without a token")?;
        }
        let mut inner = self.lock();
        // A resume goes back to the room that issued the token, full or not: the player
        // still holds its seat there.
        let resume_room = resume_token
            .and_then(|t| t.split_once('.'))
            .map(|(room, _)| room);
        if let Some(handle) = resume_room.and_then(|r| inner.rooms.get(r)).cloned() {
            let resume = self.attempt(&handle, ip, c);
            let (held, refusal) = match self.take_seat(&handle, ip, c) {
                Ok(h) => (Some(h), None),
                Err(r) => (None, Some(r)),
            };
            return Ok(Seat {
                room: handle,
                held,
                resume: Some(resume),
                refusal,
            });
        }
        if self.draining.load(Ordering::Relaxed) {
            return Err(full(
                "this server is draining before it stops: it takes no new players; join again \
                 to be matched elsewhere"
                    .to_string(),
            ));
        }
        if let Some(r) = self.over_ip_limit(ip, c) {
            return Err(r);
        }
        // Each room's own capacity: the server's --max-players, or fewer if its game seats
        // fewer (a card table).
        let chosen = match wanted {
            Some(id) => match inner.rooms.get(id) {
                Some(h) if h.stats.occupancy() < h.stats.max_players => Some(h.clone()),
                Some(h) => {
                    return Err(full(format!(
                        "room {id} is full ({} players)",
                        h.stats.max_players
                    )));
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
                if inner.rooms.len() >= c.max_rooms {
                    return Err(full(format!("server is full ({} rooms)", c.max_rooms)));
                }
                let (id, public) = match wanted {
                    Some(id) if public_new => (id.to_string(), true),
                    Some(id) => {
                        // Named rooms have a budget of their own inside --max-rooms, so they
                        // cannot take the rooms quick-match needs, and each address a
                        // budget inside that.
                        let budget = c.named_room_limit();
                        if inner.named >= budget {
                            return Err(full(format!(
                                "no room is left for a new named room ({budget} at most); \
                                 join an existing one, or quick-match without a room name"
                            )));
                        }
                        let mine = inner.created_by.get(&ip).copied().unwrap_or(0);
                        if mine >= c.max_rooms_per_ip {
                            return Err(full(format!(
                                "your address has created {mine} rooms that are still open, \
                                 the most one address may; join one of them or quick-match"
                            )));
                        }
                        (id.to_string(), false)
                    }
                    None => (Self::new_public_id(&mut inner, &self.node), true),
                };
                let h = spawn_room(state, id.clone(), public);
                if !public {
                    inner.named += 1;
                    *inner.created_by.entry(ip).or_insert(0) += 1;
                    inner.creators.insert(id.clone(), ip);
                }
                inner.rooms.insert(id, h.clone());
                h
            }
        };
        let held = self.take_seat(&handle, ip, c)?;
        Ok(Seat {
            room: handle,
            held: Some(held),
            resume: None,
            refusal: None,
        })
    }

    /// Removes an idle room if it is still empty with no seat held or resume on its way.
    /// Returns whether it was removed (the room task then stops).
    pub fn remove_if_idle(&self, id: &str) -> bool {
        let mut inner = self.lock();
        let idle = inner.rooms.get(id).is_some_and(|h| h.stats.is_idle());
        if idle && let Some(h) = inner.rooms.remove(id) {
            if !h.stats.public {
                inner.named = inner.named.saturating_sub(1);
            }
            if let Some(ip) = inner.creators.remove(id)
                && let Some(n) = inner.created_by.get_mut(&ip)
            {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    inner.created_by.remove(&ip);
                }
            }
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
                node: self.node.clone(),
                occupied: h.stats.occupancy(),
            })
            .collect()
    }

    /// Every room's handle, by id (the operator's view asks each room for its players).
    pub fn handles(&self) -> Vec<RoomHandle> {
        self.lock().rooms.values().cloned().collect()
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
        seats: AtomicUsize::new(0),
        resuming: AtomicUsize::new(0),
        tick: AtomicU32::new(0),
        tick_micros: AtomicU32::new(0),
        bytes_sent: AtomicU64::new(0),
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
    use super::{address_key, valid_room_id};
    use std::net::IpAddr;

    #[test]
    fn addresses_count_as_an_ipv4_address_or_an_ipv6_64() {
        let key = |s: &str| address_key(s.parse::<IpAddr>().unwrap()).to_string();
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    #[test]
    fn room_ids() {
        assert!(valid_room_id("lobby-2_b"));
        assert!(!valid_room_id(""));
        assert!(!valid_room_id("a b"));
        assert!(!valid_room_id(&"x".repeat(33)));
        assert!(!valid_room_id("../etc"));
    }
}
