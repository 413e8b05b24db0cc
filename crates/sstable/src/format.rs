//! Every on-disk constant and encoding of the table format.
//!
//! ```text
//! table     := data_block* filter_block? range_del_block? index_block
//!              properties_block metaindex_block footer
//! footer    := metaindex:handle64 index:handle64 version:u32 checksum_type:u8
//!              reserved:[3]u8 checksum:u64 magic:u64          (56 bytes)
//! handle64  := offset:u64 size:u64                             (footer only)
//! handle    := offset:varint64 size:varint64                   (in blocks)
//! ```
//!
//! Every block is an `lsmkit-block` block (own xxh3-64 checksum), and the
//! blocks tile the file from offset 0 to the footer with no gap, so every
//! byte of a table is covered by a checksum. `docs/FORMAT.md` tells the same
//! layout byte by byte, with the meaning of every block.

use lsmkit_block::format::{
    checksum, get_fixed32, get_fixed64, get_varint64, put_fixed32, put_fixed64, put_varint64,
};

use crate::key::{self, ParsedKey, ValueKind};
use crate::tombstone::RangeTombstone;

/// The last eight bytes of every table: `89 4c 53 4d 4b 53 53 54`, that is
/// `\x89LSMKSST` (the high first byte catches 7-bit mangling, as PNG's
/// does). FROZEN.
pub const MAGIC: u64 = 0x5453_534b_4d53_4c89;

/// Length of the footer, the last bytes of every table. FROZEN across
/// versions, together with the positions of the magic number and version.
pub const FOOTER_LEN: usize = 56;

/// Offset of the format version within the footer. FROZEN.
pub const FOOTER_VERSION_AT: usize = 32;
/// Offset of the checksum type within the footer.
pub const FOOTER_CHECKSUM_TYPE_AT: usize = 36;
/// Offset of the footer checksum within the footer.
pub const FOOTER_CHECKSUM_AT: usize = 40;
/// Offset of the magic number within the footer. FROZEN.
pub const FOOTER_MAGIC_AT: usize = 48;

/// The versions of the table format. A reader reads every version up to
/// [`FormatVersion::LATEST`] and refuses newer ones with
/// [`Error::UnsupportedVersion`](crate::Error::UnsupportedVersion); a
/// writer writes `LATEST`. Changing any byte a writer produces means adding
/// a version here (and a golden file under `testdata/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum FormatVersion {
    /// The first format: data, filter, range-deletion, index, properties
    /// and metaindex blocks, all `lsmkit-block` format 1 (xxh3-64
    /// checksums); a bloom filter over xxh3-64 digests of user keys; the
    /// 56-byte footer with an xxh3-64 checksum.
    V1 = 1,
}

impl FormatVersion {
    /// The version writers produce.
    pub const LATEST: FormatVersion = FormatVersion::V1;

    /// The version for a stored number, `None` if this reader does not
    /// know it.
    pub fn from_u32(v: u32) -> Option<FormatVersion> {
        match v {
            1 => Some(FormatVersion::V1),
            _ => None,
        }
    }
}

/// How the footer is checksummed. The wire value is stored in the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum ChecksumType {
    /// xxh3-64 with seed 0.
    Xxh3 = 1,
}

/// Name in the metaindex of the filter block.
pub const META_FILTER: &[u8] = b"lsmkit.filter";
/// Name in the metaindex of the properties block.
pub const META_PROPERTIES: &[u8] = b"lsmkit.properties";
/// Name in the metaindex of the range-deletion block.
pub const META_RANGE_DEL: &[u8] = b"lsmkit.range_del";

/// The key of the filter block's one entry: the filter policy. Its value
/// is a `bloomfilter` 3.x serialized filter whose items are the 8
/// little-endian bytes of `xxh3_64(user_key)`.
pub const FILTER_POLICY: &[u8] = b"lsmkit.bloom.xxh3.sip13";

/// The seed of every filter written: fixed, so that tables are
/// reproducible byte for byte. It is stored in the filter too, and readers
/// use the stored one.
pub const FILTER_SEED: [u8; 32] = *b"lsmkit sstable bloom filter seed";

/// The most hash functions a reader accepts in a filter: a crafted filter
/// cannot make a probe loop for long.
pub const MAX_FILTER_HASHES: u32 = 64;

