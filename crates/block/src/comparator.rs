//! The order of keys inside a block, and the key-shortening hooks that
//! index builders use.
//!
//! A block stores keys as opaque bytes; the [`Comparator`] decides their
//! order. The block format is the same for every comparator: a table of
//! multi-version internal keys (see `lsmkit-sstable`) uses the very same
//! blocks as a table of plain bytewise keys, only with another comparator.

use std::cmp::Ordering;

/// A total order over byte-string keys.
///
/// Implementations must be a strict weak ordering that is consistent for the
/// life of any data written with it: a block or table built under one order
/// and read under another returns wrong answers. Hence [`Comparator::name`],
/// which table formats store so that a reader can refuse a mismatch.
pub trait Comparator: Clone + Send + Sync + 'static {
    /// Compares two keys.
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering;

    /// A stable name for this order, stored on disk by table formats.
    fn name(&self) -> &'static str;

    /// Writes into `out` (which it clears first) a key `k` with
    /// `start <= k < limit`, as short as the order allows.
    ///
    /// Index blocks store such a separator between two data blocks instead
    /// of the full last key of the first. REQUIRES: `start < limit`.
    /// The default returns `start` itself, which is always correct.
    fn separator(&self, start: &[u8], limit: &[u8], out: &mut Vec<u8>) {
        let _ = limit;
        out.clear();
        out.extend_from_slice(start);
    }

    /// Writes into `out` (which it clears first) a key `k >= key`, as short
    /// as the order allows: the index entry after the last data block.
    /// The default returns `key` itself, which is always correct.
    fn successor(&self, key: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(key);
    }
}

/// Lexicographic order of the raw bytes: the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bytewise;

impl Comparator for Bytewise {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        a.cmp(b)
    }

    fn name(&self) -> &'static str {
        "lsmkit.bytewise"
    }

    fn separator(&self, start: &[u8], limit: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let common = start.iter().zip(limit).take_while(|(a, b)| a == b).count();
        // Where start is a prefix of limit nothing shorter separates them.
        if common < start.len() {
            let byte = start[common];
            // Bump the first differing byte if the result stays below limit.
            if byte < u8::MAX && common < limit.len() && byte + 1 < limit[common] {
                out.extend_from_slice(&start[..common]);
                out.push(byte + 1);
                return;
            }
        }
        out.extend_from_slice(start);
    }

    fn successor(&self, key: &[u8], out: &mut Vec<u8>) {
        out.clear();
        // The first byte that can be bumped gives the shortest successor;
        // a key of all 0xff bytes has none shorter than itself.
        match key.iter().position(|&b| b != u8::MAX) {
            Some(i) => {
                out.extend_from_slice(&key[..i]);
                out.push(key[i] + 1);
            }
            None => out.extend_from_slice(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sep(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut out = vec![9, 9, 9];
        Bytewise.separator(a, b, &mut out);
        out
    }

    #[test]
    fn separator_shortens_where_a_byte_can_be_bumped() {
        assert_eq!(sep(b"abcdef", b"abzz"), b"abd");
        assert_eq!(sep(b"helloworld", b"hellozoo"), b"hellox");
    }

    #[test]
    fn separator_keeps_start_when_nothing_shorter_fits() {
        assert_eq!(sep(b"abc", b"abd"), b"abc");
        assert_eq!(sep(b"abc", b"abcd"), b"abc");
        assert_eq!(sep(b"a\xff", b"b"), b"a\xff");
    }

    #[test]
    fn successor_bumps_first_non_ff_byte() {
        let mut out = Vec::new();
        Bytewise.successor(b"\xff\xffabc", &mut out);
        assert_eq!(out, b"\xff\xffb");
        Bytewise.successor(b"\xff\xff", &mut out);
        assert_eq!(out, b"\xff\xff");
        Bytewise.successor(b"", &mut out);
        assert_eq!(out, b"");
    }

    proptest! {
        #[test]
        fn separator_lies_between(a in proptest::collection::vec(any::<u8>(), 0..8),
                                  b in proptest::collection::vec(any::<u8>(), 0..8)) {
            prop_assume!(a < b);
            let s = sep(&a, &b);
            prop_assert!(a <= s && s < b, "{a:?} <= {s:?} < {b:?}");
            prop_assert!(s.len() <= a.len());
        }

        #[test]
        fn successor_is_not_smaller(a in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut s = Vec::new();
            Bytewise.successor(&a, &mut s);
            prop_assert!(s >= a);
            prop_assert!(s.len() <= a.len());
        }
    }
}
