//! [`DbIter`]: the user's view of a range at a snapshot.
//!
//! Under it, a merging iterator (`lsmkit-compaction`) yields every version
//! of every source in internal-key order; this layer keeps, per user key,
//! the newest version visible at the snapshot, drops it when it is a point
//! tombstone or a visible range tombstone of a newer sequence number covers
//! it, and stops at the bounds. Range tombstones are collected from every
//! source when the iterator is made and cut into disjoint fragments, each
//! with its newest sequence number, so a key is checked in O(log t).
//!
//! Both ends: the front and the back each have their own merging cursor
//! (the back one made on the first `next_back`), and they stop where they
//! meet, so `DbIter` is a [`DoubleEndedIterator`].

use std::ops::Bound;
use std::sync::Arc;

use lsmkit_compaction::MergingIterator;
use lsmkit_sstable::key::{self, MAX_SEQNO};
use lsmkit_sstable::{Fragments, InternalIterator, ParsedKey, SeqNo, ValueKind};

use crate::error::{Error, Result};
use crate::run_iter::RunIter;
use crate::version::Version;

type Merge = MergingIterator<Box<dyn InternalIterator>>;

/// A key and its value, as an iterator yields them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// An iterator over the live keys of a range at a snapshot, in key order
/// (or reversed from the back), yielding `Result<(key, value)>`.
///
/// It holds the version it was made on: later writes, flushes and
/// compactions do not change what it yields. After an error it yields
/// nothing more.
pub struct DbIter {
    version: Arc<Version>,
    snapshot: SeqNo,
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
    tombstones: Fragments,
    front: Option<Merge>,
    back: Option<Merge>,
    /// The last key each end has passed (yielded or skipped as dead): the
    /// other end stops before it. Reused as a buffer from key to key.
    front_key: Option<Vec<u8>>,
    back_key: Option<Vec<u8>>,
    done: bool,
}

impl DbIter {
    pub(crate) fn new(
        version: Arc<Version>,
        snapshot: SeqNo,
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
    ) -> DbIter {
        let tombstones = Fragments::newest(&version.range_tombstones(
            snapshot,
            lower.as_deref(),
            upper.as_deref(),
        ));
        let done = matches!((&lower, &upper), (Some(l), Some(u)) if l >= u);
        DbIter {
            version,
            snapshot,
            lower,
            upper,
            tombstones,
            front: None,
            back: None,
            front_key: None,
            back_key: None,
            done,
        }
    }

    /// A merging cursor over every source, limited to the bounds.
    fn merge(&self) -> Merge {
        let (lower, upper) = (self.lower.as_deref(), self.upper.as_deref());
        let memtables = std::iter::once(&self.version.mem)
            .chain(self.version.frozen.iter().map(|f| &f.mem))
            .map(|m| Box::new(m.raw_iter()) as Box<dyn InternalIterator>);
        let runs = self
            .version
            .runs
            .iter()
            .map(|run| RunIter::new(run, lower, upper))
            .filter(|run| !run.is_empty())
            .map(|run| Box::new(run) as Box<dyn InternalIterator>);
        MergingIterator::new(memtables.chain(runs).collect())
    }

    fn seek_key(user_key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(user_key.len() + key::TRAILER_LEN);
        key::encode_seek(user_key, MAX_SEQNO, &mut k);
        k
    }

    fn below_upper(&self, user_key: &[u8]) -> bool {
        self.upper.as_deref().is_none_or(|u| user_key < u)
    }

    fn above_lower(&self, user_key: &[u8]) -> bool {
        self.lower.as_deref().is_none_or(|l| user_key >= l)
    }

    fn fail(&mut self, error: Error) -> Option<Result<KeyValue>> {
        self.done = true;
        Some(Err(error))
    }

    /// What the newest visible version of a key says, given its parsed key.
    fn live(&self, parsed: &ParsedKey<'_>) -> bool {
        parsed.kind == ValueKind::Put
            && !self
                .tombstones
                .covers(parsed.user_key, parsed.seqno, self.snapshot)
    }

