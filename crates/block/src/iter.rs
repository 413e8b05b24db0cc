//! [`BlockIter`]: a cursor over the entries of a [`Block`].

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;

use crate::block::Block;
use crate::comparator::{Bytewise, Comparator};
use crate::format;

/// A cursor over a block's entries in key order, both ways.
///
/// A new iterator is not positioned ([`valid`](Self::valid) is false);
/// position it with [`seek_to_first`](Self::seek_to_first),
/// [`seek_to_last`](Self::seek_to_last) or [`seek`](Self::seek). It becomes
/// invalid again when it steps past either end, and stays so until
/// repositioned.
///
/// The iterator owns a clone of its block, so it has no lifetime and can be
/// stored in another iterator. It cannot fail: [`Block::new`] validated
/// every byte it reads. Values are borrowed from the block. Moving
/// allocates only while its buffers grow: the current key to the longest
/// key seen, and, once [`prev`](Self::prev) or
/// [`seek_to_last`](Self::seek_to_last) is used, a cache of one restart
/// region's keys, which makes a backward scan decode each entry once
/// instead of rescanning its region for every step.
///
/// ```
/// use lsmkit_block::{Block, BlockBuilder, Bytewise};
///
/// let mut builder = BlockBuilder::new(Bytewise);
/// for (k, v) in [("ant", "6"), ("bee", "4"), ("cat", "4")] {
///     builder.add(k.as_bytes(), v.as_bytes())?;
/// }
/// let mut it = Block::new(builder.into_bytes(), Bytewise)?.iter();
///
/// it.seek(b"b");
/// assert_eq!((it.key(), it.value()), (&b"bee"[..], &b"4"[..]));
/// it.prev();
/// assert_eq!(it.key(), b"ant");
/// it.prev();
/// assert!(!it.valid());
/// # Ok::<(), lsmkit_block::Error>(())
/// ```
#[derive(Clone)]
pub struct BlockIter<C: Comparator = Bytewise> {
    block: Block<C>,
    /// Offset of the current entry; the entry region's length when invalid.
    current: usize,
    /// Offset of the entry after the current one.
    next: usize,
    /// The restart region the current entry lies in.
    restart_index: usize,
    /// Where the region after it starts (`usize::MAX` after the last).
    next_restart: usize,
    key: Vec<u8>,
    value: Range<usize>,
    back: BackwardCache,
}

/// The entries of one restart region, decoded once while stepping
/// backwards: keys are delta-encoded forwards, so without it every `prev`
/// would rescan its region from the restart point.
#[derive(Clone, Debug, Default)]
struct BackwardCache {
    /// The region's keys, concatenated.
    keys: Vec<u8>,
    /// The region's entries up to the one where the scan stopped, in order.
    entries: Vec<CachedEntry>,
    /// Index in `entries` of the iterator's current entry; `None` when the
    /// iterator has moved other than backwards since the cache was filled.
    at: Option<usize>,
}

#[derive(Clone, Debug)]
struct CachedEntry {
    offset: usize,
    next: usize,
    key: Range<usize>,
    value: Range<usize>,
}

impl<C: Comparator> BlockIter<C> {
    /// An unpositioned iterator over `block`.
    pub fn new(block: Block<C>) -> Self {
        let end = block.data().len();
        BlockIter {
            block,
            current: end,
            next: end,
            restart_index: 0,
            next_restart: usize::MAX,
            key: Vec::new(),
            value: 0..0,
            back: BackwardCache::default(),
        }
    }

    /// Whether the iterator is at an entry.
    pub fn valid(&self) -> bool {
        self.current < self.block.data().len()
    }

    /// The current key. REQUIRES: [`valid`](Self::valid) (else empty).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current value. REQUIRES: [`valid`](Self::valid) (else empty).
    pub fn value(&self) -> &[u8] {
        self.block
            .data()
            .get(self.value.clone())
            .unwrap_or_default()
    }

    /// The block being iterated.
    pub fn block(&self) -> &Block<C> {
        &self.block
    }

    /// Moves to the first entry (invalid if the block is empty).
    pub fn seek_to_first(&mut self) {
        if self.block.num_restarts() == 0 {
            return self.invalidate();
        }
        self.start_at_restart(0);
        self.parse_next();
    }

    /// Moves to the last entry (invalid if the block is empty).
    pub fn seek_to_last(&mut self) {
        let Some(last) = self.block.num_restarts().checked_sub(1) else {
            return self.invalidate();
        };
        self.step_back_before(self.block.data().len(), last);
    }

