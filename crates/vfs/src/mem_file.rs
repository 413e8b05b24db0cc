//! The files of [`MemFs`](crate::MemFs): an inode with its durable length,
//! and the writer, reader and lock handles on it.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::std_fs::{check_range, read_from_slice};
use crate::{FileLock, RandomAccessFile, WritableFile};

/// Locks a mutex, ignoring poisoning: every critical section here leaves
/// the state consistent before anything can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The contents of one file, shared by the directory entries that name it
/// and the writers open on it.
pub(crate) type InodeRef = Arc<Mutex<Inode>>;

/// One file's bytes and how many of them are durable.
pub(crate) struct Inode {
    /// The flushed bytes. Readers hold clones of the `Arc` as their
    /// snapshot; a flush copies the bytes first if a reader shares them.
    pub(crate) data: Arc<Vec<u8>>,
    /// `data[..synced_len]` survives a crash.
    pub(crate) synced_len: usize,
    /// Space preallocated past `data`, up to this size, reads as zeros. It
    /// is kept apart from `data`, as a filesystem keeps unwritten extents,
    /// so that a crash turns unsynced appends into it back into zeros.
    pub(crate) reserved: u64,
    /// The reservation that survives a crash: `reserved` at the last sync.
    pub(crate) synced_reserved: u64,
    /// Calls of `WritableFile::sync` on this file.
    pub(crate) syncs: u64,
    /// One clone per open reader, so that truncation under a reader (which
    /// would fault a real memory map) is caught.
    pub(crate) readers: Arc<()>,
}

impl Inode {
    /// A file holding `data`, all of it durable.
    pub(crate) fn durable(data: Vec<u8>) -> InodeRef {
        Arc::new(Mutex::new(Inode {
            synced_len: data.len(),
            data: Arc::new(data),
            reserved: 0,
            synced_reserved: 0,
            syncs: 0,
            readers: Arc::new(()),
        }))
    }

    pub(crate) fn has_readers(&self) -> bool {
        Arc::strong_count(&self.readers) > 1
    }

    /// The file's size: its bytes, and the zeros reserved past them.
    pub(crate) fn size(&self) -> u64 {
        (self.data.len() as u64).max(self.reserved)
    }
}

impl fmt::Debug for Inode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inode")
            .field("len", &self.data.len())
            .field("synced_len", &self.synced_len)
            .field("reserved", &self.reserved)
            .field("syncs", &self.syncs)
            .finish()
    }
}

/// A writer on an inode. Appends gather in `buf` until a flush.
#[derive(Debug)]
pub(crate) struct MemWritableFile {
    pub(crate) inode: InodeRef,
    pub(crate) buf: Vec<u8>,
    pub(crate) len: u64,
    /// The filesystem-wide count of file syncs.
    pub(crate) syncs: Arc<AtomicU64>,
    /// The path the writer was opened with, for the faults that match it.
    pub(crate) path: PathBuf,
    /// The filesystem's state, for its faults.
    pub(crate) state: Arc<Mutex<crate::mem_fs::State>>,
}

impl MemWritableFile {
    fn write_buffer(&mut self, inode: &mut Inode) {
        if !self.buf.is_empty() {
            Arc::make_mut(&mut inode.data).extend_from_slice(&self.buf);
            self.buf.clear();
        }
    }
}

impl WritableFile for MemWritableFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(data);
        self.len += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let inode = Arc::clone(&self.inode);
        self.write_buffer(&mut lock(&inode));
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        // Never held together with the inode's lock: the filesystem's
        // methods take it first.
        let lies = lock(&self.state).faults.loses_sync(&self.path);
        let inode = Arc::clone(&self.inode);
        let mut inode = lock(&inode);
        self.write_buffer(&mut inode);
        if !lies {
            inode.synced_len = inode.data.len();
            inode.synced_reserved = inode.reserved;
        }
        inode.syncs += 1;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        let inode = Arc::clone(&self.inode);
        let mut inode = lock(&inode);
        self.write_buffer(&mut inode);
        inode.reserved = inode.reserved.max(len);
        Ok(())
    }

    fn release_reserve(&mut self) -> io::Result<()> {
        let inode = Arc::clone(&self.inode);
        let mut inode = lock(&inode);
        self.write_buffer(&mut inode);
        inode.reserved = 0;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }
}

impl Drop for MemWritableFile {
    fn drop(&mut self) {
        let inode = Arc::clone(&self.inode);
        self.write_buffer(&mut lock(&inode));
    }
}

/// A reader: a snapshot of the inode's bytes at open time, and of its size
/// (past the bytes, reserved space reads as zeros).
pub(crate) struct MemRandomAccessFile {
    pub(crate) path: PathBuf,
    pub(crate) data: Arc<Vec<u8>>,
    pub(crate) len: u64,
    pub(crate) _reader: Arc<()>,
}

impl fmt::Debug for MemRandomAccessFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemRandomAccessFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

impl RandomAccessFile for MemRandomAccessFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let written = self.data.len() as u64;
        if offset.saturating_add(buf.len() as u64) <= written {
            return read_from_slice(&self.path, &self.data, offset, buf);
        }
        check_range(&self.path, offset, buf.len(), self.len)?;
        // Partly or wholly in the reserved zeros; `offset` is below `len`,
        // so the split point fits the buffer.
        let split = written.saturating_sub(offset) as usize;
        if split > 0 {
            read_from_slice(&self.path, &self.data, offset, &mut buf[..split])?;
        }
        buf[split..].fill(0);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        // Reserved zeros are not materialized, so only a file without them
        // is one slice.
        (self.len == self.data.len() as u64).then_some(&self.data[..])
    }
}

/// A held lock: removes itself from the table of locks when dropped, unless
/// a crash cleared the table and someone else took the lock since.
#[derive(Debug)]
pub(crate) struct MemFileLock {
    pub(crate) path: PathBuf,
    pub(crate) id: u64,
    pub(crate) table: Arc<Mutex<LockTable>>,
}

impl FileLock for MemFileLock {}

impl Drop for MemFileLock {
    fn drop(&mut self) {
        let mut table = lock(&self.table);
        if table.held.get(&self.path) == Some(&self.id) {
            table.held.remove(&self.path);
        }
    }
}

/// The locks held on a [`MemFs`](crate::MemFs), by path.
#[derive(Debug, Default)]
pub(crate) struct LockTable {
    pub(crate) held: std::collections::BTreeMap<PathBuf, u64>,
    pub(crate) next_id: u64,
}
