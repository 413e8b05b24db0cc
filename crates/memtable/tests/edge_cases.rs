//! Single-threaded edge cases of the memtable's contract, each named for
//! the case it pins.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Bound;

use common::{drain_forward, scan};
use lsmkit_memtable::{ENTRY_OVERHEAD, Error, Lookup, Memtable};
use lsmkit_sstable::{InternalIterator, InternalKey, MAX_SEQNO, ValueKind};

fn found(v: &[u8]) -> Lookup {
    Lookup::Found(v.into())
}

#[test]
fn snapshot_before_the_first_version_sees_nothing() {
    let t = Memtable::new();
    t.insert(b"k", 5, ValueKind::Put, b"v").unwrap();
    assert_eq!(t.get(b"k", 4), Lookup::Absent);
    assert_eq!(t.get(b"k", 5), found(b"v"));
    assert_eq!(t.get(b"k", MAX_SEQNO), found(b"v"));
    assert_eq!(
        t.get(b"k", u64::MAX),
        found(b"v"),
        "snapshots clamp to MAX_SEQNO"
    );
}

#[test]
fn point_delete_hides_older_and_is_reported() {
    let t = Memtable::new();
    t.insert(b"k", 1, ValueKind::Put, b"v").unwrap();
    t.insert(b"k", 2, ValueKind::Delete, b"").unwrap();
    t.insert(b"k", 3, ValueKind::Put, b"w").unwrap();
    assert_eq!(t.get(b"k", 1), found(b"v"));
    assert_eq!(t.get(b"k", 2), Lookup::Deleted);
    assert_eq!(t.get(b"k", 3), found(b"w"));
}

#[test]
fn range_tombstone_hides_only_older_versions() {
    let t = Memtable::new();
    t.insert(b"b", 1, ValueKind::Put, b"old").unwrap();
    t.delete_range(b"a", b"c", 2).unwrap();
    t.insert(b"b", 3, ValueKind::Put, b"new").unwrap();
    assert_eq!(t.get(b"b", 1), found(b"old"));
    assert_eq!(t.get(b"b", 2), Lookup::Deleted);
    assert_eq!(t.get(b"b", 3), found(b"new"));
    assert_eq!(
        t.get(b"a", 2),
        Lookup::Deleted,
        "covered with no point version"
    );
    assert_eq!(t.get(b"c", 2), Lookup::Absent, "end is exclusive");
}

#[test]
fn a_version_at_the_tombstones_own_seqno_is_not_older() {
    let t = Memtable::new();
    t.insert(b"b", 7, ValueKind::Put, b"v").unwrap();
    t.delete_range(b"a", b"c", 7).unwrap();
    assert_eq!(t.get(b"b", 7), found(b"v"));
    assert_eq!(scan(&t, (Bound::Unbounded, Bound::Unbounded), 7).len(), 1);
}

#[test]
fn empty_range_tombstone_deletes_nothing() {
    let t = Memtable::new();
    t.insert(b"b", 1, ValueKind::Put, b"v").unwrap();
    t.delete_range(b"c", b"a", 2).unwrap();
    t.delete_range(b"b", b"b", 3).unwrap();
    assert_eq!(t.get(b"b", 3), found(b"v"));
    assert_eq!(t.range_tombstones().len(), 2, "stored all the same");
}

#[test]
fn iter_honours_excluded_bounds_and_inverted_ranges() {
    let t = Memtable::new();
    for (i, k) in [&b"a"[..], b"b", b"c", b"d"].into_iter().enumerate() {
        t.insert(k, i as u64 + 1, ValueKind::Put, k).unwrap();
    }
    let keys = |lo: Bound<&[u8]>, hi: Bound<&[u8]>| -> Vec<Vec<u8>> {
        scan(&t, (lo, hi), 10).into_iter().map(|(k, _)| k).collect()
    };
    assert_eq!(
        keys(Bound::Excluded(b"a"), Bound::Excluded(b"d")),
        [b"b".to_vec(), b"c".to_vec()]
    );
    assert_eq!(
        keys(Bound::Included(b"b"), Bound::Included(b"c")),
        [b"b".to_vec(), b"c".to_vec()]
    );
    assert!(keys(Bound::Included(b"c"), Bound::Excluded(b"b")).is_empty());
    assert!(keys(Bound::Excluded(b"b"), Bound::Excluded(b"b")).is_empty());
    assert_eq!(t.range(b"b".as_slice()..b"d".as_slice(), 10).count(), 2);
    assert_eq!(t.range(b"b".to_vec()..=b"d".to_vec(), 10).count(), 3);
    assert_eq!(t.range(b"c".as_slice().., 10).rev().count(), 2);
}

