//! Crash tests on `MemFs`: power losses at random moments of random
//! workloads, at every mutating filesystem call of a workload (where a
//! read-only open of each crash state must make no mutating call and
//! answer as a read-write open does), and during the recovery that
//! follows one; torn crashes of buffered writes across WAL
//! segments; and crash after crash on the recovered database, where what a
//! recovery found must stay found. After each, the reopened database must
//! hold the state after a prefix of the acknowledged batches that keeps
//! every durable one (see `common` for the check).
//!
//! The write buffer, compaction trigger and manifest limit are tiny, so
//! that crashes land in the middle of flushes, compactions and manifest
//! rewrites, not only between writes.
//!
//! # Environment
//!
//! - `LSMKIT_CRASH_DEPTH` (default 1): scales every test here. The random
//!   test runs `8 × depth` seeds; the every-call test runs a workload of
//!   `70 × depth` steps (its cost grows with the square: depth 1 takes
//!   about 10 s in debug, depth 2 about 50 s, depth 4 well over 15 min)
//!   and crashes the recovery at `3 × depth` points of every fifth crash;
//!   the torn and repeated-crash tests try `8 × depth` and `4 × depth`
//!   seeds.
//! - `LSMKIT_CRASH_SEED`: runs the random test for this one seed only (a
//!   failure prints its seed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod styles;

use std::path::Path;
use std::sync::Arc;

use common::{DIR, History, Rng, Step, check_prefix, contents, env_number, run, small_options};
use lsmkit_engine::{CompactionStyle, Db, Options};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Op, Rule};

fn depth() -> u64 {
    env_number("LSMKIT_CRASH_DEPTH", 1).max(1)
}

fn options(fs: &MemFs) -> Options {
    small_options(Arc::new(fs.clone()))
}

/// The small options under `style`; leveled with a tiny tree, so that
/// crashes land in L0 compactions and in moves between levels.
fn styled(fs: Arc<dyn Fs>, style: CompactionStyle) -> Options {
    small_options(fs)
        .compaction_style(style)
        .leveled_compaction(styles::tiny_leveled())
}

fn manifest_numbers(fs: &MemFs) -> Vec<String> {
    fs.list(Path::new(DIR))
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with("MANIFEST-"))
        .collect()
}

/// Reopens the crashed filesystem `fs`, checks the recovered state against
/// `history`, then checks that the database takes writes and that a clean
/// close and reopen keeps all of it. Returns the prefix length.
fn recover_and_check(fs: &MemFs, history: &History, context: &str) -> usize {
    recover_and_check_as(fs, history, context, CompactionStyle::Tiered)
}

/// [`recover_and_check`] with the database opened under `style`.
fn recover_and_check_as(
    fs: &MemFs,
    history: &History,
    context: &str,
    style: CompactionStyle,
) -> usize {
    let options = |fs: &MemFs| styled(Arc::new(fs.clone()), style);
    let db = Db::open(DIR, options(fs)).unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
    let p = check_prefix(&db, history, context);
    db.put(b"after-recovery", b"yes")
        .unwrap_or_else(|e| panic!("{context}: write after recovery: {e}"));
    let before = contents(&db).unwrap();
    db.close()
        .unwrap_or_else(|e| panic!("{context}: close after recovery: {e}"));
    let db = Db::open(DIR, options(fs)).unwrap_or_else(|e| panic!("{context}: second reopen: {e}"));
    assert_eq!(
        contents(&db).unwrap(),
        before,
        "{context}: a clean close and reopen after recovery changed the contents"
    );
    p
}

