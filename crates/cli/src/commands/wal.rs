//! `lsmkit wal dump DIR`: every record of a write-ahead log with its
//! position and size, then what recovery would drop. The log is read as
//! recovery reads it but nothing is cut back or deleted: this command never
//! writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Subcommand, ValueEnum};
use lsmkit_engine::format::decode_batch;
use lsmkit_sstable::ValueKind;
use lsmkit_vfs::{Fs, StdFs};
use lsmkit_wal::format::{log_number, parse_segment_file_name};
use lsmkit_wal::{DropReason, LogReader, LogReport, RecoveryMode, WalReader};

use crate::bytes::Encoding;
use crate::failure::Failure;

/// What to do with a log.
#[derive(Debug, Subcommand)]
pub enum WalCommand {
    /// Print every record (segment, offset, length), then, per segment, the
    /// bytes recovery would drop and why. DIR is a WAL directory, a
    /// database directory with a `wal` subdirectory, or one segment file.
    Dump {
        /// The WAL directory (or database directory, or segment file).
        dir: PathBuf,
        /// Damage recovery may drop (the engine recovers with the
        /// default).
        #[arg(long, value_enum, default_value_t = Mode::TolerateCorruptedTail)]
        mode: Mode,
        /// Also print each record's bytes, in this encoding.
        #[arg(long, value_enum)]
        data: Option<Encoding>,
        /// Decode each record as a lsmkit-engine write batch and print its
        /// operations (keys escaped, values by length).
        #[arg(long)]
        batches: bool,
    },
}

/// [`RecoveryMode`], as a command-line value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Drop a torn tail of the newest segment; other damage is an error.
    TolerateCorruptedTail,
    /// Any damage is an error.
    AbsoluteConsistency,
    /// Stop at the first damage; drop everything after it.
    PointInTime,
    /// Skip damaged regions and read on.
    SkipCorrupted,
}

impl From<Mode> for RecoveryMode {
    fn from(mode: Mode) -> RecoveryMode {
        match mode {
            Mode::TolerateCorruptedTail => RecoveryMode::TolerateCorruptedTail,
            Mode::AbsoluteConsistency => RecoveryMode::AbsoluteConsistency,
            Mode::PointInTime => RecoveryMode::PointInTime,
            Mode::SkipCorrupted => RecoveryMode::SkipCorrupted,
        }
    }
}

/// Runs `command`, printing to `out`.
pub fn run(command: &WalCommand, out: &mut dyn Write) -> Result<(), Failure> {
    let WalCommand::Dump {
        dir,
        mode,
        data,
        batches,
    } = command;
    let show = Show {
        data: *data,
        batches: *batches,
    };
    // Positional reads: a live database's writer may be filling the newest
    // segment's reserve in place, which would change a map's bytes.
    let fs: Arc<dyn Fs> = Arc::new(StdFs::without_mmap());
    let mode = RecoveryMode::from(*mode);
    if dir.is_file() {
        return dump_segment(&*fs, dir, mode, show, out);
    }
    if !dir.is_dir() {
        return Err(Failure::new(format!(
            "{}: no such file or directory",
            dir.display()
        )));
    }
    let dir = wal_dir(dir);
    let mut reader = WalReader::open(fs, &dir, mode).map_err(|e| at(&dir, e))?;
    let mut failure = None;
    for record in reader.by_ref() {
        match record {
            Ok(record) => print_record(
                &format!("record {}", record.sequence),
                record.position.segment,
                record.position.offset,
                &record.data,
                show,
                out,
            )?,
            Err(error) => failure = Some(error),
        }
    }
    let report = reader.report();
    if report.segments.is_empty() && failure.is_none() {
        writeln!(out, "{}: no WAL segments", dir.display())?;
        return Ok(());
    }
    for segment in &report.segments {
        summarize(&format!("segment {}", segment.segment), &segment.log, out)?;
    }
    finish(report.records(), report.dropped_bytes(), failure, mode, out)
}

/// The directory to read: `dir`, or `dir/wal` when `dir` holds no segment
/// but has a `wal` subdirectory (a database directory).
fn wal_dir(dir: &Path) -> PathBuf {
    let has_segments = std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| parse_segment_file_name(name).is_some())
        })
    });
    let sub = dir.join("wal");
    if !has_segments && sub.is_dir() {
        sub
    } else {
        dir.to_path_buf()
    }
}