#[test]
fn frozen_memtable_refuses_writes_but_serves_reads() {
    let t = Memtable::new();
    t.insert(b"k", 1, ValueKind::Put, b"v").unwrap();
    t.freeze();
    assert!(t.is_frozen());
    assert_eq!(t.insert(b"k", 2, ValueKind::Put, b"w"), Err(Error::Frozen));
    assert_eq!(t.delete_range(b"a", b"z", 3), Err(Error::Frozen));
    assert_eq!(t.get(b"k", 9), found(b"v"));
    assert_eq!(t.len(), 1);
    t.freeze();
}

#[test]
fn duplicate_version_is_refused_and_not_charged() {
    let t = Memtable::new();
    t.insert(b"k", 1, ValueKind::Put, b"v").unwrap();
    let charged = t.approximate_memory();
    let err = t.insert(b"k", 1, ValueKind::Put, b"other").unwrap_err();
    assert_eq!(
        err,
        Error::DuplicateVersion {
            user_key: b"k".to_vec(),
            seqno: 1
        }
    );
    assert!(!err.is_corruption());
    assert_eq!(t.approximate_memory(), charged);
    assert_eq!(t.get(b"k", 1), found(b"v"), "the first write stays");
}

#[test]
fn duplicate_empty_versions_are_refused_though_they_share_one_value() {
    let t = Memtable::new();
    t.insert(b"k", 1, ValueKind::Delete, b"").unwrap();
    t.insert(b"j", 2, ValueKind::Put, b"").unwrap();
    let charged = t.approximate_memory();
    for (key, seqno, kind) in [(b"k", 1, ValueKind::Delete), (b"j", 2, ValueKind::Put)] {
        assert_eq!(
            t.insert(key, seqno, kind, b""),
            Err(Error::DuplicateVersion {
                user_key: key.to_vec(),
                seqno
            })
        );
    }
    assert_eq!(t.approximate_memory(), charged);
    assert_eq!(t.get(b"k", 1), Lookup::Deleted);
    assert_eq!(t.get(b"j", 2), found(b""));
    t.insert(b"i", 3, ValueKind::Put, b"").unwrap();
    match (t.get(b"i", 3), t.get(b"j", 3)) {
        (Lookup::Found(a), Lookup::Found(b)) => assert!(std::sync::Arc::ptr_eq(&a, &b)),
        other => panic!("{other:?}"),
    }
    // An empty version has no value allocation of its own, and is not
    // charged one's 16 bytes of reference counts.
    let one = Memtable::new();
    one.insert(b"k", 1, ValueKind::Put, b"v").unwrap();
    assert_eq!(charged / 2, one.approximate_memory() - b"v".len() - 16);
}

#[test]
fn sequence_number_beyond_56_bits_is_refused() {
    let t = Memtable::new();
    assert_eq!(
        t.insert(b"k", MAX_SEQNO + 1, ValueKind::Put, b""),
        Err(Error::SeqNoTooLarge {
            seqno: MAX_SEQNO + 1
        })
    );
    t.insert(b"k", MAX_SEQNO, ValueKind::Put, b"").unwrap();
    assert_eq!(t.max_seqno(), Some(MAX_SEQNO));
}

#[test]
fn memory_charges_key_value_and_overhead() {
    let t = Memtable::new();
    assert_eq!(t.approximate_memory(), 0);
    t.insert(&[0; 16], 1, ValueKind::Put, &[0; 100]).unwrap();
    assert_eq!(t.approximate_memory(), ENTRY_OVERHEAD + 16 + 8 + 100);
    t.delete_range(b"a", b"b", 2).unwrap();
    assert_eq!(t.approximate_memory(), 2 * ENTRY_OVERHEAD + 124 + 1 + 8 + 1);
}

#[test]
fn empty_memtable_has_no_seqnos_and_no_entries() {
    let t = Memtable::new();
    assert!(t.is_empty());
    assert_eq!((t.min_seqno(), t.max_seqno()), (None, None));
    assert!(drain_forward(&mut t.raw_iter()).is_empty());
    assert!(t.iter(MAX_SEQNO).next().is_none());
}

