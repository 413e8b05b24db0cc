//! Range tombstones cut into disjoint fragments, so that "which tombstones
//! cover this key?" is a binary search instead of a scan.
//!
//! Overlapping tombstones `[a, d)@5` and `[b, c)@9` become `[a, b)@{5}`,
//! `[b, c)@{9, 5}` and `[c, d)@{5}`: over one fragment every tombstone
//! covers the same keys, so its sequence numbers can be reasoned about like
//! the versions of one key.
//!
//! Keeping every sequence number of every fragment costs O(n²) when `n`
//! tombstones nest, and no reader needs them all: a reader at snapshot `s`
//! only asks for the newest tombstone at or below `s`. So a fragment keeps
//! the newest sequence number of each *stripe* — the seqnos between two
//! adjacent snapshots of interest — which answers exactly for a reader at
//! any of those snapshots and at the latest state. [`Fragments::newest`]
//! is the case of no snapshot (one seqno per fragment, for a reader whose
//! tombstones are already the visible ones); [`Fragments::for_snapshots`]
//! serves a compaction, which must keep what each live snapshot sees.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::Range;

use crate::key::SeqNo;
use crate::tombstone::RangeTombstone;

/// One fragment: the keys `[start, end)` and the sequence numbers kept for
/// them, newest first, without repeats. Never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The first key covered.
    pub start: &'a [u8],
    /// The first key not covered (exclusive); `start < end`.
    pub end: &'a [u8],
    /// The sequence numbers of tombstones over `[start, end)` that were
    /// kept (see [`Fragments`]), strictly descending.
    pub seqnos: &'a [SeqNo],
}

/// Range tombstones cut into disjoint, non-empty fragments sorted by start,
/// each with the sequence numbers of the tombstones over it that a reader
/// at one of a given set of snapshots can see as the newest.
///
/// ```
/// use lsmkit_sstable::{Fragments, RangeTombstone};
///
/// let tombstones = [
///     RangeTombstone::new(&b"a"[..], &b"d"[..], 5),
///     RangeTombstone::new(&b"b"[..], &b"c"[..], 9),
/// ];
/// let f = Fragments::newest(&tombstones);
/// assert_eq!(f.newest_visible(b"bb", u64::MAX), Some(9));
/// assert!(f.covers(b"c", 4, u64::MAX));  // [c, d)@5 deletes c@4...
/// assert!(!f.covers(b"c", 5, u64::MAX)); // ...not c@5
/// assert!(!f.covers(b"d", 0, u64::MAX)); // the end is exclusive
///
/// // For a compaction with a reader at snapshot 6: the fragment [b, c)
/// // keeps 9 for the latest state and 5 for the reader.
/// let f = Fragments::for_snapshots(&tombstones, &[6]);
/// let seqnos: Vec<&[u64]> = f.iter().map(|f| f.seqnos).collect();
/// assert_eq!(seqnos, [&[5][..], &[9, 5], &[5]]);
/// assert_eq!(f.newest_visible(b"bb", 6), Some(5));
/// ```
///
/// Lookups ([`find`](Self::find), [`newest_visible`](Self::newest_visible),
/// [`covers`](Self::covers)) are O(log f) for `f` fragments.
#[derive(Clone, Debug, Default)]
pub struct Fragments {
    /// Sorted by `start`, disjoint.
    pieces: Vec<Piece>,
    /// Every piece's sequence numbers, concatenated in piece order: one
    /// allocation instead of one per piece.
    seqnos: Vec<SeqNo>,
}

#[derive(Clone, Debug)]
struct Piece {
    start: Vec<u8>,
    end: Vec<u8>,
    seqnos: Range<usize>,
}

