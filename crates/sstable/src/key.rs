//! Internal keys: one version of a user key.
//!
//! An internal key is the user key followed by an 8-byte trailer:
//!
//! ```text
//! internal_key := user_key ‖ fixed64_le((seqno << 8) | kind)
//! ```
//!
//! Internal keys order by user key ascending (bytewise), then by trailer
//! descending, so that the newest version of a key comes first and a seek to
//! `(user_key, snapshot)` lands on the newest version visible at that
//! snapshot. The block, table, memtable and compaction crates all use this
//! one definition.

use std::cmp::Ordering;
use std::fmt;

use lsmkit_block::{Bytewise, Comparator};

/// A sequence number: the position of a write in the database's history.
/// Only the low 56 bits are stored.
pub type SeqNo = u64;

/// The largest sequence number a key can carry.
pub const MAX_SEQNO: SeqNo = (1 << 56) - 1;

/// Bytes of the trailer that follows the user key.
pub const TRAILER_LEN: usize = 8;

/// The kind byte of a seek key. It sorts before every stored kind at the
/// same sequence number, so a seek key never skips a version; it is never
/// stored. Frozen.
pub const SEEK_KIND: u8 = 0xff;

/// What a version of a key says. The discriminants are wire values: frozen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ValueKind {
    /// A point tombstone: the key is deleted as of this version.
    Delete = 0,
    /// A value.
    Put = 1,
    /// The start of a range tombstone; the value holds the exclusive end key.
    RangeDelete = 2,
    /// A merge operand: the value is combined with the older versions of
    /// the key by the engine's merge operator rather than replacing them.
    /// Added after the first release: tables and WAL records without
    /// merges never carry it.
    Merge = 3,
}

impl ValueKind {
    /// The kind for a stored byte, or `None` for a byte no version carries.
    pub fn from_u8(byte: u8) -> Option<ValueKind> {
        match byte {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Put),
            2 => Some(ValueKind::RangeDelete),
            3 => Some(ValueKind::Merge),
            _ => None,
        }
    }
}

/// The trailer for a sequence number and a raw kind byte.
///
/// REQUIRES: `seqno <= MAX_SEQNO`.
pub fn pack_trailer(seqno: SeqNo, kind: u8) -> u64 {
    debug_assert!(
        seqno <= MAX_SEQNO,
        "sequence number {seqno} exceeds 56 bits"
    );
    (seqno << 8) | u64::from(kind)
}

/// Appends the internal key for `(user_key, seqno, kind)` to `out`.
///
/// REQUIRES: `seqno <= MAX_SEQNO`.
pub fn encode(user_key: &[u8], seqno: SeqNo, kind: ValueKind, out: &mut Vec<u8>) {
    out.extend_from_slice(user_key);
    out.extend_from_slice(&pack_trailer(seqno, kind as u8).to_le_bytes());
}

/// Appends to `out` the key that positions an iterator on the newest version
/// of `user_key` visible at `snapshot`.
pub fn encode_seek(user_key: &[u8], snapshot: SeqNo, out: &mut Vec<u8>) {
    out.extend_from_slice(user_key);
    out.extend_from_slice(&pack_trailer(snapshot.min(MAX_SEQNO), SEEK_KIND).to_le_bytes());
}

/// A decoded internal key, borrowing the user key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParsedKey<'a> {
    /// The key as the user wrote it.
    pub user_key: &'a [u8],
    /// The version's sequence number.
    pub seqno: SeqNo,
    /// What the version says.
    pub kind: ValueKind,
}

impl<'a> ParsedKey<'a> {
    /// Decodes an internal key; `None` when it is shorter than the trailer or
    /// carries a kind byte that no stored version has.
    pub fn parse(key: &'a [u8]) -> Option<ParsedKey<'a>> {
        let (user_key, trailer) = split(key)?;
        Some(ParsedKey {
            user_key,
            seqno: trailer >> 8,
            kind: ValueKind::from_u8((trailer & 0xff) as u8)?,
        })
    }

    /// Appends this key's encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        encode(self.user_key, self.seqno, self.kind, out);
    }
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}:{:?}",
            self.user_key.escape_ascii(),
            self.seqno,
            self.kind
        )
    }
}

