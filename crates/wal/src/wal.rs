//! [`Wal`]: a log split into numbered segment files in one directory, with
//! a sync policy, rotation and deletion of obsolete segments.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, FirstError};
use crate::format::{self, log_number, segment_file_name};
use crate::group_commit::{SyncGroup, lock};
use crate::log_writer::LogWriter;
use lsmkit_vfs::{Fs, WritableFile};

/// Where a record is: its segment, and the offset of its first fragment in
/// the segment file. Positions order as the records do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment's number.
    pub segment: u64,
    /// Byte offset within the segment file.
    pub offset: u64,
}

/// What [`Wal::append`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Where the record is.
    pub position: Position,
    /// The record's place in the log as this handle numbers it: recovered
    /// records are numbered from 0 in order, appended ones after them, one
    /// apart. Not stored on disk, so a log whose old segments were deleted
    /// numbers from 0 again when it is reopened.
    pub sequence: u64,
}

/// When appended records are made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// Every append syncs before it returns, holding the writer lock
    /// through the fsync: one fsync per record, appends strictly one at a
    /// time. The simplest policy, and the slowest.
    EveryAppend,
    /// Every append is durable when it returns, and concurrent appenders
    /// share fsyncs: one of them (the leader) syncs for all the records
    /// appended so far while the others wait for it, and appenders keep
    /// writing while it does.
    #[default]
    GroupCommit,
    /// Appends are handed to the operating system but not synced; the
    /// caller syncs with [`Wal::sync`] when it needs to (which is
    /// group-committed too), or the OS writes them when it likes.
    Never,
    /// Appends stay in the segment writer's buffer (RocksDB's
    /// `manual_wal_flush`): they are handed to the operating system when
    /// the buffer fills, at [`Wal::flush`], at [`Wal::sync`] and when a
    /// segment closes. This saves a `write(2)` per record, at a price: a
    /// crash of the *process* (not only of the machine) may lose the
    /// records still buffered. (Where the segment writer copies records
    /// into a memory map of its reserve, as lsmkit-vfs's `StdFs` does on
    /// Linux, nothing waits in a buffer, and this changes nothing.)
    Buffered,
}

/// How a [`Wal`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment that has reached this many bytes is closed (synced) and
    /// the next append goes to a new one. A record is never split between
    /// segments, so a segment may exceed this by one record.
    pub segment_size: u64,
    /// When appends are made durable.
    pub sync: SyncPolicy,
    /// Space reserved ahead of the writer, in bytes
    /// ([`WritableFile::preallocate`]); `0` reserves none. When a record
    /// would pass the reserved end, the segment is grown to hold it and this
    /// much more, but not past `segment_size` (nor past the end of the
    /// record that takes a segment over it).
    ///
    /// Appends into reserved space do not change the file's size, so their
    /// syncs need not commit one: on ext4 this took `fdatasync`s of small
    /// records from about 8,500 to 12,000 a second. A crash leaves the
    /// unfilled reservation as zeros at the end of the segment, which
    /// readers take for its end ([`LogReport::zero_tail`](crate::LogReport)).
    pub preallocate: u64,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions {
            segment_size: 64 << 20,
            sync: SyncPolicy::default(),
            preallocate: 1 << 20,
        }
    }
}

/// A write-ahead log: records appended to numbered segment files in one
/// directory, made durable by the [`SyncPolicy`], read back in order by a
/// [`WalReader`](crate::WalReader).
///
/// Open one with [`WalReader::into_wal`](crate::WalReader::into_wal) after
/// reading what the directory holds; the writer continues in a new segment
/// after the last good record.
///
/// # Concurrency
///
/// `Wal` is `Send + Sync`; every method takes `&self`, so threads share it
/// through an `Arc`. Appends are serialized by an internal lock and numbered
/// in the order they take it. Under [`SyncPolicy::GroupCommit`] (and for
/// [`Wal::sync`]) the fsync runs outside that lock.
///
/// # Errors stick
///
/// Once a write, sync or rotation has failed, the log on disk holds an
/// unknown prefix of what was asked, so the writer refuses every later
/// append and sync with the error that stopped it. Reopen the directory
/// (recovery then decides what survived) to write again.
pub struct Wal {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: WalOptions,
    writer: Mutex<Writer>,
    group: SyncGroup,
}

