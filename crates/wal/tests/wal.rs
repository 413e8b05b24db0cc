//! The segmented WAL: rotation, reopening, obsolete segments, torn tails
//! at every offset of the newest segment, point-in-time recovery, sticky
//! errors, and group commit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{open_wal, record, recover, wal_datas};
use lsmkit_vfs::{FaultFs, Fs, FsError, MemFs, Op, Rule, StdFs};
use lsmkit_wal::{
    Appended, DropReason, Error, Position, RecoveryMode, SyncPolicy, Wal, WalOptions, WalReader,
};

const DIR: &str = "/db/wal";

/// No preallocation: these tests read segment sizes as the bytes written.
fn options(segment_size: u64, sync: SyncPolicy) -> WalOptions {
    WalOptions {
        segment_size,
        sync,
        preallocate: 0,
    }
}

/// Appends records of the given sizes, returning them with what `append`
/// said and where each ends (the segment's flushed size after it).
fn append_all(
    wal: &Wal,
    fs: &Arc<dyn Fs>,
    sizes: impl IntoIterator<Item = usize>,
) -> Vec<(Vec<u8>, Appended, u64)> {
    sizes
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let data = record(1000 + i as u64, n);
            let appended = wal.append(&data).unwrap();
            let end = fs
                .size(&wal.segment_path(appended.position.segment))
                .unwrap();
            (data, appended, end)
        })
        .collect()
}

#[test]
fn records_come_back_in_order_across_segments() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let wal = open_wal(&fs, DIR, options(4096, SyncPolicy::Never));
    let sizes = (0..200).map(|i| (i * 37) % 700);
    let written = append_all(&wal, &fs, sizes);
    wal.sync().unwrap();
    assert!(wal.segments().len() > 10, "{:?}", wal.segments());
    drop(wal);

    let (records, reader) = recover(&fs, DIR, RecoveryMode::AbsoluteConsistency);
    let records = records.unwrap();
    assert_eq!(records.len(), written.len());
    for (i, (record, (data, appended, _))) in records.iter().zip(&written).enumerate() {
        assert_eq!(&record.data, data);
        assert_eq!(record.position, appended.position);
        assert_eq!(record.sequence, i as u64);
        assert_eq!(appended.sequence, i as u64);
    }
    assert!(reader.report().is_clean());
    assert_eq!(reader.report().records(), 200);
}

#[test]
fn reopening_continues_in_a_new_segment_and_numbers_on() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let wal = open_wal(&fs, DIR, WalOptions::default());
    wal.append(b"one").unwrap();
    let first_segment = wal.current_segment();
    drop(wal);

    let (records, reader) = recover(&fs, DIR, RecoveryMode::default());
    assert_eq!(wal_datas(&records.unwrap()), vec![b"one".to_vec()]);
    let (wal, report) = reader.into_wal(WalOptions::default()).unwrap();
    assert!(report.is_clean());
    assert!(wal.current_segment() > first_segment);
    let two = wal.append(b"two").unwrap();
    assert_eq!(two.sequence, 1);
    assert_eq!(wal.segments(), vec![first_segment, two.position.segment]);
    drop(wal);

    let (records, _) = recover(&fs, DIR, RecoveryMode::AbsoluteConsistency);
    assert_eq!(
        wal_datas(&records.unwrap()),
        vec![b"one".to_vec(), b"two".to_vec()]
    );
}

#[test]
fn into_wal_requires_recovery_to_have_finished() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let wal = open_wal(&fs, DIR, WalOptions::default());
    wal.append(b"one").unwrap();
    drop(wal);
    let reader = WalReader::open(fs, DIR, RecoveryMode::default()).unwrap();
    let error = reader.into_wal(WalOptions::default()).unwrap_err();
    assert!(matches!(error, Error::RecoveryIncomplete { .. }), "{error}");
}

#[test]
fn obsolete_segments_are_deleted_but_never_the_current_one() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let wal = open_wal(&fs, DIR, options(1000, SyncPolicy::Never));
    let written = append_all(&wal, &fs, [600; 10]);
    let segments = wal.segments();
    assert!(segments.len() >= 5);
    let keep_from = written[6].1.position.segment;
    let removed = wal.remove_segments_before(keep_from).unwrap();
    assert_eq!(
        removed,
        segments
            .iter()
            .copied()
            .filter(|&s| s < keep_from)
            .collect::<Vec<_>>()
    );
    for segment in &removed {
        assert!(!fs.exists(&wal.segment_path(*segment)).unwrap());
    }
    let current = wal.current_segment();
    wal.remove_segments_before(u64::MAX).unwrap();
    assert_eq!(wal.segments(), vec![current]);
    assert!(fs.exists(&wal.segment_path(current)).unwrap());
    wal.append(b"still writing").unwrap();
    drop(wal);

    let (records, _) = recover(&fs, DIR, RecoveryMode::AbsoluteConsistency);
    assert_eq!(
        wal_datas(&records.unwrap()),
        vec![b"still writing".to_vec()]
    );
}

