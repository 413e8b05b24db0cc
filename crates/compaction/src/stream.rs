//! The compaction stream: which versions a compaction output keeps.
//!
//! A [`CompactionStream`] reads the merged point entries of the inputs (in
//! internal-key order, as a [`MergingIterator`](crate::MergingIterator)
//! gives them) and their range tombstones (as a list), and yields the
//! entries the output must hold; [`CompactionStream::finish`] then gives
//! the range tombstones it must hold.
//!
//! # The rules
//!
//! Readers read at a sequence number: a live snapshot, or the newest state
//! (any sequence number at or above every one written). A reader at `s`
//! sees the versions with `seqno <= s`; of a user key it returns the newest
//! of them, unless a range tombstone it sees (`t.seqno <= s`) covers that
//! version (`version.seqno < t.seqno`, key in range) or the version is a
//! point tombstone.
//!
//! The live snapshots `s1 < s2 < ... < sk` cut sequence numbers into
//! *stripes*: stripe 0 is `..=s1`, stripe `i` is `s(i)+1..=s(i+1)`, and the
//! last stripe, `sk+1..`, is read only by the newest state. Two versions in
//! one stripe are seen by exactly the same readers. Hence:
//!
//! 1. **Shadowed.** Of the versions of a user key in one stripe, only the
//!    newest can be returned by a reader: every older one is dropped. What
//!    is kept is the newest version plus the newest version visible to each
//!    live snapshot.
//! 2. **Covered.** A version covered by a range tombstone *of the same
//!    stripe* is dropped: every reader that sees the version sees the
//!    tombstone. A tombstone of a newer stripe drops nothing, because the
//!    snapshots between them must still see the version. (The tombstone
//!    itself stays, rule 4, so later readers still see the deletion.)
//! 3. **Point tombstones at the bottom.** When the output is the oldest data
//!    (`bottommost`: nothing older exists anywhere to be shadowed), a point
//!    tombstone with no older version of its key left in the output hides
//!    nothing: "deleted" and "absent" read the same. It is dropped. Above
//!    the bottom it is kept: it must go on hiding versions in older runs.
//! 4. **Range tombstones.** The tombstones are cut into disjoint fragments;
//!    over one fragment, tombstones of one stripe are seen by the same
//!    readers, so only the newest of each stripe is kept (rule 1 applied to
//!    tombstones). At the bottom, a tombstone is kept only if it covers an
//!    entry the output keeps; otherwise it hides nothing and is dropped.
//!
//! 5. **Merge operands.** A merge operand that is the newest version of its
//!    stripe shadows nothing by itself: its readers fold it with the older
//!    versions under it. So the versions of its stripe under it are read
//!    with it, newest first, down to the first value (its *base*), the
//!    first point tombstone or range tombstone of the stripe (no base), or
//!    the end of the stripe. With a [`MergeOperator`] configured, a known
//!    base (value or deletion) folds them into one value at the newest
//!    operand's sequence number, which then shadows the rest of the stripe
//!    as rule 1 says; so do operands at the end of the key's versions when
//!    the output is the oldest data (nothing older: no base). Operands
//!    that end at the stripe's edge, over whatever older stripes or older
//!    runs hold, become one merge operand if
//!    [`partial_merge`](MergeOperator::partial_merge) combines them, and
//!    are otherwise kept as they are. Nothing is folded across a snapshot:
//!    every snapshot still sees the operands it saw. Without an operator,
//!    the operands and the version under them are kept as they are.
//!
//! Rules 1 and 2 are what makes a version invisible to every reader; rules 3
//! and 4 drop deletions that no reader needs; rule 5 replaces versions by
//! one that every reader of them reads the same. Nothing else is dropped, so
//! every reader at a live snapshot or at the newest state reads the same
//! before and after the compaction (`tests/stream_model.rs` checks this
//! against a `BTreeMap` model, `tests/merge_fold.rs` with merge operands).
//!
//! REQUIRES of the caller: `snapshots` holds every sequence number any
//! reader may still read at, except the newest state; a snapshot taken
//! after the compaction starts is at or above every input sequence number,
//! and so falls in the last stripe, where nothing changes for it.
//!
//! # Cost
//!
//! Per entry: a comparison with the previous key, a binary search over the
//! snapshots, and for keys under a range tombstone a binary search over the
//! fragment's sequence numbers. Entries are not copied, except point
//! tombstones held back at the bottom until an older version shows up.

