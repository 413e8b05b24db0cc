//! The filesystem trait: the one seam between lsmkit and the disk.
//!
//! Every crate above `lsmkit-vfs` creates, reads, syncs, renames and removes
//! files only through [`Fs`], so that the same code runs on the real
//! filesystem ([`StdFs`](crate::StdFs)), in memory with crash simulation
//! ([`MemFs`](crate::MemFs)) and under injected errors
//! ([`FaultFs`](crate::FaultFs)).
//!
//! # Durability contract
//!
//! Code above this trait may rely on exactly this, and nothing more:
//!
//! - File data is durable up to the length it had at the last
//!   [`WritableFile::sync`]. Bytes appended after it may be lost, wholly or
//!   in part (a torn tail), on a power loss.
//! - A directory entry made by [`Fs::create`], [`Fs::rename`],
//!   [`Fs::hard_link`] or [`Fs::remove`] is durable once [`Fs::sync_dir`] of
//!   its parent directory has run after it. A file whose creation is not durable may vanish on a
//!   power loss even if its data was synced.
//! - [`Fs::truncate`] and [`Fs::create_dir_all`] are durable when they
//!   return.
//!
//! # Errors
//!
//! Every fallible method returns [`std::io::Result`]; errors name the
//! operation and the path. Injected faults are ordinary [`io::Error`]s too
//! (see [`FaultFs`](crate::FaultFs)), so the code above has one error path
//! to handle.

use std::fmt::Debug;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A filesystem: files, directories and their durability.
///
/// Object-safe; lsmkit crates hold one as `Arc<dyn Fs>`. Implementations are
/// shared between threads, and every method may be called concurrently.
pub trait Fs: Send + Sync + Debug + 'static {
    /// Creates a file for appending, replacing any file at `path`.
    ///
    /// The parent directory must exist. The new entry is durable once the
    /// parent is synced with [`Fs::sync_dir`]. REQUIRES: no
    /// [`RandomAccessFile`] or [`WritableFile`] of an existing file at
    /// `path` is open (a memory map of a file truncated under it faults on
    /// access, and `StdFs` maps a writer's preallocated space).
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;

    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;

    /// Opens an existing file for positional reads.
    ///
    /// The reader sees the file as it is when opened: its [`len`] is fixed,
    /// and bytes appended later are not visible through it. Open readers on
    /// files that are immutable (tables, a WAL being recovered).
    ///
    /// [`len`]: RandomAccessFile::len
    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>>;

    /// Opens a file that a writer may still be changing (a live WAL
    /// segment, whose preallocated space the writer fills in place) for
    /// positional reads that copy the bytes as they are at each read, never
    /// through a memory map: a map's bytes would change under the reader.
    /// Its length is fixed at the open, as for [`open`](Fs::open); a read
    /// of a range being written may see part of the write, and bytes past
    /// the file's end, if the writer cut it shorter since (giving back its
    /// reserve, [`WritableFile::release_reserve`]), read as zeros.
    ///
    /// The default opens with [`open`](Fs::open), right for a filesystem
    /// whose readers are snapshots.
    fn open_unmapped(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.open(path)
    }

    /// Renames the file `from` to `to`, atomically replacing any file at
    /// `to`.
    ///
    /// Durable once the parent directories of both are synced with
    /// [`Fs::sync_dir`]. REQUIRES: `from` names a file, not a directory.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Makes `to` a second name of the file `from` (a hard link): both
    /// names then read the same bytes, and removing one leaves the other.
    ///
    /// Fails with [`io::ErrorKind::AlreadyExists`] if `to` exists. The new
    /// entry is durable once the parent of `to` is synced with
    /// [`Fs::sync_dir`]; the file's data is as durable as it was under
    /// `from`. Where links cannot be made (across filesystems, or a
    /// filesystem without them) it fails, and callers copy instead; the
    /// default implementation always fails with
    /// [`io::ErrorKind::Unsupported`]. REQUIRES: `from` names a file that
    /// no one writes to any more (tables), since writes through either
    /// name change both.
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let _ = from;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("hard_link {}: links are not supported", to.display()),
        ))
    }

    /// Removes the file at `path`.
    ///
    /// Open readers and writers keep working on the removed file. Durable
    /// once the parent is synced with [`Fs::sync_dir`].
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Sets the length of the file at `path`, durably, before it returns.
    ///
    /// Cutting a file shorter is the WAL's way to drop a torn tail; a longer
    /// length pads with zeros. REQUIRES: no [`RandomAccessFile`] or
    /// [`WritableFile`] of the file is open.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;

    /// The names of the entries (files and directories) directly inside
    /// `dir`, sorted bytewise.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;

    /// Creates `dir` and any missing parents, durably, before it returns.
    ///
    /// Succeeds if the directory exists already.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Makes the entries of `dir` durable: every create, rename, link and
    /// removal inside it that happened before the call survives a power loss.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Whether a file or directory exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// The length in bytes of the file at `path`.
    ///
    /// Counts bytes handed over by [`WritableFile::flush`] or
    /// [`WritableFile::sync`]; bytes still buffered in a writer are not
    /// counted.
    fn size(&self, path: &Path) -> io::Result<u64>;

    /// Takes an exclusive lock on the file at `path`, creating the file if
    /// it does not exist, so that two processes cannot open one database.
    ///
    /// The lock is released when the returned guard is dropped. While it is
    /// held, a second `lock` of the same path, from this process or
    /// another, fails with [`io::ErrorKind::WouldBlock`].
    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>>;
}

