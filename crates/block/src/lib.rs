//! Sorted, prefix-compressed, checksummed key/value blocks: the unit that
//! lsmkit's SSTables are made of, usable on its own.
//!
//! A block is a run of entries in strictly increasing key order, serialized
//! into one contiguous byte buffer: keys prefix-compressed against the
//! previous key with a full key every few entries (a *restart point*), a
//! restart array for binary search, and an xxh3-64 checksum over it all.
//! [`BlockBuilder`] writes one; [`Block`] opens and validates one;
//! [`BlockIter`] seeks and walks it both ways. The byte layout is in
//! [`format`](mod@format) and in the repository's `docs/FORMAT.md`.
//!
//! ```
//! use lsmkit_block::{Block, BlockBuilder, Bytewise};
//!
//! let mut builder = BlockBuilder::new(Bytewise);
//! builder.add(b"apple", b"red")?;
//! builder.add(b"apricot", b"orange")?;
//! builder.add(b"banana", b"")?;
//! let bytes: Vec<u8> = builder.into_bytes();
//!
//! let block = Block::new(bytes, Bytewise)?; // checks every byte
//! let mut it = block.iter();
//! it.seek(b"apr");
//! assert_eq!(it.key(), b"apricot");
//! assert_eq!(it.value(), b"orange");
//! it.next();
//! assert_eq!((it.key(), it.value()), (&b"banana"[..], &b""[..]));
//! it.next();
//! assert!(!it.valid());
//! # Ok::<(), lsmkit_block::Error>(())
//! ```
//!
//! # Key order
//!
//! Keys are ordered by a [`Comparator`], bytewise by default. The format
//! does not depend on it: tables of multi-version internal keys use the
//! same blocks under another comparator. A block must be opened with the
//! comparator it was built with; [`Block::new`] rejects a block whose keys
//! are not increasing under the comparator it is given.
//!
//! # Validation up front
//!
//! [`Block::new`] checks the checksum and then decodes every entry once,
//! so that iteration needs no error path: a corrupt or crafted block is an
//! [`Error::Corruption`] saying what is wrong and at which byte, never a
//! panic, an out-of-bounds read or a wrong entry. The cost is one forward
//! pass over the block when it is opened (see the crate README for
//! figures); a reader that caches opened blocks pays it once per load.
//!
//! # Concurrency
//!
//! [`Block`] is immutable and `Send + Sync`; clones share the bytes through
//! an `Arc`, so any number of threads can iterate one block, each with its
//! own [`BlockIter`]. A [`BlockBuilder`] or [`BlockIter`] is used by one
//! thread at a time (`&mut self`) and may be moved between threads.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod block;
mod builder;
mod comparator;
mod error;
pub mod format;
mod iter;

pub use block::Block;
pub use builder::{BlockBuilder, BlockOptions};
pub use comparator::{Bytewise, Comparator};
pub use error::{Corruption, Error};
pub use iter::BlockIter;

// The README's example runs as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
