//! The manifest: the log of [`VersionEdit`]s that says which tables make up
//! the database, and CURRENT, the pointer to the manifest in use.
//!
//! A manifest is one file of `lsmkit-wal` records (`LogWriter`), each a
//! version edit; its first record is a snapshot of the whole state, so a
//! manifest never depends on an older one. An edit counts once its record
//! is synced: only then does the engine act on it (install the tables,
//! delete the files it retires). When the manifest reaches its size limit,
//! a new one is written with one snapshot edit, and CURRENT is switched to
//! it: CURRENT.tmp written and synced, renamed over CURRENT, the directory
//! synced. A crash leaves CURRENT naming the old manifest or the new, both
//! complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use lsmkit_sstable::SeqNo;
use lsmkit_vfs::Fs;
use lsmkit_wal::{LogReader, LogWriter, RecoveryMode};

use crate::error::{Error, Result};
use crate::format::{self, CURRENT, CURRENT_TMP, TableRecord, VersionEdit};

/// What the manifest describes: the tables and the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManifestState {
    /// Every live table, by number.
    pub tables: BTreeMap<u64, TableRecord>,
    /// The highest sequence number the manifest records as used.
    pub last_seqno: SeqNo,
    /// Every write up to this sequence number is in a table; the WAL
    /// holds the rest.
    pub flushed_seqno: SeqNo,
    /// The lowest file number not yet handed out.
    pub next_file_number: u64,
    /// The keyspaces besides the default one, by id: their names.
    pub keyspaces: BTreeMap<u64, String>,
    /// Per keyspace (the default one included), the sequence number through
    /// which its writes are all in tables, where the manifest recorded one;
    /// `flushed_seqno` holds for every keyspace (see [`Self::flushed_of`]).
    pub keyspace_flushed: BTreeMap<u64, SeqNo>,
}

/// The manifest CURRENT names, read and replayed: which file it is, how
/// many edits it holds, and the state they add up to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveredManifest {
    /// The manifest's file number (`MANIFEST-<number>`).
    pub number: u64,
    /// How many version edits it holds, its opening snapshot included.
    pub edits: u64,
    /// The tables and counters the edits add up to.
    pub state: ManifestState,
}

impl ManifestState {
    /// Applies `edit`; an edit that removes a table that is not live, or
    /// adds one that is, is refused (the manifest is corrupt).
    fn apply(&mut self, edit: &VersionEdit) -> std::result::Result<(), String> {
        for (id, name) in &edit.created_keyspaces {
            if self.keyspaces.contains_key(id) || *id == format::DEFAULT_KEYSPACE {
                return Err(format!("edit creates keyspace {id}, which exists"));
            }
            if self.keyspaces.values().any(|n| n == name) {
                return Err(format!("edit creates a second keyspace named {name:?}"));
            }
            self.keyspaces.insert(*id, name.clone());
        }
        for number in &edit.removed {
            if self.tables.remove(number).is_none() {
                return Err(format!("edit removes table {number}, which is not live"));
            }
        }
        for table in &edit.added {
            if !self.is_keyspace(table.keyspace) {
                return Err(format!(
                    "edit adds table {} to keyspace {}, which does not exist",
                    table.number, table.keyspace
                ));
            }
            if self.tables.insert(table.number, table.clone()).is_some() {
                return Err(format!("edit adds table {}, which is live", table.number));
            }
        }
        for &(id, seqno) in &edit.keyspace_flushed {
            if !self.is_keyspace(id) {
                return Err(format!("edit flushes keyspace {id}, which does not exist"));
            }
            let flushed = self.keyspace_flushed.entry(id).or_default();
            *flushed = (*flushed).max(seqno);
        }
        for id in &edit.dropped_keyspaces {
            if self.keyspaces.remove(id).is_none() {
                return Err(format!("edit drops keyspace {id}, which does not exist"));
            }
            self.keyspace_flushed.remove(id);
            if let Some(t) = self.tables.values().find(|t| t.keyspace == *id) {
                return Err(format!(
                    "edit drops keyspace {id}, but its table {} stays",
                    t.number
                ));
            }
        }
        if let Some(v) = edit.last_seqno {
            self.last_seqno = self.last_seqno.max(v);
        }
        if let Some(v) = edit.flushed_seqno {
            self.flushed_seqno = self.flushed_seqno.max(v);
        }
        if let Some(v) = edit.next_file_number {
            self.next_file_number = self.next_file_number.max(v);
        }
        Ok(())
    }

