//! The crash-test runner: real processes killed with SIGKILL while they
//! write, a thousand times if asked.
//!
//! Each cycle, a child process (this test binary run again, as the ignored
//! test `child_runs_workload`) opens the database on the real filesystem
//! and runs 2 to 4 writer threads. Each thread owns a key space
//! (`t<thread>/k<nn>`) and writes a seeded sequence of batches into it:
//! single puts, deletes and range deletes through `Db::put`, `delete` and
//! `delete_range`, and batches of up to six of them, a quarter durable, the
//! rest buffered. The write buffer is small, so flushes, compactions,
//! manifest rewrites and WAL rotations happen every few hundred writes.
//! After each write returns, the thread reports `@ack <thread> <batch>` on
//! the child's stdout, a pipe the parent reads.
//!
//! The parent kills the child with SIGKILL, either at a seeded random
//! moment, or at a *kill point*: the child's filesystem wrapper
//! ([`ReportingFs`]) stops the thread that makes the n-th call of one kind
//! (a table created, a table synced, a table renamed into place, a manifest
//! created, CURRENT renamed, a WAL segment synced, a file removed) and
//! reports `@armed`; the parent kills on that line, so the child dies in the
//! middle of that flush, compaction or manifest rewrite while its other
//! threads write on.
//!
//! Then the parent reopens the database and checks:
//! - every batch whose call returned is there, durable or buffered (a
//!   SIGKILL is a crash of the process, not a power loss, so even buffered
//!   writes must survive it once acknowledged);
//! - each thread's key space equals its state before the cycle with a
//!   prefix of that thread's batches applied: no partial batch, no batch
//!   whose same-thread predecessor is missing, nothing resurrected; the
//!   prefix ends at the last acknowledged batch or one after it (the batch
//!   in flight at the kill);
//! - forward and reverse scans and point reads agree.
//!
//! What it recovered becomes the starting state of the next cycle, on the
//! same database.
//!
//! # Environment
//!
//! - `LSMKIT_KILL_CYCLES` (default 4): how many children to kill. CI runs
//!   20; `docs/TESTING.md` has the figures of a 1,000-cycle run.
//! - `LSMKIT_KILL_SEED` (default 0x5161): the seed of the whole run (kill
//!   modes, times, workloads); a failure prints it with the cycle.
//! - `LSMKIT_KILL_CHILD_*`: set by the parent for the child; not for people.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{Model, Rng, Write, apply, batch_of, env_number};
use lsmkit_engine::{Db, Options, TieredOptions, WriteOptions};
use lsmkit_vfs::{FileLock, Fs, RandomAccessFile, StdFs, WritableFile};

const CHILD_DIR: &str = "LSMKIT_KILL_CHILD_DIR";
const CHILD_CYCLE: &str = "LSMKIT_KILL_CHILD_CYCLE";
const CHILD_SEED: &str = "LSMKIT_KILL_CHILD_SEED";
const CHILD_THREADS: &str = "LSMKIT_KILL_CHILD_THREADS";
const CHILD_KILL_POINT: &str = "LSMKIT_KILL_CHILD_POINT";
const CHILD_KILL_NTH: &str = "LSMKIT_KILL_CHILD_NTH";

/// At most this many writer threads; each owns the keys `t<thread>/...`.
const MAX_THREADS: u64 = 4;
/// Keys per thread: few, so versions and tombstones pile up.
const KEYS_PER_THREAD: u64 = 40;

fn options(fs: Arc<dyn Fs>) -> Options {
    Options::default()
        .fs(fs)
        .write_buffer_size(16 << 10)
        .block_size(512)
        .compaction(TieredOptions {
            trigger_runs: 3,
            target_file_size: 8 << 10,
            ..TieredOptions::default()
        })
        .max_manifest_size(1 << 10)
}

/// The calls of the child's filesystem that a kill can be aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KillPoint {
    /// A table file was just created (a flush or compaction begins).
    TableCreate,
    /// A table file was just synced (written, not yet renamed).
    TableSync,
    /// A finished table is about to be renamed into place.
    TableRename,
    /// A new manifest was just created (a manifest rewrite, or an open).
    ManifestCreate,
    /// CURRENT is about to be switched to a new manifest.
    CurrentRename,
    /// A WAL segment is about to be synced (a durable write in flight).
    WalSync,
    /// An obsolete file is about to be removed.
    Remove,
}

const KILL_POINTS: [KillPoint; 7] = [
    KillPoint::TableCreate,
    KillPoint::TableSync,
    KillPoint::TableRename,
    KillPoint::ManifestCreate,
    KillPoint::CurrentRename,
    KillPoint::WalSync,
    KillPoint::Remove,
];

