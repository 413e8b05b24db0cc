//! The log's byte layout, shared by [`LogWriter`](crate::LogWriter) and
//! [`LogReader`](crate::LogReader): block size, fragment header, fragment
//! types, the checksum, and the names of segment files.
//!
//! ```text
//! log      := block* (the last block may be short)
//! block    := fragment* padding          (exactly BLOCK_SIZE bytes)
//! padding  := 0x00{0..HEADER_SIZE-1}     (when too few bytes remain for a header)
//! fragment := crc:u32 len:u16 type:u8 log_number:u32 payload:u8[len]
//!             \______________ HEADER_SIZE = 11 _______________/
//! crc      := CRC-32 (IEEE) of bytes 4..11 of the header, then the payload
//! ```
//!
//! A fragment never crosses a block boundary. A record that fits in what
//! remains of its block is one `FULL` fragment; a longer one is a `FIRST`,
//! any number of `MIDDLE`s and a `LAST`, each filling the rest of its block
//! but the last. `log_number` is the low 32 bits of the number of the
//! segment (or file) being written, so that a fragment left over from
//! another file cannot pass as one of this file's. Integers are
//! little-endian. `docs/FORMAT.md` tells the same with the reasons.

/// Size of a log block. Frozen: readers locate headers by it.
pub const BLOCK_SIZE: usize = 32 * 1024;

/// Size of a fragment header: checksum (4), length (2), type (1), log
/// number (4). Frozen.
pub const HEADER_SIZE: usize = 11;

/// Offset of the length field within the header; the checksum covers the
/// header from here on.
const LEN_AT: usize = 4;
/// Offset of the type byte within the header.
pub(crate) const TYPE_AT: usize = LEN_AT + 2;
/// Offset of the log number within the header.
pub(crate) const LOG_NUMBER_AT: usize = TYPE_AT + 1;
const _: () = assert!(LOG_NUMBER_AT + 4 == HEADER_SIZE);

/// The most payload one fragment can carry (a whole block but its header).
pub const MAX_FRAGMENT_PAYLOAD: usize = BLOCK_SIZE - HEADER_SIZE;
const _: () = assert!(MAX_FRAGMENT_PAYLOAD <= u16::MAX as usize);

/// The place of a fragment in its record. The wire values are frozen; `0`
/// is never written (zeroed space reads as type 0) and is never to be
/// assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FragmentType {
    /// A whole record.
    Full = 1,
    /// The first piece of a record that continues in the next block.
    First = 2,
    /// A piece of a record that began in an earlier block and continues.
    Middle = 3,
    /// The last piece of a record that began in an earlier block.
    Last = 4,
}

impl FragmentType {
    /// The type whose wire value is `byte`, if any.
    pub fn from_byte(byte: u8) -> Option<FragmentType> {
        match byte {
            1 => Some(FragmentType::Full),
            2 => Some(FragmentType::First),
            3 => Some(FragmentType::Middle),
            4 => Some(FragmentType::Last),
            _ => None,
        }
    }

    /// The type of a piece of a record: whether it is the first, and
    /// whether it is the last. (Not derivable from offsets: a `FIRST` may
    /// be empty when a block has room for a header and nothing more.)
    pub(crate) fn of_piece(first: bool, last: bool) -> FragmentType {
        match (first, last) {
            (true, true) => FragmentType::Full,
            (true, false) => FragmentType::First,
            (false, false) => FragmentType::Middle,
            (false, true) => FragmentType::Last,
        }
    }
}

/// A decoded fragment header, not yet checked against its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The stored checksum.
    pub crc: u32,
    /// Payload length.
    pub len: u16,
    /// The type byte as stored (see [`FragmentType::from_byte`]).
    pub type_byte: u8,
    /// The log number as stored.
    pub log_number: u32,
}

impl Header {
    /// Decodes the first [`HEADER_SIZE`] bytes of `bytes`.
    pub fn decode(bytes: &[u8; HEADER_SIZE]) -> Header {
        let [c0, c1, c2, c3, l0, l1, type_byte, n0, n1, n2, n3] = *bytes;
        Header {
            crc: u32::from_le_bytes([c0, c1, c2, c3]),
            len: u16::from_le_bytes([l0, l1]),
            type_byte,
            log_number: u32::from_le_bytes([n0, n1, n2, n3]),
        }
    }

    /// The checksum this header's fields and `payload` should carry.
    pub fn expected_crc(&self, payload: &[u8]) -> u32 {
        let mut covered = [0u8; HEADER_SIZE - LEN_AT];
        covered[..2].copy_from_slice(&self.len.to_le_bytes());
        covered[TYPE_AT - LEN_AT] = self.type_byte;
        covered[LOG_NUMBER_AT - LEN_AT..].copy_from_slice(&self.log_number.to_le_bytes());
        checksum(&covered, payload)
    }
}