    /// Whether keyspace `id` exists (the default one always does).
    pub fn is_keyspace(&self, id: u64) -> bool {
        id == format::DEFAULT_KEYSPACE || self.keyspaces.contains_key(&id)
    }

    /// The sequence number through which every write of keyspace `id` is
    /// in a table: WAL ops of it at or below are skipped on recovery.
    pub fn flushed_of(&self, id: u64) -> SeqNo {
        self.keyspace_flushed
            .get(&id)
            .map_or(self.flushed_seqno, |&k| k.max(self.flushed_seqno))
    }

    /// One edit that recreates this state from nothing.
    fn snapshot_edit(&self) -> VersionEdit {
        VersionEdit {
            last_seqno: Some(self.last_seqno),
            flushed_seqno: Some(self.flushed_seqno),
            next_file_number: Some(self.next_file_number),
            added: self.tables.values().cloned().collect(),
            removed: Vec::new(),
            created_keyspaces: self
                .keyspaces
                .iter()
                .map(|(id, name)| (*id, name.clone()))
                .collect(),
            dropped_keyspaces: Vec::new(),
            keyspace_flushed: self
                .keyspace_flushed
                .iter()
                .filter(|&(_, &seqno)| seqno > self.flushed_seqno)
                .map(|(id, seqno)| (*id, *seqno))
                .collect(),
        }
    }
}

/// The manifest being written, and the state it describes.
#[derive(Debug)]
pub(crate) struct Manifest {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    number: u64,
    log: LogWriter,
    state: ManifestState,
    /// Shared with the engine, which hands out table numbers from it.
    next_file: Arc<AtomicU64>,
    max_size: u64,
}

impl RecoveredManifest {
    /// Reads CURRENT in `dir` and replays the manifest it names, as
    /// opening the database does, without writing anything. `None` when
    /// there is no CURRENT (no database, or a new one).
    ///
    /// A torn last record (a crash mid-append) is dropped, as recovery
    /// drops it. Garbage in CURRENT, an undecodable edit, an edit that
    /// removes a table that is not live or adds one that is, or one that
    /// sets the next file number to `u64::MAX`, is an
    /// [`Error::Corruption`] naming the file and offset.
    pub fn read(fs: &dyn Fs, dir: &Path) -> Result<Option<RecoveredManifest>> {
        let current = dir.join(CURRENT);
        if !fs.exists(&current).map_err(|e| Error::io(&current, e))? {
            return Ok(None);
        }
        let file = fs.open(&current).map_err(|e| Error::io(&current, e))?;
        let mut contents = vec![0; usize::try_from(file.len()).unwrap_or(usize::MAX).min(256)];
        file.read_at(0, &mut contents)
            .map_err(|e| Error::io(&current, e))?;
        let number = format::decode_current(&contents).ok_or_else(|| {
            Error::corruption(
                &current,
                0,
                "CURRENT",
                format!(
                    "{:?} is not a manifest name",
                    contents.escape_ascii().to_string()
                ),
            )
        })?;
        let path = dir.join(format::manifest_file_name(number));
        let reader = LogReader::open(
            fs,
            &path,
            lsmkit_wal::format::log_number(number),
            RecoveryMode::TolerateCorruptedTail,
        )?;
        let mut state = ManifestState::default();
        let mut edits = 0;
        for record in reader {
            let record = record?;
            let edit = VersionEdit::decode(&record.data).map_err(|e| {
                Error::corruption(
                    &path,
                    record.offset + e.offset as u64,
                    "version edit",
                    e.what,
                )
            })?;
            // Every new file takes the next number and the counter moves on:
            // at `u64::MAX` the next one would wrap to a number in use.
            if edit.next_file_number == Some(u64::MAX) {
                return Err(Error::corruption(
                    &path,
                    record.offset,
                    "version edit",
                    "next file number is u64::MAX: no file number is left to hand out",
                ));
            }
            state
                .apply(&edit)
                .map_err(|what| Error::corruption(&path, record.offset, "version edit", what))?;
            edits += 1;
        }
        Ok(Some(RecoveredManifest {
            number,
            edits,
            state,
        }))
    }
}

