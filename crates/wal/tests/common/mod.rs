//! Helpers shared by the integration tests: logs built in memory, files
//! served from byte vectors, and deterministic record contents.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use lsmkit_vfs::{Fs, MemFs, RandomAccessFile};
use lsmkit_wal::{Error, LogReader, LogRecord, LogReport, LogWriter, RecoveryMode};

/// A record of `len` bytes whose contents depend on `seed`, so that a
/// record returned in the wrong place or spliced from two is noticed.
pub fn record(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A log of `records` as [`LogWriter`] writes it, and each record's start
/// and end offset.
pub fn log_bytes(records: &[Vec<u8>], log_number: u32) -> (Vec<u8>, Vec<(u64, u64)>) {
    let fs = MemFs::new();
    let path = Path::new("/log");
    let mut writer = LogWriter::new(fs.create(path).unwrap(), log_number);
    let mut extents = Vec::new();
    for record in records {
        let start = writer.add_record(record).unwrap();
        extents.push((start, writer.len()));
    }
    writer.flush().unwrap();
    drop(writer);
    let bytes = fs.open(path).unwrap().as_bytes().unwrap().to_vec();
    (bytes, extents)
}

/// The first `len` bytes of a shared buffer, as a file; with `direct`, it
/// offers them through `as_bytes` as a memory map would, otherwise only
/// through `read_at`.
pub struct SliceFile {
    pub data: Arc<Vec<u8>>,
    pub len: usize,
    pub direct: bool,
}

impl fmt::Debug for SliceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SliceFile({} bytes)", self.len)
    }
}

impl RandomAccessFile for SliceFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap();
        let end = start + buf.len();
        if end > self.len {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        buf.copy_from_slice(&self.data[start..end]);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len as u64
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        self.direct.then(|| &self.data[..self.len])
    }
}

/// Reads the first `len` bytes of `data` as a log.
pub fn read_prefix(
    data: &Arc<Vec<u8>>,
    len: usize,
    direct: bool,
    log_number: u32,
    mode: RecoveryMode,
) -> (Result<Vec<LogRecord>, Error>, LogReport) {
    let file = Arc::new(SliceFile {
        data: Arc::clone(data),
        len,
        direct,
    });
    let mut reader = LogReader::new(file, "test.log", log_number, mode);
    let records = reader.by_ref().collect();
    (records, reader.into_report())
}

/// Reads all of `data` as the log of a writer that preallocated: zeros to
/// the end of the file end the log.
pub fn read_preallocated_log(
    data: &[u8],
    log_number: u32,
    mode: RecoveryMode,
) -> (Result<Vec<LogRecord>, Error>, LogReport) {
    let file = Arc::new(SliceFile {
        data: Arc::new(data.to_vec()),
        len: data.len(),
        direct: true,
    });
    let mut reader = LogReader::new(file, "test.log", log_number, mode).zeros_end_log(true);
    let records = reader.by_ref().collect();
    (records, reader.into_report())
}

/// Reads all of `data` as a log.
pub fn read_log(
    data: &[u8],
    log_number: u32,
    mode: RecoveryMode,
) -> (Result<Vec<LogRecord>, Error>, LogReport) {
    read_prefix(&Arc::new(data.to_vec()), data.len(), true, log_number, mode)
}

/// Just the bytes of the records.
pub fn datas(records: &[LogRecord]) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.data.clone()).collect()
}

/// A WAL directory on `fs` read back in `mode`: its records (or the error
/// that stopped recovery) and the reader, for its report or `into_wal`.
pub fn recover(
    fs: &Arc<dyn Fs>,
    dir: &str,
    mode: RecoveryMode,
) -> (
    Result<Vec<lsmkit_wal::Record>, Error>,
    lsmkit_wal::WalReader,
) {
    let mut reader = lsmkit_wal::WalReader::open(Arc::clone(fs), dir, mode).unwrap();
    let records = reader.by_ref().collect();
    (records, reader)
}

/// A WAL in `dir` on `fs`, after recovering (and dropping) what is there.
pub fn open_wal(fs: &Arc<dyn Fs>, dir: &str, options: lsmkit_wal::WalOptions) -> lsmkit_wal::Wal {
    let (records, reader) = recover(fs, dir, RecoveryMode::default());
    records.unwrap();
    reader.into_wal(options).unwrap().0
}

/// Just the bytes of WAL records.
pub fn wal_datas(records: &[lsmkit_wal::Record]) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.data.clone()).collect()
}

/// `base` proptest cases, scaled by `PROPTEST_CASES` as that variable
/// scales proptest's default of 256 (an explicit `cases` ignores it):
/// `PROPTEST_CASES=2560` runs ten times `base`.
pub fn scaled_cases(base: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(base, |n| {
            u32::try_from((u64::from(base) * n / 256).max(1)).unwrap_or(u32::MAX)
        })
}