/// A file open for appending.
///
/// Appends may be buffered: they reach the filesystem (and become visible to
/// [`Fs::open`] and [`Fs::size`]) on [`flush`](WritableFile::flush),
/// [`sync`](WritableFile::sync) or drop. Dropping a writer flushes it and
/// ignores any error; call `flush` or `sync` first to see errors.
///
/// After a failed call, what the file holds past its last successful `sync`
/// is unspecified (as after a failed `fsync` on Linux): callers keep the
/// first error and stop writing the file, as the table builder and the WAL
/// do.
pub trait WritableFile: Send + Sync + Debug {
    /// Appends `data` at the end of the file. May buffer.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;

    /// Hands buffered bytes to the filesystem. They survive a crash of the
    /// process, but not a power loss.
    fn flush(&mut self) -> io::Result<()>;

    /// Flushes, then makes the file's data durable (`fdatasync`): the bytes
    /// appended so far survive a power loss.
    fn sync(&mut self) -> io::Result<()>;

    /// Reserves the file's space up to `len` bytes, so that appends up to
    /// there write into space the file already has instead of growing it
    /// (a WAL preallocates so that each `fdatasync` need not also commit a
    /// new file size). Flushes first.
    ///
    /// The file's size on disk becomes `len` at once: readers and
    /// [`Fs::size`] see zeros past the bytes appended, and after a crash the
    /// reserved space reads as zeros wherever appends into it were not
    /// synced. [`len`](WritableFile::len) is unchanged, and appends go on
    /// from it, overwriting the zeros. A `len` at or below the file's size
    /// on disk does nothing.
    fn preallocate(&mut self, len: u64) -> io::Result<()>;

    /// Gives back the space reserved past the appended bytes: flushes, and
    /// cuts the file's size on disk to [`len`](WritableFile::len). Durable
    /// at the next [`sync`](WritableFile::sync). A writer closing a file
    /// it preallocated calls it so that the file ends where its data does.
    fn release_reserve(&mut self) -> io::Result<()>;

    /// The file's length including every byte appended so far (buffered or
    /// not).
    fn len(&self) -> u64;

    /// Whether the file is empty, counting buffered bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A file open for positional reads, shared between threads.
///
/// Its length is fixed when it is opened (see [`Fs::open`]).
pub trait RandomAccessFile: Send + Sync + Debug {
    /// Fills `buf` with the bytes at `offset..offset + buf.len()`.
    ///
    /// Fails with [`io::ErrorKind::UnexpectedEof`] if that range reaches
    /// past [`len`](RandomAccessFile::len); `buf` is then unspecified.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// The file's length when it was opened.
    fn len(&self) -> u64;

    /// Whether the file was empty when it was opened.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole file as one slice, when the implementation can give it
    /// without copying (a memory map, an in-memory snapshot), so that
    /// readers can avoid copies. `None` otherwise: callers must then use
    /// [`read_at`](RandomAccessFile::read_at).
    fn as_bytes(&self) -> Option<&[u8]> {
        None
    }
}

/// An exclusive lock taken by [`Fs::lock`], released when dropped.
pub trait FileLock: Send + Sync + Debug {}
