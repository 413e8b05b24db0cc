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
//! In version 1 every block is an `lsmkit-block` block (own xxh3-64
//! checksum). Version 2 wraps each data block in an envelope that says how
//! it is stored, raw or compressed, and checksums the stored bytes:
//!
//! ```text
//! data_block_v2 := payload codec:u8 checksum:u64             (9-byte trailer)
//! payload       := block                        (codec 0: none)
//!                | raw_len:varint32 lz4_block   (codec 1: LZ4 block format)
//!                | raw_len:varint32 zstd_frame  (codec 2: Zstandard frame)
//! checksum      := xxh3_64(payload codec)
//! ```
//!
//! where `block` is an `lsmkit-block` block and a compressed payload
//! decompresses to one of `raw_len` bytes. Meta blocks (index, filter,
//! range deletions, properties, metaindex) are plain blocks in both
//! versions. The blocks tile the file from offset 0 to the footer with no
//! gap, so every byte of a table is covered by a checksum.
//! `docs/FORMAT.md` tells the same layout byte by byte, with the meaning of
//! every block.

use lsmkit_block::format::{
    checksum, get_fixed32, get_fixed64, get_varint32, get_varint64, put_fixed32, put_fixed64,
    put_varint32, put_varint64,
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
    /// Adds per-block compression (none, LZ4, Zstandard): each data block
    /// in an envelope with a codec byte and a checksum of the stored bytes
    /// ([`DATA_TRAILER_LEN`]); a cache-local blocked bloom filter
    /// ([`FILTER_POLICY_BLOCKED`]) instead of V1's; and the required
    /// properties [`prop::COMPRESSION`], [`prop::RAW_DATA_SIZE`] and
    /// [`prop::NUM_COMPRESSED_BLOCKS`].
    V2 = 2,
}

impl FormatVersion {
    /// The version writers produce unless told otherwise.
    pub const LATEST: FormatVersion = FormatVersion::V2;

    /// The version for a stored number, `None` if this reader does not
    /// know it.
    pub fn from_u32(v: u32) -> Option<FormatVersion> {
        match v {
            1 => Some(FormatVersion::V1),
            2 => Some(FormatVersion::V2),
            _ => None,
        }
    }
}

/// How a data block is compressed: a writer's choice
/// ([`SstOptions::compression`](crate::SstOptions::compression)) and, in a
/// version-2 table, the codec byte before each data block's checksum.
/// FROZEN wire values: a written value is never reused for another codec.
///
/// Every codec is known to every build; decoding LZ4 and Zstandard needs
/// this crate's `lz4` and `zstd` features (both on by default), and a build
/// without one reports [`Error::CodecUnavailable`](crate::Error::CodecUnavailable)
/// when it meets such a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Compression {
    /// The payload is the block itself.
    #[default]
    None = 0,
    /// The payload is `raw_len:varint32` then the block in LZ4's block
    /// format (no frame).
    Lz4 = 1,
    /// The payload is `raw_len:varint32` then one Zstandard frame.
    Zstd = 2,
}

