//! `lsmkit wal dump` on good, torn and damaged logs: records with their
//! positions, what recovery drops, failures on one line, inputs unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{assert_fails_naming, lsmkit, stdout};
use lsmkit_vfs::{Fs, StdFs};
use lsmkit_wal::{RecoveryMode, WalOptions, WalReader};

/// A WAL directory holding `count` records of 100 bytes in one segment,
/// which ends where they do; returns the segment's path.
fn write_log(dir: &Path, count: usize) -> PathBuf {
    write_log_reserving(dir, count, 0)
}

/// The same, with `preallocate` bytes of space reserved ahead.
fn write_log_reserving(dir: &Path, count: usize, preallocate: u64) -> PathBuf {
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let mut reader = WalReader::open(fs, dir, RecoveryMode::default()).unwrap();
    assert!(reader.next().is_none());
    let options = WalOptions {
        preallocate,
        ..WalOptions::default()
    };
    let (wal, _) = reader.into_wal(options).unwrap();
    for i in 0..count {
        wal.append(&[i as u8; 100]).unwrap();
    }
    let segment = wal.segment_path(wal.current_segment());
    drop(wal);
    segment
}

/// `lsmkit wal dump --mode MODE DIR`.
fn dump_in_mode(mode: &str, dir: &Path) -> std::process::Output {
    lsmkit(["wal", "dump", "--mode", mode, dir.to_str().unwrap()])
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_good_log_lists_every_record() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 5);
    let output = lsmkit(["wal", "dump", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let records: Vec<&str> = text.lines().filter(|l| l.starts_with("record")).collect();
    assert_eq!(records.len(), 5, "{text}");
    assert_eq!(records[0], "record 0 at segment 1 offset 0 len 100");
    assert_eq!(records[1], "record 1 at segment 1 offset 111 len 100");
    assert!(
        text.contains("segment 1: 5 records, 555 of 555 bytes good"),
        "{text}"
    );
    assert!(
        text.ends_with("returns 5 records and drops 0 bytes\n"),
        "{text}"
    );
}

#[test]
fn preallocated_zeros_end_the_log_and_are_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log_reserving(dir.path(), 5, 4096);
    let len = fs::metadata(&segment).unwrap().len();
    assert!(len > 555, "{len}");
    let output = dump_in_mode("absolute-consistency", dir.path());
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let zeros = len - 555;
    assert!(
        text.contains(&format!(
            "segment 1: 5 records, 555 of {len} bytes good, ending in {zeros} bytes of preallocated zeros"
        )),
        "{text}"
    );
    assert!(
        text.ends_with("returns 5 records and drops 0 bytes\n"),
        "{text}"
    );
}

#[test]
fn data_shows_record_bytes() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 1);
    let output = lsmkit(["wal", "dump", "--data", "hex", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains(&format!("len 100 {}", "00".repeat(100))));
}

#[test]
fn a_torn_tail_is_reported_as_dropped_and_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 5);
    let bytes = fs::read(&segment).unwrap();
    fs::write(&segment, &bytes[..bytes.len() - 30]).unwrap();
    let before = snapshot(dir.path());

    let output = lsmkit(["wal", "dump", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.contains("segment 1: 4 records, 444 of 525 bytes good"),
        "{text}"
    );
    assert!(
        text.contains("recovery drops bytes [444, 525): torn tail"),
        "{text}"
    );
    assert!(
        text.contains("returns 4 records and drops 81 bytes"),
        "{text}"
    );

    // The segment file alone reads the same.
    let output = lsmkit(["wal", "dump", segment.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("drops 81 bytes"));

    // Where no damage may be dropped, the tear is a failure.
    let output = dump_in_mode("absolute-consistency", dir.path());
    assert_fails_naming(&output, &segment);
    assert_eq!(snapshot(dir.path()), before, "the log changed");
}

#[test]
fn damage_before_good_records_fails_but_skip_mode_reads_on() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 5);
    let mut bytes = fs::read(&segment).unwrap();
    bytes[150] ^= 0xff;
    fs::write(&segment, &bytes).unwrap();
    let before = snapshot(dir.path());

    let output = lsmkit(["wal", "dump", dir.path().to_str().unwrap()]);
    assert_fails_naming(&output, &segment);
    assert!(stdout(&output).contains("record 0 at segment 1 offset 0"));

    let output = dump_in_mode("skip-corrupted", dir.path());
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("skipped: checksum mismatch"), "{text}");
    // A damaged fragment costs the rest of its 32 KiB block.
    assert!(
        text.contains("returns 1 records and drops 444 bytes"),
        "{text}"
    );
    assert_eq!(snapshot(dir.path()), before, "the log changed");
}

#[test]
fn missing_and_foreign_inputs_fail_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert_fails_naming(
        &lsmkit(["wal", "dump", missing.to_str().unwrap()]),
        &missing,
    );
    let foreign = dir.path().join("notes.txt");
    fs::write(&foreign, "hello").unwrap();
    assert_fails_naming(
        &lsmkit(["wal", "dump", foreign.to_str().unwrap()]),
        &foreign,
    );
    let garbage = dir.path().join("00000000000000000001.wal");
    fs::write(&garbage, [0x5a; 300]).unwrap();
    let output = lsmkit(["wal", "dump", garbage.to_str().unwrap()]);
    assert_fails_naming(
        &lsmkit([
            "wal",
            "dump",
            "--mode",
            "absolute-consistency",
            garbage.to_str().unwrap(),
        ]),
        &garbage,
    );
    assert!(matches!(output.status.code(), Some(0 | 1)));
    assert_eq!(fs::read(&garbage).unwrap(), [0x5a; 300]);
}

#[test]
fn an_empty_directory_has_no_segments() {
    let dir = tempfile::tempdir().unwrap();
    let output = lsmkit(["wal", "dump", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("no WAL segments"));
}

#[test]
fn batches_decodes_an_engine_log_found_from_the_database_directory() {
    let dir = tempfile::tempdir().unwrap();
    let db = lsmkit_engine::Db::open(dir.path(), lsmkit_engine::Options::default()).unwrap();
    let mut batch = lsmkit_engine::WriteBatch::new();
    batch.put(b"apple", b"red").delete(b"pear");
    db.write(batch).unwrap();
    db.close().unwrap();

    let output = lsmkit(["wal", "dump", "--batches", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.contains("  @1 Put 'apple' value of 3 bytes\n  @2 Delete 'pear'\n"),
        "{text}"
    );

    // Records that are not batches say so.
    let raw = tempfile::tempdir().unwrap();
    write_log(raw.path(), 1);
    let output = lsmkit(["wal", "dump", "--batches", raw.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("  not an engine batch: "));
}