use std::collections::VecDeque;
use std::sync::Arc;

use lsmkit_sstable::key::{self, pack_trailer};
use lsmkit_sstable::{
    Fragments, InternalIterator, ParsedKey, RangeTombstone, SeqNo, ValueKind, defragment,
};

use crate::Error;
use crate::fold::{self, Base, Folded};
use crate::merge_operator::MergeOperator;

/// What a compaction stream did, for logs and statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Point entries read from the input.
    pub entries_in: u64,
    /// Point entries yielded to the output.
    pub entries_out: u64,
    /// Key and value bytes read.
    pub bytes_in: u64,
    /// Key and value bytes yielded.
    pub bytes_out: u64,
    /// Versions dropped because a newer one of the same stripe shadows them.
    pub shadowed: u64,
    /// Versions dropped because a range tombstone of their stripe covers them.
    pub covered: u64,
    /// Point tombstones dropped at the bottom.
    pub point_tombstones_dropped: u64,
    /// Range tombstones given.
    pub range_tombstones_in: u64,
    /// Range tombstones kept (after fragmenting and joining again); of a
    /// compaction run in parts, the pieces the parts kept (one over two
    /// parts is two). Output tables cut at a piece store it in each.
    pub range_tombstones_out: u64,
    /// Merge operands and the bases under them folded away: entries read
    /// into folds less the entries the folds became.
    pub merged: u64,
}

impl StreamStats {
    /// Adds `other`'s counts to these: the stats of a compaction run in
    /// parts.
    pub fn absorb(&mut self, other: &StreamStats) {
        self.entries_in += other.entries_in;
        self.entries_out += other.entries_out;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.shadowed += other.shadowed;
        self.covered += other.covered;
        self.point_tombstones_dropped += other.point_tombstones_dropped;
        self.range_tombstones_in += other.range_tombstones_in;
        self.range_tombstones_out += other.range_tombstones_out;
        self.merged += other.merged;
    }
}

/// The sorted live snapshots, which cut sequence numbers into stripes.
#[derive(Clone, Debug)]
struct Stripes(Vec<SeqNo>);

impl Stripes {
    fn new(snapshots: &[SeqNo]) -> Stripes {
        let mut sorted = snapshots.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        Stripes(sorted)
    }

    /// The stripe of `seqno`: how many snapshots are below it.
    fn of(&self, seqno: SeqNo) -> usize {
        self.0.partition_point(|&s| s < seqno)
    }
}

/// An entry copied out of the input.
#[derive(Clone, Debug, Default)]
pub(crate) struct Owned {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// The point entries and range tombstones a compaction output keeps; see
/// the [module docs](self) for the rules.
///
/// A lending cursor: [`next`](Self::next) yields borrowed entries in
/// internal-key order, then `None` when the input is done or has failed;
/// [`finish`](Self::finish) says which, and gives the range tombstones.
pub struct CompactionStream<I> {
    input: I,
    stripes: Stripes,
    bottommost: bool,
    /// Fragments of the input tombstones, each reduced to the newest
    /// sequence number per stripe.
    fragments: Fragments,
    /// Per fragment, the smallest sequence number of an entry yielded
    /// inside it: a kept tombstone above it covers something kept.
    min_yielded: Vec<Option<SeqNo>>,

    /// The user key of the entries being judged, its trailer-ordering state
    /// and its fragment.
    user_key: Vec<u8>,
    last_trailer: Option<u64>,
    last_stripe: Option<usize>,
    fragment: Option<usize>,
    /// The current entry of the input was yielded: step past it first.
    step: bool,
    /// The current entry of the input, of this sequence number, is kept
    /// and yielded after `release`.
    yield_current: Option<SeqNo>,
    /// Point tombstones of the current key held back at the bottom.
    held: VecDeque<(Owned, SeqNo)>,
    /// Held tombstones that turned out to be needed, to yield now.
    release: VecDeque<(Owned, SeqNo)>,
    out: Owned,
    merge_operator: Option<Arc<dyn MergeOperator>>,
    /// The verdict on the input's current entry, judged by a fold that
    /// stopped there.
    pending: Option<Verdict>,
    /// Entries to yield before the input's, already counted as yielded:
    /// the held tombstones before a fold, and what the fold became.
    folded: VecDeque<Owned>,

