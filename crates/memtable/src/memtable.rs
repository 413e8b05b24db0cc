//! The memtable: every version written since the last flush, in internal-key
//! order, on a lock-free skiplist.

use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use crossbeam_skiplist::SkipMap;
use lsmkit_sstable::{Fragments, MAX_SEQNO, RangeTombstone, SeqNo, ValueKind};

use crate::Error;
use crate::gate::WriteGate;
use crate::iter::Iter;
use crate::mem_key::MemKey;
use crate::raw_iter::RawIter;

/// A stored value. Shared, so that reads and iterators hand it out without
/// copying the bytes.
pub type Value = Arc<[u8]>;

/// The skiplist of one kind of entry, keyed by internal key.
pub(crate) type Versions = SkipMap<MemKey, Value>;

/// Bytes charged per entry on top of its key, trailer and value: the
/// skiplist node (value handle, the key inline when short, reference
/// count, a tower of two pointers on average) and the value's `Arc`
/// counts (16 bytes, not charged for an empty value: empty values share
/// one `Arc`). Calibrated so that the charge tracks the bytes requested from
/// the allocator; `tests/memory.rs` checks it with a counting allocator.
pub const ENTRY_OVERHEAD: usize = 80;

/// What a memtable knows about a user key at a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The newest visible version is this value.
    Found(Value),
    /// The newest visible version is a deletion, by a point tombstone or by
    /// a range tombstone. Older tables must not be consulted: everything
    /// they hold is older than this memtable's versions.
    Deleted,
    /// The memtable holds no visible version: look in older tables.
    Absent,
    /// The newest visible version is a merge operand: the memtable cannot
    /// answer alone. [`Memtable::get_operands`] collects the operands and
    /// what lies under them.
    Merge,
}

/// A concurrent, multi-version memtable. See the [crate docs](crate).
#[derive(Debug)]
pub struct Memtable {
    /// Puts, merge operands and point deletes.
    points: Arc<Versions>,
    /// Range tombstones: key `(start, seqno, RangeDelete)`, value the end,
    /// as a table stores them. Kept apart so that point reads and scans do
    /// not step over them, and so that lookups scan only tombstones.
    tombstones: Arc<Versions>,
    memory: AtomicUsize,
    gate: WriteGate,
    min_seqno: AtomicU64,
    max_seqno: AtomicU64,
}

impl Default for Memtable {
    fn default() -> Self {
        Memtable::new()
    }
}

impl Memtable {
    /// An empty, writable memtable.
    pub fn new() -> Memtable {
        Memtable {
            points: Arc::new(SkipMap::new()),
            tombstones: Arc::new(SkipMap::new()),
            memory: AtomicUsize::new(0),
            gate: WriteGate::default(),
            min_seqno: AtomicU64::new(SeqNo::MAX),
            max_seqno: AtomicU64::new(0),
        }
    }

