//! The background: the flush thread, the sticky background error, and
//! backpressure on writers.
//!
//! # Errors stick
//!
//! A flush whose table could not be written is retried (the table writer
//! removes its partial file, and nothing was recorded). Anything else that
//! fails in the background — a manifest write, a table that fails its
//! check, a WAL append or sync, a panic of a background thread — leaves
//! the database in a state only recovery can judge, so the first such
//! error is kept: from then on every write, flush and compaction returns
//! it (LevelDB's `bg_error_`), reads go on, and reopening the database
//! recovers.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lsmkit_sstable::SeqNo;

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::keyspace::Tree;
use crate::stats::Counters;
use crate::version::Frozen;

/// How often a failed flush or compaction is tried before its error
/// sticks.
const ATTEMPTS: u32 = 3;
/// The pause before the first retry; it doubles each time.
const RETRY_PAUSE: Duration = Duration::from_millis(10);
/// How long a slowed write sleeps.
const SLOWDOWN: Duration = Duration::from_millis(1);

/// Locks `mutex`, going on if a thread panicked while holding it: every
/// value the engine keeps under a lock is consistent between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct State {
    error: Option<Error>,
    shutdown: bool,
    /// Open [`WriterGate`]s: writers wait while there is one.
    gates: usize,
}

/// While held, writers wait in [`Background::throttle`] (an ingestion
/// needs the memtables to stay empty); dropping it lets them go.
#[derive(Debug)]
pub(crate) struct WriterGate<'a>(&'a Background);

impl Drop for WriterGate<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).gates -= 1;
        self.0.notify();
    }
}

/// The background state and the condition variable every wait uses:
/// writers stalled by backpressure, callers of `flush`, and the background
/// threads waiting for work.
#[derive(Debug, Default)]
pub(crate) struct Background {
    state: Mutex<State>,
    cond: Condvar,
}

impl Background {
    /// Wakes everyone waiting: work was queued, finished, or failed.
    pub fn notify(&self) {
        let _guard = lock(&self.state);
        self.cond.notify_all();
    }

    /// Keeps `error` as the background error, if there is none yet, and
    /// returns it (for `map_err`).
    pub fn set_error(&self, error: Error) -> Error {
        let mut state = lock(&self.state);
        let kept = state.error.get_or_insert(error).clone();
        self.cond.notify_all();
        kept
    }

    /// The background error, if any.
    pub fn check_error(&self) -> Result<()> {
        match &lock(&self.state).error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Holds new writers back until the returned gate is dropped. Writers
    /// already past [`throttle`](Self::throttle) go on.
    pub fn hold_writers(&self) -> WriterGate<'_> {
        lock(&self.state).gates += 1;
        WriterGate(self)
    }

    /// Fails when the database is read-only (background error) or closed.
    pub fn check(&self) -> Result<()> {
        let state = lock(&self.state);
        match &state.error {
            Some(error) => Err(error.clone()),
            None if state.shutdown => Err(Error::Closed),
            None => Ok(()),
        }
    }

    pub fn shut_down(&self) {
        let mut state = lock(&self.state);
        state.shutdown = true;
        self.cond.notify_all();
    }

