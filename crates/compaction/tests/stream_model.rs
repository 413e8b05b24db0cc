//! The compaction stream against a BTreeMap model: every reader (each live
//! snapshot and the newest state) sees the same data before and after a
//! compaction, and a compaction into the oldest run keeps nothing that no
//! reader needs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Case, History, Version, arb_case, build, drain, memtables, readers, stripe, visible};
use lsmkit_compaction::{CompactionStream, MergingIterator};
use lsmkit_memtable::Memtable;
use lsmkit_sstable::key::compare;
use lsmkit_sstable::{RangeTombstone, SeqNo, ValueKind};
use proptest::prelude::*;

/// Runs the compaction over the inputs: the kept points and tombstones.
fn compact(h: &History, case: &Case) -> (Vec<Version>, Vec<RangeTombstone>) {
    let tables = memtables(h);
    let merge = MergingIterator::new(tables.iter().map(|m| m.raw_iter()).collect());
    let tombstones: Vec<RangeTombstone> =
        tables.iter().flat_map(|m| m.range_tombstones()).collect();
    let stream = CompactionStream::new(merge, &tombstones, &case.snapshots, case.bottommost);
    let (out, kept, stats) = drain(stream).unwrap();
    assert_eq!(stats.entries_out, out.len() as u64);
    (out, kept)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled_cases(512), ..ProptestConfig::default() })]

    #[test]
    fn every_reader_sees_the_same_after_compaction(case in arb_case()) {
        let h = build(&case);
        let (out, kept) = compact(&h, &case);
        let mut after_points = h.older_points.clone();
        after_points.extend(out.iter().cloned());
        let mut after_tombstones = h.older_tombstones.clone();
        after_tombstones.extend(kept.iter().cloned());
        for s in readers(&case) {
            prop_assert_eq!(
                visible(&h.all_points, &h.all_tombstones, s),
                visible(&after_points, &after_tombstones, s),
                "reader at {}", s
            );
        }
        // Output in order, one version per key per stripe.
        for pair in out.windows(2) {
            prop_assert!(compare(&pair[0].internal_key(), &pair[1].internal_key()).is_lt());
            if pair[0].user_key == pair[1].user_key {
                prop_assert!(pair[0].seqno > pair[1].seqno);
                prop_assert_ne!(stripe(&case.snapshots, pair[0].seqno),
                                stripe(&case.snapshots, pair[1].seqno));
            }
        }
    }

    #[test]
    fn the_oldest_run_keeps_only_what_a_reader_needs(case in arb_case()) {
        let case = Case { bottommost: true, older_up_to: 0, ..case };
        let h = build(&case);
        let (out, kept) = compact(&h, &case);
        let readers = readers(&case);
        for e in &out {
            let versions: Vec<&Version> = out.iter().filter(|v| v.user_key == e.user_key).collect();
            match e.kind {
                // A value some reader returns.
                ValueKind::Put => prop_assert!(readers.iter().any(|&s| {
                    e.seqno <= s
                        && versions.iter().all(|v| v.seqno > s || v.seqno <= e.seqno)
                        && !kept.iter().any(|t| t.visible_at(s) && t.covers(&e.user_key, e.seqno))
                }), "{:?} is returned by no reader", e),
                // A deletion that hides an older kept version.
                _ => prop_assert!(versions.iter().any(|v| v.seqno < e.seqno),
                                  "{:?} hides nothing", e),
            }
        }
        for t in &kept {
            prop_assert!(out.iter().any(|v| t.covers(&v.user_key, v.seqno)),
                         "{:?} covers nothing kept", t);
        }
    }
}

#[test]
fn without_snapshots_only_the_newest_version_survives() {
    let m = Memtable::new();
    m.insert(b"k", 1, ValueKind::Put, b"old").unwrap();
    m.insert(b"k", 2, ValueKind::Put, b"new").unwrap();
    m.insert(b"x", 3, ValueKind::Delete, b"").unwrap();
    let (out, _, stats) = drain(CompactionStream::new(m.raw_iter(), &[], &[], false)).unwrap();
    let seqnos: Vec<SeqNo> = out.iter().map(|v| v.seqno).collect();
    assert_eq!(seqnos, [2, 3], "the point tombstone stays above the bottom");
    assert_eq!(stats.shadowed, 1);
}

