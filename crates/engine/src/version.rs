//! The version: what a reader reads. The mutable memtable, the frozen
//! memtables waiting for their flush, and the sorted runs of tables, as
//! one immutable value shared behind an `Arc`.
//!
//! # The ordering invariant
//!
//! Sources are ordered newest first: the memtable, the frozen memtables
//! (newest first), then the runs (newest first). Every source's sequence
//! numbers are above every older source's:
//!
//! - the memtable is switched under the write lock, so a frozen memtable
//!   holds exactly the writes from its first to its last sequence number;
//! - frozen memtables are flushed oldest first, each into a new run placed
//!   before every older run;
//! - a compaction merges a contiguous stretch of runs into one run that
//!   covers the union of their sequence numbers, in their place.
//!
//! Under leveled compaction the runs are the L0 runs (level 0, ordered as
//! above), then one run per level (level 1 first), each of tables that do
//! not overlap. A level's tables cover no common range of sequence
//! numbers, but the invariant holds per key: a key's versions in a level
//! are newer than its versions in every level below, because a table only
//! ever moves down into the tables it overlaps, and L0 compacts all of its
//! runs at once.
//!
//! Hence a point lookup stops at the first source that answers `Found` or
//! `Deleted`, and a range tombstone visible in a source deletes the keys it
//! covers in every older source. Anything that adds data later (ingestion)
//! must give it sequence numbers above all existing ones.

use std::sync::Arc;

use lsmkit_compaction::MergeOperator;
use lsmkit_memtable::Memtable;
use lsmkit_sstable::{Lookup, RangeTombstone, SeqNo, SstReader};

use crate::error::Result;
use crate::format::TableRecord;

/// An open table and what the manifest says of it.
#[derive(Debug)]
pub(crate) struct Table {
    pub record: TableRecord,
    pub reader: Arc<SstReader>,
}

impl Table {
    /// Whether the keys the table answers for meet `[lower, upper)`.
    pub fn overlaps(&self, lower: Option<&[u8]>, upper: Option<&[u8]>) -> bool {
        let below_upper = upper.is_none_or(|u| starts_before(&self.record.lower, u));
        let above_lower = match (&self.record.upper, lower) {
            (Some(end), Some(l)) => end.as_slice() > l,
            _ => true,
        };
        below_upper && above_lower
    }
}

/// Whether a table answering from `lower` on holds a key below `key`:
/// `lower < key`.
fn starts_before(lower: &[u8], key: &[u8]) -> bool {
    if lower.is_empty() {
        !key.is_empty()
    } else {
        lower < key
    }
}

/// Whether a table answering from `lower` on answers for `key`:
/// `lower <= key`.
///
/// The first table of every run answers from the empty key on, so every
/// lookup meets an empty `lower`, and it is decided here, not by `memcmp`.
/// The slice comparison calls `memcmp` even for length 0, with the empty
/// `Vec`'s dangling pointer (address 1). glibc's AVX-512 `memcmp` then
/// makes a fully masked 32-byte load from page 0, and suppressing that
/// load's fault is a microcode assist: about 120 ns on this project's Xeon
/// machine, more than the rest of a lookup that the filter answers.
pub(crate) fn answers_for(lower: &[u8], key: &[u8]) -> bool {
    lower.is_empty() || lower <= key
}

/// The numbers of two tables of one run, `records`, whose key ranges
/// overlap (a lookup consults only one table of a run, so it would miss
/// the other's keys), if there are any. REQUIRES: `records` sorted by
/// `lower`.
pub(crate) fn overlapping(records: &[&TableRecord]) -> Option<(u64, u64)> {
    records.windows(2).find_map(|pair| {
        let [a, b] = pair else { return None };
        let apart = a.upper.as_ref().is_some_and(|upper| *upper <= b.lower);
        (!apart).then_some((a.number, b.number))
    })
}

/// A sorted run: tables that partition the user-key space (each answers
/// for `[lower, upper)`, see [`TableRecord`]), sorted by key, covering one
/// range of sequence numbers.
#[derive(Debug)]
pub(crate) struct Run {
    pub tables: Vec<Arc<Table>>,
    pub min_seqno: SeqNo,
    pub max_seqno: SeqNo,
    /// The run id its tables' records share.
    pub id: u64,
    /// 0 for an L0 or tiered run; the level of a leveled tree otherwise
    /// (see [`TableRecord::level`]).
    pub level: u32,
}

impl Run {
    /// A run of `tables`, which must share one run id and level (and,
    /// below level 1, one seqno range).
    pub fn new(mut tables: Vec<Arc<Table>>) -> Run {
        tables.sort_by(|a, b| a.record.lower.cmp(&b.record.lower));
        let min_seqno = tables.iter().map(|t| t.record.min_seqno).min().unwrap_or(0);
        let max_seqno = tables.iter().map(|t| t.record.max_seqno).max().unwrap_or(0);
        let (id, level) = tables
            .first()
            .map_or((0, 0), |t| (t.record.run, t.record.level));
        Run {
            tables,
            min_seqno,
            max_seqno,
            id,
            level,
        }
    }

    /// Bytes on disk.
    pub fn size(&self) -> u64 {
        self.tables.iter().map(|t| t.record.size).sum()
    }

