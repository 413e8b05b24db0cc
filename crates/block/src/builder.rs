//! [`BlockBuilder`]: turns sorted entries into the bytes of one block.
//!
//! Each key is stored as the length of the prefix it shares with the
//! previous key plus the bytes that differ; every `restart_interval` entries
//! a key is stored whole and its offset recorded in the restart array, so
//! that a reader can binary-search. The byte grammar is in [`crate::format`].

use std::cmp::Ordering;

use crate::comparator::{Bytewise, Comparator};
use crate::error::Error;
use crate::format::{self, FORMAT_V1, MAX_DATA_LEN, RESTART_LEN, TRAILER_LEN};

/// How a [`BlockBuilder`] lays out its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOptions {
    /// Entries between restart points (full keys). Smaller makes seeks
    /// faster and blocks larger. Default 16; 0 is treated as 1.
    pub restart_interval: usize,
    /// The size at which [`BlockBuilder::is_full`] says to cut the block.
    /// The builder never refuses an entry for it; it only preallocates this
    /// much. Default 4096.
    pub target_size: usize,
}

impl Default for BlockOptions {
    fn default() -> Self {
        BlockOptions {
            restart_interval: 16,
            target_size: 4096,
        }
    }
}

/// Builds one block from entries added in strictly increasing key order.
///
/// A builder is reusable: after [`finish`](Self::finish) hands out the
/// bytes, [`reset`](Self::reset) starts a new block in the same buffers, so
/// a table writer cutting many blocks allocates only while its largest
/// block grows.
///
/// ```
/// use lsmkit_block::{Block, BlockBuilder, Bytewise};
///
/// let mut builder = BlockBuilder::new(Bytewise);
/// builder.add(b"apple", b"red")?;
/// builder.add(b"banana", b"yellow")?;
/// assert!(builder.add(b"apple", b"green").is_err()); // out of order
/// let block = Block::new(builder.finish().to_vec(), Bytewise)?;
/// assert_eq!(block.len(), 2);
/// # Ok::<(), lsmkit_block::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct BlockBuilder<C: Comparator = Bytewise> {
    cmp: C,
    restart_interval: usize,
    target_size: usize,
    /// Entries, then (once finished) the trailer.
    buf: Vec<u8>,
    restarts: Vec<u32>,
    /// Entries since the last restart point.
    since_restart: usize,
    entries: u64,
    last_key: Vec<u8>,
    finished: bool,
    /// The largest entry region allowed; lowered only by tests, which
    /// cannot allocate 4 GiB to reach the real limit.
    max_data_len: usize,
}

impl<C: Comparator> BlockBuilder<C> {
    /// A builder with default [`BlockOptions`], ordering keys by `cmp`.
    pub fn new(cmp: C) -> Self {
        Self::with_options(cmp, BlockOptions::default())
    }

    /// A builder with the given options, ordering keys by `cmp`.
    pub fn with_options(cmp: C, options: BlockOptions) -> Self {
        BlockBuilder {
            cmp,
            restart_interval: options.restart_interval.max(1),
            target_size: options.target_size,
            buf: Vec::with_capacity(options.target_size),
            restarts: Vec::new(),
            since_restart: 0,
            entries: 0,
            last_key: Vec::new(),
            finished: false,
            max_data_len: MAX_DATA_LEN,
        }
    }

    /// Appends an entry. An empty key or value is allowed.
    ///
    /// Fails, leaving the builder unchanged, if `key` is not strictly
    /// greater than the previous key ([`Error::OutOfOrder`]), if the block
    /// would outgrow the format ([`Error::TooLarge`]), or after
    /// [`finish`](Self::finish) ([`Error::Finished`]).
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        if self.finished {
            return Err(Error::Finished);
        }
        if self.entries > 0 {
            let order = self.cmp.compare(key, &self.last_key);
            if order != Ordering::Greater {
                return Err(Error::OutOfOrder {
                    entry: self.entries,
                    duplicate: order == Ordering::Equal,
                });
            }
        }
        let (restart, shared) = self.placement(key);

        // Checking the whole entry against the limit also keeps every
        // length (each smaller than the entry) within the varint32 range.
        let size = self.buf.len() as u64
            + format::MAX_ENTRY_HEADER_LEN as u64
            + (key.len() - shared) as u64
            + value.len() as u64;
        if size > self.max_data_len as u64 {
            return Err(Error::TooLarge {
                size,
                limit: self.max_data_len as u64,
            });
        }

        if restart {
            // In range: the entry region is at most MAX_DATA_LEN.
            self.restarts.push(self.buf.len() as u32);
            self.since_restart = 0;
        }
        format::put_entry(&mut self.buf, shared, key, value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(&key[shared..]);
        self.since_restart += 1;
        self.entries += 1;
        Ok(())
    }

    /// Appends the trailer and returns the finished block's bytes.
    ///
    /// Calling it again returns the same bytes. The builder accepts no
    /// more entries until [`reset`](Self::reset).
    pub fn finish(&mut self) -> &[u8] {
        if !self.finished {
            self.buf
                .reserve(self.restarts.len() * RESTART_LEN + TRAILER_LEN);
            for &r in &self.restarts {
                format::put_fixed32(&mut self.buf, r);
            }
            // At most one restart per entry, and entries are at least 3 bytes.
            format::put_fixed32(&mut self.buf, self.restarts.len() as u32);
            self.buf.push(FORMAT_V1);
            let sum = format::checksum(&self.buf);
            format::put_fixed64(&mut self.buf, sum);
            self.finished = true;
        }
        &self.buf
    }

