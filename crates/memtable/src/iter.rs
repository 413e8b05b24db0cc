//! Snapshot iteration: the live value of each user key in a range, as of
//! one sequence number.

use std::fmt;
use std::ops::Bound;

use crossbeam_skiplist::map;
use lsmkit_sstable::{Fragments, MAX_SEQNO, SeqNo, ValueKind};

use crate::mem_key::MemKey;
use crate::memtable::{Value, Versions};

type RawEntry<'a> = map::Entry<'a, MemKey, Value>;
type RawRange<'a> = map::Range<'a, MemKey, (Bound<MemKey>, Bound<MemKey>), MemKey, Value>;

/// One live key and its value, borrowed from the memtable without copying.
pub struct Entry<'a> {
    inner: RawEntry<'a>,
}

impl Entry<'_> {
    /// The user key.
    pub fn user_key(&self) -> &[u8] {
        self.inner.key().user_key()
    }

    /// The sequence number of the version shown.
    pub fn seqno(&self) -> SeqNo {
        self.inner.key().seqno()
    }

    /// The value (clone the [`Value`] to keep it past the memtable).
    pub fn value(&self) -> &Value {
        self.inner.value()
    }
}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{} = {}",
            self.user_key().escape_ascii(),
            self.seqno(),
            self.value().escape_ascii()
        )
    }
}

/// The live keys of a range at a snapshot, from
/// [`Memtable::range`](crate::Memtable::range) and
/// [`Memtable::iter`](crate::Memtable::iter).
///
/// Both ends may be consumed; they never cross. Each end keeps the first
/// version it pulled of the next key's group in a slot, so that a group is
/// resolved whole by whichever end reaches it.
pub struct Iter<'a> {
    range: RawRange<'a>,
    snapshot: SeqNo,
    fragments: Fragments,
    front: Option<RawEntry<'a>>,
    back: Option<RawEntry<'a>>,
}

impl<'a> Iter<'a> {
    pub(crate) fn new(
        points: &'a Versions,
        (lo, hi): (Bound<&[u8]>, Bound<&[u8]>),
        snapshot: SeqNo,
        fragments: Fragments,
    ) -> Iter<'a> {
        let bounds = (lower_bound(lo), upper_bound(hi));
        Iter {
            range: points.range(bounds),
            snapshot,
            fragments,
            front: None,
            back: None,
        }
    }

    /// The next unconsumed version from the front; the back slot is the
    /// last of them once the skiplist range is used up.
    fn pull_front(&mut self) -> Option<RawEntry<'a>> {
        self.front
            .take()
            .or_else(|| self.range.next())
            .or_else(|| self.back.take())
    }

    fn pull_back(&mut self) -> Option<RawEntry<'a>> {
        self.back
            .take()
            .or_else(|| self.range.next_back())
            .or_else(|| self.front.take())
    }

    /// The version to show for a key, if any: live, not deleted.
    fn live(&self, newest_visible: Option<RawEntry<'a>>) -> Option<Entry<'a>> {
        let e = newest_visible?;
        let key = e.key();
        let is_put = key.parsed().is_some_and(|p| p.kind == ValueKind::Put);
        (is_put
            && !self
                .fragments
                .covers(key.user_key(), key.seqno(), self.snapshot))
        .then_some(Entry { inner: e })
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        loop {
            let first = self.pull_front()?;
            // Versions of a key come newest first: the first visible wins.
            let mut chosen = (first.key().seqno() <= self.snapshot).then(|| first.clone());
            while let Some(e) = self.pull_front() {
                if e.key().user_key() != first.key().user_key() {
                    self.front = Some(e);
                    break;
                }
                if chosen.is_none() && e.key().seqno() <= self.snapshot {
                    chosen = Some(e);
                }
            }
            if let Some(live) = self.live(chosen) {
                return Some(live);
            }
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            let last = self.pull_back()?;
            // Backwards, versions come oldest first: the last visible wins.
            let mut chosen = (last.key().seqno() <= self.snapshot).then(|| last.clone());
            while let Some(e) = self.pull_back() {
                if e.key().user_key() != last.key().user_key() {
                    self.back = Some(e);
                    break;
                }
                if e.key().seqno() <= self.snapshot {
                    chosen = Some(e);
                }
            }
            if let Some(live) = self.live(chosen) {
                return Some(live);
            }
        }
    }
}

impl fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

/// The internal-key bound just before every version of a user key, or just
/// after all of them. Versions order newest first, so the first possible
/// version of `k` is the seek key at `MAX_SEQNO` and the last is trailer 0.
fn first_version(user_key: &[u8]) -> MemKey {
    MemKey::seek(user_key, MAX_SEQNO)
}

fn last_version(user_key: &[u8]) -> MemKey {
    MemKey::new(user_key, 0, ValueKind::Delete)
}

fn lower_bound(bound: Bound<&[u8]>) -> Bound<MemKey> {
    match bound {
        Bound::Included(k) => Bound::Included(first_version(k)),
        Bound::Excluded(k) => Bound::Excluded(last_version(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn upper_bound(bound: Bound<&[u8]>) -> Bound<MemKey> {
    match bound {
        Bound::Included(k) => Bound::Included(last_version(k)),
        Bound::Excluded(k) => Bound::Excluded(first_version(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}
