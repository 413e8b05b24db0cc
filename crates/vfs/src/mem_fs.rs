//! [`MemFs`]: an in-memory filesystem that knows what is durable, for
//! deterministic crash tests.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{failed_with, is_a_directory};
use crate::mem_file::{
    Inode, InodeRef, LockTable, MemFileLock, MemRandomAccessFile, MemWritableFile, lock,
};
use crate::split_mix::SplitMix64;
use crate::{FileLock, Fs, Op, RandomAccessFile, WritableFile};

/// An in-memory filesystem that tracks, per file and per directory entry,
/// what has been made durable, and can lose the rest as a power loss would.
///
/// # Durability model
///
/// `MemFs` keeps exactly the promises of the [`Fs`] contract and no more,
/// so a test that passes on it passes on the weakest filesystem the
/// contract allows:
///
/// - A file's data is durable up to its length at the last
///   [`WritableFile::sync`]. [`Fs::truncate`] is durable when it returns.
/// - Space reserved by [`WritableFile::preallocate`] is durable, as zeros,
///   from the next sync; appends into it are durable only up to the synced
///   length, as any others, so after a crash the rest reads as zeros again.
/// - A directory entry made by [`Fs::create`], [`Fs::rename`],
///   [`Fs::hard_link`] or [`Fs::remove`] is durable once [`Fs::sync_dir`] of its parent runs
///   after it; until then the parent's last synced entries are what a crash
///   leaves. A file whose creation is not durable vanishes on a crash even
///   if its data was synced. `create` over an existing file makes a new
///   file under the name, so before the parent is synced a crash brings the
///   old file back.
/// - Directories are durable as soon as [`Fs::create_dir_all`] returns, and
///   are never removed.
///
/// [`MemFs::crash`] throws away everything else. [`MemFs::crash_torn`]
/// keeps, in addition, a pseudo-random prefix of each file's unsynced tail,
/// as a power loss in the middle of a write can. The `crash_clone` variants
/// leave the filesystem running and return a new one holding what the crash
/// would leave, like Pebble's `CrashClone`.
///
/// Handles opened before a crash stay usable but are detached: what they
/// write lands in files that no longer have a name. Locks are released by a
/// crash, since the process that held them is gone.
///
/// # Faults beyond a crash
///
/// Two faults make a crash lose what the contract says it keeps, as a disk
/// or filesystem that lies does (RocksDB's `FaultInjectionTestFS`), so that
/// tests can check that the code above detects or documents the loss:
///
/// - [`MemFs::lose_synced_writes`]: a [`WritableFile::sync`] of a matching
///   file reports success but makes nothing durable; the next crash drops
///   (or, with [`MemFs::crash_torn`], tears) the data it claimed to sync.
/// - [`MemFs::lose_dir_renames`]: the first [`Fs::sync_dir`] after a
///   rename to or from a matching path reports success but leaves both
///   names as they were durably; a crash before a later `sync_dir` of the
///   directory brings the old names back, as if the rename never happened.
///
/// Both match on a fragment of the path (as given by the caller, for a
/// writer the path it was opened with) and last until
/// [`MemFs::clear_faults`].
///
/// # Paths
///
/// Paths are names in one tree: `/db/a`, `db/a` and `db/./a` are the same
/// file, and the root always exists. As on a real filesystem, the parent
/// directory of a file must exist before the file is created.
///
/// # Readers are snapshots
///
/// [`Fs::open`] returns the file as it is at that moment, with a fixed
/// length, as a memory map of a fixed length would; later appends are not
/// visible through it. Truncating a file, or creating over it, while a
/// reader is open fails with [`io::ErrorKind::ResourceBusy`]: on
/// [`StdFs`](crate::StdFs) that would fault the reader's memory map.
///
/// # Sharing
///
/// Clones share one filesystem, so a test can keep a handle while the code
/// under test holds another. All methods may be called from any thread.
#[derive(Clone)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
    locks: Arc<Mutex<LockTable>>,
    syncs: Arc<AtomicU64>,
    dir_syncs: Arc<AtomicU64>,
}

/// The namespace: what exists now and what a crash would leave.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Every directory by its normalized path; the root is the empty path.
    dirs: BTreeSet<PathBuf>,
    /// The files that exist now.
    files: BTreeMap<PathBuf, InodeRef>,
    /// The file entries as of the last `sync_dir` of each directory.
    durable: BTreeMap<PathBuf, InodeRef>,
    /// The faults that make a crash lose more than the contract allows.
    pub(crate) faults: Faults,
    /// Renames, `(from, to)`, that the next `sync_dir` of their directory
    /// does not make durable ([`MemFs::lose_dir_renames`]).
    lost_renames: Vec<(PathBuf, PathBuf)>,
}

