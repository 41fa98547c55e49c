//! Player records as replicated state: each player's record, the log of changes to the
//! player list, and what a client last sent at some tick needs from them.
//!
//! What changed since a tick is the same for every client sent that tick (nearly all of them,
//! every tick), so [`PlayerChanges`] resolves it once and each snapshot only picks its
//! viewer's variant: its own record whole, everyone else's with owner-only fields zeroed.

use std::collections::{BTreeMap, VecDeque};
use tickwire_shared::sync::{PlayerChange, PlayerJoin, Snapshot};
use tickwire_shared::{PlayerId, Tick};

/// One player's replicated record.
pub(crate) struct Record {
    pub(crate) name: String,
    pub(crate) connected: bool,
    pub(crate) lanes: Vec<i64>,
    pub(crate) joined_at: Tick,
    /// Last tick any lane or the connection changed.
    pub(crate) changed_at: Tick,
    /// Last tick a lane others see, or the connection, changed.
    pub(crate) public_changed_at: Tick,
}

/// A change to the player list, kept for clients that skip ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogEntry {
    pub(crate) at: Tick,
    pub(crate) player: PlayerId,
    /// For a departure: when the player had joined (a client that knew it gets `left`).
    pub(crate) left_joined_at: Option<Tick>,
}

/// One player's part of the player sections for clients sent a given tick.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// New since then; its lanes are at `lanes` in both buffers.
    Joined {
        id: PlayerId,
        name: usize,
        connected: bool,
        lanes: usize,
    },
    /// Changed since then: for its owner always, for others if `public`.
    Changed {
        id: PlayerId,
        connected: bool,
        public: bool,
        lanes: usize,
    },
    /// Gone since then.
    Left(PlayerId),
}

/// The player-list changes since one tick, resolved for any viewer.
pub(crate) struct PlayerChanges {
    /// Lanes per record.
    n: usize,
    /// The tick they are since, and the tick they were resolved at (records and the log
    /// change between ticks, so a resolution holds for one tick).
    since: Option<(Tick, Tick)>,
    entries: Vec<Entry>,
    names: Vec<String>,
    /// Each entry's lanes whole (for its owner) and with owner-only lanes zeroed.
    own: Vec<i64>,
    public: Vec<i64>,
    touched: Vec<(PlayerId, Option<Tick>)>,
}

/// Appends `lanes` with the owner-only ones zeroed.
fn masked(lanes: &[i64], owner_only: &[usize], out: &mut Vec<i64>) {
    let at = out.len();
    out.extend_from_slice(lanes);
    for &f in owner_only {
        out[at + f] = 0;
    }
}

impl PlayerChanges {
    /// For records of `n` lanes.
    pub(crate) fn new(n: usize) -> PlayerChanges {
        PlayerChanges {
            n,
            since: None,
            entries: Vec::new(),
            names: Vec::new(),
            own: Vec::new(),
            public: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// Writes into `snap` the player sections for `viewer`, last sent tick `since`
    /// (`None`: its first snapshot, every player as joined).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write(
        &mut self,
        records: &BTreeMap<PlayerId, Record>,
        log: &VecDeque<LogEntry>,
        owner_only: &[usize],
        viewer: PlayerId,
        since: Option<Tick>,
        now: Tick,
        snap: &mut Snapshot,
    ) {
        let Some(t) = since else {
            for (pid, r) in records {
                snap.players_joined.push(PlayerJoin {
                    id: *pid,
                    name: r.name.clone(),
                    connected: r.connected,
                });
                if *pid == viewer {
                    snap.joined_lanes.extend_from_slice(&r.lanes);
                } else {
                    masked(&r.lanes, owner_only, &mut snap.joined_lanes);
                }
            }
            return;
        };
        if self.since != Some((t, now)) {
            self.resolve(records, log, owner_only, t);
            self.since = Some((t, now));
        }
        let n = self.n;
        for e in &self.entries {
            match *e {
                Entry::Joined {
                    id,
                    name,
                    connected,
                    lanes,
                } => {
                    snap.players_joined.push(PlayerJoin {
                        id,
                        name: self.names[name].clone(),
                        connected,
                    });
                    let src = if id == viewer {
                        &self.own
                    } else {
                        &self.public
                    };
                    snap.joined_lanes.extend_from_slice(&src[lanes..lanes + n]);
                }
                Entry::Changed {
                    id,
                    connected,
                    public,
                    lanes,
                } => {
                    let own = id == viewer;
                    if own || public {
                        snap.players_changed.push(PlayerChange { id, connected });
                        let src = if own { &self.own } else { &self.public };
                        snap.changed_lanes.extend_from_slice(&src[lanes..lanes + n]);
                    }
                }
                Entry::Left(id) => snap.players_left.push(id),
            }
        }
    }

    fn resolve(
        &mut self,
        records: &BTreeMap<PlayerId, Record>,
        log: &VecDeque<LogEntry>,
        owner_only: &[usize],
        t: Tick,
    ) {
        self.entries.clear();
        self.names.clear();
        self.own.clear();
        self.public.clear();
        let from = log.partition_point(|e| e.at <= t);
        self.touched.clear();
        self.touched
            .extend(log.range(from..).map(|e| (e.player, e.left_joined_at)));
        self.touched.sort_unstable_by_key(|e| (e.0, e.1.is_none()));
        self.touched.dedup_by_key(|e| e.0);
        for &(id, left_joined_at) in &self.touched {
            let Some(r) = records.get(&id) else {
                if left_joined_at.is_some_and(|j| j <= t) {
                    self.entries.push(Entry::Left(id));
                }
                continue;
            };
            let lanes = self.own.len();
            if r.joined_at > t {
                self.entries.push(Entry::Joined {
                    id,
                    name: self.names.len(),
                    connected: r.connected,
                    lanes,
                });
                self.names.push(r.name.clone());
            } else if r.changed_at > t {
                self.entries.push(Entry::Changed {
                    id,
                    connected: r.connected,
                    public: r.public_changed_at > t,
                    lanes,
                });
            } else {
                continue;
            }
            self.own.extend_from_slice(&r.lanes);
            masked(&r.lanes, owner_only, &mut self.public);
        }
    }
}
