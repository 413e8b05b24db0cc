//! [`ConcatIter`]: one cursor over a sequence of tables whose key ranges
//! follow each other, opening one table at a time.
//!
//! The tables of a sorted run partition the user-key space, so the run
//! reads as their concatenation (LevelDB's two-level "level iterator"). A
//! merge over runs then pays for one cursor per run rather than one per
//! table: a seek positions one table of each run, not every table of it,
//! and a compaction keeps one table of each input run open for reading. A
//! table may even be opened only when the cursor reaches it (see
//! [`ConcatTable::reader`]), so that a compaction of tables known by their
//! paths holds one reader per sequence, not one per table.

use std::sync::Arc;

use crate::error::Error;
use crate::iterator::InternalIterator;
use crate::key;
use crate::reader::SstReader;
use crate::table_iter::TableIter;

/// One table of a [`ConcatIter`]: its reader and the first user key it
/// answers for (empty: from the smallest key on).
pub trait ConcatTable {
    /// The table's reader, asked for each time the cursor moves onto the
    /// table. A table held open hands out its reader; one known by its path
    /// may open it here, and the cursor then drops it when it moves on. An
    /// error stops the cursor (it turns invalid with the error in its
    /// status) until the next seek.
    fn reader(&self) -> Result<Arc<SstReader>, Error>;
    /// The first user key the table answers for: every key of the table
    /// is at or above it, and every key of the table before it below it.
    fn lower(&self) -> &[u8];
}

impl<T: ConcatTable + ?Sized> ConcatTable for Arc<T> {
    fn reader(&self) -> Result<Arc<SstReader>, Error> {
        (**self).reader()
    }

    fn lower(&self) -> &[u8] {
        (**self).lower()
    }
}

/// Whether a table answering from `lower` on may hold `key`. The empty
/// check comes first on purpose: comparing with an empty slice costs a
/// microcode assist on some machines (see lsmkit-engine's `version`), and
/// the first table of a run usually answers from the empty key.
fn answers_for(lower: &[u8], key: &[u8]) -> bool {
    lower.is_empty() || lower <= key
}

/// A cursor over the entries of tables given in key order, as if they
/// were one table, limited to user keys in `[lower, upper)`. It opens one
/// table at a time: a merge over sorted runs holds one table cursor per
/// run (LevelDB's "level iterator"), and a seek positions one table of
/// each.
///
/// The tables must follow each other: every user key of a table is below
/// the [`lower`](ConcatTable::lower) of the next. An error of the open
/// table stops the cursor there (it turns invalid with the error in
/// [`status`](InternalIterator::status)); it is never skipped over.
pub struct ConcatIter<T> {
    tables: Vec<T>,
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
    fill_cache: bool,
    /// The open table's index in `tables` and its cursor.
    current: Option<(usize, TableIter)>,
    /// Why the table the cursor moved onto could not be opened.
    failed_open: Option<Error>,
}

impl<T: ConcatTable> ConcatIter<T> {
    /// A cursor over `tables`, which follow each other in key order,
    /// limited to user keys in `[lower, upper)`; not yet positioned.
    pub fn new(tables: Vec<T>, lower: Option<&[u8]>, upper: Option<&[u8]>) -> ConcatIter<T> {
        ConcatIter {
            tables,
            lower: lower.map(<[u8]>::to_vec),
            upper: upper.map(<[u8]>::to_vec),
            fill_cache: true,
            current: None,
            failed_open: None,
        }
    }

    /// Whether the tables it opens put the blocks they read in the block
    /// cache (default true); see [`TableIter::fill_cache`].
    pub fn fill_cache(mut self, fill: bool) -> ConcatIter<T> {
        self.fill_cache = fill;
        self
    }

    /// Whether it has no table.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The tables, in key order.
    pub fn tables(&self) -> &[T] {
        &self.tables
    }

    /// Moves onto table `i`, dropping the cursor of the one before:
    /// its cursor, or `None` (and the error kept) if it cannot be opened.
    fn open(&mut self, i: usize) -> Option<&mut TableIter> {
        self.current = None;
        match self.tables[i].reader() {
            Ok(reader) => {
                let it = reader
                    .range(self.lower.as_deref(), self.upper.as_deref())
                    .fill_cache(self.fill_cache);
                Some(&mut self.current.insert((i, it)).1)
            }
            Err(error) => {
                self.failed_open = Some(error);
                None
            }
        }
    }

