//! Merge operands through the compaction stream, against a BTreeMap model
//! that applies the operator: every reader (each live snapshot and the
//! newest state) resolves every key to the same value before and after a
//! compaction, whether the stream folds the operands (with an operator) or
//! keeps them (without).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Case, History, Version, arb_case, build, drain, memtables, readers};
use lsmkit_compaction::{
    CompactionStream, Error, ListAppend, MergeOperator, MergingIterator, U64Add,
};
use lsmkit_memtable::Memtable;
use lsmkit_sstable::{RangeTombstone, SeqNo, ValueKind};
use proptest::prelude::*;

/// What a reader at `snapshot` reads of each key: its merge operands,
/// newest first, down to a value, a deletion or the end, folded by `op`.
fn resolve(
    op: &dyn MergeOperator,
    points: &[Version],
    tombstones: &[RangeTombstone],
    snapshot: SeqNo,
) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut by_key: BTreeMap<&[u8], Vec<&Version>> = BTreeMap::new();
    for v in points.iter().filter(|v| v.seqno <= snapshot) {
        by_key.entry(&v.user_key).or_default().push(v);
    }
    let mut out = BTreeMap::new();
    for (key, mut versions) in by_key {
        versions.sort_by_key(|v| std::cmp::Reverse(v.seqno));
        let mut operands: Vec<&[u8]> = Vec::new();
        let mut base = None;
        for v in versions {
            let covered = tombstones
                .iter()
                .any(|t| t.visible_at(snapshot) && t.covers(key, v.seqno));
            match v.kind {
                _ if covered => break,
                ValueKind::Put => {
                    base = Some(v.value.as_slice());
                    break;
                }
                ValueKind::Merge => operands.push(&v.value),
                _ => break,
            }
        }
        operands.reverse();
        let value = if operands.is_empty() {
            base.map(<[u8]>::to_vec)
        } else {
            Some(op.full_merge(key, base, &operands).unwrap())
        };
        if let Some(value) = value {
            out.insert(key.to_vec(), value);
        }
    }
    out
}

/// The history with the puts whose sequence number `merges` picks made
/// merge operands, everywhere they appear.
fn with_merges(mut h: History, merges: &[bool]) -> History {
    let turn = |v: &mut Version| {
        if v.kind == ValueKind::Put && merges[v.seqno as usize % merges.len()] {
            v.kind = ValueKind::Merge;
        }
    };
    for (points, _) in &mut h.inputs {
        points.iter_mut().for_each(turn);
    }
    h.older_points.iter_mut().for_each(turn);
    h.all_points.iter_mut().for_each(turn);
    h
}

fn compact(
    h: &History,
    case: &Case,
    op: Option<Arc<dyn MergeOperator>>,
) -> Result<(Vec<Version>, Vec<RangeTombstone>), Error> {
    let tables = memtables(h);
    let merge = MergingIterator::new(tables.iter().map(|m| m.raw_iter()).collect());
    let tombstones: Vec<RangeTombstone> =
        tables.iter().flat_map(|m| m.range_tombstones()).collect();
    let stream = CompactionStream::new(merge, &tombstones, &case.snapshots, case.bottommost)
        .with_merge_operator(op);
    let (out, kept, stats) = drain(stream)?;
    assert_eq!(stats.entries_out, out.len() as u64);
    Ok((out, kept))
}

fn list() -> Arc<dyn MergeOperator> {
    Arc::new(ListAppend::new(b'+'))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled_cases(512), ..ProptestConfig::default() })]

    #[test]
    fn every_reader_resolves_the_same_after_compaction(
        case in arb_case(),
        merges in proptest::collection::vec(any::<bool>(), 1..8),
    ) {
        let h = with_merges(build(&case), &merges);
        for op in [Some(list()), None] {
            let folds = op.is_some();
            let (out, kept) = compact(&h, &case, op).unwrap();
            let mut after_points = h.older_points.clone();
            after_points.extend(out.iter().cloned());
            let mut after_tombstones = h.older_tombstones.clone();
            after_tombstones.extend(kept.iter().cloned());
            for s in readers(&case) {
                prop_assert_eq!(
                    resolve(&*list(), &h.all_points, &h.all_tombstones, s),
                    resolve(&*list(), &after_points, &after_tombstones, s),
                    "reader at {} (folding: {}) {:?}", s, folds, out
                );
            }
            // At the bottom, with no snapshot, every key resolves to a
            // value or to nothing: no operand is left to fold.
            if folds && case.bottommost && case.snapshots.is_empty() {
                prop_assert!(out.iter().all(|v| v.kind != ValueKind::Merge), "{:?}", out);
            }
        }
    }
}