    /// Slows or stops the calling writer while the background is behind,
    /// or while a [`WriterGate`] is held:
    /// stops while `max_immutable_memtables` frozen memtables wait (or the
    /// runs reach `runs_stop_trigger`); sleeps once when a flush is running
    /// and one more memtable switch would stop writers (or the runs reach
    /// `runs_slowdown_trigger`).
    pub fn throttle(&self, inner: &Inner) -> Result<()> {
        let options = &inner.options;
        let runs_count = options.auto_compaction;
        let started = Instant::now();
        let mut stopped = false;
        let mut state = lock(&self.state);
        loop {
            if let Some(error) = &state.error {
                return Err(error.clone());
            }
            if state.shutdown {
                return Err(Error::Closed);
            }
            // The keyspace furthest behind sets the pace.
            let (mut frozen, mut runs, mut memtables_behind) = (0, 0, false);
            let mut memtable_bytes = 0;
            inner.trees.each(|tree| {
                let version = lock(&tree.version);
                let waiting = version.frozen.len();
                frozen = frozen.max(waiting);
                runs = runs.max(version.runs.len());
                // Slowing down helps only a flush that is running: with
                // none, it would only delay the switch that starts one.
                let almost_full =
                    version.mem.approximate_memory() >= tree.options.write_buffer_size / 10 * 9;
                memtables_behind |=
                    waiting > 0 && waiting + 1 >= options.max_immutable_memtables && almost_full;
                if options.db_write_buffer_size > 0 {
                    memtable_bytes += version.memory();
                }
            });
            // Over the database's memtable budget with a flush on its way
            // (the write that crossed it switched a memtable): wait for it.
            let over_budget = options.db_write_buffer_size > 0
                && frozen > 0
                && memtable_bytes >= options.db_write_buffer_size;
            if state.gates > 0
                || over_budget
                || frozen >= options.max_immutable_memtables
                || (runs_count && runs >= options.runs_stop_trigger)
            {
                stopped = true;
                state = self
                    .cond
                    .wait_timeout(state, Duration::from_millis(100))
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0;
                continue;
            }
            let slow = memtables_behind || (runs_count && runs >= options.runs_slowdown_trigger);
            drop(state);
            if stopped {
                Counters::add(&inner.counters.stops, 1);
            } else if slow {
                std::thread::sleep(SLOWDOWN);
                Counters::add(&inner.counters.slowdowns, 1);
            }
            if stopped || slow {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                Counters::add(&inner.counters.stall_micros, micros);
            }
            return Ok(());
        }
    }

    /// Waits until no frozen memtable is left, or fails with the
    /// background error.
    pub fn wait_flushed(&self, inner: &Inner) -> Result<()> {
        self.wait_until(|| no_frozen(inner))
    }

    /// Waits until every write up to `seqno` is in a table: no frozen
    /// memtable holding one is left. REQUIRES: the memtable holding
    /// `seqno`, if any, was switched before the call. Frozen memtables
    /// switched later (by writers going on) are not waited for.
    pub fn wait_flushed_through(&self, inner: &Inner, seqno: SeqNo) -> Result<()> {
        self.wait_until(|| {
            inner
                .trees
                .all()
                .iter()
                .all(|t| t.current().frozen.iter().all(|f| f.first_seqno > seqno))
        })
    }

    /// Waits until no frozen memtable is left and the compaction thread
    /// has nothing to do, or fails with the background error. A running
    /// compaction leaves the picker's answer as it was until it installs
    /// its output, so "nothing to pick" means none is running either.
    pub fn wait_settled(&self, inner: &Inner) -> Result<()> {
        self.wait_until(|| no_frozen(inner) && !crate::compact::pending(inner))
    }