/// Splits a key into user key and trailer; `None` when it is too short.
fn split(key: &[u8]) -> Option<(&[u8], u64)> {
    let at = key.len().checked_sub(TRAILER_LEN)?;
    let (user_key, trailer) = key.split_at(at);
    let trailer: [u8; TRAILER_LEN] = trailer.try_into().ok()?;
    Some((user_key, u64::from_le_bytes(trailer)))
}

/// The user key of an internal key; the whole key when it is too short to
/// carry a trailer (such a key never passes validation, but ordering must
/// stay total and panic-free on any bytes).
pub fn user_key(key: &[u8]) -> &[u8] {
    split(key).map_or(key, |(user_key, _)| user_key)
}

/// Compares two internal keys: user key ascending, trailer descending.
///
/// A key too short for a trailer orders as its bytes with trailer 0, which
/// keeps the order total over arbitrary bytes.
pub fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let (ua, ta) = split(a).unwrap_or((a, 0));
    let (ub, tb) = split(b).unwrap_or((b, 0));
    ua.cmp(ub).then_with(|| tb.cmp(&ta))
}

/// The [`Comparator`] of internal keys, for blocks and tables that hold them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InternalKeyComparator;

impl Comparator for InternalKeyComparator {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        compare(a, b)
    }

    fn name(&self) -> &'static str {
        "lsmkit.internal.bytewise"
    }

    fn separator(&self, start: &[u8], limit: &[u8], out: &mut Vec<u8>) {
        let (start_user, limit_user) = (user_key(start), user_key(limit));
        Bytewise.separator(start_user, limit_user, out);
        if out.len() < start_user.len() && start_user < out.as_slice() {
            // A shorter user key strictly between the two: its first possible
            // version separates them.
            out.extend_from_slice(&pack_trailer(MAX_SEQNO, SEEK_KIND).to_le_bytes());
        } else {
            out.clear();
            out.extend_from_slice(start);
        }
    }

    fn successor(&self, key: &[u8], out: &mut Vec<u8>) {
        let user = user_key(key);
        Bytewise.successor(user, out);
        if out.len() < user.len() && user < out.as_slice() {
            out.extend_from_slice(&pack_trailer(MAX_SEQNO, SEEK_KIND).to_le_bytes());
        } else {
            out.clear();
            out.extend_from_slice(key);
        }
    }
}

/// An owned internal key whose `Ord` is the internal-key order, for ordered
/// in-memory structures such as the memtable's skiplist.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InternalKey(Vec<u8>);

impl InternalKey {
    /// The internal key for `(user_key, seqno, kind)`.
    ///
    /// REQUIRES: `seqno <= MAX_SEQNO`.
    pub fn new(user_key: &[u8], seqno: SeqNo, kind: ValueKind) -> InternalKey {
        let mut bytes = Vec::with_capacity(user_key.len() + TRAILER_LEN);
        encode(user_key, seqno, kind, &mut bytes);
        InternalKey(bytes)
    }

