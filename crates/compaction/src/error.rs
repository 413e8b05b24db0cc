//! The errors of this crate.

/// What went wrong picking, merging or running a compaction.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading an input table or writing an output table failed (I/O or
    /// corruption, as the table crate reports it).
    #[error(transparent)]
    Table(#[from] lsmkit_sstable::Error),
    /// An input entry's key is not a valid internal key of a point version.
    #[error("input entry {index} of the merge has a bad key {key:?}: {what}")]
    BadKey {
        /// Position of the entry in the merged input, counting from 0.
        index: u64,
        /// The key's bytes.
        key: Vec<u8>,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The merged input is not in strictly increasing internal-key order.
    #[error("input entry {index} of the merge is out of order: {key:?} after {previous:?}")]
    OutOfOrder {
        /// Position of the entry in the merged input, counting from 0.
        index: u64,
        /// The key before it.
        previous: Vec<u8>,
        /// The key that should have come later.
        key: Vec<u8>,
    },
    /// The picker was given runs that are not ordered newest to oldest with
    /// disjoint sequence-number ranges.
    #[error(
        "sorted run {index} (seqnos {min_seqno}..={max_seqno}) is not older than run {} \
         (seqnos from {newer_min_seqno})", index - 1
    )]
    RunsOutOfOrder {
        /// Position of the offending run in the list.
        index: usize,
        /// Its smallest sequence number.
        min_seqno: u64,
        /// Its largest sequence number.
        max_seqno: u64,
        /// The smallest sequence number of the run before it.
        newer_min_seqno: u64,
    },
    /// The picker was given a run whose smallest sequence number is above
    /// its largest.
    #[error("sorted run {index} has seqnos {min_seqno}..={max_seqno}, an empty range")]
    BadRun {
        /// Position of the run in the list.
        index: usize,
        /// Its smallest sequence number.
        min_seqno: u64,
        /// Its largest sequence number.
        max_seqno: u64,
    },
    /// The leveled picker was given a level whose tables are not sorted
    /// by key without overlaps, or a table whose key range is empty.
    #[error("table {index} of level {level}: {what}")]
    LevelOutOfOrder {
        /// The level (0 for L0).
        level: usize,
        /// Position of the table in the level.
        index: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A compaction input holds a key outside the key range the job's
    /// outputs answer for.
    #[error("input key {key:?} lies outside the output range {lower:?}..{upper:?}")]
    KeyOutOfBounds {
        /// The key.
        key: Vec<u8>,
        /// The job's `lower`.
        lower: Vec<u8>,
        /// The job's `upper`.
        upper: Option<Vec<u8>>,
    },
    /// The merge operator failed to merge the operands of a key
    /// ([`MergeOperator::full_merge`](crate::MergeOperator::full_merge)
    /// returned `None`).
    #[error("merge operator {operator} failed to merge the operands of key {key:?}")]
    MergeFailed {
        /// The user key.
        key: Vec<u8>,
        /// The operator's name.
        operator: String,
    },
    /// An option is outside its documented range.
    #[error("invalid compaction option {option}: {what}")]
    InvalidOption {
        /// The option's field name.
        option: &'static str,
        /// The rule it breaks.
        what: &'static str,
    },
}

impl Error {
    /// Whether this error says that stored data is corrupt, as opposed to
    /// an I/O failure or a misuse of the API.
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Table(e) => e.is_corruption(),
            Error::BadKey { .. } | Error::OutOfOrder { .. } => true,
            Error::RunsOutOfOrder { .. }
            | Error::BadRun { .. }
            | Error::LevelOutOfOrder { .. }
            | Error::KeyOutOfBounds { .. }
            | Error::MergeFailed { .. }
            | Error::InvalidOption { .. } => false,
        }
    }
}
