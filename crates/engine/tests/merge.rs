//! Merge operands end to end: writes refused without an operator, reads
//! that fold operands across memtables and tables, compactions that fold
//! them, WAL replay after a reopen, and the operator name check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use lsmkit_engine::{Db, Error, Options, U64Add, WriteBatch};
use lsmkit_vfs::MemFs;

mod common;

fn counter_options(fs: &MemFs) -> Options {
    common::small_options(Arc::new(fs.clone()))
        .merge_operator(Arc::new(U64Add))
        .auto_compaction(false)
}

fn without_operator(options: Options) -> Options {
    let mut options = options;
    options.merge_operator = None;
    options
}

fn count(db: &Db, key: &[u8]) -> Option<u64> {
    db.get(key).unwrap().map(|v| U64Add::decode(&v).unwrap())
}

#[test]
fn operands_fold_through_flush_and_compaction() {
    let fs = MemFs::new();
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    db.put(b"c", &U64Add::operand(10)).unwrap();
    db.merge(b"c", &U64Add::operand(1)).unwrap();
    db.flush().unwrap();
    db.merge(b"c", &U64Add::operand(2)).unwrap();
    assert_eq!(count(&db, b"c"), Some(13));
    db.flush().unwrap();
    db.merge(b"c", &U64Add::operand(4)).unwrap();
    assert_eq!(count(&db, b"c"), Some(17));
    db.compact().unwrap();
    assert_eq!(count(&db, b"c"), Some(17));
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(count(&db, b"c"), Some(17));
    let stats = db.stats();
    assert_eq!(stats.runs(), 1);
}

#[test]
fn a_merge_without_an_operator_is_refused_before_anything_is_written() {
    let fs = MemFs::new();
    let options = common::small_options(Arc::new(fs.clone()));
    let db = Db::open(common::DIR, without_operator(options)).unwrap();
    let error = db.merge(b"k", b"x").unwrap_err();
    assert!(
        matches!(error, Error::NoMergeOperator { key: None }),
        "{error}"
    );
    let mut batch = WriteBatch::new();
    batch.put(b"a", b"1").merge(b"k", b"x");
    assert!(matches!(
        db.write(batch),
        Err(Error::NoMergeOperator { .. })
    ));
    assert_eq!(db.get(b"a").unwrap(), None, "no part of the batch applies");
    assert_eq!(db.stats().last_seqno, 0);
    // The database goes on: the refusal is no background error.
    db.put(b"a", b"1").unwrap();
}

#[test]
fn merges_in_the_wal_are_replayed_after_a_reopen() {
    let fs = MemFs::new();
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    db.put(b"c", &U64Add::operand(1)).unwrap();
    db.flush().unwrap();
    let mut batch = WriteBatch::new();
    batch
        .merge(b"c", &U64Add::operand(2))
        .merge(b"d", &U64Add::operand(5))
        .merge(b"c", &U64Add::operand(3));
    db.write(batch).unwrap();
    db.close().unwrap();
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    assert_eq!((count(&db, b"c"), count(&db, b"d")), (Some(6), Some(5)));
    db.close().unwrap();

    // Without the operator the database opens and keeps the operands,
    // through compactions too, but cannot read them.
    let without = without_operator(counter_options(&fs));
    let db = Db::open(common::DIR, without).unwrap();
    db.compact().unwrap();
    let error = db.get(b"c").unwrap_err();
    assert!(
        matches!(error, Error::NoMergeOperator { key: Some(ref k) } if k == b"c"),
        "{error}"
    );
    assert!(db.iter().any(|r| r.is_err()));
    db.close().unwrap();
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    assert_eq!((count(&db, b"c"), count(&db, b"d")), (Some(6), Some(5)));
}

#[test]
fn snapshots_keep_what_they_saw_while_operands_fold() {
    let fs = MemFs::new();
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    db.merge(b"c", &U64Add::operand(1)).unwrap();
    let one = db.snapshot();
    db.merge(b"c", &U64Add::operand(10)).unwrap();
    db.flush().unwrap();
    let eleven = db.snapshot();
    db.merge(b"c", &U64Add::operand(100)).unwrap();
    db.compact().unwrap();
    let read = |s: &lsmkit_engine::Snapshot| s.get(b"c").unwrap().and_then(|v| U64Add::decode(&v));
    assert_eq!((read(&one), read(&eleven)), (Some(1), Some(11)));
    assert_eq!(count(&db, b"c"), Some(111));
    drop((one, eleven));
    db.compact().unwrap();
    assert_eq!(count(&db, b"c"), Some(111));
    assert_eq!(
        db.iter().collect::<Result<Vec<_>, _>>().unwrap(),
        [(b"c".to_vec(), U64Add::operand(111).to_vec())]
    );
}

#[test]
fn deletes_and_range_deletes_shadow_operands() {
    let fs = MemFs::new();
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    for key in [&b"a"[..], b"b", b"c"] {
        db.put(key, &U64Add::operand(1)).unwrap();
        db.merge(key, &U64Add::operand(2)).unwrap();
    }
    db.flush().unwrap();
    db.delete(b"a").unwrap();
    db.delete_range(&b"b"[..]..&b"c"[..]).unwrap();
    let check = |db: &Db| {
        assert_eq!(
            (count(db, b"a"), count(db, b"b"), count(db, b"c")),
            (None, None, Some(3))
        );
    };
    check(&db);
    for key in [&b"a"[..], b"b"] {
        db.merge(key, &U64Add::operand(4)).unwrap();
    }
    let after = |db: &Db| {
        assert_eq!(
            (count(db, b"a"), count(db, b"b"), count(db, b"c")),
            (Some(4), Some(4), Some(3))
        );
        let back: Vec<_> = db.iter().rev().collect::<Result<_, _>>().unwrap();
        let forward: Vec<_> = db.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(back.into_iter().rev().collect::<Vec<_>>(), forward);
    };
    after(&db);
    db.flush().unwrap();
    after(&db);
    db.compact().unwrap();
    after(&db);
}

#[test]
fn an_operand_the_operator_cannot_read_is_an_error_not_a_value() {
    let fs = MemFs::new();
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    db.put(b"c", b"not a counter").unwrap();
    db.merge(b"c", &U64Add::operand(1)).unwrap();
    let error = db.get(b"c").unwrap_err();
    assert!(
        matches!(error, Error::MergeFailed { ref key, ref operator } if key == b"c" && operator == "lsmkit.u64_add"),
        "{error}"
    );
    assert!(db.iter().next().unwrap().is_err());
}

#[test]
fn reopening_with_another_operator_is_refused() {
    let fs = MemFs::new();
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    db.merge(b"c", &U64Add::operand(1)).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let other = counter_options(&fs).merge_operator(common::merge_operator());
    let error = Db::open(common::DIR, other).unwrap_err();
    assert!(
        matches!(error, Error::MergeOperatorMismatch { ref recorded, ref configured, .. }
            if recorded == "lsmkit.u64_add" && configured == "lsmkit.list_append"),
        "{error}"
    );
    assert!(!error.is_corruption());
    // The same operator opens it.
    let db = Db::open(common::DIR, counter_options(&fs)).unwrap();
    assert_eq!(count(&db, b"c"), Some(1));
}
