//! The memtable against a BTreeMap model: random puts, deletes and range
//! deletes, inserted in a random order of their sequence numbers, then every
//! read agrees with the model at every snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Bound;

use common::{Model, Op, drain_backward, drain_forward, scan};
use lsmkit_memtable::Memtable;
use lsmkit_sstable::{InternalIterator, SeqNo, key};
use proptest::prelude::*;

fn arb_key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(b'a'..b'e', 0..3)
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (arb_key(), proptest::collection::vec(any::<u8>(), 0..4)).prop_map(|(k, v)| Op::Put(k, v)),
        2 => arb_key().prop_map(Op::Delete),
        1 => (arb_key(), arb_key()).prop_map(|(s, e)| Op::DeleteRange(s, e)),
    ]
}

fn arb_bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        Just(Bound::Unbounded),
        arb_key().prop_map(Bound::Included),
        arb_key().prop_map(Bound::Excluded),
    ]
}

/// The ops with sequence numbers 1..=n, in a shuffled insertion order.
fn arb_history() -> impl Strategy<Value = Vec<(SeqNo, Op)>> {
    proptest::collection::vec(arb_op(), 0..60).prop_flat_map(|ops| {
        let numbered: Vec<(SeqNo, Op)> = (1..).zip(ops).collect();
        Just(numbered).prop_shuffle()
    })
}

fn build(history: &[(SeqNo, Op)]) -> (Memtable, Model) {
    let table = Memtable::new();
    let mut model = Model::default();
    for (seqno, op) in history {
        op.apply(&table, *seqno);
        model.apply(op, *seqno);
    }
    (table, model)
}

fn as_ref(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

proptest! {
    #[test]
    fn get_agrees_at_every_snapshot(history in arb_history()) {
        let (table, model) = build(&history);
        let max = history.len() as SeqNo + 1;
        for key in model.keys() {
            for snapshot in 0..=max {
                prop_assert_eq!(table.get(&key, snapshot), model.get(&key, snapshot),
                                "key {:?} at {}", key, snapshot);
            }
        }
    }

    #[test]
    fn iter_agrees_both_ways(history in arb_history(), lo in arb_bound(), hi in arb_bound(),
                             snapshot in 0u64..64) {
        let (table, model) = build(&history);
        let range = (as_ref(&lo), as_ref(&hi));
        let expected = model.scan(&range, snapshot);
        prop_assert_eq!(scan(&table, range, snapshot), expected.clone());
        let mut backward: Vec<_> = table
            .range::<[u8], _>(range, snapshot)
            .rev()
            .map(|e| (e.user_key().to_vec(), e.value().to_vec()))
            .collect();
        backward.reverse();
        prop_assert_eq!(backward, expected);
    }

    #[test]
    fn iter_ends_meet_without_crossing(history in arb_history(), snapshot in 0u64..64,
                                       turns in proptest::collection::vec(any::<bool>(), 0..40)) {
        let (table, model) = build(&history);
        let expected = model.scan(&(Bound::Unbounded::<&[u8]>, Bound::Unbounded), snapshot);
        let mut it = table.iter(snapshot);
        let (mut front, mut back) = (Vec::new(), Vec::new());
        for from_front in turns.into_iter().chain(std::iter::repeat(true)) {
            let e = if from_front { it.next() } else { it.next_back() };
            let Some(e) = e else { break };
            let pair = (e.user_key().to_vec(), e.value().to_vec());
            if from_front { front.push(pair) } else { back.push(pair) }
        }
        back.reverse();
        front.extend(back);
        prop_assert_eq!(front, expected);
    }

    #[test]
    fn raw_cursor_yields_every_version(history in arb_history(),
                                       targets in proptest::collection::vec((arb_key(), 0u64..64), 0..8)) {
        let (table, model) = build(&history);
        let expected = model.raw();
        let mut it = table.raw_iter();
        prop_assert_eq!(drain_forward(&mut it), expected.clone());
        let mut backward = drain_backward(&mut it);
        backward.reverse();
        prop_assert_eq!(backward, expected.clone());
        for (user_key, snapshot) in targets {
            let mut target = Vec::new();
            key::encode_seek(&user_key, snapshot, &mut target);
            it.seek(&target);
            let want = expected.iter().find(|(k, _)| key::compare(k, &target).is_ge());
            prop_assert_eq!(it.valid(), want.is_some());
            if let Some((k, v)) = want {
                prop_assert_eq!(it.key(), k.as_slice());
                prop_assert_eq!(it.value(), v.as_slice());
            }
        }
        prop_assert_eq!(table.range_tombstones(), model.tombstones());
        prop_assert_eq!(table.len(), history.len());
        prop_assert_eq!(table.max_seqno(), history.iter().map(|(s, _)| *s).max());
        prop_assert_eq!(table.min_seqno(), history.iter().map(|(s, _)| *s).min());
    }
}
