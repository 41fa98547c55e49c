//! What players earn, kept: the server's side of [`tickwire_storage`].
//!
//! Rooms never wait for the database. A room task hands each finished match
//! ([`tickwire_engine::MatchResult`], turned into a [`MatchRecord`] with the players'
//! identities) to [`Persist::submit`], which appends it as one line to the node's *journal*, a
//! plain local file (one `write`, no fsync and no database: a killed process loses nothing the
//! kernel has, so the result survives a SIGKILL from the moment the round is over), then puts
//! it on a bounded channel (`--db-queue`). One writer task, off every tick, takes it: into the
//! outbox (an SQLite table; the journal is emptied once everything in it is there), then into
//! the database in one transaction keyed by its match id, retried with capped exponential
//! backoff (`--db-retry-max`) for as long as the database is away. At start, the journal and
//! the outbox a killed process left are written first; a result written already is not counted
//! again. (A power cut may take the journal's last lines: it is not fsynced.)
//!
//! `/metrics` shows the database: `tickwire_db_up`, `tickwire_db_queued`,
//! `tickwire_db_results_written_total`, `tickwire_db_write_failures_total`,
//! `tickwire_db_results_dropped_total`.

use crate::auth::Claims;
use crate::config::Config;
use crate::metrics::DbMetrics;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tickwire_engine::MatchResult;
use tickwire_shared::PlayerId;
use tickwire_storage::{MatchRecord, Options, PlayerResult, Storage, StorageError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// A guest id as the browser sends it (`?guest=`): 16 to 64 characters of `A-Z a-z 0-9 _ -`.
pub fn valid_guest_id(g: &str) -> bool {
    (16..=64).contains(&g.len())
        && g.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A player's stable id: `acct:<sub>` for an authenticated player, else `guest:<hash>` for a
/// guest id (the id itself is a secret the browser keeps: only the first 16 bytes of its
/// SHA-256 are stored and shown, so a leaderboard never gives away what to send to be that
/// guest), else none.
pub fn identity(claims: Option<&Claims>, guest: Option<&str>) -> Option<String> {
    if let Some(c) = claims {
        return Some(format!("acct:{}", c.sub));
    }
    let g = guest.filter(|g| valid_guest_id(g))?;
    let digest = Sha256::digest(g.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("guest:{hex}"))
}

/// Work for the writer task.
#[derive(Debug)]
pub enum Job {
    /// A player joined under this name.
    Seen {
        /// Its id.
        player: String,
        /// Its name.
        name: String,
    },
    /// A finished match.
    Result(MatchRecord),
}

/// The results handed over and not yet in the outbox, as lines of a local file.
struct Journal {
    file: std::fs::File,
    /// Lines appended since the file was last emptied.
    appended: u64,
    /// Of those, how many the writer has put in the outbox.
    taken: u64,
}

impl Journal {
    fn path(config: &Config) -> Option<std::path::PathBuf> {
        if config.db.starts_with("postgres://") || config.db.starts_with("postgresql://") {
            let mut p = config.outbox.clone().into_os_string();
            p.push(".journal");
            Some(p.into())
        } else if config.db.contains(":memory:") || config.db.contains("mode=memory") {
            None
        } else {
            let file = config.db.strip_prefix("sqlite://").unwrap_or(&config.db);
            let file = file.strip_prefix("sqlite:").unwrap_or(file);
            let file = file.split('?').next().unwrap_or(file);
            Some(format!("{file}.journal").into())
        }
    }
}

/// The database and its writer, shared by every room.
pub struct Persist {
    storage: Storage,
    journal: Option<Arc<std::sync::Mutex<Journal>>>,
    tx: mpsc::Sender<Job>,
    metrics: DbMetrics,
    /// The node's name in match records (`--node`).
    pub node: String,
    /// The season results count for (`--season`).
    pub season: String,
    /// Random per process start, so match ids never repeat across restarts.
    boot: String,
}

/// The writer task, until [`Writer::finish`].
pub struct Writer {
    handle: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
}

impl Writer {
    /// Stops taking new work, puts what is queued into the outbox and tries to write it
    /// within `grace`; what is left stays in the outbox for the next start.
    pub async fn finish(self, grace: Duration) {
        self.stop.cancel();
        if tokio::time::timeout(grace + Duration::from_secs(1), self.handle)
            .await
            .is_err()
        {
            warn!(
                "the database writer did not finish in time; unwritten results stay in the outbox"
            );
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Persist {
    /// Opens `--db` (migrating it) and starts the writer; `None` for `--db off`. A database
    /// that cannot be opened is an error: the server does not start without it.
    pub async fn open(
        config: &Config,
        metrics: DbMetrics,
    ) -> Result<Option<(Arc<Persist>, Writer)>, StorageError> {
        if config.db == "off" {
            metrics.up.set(0);
            return Ok(None);
        }
        let mut o = Options::new(config.db.clone());
        o.outbox = config.outbox.clone();
        o.acquire_timeout = config.db_timeout;
        let storage = Storage::open(&o).await?;
        info!(db = %storage.target(), backend = ?storage.backend(), "database open");
        let journal = match Journal::path(config) {
            None => None,
            Some(path) => Some(Arc::new(std::sync::Mutex::new(
                open_journal(&storage, &path).await?,
            ))),
        };
        metrics.up.set(1);
        let (tx, rx) = mpsc::channel(config.db_queue.max(1));
        let boot: u64 = rand::random();
        let persist = Arc::new(Persist {
            storage: storage.clone(),
            journal: journal.clone(),
            tx,
            metrics: metrics.clone(),
            node: config.node_name(),
            season: config.season.clone(),
            boot: format!("{boot:016x}"),
        });
        let stop = CancellationToken::new();
        let handle = tokio::spawn(write_loop(
            storage,
            journal,
            rx,
            metrics.clone(),
            config.db_retry_max,
            stop.clone(),
            config.shutdown_grace,
        ));
        Ok(Some((persist, Writer { handle, stop })))
    }

    /// The database.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Hands work to the writer without waiting: `false` (counted, logged) when the queue is
    /// full.
    pub fn submit(&self, job: Job) -> bool {
        let result = matches!(job, Job::Result(_));
        if let (Job::Result(m), Some(j)) = (&job, &self.journal) {
            use std::io::Write;
            let mut line = serde_json::to_vec(m).expect("a match record serializes");
            line.push(b'\n');
            let mut j = j.lock().unwrap_or_else(|e| e.into_inner());
            match j.file.write_all(&line) {
                Ok(()) => j.appended += 1,
                Err(e) => warn!(error = %e, "cannot append a result to the journal"),
            }
        }
        match self.tx.try_send(job) {
            Ok(()) => {
                if result {
                    self.metrics.queued.inc();
                }
                true
            }
            Err(e) => {
                if result {
                    self.metrics.results_dropped.inc();
                    warn!(error = %e, "database queue full (--db-queue): a match result waits in the journal for the next start");
                }
                false
            }
        }
    }

    /// The record of a finished match: `identities` gives each player's stable id.
    pub fn record(
        &self,
        game: &str,
        room: &str,
        seq: u64,
        r: &MatchResult,
        identity: impl Fn(PlayerId) -> Option<String>,
    ) -> MatchRecord {
        let ended = now_ms();
        let ticks = r.ended.since(r.started);
        let ms = (f64::from(ticks) * 1000.0 / f64::from(r.tick_rate.max(1))) as i64;
        MatchRecord {
            match_id: format!("{}-{room}-{}-{seq}", self.node, self.boot),
            game: game.to_string(),
            room: room.to_string(),
            node: self.node.clone(),
            season: self.season.clone(),
            started_at_ms: ended - ms,
            ended_at_ms: ended,
            players: r
                .players
                .iter()
                .map(|p| PlayerResult {
                    player: identity(p.player),
                    name: p.name.clone(),
                    score: p.score,
                    stats: p.stats.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                })
                .collect(),
        }
    }
}

/// How often the writer checks an idle database is still there (for `tickwire_db_up`).
const PING_INTERVAL: Duration = Duration::from_secs(2);

/// Opens the journal, moving what a killed process left in it into the outbox.
async fn open_journal(storage: &Storage, path: &std::path::Path) -> Result<Journal, StorageError> {
    let left = std::fs::read_to_string(path).unwrap_or_default();
    let mut moved = 0;
    for line in left.lines().filter(|l| !l.trim().is_empty()) {
        // A torn last line (a power cut mid-write) is skipped.
        match serde_json::from_str::<MatchRecord>(line) {
            Ok(m) => {
                storage.enqueue(&m).await?;
                moved += 1;
            }
            Err(e) => warn!(error = %e, "skipping an unreadable journal line"),
        }
    }
    if moved > 0 {
        info!(results = moved, journal = %path.display(), "results from the journal moved to the outbox");
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|f| f.set_len(0).map(|()| f))
        .map_err(|source| StorageError::File {
            target: path.display().to_string(),
            source,
        })?;
    Ok(Journal {
        file,
        appended: 0,
        taken: 0,
    })
}

async fn write_loop(
    storage: Storage,
    journal: Option<Arc<std::sync::Mutex<Journal>>>,
    mut rx: mpsc::Receiver<Job>,
    metrics: DbMetrics,
    retry_max: Duration,
    stop: CancellationToken,
    grace: Duration,
) {
    let mut results: VecDeque<MatchRecord> = VecDeque::new();
    let mut seen: VecDeque<(String, String)> = VecDeque::new();
    match storage.pending().await {
        Ok(p) if !p.is_empty() => {
            info!(
                results = p.len(),
                "writing results left in the outbox by the last run"
            );
            metrics.queued.inc_by(p.len() as i64);
            results.extend(p);
        }
        Ok(_) => {}
        Err(e) => warn!(error = %e, "cannot read the outbox"),
    }
    let retry_min = Duration::from_millis(100);
    let mut backoff = retry_min;
    let mut stopping_at: Option<tokio::time::Instant> = None;
    loop {
        // Take everything queued: results go into the outbox at once (durable from then on).
        while let Ok(job) = rx.try_recv() {
            take(&storage, &journal, job, &mut results, &mut seen).await;
        }
        if stopping_at.is_none() && stop.is_cancelled() {
            rx.close();
            while let Some(job) = rx.recv().await {
                take(&storage, &journal, job, &mut results, &mut seen).await;
            }
            stopping_at = Some(tokio::time::Instant::now() + grace);
        }
        if let Some(at) = stopping_at
            && (tokio::time::Instant::now() >= at || (results.is_empty() && seen.is_empty()))
        {
            if !results.is_empty() {
                warn!(
                    results = results.len(),
                    "shutting down with results not written: they stay in the outbox"
                );
            }
            return;
        }
        if results.is_empty() && seen.is_empty() {
            tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => take(&storage, &journal, job, &mut results, &mut seen).await,
                    None => return,
                },
                _ = stop.cancelled(), if stopping_at.is_none() => {}
                _ = tokio::time::sleep(PING_INTERVAL) => {
                    let up = storage.ping().await;
                    if up != (metrics.up.get() == 1) {
                        if up {
                            info!("the database is back");
                        } else {
                            warn!(db = %storage.target(), "the database is not answering");
                        }
                    }
                    metrics.up.set(i64::from(up));
                }
            }
            continue;
        }
        let outcome = if let Some(m) = results.front() {
            storage.deliver(m).await.map(|_| true)
        } else {
            let (p, n) = seen.front().expect("one of the two is not empty");
            storage.seen(p, n).await.map(|_| false)
        };
        match outcome {
            Ok(was_result) => {
                if was_result {
                    results.pop_front();
                    metrics.results_written.inc();
                    metrics.queued.dec();
                } else {
                    seen.pop_front();
                }
                if metrics.up.get() == 0 {
                    info!("the database is back");
                }
                metrics.up.set(1);
                backoff = retry_min;
            }
            Err(e) => {
                metrics.write_failures.inc();
                if metrics.up.get() == 1 {
                    warn!(error = %e, db = %storage.target(), queued = results.len(), "database write failed; retrying (games go on)");
                }
                metrics.up.set(0);
                let wait = tokio::time::sleep(backoff);
                tokio::select! {
                    _ = wait => {}
                    _ = stop.cancelled(), if stopping_at.is_none() => {}
                }
                backoff = (backoff * 2).min(retry_max.max(retry_min));
            }
        }
    }
}

async fn take(
    storage: &Storage,
    journal: &Option<Arc<std::sync::Mutex<Journal>>>,
    job: Job,
    results: &mut VecDeque<MatchRecord>,
    seen: &mut VecDeque<(String, String)>,
) {
    match job {
        Job::Seen { player, name } => {
            // Only the latest visit of a player matters; the queue stays small.
            if seen.len() < 10_000 {
                seen.push_back((player, name));
            }
        }
        Job::Result(m) => {
            match storage.enqueue(&m).await {
                Ok(()) => {
                    if let Some(j) = journal {
                        let mut j = j.lock().unwrap_or_else(|e| e.into_inner());
                        j.taken += 1;
                        // Everything appended is in the outbox now: empty the journal (under
                        // the lock, so no room appends in between).
                        if j.taken >= j.appended {
                            if let Err(e) = j.file.set_len(0) {
                                warn!(error = %e, "cannot empty the journal");
                            }
                            (j.appended, j.taken) = (0, 0);
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, match_id = %m.match_id, "cannot put a result in the outbox; it stays in the journal and in memory")
                }
            }
            results.push_back(m);
        }
    }
}
