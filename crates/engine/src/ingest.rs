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
//! 2. Each file is put into the database directory unchanged, as a table
//!    of a new number: a hard link (`Fs::hard_link`, the directory synced),
//!    or where the filesystem makes none, a copy (published as a table
//!    writer publishes, then verified block by block). Writers go on
//!    meanwhile.
//! 3. The memtables are flushed, writers still going: a memtable is read
//!    before every run and its sequence numbers must lie below the
//!    ingested run's, so none may be left beside it. Then new writers are
//!    held back (they wait as for a write stop), what they wrote meanwhile
//!    is flushed, and the write lock is held to the end. The ingestion
//!    takes one new sequence number, `s`, and opens each table to read at
//!    `s` whatever the file holds (`ReaderOptions::global_seqno`).
//! 4. One manifest edit adds all the tables, as one run covering `[s, s]`
//!    with `s` as each table's global sequence number, and records `s` as
//!    the last and the flushed sequence number. Once it is synced, the run
//!    is published in front of every other and `s` becomes visible.
//!
//! Since the ingested run is newer than all data in the database, no
//! overlap with live data ever needs refusing: the ingested versions win.
//! A crash before 4 leaves tables no manifest names, which the next open
//! deletes (a link's removal leaves the caller's file as it is); after 4,
//! all the files are in. Either all or none.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use lsmkit_sstable::key::SeqNo;
use lsmkit_sstable::{InternalIterator, ParsedKey, SstReader, ValueKind};
use lsmkit_vfs::Fs;

use crate::background::lock;
use crate::db::{Inner, WriteState};
use crate::error::{Error, Result};
use crate::format::{TableRecord, VersionEdit};
use crate::keyspace::Tree;
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
pub(crate) fn ingest(inner: &Inner, tree: &Tree, paths: &[&Path]) -> Result<()> {
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

    let run = inner.next_file.fetch_add(1, Ordering::SeqCst);
    let mut placed: Vec<(u64, u64)> = Vec::with_capacity(files.len());
    let remove_placed = |placed: &[(u64, u64)]| {
        // Recorded nowhere: removed now, or by the next open.
        for &(number, _) in placed {
            if inner.fs.remove(&inner.table_path(number)).is_err() {
                Counters::add(&inner.counters.obsolete_file_errors, 1);
            }
        }
    };
    for file in &files {
        let number = inner.next_file.fetch_add(1, Ordering::SeqCst);
        match place(inner, file.reader.path(), number) {
            Ok(size) => placed.push((number, size)),
            Err(error) => {
                remove_placed(&placed);
                return Err(error);
            }
        }
    }
    let installed = (|| {
        // Empty the memtables while writers go on, then hold them back and
        // flush only what they wrote meanwhile.
        inner.switch_all(&mut lock(&inner.write));
        inner.bg.wait_flushed(inner)?;
        inner.bg.throttle(inner)?;
        let gate = inner.bg.hold_writers();
        let mut w = quiesce(inner)?;
        let seqno = w.last_seqno + 1;
        let mut tables = Vec::with_capacity(files.len());
        for (i, (file, &(number, size))) in files.iter().zip(&placed).enumerate() {
            // The run's tables partition the key space: each answers from
            // its own first key (the first from the start) to the next one's.
            let record = TableRecord {
                run,
                number,
                size,
                min_seqno: seqno,
                max_seqno: seqno,
                level: 0,
                lower: if i == 0 {
                    Vec::new()
                } else {
                    file.lower.clone()
                },
                upper: files.get(i + 1).map(|next| next.lower.clone()),
                global_seqno: Some(seqno),
                keyspace: tree.id,
            };
            let options = inner.reader_options.clone().global_seqno(seqno);
            let reader = SstReader::open_with(&*inner.fs, inner.table_path(number), options)?;
            tables.push(Arc::new(Table { record, reader }));
        }
        install(inner, tree, &mut w, tables, seqno)?;
        drop(w);
        // Lets writers go, and wakes the compaction thread: the new run may
        // call for a compaction.
        drop(gate);
        Ok(())
    })();
    if installed.is_err() {
        remove_placed(&placed);
    }
    installed
}

