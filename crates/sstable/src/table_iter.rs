//! [`TableIter`]: a two-level cursor over a table, a position in the
//! decoded index choosing the data block whose cursor gives the entries.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use lsmkit_block::BlockIter;

use crate::error::Error;
use crate::iterator::InternalIterator;
use crate::key::{self, InternalKeyComparator, MAX_SEQNO, SeqNo};
use crate::reader::{CacheUse, SstReader};

type Cursor = BlockIter<InternalKeyComparator>;

/// A cursor over a table's entries in internal-key order, optionally
/// limited to user keys in `[lower, upper)`; see [`InternalIterator`].
///
/// It holds an `Arc` of its reader, so it lives as long as it is needed.
/// Data blocks are taken from the reader's block cache or read,
/// checksummed and validated as the cursor enters them; a block that fails
/// makes the cursor invalid with the error in
/// [`status`](InternalIterator::status), and every later move leaves it so.
/// Blocks read on a miss are inserted in the cache unless
/// [`fill_cache(false)`](Self::fill_cache) says otherwise.
pub struct TableIter {
    reader: Arc<SstReader>,
    /// The data block the cursor is in; `index().len()` when none.
    block: usize,
    /// The cursor of the loaded data block and the block's offset.
    data: Option<(Cursor, u64)>,
    /// Seek key of the lower bound: the first version of `lower`.
    lower: Option<Vec<u8>>,
    /// Seek key of the upper bound (exclusive): the first version of `upper`.
    upper: Option<Vec<u8>>,
    cache: CacheUse,
    status: Result<(), Error>,
    /// The reader's global sequence number, and the current key with its
    /// trailer carrying it (the block holds the file's own).
    global: Option<SeqNo>,
    global_key: Vec<u8>,
}

impl TableIter {
    pub(crate) fn new(
        reader: Arc<SstReader>,
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
    ) -> TableIter {
        let seek_key = |user_key: Vec<u8>| {
            let mut k = Vec::with_capacity(user_key.len() + key::TRAILER_LEN);
            key::encode_seek(&user_key, MAX_SEQNO, &mut k);
            k
        };
        TableIter {
            block: reader.index().len(),
            global: reader.global_seqno(),
            global_key: Vec::new(),
            reader,
            data: None,
            lower: lower.map(seek_key),
            upper: upper.map(seek_key),
            cache: CacheUse::Fill,
            status: Ok(()),
        }
    }

    /// Whether blocks this iterator reads from the file go into the
    /// reader's block cache (default true). A scan that reads a table once
    /// — a compaction, a backup, a full export — should say `false`: it
    /// still uses blocks already cached, but does not push out blocks that
    /// point lookups keep coming back to.
    pub fn fill_cache(mut self, fill: bool) -> TableIter {
        self.cache = if fill { CacheUse::Fill } else { CacheUse::Peek };
        self
    }

    /// The reader this iterator reads.
    pub fn reader(&self) -> &Arc<SstReader> {
        &self.reader
    }

    fn data_valid(&self) -> bool {
        self.data.as_ref().is_some_and(|(c, _)| c.valid())
    }

    /// Loads the data block at `self.block`, unless it is loaded. False
    /// (and no block) when there is no such block or the read failed.
    fn load_block(&mut self) -> bool {
        let index = self.reader.index();
        if self.status.is_err() || self.block >= index.len() {
            self.data = None;
            return false;
        }
        let handle = index.handle(self.block);
        // Stepping within one block must not re-read it.
        if let Some((_, loaded)) = &self.data
            && *loaded == handle.offset
        {
            return true;
        }
        match self.reader.read_data_block(handle, self.cache) {
            Ok(block) => {
                self.data = Some((block.iter(), handle.offset));
                true
            }
            Err(e) => {
                self.status = Err(e);
                self.data = None;
                false
            }
        }
    }

    /// Moves forward over exhausted (or empty) blocks until an entry.
    fn skip_forward(&mut self) {
        while self.data.is_some() && !self.data_valid() {
            self.block += 1;
            if !self.load_block() {
                return;
            }
            if let Some((c, _)) = &mut self.data {
                c.seek_to_first();
            }
        }
    }

    /// Moves backward over exhausted (or empty) blocks until an entry.
    fn skip_backward(&mut self) {
        while self.data.is_some() && !self.data_valid() {
            // Before the first block there is none: `len()` says so.
            self.block = self
                .block
                .checked_sub(1)
                .unwrap_or(self.reader.index().len());
            if !self.load_block() {
                return;
            }
            if let Some((c, _)) = &mut self.data {
                c.seek_to_last();
            }
        }
    }

    fn raw_seek(&mut self, target: &[u8]) {
        self.block = self.reader.index().seek(target);
        if self.load_block()
            && let Some((c, _)) = &mut self.data
        {
            c.seek(target);
        }
        self.skip_forward();
    }

