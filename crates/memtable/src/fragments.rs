//! Range tombstones cut into non-overlapping fragments, for answering "which
//! tombstone covers this key?" in O(log n) instead of scanning them all.
//!
//! Overlapping tombstones `[a, d)@5` and `[b, c)@9` become `[a, b)@5`,
//! `[b, c)@9`, `[c, d)@5`: for a set all visible at one snapshot, only the
//! newest tombstone over a key matters, so each fragment keeps the largest
//! sequence number of the tombstones that cover it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use lsmkit_sstable::{RangeTombstone, SeqNo};

/// Disjoint fragments, sorted by start, each with the newest covering
/// sequence number.
#[derive(Debug, Default)]
pub(crate) struct Fragments {
    /// `(start, end, seqno)`, sorted by `start`, ranges disjoint.
    fragments: Vec<(Vec<u8>, Vec<u8>, SeqNo)>,
}

impl Fragments {
    /// Fragments the tombstones, all taken as visible. O(n log n).
    pub(crate) fn new(tombstones: impl IntoIterator<Item = RangeTombstone>) -> Fragments {
        let mut tombstones: Vec<RangeTombstone> =
            tombstones.into_iter().filter(|t| !t.is_empty()).collect();
        tombstones.sort_by(|a, b| a.start.cmp(&b.start));
        let mut bounds: Vec<&[u8]> = tombstones
            .iter()
            .flat_map(|t| [t.start.as_slice(), t.end.as_slice()])
            .collect();
        bounds.sort_unstable();
        bounds.dedup();

        let mut fragments: Vec<(Vec<u8>, Vec<u8>, SeqNo)> = Vec::new();
        // Tombstones begun by the current bound, newest on top; ended ones
        // are dropped lazily when they surface.
        let mut active: BinaryHeap<(SeqNo, Reverse<&[u8]>)> = BinaryHeap::new();
        let mut next = tombstones.iter().peekable();
        for pair in bounds.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            while let Some(t) = next.next_if(|t| t.start.as_slice() <= start) {
                active.push((t.seqno, Reverse(t.end.as_slice())));
            }
            while active.peek().is_some_and(|&(_, Reverse(e))| e <= start) {
                active.pop();
            }
            let Some(&(seqno, _)) = active.peek() else {
                continue;
            };
            match fragments.last_mut() {
                // Adjacent pieces of the same tombstone merge back.
                Some((_, last_end, last_seqno))
                    if last_end.as_slice() == start && *last_seqno == seqno =>
                {
                    *last_end = end.to_vec();
                }
                _ => fragments.push((start.to_vec(), end.to_vec(), seqno)),
            }
        }
        Fragments { fragments }
    }

    /// The newest sequence number of a tombstone covering `user_key`.
    pub(crate) fn covering_seqno(&self, user_key: &[u8]) -> Option<SeqNo> {
        let after = self
            .fragments
            .partition_point(|(start, _, _)| start.as_slice() <= user_key);
        let (_, end, seqno) = self.fragments.get(after.checked_sub(1)?)?;
        (user_key < end.as_slice()).then_some(*seqno)
    }

    /// Whether the version `(user_key, seqno)` is deleted by a fragment.
    pub(crate) fn covers(&self, user_key: &[u8], seqno: SeqNo) -> bool {
        self.covering_seqno(user_key).is_some_and(|t| seqno < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(start: &str, end: &str, seqno: SeqNo) -> RangeTombstone {
        RangeTombstone::new(start.as_bytes(), end.as_bytes(), seqno)
    }

    #[test]
    fn overlapping_tombstones_keep_the_newest_per_piece() {
        let f = Fragments::new([t("a", "d", 5), t("b", "c", 9)]);
        assert_eq!(f.covering_seqno(b"a"), Some(5));
        assert_eq!(f.covering_seqno(b"b"), Some(9));
        assert_eq!(f.covering_seqno(b"bzz"), Some(9));
        assert_eq!(f.covering_seqno(b"c"), Some(5));
        assert_eq!(f.covering_seqno(b"d"), None, "end is exclusive");
        assert_eq!(f.covering_seqno(b"0"), None);
    }

    #[test]
    fn gaps_and_empty_ranges_cover_nothing() {
        let f = Fragments::new([t("a", "b", 1), t("c", "d", 2), t("z", "y", 3)]);
        assert_eq!(f.covering_seqno(b"b"), None);
        assert_eq!(f.covering_seqno(b"c"), Some(2));
        assert_eq!(f.covering_seqno(b"y"), None);
        assert_eq!(f.fragments.len(), 2);
    }

    #[test]
    fn an_older_tombstone_inside_a_newer_one_leaves_one_fragment() {
        let f = Fragments::new([t("a", "z", 9), t("c", "d", 2)]);
        assert_eq!(f.fragments, vec![(b"a".to_vec(), b"z".to_vec(), 9)]);
    }

    fn arb_tombstone() -> impl Strategy<Value = RangeTombstone> {
        (0u8..8, 0u8..8, 1u64..20).prop_map(|(a, b, s)| RangeTombstone::new(vec![a], vec![b], s))
    }

    proptest! {
        #[test]
        fn agrees_with_a_linear_scan(ts in proptest::collection::vec(arb_tombstone(), 0..12),
                                     key in proptest::collection::vec(0u8..9, 0..3)) {
            let f = Fragments::new(ts.clone());
            let model = ts.iter().filter(|t| t.contains(&key)).map(|t| t.seqno).max();
            prop_assert_eq!(f.covering_seqno(&key), model);
        }
    }
}
