//! Every byte of the block format: constants, the trailer, the entry header,
//! and the varint and fixed-width helpers shared by writer and reader.
//!
//! ```text
//! block    := entry* restart* restart_count format checksum
//! entry    := shared:varint32 unshared:varint32 value_len:varint32
//!             key_suffix:[unshared]u8 value:[value_len]u8
//! restart  := u32 LE   offset of an entry whose shared == 0
//! restart_count := u32 LE
//! format   := u8       FORMAT_V1 (xxh3-64 checksum)
//! checksum := u64 LE   xxh3_64 of every byte before it
//! ```
//!
//! An entry's key is the first `shared` bytes of the previous entry's key
//! followed by `key_suffix`. Every restart entry stores its key whole
//! (`shared == 0`), which is what lets a reader binary-search the restart
//! array without decoding what lies between. `docs/FORMAT.md` tells the
//! same grammar with a worked example.
//!
//! The varint and fixed-width helpers are public because the other on-disk
//! formats of lsmkit (tables, logs) use the same encodings.

use std::ops::Range;

/// The format byte of version 1 blocks: the layout above, checksummed with
/// xxh3-64 (seed 0). FROZEN: a written value is never reused for another
/// meaning.
pub const FORMAT_V1: u8 = 1;

/// Width of a restart offset and of the restart count.
pub const RESTART_LEN: usize = 4;

/// Width of the checksum at the very end of a block.
pub const CHECKSUM_LEN: usize = 8;

/// Bytes after the restart array: restart count, format byte, checksum.
pub const TRAILER_LEN: usize = RESTART_LEN + 1 + CHECKSUM_LEN;

/// The largest entry region a block may have: restart offsets are `u32`.
pub const MAX_DATA_LEN: usize = u32::MAX as usize;

/// The most bytes an entry header (three varint32s) can take.
pub const MAX_ENTRY_HEADER_LEN: usize = 3 * MAX_VARINT32_LEN;

/// The most bytes a varint32 can take.
pub const MAX_VARINT32_LEN: usize = 5;

/// The most bytes a varint64 can take.
pub const MAX_VARINT64_LEN: usize = 10;

/// The checksum of a format-1 block: xxh3-64 of every byte before it.
pub fn checksum(covered: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(covered)
}

/// Appends `v` as a varint32 (unsigned LEB128, at most 5 bytes).
pub fn put_varint32(out: &mut Vec<u8>, v: u32) {
    put_varint64(out, u64::from(v));
}