#[test]
fn torn_tail_of_the_newest_segment_at_every_offset() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let wal = open_wal(&fs, DIR, options(3000, SyncPolicy::Never));
    // Two full segments, then a newest one of several records.
    let mut written = append_all(&wal, &fs, [1500, 1600, 0, 3000]);
    assert_eq!(wal.segments().len(), 3);
    let sizes = [0, 10, 100, 0, 250, 1, 700];
    written.extend(
        append_all(&wal, &fs, sizes)
            .into_iter()
            .map(|(d, mut a, e)| {
                a.sequence += 4;
                (d, a, e)
            }),
    );
    wal.sync().unwrap();
    let newest = wal.current_segment();
    let newest_path = wal.segment_path(newest);
    drop(wal);
    let newest_len = fs.size(&newest_path).unwrap();

    for cut in 0..=newest_len {
        let crashed = mem.crash_clone();
        crashed.truncate(&newest_path, cut).unwrap();
        let crashed: Arc<dyn Fs> = Arc::new(crashed);
        let (records, reader) = recover(&crashed, DIR, RecoveryMode::TolerateCorruptedTail);
        let records = records.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let expected: Vec<&(Vec<u8>, Appended, u64)> = written
            .iter()
            .filter(|(_, a, end)| a.position.segment < newest || *end <= cut)
            .collect();
        assert_eq!(records.len(), expected.len(), "cut at {cut}");
        for (record, (data, appended, _)) in records.iter().zip(&expected) {
            assert_eq!((&record.data, record.position), (data, appended.position));
        }
        // Where the last whole record of the newest segment ends.
        let kept_end = expected
            .last()
            .filter(|e| e.1.position.segment == newest)
            .map_or(0, |e| e.2);
        let report = reader.report();
        assert_eq!(
            report.dropped_bytes(),
            cut - kept_end,
            "cut at {cut}: {report:?}"
        );
        if cut > kept_end {
            let (segment, tail) = report.torn_tail().unwrap();
            assert_eq!((segment, tail.offset), (newest, kept_end));
        }

        // Some cuts: the writer continues after the last whole record, and
        // the next recovery is clean.
        if cut % 37 == 0 {
            let (wal, _) = reader.into_wal(WalOptions::default()).unwrap();
            wal.append(b"after the crash").unwrap();
            drop(wal);
            let (again, reader) = recover(&crashed, DIR, RecoveryMode::AbsoluteConsistency);
            let again = again.unwrap();
            assert_eq!(again.len(), expected.len() + 1, "cut at {cut}");
            assert_eq!(again.last().unwrap().data, b"after the crash");
            assert!(reader.report().is_clean());
        }
    }
}

#[test]
fn damage_in_an_older_segment_is_an_error_by_default() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let wal = open_wal(&fs, DIR, options(1000, SyncPolicy::Never));
    append_all(&wal, &fs, [800, 800, 800]);
    let older = wal.segments()[0];
    let older_path = wal.segment_path(older);
    drop(wal);
    // A torn end is no excuse in a segment that was synced whole.
    let len = mem.size(&older_path).unwrap();
    mem.truncate(&older_path, len - 3).unwrap();
    let (records, _) = recover(&fs, DIR, RecoveryMode::TolerateCorruptedTail);
    let error = records.unwrap_err();
    assert!(error.is_corruption(), "{error}");
    assert!(
        error
            .to_string()
            .contains(&lsmkit_wal::format::segment_file_name(older)),
        "{error}"
    );
}