    /// Whether the open table's cursor stopped on an error (which must
    /// stay visible through `status`, not be skipped over).
    fn failed(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|(_, it)| it.status().is_err())
    }

    /// From an exhausted table, on to the first entry of the next ones.
    fn skip_forward(&mut self) {
        while let Some((i, it)) = &self.current {
            if it.valid() || self.failed() || i + 1 >= self.tables.len() {
                return;
            }
            let next = i + 1;
            if let Some(it) = self.open(next) {
                it.seek_to_first();
            }
        }
    }

    /// From an exhausted table, back to the last entry of the ones before.
    fn skip_backward(&mut self) {
        while let Some((i, it)) = &self.current {
            if it.valid() || self.failed() || *i == 0 {
                return;
            }
            let before = i - 1;
            if let Some(it) = self.open(before) {
                it.seek_to_last();
            }
        }
    }

    fn cursor(&self) -> Option<&TableIter> {
        self.current.as_ref().map(|(_, it)| it)
    }
}

impl<T: ConcatTable + Send> InternalIterator for ConcatIter<T> {
    fn valid(&self) -> bool {
        self.cursor().is_some_and(TableIter::valid)
    }

    fn seek_to_first(&mut self) {
        self.failed_open = None;
        if self.tables.is_empty() {
            return;
        }
        if let Some(it) = self.open(0) {
            it.seek_to_first();
        }
        self.skip_forward();
    }

    fn seek_to_last(&mut self) {
        self.failed_open = None;
        let Some(last) = self.tables.len().checked_sub(1) else {
            return;
        };
        if let Some(it) = self.open(last) {
            it.seek_to_last();
        }
        self.skip_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        self.failed_open = None;
        if self.tables.is_empty() {
            return;
        }
        // The table answering for the target's user key: the last one
        // starting at or before it (or the first, if the target is before
        // them all).
        let user_key = key::user_key(target);
        let i = self
            .tables
            .partition_point(|t| answers_for(t.lower(), user_key))
            .saturating_sub(1);
        let it = match &mut self.current {
            Some((open, it)) if *open == i => Some(it),
            _ => self.open(i),
        };
        if let Some(it) = it {
            it.seek(target);
        }
        self.skip_forward();
    }

    fn next(&mut self) {
        if let Some((_, it)) = &mut self.current {
            it.next();
            self.skip_forward();
        }
    }

    fn prev(&mut self) {
        if let Some((_, it)) = &mut self.current {
            it.prev();
            self.skip_backward();
        }
    }

    fn key(&self) -> &[u8] {
        self.cursor().map_or(&[], |it| it.key())
    }

    fn value(&self) -> &[u8] {
        self.cursor().map_or(&[], |it| it.value())
    }