    /// Finishes the block if it is not yet finished and returns its bytes,
    /// without copying them.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.finish();
        self.buf
    }

    /// Empties the builder for a new block, keeping its buffers.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.since_restart = 0;
        self.entries = 0;
        self.last_key.clear();
        self.finished = false;
    }

    /// The size of the block if it were finished now.
    pub fn estimated_size(&self) -> usize {
        if self.finished {
            self.buf.len()
        } else {
            self.buf.len() + self.restarts.len() * RESTART_LEN + TRAILER_LEN
        }
    }

    /// The size the block would have, finished, with `key` and `value`
    /// added next: what [`estimated_size`](Self::estimated_size) would say
    /// after [`add`](Self::add). A writer that keeps blocks within a
    /// bound asks before adding, and finishes the block first if the entry
    /// would not fit.
    pub fn estimated_size_with(&self, key: &[u8], value: &[u8]) -> usize {
        let (restart, shared) = self.placement(key);
        let header = [shared, key.len() - shared, value.len()]
            .iter()
            .map(|&n| format::varint_len(n as u64))
            .sum::<usize>();
        self.estimated_size()
            + header
            + (key.len() - shared)
            + value.len()
            + if restart { RESTART_LEN } else { 0 }
    }

    /// Whether the next entry, `key`, starts a restart point, and how many
    /// bytes it shares with the previous key.
    fn placement(&self, key: &[u8]) -> (bool, usize) {
        let restart = self.entries == 0 || self.since_restart >= self.restart_interval;
        let shared = if restart {
            0
        } else {
            common_prefix(&self.last_key, key)
        };
        (restart, shared)
    }

    /// Whether the block has reached its target size (see
    /// [`BlockOptions::target_size`]) and should be finished.
    pub fn is_full(&self) -> bool {
        self.estimated_size() >= self.target_size
    }

    /// Whether no entry has been added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The number of entries added since the last reset.
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// The last key added (empty if none): what a table writer needs to
    /// choose the index separator after this block.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// The comparator that orders this builder's keys.
    pub fn comparator(&self) -> &C {
        &self.cmp
    }
}

impl Default for BlockBuilder<Bytewise> {
    fn default() -> Self {
        Self::new(Bytewise)
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_and_duplicate_keys_are_refused_without_change() {
        let mut b = BlockBuilder::new(Bytewise);
        b.add(b"b", b"1").unwrap();
        let before = b.estimated_size();
        assert_eq!(
            b.add(b"b", b"2"),
            Err(Error::OutOfOrder {
                entry: 1,
                duplicate: true
            })
        );
        assert_eq!(
            b.add(b"a", b"2"),
            Err(Error::OutOfOrder {
                entry: 1,
                duplicate: false
            })
        );
        assert_eq!(b.estimated_size(), before);
        assert_eq!(b.len(), 1);
        assert_eq!(b.last_key(), b"b");
        b.add(b"c", b"3").unwrap();
    }

    #[test]
    fn add_after_finish_is_refused_until_reset() {
        let mut b = BlockBuilder::new(Bytewise);
        b.add(b"a", b"1").unwrap();
        let first = b.finish().to_vec();
        assert_eq!(b.finish(), &first[..]);
        assert_eq!(b.estimated_size(), first.len());
        assert_eq!(b.add(b"b", b"2"), Err(Error::Finished));
        b.reset();
        assert!(b.is_empty());
        b.add(b"a", b"1").unwrap();
        assert_eq!(b.finish(), &first[..]);
    }

    #[test]
    fn estimated_size_with_predicts_the_next_add() {
        let mut b = BlockBuilder::with_options(
            Bytewise,
            BlockOptions {
                restart_interval: 3,
                target_size: 100,
            },
        );
        for i in 0..40u32 {
            let key = format!("key{:06}", i * 37);
            let value = vec![7; (i as usize * 13) % 200];
            let predicted = b.estimated_size_with(key.as_bytes(), &value);
            b.add(key.as_bytes(), &value).unwrap();
            assert_eq!(predicted, b.estimated_size(), "entry {i}");
        }
    }

    #[test]
    fn estimated_size_is_exact() {
        let mut b = BlockBuilder::with_options(
            Bytewise,
            BlockOptions {
                restart_interval: 3,
                target_size: 100,
            },
        );
        assert_eq!(b.estimated_size(), TRAILER_LEN);
        for i in 0..20u32 {
            b.add(format!("key{i:04}").as_bytes(), &[7; 9]).unwrap();
            let estimate = b.estimated_size();
            assert_eq!(estimate, b.clone().finish().len());
            assert_eq!(b.is_full(), estimate >= 100);
        }
    }

    #[test]
    fn restart_interval_zero_acts_as_one() {
        let build = |interval| {
            let mut b = BlockBuilder::with_options(
                Bytewise,
                BlockOptions {
                    restart_interval: interval,
                    target_size: 0,
                },
            );
            for k in [&b"aa"[..], b"ab", b"ac"] {
                b.add(k, b"").unwrap();
            }
            b.into_bytes()
        };
        assert_eq!(build(0), build(1));
    }

    #[test]
    fn entry_beyond_the_size_limit_is_too_large() {
        let mut b = BlockBuilder::new(Bytewise);
        b.max_data_len = 64;
        b.add(b"a", &[0; 40]).unwrap();
        let err = b.add(b"b", &[0; 40]).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 64, .. }), "{err}");
        assert_eq!(b.len(), 1);
        b.add(b"b", &[0; 4]).unwrap();
    }
}