impl Manifest {
    /// Writes a new manifest holding `state`, points CURRENT at it, and
    /// removes the manifest numbered `previous`, if any.
    pub fn create(
        fs: Arc<dyn Fs>,
        dir: &Path,
        state: ManifestState,
        next_file: Arc<AtomicU64>,
        max_size: u64,
        previous: Option<u64>,
    ) -> Result<Manifest> {
        let number = next_file.fetch_add(1, Ordering::SeqCst);
        let (log, state) = write_snapshot(&*fs, dir, number, state, &next_file)?;
        let manifest = Manifest {
            fs,
            dir: dir.to_path_buf(),
            number,
            log,
            state,
            next_file,
            max_size,
        };
        if let Some(previous) = previous {
            manifest.remove_manifest(previous)?;
        }
        Ok(manifest)
    }

    /// The manifest file's number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The state the synced edits add up to.
    pub fn state(&self) -> &ManifestState {
        &self.state
    }

    /// Records `edit` durably, then applies it to the state. Rewrites the
    /// manifest once it has grown past its limit.
    ///
    /// On error the edit may or may not be durable: the caller must stop
    /// writing to the database (the engine makes the error sticky).
    pub fn append(&mut self, mut edit: VersionEdit) -> Result<()> {
        let mut next = self.state.clone();
        edit.next_file_number = Some(self.next_file.load(Ordering::SeqCst));
        next.apply(&edit)
            .map_err(|what| Error::corruption(self.path(), self.log.len(), "version edit", what))?;
        let mut record = Vec::new();
        edit.encode(&mut record);
        self.log.add_record(&record)?;
        self.log.sync()?;
        self.state = next;
        if self.log.len() >= self.max_size {
            self.rewrite()?;
        }
        Ok(())
    }

    /// Writes the state to a new manifest and switches CURRENT to it.
    pub fn rewrite(&mut self) -> Result<()> {
        let number = self.next_file.fetch_add(1, Ordering::SeqCst);
        let (log, state) = write_snapshot(
            &*self.fs,
            &self.dir,
            number,
            self.state.clone(),
            &self.next_file,
        )?;
        let previous = std::mem::replace(&mut self.number, number);
        self.log = log;
        self.state = state;
        self.remove_manifest(previous)
    }

    fn path(&self) -> PathBuf {
        self.dir.join(format::manifest_file_name(self.number))
    }

    fn remove_manifest(&self, number: u64) -> Result<()> {
        let path = self.dir.join(format::manifest_file_name(number));
        self.fs.remove(&path).map_err(|e| Error::io(&path, e))?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))
    }
}

/// Writes manifest `number` holding `state` as one synced snapshot edit,
/// then makes CURRENT name it.
fn write_snapshot(
    fs: &dyn Fs,
    dir: &Path,
    number: u64,
    state: ManifestState,
    next_file: &AtomicU64,
) -> Result<(LogWriter, ManifestState)> {
    let (log, state) = write_manifest_file(fs, dir, number, state, next_file)?;
    set_current(fs, dir, number)?;
    Ok((log, state))
}

/// Writes manifest `number` holding `state` as one synced snapshot edit.
fn write_manifest_file(
    fs: &dyn Fs,
    dir: &Path,
    number: u64,
    mut state: ManifestState,
    next_file: &AtomicU64,
) -> Result<(LogWriter, ManifestState)> {
    let path = dir.join(format::manifest_file_name(number));
    let file = fs.create(&path).map_err(|e| Error::io(&path, e))?;
    let mut log = LogWriter::new(file, lsmkit_wal::format::log_number(number));
    state.next_file_number = next_file.load(Ordering::SeqCst);
    let mut record = Vec::new();
    state.snapshot_edit().encode(&mut record);
    log.add_record(&record)?;
    log.sync()?;
    Ok((log, state))
}