    /// Adds one version: a value (`Put`), a merge operand (`Merge`), a
    /// point tombstone (`Delete`, whose value is normally empty) or a range
    /// tombstone (`RangeDelete`: deletes `[user_key, value)`, see
    /// [`delete_range`](Self::delete_range)).
    ///
    /// Safe from many threads at once, in any order of sequence numbers.
    ///
    /// REQUIRES: no two writes to the same user key share a sequence number
    /// (the engine gives every write its own); a repeat of an exact version
    /// is refused as [`Error::DuplicateVersion`], except that two inserts
    /// of the same empty version racing each other may both succeed (and
    /// both be charged): the one stored is that version either way.
    pub fn insert(
        &self,
        user_key: &[u8],
        seqno: SeqNo,
        kind: ValueKind,
        value: &[u8],
    ) -> Result<(), Error> {
        if seqno > MAX_SEQNO {
            return Err(Error::SeqNoTooLarge { seqno });
        }
        let _pass = self.gate.enter().ok_or(Error::Frozen)?;
        let map = match kind {
            ValueKind::Put | ValueKind::Delete | ValueKind::Merge => &self.points,
            ValueKind::RangeDelete => &self.tombstones,
        };
        let value: Value = if value.is_empty() {
            empty_value()
        } else {
            Value::from(value)
        };
        // The closure runs only to insert; its value is the entry's unless
        // a concurrent insert of the same version won the race. A value of
        // its own tells the two apart; the shared empty value cannot, but
        // then the winner's entry is this very version, bytes and all.
        let mut inserted = false;
        let entry = map.get_or_insert_with(MemKey::new(user_key, seqno, kind), || {
            inserted = true;
            value.clone()
        });
        if !inserted || !Arc::ptr_eq(entry.value(), &value) {
            return Err(Error::DuplicateVersion {
                user_key: user_key.to_vec(),
                seqno,
            });
        }
        self.memory
            .fetch_add(entry_size(user_key, &value), Ordering::Relaxed);
        self.max_seqno.fetch_max(seqno, Ordering::Relaxed);
        if seqno < self.min_seqno.load(Ordering::Relaxed) {
            self.min_seqno.fetch_min(seqno, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Deletes every user key in `[start, end)` older than `seqno`: the same
    /// as `insert(start, seqno, ValueKind::RangeDelete, end)`. An empty
    /// range (`start >= end`) is stored and deletes nothing.
    pub fn delete_range(&self, start: &[u8], end: &[u8], seqno: SeqNo) -> Result<(), Error> {
        self.insert(start, seqno, ValueKind::RangeDelete, end)
    }

    /// The newest version of `user_key` visible at `snapshot` (sequence
    /// number `<= snapshot`), taking range tombstones into account;
    /// [`Lookup::Merge`] when it is a merge operand.
    ///
    /// Cost: O(log n) for the point version, plus a scan of the range
    /// tombstones that start at or before `user_key` (none at all when the
    /// memtable holds no range tombstone, the common case).
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Lookup {
        let mut operands = Vec::new();
        let below = self.get_operands(user_key, snapshot, &mut operands);
        if operands.is_empty() {
            below
        } else {
            Lookup::Merge
        }
    }

    /// Like [`get`](Self::get), but steps over merge operands: the visible
    /// merge operands newer than the answer are appended to `operands`,
    /// newest first, and the answer says what lies under them here: a
    /// value (their base), a deletion (no base), or nothing (look in older
    /// tables). Never [`Lookup::Merge`].
    ///
    /// Cost: that of `get`, plus one step per operand.
    pub fn get_operands(
        &self,
        user_key: &[u8],
        snapshot: SeqNo,
        operands: &mut Vec<Value>,
    ) -> Lookup {
        // A flushed database reads through an empty memtable on every
        // lookup: skip building a seek key and searching the list. (An
        // insert visible at `snapshot` happened before the snapshot was
        // published, so it is counted here.)
        if self.points.is_empty() && self.tombstones.is_empty() {
            return Lookup::Absent;
        }
        let deleted_at = self.covering_tombstone(user_key, snapshot);
        let versions = self
            .points
            .range(MemKey::seek(user_key, snapshot)..)
            .take_while(|e| e.key().user_key() == user_key);
        for e in versions {
            if deleted_at.is_some_and(|t| e.key().seqno() < t) {
                return Lookup::Deleted;
            }
            match e.key().parsed().map(|p| p.kind) {
                Some(ValueKind::Put) => return Lookup::Found(e.value().clone()),
                Some(ValueKind::Merge) => operands.push(e.value().clone()),
                // Only puts, merges and point deletes are stored in `points`.
                _ => return Lookup::Deleted,
            }
        }
        if deleted_at.is_some() {
            Lookup::Deleted
        } else {
            Lookup::Absent
        }
    }

    /// The sequence number of the newest range tombstone visible at
    /// `snapshot` that covers `user_key`.
    fn covering_tombstone(&self, user_key: &[u8], snapshot: SeqNo) -> Option<SeqNo> {
        if self.tombstones.is_empty() {
            return None;
        }
        // Trailer 0 sorts last, so this bound takes every tombstone whose
        // start is `<= user_key`.
        let last = MemKey::new(user_key, 0, ValueKind::Delete);
        self.tombstones
            .range(..=last)
            .filter(|t| t.key().seqno() <= snapshot && user_key < &t.value()[..])
            .map(|t| t.key().seqno())
            .max()
    }

    /// The live (user key, value) pairs in `range` as of `snapshot`, in
    /// user-key order; reversible. Deleted and shadowed versions are hidden.
    /// Merge operands are not resolved here (a memtable knows no merge
    /// operator): a key whose newest visible version is a merge operand is
    /// left out, as a deleted one is; an engine resolves merges over
    /// [`raw_iter`](Self::raw_iter).
    /// `range` is any range of byte strings: `a..b` over `&[u8]` or
    /// `Vec<u8>`, or a pair of `Bound`s (`range::<[u8], _>((lo, hi), s)`).
    ///
    /// Cost: creating it fragments the visible range tombstones
    /// (O(t log t)); each step is O(1) forward plus O(log t) for the
    /// tombstone check, and O(log n) backward (the skiplist has no back
    /// links). Every version of a key in the range is stepped over.
    pub fn range<K, R>(&self, range: R, snapshot: SeqNo) -> Iter<'_>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        let tombstones = self.range_tombstones();
        let fragments = Fragments::newest(tombstones.iter().filter(|t| t.visible_at(snapshot)));
        let bounds = (
            range.start_bound().map(AsRef::as_ref),
            range.end_bound().map(AsRef::as_ref),
        );
        Iter::new(&self.points, bounds, snapshot, fragments)
    }

    /// Every live (user key, value) pair as of `snapshot`: [`range`](Self::range)
    /// over all keys.
    pub fn iter(&self, snapshot: SeqNo) -> Iter<'_> {
        self.range::<[u8], _>(.., snapshot)
    }

    /// A cursor over every stored point version (puts, merge operands and
    /// point deletes) in
    /// internal-key order: what a flush writes. It owns a handle to the
    /// skiplist, so it outlives any borrow of the memtable, and sees writes
    /// that land while it is open. Range tombstones are in
    /// [`raw_tombstone_iter`](Self::raw_tombstone_iter).
    pub fn raw_iter(&self) -> RawIter {
        RawIter::new(Arc::clone(&self.points))
    }

    /// A cursor over the range tombstones as stored entries: key
    /// `(start, seqno, RangeDelete)`, value the exclusive end key, in
    /// internal-key order.
    pub fn raw_tombstone_iter(&self) -> RawIter {
        RawIter::new(Arc::clone(&self.tombstones))
    }

    /// Every range tombstone, ordered by start and then newest first.
    pub fn range_tombstones(&self) -> Vec<RangeTombstone> {
        self.tombstones
            .iter()
            .map(|t| RangeTombstone::new(t.key().user_key(), &t.value()[..], t.key().seqno()))
            .collect()
    }

    /// Approximate bytes held: keys, values and per-entry overhead
    /// ([`ENTRY_OVERHEAD`]). One relaxed atomic load: cheap enough to read
    /// after every write.
    pub fn approximate_memory(&self) -> usize {
        self.memory.load(Ordering::Relaxed)
    }

    /// Makes the memtable immutable: later writes fail with
    /// [`Error::Frozen`]; reads go on. Waits for writes already under way,
    /// so once it returns the contents are final. Idempotent.
    pub fn freeze(&self) {
        self.gate.close();
    }

    /// Whether [`freeze`](Self::freeze) has been called.
    pub fn is_frozen(&self) -> bool {
        self.gate.is_closed()
    }

    /// Number of stored versions, range tombstones included.
    pub fn len(&self) -> usize {
        self.points.len() + self.tombstones.len()
    }

    /// Whether no version is stored.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.tombstones.is_empty()
    }

