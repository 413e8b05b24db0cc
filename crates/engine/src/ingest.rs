//! Ingestion: tables built outside the database (with
//! [`SstWriter`](lsmkit_sstable::SstWriter)) enter it as its newest run, in
//! the spirit of RocksDB's `IngestExternalFile`.
//!
//! 1. Each file is validated before anything changes: opened (footer,
//!    index, comparator), verified block by block, and read through to
//!    check that one sequence number can order its contents: at most one
//!    version per user key, and no value deleted by a newer range
//!    tombstone of the same file. The files must not overlap each other in
//!    user keys, counting their range tombstones' ranges. A file with no
//!    entries and no range tombstones adds nothing and is skipped.
//! 2. New writers are held back (they wait as for a write stop) and every
//!    memtable is flushed: a memtable is read before every run and its
//!    sequence numbers must lie below the ingested run's, so none may be
//!    left beside it. The write lock is then held to the end, and the
//!    ingestion takes one new sequence number, `s`.
//! 3. Each file is copied into the database directory as a new table with
//!    every entry and range tombstone rewritten at `s` (published
//!    atomically by the table writer), and checked as a flush's output is.
//! 4. One manifest edit adds all the tables, as one run covering `[s, s]`,
//!    and records `s` as the last and the flushed sequence number. Once it
//!    is synced, the run is published in front of every other and `s`
//!    becomes visible.
//!
//! Since the ingested run is newer than all data in the database, no
//! overlap with live data ever needs refusing: the ingested versions win.
//! A crash before 4 leaves tables no manifest names, which the next open
//! deletes; after 4, all the files are in. Either all or none.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use lsmkit_sstable::key::{self, SeqNo};
use lsmkit_sstable::{
    InternalIterator, ParsedKey, RangeTombstone, SstReader, SstWriter, ValueKind,
};
use lsmkit_vfs::Fs;

use crate::background::lock;
use crate::db::{Inner, WriteState};
use crate::error::{Error, Result};
use crate::flush::check_output;
use crate::format::{TableRecord, VersionEdit};
use crate::stats::Counters;
use crate::version::{Run, Table, Version};

/// A validated external table and the user keys it touches:
/// `[lower, upper)`, range tombstones included.
struct External {
    reader: Arc<SstReader>,
    lower: Vec<u8>,
    upper: Vec<u8>,
}

/// Ingests the tables at `paths`; see the module docs.
pub(crate) fn ingest(inner: &Inner, paths: &[&Path]) -> Result<()> {
    inner.bg.check()?;
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        if let Some(file) = open_external(&*inner.fs, path)? {
            files.push(file);
        }
    }
    check_disjoint(&mut files)?;
    if files.is_empty() {
        return Ok(());
    }

    // Like a writer, wait while flushes or compactions are far behind.
    inner.bg.throttle(inner)?;
    let gate = inner.bg.hold_writers();
    let mut w = quiesce(inner)?;
    let seqno = w.last_seqno + 1;
    let run = inner.next_file.fetch_add(1, Ordering::SeqCst);
    let mut tables = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        // The run's tables partition the key space: each answers from its
        // own first key (the first from the start) to the next one's.
        let record = TableRecord {
            run,
            number: inner.next_file.fetch_add(1, Ordering::SeqCst),
            size: 0,
            min_seqno: seqno,
            max_seqno: seqno,
            level: 0,
            lower: if i == 0 {
                Vec::new()
            } else {
                file.lower.clone()
            },
            upper: files.get(i + 1).map(|next| next.lower.clone()),
        };
        match copy(inner, file, record, seqno) {
            Ok(table) => tables.push(Arc::new(table)),
            Err(error) => {
                // Recorded nowhere: removed now, or by the next open.
                for table in &tables {
                    if inner.fs.remove(table.reader.path()).is_err() {
                        Counters::add(&inner.counters.obsolete_file_errors, 1);
                    }
                }
                return Err(error);
            }
        }
    }
    install(inner, &mut w, tables, seqno)?;
    drop(w);
    // Lets writers go, and wakes the compaction thread: the new run may
    // call for a compaction.
    drop(gate);
    Ok(())
}

/// Opens, verifies and reads through the external table at `path`; `None`
/// when it holds nothing.
fn open_external(fs: &dyn Fs, path: &Path) -> Result<Option<External>> {
    let invalid = |source| Error::IngestInvalid {
        file: path.to_path_buf(),
        source,
    };
    let reader = SstReader::open(fs, path).map_err(invalid)?;
    reader.verify().map_err(invalid)?;
    check_versions(&reader, path)?;
    let props = reader.properties();
    let tombstones = reader.range_tombstones();
    let lower = props
        .min_user_key
        .iter()
        .chain(tombstones.iter().map(|t| &t.start))
        .min()
        .cloned();
    // A point key `k` ends its extent at `k\0`, the least key above it.
    let upper = props
        .max_user_key
        .as_ref()
        .map(|k| [k.as_slice(), &[0]].concat())
        .into_iter()
        .chain(tombstones.iter().map(|t| t.end.clone()))
        .max();
    Ok(lower.zip(upper).map(|(lower, upper)| External {
        reader,
        lower,
        upper,
    }))
}