/// The header of a fragment of type `ty` carrying `payload` in the log
/// numbered `log_number`. REQUIRES: `payload.len() <= MAX_FRAGMENT_PAYLOAD`.
pub fn encode_header(ty: FragmentType, log_number: u32, payload: &[u8]) -> [u8; HEADER_SIZE] {
    debug_assert!(payload.len() <= MAX_FRAGMENT_PAYLOAD);
    let mut header = [0u8; HEADER_SIZE];
    // Bounded by MAX_FRAGMENT_PAYLOAD, checked against u16 above.
    header[LEN_AT..TYPE_AT].copy_from_slice(&(payload.len() as u16).to_le_bytes());
    header[TYPE_AT] = ty as u8;
    header[LOG_NUMBER_AT..].copy_from_slice(&log_number.to_le_bytes());
    let crc = checksum(&header[LEN_AT..], payload);
    header[..LEN_AT].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The most bytes a record of `len` bytes can take in a log, wherever its
/// block starts: a header per block it touches, and the padding of the block
/// it starts in.
pub fn max_encoded_len(len: usize) -> u64 {
    let len = len as u64;
    let fragments = len / MAX_FRAGMENT_PAYLOAD as u64 + 2;
    len + fragments * HEADER_SIZE as u64 + HEADER_SIZE as u64
}

fn checksum(header_tail: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header_tail);
    hasher.update(payload);
    hasher.finalize()
}

/// The log number written into the fragments of segment `segment`: its low
/// 32 bits (segments 2^32 apart are never live together).
pub fn log_number(segment: u64) -> u32 {
    segment as u32
}

/// Suffix of segment file names.
const SEGMENT_SUFFIX: &str = ".wal";
/// Digits in a segment file name: enough for any `u64`, so that names
/// sort bytewise in numeric order.
const SEGMENT_DIGITS: usize = 20;

/// The file name of segment `segment`: its number in 20 zero-padded
/// decimal digits, then `.wal` (`00000000000000000007.wal`).
pub fn segment_file_name(segment: u64) -> String {
    format!("{segment:0SEGMENT_DIGITS$}{SEGMENT_SUFFIX}")
}

/// The segment number of a file named by [`segment_file_name`]; `None` for
/// any other name.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_checks_its_payload() {
        let header = encode_header(FragmentType::Middle, 0xdead_beef, b"payload");
        let decoded = Header::decode(&header);
        assert_eq!(decoded.len, 7);
        assert_eq!(decoded.type_byte, 3);
        assert_eq!(decoded.log_number, 0xdead_beef);
        assert_eq!(decoded.crc, decoded.expected_crc(b"payload"));
        assert_ne!(decoded.crc, decoded.expected_crc(b"paylOad"));
    }

    #[test]
    fn checksum_covers_type_length_and_log_number() {
        let base = Header::decode(&encode_header(FragmentType::Full, 7, b"x"));
        for changed in [
            Header {
                type_byte: 2,
                ..base
            },
            Header { len: 2, ..base },
            Header {
                log_number: 8,
                ..base
            },
        ] {
            assert_ne!(changed.expected_crc(b"x"), base.crc, "{changed:?}");
        }
    }

    #[test]
    fn header_layout_is_frozen() {
        // crc32(00 00 | 01 | 05 00 00 00) pinned so that the layout cannot
        // drift unnoticed.
        let header = encode_header(FragmentType::Full, 5, b"");
        assert_eq!(&header[4..], &[0, 0, 1, 5, 0, 0, 0]);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&[0, 0, 1, 5, 0, 0, 0]);
        assert_eq!(header[..4], hasher.finalize().to_le_bytes());
    }

    #[test]
    fn fragment_types_are_frozen() {
        for (ty, byte) in [
            (FragmentType::Full, 1),
            (FragmentType::First, 2),
            (FragmentType::Middle, 3),
            (FragmentType::Last, 4),
        ] {
            assert_eq!(ty as u8, byte);
            assert_eq!(FragmentType::from_byte(byte), Some(ty));
        }
        assert_eq!(FragmentType::from_byte(0), None);
        assert_eq!(FragmentType::from_byte(5), None);
    }

    #[test]
    fn segment_names_sort_numerically_and_parse_back() {
        assert_eq!(segment_file_name(7), "00000000000000000007.wal");
        assert!(segment_file_name(9) < segment_file_name(10));
        assert_eq!(
            parse_segment_file_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        for bad in [
            "7.wal",
            "0000000000000000000x.wal",
            "00000000000000000007.log",
            "LOCK",
        ] {
            assert_eq!(parse_segment_file_name(bad), None, "{bad}");
        }
    }
}