    /// The smallest sequence number stored, `None` when empty. Exact once
    /// frozen; while inserts are under way it may lag them.
    pub fn min_seqno(&self) -> Option<SeqNo> {
        let min = self.min_seqno.load(Ordering::Relaxed);
        (min != SeqNo::MAX).then_some(min)
    }

    /// The largest sequence number stored, `None` when empty. Exact once
    /// frozen; while inserts are under way it may lag them.
    pub fn max_seqno(&self) -> Option<SeqNo> {
        (!self.is_empty()).then(|| self.max_seqno.load(Ordering::Relaxed))
    }
}

/// The reference counts in front of a value's bytes, part of
/// [`ENTRY_OVERHEAD`]; empty values share one allocation and skip them.
const VALUE_HEADER: usize = 16;

/// What [`Memtable::approximate_memory`] charges for one entry.
fn entry_size(user_key: &[u8], value: &[u8]) -> usize {
    let overhead = if value.is_empty() {
        ENTRY_OVERHEAD - VALUE_HEADER
    } else {
        ENTRY_OVERHEAD
    };
    overhead + user_key.len() + lsmkit_sstable::key::TRAILER_LEN + value.len()
}

/// The value of every empty version (point tombstones, mostly): one
/// shared allocation instead of one each.
fn empty_value() -> Value {
    static EMPTY: LazyLock<Value> = LazyLock::new(|| Value::from(&[][..]));
    Value::clone(&EMPTY)
}