/// Path fragments selecting the files and renames whose durability lies.
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    pub(crate) lost_syncs: Vec<String>,
    pub(crate) lost_renames: Vec<String>,
}

impl Faults {
    fn matches(fragments: &[String], path: &Path) -> bool {
        let path = path.to_string_lossy();
        fragments.iter().any(|f| path.contains(f.as_str()))
    }

    pub(crate) fn loses_sync(&self, path: &Path) -> bool {
        Faults::matches(&self.lost_syncs, path)
    }

    fn loses_rename(&self, from: &Path, to: &Path) -> bool {
        Faults::matches(&self.lost_renames, from) || Faults::matches(&self.lost_renames, to)
    }
}

impl MemFs {
    /// An empty filesystem: the root directory and nothing else.
    pub fn new() -> MemFs {
        let mut dirs = BTreeSet::new();
        dirs.insert(PathBuf::new());
        MemFs::with_state(State {
            dirs,
            ..State::default()
        })
    }

    fn with_state(state: State) -> MemFs {
        MemFs {
            state: Arc::new(Mutex::new(state)),
            locks: Arc::new(Mutex::new(LockTable::default())),
            syncs: Arc::new(AtomicU64::new(0)),
            dir_syncs: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Simulates a power loss: every file, entry and byte that was not made
    /// durable is gone, and held locks are released. Deterministic.
    pub fn crash(&self) {
        self.crash_in_place(None);
    }

    /// Like [`MemFs::crash`], except that each file keeps a prefix of its
    /// unsynced tail, of a length drawn from `seed`: a torn write. The same
    /// seed on the same state tears the same way.
    pub fn crash_torn(&self, seed: u64) {
        self.crash_in_place(Some(SplitMix64::new(seed)));
    }

    /// A new filesystem holding what [`MemFs::crash`] would leave, while
    /// this one keeps running unchanged.
    pub fn crash_clone(&self) -> MemFs {
        let state = lock(&self.state);
        MemFs::with_state(state.after_crash(None))
    }

    /// A new filesystem holding what [`MemFs::crash_torn`] with `seed`
    /// would leave, while this one keeps running unchanged.
    pub fn crash_clone_torn(&self, seed: u64) -> MemFs {
        let state = lock(&self.state);
        MemFs::with_state(state.after_crash(Some(SplitMix64::new(seed))))
    }

    fn crash_in_place(&self, torn: Option<SplitMix64>) {
        let mut state = lock(&self.state);
        *state = state.after_crash(torn);
        lock(&self.locks).held.clear();
    }

    /// From now on, [`WritableFile::sync`] of a file whose path contains
    /// `fragment` reports success but makes nothing durable: a lost write
    /// after a successful fsync. Applies to writers opened before the call
    /// too. See "Faults beyond a crash".
    pub fn lose_synced_writes(&self, fragment: impl Into<String>) {
        lock(&self.state).faults.lost_syncs.push(fragment.into());
    }

    /// From now on, the first [`Fs::sync_dir`] after a rename to or from a
    /// path containing `fragment` leaves that rename undone in what a crash
    /// keeps: an unsynced directory rename. See "Faults beyond a crash".
    pub fn lose_dir_renames(&self, fragment: impl Into<String>) {
        lock(&self.state).faults.lost_renames.push(fragment.into());
    }

    /// Ends every fault of [`MemFs::lose_synced_writes`] and
    /// [`MemFs::lose_dir_renames`]. What a lying call already left
    /// undurable stays so until it is synced again.
    pub fn clear_faults(&self) {
        let mut state = lock(&self.state);
        state.faults = Faults::default();
        state.lost_renames.clear();
    }

    /// How many times the file now at `path` has been synced with
    /// [`WritableFile::sync`] since it was created (renames keep the count).
    pub fn file_syncs(&self, path: &Path) -> io::Result<u64> {
        let key = key(path);
        let state = lock(&self.state);
        let inode = state.file(Op::Sync, path, &key)?;
        Ok(lock(inode).syncs)
    }

    /// How many times any file of this filesystem has been synced.
    pub fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// How many times [`Fs::sync_dir`] has succeeded on this filesystem.
    pub fn sync_dir_count(&self) -> u64 {
        self.dir_syncs.load(Ordering::Relaxed)
    }
}

impl Default for MemFs {
    fn default() -> MemFs {
        MemFs::new()
    }
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("MemFs")
            .field("dirs", &state.dirs.len())
            .field("files", &state.files.len())
            .field("durable_files", &state.durable.len())
            .finish()
    }
}

/// The normalized form of a path: its normal components, with `.` and the
/// root dropped and `..` applied.
fn key(path: &Path) -> PathBuf {
    let mut key = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => key.push(name),
            Component::ParentDir => {
                key.pop();
            }
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
        }
    }
    key
}

