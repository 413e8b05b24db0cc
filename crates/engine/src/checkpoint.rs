//! [`Db::checkpoint`](crate::Db::checkpoint): a consistent copy of the
//! database in a new directory, openable on its own.
//!
//! The copy is the tables of one manifest state and a fresh manifest
//! describing them; no WAL. So the memtable is flushed first, through the
//! newest write at the call; the state is read under the manifest lock
//! (where flushes, compactions and ingestions install), so it is the state
//! of one moment, and all of its writes are a prefix in sequence-number
//! order. While the tables are linked, the removal of tables a compaction
//! retires meanwhile is held back (`table_deletions`).
//!
//! What a crash leaves in the new directory: before CURRENT is renamed
//! into place, tables (and maybe a manifest) without CURRENT, which
//! recovery refuses when it finds a table ("CURRENT missing"), or nothing;
//! after, the whole copy, since the manifest and every table entry were
//! synced before CURRENT was written.

use std::path::Path;

use lsmkit_vfs::Fs;

use crate::background::lock;
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::format;
use crate::manifest::{self, ManifestState};
use lsmkit_sstable::SeqNo;

/// How much of a table a copy reads and appends at a time.
const COPY_CHUNK: u64 = 1 << 20;

/// Writes the checkpoint of `inner` into `dir`.
pub(crate) fn checkpoint(inner: &Inner, dir: &Path) -> Result<()> {
    inner.bg.check()?;
    let fs = &*inner.fs;
    prepare_dir(fs, dir)?;
    let through = {
        let mut w = lock(&inner.write);
        inner.switch_all(&mut w);
        w.last_seqno
    };
    inner.bg.wait_flushed_through(inner, through)?;

    // Held before the state is read: a table the state lists stays on disk
    // until it is linked, even if a compaction retires it meanwhile.
    let _hold = inner.table_deletions.hold(fs, &inner.dir, &inner.counters);
    let mut state = lock(&inner.manifest).state().clone();
    if !is_prefix(&state) {
        // A keyspace flushed writes above one another keyspace still holds
        // in a memtable: the tables are no prefix of the writes. Hold the
        // writers back and flush every keyspace empty, as an ingestion
        // does; then the tables hold every write.
        let _gate = inner.bg.hold_writers();
        let _w = crate::ingest::quiesce(inner)?;
        state = lock(&inner.manifest).state().clone();
        state.flushed_seqno = state.last_seqno.max(max_flushed(&state));
    }
    for number in state.tables.keys() {
        let name = format::table_file_name(*number);
        link_or_copy(fs, &inner.dir.join(&name), &dir.join(&name))?;
    }
    // The WAL stays behind: every write the copy holds is in its tables,
    // and the copy resumes after them.
    state.last_seqno = state.flushed_seqno;
    manifest::write_fresh(fs, dir, state)
}

/// The highest sequence number any keyspace has flushed through.
fn max_flushed(state: &ManifestState) -> SeqNo {
    std::iter::once(format::DEFAULT_KEYSPACE)
        .chain(state.keyspaces.keys().copied())
        .map(|id| state.flushed_of(id))
        .max()
        .unwrap_or(state.flushed_seqno)
}

/// Whether the tables of `state` hold exactly the writes up to its
/// flushed sequence number: no keyspace has flushed beyond it.
fn is_prefix(state: &ManifestState) -> bool {
    max_flushed(state) <= state.flushed_seqno
}

/// Creates `dir` if it does not exist; refuses one that holds anything.
fn prepare_dir(fs: &dyn Fs, dir: &Path) -> Result<()> {
    fs.create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if !fs.list(dir).map_err(|e| Error::io(dir, e))?.is_empty() {
        return Err(Error::CheckpointDirNotEmpty {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Makes `to` a hard link of the table `from`, or, where that fails, a
/// synced copy of it. A link needs no sync of its own: the table's data
/// was synced before it was installed.
fn link_or_copy(fs: &dyn Fs, from: &Path, to: &Path) -> Result<()> {
    if fs.hard_link(from, to).is_ok() {
        return Ok(());
    }
    let source = fs.open(from).map_err(|e| Error::io(from, e))?;
    let mut copy = fs.create(to).map_err(|e| Error::io(to, e))?;
    let len = source.len();
    let mut buf = vec![0; usize::try_from(len.min(COPY_CHUNK)).unwrap_or(0)];
    let mut offset = 0;
    while offset < len {
        // At most `COPY_CHUNK`, the buffer's length.
        let n = (len - offset).min(COPY_CHUNK) as usize;
        source
            .read_at(offset, &mut buf[..n])
            .map_err(|e| Error::io(from, e))?;
        copy.append(&buf[..n]).map_err(|e| Error::io(to, e))?;
        offset += n as u64;
    }
    copy.sync().map_err(|e| Error::io(to, e))
}
