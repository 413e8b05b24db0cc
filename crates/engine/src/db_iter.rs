//! [`DbIter`]: the user's view of a range at a snapshot.
//!
//! Under it, a merging iterator (`lsmkit-compaction`) yields every version
//! of every source in internal-key order; this layer keeps, per user key,
//! the newest version visible at the snapshot, drops it when it is a point
//! tombstone or a visible range tombstone of a newer sequence number covers
//! it, folds it with the merge operator when it is a merge operand (with
//! the older operands under it, down to a value, a deletion or the end),
//! and stops at the bounds. Range tombstones are collected from every
//! source when the iterator is made and cut into disjoint fragments, each
//! with its newest sequence number, so a key is checked in O(log t).
//!
//! Both ends: the front and the back each have their own merging cursor
//! (the back one made on the first `next_back`), and they stop where they
//! meet, so `DbIter` is a [`DoubleEndedIterator`].

use std::ops::Bound;
use std::sync::Arc;

use lsmkit_compaction::{MergeOperator, MergingIterator};
use lsmkit_sstable::key::{self, MAX_SEQNO};
use lsmkit_sstable::{Fragments, InternalIterator, ParsedKey, SeqNo, ValueKind};

use crate::error::{Error, Result};
use crate::run_iter::run_iter;
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
    merge_operator: Option<Arc<dyn MergeOperator>>,
}

impl DbIter {
    pub(crate) fn new(
        version: Arc<Version>,
        snapshot: SeqNo,
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
        merge_operator: Option<Arc<dyn MergeOperator>>,
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
            merge_operator,
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
            .map(|run| run_iter(run, lower, upper))
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

    fn covered(&self, user_key: &[u8], seqno: SeqNo) -> bool {
        self.tombstones.covers(user_key, seqno, self.snapshot)
    }

    /// The value of `user_key` whose newest visible version, under the
    /// cursor, is a merge operand: the operands from there down to a value,
    /// a deletion or the key's last version, folded. Leaves the cursor on
    /// the version that ended the fold, or past the key.
    fn fold_front(&self, it: &mut Merge, user_key: &[u8]) -> Result<Vec<u8>> {
        let mut operands = vec![it.value().to_vec()];
        let mut base = None;
        it.next();
        while it.valid() {
            let Some(p) = ParsedKey::parse(it.key()) else {
                return Err(bad_key(it.key()));
            };
            if p.user_key != user_key || self.covered(user_key, p.seqno) {
                break;
            }
            match p.kind {
                ValueKind::Merge => operands.push(it.value().to_vec()),
                ValueKind::Put => {
                    base = Some(it.value().to_vec());
                    break;
                }
                _ => break,
            }
            it.next();
        }
        it.status()?;
        crate::merge::resolve(
            self.merge_operator.as_deref(),
            user_key,
            base.as_deref(),
            &operands,
        )
    }

    /// The value of `user_key` from its visible versions since the last
    /// value or point tombstone, oldest first (as the back end walks them):
    /// `None` when it is deleted.
    fn fold_back(
        &self,
        user_key: &[u8],
        chain: &[(SeqNo, ValueKind, Vec<u8>)],
    ) -> Result<Option<Vec<u8>>> {
        let mut operands: Vec<&[u8]> = Vec::new();
        let mut base = None;
        for (seqno, kind, value) in chain.iter().rev() {
            if self.covered(user_key, *seqno) {
                break;
            }
            match kind {
                ValueKind::Merge => operands.push(value),
                ValueKind::Put => {
                    base = Some(value.as_slice());
                    break;
                }
                _ => break,
            }
        }
        if operands.is_empty() {
            return Ok(base.map(<[u8]>::to_vec));
        }
        crate::merge::resolve(self.merge_operator.as_deref(), user_key, base, &operands).map(Some)
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
            // The newest visible version of the key. The front has now
            // passed this key, yielded or not; its buffer is reused from key
            // to key.
            let (seqno, kind) = (parsed.seqno, parsed.kind);
            let mut passed = self.front_key.take().unwrap_or_default();
            passed.clear();
            passed.extend_from_slice(parsed.user_key);
            let entry = match kind {
                _ if self.covered(&passed, seqno) => None,
                ValueKind::Put => Some(Ok((passed.clone(), it.value().to_vec()))),
                ValueKind::Merge => Some(
                    self.fold_front(&mut it, &passed)
                        .map(|value| (passed.clone(), value)),
                ),
                _ => None,
            };
            // Past the older versions of this key (usually few: stepping is
            // cheaper than a seek, which repositions every source).
            while it.valid() && key::user_key(it.key()) == passed.as_slice() {
                it.next();
            }
            self.front_key = Some(passed);
            if let Some(entry) = entry {
                break Some(entry);
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
            // Walking back, a key's versions come oldest first: the newest
            // visible one is the last visible one seen, and what a merge
            // operand folds with is what came since the last value or
            // point tombstone.
            let mut chain: Vec<(SeqNo, ValueKind, Vec<u8>)> = Vec::new();
            while it.valid() && key::user_key(it.key()) == passed.as_slice() {
                match ParsedKey::parse(it.key()) {
                    Some(p) if p.seqno <= self.snapshot => {
                        if p.kind != ValueKind::Merge {
                            chain.clear();
                        }
                        chain.push((p.seqno, p.kind, it.value().to_vec()));
                    }
                    Some(_) => {}
                    None => break,
                }
                it.prev();
            }
            let entry = self
                .fold_back(&passed, &chain)
                .map(|value| value.map(|v| (passed.clone(), v)))
                .transpose();
            self.back_key = Some(passed);
            if let Err(e) = it.status() {
                break Some(Err(e.into()));
            }
            if let Some(entry) = entry {
                break Some(entry);
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
