//! The skiplist's key: an encoded internal key, kept inside the skiplist
//! node when it is short.
//!
//! A search compares against a key at every level it descends; with the key
//! bytes behind a pointer (as in [`lsmkit_sstable::InternalKey`]) each
//! comparison is a second cache miss after the node's. Most keys are short,
//! so they live inline and a search touches one cache line per node.

use std::cmp::Ordering;
use std::fmt;

use lsmkit_sstable::key;

/// Bytes of encoded key (user key and 8-byte trailer) stored inline: a
/// 22-byte user key. Chosen so that the key is 32 bytes, the size of the
/// node's other fields.
const INLINE: usize = 30;

/// An encoded internal key; orders as [`key::compare`].
#[derive(Clone)]
pub(crate) enum MemKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl MemKey {
    /// The key holding these encoded bytes (from [`key::encode`] or
    /// [`key::encode_seek`]).
    pub(crate) fn from_encoded(encoded: &[u8]) -> MemKey {
        match u8::try_from(encoded.len()) {
            Ok(len) if encoded.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..encoded.len()].copy_from_slice(encoded);
                MemKey::Inline { len, bytes }
            }
            _ => MemKey::Heap(encoded.into()),
        }
    }

    /// The key of one stored version.
    ///
    /// REQUIRES: `seqno <= MAX_SEQNO`.
    pub(crate) fn new(user_key: &[u8], seqno: key::SeqNo, kind: key::ValueKind) -> MemKey {
        with_encoded(|buf| key::encode(user_key, seqno, kind, buf))
    }

    /// The key just before every version of `user_key` visible at
    /// `snapshot`.
    pub(crate) fn seek(user_key: &[u8], snapshot: key::SeqNo) -> MemKey {
        with_encoded(|buf| key::encode_seek(user_key, snapshot, buf))
    }

    /// The encoded internal key.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            MemKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            MemKey::Heap(bytes) => bytes,
        }
    }

    pub(crate) fn user_key(&self) -> &[u8] {
        key::user_key(self.as_bytes())
    }

    pub(crate) fn parsed(&self) -> Option<key::ParsedKey<'_>> {
        key::ParsedKey::parse(self.as_bytes())
    }

    /// The sequence number (0 for a key too short to carry one, which is
    /// never stored).
    pub(crate) fn seqno(&self) -> key::SeqNo {
        let bytes = self.as_bytes();
        let Some(at) = bytes.len().checked_sub(key::TRAILER_LEN) else {
            return 0;
        };
        let mut trailer = [0; key::TRAILER_LEN];
        trailer.copy_from_slice(&bytes[at..]);
        u64::from_le_bytes(trailer) >> 8
    }
}

/// Encodes into a stack buffer for short keys, the heap for long ones.
fn with_encoded(encode: impl FnOnce(&mut Vec<u8>)) -> MemKey {
    let mut buf = Vec::new();
    encode(&mut buf);
    MemKey::from_encoded(&buf)
}

impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> Ordering {
        key::compare(self.as_bytes(), other.as_bytes())
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MemKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MemKey {}

impl fmt::Debug for MemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parsed() {
            Some(parsed) => parsed.fmt(f),
            None => write!(f, "{}", self.as_bytes().escape_ascii()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsmkit_sstable::{InternalKey, ValueKind};
    use proptest::prelude::*;

    #[test]
    fn short_keys_are_inline_and_long_ones_on_the_heap() {
        assert!(matches!(
            MemKey::new(&[1; 22], 1, ValueKind::Put),
            MemKey::Inline { .. }
        ));
        assert!(matches!(
            MemKey::new(&[1; 23], 1, ValueKind::Put),
            MemKey::Heap(_)
        ));
        assert_eq!(std::mem::size_of::<MemKey>(), 32);
    }

    proptest! {
        #[test]
        fn orders_and_decodes_as_internal_key(a in proptest::collection::vec(any::<u8>(), 0..40),
                                              b in proptest::collection::vec(any::<u8>(), 0..40),
                                              sa in 0u64..1000, sb in 0u64..1000) {
            let (ma, mb) = (MemKey::new(&a, sa, ValueKind::Put), MemKey::new(&b, sb, ValueKind::Delete));
            let (ia, ib) = (InternalKey::new(&a, sa, ValueKind::Put), InternalKey::new(&b, sb, ValueKind::Delete));
            prop_assert_eq!(ma.cmp(&mb), ia.cmp(&ib));
            prop_assert_eq!(ma.as_bytes(), ia.as_bytes());
            prop_assert_eq!((ma.user_key(), ma.seqno()), (ia.user_key(), ia.seqno()));
            let (ms, is) = (MemKey::seek(&a, sa), InternalKey::seek(&a, sa));
            prop_assert_eq!(ms.as_bytes(), is.as_bytes());
        }

        #[test]
        fn arbitrary_bytes_order_as_the_comparator(a in proptest::collection::vec(any::<u8>(), 0..40),
                                                   b in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(MemKey::from_encoded(&a).cmp(&MemKey::from_encoded(&b)), key::compare(&a, &b));
        }
    }
}