impl KillPoint {
    fn index(self) -> usize {
        KILL_POINTS.iter().position(|&p| p == self).unwrap()
    }
}

fn name_of(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn is_table(path: &Path) -> bool {
    let name = name_of(path);
    name.ends_with(".sst") || name.ends_with(".sst.tmp")
}

/// The child's filesystem: [`StdFs`], except that the `nth` call of kind
/// `point` reports `@armed` on stdout and never returns, so that the
/// parent's SIGKILL lands there.
#[derive(Debug)]
struct ReportingFs {
    inner: StdFs,
    point: Option<KillPoint>,
    nth: u64,
    seen: AtomicU64,
}

impl ReportingFs {
    fn reached(&self, point: KillPoint, path: &Path) {
        if self.point == Some(point) && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            let mut out = io::stdout().lock();
            writeln!(out, "@armed {point:?} {}", path.display()).unwrap();
            out.flush().unwrap();
            drop(out);
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
    }
}

#[derive(Debug)]
struct ReportingFile {
    inner: Box<dyn WritableFile>,
    fs: Arc<ReportingFs>,
    path: std::path::PathBuf,
}

impl WritableFile for ReportingFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.append(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        let wal = self.path.extension().is_some_and(|e| e == "wal");
        if wal {
            self.fs.reached(KillPoint::WalSync, &self.path);
        }
        self.inner.sync()?;
        if is_table(&self.path) {
            self.fs.reached(KillPoint::TableSync, &self.path);
        }
        Ok(())
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.inner.preallocate(len)
    }

    fn release_reserve(&mut self) -> io::Result<()> {
        self.inner.release_reserve()
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }
}

/// `Fs` for an `Arc<ReportingFs>`, so that its files can hold it.
#[derive(Debug, Clone)]
struct Reporting(Arc<ReportingFs>);