/// The state appends change, under the writer lock.
struct Writer {
    log: LogWriter,
    segment: u64,
    /// A second handle on the current segment, used only to sync it, so
    /// that a group-commit leader syncs without holding the writer lock.
    syncer: Arc<Mutex<Box<dyn WritableFile>>>,
    next_sequence: u64,
    /// Live segments, the current one included.
    segments: BTreeSet<u64>,
    /// The current segment's preallocated size.
    reserved: u64,
    failed: FirstError,
}

impl Writer {
    fn check(&self) -> Result<(), Error> {
        self.failed.check()
    }

    fn stick<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        self.failed.stick(result)
    }
}

impl Wal {
    /// Starts segment `segment` in `dir` after the segments `live`, which
    /// recovery has left complete, numbering appends from `next_sequence`.
    pub(crate) fn start(
        fs: Arc<dyn Fs>,
        dir: PathBuf,
        options: WalOptions,
        live: BTreeSet<u64>,
        segment: u64,
        next_sequence: u64,
    ) -> Result<Wal, Error> {
        let (log, syncer) = open_segment(&*fs, &dir, segment)?;
        let mut segments = live;
        segments.insert(segment);
        Ok(Wal {
            writer: Mutex::new(Writer {
                log,
                segment,
                syncer,
                next_sequence,
                segments,
                reserved: 0,
                failed: FirstError::default(),
            }),
            group: SyncGroup::new(next_sequence),
            fs,
            dir,
            options,
        })
    }

    /// Appends `record` (any bytes, any length), returning where it is and
    /// its sequence. Durable on return unless the policy is
    /// [`SyncPolicy::Never`].
    pub fn append(&self, record: &[u8]) -> Result<Appended, Error> {
        let appended = {
            let mut writer = lock(&self.writer);
            writer.check()?;
            self.reserve(&mut writer, record.len())?;
            let written = writer.log.add_record(record);
            let offset = writer.stick(written)?;
            let handed_on = match self.options.sync {
                SyncPolicy::EveryAppend => writer.log.sync(),
                SyncPolicy::GroupCommit | SyncPolicy::Never => writer.log.flush(),
                SyncPolicy::Buffered => Ok(()),
            };
            writer.stick(handed_on)?;
            let appended = Appended {
                position: Position {
                    segment: writer.segment,
                    offset,
                },
                sequence: writer.next_sequence,
            };
            writer.next_sequence += 1;
            if self.options.sync == SyncPolicy::EveryAppend {
                self.group.mark_durable(writer.next_sequence);
            }
            if writer.log.len() >= self.options.segment_size {
                self.rotate(&mut writer)?;
            }
            appended
        };
        if self.options.sync == SyncPolicy::GroupCommit {
            self.sync_through(appended.sequence + 1)?;
        }
        Ok(appended)
    }

    /// Hands every buffered record to the operating system (see
    /// [`SyncPolicy::Buffered`]; under the other policies there is none):
    /// they then survive a crash of the process, not of the machine.
    pub fn flush(&self) -> Result<(), Error> {
        let mut writer = lock(&self.writer);
        writer.check()?;
        let flushed = writer.log.flush();
        writer.stick(flushed)
    }

    /// Makes every record appended so far durable. Concurrent callers (and
    /// appenders under [`SyncPolicy::GroupCommit`]) share one fsync.
    pub fn sync(&self) -> Result<(), Error> {
        let target = {
            let writer = lock(&self.writer);
            writer.check()?;
            writer.next_sequence
        };
        self.sync_through(target)
    }

    fn sync_through(&self, target: u64) -> Result<(), Error> {
        self.group.wait_durable(target, || {
            let (syncer, covered) = {
                let mut writer = lock(&self.writer);
                writer.check()?;
                if self.options.sync == SyncPolicy::Buffered {
                    // The records still buffered must reach the file the
                    // syncer syncs.
                    let flushed = writer.log.flush();
                    writer.stick(flushed)?;
                }
                (Arc::clone(&writer.syncer), writer.next_sequence)
            };
            // Every record below `covered` was flushed to this segment or
            // to one that rotation synced before this one was created.
            let result = lock(&syncer).sync().map_err(Error::from);
            if let Err(error) = &result {
                let mut writer = lock(&self.writer);
                writer.failed.keep(error);
            }
            result.map(|()| covered)
        })
    }

