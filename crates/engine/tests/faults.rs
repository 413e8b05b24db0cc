//! Fault injection with `FaultFs`: an I/O error at a create, open, write,
//! flush, sync, rename, truncate, directory sync or remove of the tables,
//! the manifest, CURRENT and the WAL, while a workload flushes and
//! compacts. Afterwards the database has either got over the error (a
//! retried flush or compaction) or reports it, and then keeps reporting it
//! to every write while reads go on and see every acknowledged batch.
//! Reopened without the fault, after a clean close or after a power loss,
//! it has lost nothing it must keep. Read errors are reported, never
//! answered with wrong data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{
    DIR, History, Step, check_prefix, check_prefix_from, contents, run, small_options, workload,
};
use lsmkit_engine::Db;
use lsmkit_vfs::{FaultFs, MemFs, Op, Rule};

/// What one injected fault led to.
#[derive(Debug, Default)]
struct Outcomes {
    /// The rule never matched a call.
    missed: u32,
    /// The workload ran to its end regardless.
    got_over: u32,
    /// The workload stopped with an error that stuck.
    stuck: u32,
}

/// Runs `steps` with `rule` added once the database is open, checks the
/// database as the module docs say, and tallies the outcome.
fn run_with_fault(steps: &[Step], rule: Rule, context: &str, outcomes: &mut Outcomes) {
    let mem = MemFs::new();
    let fs = FaultFs::new(mem.clone());
    let db = Db::open(DIR, small_options(Arc::new(fs.clone()))).unwrap();
    let id = fs.add(rule);
    let mut history = History::default();
    let result = run(&db, steps, &mut history);
    if fs.fired(id) == 0 {
        outcomes.missed += 1;
        assert!(
            result.is_ok(),
            "{context}: failed without a fault: {result:?}"
        );
        return;
    }
    let acked = history.acked_len();
    match &result {
        Ok(()) => outcomes.got_over += 1,
        Err(error) => {
            outcomes.stuck += 1;
            // Sticky: later writes, flushes and compactions fail with it.
            let again = db.put(b"later", b"write").unwrap_err();
            assert_eq!(
                again.to_string(),
                error.to_string(),
                "{context}: a later write fails with another error"
            );
            assert!(db.flush().is_err(), "{context}: flush after the error");
            assert!(db.compact().is_err(), "{context}: compact after the error");
        }
    }
    // Reads go on and see every acknowledged batch (and perhaps the failed
    // one, whose WAL record may have been written).
    let states = history.states();
    let live = contents(&db).unwrap_or_else(|e| panic!("{context}: read after the fault: {e}"));
    assert!(
        (acked..states.len()).any(|p| states[p] == live),
        "{context}: live reads lost an acknowledged batch or show a partial one"
    );

    // A power loss now, the fault gone: every durable batch is back.
    let crashed = mem.crash_clone();
    let db_after_crash = Db::open(DIR, small_options(Arc::new(crashed)))
        .unwrap_or_else(|e| panic!("{context}: reopen after a power loss: {e}"));
    check_prefix(&db_after_crash, &history, &format!("{context}, power loss"));
    drop(db_after_crash);

    // A clean close (which may report the error), the fault gone: every
    // acknowledged batch is back.
    let closed = db.close();
    assert_eq!(
        closed.is_err(),
        result.is_err(),
        "{context}: close reports {closed:?} after the workload returned {result:?}"
    );
    fs.clear_rules();
    let db = Db::open(DIR, small_options(Arc::new(mem)))
        .unwrap_or_else(|e| panic!("{context}: reopen after close: {e}"));
    check_prefix_from(&db, &history, acked, &format!("{context}, after close"));
    db.put(b"after", b"reopen")
        .unwrap_or_else(|e| panic!("{context}: write after reopen: {e}"));
}

#[test]
fn one_io_error_on_any_file_is_got_over_or_sticks_and_loses_nothing() {
    let steps = workload(0xFA17, 60, true);
    let mut outcomes = Outcomes::default();
    let ops = [
        Op::Create,
        Op::Append,
        Op::Sync,
        Op::Rename,
        Op::SyncDir,
        Op::Remove,
        Op::Flush,
        Op::OpenAppend,
        Op::Truncate,
    ];
    for fragment in [".sst", "MANIFEST", "CURRENT", "/wal"] {
        for op in ops {
            for n in [1, 2, 5] {
                let context = format!("{op} #{n} on a path containing {fragment:?}");
                let rule = Rule::on(op).path_contains(fragment).nth(n);
                run_with_fault(&steps, rule, &context, &mut outcomes);
            }
        }
    }
    eprintln!("{outcomes:?}");
    assert!(outcomes.got_over > 0 && outcomes.stuck > 0, "{outcomes:?}");
}