/// The directory holding `key`; the root for a top-level name.
fn parent(key: &Path) -> &Path {
    key.parent().unwrap_or(Path::new(""))
}

/// `len` as a length of bytes held in memory, or the error of `op` when it
/// cannot be.
fn in_memory(op: Op, path: &Path, len: u64) -> io::Result<usize> {
    usize::try_from(len).map_err(|_| {
        failed_with(
            op,
            path,
            io::ErrorKind::StorageFull,
            "length exceeds memory",
        )
    })
}

fn not_found(op: Op, path: &Path) -> io::Error {
    failed_with(
        op,
        path,
        io::ErrorKind::NotFound,
        "no such file or directory",
    )
}

fn has_readers(op: Op, path: &Path) -> io::Error {
    failed_with(
        op,
        path,
        io::ErrorKind::ResourceBusy,
        "file has open readers (a memory map of it would fault)",
    )
}

impl State {
    /// The file at `key`, or the error a filesystem would give.
    fn file(&self, op: Op, path: &Path, key: &Path) -> io::Result<&InodeRef> {
        match self.files.get(key) {
            Some(inode) => Ok(inode),
            None if self.dirs.contains(key) => Err(is_a_directory(op, path)),
            None => Err(not_found(op, path)),
        }
    }

    /// Checks that a file may be made at `key`: its parent is a directory
    /// and `key` itself is not one.
    fn check_new_file(&self, op: Op, path: &Path, key: &Path) -> io::Result<()> {
        if self.dirs.contains(key) {
            return Err(is_a_directory(op, path));
        }
        let parent = parent(key);
        if self.dirs.contains(parent) {
            Ok(())
        } else if self.files.contains_key(parent) {
            Err(failed_with(
                op,
                path,
                io::ErrorKind::NotADirectory,
                "parent is not a directory",
            ))
        } else {
            Err(not_found(op, path))
        }
    }

    fn check_dir(&self, op: Op, path: &Path, key: &Path) -> io::Result<()> {
        if self.dirs.contains(key) {
            Ok(())
        } else if self.files.contains_key(key) {
            Err(failed_with(
                op,
                path,
                io::ErrorKind::NotADirectory,
                "not a directory",
            ))
        } else {
            Err(not_found(op, path))
        }
    }

    /// What a power loss leaves: the durable entries, each a fresh file cut
    /// to its synced length (plus a torn part of its tail under `torn`).
    fn after_crash(&self, mut torn: Option<SplitMix64>) -> State {
        let files: BTreeMap<PathBuf, InodeRef> = self
            .durable
            .iter()
            .map(|(name, inode)| {
                let inode = lock(inode);
                let unsynced = inode.data.len() - inode.synced_len;
                let kept = match torn.as_mut() {
                    // Bounded by `unsynced`, a usize.
                    Some(rng) if unsynced > 0 => rng.below_or_eq(unsynced as u64) as usize,
                    _ => 0,
                };
                let data = inode.data[..inode.synced_len + kept].to_vec();
                let fresh = Inode::durable(data);
                {
                    let mut fresh = lock(&fresh);
                    fresh.reserved = inode.synced_reserved;
                    fresh.synced_reserved = inode.synced_reserved;
                }
                (name.clone(), fresh)
            })
            .collect();
        State {
            dirs: self.dirs.clone(),
            durable: files.clone(),
            files,
            faults: self.faults.clone(),
            lost_renames: Vec::new(),
        }
    }
}