#[test]
fn raw_cursor_outlives_the_memtable_handle() {
    let t = Memtable::new();
    t.insert(b"k", 1, ValueKind::Put, b"v").unwrap();
    let mut it = t.raw_iter();
    drop(t);
    it.seek_to_first();
    assert!(it.valid());
    assert_eq!(
        it.key(),
        InternalKey::new(b"k", 1, ValueKind::Put).as_bytes()
    );
    assert_eq!(it.value(), b"v");
    it.next();
    assert!(!it.valid());
    assert_eq!(
        it.key(),
        b"",
        "an invalid cursor answers empty, not a panic"
    );
}

#[test]
fn raw_cursor_is_sendable_to_another_thread() {
    let t = Memtable::new();
    t.insert(b"k", 1, ValueKind::Put, b"v").unwrap();
    let mut it = t.raw_iter();
    let n = std::thread::spawn(move || drain_forward(&mut it).len())
        .join()
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn tombstone_cursor_yields_stored_entries() {
    let t = Memtable::new();
    t.delete_range(b"m", b"p", 4).unwrap();
    t.delete_range(b"a", b"c", 9).unwrap();
    t.insert(b"b", 5, ValueKind::Put, b"v").unwrap();
    let entries = drain_forward(&mut t.raw_tombstone_iter());
    assert_eq!(
        entries,
        [
            (
                InternalKey::new(b"a", 9, ValueKind::RangeDelete)
                    .as_bytes()
                    .to_vec(),
                b"c".to_vec()
            ),
            (
                InternalKey::new(b"m", 4, ValueKind::RangeDelete)
                    .as_bytes()
                    .to_vec(),
                b"p".to_vec()
            ),
        ]
    );
    assert_eq!(drain_forward(&mut t.raw_iter()).len(), 1, "points only");
}

#[test]
fn memtable_and_cursors_cross_threads() {
    fn shareable<T: Send + Sync>() {}
    fn sendable<T: Send>() {}
    shareable::<Memtable>();
    shareable::<lsmkit_memtable::Value>();
    sendable::<lsmkit_memtable::RawIter>();
}

#[test]
fn merge_operands_are_collected_down_to_what_lies_under_them() {
    let t = Memtable::new();
    t.insert(b"k", 1, ValueKind::Put, b"base").unwrap();
    t.insert(b"k", 2, ValueKind::Merge, b"a").unwrap();
    t.insert(b"k", 3, ValueKind::Merge, b"b").unwrap();
    t.insert(b"d", 1, ValueKind::Delete, b"").unwrap();
    t.insert(b"d", 2, ValueKind::Merge, b"x").unwrap();
    t.insert(b"r", 1, ValueKind::Merge, b"deleted").unwrap();
    t.delete_range(b"r", b"s", 2).unwrap();
    t.insert(b"r", 3, ValueKind::Merge, b"newer").unwrap();
    let collect = |key: &[u8], snapshot| {
        let mut ops = Vec::new();
        let below = t.get_operands(key, snapshot, &mut ops);
        let ops: Vec<Vec<u8>> = ops.iter().map(|v| v.to_vec()).collect();
        (ops, below)
    };
    assert_eq!(
        collect(b"k", MAX_SEQNO),
        (vec![b"b".to_vec(), b"a".to_vec()], found(b"base"))
    );
    assert_eq!(collect(b"k", 2), (vec![b"a".to_vec()], found(b"base")));
    assert_eq!(
        collect(b"d", MAX_SEQNO),
        (vec![b"x".to_vec()], Lookup::Deleted)
    );
    assert_eq!(
        collect(b"r", MAX_SEQNO),
        (vec![b"newer".to_vec()], Lookup::Deleted)
    );
    assert_eq!(
        collect(b"r", 1),
        (vec![b"deleted".to_vec()], Lookup::Absent)
    );
    assert_eq!(t.get(b"k", MAX_SEQNO), Lookup::Merge);
    assert_eq!(t.get(b"k", 1), found(b"base"));
    // The memtable's own iterator resolves no merges: such keys are left out.
    let live: Vec<Vec<u8>> = t.iter(MAX_SEQNO).map(|e| e.user_key().to_vec()).collect();
    assert!(live.is_empty(), "{live:?}");
}
