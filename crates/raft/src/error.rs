//! [`Error`]: everything that can go wrong in lsmkit-raft's storage, and
//! its conversion to openraft's `StorageError`.

use std::path::PathBuf;

use openraft::{ErrorSubject, ErrorVerb, StorageError, StorageIOError};

use crate::NodeId;

/// A failure of the Raft storage: the engine's, a file's, or damage found
/// in what was read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine failed (its errors name the file: a table, a WAL
    /// segment, the manifest).
    #[error(transparent)]
    Engine(#[from] lsmkit_engine::Error),
    /// Writing or reading a snapshot's table failed.
    #[error(transparent)]
    Table(#[from] lsmkit_sstable::Error),
    /// An I/O error on a file of the store.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A value read back from the database does not decode: a log entry,
    /// the vote, or a log id.
    #[error("corrupt {what} in database {} at offset {offset}: {detail}", file.display())]
    Corrupt {
        /// The database directory (the engine's own checksums name the
        /// table or WAL file when a block is damaged).
        file: PathBuf,
        /// What was being read: `log entry 17`, `vote`, ...
        what: String,
        /// Offset within the value.
        offset: usize,
        /// What was wrong there.
        detail: String,
    },
    /// A snapshot file is damaged: bad magic, version, header, or a table
    /// whose checksum does not match.
    #[error("corrupt snapshot {} at offset {offset}: {detail}", file.display())]
    CorruptSnapshot {
        /// The snapshot file.
        file: PathBuf,
        /// Offset within it.
        offset: u64,
        /// What was wrong there.
        detail: String,
    },
    /// A snapshot was taken in another cluster; it is refused before it
    /// replaces anything.
    #[error("snapshot {} is from cluster {found:?}, this node is in cluster {expected:?}", file.display())]
    ForeignSnapshot {
        /// The snapshot file.
        file: PathBuf,
        /// This store's cluster.
        expected: String,
        /// The snapshot's.
        found: String,
    },
    /// A snapshot's header disagrees with what the leader said it is.
    #[error("snapshot {} is {found}, the leader sent {expected}", file.display())]
    SnapshotMismatch {
        /// The snapshot file.
        file: PathBuf,
        /// What the leader's metadata says.
        expected: String,
        /// What the file's header says.
        found: String,
    },
    /// The log has a hole: an entry is missing where one must be.
    #[error("log of database {} lacks entry {index}", dir.display())]
    MissingEntry {
        /// The database directory.
        dir: PathBuf,
        /// The missing index.
        index: u64,
    },
    /// A node did not answer a request, or answered it with an error.
    #[error("node {addr}: {detail}")]
    Rpc {
        /// The node's address.
        addr: String,
        /// What happened.
        detail: String,
    },
    /// No node led the cluster (or answered) before the client's deadline.
    #[error("no leader answered in {attempts} attempts within {deadline:?}; last: {last}")]
    NoLeader {
        /// Requests sent.
        attempts: u32,
        /// The deadline.
        deadline: std::time::Duration,
        /// The last failure.
        last: String,
    },
    /// The log sync thread stopped (it failed earlier, or the store is
    /// being dropped).
    #[error("the log sync thread of {} has stopped", dir.display())]
    SyncStopped {
        /// The database directory.
        dir: PathBuf,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether this error reports damaged data (rather than a failed or
    /// refused operation).
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Engine(e) => e.is_corruption(),
            Error::Corrupt { .. } | Error::CorruptSnapshot { .. } | Error::MissingEntry { .. } => {
                true
            }
            _ => false,
        }
    }

    /// This error as openraft's, saying what was being done to what.
    pub(crate) fn storage(
        self,
        subject: ErrorSubject<NodeId>,
        verb: ErrorVerb,
    ) -> StorageError<NodeId> {
        StorageIOError::new(subject, verb, &self).into()
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
