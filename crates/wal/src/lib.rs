//! A write-ahead log for LSM trees: opaque records, framed in checksummed
//! fragments over 32 KiB blocks (LevelDB's log format, with RocksDB's log
//! number in every header), written to numbered segment files through
//! `lsmkit-vfs`, made durable by a sync policy with group commit, and read
//! back under RocksDB's recovery modes with a report of everything dropped.
//!
//! ```
//! use std::sync::Arc;
//! use lsmkit_vfs::{Fs, MemFs};
//! use lsmkit_wal::{RecoveryMode, WalOptions, WalReader};
//!
//! let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
//!
//! // Recover what the directory holds (nothing yet), then write on.
//! let mut reader = WalReader::open(fs.clone(), "/db/wal", RecoveryMode::default())?;
//! assert!(reader.next().is_none());
//! let (wal, _report) = reader.into_wal(WalOptions::default())?;
//! let first = wal.append(b"put apple red")?; // durable on return
//! wal.append(b"")?;
//! drop(wal);
//!
//! // After a restart: the records, in order, with their positions.
//! let mut reader = WalReader::open(fs.clone(), "/db/wal", RecoveryMode::default())?;
//! let records: Vec<_> = reader.by_ref().collect::<Result<_, _>>()?;
//! assert_eq!(records[0].data, b"put apple red");
//! assert_eq!(records[0].position, first.position);
//! assert_eq!(records[1].data, b"");
//! assert!(reader.report().is_clean());
//! # Ok::<(), lsmkit_wal::Error>(())
//! ```
//!
//! # Two layers
//!
//! - [`LogWriter`] and [`LogReader`] write and read the records of **one
//!   file**, given as a vfs file handle. A manifest (a log of version
//!   edits that is rotated by writing a new file and switching a pointer)
//!   uses them directly.
//! - [`Wal`] and [`WalReader`] keep a **directory of segments** on top:
//!   rotation at a size, deletion of segments the caller has made
//!   obsolete, sync policies and group commit, and recovery across
//!   segments.
//!
//! The log knows nothing of keys or memtables: a record is bytes, and what
//! they mean is the caller's business.
//!
//! # Durability
//!
//! [`Wal::append`] returns once the record is durable under
//! [`SyncPolicy::EveryAppend`] and [`SyncPolicy::GroupCommit`] (the
//! default); under [`SyncPolicy::Never`] it returns once the record is
//! handed to the OS, and [`Wal::sync`] makes everything appended so far
//! durable; under [`SyncPolicy::Buffered`] it returns with the record in the
//! writer's buffer, handed to the OS when the buffer fills or at
//! [`Wal::flush`] or [`Wal::sync`] (a crash of the process loses what is
//! still buffered). Recovery returns every record that was durable, in order,
//! exactly once, and nothing that was not written whole. A failed write or
//! sync stops the writer: it refuses every later call with the same error
//! until the directory is reopened.
//!
//! # Recovery
//!
//! [`RecoveryMode`] says what damage may be dropped (a torn tail by
//! default); [`RecoveryReport`] says, per segment, how many records came
//! back and which bytes were dropped and why. Damage the mode does not
//! allow is an [`Error::Corruption`] naming the file and offset.
//!
//! # Concurrency
//!
//! [`Wal`] is `Send + Sync` and every method takes `&self`: threads append
//! through an `Arc<Wal>`, serialized by an internal lock; fsyncs for
//! [`SyncPolicy::GroupCommit`] and [`Wal::sync`] run outside it, one leader
//! syncing for every waiting thread. [`LogWriter`], [`LogReader`] and
//! [`WalReader`] are used by one thread at a time and may be moved
//! between threads.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
pub mod format;
mod fragments;
mod group_commit;
mod log_reader;
mod log_writer;
mod progress;
mod recovery;
mod wal;
mod wal_reader;

pub use error::{Corruption, Error};
pub use log_reader::{LogReader, LogRecord};
pub use log_writer::LogWriter;
pub use recovery::{DropReason, Dropped, LogReport, RecoveryMode, RecoveryReport, SegmentReport};
pub use wal::{Appended, Position, SyncPolicy, Wal, WalOptions};
pub use wal_reader::{Record, WalReader};

/// The filesystem crate this one writes through: its `Fs`, `WritableFile`
/// and `RandomAccessFile` appear in this crate's API.
pub use lsmkit_vfs;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
