//! [`Snapshot`]: reads at a fixed sequence number, and the registry of live
//! snapshots that compaction must keep versions for.

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::sync::{Mutex, MutexGuard};

use lsmkit_sstable::SeqNo;

use crate::background::lock;
use crate::db::{Source, prefix_at, range_at};
use crate::db_iter::DbIter;
use crate::error::Result;

/// The sequence numbers of live snapshots, with how many snapshots hold
/// each.
#[derive(Debug, Default)]
pub(crate) struct SnapshotList(Mutex<BTreeMap<SeqNo, usize>>);

impl SnapshotList {
    fn acquire(&self, seqno: SeqNo) {
        *lock(&self.0).entry(seqno).or_default() += 1;
    }

    fn release(&self, seqno: SeqNo) {
        let mut list = lock(&self.0);
        if let Some(count) = list.get_mut(&seqno) {
            *count -= 1;
            if *count == 0 {
                list.remove(&seqno);
            }
        }
    }

    /// The list, locked so that no snapshot is taken, if no live snapshot
    /// is at or above `seqno`; `None` otherwise.
    pub fn lock_if_none_from(
        &self,
        seqno: SeqNo,
    ) -> Option<MutexGuard<'_, BTreeMap<SeqNo, usize>>> {
        let list = lock(&self.0);
        list.range(seqno..).next().is_none().then_some(list)
    }

    /// The live snapshots' sequence numbers, ascending.
    pub fn seqnos(&self) -> Vec<SeqNo> {
        lock(&self.0).keys().copied().collect()
    }
}

/// A consistent view of the database as of one sequence number.
///
/// It reads the default keyspace; every other keyspace is read at the same
/// point through [`Keyspace::get_at`](crate::Keyspace::get_at) and
/// [`Keyspace::range_at`](crate::Keyspace::range_at).
///
/// Reads through it see exactly the writes made before it was taken,
/// whatever is written, flushed or compacted afterwards: compaction keeps
/// the versions a live snapshot needs, and drops them once the last
/// snapshot that needs them is dropped. It keeps the database's state
/// alive (not its background threads) and may outlive the [`Db`](crate::Db)
/// handle; it is `Send + Sync`.
pub struct Snapshot {
    source: Source,
    seqno: SeqNo,
}

impl Snapshot {
    pub(crate) fn new(source: Source) -> Snapshot {
        let seqno = match &source {
            // Registered before the sequence number is read could be passed
            // by a compaction that starts now: read and register under one
            // lock.
            Source::Live(inner) => {
                let mut list = lock(&inner.snapshots.0);
                let seqno = inner.visible_seqno();
                *list.entry(seqno).or_default() += 1;
                seqno
            }
            // Nothing compacts a read-only handle's version.
            Source::Fixed(fixed) => fixed.seqno,
        };
        Snapshot { source, seqno }
    }

    /// The sequence number this snapshot reads at.
    pub fn seqno(&self) -> SeqNo {
        self.seqno
    }

    /// The value of `key` as of this snapshot.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tree = &self.source.trees().default;
        tree.current()
            .get(key, self.seqno, tree.options.merge_operator.as_deref())
    }

    /// The live keys of `range` as of this snapshot, in order (`.rev()`
    /// for descending).
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIter {
        let tree = &self.source.trees().default;
        range_at(range, tree.current(), self.seqno, tree.merge_operator())
    }

    /// The live keys that start with `prefix` as of this snapshot.
    pub fn prefix(&self, prefix: &[u8]) -> DbIter {
        let tree = &self.source.trees().default;
        prefix_at(prefix, tree.current(), self.seqno, tree.merge_operator())
    }

    /// Every live key as of this snapshot.
    pub fn iter(&self) -> DbIter {
        self.range::<&[u8], _>(..)
    }
}

impl Clone for Snapshot {
    fn clone(&self) -> Snapshot {
        if let Source::Live(inner) = &self.source {
            inner.snapshots.acquire(self.seqno);
        }
        Snapshot {
            source: self.source.clone(),
            seqno: self.seqno,
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Source::Live(inner) = &self.source {
            inner.snapshots.release(self.seqno);
        }
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("seqno", &self.seqno)
            .finish()
    }
}