    /// The key that sorts just before every version of `user_key` visible
    /// at `snapshot`.
    pub fn seek(user_key: &[u8], snapshot: SeqNo) -> InternalKey {
        let mut bytes = Vec::with_capacity(user_key.len() + TRAILER_LEN);
        encode_seek(user_key, snapshot, &mut bytes);
        InternalKey(bytes)
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The user key.
    pub fn user_key(&self) -> &[u8] {
        user_key(&self.0)
    }

    /// The sequence number.
    pub fn seqno(&self) -> SeqNo {
        split(&self.0).map_or(0, |(_, trailer)| trailer >> 8)
    }

    /// The decoded key; `None` only for a seek key (its kind is never stored).
    pub fn parsed(&self) -> Option<ParsedKey<'_>> {
        ParsedKey::parse(&self.0)
    }
}

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for InternalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parsed() {
            Some(parsed) => parsed.fmt(f),
            None => write!(
                f,
                "{}@{}:seek",
                self.user_key().escape_ascii(),
                self.seqno()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ikey(user: &[u8], seqno: SeqNo, kind: ValueKind) -> Vec<u8> {
        let mut out = Vec::new();
        encode(user, seqno, kind, &mut out);
        out
    }

    #[test]
    fn newer_versions_sort_first() {
        let old = ikey(b"k", 1, ValueKind::Put);
        let new = ikey(b"k", 2, ValueKind::Put);
        assert_eq!(compare(&new, &old), Ordering::Less);
    }

    #[test]
    fn a_prefix_user_key_sorts_before_its_extensions() {
        // The case a plain concatenation would get wrong.
        let a = ikey(b"a", 0, ValueKind::Put);
        let ab = ikey(b"ab", MAX_SEQNO, ValueKind::Put);
        assert_eq!(compare(&a, &ab), Ordering::Less);
    }

    #[test]
    fn seek_key_lands_on_newest_visible_version() {
        let mut seek = Vec::new();
        encode_seek(b"k", 5, &mut seek);
        assert_eq!(
            compare(&seek, &ikey(b"k", 5, ValueKind::RangeDelete)),
            Ordering::Less
        );
        assert_eq!(
            compare(&seek, &ikey(b"k", 6, ValueKind::Delete)),
            Ordering::Greater
        );
        assert_eq!(
            compare(&seek, &ikey(b"j", 0, ValueKind::Put)),
            Ordering::Greater
        );
    }

    #[test]
    fn parse_rejects_short_keys_and_unknown_kinds() {
        assert!(ParsedKey::parse(b"short").is_none());
        let mut seek = Vec::new();
        encode_seek(b"k", 5, &mut seek);
        assert!(ParsedKey::parse(&seek).is_none());
        let key = ikey(b"", 7, ValueKind::Delete);
        let parsed = ParsedKey::parse(&key);
        assert_eq!(
            parsed,
            Some(ParsedKey {
                user_key: b"",
                seqno: 7,
                kind: ValueKind::Delete
            })
        );
    }

    #[test]
    fn separator_shortens_the_user_key() {
        let mut out = Vec::new();
        let start = ikey(b"abcdef", 3, ValueKind::Put);
        let limit = ikey(b"abzz", 9, ValueKind::Put);
        InternalKeyComparator.separator(&start, &limit, &mut out);
        assert_eq!(user_key(&out), b"abd");
        // Same user key: nothing shorter separates two of its versions.
        let limit = ikey(b"abcdef", 1, ValueKind::Put);
        InternalKeyComparator.separator(&start, &limit, &mut out);
        assert_eq!(out, start);
    }

    fn arb_key() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec(any::<u8>(), 0..6),
            0..=MAX_SEQNO,
            0u8..4,
        )
            .prop_map(|(user, seqno, kind)| {
                let kind = ValueKind::from_u8(kind).unwrap_or(ValueKind::Put);
                ikey(&user, seqno, kind)
            })
    }

    proptest! {
        #[test]
        fn order_matches_the_tuple_model(a in arb_key(), b in arb_key()) {
            let pa = ParsedKey::parse(&a).unwrap();
            let pb = ParsedKey::parse(&b).unwrap();
            let model = pa.user_key.cmp(pb.user_key)
                .then(pb.seqno.cmp(&pa.seqno))
                .then((pb.kind as u8).cmp(&(pa.kind as u8)));
            prop_assert_eq!(compare(&a, &b), model);
        }

        #[test]
        fn separator_and_successor_stay_in_bounds(a in arb_key(), b in arb_key()) {
            let mut out = Vec::new();
            if compare(&a, &b) == Ordering::Less {
                InternalKeyComparator.separator(&a, &b, &mut out);
                prop_assert!(compare(&a, &out) != Ordering::Greater);
                prop_assert!(compare(&out, &b) == Ordering::Less);
            }
            InternalKeyComparator.successor(&a, &mut out);
            prop_assert!(compare(&a, &out) != Ordering::Greater);
        }

        #[test]
        fn encode_parse_round_trip(user in proptest::collection::vec(any::<u8>(), 0..16),
                                   seqno in 0..=MAX_SEQNO, kind in 0u8..4) {
            let kind = ValueKind::from_u8(kind).unwrap();
            let key = InternalKey::new(&user, seqno, kind);
            let parsed = key.parsed().unwrap();
            prop_assert_eq!(parsed.user_key, &user[..]);
            prop_assert_eq!(parsed.seqno, seqno);
            prop_assert_eq!(parsed.kind, kind);
        }
    }
}
