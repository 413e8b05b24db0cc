//! [`WalReader`]: recovery of a WAL directory, segment by segment, and the
//! hand-over to a [`Wal`] that continues after the last good record.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::format::{log_number, parse_segment_file_name};
use crate::log_reader::LogReader;
use crate::progress::Progress;
use crate::recovery::{
    DropReason, Dropped, LogReport, RecoveryMode, RecoveryReport, SegmentReport,
};
use crate::wal::{Position, Wal, WalOptions, segment_path};
use lsmkit_vfs::Fs;

/// A record read back from a [`Wal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Where the record is.
    pub position: Position,
    /// Its sequence (see [`Appended::sequence`](crate::Appended::sequence)).
    pub sequence: u64,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// Reads every record of a WAL directory, oldest segment first, under a
/// [`RecoveryMode`], then opens the [`Wal`] that continues the log.
///
/// An iterator of `Result<Record, Error>`, ending at the first error.
/// Under [`RecoveryMode::TolerateCorruptedTail`] only the newest segment
/// may have a torn tail: every older one was synced whole before the next
/// was created, so damage in it is an error. What was dropped is in
/// [`report`](WalReader::report).
#[derive(Debug)]
pub struct WalReader {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    mode: RecoveryMode,
    /// Every segment found, oldest first.
    found: Vec<u64>,
    /// Whether a writer may be appending to the newest segment.
    beside_writer: bool,
    /// How many of `found` have been opened.
    opened: usize,
    current: Option<(u64, LogReader)>,
    report: RecoveryReport,
    next_sequence: u64,
    progress: Progress,
}

