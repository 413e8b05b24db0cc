//! [`LogWriter`]: appends records to one log file in the block format of
//! [`format`](crate::format).

use crate::error::{Error, FirstError};
use crate::format::{self, BLOCK_SIZE, FragmentType, HEADER_SIZE};
use lsmkit_vfs::WritableFile;

/// Writes records to one file, fragmenting them over 32 KiB blocks.
///
/// This is the single-file record layer (LevelDB's `log::Writer`): the
/// segmented [`Wal`](crate::Wal) is built on it, and a manifest can use it
/// directly. Records are opaque bytes of any length, `0` included.
///
/// The first error sticks: once an append, flush or sync has failed, the
/// file holds an unknown prefix of what was asked, and every later call
/// returns that same error instead of writing after it.
#[derive(Debug)]
pub struct LogWriter {
    file: Box<dyn WritableFile>,
    log_number: u32,
    /// Bytes already used in the current block.
    block_offset: usize,
    failed: FirstError,
}

impl LogWriter {
    /// A writer appending to `file` (at its end, so an existing log can be
    /// continued), stamping fragments with `log_number`, which the reader
    /// must be given too.
    pub fn new(file: Box<dyn WritableFile>, log_number: u32) -> LogWriter {
        // The remainder is below BLOCK_SIZE, so it fits a usize.
        let block_offset = (file.len() % BLOCK_SIZE as u64) as usize;
        LogWriter {
            file,
            log_number,
            block_offset,
            failed: FirstError::default(),
        }
    }

    /// Appends `record`, returning the offset in the file where its first
    /// fragment starts. May buffer: call [`flush`](Self::flush) or
    /// [`sync`](Self::sync) to hand it on.
    pub fn add_record(&mut self, record: &[u8]) -> Result<u64, Error> {
        self.check()?;
        let result = self.write_fragments(record);
        self.stick(result)
    }

    fn write_fragments(&mut self, record: &[u8]) -> Result<u64, Error> {
        let mut start = None;
        let mut written = 0;
        let mut first = true;
        // Loops at least once, so that an empty record gets a FULL fragment.
        loop {
            let left_in_block = BLOCK_SIZE - self.block_offset;
            if left_in_block < HEADER_SIZE {
                const ZEROS: [u8; HEADER_SIZE] = [0; HEADER_SIZE];
                self.file.append(&ZEROS[..left_in_block])?;
                self.block_offset = 0;
            }
            let room = BLOCK_SIZE - self.block_offset - HEADER_SIZE;
            let len = room.min(record.len() - written);
            let payload = &record[written..written + len];
            let last = written + len == record.len();
            let ty = FragmentType::of_piece(first, last);
            first = false;
            start.get_or_insert(self.file.len());
            self.file
                .append(&format::encode_header(ty, self.log_number, payload))?;
            self.file.append(payload)?;
            self.block_offset += HEADER_SIZE + len;
            written += len;
            if last {
                // `start` was set on the first pass.
                return Ok(start.unwrap_or_default());
            }
        }
    }

    /// Hands buffered bytes to the filesystem (they then survive a crash of
    /// the process, not of the machine).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.check()?;
        let result = self.file.flush().map_err(Error::from);
        self.stick(result)
    }

    /// Makes every record added so far durable.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.check()?;
        let result = self.file.sync().map_err(Error::from);
        self.stick(result)
    }

    /// Reserves the file's space up to `len` bytes
    /// ([`WritableFile::preallocate`]): appends up to there then fill space
    /// the file has. A reader of a log that ends in reserved space takes
    /// the zeros for its end.
    pub fn preallocate(&mut self, len: u64) -> Result<(), Error> {
        self.check()?;
        let result = self.file.preallocate(len).map_err(Error::from);
        self.stick(result)
    }

    /// Gives back the space reserved past the records
    /// ([`WritableFile::release_reserve`]): the file then ends where they
    /// do, once synced. For a log being closed.
    pub fn release_reserve(&mut self) -> Result<(), Error> {
        self.check()?;
        let result = self.file.release_reserve().map_err(Error::from);
        self.stick(result)
    }

    /// The file's length, counting bytes not yet flushed.
    pub fn len(&self) -> u64 {
        self.file.len()
    }

    /// Whether nothing has been written to the file.
    pub fn is_empty(&self) -> bool {
        self.file.is_empty()
    }

    /// The log number stamped on every fragment.
    pub fn log_number(&self) -> u32 {
        self.log_number
    }

    /// The error that stopped this writer, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.failed.get()
    }

    /// The file, for the caller to close or keep.
    pub fn into_file(self) -> Box<dyn WritableFile> {
        self.file
    }

    fn check(&self) -> Result<(), Error> {
        self.failed.check()
    }

    fn stick<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        self.failed.stick(result)
    }
}
