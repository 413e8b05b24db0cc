//! SSTables for lsmkit: internal keys, range tombstones and the iterator
//! contract (the writer and reader land with the rest of this crate).
#![forbid(unsafe_code)]

mod error;
mod iterator;
pub mod key;
mod tombstone;

pub use error::Error;
pub use iterator::InternalIterator;
pub use key::{InternalKey, InternalKeyComparator, MAX_SEQNO, ParsedKey, SeqNo, ValueKind};
pub use tombstone::RangeTombstone;
