//! The errors of this crate.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What went wrong writing or reading a table.
///
/// Every variant that concerns a file names it, and every variant about
/// stored bytes names the byte offset in the file where the problem was
/// found. Errors are `Clone` (I/O errors are shared) so that an iterator
/// can keep its first error and hand it out from `status()` more than once.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The filesystem failed.
    #[error("I/O error on {}: {source}", file.display())]
    Io {
        /// The file being read or written.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },

    /// A file's bytes are not a valid table (a problem no more specific
    /// variant describes).
    #[error("corrupt table {} at offset {offset}: {what}", file.display())]
    Corruption {
        /// The file.
        file: PathBuf,
        /// The byte offset in the file where the problem was found.
        offset: u64,
        /// What was wrong.
        what: String,
    },

    /// A block of the table failed to build or to open: when reading, its
    /// checksum or structure is wrong.
    #[error("block at offset {offset} of {}: {source}", file.display())]
    Block {
        /// The file.
        file: PathBuf,
        /// Offset in the file of the block's first byte.
        offset: u64,
        /// What the block layer found.
        #[source]
        source: lsmkit_block::Error,
    },

    /// The file is shorter than the smallest table.
    #[error("{} is {len} bytes, shorter than the {min}-byte footer", file.display())]
    TooShort {
        /// The file.
        file: PathBuf,
        /// Its length.
        len: u64,
        /// The length of the footer, the smallest possible table.
        min: u64,
    },

    /// The footer does not end with the table magic number: not a table,
    /// or a truncated one.
    #[error("{} is not an lsmkit table: magic at offset {offset} is {found:#018x}", file.display())]
    BadMagic {
        /// The file.
        file: PathBuf,
        /// Offset of the magic number.
        offset: u64,
        /// The eight bytes found there, little-endian.
        found: u64,
    },

    /// The table was written in a format version this reader does not know
    /// (typically by a newer lsmkit).
    #[error(
        "{} has format version {found} at offset {offset}; this reader knows versions up to {newest}",
        file.display()
    )]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// Offset of the version field.
        offset: u64,
        /// The version found.
        found: u32,
        /// The newest version this reader reads.
        newest: u32,
    },

    /// A stored checksum does not match the bytes it covers.
    #[error(
        "checksum mismatch in {what} of {} at offset {offset}: stored {stored:#018x}, computed {computed:#018x}",
        file.display()
    )]
    ChecksumMismatch {
        /// The file.
        file: PathBuf,
        /// Offset of the stored checksum.
        offset: u64,
        /// What the checksum covers.
        what: &'static str,
        /// The checksum stored.
        stored: u64,
        /// The checksum of the bytes as read.
        computed: u64,
    },

    /// A block handle points outside the region where blocks may lie.
    #[error(
        "{what} handle at offset {offset} of {} is [{handle_offset}, +{handle_size}), beyond the block region's end {limit}",
        file.display()
    )]
    BadHandle {
        /// The file.
        file: PathBuf,
        /// Offset in the file where the handle is stored.
        offset: u64,
        /// Which block the handle names.
        what: &'static str,
        /// The offset the handle holds.
        handle_offset: u64,
        /// The size the handle holds.
        handle_size: u64,
        /// The end of the region blocks may occupy (the footer's offset).
        limit: u64,
    },

    /// A block does not lie where the layout puts it: the data blocks
    /// follow each other from offset 0, the meta blocks follow them, and
    /// the footer follows the last block.
    #[error(
        "{what} of {} starts at offset {found}, expected {expected} (handle at offset {offset})",
        file.display()
    )]
    Misplaced {
        /// The file.
        file: PathBuf,
        /// Offset in the file of the block (or index) that places it.
        offset: u64,
        /// Which block.
        what: &'static str,
        /// Where the previous block ends.
        expected: u64,
        /// Where it starts.
        found: u64,
    },

    /// A count or size in the properties block disagrees with the blocks
    /// (or the footer) it describes.
    #[error(
        "{} at offset {offset}: {what} is {found}, the properties say {expected}",
        file.display()
    )]
    PropertyMismatch {
        /// The file.
        file: PathBuf,
        /// Offset of the block whose contents disagree.
        offset: u64,
        /// Which count or size.
        what: &'static str,
        /// What the properties say.
        expected: u64,
        /// What the table holds.
        found: u64,
    },

    /// A block the table needs is not in its metaindex.
    #[error("{} has no {what} block in its metaindex at offset {offset}", file.display())]
    MissingBlock {
        /// The file.
        file: PathBuf,
        /// Offset of the metaindex block.
        offset: u64,
        /// Which block.
        what: &'static str,
    },

    /// The table was written under another key order than this reader's.
    #[error("{} was written with comparator {found:?}, expected {expected:?}", file.display())]
    ComparatorMismatch {
        /// The file.
        file: PathBuf,
        /// The comparator named in the table's properties.
        found: String,
        /// The comparator this reader orders keys with.
        expected: &'static str,
    },

    /// A writer was given an entry whose key is not greater than the
    /// previous entry's in internal-key order. The writer is unchanged and
    /// may continue with a greater key.
    #[error(
        "{}: entry {entry} has key {} which is not greater than the previous key {}",
        file.display(), Escaped(key), Escaped(previous)
    )]
    OutOfOrder {
        /// The table being written.
        file: PathBuf,
        /// Zero-based index the entry would have had.
        entry: u64,
        /// The internal key of the previous entry.
        previous: Vec<u8>,
        /// The internal key refused.
        key: Vec<u8>,
    },

    /// A writer was given a key that is not a valid internal key for a data
    /// entry: shorter than the 8-byte trailer, of an unknown kind, of kind
    /// `RangeDelete` (those go through `add_range_tombstone`), or with a
    /// sequence number above `MAX_SEQNO`.
    #[error("{}: invalid internal key {}: {reason}", file.display(), Escaped(key))]
    InvalidKey {
        /// The table being written.
        file: PathBuf,
        /// The key refused.
        key: Vec<u8>,
        /// Why it was refused.
        reason: &'static str,
    },

    /// A data block is compressed with a codec this build was compiled
    /// without (the `lz4` or `zstd` feature), or a writer was asked for one.
    /// Not a corruption: a build with the feature reads the block.
    #[error(
        "{} at offset {offset}: {} compression is not available in this build (enable lsmkit-sstable's `{}` feature)",
        file.display(), codec.name(), codec.name()
    )]
    CodecUnavailable {
        /// The file.
        file: PathBuf,
        /// Offset of the block (0 for a writer's request).
        offset: u64,
        /// The codec.
        codec: crate::format::Compression,
    },

    /// A writer's options cannot be honoured together.
    #[error("{}: option {option}: {what}", file.display())]
    InvalidOption {
        /// The table that was to be written.
        file: PathBuf,
        /// The option.
        option: &'static str,
        /// What is wrong.
        what: &'static str,
    },

    /// The writer failed earlier and cannot continue; it holds that first
    /// failure.
    #[error("writer of {} failed earlier: {first}", file.display())]
    Failed {
        /// The table being written.
        file: PathBuf,
        /// The error that stopped the writer.
        first: Box<Error>,
    },
}

impl Error {
    /// Whether this error says that stored data is corrupt (as opposed to
    /// an I/O failure, a table from a newer version, or a misuse of the API).
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Corruption { .. }
            | Error::TooShort { .. }
            | Error::BadMagic { .. }
            | Error::ChecksumMismatch { .. }
            | Error::BadHandle { .. }
            | Error::Misplaced { .. }
            | Error::PropertyMismatch { .. }
            | Error::MissingBlock { .. } => true,
            Error::Block { source, .. } => source.is_corruption(),
            _ => false,
        }
    }

    pub(crate) fn io(file: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            file: file.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        what: impl Into<String>,
    ) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }
}

/// Displays bytes with non-printable ones escaped.
struct Escaped<'a>(&'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}
