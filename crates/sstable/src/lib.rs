//! SSTables for lsmkit: internal keys and range tombstones (the writer and
//! reader land with the rest of this crate).
#![forbid(unsafe_code)]

pub mod key;
mod tombstone;

pub use key::{InternalKey, InternalKeyComparator, MAX_SEQNO, ParsedKey, SeqNo, ValueKind};
pub use tombstone::RangeTombstone;
