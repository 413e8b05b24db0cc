//! The errors of building and opening blocks.

/// A failure to build or to open a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`BlockBuilder::add`](crate::BlockBuilder::add) was given a key not
    /// strictly greater than the previous one. The builder is unchanged.
    #[error(
        "key of entry {entry} is {} the previous key; keys must strictly increase",
        if *.duplicate { "equal to" } else { "less than" }
    )]
    OutOfOrder {
        /// Zero-based index the entry would have had in the block.
        entry: u64,
        /// Whether the key equals the previous key (else it is smaller).
        duplicate: bool,
    },

    /// Adding the entry would make the block's entry region larger than
    /// the format can address ([`MAX_DATA_LEN`](crate::format::MAX_DATA_LEN)).
    /// The builder is unchanged.
    #[error("block would grow to {size} bytes of entries, more than the limit of {limit}")]
    TooLarge {
        /// The size the entry region would have reached.
        size: u64,
        /// The largest entry region a block can have.
        limit: u64,
    },

    /// [`BlockBuilder::add`](crate::BlockBuilder::add) after
    /// [`finish`](crate::BlockBuilder::finish) without a
    /// [`reset`](crate::BlockBuilder::reset) in between.
    #[error("block already finished; reset the builder before adding")]
    Finished,

    /// The bytes are not a valid block.
    #[error("corrupt block at byte {offset}: {what}")]
    Corruption {
        /// What is wrong, with what was expected and what was found.
        what: Corruption,
        /// Offset within the block of the first byte found wrong.
        offset: u64,
    },
}

impl Error {
    /// Whether this error says the bytes of a block are damaged (as opposed
    /// to a misuse of the builder).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }

    pub(crate) fn corruption(what: Corruption, offset: usize) -> Self {
        Error::Corruption {
            what,
            offset: offset as u64,
        }
    }
}

/// What is wrong with a corrupt block.
///
/// Offsets named here, like the `offset` of [`Error::Corruption`], count
/// from the first byte of the block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// Fewer bytes than even an empty block has.
    #[error("block is {len} bytes, shorter than the {min}-byte trailer")]
    TooShort {
        /// Length of the block.
        len: u64,
        /// The smallest possible block.
        min: u64,
    },

    /// The format byte names no format this version can read.
    #[error("unknown format byte {found} (expected {expected})")]
    UnknownFormat {
        /// The format this version writes.
        expected: u8,
        /// The byte found.
        found: u8,
    },

    /// The stored checksum does not match the bytes it covers.
    #[error("checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    ChecksumMismatch {
        /// The checksum stored in the trailer.
        stored: u64,
        /// The checksum of the bytes as read.
        computed: u64,
    },

    /// The restart count claims more restart offsets than the block holds.
    #[error("restart count {count} needs {needed} bytes but only {available} precede the trailer")]
    RestartCount {
        /// The restart count as stored.
        count: u64,
        /// Bytes those restarts would take.
        needed: u64,
        /// Bytes available for them.
        available: u64,
    },

    /// The block has entries but no restart point, or its first restart is
    /// not at offset 0.
    #[error("first restart is {found:?}, expected Some(0) when the block has entries")]
    FirstRestart {
        /// The first restart offset, `None` if there is none.
        found: Option<u32>,
    },

    /// A restart offset does not fall on the start of an entry: it points
    /// inside one, beyond the entries, or is not greater than the one
    /// before it.
    #[error(
        "restart {index} is {found}, not the start of an entry (next entry starts at {expected})"
    )]
    RestartMisplaced {
        /// Index of the restart in the restart array.
        index: u64,
        /// The offset the restart holds.
        found: u64,
        /// The start of the first entry at or after the previous restart's
        /// entry that this restart could have named.
        expected: u64,
    },

    /// An entry header varint is malformed or cut off by the end of the
    /// entry region.
    #[error("malformed or truncated varint in entry header")]
    BadVarint,

    /// An entry's key suffix and value run past the end of the entry region.
    #[error("entry needs {needed} more bytes but the entry region has {available} left")]
    EntryOverrun {
        /// Bytes the key suffix and value claim.
        needed: u64,
        /// Bytes left in the entry region.
        available: u64,
    },

    /// An entry claims to share more bytes than the previous key has.
    #[error("entry shares {shared} bytes of a previous key of {previous} bytes")]
    SharedTooLong {
        /// The shared length as stored.
        shared: u64,
        /// Length of the previous key.
        previous: u64,
    },

    /// An entry at a restart point does not store its key whole.
    #[error("restart entry shares {shared} bytes with the previous key, expected 0")]
    RestartShared {
        /// The shared length as stored.
        shared: u64,
    },

    /// An entry's key is not strictly greater than the previous key under
    /// the block's comparator.
    #[error("key of entry {entry} is not greater than the previous key")]
    KeysOutOfOrder {
        /// Zero-based index of the entry.
        entry: u64,
    },
}