impl Fragments {
    /// Cuts `tombstones` (in any order; empty ranges are ignored), keeping
    /// per fragment only the newest sequence number, and joining adjacent
    /// fragments with the same one: the fewest fragments that answer "the
    /// newest tombstone over this key".
    ///
    /// For a reader at one snapshot, pass the tombstones visible at it
    /// ([`RangeTombstone::visible_at`]); lookups then answer for that
    /// snapshot (or any later one, with the same result).
    ///
    /// O(n log n) for `n` tombstones, nested or not.
    pub fn newest<'a>(tombstones: impl IntoIterator<Item = &'a RangeTombstone>) -> Fragments {
        Fragments::cut(tombstones, &[], true)
    }

    /// Cuts `tombstones` (in any order; empty ranges are ignored) at every
    /// start and end, keeping per fragment the newest sequence number of
    /// each stripe of `snapshots`: of the seqnos at or below the first
    /// snapshot, of those above it and at or below the second, and so on,
    /// and of those above the last. That is every tombstone a reader at one
    /// of `snapshots`, or at the latest state, sees as the newest over the
    /// fragment, so lookups at those snapshots are exact.
    ///
    /// Adjacent fragments are not joined even when they keep the same
    /// sequence numbers: a caller tracking state per fragment (what a
    /// compaction keeps under it) gets it as fine as the tombstones' bounds.
    ///
    /// O((n + k) log n) for `n` tombstones and `k` kept sequence numbers,
    /// `k` at most (fragments × (snapshots + 1)), whatever the nesting.
    ///
    /// REQUIRES: `snapshots` sorted ascending.
    pub fn for_snapshots<'a>(
        tombstones: impl IntoIterator<Item = &'a RangeTombstone>,
        snapshots: &[SeqNo],
    ) -> Fragments {
        debug_assert!(snapshots.is_sorted(), "snapshots must be sorted");
        Fragments::cut(tombstones, snapshots, false)
    }

    /// The sweep behind both constructors: walk the distinct bounds in
    /// order, adding the tombstones that start at each and retiring those
    /// that end, and read each stripe's newest from the active set.
    fn cut<'a>(
        tombstones: impl IntoIterator<Item = &'a RangeTombstone>,
        snapshots: &[SeqNo],
        join: bool,
    ) -> Fragments {
        let mut live: Vec<&RangeTombstone> =
            tombstones.into_iter().filter(|t| !t.is_empty()).collect();
        live.sort_unstable_by(|a, b| a.start.cmp(&b.start));
        let mut bounds: Vec<&[u8]> = live
            .iter()
            .flat_map(|t| [t.start.as_slice(), t.end.as_slice()])
            .collect();
        bounds.sort_unstable();
        bounds.dedup();

        let mut fragments = Fragments::default();
        let mut active = Active::new(snapshots);
        let mut next = live.iter().peekable();
        let mut kept = Vec::new();
        for pair in bounds.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            while let Some(t) = next.next_if(|t| t.start.as_slice() <= start) {
                active.add(t);
            }
            active.retire(start);
            active.newest_per_stripe(snapshots, &mut kept);
            if !kept.is_empty() {
                fragments.push(start, end, &kept, join);
            }
        }
        fragments
    }

    fn push(&mut self, start: &[u8], end: &[u8], seqnos: &[SeqNo], join: bool) {
        // Join only when the last piece ends here with the same seqnos.
        if join
            && let Some(last) = self.pieces.last_mut()
            && last.end.as_slice() == start
            && self.seqnos[last.seqnos.clone()] == *seqnos
        {
            last.end = end.to_vec();
            return;
        }
        let from = self.seqnos.len();
        self.seqnos.extend_from_slice(seqnos);
        self.pieces.push(Piece {
            start: start.to_vec(),
            end: end.to_vec(),
            seqnos: from..self.seqnos.len(),
        });
    }

    /// The number of fragments.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// Whether there is no fragment: no tombstone covers any key.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The fragment at `index` (in key order), if there is one.
    pub fn get(&self, index: usize) -> Option<Fragment<'_>> {
        self.pieces.get(index).map(|p| self.view(p))
    }

    /// Every fragment, in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Fragment<'_>> + '_ {
        self.pieces.iter().map(|p| self.view(p))
    }

    fn view<'a>(&'a self, piece: &'a Piece) -> Fragment<'a> {
        Fragment {
            start: &piece.start,
            end: &piece.end,
            seqnos: &self.seqnos[piece.seqnos.clone()],
        }
    }

    /// The index of the fragment containing `user_key`, if one does.
    pub fn find(&self, user_key: &[u8]) -> Option<usize> {
        let after = self
            .pieces
            .partition_point(|p| p.start.as_slice() <= user_key);
        let index = after.checked_sub(1)?;
        (user_key < self.pieces[index].end.as_slice()).then_some(index)
    }

    /// The sequence number of the newest tombstone visible at `snapshot`
    /// that covers `user_key`. Exact for the snapshots the fragments were
    /// made for and for any snapshot at or above every tombstone.
    pub fn newest_visible(&self, user_key: &[u8], snapshot: SeqNo) -> Option<SeqNo> {
        let piece = &self.pieces[self.find(user_key)?];
        let seqnos = &self.seqnos[piece.seqnos.clone()];
        seqnos.iter().copied().find(|&t| t <= snapshot)
    }

    /// Whether a tombstone visible at `snapshot` deletes the version
    /// `(user_key, seqno)`, that is, is newer than it and covers the key.
    /// Exact for the same snapshots as [`newest_visible`](Self::newest_visible).
    pub fn covers(&self, user_key: &[u8], seqno: SeqNo, snapshot: SeqNo) -> bool {
        self.newest_visible(user_key, snapshot)
            .is_some_and(|t| seqno < t)
    }
}

