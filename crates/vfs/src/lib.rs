//! The filesystem seam of lsmkit: one small trait between storage code and
//! the disk, with three implementations.
//!
//! - [`Fs`] (with [`WritableFile`], [`RandomAccessFile`] and [`FileLock`]):
//!   create, append, sync, read at an offset, rename, remove, truncate, list,
//!   create and sync directories, lock. Every crate above this one touches
//!   files only through it, held as `Arc<dyn Fs>`. Its docs state the
//!   durability contract: what survives a power loss, and when.
//! - [`StdFs`]: the real filesystem. Readers are memory maps when the
//!   default `mmap` feature is on (see the memory-map caveat on [`StdFs`]:
//!   a mapped file truncated under a live map faults the process).
//! - [`MemFs`]: an in-memory filesystem that knows, per file and per
//!   directory entry, what is durable. [`MemFs::crash`] drops everything
//!   else; [`MemFs::crash_torn`] also keeps a seeded prefix of unsynced
//!   tails; [`MemFs::crash_clone`] does either to a copy while the original
//!   runs on. [`MemFs::lose_synced_writes`] and [`MemFs::lose_dir_renames`]
//!   make a crash lose synced data or a synced rename, as a lying disk can.
//! - [`FaultFs`]: wraps any [`Fs`] and fails calls by [`Rule`]: the n-th call
//!   of an operation, every call from the n-th on, calls on matching paths,
//!   calls with a seeded probability, appends past a byte budget. Injected
//!   errors are plain [`std::io::Error`]s; [`FsError::is_injected`] tells
//!   them apart in assertions. It counts calls per [`Op`].
//!
//! All three are deterministic and always compiled: other crates' tests use
//! `MemFs` and `FaultFs` without features.
//!
//! # Example: what survives a crash
//!
//! ```
//! use std::path::Path;
//! use lsmkit_vfs::{Fs, MemFs};
//!
//! # fn main() -> std::io::Result<()> {
//! let fs = MemFs::new();
//! let dir = Path::new("/db");
//! fs.create_dir_all(dir)?;
//!
//! // A log whose creation and first record are durable...
//! let mut log = fs.create(&dir.join("000001.log"))?;
//! fs.sync_dir(dir)?;
//! log.append(b"put a=1;")?;
//! log.sync()?;
//! // ...then a record that is flushed but never synced,
//! log.append(b"put b=2;")?;
//! log.flush()?;
//! // and a table that is synced but whose directory entry is not.
//! let mut table = fs.create(&dir.join("000002.sst"))?;
//! table.append(b"block")?;
//! table.sync()?;
//!
//! fs.crash();
//!
//! let log = fs.open(&dir.join("000001.log"))?;
//! assert_eq!(log.as_bytes(), Some(&b"put a=1;"[..]));
//! assert_eq!(fs.list(dir)?, ["000001.log"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Concurrency
//!
//! Every [`Fs`] is `Send + Sync`, and its methods may be called from any
//! thread at once. A [`RandomAccessFile`] is shared (`Arc`) and read
//! concurrently; a [`WritableFile`] has one owner (`&mut self`). `MemFs` and
//! `FaultFs` handles are cheap clones sharing one state.
//!
//! # Features
//!
//! - `mmap` (default): `StdFs` readers memory-map files (memmap2), and on
//!   Linux writers copy appends into preallocated space through a map
//!   (allocated with rustix's `fallocate`). Without it readers use
//!   positional reads, writers positional writes, and the crate compiles
//!   with `forbid(unsafe_code)` and no dependency but thiserror.
#![deny(missing_docs)]
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

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
