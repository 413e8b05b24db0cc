//! What recovery may drop ([`RecoveryMode`]) and what it tells the caller
//! it dropped ([`LogReport`], [`RecoveryReport`]).

use crate::error::Corruption;
use crate::wal::Position;

/// How recovery treats damaged bytes; the semantics of RocksDB's
/// `WALRecoveryMode`.
///
/// "Damage" is anything that is not a well-formed record of this log: a
/// checksum mismatch, a fragment cut short by the end of the file, zeroed
/// space, a fragment of another log, a record missing its first or last
/// piece.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Drop damage at the very end of the newest log, where a write that
    /// was cut short by a crash leaves it; damage anywhere else is an
    /// error.
    ///
    /// Damage counts as the torn tail when no well-formed fragment of the
    /// log follows it. Bytes of a write that was never synced and bytes of
    /// a synced write that rotted at the very end cannot be told apart; both
    /// are dropped and reported (see [`LogReport::torn_tail`]).
    #[default]
    TolerateCorruptedTail,
    /// Any damage, even a torn tail, is an error: for logs whose every
    /// write was synced and whose loss must be noticed.
    AbsoluteConsistency,
    /// Stop at the first damage anywhere: return the records before it and
    /// drop everything after it, in that log and in every later one. The
    /// result is the log as it was at some point in time, with a gap-free
    /// prefix of the records.
    PointInTime,
    /// Skip damaged regions and keep reading: return every well-formed
    /// record, and count what was skipped. Records may then be missing
    /// from the middle of the log.
    SkipCorrupted,
}

/// Why recovery dropped a range of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The damaged end of the newest log, under
    /// [`RecoveryMode::TolerateCorruptedTail`]. The corruption is the first
    /// one found in the range.
    TornTail(Corruption),
    /// A damaged region skipped under [`RecoveryMode::SkipCorrupted`].
    Skipped(Corruption),
    /// The damage [`RecoveryMode::PointInTime`] stopped at, and everything
    /// after it in the same log.
    Stopped(Corruption),
    /// A whole log after the one where [`RecoveryMode::PointInTime`]
    /// stopped.
    AfterStop,
}

/// A range of a log's bytes that recovery did not turn into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// Offset of the first dropped byte in the file.
    pub offset: u64,
    /// How many bytes were dropped.
    pub len: u64,
    /// Why.
    pub reason: DropReason,
}

/// What reading one log file found, as data for the caller to act on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogReport {
    /// Records returned.
    pub records: u64,
    /// Where the last returned record ends: a writer continuing this log
    /// must start here.
    pub valid_len: u64,
    /// The length of the file.
    pub file_len: u64,
    /// Bytes of zeros that end the file past its last record: space the
    /// writer preallocated ([`WalOptions::preallocate`]) and had not filled
    /// when it stopped. Not damage, and not counted as dropped.
    ///
    /// [`WalOptions::preallocate`]: crate::WalOptions::preallocate
    pub zero_tail: u64,
    /// The ranges dropped, in file order.
    pub dropped: Vec<Dropped>,
}

impl LogReport {
    /// Bytes dropped in all.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped.iter().map(|d| d.len).sum()
    }

    /// The torn tail dropped under
    /// [`RecoveryMode::TolerateCorruptedTail`], if there was one.
    pub fn torn_tail(&self) -> Option<&Dropped> {
        self.dropped
            .iter()
            .find(|d| matches!(d.reason, DropReason::TornTail(_)))
    }

    /// Damaged regions skipped under [`RecoveryMode::SkipCorrupted`]. A
    /// region may have held any number of records, or pieces of them; how
    /// many cannot be known.
    pub fn skipped(&self) -> usize {
        self.dropped
            .iter()
            .filter(|d| matches!(d.reason, DropReason::Skipped(_)))
            .count()
    }

    /// Whether [`RecoveryMode::PointInTime`] stopped in or before this log.
    pub fn stopped(&self) -> bool {
        self.dropped
            .iter()
            .any(|d| matches!(d.reason, DropReason::Stopped(_) | DropReason::AfterStop))
    }

    /// Whether every byte of the file was part of a returned record.
    pub fn is_clean(&self) -> bool {
        self.dropped.is_empty()
    }
}

/// What one segment of a [`Wal`](crate::Wal) held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentReport {
    /// The segment's number.
    pub segment: u64,
    /// What reading it found.
    pub log: LogReport,
}

/// What recovering a [`Wal`](crate::Wal) directory found: per segment, the
/// records returned and the bytes dropped and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The mode recovery ran in.
    pub mode: RecoveryMode,
    /// Every segment read, in order.
    pub segments: Vec<SegmentReport>,
    /// Where [`RecoveryMode::PointInTime`] stopped: the position of the
    /// first damaged byte, when it found one.
    pub stopped_at: Option<Position>,
}

impl RecoveryReport {
    /// Records returned, in all segments.
    pub fn records(&self) -> u64 {
        self.segments.iter().map(|s| s.log.records).sum()
    }

    /// Bytes dropped, in all segments.
    pub fn dropped_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.log.dropped_bytes()).sum()
    }

    /// Damaged regions skipped, in all segments.
    pub fn skipped(&self) -> usize {
        self.segments.iter().map(|s| s.log.skipped()).sum()
    }

    /// The torn tail of the newest segment and the segment's number, if
    /// one was dropped.
    pub fn torn_tail(&self) -> Option<(u64, &Dropped)> {
        self.segments
            .iter()
            .find_map(|s| s.log.torn_tail().map(|d| (s.segment, d)))
    }

    /// Whether every byte of every segment was part of a returned record.
    pub fn is_clean(&self) -> bool {
        self.segments.iter().all(|s| s.log.is_clean())
    }
}