/// Opens the crashed filesystem `fs` read-only, through a counting
/// `FaultFs`: it must make no mutating call and take no lock, and answer
/// (scan, every key, last sequence number) as a read-write open of the
/// same state does.
fn read_only_agrees(fs: &MemFs, context: &str, style: CompactionStyle) {
    let counting = FaultFs::new(fs.crash_clone());
    if !fs.exists(Path::new(DIR)).unwrap() {
        // The disk died before the directory was made: a read-write open
        // would make it, a read-only open refuses.
        let err = Db::open_read_only(DIR, styled(Arc::new(counting.clone()), style)).unwrap_err();
        assert!(
            matches!(err, lsmkit_engine::Error::Io { .. }),
            "{context}: {err}"
        );
        assert_eq!(counting.mutating_count(), 0, "{context}");
        return;
    }
    let read_only = Db::open_read_only(DIR, styled(Arc::new(counting.clone()), style))
        .unwrap_or_else(|e| panic!("{context}: read-only open: {e}"));
    let read_write = Db::open(DIR, styled(Arc::new(fs.crash_clone()), style))
        .unwrap_or_else(|e| panic!("{context}: read-write open: {e}"));
    assert_eq!(
        contents(&read_only).unwrap(),
        contents(&read_write).unwrap(),
        "{context}: read-only and read-write opens disagree"
    );
    for k in common::all_keys() {
        assert_eq!(
            read_only.get(&k).unwrap(),
            read_write.get(&k).unwrap(),
            "{context}: get({})",
            String::from_utf8_lossy(&k)
        );
    }
    assert_eq!(
        read_only.stats().last_seqno,
        read_write.stats().last_seqno,
        "{context}"
    );
    drop(read_only);
    assert_eq!(
        counting.mutating_count(),
        0,
        "{context}: a read-only open made mutating calls"
    );
    assert_eq!(
        counting.count(Op::Lock),
        0,
        "{context}: a read-only open locked"
    );
}

#[test]
fn random_workloads_recover_a_prefix_after_crashes_at_random_moments() {
    let seeds: Vec<u64> = match std::env::var("LSMKIT_CRASH_SEED") {
        Ok(_) => vec![env_number("LSMKIT_CRASH_SEED", 0)],
        Err(_) => (0..8 * depth()).collect(),
    };
    crash_at_random_moments(&seeds, |seed| common::workload(seed, 300, true));
}

/// The random test with merge operands among the writes (fewer seeds: the
/// machinery is the same; what differs is what recovery must fold).
#[test]
fn workloads_with_merges_recover_a_prefix_after_crashes_at_random_moments() {
    let seeds: Vec<u64> = (0..3 * depth()).map(|s| 0x3E76 + s).collect();
    crash_at_random_moments(&seeds, |seed| common::workload_with_merges(seed, 300, true));
}

/// Runs the workload of each seed, crashing after a random 4% of its
/// steps and checking each recovery; asserts that flushes, compactions and
/// manifest rewrites happened.
fn crash_at_random_moments(seeds: &[u64], workload: impl Fn(u64) -> Vec<Step>) {
    let (mut flushes, mut compactions, mut rewrites, mut crashes) = (0, 0, 0, 0);
    for &seed in seeds {
        let fs = MemFs::new();
        let db = Db::open(DIR, options(&fs)).unwrap();
        let steps = workload(seed);
        let mut rng = Rng::new(seed ^ 0xC0FFEE);
        let mut history = History::default();
        let mut manifests = manifest_numbers(&fs);
        for (i, step) in steps.iter().enumerate() {
            run(&db, std::slice::from_ref(step), &mut history)
                .unwrap_or_else(|e| panic!("seed {seed}: step {i}: {e}"));
            let now = manifest_numbers(&fs);
            rewrites += u64::from(now != manifests);
            manifests = now;
            // Crash right after a write, while the background threads may
            // be halfway through a flush, a compaction or a manifest
            // rewrite; torn half the time.
            if rng.chance(4) {
                crashes += 1;
                let torn = rng.chance(50);
                let crash_seed = rng.next_u64();
                let crashed = if torn {
                    fs.crash_clone_torn(crash_seed)
                } else {
                    fs.crash_clone()
                };
                let context = format!(
                    "seed {seed} (LSMKIT_CRASH_SEED={seed}), crash after step {i}, torn {torn} \
                     (tear seed {crash_seed})"
                );
                recover_and_check(&crashed, &history, &context);
            }
        }
        let stats = db.stats();
        flushes += stats.flushes;
        compactions += stats.compactions;
        db.close().unwrap();
    }
    eprintln!(
        "{crashes} crashes; {flushes} flushes, {compactions} compactions, {rewrites} manifest rewrites"
    );
    // The options are meant to make these happen; if they stop happening
    // the test stops testing them.
    assert!(crashes > 0 && flushes > 10, "{flushes} flushes");
    assert!(compactions > 0, "no compaction ran");
    assert!(rewrites > 0, "no manifest rewrite ran");
}

