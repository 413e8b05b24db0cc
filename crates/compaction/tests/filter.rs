//! Compaction filters through the executor, against a model: every
//! snapshot reads what it read before, and the newest state reads the
//! filter's decisions on the values only it reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Case, Version, arb_case, build, visible};
use lsmkit_compaction::{
    Clock, CompactionFilter, CompactionJob, Decision, FilterContext, TtlFilter, execute,
    split_ttl_value, ttl_value,
};
use lsmkit_sstable::key::MAX_SEQNO;
use lsmkit_sstable::{SstReader, ValueKind};
use lsmkit_vfs::{Fs, MemFs};
use proptest::prelude::*;

const DIR: &str = "/db";

/// Removes, changes or keeps a value by its first byte.
struct ByFirstByte;

fn decide(value: &[u8]) -> Decision {
    match value.first().map(|b| b % 3) {
        Some(0) => Decision::Remove,
        Some(1) => Decision::Change([value, b"!"].concat()),
        _ => Decision::Keep,
    }
}

impl CompactionFilter for ByFirstByte {
    fn name(&self) -> &str {
        "test.ByFirstByte"
    }

    fn filter(&self, _key: &[u8], value: &[u8], _context: &FilterContext) -> Decision {
        decide(value)
    }
}

fn write_table(fs: &Arc<dyn Fs>, name: &str, versions: &[Version]) -> PathBuf {
    common::write_table(fs, &Path::new(DIR).join(name), versions, &[])
}

fn job(case: &Case, inputs: Vec<PathBuf>, filter: Arc<dyn CompactionFilter>) -> CompactionJob {
    CompactionJob {
        inputs,
        snapshots: case.snapshots.clone(),
        bottommost: case.bottommost,
        target_file_size: 256,
        table_options: common::small_tables(),
        lower: Vec::new(),
        upper: None,
        filter: Some(filter),
    }
}

fn namer() -> impl FnMut() -> PathBuf {
    let mut n = 0;
    move || {
        n += 1;
        PathBuf::from(format!("{DIR}/out-{n}.sst"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled_cases(128), ..ProptestConfig::default() })]

    #[test]
    fn snapshots_read_the_same_and_the_newest_state_reads_the_decisions(case in arb_case()) {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        let h = build(&case);
        let inputs = common::write_inputs(&fs, &h, DIR);
        let outcome = execute(&fs, &job(&case, inputs, Arc::new(ByFirstByte)), namer()).unwrap();

        let mut after_points = h.older_points.clone();
        let mut after_tombstones = h.older_tombstones.clone();
        let mut output_points = Vec::new();
        for table in &outcome.added {
            let reader = SstReader::open(&*fs, table.meta.path.clone()).unwrap();
            let versions = common::collect(&mut reader.iter());
            output_points.extend(versions.clone());
            after_points.extend(versions);
            after_tombstones.extend(reader.range_tombstones().iter().cloned());
        }
        for &s in &case.snapshots {
            prop_assert_eq!(
                visible(&h.all_points, &h.all_tombstones, s),
                visible(&after_points, &after_tombstones, s),
                "snapshot {}", s
            );
        }

        // The model: of each key the newest state reads, the value written
        // above every snapshot takes the filter's decision.
        let newest_snapshot = case.snapshots.iter().copied().max();
        let mut newest_input: BTreeMap<&[u8], &Version> = BTreeMap::new();
        for (points, _) in &h.inputs {
            for v in points {
                let slot = newest_input.entry(&v.user_key).or_insert(v);
                if v.seqno > slot.seqno {
                    *slot = v;
                }
            }
        }
        let mut expected = visible(&h.all_points, &h.all_tombstones, MAX_SEQNO);
        let (mut removed, mut changed) = (0, 0);
        for (key, v) in &newest_input {
            let unseen = newest_snapshot.is_none_or(|s| v.seqno > s);
            if !unseen || expected.get(*key) != Some(&v.value) || v.kind != ValueKind::Put {
                continue;
            }
            match decide(&v.value) {
                Decision::Keep => {}
                Decision::Remove => {
                    expected.remove(*key);
                    removed += 1;
                }
                Decision::Change(to) => {
                    expected.insert(key.to_vec(), to);
                    changed += 1;
                }
            }
        }
        prop_assert_eq!(visible(&after_points, &after_tombstones, MAX_SEQNO), expected);
        // A value under a newer range tombstone may be filtered unseen.
        prop_assert!(outcome.filter.removed >= removed && outcome.filter.changed >= changed);
        if let Some(min) = outcome.filter.min_seqno {
            prop_assert!(newest_snapshot.is_none_or(|s| min > s));
        }
        // At the bottom, every point tombstone hides an older version of
        // its key in the output.
        if case.bottommost {
            for (i, v) in output_points.iter().enumerate() {
                if v.kind == ValueKind::Delete {
                    let next = output_points.get(i + 1);
                    prop_assert!(next.is_some_and(|n| n.user_key == v.user_key), "{:?}", v);
                }
            }
        }
    }
}

/// A clock a test sets.
struct TestClock(Arc<AtomicU64>);

impl Clock for TestClock {
    fn now_secs(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn put(key: &str, seqno: u64, value: Vec<u8>) -> Version {
    Version {
        user_key: key.as_bytes().to_vec(),
        seqno,
        kind: ValueKind::Put,
        value,
    }
}

#[test]
fn ttl_removes_values_at_their_age_and_keeps_short_ones() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let input = write_table(
        &fs,
        "in.sst",
        &[
            put("expired", 1, ttl_value(100, b"a")),
            put("exactly", 2, ttl_value(900, b"b")),
            put("fresh", 3, ttl_value(950, b"c")),
            put("short", 4, b"1234567".to_vec()),
        ],
    );
    let now = Arc::new(AtomicU64::new(1000));
    let ttl = TtlFilter::with_clock(Duration::from_secs(100), TestClock(Arc::clone(&now)));
    let case = Case {
        writes: Vec::new(),
        snapshots: Vec::new(),
        bottommost: true,
        older_up_to: 0,
    };
    let outcome = execute(&fs, &job(&case, vec![input], Arc::new(ttl)), namer()).unwrap();
    let reader = SstReader::open(&*fs, outcome.added[0].meta.path.clone()).unwrap();
    let kept: Vec<Vec<u8>> = common::collect(&mut reader.iter())
        .into_iter()
        .map(|v| v.user_key)
        .collect();
    assert_eq!(kept, [b"fresh".to_vec(), b"short".to_vec()]);
    assert_eq!(outcome.filter.consulted, 4);
    assert_eq!(outcome.filter.removed, 2);
    assert_eq!(outcome.filter.min_seqno, Some(1));
    assert_eq!(split_ttl_value(&ttl_value(7, b"v")), Some((7, &b"v"[..])));
    assert_eq!(split_ttl_value(b"short"), None);
}

#[test]
fn a_removal_above_the_bottom_writes_a_tombstone() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let input = write_table(&fs, "in.sst", &[put("k", 5, vec![3])]);
    let case = Case {
        writes: Vec::new(),
        snapshots: Vec::new(),
        bottommost: false,
        older_up_to: 0,
    };
    let outcome = execute(
        &fs,
        &job(&case, vec![input], Arc::new(ByFirstByte)),
        namer(),
    )
    .unwrap();
    let reader = SstReader::open(&*fs, outcome.added[0].meta.path.clone()).unwrap();
    let out = common::collect(&mut reader.iter());
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].seqno, out[0].kind), (5, ValueKind::Delete));
}
