//! [`Block`]: an opened, fully validated block.
//!
//! Opening checks everything a reader will ever rely on, once: the trailer,
//! the checksum, the restart array, and every entry (lengths inside the
//! entry region, shared prefixes no longer than the previous key, restart
//! entries stored whole, keys strictly increasing under the comparator).
//! That costs about one forward pass over the block on top of the checksum,
//! and buys an iterator that cannot fail: with a block that opened, every
//! decode the iterator does has already succeeded once.

use std::fmt;
use std::sync::Arc;

use crate::comparator::{Bytewise, Comparator};
use crate::error::{Corruption, Error};
use crate::format::{self, EntryError, FORMAT_V1, RESTART_LEN, TRAILER_LEN};
use crate::iter::BlockIter;

/// The bytes of one block, validated, with the order they were validated
/// under.
///
/// Cloning is cheap (a reference count and the comparator), so a table
/// reader can hand blocks to iterators and keep them in a cache.
///
/// ```
/// use lsmkit_block::{Block, BlockBuilder, Bytewise};
///
/// let mut builder = BlockBuilder::new(Bytewise);
/// builder.add(b"k1", b"v1")?;
/// let block = Block::new(builder.finish().to_vec(), Bytewise)?;
///
/// let mut damaged = block.as_bytes().to_vec();
/// damaged[0] ^= 1;
/// assert!(Block::new(damaged, Bytewise).unwrap_err().is_corruption());
/// # Ok::<(), lsmkit_block::Error>(())
/// ```
#[derive(Clone)]
pub struct Block<C: Comparator = Bytewise> {
    bytes: Arc<[u8]>,
    /// Length of the entry region; the restart array starts here.
    data_len: usize,
    num_restarts: usize,
    len: u64,
    cmp: C,
}

impl<C: Comparator> Block<C> {
    /// Opens the block in `bytes`, whose keys are ordered by `cmp`.
    ///
    /// Fails with [`Error::Corruption`] — never a panic — if anything about
    /// the bytes is wrong. Besides the `Arc` (no copy if `bytes` already is
    /// one), opening allocates only two key buffers, each the size of the
    /// longest key, which is itself shorter than the block.
    pub fn new(bytes: impl Into<Arc<[u8]>>, cmp: C) -> Result<Self, Error> {
        let bytes = bytes.into();
        let layout = validate(&bytes, &cmp)?;
        Ok(Block {
            bytes,
            data_len: layout.data_len,
            num_restarts: layout.num_restarts,
            len: layout.entries,
            cmp,
        })
    }

    /// An iterator over the entries, not yet positioned.
    pub fn iter(&self) -> BlockIter<C> {
        BlockIter::new(self.clone())
    }

    /// The number of entries.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the block has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of restart points.
    pub fn num_restarts(&self) -> usize {
        self.num_restarts
    }

    /// The whole block as stored, trailer included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The comparator the block was validated under.
    pub fn comparator(&self) -> &C {
        &self.cmp
    }

    /// The entry region.
    pub(crate) fn data(&self) -> &[u8] {
        &self.bytes[..self.data_len]
    }

    /// The offset held by restart `index`. REQUIRES: `index < num_restarts`.
    pub(crate) fn restart(&self, index: usize) -> usize {
        // Validated on open; 0 is unreachable and keeps this panic-free.
        format::get_fixed32(&self.bytes, self.data_len + index * RESTART_LEN).unwrap_or(0) as usize
    }
}

impl<C: Comparator> fmt::Debug for Block<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("size", &self.bytes.len())
            .field("entries", &self.len)
            .field("restarts", &self.num_restarts)
            .field("comparator", &self.cmp.name())
            .finish()
    }
}

/// What validation learned about a block's layout.
struct Layout {
    data_len: usize,
    num_restarts: usize,
    entries: u64,
}