/// Refuses a table whose contents one sequence number cannot order: two
/// versions of one key, or a value a newer range tombstone of the table
/// deletes (rewritten at one sequence number, the tombstone would no
/// longer delete it). A point tombstone under a range tombstone is
/// deleted either way and is let through.
fn check_versions(reader: &Arc<SstReader>, path: &Path) -> Result<()> {
    let tombstones = reader.range_tombstones();
    // The previous entry's user key, `None` before the first.
    let mut last: Option<Vec<u8>> = None;
    let mut it = reader.iter().fill_cache(false);
    it.seek_to_first();
    while it.valid() {
        let parsed = parse(it.key(), path)?;
        let unorderable = |what| Error::IngestUnorderable {
            file: path.to_path_buf(),
            key: parsed.user_key.to_vec(),
            what,
        };
        if last.as_deref() == Some(parsed.user_key) {
            return Err(unorderable("two versions"));
        }
        // Tombstones are sorted by start: those that may contain the key
        // come before the first that starts after it.
        let candidates = tombstones.partition_point(|t| t.start.as_slice() <= parsed.user_key);
        if matches!(parsed.kind, ValueKind::Put | ValueKind::Merge)
            && tombstones[..candidates]
                .iter()
                .any(|t| t.covers(parsed.user_key, parsed.seqno))
        {
            return Err(unorderable(
                "a value and a newer range tombstone that deletes it",
            ));
        }
        let buffer = last.get_or_insert_with(Vec::new);
        buffer.clear();
        buffer.extend_from_slice(parsed.user_key);
        it.next();
    }
    it.status().map_err(|source| Error::IngestInvalid {
        file: path.to_path_buf(),
        source,
    })
}

/// The parts of an entry's internal key (which `verify` has checked, so
/// this fails only if the file changed since).
fn parse<'a>(internal_key: &'a [u8], path: &Path) -> Result<ParsedKey<'a>> {
    ParsedKey::parse(internal_key).ok_or_else(|| Error::IngestInvalid {
        file: path.to_path_buf(),
        source: lsmkit_sstable::Error::Corruption {
            file: path.to_path_buf(),
            offset: 0,
            what: "entry with a malformed internal key".into(),
        },
    })
}

/// Sorts `files` by their first key and refuses any two that overlap.
fn check_disjoint(files: &mut [External]) -> Result<()> {
    files.sort_by(|a, b| a.lower.cmp(&b.lower));
    for pair in files.windows(2) {
        let [first, second] = pair else { continue };
        if second.lower < first.upper {
            return Err(Error::IngestOverlap {
                first: first.reader.path().to_path_buf(),
                second: second.reader.path().to_path_buf(),
                key: second.lower.clone(),
            });
        }
    }
    Ok(())
}

/// Empties the memtables into tables and returns the write lock, to be
/// held until the ingestion is installed. REQUIRES: new writers are held
/// back (a [`WriterGate`](crate::background::WriterGate)).
///
/// The flush thread takes the write lock after each flush (to drop
/// obsolete WAL segments), so the flushes are waited for without it; a
/// writer that was past the gate may write meanwhile, hence the loop, which
/// ends once those few are through.
fn quiesce(inner: &Inner) -> Result<MutexGuard<'_, WriteState>> {
    loop {
        inner.switch_memtable(&mut lock(&inner.write));
        inner.bg.wait_flushed(inner)?;
        let w = lock(&inner.write);
        inner.bg.check()?;
        let version = inner.current();
        if version.mem.is_empty() && version.frozen.is_empty() {
            return Ok(w);
        }
    }
}

/// Copies `file` into the table `record` names, every entry and range
/// tombstone at `seqno`, and checks the copy.
fn copy(inner: &Inner, file: &External, mut record: TableRecord, seqno: SeqNo) -> Result<Table> {
    let path = inner.table_path(record.number);
    let mut writer = SstWriter::create(Arc::clone(&inner.fs), &path, inner.sst_options.clone())?;
    let mut it = file.reader.iter().fill_cache(false);
    it.seek_to_first();
    let mut internal_key = Vec::new();
    let mut entries = 0;
    while it.valid() {
        let parsed = parse(it.key(), file.reader.path())?;
        internal_key.clear();
        key::encode(parsed.user_key, seqno, parsed.kind, &mut internal_key);
        writer.add(&internal_key, it.value())?;
        entries += 1;
        it.next();
    }
    it.status()?;
    for t in file.reader.range_tombstones() {
        writer.add_range_tombstone(&RangeTombstone::new(t.start.clone(), t.end.clone(), seqno))?;
    }
    record.size = writer.finish()?.file_size;
    let reader = check_output(inner, record.number, entries).inspect_err(|_| {
        if inner.fs.remove(&path).is_err() {
            Counters::add(&inner.counters.obsolete_file_errors, 1);
        }
    })?;
    Ok(Table { record, reader })
}

/// Records the ingestion in one manifest edit, then publishes `tables` as
/// the newest run and `seqno` as visible. REQUIRES: the write lock (`w`)
/// has been held since the memtables were flushed.
fn install(inner: &Inner, w: &mut WriteState, tables: Vec<Arc<Table>>, seqno: SeqNo) -> Result<()> {
    let mut manifest = lock(&inner.manifest);
    // On failure the edit may be durable or not: only recovery can tell,
    // so the error sticks (as a flush's does).
    manifest
        .append(VersionEdit {
            last_seqno: Some(seqno),
            flushed_seqno: Some(seqno),
            added: tables.iter().map(|t| t.record.clone()).collect(),
            ..VersionEdit::default()
        })
        .map_err(|e| inner.bg.set_error(e))?;
    let mut current = lock(&inner.version);
    let mut runs = Vec::with_capacity(current.runs.len() + 1);
    runs.push(Arc::new(Run::new(tables)));
    runs.extend(current.runs.iter().cloned());
    *current = Arc::new(Version {
        mem: Arc::clone(&current.mem),
        frozen: current.frozen.clone(),
        runs,
    });
    // Under the version lock, so that a reader gets the run and the
    // sequence number that makes it visible together (see `Inner::view`).
    w.last_seqno = seqno;
    w.mem_first_seqno = seqno + 1;
    inner.visible.store(seqno, Ordering::Release);
    Ok(())
}