/// Reads one segment file alone (taken to be the newest).
fn dump_segment(
    fs: &dyn Fs,
    path: &Path,
    mode: RecoveryMode,
    show: Show,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let segment = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(parse_segment_file_name)
        .ok_or_else(|| {
            Failure::new(format!(
                "{}: not a WAL segment (segment files are named like 00000000000000000001.wal)",
                path.display()
            ))
        })?;
    // A segment read alone is read as the newest, which may end in space
    // its writer reserved.
    let mut reader = LogReader::open(fs, path, log_number(segment), mode)
        .map_err(|e| at(path, e))?
        .zeros_end_log(true);
    let mut failure = None;
    for record in reader.by_ref() {
        match record {
            Ok(record) => print_record("record", segment, record.offset, &record.data, show, out)?,
            Err(error) => failure = Some(error),
        }
    }
    let report = reader.report();
    summarize(&format!("segment {segment}"), report, out)?;
    finish(report.records, report.dropped_bytes(), failure, mode, out)
}

fn print_record(
    label: &str,
    segment: u64,
    offset: u64,
    data: &[u8],
    show: Show,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    write!(
        out,
        "{label} at segment {segment} offset {offset} len {}",
        data.len()
    )?;
    if let Some(encoding) = show.data {
        write!(out, " {}", encoding.show(data))?;
    }
    writeln!(out)?;
    if show.batches {
        match decode_batch(data) {
            Ok(batch) => {
                for (i, op) in batch.ops.iter().enumerate() {
                    let what = match op.kind {
                        ValueKind::Put | ValueKind::Merge => {
                            format!(" value of {} bytes", op.value.len())
                        }
                        ValueKind::Delete => String::new(),
                        ValueKind::RangeDelete => format!(" to {}", Encoding::Text.show(op.value)),
                    };
                    writeln!(
                        out,
                        "  @{} {:?} {}{what}",
                        batch.seqno + i as u64,
                        op.kind,
                        Encoding::Text.show(op.key)
                    )?;
                }
            }
            Err(e) => writeln!(
                out,
                "  not an engine batch: {} at byte {} of the record",
                e.what, e.offset
            )?,
        }
    }
    Ok(())
}

/// What to print of each record besides its position.
#[derive(Clone, Copy, Debug)]
struct Show {
    data: Option<Encoding>,
    batches: bool,
}

fn summarize(name: &str, log: &LogReport, out: &mut dyn Write) -> Result<(), Failure> {
    write!(
        out,
        "{name}: {} records, {} of {} bytes good",
        log.records, log.valid_len, log.file_len
    )?;
    if log.zero_tail > 0 {
        write!(
            out,
            ", ending in {} bytes of preallocated zeros",
            log.zero_tail
        )?;
    }
    writeln!(out)?;
    for dropped in &log.dropped {
        let why = match dropped.reason {
            DropReason::TornTail(c) => format!("torn tail: {c}"),
            DropReason::Skipped(c) => format!("skipped: {c}"),
            DropReason::Stopped(c) => format!("stopped here: {c}"),
            DropReason::AfterStop => "after the stop".to_string(),
            other => format!("{other:?}"),
        };
        writeln!(
            out,
            "  recovery drops bytes [{}, {}): {why}",
            dropped.offset,
            dropped.offset + dropped.len
        )?;
    }
    Ok(())
}

fn finish(
    records: u64,
    dropped: u64,
    failure: Option<lsmkit_wal::Error>,
    mode: RecoveryMode,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    if let Some(error) = failure {
        out.flush()?;
        return Err(Failure::new(format!(
            "recovery ({mode:?}) fails after {records} records: {error}"
        )));
    }
    writeln!(
        out,
        "recovery ({mode:?}) returns {records} records and drops {dropped} bytes"
    )?;
    Ok(())
}

/// An error opening the log, with the path when the error lacks it.
fn at(path: &Path, error: lsmkit_wal::Error) -> Failure {
    let message = error.to_string();
    if message.contains(&path.display().to_string()) {
        Failure::new(message)
    } else {
        Failure::new(format!("{}: {message}", path.display()))
    }
}