/// Checks every byte a reader will follow; see the module documentation.
fn validate<C: Comparator>(bytes: &[u8], cmp: &C) -> Result<Layout, Error> {
    let len = bytes.len();
    if len < TRAILER_LEN {
        let what = Corruption::TooShort {
            len: len as u64,
            min: TRAILER_LEN as u64,
        };
        return Err(Error::corruption(what, 0));
    }
    let checksum_at = len - format::CHECKSUM_LEN;
    let format_at = checksum_at - 1;
    let count_at = format_at - RESTART_LEN;

    // The format byte decides how the rest is checksummed, so it comes first.
    let found = bytes[format_at];
    if found != FORMAT_V1 {
        let what = Corruption::UnknownFormat {
            expected: FORMAT_V1,
            found,
        };
        return Err(Error::corruption(what, format_at));
    }
    let stored = format::get_fixed64(bytes, checksum_at).unwrap_or(0);
    let computed = format::checksum(&bytes[..checksum_at]);
    if stored != computed {
        return Err(Error::corruption(
            Corruption::ChecksumMismatch { stored, computed },
            checksum_at,
        ));
    }

    let count = u64::from(format::get_fixed32(bytes, count_at).unwrap_or(0));
    let needed = count * RESTART_LEN as u64;
    if needed > count_at as u64 {
        let what = Corruption::RestartCount {
            count,
            needed,
            available: count_at as u64,
        };
        return Err(Error::corruption(what, count_at));
    }
    let num_restarts = count as usize;
    let data_len = count_at - num_restarts * RESTART_LEN;
    let restart = |i: usize| format::get_fixed32(bytes, data_len + i * RESTART_LEN).unwrap_or(0);

    let first = (num_restarts > 0).then(|| restart(0));
    if (data_len > 0 || num_restarts > 0) && first != Some(0) {
        return Err(Error::corruption(
            Corruption::FirstRestart { found: first },
            data_len,
        ));
    }

    let entries = walk_entries(&bytes[..data_len], num_restarts, restart, cmp)?;
    Ok(Layout {
        data_len,
        num_restarts,
        entries,
    })
}

/// Decodes every entry of the entry region `data`, checking it against the
/// restart array and the key order. Returns the number of entries.
fn walk_entries<C: Comparator>(
    data: &[u8],
    num_restarts: usize,
    restart: impl Fn(usize) -> u32,
    cmp: &C,
) -> Result<u64, Error> {
    let restart_at = |i: usize| data.len() + i * RESTART_LEN;
    let mut prev_key = Vec::new();
    let mut key = Vec::new();
    let mut next_restart = 0;
    let mut entries = 0u64;
    let mut pos = 0;
    while pos < data.len() {
        let entry = format::decode_entry(data, pos).map_err(|e| match e {
            EntryError::BadVarint { at } => Error::corruption(Corruption::BadVarint, at),
            EntryError::Overrun {
                at,
                needed,
                available,
            } => Error::corruption(Corruption::EntryOverrun { needed, available }, at),
        })?;

        // Restarts are increasing and each names an entry start, so the
        // next one due is either here or further on; anything less was
        // skipped over, i.e. points inside an entry or goes backwards.
        let is_restart = next_restart < num_restarts && restart(next_restart) as usize == pos;
        if next_restart < num_restarts && (restart(next_restart) as usize) < pos {
            let what = Corruption::RestartMisplaced {
                index: next_restart as u64,
                found: u64::from(restart(next_restart)),
                expected: pos as u64,
            };
            return Err(Error::corruption(what, restart_at(next_restart)));
        }
        if is_restart {
            next_restart += 1;
            if entry.shared != 0 {
                let what = Corruption::RestartShared {
                    shared: entry.shared as u64,
                };
                return Err(Error::corruption(what, pos));
            }
        }
        if entry.shared > prev_key.len() {
            let what = Corruption::SharedTooLong {
                shared: entry.shared as u64,
                previous: prev_key.len() as u64,
            };
            return Err(Error::corruption(what, pos));
        }

        key.clear();
        // Exact growth keeps each buffer no larger than the longest key,
        // itself no longer than the entry region.
        key.reserve_exact(entry.shared + entry.suffix.len());
        key.extend_from_slice(&prev_key[..entry.shared]);
        key.extend_from_slice(&data[entry.suffix.clone()]);
        if entries > 0 && cmp.compare(&key, &prev_key) != std::cmp::Ordering::Greater {
            return Err(Error::corruption(
                Corruption::KeysOutOfOrder { entry: entries },
                pos,
            ));
        }
        std::mem::swap(&mut key, &mut prev_key);
        entries += 1;
        pos = entry.end();
    }
    if next_restart < num_restarts {
        let what = Corruption::RestartMisplaced {
            index: next_restart as u64,
            found: u64::from(restart(next_restart)),
            expected: data.len() as u64,
        };
        return Err(Error::corruption(what, restart_at(next_restart)));
    }
    Ok(entries)
}
