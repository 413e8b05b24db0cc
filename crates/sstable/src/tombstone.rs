//! Range tombstones: deletions of every key in `[start, end)` at one
//! sequence number.

use std::fmt;

use crate::key::SeqNo;

/// A deletion of every user key in `[start, end)` that is older than `seqno`.
///
/// A tombstone is visible at a snapshot `s` when `seqno <= s`; a visible
/// tombstone hides every version of a key in its range whose sequence number
/// is below its own. An empty range (`start >= end`) deletes nothing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RangeTombstone {
    /// The first user key deleted.
    pub start: Vec<u8>,
    /// The first user key not deleted (exclusive).
    pub end: Vec<u8>,
    /// The sequence number of the deletion.
    pub seqno: SeqNo,
}

impl RangeTombstone {
    /// A tombstone over `[start, end)` at `seqno`.
    pub fn new(start: impl Into<Vec<u8>>, end: impl Into<Vec<u8>>, seqno: SeqNo) -> Self {
        RangeTombstone {
            start: start.into(),
            end: end.into(),
            seqno,
        }
    }

    /// Whether `user_key` lies in `[start, end)`.
    pub fn contains(&self, user_key: &[u8]) -> bool {
        self.start.as_slice() <= user_key && user_key < self.end.as_slice()
    }

    /// Whether this tombstone deletes the version `(user_key, seqno)`.
    pub fn covers(&self, user_key: &[u8], seqno: SeqNo) -> bool {
        seqno < self.seqno && self.contains(user_key)
    }

    /// Whether this tombstone is visible at `snapshot`.
    pub fn visible_at(&self, snapshot: SeqNo) -> bool {
        self.seqno <= snapshot
    }

    /// Whether the range is empty, so that the tombstone deletes nothing.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }
}

impl fmt::Debug for RangeTombstone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})@{}",
            self.start.escape_ascii(),
            self.end.escape_ascii(),
            self.seqno
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_only_older_versions_inside_the_range() {
        let t = RangeTombstone::new(&b"b"[..], &b"d"[..], 10);
        assert!(t.covers(b"b", 9));
        assert!(t.covers(b"c\xff", 0));
        assert!(!t.covers(b"d", 9), "end is exclusive");
        assert!(!t.covers(b"a", 9));
        assert!(
            !t.covers(b"b", 10),
            "a version at the same seqno is not older"
        );
        assert!(!t.covers(b"b", 11));
    }

    #[test]
    fn empty_range_deletes_nothing() {
        let t = RangeTombstone::new(&b"d"[..], &b"b"[..], 10);
        assert!(t.is_empty());
        assert!(!t.covers(b"c", 1));
    }

    #[test]
    fn visibility_follows_the_snapshot() {
        let t = RangeTombstone::new(&b"a"[..], &b"z"[..], 10);
        assert!(!t.visible_at(9));
        assert!(t.visible_at(10));
    }
}
