//! [`LogReader`]: the records of one log file, under a recovery mode.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Corruption, Error};
use crate::format::{FragmentType, HEADER_SIZE};
use crate::fragments::{Event, Fragments};
use crate::progress::Progress;
use crate::recovery::{DropReason, Dropped, LogReport, RecoveryMode};
use lsmkit_vfs::{Fs, RandomAccessFile};

/// A record read back from a log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Offset in the file of the record's first fragment: what
    /// [`LogWriter::add_record`](crate::LogWriter::add_record) returned.
    pub offset: u64,
    /// The record's bytes.
    pub data: Vec<u8>,
}

/// Reads the records of one log file written by
/// [`LogWriter`](crate::LogWriter), in order (LevelDB's `log::Reader`).
///
/// An iterator of `Result<LogRecord, Error>`: damage that the
/// [`RecoveryMode`] allows is dropped and described in
/// [`report`](LogReader::report); damage it does not allow ends the
/// iteration with an [`Error::Corruption`] naming the file and offset. The
/// file is taken to be the newest log, so that
/// [`RecoveryMode::TolerateCorruptedTail`] drops a torn tail. After the
/// first error or `None`, the iterator returns `None`.
///
/// Records are reassembled in memory, so a record needs as much memory as
/// its length; no allocation is larger than what the file holds.
#[derive(Debug)]
pub struct LogReader {
    fragments: Fragments,
    assembly: Assembly,
    progress: Progress,
}

/// What to do after one event.
enum Step {
    Continue,
    Record(LogRecord),
    Stop,
    /// Under `TolerateCorruptedTail`: damage was found at `probe - 1`.
    /// It is a torn tail, to be dropped from `from` on, if nothing
    /// well-formed follows it, and an error otherwise.
    Tail {
        from: u64,
        probe: u64,
        what: Corruption,
    },
}

/// Turns fragments into records and applies the mode to damage.
#[derive(Debug)]
struct Assembly {
    path: PathBuf,
    mode: RecoveryMode,
    /// The record being reassembled: its offset and bytes so far.
    partial: Option<(u64, Vec<u8>)>,
    report: LogReport,
}

impl LogReader {
    /// A reader of `file`, whose fragments carry `log_number`, naming
    /// `path` in its errors.
    pub fn new(
        file: Arc<dyn RandomAccessFile>,
        path: impl Into<PathBuf>,
        log_number: u32,
        mode: RecoveryMode,
    ) -> LogReader {
        let fragments = Fragments::new(file, log_number);
        let report = LogReport {
            file_len: fragments.file_len(),
            ..LogReport::default()
        };
        LogReader {
            fragments,
            assembly: Assembly {
                path: path.into(),
                mode,
                partial: None,
                report,
            },
            progress: Progress::Reading,
        }
    }

    /// Opens the file at `path` on `fs` and reads it.
    pub fn open(
        fs: &dyn Fs,
        path: &Path,
        log_number: u32,
        mode: RecoveryMode,
    ) -> Result<LogReader, Error> {
        Ok(LogReader::new(fs.open(path)?, path, log_number, mode))
    }

    /// Takes zeros that run from a fragment's place to the end of the file
    /// for the end of the log (default off: they are damage, as in any
    /// log whose writer did not preallocate). For the newest segment of a
    /// WAL, whose writer reserves space ahead
    /// ([`WalOptions::preallocate`](crate::WalOptions::preallocate)); what
    /// they span is reported as [`LogReport::zero_tail`].
    pub fn zeros_end_log(mut self, on: bool) -> LogReader {
        self.fragments.set_zeros_end_log(on);
        self
    }

    /// What the reader has found so far; complete once it returned `None`.
    pub fn report(&self) -> &LogReport {
        &self.assembly.report
    }

    /// The report, taking the reader apart.
    pub fn into_report(self) -> LogReport {
        self.assembly.report
    }

    /// Whether the reader read to the end of the file (or to where
    /// [`RecoveryMode::PointInTime`] stopped) without an error.
    pub fn is_finished(&self) -> bool {
        self.progress == Progress::Finished
    }

