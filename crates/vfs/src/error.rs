//! The payload of every [`io::Error`] this crate makes: what failed, on
//! which path, and whether the failure was injected.

use std::io;
use std::path::{Path, PathBuf};

use crate::Op;

/// Why a call through the seam failed, carried inside an [`io::Error`].
///
/// Every error from [`StdFs`](crate::StdFs), [`MemFs`](crate::MemFs) and
/// [`FaultFs`](crate::FaultFs) is an `io::Error` whose
/// [`kind`](io::Error::kind) says what happened and whose inner error is an
/// `FsError` saying where: get it with [`FsError::of`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// The operation failed for a real (or simulated) reason.
    #[error("{op} {}: {source}", path.display())]
    Failed {
        /// What was attempted.
        op: Op,
        /// The path it was attempted on (for a rename, the source).
        path: PathBuf,
        /// What the operating system (or `MemFs`) said.
        source: io::Error,
    },
    /// A [`FaultFs`](crate::FaultFs) rule failed the operation on purpose.
    #[error("{op} {}: injected fault", path.display())]
    Injected {
        /// What was attempted.
        op: Op,
        /// The path of the file or directory it was attempted on.
        path: PathBuf,
    },
}

impl FsError {
    /// The `FsError` inside `error`, if it came from this crate.
    pub fn of(error: &io::Error) -> Option<&FsError> {
        error.get_ref().and_then(|inner| inner.downcast_ref())
    }

    /// Whether `error` was injected by a [`FaultFs`](crate::FaultFs) rule.
    pub fn is_injected(error: &io::Error) -> bool {
        matches!(FsError::of(error), Some(FsError::Injected { .. }))
    }

    /// The operation that failed.
    pub fn op(&self) -> Op {
        match self {
            FsError::Failed { op, .. } | FsError::Injected { op, .. } => *op,
        }
    }

    /// The path the failed operation was on.
    pub fn path(&self) -> &Path {
        match self {
            FsError::Failed { path, .. } | FsError::Injected { path, .. } => path,
        }
    }
}

/// Wraps `source` so that it names `op` and `path`, keeping its kind.
pub(crate) fn failed(op: Op, path: &Path, source: io::Error) -> io::Error {
    let kind = source.kind();
    io::Error::new(
        kind,
        FsError::Failed {
            op,
            path: path.to_path_buf(),
            source,
        },
    )
}

/// An error of `kind` with a message, naming `op` and `path`.
pub(crate) fn failed_with(op: Op, path: &Path, kind: io::ErrorKind, message: &str) -> io::Error {
    failed(op, path, io::Error::new(kind, message.to_owned()))
}

/// The error for a file operation on a directory.
pub(crate) fn is_a_directory(op: Op, path: &Path) -> io::Error {
    failed_with(op, path, io::ErrorKind::IsADirectory, "is a directory")
}

/// The error a [`FaultFs`](crate::FaultFs) rule returns.
pub(crate) fn injected(op: Op, path: &Path, kind: io::ErrorKind) -> io::Error {
    io::Error::new(
        kind,
        FsError::Injected {
            op,
            path: path.to_path_buf(),
        },
    )
}
