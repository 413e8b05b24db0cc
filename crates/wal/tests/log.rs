//! The single-file record layer: round trips of edge-sized records, torn
//! writes at every offset, spliced fragments, stale data, and a proptest
//! round trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{datas, log_bytes, read_log, read_preallocated_log, read_prefix, record};
use lsmkit_vfs::{FaultFs, Fs, MemFs};
use lsmkit_wal::format::{BLOCK_SIZE, HEADER_SIZE, MAX_FRAGMENT_PAYLOAD};
use lsmkit_wal::{Corruption, DropReason, LogReader, LogWriter, RecoveryMode};
use proptest::prelude::*;

const ALL_MODES: [RecoveryMode; 4] = [
    RecoveryMode::TolerateCorruptedTail,
    RecoveryMode::AbsoluteConsistency,
    RecoveryMode::PointInTime,
    RecoveryMode::SkipCorrupted,
];

fn round_trip(records: &[Vec<u8>]) {
    let (bytes, extents) = log_bytes(records, 9);
    for mode in ALL_MODES {
        let (read, report) = read_log(&bytes, 9, mode);
        let read = read.unwrap();
        assert_eq!(datas(&read), records, "{mode:?}");
        let offsets: Vec<u64> = read.iter().map(|r| r.offset).collect();
        let starts: Vec<u64> = extents.iter().map(|e| e.0).collect();
        assert_eq!(offsets, starts);
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(report.valid_len, bytes.len() as u64);
    }
}

#[test]
fn empty_log_has_no_records() {
    round_trip(&[]);
}

#[test]
fn edge_sized_records_round_trip() {
    let sizes = [
        0,
        1,
        MAX_FRAGMENT_PAYLOAD,
        MAX_FRAGMENT_PAYLOAD + 1,
        BLOCK_SIZE,
        BLOCK_SIZE + 1,
        0,
        3 * BLOCK_SIZE,
        5 << 20,
        0,
    ];
    let records: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| record(i as u64, n))
        .collect();
    round_trip(&records);
}

#[test]
fn record_that_fills_its_block_exactly_leaves_no_padding() {
    let records = vec![record(1, MAX_FRAGMENT_PAYLOAD), record(2, 5)];
    let (bytes, extents) = log_bytes(&records, 1);
    assert_eq!(extents[0], (0, BLOCK_SIZE as u64));
    assert_eq!(extents[1].0, BLOCK_SIZE as u64);
    round_trip(&records);
    assert_eq!(bytes.len(), BLOCK_SIZE + HEADER_SIZE + 5);
}

#[test]
fn trailer_too_small_for_a_header_is_zero_padded() {
    // The first record leaves 8 bytes in its block: padding.
    let first = BLOCK_SIZE - HEADER_SIZE - 8;
    let records = vec![record(1, first), record(2, 10)];
    let (bytes, extents) = log_bytes(&records, 1);
    assert_eq!(extents[1].0, BLOCK_SIZE as u64);
    assert_eq!(&bytes[BLOCK_SIZE - 8..BLOCK_SIZE], &[0; 8]);
    round_trip(&records);
}

#[test]
fn exactly_a_header_left_gives_an_empty_first_fragment() {
    let first = BLOCK_SIZE - 2 * HEADER_SIZE;
    let records = vec![record(1, first), record(2, 10), record(3, 0)];
    let (bytes, extents) = log_bytes(&records, 1);
    // The second record starts with an empty FIRST in the last 11 bytes.
    assert_eq!(extents[1].0, (BLOCK_SIZE - HEADER_SIZE) as u64);
    assert_eq!(bytes[BLOCK_SIZE - HEADER_SIZE + 6], 2, "FIRST");
    round_trip(&records);
}

#[test]
fn writer_continues_an_existing_log_mid_block() {
    let fs = MemFs::new();
    let path = std::path::Path::new("/log");
    let mut writer = LogWriter::new(fs.create(path).unwrap(), 4);
    writer.add_record(&record(1, BLOCK_SIZE - 100)).unwrap();
    writer.sync().unwrap();
    drop(writer);
    let mut writer = LogWriter::new(fs.open_append(path).unwrap(), 4);
    writer.add_record(&record(2, 500)).unwrap();
    writer.sync().unwrap();
    drop(writer);
    let reader = LogReader::open(&fs, path, 4, RecoveryMode::AbsoluteConsistency).unwrap();
    let records: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(
        datas(&records),
        vec![record(1, BLOCK_SIZE - 100), record(2, 500)]
    );
}