/// Appends `v` as a varint64 (unsigned LEB128, at most 10 bytes).
pub fn put_varint64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The number of bytes `put_varint64(v)` appends.
pub fn varint_len(v: u64) -> usize {
    // Each byte carries 7 bits; zero still takes one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes a varint32 at the start of `src`: the value and the bytes it took.
///
/// `None` if `src` ends inside it, if it runs past 5 bytes, or if its value
/// does not fit in 32 bits.
#[inline]
pub fn get_varint32(src: &[u8]) -> Option<(u32, usize)> {
    // One-byte lengths are by far the most common; keep them branch-light.
    if let Some(&b) = src.first()
        && b < 0x80
    {
        return Some((u32::from(b), 1));
    }
    let (v, n) = get_varint(src, MAX_VARINT32_LEN)?;
    Some((u32::try_from(v).ok()?, n))
}

/// Decodes a varint64 at the start of `src`: the value and the bytes it took.
///
/// `None` if `src` ends inside it, if it runs past 10 bytes, or if its value
/// does not fit in 64 bits.
#[inline]
pub fn get_varint64(src: &[u8]) -> Option<(u64, usize)> {
    get_varint(src, MAX_VARINT64_LEN)
}

fn get_varint(src: &[u8], max_len: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &b) in src.iter().take(max_len).enumerate() {
        let shift = 7 * i as u32;
        let bits = u64::from(b & 0x7f);
        // The tenth byte of a varint64 may only carry the top bit of a u64.
        if shift == 63 && bits > 1 {
            return None;
        }
        v |= bits << shift;
        if b < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Appends `v` as 4 little-endian bytes.
pub fn put_fixed32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` as 8 little-endian bytes.
pub fn put_fixed64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The little-endian `u32` at `src[at..at + 4]`, `None` if out of range.
#[inline]
pub fn get_fixed32(src: &[u8], at: usize) -> Option<u32> {
    let bytes = src.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// The little-endian `u64` at `src[at..at + 8]`, `None` if out of range.
#[inline]
pub fn get_fixed64(src: &[u8], at: usize) -> Option<u64> {
    let bytes = src.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// Appends one entry. REQUIRES: `shared <= key.len()`, and the caller has
/// checked that every length fits in 32 bits.
pub(crate) fn put_entry(out: &mut Vec<u8>, shared: usize, key: &[u8], value: &[u8]) {
    let suffix = &key[shared..];
    put_varint32(out, shared as u32);
    put_varint32(out, suffix.len() as u32);
    put_varint32(out, value.len() as u32);
    out.extend_from_slice(suffix);
    out.extend_from_slice(value);
}

/// The decoded shape of one entry: where its parts lie in the entry region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Bytes of the previous key this entry's key starts with.
    pub shared: usize,
    /// The key bytes stored in this entry.
    pub suffix: Range<usize>,
    /// The value bytes.
    pub value: Range<usize>,
}

impl Entry {
    /// Where the next entry starts.
    pub fn end(&self) -> usize {
        self.value.end
    }
}

/// Why an entry could not be decoded, and the offset of the bad part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryError {
    /// A header varint is cut off by the end of the region, or malformed.
    BadVarint { at: usize },
    /// The key suffix and value run past the end of the region.
    Overrun {
        at: usize,
        needed: u64,
        available: u64,
    },
}

/// Decodes the entry starting at `data[at..]`, checking that every part lies
/// inside `data` (the entry region, not the whole block).
#[inline]
pub(crate) fn decode_entry(data: &[u8], at: usize) -> Result<Entry, EntryError> {
    let rest = data.get(at..).ok_or(EntryError::BadVarint { at })?;
    // All three lengths below 128 — the usual case — take one byte each.
    let (shared, unshared, value_len, header) = match rest {
        [s, u, v, ..] if (s | u | v) < 0x80 => {
            (usize::from(*s), usize::from(*u), usize::from(*v), 3)
        }
        _ => {
            let mut pos = 0;
            let mut field = || {
                let (v, n) =
                    get_varint32(&rest[pos..]).ok_or(EntryError::BadVarint { at: at + pos })?;
                pos += n;
                Ok::<usize, EntryError>(v as usize)
            };
            let (s, u, v) = (field()?, field()?, field()?);
            (s, u, v, pos)
        }
    };
    let body = at + header;
    let needed = unshared as u64 + value_len as u64;
    let available = (data.len() - body) as u64;
    if needed > available {
        return Err(EntryError::Overrun {
            at: body,
            needed,
            available,
        });
    }
    let suffix_end = body + unshared;
    Ok(Entry {
        shared,
        suffix: body..suffix_end,
        value: suffix_end..suffix_end + value_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_lengths_match_encodings() {
        for v in [
            0u64,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint64(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            assert_eq!(get_varint64(&out), Some((v, out.len())));
        }
    }

    #[test]
    fn varint32_rejects_overflow_and_overlong() {
        // 2^32 encoded: fits five bytes but not 32 bits.
        let mut out = Vec::new();
        put_varint64(&mut out, 1 << 32);
        assert_eq!(out.len(), 5);
        assert_eq!(get_varint32(&out), None);
        // Six bytes with continuation bits.
        assert_eq!(get_varint32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), None);
        assert_eq!(
            get_varint32(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Some((u32::MAX, 5))
        );
    }

    #[test]
    fn varint64_rejects_overflow_in_tenth_byte() {
        let mut max = Vec::new();
        put_varint64(&mut max, u64::MAX);
        assert_eq!(max.last(), Some(&0x01));
        assert_eq!(get_varint64(&max), Some((u64::MAX, 10)));
        max[9] = 0x02;
        assert_eq!(get_varint64(&max), None);
    }

    #[test]
    fn truncated_varints_are_rejected() {
        assert_eq!(get_varint32(&[]), None);
        assert_eq!(get_varint32(&[0x80]), None);
        assert_eq!(get_varint64(&[0xff; 3]), None);
    }

    #[test]
    fn fixed_width_out_of_range_is_none() {
        assert_eq!(get_fixed32(&[1, 2, 3], 0), None);
        assert_eq!(get_fixed32(&[1, 0, 0, 0], 0), Some(1));
        assert_eq!(get_fixed32(&[1, 0, 0, 0], usize::MAX), None);
        assert_eq!(get_fixed64(&[0; 8], 1), None);
    }

    #[test]
    fn entry_that_overruns_its_region_is_an_error() {
        let mut data = Vec::new();
        put_entry(&mut data, 0, b"key", b"value");
        let whole = decode_entry(&data, 0).unwrap();
        assert_eq!(whole.end(), data.len());
        assert_eq!(
            decode_entry(&data[..data.len() - 1], 0),
            Err(EntryError::Overrun {
                at: 3,
                needed: 8,
                available: 7
            })
        );
        assert_eq!(
            decode_entry(&data[..2], 0),
            Err(EntryError::BadVarint { at: 2 })
        );
        assert_eq!(
            decode_entry(&data, data.len()),
            Err(EntryError::BadVarint { at: data.len() })
        );
    }

    proptest! {
        #[test]
        fn varint32_round_trips(v in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            put_varint32(&mut out, v);
            let n = out.len();
            out.extend_from_slice(&tail);
            prop_assert_eq!(get_varint32(&out), Some((v, n)));
        }

        #[test]
        fn varint64_round_trips(v in any::<u64>()) {
            let mut out = Vec::new();
            put_varint64(&mut out, v);
            prop_assert_eq!(get_varint64(&out), Some((v, out.len())));
        }

        #[test]
        fn entries_round_trip(shared in 0usize..300, key in proptest::collection::vec(any::<u8>(), 0..300),
                              value in proptest::collection::vec(any::<u8>(), 0..300)) {
            let shared = shared.min(key.len());
            let mut data = vec![0xee];
            put_entry(&mut data, shared, &key, &value);
            let e = decode_entry(&data, 1).unwrap();
            prop_assert_eq!(e.shared, shared);
            prop_assert_eq!(&data[e.suffix.clone()], &key[shared..]);
            prop_assert_eq!(&data[e.value.clone()], &value[..]);
            prop_assert_eq!(e.end(), data.len());
        }
    }
}
