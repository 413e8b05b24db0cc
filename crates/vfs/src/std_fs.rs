//! [`StdFs`]: the real filesystem, through `std::fs`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{failed, failed_with, is_a_directory};
use crate::{FileLock, Fs, Op, RandomAccessFile, WritableFile};

/// Appends smaller than this are gathered before they reach the OS.
const WRITE_BUFFER: usize = 64 * 1024;

/// The real filesystem.
///
/// Writers buffer up to 64 KiB. Readers ([`Fs::open`]) serve reads from a
/// memory map when the `mmap` feature is on (the default) and
/// [`StdFs::without_mmap`] was not asked for, and from positional reads
/// otherwise.
///
/// # The memory-map caveat
///
/// A memory map is only as stable as the file under it. If the file is
/// truncated while a reader maps it — by this process ([`Fs::truncate`],
/// [`Fs::create`] over it) or by anyone else — reading the lost pages kills
/// the process with `SIGBUS`. lsmkit maps only files that are never changed
/// after they are written (tables; a WAL while it is recovered), and the
/// [`Fs`] contract forbids truncating a file with open readers; a database
/// directory shared with other writers is not supported. Use
/// [`StdFs::without_mmap`] where that cannot be promised.
#[derive(Clone, Copy, Debug)]
pub struct StdFs {
    mmap: bool,
}

impl StdFs {
    /// The real filesystem, memory-mapping readers if the `mmap` feature is
    /// on.
    pub fn new() -> StdFs {
        StdFs {
            mmap: cfg!(feature = "mmap"),
        }
    }

    /// The real filesystem, reading with positional reads only.
    pub fn without_mmap() -> StdFs {
        StdFs { mmap: false }
    }

    /// Whether readers from [`Fs::open`] are memory maps.
    pub fn maps_readers(&self) -> bool {
        self.mmap
    }
}

impl Default for StdFs {
    fn default() -> StdFs {
        StdFs::new()
    }
}

impl Fs for StdFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = File::create(path).map_err(|e| failed(Op::Create, path, e))?;
        Ok(Box::new(StdWritableFile::new(path, file, 0)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let open = || -> io::Result<(File, u64)> {
            let file = OpenOptions::new().append(true).open(path)?;
            let len = file.metadata()?.len();
            Ok((file, len))
        };
        let (file, len) = open().map_err(|e| failed(Op::OpenAppend, path, e))?;
        Ok(Box::new(StdWritableFile::new(path, file, len)))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let file = File::open(path).map_err(|e| failed(Op::Open, path, e))?;
        let metadata = file.metadata().map_err(|e| failed(Op::Open, path, e))?;
        if metadata.is_dir() {
            return Err(is_a_directory(Op::Open, path));
        }
        let len = metadata.len();
        #[cfg(feature = "mmap")]
        if self.mmap && len > 0 {
            return map::MappedFile::new(path, &file).map(|mapped| Arc::new(mapped) as _);
        }
        Ok(Arc::new(PositionalFile {
            path: path.to_path_buf(),
            file,
            len,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to).map_err(|e| failed(Op::Rename, from, e))
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::hard_link(from, to).map_err(|e| failed(Op::HardLink, to, e))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path).map_err(|e| failed(Op::Remove, path, e))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let cut = || -> io::Result<()> {
            let file = OpenOptions::new().write(true).open(path)?;
            file.set_len(len)?;
            file.sync_all()
        };
        cut().map_err(|e| failed(Op::Truncate, path, e))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let read = || -> io::Result<Vec<String>> {
            let mut names = Vec::new();
            for entry in fs::read_dir(dir)? {
                let name = entry?.file_name().into_string().map_err(|name| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("entry name {name:?} is not UTF-8"),
                    )
                })?;
                names.push(name);
            }
            names.sort_unstable();
            Ok(names)
        };
        read().map_err(|e| failed(Op::List, dir, e))
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        // The directories that are missing now are the ones whose entries
        // must be made durable in their parents.
        let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        fs::create_dir_all(dir).map_err(|e| failed(Op::CreateDir, dir, e))?;
        for created in missing.iter().rev() {
            if let Some(parent) = created.parent() {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                sync_dir(parent).map_err(|e| failed(Op::CreateDir, dir, e))?;
            }
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        sync_dir(dir).map_err(|e| failed(Op::SyncDir, dir, e))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        fs::exists(path).map_err(|e| failed(Op::Exists, path, e))
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        let metadata = fs::metadata(path).map_err(|e| failed(Op::Size, path, e))?;
        if metadata.is_dir() {
            return Err(is_a_directory(Op::Size, path));
        }
        Ok(metadata.len())
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn FileLock>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| failed(Op::Lock, path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(StdFileLock { _file: file })),
            Err(fs::TryLockError::WouldBlock) => Err(failed_with(
                Op::Lock,
                path,
                io::ErrorKind::WouldBlock,
                "locked by another holder",
            )),
            Err(fs::TryLockError::Error(e)) => Err(failed(Op::Lock, path, e)),
        }
    }
}

