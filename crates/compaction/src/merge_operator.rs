//! Merge operators: read-modify-write without the read.
//!
//! A merge operand ([`ValueKind::Merge`](lsmkit_sstable::ValueKind::Merge))
//! stores a change to a key's value (add 1, append an item) rather than the
//! value. Readers find the operands of a key newest first, down to its
//! *base*: a value, a deletion (no base), or the oldest data (no base).
//! The [`MergeOperator`] then folds the base and the operands into the
//! value a reader sees. Compaction folds them too, where no snapshot can
//! tell the difference (see [`stream`](crate::stream), "Merge operands").
//!
//! The same operator must be configured for as long as the data holds
//! operands it wrote: the operands are opaque bytes, and nothing on disk
//! says which operator they are for. [`MergeOperator::name`] is there for
//! an engine to record and compare.
//!
//! Two operators ship as examples: [`U64Add`], a counter of 8-byte
//! little-endian unsigned integers, and [`ListAppend`], which joins values
//! with a separator byte.
//!
//! A custom engine reads with [`full_merge_newest_first`] over the operands
//! it collected (the memtable's and the table reader's `get_operands`
//! collect them newest first), and compacts with
//! [`CompactionStream::with_merge_operator`](crate::CompactionStream::with_merge_operator):
//!
//! ```
//! use std::sync::Arc;
//! use lsmkit_compaction::{CompactionStream, U64Add, full_merge_newest_first};
//! use lsmkit_memtable::{Lookup, Memtable};
//! use lsmkit_sstable::{MAX_SEQNO, ParsedKey, ValueKind};
//!
//! let m = Memtable::new();
//! m.insert(b"hits", 1, ValueKind::Put, &U64Add::operand(10))?;
//! m.insert(b"hits", 2, ValueKind::Merge, &U64Add::operand(1))?;
//! m.insert(b"hits", 3, ValueKind::Merge, &U64Add::operand(2))?;
//!
//! // A read: the operands newest first, then what lies under them.
//! let mut operands = Vec::new();
//! let base = match m.get_operands(b"hits", MAX_SEQNO, &mut operands) {
//!     Lookup::Found(value) => Some(value),
//!     _ => None,
//! };
//! let value = full_merge_newest_first(&U64Add, b"hits", base.as_deref(), &operands);
//! assert_eq!(value.as_deref().and_then(U64Add::decode), Some(13));
//!
//! // A compaction with no snapshot folds them into one value.
//! let mut stream = CompactionStream::new(m.raw_iter(), &[], &[], false)
//!     .with_merge_operator(Some(Arc::new(U64Add)));
//! let (key, value) = stream.next().expect("one entry");
//! assert_eq!(ParsedKey::parse(key).map(|k| (k.seqno, k.kind)), Some((3, ValueKind::Put)));
//! assert_eq!(U64Add::decode(value), Some(13));
//! assert!(stream.next().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

/// Combines merge operands with the value under them.
///
/// Operands are passed in the order they were written, oldest first.
///
/// REQUIRES of an implementation:
/// - `full_merge` is a function of its arguments (deterministic, no side
///   effects), and it is associative in the sense that folding a prefix of
///   the operands first gives the same result:
///   `full_merge(k, b, [x, y, z]) == full_merge(k, Some(&full_merge(k, b, [x, y])?), [z])`;
///   readers and compactions fold at different points.
/// - `partial_merge(k, ops)`, when it returns `Some(m)`, must satisfy
///   `full_merge(k, b, [.., m, ..]) == full_merge(k, b, [.., ops.., ..])`
///   for every base `b` and surrounding operands.
///
/// A failed merge (`None` from `full_merge`: an operand the operator cannot
/// read, say) is reported as an error to the reader or the compaction; it
/// is never turned into a value.
pub trait MergeOperator: Send + Sync {
    /// A name that says which operator wrote the operands, for an engine
    /// to record beside them and compare when it opens. Change it when the
    /// operand format changes.
    fn name(&self) -> &str;

    /// The value of `key` after applying `operands` (oldest first) to
    /// `existing`, the base value (`None`: the key had no value); `None`
    /// when they cannot be merged.
    fn full_merge(
        &self,
        key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Option<Vec<u8>>;

    /// One operand equivalent to `operands` (oldest first, at least two),
    /// to store where no base is known; `None` when the operator cannot
    /// combine operands without a base (the operands are then kept as
    /// they are). The default combines nothing.
    fn partial_merge(&self, key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        let _ = (key, operands);
        None
    }
}

impl fmt::Debug for dyn MergeOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MergeOperator").field(&self.name()).finish()
    }
}

/// [`MergeOperator::full_merge`] of operands collected as readers find
/// them, newest first.
pub fn full_merge_newest_first<T: AsRef<[u8]>>(
    operator: &dyn MergeOperator,
    key: &[u8],
    existing: Option<&[u8]>,
    newest_first: &[T],
) -> Option<Vec<u8>> {
    let oldest_first: Vec<&[u8]> = newest_first.iter().rev().map(AsRef::as_ref).collect();
    operator.full_merge(key, existing, &oldest_first)
}

/// A counter: values and operands are unsigned 64-bit integers, 8 bytes
/// little-endian; merging adds them (wrapping at 2^64). No base counts as
/// 0. A value or operand of another length fails the merge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct U64Add;