    fn raw_seek_to_last(&mut self) {
        let len = self.reader.index().len();
        self.block = len.checked_sub(1).unwrap_or(len);
        if self.load_block()
            && let Some((c, _)) = &mut self.data
        {
            c.seek_to_last();
        }
        self.skip_backward();
    }

    /// Rewrites the current key at the global sequence number, if the
    /// reader has one. Called after every move.
    fn stamp(&mut self) {
        let Some(seqno) = self.global else { return };
        self.global_key.clear();
        if let Some((c, _)) = &self.data
            && c.valid()
        {
            let raw = c.key();
            let at = raw.len().saturating_sub(key::TRAILER_LEN);
            // A key too short for a trailer fails block validation; the
            // kind byte is the trailer's lowest.
            let kind = raw.get(at).copied().unwrap_or(0);
            self.global_key.extend_from_slice(&raw[..at]);
            self.global_key
                .extend_from_slice(&key::pack_trailer(seqno, kind).to_le_bytes());
        }
    }

    /// Drops the position if it is at or past the upper bound.
    fn check_upper(&mut self) {
        if let (Some(upper), Some((c, _))) = (&self.upper, &self.data)
            && c.valid()
            && key::compare(c.key(), upper) != Ordering::Less
        {
            self.data = None;
        }
    }

    /// Drops the position if it is before the lower bound.
    fn check_lower(&mut self) {
        if let (Some(lower), Some((c, _))) = (&self.lower, &self.data)
            && c.valid()
            && key::compare(c.key(), lower) == Ordering::Less
        {
            self.data = None;
        }
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.status.is_ok() && self.data_valid()
    }

    fn seek_to_first(&mut self) {
        match self.lower.take() {
            Some(lower) => {
                self.raw_seek(&lower);
                self.lower = Some(lower);
            }
            None => {
                self.block = 0;
                if self.load_block()
                    && let Some((c, _)) = &mut self.data
                {
                    c.seek_to_first();
                }
                self.skip_forward();
            }
        }
        self.check_upper();
        self.stamp();
    }

    fn seek_to_last(&mut self) {
        match self.upper.take() {
            Some(upper) => {
                // The last entry before the first version of `upper`.
                self.raw_seek(&upper);
                if self.valid() {
                    self.prev_unchecked();
                } else if self.status.is_ok() {
                    self.raw_seek_to_last();
                }
                self.upper = Some(upper);
            }
            None => self.raw_seek_to_last(),
        }
        self.check_lower();
        self.stamp();
    }

    fn seek(&mut self, target: &[u8]) {
        if let Some(seqno) = self.global {
            return self.seek_global(target, seqno);
        }
        match self.lower.take() {
            Some(lower) if key::compare(target, &lower) == Ordering::Less => {
                self.raw_seek(&lower);
                self.lower = Some(lower);
            }
            lower => {
                self.lower = lower;
                self.raw_seek(target);
            }
        }
        self.check_upper();
    }

    fn next(&mut self) {
        if let Some((c, _)) = &mut self.data {
            c.next();
        }
        self.skip_forward();
        self.check_upper();
        self.stamp();
    }

    fn prev(&mut self) {
        self.prev_unchecked();
        self.check_lower();
        self.stamp();
    }

    fn key(&self) -> &[u8] {
        if self.global.is_some() {
            return &self.global_key;
        }
        self.data.as_ref().map_or(&[], |(c, _)| c.key())
    }

    fn value(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |(c, _)| c.value())
    }

    fn status(&self) -> Result<(), Error> {
        self.status.clone()
    }
}

impl TableIter {
    /// Seeks at a global sequence number: the file's own numbers say
    /// nothing, so position on the target's user key (its one version),
    /// and step past it if, at `seqno`, it orders before the target.
    fn seek_global(&mut self, target: &[u8], seqno: SeqNo) {
        let user_key = key::user_key(target);
        let mut first_version = Vec::with_capacity(user_key.len() + key::TRAILER_LEN);
        key::encode_seek(user_key, MAX_SEQNO, &mut first_version);
        self.global = None;
        self.seek(&first_version);
        self.global = Some(seqno);
        self.stamp();
        if self.valid() && key::compare(&self.global_key, target) == Ordering::Less {
            self.next();
        }
    }

    fn prev_unchecked(&mut self) {
        if let Some((c, _)) = &mut self.data {
            c.prev();
        }
        self.skip_backward();
    }
}

impl fmt::Debug for TableIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableIter")
            .field("table", &self.reader.path())
            .field("valid", &self.valid())
            .field("key", &key::ParsedKey::parse(self.key()))
            .finish()
    }
}
