//! The raw cursor: every stored version in internal-key order, as the
//! [`InternalIterator`] that flush and the merging iterator consume.
//!
//! The cursor holds a skiplist entry (O(1) to step forward) inside a
//! self-referential cell that also owns an `Arc` of the skiplist, so that it
//! needs no borrow of the memtable. The alternative, re-seeking past a
//! copied key on each step, costs O(log n) per step; `benches/memtable.rs`
//! measures both (`iterate/raw_next` against `iterate/reseek`).

use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use crossbeam_skiplist::map;
use lsmkit_sstable::key::TRAILER_LEN;
use lsmkit_sstable::{InternalIterator, InternalKey, MAX_SEQNO, ValueKind};

use crate::memtable::{Value, Versions};

type Position<'a> = Option<map::Entry<'a, InternalKey, Value>>;

self_cell::self_cell!(
    struct Cursor {
        owner: Arc<Versions>,
        #[covariant]
        dependent: Position,
    }
);

/// A cursor over stored versions; see [`Memtable::raw_iter`](crate::Memtable::raw_iter).
///
/// It never fails: `status()` is always `Ok`.
pub struct RawIter {
    cursor: Cursor,
}

impl RawIter {
    pub(crate) fn new(versions: Arc<Versions>) -> RawIter {
        RawIter {
            cursor: Cursor::new(versions, |_| None),
        }
    }

    fn entry(&self) -> Option<&map::Entry<'_, InternalKey, Value>> {
        self.cursor.borrow_dependent().as_ref()
    }
}

impl InternalIterator for RawIter {
    fn valid(&self) -> bool {
        self.entry().is_some()
    }

    fn seek_to_first(&mut self) {
        self.cursor
            .with_dependent_mut(|versions, position| *position = versions.front());
    }

    fn seek_to_last(&mut self) {
        self.cursor
            .with_dependent_mut(|versions, position| *position = versions.back());
    }

    fn seek(&mut self, target: &[u8]) {
        let target = ordered_key(target);
        self.cursor.with_dependent_mut(|versions, position| {
            *position = versions.lower_bound(Bound::Included(&target));
        });
    }

    fn next(&mut self) {
        self.cursor.with_dependent_mut(|_, position| {
            let moved = position.as_mut().is_some_and(|entry| entry.move_next());
            if !moved {
                *position = None;
            }
        });
    }

    fn prev(&mut self) {
        self.cursor.with_dependent_mut(|_, position| {
            let moved = position.as_mut().is_some_and(|entry| entry.move_prev());
            if !moved {
                *position = None;
            }
        });
    }

    fn key(&self) -> &[u8] {
        self.entry().map_or(&[], |e| e.key().as_bytes())
    }

    fn value(&self) -> &[u8] {
        self.entry().map_or(&[], |e| e.value())
    }

    fn status(&self) -> Result<(), lsmkit_sstable::Error> {
        Ok(())
    }
}

impl fmt::Debug for RawIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry() {
            Some(e) => write!(f, "RawIter at {:?}", e.key()),
            None => f.write_str("RawIter (invalid)"),
        }
    }
}

/// An [`InternalKey`] that orders exactly as the arbitrary bytes `target`
/// do under the internal-key comparator, for seeking the skiplist.
///
/// A seek target may carry a kind no version stores (the seek kind, or any
/// other byte); against stored kinds (all below 3) every such byte compares
/// alike, so the seek key stands for it. A target shorter than a trailer
/// compares as its bytes with trailer 0, which is `(bytes, 0, Delete)`.
fn ordered_key(target: &[u8]) -> InternalKey {
    let Some(at) = target.len().checked_sub(TRAILER_LEN) else {
        return InternalKey::new(target, 0, ValueKind::Delete);
    };
    let (user_key, trailer) = target.split_at(at);
    let mut bytes = [0u8; TRAILER_LEN];
    bytes.copy_from_slice(trailer);
    let trailer = u64::from_le_bytes(bytes);
    let seqno = (trailer >> 8).min(MAX_SEQNO);
    match ValueKind::from_u8((trailer & 0xff) as u8) {
        Some(kind) => InternalKey::new(user_key, seqno, kind),
        None => InternalKey::seek(user_key, seqno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsmkit_sstable::key::{self, SEEK_KIND};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ordered_key_orders_as_its_bytes(target in proptest::collection::vec(any::<u8>(), 0..14),
                                           user in proptest::collection::vec(any::<u8>(), 0..4),
                                           seqno in 0..=MAX_SEQNO, kind in 0u8..3) {
            let stored = InternalKey::new(&user, seqno, ValueKind::from_u8(kind).unwrap());
            prop_assert_eq!(
                ordered_key(&target).cmp(&stored),
                key::compare(&target, stored.as_bytes())
            );
        }
    }

    #[test]
    fn seek_kind_is_what_the_seek_key_carries() {
        let mut seek = Vec::new();
        key::encode_seek(b"k", 5, &mut seek);
        assert_eq!(seek[seek.len() - TRAILER_LEN], SEEK_KIND);
        assert_eq!(ordered_key(&seek), InternalKey::seek(b"k", 5));
    }
}