#[test]
fn reads_through_read_at_when_the_file_offers_no_bytes() {
    // FaultFs readers never offer `as_bytes`.
    let fs = FaultFs::new(MemFs::new());
    let path = std::path::Path::new("/log");
    let records: Vec<Vec<u8>> = (0..20).map(|i| record(i, (i as usize) * 4000)).collect();
    let mut writer = LogWriter::new(fs.create(path).unwrap(), 3);
    for r in &records {
        writer.add_record(r).unwrap();
    }
    writer.sync().unwrap();
    drop(writer);
    let file = fs.open(path).unwrap();
    assert!(file.as_bytes().is_none());
    let read: Vec<_> = LogReader::new(file, path, 3, RecoveryMode::default())
        .map(Result::unwrap)
        .collect();
    assert_eq!(datas(&read), records);
}

/// Small, empty and medium records, and one that crosses the block
/// boundary, in a log of a little over one block. (Medium rather than large
/// records keep the test fast in a debug build: a cut inside a record makes
/// the reader search the rest of the file for good data after the damage.
/// The padded trailer has its own test below.)
fn torn_write_records() -> Vec<Vec<u8>> {
    let mut sizes = vec![100, 0, 50];
    sizes.extend([1000; 31]);
    sizes.extend([2000, 7, 0, 300]);
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| record(i as u64, n))
        .collect()
}

#[test]
fn torn_write_at_every_offset_keeps_exactly_the_whole_records() {
    let records = torn_write_records();
    let (bytes, extents) = log_bytes(&records, 7);
    assert!(extents[34].0 < BLOCK_SIZE as u64 && extents[34].1 > BLOCK_SIZE as u64);
    check_every_cut(
        &records,
        &extents,
        bytes,
        0..=extents.last().unwrap().1 as usize,
    );
}

#[test]
fn torn_write_in_and_after_a_padded_trailer() {
    // The first record leaves 8 bytes of padding, written only when the
    // second record comes.
    let records = vec![
        record(1, BLOCK_SIZE - HEADER_SIZE - 8),
        record(2, 30),
        record(3, 0),
    ];
    let (bytes, extents) = log_bytes(&records, 7);
    let around = BLOCK_SIZE - 20..=extents.last().unwrap().1 as usize;
    check_every_cut(&records, &extents, bytes, around);
}

/// Cuts the log at every offset in `cuts` and checks that the default mode
/// returns exactly the records wholly before the cut and reports the rest
/// as a torn tail.
fn check_every_cut(
    records: &[Vec<u8>],
    extents: &[(u64, u64)],
    bytes: Vec<u8>,
    cuts: std::ops::RangeInclusive<usize>,
) {
    let bytes = Arc::new(bytes);
    for cut in cuts {
        let (read, report) = read_prefix(
            &bytes,
            cut,
            cut % 2 == 0,
            7,
            RecoveryMode::TolerateCorruptedTail,
        );
        let read = read.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let whole = extents.iter().filter(|e| e.1 <= cut as u64).count();
        assert_eq!(datas(&read), records[..whole], "cut at {cut}");
        let kept = extents[..whole].last().map_or(0, |e| e.1);
        assert_eq!(report.valid_len, kept, "cut at {cut}");
        // Everything after the last whole record is reported dropped,
        // except padding that a later record would have followed.
        let dropped = report.dropped_bytes();
        assert!(dropped <= cut as u64 - kept, "cut at {cut}: {report:?}");
        if let Some(next) = extents.get(whole)
            && cut as u64 > next.0
        {
            assert_eq!(dropped, cut as u64 - next.0, "cut at {cut}: {report:?}");
            assert!(report.torn_tail().is_some());
        }
    }
}

#[test]
fn torn_tail_is_an_error_under_absolute_consistency() {
    let records = torn_write_records();
    let (bytes, extents) = log_bytes(&records, 7);
    let cut = extents[4].0 as usize + 5;
    let (read, _) = read_prefix(
        &Arc::new(bytes),
        cut,
        true,
        7,
        RecoveryMode::AbsoluteConsistency,
    );
    let error = read.unwrap_err();
    assert!(error.is_corruption(), "{error}");
    assert!(error.to_string().contains("test.log"), "{error}");
}

/// Two records of two fragments each, sharing the middle block:
/// `A.FIRST | A.LAST B.FIRST | B.LAST`.
fn spliceable() -> (Vec<Vec<u8>>, Vec<u8>) {
    let a = record(1, BLOCK_SIZE);
    let b = record(2, BLOCK_SIZE);
    let records = vec![a, b, record(3, 10)];
    let (bytes, _) = log_bytes(&records, 1);
    assert!(bytes.len() > 2 * BLOCK_SIZE);
    (records, bytes)
}

