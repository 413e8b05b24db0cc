//! [`WriteBatch`]: writes applied together, all or none, across crashes.

use std::ops::Range;

use lsmkit_sstable::ValueKind;

use crate::format::{self, BATCH_HEADER_LEN, DEFAULT_KEYSPACE};
use crate::keyspace::Keyspace;

/// Puts, merges, deletes and range deletes applied atomically by
/// [`Db::write`](crate::Db::write): readers see all of them or none, and
/// after a crash recovery restores all of them or none (the batch is one
/// WAL record).
///
/// Ops apply in the order they were added, each with its own sequence
/// number, so a later op on a key wins over an earlier one. `put`,
/// `delete`, ... write to the default keyspace; `put_in`, `delete_in`, ...
/// to the [`Keyspace`] given, and a batch may span keyspaces, atomically.
///
/// ```
/// use lsmkit_engine::WriteBatch;
///
/// let mut batch = WriteBatch::new();
/// batch.put(b"a", b"1").delete(b"b").delete_range(b"c".to_vec()..b"f".to_vec());
/// assert_eq!(batch.len(), 3);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WriteBatch {
    /// The encoded batch (see [`format`]), header left zero until written.
    rep: Vec<u8>,
    count: u32,
    /// Key and value bytes, for statistics.
    user_bytes: u64,
    /// Whether an op is a merge: the database refuses the batch without a
    /// merge operator.
    has_merge: bool,
    /// The keyspace the next op is in unless a switch is written.
    keyspace: u64,
}

impl Default for WriteBatch {
    fn default() -> Self {
        WriteBatch::new()
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::with_capacity(0)
    }

    /// An empty batch with room for about `bytes` of keys and values
    /// without reallocating.
    pub fn with_capacity(bytes: usize) -> WriteBatch {
        // Per op: a kind byte and two length varints of at most 5 bytes.
        let mut rep = Vec::with_capacity(BATCH_HEADER_LEN + bytes + 11);
        rep.resize(BATCH_HEADER_LEN, 0);
        WriteBatch {
            rep,
            count: 0,
            user_bytes: 0,
            has_merge: false,
            keyspace: DEFAULT_KEYSPACE,
        }
    }

    /// Sets `key` to `value`.
    ///
    /// REQUIRES: `key` and `value` are shorter than 4 GiB.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.push(ValueKind::Put, key, value)
    }

    /// Merges `operand` into the value of `key`, with the database's
    /// [`merge_operator`](crate::Options::merge_operator): the value read
    /// afterwards is the operator's fold of the key's value before (if
    /// any) and the operands written since. Without an operator the batch
    /// is refused when written.
    ///
    /// REQUIRES: `key` and `operand` are shorter than 4 GiB.
    pub fn merge(&mut self, key: &[u8], operand: &[u8]) -> &mut Self {
        self.has_merge = true;
        self.push(ValueKind::Merge, key, operand)
    }

    /// Deletes `key`.
    ///
    /// REQUIRES: `key` is shorter than 4 GiB.
    pub fn delete(&mut self, key: &[u8]) -> &mut Self {
        self.push(ValueKind::Delete, key, b"")
    }

    /// Deletes every key in `range` (start inclusive, end exclusive); an
    /// empty range deletes nothing.
    ///
    /// REQUIRES: both ends are shorter than 4 GiB.
    pub fn delete_range(&mut self, range: Range<Vec<u8>>) -> &mut Self {
        self.push(ValueKind::RangeDelete, &range.start, &range.end)
    }

    /// Sets `key` to `value` in `keyspace`.
    ///
    /// REQUIRES: `key` and `value` are shorter than 4 GiB.
    pub fn put_in(&mut self, keyspace: &Keyspace, key: &[u8], value: &[u8]) -> &mut Self {
        self.push_in(keyspace.id(), ValueKind::Put, key, value)
    }

    /// Merges `operand` into `key` of `keyspace`, with that keyspace's
    /// merge operator.
    ///
    /// REQUIRES: `key` and `operand` are shorter than 4 GiB.
    pub fn merge_in(&mut self, keyspace: &Keyspace, key: &[u8], operand: &[u8]) -> &mut Self {
        self.has_merge = true;
        self.push_in(keyspace.id(), ValueKind::Merge, key, operand)
    }

    /// Deletes `key` from `keyspace`.
    ///
    /// REQUIRES: `key` is shorter than 4 GiB.
    pub fn delete_in(&mut self, keyspace: &Keyspace, key: &[u8]) -> &mut Self {
        self.push_in(keyspace.id(), ValueKind::Delete, key, b"")
    }

    /// Deletes every key in `range` from `keyspace`.
    ///
    /// REQUIRES: both ends are shorter than 4 GiB.
    pub fn delete_range_in(&mut self, keyspace: &Keyspace, range: Range<Vec<u8>>) -> &mut Self {
        self.push_in(
            keyspace.id(),
            ValueKind::RangeDelete,
            &range.start,
            &range.end,
        )
    }

    fn push(&mut self, kind: ValueKind, key: &[u8], value: &[u8]) -> &mut Self {
        self.push_in(DEFAULT_KEYSPACE, kind, key, value)
    }

    fn push_in(&mut self, keyspace: u64, kind: ValueKind, key: &[u8], value: &[u8]) -> &mut Self {
        if keyspace != self.keyspace {
            format::put_keyspace_switch(&mut self.rep, keyspace);
            self.keyspace = keyspace;
        }
        assert!(
            u32::try_from(key.len()).is_ok() && u32::try_from(value.len()).is_ok(),
            "keys and values must be shorter than 4 GiB"
        );
        format::put_op(&mut self.rep, kind, key, value);
        self.count += 1;
        self.user_bytes += (key.len() + value.len()) as u64;
        self
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the batch has no op.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every op.
    pub fn clear(&mut self) {
        self.rep.truncate(BATCH_HEADER_LEN);
        self.count = 0;
        self.user_bytes = 0;
        self.has_merge = false;
        self.keyspace = DEFAULT_KEYSPACE;
    }

    /// Whether an op is a merge.
    pub(crate) fn has_merge(&self) -> bool {
        self.has_merge
    }

    /// Bytes of keys and values the batch writes.
    pub(crate) fn user_bytes(&self) -> u64 {
        self.user_bytes
    }

    /// The batch's WAL record with its first sequence number set.
    pub(crate) fn record(&mut self, seqno: u64) -> &[u8] {
        format::set_batch_header(&mut self.rep, seqno, self.count);
        &self.rep
    }
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("ops", &self.count)
            .field("bytes", &self.rep.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_decodes_to_the_ops_in_order() {
        let mut batch = WriteBatch::new();
        batch
            .put(b"k", b"v")
            .delete(b"k")
            .delete_range(b"a".to_vec()..b"z".to_vec())
            .merge(b"k", b"+1");
        let decoded = format::decode_batch(batch.record(40)).unwrap();
        assert_eq!(decoded.seqno, 40);
        let kinds: Vec<_> = decoded.ops.iter().map(|op| op.kind).collect();
        assert_eq!(
            kinds,
            [
                ValueKind::Put,
                ValueKind::Delete,
                ValueKind::RangeDelete,
                ValueKind::Merge
            ]
        );
        assert_eq!(decoded.ops[2].value, b"z");
        assert_eq!(decoded.ops[3].value, b"+1");
        assert!(batch.has_merge());
        batch.clear();
        assert!(batch.is_empty() && !batch.has_merge());
        assert!(
            format::decode_batch(batch.record(1))
                .unwrap()
                .ops
                .is_empty()
        );
    }
}
