//! Two compactions of one keyspace at once (`max_background_jobs` of 3:
//! two compaction threads): writers lose nothing under either style, and a
//! failure of one of the two leaves the other's output and every input
//! intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};

use lsmkit_engine::lsmkit_compaction::{CompactionFilter, Decision, FilterContext};
use lsmkit_engine::{CompactionStyle, Db, Options, TieredOptions};
use lsmkit_vfs::{FaultFs, MemFs, Op, Rule};

const WRITERS: u64 = 4;

/// A writer's own deterministic stream of choices.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Writer `t` puts and deletes its own keys for `steps` steps; returns
/// what it left.
fn write_own_keys(db: &Db, t: u64, steps: u64, model: &mut BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut rng = 0x9e37_79b9_7f4a_7c15 ^ ((t + 1) * 0x1234_5678_9abc_def1) ^ model.len() as u64;
    for step in 0..steps {
        let r = next(&mut rng);
        let key = format!("t{t}-k{:04}", r % 400).into_bytes();
        if r.is_multiple_of(7) {
            db.delete(&key).unwrap();
            model.remove(&key);
        } else {
            let value = format!("t{t}-s{step}-{}", "v".repeat((r % 60) as usize)).into_bytes();
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
    }
}

fn stress_options(fs: &MemFs, style: CompactionStyle) -> Options {
    common::styled_options(fs, style)
        .write_buffer_size(4 << 10)
        .max_background_jobs(3)
}

/// Four writers against two compaction threads on one keyspace, until two
/// compactions have overlapped; every key as the writers left it, before
/// and after a reopen.
fn four_writers_two_compactions(style: CompactionStyle) {
    let fs = MemFs::new();
    let db = Db::open("/db", stress_options(&fs, style)).unwrap();
    let mut models: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![BTreeMap::new(); WRITERS as usize];
    let mut rounds = 0;
    // They overlap within a few rounds; the bound only keeps a broken
    // engine from looping for ever.
    while db.stats().peak_concurrent_compactions < 2 && rounds < 200 {
        std::thread::scope(|scope| {
            for (t, model) in models.iter_mut().enumerate() {
                let db = &db;
                scope.spawn(move || write_own_keys(db, t as u64, 1500, model));
            }
        });
        rounds += 1;
    }
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    eprintln!(
        "{style:?}: {rounds} rounds, {} compactions, at most {} at once, runs {:?}",
        stats.compactions, stats.peak_concurrent_compactions, stats.tables_per_run
    );
    assert!(stats.peak_concurrent_compactions >= 2, "{stats:?}");
    let model: BTreeMap<Vec<u8>, Vec<u8>> = models.into_iter().flatten().collect();
    let check = |db: &Db| {
        let got: BTreeMap<Vec<u8>, Vec<u8>> = db.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), model.len());
        assert!(
            got == model,
            "{style:?}: the database differs from the model"
        );
        for t in 0..WRITERS {
            for k in (0..400).step_by(37) {
                let key = format!("t{t}-k{k:04}").into_bytes();
                assert_eq!(db.get(&key).unwrap(), model.get(&key).cloned());
            }
        }
    };
    check(&db);
    db.close().unwrap();
    // Recovery checks that no two tables of a level overlap.
    let db = Db::open("/db", stress_options(&fs, style)).unwrap();
    check(&db);
}

#[test]
fn four_writers_and_two_compactions_of_one_tiered_keyspace_lose_nothing() {
    four_writers_two_compactions(CompactionStyle::Tiered);
}

#[test]
fn four_writers_and_two_compactions_of_one_leveled_keyspace_lose_nothing() {
    four_writers_two_compactions(CompactionStyle::Leveled);
}

/// Holds a compaction inside the filter when it reaches a key with a
/// closed prefix, until the prefix opens: the test decides when each of
/// two compactions goes on.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    cond: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: HashSet<&'static str>,
    /// Prefixes a compaction reached while closed.
    arrived: HashSet<&'static str>,
}

/// How long a gate holds a compaction at most before it opens for good:
/// twice the tests' waits.
const HOLD_AT_MOST: std::time::Duration = std::time::Duration::from_secs(60);