    fn step_front(&mut self) -> Option<Result<KeyValue>> {
        let mut it = match self.front.take() {
            Some(it) => it,
            None => {
                let mut it = self.merge();
                match &self.lower {
                    Some(lower) => it.seek(&Self::seek_key(lower)),
                    None => it.seek_to_first(),
                }
                it
            }
        };
        let result = loop {
            if !it.valid() {
                break it.status().err().map(|e| Err(e.into()));
            }
            let Some(parsed) = ParsedKey::parse(it.key()) else {
                break Some(Err(bad_key(it.key())));
            };
            if !self.below_upper(parsed.user_key)
                || self
                    .back_key
                    .as_deref()
                    .is_some_and(|b| parsed.user_key >= b)
            {
                break None;
            }
            if parsed.seqno > self.snapshot {
                it.next();
                continue;
            }
            // The newest visible version of the key.
            let entry = self
                .live(&parsed)
                .then(|| (parsed.user_key.to_vec(), it.value().to_vec()));
            // The front has now passed this key, yielded or not; its buffer
            // is reused from key to key.
            let passed = self.front_key.get_or_insert_with(Vec::new);
            passed.clear();
            passed.extend_from_slice(parsed.user_key);
            // Past the older versions of this key (usually few: stepping is
            // cheaper than a seek, which repositions every source).
            while it.valid() && key::user_key(it.key()) == passed.as_slice() {
                it.next();
            }
            if let Some(entry) = entry {
                break Some(Ok(entry));
            }
        };
        self.front = Some(it);
        result
    }

    fn step_back(&mut self) -> Option<Result<KeyValue>> {
        let mut it = match self.back.take() {
            Some(it) => it,
            None => {
                let mut it = self.merge();
                match &self.upper {
                    Some(upper) => {
                        it.seek(&Self::seek_key(upper));
                        if it.valid() {
                            it.prev();
                        } else if it.status().is_ok() {
                            it.seek_to_last();
                        }
                    }
                    None => it.seek_to_last(),
                }
                it
            }
        };
        let result = loop {
            if !it.valid() {
                break it.status().err().map(|e| Err(e.into()));
            }
            let Some(parsed) = ParsedKey::parse(it.key()) else {
                break Some(Err(bad_key(it.key())));
            };
            if !self.above_lower(parsed.user_key)
                || self
                    .front_key
                    .as_deref()
                    .is_some_and(|f| parsed.user_key <= f)
            {
                break None;
            }
            if !self.below_upper(parsed.user_key) {
                it.prev();
                continue;
            }
            // The back passes this key, yielded or not; its buffer is reused
            // from key to key.
            let mut passed = self.back_key.take().unwrap_or_default();
            passed.clear();
            passed.extend_from_slice(parsed.user_key);
            // Walking back, a key's versions come oldest first: the last
            // visible one seen is the newest visible.
            let mut newest: Option<(SeqNo, ValueKind)> = None;
            let mut value = Vec::new();
            while it.valid() && key::user_key(it.key()) == passed.as_slice() {
                match ParsedKey::parse(it.key()) {
                    Some(p) if p.seqno <= self.snapshot => {
                        newest = Some((p.seqno, p.kind));
                        value.clear();
                        value.extend_from_slice(it.value());
                    }
                    Some(_) => {}
                    None => break,
                }
                it.prev();
            }
            let entry = newest
                .filter(|&(seqno, kind)| {
                    self.live(&ParsedKey {
                        user_key: &passed,
                        seqno,
                        kind,
                    })
                })
                .map(|_| (passed.clone(), value));
            self.back_key = Some(passed);
            if let Err(e) = it.status() {
                break Some(Err(e.into()));
            }
            if let Some(entry) = entry {
                break Some(Ok(entry));
            }
        };
        self.back = Some(it);
        result
    }
}

fn bad_key(key: &[u8]) -> Error {
    Error::Table(lsmkit_sstable::Error::Corruption {
        file: "<merged sources>".into(),
        offset: 0,
        what: format!(
            "malformed internal key {:?}",
            key.escape_ascii().to_string()
        ),
    })
}

impl Iterator for DbIter {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step_front() {
            Some(Err(e)) => self.fail(e),
            None => {
                self.done = true;
                None
            }
            item => item,
        }
    }
}

impl DoubleEndedIterator for DbIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step_back() {
            Some(Err(e)) => self.fail(e),
            None => {
                self.done = true;
                None
            }
            item => item,
        }
    }
}

impl std::fmt::Debug for DbIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbIter")
            .field("snapshot", &self.snapshot)
            .field("lower", &self.lower)
            .field("upper", &self.upper)
            .finish_non_exhaustive()
    }
}

/// The bounds of a Rust range of keys, as `[lower, upper)` with owned ends;
/// an inclusive end becomes the key's immediate successor (key + `0x00`).
pub(crate) fn bounds_of(
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let succ = |k: &[u8]| {
        let mut s = k.to_vec();
        s.push(0);
        s
    };
    let lower = match start {
        Bound::Included(k) => Some(k.to_vec()),
        Bound::Excluded(k) => Some(succ(k)),
        Bound::Unbounded => None,
    };
    let upper = match end {
        Bound::Included(k) => Some(succ(k)),
        Bound::Excluded(k) => Some(k.to_vec()),
        Bound::Unbounded => None,
    };
    (lower, upper)
}

/// The first key after every key that starts with `prefix`, `None` when
/// there is none (the prefix is all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_carries_over_0xff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