/// The workload of the every-call test: tiny buffers so that memtable
/// switches, WAL segment switches, flushes, compactions and manifest
/// rewrites all happen within it, plus explicit flushes and compactions.
fn every_call_workload() -> Vec<Step> {
    common::workload(0xE7E7, 70 * depth() as usize, true)
}

/// Runs the every-call workload on a fresh `MemFs` whose disk dies at the
/// `k`-th mutating call; returns the filesystem, the history, and whether
/// the disk died.
fn run_until_disk_dies(
    steps: &[Step],
    k: u64,
    style: CompactionStyle,
    subcompactions: usize,
) -> (MemFs, History, bool) {
    let mem = MemFs::new();
    let fs = FaultFs::new(mem.clone());
    let dies = fs.add(Rule::on_mutating().from_nth(k));
    let mut history = History::default();
    let options = styled(Arc::new(fs.clone()), style).max_subcompactions(subcompactions);
    match Db::open(DIR, options) {
        Ok(db) => {
            let _ = run(&db, steps, &mut history);
            drop(db);
        }
        Err(_) => assert!(fs.fired(dies) > 0, "k {k}: open failed without a fault"),
    }
    (mem, history, fs.fired(dies) > 0)
}

#[test]
fn crash_at_every_mutating_call_recovers_a_prefix() {
    crash_at_every_mutating_call(CompactionStyle::Tiered, 1);
}

#[test]
fn crash_at_every_mutating_call_recovers_a_prefix_leveled() {
    crash_at_every_mutating_call(CompactionStyle::Leveled, 1);
}

/// Compactions split into parts write their outputs from several threads
/// at once: a crash lands between the parts' files too.
#[test]
fn crash_at_every_mutating_call_recovers_a_prefix_with_subcompactions() {
    // Without a crash, the workload does run compactions in parts.
    let fs = MemFs::new();
    let options = styled(Arc::new(fs.clone()), CompactionStyle::Tiered).max_subcompactions(3);
    let db = Db::open(DIR, options).unwrap();
    run(&db, &every_call_workload(), &mut History::default()).unwrap();
    assert!(db.stats().subcompactions > 0, "no compaction ran in parts");
    drop(db);
    crash_at_every_mutating_call(CompactionStyle::Tiered, 3);
}

fn crash_at_every_mutating_call(style: CompactionStyle, subcompactions: usize) {
    let steps = every_call_workload();
    let mut k = 1;
    let mut recovery_crashes = 0;
    loop {
        let (mem, history, died) = run_until_disk_dies(&steps, k, style, subcompactions);
        if !died {
            break;
        }
        let context = format!("disk died at mutating call {k}");
        let (crashed, torn) = (mem.crash_clone(), mem.crash_clone_torn(k));
        read_only_agrees(&crashed, &context, style);
        read_only_agrees(&torn, &format!("{context}, torn crash (seed {k})"), style);
        let p = recover_and_check_as(&crashed, &history, &context, style);
        recover_and_check_as(
            &torn,
            &history,
            &format!("{context}, torn crash (seed {k})"),
            style,
        );
        if k % 5 == 0 {
            recovery_crashes += crash_during_recovery(&mem.crash_clone(), &history, p, k, style);
        }
        k += 1;
    }
    eprintln!(
        "{style:?}: crashed at {} mutating calls, {recovery_crashes} recoveries interrupted",
        k - 1
    );
    assert!(k > 100, "the workload made only {k} mutating calls");
    assert!(recovery_crashes > 0, "no recovery was interrupted");
}

