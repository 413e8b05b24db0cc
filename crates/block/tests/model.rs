//! Property tests against a `BTreeMap` model: whatever sorted entries go
//! in, the block gives back, and every cursor move agrees with the model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{Entries, backward, build, current, forward};
use proptest::prelude::*;

/// Keys over a small alphabet so that many share prefixes, of any length
/// from empty up, with a few long ones.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(0u8..4, 0..10),
        1 => proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

fn model() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
    let value = proptest::collection::vec(any::<u8>(), 0..40);
    proptest::collection::btree_map(key(), value, 0..200)
}

fn entries(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Entries {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[derive(Clone, Debug)]
enum Op {
    SeekToFirst,
    SeekToLast,
    Seek(Vec<u8>),
    Next,
    Prev,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::SeekToFirst),
        1 => Just(Op::SeekToLast),
        3 => key().prop_map(Op::Seek),
        4 => Just(Op::Next),
        4 => Just(Op::Prev),
    ]
}

proptest! {
    #[test]
    fn sorted_entries_round_trip(model in model(), interval in 1usize..20) {
        let e = entries(&model);
        let block = build(&e, interval);
        prop_assert_eq!(block.len(), e.len() as u64);
        prop_assert_eq!(forward(&block), e);
    }

    #[test]
    fn seek_lands_where_the_model_range_starts(
        model in model(),
        interval in 1usize..20,
        targets in proptest::collection::vec(key(), 1..30),
    ) {
        let block = build(&entries(&model), interval);
        let mut it = block.iter();
        for target in targets {
            it.seek(&target);
            let want = model.range(target.clone()..).next().map(|(k, v)| (k.clone(), v.clone()));
            prop_assert_eq!(it.valid().then(|| current(&it)), want, "seek {:?}", target);
        }
    }

    #[test]
    fn prev_after_next_returns_where_it_was(
        model in model(),
        interval in 1usize..20,
        target in key(),
    ) {
        let block = build(&entries(&model), interval);
        let mut it = block.iter();
        it.seek(&target);
        while it.valid() {
            let here = current(&it);
            it.next();
            if !it.valid() {
                break;
            }
            let there = current(&it);
            it.prev();
            prop_assert_eq!(current(&it), here);
            it.next();
            prop_assert_eq!(current(&it), there);
        }
    }

    #[test]
    fn seek_to_last_then_prev_visits_all_in_reverse(model in model(), interval in 1usize..20) {
        let block = build(&entries(&model), interval);
        let want: Entries = model.into_iter().rev().collect();
        prop_assert_eq!(backward(&block), want);
    }

    /// Any sequence of cursor moves matches a cursor over the model's
    /// sorted entries.
    #[test]
    fn cursor_moves_match_the_model(
        model in model(),
        interval in 1usize..20,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let e = entries(&model);
        let block = build(&e, interval);
        let mut it = block.iter();
        let mut pos: Option<usize> = None;
        for op in ops {
            match &op {
                Op::SeekToFirst => {
                    it.seek_to_first();
                    pos = (!e.is_empty()).then_some(0);
                }
                Op::SeekToLast => {
                    it.seek_to_last();
                    pos = e.len().checked_sub(1);
                }
                Op::Seek(t) => {
                    it.seek(t);
                    pos = e.iter().position(|(k, _)| k >= t);
                }
                Op::Next => {
                    it.next();
                    pos = pos.map(|p| p + 1).filter(|&p| p < e.len());
                }
                Op::Prev => {
                    it.prev();
                    pos = pos.and_then(|p| p.checked_sub(1));
                }
            }
            prop_assert_eq!(it.valid().then(|| current(&it)), pos.map(|p| e[p].clone()), "after {:?}", op);
        }
    }
}