    stats: StreamStats,
    error: Option<Error>,
}

/// What to do with one input entry.
enum Verdict {
    Keep { seqno: SeqNo, kind: ValueKind },
    Shadowed { seqno: SeqNo, kind: ValueKind },
    Covered,
}

impl<I: InternalIterator> CompactionStream<I> {
    /// A stream over `input` (point entries only: puts, merge operands and
    /// point deletes),
    /// with the inputs' `range_tombstones`, keeping what the readers at
    /// `snapshots` and at the newest state need. `bottommost` says that the
    /// output is the oldest data: nothing older exists to be shadowed.
    ///
    /// Positions `input` on its first entry.
    pub fn new(
        mut input: I,
        range_tombstones: &[RangeTombstone],
        snapshots: &[SeqNo],
        bottommost: bool,
    ) -> CompactionStream<I> {
        let stripes = Stripes::new(snapshots);
        let fragments = Fragments::for_snapshots(range_tombstones, &stripes.0);
        input.seek_to_first();
        CompactionStream {
            input,
            stripes,
            bottommost,
            min_yielded: vec![None; fragments.len()],
            fragments,
            user_key: Vec::new(),
            last_trailer: None,
            last_stripe: None,
            fragment: None,
            step: false,
            yield_current: None,
            held: VecDeque::new(),
            release: VecDeque::new(),
            out: Owned::default(),
            merge_operator: None,
            pending: None,
            folded: VecDeque::new(),
            stats: StreamStats {
                range_tombstones_in: range_tombstones.len() as u64,
                ..StreamStats::default()
            },
            error: None,
        }
    }

    /// Folds merge operands with `operator` (see the [module docs](self),
    /// "Merge operands"). Without one, merge operands and the versions
    /// under them in their stripe are all kept as they are.
    pub fn with_merge_operator(mut self, operator: Option<Arc<dyn MergeOperator>>) -> Self {
        self.merge_operator = operator;
        self
    }

    /// The next entry the output keeps, as `(internal key, value)`; `None`
    /// when the input is exhausted or failed (see [`finish`](Self::finish)).
    #[allow(clippy::should_implement_trait)] // A lending cursor: entries borrow the stream.
    pub fn next(&mut self) -> Option<(&[u8], &[u8])> {
        if self.error.is_some() {
            return None;
        }
        if let Some((entry, seqno)) = self.release.pop_front() {
            self.out = entry;
            self.yielded(seqno, self.out.key.len() + self.out.value.len());
            return Some((&self.out.key, &self.out.value));
        }
        if let Some(entry) = self.folded.pop_front() {
            self.out = entry;
            return Some((&self.out.key, &self.out.value));
        }
        if let Some(seqno) = self.yield_current.take() {
            return Some(self.yield_input(seqno));
        }
        if std::mem::take(&mut self.step) {
            self.input.next();
        }
        loop {
            if !self.input.valid() {
                if let Err(error) = self.input.status() {
                    self.error = Some(error.into());
                }
                self.drop_held();
                return None;
            }
            let judged = match self.pending.take() {
                Some(verdict) => Ok(verdict),
                None => self.judge(),
            };
            let verdict = match judged {
                Ok(verdict) => verdict,
                Err(error) => {
                    self.error = Some(error);
                    return None;
                }
            };
            match verdict {
                Verdict::Shadowed { .. } => self.stats.shadowed += 1,
                Verdict::Covered => self.stats.covered += 1,
                Verdict::Keep {
                    seqno,
                    kind: ValueKind::Merge,
                } => {
                    // The held tombstones are newer: they go first, counted
                    // in this key's fragment before the fold moves on.
                    for (entry, seqno) in std::mem::take(&mut self.held) {
                        self.yielded(seqno, entry.key.len() + entry.value.len());
                        self.folded.push_back(entry);
                    }
                    if let Err(error) = self.fold(seqno) {
                        self.error = Some(error);
                        return None;
                    }
                    return self.next();
                }
                Verdict::Keep {
                    seqno,
                    kind: ValueKind::Delete,
                } if self.bottommost => {
                    // Needed only if an older version of the key is kept.
                    let entry = Owned {
                        key: self.input.key().to_vec(),
                        value: self.input.value().to_vec(),
                    };
                    self.held.push_back((entry, seqno));
                }
                Verdict::Keep { seqno, .. } if !self.held.is_empty() => {
                    self.release.append(&mut self.held);
                    self.yield_current = Some(seqno);
                    return self.next();
                }
                Verdict::Keep { seqno, .. } => return Some(self.yield_input(seqno)),
            }
            self.input.next();
        }
    }

