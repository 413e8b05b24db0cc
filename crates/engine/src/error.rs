//! The errors of the engine.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What went wrong opening, writing or reading a database.
///
/// Cloneable: a background failure is kept (see [`Db`](crate::Db)'s
/// "Errors stick") and handed to every later writer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem call of the engine itself failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },

    /// Another `Db` (in this process or another) holds the database's lock.
    #[error("database {} is locked by another open handle", path.display())]
    Locked {
        /// The database directory.
        path: PathBuf,
    },

    /// Writing or reading a table failed (its error names the file).
    #[error(transparent)]
    Table(#[from] lsmkit_sstable::Error),

    /// The manifest lists a table that cannot be opened.
    #[error("table {number} listed in the manifest cannot be opened: {source}")]
    MissingTable {
        /// The table's file number (`<number>.sst`).
        number: u64,
        /// Why it could not be opened.
        #[source]
        source: lsmkit_sstable::Error,
    },

    /// Writing or reading the write-ahead log or the manifest's log failed.
    #[error(transparent)]
    Log(#[from] lsmkit_wal::Error),

    /// The memtable refused a write.
    #[error(transparent)]
    Memtable(#[from] lsmkit_memtable::Error),

    /// Picking, merging or running a compaction failed.
    #[error(transparent)]
    Compaction(#[from] lsmkit_compaction::Error),

    /// Stored engine metadata (CURRENT, a manifest edit, a WAL batch) is
    /// damaged.
    #[error("corrupt {what} in {} at offset {offset}: {detail}", file.display())]
    Corruption {
        /// The file.
        file: PathBuf,
        /// Byte offset of the damaged record or field.
        offset: u64,
        /// Which structure.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },

    /// A table written by a flush or a compaction failed the check made
    /// before it is installed: it is not what was written.
    #[error("output table {} failed its check: {what}", file.display())]
    BadOutput {
        /// The table.
        file: PathBuf,
        /// What disagreed.
        what: String,
    },

    /// An option is outside its documented range.
    #[error("invalid option {option}: {what}")]
    InvalidOption {
        /// The option's field name.
        option: &'static str,
        /// The rule it breaks.
        what: &'static str,
    },

    /// A file given to [`Db::ingest`](crate::Db::ingest) cannot be read as
    /// a table: missing, not a table, damaged (footer, a checksum, the key
    /// order), or written with another comparator.
    #[error("cannot ingest {}: {source}", file.display())]
    IngestInvalid {
        /// The file given.
        file: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: lsmkit_sstable::Error,
    },

    /// Two files given to [`Db::ingest`](crate::Db::ingest) overlap in
    /// user keys (counting their range tombstones' ranges): one sequence
    /// number cannot order them.
    #[error(
        "cannot ingest {} and {} together: they overlap from key {:?}",
        first.display(),
        second.display(),
        key.escape_ascii().to_string()
    )]
    IngestOverlap {
        /// The file whose keys start first.
        first: PathBuf,
        /// The file whose first key lies in the first one's range.
        second: PathBuf,
        /// That key: the first key of `second`.
        key: Vec<u8>,
    },

    /// A file given to [`Db::ingest`](crate::Db::ingest) holds versions of
    /// one key that one sequence number cannot order: two versions, or a
    /// value and a newer range tombstone of the file that deletes it.
    #[error(
        "cannot ingest {}: at key {:?} it holds {what}, which one sequence number cannot order",
        file.display(),
        key.escape_ascii().to_string()
    )]
    IngestUnorderable {
        /// The file.
        file: PathBuf,
        /// The user key.
        key: Vec<u8>,
        /// What the file holds there.
        what: &'static str,
    },

    /// The handle was opened with [`Db::open_read_only`](crate::Db::open_read_only):
    /// it reads, and refuses every call that would write (a write, a flush,
    /// a compaction, an ingestion, a checkpoint, a WAL sync).
    #[error("database {} is open read-only", path.display())]
    ReadOnly {
        /// The database directory.
        path: PathBuf,
    },

    /// The directory given to [`Db::checkpoint`](crate::Db::checkpoint)
    /// exists and is not empty (or is not a directory).
    #[error("checkpoint directory {} exists and is not empty", path.display())]
    CheckpointDirNotEmpty {
        /// The directory given.
        path: PathBuf,
    },

    /// A merge needs a merge operator and none is configured
    /// ([`Options::merge_operator`](crate::Options::merge_operator)): a
    /// batch holding a merge is refused before anything is written, and a
    /// read that meets a merge operand fails.
    #[error("no merge operator is configured (key {key:?})")]
    NoMergeOperator {
        /// The key a read could not resolve; `None` for a refused write.
        key: Option<Vec<u8>>,
    },
    /// The merge operator failed to merge the operands of a key
    /// ([`MergeOperator::full_merge`](lsmkit_compaction::MergeOperator::full_merge)
    /// returned `None`).
    #[error("merge operator {operator} failed to merge the operands of key {key:?}")]
    MergeFailed {
        /// The user key.
        key: Vec<u8>,
        /// The operator's name.
        operator: String,
    },
    /// A table of the database records a merge operator other than the
    /// configured one: its operands would be read with the wrong operator.
    #[error("table {} was written with merge operator {recorded:?}, not the configured {configured:?}", file.display())]
    MergeOperatorMismatch {
        /// The table.
        file: PathBuf,
        /// The operator name the table records.
        recorded: String,
        /// The configured operator's name.
        configured: String,
    },
    /// No keyspace of that name (or id, `#<id>`, for a batch op) exists:
    /// it was never created, or was dropped.
    #[error("no keyspace {name:?}")]
    KeyspaceNotFound {
        /// The name asked for.
        name: String,
    },
    /// [`Db::create_keyspace`](crate::Db::create_keyspace) was given the
    /// name of a keyspace that exists.
    #[error("keyspace {name:?} exists")]
    KeyspaceExists {
        /// The name given.
        name: String,
    },
    /// The database was closed (or its handle dropped) while the call ran.
    #[error("the database is closed")]
    Closed,

    /// A background thread panicked; the database is read-only until it
    /// is reopened, as after any background error.
    #[error("the background {thread} thread panicked")]
    BackgroundPanic {
        /// Which thread: `flush` or `compaction`.
        thread: &'static str,
    },
}

impl Error {
    /// Whether this error says that stored data is corrupt, as opposed to
    /// an I/O failure or a misuse of the API. A file refused by
    /// [`Db::ingest`](crate::Db::ingest) is the caller's input, not the
    /// database's data: its errors are not corruption, damaged or not.
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Table(e) | Error::MissingTable { source: e, .. } => e.is_corruption(),
            Error::Log(e) => e.is_corruption(),
            Error::Memtable(e) => e.is_corruption(),
            Error::Compaction(e) => e.is_corruption(),
            Error::Corruption { .. } | Error::BadOutput { .. } => true,
            Error::Io { .. }
            | Error::Locked { .. }
            | Error::InvalidOption { .. }
            | Error::NoMergeOperator { .. }
            | Error::MergeFailed { .. }
            | Error::MergeOperatorMismatch { .. }
            | Error::IngestInvalid { .. }
            | Error::IngestOverlap { .. }
            | Error::IngestUnorderable { .. }
            | Error::ReadOnly { .. }
            | Error::CheckpointDirNotEmpty { .. }
            | Error::KeyspaceNotFound { .. }
            | Error::KeyspaceExists { .. }
            | Error::Closed
            | Error::BackgroundPanic { .. } => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        what: &'static str,
        detail: impl Into<String>,
    ) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            what,
            detail: detail.into(),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
