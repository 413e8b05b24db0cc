//! Sorted, prefix-compressed, checksummed key/value blocks.
#![forbid(unsafe_code)]

mod comparator;

pub use comparator::{Bytewise, Comparator};