/// Describes `state` in `dir`, a directory that holds its tables and no
/// manifest (a checkpoint): a manifest numbered after every table, synced,
/// then the directory synced, so that the tables' entries and the
/// manifest's are durable before CURRENT names it; CURRENT last.
pub(crate) fn write_fresh(fs: &dyn Fs, dir: &Path, state: ManifestState) -> Result<()> {
    let after_tables = state
        .tables
        .keys()
        .last()
        .map_or(1, |n| n.saturating_add(1));
    let number = state.next_file_number.max(after_tables);
    let next_file = AtomicU64::new(number.saturating_add(1));
    let (log, _) = write_manifest_file(fs, dir, number, state, &next_file)?;
    drop(log);
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    set_current(fs, dir, number)
}

/// Points CURRENT at manifest `number`: write a temporary file, sync it,
/// rename it over CURRENT, sync the directory.
fn set_current(fs: &dyn Fs, dir: &Path, number: u64) -> Result<()> {
    let tmp = dir.join(CURRENT_TMP);
    let mut file = fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.append(&format::encode_current(number))
        .and_then(|()| file.sync())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    let current = dir.join(CURRENT);
    fs.rename(&tmp, &current)
        .map_err(|e| Error::io(&current, e))?;
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsmkit_vfs::MemFs;

    fn table(number: u64) -> TableRecord {
        TableRecord {
            run: number,
            number,
            size: 100,
            min_seqno: number,
            max_seqno: number,
            level: 0,
            lower: Vec::new(),
            upper: None,
            global_seqno: None,
            keyspace: 0,
        }
    }

    #[test]
    fn edits_survive_a_crash_and_rewrites() {
        let mem = MemFs::new();
        let fs: Arc<dyn Fs> = Arc::new(mem.clone());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let next = Arc::new(AtomicU64::new(1));
        // A tiny limit: every edit rewrites the manifest.
        let mut manifest = Manifest::create(
            fs.clone(),
            dir,
            ManifestState::default(),
            next.clone(),
            1,
            None,
        )
        .unwrap();
        for n in 10..15 {
            next.store(n + 1, Ordering::SeqCst);
            manifest
                .append(VersionEdit {
                    added: vec![table(n)],
                    removed: if n > 10 { vec![n - 1] } else { vec![] },
                    last_seqno: Some(n),
                    ..VersionEdit::default()
                })
                .unwrap();
        }
        mem.crash();
        let recovered = RecoveredManifest::read(&*fs, dir).unwrap().unwrap();
        assert_eq!(recovered.number, manifest.number());
        // Every rewrite leaves one snapshot edit.
        assert_eq!(recovered.edits, 1);
        let state = recovered.state;
        assert_eq!(state.tables.keys().copied().collect::<Vec<_>>(), [14]);
        assert_eq!(state.last_seqno, 14);
        let manifests: Vec<_> = fs
            .list(dir)
            .unwrap()
            .into_iter()
            .filter(|n| n.starts_with("MANIFEST"))
            .collect();
        assert_eq!(
            manifests.len(),
            1,
            "old manifests are removed: {manifests:?}"
        );
    }

    #[test]
    fn removing_a_table_that_is_not_live_is_corruption() {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let next = Arc::new(AtomicU64::new(1));
        let mut manifest =
            Manifest::create(fs, dir, ManifestState::default(), next, 1 << 20, None).unwrap();
        let err = manifest
            .append(VersionEdit {
                removed: vec![3],
                ..VersionEdit::default()
            })
            .unwrap_err();
        assert!(err.is_corruption(), "{err}");
    }

    #[test]
    fn garbage_in_current_is_a_named_corruption() {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let mut f = fs.create(&dir.join(CURRENT)).unwrap();
        f.append(b"nonsense").unwrap();
        f.sync().unwrap();
        drop(f);
        let err = RecoveredManifest::read(&*fs, dir).unwrap_err();
        assert!(err.is_corruption());
        assert!(err.to_string().contains("CURRENT"), "{err}");
    }
}