/// Fsyncs a directory, so that the entries created, renamed or removed in it
/// survive a power loss.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows makes directory entries durable with the file's own metadata and
/// cannot open a directory as a file without extra flags; checking that the
/// directory exists keeps the observable behaviour.
#[cfg(not(unix))]
fn sync_dir(dir: &Path) -> io::Result<()> {
    if fs::metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ))
    }
}

/// A buffered appender on a real file.
#[derive(Debug)]
struct StdWritableFile {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    len: u64,
}

impl StdWritableFile {
    fn new(path: &Path, file: File, len: u64) -> StdWritableFile {
        StdWritableFile {
            path: path.to_path_buf(),
            file,
            buf: Vec::new(),
            len,
        }
    }

    fn write_buffer(&mut self, op: Op) -> io::Result<()> {
        if !self.buf.is_empty() {
            let written = self.file.write_all(&self.buf);
            // On a failed write the OS may hold part of the buffer; what it
            // holds is unknown either way, so drop it rather than write it
            // twice on a retry.
            self.buf.clear();
            written.map_err(|e| failed(op, &self.path, e))?;
        }
        Ok(())
    }
}

impl WritableFile for StdWritableFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() > WRITE_BUFFER {
            self.write_buffer(Op::Append)?;
        }
        if data.len() >= WRITE_BUFFER {
            self.file
                .write_all(data)
                .map_err(|e| failed(Op::Append, &self.path, e))?;
        } else {
            self.buf.extend_from_slice(data);
        }
        self.len += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_buffer(Op::Flush)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.write_buffer(Op::Sync)?;
        self.file
            .sync_data()
            .map_err(|e| failed(Op::Sync, &self.path, e))
    }

    fn len(&self) -> u64 {
        self.len
    }
}

impl Drop for StdWritableFile {
    fn drop(&mut self) {
        // Like `BufWriter`: a drop flushes, and has nowhere to report errors.
        let _ = self.write_buffer(Op::Flush);
    }
}

/// A reader by positional reads (`pread`).
#[derive(Debug)]
struct PositionalFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl RandomAccessFile for PositionalFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(&self.path, offset, buf.len(), self.len)?;
        read_exact_at(&self.file, offset, buf).map_err(|e| failed(Op::Read, &self.path, e))
    }

    fn len(&self) -> u64 {
        self.len
    }
}

/// Fills `buf` from `bytes` at `offset`, as `RandomAccessFile::read_at`
/// does for readers that hold the whole file in memory.
pub(crate) fn read_from_slice(
    path: &Path,
    bytes: &[u8],
    offset: u64,
    buf: &mut [u8],
) -> io::Result<()> {
    check_range(path, offset, buf.len(), bytes.len() as u64)?;
    // In range by the check above, which also bounds offset by the length.
    let start = offset as usize;
    buf.copy_from_slice(&bytes[start..start + buf.len()]);
    Ok(())
}

/// Fails with `UnexpectedEof` unless `offset..offset + n` lies within `len`.
fn check_range(path: &Path, offset: u64, n: usize, len: u64) -> io::Result<()> {
    match offset.checked_add(n as u64) {
        Some(end) if end <= len => Ok(()),
        _ => Err(failed(
            Op::Read,
            path,
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read of {n} bytes at offset {offset} past the end ({len} bytes)"),
            ),
        )),
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The lock guard: closing the file releases the OS lock.
#[derive(Debug)]
struct StdFileLock {
    _file: File,
}

impl FileLock for StdFileLock {}

#[cfg(feature = "mmap")]
mod map {
    //! The memory-mapped reader: the one place this crate uses `unsafe`.
    #![allow(unsafe_code)]

    use std::fs::File;
    use std::io;
    use std::path::{Path, PathBuf};

    use memmap2::Mmap;

    use super::read_from_slice;
    use crate::error::failed;
    use crate::{Op, RandomAccessFile};

    /// A reader over a read-only memory map of the whole file.
    #[derive(Debug)]
    pub(super) struct MappedFile {
        path: PathBuf,
        map: Mmap,
    }

    impl MappedFile {
        /// REQUIRES: the file is not empty (an empty map is an error on some
        /// platforms).
        pub(super) fn new(path: &Path, file: &File) -> io::Result<MappedFile> {
            // SAFETY: `Mmap::map` is unsafe because the map's bytes change,
            // or vanish with SIGBUS, if the file is modified or truncated
            // while mapped, which Rust's `&[u8]` cannot express. The `Fs`
            // contract forbids creating over or truncating a file while a
            // reader of it is open, and lsmkit opens readers only on files
            // it no longer writes (tables, a WAL under recovery). Changes by
            // other processes are outside the contract, as the `StdFs` docs
            // and the crate docs say.
            let map = unsafe { Mmap::map(file) }.map_err(|e| failed(Op::Open, path, e))?;
            Ok(MappedFile {
                path: path.to_path_buf(),
                map,
            })
        }
    }

    impl RandomAccessFile for MappedFile {
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            read_from_slice(&self.path, &self.map, offset, buf)
        }

        fn len(&self) -> u64 {
            self.map.len() as u64
        }

        fn as_bytes(&self) -> Option<&[u8]> {
            Some(&self.map)
        }
    }
}