    /// Ends the stream: the range tombstones the output keeps (sorted by
    /// start, then newest first) and what the stream did, or the first
    /// error of the input.
    ///
    /// Entries not yet taken with [`next`](Self::next) are skipped, but the
    /// tombstones still account for them, so the result is safe to use with
    /// the entries that were taken.
    pub fn finish(mut self) -> Result<(Vec<RangeTombstone>, StreamStats), Error> {
        while self.next().is_some() {}
        if let Some(error) = self.error {
            return Err(error);
        }
        let bottommost = self.bottommost;
        let min_yielded = &self.min_yielded;
        let kept = self
            .fragments
            .iter()
            .zip(min_yielded)
            .flat_map(|(f, &min)| {
                f.seqnos
                    .iter()
                    .filter(move |&&t| !bottommost || min.is_some_and(|q| q < t))
                    .map(move |&t| (f.start, f.end, t))
            });
        let tombstones = defragment(kept);
        self.stats.range_tombstones_out = tombstones.len() as u64;
        Ok((tombstones, self.stats))
    }

    /// What the stream has done so far.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// Yields the input's current entry and steps past it on the next call.
    fn yield_input(&mut self, seqno: SeqNo) -> (&[u8], &[u8]) {
        self.step = true;
        let bytes = self.input.key().len() + self.input.value().len();
        self.yielded(seqno, bytes);
        (self.input.key(), self.input.value())
    }

    fn yielded(&mut self, seqno: SeqNo, bytes: usize) {
        self.yielded_in(self.fragment, seqno, bytes);
    }

    fn yielded_in(&mut self, fragment: Option<usize>, seqno: SeqNo, bytes: usize) {
        self.stats.entries_out += 1;
        self.stats.bytes_out += bytes as u64;
        if let Some(f) = fragment {
            let min = &mut self.min_yielded[f];
            *min = Some(min.map_or(seqno, |m| m.min(seqno)));
        }
    }

    /// Drops the held point tombstones: no older version of their key is
    /// kept, so at the bottom they hide nothing.
    fn drop_held(&mut self) {
        self.stats.point_tombstones_dropped += self.held.len() as u64;
        self.held.clear();
    }

    /// Judges the input's current entry by rules 1 and 2, checking that the
    /// input is well-formed and in order.
    fn judge(&mut self) -> Result<Verdict, Error> {
        let index = self.stats.entries_in;
        let key = self.input.key();
        self.stats.entries_in += 1;
        self.stats.bytes_in += (key.len() + self.input.value().len()) as u64;
        let bad_key = |what| Error::BadKey {
            index,
            key: key.to_vec(),
            what,
        };
        let parsed = ParsedKey::parse(key).ok_or_else(|| bad_key("not an internal key"))?;
        if parsed.kind == ValueKind::RangeDelete {
            return Err(bad_key("a range tombstone among the point entries"));
        }
        let (seqno, kind) = (parsed.seqno, parsed.kind);
        let trailer = pack_trailer(seqno, kind as u8);
        let same_key = self.last_trailer.is_some() && parsed.user_key == self.user_key.as_slice();
        let in_order = match self.last_trailer {
            None => true,
            Some(last) if same_key => trailer < last,
            Some(_) => parsed.user_key > self.user_key.as_slice(),
        };
        if !in_order {
            let mut previous = self.user_key.clone();
            previous.extend_from_slice(&self.last_trailer.unwrap_or(0).to_le_bytes());
            return Err(Error::OutOfOrder {
                index,
                previous,
                key: key.to_vec(),
            });
        }
        self.last_trailer = Some(trailer);
        if !same_key {
            self.user_key.clear();
            self.user_key.extend_from_slice(parsed.user_key);
            self.last_stripe = None;
            self.fragment = self.fragments.find(parsed.user_key);
            self.drop_held();
        }

        let stripe = self.stripes.of(seqno);
        if self.last_stripe.replace(stripe) == Some(stripe) {
            return Ok(Verdict::Shadowed { seqno, kind });
        }
        if self.covered(seqno, stripe) {
            return Ok(Verdict::Covered);
        }
        Ok(Verdict::Keep { seqno, kind })
    }