impl Fs for Reporting {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = self.0.inner.create(path)?;
        if is_table(path) {
            self.0.reached(KillPoint::TableCreate, path);
        }
        if name_of(path).starts_with("MANIFEST-") {
            self.0.reached(KillPoint::ManifestCreate, path);
        }
        Ok(Box::new(ReportingFile {
            inner: file,
            fs: Arc::clone(&self.0),
            path: path.to_path_buf(),
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(Box::new(ReportingFile {
            inner: self.0.inner.open_append(path)?,
            fs: Arc::clone(&self.0),
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.0.inner.open(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if is_table(to) {
            self.0.reached(KillPoint::TableRename, to);
        }
        if name_of(to) == "CURRENT" {
            self.0.reached(KillPoint::CurrentRename, to);
        }
        self.0.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.reached(KillPoint::Remove, path);
        self.0.inner.remove(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.0.inner.truncate(path, len)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.0.inner.list(dir)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.0.inner.create_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.inner.sync_dir(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.0.inner.exists(path)
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        self.0.inner.size(path)
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        self.0.inner.lock(path)
    }
}

fn thread_key(thread: u64, i: u64) -> Vec<u8> {
    format!("t{thread}/k{i:02}").into_bytes()
}

/// Batch `i` of `thread` in `cycle`: its writes and whether it is durable,
/// drawn from the run's seed, so that the parent knows what the child
/// wrote from the acknowledgements alone.
fn thread_batch(seed: u64, cycle: u64, thread: u64, i: u64) -> (Vec<Write>, bool) {
    let mut rng = Rng::new(seed ^ (cycle << 40) ^ (thread << 32) ^ i);
    rng.next_u64();
    let n = if rng.chance(40) { 2 + rng.below(5) } else { 1 };
    let writes = (0..n)
        .map(|op| match rng.below(20) {
            0..=13 => {
                let pad = rng.below(200) as usize;
                Write::Put(
                    thread_key(thread, rng.below(KEYS_PER_THREAD)),
                    format!("c{cycle}.t{thread}.b{i}.{op}-{}", "x".repeat(pad)).into_bytes(),
                )
            }
            14..=17 => Write::Delete(thread_key(thread, rng.below(KEYS_PER_THREAD))),
            _ => {
                let start = rng.below(KEYS_PER_THREAD);
                let end = (start + 1 + rng.below(5)).min(KEYS_PER_THREAD);
                Write::DeleteRange(thread_key(thread, start), thread_key(thread, end))
            }
        })
        .collect();
    (writes, rng.chance(25))
}

/// Writes `writes` the way a user would: a lone buffered write through
/// `put`, `delete` or `delete_range`, anything else as a batch.
fn write(db: &Db, writes: &[Write], durable: bool) -> lsmkit_engine::Result<()> {
    match writes {
        [Write::Put(k, v)] if !durable => db.put(k, v),
        [Write::Delete(k)] if !durable => db.delete(k),
        [Write::DeleteRange(a, b)] if !durable => db.delete_range(a..b),
        _ => {
            let how = if durable {
                WriteOptions::durable()
            } else {
                WriteOptions::buffered()
            };
            db.write_with(batch_of(writes), how)
        }
    }
}

#[test]
#[ignore = "the child process of the kill test"]
fn child_runs_workload() {
    let dir = std::env::var(CHILD_DIR).expect("run by sigkill_cycles_lose_no_acknowledged_write");
    let cycle = env_number(CHILD_CYCLE, 0);
    let seed = env_number(CHILD_SEED, 0);
    let threads = env_number(CHILD_THREADS, 2);
    let point = std::env::var(CHILD_KILL_POINT)
        .ok()
        .map(|p| KILL_POINTS[p.parse::<usize>().unwrap()]);
    let fs = Reporting(Arc::new(ReportingFs {
        inner: StdFs::new(),
        point,
        nth: env_number(CHILD_KILL_NTH, 1),
        seen: AtomicU64::new(0),
    }));
    let db = Arc::new(Db::open(&dir, options(Arc::new(fs))).unwrap());
    let out = Arc::new(Mutex::new(io::stdout()));
    {
        let mut out = out.lock().unwrap();
        writeln!(out, "@ready").unwrap();
        out.flush().unwrap();
    }
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let db = Arc::clone(&db);
            let out = Arc::clone(&out);
            std::thread::spawn(move || {
                for i in 0.. {
                    let (writes, durable) = thread_batch(seed, cycle, thread, i);
                    if let Err(e) = write(&db, &writes, durable) {
                        die(&format!("thread {thread}: write {i}: {e}"));
                    }
                    let mut out = out.lock().unwrap();
                    writeln!(out, "@ack {thread} {i}").unwrap();
                    out.flush().unwrap();
                    drop(out);
                    // Now and then a flush or a full compaction on demand,
                    // racing the background ones.
                    if thread == 0 && i % 500 == 499 {
                        let done = if i % 1500 == 1499 {
                            db.compact()
                        } else {
                            db.flush()
                        };
                        if let Err(e) = done {
                            die(&format!("thread {thread}: flush or compaction: {e}"));
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

/// Ends the child at once on an error, so that the parent sees it exit
/// on its own (a panicking thread would leave the others writing).
fn die(what: &str) -> ! {
    eprintln!("child: {what}");
    std::process::exit(2)
}

/// What the parent saw of one child.
#[derive(Debug, Default)]
struct ChildRun {
    /// Per thread, how many batches were acknowledged.
    acked: BTreeMap<u64, u64>,
    /// The kill point the child reached, if it was aimed at one.
    armed: Option<String>,
}

enum Event {
    Ready,
    Armed,
}

/// How a cycle's child is killed.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// This many milliseconds after the child opened the database.
    After(u64),
    /// At the `nth` call of `point`, or after two seconds if it never comes.
    At(KillPoint, u64),
}

fn run_and_kill(dir: &Path, seed: u64, cycle: u64, threads: u64, kill: Kill) -> ChildRun {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_runs_workload",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_CYCLE, cycle.to_string())
        .env(CHILD_SEED, seed.to_string())
        .env(CHILD_THREADS, threads.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Kill::At(point, nth) = kill {
        command
            .env(CHILD_KILL_POINT, point.index().to_string())
            .env(CHILD_KILL_NTH, nth.to_string());
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (events, receive) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut run = ChildRun::default();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            // The test harness may print before a message on its line.
            let Some((_, line)) = line.split_once('@') else {
                continue;
            };
            if let Some(rest) = line.strip_prefix("ack ") {
                let (thread, i) = rest.split_once(' ').unwrap();
                let (thread, i): (u64, u64) = (thread.parse().unwrap(), i.parse().unwrap());
                let acked = run.acked.entry(thread).or_default();
                assert_eq!(*acked, i, "thread {thread} acknowledged out of order");
                *acked = i + 1;
            } else if line == "ready" {
                let _ = events.send(Event::Ready);
            } else if let Some(rest) = line.strip_prefix("armed ") {
                run.armed = Some(rest.to_string());
                let _ = events.send(Event::Armed);
            }
        }
        run
    });
    // A kill point may come while the child opens the database, before
    // it is ready.
    if let Ok(Event::Ready) = receive.recv_timeout(Duration::from_secs(60)) {
        match kill {
            Kill::After(millis) => std::thread::sleep(Duration::from_millis(millis)),
            Kill::At(..) => {
                let _ = receive.recv_timeout(Duration::from_secs(2));
            }
        }
    }
    // SIGKILL on Unix: no destructor, no close, no final sync.
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let run = reader.join().unwrap();
    if !still_running {
        let mut stderr = String::new();
        io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        panic!("child {cycle} exited on its own ({status}): {stderr}");
    }
    run
}

/// Every key of `thread` in `model`.
fn thread_part(model: &Model, thread: u64) -> Model {
    let prefix = format!("t{thread}/").into_bytes();
    model
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Reads the whole database three ways and checks that they agree.
fn read_all(db: &Db, context: &str) -> Model {
    let forward: Model = db
        .iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{context}: scan: {e}"));
    let mut backward: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter()
        .rev()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{context}: reverse scan: {e}"));
    backward.reverse();
    assert!(
        backward.into_iter().eq(forward.clone()),
        "{context}: the reverse scan disagrees with the forward one"
    );
    for thread in 0..MAX_THREADS {
        for i in 0..KEYS_PER_THREAD {
            let k = thread_key(thread, i);
            let got = db.get(&k).unwrap_or_else(|e| panic!("{context}: get: {e}"));
            assert_eq!(got.as_ref(), forward.get(&k), "{context}: get disagrees");
        }
    }
    forward
}

/// Figures of a run, printed at its end.
#[derive(Debug, Default)]
struct Tally {
    batches_acked: u64,
    durable_acked: u64,
    /// Batches in flight at a kill that recovery kept.
    in_flight_kept: u64,
    /// Kills that landed on the kill point they were aimed at, by point.
    aimed_hits: BTreeMap<KillPoint, u64>,
    aimed_missed: u64,
    random_kills: u64,
}

#[test]
fn sigkill_cycles_lose_no_acknowledged_write() {
    let cycles = env_number("LSMKIT_KILL_CYCLES", 4);
    let seed = env_number("LSMKIT_KILL_SEED", 0x5161);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    // The database as the last recovery found it, checked.
    let mut base = Model::new();
    for cycle in 0..cycles {
        let threads = 2 + rng.below(MAX_THREADS - 1);
        let kill = if rng.chance(50) {
            Kill::After(10 + rng.below(400))
        } else {
            let point = KILL_POINTS[rng.below(KILL_POINTS.len() as u64) as usize];
            Kill::At(point, 1 + rng.below(3))
        };
        let context = format!("seed {seed:#x}, cycle {cycle} ({threads} threads, kill {kill:?})");
        let run = run_and_kill(dir.path(), seed, cycle, threads, kill);
        match (kill, &run.armed) {
            (Kill::At(point, _), Some(_)) => *tally.aimed_hits.entry(point).or_default() += 1,
            (Kill::At(..), None) => tally.aimed_missed += 1,
            (Kill::After(_), _) => tally.random_kills += 1,
        }

        let db = Db::open(dir.path(), options(Arc::new(StdFs::new())))
            .unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
        let found = read_all(&db, &context);
        for thread in 0..MAX_THREADS {
            let acked = run.acked.get(&thread).copied().unwrap_or(0);
            let mut state = thread_part(&base, thread);
            let recovered = thread_part(&found, thread);
            // Thread states after 0, 1, ... of its batches; only those
            // from `acked` on may be what recovery found.
            let mut matched = None;
            for p in 0..=acked + 1 {
                if p >= acked && state == recovered {
                    matched = Some(p);
                    break;
                }
                if thread >= threads {
                    break;
                }
                let (writes, durable) = thread_batch(seed, cycle, thread, p);
                if p < acked {
                    tally.batches_acked += 1;
                    tally.durable_acked += u64::from(durable);
                }
                for w in &writes {
                    apply(&mut state, w);
                }
            }
            let Some(p) = matched else {
                panic!(
                    "{context}: thread {thread}'s keys are no prefix of its batches from the \
                     last acknowledged one ({acked} acknowledged, armed at {:?}); recovered {:?}",
                    run.armed,
                    recovered
                        .keys()
                        .map(|k| String::from_utf8_lossy(k))
                        .collect::<Vec<_>>()
                );
            };
            tally.in_flight_kept += p - acked;
        }
        base = found;
        db.close()
            .unwrap_or_else(|e| panic!("{context}: close: {e}"));
    }
    let elapsed = started.elapsed();
    eprintln!(
        "kill cycles: {cycles} (seed {seed:#x}); batches acknowledged: {} ({} durable); \
         acknowledged batches lost: 0; in-flight batches kept: {}; random kills: {}; \
         aimed kills that hit: {:?}; aimed kills whose point never came: {}; time: {:.1} s",
        tally.batches_acked,
        tally.durable_acked,
        tally.in_flight_kept,
        tally.random_kills,
        tally.aimed_hits,
        tally.aimed_missed,
        elapsed.as_secs_f64()
    );
    assert!(
        tally.batches_acked > 0,
        "no child acknowledged a batch before it was killed"
    );
}
