//! The merging iterator: many sorted sources as one, in internal-key order.
//!
//! The sources sit in a binary heap keyed by their current entry: a min-heap
//! while moving forward, a max-heap while moving backward. A step moves the
//! top source and sifts it down, so each entry costs O(log n) comparisons in
//! the number of sources `n`.
//!
//! The merge does no deduplication: every entry of every source comes out
//! once. Entries with equal keys (which an LSM tree never has: every write
//! has its own sequence number) come out in source order, so that the order
//! is total and the same forward and backward.
//!
//! Changing direction repositions every source but the current one around
//! the current key (a seek each), as LevelDB's `MergingIterator` does.

use std::cmp::Ordering;

use lsmkit_sstable::InternalIterator;
use lsmkit_sstable::key::compare;

/// Which way the cursor last moved; the heap is ordered for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// A cursor over the union of sorted sources; see the [module docs](self).
///
/// It is an [`InternalIterator`] itself, so merges compose. Once any source
/// reports an error the merging iterator turns invalid and `status()`
/// returns the first error met: a merge never silently skips a source.
pub struct MergingIterator<I> {
    sources: Vec<I>,
    /// Indices of the valid sources, a heap whose top is the current entry.
    heap: Vec<usize>,
    direction: Direction,
    error: Option<lsmkit_sstable::Error>,
}

impl<I: InternalIterator> MergingIterator<I> {
    /// A merge of `sources`, not yet positioned. Source order breaks ties
    /// between equal keys (earlier first when moving forward).
    pub fn new(sources: Vec<I>) -> MergingIterator<I> {
        MergingIterator {
            heap: Vec::with_capacity(sources.len()),
            sources,
            direction: Direction::Forward,
            error: None,
        }
    }

    /// The sources, in the order given.
    pub fn sources(&self) -> &[I] {
        &self.sources
    }

    /// Gives the sources back.
    pub fn into_sources(self) -> Vec<I> {
        self.sources
    }

    /// Orders source `a` against source `b` by (key, index). REQUIRES: both
    /// valid.
    fn order(&self, a: usize, b: usize) -> Ordering {
        compare(self.sources[a].key(), self.sources[b].key()).then(a.cmp(&b))
    }

    /// Whether source `a` belongs above source `b` in the heap.
    fn above(&self, a: usize, b: usize) -> bool {
        match self.direction {
            Direction::Forward => self.order(a, b) == Ordering::Less,
            Direction::Backward => self.order(a, b) == Ordering::Greater,
        }
    }

    /// Records the first error of source `i`, if it has one.
    fn check(&mut self, i: usize) {
        if self.error.is_none()
            && let Err(error) = self.sources[i].status()
        {
            self.error = Some(error);
        }
    }

    /// Rebuilds the heap from every valid source, for `direction`.
    fn rebuild(&mut self, direction: Direction) {
        self.direction = direction;
        self.heap.clear();
        for i in 0..self.sources.len() {
            if self.sources[i].valid() {
                self.heap.push(i);
            } else {
                self.check(i);
            }
        }
        for slot in (0..self.heap.len() / 2).rev() {
            self.sift_down(slot);
        }
    }

    fn sift_down(&mut self, mut slot: usize) {
        loop {
            let (left, right) = (2 * slot + 1, 2 * slot + 2);
            let mut top = slot;
            if left < self.heap.len() && self.above(self.heap[left], self.heap[top]) {
                top = left;
            }
            if right < self.heap.len() && self.above(self.heap[right], self.heap[top]) {
                top = right;
            }
            if top == slot {
                return;
            }
            self.heap.swap(slot, top);
            slot = top;
        }
    }

    /// After the top source moved: sift it into place, or drop it from the
    /// heap when it ran out.
    fn fix_top(&mut self) {
        let Some(&top) = self.heap.first() else {
            return;
        };
        if self.sources[top].valid() {
            self.sift_down(0);
        } else {
            self.check(top);
            self.heap.swap_remove(0);
            self.sift_down(0);
        }
    }

    fn current(&self) -> Option<usize> {
        self.heap.first().copied()
    }

    /// Positions source `i` on its first entry after the entry of source
    /// `current` in (key, source) order.
    fn seek_after(&mut self, i: usize, current: usize, key: &[u8]) {
        let source = &mut self.sources[i];
        source.seek(key);
        // A source before `current` comes after it only with a larger key.
        while i < current && source.valid() && compare(source.key(), key).is_eq() {
            source.next();
        }
    }

    /// Positions every source but `current` just after the current entry,
    /// for moving forward from it.
    fn turn_forward(&mut self, current: usize) {
        let key = self.sources[current].key().to_vec();
        for i in (0..self.sources.len()).filter(|&i| i != current) {
            self.seek_after(i, current, &key);
        }
        self.rebuild(Direction::Forward);
    }

    /// Positions every source but `current` just before the current entry,
    /// for moving backward from it: one step back from just after it.
    fn turn_backward(&mut self, current: usize) {
        let key = self.sources[current].key().to_vec();
        for i in (0..self.sources.len()).filter(|&i| i != current) {
            self.seek_after(i, current, &key);
            let source = &mut self.sources[i];
            if source.valid() {
                source.prev();
            } else if source.status().is_ok() {
                source.seek_to_last();
            }
        }
        self.rebuild(Direction::Backward);
    }
}

impl<I: InternalIterator> InternalIterator for MergingIterator<I> {
    fn valid(&self) -> bool {
        self.error.is_none() && !self.heap.is_empty()
    }

    fn seek_to_first(&mut self) {
        for source in &mut self.sources {
            source.seek_to_first();
        }
        self.rebuild(Direction::Forward);
    }

    fn seek_to_last(&mut self) {
        for source in &mut self.sources {
            source.seek_to_last();
        }
        self.rebuild(Direction::Backward);
    }

    fn seek(&mut self, target: &[u8]) {
        for source in &mut self.sources {
            source.seek(target);
        }
        self.rebuild(Direction::Forward);
    }

    fn next(&mut self) {
        let Some(current) = self.current().filter(|_| self.error.is_none()) else {
            return;
        };
        if self.direction == Direction::Backward {
            self.turn_forward(current);
        }
        self.sources[current].next();
        self.fix_top();
    }

    fn prev(&mut self) {
        let Some(current) = self.current().filter(|_| self.error.is_none()) else {
            return;
        };
        if self.direction == Direction::Forward {
            self.turn_backward(current);
        }
        self.sources[current].prev();
        self.fix_top();
    }

    fn key(&self) -> &[u8] {
        self.current().map_or(&[], |i| self.sources[i].key())
    }

    fn value(&self) -> &[u8] {
        self.current().map_or(&[], |i| self.sources[i].value())
    }

    fn status(&self) -> Result<(), lsmkit_sstable::Error> {
        match &self.error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

impl<I> std::fmt::Debug for MergingIterator<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergingIterator")
            .field("sources", &self.sources.len())
            .field("live", &self.heap.len())
            .field("direction", &self.direction)
            .field("error", &self.error)
            .finish()
    }
}
