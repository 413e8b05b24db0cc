//! [`StdFs`]: the real filesystem, through `std::fs`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
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
/// otherwise. Under the same conditions, on Linux, space a writer reserves
/// with [`WritableFile::preallocate`] is allocated with `fallocate` and
/// appends into it are copied through a shared memory map instead of a
/// `write(2)` each; elsewhere `preallocate` grows the file sparsely.
///
/// # The memory-map caveat
///
/// A memory map is only as stable as the file under it. If the file is
/// truncated while a reader maps it — by this process ([`Fs::truncate`],
/// [`Fs::create`] over it) or by anyone else — reading the lost pages kills
/// the process with `SIGBUS`. lsmkit maps for reading only files that no
/// writer changes any more (tables; a WAL recovered after its writer
/// closed); a file a writer may still be filling is read through
/// [`Fs::open_unmapped`], by copies. The [`Fs`] contract forbids truncating
/// a file with open readers; a database directory shared with other
/// writers is not supported. The same holds for a writer's map of its
/// reserve: the contract forbids truncating or re-creating a file with an
/// open writer, and the reserve is allocated before it is mapped, on ext4,
/// XFS and tmpfs only (a copy-on-write filesystem allocates again at the
/// page fault, and gets `pwrite`s instead), so that a full disk is an
/// error at `preallocate` rather than a `SIGBUS` at a page fault. An I/O
/// error reading back a mapped page is a `SIGBUS` too, for readers and
/// writers alike. Use [`StdFs::without_mmap`] where that cannot be
/// accepted.
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

    /// The real filesystem, reading with positional reads and writing with
    /// positional writes only.
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
        // Readable too: a shared writable map of the reserve needs it.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| failed(Op::Create, path, e))?;
        Ok(Box::new(StdWritableFile::new(path, file, 0, self.mmap)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let open = || -> io::Result<(File, u64)> {
            // Not `O_APPEND`, which would make every write land at the end
            // of the file, past space `preallocate` reserved: the writer's
            // own position says where the next append goes.
            let mut file = OpenOptions::new().read(true).write(true).open(path)?;
            let len = file.seek(SeekFrom::End(0))?;
            Ok((file, len))
        };
        let (file, len) = open().map_err(|e| failed(Op::OpenAppend, path, e))?;
        Ok(Box::new(StdWritableFile::new(path, file, len, self.mmap)))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let (file, len) = open_for_reading(path)?;
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

    fn open_unmapped(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let (file, len) = open_for_reading(path)?;
        Ok(Arc::new(LiveFile(PositionalFile {
            path: path.to_path_buf(),
            file,
            len,
        })))
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

/// Opens the file at `path` for reading, with its length; a directory is
/// an error.
fn open_for_reading(path: &Path) -> io::Result<(File, u64)> {
    let file = File::open(path).map_err(|e| failed(Op::Open, path, e))?;
    let metadata = file.metadata().map_err(|e| failed(Op::Open, path, e))?;
    if metadata.is_dir() {
        return Err(is_a_directory(Op::Open, path));
    }
    Ok((file, metadata.len()))
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

/// A buffered appender on a real file. Writes are positional: the
/// buffered bytes go at `len - buf.len()`, wherever the file's cursor is.
///
/// With the `mmap` feature on Linux, space reserved by `preallocate` is
/// allocated (`fallocate`) and mapped, and appends into it are copied into
/// the map: no system call per append, and the bytes are in the page cache,
/// so they survive a crash of the process, as after a `write(2)`.
#[derive(Debug)]
struct StdWritableFile {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    len: u64,
    /// The file's size on disk as far as this writer made it: at least
    /// what was handed over, more after `preallocate`.
    size: u64,
    /// Whether preallocated space is written through a memory map.
    #[cfg_attr(not(all(feature = "mmap", target_os = "linux")), allow(dead_code))]
    map_writes: bool,
    /// The mapped reserve appends are copied into, while it has room.
    #[cfg(all(feature = "mmap", target_os = "linux"))]
    window: Option<map::Window>,
}

impl StdWritableFile {
    fn new(path: &Path, file: File, len: u64, map_writes: bool) -> StdWritableFile {
        StdWritableFile {
            path: path.to_path_buf(),
            file,
            buf: Vec::new(),
            len,
            size: len,
            map_writes,
            #[cfg(all(feature = "mmap", target_os = "linux"))]
            window: None,
        }
    }

    fn write_buffer(&mut self, op: Op) -> io::Result<()> {
        if !self.buf.is_empty() {
            let at = self.len - self.buf.len() as u64;
            let written = write_all_at(&self.file, at, &self.buf);
            // On a failed write the OS may hold part of the buffer; what it
            // holds is unknown either way, so drop it rather than write it
            // twice on a retry.
            self.buf.clear();
            written.map_err(|e| failed(op, &self.path, e))?;
        }
        Ok(())
    }

    /// Copies what fits of `data` into the mapped reserve, returning the
    /// rest. The window closes once an append does not fit it.
    #[cfg(all(feature = "mmap", target_os = "linux"))]
    fn append_mapped<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let Some(window) = &mut self.window else {
            return data;
        };
        let copied = window.copy_at(self.len, data);
        self.len += copied as u64;
        if copied < data.len() {
            self.window = None;
        }
        &data[copied..]
    }

    #[cfg(not(all(feature = "mmap", target_os = "linux")))]
    fn append_mapped<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        data
    }

    /// Unmaps the reserve, if it is mapped.
    fn close_window(&mut self) {
        #[cfg(all(feature = "mmap", target_os = "linux"))]
        {
            self.window = None;
        }
    }

    /// Allocates the file's space up to `len` and, where that is safe,
    /// maps what lies past the appended bytes; `false` where the
    /// filesystem cannot allocate ahead (nothing changed then).
    #[cfg(all(feature = "mmap", target_os = "linux"))]
    fn reserve_mapped(&mut self, len: u64) -> io::Result<bool> {
        if !self.map_writes {
            return Ok(false);
        }
        // Allocated blocks, not a hole: on ext4, XFS and tmpfs a page fault
        // in the map then needs no space the disk may not have, which
        // would be a SIGBUS rather than an error. (Mapped writes into a
        // hole also measured ten times slower here: every first touch of a
        // page reserves a block.)
        if !map::allocate(&self.file, self.len, len)
            .map_err(|e| failed(Op::Preallocate, &self.path, e))?
        {
            self.map_writes = false;
            return Ok(false);
        }
        self.size = len;
        self.window = None;
        // A copy-on-write filesystem (btrfs) allocates again at the fault,
        // and may fail there: appends into its reserve go by `pwrite`,
        // whose errors are errors. So do they if the map cannot be made.
        let window = if map::allocation_holds(&self.file) {
            map::Window::new(&self.file, self.len, len).ok()
        } else {
            None
        };
        self.window = window;
        Ok(true)
    }

    #[cfg(not(all(feature = "mmap", target_os = "linux")))]
    fn reserve_mapped(&mut self, _len: u64) -> io::Result<bool> {
        Ok(false)
    }
}

impl WritableFile for StdWritableFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let data = self.append_mapped(data);
        if data.is_empty() {
            return Ok(());
        }
        if self.buf.len() + data.len() > WRITE_BUFFER {
            self.write_buffer(Op::Append)?;
        }
        if data.len() >= WRITE_BUFFER {
            write_all_at(&self.file, self.len, data)
                .map_err(|e| failed(Op::Append, &self.path, e))?;
        } else {
            self.buf.extend_from_slice(data);
        }
        self.len += data.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Mapped bytes are in the page cache already.
        self.write_buffer(Op::Flush)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.write_buffer(Op::Sync)?;
        // On Linux `fdatasync` writes back the pages dirtied through a
        // shared map too (they are the file's page cache), so mapped
        // appends need no `msync` of their own.
        self.file
            .sync_data()
            .map_err(|e| failed(Op::Sync, &self.path, e))
    }

    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        self.write_buffer(Op::Preallocate)?;
        self.size = self.size.max(self.len);
        if len <= self.size {
            return Ok(());
        }
        if self.reserve_mapped(len)? {
            return Ok(());
        }
        // A sparse extension. For `fdatasync`s of small appends it measured
        // as fast as `fallocate` on ext4 (about 12,000 a second against
        // 8,500 for a file that grows with each).
        self.file
            .set_len(len)
            .map_err(|e| failed(Op::Preallocate, &self.path, e))?;
        self.size = len;
        Ok(())
    }

    fn release_reserve(&mut self) -> io::Result<()> {
        self.write_buffer(Op::Preallocate)?;
        self.close_window();
        if self.size > self.len {
            self.file
                .set_len(self.len)
                .map_err(|e| failed(Op::Preallocate, &self.path, e))?;
        }
        self.size = self.len;
        Ok(())
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
pub(crate) fn check_range(path: &Path, offset: u64, n: usize, len: u64) -> io::Result<()> {
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

#[cfg(unix)]
fn write_all_at(file: &File, offset: u64, buf: &[u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut offset: u64, mut buf: &[u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_write(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(windows)]
fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    if read_up_to(file, offset, buf)? < buf.len() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// A reader of a file a writer may still change ([`Fs::open_unmapped`]):
/// positional reads, and zeros past the file's end where the writer cut
/// its reserve off since the open.
#[derive(Debug)]
struct LiveFile(PositionalFile);

impl RandomAccessFile for LiveFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let PositionalFile { path, file, len } = &self.0;
        check_range(path, offset, buf.len(), *len)?;
        let read = read_up_to(file, offset, buf).map_err(|e| failed(Op::Read, path, e))?;
        buf[read..].fill(0);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.0.len
    }
}

/// Reads into `buf` at `offset` until it is full or the file ends; returns
/// how many bytes it read.
fn read_up_to(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match read_once(file, offset + done as u64, &mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// One positional read: how many bytes it read, 0 at the end of the file.
#[cfg(unix)]
fn read_once(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_once(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
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

    /// A writable shared map of a file's reserved space, `start..end`.
    #[cfg(target_os = "linux")]
    #[derive(Debug)]
    pub(super) struct Window {
        start: u64,
        map: memmap2::MmapMut,
    }

    #[cfg(target_os = "linux")]
    impl Window {
        /// Maps `start..end` of `file`, which `allocate` reserved.
        pub(super) fn new(file: &File, start: u64, end: u64) -> io::Result<Window> {
            let len = usize::try_from(end - start).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "reserve too large to map")
            })?;
            // SAFETY: `map_mut` is unsafe because the mapped bytes are
            // shared with the file: another writer of the range, or a
            // truncation under the map (which turns accesses into SIGBUS),
            // would break Rust's aliasing and validity rules. The range is
            // past every byte this writer handed over, and `allocate`
            // reserved its blocks on a filesystem that writes them in place
            // (`allocation_holds`), so no fault needs new disk space. The
            // `Fs` contract forbids truncating or re-creating a file while a
            // writer of it is open; no other handle writes the range (the
            // WAL's second handle on a segment only syncs); and readers of a
            // file being written read it with `open_unmapped`, by copies.
            // An I/O error reading back a page of the range's first,
            // partly written page is still a SIGBUS, as it is for any
            // mapped read. Other processes changing the file are outside
            // the contract, as the `StdFs` docs say.
            let map = unsafe {
                memmap2::MmapOptions::new()
                    .offset(start)
                    .len(len)
                    .map_mut(file)
            }?;
            Ok(Window { start, map })
        }

        /// Copies what fits of `data` to file offset `at` (at or past
        /// `start`), returning how many bytes it copied.
        pub(super) fn copy_at(&mut self, at: u64, data: &[u8]) -> usize {
            let Some(from) = at
                .checked_sub(self.start)
                .and_then(|from| usize::try_from(from).ok())
                .filter(|&from| from <= self.map.len())
            else {
                return 0;
            };
            let n = data.len().min(self.map.len() - from);
            self.map[from..from + n].copy_from_slice(&data[..n]);
            n
        }
    }

    /// Whether blocks `allocate` reserved in `file` are written in place, so
    /// that a write fault in a map of them needs no new space: true of
    /// ext4, XFS and tmpfs (a freshly created file shares no extent), not
    /// of copy-on-write filesystems, nor of ones this does not know.
    #[cfg(target_os = "linux")]
    pub(super) fn allocation_holds(file: &File) -> bool {
        const EXT4: i64 = 0xEF53;
        const XFS: i64 = 0x5846_5342;
        const TMPFS: i64 = 0x0102_1994;
        // `f_type` is i64 on 64-bit Linux and narrower elsewhere.
        #[allow(clippy::useless_conversion)]
        rustix::fs::fstatfs(file)
            .is_ok_and(|stats| matches!(i64::from(stats.f_type), EXT4 | XFS | TMPFS))
    }

    /// Allocates `file`'s blocks for `start..end`, growing it to `end`;
    /// `false` if the filesystem cannot (then nothing changed).
    #[cfg(target_os = "linux")]
    pub(super) fn allocate(file: &File, start: u64, end: u64) -> io::Result<bool> {
        use rustix::fs::{FallocateFlags, fallocate};
        match fallocate(file, FallocateFlags::empty(), start, end - start) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::OPNOTSUPP) => Ok(false),
            Err(errno) => Err(errno.into()),
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
