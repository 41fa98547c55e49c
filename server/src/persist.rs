//! What players earn, kept: the server's side of [`tickwire_storage`].
//!
//! Rooms never wait for the database. A room task hands each finished match
//! ([`tickwire_engine::MatchResult`], turned into a [`MatchRecord`] with the players'
//! identities) and each player seen to [`Persist::submit`], which only puts it on a bounded
//! channel (`--db-queue`; full: dropped, counted and logged). One writer task, off every tick,
//! takes them: a result goes into the outbox first (durable from then on, whatever happens to
//! the process or the database), then is written in one transaction keyed by its match id,
//! retried with capped exponential backoff (`--db-retry-max`) for as long as the database is
//! away. Results left in the outbox by a killed process are written on the next start; a
//! result written already is not counted again.
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

/// The database and its writer, shared by every room.
pub struct Persist {
    storage: Storage,
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
        let storage = Storage::open(&o).await?;
        info!(db = %storage.target(), backend = ?storage.backend(), "database open");
        metrics.up.set(1);
        let (tx, rx) = mpsc::channel(config.db_queue.max(1));
        let boot: u64 = rand::random();
        let persist = Arc::new(Persist {
            storage: storage.clone(),
            tx,
            metrics: metrics.clone(),
            node: config.node_name(),
            season: config.season.clone(),
            boot: format!("{boot:016x}"),
        });
        let stop = CancellationToken::new();
        let handle = tokio::spawn(write_loop(
            storage,
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
                    warn!(error = %e, "database queue full (--db-queue): a match result is lost");
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

async fn write_loop(
    storage: Storage,
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
            take(&storage, job, &mut results, &mut seen).await;
        }
        if stopping_at.is_none() && stop.is_cancelled() {
            rx.close();
            while let Some(job) = rx.recv().await {
                take(&storage, job, &mut results, &mut seen).await;
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
                    Some(job) => take(&storage, job, &mut results, &mut seen).await,
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
            if let Err(e) = storage.enqueue(&m).await {
                warn!(error = %e, match_id = %m.match_id, "cannot put a result in the outbox; keeping it in memory");
            }
            results.push_back(m);
        }
    }
}