#[test]
fn a_snapshot_between_versions_keeps_both() {
    let m = Memtable::new();
    m.insert(b"k", 1, ValueKind::Put, b"old").unwrap();
    m.insert(b"k", 5, ValueKind::Put, b"new").unwrap();
    let (out, _, _) = drain(CompactionStream::new(m.raw_iter(), &[], &[], true)).unwrap();
    assert_eq!(out.len(), 1, "without the snapshot the old version goes");
    let (out, _, _) = drain(CompactionStream::new(m.raw_iter(), &[], &[3], true)).unwrap();
    assert_eq!(out.len(), 2);
}

#[test]
fn a_range_tombstone_drops_only_versions_of_its_own_stripe() {
    let m = Memtable::new();
    m.insert(b"b", 1, ValueKind::Put, b"seen by snapshot 2")
        .unwrap();
    m.insert(b"c", 3, ValueKind::Put, b"seen by nobody")
        .unwrap();
    let tombstones = [RangeTombstone::new(&b"a"[..], &b"z"[..], 4)];
    let (out, tombstones_kept, stats) =
        drain(CompactionStream::new(m.raw_iter(), &tombstones, &[2], true)).unwrap();
    let kept: Vec<_> = out.into_iter().map(|v| v.user_key).collect();
    assert_eq!(kept, [b"b".to_vec()]);
    assert_eq!(
        tombstones_kept, tombstones,
        "it still hides b from the newest state"
    );
    assert_eq!(stats.covered, 1);
}

#[test]
fn point_tombstones_at_the_bottom_go_when_they_hide_nothing() {
    let m = Memtable::new();
    m.insert(b"a", 2, ValueKind::Delete, b"").unwrap();
    m.insert(b"b", 4, ValueKind::Delete, b"").unwrap();
    m.insert(b"b", 3, ValueKind::Delete, b"").unwrap();
    m.insert(b"b", 1, ValueKind::Put, b"v").unwrap();
    // Snapshots 1 and 3 split b's versions into three stripes.
    let (out, _, stats) = drain(CompactionStream::new(m.raw_iter(), &[], &[1, 3], true)).unwrap();
    let kept: Vec<_> = out.into_iter().map(|v| (v.user_key, v.seqno)).collect();
    assert_eq!(
        kept,
        [(b"b".to_vec(), 4), (b"b".to_vec(), 3), (b"b".to_vec(), 1)]
    );
    assert_eq!(stats.point_tombstones_dropped, 1);
}

#[test]
fn out_of_order_input_is_a_corruption_error() {
    use common::VecIter;
    use lsmkit_sstable::key;
    let entry = |user: &[u8], seqno| {
        let mut k = Vec::new();
        key::encode(user, seqno, ValueKind::Put, &mut k);
        (k, Vec::new())
    };
    // VecIter does not check its order: a table that lies about it.
    let input = VecIter::new(vec![entry(b"b", 1), entry(b"a", 2)]);
    let mut stream = CompactionStream::new(input, &[], &[], false);
    assert!(stream.next().is_some());
    assert!(stream.next().is_none());
    let error = stream.finish().unwrap_err();
    assert!(error.is_corruption(), "{error}");
    let input = VecIter::new(vec![entry(b"a", 1), entry(b"a", 2)]);
    let mut stream = CompactionStream::new(input, &[], &[], false);
    while stream.next().is_some() {}
    assert!(stream.finish().unwrap_err().is_corruption());
}

#[test]
fn a_source_error_ends_the_stream_with_that_error() {
    use common::VecIter;
    use lsmkit_sstable::key;
    let mut k = Vec::new();
    key::encode(b"a", 1, ValueKind::Put, &mut k);
    let input = VecIter::new(vec![(k, Vec::new())]).failing_at(1);
    let mut stream = CompactionStream::new(input, &[], &[], false);
    assert!(stream.next().is_some());
    assert!(stream.next().is_none());
    assert!(stream.finish().is_err());
}