    /// Moves to the first entry whose key is at or after `target`; invalid
    /// if there is none.
    pub fn seek(&mut self, target: &[u8]) {
        if self.block.num_restarts() == 0 {
            return self.invalidate();
        }
        // Restart keys are stored whole, so the binary search compares
        // them in place: find the last restart whose key is <= target.
        let cmp = self.block.comparator();
        let (mut lo, mut hi) = (0, self.block.num_restarts());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if cmp.compare(self.restart_key(mid), target) == Ordering::Greater {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        // Every key before the found restart is below target; if even the
        // first restart key is above it, the answer is the first entry.
        self.start_at_restart(lo.saturating_sub(1));
        while self.parse_next() {
            if self.block.comparator().compare(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    /// Moves to the next entry; invalid after the last.
    /// Does nothing if the iterator is not valid.
    pub fn next(&mut self) {
        if self.valid() {
            self.back.at = None;
            self.parse_next();
        }
    }

    /// Moves to the previous entry; invalid before the first.
    /// Does nothing if the iterator is not valid.
    pub fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        match self.back.at {
            Some(i) if i > 0 => {
                let entry = &self.back.entries[i - 1];
                self.key.clear();
                self.key
                    .extend_from_slice(&self.back.keys[entry.key.clone()]);
                self.current = entry.offset;
                self.next = entry.next;
                self.value = entry.value.clone();
                self.back.at = Some(i - 1);
            }
            _ => self.step_back_before(self.current, self.restart_index),
        }
    }

    /// Moves to the last entry before offset `limit`, searching restart
    /// regions down from `index`, and caches the region it lands in;
    /// invalid if there is no such entry.
    fn step_back_before(&mut self, limit: usize, mut index: usize) {
        while self.block.restart(index) >= limit {
            if index == 0 {
                return self.invalidate();
            }
            index -= 1;
        }
        self.start_at_restart(index);
        self.back.keys.clear();
        self.back.entries.clear();
        while self.parse_next() {
            let start = self.back.keys.len();
            self.back.keys.extend_from_slice(&self.key);
            self.back.entries.push(CachedEntry {
                offset: self.current,
                next: self.next,
                key: start..self.back.keys.len(),
                value: self.value.clone(),
            });
            if self.next >= limit {
                break;
            }
        }
        self.back.at = self.back.entries.len().checked_sub(1);
    }

    fn invalidate(&mut self) {
        let end = self.block.data().len();
        self.current = end;
        self.next = end;
        self.key.clear();
        self.value = 0..0;
        self.back.at = None;
    }

    /// Prepares `parse_next` to decode the entry at restart `index`.
    fn start_at_restart(&mut self, index: usize) {
        self.key.clear();
        self.back.at = None;
        self.restart_index = index;
        self.next = self.block.restart(index);
        self.next_restart = self.restart_after(index);
    }

    /// The offset of the restart after `index`, `usize::MAX` if none.
    fn restart_after(&self, index: usize) -> usize {
        if index + 1 < self.block.num_restarts() {
            self.block.restart(index + 1)
        } else {
            usize::MAX
        }
    }

    /// The whole key of the entry at restart `index`, borrowed from the block.
    fn restart_key(&self, index: usize) -> &[u8] {
        let data = self.block.data();
        format::decode_entry(data, self.block.restart(index))
            .ok()
            .and_then(|e| data.get(e.suffix))
            .unwrap_or_default()
    }

    /// Makes the entry at `self.next` current; false (and invalid) if there
    /// is none.
    fn parse_next(&mut self) -> bool {
        let data = self.block.data();
        let at = self.next;
        if at >= data.len() {
            self.invalidate();
            return false;
        }
        match format::decode_entry(data, at) {
            Ok(entry) if entry.shared <= self.key.len() => {
                self.key.truncate(entry.shared);
                self.key.extend_from_slice(&data[entry.suffix]);
                self.value = entry.value;
                self.current = at;
                self.next = self.value.end;
                // Every restart is an entry start, so a step forward
                // crosses at most one.
                if at >= self.next_restart {
                    self.restart_index += 1;
                    self.next_restart = self.restart_after(self.restart_index);
                }
                true
            }
            _ => {
                // Block::new decoded this very entry successfully.
                debug_assert!(false, "validated block entry at {at} failed to decode");
                self.invalidate();
                false
            }
        }
    }
}

impl<C: Comparator> fmt::Debug for BlockIter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockIter")
            .field("block", &self.block)
            .field("valid", &self.valid())
            .field("offset", &self.current)
            .finish()
    }
}