#[test]
fn wiped_middle_block_never_splices_two_records() {
    let (records, mut bytes) = spliceable();
    bytes[BLOCK_SIZE..2 * BLOCK_SIZE].fill(0);
    for mode in ALL_MODES {
        let (read, report) = read_log(&bytes, 1, mode);
        match mode {
            RecoveryMode::SkipCorrupted => {
                // A's FIRST and B's LAST are dropped, not joined.
                assert_eq!(datas(&read.unwrap()), vec![records[2].clone()]);
                assert!(report.skipped() >= 2, "{report:?}");
            }
            RecoveryMode::PointInTime => {
                assert!(read.unwrap().is_empty());
                assert_eq!(report.dropped_bytes(), bytes.len() as u64);
            }
            _ => assert!(read.unwrap_err().is_corruption(), "{mode:?}"),
        }
    }
}

#[test]
fn first_of_one_record_and_last_of_another_are_not_joined() {
    // Damage only the tail of the middle block: A.LAST survives, B.FIRST
    // does not; B.LAST must not be appended to anything.
    let (records, mut bytes) = spliceable();
    bytes[2 * BLOCK_SIZE - 20] ^= 0x40;
    let (read, report) = read_log(&bytes, 1, RecoveryMode::SkipCorrupted);
    assert_eq!(
        datas(&read.unwrap()),
        vec![records[0].clone(), records[2].clone()]
    );
    let reasons: Vec<DropReason> = report.dropped.iter().map(|d| d.reason).collect();
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, DropReason::Skipped(Corruption::MissingFirst { .. }))),
        "{reasons:?}"
    );
}

#[test]
fn fragments_of_another_log_are_not_records() {
    let records = vec![record(1, 10), record(2, 20)];
    let (stale, _) = log_bytes(&records, 5);
    let (read, report) = read_log(&stale, 6, RecoveryMode::TolerateCorruptedTail);
    assert!(read.unwrap().is_empty());
    assert!(matches!(
        report.torn_tail().map(|d| d.reason),
        Some(DropReason::TornTail(Corruption::ForeignLogNumber {
            expected: 6,
            found: 5
        }))
    ));
    let (read, _) = read_log(&stale, 6, RecoveryMode::AbsoluteConsistency);
    assert!(read.unwrap_err().is_corruption());

    // A new log written over the start of a longer stale one: the stale
    // tail is not read as records of the new log.
    let (mut reused, _) = log_bytes(&[record(9, 300), record(8, 5000)], 5);
    let (fresh, _) = log_bytes(&[record(3, 100)], 6);
    reused[..fresh.len()].copy_from_slice(&fresh);
    let (read, report) = read_log(&reused, 6, RecoveryMode::TolerateCorruptedTail);
    assert_eq!(datas(&read.unwrap()), vec![record(3, 100)]);
    assert_eq!(report.valid_len, fresh.len() as u64);
}

#[test]
fn zeros_to_the_end_are_preallocated_space_in_every_mode() {
    let (written, _) = log_bytes(&[record(1, 10), record(2, 40_000)], 1);
    // Zeros from the middle of a block, across whole blocks, and a few
    // bytes that leave no room for a header.
    for zeros in [4096, 3 * 32 * 1024 + 17, 5] {
        let mut bytes = written.clone();
        bytes.extend(std::iter::repeat_n(0, zeros));
        for mode in [
            RecoveryMode::TolerateCorruptedTail,
            RecoveryMode::AbsoluteConsistency,
            RecoveryMode::PointInTime,
            RecoveryMode::SkipCorrupted,
        ] {
            let (read, report) = read_preallocated_log(&bytes, 1, mode);
            assert_eq!(read.unwrap().len(), 2, "{mode:?} {zeros}");
            assert!(report.is_clean(), "{mode:?} {zeros}: {report:?}");
            assert_eq!(report.valid_len, written.len() as u64);
            assert_eq!(report.zero_tail, zeros as u64, "{mode:?}");
        }
    }
}

