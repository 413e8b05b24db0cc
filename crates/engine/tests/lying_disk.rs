//! Faults beyond a crash: a disk that lies. A sync of the WAL, of a table
//! or of the manifest reports success but keeps nothing (a lost write after
//! fsync), or the directory sync after a rename of CURRENT or of a table
//! leaves the rename undone (an unsynced directory rename); then the power
//! fails.
//!
//! Such a crash may lose acknowledged durable writes: the disk broke the
//! contract the engine relies on. What recovery must never do is answer
//! wrongly. Under every recovery mode but `SkipCorrupted` (which documents
//! holes), opening either fails with an error (a detected corruption, a
//! missing table or manifest), or the database holds the state after some
//! prefix of the acknowledged history (a documented loss) and reads agree
//! with each other. Under `SkipCorrupted`, opening and reading must not
//! fail in any other way than with an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{DIR, History, contents, run, small_options, workload};
use lsmkit_engine::{Db, RecoveryMode};
use lsmkit_vfs::MemFs;

/// One fault of the lying disk.
#[derive(Clone, Copy, Debug)]
enum Lie {
    /// Syncs of files whose path contains the fragment keep nothing.
    Sync(&'static str),
    /// Renames to or from paths containing the fragment are left undone
    /// by the next directory sync.
    Rename(&'static str),
}

const LIES: [Lie; 7] = [
    Lie::Sync(".wal"),
    // One segment only: the segments after it survive, around a hole.
    Lie::Sync("000002.wal"),
    Lie::Sync(".sst"),
    Lie::Sync("MANIFEST"),
    Lie::Sync("CURRENT"),
    Lie::Rename("CURRENT"),
    Lie::Rename(".sst"),
];

const MODES: [RecoveryMode; 4] = [
    RecoveryMode::TolerateCorruptedTail,
    RecoveryMode::AbsoluteConsistency,
    RecoveryMode::PointInTime,
    RecoveryMode::SkipCorrupted,
];

/// What the crashes of one lie led to, over every crash point and mode.
#[derive(Debug, Default)]
struct Outcomes {
    /// Opening failed with an error.
    refused: u32,
    /// Recovered a prefix that keeps every acknowledged durable batch.
    intact: u32,
    /// Recovered a shorter prefix: durable batches lost to the lie.
    lost_durable: u32,
    /// `SkipCorrupted` recovered a state that is no prefix (documented).
    holes: u32,
}

/// Opens the crashed copy `fs` under `mode` and checks it as the module
/// docs say.
fn check(fs: MemFs, mode: RecoveryMode, history: &History, context: &str, out: &mut Outcomes) {
    let db = match Db::open(DIR, small_options(Arc::new(fs)).wal_recovery_mode(mode)) {
        Ok(db) => db,
        Err(_) => {
            out.refused += 1;
            return;
        }
    };
    let found = match contents(&db) {
        Ok(found) => found,
        Err(_) => {
            // A damaged table found while reading: detected, not wrong.
            out.refused += 1;
            return;
        }
    };
    for (k, v) in &found {
        assert_eq!(
            db.get(k).unwrap_or_else(|e| panic!("{context}: get: {e}")),
            Some(v.clone()),
            "{context}: get disagrees with the scan"
        );
    }
    let states = history.states();
    match (0..states.len()).rev().find(|&p| states[p] == found) {
        Some(p) if p >= history.durable_len() => out.intact += 1,
        Some(_) => out.lost_durable += 1,
        None if mode == RecoveryMode::SkipCorrupted => out.holes += 1,
        None => panic!(
            "{context}: recovered a state that is no prefix of the history ({} batches)",
            history.attempts.len()
        ),
    }
}

#[test]
fn a_lying_disk_never_makes_recovery_answer_wrongly() {
    let steps = workload(0x11e5, 400, true);
    for lie in LIES {
        let mem = MemFs::new();
        let db = Db::open(DIR, small_options(Arc::new(mem.clone()))).unwrap();
        match lie {
            Lie::Sync(fragment) => mem.lose_synced_writes(fragment),
            Lie::Rename(fragment) => mem.lose_dir_renames(fragment),
        }
        let mut history = History::default();
        let mut out = Outcomes::default();
        for (chunk, part) in steps.chunks(25).enumerate() {
            run(&db, part, &mut history).unwrap();
            let crashed = mem.crash_clone();
            for (i, mode) in MODES.into_iter().enumerate() {
                let fs = if i % 2 == 0 {
                    crashed.clone().crash_clone()
                } else {
                    mem.crash_clone_torn(chunk as u64)
                };
                let context = format!(
                    "lie {lie:?}, crash after step {}, {mode:?}",
                    (chunk + 1) * 25
                );
                check(fs, mode, &history, &context, &mut out);
            }
        }
        eprintln!("{lie:?}: {out:?}");
        // Every lie is seen by some crash: its writes lost, or recovery
        // refusing.
        assert!(
            out.refused + out.lost_durable + out.holes > 0,
            "{lie:?}: no crash noticed the lie: {out:?}"
        );
        drop(db);
    }
}

/// The case the lying-disk campaign found: a flush's manifest edit is lost
/// (its sync lied) while the WAL segments it retired are really gone. The
/// manifest then says the flushed writes are in the WAL, which no longer
/// holds them; recovery used to replay the later segments over the hole
/// and answer with a state no prefix of the writes had.
#[test]
fn a_lost_manifest_edit_over_retired_wal_segments_is_refused() {
    let mem = MemFs::new();
    let db = Db::open(DIR, small_options(Arc::new(mem.clone()))).unwrap();
    mem.lose_synced_writes("MANIFEST");
    let mut history = History::default();
    run(&db, &workload(0x11e5, 50, true), &mut history).unwrap();
    // Every flush done and its WAL segments removed; then one write more,
    // in the segment that survives.
    db.flush().unwrap();
    let last = vec![common::Write::Put(b"key000".to_vec(), b"last".to_vec())];
    run(
        &db,
        &[common::Step::Write {
            writes: last,
            durable: true,
        }],
        &mut history,
    )
    .unwrap();
    let error = Db::open(DIR, small_options(Arc::new(mem.crash_clone())))
        .expect_err("recovery over a hole in the sequence numbers");
    assert!(
        matches!(error, lsmkit_engine::Error::Corruption { .. })
            && error.to_string().contains("a synced write was lost"),
        "{error}"
    );
    // SkipCorrupted opens, as documented, and says nothing wrong of what
    // it kept: every key it returns has a value some batch wrote.
    let db = Db::open(
        DIR,
        small_options(Arc::new(mem.crash_clone())).wal_recovery_mode(RecoveryMode::SkipCorrupted),
    )
    .unwrap();
    let written: std::collections::BTreeSet<Vec<u8>> = history
        .attempts
        .iter()
        .flat_map(|a| &a.writes)
        .filter_map(|w| match w {
            common::Write::Put(_, v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    for (_, v) in contents(&db).unwrap() {
        assert!(written.contains(&v));
    }
}