impl Gate {
    /// The state, also after a test thread panicked holding it.
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self, prefix: &'static str) {
        self.lock().closed.insert(prefix);
    }

    fn open(&self, prefix: &'static str) {
        self.lock().closed.remove(prefix);
        self.cond.notify_all();
    }

    /// Waits until a compaction is held at `prefix`; panics after 30 s.
    fn wait_arrived(&self, prefix: &'static str) {
        let started = std::time::Instant::now();
        let mut state = self.lock();
        while !state.arrived.contains(prefix) {
            let waited = started.elapsed();
            if waited.as_secs() >= 30 {
                drop(state);
                panic!("no compaction reached {prefix}");
            }
            state = self
                .cond
                .wait_timeout(state, std::time::Duration::from_secs(30) - waited)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

struct GateFilter(Arc<Gate>);

impl CompactionFilter for GateFilter {
    fn name(&self) -> &str {
        "gate"
    }

    fn filter(&self, key: &[u8], _value: &[u8], _context: &FilterContext) -> Decision {
        let gate = &self.0;
        let held = std::time::Instant::now();
        let mut state = gate.lock();
        loop {
            let Some(prefix) = state
                .closed
                .iter()
                .copied()
                .find(|p| key.starts_with(p.as_bytes()))
            else {
                return Decision::Keep;
            };
            state.arrived.insert(prefix);
            gate.cond.notify_all();
            // A test whose assert fired never opens the gate: after
            // longer than any of its waits, open every prefix for good,
            // so that it fails instead of hanging in the database's drop.
            if held.elapsed() > HOLD_AT_MOST {
                state.closed.clear();
                gate.cond.notify_all();
                return Decision::Keep;
            }
            state = gate
                .cond
                .wait_timeout(state, HOLD_AT_MOST)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

fn gated_options(fs: &FaultFs, gate: &Arc<Gate>) -> Options {
    Options::default()
        .fs(Arc::new(fs.clone()))
        .write_buffer_size(1 << 20)
        .block_size(512)
        .compaction(TieredOptions {
            trigger_runs: 4,
            ..TieredOptions::default()
        })
        .max_background_jobs(3)
        .compaction_filter(Arc::new(GateFilter(Arc::clone(gate))))
}

/// What `two_compactions_with_b_failing` leaves: the database, the model,
/// the filesystem under the faults, the faults and the gate.
type TwoCompactions = (Db, BTreeMap<Vec<u8>, Vec<u8>>, MemFs, FaultFs, Arc<Gate>);

/// Four flushed runs of `prefix` keys.
fn four_runs(db: &Db, prefix: &str, model: &mut BTreeMap<Vec<u8>, Vec<u8>>) {
    for run in 0..4 {
        for i in 0..200 {
            let key = format!("{prefix}-{i:04}").into_bytes();
            let value = format!("{prefix}-run{run}-{i}").into_bytes();
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        db.flush().unwrap();
    }
}

/// Compaction A merges the four runs of "old" keys and is held; four runs
/// of "new" keys are flushed in front, and compaction B merges them beside
/// A and is held. Then table files cannot be created (`fail_b`) and B goes
/// on; then A. Returns the database, the model and the filesystems.
fn two_compactions_with_b_failing(fail_b: Rule) -> TwoCompactions {
    let mem = MemFs::new();
    let fs = FaultFs::new(mem.clone());
    let gate = Arc::new(Gate::default());
    gate.close("old");
    gate.close("new");
    let db = Db::open("/db", gated_options(&fs, &gate)).unwrap();
    let mut model = BTreeMap::new();
    four_runs(&db, "old", &mut model);
    gate.wait_arrived("old");
    four_runs(&db, "new", &mut model);
    gate.wait_arrived("new");
    assert_eq!(db.stats().peak_concurrent_compactions, 2);
    let rule = fs.add(fail_b);
    gate.open("new");
    // B has tried to write (and failed) before A goes on.
    let wait = std::time::Instant::now();
    while fs.fired(rule) == 0 {
        assert!(wait.elapsed().as_secs() < 30, "B never wrote");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    (db, model, mem, fs, gate)
}

fn assert_holds(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let got: BTreeMap<Vec<u8>, Vec<u8>> = db.iter().collect::<Result<_, _>>().unwrap();
    assert!(&got == model, "the database differs from the model");
}

#[test]
fn a_failed_compaction_leaves_the_other_compactions_output_and_every_input() {
    // Every table create fails from here on: B's error sticks.
    let (db, mut model, mem, fs, gate) =
        two_compactions_with_b_failing(Rule::on(Op::Create).path_contains(".sst"));
    // B's error is the background error once its retries are spent: writes
    // fail from then on.
    let wait = std::time::Instant::now();
    while db.put(b"probe", b"x").is_ok() {
        model.insert(b"probe".to_vec(), b"x".to_vec());
        assert!(wait.elapsed().as_secs() < 30, "B's failure did not stick");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    fs.clear_rules();
    gate.open("old");
    // A still installs: reads see every key, and after a reopen A's one run
    // stands beside B's four inputs.
    let wait = std::time::Instant::now();
    while db.stats().compactions < 1 {
        assert!(wait.elapsed().as_secs() < 30, "A did not install");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_holds(&db, &model);
    drop(db);
    let gate = Arc::new(Gate::default());
    let db = Db::open(
        "/db",
        gated_options(&FaultFs::new(mem), &gate).auto_compaction(false),
    )
    .unwrap();
    assert_holds(&db, &model);
    let runs = db.stats().tables_per_run;
    assert_eq!(runs.len(), 5, "A's output and B's four inputs: {runs:?}");
}

#[test]
fn a_compaction_retried_beside_another_leaves_both_outputs() {
    // Only B's first table create fails: B is retried and both install.
    let (db, model, _mem, _fs, gate) =
        two_compactions_with_b_failing(Rule::on(Op::Create).path_contains(".sst").nth(1));
    gate.open("old");
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    assert_eq!(stats.compactions, 2, "{stats:?}");
    assert!(stats.background_retries >= 1, "{stats:?}");
    assert_eq!(stats.tables_per_run.len(), 2, "{stats:?}");
    assert_holds(&db, &model);
}
