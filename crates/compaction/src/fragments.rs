//! Range tombstones cut into disjoint fragments, each with every sequence
//! number that deletes it.
//!
//! Overlapping tombstones `[a, d)@5` and `[b, c)@9` become `[a, b)@{5}`,
//! `[b, c)@{9, 5}` and `[c, d)@{5}`. Over one fragment every tombstone covers
//! the same keys, so the compaction stream can reason about them as versions
//! of one key: which of them each snapshot sees, which are redundant. The
//! cut costs O(n log n + f) for `n` tombstones and `f` (fragment, seqno)
//! pairs; `f` is O(n²) only for deeply nested tombstones.

use std::collections::BTreeMap;

use lsmkit_sstable::{RangeTombstone, SeqNo};

/// One fragment: the keys `[start, end)` and the sequence numbers of the
/// tombstones over them, newest first, without repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fragment {
    pub(crate) start: Vec<u8>,
    pub(crate) end: Vec<u8>,
    pub(crate) seqnos: Vec<SeqNo>,
}

/// Disjoint fragments sorted by start.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fragments {
    fragments: Vec<Fragment>,
}

impl Fragments {
    /// Cuts `tombstones` (in any order; empty ranges are ignored).
    pub(crate) fn new(tombstones: &[RangeTombstone]) -> Fragments {
        let mut live: Vec<&RangeTombstone> = tombstones.iter().filter(|t| !t.is_empty()).collect();
        live.sort_by(|a, b| a.start.cmp(&b.start));
        let mut bounds: Vec<&[u8]> = live
            .iter()
            .flat_map(|t| [t.start.as_slice(), t.end.as_slice()])
            .collect();
        bounds.sort_unstable();
        bounds.dedup();

        let mut fragments = Vec::new();
        // Tombstones begun at or before the current bound: end -> seqnos.
        let mut active: BTreeMap<&[u8], Vec<SeqNo>> = BTreeMap::new();
        let mut next = live.iter().peekable();
        for pair in bounds.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            while let Some(t) = next.next_if(|t| t.start.as_slice() <= start) {
                active.entry(t.end.as_slice()).or_default().push(t.seqno);
            }
            // Every bound is some tombstone's end or start, so a tombstone
            // ending at or before `start` has ended exactly here or earlier.
            while active.first_key_value().is_some_and(|(e, _)| *e <= start) {
                active.pop_first();
            }
            if active.is_empty() {
                continue;
            }
            let mut seqnos: Vec<SeqNo> = active.values().flatten().copied().collect();
            seqnos.sort_unstable_by(|a, b| b.cmp(a));
            seqnos.dedup();
            fragments.push(Fragment {
                start: start.to_vec(),
                end: end.to_vec(),
                seqnos,
            });
        }
        Fragments { fragments }
    }

    pub(crate) fn as_slice(&self) -> &[Fragment] {
        &self.fragments
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [Fragment] {
        &mut self.fragments
    }

    /// The index of the fragment containing `user_key`.
    pub(crate) fn find(&self, user_key: &[u8]) -> Option<usize> {
        let after = self
            .fragments
            .partition_point(|f| f.start.as_slice() <= user_key);
        let index = after.checked_sub(1)?;
        (user_key < self.fragments[index].end.as_slice()).then_some(index)
    }
}

/// Turns fragments back into tombstones, joining the pieces of one sequence
/// number over adjacent fragments, sorted by start and then newest first.
pub(crate) fn defragment<'a>(
    fragments: impl IntoIterator<Item = (&'a [u8], &'a [u8], SeqNo)>,
) -> Vec<RangeTombstone> {
    // Pieces still growing, by sequence number.
    let mut open: BTreeMap<SeqNo, RangeTombstone> = BTreeMap::new();
    let mut done = Vec::new();
    for (start, end, seqno) in fragments {
        match open.get_mut(&seqno) {
            Some(t) if t.end.as_slice() == start => t.end = end.to_vec(),
            _ => {
                if let Some(t) = open.insert(seqno, RangeTombstone::new(start, end, seqno)) {
                    done.push(t);
                }
            }
        }
    }
    done.extend(open.into_values());
    done.sort_by(|a, b| a.start.cmp(&b.start).then(b.seqno.cmp(&a.seqno)));
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(start: &str, end: &str, seqno: SeqNo) -> RangeTombstone {
        RangeTombstone::new(start.as_bytes(), end.as_bytes(), seqno)
    }

    #[test]
    fn overlapping_tombstones_cut_at_every_bound() {
        let f = Fragments::new(&[t("a", "d", 5), t("b", "c", 9), t("x", "w", 1)]);
        let got: Vec<_> = f
            .as_slice()
            .iter()
            .map(|f| (f.start.clone(), f.end.clone(), f.seqnos.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (b"a".to_vec(), b"b".to_vec(), vec![5]),
                (b"b".to_vec(), b"c".to_vec(), vec![9, 5]),
                (b"c".to_vec(), b"d".to_vec(), vec![5]),
            ]
        );
        assert_eq!(f.find(b"bz"), Some(1));
        assert_eq!(f.find(b"d"), None, "end is exclusive");
        assert_eq!(f.find(b"w"), None, "empty ranges are dropped");
    }

    #[test]
    fn disjoint_tombstones_leave_gaps_unfragmented() {
        let f = Fragments::new(&[t("a", "b", 1), t("c", "d", 2)]);
        assert_eq!(f.as_slice().len(), 2);
        assert_eq!(f.find(b"b"), None);
    }

    #[test]
    fn defragment_joins_adjacent_pieces_of_one_seqno() {
        let f = Fragments::new(&[t("a", "d", 5), t("b", "c", 9)]);
        let pieces = f.as_slice().iter().flat_map(|f| {
            f.seqnos
                .iter()
                .map(move |&s| (f.start.as_slice(), f.end.as_slice(), s))
        });
        assert_eq!(defragment(pieces), [t("a", "d", 5), t("b", "c", 9)]);
    }
}
