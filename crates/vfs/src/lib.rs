//! The filesystem seam of lsmkit (work in progress).
#![cfg_attr(not(feature = "mmap"), forbid(unsafe_code))]
#![cfg_attr(feature = "mmap", deny(unsafe_code))]

mod error;
mod fault_fs;
mod fault_rule;
mod fs;
mod mem_file;
mod mem_fs;
mod op;
mod split_mix;
mod std_fs;

pub use error::FsError;
pub use fault_fs::{FaultFs, RuleId};
pub use fault_rule::Rule;
pub use fs::{FileLock, Fs, RandomAccessFile, WritableFile};
pub use mem_fs::MemFs;
pub use op::Op;
pub use std_fs::StdFs;