impl Compression {
    /// The codec of a stored byte; `None` for a byte no version assigns.
    pub fn from_u8(byte: u8) -> Option<Compression> {
        match byte {
            0 => Some(Compression::None),
            1 => Some(Compression::Lz4),
            2 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// Whether this build can encode and decode the codec (its cargo
    /// feature is on; `None` always can).
    pub fn is_available(self) -> bool {
        crate::compression::available(self)
    }

    /// The codec's name, as the [`prop::COMPRESSION`] property stores it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec of a name [`name`](Self::name) returns.
    pub fn from_name(name: &[u8]) -> Option<Compression> {
        [Compression::None, Compression::Lz4, Compression::Zstd]
            .into_iter()
            .find(|c| c.name().as_bytes() == name)
    }
}

/// Bytes after a version-2 data block's payload: codec byte, checksum.
pub const DATA_TRAILER_LEN: usize = 1 + 8;

/// The largest block a compressed payload may decompress to: 64 MiB. A
/// reader refuses a larger `raw_len` before allocating anything, and a
/// writer stores a larger block raw (its size is then bounded by the
/// file's).
pub const MAX_COMPRESSED_RAW_LEN: usize = 64 << 20;

/// Appends the envelope trailer of a version-2 data block whose payload is
/// `out[payload_start..]`.
pub fn seal_data_block(out: &mut Vec<u8>, payload_start: usize, codec: Compression) {
    out.push(codec as u8);
    let sum = checksum(&out[payload_start..]);
    put_fixed64(out, sum);
}

/// Appends the header of a compressed payload: the block's raw length.
pub fn put_raw_len(out: &mut Vec<u8>, raw_len: u32) {
    put_varint32(out, raw_len);
}

/// Why a version-2 data block envelope is refused, with the offset within
/// the stored block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Shorter than its trailer.
    TooShort,
    /// The stored checksum does not match the payload and codec byte.
    ChecksumMismatch {
        /// Stored value.
        stored: u64,
        /// Computed value.
        computed: u64,
    },
    /// A codec byte no version assigns.
    UnknownCodec(u8),
    /// A compressed payload's raw length is malformed, zero, or above
    /// [`MAX_COMPRESSED_RAW_LEN`].
    BadRawLen,
}

/// An opened version-2 envelope: how the payload is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The codec byte.
    pub codec: Compression,
    /// The stored block (codec `None`) or the compressed bytes.
    pub payload: &'a [u8],
    /// For a compressed payload, the length it decompresses to (checked
    /// against [`MAX_COMPRESSED_RAW_LEN`]); for a raw one, its length.
    pub raw_len: usize,
}