/// Puts the external table at `from` into the database as table
/// `number`, unchanged: a hard link where the filesystem makes one (the
/// file is immutable from now on, and the caller's name for it may go), a
/// copy otherwise. Returns its size.
fn place(inner: &Inner, from: &Path, number: u64) -> Result<u64> {
    let to = inner.table_path(number);
    let size = inner.fs.size(from).map_err(|e| Error::io(from, e))?;
    // Any failure to link (another device, a filesystem without links, a
    // fault) leaves no name behind: copying is then the way in.
    if inner.fs.hard_link(from, &to).is_ok() {
        inner
            .fs
            .sync_dir(&inner.dir)
            .map_err(|e| Error::io(&inner.dir, e))?;
        Counters::add(&inner.counters.ingest_links, 1);
        return Ok(size);
    }
    copy_file(inner, from, &to)?;
    Counters::add(&inner.counters.ingest_copies, 1);
    Ok(size)
}

/// Copies `from` to `to` (written under a temporary name, synced, renamed,
/// the directory synced, as a table writer publishes a table), then
/// verifies the copy block by block.
fn copy_file(inner: &Inner, from: &Path, to: &Path) -> Result<()> {
    const CHUNK: u64 = 1 << 20;
    let fs = &*inner.fs;
    let source = fs.open(from).map_err(|e| Error::io(from, e))?;
    let tmp = to.with_extension("sst.tmp");
    let mut out = fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut buffer = vec![0u8; CHUNK.min(source.len()) as usize];
    let mut at = 0;
    let copied = (|| {
        while at < source.len() {
            let n = CHUNK.min(source.len() - at) as usize;
            source
                .read_at(at, &mut buffer[..n])
                .map_err(|e| Error::io(from, e))?;
            out.append(&buffer[..n]).map_err(|e| Error::io(&tmp, e))?;
            at += n as u64;
        }
        out.sync().map_err(|e| Error::io(&tmp, e))?;
        fs.rename(&tmp, to).map_err(|e| Error::io(to, e))?;
        fs.sync_dir(&inner.dir)
            .map_err(|e| Error::io(&inner.dir, e))
    })();
    if let Err(error) = copied {
        let _ = fs.remove(&tmp);
        return Err(error);
    }
    let invalid = |source| Error::IngestInvalid {
        file: to.to_path_buf(),
        source,
    };
    SstReader::open(fs, to)
        .and_then(|reader| reader.verify())
        .map_err(invalid)
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
pub(crate) fn quiesce(inner: &Inner) -> Result<MutexGuard<'_, WriteState>> {
    loop {
        inner.switch_all(&mut lock(&inner.write));
        inner.bg.wait_flushed(inner)?;
        let w = lock(&inner.write);
        inner.bg.check()?;
        let empty = inner.trees.all().iter().all(|t| {
            let version = t.current();
            version.mem.is_empty() && version.frozen.is_empty()
        });
        if empty {
            return Ok(w);
        }
    }
}

/// Records the ingestion in one manifest edit, then publishes `tables` as
/// the newest run and `seqno` as visible. REQUIRES: the write lock (`w`)
/// has been held since the memtables were flushed.
fn install(
    inner: &Inner,
    tree: &Tree,
    w: &mut WriteState,
    tables: Vec<Arc<Table>>,
    seqno: SeqNo,
) -> Result<()> {
    let mut manifest = lock(&inner.manifest);
    if tree.is_dropped() {
        return Err(Error::KeyspaceNotFound {
            name: tree.name.clone(),
        });
    }
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
    let mut current = lock(&tree.version);
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
    inner.visible.store(seqno, Ordering::Release);
    Ok(())
}
