//! SSTables for lsmkit: immutable sorted files of multi-version entries,
//! written in one streaming pass and read without an engine.
//!
//! A table holds versions of keys — `(user key, sequence number, kind,
//! value)`, ordered by user key ascending then sequence number descending
//! (see [`key`]) — plus range tombstones. [`SstWriter`] streams entries
//! into data blocks (`lsmkit-block`), an index of short separator keys, a
//! bloom filter over user keys, a range-deletion block, a properties block
//! and a checksummed footer, then publishes the file atomically.
//! [`SstReader`] opens a table through `lsmkit-vfs` (memory-mapped where the
//! filesystem allows), answers [`get`](SstReader::get) at any snapshot,
//! iterates with a [`TableIter`], and [`verify`](SstReader::verify)s every
//! byte, optionally keeping validated data blocks in a [`BlockCache`]
//! shared by all readers. Format version 2 (the default) compresses data
//! blocks with LZ4 or Zstandard as [`SstOptions::compression`] says (the
//! `lz4` and `zstd` features, both on by default) and filters with a
//! cache-local blocked bloom filter; version 1 tables stay readable, and
//! writable with [`SstOptions::format_version`]. [`Fragments`] cuts range tombstones into
//! disjoint fragments for binary-search lookups, for every layer above
//! that reads or compacts them. The byte layout is in [`format`](mod@format) and
//! `docs/FORMAT.md`.
//!
//! ```
//! use std::sync::Arc;
//! use lsmkit_sstable::{InternalIterator, Lookup, RangeTombstone, SstOptions, SstReader, SstWriter};
//! use lsmkit_vfs::{Fs, MemFs};
//!
//! let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
//! let mut writer = SstWriter::create(fs.clone(), "/t.sst", SstOptions::default())?;
//! writer.put(b"apple", 7, b"red")?;
//! writer.put(b"apple", 3, b"green")?;   // older version: comes after
//! writer.delete(b"banana", 5)?;
//! writer.put(b"cherry", 2, b"dark")?;
//! writer.add_range_tombstone(&RangeTombstone::new(&b"c"[..], &b"d"[..], 4))?;
//! let meta = writer.finish()?;
//! assert_eq!(meta.properties.num_entries, 4);
//!
//! let table = SstReader::open(&*fs, "/t.sst")?;
//! assert_eq!(table.get(b"apple", 10)?, Lookup::Found(b"red".to_vec()));
//! assert_eq!(table.get(b"apple", 5)?, Lookup::Found(b"green".to_vec()));
//! assert_eq!(table.get(b"banana", 10)?, Lookup::Deleted);
//! assert_eq!(table.get(b"cherry", 10)?, Lookup::Deleted); // range tombstone @4
//! assert_eq!(table.get(b"cherry", 3)?, Lookup::Found(b"dark".to_vec()));
//! assert_eq!(table.get(b"durian", 10)?, Lookup::Absent);
//!
//! let mut it = table.iter();
//! it.seek_to_first();
//! let mut n = 0;
//! while it.valid() { n += 1; it.next(); }
//! it.status()?;
//! assert_eq!(n, 4);
//! table.verify()?;
//! # Ok::<(), lsmkit_sstable::Error>(())
//! ```
//!
//! # Errors and bad files
//!
//! Every length and offset read from a file is checked before it is used:
//! a truncated, damaged or crafted file yields an [`Error`] naming the
//! file and the offset, never a panic, an out-of-bounds read, or an
//! allocation larger than the file. Opening checks the footer (magic,
//! version, checksum), every block handle, and that the blocks tile the
//! file with no gap; data blocks are checksummed when first read;
//! [`SstReader::verify`] reads them all.
//!
//! # Block cache
//!
//! A reader opened with [`SstReader::open`] reads each data block it needs
//! from the file, copying it out and validating it (checksum, structure,
//! key order), every time. Opened with [`SstReader::open_with`] and a
//! [`BlockCache`] in its [`ReaderOptions`], it looks data blocks up in the
//! cache first; a hit costs no copy and no validation. The contract:
//!
//! - One cache is shared by any number of readers and threads (`Arc`),
//!   bounded in bytes (each block charged its size and what holding it
//!   costs, [`BlockCache::CHARGE_PER_BLOCK`]), evicting by
//!   S3-FIFO, so one pass of a scan does not push out repeatedly read
//!   blocks.
//! - Blocks are keyed by a process-unique reader id and their offset: two
//!   readers never see each other's blocks, even of the same file, and a
//!   file re-created under a path is never served its predecessor's.
//! - Only blocks that validated are inserted: a corrupt block is an error
//!   on every read of it, cache or not.
//! - [`get`](SstReader::get) and iterators fill the cache on a miss;
//!   [`TableIter::fill_cache(false)`](TableIter::fill_cache) uses cached
//!   blocks without inserting (for compactions and other one-pass scans).
//!   [`verify`](SstReader::verify) always reads the file.
//! - The index, filter, properties and range tombstones are read once at
//!   open and held by the reader (the index decoded for a plain binary
//!   search), outside the cache's accounting.
//! - [`BlockCache::stats`] gives hits, misses, inserts, blocks and bytes
//!   held, for an engine's statistics.
//!
//! # Concurrency
//!
//! [`SstReader`] is immutable, `Send + Sync`, and shared as
//! `Arc<SstReader>`: any number of threads may call `get` and make
//! iterators at once. A [`BlockCache`] is `Send + Sync` and internally
//! sharded, each shard behind its own lock. A [`TableIter`] belongs to one
//! thread at a time (it is `Send`) and holds an `Arc` of its reader. An
//! [`SstWriter`] is used by one thread.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cache;
mod compression;
mod concat_iter;
mod data_index;
mod error;
mod filter;
pub mod format;
mod fragments;
pub mod iterator;
pub mod key;
mod properties;
mod reader;
mod table_file;
mod table_iter;
mod tombstone;
mod verify;
mod writer;

pub use cache::{BlockCache, CacheStats};
pub use concat_iter::{ConcatIter, ConcatTable};
pub use error::Error;
pub use format::{BlockHandle, Compression, Footer, FormatVersion};
pub use fragments::{Fragment, Fragments, defragment};
pub use iterator::InternalIterator;
pub use key::{InternalKey, InternalKeyComparator, MAX_SEQNO, ParsedKey, SeqNo, ValueKind};
pub use properties::Properties;
pub use reader::{Lookup, ReaderOptions, SstReader};
pub use table_iter::TableIter;
pub use tombstone::RangeTombstone;
pub use writer::{SstOptions, SstWriter, TableMeta};

/// The block crate, whose `Comparator` and `Error` appear in this crate's API.
pub use lsmkit_block;
/// The filesystem crate, whose `Fs` and `RandomAccessFile` appear in this
/// crate's API.
pub use lsmkit_vfs;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