/// Names of the properties in the properties block. Values are varint64
/// unless noted. A reader ignores names it does not know, and needs every
/// name marked required.
pub mod prop {
    /// Required. The comparator name (UTF-8).
    pub const COMPARATOR: &[u8] = b"lsmkit.comparator";
    /// Required. Seconds since the Unix epoch when the table was written.
    pub const CREATION_TIME: &[u8] = b"lsmkit.creation_time";
    /// Required. Total bytes of the data blocks.
    pub const DATA_SIZE: &[u8] = b"lsmkit.data_size";
    /// Required. Bits per key the filter was built with (0: no filter).
    pub const FILTER_BITS_PER_KEY: &[u8] = b"lsmkit.filter_bits_per_key";
    /// Required. Bytes of the filter block (0: none).
    pub const FILTER_SIZE: &[u8] = b"lsmkit.filter_size";
    /// Required. The format version, as in the footer.
    pub const FORMAT_VERSION: &[u8] = b"lsmkit.format_version";
    /// Required. Bytes of the index block.
    pub const INDEX_SIZE: &[u8] = b"lsmkit.index_size";
    /// Largest sequence number of any entry or range tombstone (absent in
    /// an empty table).
    pub const MAX_SEQNO: &[u8] = b"lsmkit.max_seqno";
    /// Largest user key of a point entry (raw bytes; absent if none).
    pub const MAX_USER_KEY: &[u8] = b"lsmkit.max_user_key";
    /// Smallest sequence number of any entry or range tombstone.
    pub const MIN_SEQNO: &[u8] = b"lsmkit.min_seqno";
    /// Smallest user key of a point entry (raw bytes; absent if none).
    pub const MIN_USER_KEY: &[u8] = b"lsmkit.min_user_key";
    /// Required. Number of data blocks.
    pub const NUM_DATA_BLOCKS: &[u8] = b"lsmkit.num_data_blocks";
    /// Required. Point tombstones among the entries.
    pub const NUM_DELETIONS: &[u8] = b"lsmkit.num_deletions";
    /// Required. Point entries (values and point tombstones).
    pub const NUM_ENTRIES: &[u8] = b"lsmkit.num_entries";
    /// Required. Range tombstones in the range-deletion block.
    pub const NUM_RANGE_TOMBSTONES: &[u8] = b"lsmkit.num_range_tombstones";
    /// Required. Sum of the lengths of the entries' internal keys.
    pub const RAW_KEY_SIZE: &[u8] = b"lsmkit.raw_key_size";
    /// Required. Sum of the lengths of the entries' values.
    pub const RAW_VALUE_SIZE: &[u8] = b"lsmkit.raw_value_size";
    /// Prefix of user properties: `user.<name>` holds the raw value.
    pub const USER_PREFIX: &[u8] = b"user.";
}

/// Where a block lies in the file: `size` bytes from `offset`, the whole
/// `lsmkit-block` block including its trailer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlockHandle {
    /// Offset of the block's first byte.
    pub offset: u64,
    /// Length of the block in bytes.
    pub size: u64,
}

impl BlockHandle {
    /// The handle of `size` bytes at `offset`.
    pub fn new(offset: u64, size: u64) -> BlockHandle {
        BlockHandle { offset, size }
    }

    /// The offset just past the block; `None` if it overflows.
    pub fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.size)
    }

    /// Appends the in-block encoding: two varint64s.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        put_varint64(out, self.offset);
        put_varint64(out, self.size);
    }

    /// Decodes a handle that must fill `src` exactly; `None` if it is
    /// malformed or followed by other bytes.
    pub fn decode(src: &[u8]) -> Option<BlockHandle> {
        let (offset, n) = get_varint64(src)?;
        let (size, m) = get_varint64(src.get(n..)?)?;
        (n + m == src.len()).then_some(BlockHandle { offset, size })
    }
}

/// The fixed-size end of every table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// The metaindex block.
    pub metaindex: BlockHandle,
    /// The index block.
    pub index: BlockHandle,
    /// The format version.
    pub version: FormatVersion,
}

/// Why a footer could not be decoded, with the offset within the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FooterError {
    /// The magic number is wrong.
    BadMagic {
        /// What was found.
        found: u64,
    },
    /// The version is not one this reader knows.
    UnsupportedVersion {
        /// What was found.
        found: u32,
    },
    /// The checksum type is unknown, or reserved bytes are not zero.
    BadField {
        /// Offset within the footer.
        at: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The stored checksum does not match.
    ChecksumMismatch {
        /// Stored value.
        stored: u64,
        /// Computed value.
        computed: u64,
    },
}