    /// Waits until `done` holds (checked each time the background
    /// signals), or fails with the background error.
    pub fn wait_until(&self, mut done: impl FnMut() -> bool) -> Result<()> {
        let mut state = lock(&self.state);
        loop {
            if let Some(error) = &state.error {
                return Err(error.clone());
            }
            if done() {
                return Ok(());
            }
            if state.shutdown {
                return Err(Error::Closed);
            }
            state = self
                .cond
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Waits for work: returns `None` on shutdown or after a background
    /// error, otherwise whatever `work` finds, checked under the lock each
    /// time the condition is signalled.
    pub fn wait_for<T>(&self, mut work: impl FnMut() -> Option<T>) -> Option<T> {
        let mut state = lock(&self.state);
        loop {
            if state.shutdown || state.error.is_some() {
                return None;
            }
            if let Some(job) = work() {
                return Some(job);
            }
            state = self
                .cond
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Whether no keyspace has a frozen memtable waiting for its flush.
fn no_frozen(inner: &Inner) -> bool {
    let mut none = true;
    inner
        .trees
        .each(|tree| none &= lock(&tree.version).frozen.is_empty());
    none
}

/// Starts the background threads.
pub(crate) fn start(inner: &Arc<Inner>) -> Result<Vec<JoinHandle<()>>> {
    let mut threads = Vec::new();
    let flusher = Arc::clone(inner);
    threads.push(
        std::thread::Builder::new()
            .name("lsmkit-flush".into())
            .spawn(move || flush_loop(&flusher))
            .map_err(|e| Error::io(&inner.dir, e))?,
    );
    threads.extend(crate::compact::start(inner)?);
    if inner.options.wal_bytes_per_sync > 0 {
        let syncer = Arc::clone(inner);
        threads.push(
            std::thread::Builder::new()
                .name("lsmkit-wal-sync".into())
                .spawn(move || wal_sync_loop(&syncer))
                .map_err(|e| Error::io(&inner.dir, e))?,
        );
    }
    Ok(threads)
}

/// Syncs the WAL each time `wal_bytes_per_sync` more bytes were appended,
/// until shutdown. The sync runs outside the WAL's writer lock, so
/// writers go on meanwhile; a failed sync is the background error (the
/// WAL keeps it too, and fails the appends after it).
fn wal_sync_loop(inner: &Inner) {
    let _stick = StickOnPanic {
        bg: &inner.bg,
        thread: "wal sync",
    };
    let every = inner.options.wal_bytes_per_sync.max(1);
    let epoch = || inner.counters.wal_bytes.load(Ordering::Relaxed) / every;
    // From 0, not from `epoch()`: writes may come before this thread runs.
    let mut synced = 0;
    while let Some(now) = inner.bg.wait_for(|| Some(epoch()).filter(|&e| e > synced)) {
        if let Err(error) = inner.wal.sync() {
            inner.bg.set_error(error.into());
        }
        synced = now;
    }
}

/// Makes a panic of the background thread that holds it the background
/// error, so that writers and `flush` waiting for that thread's work fail
/// instead of waiting for ever.
pub(crate) struct StickOnPanic<'a> {
    pub bg: &'a Background,
    pub thread: &'static str,
}

impl Drop for StickOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.bg.set_error(Error::BackgroundPanic {
                thread: self.thread,
            });
        }
    }
}

/// Flushes frozen memtables, oldest first, until shutdown.
fn flush_loop(inner: &Inner) {
    let _stick = StickOnPanic {
        bg: &inner.bg,
        thread: "flush",
    };
    while let Some((tree, frozen)) = inner.bg.wait_for(|| oldest_frozen(inner)) {
        if let Err(error) = with_retries(inner, || crate::flush::flush(inner, &tree, &frozen)) {
            inner.bg.set_error(error);
        }
        inner.bg.notify();
    }
}

/// The oldest frozen memtable of any keyspace, with its tree: flushed
/// first, it lets the WAL's low-water mark move on soonest.
fn oldest_frozen(inner: &Inner) -> Option<(Arc<Tree>, Arc<Frozen>)> {
    inner
        .trees
        .all()
        .into_iter()
        .filter_map(|tree| {
            let frozen = tree.current().frozen.last().cloned()?;
            Some((tree, frozen))
        })
        .min_by_key(|(_, frozen)| frozen.first_seqno)
}

/// Runs `job` until it succeeds, fails in a way that is not safe to retry,
/// or has failed [`ATTEMPTS`] times, pausing between tries (the pause
/// doubles) and counting each retry.
pub(crate) fn with_retries(
    inner: &Inner,
    mut job: impl FnMut() -> Result<(), Retry>,
) -> Result<()> {
    let mut attempt = 1;
    loop {
        match job() {
            Ok(()) => return Ok(()),
            Err(Retry::Yes(_)) if attempt < ATTEMPTS => {
                Counters::add(&inner.counters.background_retries, 1);
                std::thread::sleep(RETRY_PAUSE * 2u32.pow(attempt - 1));
                attempt += 1;
            }
            Err(Retry::Yes(error) | Retry::No(error)) => return Err(error),
        }
    }
}

/// A failed background job: whether trying it again is safe.
#[derive(Debug)]
pub(crate) enum Retry {
    /// Nothing was recorded: the job may run again.
    Yes(Error),
    /// The manifest or the WAL may hold part of the job's effect.
    No(Error),
}
