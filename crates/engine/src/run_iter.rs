//! [`RunIter`]: one cursor over a sorted run, opening one table at a time.
//!
//! The tables of a run partition the user-key space, so the run reads as
//! their concatenation (LevelDB's two-level "level iterator"). A merge
//! over runs then pays for one cursor per run rather than one per table:
//! a seek positions one table of each run, not every table of it.

use std::sync::Arc;

use lsmkit_sstable::{InternalIterator, TableIter, key};

use crate::version::{Run, Table};

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
            .partition_point(|t| t.record.lower.as_slice() <= user_key)
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