    /// Whether a range tombstone of `stripe` covers the current key's
    /// version at `seqno`.
    fn covered(&self, seqno: SeqNo, stripe: usize) -> bool {
        let Some(fragment) = self.fragment.and_then(|f| self.fragments.get(f)) else {
            return false;
        };
        // Newest first, one per stripe: the oldest tombstone above this
        // version is the only one that can share its stripe.
        let seqnos = fragment.seqnos;
        let above = seqnos.partition_point(|&t| t > seqno);
        above > 0 && self.stripes.of(seqnos[above - 1]) == stripe
    }

    /// Folds the merge operand under the cursor, kept as the newest
    /// version of its stripe at `seqno`, with the older versions of its key
    /// in that stripe, and queues what they become in `folded`. Leaves the
    /// cursor past the last version folded (`step`), or on the first one
    /// not folded, judged (`pending`).
    fn fold(&mut self, seqno: SeqNo) -> Result<(), Error> {
        let stripe = self.stripes.of(seqno);
        // Judging the version after the fold may move both on to the next
        // key.
        let (user_key, fragment) = (self.user_key.clone(), self.fragment);
        let mut versions = vec![self.current(seqno, ValueKind::Merge)];
        let base = loop {
            self.input.next();
            if !self.input.valid() {
                break Base::Open { oldest: true };
            }
            if key::user_key(self.input.key()) != user_key.as_slice() {
                self.pending = Some(self.judge()?);
                break Base::Open { oldest: true };
            }
            let (seqno, kind) = match self.judge()? {
                Verdict::Shadowed { seqno, kind } => (seqno, kind),
                // The first version of an older stripe: snapshots between
                // see the operands without what lies under them.
                verdict => {
                    self.pending = Some(verdict);
                    break Base::Open { oldest: false };
                }
            };
            if self.covered(seqno, stripe) {
                // Every reader of the operands sees the tombstone.
                self.stats.covered += 1;
                self.step = true;
                break Base::Deleted;
            }
            versions.push(self.current(seqno, kind));
            match kind {
                ValueKind::Merge => {}
                ValueKind::Put => {
                    self.step = true;
                    break Base::Value;
                }
                _ => {
                    self.step = true;
                    break Base::Deleted;
                }
            }
        };
        let base = match base {
            Base::Open { oldest } => Base::Open {
                oldest: oldest && self.bottommost,
            },
            base => base,
        };
        let read = versions.len();
        let folded = fold::fold(self.merge_operator.as_deref(), &user_key, versions, base)?;
        self.stats.merged += (read - folded.len()) as u64;
        for Folded { entry, seqno, .. } in folded {
            self.yielded_in(fragment, seqno, entry.key.len() + entry.value.len());
            self.folded.push_back(entry);
        }
        Ok(())
    }

    /// The input's current entry, copied, as a version to fold.
    fn current(&self, seqno: SeqNo, kind: ValueKind) -> Folded {
        Folded {
            entry: Owned {
                key: self.input.key().to_vec(),
                value: self.input.value().to_vec(),
            },
            seqno,
            kind,
        }
    }
}

impl<I> std::fmt::Debug for CompactionStream<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactionStream")
            .field("snapshots", &self.stripes.0)
            .field("bottommost", &self.bottommost)
            .field("stats", &self.stats)
            .field("error", &self.error)
            .finish()
    }
}
