//! Snapshots as SSTables: building one from an engine snapshot, and
//! installing one with the engine's ingestion.
//!
//! **Building.** Under one engine [`Snapshot`](lsmkit_engine::Snapshot),
//! the state machine's range `[0x02, 0x04)` (its data, last applied id and
//! membership) is written with the kit's [`SstWriter`] into tables of
//! about [`StoreOptions::snapshot_table_size`](crate::StoreOptions) bytes.
//! The tables partition the range: each also carries a range tombstone over
//! its own part (from its first key to the next table's), so that
//! ingesting them all replaces the whole state machine at once. The file
//! `snap-NNNNNN.snap` is then the header of [`crate::format`] (cluster,
//! snapshot metadata, each table's size and XXH3 checksum) followed by the
//! tables; it is synced and renamed into place, and replaces the previous
//! snapshot file. openraft streams this file to followers in chunks.
//!
//! **Installing.** The received bytes are copied to `snap-NNNNNN.snap.tmp`
//! and checked before anything changes: magic, version and header
//! checksum, the cluster name, the metadata against the leader's, and each
//! table's checksum as it is split out into its own file. Only then are
//! the tables ingested ([`Db::ingest`](lsmkit_engine::Db::ingest), which
//! verifies them again, and adds them atomically as one write newer than
//! all the data: the tombstones delete the old state, the entries are the
//! new). The file then becomes the current snapshot.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_sstable::{RangeTombstone, SstOptions, SstWriter};
use lsmkit_vfs::{Fs, StdFs};
use openraft::{
    BasicNode, ErrorSubject, ErrorVerb, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError,
};
use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, Result};
use crate::format::{
    SNAPSHOT_END, SNAPSHOT_PREFIX_LEN, SNAPSHOT_START, SnapshotHeader, TableEntry,
};
use crate::store::Shared;
use crate::{NodeId, TypeConfig};

/// Prefix and suffix of a snapshot file's name.
const SNAP_PREFIX: &str = "snap-";
const SNAP_SUFFIX: &str = ".snap";
/// Bytes copied at a time.
const CHUNK: usize = 64 << 10;

/// The snapshot a node would send, and where its file is.
#[derive(Clone, Debug)]
pub(crate) struct CurrentSnapshot {
    pub meta: SnapshotMeta<NodeId, BasicNode>,
    pub path: PathBuf,
    pub number: u64,
}

fn snap_name(number: u64) -> String {
    format!("{SNAP_PREFIX}{number:06}{SNAP_SUFFIX}")
}

fn parse_snap_name(name: &str) -> Option<u64> {
    name.strip_prefix(SNAP_PREFIX)?
        .strip_suffix(SNAP_SUFFIX)?
        .parse()
        .ok()
}

/// Finds the newest snapshot in `dir`, checks its header, and removes
/// what an interrupted build or install left behind.
pub(crate) fn recover(dir: &Path, cluster: &str) -> Result<Option<CurrentSnapshot>> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(number) = parse_snap_name(&name) {
            numbers.push((number, path));
        } else if name.ends_with(".tmp") {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        } else if name.starts_with("build-") || name.starts_with("install-") {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    numbers.sort();
    let Some((number, path)) = numbers.pop() else {
        return Ok(None);
    };
    for (_, older) in numbers {
        std::fs::remove_file(&older).map_err(|e| Error::io(&older, e))?;
    }
    let (header, _) = read_header(&path)?;
    if header.cluster != cluster {
        return Err(Error::ForeignSnapshot {
            file: path,
            expected: cluster.into(),
            found: header.cluster,
        });
    }
    Ok(Some(CurrentSnapshot {
        meta: meta_of(&header),
        path,
        number,
    }))
}

fn meta_of(header: &SnapshotHeader) -> SnapshotMeta<NodeId, BasicNode> {
    SnapshotMeta {
        last_log_id: header.last_log_id,
        last_membership: header.membership.clone(),
        snapshot_id: header.snapshot_id.clone(),
    }
}

fn corrupt(file: &Path, offset: u64, detail: impl Into<String>) -> Error {
    Error::CorruptSnapshot {
        file: file.to_path_buf(),
        offset,
        detail: detail.into(),
    }
}

/// Reads and checks the header of the snapshot file at `path`; returns it
/// and its length in bytes (where the first table starts).
pub(crate) fn read_header(path: &Path) -> Result<(SnapshotHeader, u64)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut prefix = [0; SNAPSHOT_PREFIX_LEN];
    if len < SNAPSHOT_PREFIX_LEN as u64 {
        return Err(corrupt(
            path,
            0,
            format!("file of {len} bytes is shorter than a snapshot header"),
        ));
    }
    file.read_exact(&mut prefix)
        .map_err(|e| Error::io(path, e))?;
    let body_len =
        SnapshotHeader::body_len(&prefix).map_err(|e| corrupt(path, e.offset as u64, e.what))?;
    let header_len = (SNAPSHOT_PREFIX_LEN + body_len as usize + 8) as u64;
    if header_len > len {
        return Err(corrupt(
            path,
            12,
            format!("header of {header_len} bytes runs past the file's end ({len} bytes)"),
        ));
    }
    let mut rest = vec![0; body_len as usize + 8];
    file.read_exact(&mut rest).map_err(|e| Error::io(path, e))?;
    let header =
        SnapshotHeader::decode_body(&rest).map_err(|e| corrupt(path, e.offset as u64, e.what))?;
    Ok((header, header_len))
}