#[test]
fn point_in_time_drops_everything_after_the_damage_and_continues_from_there() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let wal = open_wal(&fs, DIR, options(1000, SyncPolicy::Never));
    let written = append_all(&wal, &fs, [300; 12]);
    wal.sync().unwrap();
    let segments = wal.segments();
    drop(wal);
    // Damage the second record of the second segment.
    let damaged = written
        .iter()
        .filter(|w| w.1.position.segment == segments[1])
        .nth(1)
        .unwrap();
    let path = Path::new(DIR).join(lsmkit_wal::format::segment_file_name(segments[1]));
    let mut bytes = mem.open(&path).unwrap().as_bytes().unwrap().to_vec();
    bytes[damaged.1.position.offset as usize + 20] ^= 1;
    let mut file = mem.create(&path).unwrap();
    file.append(&bytes).unwrap();
    file.sync().unwrap();
    drop(file);

    let (records, reader) = recover(&fs, DIR, RecoveryMode::PointInTime);
    let records = records.unwrap();
    let before: Vec<Vec<u8>> = written
        .iter()
        .take_while(|w| w.1.position < damaged.1.position)
        .map(|w| w.0.clone())
        .collect();
    assert_eq!(wal_datas(&records), before);
    let report = reader.report();
    assert_eq!(report.stopped_at, Some(damaged.1.position));
    assert!(
        report.segments[2..]
            .iter()
            .all(|s| s.log.dropped[0].reason == DropReason::AfterStop)
    );

    let (wal, _) = reader.into_wal(WalOptions::default()).unwrap();
    assert_eq!(
        wal.segments(),
        vec![segments[0], segments[1], wal.current_segment()]
    );
    wal.append(b"new").unwrap();
    drop(wal);
    let (again, reader) = recover(&fs, DIR, RecoveryMode::AbsoluteConsistency);
    let mut expected = before;
    expected.push(b"new".to_vec());
    assert_eq!(wal_datas(&again.unwrap()), expected);
    assert!(reader.report().is_clean());
}

#[test]
fn after_an_injected_append_error_every_append_fails_with_it() {
    let fs = FaultFs::new(MemFs::new());
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    let wal = open_wal(&shared, DIR, options(1 << 20, SyncPolicy::GroupCommit));
    wal.append(b"kept").unwrap();
    fs.add(Rule::on(Op::Append).nth(2));
    let error = wal.append(&record(1, 100_000)).unwrap_err();
    assert!(FsError::is_injected(error.io().unwrap()), "{error}");
    fs.clear_rules();
    for _ in 0..3 {
        let again = wal.append(b"refused").unwrap_err();
        assert_eq!(again.to_string(), error.to_string());
        assert!(FsError::is_injected(again.io().unwrap()));
    }
    assert!(wal.sync().is_err());
    assert!(wal.error().is_some());
    drop(wal);

    // Reopening recovers what was acknowledged, drops the half-written
    // record, and writes again.
    let (records, reader) = recover(&shared, DIR, RecoveryMode::default());
    assert_eq!(wal_datas(&records.unwrap()), vec![b"kept".to_vec()]);
    assert!(reader.report().torn_tail().is_some());
    let (wal, _) = reader.into_wal(WalOptions::default()).unwrap();
    wal.append(b"again").unwrap();
}

#[test]
fn a_failed_group_sync_fails_its_waiters_and_later_appends() {
    let fs = FaultFs::new(MemFs::new());
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    let wal = open_wal(&shared, DIR, options(1 << 20, SyncPolicy::GroupCommit));
    wal.append(b"durable").unwrap();
    fs.add(Rule::on(Op::Sync));
    let error = wal.append(b"not durable").unwrap_err();
    assert!(FsError::is_injected(error.io().unwrap()), "{error}");
    fs.clear_rules();
    assert_eq!(
        wal.append(b"refused").unwrap_err().to_string(),
        error.to_string()
    );
}

#[test]
fn a_failed_rotation_stops_the_writer() {
    let fs = FaultFs::new(MemFs::new());
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    let wal = open_wal(&shared, DIR, options(100, SyncPolicy::Never));
    fs.add(Rule::on(Op::Create));
    assert!(wal.append(&[7; 200]).is_err());
    fs.clear_rules();
    assert!(wal.append(b"refused").is_err());
}

#[test]
fn every_append_policy_syncs_each_record() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let wal = open_wal(&fs, DIR, options(1 << 20, SyncPolicy::EveryAppend));
    for i in 0..10 {
        wal.append(&record(i, 50)).unwrap();
    }
    assert_eq!(
        mem.file_syncs(&wal.segment_path(wal.current_segment()))
            .unwrap(),
        10
    );
    drop(wal);
    mem.crash();
    let (records, _) = recover(&fs, DIR, RecoveryMode::AbsoluteConsistency);
    assert_eq!(records.unwrap().len(), 10);
}