impl U64Add {
    /// The operand that adds `n`.
    pub fn operand(n: u64) -> [u8; 8] {
        n.to_le_bytes()
    }

    /// The counter a value holds; `None` for a value that is not 8 bytes.
    pub fn decode(value: &[u8]) -> Option<u64> {
        Some(u64::from_le_bytes(value.try_into().ok()?))
    }

    fn sum<'a>(start: u64, operands: impl IntoIterator<Item = &'a [u8]>) -> Option<u64> {
        operands
            .into_iter()
            .try_fold(start, |sum, op| Some(sum.wrapping_add(Self::decode(op)?)))
    }
}

impl MergeOperator for U64Add {
    fn name(&self) -> &str {
        "lsmkit.u64_add"
    }

    fn full_merge(
        &self,
        _key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Option<Vec<u8>> {
        let start = existing.map_or(Some(0), Self::decode)?;
        Some(
            Self::sum(start, operands.iter().copied())?
                .to_le_bytes()
                .to_vec(),
        )
    }

    fn partial_merge(&self, _key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        Some(
            Self::sum(0, operands.iter().copied())?
                .to_le_bytes()
                .to_vec(),
        )
    }
}

/// A list: merging appends each operand to the value, with the separator
/// byte between items (`a`, then merges `b` and `c`: `a,b,c` with `,`).
/// No base is the empty list. Any bytes are accepted; items that contain
/// the separator cannot be told apart when read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListAppend {
    separator: u8,
}

impl ListAppend {
    /// A list with `separator` between its items.
    pub fn new(separator: u8) -> ListAppend {
        ListAppend { separator }
    }

    fn join<'a>(&self, items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(self.separator);
            }
            out.extend_from_slice(item);
        }
        out
    }
}

impl Default for ListAppend {
    /// Items separated by `,`.
    fn default() -> Self {
        ListAppend::new(b',')
    }
}

impl MergeOperator for ListAppend {
    fn name(&self) -> &str {
        "lsmkit.list_append"
    }

    fn full_merge(
        &self,
        _key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Option<Vec<u8>> {
        Some(self.join(existing.into_iter().chain(operands.iter().copied())))
    }

    fn partial_merge(&self, _key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        Some(self.join(operands.iter().copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counter_adds_and_refuses_bad_lengths() {
        let (one, two) = (U64Add::operand(1), U64Add::operand(2));
        let merged = U64Add.full_merge(b"k", None, &[&one, &two]);
        assert_eq!(merged.as_deref().and_then(U64Add::decode), Some(3));
        let base = U64Add::operand(u64::MAX);
        let wrapped = U64Add.full_merge(b"k", Some(&base), &[&two]);
        assert_eq!(wrapped.as_deref().and_then(U64Add::decode), Some(1));
        assert_eq!(U64Add.full_merge(b"k", Some(b"short"), &[&one]), None);
        assert_eq!(U64Add.full_merge(b"k", None, &[b"1234567"]), None);
    }

    #[test]
    fn list_appends_with_the_separator() {
        let list = ListAppend::default();
        assert_eq!(
            list.full_merge(b"k", Some(b"a"), &[b"b", b"c"]),
            Some(b"a,b,c".to_vec())
        );
        assert_eq!(list.full_merge(b"k", None, &[b"b"]), Some(b"b".to_vec()));
        // An empty base is an empty first item, unlike no base.
        assert_eq!(
            list.full_merge(b"k", Some(b""), &[b"b"]),
            Some(b",b".to_vec())
        );
    }

    fn operators() -> Vec<Box<dyn MergeOperator>> {
        vec![Box::new(U64Add), Box::new(ListAppend::new(b'|'))]
    }

    proptest! {
        /// The contract readers and compactions rely on: folding a prefix
        /// first, or a stretch by partial merge, changes nothing.
        #[test]
        fn folding_in_pieces_is_folding_at_once(
            base in proptest::option::of(any::<u64>()),
            ops in proptest::collection::vec(any::<u64>(), 2..8),
            cut in 0usize..8,
            width in 2usize..8,
        ) {
            for op in operators() {
                let ops: Vec<[u8; 8]> = ops.iter().map(|&n| U64Add::operand(n)).collect();
                let refs: Vec<&[u8]> = ops.iter().map(|o| &o[..]).collect();
                let base = base.map(U64Add::operand);
                let base = base.as_ref().map(|b| &b[..]);
                let whole = op.full_merge(b"k", base, &refs);
                let cut = cut.min(refs.len());
                let prefix = op.full_merge(b"k", base, &refs[..cut]).unwrap();
                let stepwise = if cut == 0 {
                    op.full_merge(b"k", base, &refs)
                } else {
                    op.full_merge(b"k", Some(&prefix), &refs[cut..])
                };
                prop_assert_eq!(&stepwise, &whole);
                let end = (cut + width).min(refs.len());
                if end - cut >= 2 {
                    let partial = op.partial_merge(b"k", &refs[cut..end]).unwrap();
                    let mut replaced: Vec<&[u8]> = refs[..cut].to_vec();
                    replaced.push(&partial);
                    replaced.extend_from_slice(&refs[end..]);
                    prop_assert_eq!(op.full_merge(b"k", base, &replaced), whole);
                }
            }
        }
    }
}
