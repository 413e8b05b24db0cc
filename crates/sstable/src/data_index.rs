//! [`DataIndex`]: the index block, decoded once when a table opens.
//!
//! The index block maps a separator key (at or after every key of a data
//! block, before every key of the next) to each data block's handle. It is
//! prefix-compressed, so finding a block in it means a binary search over
//! its restart points and then a linear decode of up to a restart
//! interval's entries — on every lookup. Decoded, the separators lie whole
//! in one buffer and the search is a plain binary search: about half the
//! instructions of a point lookup in a cached table went to the block form.
//! The price is memory: the separators uncompressed and 24 bytes per data
//! block, about twice the index block, itself under 1% of the table.

use std::cmp::Ordering;

use crate::format::BlockHandle;
use crate::key;

/// The separators and handles of a table's data blocks, in order. The
/// handles were checked when the table opened (in the file, contiguous
/// from offset 0), so a reader uses them as they are.
#[derive(Debug, Default)]
pub(crate) struct DataIndex {
    /// Every separator, back to back.
    keys: Vec<u8>,
    blocks: Vec<IndexEntry>,
}

#[derive(Debug)]
struct IndexEntry {
    /// Where this block's separator ends in `keys` (it starts where the
    /// previous one ends).
    key_end: usize,
    handle: BlockHandle,
}

impl DataIndex {
    /// REQUIRES: separators added in increasing internal-key order.
    pub(crate) fn push(&mut self, separator: &[u8], handle: BlockHandle) {
        self.keys.extend_from_slice(separator);
        self.blocks.push(IndexEntry {
            key_end: self.keys.len(),
            handle,
        });
    }

    /// The number of data blocks.
    pub(crate) fn len(&self) -> usize {
        self.blocks.len()
    }

    /// The separator of block `i`. REQUIRES: `i < len()`.
    pub(crate) fn separator(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |p| self.blocks[p].key_end);
        &self.keys[start..self.blocks[i].key_end]
    }

    /// The handle of block `i`. REQUIRES: `i < len()`.
    pub(crate) fn handle(&self, i: usize) -> BlockHandle {
        self.blocks[i].handle
    }

    /// The first block that may hold keys `>= target`: the first whose
    /// separator is `>= target`; `len()` if there is none.
    pub(crate) fn seek(&self, target: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.blocks.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key::compare(self.separator(mid), target) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::encode_seek;

    fn seek_key(user_key: &[u8]) -> Vec<u8> {
        let mut k = Vec::new();
        encode_seek(user_key, 5, &mut k);
        k
    }

    #[test]
    fn seek_finds_the_first_separator_at_or_after_the_target() {
        let mut index = DataIndex::default();
        assert_eq!(index.seek(&seek_key(b"a")), 0);
        for (i, k) in [&b"b"[..], b"d", b"dd", b"f"].into_iter().enumerate() {
            index.push(&seek_key(k), BlockHandle::new(i as u64 * 10, 10));
        }
        assert_eq!(index.len(), 4);
        assert_eq!(index.separator(2), seek_key(b"dd"));
        assert_eq!(index.handle(3), BlockHandle::new(30, 10));
        for (target, want) in [
            (&b"a"[..], 0),
            (b"b", 0),
            (b"c", 1),
            (b"d", 1),
            (b"da", 2),
            (b"e", 3),
            (b"f", 3),
            (b"g", 4),
        ] {
            assert_eq!(index.seek(&seek_key(target)), want, "{target:?}");
        }
    }
}
