//! The flush: a frozen memtable becomes a table, a run of its own.
//!
//! 1. Every version and range tombstone of the memtable is written to a new
//!    table (published atomically by the table writer), which is then
//!    checked: reopened (footer, index, tiling), verified block by block,
//!    and its entries counted against what was written.
//! 2. A version edit adds the table as the newest run and records the
//!    memtable's last sequence number as flushed; once it is synced, the
//!    new version is published and the memtable dropped from it.
//! 3. WAL segments that hold only flushed batches are deleted.
//!
//! A crash before 2 leaves an orphan table, deleted at the next open; after
//! 2, recovery skips the flushed batches of the WAL.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use lsmkit_sstable::{InternalIterator, SstReader, SstWriter};

use crate::background::{Retry, lock};
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format::{TableRecord, VersionEdit};
use crate::stats::Counters;
use crate::version::{Frozen, Run, Table, Version};

/// Flushes `frozen`, the oldest frozen memtable.
pub(crate) fn flush(inner: &Inner, frozen: &Arc<Frozen>) -> Result<(), Retry> {
    let table = if frozen.mem.is_empty() {
        None
    } else {
        Some(write_table(inner, frozen)?)
    };
    install(inner, frozen, table).map_err(Retry::No)?;
    Counters::add(&inner.counters.flushes, 1);
    remove_obsolete_segments(inner, frozen.last_seqno);
    Ok(())
}

/// Writes and checks the table of `frozen`.
fn write_table(inner: &Inner, frozen: &Frozen) -> Result<Table, Retry> {
    let number = inner.next_file.fetch_add(1, Ordering::SeqCst);
    let path = inner.table_path(number);
    let written = (|| -> Result<(u64, u64)> {
        let mut writer =
            SstWriter::create(Arc::clone(&inner.fs), &path, inner.sst_options.clone())?;
        let mut it = frozen.mem.raw_iter();
        it.seek_to_first();
        let mut entries = 0;
        while it.valid() {
            writer.add(it.key(), it.value())?;
            entries += 1;
            it.next();
        }
        it.status()?;
        for tombstone in frozen.mem.range_tombstones() {
            writer.add_range_tombstone(&tombstone)?;
        }
        Ok((writer.finish()?.file_size, entries))
    })();
    let (size, entries) = written.map_err(Retry::Yes)?;
    let reader = match check_output(inner, number, entries) {
        Ok(reader) => reader,
        Err(error) => {
            // Not recorded anywhere: safe to remove (or to leave for the
            // next open, which deletes unreferenced tables).
            if inner.fs.remove(&path).is_err() {
                Counters::add(&inner.counters.obsolete_file_errors, 1);
            }
            return Err(match error {
                Error::BadOutput { .. } => Retry::No(error),
                _ => Retry::Yes(error),
            });
        }
    };
    Counters::add(&inner.counters.flush_bytes, size);
    Ok(Table {
        record: TableRecord {
            run: number,
            number,
            size,
            min_seqno: frozen.first_seqno,
            max_seqno: frozen.last_seqno,
            level: 0,
            lower: Vec::new(),
            upper: None,
            global_seqno: None,
        },
        reader,
    })
}

/// Reopens table `number` and checks it before it is installed: its footer
/// and index (by opening it), every block's checksum, structure and key
/// order, and the entries counted in its data blocks against its
/// properties (`verify`, one pass over the table), and that the properties
/// count the `entries` written.
pub(crate) fn check_output(inner: &Inner, number: u64, entries: u64) -> Result<Arc<SstReader>> {
    let path = inner.table_path(number);
    let reader = SstReader::open_with(&*inner.fs, &path, inner.reader_options.clone())?;
    reader.verify()?;
    let recorded = reader.properties().num_entries;
    if recorded != entries {
        return Err(Error::BadOutput {
            file: path,
            what: format!("{entries} entries written, {recorded} recorded and read back"),
        });
    }
    Ok(reader)
}

/// Records the flush in the manifest, then publishes the version without
/// `frozen` and with its table as the newest run.
fn install(inner: &Inner, frozen: &Arc<Frozen>, table: Option<Table>) -> Result<()> {
    let mut manifest = lock(&inner.manifest);
    manifest.append(VersionEdit {
        last_seqno: Some(inner.visible_seqno()),
        flushed_seqno: Some(frozen.last_seqno),
        added: table.iter().map(|t| t.record.clone()).collect(),
        ..VersionEdit::default()
    })?;
    let mut current = lock(&inner.version);
    let mut runs = Vec::with_capacity(current.runs.len() + 1);
    if let Some(table) = table {
        runs.push(Arc::new(Run::new(vec![Arc::new(table)])));
    }
    runs.extend(current.runs.iter().cloned());
    *current = Arc::new(Version {
        mem: Arc::clone(&current.mem),
        frozen: current
            .frozen
            .iter()
            .filter(|f| !Arc::ptr_eq(f, frozen))
            .cloned()
            .collect(),
        runs,
    });
    Ok(())
}

/// Deletes the WAL segments whose batches are all at or below `flushed`,
/// except the one being written. A failure only counts: the segments are
/// read again, and skipped, by the next recovery, which deletes them.
fn remove_obsolete_segments(inner: &Inner, flushed: u64) {
    let keep = {
        let mut w = lock(&inner.write);
        let current = inner.wal.current_segment();
        let keep = inner
            .wal
            .segments()
            .into_iter()
            .find(|s| *s == current || w.segment_max.get(s).is_some_and(|&max| max > flushed))
            .unwrap_or(current);
        w.segment_max.retain(|&s, _| s >= keep);
        keep
    };
    if inner.wal.remove_segments_before(keep).is_err() {
        Counters::add(&inner.counters.obsolete_file_errors, 1);
    }
}