#[test]
fn a_dead_disk_sticks_and_loses_nothing() {
    // Every mutating call fails from the n-th on, for n spread over the
    // workload: the error must stick whatever it hit first.
    let steps = workload(0xDEAD, 60, true);
    let mut outcomes = Outcomes::default();
    for n in (1..400).step_by(13) {
        let context = format!("disk dead from mutating call {n}");
        run_with_fault(
            &steps,
            Rule::on_mutating().from_nth(n),
            &context,
            &mut outcomes,
        );
    }
    eprintln!("{outcomes:?}");
    assert!(outcomes.stuck > 10, "{outcomes:?}");
}

#[test]
fn a_full_disk_sticks_and_loses_nothing() {
    let steps = workload(0xF011, 80, true);
    let mut outcomes = Outcomes::default();
    for budget in [0, 100, 1 << 10, 4 << 10, 10 << 10, 30 << 10] {
        let context = format!("disk full after {budget} bytes");
        run_with_fault(&steps, Rule::disk_full(budget), &context, &mut outcomes);
    }
    eprintln!("{outcomes:?}");
    assert!(outcomes.stuck > 3, "{outcomes:?}");
}

#[test]
fn read_errors_are_reported_never_answered_wrongly() {
    // Tables on a disk whose reads fail now and then: every get, scan and
    // background compaction either errs or gives the right answer.
    let steps = workload(0x4EAD, 150, true);
    for seed in 0..4 {
        let mem = MemFs::new();
        let fs = FaultFs::new(mem.clone());
        // No block cache: every lookup must reach the faulty disk.
        let options = small_options(Arc::new(fs.clone())).block_cache_size(0);
        let db = Db::open(DIR, options).unwrap();
        let mut history = History::default();
        run(&db, &steps, &mut history).unwrap();
        db.flush().unwrap();
        let model = history.states().pop().unwrap();
        let flaky = fs.add(Rule::on(Op::Read).with_probability(0.02, seed));
        let (mut errors, mut answers) = (0, 0);
        for round in 0..20 {
            let context = format!("seed {seed}, round {round}");
            for k in common::all_keys() {
                match db.get(&k) {
                    Ok(v) => {
                        answers += 1;
                        assert_eq!(v.as_ref(), model.get(&k), "{context}: get");
                    }
                    Err(_) => errors += 1,
                }
            }
            let scanned: Result<Vec<(Vec<u8>, Vec<u8>)>, _> = db.iter().collect();
            match scanned {
                Ok(entries) => {
                    let entries: common::Model = entries.into_iter().collect();
                    assert_eq!(entries, model, "{context}: scan");
                }
                Err(_) => errors += 1,
            }
        }
        assert!(fs.fired(flaky) > 0 && errors > 0 && answers > 0);
        // A compaction that reads through the faults may fail (and then its
        // error sticks); it must not install a wrong table.
        let compacted = db.compact();
        fs.clear_rules();
        let context = format!("seed {seed}, after compaction {compacted:?}");
        assert_eq!(contents(&db).unwrap(), model, "{context}");
        drop(db);
        let db = Db::open(DIR, small_options(Arc::new(mem))).unwrap();
        assert_eq!(contents(&db).unwrap(), model, "{context}, reopened");
    }
}

/// A table that cannot be created once is written again, by a flush and
/// by a compaction alike, and each retry is counted.
#[test]
fn a_failed_table_create_is_retried_by_flush_and_compaction() {
    let fs = FaultFs::new(MemFs::new());
    let db = Db::open(DIR, small_options(Arc::new(fs.clone()))).unwrap();
    for round in 0..2u8 {
        db.put(b"k", &[round]).unwrap();
        let id = fs.add(Rule::on(Op::Create).path_contains(".sst").nth(1));
        db.flush().unwrap();
        assert_eq!(fs.fired(id), 1);
    }
    assert_eq!(db.stats().background_retries, 2);
    let id = fs.add(Rule::on(Op::Create).path_contains(".sst").nth(1));
    db.compact().unwrap();
    assert_eq!(fs.fired(id), 1);
    assert_eq!(db.stats().background_retries, 3);
    assert_eq!(db.get(b"k").unwrap(), Some(vec![1]));
    db.close().unwrap();
}