    fn status(&self) -> Result<(), Error> {
        if let Some(error) = &self.failed_open {
            return Err(error.clone());
        }
        self.cursor().map_or(Ok(()), |it| it.status())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::writer::{SstOptions, SstWriter};
    use lsmkit_vfs::{Fs, MemFs};

    struct Table {
        reader: Arc<SstReader>,
        lower: Vec<u8>,
        /// Whether opening it fails, as a table whose file went missing.
        gone: bool,
    }

    impl ConcatTable for Table {
        fn reader(&self) -> Result<Arc<SstReader>, Error> {
            if self.gone {
                return Err(Error::Io {
                    file: self.reader.path().to_path_buf(),
                    source: Arc::new(std::io::Error::other("gone")),
                });
            }
            Ok(Arc::clone(&self.reader))
        }

        fn lower(&self) -> &[u8] {
            &self.lower
        }
    }

    /// Tables answering for `[bounds[i], bounds[i + 1])`, each holding the
    /// keys `k00`..`k29` of its range.
    fn tables(bounds: &[&str]) -> Vec<Table> {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        bounds
            .windows(2)
            .enumerate()
            .map(|(number, w)| {
                let path = format!("/{number}.sst");
                let mut writer =
                    SstWriter::create(Arc::clone(&fs), &path, SstOptions::default()).unwrap();
                for i in 0..30 {
                    let k = format!("k{i:02}");
                    if w[0] <= k.as_str() && (w[1].is_empty() || k.as_str() < w[1]) {
                        writer.put(k.as_bytes(), 1, b"v").unwrap();
                    }
                }
                writer.finish().unwrap();
                Table {
                    reader: SstReader::open(&*fs, &path).unwrap(),
                    lower: w[0].as_bytes().to_vec(),
                    gone: false,
                }
            })
            .collect()
    }

    fn user_key(it: &ConcatIter<Table>) -> String {
        String::from_utf8(key::user_key(it.key()).to_vec()).unwrap()
    }

    fn forward(it: &mut ConcatIter<Table>) -> Vec<String> {
        let mut keys = Vec::new();
        while it.valid() {
            keys.push(user_key(it));
            it.next();
        }
        keys
    }

    fn seek_key(user_key: &str) -> Vec<u8> {
        let mut k = Vec::new();
        key::encode_seek(user_key.as_bytes(), key::MAX_SEQNO, &mut k);
        k
    }

    #[test]
    fn a_table_that_cannot_be_opened_stops_the_cursor_with_its_error() {
        let mut tables = tables(&["", "k10", "k20", ""]);
        tables[1].gone = true;
        let mut it = ConcatIter::new(tables, None, None);
        it.seek_to_first();
        let first: Vec<String> = (0..10).map(|i| format!("k{i:02}")).collect();
        // The first table's keys, then a stop, not a skip to the third.
        assert_eq!(forward(&mut it), first);
        let error = it.status().unwrap_err();
        assert!(error.to_string().contains("/1.sst"), "{error}");
        // A seek past it starts over, and reads the third table.
        it.seek(&seek_key("k25"));
        assert!(it.status().is_ok());
        assert_eq!(forward(&mut it).len(), 5);
        // A seek into it fails again.
        it.seek(&seek_key("k15"));
        assert!(!it.valid());
        assert!(it.status().is_err());
    }

    #[test]
    fn reads_the_tables_as_one_sequence_both_ways() {
        // The middle table holds nothing: both directions step over it.
        let mut it = ConcatIter::new(tables(&["", "k10", "k10~", "k20", ""]), None, None);
        it.seek_to_first();
        let all: Vec<String> = (0..30).map(|i| format!("k{i:02}")).collect();
        assert_eq!(forward(&mut it), all);
        it.seek_to_last();
        let mut back = Vec::new();
        while it.valid() {
            back.push(user_key(&it));
            it.prev();
        }
        back.reverse();
        assert_eq!(back, all);
        assert!(it.status().is_ok());
    }

    #[test]
    fn seeks_land_in_the_right_table_and_cross_boundaries() {
        let mut it = ConcatIter::new(tables(&["", "k10", "k20", ""]), None, None);
        for (target, expect) in [("a", "k00"), ("k09x", "k10"), ("k15", "k15"), ("k2", "k20")] {
            it.seek(&seek_key(target));
            assert_eq!(user_key(&it), expect, "seek {target}");
        }
        it.seek(&seek_key("k29x"));
        assert!(!it.valid());
        // From a seek in the last table back across into the first.
        it.seek(&seek_key("k20"));
        it.prev();
        assert_eq!(user_key(&it), "k19");
        it.seek(&seek_key("k10"));
        it.prev();
        assert_eq!(user_key(&it), "k09");
    }

    #[test]
    fn bounds_limit_the_keys_of_every_table() {
        let mut it = ConcatIter::new(tables(&["", "k10", "k20", ""]), Some(b"k08"), Some(b"k22"))
            .fill_cache(false);
        it.seek_to_first();
        let keys: Vec<String> = (8..22).map(|i| format!("k{i:02}")).collect();
        assert_eq!(forward(&mut it), keys);
        let mut it = ConcatIter::new(Vec::<Table>::new(), None, None);
        assert!(it.is_empty());
        it.seek_to_first();
        assert!(!it.valid());
        it.seek(&seek_key("k00"));
        assert!(!it.valid() && it.status().is_ok());
    }
}
