//! The errors of writing and reading logs.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::format::FragmentType;

/// A failure to write or to read a log.
///
/// Cloneable, so that a writer that failed can hand every later caller the
/// very error that stopped it (see [`Wal`](crate::Wal)).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The filesystem failed. Errors from `lsmkit-vfs` name the operation
    /// and the path themselves
    /// ([`FsError::of`](lsmkit_vfs::FsError::of) gets them).
    #[error("{source}")]
    Io {
        /// The error as the filesystem gave it.
        #[source]
        source: Arc<io::Error>,
    },

    /// The bytes of a log are damaged, and the recovery mode in force does
    /// not allow dropping them.
    #[error("corrupt log {}: {what} at byte {offset}", path.display())]
    Corruption {
        /// The file.
        path: PathBuf,
        /// Offset in the file of the first damaged byte.
        offset: u64,
        /// What is wrong there.
        what: Corruption,
    },

    /// [`WalReader::into_wal`](crate::WalReader::into_wal) was called before
    /// the reader had returned its last record, or after it failed: the
    /// writer cannot know where the good records end.
    #[error("recovery of the WAL in {} did not run to the end", dir.display())]
    RecoveryIncomplete {
        /// The WAL directory.
        dir: PathBuf,
    },

    /// The newest segment is numbered `u64::MAX`, so no segment can follow
    /// it: a file name no writer of this crate reaches (it would take 2^64
    /// rotations), so the directory was tampered with.
    #[error("the WAL in {} has segment {last}, the last number there is", dir.display())]
    SegmentNumbersExhausted {
        /// The WAL directory.
        dir: PathBuf,
        /// The number of the newest segment.
        last: u64,
    },
}

impl Error {
    /// Whether this error says the bytes of a log are damaged (as opposed
    /// to a failed I/O call or a misuse).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }

    /// The I/O error inside, if this is a filesystem failure.
    pub fn io(&self) -> Option<&io::Error> {
        match self {
            Error::Io { source } => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Error {
        Error::Io {
            source: Arc::new(source),
        }
    }
}

/// What is wrong with damaged bytes of a log.
///
/// Recovery reports these as data (in a [`Dropped`](crate::Dropped)) when
/// its mode drops the bytes, and as an [`Error::Corruption`] when it does
/// not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// A fragment's stored checksum does not match its bytes.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// The checksum in the header.
        stored: u32,
        /// The checksum of the bytes as read.
        computed: u32,
    },

    /// A fragment header is all zeros: space that was allocated but never
    /// written, as a crash can leave at the end of a file.
    #[error("zeroed fragment header")]
    Zeroed,

    /// The file ends inside a fragment: a write that did not finish.
    #[error("file ends {available} bytes into a fragment of {needed}")]
    Truncated {
        /// Bytes the fragment needs (header and payload).
        needed: u64,
        /// Bytes the file has from the fragment's start.
        available: u64,
    },

    /// A fragment's length runs past the end of its block.
    #[error("fragment of {len} payload bytes does not fit the {room} left in its block")]
    BadLength {
        /// The payload length as stored.
        len: u64,
        /// Payload bytes the block has room for.
        room: u64,
    },

    /// A fragment's checksum is right but its type is unknown (written by
    /// a newer format, or damage the checksum missed).
    #[error("unknown fragment type {found}")]
    UnknownType {
        /// The type byte.
        found: u8,
    },

    /// A well-formed fragment of another log: stale bytes of a file that
    /// was reused or renamed.
    #[error("fragment of log {found}, expected log {expected}")]
    ForeignLogNumber {
        /// The low 32 bits of the number of the log being read.
        expected: u32,
        /// The log number in the fragment.
        found: u32,
    },

    /// The space at the end of a block, too short for a header, is not
    /// zero.
    #[error("non-zero block padding")]
    BadPadding,

    /// A `MIDDLE` or `LAST` fragment with no `FIRST` before it.
    #[error("{found:?} fragment without a FIRST before it")]
    MissingFirst {
        /// The orphaned fragment's type.
        found: FragmentType,
    },

    /// A record that began with a `FIRST` fragment never got its `LAST`:
    /// another record, damage or the end of the file came first.
    #[error("record interrupted before its LAST fragment")]
    MissingLast,
}

/// A writer's first error, kept so that every later call fails with it (the
/// log on disk then holds an unknown prefix of what was asked).
#[derive(Debug, Default)]
pub(crate) struct FirstError(Option<Error>);

impl FirstError {
    /// The first error, if there was one.
    pub(crate) fn get(&self) -> Option<&Error> {
        self.0.as_ref()
    }

    /// Fails with the first error, if there was one.
    pub(crate) fn check(&self) -> Result<(), Error> {
        self.0.clone().map_or(Ok(()), Err)
    }

    /// Keeps `error` unless an earlier one is kept.
    pub(crate) fn keep(&mut self, error: &Error) {
        self.0.get_or_insert_with(|| error.clone());
    }

    /// Passes `result` on, keeping its error.
    pub(crate) fn stick<T>(&mut self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(error) = &result {
            self.keep(error);
        }
        result
    }
}
