//! The merging iterator against a model: the sorted union of its sources,
//! ties broken by source order, under random seeks, steps and direction
//! changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::VecIter;
use lsmkit_compaction::MergingIterator;
use lsmkit_sstable::key::{self, compare};
use lsmkit_sstable::{InternalIterator, ValueKind};
use proptest::prelude::*;

type Entry = (Vec<u8>, Vec<u8>);

fn ikey(user: &[u8], seqno: u64, kind: ValueKind) -> Vec<u8> {
    let mut out = Vec::new();
    key::encode(user, seqno, kind, &mut out);
    out
}

fn arb_key() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(b'a'..b'd', 0..3),
        0u64..6,
        prop_oneof![Just(ValueKind::Put), Just(ValueKind::Delete)],
    )
        .prop_map(|(user, seqno, kind)| ikey(&user, seqno, kind))
}

/// Up to five sources, each sorted and without repeats; keys may repeat
/// across sources.
fn arb_sources() -> impl Strategy<Value = Vec<Vec<Entry>>> {
    proptest::collection::vec(proptest::collection::vec(arb_key(), 0..12), 0..6).prop_map(
        |sources| {
            sources
                .into_iter()
                .enumerate()
                .map(|(s, mut keys)| {
                    keys.sort_by(|a, b| compare(a, b));
                    keys.dedup();
                    keys.into_iter()
                        .enumerate()
                        .map(|(i, k)| (k, format!("s{s}#{i}").into_bytes()))
                        .collect()
                })
                .collect()
        },
    )
}

#[derive(Clone, Debug)]
enum Op {
    SeekToFirst,
    SeekToLast,
    Seek(Vec<u8>),
    SeekUser(Vec<u8>, u64),
    Next,
    Prev,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::SeekToFirst),
        1 => Just(Op::SeekToLast),
        2 => arb_key().prop_map(Op::Seek),
        1 => (proptest::collection::vec(b'a'..b'd', 0..3), 0u64..7)
            .prop_map(|(u, s)| Op::SeekUser(u, s)),
        6 => Just(Op::Next),
        6 => Just(Op::Prev),
    ]
}

proptest! {
    #[test]
    fn merge_matches_the_sorted_union(sources in arb_sources(),
                                       ops in proptest::collection::vec(arb_op(), 1..60)) {
        // Stable sort of the concatenation: ties keep source order.
        let mut model: Vec<Entry> = sources.iter().flatten().cloned().collect();
        model.sort_by(|a, b| compare(&a.0, &b.0));
        let mut merge = MergingIterator::new(sources.into_iter().map(VecIter::new).collect());
        let mut pos: Option<usize> = None;
        for op in ops {
            match op {
                Op::SeekToFirst => {
                    merge.seek_to_first();
                    pos = (!model.is_empty()).then_some(0);
                }
                Op::SeekToLast => {
                    merge.seek_to_last();
                    pos = model.len().checked_sub(1);
                }
                Op::Seek(target) => {
                    merge.seek(&target);
                    let at = model.partition_point(|(k, _)| compare(k, &target).is_lt());
                    pos = (at < model.len()).then_some(at);
                }
                Op::SeekUser(user, snapshot) => {
                    let mut target = Vec::new();
                    key::encode_seek(&user, snapshot, &mut target);
                    merge.seek(&target);
                    let at = model.partition_point(|(k, _)| compare(k, &target).is_lt());
                    pos = (at < model.len()).then_some(at);
                }
                Op::Next => {
                    let Some(p) = pos else { continue };
                    merge.next();
                    pos = (p + 1 < model.len()).then_some(p + 1);
                }
                Op::Prev => {
                    let Some(p) = pos else { continue };
                    merge.prev();
                    pos = p.checked_sub(1);
                }
            }
            prop_assert_eq!(merge.valid(), pos.is_some());
            if let Some(p) = pos {
                prop_assert_eq!(merge.key(), &model[p].0[..]);
                prop_assert_eq!(merge.value(), &model[p].1[..]);
            }
            prop_assert!(merge.status().is_ok());
        }
    }

    #[test]
    fn merges_compose(sources in arb_sources()) {
        let mut model: Vec<Entry> = sources.iter().flatten().cloned().collect();
        model.sort_by(|a, b| compare(&a.0, &b.0));
        // Split the sources between two inner merges, then merge those.
        let (left, right): (Vec<_>, Vec<_>) = sources.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let inner = |part: Vec<(usize, Vec<Entry>)>| -> Box<dyn InternalIterator> {
            Box::new(MergingIterator::new(part.into_iter().map(|(_, s)| VecIter::new(s)).collect()))
        };
        let mut outer = MergingIterator::new(vec![inner(left), inner(right)]);
        let mut got = Vec::new();
        outer.seek_to_last();
        while outer.valid() {
            got.push(outer.key().to_vec());
            outer.prev();
        }
        got.reverse();
        let mut want: Vec<Vec<u8>> = model.into_iter().map(|(k, _)| k).collect();
        want.sort_by(|a, b| compare(a, b));
        prop_assert_eq!(got, want);
    }
}

fn numbered(user: &[u8], seqnos: &[u64]) -> Vec<Entry> {
    seqnos
        .iter()
        .map(|&s| (ikey(user, s, ValueKind::Put), s.to_le_bytes().to_vec()))
        .collect()
}

#[test]
fn no_sources_is_never_valid() {
    let mut merge = MergingIterator::<VecIter>::new(Vec::new());
    merge.seek_to_first();
    assert!(!merge.valid());
    merge.seek_to_last();
    assert!(!merge.valid());
    assert!(merge.status().is_ok());
}

#[test]
fn a_failing_source_stops_the_merge_with_its_error() {
    let good = VecIter::new(numbered(b"a", &[9, 8, 7, 6]));
    let bad = VecIter::new(numbered(b"b", &[9, 8, 7])).failing_at(1);
    let mut merge = MergingIterator::new(vec![good, bad]);
    merge.seek_to_first();
    let mut seen = 0;
    while merge.valid() {
        seen += 1;
        merge.next();
    }
    // Four entries of "a" come first, then "b"@9; the step to "b"@8 fails.
    assert_eq!(seen, 5);
    let error = merge.status().unwrap_err();
    assert!(error.is_corruption());
}

#[test]
fn an_error_while_turning_around_is_reported() {
    let good = VecIter::new(numbered(b"b", &[5, 4]));
    // The source fails when the turn seeks it back onto its entry 0.
    let bad = VecIter::new(numbered(b"a", &[3])).failing_at(0);
    let mut merge = MergingIterator::new(vec![good, bad]);
    merge.seek(&ikey(b"b", 5, ValueKind::Put));
    assert!(merge.valid(), "the failing source was not touched yet");
    merge.prev();
    assert!(!merge.valid());
    assert!(merge.status().is_err());
}

#[test]
fn equal_keys_come_out_in_source_order_both_ways() {
    let a = VecIter::new(vec![(ikey(b"k", 1, ValueKind::Put), b"first".to_vec())]);
    let b = VecIter::new(vec![(ikey(b"k", 1, ValueKind::Put), b"second".to_vec())]);
    let mut merge = MergingIterator::new(vec![a, b]);
    merge.seek_to_first();
    assert_eq!(merge.value(), b"first");
    merge.next();
    assert_eq!(merge.value(), b"second");
    merge.prev();
    assert_eq!(merge.value(), b"first");
    merge.next();
    assert_eq!(merge.value(), b"second");
    merge.next();
    assert!(!merge.valid());
}
