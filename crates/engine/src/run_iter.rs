//! [`RunIter`]: one cursor over a sorted run, opening one table at a time.
//!
//! The tables of a run partition the user-key space, so the run reads as
//! their concatenation (LevelDB's two-level "level iterator"). A merge
//! over runs then pays for one cursor per run rather than one per table:
//! a seek positions one table of each run, not every table of it.

use std::sync::Arc;

use lsmkit_sstable::{InternalIterator, TableIter, key};

use crate::version::{Run, Table, answers_for};

/// A cursor over the entries of a run's tables that overlap `[lower,
/// upper)`, limited to those bounds, in internal-key order.
pub(crate) struct RunIter {
    /// The overlapping tables, by key.
    tables: Vec<Arc<Table>>,
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
    /// The open table's index in `tables` and its cursor.
    current: Option<(usize, TableIter)>,
}

impl RunIter {
    pub fn new(run: &Run, lower: Option<&[u8]>, upper: Option<&[u8]>) -> RunIter {
        RunIter {
            tables: run
                .tables
                .iter()
                .filter(|t| t.overlaps(lower, upper))
                .cloned()
                .collect(),
            lower: lower.map(<[u8]>::to_vec),
            upper: upper.map(<[u8]>::to_vec),
            current: None,
        }
    }

    /// Whether the run has no table in the bounds.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    fn open(&mut self, i: usize) -> &mut TableIter {
        let it = self.tables[i]
            .reader
            .range(self.lower.as_deref(), self.upper.as_deref());
        &mut self.current.insert((i, it)).1
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
            self.open(next).seek_to_first();
        }
    }

    /// From an exhausted table, back to the last entry of the ones before.
    fn skip_backward(&mut self) {
        while let Some((i, it)) = &self.current {
            if it.valid() || self.failed() || *i == 0 {
                return;
            }
            let before = i - 1;
            self.open(before).seek_to_last();
        }
    }

    fn cursor(&self) -> Option<&TableIter> {
        self.current.as_ref().map(|(_, it)| it)
    }
}

impl InternalIterator for RunIter {
    fn valid(&self) -> bool {
        self.cursor().is_some_and(TableIter::valid)
    }

    fn seek_to_first(&mut self) {
        if self.tables.is_empty() {
            return;
        }
        self.open(0).seek_to_first();
        self.skip_forward();
    }

    fn seek_to_last(&mut self) {
        let Some(last) = self.tables.len().checked_sub(1) else {
            return;
        };
        self.open(last).seek_to_last();
        self.skip_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        if self.tables.is_empty() {
            return;
        }
        // The table answering for the target's user key: the last one
        // starting at or before it (or the first, if the target is before
        // them all).
        let user_key = key::user_key(target);
        let i = self
            .tables
            .partition_point(|t| answers_for(&t.record.lower, user_key))
            .saturating_sub(1);
        let it = match &mut self.current {
            Some((open, it)) if *open == i => it,
            _ => self.open(i),
        };
        it.seek(target);
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

    fn status(&self) -> Result<(), lsmkit_sstable::Error> {
        self.cursor().map_or(Ok(()), |it| it.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::TableRecord;
    use lsmkit_sstable::{SstOptions, SstReader, SstWriter};
    use lsmkit_vfs::{Fs, MemFs};

    /// A run of tables answering for `[bounds[i], bounds[i + 1])`, each
    /// holding the keys `k00`..`k29` of its range.
    fn run(bounds: &[&str]) -> Run {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        let tables = bounds
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
                let size = writer.finish().unwrap().file_size;
                Arc::new(Table {
                    record: TableRecord {
                        run: 0,
                        number: number as u64,
                        size,
                        min_seqno: 1,
                        max_seqno: 1,
                        level: 0,
                        lower: w[0].as_bytes().to_vec(),
                        upper: (!w[1].is_empty()).then(|| w[1].as_bytes().to_vec()),
                        global_seqno: None,
                        keyspace: 0,
                    },
                    reader: SstReader::open(&*fs, &path).unwrap(),
                })
            })
            .collect();
        Run::new(tables)
    }

    fn user_key(it: &RunIter) -> String {
        String::from_utf8(key::user_key(it.key()).to_vec()).unwrap()
    }

    fn forward(it: &mut RunIter) -> Vec<String> {
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
    fn reads_the_tables_as_one_sequence_both_ways() {
        // The middle table holds nothing: both directions step over it.
        let run = run(&["", "k10", "k10~", "k20", ""]);
        let mut it = RunIter::new(&run, None, None);
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
        let run = run(&["", "k10", "k20", ""]);
        let mut it = RunIter::new(&run, None, None);
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
    fn bounds_leave_out_tables_and_keys() {
        let run = run(&["", "k10", "k20", ""]);
        let mut it = RunIter::new(&run, Some(b"k12"), Some(b"k18"));
        assert_eq!(it.tables.len(), 1);
        it.seek_to_first();
        let keys: Vec<String> = (12..18).map(|i| format!("k{i:02}")).collect();
        assert_eq!(forward(&mut it), keys);
        let empty = RunIter::new(&run, Some(b"k30"), None);
        assert!(!empty.is_empty(), "the last table is open-ended");
        let mut it = empty;
        it.seek_to_first();
        assert!(!it.valid());
    }
}