#[test]
fn a_zeroed_tail_is_a_torn_tail_unless_the_writer_preallocated() {
    let (mut bytes, _) = log_bytes(&[record(1, 10), record(2, 10)], 1);
    bytes.extend_from_slice(&[0; 4096]);
    let (read, report) = read_log(&bytes, 1, RecoveryMode::TolerateCorruptedTail);
    assert_eq!(read.unwrap().len(), 2);
    let tail = report.torn_tail().unwrap();
    assert_eq!(tail.len, 4096);
    assert_eq!(tail.reason, DropReason::TornTail(Corruption::Zeroed));
    assert_eq!(report.zero_tail, 0);
    let (read, _) = read_log(&bytes, 1, RecoveryMode::AbsoluteConsistency);
    assert!(read.is_err());
}

#[test]
fn zeros_with_data_after_them_are_damage() {
    let (mut bytes, _) = log_bytes(&[record(1, 10), record(2, 10)], 1);
    bytes.extend_from_slice(&[0; 4096]);
    bytes.push(1);
    let (read, report) = read_preallocated_log(&bytes, 1, RecoveryMode::TolerateCorruptedTail);
    assert_eq!(read.unwrap().len(), 2);
    let tail = report.torn_tail().unwrap();
    assert_eq!(tail.len, 4097);
    assert_eq!(tail.reason, DropReason::TornTail(Corruption::Zeroed));
    assert_eq!(report.zero_tail, 0);
    let (read, _) = read_preallocated_log(&bytes, 1, RecoveryMode::AbsoluteConsistency);
    assert!(read.is_err());
}

#[test]
fn a_long_run_of_zeroed_blocks_before_data_is_scanned_once() {
    // 64 MiB of zeros, then a record: every block's header is zeroed, and
    // each asks whether zeros run to the end; the answer is found once.
    let (mut bytes, _) = log_bytes(&[record(1, 10)], 1);
    bytes.resize(64 << 20, 0);
    let (tail, _) = log_bytes(&[record(2, 10)], 1);
    bytes.extend_from_slice(&tail);
    let (read, report) = read_preallocated_log(&bytes, 1, RecoveryMode::SkipCorrupted);
    assert_eq!(datas(&read.unwrap()), vec![record(1, 10), record(2, 10)]);
    assert!(report.skipped() > 0);
    assert_eq!(report.zero_tail, 0);
}

#[test]
fn a_record_cut_short_by_zeros_is_a_torn_tail_that_ends_where_they_begin() {
    let (mut bytes, extents) = log_bytes(&[record(1, 10), record(2, 40_000)], 1);
    let cut = extents[1].0 as usize + 20_000;
    bytes.truncate(cut);
    bytes.resize(cut + 50_000, 0);
    let (read, report) = read_preallocated_log(&bytes, 1, RecoveryMode::TolerateCorruptedTail);
    assert_eq!(read.unwrap().len(), 1);
    let tail = report.torn_tail().unwrap();
    assert_eq!(tail.offset, extents[1].0);
    assert_eq!(
        tail.offset + tail.len + report.zero_tail,
        bytes.len() as u64
    );
    let (read, _) = read_preallocated_log(&bytes, 1, RecoveryMode::AbsoluteConsistency);
    assert!(read.is_err());
}

#[test]
fn the_writer_keeps_its_first_error() {
    let fs = FaultFs::new(MemFs::new());
    let mut writer = LogWriter::new(fs.create(std::path::Path::new("/log")).unwrap(), 1);
    fs.add(lsmkit_vfs::Rule::on(lsmkit_vfs::Op::Append).nth(1));
    let first = writer.add_record(b"lost").unwrap_err();
    fs.clear_rules();
    let again = writer.add_record(b"after").unwrap_err();
    assert_eq!(first.to_string(), again.to_string());
    assert!(lsmkit_vfs::FsError::is_injected(again.io().unwrap()));
    assert!(writer.sync().is_err());
}

proptest! {
    #[test]
    fn random_records_round_trip(
        sizes in prop::collection::vec(
            prop_oneof![0usize..64, 0usize..2 * BLOCK_SIZE, Just(MAX_FRAGMENT_PAYLOAD)],
            0..24,
        ),
        seed in any::<u64>(),
    ) {
        let records: Vec<Vec<u8>> =
            sizes.iter().enumerate().map(|(i, &n)| record(seed ^ i as u64, n)).collect();
        let (bytes, extents) = log_bytes(&records, 2);
        let (read, report) = read_log(&bytes, 2, RecoveryMode::AbsoluteConsistency);
        let read = read.unwrap();
        prop_assert_eq!(datas(&read), records);
        prop_assert!(read.iter().zip(&extents).all(|(r, e)| r.offset == e.0));
        prop_assert!(report.is_clean());
    }
}