impl Footer {
    /// The 56 bytes of this footer.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = Vec::with_capacity(FOOTER_LEN);
        put_fixed64(&mut out, self.metaindex.offset);
        put_fixed64(&mut out, self.metaindex.size);
        put_fixed64(&mut out, self.index.offset);
        put_fixed64(&mut out, self.index.size);
        put_fixed32(&mut out, self.version as u32);
        out.push(ChecksumType::Xxh3 as u8);
        out.extend_from_slice(&[0; 3]);
        let sum = checksum(&out);
        put_fixed64(&mut out, sum);
        put_fixed64(&mut out, MAGIC);
        let mut bytes = [0; FOOTER_LEN];
        bytes.copy_from_slice(&out);
        bytes
    }

    /// Decodes a footer, checking in this order: magic, version, checksum
    /// type, reserved bytes, checksum. The version comes before anything a
    /// later version may change, so that a newer table is reported as such
    /// rather than as corrupt.
    pub fn decode(src: &[u8; FOOTER_LEN]) -> Result<Footer, FooterError> {
        let field = |at| get_fixed64(src, at).unwrap_or(0);
        let magic = field(FOOTER_MAGIC_AT);
        if magic != MAGIC {
            return Err(FooterError::BadMagic { found: magic });
        }
        let raw_version = get_fixed32(src, FOOTER_VERSION_AT).unwrap_or(0);
        let version = FormatVersion::from_u32(raw_version)
            .ok_or(FooterError::UnsupportedVersion { found: raw_version })?;
        if src[FOOTER_CHECKSUM_TYPE_AT] != ChecksumType::Xxh3 as u8 {
            return Err(FooterError::BadField {
                at: FOOTER_CHECKSUM_TYPE_AT,
                what: "unknown checksum type",
            });
        }
        if src[FOOTER_CHECKSUM_TYPE_AT + 1..FOOTER_CHECKSUM_AT] != [0; 3] {
            return Err(FooterError::BadField {
                at: FOOTER_CHECKSUM_TYPE_AT + 1,
                what: "reserved bytes are not zero",
            });
        }
        let stored = field(FOOTER_CHECKSUM_AT);
        let computed = checksum(&src[..FOOTER_CHECKSUM_AT]);
        if stored != computed {
            return Err(FooterError::ChecksumMismatch { stored, computed });
        }
        Ok(Footer {
            metaindex: BlockHandle::new(field(0), field(8)),
            index: BlockHandle::new(field(16), field(24)),
            version,
        })
    }
}

/// The block entry of a range tombstone: key `(start, seqno, RangeDelete)`
/// as an internal key, value `end`.
pub fn encode_tombstone(t: &RangeTombstone, key_out: &mut Vec<u8>) {
    key_out.clear();
    key::encode(&t.start, t.seqno, ValueKind::RangeDelete, key_out);
}

/// Decodes a range-deletion block entry; `None` if the key is not an
/// internal key of kind `RangeDelete`, or the range is empty (writers never
/// store empty ranges).
pub fn decode_tombstone(key: &[u8], value: &[u8]) -> Option<RangeTombstone> {
    let parsed = ParsedKey::parse(key)?;
    let t = RangeTombstone::new(parsed.user_key, value, parsed.seqno);
    (parsed.kind == ValueKind::RangeDelete && !t.is_empty()).then_some(t)
}

/// A varint64 property value that must fill `src` exactly.
pub fn decode_u64(src: &[u8]) -> Option<u64> {
    let (v, n) = get_varint64(src)?;
    (n == src.len()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer() -> Footer {
        Footer {
            metaindex: BlockHandle::new(1000, 77),
            index: BlockHandle::new(900, 100),
            version: FormatVersion::V1,
        }
    }

    #[test]
    fn magic_bytes_spell_the_name() {
        assert_eq!(&MAGIC.to_le_bytes(), b"\x89LSMKSST");
    }

    #[test]
    fn footer_round_trips() {
        let bytes = footer().encode();
        assert_eq!(Footer::decode(&bytes), Ok(footer()));
    }

    #[test]
    fn footer_checks_magic_first_then_version() {
        let mut bytes = footer().encode();
        bytes[FOOTER_VERSION_AT] = 9;
        assert_eq!(
            Footer::decode(&bytes),
            Err(FooterError::UnsupportedVersion { found: 9 })
        );
        bytes[FOOTER_MAGIC_AT] ^= 1;
        assert!(matches!(
            Footer::decode(&bytes),
            Err(FooterError::BadMagic { .. })
        ));
    }

    #[test]
    fn every_footer_bit_flip_is_detected() {
        let bytes = footer().encode();
        for bit in 0..FOOTER_LEN * 8 {
            let mut damaged = bytes;
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(Footer::decode(&damaged).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn handles_must_fill_their_value_exactly() {
        let mut out = Vec::new();
        BlockHandle::new(300, 5).encode_into(&mut out);
        assert_eq!(BlockHandle::decode(&out), Some(BlockHandle::new(300, 5)));
        out.push(0);
        assert_eq!(BlockHandle::decode(&out), None);
        assert_eq!(BlockHandle::decode(&out[..1]), None);
        assert_eq!(BlockHandle::new(u64::MAX, 1).end(), None);
    }

    #[test]
    fn tombstones_round_trip_and_empty_ranges_are_refused() {
        let t = RangeTombstone::new(&b"a"[..], &b"c"[..], 7);
        let mut key = Vec::new();
        encode_tombstone(&t, &mut key);
        assert_eq!(decode_tombstone(&key, b"c"), Some(t));
        assert_eq!(decode_tombstone(&key, b"a"), None);
        let mut put = Vec::new();
        key::encode(b"a", 7, ValueKind::Put, &mut put);
        assert_eq!(decode_tombstone(&put, b"c"), None);
    }
}
