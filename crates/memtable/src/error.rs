//! The errors of this crate.

use lsmkit_sstable::{MAX_SEQNO, SeqNo};

/// Why the memtable refused a write.
///
/// The memtable reads no stored bytes, so none of these is corruption: each
/// is a misuse by the caller that the memtable refuses rather than store a
/// version it could not order or account for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The memtable is frozen: it serves reads but takes no more writes.
    #[error("the memtable is frozen and takes no more writes")]
    Frozen,
    /// The sequence number does not fit in the 56 bits a key stores.
    #[error("sequence number {seqno} exceeds the largest storable, {MAX_SEQNO}")]
    SeqNoTooLarge {
        /// The sequence number given.
        seqno: SeqNo,
    },
    /// This exact version (user key, sequence number and kind) is already
    /// present. The engine gives every write its own sequence number, so a
    /// repeat means the same write was applied twice.
    #[error("version {}@{seqno} is already in the memtable", user_key.escape_ascii())]
    DuplicateVersion {
        /// The user key.
        user_key: Vec<u8>,
        /// The repeated sequence number.
        seqno: SeqNo,
    },
}

impl Error {
    /// Whether this error says that stored data is corrupt. Always false
    /// today (see the type's docs); present so that the engine can ask every
    /// lsmkit error the same question.
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Frozen | Error::SeqNoTooLarge { .. } | Error::DuplicateVersion { .. } => false,
        }
    }
}
