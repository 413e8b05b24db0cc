//! The filesystem seam of lsmkit (work in progress: the trait lands first).
#![forbid(unsafe_code)]

mod fs;

pub use fs::{FileLock, Fs, RandomAccessFile, WritableFile};