/// Eight threads appending durably; returns the records each wrote and
/// the positions they got.
fn eight_durable_writers(wal: &Arc<Wal>, per_thread: usize) -> Vec<Vec<(Vec<u8>, Position)>> {
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let wal = Arc::clone(wal);
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|i| {
                        let data = format!("thread {t} record {i}").into_bytes();
                        let appended = wal.append(&data).unwrap();
                        (data, appended.position)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn check_each_exactly_once(records: &[lsmkit_wal::Record], written: &[Vec<(Vec<u8>, Position)>]) {
    let total: usize = written.iter().map(Vec::len).sum();
    assert_eq!(records.len(), total);
    let mut by_data = std::collections::HashMap::new();
    for record in records {
        assert!(
            by_data
                .insert(record.data.clone(), record.position)
                .is_none(),
            "duplicate"
        );
    }
    for thread in written {
        for (data, position) in thread {
            assert_eq!(by_data.get(data), Some(position));
        }
        // Each thread's records in the order it wrote them.
        assert!(thread.windows(2).all(|w| w[0].1 < w[1].1));
    }
}

#[test]
fn group_commit_shares_fsyncs_between_eight_threads() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FaultFs::new(StdFs::new());
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    let wal_dir = dir.path().join("wal");
    let wal_dir = wal_dir.to_str().unwrap();
    let wal = Arc::new(open_wal(&shared, wal_dir, WalOptions::default()));
    let syncs_before = fs.count(Op::Sync);
    let written = eight_durable_writers(&wal, 100);
    let syncs = fs.count(Op::Sync) - syncs_before;
    // 800 durable appends; with sharing, far fewer fsyncs.
    assert!(syncs < 400, "{syncs} fsyncs for 800 appends");
    drop(wal);
    let (records, _) = recover(&shared, wal_dir, RecoveryMode::AbsoluteConsistency);
    check_each_exactly_once(&records.unwrap(), &written);
}

#[test]
fn group_committed_records_survive_a_crash() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let wal = Arc::new(open_wal(&fs, DIR, options(4096, SyncPolicy::GroupCommit)));
    let written = eight_durable_writers(&wal, 100);
    // The crash comes while the writer is still open: nothing but syncs
    // made these records durable.
    mem.crash();
    drop(wal);
    let (records, _) = recover(&fs, DIR, RecoveryMode::TolerateCorruptedTail);
    check_each_exactly_once(&records.unwrap(), &written);
}

#[test]
fn a_segment_numbered_u64_max_is_an_error_not_an_overflow() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    let last = Path::new(DIR).join(lsmkit_wal::format::segment_file_name(u64::MAX));
    drop(fs.create(&last).unwrap());
    let (records, reader) = recover(&fs, DIR, RecoveryMode::AbsoluteConsistency);
    assert_eq!(records.unwrap(), []);
    let error = reader
        .into_wal(WalOptions::default())
        .expect_err("no segment number follows u64::MAX");
    assert!(
        matches!(error, Error::SegmentNumbersExhausted { last: u64::MAX, .. }),
        "{error}"
    );
}

/// Appends through a WAL that preallocates, on `fs`, and checks what the
/// segments hold before and after a crash that leaves their reserved
/// zeros.
fn preallocated_segments_read_back_whole(fs: Arc<dyn Fs>, dir: &str, crash: impl FnOnce()) {
    let options = WalOptions {
        segment_size: 64 * 1024,
        sync: SyncPolicy::Never,
        preallocate: 16 * 1024,
    };
    let wal = open_wal(&fs, dir, options);
    let written: Vec<Vec<u8>> = (0..600)
        .map(|i| record(i, (i as usize * 53) % 900))
        .collect();
    for data in &written {
        wal.append(data).unwrap();
    }
    wal.sync().unwrap();
    let segments = wal.segments();
    assert!(segments.len() > 2, "{segments:?}");
    for &segment in &segments {
        // Reserved space never runs past the segment size by more than the
        // record that closes it.
        let size = fs.size(&wal.segment_path(segment)).unwrap();
        assert!(size <= 64 * 1024 + 1000, "segment {segment}: {size}");
    }
    let newest = wal.segment_path(wal.current_segment());
    drop(wal);
    crash();
    assert!(fs.size(&newest).unwrap() > 0);

    let (records, reader) = recover(&fs, dir, RecoveryMode::AbsoluteConsistency);
    assert_eq!(wal_datas(&records.unwrap()), written);
    let report = reader.report().clone();
    assert!(report.is_clean(), "{report:?}");
    // Rotation gave back the reserve of every closed segment; only the
    // newest ends in reserved zeros.
    let (newest_report, closed) = report.segments.split_last().unwrap();
    for s in closed {
        assert_eq!(s.log.zero_tail, 0, "segment {}", s.segment);
        assert_eq!(s.log.valid_len, s.log.file_len, "segment {}", s.segment);
    }
    assert!(newest_report.log.zero_tail > 0, "{report:?}");
    // Recovery cuts the newest segment's reserve off before writing on.
    let (wal, _) = reader.into_wal(options).unwrap();
    assert_eq!(
        fs.size(&newest).unwrap(),
        report.segments.last().unwrap().log.valid_len
    );
    wal.append(b"after").unwrap();
    wal.sync().unwrap();
    drop(wal);
    let (records, _) = recover(&fs, dir, RecoveryMode::AbsoluteConsistency);
    assert_eq!(records.unwrap().len(), written.len() + 1);
}

