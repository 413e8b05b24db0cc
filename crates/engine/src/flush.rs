//! The flush: a frozen memtable becomes a table, a run of its own.
//!
//! 1. The memtable's versions and range tombstones go through the
//!    compaction stream of `lsmkit-compaction` (above the bottom, with the
//!    live snapshots): versions no reader can see are dropped and merge
//!    operands folded by the merge operator, as a compaction would. What
//!    it keeps is written to a new table (published atomically by the
//!    table writer), which is then checked: reopened (footer, index,
//!    tiling), verified block by block, and its entries counted against
//!    what was written.
//! 2. A version edit adds the table as the newest run and records the
//!    memtable's last sequence number as flushed; once it is synced, the
//!    new version is published and the memtable dropped from it.
//! 3. WAL segments that hold only flushed batches are deleted.
//!
//! A crash before 2 leaves an orphan table, deleted at the next open; after
//! 2, recovery skips the flushed batches of the WAL.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use lsmkit_compaction::CompactionStream;
use lsmkit_sstable::{SeqNo, SstReader, SstWriter};

use crate::background::{Retry, lock};
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format::{TableRecord, VersionEdit};
use crate::keyspace::Tree;
use crate::stats::Counters;
use crate::version::{Frozen, Run, Table, Version};

/// Flushes `frozen`, the oldest frozen memtable of `tree`.
pub(crate) fn flush(inner: &Inner, tree: &Tree, frozen: &Arc<Frozen>) -> Result<(), Retry> {
    let table = if frozen.mem.is_empty() {
        None
    } else {
        Some(write_table(inner, tree, frozen)?)
    };
    let low_water = install(inner, tree, frozen, table).map_err(Retry::No)?;
    Counters::add(&inner.counters.flushes, 1);
    remove_obsolete_segments(inner, low_water);
    Ok(())
}

/// The WAL's low-water mark once `frozen` of `tree` is flushed: every
/// write at or below it is in a table, in every keyspace. It is just below
/// the oldest write still only in a memtable (a frozen one other than
/// `frozen`, or a mutable one), or the newest write if there is none.
fn low_water(inner: &Inner, tree: &Tree, frozen: &Arc<Frozen>) -> SeqNo {
    // Under the write lock: no write is half applied, and the mutable
    // memtables' first sequence numbers stay put.
    let w = lock(&inner.write);
    let mut oldest: Option<SeqNo> = None;
    inner.trees.each(|t| {
        let version = lock(&t.version);
        let unflushed = version
            .frozen
            .iter()
            .filter(|f| !(t.id == tree.id && Arc::ptr_eq(f, frozen)))
            .filter(|f| f.first_seqno <= f.last_seqno)
            .map(|f| f.first_seqno)
            .chain(w.mem_first.get(&t.id).copied());
        oldest = oldest.into_iter().chain(unflushed).min();
    });
    oldest.map_or(w.last_seqno, |first| first - 1)
}

/// Writes and checks the table of `frozen`.
fn write_table(inner: &Inner, tree: &Tree, frozen: &Frozen) -> Result<Table, Retry> {
    let number = inner.next_file.fetch_add(1, Ordering::SeqCst);
    let path = inner.table_path(number);
    let written = (|| -> Result<(u64, u64)> {
        let mut writer = SstWriter::create(Arc::clone(&inner.fs), &path, tree.sst_options.clone())?;
        // A snapshot taken from here on reads at or above every version
        // of the frozen memtable, where the stream changes nothing.
        let mut stream = CompactionStream::new(
            frozen.mem.raw_iter(),
            &frozen.mem.range_tombstones(),
            &inner.snapshots.seqnos(),
            false,
        )
        .with_merge_operator(tree.merge_operator());
        let mut entries = 0;
        while let Some((key, value)) = stream.next() {
            writer.add(key, value)?;
            entries += 1;
        }
        let (tombstones, _) = stream.finish()?;
        for tombstone in &tombstones {
            writer.add_range_tombstone(tombstone)?;
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
            keyspace: tree.id,
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
/// `frozen` and with its table as the newest run. Returns the WAL's
/// low-water mark it recorded.
fn install(
    inner: &Inner,
    tree: &Tree,
    frozen: &Arc<Frozen>,
    table: Option<Table>,
) -> Result<SeqNo> {
    let low_water = low_water(inner, tree, frozen);
    let mut manifest = lock(&inner.manifest);
    if tree.is_dropped() {
        // Dropped while the table was written: nothing records it.
        if let Some(table) = &table {
            let _ = inner.fs.remove(&inner.table_path(table.record.number));
        }
        return Ok(manifest.state().flushed_seqno);
    }
    manifest.append(VersionEdit {
        last_seqno: Some(inner.visible_seqno()),
        flushed_seqno: Some(low_water),
        keyspace_flushed: vec![(tree.id, frozen.last_seqno)],
        added: table.iter().map(|t| t.record.clone()).collect(),
        ..VersionEdit::default()
    })?;
    let mut current = lock(&tree.version);
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
    Ok(low_water)
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