fn memtable(versions: &[(&[u8], SeqNo, ValueKind, &[u8])]) -> Memtable {
    let m = Memtable::new();
    for &(key, seqno, kind, value) in versions {
        m.insert(key, seqno, kind, value).unwrap();
    }
    m
}

/// The stream's output of `m` as `(seqno, kind, value)`.
fn fold(
    m: &Memtable,
    tombstones: &[RangeTombstone],
    snapshots: &[SeqNo],
    bottommost: bool,
    op: Arc<dyn MergeOperator>,
) -> Result<Vec<(SeqNo, ValueKind, Vec<u8>)>, Error> {
    let stream = CompactionStream::new(m.raw_iter(), tombstones, snapshots, bottommost)
        .with_merge_operator(Some(op));
    let (out, _, _) = drain(stream)?;
    Ok(out
        .into_iter()
        .map(|v| (v.seqno, v.kind, v.value))
        .collect())
}

const M: ValueKind = ValueKind::Merge;

#[test]
fn operands_over_a_value_become_one_value() {
    let m = memtable(&[
        (b"k", 1, ValueKind::Put, b"a"),
        (b"k", 2, M, b"b"),
        (b"k", 3, M, b"c"),
    ]);
    let out = fold(&m, &[], &[], false, list()).unwrap();
    assert_eq!(out, [(3, ValueKind::Put, b"a+b+c".to_vec())]);
}

#[test]
fn a_snapshot_between_operands_stops_the_fold() {
    let m = memtable(&[
        (b"k", 1, ValueKind::Put, b"a"),
        (b"k", 2, M, b"b"),
        (b"k", 3, M, b"c"),
    ]);
    // Snapshot 2 reads a+b; the operand above it is kept as it is.
    let out = fold(&m, &[], &[2], false, list()).unwrap();
    assert_eq!(
        out,
        [(3, M, b"c".to_vec()), (2, ValueKind::Put, b"a+b".to_vec())]
    );
}

#[test]
fn operands_without_a_base_combine_above_the_bottom_and_resolve_at_it() {
    let m = memtable(&[(b"k", 2, M, b"b"), (b"k", 3, M, b"c")]);
    let above = fold(&m, &[], &[], false, list()).unwrap();
    assert_eq!(
        above,
        [(3, M, b"b+c".to_vec())],
        "an older run may hold a base"
    );
    let bottom = fold(&m, &[], &[], true, list()).unwrap();
    assert_eq!(bottom, [(3, ValueKind::Put, b"b+c".to_vec())]);
}

#[test]
fn deletions_under_operands_are_no_base() {
    let m = memtable(&[
        (b"k", 1, ValueKind::Put, b"gone"),
        (b"k", 2, ValueKind::Delete, b""),
        (b"k", 3, M, b"c"),
        (b"r", 1, ValueKind::Put, b"gone"),
        (b"r", 3, M, b"d"),
    ]);
    let tombstone = [RangeTombstone::new(&b"r"[..], &b"s"[..], 2)];
    let stream = CompactionStream::new(m.raw_iter(), &tombstone, &[], false)
        .with_merge_operator(Some(list()));
    let (out, kept, stats) = drain(stream).unwrap();
    let got: Vec<_> = out
        .iter()
        .map(|v| (&v.user_key[..], v.seqno, v.kind, &v.value[..]))
        .collect();
    assert_eq!(
        got,
        [
            (&b"k"[..], 3, ValueKind::Put, &b"c"[..]),
            (&b"r"[..], 3, ValueKind::Put, &b"d"[..])
        ]
    );
    assert_eq!(kept, tombstone, "above the bottom the tombstone stays");
    assert_eq!((stats.merged, stats.covered), (1, 1));
}

#[test]
fn an_operand_the_operator_cannot_read_fails_the_compaction() {
    let m = memtable(&[
        (b"k", 1, ValueKind::Put, b"not a counter"),
        (b"k", 2, M, &U64Add::operand(1)),
    ]);
    let error = fold(&m, &[], &[], true, Arc::new(U64Add)).unwrap_err();
    assert!(
        matches!(error, Error::MergeFailed { ref key, .. } if key == b"k"),
        "{error}"
    );
    assert!(!error.is_corruption());
}
