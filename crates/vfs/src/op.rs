//! The operations of the filesystem seam, named for error messages, fault
//! rules and call counters.

use std::fmt;

/// One kind of call through the [`Fs`](crate::Fs) seam, including calls on
/// the files it opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Op {
    /// [`Fs::create`](crate::Fs::create).
    Create,
    /// [`Fs::open_append`](crate::Fs::open_append).
    OpenAppend,
    /// [`Fs::open`](crate::Fs::open) and
    /// [`Fs::open_unmapped`](crate::Fs::open_unmapped).
    Open,
    /// [`RandomAccessFile::read_at`](crate::RandomAccessFile::read_at).
    Read,
    /// [`WritableFile::append`](crate::WritableFile::append).
    Append,
    /// [`WritableFile::flush`](crate::WritableFile::flush).
    Flush,
    /// [`WritableFile::sync`](crate::WritableFile::sync).
    Sync,
    /// [`Fs::rename`](crate::Fs::rename).
    Rename,
    /// [`Fs::remove`](crate::Fs::remove).
    Remove,
    /// [`Fs::hard_link`](crate::Fs::hard_link).
    HardLink,
    /// [`Fs::truncate`](crate::Fs::truncate).
    Truncate,
    /// [`Fs::list`](crate::Fs::list).
    List,
    /// [`Fs::create_dir_all`](crate::Fs::create_dir_all).
    CreateDir,
    /// [`Fs::sync_dir`](crate::Fs::sync_dir).
    SyncDir,
    /// [`Fs::exists`](crate::Fs::exists).
    Exists,
    /// [`Fs::size`](crate::Fs::size).
    Size,
    /// [`Fs::lock`](crate::Fs::lock).
    Lock,
    /// [`WritableFile::preallocate`](crate::WritableFile::preallocate) and
    /// [`WritableFile::release_reserve`](crate::WritableFile::release_reserve).
    Preallocate,
}

impl Op {
    /// Every operation, in declaration order.
    pub const ALL: [Op; 18] = [
        Op::Create,
        Op::OpenAppend,
        Op::Open,
        Op::Read,
        Op::Append,
        Op::Flush,
        Op::Sync,
        Op::Rename,
        Op::Remove,
        Op::HardLink,
        Op::Truncate,
        Op::List,
        Op::CreateDir,
        Op::SyncDir,
        Op::Exists,
        Op::Size,
        Op::Lock,
        Op::Preallocate,
    ];

    /// Whether the operation can change what is on disk, now or after a
    /// crash: the calls a "crash at the k-th write" test counts.
    ///
    /// Opening for append counts (it may create nothing, but it is where a
    /// writer starts); taking a lock does not.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Op::Create
                | Op::OpenAppend
                | Op::Append
                | Op::Flush
                | Op::Sync
                | Op::Rename
                | Op::Remove
                | Op::HardLink
                | Op::Truncate
                | Op::CreateDir
                | Op::SyncDir
                | Op::Preallocate
        )
    }

    /// A short lowercase name, as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::OpenAppend => "open_append",
            Op::Open => "open",
            Op::Read => "read",
            Op::Append => "append",
            Op::Flush => "flush",
            Op::Sync => "sync",
            Op::Rename => "rename",
            Op::Remove => "remove",
            Op::HardLink => "hard_link",
            Op::Truncate => "truncate",
            Op::List => "list",
            Op::CreateDir => "create_dir_all",
            Op::SyncDir => "sync_dir",
            Op::Exists => "exists",
            Op::Size => "size",
            Op::Lock => "lock",
            Op::Preallocate => "preallocate",
        }
    }

    /// Position in [`Op::ALL`], for per-operation tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order() {
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(op.index(), i, "{op}");
        }
    }
}