impl WalReader {
    /// Lists the segments in `dir` (none if it does not exist) and gets
    /// ready to read them. Files whose names are not segment names are
    /// ignored.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: impl Into<PathBuf>,
        mode: RecoveryMode,
    ) -> Result<WalReader, Error> {
        let dir = dir.into();
        let found = if fs.exists(&dir)? {
            let mut found: Vec<u64> = fs
                .list(&dir)?
                .iter()
                .filter_map(|name| parse_segment_file_name(name))
                .collect();
            found.sort_unstable();
            found
        } else {
            Vec::new()
        };
        Ok(WalReader {
            fs,
            dir,
            mode,
            found,
            beside_writer: false,
            opened: 0,
            current: None,
            report: RecoveryReport {
                mode,
                segments: Vec::new(),
                stopped_at: None,
            },
            next_sequence: 0,
            progress: Progress::Reading,
        })
    }

    /// Reads while a writer may be appending to the newest segment (a
    /// read-only view of a live database): segments are read by copies
    /// ([`Fs::open_unmapped`]), not through memory maps the writer's
    /// appends would change, and the newest segment ends at its first
    /// damage, whatever the mode, since the writer may be in the middle of
    /// a record there (the damage is reported as where the reader stopped).
    pub fn beside_writer(mut self) -> WalReader {
        self.beside_writer = true;
        self
    }

    /// What recovery has found so far; complete once the reader returned
    /// `None`.
    pub fn report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Opens the [`Wal`] that continues this log in a new segment after
    /// the last good record, and returns it with the report.
    ///
    /// Before it starts writing, it makes the directory agree with what
    /// recovery returned, so that the next recovery returns the same
    /// records and then the new ones: the newest segment is cut back to its
    /// last good record, and under [`RecoveryMode::PointInTime`] the segment
    /// it stopped in is cut back and every later segment deleted.
    ///
    /// REQUIRES: the reader has returned `None` (every record was read);
    /// otherwise this fails with [`Error::RecoveryIncomplete`].
    pub fn into_wal(mut self, options: WalOptions) -> Result<(Wal, RecoveryReport), Error> {
        if self.progress != Progress::Finished {
            return Err(Error::RecoveryIncomplete { dir: self.dir });
        }
        // No reader may be open while segments are cut back.
        self.current = None;
        self.fs.create_dir_all(&self.dir)?;
        let newest = self.report.segments.last().map(|s| s.segment);
        let mut live = BTreeSet::new();
        let mut removed = false;
        for segment in &self.report.segments {
            let path = segment_path(&self.dir, segment.segment);
            let log = &segment.log;
            let after_stop = log
                .dropped
                .iter()
                .any(|d| d.reason == DropReason::AfterStop);
            if after_stop {
                self.fs.remove(&path)?;
                removed = true;
                continue;
            }
            let last_kept = self.report.stopped_at.map(|p| p.segment) == Some(segment.segment)
                || Some(segment.segment) == newest;
            if last_kept && log.valid_len < log.file_len {
                self.fs.truncate(&path, log.valid_len)?;
            }
            live.insert(segment.segment);
        }
        if removed {
            self.fs.sync_dir(&self.dir)?;
        }
        let next = match self.found.last() {
            None => 1,
            Some(&last) => last
                .checked_add(1)
                .ok_or_else(|| Error::SegmentNumbersExhausted {
                    dir: self.dir.clone(),
                    last,
                })?,
        };
        let wal = Wal::start(self.fs, self.dir, options, live, next, self.next_sequence)?;
        Ok((wal, self.report))
    }

    fn step(&mut self) -> Result<Option<Record>, Error> {
        loop {
            let Some((segment, reader)) = &mut self.current else {
                let Some(&segment) = self.found.get(self.opened) else {
                    return Ok(None);
                };
                self.opened += 1;
                self.open_segment(segment)?;
                continue;
            };
            let segment = *segment;
            match reader.next() {
                Some(Ok(record)) => {
                    let sequence = self.next_sequence;
                    self.next_sequence += 1;
                    return Ok(Some(Record {
                        position: Position {
                            segment,
                            offset: record.offset,
                        },
                        sequence,
                        data: record.data,
                    }));
                }
                Some(Err(error)) => return Err(error),
                None => {
                    if let Some((_, reader)) = self.current.take() {
                        self.finish_segment(segment, reader.into_report());
                    }
                }
            }
        }
    }

    /// Opens `segment` for reading, or, past a point-in-time stop, records
    /// it as dropped whole.
    fn open_segment(&mut self, segment: u64) -> Result<(), Error> {
        let path = segment_path(&self.dir, segment);
        if self.report.stopped_at.is_some() {
            let file_len = self.fs.size(&path)?;
            let dropped = Dropped {
                offset: 0,
                len: file_len,
                reason: DropReason::AfterStop,
            };
            let log = LogReport {
                file_len,
                dropped: vec![dropped],
                ..LogReport::default()
            };
            self.report.segments.push(SegmentReport { segment, log });
            return Ok(());
        }
        let newest = self.opened == self.found.len();
        let mode = match self.mode {
            _ if newest && self.beside_writer => RecoveryMode::PointInTime,
            // Older segments were synced whole: damage there is no torn
            // write.
            RecoveryMode::TolerateCorruptedTail if !newest => RecoveryMode::AbsoluteConsistency,
            mode => mode,
        };
        let file = if self.beside_writer {
            self.fs.open_unmapped(&path)?
        } else {
            self.fs.open(&path)?
        };
        // Only the newest segment may end in space its writer reserved:
        // rotation gives back the reserve of every segment it closes.
        let reader = LogReader::new(file, &path, log_number(segment), mode).zeros_end_log(newest);
        self.current = Some((segment, reader));
        Ok(())
    }

    fn finish_segment(&mut self, segment: u64, log: LogReport) {
        let stop = log
            .dropped
            .iter()
            .find(|d| matches!(d.reason, DropReason::Stopped(_)));
        if let Some(stop) = stop {
            self.report.stopped_at = Some(Position {
                segment,
                offset: stop.offset,
            });
        }
        self.report.segments.push(SegmentReport { segment, log });
    }
}

impl Iterator for WalReader {
    type Item = Result<Record, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.progress != Progress::Reading {
            return None;
        }
        let step = self.step();
        self.progress.settle(step)
    }
}