/// Syncs directory `dir`, making the renames in it durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Removes a directory of scratch files; one left behind (this failing) is
/// removed by the next open.
fn remove_scratch(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// Builds a snapshot of the state machine as it is now, makes it the
/// current one, and returns it.
pub(crate) fn build(shared: &Shared) -> Result<CurrentSnapshot> {
    let mut last_number = shared.snapshot_work();
    let number = *last_number + 1;
    let view = shared.db.snapshot();
    let (last_log_id, membership) = shared.applied_state(|k| view.get(k))?;
    let work = shared.snapshot_dir.join(format!("build-{number:06}"));
    let built = (|| -> Result<CurrentSnapshot> {
        std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        let tables = write_tables(shared, &view, &work)?;
        let snapshot_id = match &last_log_id {
            Some(id) => format!(
                "{}-{}-{}-{number}",
                id.leader_id.term, id.leader_id.node_id, id.index
            ),
            None => format!("empty-{number}"),
        };
        let mut header = SnapshotHeader {
            cluster: shared.cluster.clone(),
            last_log_id,
            membership,
            snapshot_id,
            tables: Vec::with_capacity(tables.len()),
        };
        for table in &tables {
            header.tables.push(checksum(table)?);
        }
        let path = shared.snapshot_dir.join(snap_name(number));
        write_file(&header, &tables, &path)?;
        sync_dir(&shared.snapshot_dir)?;
        Ok(CurrentSnapshot {
            meta: meta_of(&header),
            path,
            number,
        })
    })();
    remove_scratch(&work);
    let built = built?;
    *last_number = number;
    if let Some(old) = shared.snapshot().replace(built.clone()) {
        // Left behind if this fails; the next open removes it.
        let _ = std::fs::remove_file(&old.path);
    }
    Ok(built)
}

/// Writes the state machine's range of `view` into tables in `dir` that
/// partition `[SNAPSHOT_START, SNAPSHOT_END)`, each with a range tombstone
/// over its part; returns their paths in key order.
fn write_tables(
    shared: &Shared,
    view: &lsmkit_engine::Snapshot,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let mut paths = Vec::new();
    // The open table and the first key of its part.
    let mut open: Option<(SstWriter, Vec<u8>)> = None;
    let close = |writer: SstWriter, start: Vec<u8>, end: &[u8]| -> Result<()> {
        let mut writer = writer;
        writer.add_range_tombstone(&RangeTombstone::new(start, end, 0))?;
        writer.finish()?;
        Ok(())
    };
    for kv in view.range(SNAPSHOT_START..SNAPSHOT_END) {
        let (key, value) = kv?;
        if let Some((writer, start)) =
            open.take_if(|(w, _)| w.file_size() >= shared.snapshot_table_size)
        {
            close(writer, start, &key)?;
        }
        let (writer, _) = match &mut open {
            Some(open) => open,
            None => {
                let path = dir.join(format!("table-{:04}.sst", paths.len()));
                let start = if paths.is_empty() {
                    SNAPSHOT_START.to_vec()
                } else {
                    key.clone()
                };
                let writer = SstWriter::create(Arc::clone(&fs), &path, SstOptions::default())?;
                paths.push(path);
                open.insert((writer, start))
            }
        };
        // One sequence number for all: the tombstones (also at 0) do not
        // delete the entries beside them, and ingestion reads them all at
        // one new number anyway.
        writer.put(&key, 0, &value)?;
    }
    match open {
        Some((writer, start)) => close(writer, start, SNAPSHOT_END)?,
        None => {
            // An empty state machine: one table that deletes everything.
            let path = dir.join("table-0000.sst");
            let writer = SstWriter::create(fs, &path, SstOptions::default())?;
            paths.push(path);
            close(writer, SNAPSHOT_START.to_vec(), SNAPSHOT_END)?;
        }
    }
    Ok(paths)
}

/// The size and checksum of the file at `path`.
fn checksum(path: &Path) -> Result<TableEntry> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Xxh3::new();
    let mut size = 0u64;
    let mut buf = vec![0; CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(TableEntry {
        size,
        checksum: hasher.digest(),
    })
}

/// Writes the snapshot file: `header`, then every table; synced, and
/// renamed to `path` (REQUIRES: the caller syncs the directory).
fn write_file(header: &SnapshotHeader, tables: &[PathBuf], path: &Path) -> Result<()> {
    let tmp = path.with_extension("snap.tmp");
    let written = (|| -> Result<()> {
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut out = BufWriter::with_capacity(CHUNK, file);
        out.write_all(&header.encode())
            .map_err(|e| Error::io(&tmp, e))?;
        for table in tables {
            let mut input = File::open(table).map_err(|e| Error::io(table, e))?;
            std::io::copy(&mut input, &mut out).map_err(|e| Error::io(&tmp, e))?;
        }
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Installs the snapshot in `received` (described by the leader's
/// `meta`): checks it, ingests its tables, and makes it the current
/// snapshot. Anything wrong with it is refused before the state machine
/// changes.
pub(crate) fn install(
    shared: &Shared,
    meta: &SnapshotMeta<NodeId, BasicNode>,
    mut received: File,
) -> Result<()> {
    let mut last_number = shared.snapshot_work();
    let number = *last_number + 1;
    let path = shared.snapshot_dir.join(snap_name(number));
    let tmp = path.with_extension("snap.tmp");
    let work = shared.snapshot_dir.join(format!("install-{number:06}"));
    let installed = (|| -> Result<()> {
        let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        received
            .seek(SeekFrom::Start(0))
            .and_then(|_| std::io::copy(&mut received, &mut file))
            .and_then(|_| file.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        drop(file);
        let tables = check_and_split(shared, meta, &tmp, &work)?;
        shared.db.ingest(&tables)?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        sync_dir(&shared.snapshot_dir)
    })();
    remove_scratch(&work);
    if let Err(e) = installed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    *last_number = number;
    let new = CurrentSnapshot {
        meta: meta.clone(),
        path,
        number,
    };
    if let Some(old) = shared.snapshot().replace(new) {
        // Left behind if this fails; the next open removes it.
        let _ = std::fs::remove_file(&old.path);
    }
    Ok(())
}

/// Checks the snapshot file at `path` against this store and the leader's
/// `meta`, and copies its tables into `work`, checking each one's
/// checksum; returns the tables' paths.
fn check_and_split(
    shared: &Shared,
    meta: &SnapshotMeta<NodeId, BasicNode>,
    path: &Path,
    work: &Path,
) -> Result<Vec<PathBuf>> {
    let (header, header_len) = read_header(path)?;
    if header.cluster != shared.cluster {
        return Err(Error::ForeignSnapshot {
            file: path.to_path_buf(),
            expected: shared.cluster.clone(),
            found: header.cluster,
        });
    }
    let found = meta_of(&header);
    if found != *meta {
        return Err(Error::SnapshotMismatch {
            file: path.to_path_buf(),
            expected: format!("{meta}"),
            found: format!("{found}"),
        });
    }
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let total = header
        .tables
        .iter()
        .try_fold(header_len, |sum, t| sum.checked_add(t.size));
    if total != Some(len) {
        return Err(corrupt(
            path,
            header_len,
            format!(
                "the header lists {} tables in {:?} bytes after it, the file has {} bytes after it",
                header.tables.len(),
                total.map(|t| t - header_len),
                len - header_len
            ),
        ));
    }
    std::fs::create_dir_all(work).map_err(|e| Error::io(work, e))?;
    file.seek(SeekFrom::Start(header_len))
        .map_err(|e| Error::io(path, e))?;
    let mut offset = header_len;
    let mut tables = Vec::with_capacity(header.tables.len());
    let mut buf = vec![0; CHUNK];
    for (i, table) in header.tables.iter().enumerate() {
        let out_path = work.join(format!("table-{i:04}.sst"));
        let mut out = BufWriter::with_capacity(
            CHUNK,
            File::create(&out_path).map_err(|e| Error::io(&out_path, e))?,
        );
        let mut hasher = Xxh3::new();
        let mut left = table.size;
        while left > 0 {
            let n = (left.min(CHUNK as u64)) as usize;
            file.read_exact(&mut buf[..n])
                .map_err(|e| Error::io(path, e))?;
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(&out_path, e))?;
            left -= n as u64;
        }
        out.flush().map_err(|e| Error::io(&out_path, e))?;
        let actual = hasher.digest();
        if actual != table.checksum {
            return Err(corrupt(
                path,
                offset,
                format!(
                    "table {i} of {} bytes: checksum {actual:#018x}, header says {:#018x}",
                    table.size, table.checksum
                ),
            ));
        }
        offset += table.size;
        tables.push(out_path);
    }
    Ok(tables)
}

/// Builds snapshots for openraft; made by the state machine.
#[derive(Debug)]
pub struct SnapshotBuilder {
    shared: Arc<Shared>,
}

impl SnapshotBuilder {
    pub(crate) fn new(shared: Arc<Shared>) -> SnapshotBuilder {
        SnapshotBuilder { shared }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let shared = Arc::clone(&self.shared);
        let error = |e: Error| e.storage(ErrorSubject::Snapshot(None), ErrorVerb::Write);
        let built = tokio::task::spawn_blocking(move || {
            let built = build(&shared)?;
            let file = File::open(&built.path).map_err(|e| Error::io(&built.path, e))?;
            Ok((built, file))
        })
        .await
        .map_err(|join| {
            error(Error::io(
                &self.shared.snapshot_dir,
                std::io::Error::other(format!("snapshot task failed: {join}")),
            ))
        })?;
        let (built, file) = built.map_err(error)?;
        Ok(Snapshot {
            meta: built.meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        })
    }
}