    /// The newest version of `key` visible at `snapshot` in this run, past
    /// the merge operands it appends to `operands` (see
    /// [`SstReader::get_operands`]).
    pub fn get(&self, key: &[u8], snapshot: SeqNo, operands: &mut Vec<Vec<u8>>) -> Result<Lookup> {
        let after = self
            .tables
            .partition_point(|t| answers_for(&t.record.lower, key));
        match after.checked_sub(1).map(|i| &self.tables[i]) {
            Some(table) if table.overlaps(Some(key), None) => {
                Ok(table.reader.get_operands(key, snapshot, operands)?)
            }
            _ => Ok(Lookup::Absent),
        }
    }
}

/// A memtable that takes no more writes, waiting for its flush.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub mem: Arc<Memtable>,
    /// The sequence numbers of the writes it holds: all of
    /// `first_seqno..=last_seqno` (empty when `first_seqno > last_seqno`).
    pub first_seqno: SeqNo,
    pub last_seqno: SeqNo,
}

/// Everything a reader reads, immutable once published.
#[derive(Debug)]
pub(crate) struct Version {
    pub mem: Arc<Memtable>,
    /// Newest first.
    pub frozen: Vec<Arc<Frozen>>,
    /// Newest first.
    pub runs: Vec<Arc<Run>>,
}

impl Version {
    /// Bytes of its memtables, the mutable one and the frozen ones.
    pub fn memory(&self) -> usize {
        self.mem.approximate_memory()
            + self
                .frozen
                .iter()
                .map(|f| f.mem.approximate_memory())
                .sum::<usize>()
    }

    /// A version with nothing in it: one empty memtable.
    pub fn empty() -> Version {
        Version {
            mem: Arc::new(Memtable::new()),
            frozen: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// The newest value of `key` visible at `snapshot`, `None` when deleted
    /// or absent. See the module docs for why the first answer is final.
    /// Merge operands are collected newest first, source after source,
    /// down to that answer (their base), and folded by `operator`.
    pub fn get(
        &self,
        key: &[u8],
        snapshot: SeqNo,
        operator: Option<&dyn MergeOperator>,
    ) -> Result<Option<Vec<u8>>> {
        use lsmkit_memtable::Lookup as Mem;
        // Memtable operands are newer than every table's: in this order,
        // the two lists are newest first.
        let mut mem_operands = Vec::new();
        let mut table_operands = Vec::new();
        let base = 'base: {
            let memtables = std::iter::once(&self.mem).chain(self.frozen.iter().map(|f| &f.mem));
            for mem in memtables {
                match mem.get_operands(key, snapshot, &mut mem_operands) {
                    Mem::Found(value) => break 'base Some(value.to_vec()),
                    Mem::Deleted => break 'base None,
                    Mem::Absent | Mem::Merge => {}
                }
            }
            for run in &self.runs {
                match run.get(key, snapshot, &mut table_operands)? {
                    Lookup::Found(value) => break 'base Some(value),
                    Lookup::Deleted => break 'base None,
                    Lookup::Absent | Lookup::Merge => {}
                }
            }
            None
        };
        if mem_operands.is_empty() && table_operands.is_empty() {
            return Ok(base);
        }
        let operands: Vec<&[u8]> = mem_operands
            .iter()
            .map(|v| &v[..])
            .chain(table_operands.iter().map(Vec::as_slice))
            .collect();
        crate::merge::resolve(operator, key, base.as_deref(), &operands).map(Some)
    }

    /// Every range tombstone visible at `snapshot` in any source that may
    /// cover keys of `[lower, upper)`.
    pub fn range_tombstones(
        &self,
        snapshot: SeqNo,
        lower: Option<&[u8]>,
        upper: Option<&[u8]>,
    ) -> Vec<RangeTombstone> {
        let mut out: Vec<RangeTombstone> = std::iter::once(&self.mem)
            .chain(self.frozen.iter().map(|f| &f.mem))
            .flat_map(|m| m.range_tombstones())
            .collect();
        for run in &self.runs {
            for table in run.tables.iter().filter(|t| t.overlaps(lower, upper)) {
                out.extend_from_slice(table.reader.range_tombstones());
            }
        }
        out.retain(|t| {
            t.visible_at(snapshot)
                && !t.is_empty()
                && lower.is_none_or(|l| t.end.as_slice() > l)
                && upper.is_none_or(|u| t.start.as_slice() < u)
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_agree_with_slice_order() {
        let keys: [&[u8]; 5] = [b"", b"\0", b"a", b"ab", b"b"];
        for lower in keys {
            for key in keys {
                assert_eq!(answers_for(lower, key), lower <= key, "{lower:?} {key:?}");
                assert_eq!(starts_before(lower, key), lower < key, "{lower:?} {key:?}");
            }
        }
    }

    fn record(number: u64, lower: &str, upper: Option<&str>) -> TableRecord {
        TableRecord {
            run: 1,
            number,
            size: 0,
            min_seqno: 1,
            max_seqno: 1,
            level: 0,
            lower: lower.into(),
            upper: upper.map(Into::into),
            global_seqno: None,
            keyspace: 0,
        }
    }

    #[test]
    fn overlapping_tables_of_a_run_are_found() {
        let (a, b, c) = (
            record(1, "", Some("f")),
            record(2, "f", Some("p")),
            record(3, "p", None),
        );
        assert_eq!(overlapping(&[&a, &b, &c]), None);
        assert_eq!(overlapping(&[&a]), None);
        let wide = record(4, "f", Some("q"));
        assert_eq!(overlapping(&[&a, &wide, &c]), Some((4, 3)));
        let open = record(5, "", None);
        assert_eq!(overlapping(&[&open, &b]), Some((5, 2)));
    }
}