/// The tombstones over the current piece of the sweep.
enum Active<'a> {
    /// With no snapshot only the newest matters: a max-heap by seqno,
    /// whose ended tombstones are dropped only when they surface. Cheaper
    /// than `Ordered` (about a third less build time for nested tombstones).
    Newest(BinaryHeap<(SeqNo, Reverse<&'a [u8]>)>),
    /// With snapshots, the newest at or below each stripe's top is wanted:
    /// the seqnos in order (with how many tombstones have each), and their
    /// ends, soonest first, to retire them.
    Ordered {
        seqnos: BTreeMap<SeqNo, usize>,
        ends: BinaryHeap<Reverse<(&'a [u8], SeqNo)>>,
    },
}

impl<'a> Active<'a> {
    fn new(snapshots: &[SeqNo]) -> Active<'a> {
        if snapshots.is_empty() {
            Active::Newest(BinaryHeap::new())
        } else {
            Active::Ordered {
                seqnos: BTreeMap::new(),
                ends: BinaryHeap::new(),
            }
        }
    }

    fn add(&mut self, t: &'a RangeTombstone) {
        match self {
            Active::Newest(heap) => heap.push((t.seqno, Reverse(t.end.as_slice()))),
            Active::Ordered { seqnos, ends } => {
                *seqnos.entry(t.seqno).or_default() += 1;
                ends.push(Reverse((t.end.as_slice(), t.seqno)));
            }
        }
    }

    /// Drops the tombstones that end at or before `bound`. Every bound is
    /// some tombstone's start or end, so those cover nothing from here on.
    fn retire(&mut self, bound: &[u8]) {
        match self {
            Active::Newest(heap) => {
                while heap.peek().is_some_and(|&(_, Reverse(end))| end <= bound) {
                    heap.pop();
                }
            }
            Active::Ordered { seqnos, ends } => {
                while let Some(&Reverse((_, seqno))) = ends.peek().filter(|r| r.0.0 <= bound) {
                    ends.pop();
                    if let Some(count) = seqnos.get_mut(&seqno) {
                        *count -= 1;
                        if *count == 0 {
                            seqnos.remove(&seqno);
                        }
                    }
                }
            }
        }
    }

    /// Fills `kept` with the newest seqno of each stripe of `snapshots`
    /// among the active tombstones, newest first: one range query per kept
    /// seqno, so a wide active set costs nothing for the stripes it does
    /// not reach.
    fn newest_per_stripe(&self, snapshots: &[SeqNo], kept: &mut Vec<SeqNo>) {
        kept.clear();
        let seqnos = match self {
            Active::Newest(heap) => {
                kept.extend(heap.peek().map(|&(t, _)| t));
                return;
            }
            Active::Ordered { seqnos, .. } => seqnos,
        };
        let mut newest = seqnos.last_key_value().map(|(&t, _)| t);
        while let Some(t) = newest {
            kept.push(t);
            // `t` is in stripe `i`: above snapshots[i - 1], at or below
            // snapshots[i]. The next stripe down ends at snapshots[i - 1].
            let stripe = snapshots.partition_point(|&s| s < t);
            let Some(&floor) = stripe.checked_sub(1).and_then(|i| snapshots.get(i)) else {
                break;
            };
            newest = seqnos.range(..=floor).next_back().map(|(&t, _)| t);
        }
    }
}

/// Turns fragment pieces `(start, end, seqno)`, in key order, back into
/// range tombstones, joining the pieces of one sequence number over
/// adjacent fragments; sorted by start, then newest first.
///
/// A compaction uses it to write the tombstones it keeps from
/// [`Fragments::for_snapshots`] without one output tombstone per fragment.
pub fn defragment<'a>(
    pieces: impl IntoIterator<Item = (&'a [u8], &'a [u8], SeqNo)>,
) -> Vec<RangeTombstone> {
    // Tombstones still growing, by sequence number.
    let mut open: BTreeMap<SeqNo, RangeTombstone> = BTreeMap::new();
    let mut done = Vec::new();
    for (start, end, seqno) in pieces {
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
    use proptest::prelude::*;

    fn t(start: &str, end: &str, seqno: SeqNo) -> RangeTombstone {
        RangeTombstone::new(start.as_bytes(), end.as_bytes(), seqno)
    }

    fn owned(f: &Fragments) -> Vec<(Vec<u8>, Vec<u8>, Vec<SeqNo>)> {
        f.iter()
            .map(|f| (f.start.to_vec(), f.end.to_vec(), f.seqnos.to_vec()))
            .collect()
    }

    #[test]
    fn newest_keeps_the_newest_per_piece() {
        let f = Fragments::newest(&[t("a", "d", 5), t("b", "c", 9)]);
        let newest = |k: &[u8]| f.newest_visible(k, SeqNo::MAX);
        assert_eq!(newest(b"a"), Some(5));
        assert_eq!(newest(b"b"), Some(9));
        assert_eq!(newest(b"bzz"), Some(9));
        assert_eq!(newest(b"c"), Some(5));
        assert_eq!(newest(b"d"), None, "end is exclusive");
        assert_eq!(newest(b"0"), None);
        assert!(f.covers(b"b", 8, SeqNo::MAX));
        assert!(!f.covers(b"b", 9, SeqNo::MAX), "same seqno is not older");
    }

    #[test]
    fn gaps_and_empty_ranges_cover_nothing() {
        let f = Fragments::newest(&[t("a", "b", 1), t("c", "d", 2), t("z", "y", 3)]);
        assert_eq!(f.find(b"b"), None);
        assert_eq!(f.newest_visible(b"c", SeqNo::MAX), Some(2));
        assert_eq!(f.find(b"y"), None);
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn newest_joins_an_older_tombstone_inside_a_newer_one() {
        let f = Fragments::newest(&[t("a", "z", 9), t("c", "d", 2)]);
        assert_eq!(owned(&f), [(b"a".to_vec(), b"z".to_vec(), vec![9])]);
    }

    #[test]
    fn for_snapshots_cuts_at_every_bound() {
        let f = Fragments::for_snapshots(&[t("a", "d", 5), t("b", "c", 9), t("x", "w", 1)], &[]);
        assert_eq!(
            owned(&f),
            [
                (b"a".to_vec(), b"b".to_vec(), vec![5]),
                (b"b".to_vec(), b"c".to_vec(), vec![9]),
                (b"c".to_vec(), b"d".to_vec(), vec![5]),
            ]
        );
        assert_eq!(f.find(b"bz"), Some(1));
        assert_eq!(f.find(b"d"), None, "end is exclusive");
        assert_eq!(f.find(b"w"), None, "empty ranges are dropped");
    }

    #[test]
    fn for_snapshots_keeps_the_newest_of_each_stripe() {
        let ts = [
            t("a", "z", 3),
            t("a", "z", 4),
            t("a", "z", 7),
            t("a", "z", 12),
        ];
        let f = Fragments::for_snapshots(&ts, &[4, 10]);
        assert_eq!(f.get(0).map(|f| f.seqnos), Some(&[12, 7, 4][..]));
        assert_eq!(f.newest_visible(b"m", 4), Some(4));
        assert_eq!(f.newest_visible(b"m", 10), Some(7));
        assert_eq!(f.newest_visible(b"m", SeqNo::MAX), Some(12));
        assert_eq!(f.newest_visible(b"m", 2), None);
        assert_eq!(f.get(1), None);
    }

    #[test]
    fn defragment_joins_adjacent_pieces_of_one_seqno() {
        let ts = [t("a", "d", 5), t("b", "c", 9)];
        let f = Fragments::for_snapshots(&ts, &[5]);
        let pieces = f
            .iter()
            .flat_map(|f| f.seqnos.iter().map(move |&s| (f.start, f.end, s)));
        assert_eq!(defragment(pieces), ts);
    }

    fn arb_tombstone() -> impl Strategy<Value = RangeTombstone> {
        (0u8..8, 0u8..8, 1u64..20).prop_map(|(a, b, s)| RangeTombstone::new(vec![a], vec![b], s))
    }

    /// Every key the fragments could tell apart: each bound, and keys
    /// before, between and after them.
    fn probe_keys() -> Vec<Vec<u8>> {
        let mut keys = vec![vec![]];
        for a in 0u8..9 {
            keys.push(vec![a]);
            keys.push(vec![a, 0]);
        }
        keys
    }

    /// The fragments are sorted, disjoint and non-empty, with strictly
    /// descending seqnos, each that of a tombstone over the whole fragment
    /// (over part of it where fragments were joined).
    fn check_shape(
        f: &Fragments,
        ts: &[RangeTombstone],
        joined: bool,
    ) -> Result<(), TestCaseError> {
        for (i, frag) in f.iter().enumerate() {
            prop_assert!(frag.start < frag.end);
            prop_assert!(!frag.seqnos.is_empty());
            prop_assert!(frag.seqnos.windows(2).all(|w| w[0] > w[1]));
            for &s in frag.seqnos {
                let over = |t: &RangeTombstone| {
                    if joined {
                        t.start.as_slice() < frag.end && frag.start < t.end.as_slice()
                    } else {
                        t.start.as_slice() <= frag.start && frag.end <= t.end.as_slice()
                    }
                };
                prop_assert!(ts.iter().any(|t| t.seqno == s && over(t)), "{:?}", frag);
            }
            if let Some(next) = f.get(i + 1) {
                prop_assert!(frag.end <= next.start, "{:?} overlaps {:?}", frag, next);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn newest_agrees_with_every_tombstone(
            ts in proptest::collection::vec(arb_tombstone(), 0..12),
            snapshot in 0u64..22,
        ) {
            let visible: Vec<_> = ts.iter().filter(|t| t.visible_at(snapshot)).cloned().collect();
            let f = Fragments::newest(&visible);
            check_shape(&f, &visible, true)?;
            for w in f.iter().collect::<Vec<_>>().windows(2) {
                prop_assert!(w[0].end < w[1].start || w[0].seqnos != w[1].seqnos,
                    "touching fragments with one seqno are joined");
            }
            for key in probe_keys() {
                let model = visible.iter().filter(|t| t.contains(&key)).map(|t| t.seqno).max();
                prop_assert_eq!(f.newest_visible(&key, snapshot), model);
                for seqno in 0..22 {
                    let model = ts.iter().any(|t| t.visible_at(snapshot) && t.covers(&key, seqno));
                    prop_assert_eq!(f.covers(&key, seqno, snapshot), model);
                }
            }
        }

        #[test]
        fn for_snapshots_agrees_with_every_tombstone_at_each_snapshot(
            ts in proptest::collection::vec(arb_tombstone(), 0..12),
            snapshots in proptest::collection::btree_set(0u64..22, 0..4),
        ) {
            let snapshots: Vec<SeqNo> = snapshots.into_iter().collect();
            let f = Fragments::for_snapshots(&ts, &snapshots);
            check_shape(&f, &ts, false)?;
            let mut bounds: Vec<&[u8]> = ts.iter().filter(|t| !t.is_empty())
                .flat_map(|t| [t.start.as_slice(), t.end.as_slice()]).collect();
            bounds.sort_unstable();
            bounds.dedup();
            for frag in f.iter() {
                prop_assert!(bounds.windows(2).any(|w| w[0] == frag.start && w[1] == frag.end),
                    "{:?} is not between adjacent bounds", frag);
            }
            for key in probe_keys() {
                for &snapshot in snapshots.iter().chain([&SeqNo::MAX]) {
                    for seqno in 0..22 {
                        let model = ts.iter().any(|t| t.visible_at(snapshot) && t.covers(&key, seqno));
                        prop_assert_eq!(f.covers(&key, seqno, snapshot), model,
                            "key {:?} seqno {} snapshot {}", key, seqno, snapshot);
                    }
                }
            }
        }

        #[test]
        fn defragmenting_every_seqno_covers_what_the_tombstones_cover(
            ts in proptest::collection::vec(arb_tombstone(), 0..12),
        ) {
            // A snapshot at every seqno keeps them all.
            let snapshots: Vec<SeqNo> = (0..22).collect();
            let f = Fragments::for_snapshots(&ts, &snapshots);
            let pieces = f.iter().flat_map(|f| f.seqnos.iter().map(move |&s| (f.start, f.end, s)));
            let back = defragment(pieces);
            prop_assert!(back.windows(2).all(|w| (&w[0].start, Reverse(w[0].seqno)) <= (&w[1].start, Reverse(w[1].seqno))));
            for key in probe_keys() {
                let seqnos = |ts: &[RangeTombstone]| {
                    let mut s: Vec<SeqNo> = ts.iter().filter(|t| t.contains(&key)).map(|t| t.seqno).collect();
                    s.sort_unstable();
                    s.dedup();
                    s
                };
                prop_assert_eq!(seqnos(&back), seqnos(&ts));
            }
        }
    }
}