#[test]
fn preallocated_segments_recover_whole_from_memory() {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    preallocated_segments_read_back_whole(fs, DIR, || mem.crash());
}

#[test]
fn preallocated_segments_recover_whole_from_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    preallocated_segments_read_back_whole(fs, dir.to_str().unwrap(), || ());
}

#[test]
fn a_failed_preallocation_stops_the_writer() {
    let fault = FaultFs::new(MemFs::new());
    let fs: Arc<dyn Fs> = Arc::new(fault.clone());
    let options = WalOptions {
        preallocate: 4096,
        ..options(1 << 20, SyncPolicy::Never)
    };
    let wal = open_wal(&fs, DIR, options);
    wal.append(b"kept").unwrap();
    fault.add(Rule::on(Op::Preallocate).nth(1));
    let error = wal.append(&vec![7; 5000]).unwrap_err();
    assert!(FsError::is_injected(error.io().unwrap()), "{error}");
    fault.clear_rules();
    assert!(wal.append(b"after").is_err(), "the error sticks");
    drop(wal);
    let (records, _) = recover(&fs, DIR, RecoveryMode::AbsoluteConsistency);
    assert_eq!(wal_datas(&records.unwrap()), vec![b"kept".to_vec()]);
}

#[test]
fn zeros_at_the_end_of_a_closed_segment_are_damage() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let options = WalOptions {
        preallocate: 4096,
        ..options(8 * 1024, SyncPolicy::Never)
    };
    let wal = open_wal(&fs, DIR, options);
    for i in 0..40 {
        wal.append(&record(i, 700)).unwrap();
    }
    wal.sync().unwrap();
    let closed = wal.segments()[0];
    let path = wal.segment_path(closed);
    drop(wal);
    // As if the end of a closed segment's last record had been zeroed.
    let size = fs.size(&path).unwrap();
    let mut bytes = vec![0; size as usize];
    fs.open(&path).unwrap().read_at(0, &mut bytes).unwrap();
    let n = bytes.len();
    bytes[n - 300..].fill(0);
    let mut file = fs.create(&path).unwrap();
    file.append(&bytes).unwrap();
    file.sync().unwrap();
    drop(file);
    let (records, _) = recover(&fs, DIR, RecoveryMode::TolerateCorruptedTail);
    let error = records.unwrap_err();
    assert!(
        error.to_string().contains(&format!("{}", path.display())),
        "{error}"
    );
}

#[test]
fn a_reader_beside_a_live_writer_sees_a_prefix_and_no_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let options = WalOptions {
        segment_size: 256 * 1024,
        sync: SyncPolicy::Never,
        preallocate: 64 * 1024,
    };
    let wal = Arc::new(open_wal(&fs, dir.to_str().unwrap(), options));
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer = {
        let (wal, written) = (Arc::clone(&wal), Arc::clone(&written));
        std::thread::spawn(move || {
            for i in 0..20_000u64 {
                wal.append(&record(i, (i as usize * 37) % 300)).unwrap();
                written.store(i + 1, std::sync::atomic::Ordering::Release);
            }
        })
    };
    let mut reads = 0;
    while reads < 20 || !writer.is_finished() {
        let acked = written.load(std::sync::atomic::Ordering::Acquire);
        let mut reader = WalReader::open(Arc::clone(&fs), &dir, RecoveryMode::AbsoluteConsistency)
            .unwrap()
            .beside_writer();
        let records: Vec<_> = reader
            .by_ref()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("read {reads} beside the writer: {e}"));
        assert!(
            records.len() as u64 >= acked,
            "read {reads}: lost acknowledged records"
        );
        for (i, r) in records.iter().enumerate() {
            assert_eq!(
                r.data,
                record(i as u64, (i * 37) % 300),
                "read {reads}, record {i}"
            );
        }
        reads += 1;
    }
    writer.join().unwrap();
}
