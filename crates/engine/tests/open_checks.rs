//! Open-time checks of the manifest against the ordering invariant: crafted
//! manifests whose runs' sequence numbers cross each other, whose tables
//! hold sequence numbers above its last or flushed one, or whose next file
//! number is `u64::MAX`, are refused as corruption naming the manifest, by
//! both the read-write and the read-only open; the same tables under a
//! truthful manifest open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_engine::format::{self, TableRecord, VersionEdit};
use lsmkit_engine::lsmkit_wal::LogWriter;
use lsmkit_engine::{Db, Error, ManifestState, Options, RecoveredManifest};
use lsmkit_vfs::{Fs, MemFs};

const DIR: &str = "/db";

fn options(fs: &MemFs) -> Options {
    Options::default()
        .fs(Arc::new(fs.clone()))
        .auto_compaction(false)
}

/// A closed database of two flushed tiered runs, one table each (the
/// older holds sequence numbers 1..=3, the newer 4..=6), and its manifest
/// state.
fn two_runs() -> (MemFs, ManifestState) {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    for round in 0..2 {
        for k in [b"a", b"b", b"c"] {
            db.put(k, format!("{round}").as_bytes()).unwrap();
        }
        db.flush().unwrap();
    }
    db.close().unwrap();
    let state = RecoveredManifest::read(&fs, Path::new(DIR))
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state.tables.len(), 2);
    (fs, state)
}

/// The two tables, older first.
fn records(state: &ManifestState) -> (TableRecord, TableRecord) {
    let mut tables: Vec<TableRecord> = state.tables.values().cloned().collect();
    tables.sort_by_key(|t| t.max_seqno);
    (tables[0].clone(), tables[1].clone())
}

/// Replaces the manifest with one snapshot edit of `tables` and the
/// counters given; returns its path.
fn craft(fs: &MemFs, tables: &[TableRecord], last: u64, flushed: u64, next_file: u64) -> PathBuf {
    let dir = Path::new(DIR);
    let number = 900;
    let path = dir.join(format::manifest_file_name(number));
    let file = fs.create(&path).unwrap();
    let mut log = LogWriter::new(file, lsmkit_engine::lsmkit_wal::format::log_number(number));
    let edit = VersionEdit {
        last_seqno: Some(last),
        flushed_seqno: Some(flushed),
        next_file_number: Some(next_file),
        added: tables.to_vec(),
        ..VersionEdit::default()
    };
    let mut record = Vec::new();
    edit.encode(&mut record);
    log.add_record(&record).unwrap();
    log.sync().unwrap();
    let mut current = fs.create(&dir.join(format::CURRENT)).unwrap();
    current.append(&format::encode_current(number)).unwrap();
    current.sync().unwrap();
    fs.sync_dir(dir).unwrap();
    path
}

/// Both opens refuse the database as corruption of `manifest` whose
/// message says `what`.
fn refused(fs: &MemFs, manifest: &Path, what: &str) {
    let read_write = Db::open(DIR, options(fs)).map(drop);
    let read_only = Db::open_read_only(DIR, options(fs)).map(drop);
    for (how, result) in [("read-write", read_write), ("read-only", read_only)] {
        match result {
            Err(Error::Corruption { file, detail, .. }) => {
                assert_eq!(file, manifest, "{how}: {detail}");
                assert!(
                    detail.contains(what),
                    "{how}: {detail:?} does not say {what:?}"
                );
            }
            other => panic!("{how}: {other:?}"),
        }
    }
}

#[test]
fn truthful_crafted_manifest_opens() {
    let (fs, state) = two_runs();
    let (older, newer) = records(&state);
    craft(&fs, &[older, newer], 6, 6, 100);
    let db = Db::open(DIR, options(&fs)).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn a_newer_tiered_run_holding_older_sequence_numbers_is_refused() {
    let (fs, state) = two_runs();
    let (mut older, newer) = records(&state);
    // The older run claims a sequence number of the newer one.
    older.max_seqno = newer.min_seqno;
    let manifest = craft(&fs, &[older, newer], 6, 6, 100);
    refused(&fs, &manifest, "does not hold only higher sequence numbers");
}

#[test]
fn a_table_above_the_last_sequence_number_is_refused() {
    let (fs, state) = two_runs();
    let (older, newer) = records(&state);
    let manifest = craft(&fs, &[older, newer], 5, 5, 100);
    refused(
        &fs,
        &manifest,
        "above the manifest's last sequence number 5",
    );
}

#[test]
fn a_table_above_the_flushed_sequence_number_is_refused() {
    let (fs, state) = two_runs();
    let (older, newer) = records(&state);
    let manifest = craft(&fs, &[older, newer], 6, 3, 100);
    refused(
        &fs,
        &manifest,
        "above the manifest's flushed sequence number 3",
    );
}

#[test]
fn a_level_holding_newer_sequence_numbers_than_an_l0_run_is_refused() {
    let (fs, state) = two_runs();
    let (older, mut newer) = records(&state);
    // The newer table moved to level 1 under the older one left in L0.
    newer.level = 1;
    let manifest = craft(&fs, &[older.clone(), newer.clone()], 6, 6, 100);
    refused(&fs, &manifest, "level-0 run");
    // The other way round is the leveled invariant: it opens.
    let (mut older, mut newer) = (older, newer);
    older.level = 1;
    newer.level = 0;
    craft(&fs, &[older, newer], 6, 6, 100);
    let db = Db::open_read_only(DIR, options(&fs)).unwrap();
    assert_eq!(db.get(b"c").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.stats().run_levels, [0, 1]);
}

#[test]
fn a_next_file_number_of_u64_max_is_refused_naming_the_manifest() {
    let (fs, state) = two_runs();
    let (older, newer) = records(&state);
    let manifest = craft(&fs, &[older, newer], 6, 6, u64::MAX);
    refused(&fs, &manifest, "u64::MAX");
    let err = Db::open(DIR, options(&fs)).unwrap_err();
    assert!(err.is_corruption());
    assert!(err.to_string().contains("MANIFEST-000900"), "{err}");
}
