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
use lsmkit_sstable::InternalIterator;

use crate::mem_key::MemKey;
use crate::memtable::{Value, Versions};

type Position<'a> = Option<map::Entry<'a, MemKey, Value>>;

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

    fn entry(&self) -> Option<&map::Entry<'_, MemKey, Value>> {
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
        // Any bytes order under the internal-key comparator, seek keys included.
        let target = MemKey::from_encoded(target);
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
