//! The engine against a `BTreeMap` model: random puts, merges (the model
//! applies the list operator of `common`), deletes, range deletes,
//! batches, reads, iteration both ways, snapshots, flushes, compactions and
//! reopens (which replay the WAL), with a write buffer small enough that
//! flushes and background compactions really happen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Bound;
use std::sync::Arc;

use lsmkit_engine::{CompactionStyle, Db, Options, Snapshot, TieredOptions};
use lsmkit_vfs::MemFs;
use proptest::prelude::*;

mod common;
mod styles;

use common::{Model, Write, apply, batch_of};

#[derive(Clone, Debug)]
enum Op {
    Write(Write),
    Batch(Vec<Write>),
    Get(Vec<u8>),
    Scan {
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
        reverse: bool,
    },
    /// Take from the front and the back alternately until they meet.
    Zigzag,
    Prefix(Vec<u8>),
    TakeSnapshot,
    ReadSnapshot(usize, Vec<u8>),
    ScanSnapshot(usize),
    DropSnapshot(usize),
    Flush,
    Compact,
    Reopen,
    /// Reopens under the other compaction style.
    SwitchStyle,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // Few distinct keys, of different lengths, so that versions pile up and
    // prefixes nest.
    prop_oneof![
        (0u8..24).prop_map(|i| format!("k{i:02}").into_bytes()),
        (0u8..6).prop_map(|i| format!("k{i}").into_bytes()),
        Just(Vec::new()),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    (0usize..120, any::<u8>()).prop_map(|(len, b)| vec![b; len])
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Write::Put(k, v)),
        4 => (key(), (0usize..12, any::<u8>()).prop_map(|(len, b)| vec![b; len]))
            .prop_map(|(k, v)| Write::Merge(k, v)),
        2 => key().prop_map(Write::Delete),
        1 => (key(), key()).prop_map(|(a, b)| Write::DeleteRange(a, b)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let bound = || proptest::option::of(key());
    prop_oneof![
        20 => write().prop_map(Op::Write),
        3 => proptest::collection::vec(write(), 0..6).prop_map(Op::Batch),
        4 => key().prop_map(Op::Get),
        2 => (bound(), bound(), any::<bool>())
            .prop_map(|(lower, upper, reverse)| Op::Scan { lower, upper, reverse }),
        1 => Just(Op::Zigzag),
        1 => proptest::collection::vec(b'k'..=b'l', 0..3).prop_map(Op::Prefix),
        2 => Just(Op::TakeSnapshot),
        2 => (any::<usize>(), key()).prop_map(|(i, k)| Op::ReadSnapshot(i, k)),
        1 => any::<usize>().prop_map(Op::ScanSnapshot),
        1 => any::<usize>().prop_map(Op::DropSnapshot),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        1 => Just(Op::SwitchStyle),
    ]
}

fn options(fs: &MemFs) -> Options {
    Options::default()
        .fs(Arc::new(fs.clone()))
        .write_buffer_size(1 << 10)
        .block_size(256)
        .compaction(TieredOptions {
            trigger_runs: 3,
            target_file_size: 1 << 10,
            ..TieredOptions::default()
        })
        .leveled_compaction(styles::tiny_leveled())
        .runs_triggers(6, 10)
        .merge_operator(common::merge_operator())
}

fn style() -> impl Strategy<Value = CompactionStyle> {
    prop_oneof![
        Just(CompactionStyle::Tiered),
        Just(CompactionStyle::Leveled)
    ]
}

fn expected_range(
    model: &Model,
    lower: &Option<Vec<u8>>,
    upper: &Option<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let lo = lower
        .as_ref()
        .map_or(Bound::Unbounded, |l| Bound::Included(l.clone()));
    let hi = upper
        .as_ref()
        .map_or(Bound::Unbounded, |u| Bound::Excluded(u.clone()));
    if let (Some(l), Some(u)) = (lower, upper)
        && l >= u
    {
        return Vec::new();
    }
    model
        .range((lo, hi))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn scan(db: &Db, lower: &Option<Vec<u8>>, upper: &Option<Vec<u8>>) -> lsmkit_engine::DbIter {
    let lo = lower.as_deref().map_or(Bound::Unbounded, Bound::Included);
    let hi = upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    db.range::<&[u8], _>((lo, hi))
}

/// Runs `ops` against the model on a database whose block cache holds
/// `cache_size` bytes (0: none; a few hundred: blocks evicted all along).
fn run(
    ops: Vec<Op>,
    cache_size: u64,
    mut style: CompactionStyle,
    subcompactions: usize,
    jobs: usize,
) -> Result<(), TestCaseError> {
    let fs = MemFs::new();
    let options = |fs: &MemFs, style| {
        options(fs)
            .block_cache_size(cache_size)
            .compaction_style(style)
            .max_subcompactions(subcompactions)
            .max_background_jobs(jobs)
    };
    let mut db = Db::open("/db", options(&fs, style)).unwrap();
    let mut model = Model::new();
    let mut snapshots: Vec<(Snapshot, Model)> = Vec::new();
    for op in ops {
        match op {
            Op::Write(w) => {
                match &w {
                    Write::Put(k, v) => db.put(k, v).unwrap(),
                    Write::Delete(k) => db.delete(k).unwrap(),
                    Write::DeleteRange(a, b) => db.delete_range(&a[..]..&b[..]).unwrap(),
                    Write::Merge(k, v) => db.merge(k, v).unwrap(),
                }
                apply(&mut model, &w);
            }
            Op::Batch(writes) => {
                for w in &writes {
                    apply(&mut model, w);
                }
                db.write(batch_of(&writes)).unwrap();
            }
            Op::Get(k) => prop_assert_eq!(db.get(&k).unwrap(), model.get(&k).cloned()),
            Op::Scan {
                lower,
                upper,
                reverse,
            } => {
                let mut expect = expected_range(&model, &lower, &upper);
                let got: Vec<_> = if reverse {
                    expect.reverse();
                    scan(&db, &lower, &upper)
                        .rev()
                        .collect::<Result<_, _>>()
                        .unwrap()
                } else {
                    scan(&db, &lower, &upper).collect::<Result<_, _>>().unwrap()
                };
                prop_assert_eq!(got, expect);
            }
            Op::Zigzag => {
                let mut it = db.iter();
                let (mut front, mut back) = (Vec::new(), Vec::new());
                while let Some(kv) = it.next() {
                    front.push(kv.unwrap());
                    match it.next_back() {
                        Some(kv) => back.push(kv.unwrap()),
                        None => break,
                    }
                }
                back.reverse();
                front.extend(back);
                prop_assert_eq!(front, expected_range(&model, &None, &None));
            }
            Op::Prefix(p) => {
                let got: Vec<_> = db.prefix(&p).collect::<Result<_, _>>().unwrap();
                let expect: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                prop_assert_eq!(got, expect);
            }
            Op::TakeSnapshot => snapshots.push((db.snapshot(), model.clone())),
            Op::ReadSnapshot(i, k) if !snapshots.is_empty() => {
                let (snapshot, then) = &snapshots[i % snapshots.len()];
                prop_assert_eq!(snapshot.get(&k).unwrap(), then.get(&k).cloned());
            }
            Op::ScanSnapshot(i) if !snapshots.is_empty() => {
                let (snapshot, then) = &snapshots[i % snapshots.len()];
                let got: Vec<_> = snapshot.iter().rev().collect::<Result<_, _>>().unwrap();
                let mut expect = expected_range(then, &None, &None);
                expect.reverse();
                prop_assert_eq!(got, expect);
            }
            Op::DropSnapshot(i) if !snapshots.is_empty() => {
                snapshots.remove(i % snapshots.len());
            }
            Op::ReadSnapshot(..) | Op::ScanSnapshot(_) | Op::DropSnapshot(_) => {}
            Op::Flush => db.flush().unwrap(),
            Op::Compact => {
                db.compact().unwrap();
                prop_assert!(db.stats().runs() <= 1);
            }
            Op::Reopen | Op::SwitchStyle => {
                if matches!(op, Op::SwitchStyle) {
                    style = styles::other(style);
                }
                snapshots.clear();
                db.close().unwrap();
                db = Db::open("/db", options(&fs, style)).unwrap();
            }
        }
    }
    // Everything, once more, after a final reopen under the other style
    // (which then reshapes the tree), and after its compactions settle.
    snapshots.clear();
    db.close().unwrap();
    let db = Db::open("/db", options(&fs, styles::other(style))).unwrap();
    db.wait_for_compactions().unwrap();
    let got: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
    prop_assert_eq!(got, expected_range(&model, &None, &None));
    Ok(())
}

proptest! {
    // Each case opens a database with two background threads and runs up
    // to 150 operations: fewer cases than the default keep the suite fast;
    // PROPTEST_CASES scales them up.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn engine_matches_btreemap(
        ops in proptest::collection::vec(op(), 1..150),
        cache_size in prop_oneof![Just(0u64), Just(600), Just(64 << 20)],
        style in style(),
        subcompactions in prop_oneof![Just(1usize), Just(3)],
        // 3: two compaction threads, which may compact the tree at once.
        jobs in prop_oneof![Just(2usize), Just(3)],
    ) {
        run(ops, cache_size, style, subcompactions, jobs)?;
    }
}

#[test]
fn snapshot_survives_flush_and_compaction() {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs)).unwrap();
    for round in 0..4u8 {
        for i in 0..50u8 {
            db.put(&[b'k', i], &[round; 40]).unwrap();
        }
        if round == 1 {
            let snapshot = db.snapshot();
            db.delete_range(&b"k"[..]..&b"l"[..]).unwrap();
            db.compact().unwrap();
            assert_eq!(snapshot.get(&[b'k', 7]).unwrap(), Some(vec![1; 40]));
            assert_eq!(snapshot.iter().count(), 50);
            assert_eq!(db.get(&[b'k', 7]).unwrap(), None);
        }
    }
    db.compact().unwrap();
    let stats = db.stats();
    assert_eq!(stats.runs(), 1);
    assert!(stats.compactions > 0 && stats.flushes > 0, "{stats:?}");
    assert!(stats.write_amplification() > 1.0);
    assert_eq!(db.iter().count(), 50);
}

#[test]
fn block_cache_serves_repeated_reads_of_tables() {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs)).unwrap();
    for i in 0..200u32 {
        db.put(format!("k{i:04}").as_bytes(), &[7; 40]).unwrap();
    }
    db.flush().unwrap();
    let before = db.stats();
    for _ in 0..3 {
        assert_eq!(db.get(b"k0100").unwrap(), Some(vec![7; 40]));
    }
    let after = db.stats();
    assert!(after.block_cache_misses > before.block_cache_misses);
    assert!(after.block_cache_hits >= before.block_cache_hits + 2);
    assert!(after.block_cache_bytes > 0);
    db.close().unwrap();

    // Without a cache every read goes to the file, and nothing is counted.
    let db = Db::open("/db", options(&fs).block_cache_size(0)).unwrap();
    assert_eq!(db.get(b"k0100").unwrap(), Some(vec![7; 40]));
    assert_eq!(db.iter().count(), 200);
    let stats = db.stats();
    assert_eq!(
        (
            stats.block_cache_hits,
            stats.block_cache_misses,
            stats.block_cache_bytes
        ),
        (0, 0, 0)
    );
    db.close().unwrap();
}
