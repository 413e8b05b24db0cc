//! [`RunIter`]: one cursor over a sorted run, opening one table at a time
//! (lsmkit-sstable's [`ConcatIter`] over the run's tables that overlap the
//! bounds).

use std::sync::Arc;

use lsmkit_sstable::{ConcatIter, ConcatTable, SstReader};

use crate::version::{Run, Table};

impl ConcatTable for Table {
    fn reader(&self) -> Result<Arc<SstReader>, lsmkit_sstable::Error> {
        Ok(Arc::clone(&self.reader))
    }

    fn lower(&self) -> &[u8] {
        &self.record.lower
    }
}

/// A cursor over the entries of a run's tables that overlap `[lower,
/// upper)`, limited to those bounds, in internal-key order.
pub(crate) type RunIter = ConcatIter<Arc<Table>>;

/// The [`RunIter`] of `run` within `[lower, upper)`.
pub(crate) fn run_iter(run: &Run, lower: Option<&[u8]>, upper: Option<&[u8]>) -> RunIter {
    let tables = run
        .tables
        .iter()
        .filter(|t| t.overlaps(lower, upper))
        .cloned()
        .collect();
    ConcatIter::new(tables, lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::TableRecord;
    use lsmkit_sstable::{InternalIterator, SstOptions, SstWriter, key};
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

    #[test]
    fn bounds_leave_out_tables_and_keys() {
        let run = run(&["", "k10", "k20", ""]);
        let mut it = run_iter(&run, Some(b"k12"), Some(b"k18"));
        assert_eq!(it.tables().len(), 1);
        it.seek_to_first();
        let mut keys = Vec::new();
        while it.valid() {
            keys.push(String::from_utf8(key::user_key(it.key()).to_vec()).unwrap());
            it.next();
        }
        let expect: Vec<String> = (12..18).map(|i| format!("k{i:02}")).collect();
        assert_eq!(keys, expect);
        let empty = run_iter(&run, Some(b"k30"), None);
        assert!(!empty.is_empty(), "the last table is open-ended");
        let mut it = empty;
        it.seek_to_first();
        assert!(!it.valid());
    }
}