impl Fs for MemFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let key = key(path);
        let mut state = lock(&self.state);
        state.check_new_file(Op::Create, path, &key)?;
        if let Some(old) = state.files.get(&key)
            && lock(old).has_readers()
        {
            return Err(has_readers(Op::Create, path));
        }
        let inode = Inode::durable(Vec::new());
        state.files.insert(key, Arc::clone(&inode));
        Ok(Box::new(MemWritableFile {
            inode,
            buf: Vec::new(),
            len: 0,
            syncs: Arc::clone(&self.syncs),
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let key = key(path);
        let state = lock(&self.state);
        let inode = Arc::clone(state.file(Op::OpenAppend, path, &key)?);
        let len = {
            let mut inode = lock(&inode);
            // Appends go on at the end of the file, after any reserved
            // zeros, which are then bytes like any other.
            let size = inode.size();
            if size > inode.data.len() as u64 {
                let size = in_memory(Op::OpenAppend, path, size)?;
                Arc::make_mut(&mut inode.data).resize(size, 0);
            }
            size
        };
        Ok(Box::new(MemWritableFile {
            inode,
            buf: Vec::new(),
            len,
            syncs: Arc::clone(&self.syncs),
            path: path.to_path_buf(),
            state: Arc::clone(&self.state),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let key = key(path);
        let state = lock(&self.state);
        let inode = lock(state.file(Op::Open, path, &key)?);
        Ok(Arc::new(MemRandomAccessFile {
            path: path.to_path_buf(),
            data: Arc::clone(&inode.data),
            len: inode.size(),
            _reader: Arc::clone(&inode.readers),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_key, to_key) = (key(from), key(to));
        let mut state = lock(&self.state);
        state.file(Op::Rename, from, &from_key)?;
        state.check_new_file(Op::Rename, to, &to_key)?;
        if state.faults.loses_rename(from, to) {
            state.lost_renames.push((from_key.clone(), to_key.clone()));
        }
        if from_key != to_key
            && let Some(inode) = state.files.remove(&from_key)
        {
            state.files.insert(to_key, inode);
        }
        Ok(())
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_key, to_key) = (key(from), key(to));
        let mut state = lock(&self.state);
        let inode = Arc::clone(state.file(Op::HardLink, from, &from_key)?);
        state.check_new_file(Op::HardLink, to, &to_key)?;
        if state.files.contains_key(&to_key) {
            return Err(failed_with(
                Op::HardLink,
                to,
                io::ErrorKind::AlreadyExists,
                "file exists",
            ));
        }
        // One inode under two names, as on disk; a crash (`after_crash`)
        // gives each durable name its own copy of the synced bytes, which
        // reads the same since linked files are no longer written.
        state.files.insert(to_key, inode);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let key = key(path);
        let mut state = lock(&self.state);
        state.file(Op::Remove, path, &key)?;
        state.files.remove(&key);
        Ok(())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let key = key(path);
        let state = lock(&self.state);
        let mut inode = lock(state.file(Op::Truncate, path, &key)?);
        if inode.has_readers() {
            return Err(has_readers(Op::Truncate, path));
        }
        let len = in_memory(Op::Truncate, path, len)?;
        Arc::make_mut(&mut inode.data).resize(len, 0);
        inode.synced_len = len;
        inode.reserved = 0;
        inode.synced_reserved = 0;
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let key = key(dir);
        let state = lock(&self.state);
        state.check_dir(Op::List, dir, &key)?;
        let children = state.dirs.iter().chain(state.files.keys());
        let mut names: Vec<String> = children
            .filter(|child| !child.as_os_str().is_empty() && parent(child) == key)
            .filter_map(|child| child.file_name()?.to_str().map(str::to_owned))
            .collect();
        names.sort_unstable();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let key = key(dir);
        let mut state = lock(&self.state);
        let ancestors: Vec<&Path> = key.ancestors().collect();
        if let Some(file) = ancestors.iter().find(|a| state.files.contains_key(**a)) {
            let kind = if *file == key.as_path() {
                io::ErrorKind::AlreadyExists
            } else {
                io::ErrorKind::NotADirectory
            };
            return Err(failed_with(
                Op::CreateDir,
                dir,
                kind,
                "a file is in the way",
            ));
        }
        for ancestor in ancestors {
            state.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let key = key(dir);
        let mut state = lock(&self.state);
        state.check_dir(Op::SyncDir, dir, &key)?;
        let State {
            files,
            durable,
            lost_renames,
            ..
        } = &mut *state;
        // The names of renames this sync lies about keep their durable
        // entries (or their absence) as they were.
        let mut kept: BTreeSet<PathBuf> = BTreeSet::new();
        lost_renames.retain(|(from, to)| {
            let here = parent(from) == key || parent(to) == key;
            if here {
                kept.insert(from.clone());
                kept.insert(to.clone());
            }
            !here
        });
        durable.retain(|name, _| parent(name) != key || kept.contains(name));
        for (name, inode) in files.iter() {
            if parent(name) == key && !kept.contains(name) {
                durable.insert(name.clone(), Arc::clone(inode));
            }
        }
        self.dir_syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let key = key(path);
        let state = lock(&self.state);
        Ok(state.dirs.contains(&key) || state.files.contains_key(&key))
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        let key = key(path);
        let state = lock(&self.state);
        let inode = lock(state.file(Op::Size, path, &key)?);
        Ok(inode.size())
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let key = key(path);
        let mut state = lock(&self.state);
        if !state.files.contains_key(&key) {
            state.check_new_file(Op::Lock, path, &key)?;
            state.files.insert(key.clone(), Inode::durable(Vec::new()));
        }
        let mut table = lock(&self.locks);
        if table.held.contains_key(&key) {
            return Err(failed_with(
                Op::Lock,
                path,
                io::ErrorKind::WouldBlock,
                "locked by another holder",
            ));
        }
        let id = table.next_id;
        table.next_id += 1;
        table.held.insert(key.clone(), id);
        Ok(Box::new(MemFileLock {
            path: key,
            id,
            table: Arc::clone(&self.locks),
        }))
    }
}