/// Checks a stored version-2 data block, in this order: length, checksum
/// (over the stored bytes, so nothing unverified reaches a decompressor),
/// codec byte, raw length.
pub fn open_data_block(stored: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    let sum_at = stored
        .len()
        .checked_sub(8)
        .filter(|&at| at >= 1)
        .ok_or(EnvelopeError::TooShort)?;
    let stored_sum = get_fixed64(stored, sum_at).unwrap_or(0);
    let computed = checksum(&stored[..sum_at]);
    if stored_sum != computed {
        return Err(EnvelopeError::ChecksumMismatch {
            stored: stored_sum,
            computed,
        });
    }
    let codec_byte = stored[sum_at - 1];
    let codec = Compression::from_u8(codec_byte).ok_or(EnvelopeError::UnknownCodec(codec_byte))?;
    let body = &stored[..sum_at - 1];
    if codec == Compression::None {
        return Ok(Envelope {
            codec,
            payload: body,
            raw_len: body.len(),
        });
    }
    let (raw_len, n) = get_varint32(body).ok_or(EnvelopeError::BadRawLen)?;
    let raw_len = raw_len as usize;
    if raw_len == 0 || raw_len > MAX_COMPRESSED_RAW_LEN {
        return Err(EnvelopeError::BadRawLen);
    }
    Ok(Envelope {
        codec,
        payload: &body[n..],
        raw_len,
    })
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

/// The key of a version-1 filter block's one entry: the filter policy. Its
/// value is a `bloomfilter` 3.x serialized filter whose items are the 8
/// little-endian bytes of `xxh3_64(user_key)`.
pub const FILTER_POLICY: &[u8] = b"lsmkit.bloom.xxh3.sip13";

/// The key of a version-2 filter block's one entry: a blocked bloom filter
/// whose every probe of a key lands in one 64-byte line.
///
/// ```text
/// blocked_filter := probes:u8 line_count:u32 line{line_count}
/// line           := [64]u8      bit b (0..512) is byte b/8, bit b%8
/// ```
///
/// For `h = xxh3_64(user_key)`, the line is `((h >> 32) * line_count) >> 32`
/// and the bits are `p >> 23` for `p = h as u32`, then `p *= 0x9e3779b9`
/// before each following probe, `probes` times.
pub const FILTER_POLICY_BLOCKED: &[u8] = b"lsmkit.blocked_bloom.xxh3";

/// Bytes of one line of a blocked filter: one cache line.
pub const FILTER_LINE_LEN: usize = 64;

/// Bytes of a blocked filter before its lines.
pub const FILTER_BLOCKED_HEADER_LEN: usize = 1 + 4;

/// The multiplier that moves a blocked filter's probe to its next bit.
pub const FILTER_PROBE_MULTIPLIER: u32 = 0x9e37_79b9;

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
    /// Required. Point entries (values, merge operands and point
    /// tombstones).
    pub const NUM_ENTRIES: &[u8] = b"lsmkit.num_entries";
    /// Merge operands among the point entries; written only when there
    /// are some (tables without merges are as before merges existed).
    pub const NUM_MERGE_OPERANDS: &[u8] = b"lsmkit.num_merge_operands";
    /// Required. Range tombstones in the range-deletion block.
    pub const NUM_RANGE_TOMBSTONES: &[u8] = b"lsmkit.num_range_tombstones";
    /// Required. Sum of the lengths of the entries' internal keys.
    pub const RAW_KEY_SIZE: &[u8] = b"lsmkit.raw_key_size";
    /// Required. Sum of the lengths of the entries' values.
    pub const RAW_VALUE_SIZE: &[u8] = b"lsmkit.raw_value_size";
    /// Required from version 2. The codec the writer compressed data
    /// blocks with (`none`, `lz4` or `zstd`; UTF-8). Blocks that would not
    /// shrink enough are stored raw whatever it says.
    pub const COMPRESSION: &[u8] = b"lsmkit.compression";
    /// Required from version 2. Data blocks stored compressed.
    pub const NUM_COMPRESSED_BLOCKS: &[u8] = b"lsmkit.num_compressed_blocks";
    /// Required from version 2. Total bytes of the data blocks as blocks,
    /// before compression and without their envelopes.
    pub const RAW_DATA_SIZE: &[u8] = b"lsmkit.raw_data_size";
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

    fn sealed(payload: &[u8], codec: Compression) -> Vec<u8> {
        let mut out = payload.to_vec();
        seal_data_block(&mut out, 0, codec);
        out
    }

    #[test]
    fn envelopes_round_trip() {
        let raw = sealed(b"a block", Compression::None);
        assert_eq!(raw.len(), 7 + DATA_TRAILER_LEN);
        let e = open_data_block(&raw).unwrap();
        assert_eq!(
            (e.codec, e.payload, e.raw_len),
            (Compression::None, &b"a block"[..], 7)
        );
        let mut lz = Vec::new();
        put_raw_len(&mut lz, 300);
        lz.extend_from_slice(b"xyz");
        let lz = sealed(&lz, Compression::Lz4);
        let e = open_data_block(&lz).unwrap();
        assert_eq!(
            (e.codec, e.payload, e.raw_len),
            (Compression::Lz4, &b"xyz"[..], 300)
        );
    }

    #[test]
    fn envelopes_check_length_checksum_codec_and_raw_length() {
        assert_eq!(open_data_block(&[0; 8]), Err(EnvelopeError::TooShort));
        let mut bad_sum = sealed(b"x", Compression::None);
        bad_sum[0] ^= 1;
        assert!(matches!(
            open_data_block(&bad_sum),
            Err(EnvelopeError::ChecksumMismatch { .. })
        ));
        // A valid checksum over a codec byte no version assigns.
        let mut codec_255 = b"x".to_vec();
        codec_255.push(255);
        let sum = checksum(&codec_255);
        put_fixed64(&mut codec_255, sum);
        assert_eq!(
            open_data_block(&codec_255),
            Err(EnvelopeError::UnknownCodec(255))
        );
        // A claimed 4 GiB block is refused before anything is allocated.
        for claim in [0u32, u32::MAX, MAX_COMPRESSED_RAW_LEN as u32 + 1] {
            let mut p = Vec::new();
            put_raw_len(&mut p, claim);
            p.extend_from_slice(b"garbage");
            assert_eq!(
                open_data_block(&sealed(&p, Compression::Zstd)),
                Err(EnvelopeError::BadRawLen),
                "{claim}"
            );
        }
        assert_eq!(
            open_data_block(&sealed(&[0x80], Compression::Lz4)),
            Err(EnvelopeError::BadRawLen)
        );
    }

    #[test]
    fn compression_names_and_bytes_round_trip() {
        for c in [Compression::None, Compression::Lz4, Compression::Zstd] {
            assert_eq!(Compression::from_u8(c as u8), Some(c));
            assert_eq!(Compression::from_name(c.name().as_bytes()), Some(c));
        }
        assert_eq!(Compression::from_u8(3), None);
        assert_eq!(Compression::from_name(b"snappy"), None);
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
