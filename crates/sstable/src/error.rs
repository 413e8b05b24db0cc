//! The errors of this crate.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What went wrong writing or reading a table.
///
/// Errors are `Clone` (I/O errors are shared) so that an iterator can keep
/// its first error and hand it out from `status()` more than once.
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
    /// A file's bytes are not a valid table.
    #[error("corrupt table {} at offset {offset}: {what}", file.display())]
    Corruption {
        /// The file.
        file: PathBuf,
        /// The byte offset in the file where the problem was found.
        offset: u64,
        /// What was wrong.
        what: String,
    },
}

impl Error {
    /// Whether this error says that stored data is corrupt (as opposed to
    /// an I/O failure or a misuse of the API).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}