    /// Grows the current segment's reservation, if a record of `len` bytes
    /// could pass its end.
    fn reserve(&self, writer: &mut Writer, len: usize) -> Result<(), Error> {
        let ahead = self.options.preallocate;
        if ahead == 0 {
            return Ok(());
        }
        let end = writer
            .log
            .len()
            .saturating_add(format::max_encoded_len(len));
        if end <= writer.reserved {
            return Ok(());
        }
        let target = end
            .saturating_add(ahead)
            .min(self.options.segment_size.max(end));
        let grown = writer.log.preallocate(target);
        writer.stick(grown)?;
        writer.reserved = target;
        Ok(())
    }

    /// Closes the current segment (syncing it, so that every segment but
    /// the newest is complete on disk) and starts the next one.
    fn rotate(&self, writer: &mut Writer) -> Result<(), Error> {
        // The closed segment ends where its records do, so that zeros at
        // the end of any segment but the newest are damage to readers.
        let released = writer.log.release_reserve();
        writer.stick(released)?;
        let synced = writer.log.sync();
        writer.stick(synced)?;
        let next = writer
            .segment
            .checked_add(1)
            .ok_or_else(|| Error::SegmentNumbersExhausted {
                dir: self.dir.clone(),
                last: writer.segment,
            });
        let next = writer.stick(next)?;
        let opened = open_segment(&*self.fs, &self.dir, next);
        let (log, syncer) = writer.stick(opened)?;
        writer.log = log;
        writer.syncer = syncer;
        writer.reserved = 0;
        writer.segment = next;
        writer.segments.insert(next);
        self.group.mark_durable(writer.next_sequence);
        Ok(())
    }

    /// Deletes the segments numbered below `segment` (never the current
    /// one), for when the caller no longer needs their records (they were
    /// flushed elsewhere). Returns the segments deleted.
    ///
    /// A failure here does not stop the writer: a segment that could not
    /// be deleted is read again by the next recovery.
    pub fn remove_segments_before(&self, segment: u64) -> Result<Vec<u64>, Error> {
        let doomed: Vec<u64> = {
            let mut writer = lock(&self.writer);
            let below = segment.min(writer.segment);
            let doomed: Vec<u64> = writer.segments.range(..below).copied().collect();
            for number in &doomed {
                writer.segments.remove(number);
            }
            doomed
        };
        if doomed.is_empty() {
            return Ok(doomed);
        }
        for &number in &doomed {
            self.fs.remove(&segment_path(&self.dir, number))?;
        }
        self.fs.sync_dir(&self.dir)?;
        Ok(doomed)
    }

    /// The live segments, oldest first; the last is being written.
    pub fn segments(&self) -> Vec<u64> {
        lock(&self.writer).segments.iter().copied().collect()
    }

    /// The segment being written.
    pub fn current_segment(&self) -> u64 {
        lock(&self.writer).segment
    }

    /// The sequence the next append will get.
    pub fn next_sequence(&self) -> u64 {
        lock(&self.writer).next_sequence
    }

    /// The error that stopped the writer, if one did.
    pub fn error(&self) -> Option<Error> {
        lock(&self.writer).failed.get().cloned()
    }

    /// The directory of the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of segment `segment`.
    pub fn segment_path(&self, segment: u64) -> PathBuf {
        segment_path(&self.dir, segment)
    }
}

impl fmt::Debug for Wal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let writer = lock(&self.writer);
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .field("segment", &writer.segment)
            .field("next_sequence", &writer.next_sequence)
            .field("failed", &writer.failed.get())
            .finish_non_exhaustive()
    }
}

/// The path of segment `segment` in `dir`.
pub(crate) fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(segment_file_name(segment))
}

/// A segment's writer and its sync handle.
type OpenedSegment = (LogWriter, Arc<Mutex<Box<dyn WritableFile>>>);

/// Creates segment `segment` durably (its directory entry synced) and
/// opens its writer and its sync handle.
fn open_segment(fs: &dyn Fs, dir: &Path, segment: u64) -> Result<OpenedSegment, Error> {
    let path = segment_path(dir, segment);
    let file = fs.create(&path)?;
    fs.sync_dir(dir)?;
    let syncer = fs.open_append(&path)?;
    Ok((
        LogWriter::new(file, log_number(segment)),
        Arc::new(Mutex::new(syncer)),
    ))
}