/// Crashes the recovery of `crashed` at its `j`-th mutating call for a few
/// `j`, then recovers again: the state must be the very prefix `p` an
/// uninterrupted recovery found (nothing durable was lost, nothing
/// resurrected). Returns how many recoveries were interrupted.
fn crash_during_recovery(
    crashed: &MemFs,
    history: &History,
    p: usize,
    k: u64,
    style: CompactionStyle,
) -> u64 {
    // How many mutating calls an uninterrupted recovery makes.
    let calls = {
        let fs = FaultFs::new(crashed.crash_clone());
        drop(Db::open(DIR, styled(Arc::new(fs.clone()), style)).unwrap());
        fs.mutating_count()
    };
    let mut interrupted = 0;
    let points = 3 * depth();
    for i in 0..points {
        let j = 1 + i * calls / points;
        let mem = crashed.crash_clone();
        let fs = FaultFs::new(mem.clone());
        let dies = fs.add(Rule::on_mutating().from_nth(j));
        drop(Db::open(DIR, styled(Arc::new(fs.clone()), style)));
        if fs.fired(dies) == 0 {
            continue;
        }
        interrupted += 1;
        // Torn every other time: the recovery's own unsynced writes (the
        // fresh manifest, CURRENT.tmp) are cut anywhere.
        let torn = i % 2 == 1;
        let context =
            format!("disk died at mutating call {k}, then at call {j} of recovery (torn {torn})");
        let crashed_again = if torn {
            mem.crash_clone_torn(j)
        } else {
            mem.crash_clone()
        };
        let again = recover_and_check_as(&crashed_again, history, &context, style);
        assert_eq!(
            again, p,
            "{context}: an interrupted recovery changed what the next one finds"
        );
    }
    interrupted
}

/// `steps` with every write buffered.
fn buffered_only(steps: Vec<Step>) -> Vec<Step> {
    steps
        .into_iter()
        .map(|step| match step {
            Step::Write { writes, .. } => Step::Write {
                writes,
                durable: false,
            },
            other => other,
        })
        .collect()
}

#[test]
fn close_and_sync_wal_make_buffered_writes_durable() {
    let steps = buffered_only(common::workload(0x5C, 120, false));
    let (first, second) = steps.split_at(60);
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    let mut history = History::default();
    run(&db, first, &mut history).unwrap();
    db.sync_wal().unwrap();
    let synced = history.attempts.len();
    run(&db, second, &mut history).unwrap();
    // A power loss now keeps at least everything before the sync.
    let crashed = fs.crash_clone();
    let recovered = Db::open(DIR, options(&crashed)).unwrap();
    common::check_prefix_from(&recovered, &history, synced, "crash after sync_wal");
    drop(recovered);
    // After a clean close, a power loss keeps everything.
    db.close().unwrap();
    let crashed = fs.crash_clone();
    let recovered = Db::open(DIR, options(&crashed)).unwrap();
    let all = history.attempts.len();
    common::check_prefix_from(&recovered, &history, all, "crash after close");
}

#[test]
fn torn_crashes_of_buffered_writes_across_wal_segments_recover_a_prefix() {
    // Only buffered writes: nothing syncs the WAL but its own segment
    // switches, so a torn crash may cut any unsynced segment anywhere.
    let steps = buffered_only(common::workload(0x7042, 400, false));
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs).auto_compaction(false)).unwrap();
    let mut history = History::default();
    for (i, chunk) in steps.chunks(40).enumerate() {
        run(&db, chunk, &mut history).unwrap();
        for seed in 0..8 * depth() {
            let context = format!("after chunk {i}, tear seed {seed}");
            recover_and_check(&fs.crash_clone_torn(seed), &history, &context);
        }
    }
}

#[test]
fn repeated_crashes_keep_what_earlier_recoveries_found() {
    // Crash, recover, write on, crash again: what a recovery found is the
    // floor for every later one, even where it came from a torn, unsynced
    // WAL tail (a recovery that left that tail in place and appended after
    // it would lose every later write to the next recovery).
    for seed in 0..4 * depth() {
        let steps = common::workload(0x6E4 + seed, 400, true);
        let mut rng = Rng::new(seed);
        let mut fs = MemFs::new();
        let mut history = History::default();
        for (generation, chunk) in steps.chunks(40).enumerate() {
            // Recover what the last crash left, then write on the recovered
            // database at once.
            let context = format!("seed {seed}, recovery {generation}");
            let db = Db::open(DIR, options(&fs)).unwrap_or_else(|e| panic!("{context}: {e}"));
            let p = check_prefix(&db, &history, &context);
            history.attempts.truncate(p);
            if let Some(last) = history.attempts.last_mut() {
                last.durable = true;
            }
            run(&db, chunk, &mut history).unwrap();
            let tear = rng.next_u64();
            fs = if rng.chance(70) {
                fs.crash_clone_torn(tear)
            } else {
                fs.crash_clone()
            };
        }
    }
}