    fn step(&mut self) -> Result<Option<LogRecord>, Error> {
        loop {
            let step = match self.fragments.next_event()? {
                Some(Event::Fragment {
                    offset,
                    ty,
                    payload,
                }) => self.assembly.on_fragment(offset, ty, payload)?,
                Some(Event::Bad { offset, len, what }) => {
                    self.assembly.on_bad(offset, len, what)?
                }
                None => {
                    self.assembly.report.zero_tail = self.fragments.zero_tail();
                    self.assembly.on_end()?
                }
            };
            match step {
                Step::Continue => {}
                Step::Record(record) => return Ok(Some(record)),
                Step::Stop => return Ok(None),
                Step::Tail { from, probe, what } => {
                    if self.fragments.well_formed_after(probe)? {
                        return Err(self.assembly.corrupt(probe - 1, what));
                    }
                    let len = self.fragments.file_len() - from;
                    self.assembly
                        .drop_range(from, len, DropReason::TornTail(what));
                    return Ok(None);
                }
            }
        }
    }
}

impl Iterator for LogReader {
    type Item = Result<LogRecord, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.progress != Progress::Reading {
            return None;
        }
        let step = self.step();
        self.progress.settle(step)
    }
}

impl Assembly {
    fn on_fragment(
        &mut self,
        offset: u64,
        ty: FragmentType,
        payload: &[u8],
    ) -> Result<Step, Error> {
        let end = offset + (HEADER_SIZE + payload.len()) as u64;
        match ty {
            FragmentType::Full | FragmentType::First => {
                if let Some((start, _)) = self.partial.take() {
                    let step = self.damage(start, offset - start, Corruption::MissingLast)?;
                    if let Step::Stop = step {
                        return Ok(step);
                    }
                }
                if ty == FragmentType::Full {
                    return Ok(self.record(offset, payload.to_vec(), end));
                }
                self.partial = Some((offset, payload.to_vec()));
                Ok(Step::Continue)
            }
            FragmentType::Middle | FragmentType::Last => match self.partial.take() {
                Some((start, mut data)) => {
                    data.extend_from_slice(payload);
                    if ty == FragmentType::Last {
                        return Ok(self.record(start, data, end));
                    }
                    self.partial = Some((start, data));
                    Ok(Step::Continue)
                }
                None => self.damage(offset, end - offset, Corruption::MissingFirst { found: ty }),
            },
        }
    }

    /// A damaged range of `len` bytes at `offset`; the record in progress,
    /// if any, is lost with it.
    fn on_bad(&mut self, offset: u64, len: u64, what: Corruption) -> Result<Step, Error> {
        let partial = self.partial.take().map(|(start, _)| start);
        if self.mode == RecoveryMode::TolerateCorruptedTail {
            return Ok(Step::Tail {
                from: partial.unwrap_or(offset),
                probe: offset + 1,
                what,
            });
        }
        if let Some(start) = partial {
            let step = self.damage(start, offset - start, Corruption::MissingLast)?;
            if let Step::Stop = step {
                return Ok(step);
            }
        }
        self.damage(offset, len, what)
    }

    /// The end of the file: a record in progress is a torn tail.
    fn on_end(&mut self) -> Result<Step, Error> {
        let Some((start, _)) = self.partial.take() else {
            return Ok(Step::Stop);
        };
        // The record was cut where the zeros (if any) begin.
        let len = self.report.file_len - self.report.zero_tail - start;
        if self.mode == RecoveryMode::TolerateCorruptedTail {
            self.drop_range(start, len, DropReason::TornTail(Corruption::MissingLast));
            return Ok(Step::Stop);
        }
        match self.damage(start, len, Corruption::MissingLast)? {
            Step::Continue => Ok(Step::Stop),
            step => Ok(step),
        }
    }

    /// Applies the mode to damage that well-formed data follows (or, under
    /// `PointInTime`, to any damage).
    fn damage(&mut self, offset: u64, len: u64, what: Corruption) -> Result<Step, Error> {
        match self.mode {
            RecoveryMode::AbsoluteConsistency | RecoveryMode::TolerateCorruptedTail => {
                Err(self.corrupt(offset, what))
            }
            RecoveryMode::PointInTime => {
                let len = self.report.file_len - offset;
                self.drop_range(offset, len, DropReason::Stopped(what));
                Ok(Step::Stop)
            }
            RecoveryMode::SkipCorrupted => {
                self.drop_range(offset, len, DropReason::Skipped(what));
                Ok(Step::Continue)
            }
        }
    }

    fn record(&mut self, offset: u64, data: Vec<u8>, end: u64) -> Step {
        self.report.records += 1;
        self.report.valid_len = end;
        Step::Record(LogRecord { offset, data })
    }

    fn drop_range(&mut self, offset: u64, len: u64, reason: DropReason) {
        self.report.dropped.push(Dropped {
            offset,
            len,
            reason,
        });
    }

    fn corrupt(&self, offset: u64, what: Corruption) -> Error {
        Error::Corruption {
            path: self.path.clone(),
            offset,
            what,
        }
    }
}
