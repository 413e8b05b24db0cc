//! [`Properties`]: what a table says about itself, stored in its
//! properties block.

use std::collections::BTreeMap;

use lsmkit_block::format::put_varint64;

use crate::format::{Compression, FormatVersion, decode_u64, prop};
use crate::key::{ParsedKey, SeqNo, ValueKind};

/// Facts about a table, computed by the writer and stored in the table's
/// properties block. Sizes are in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Properties {
    /// The table's format version.
    pub format_version: u32,
    /// The name of the key order the table was written under.
    pub comparator: String,
    /// Seconds since the Unix epoch when the table was written.
    pub creation_time: u64,
    /// Point entries: values, merge operands and point tombstones.
    pub num_entries: u64,
    /// Point tombstones among the entries.
    pub num_deletions: u64,
    /// Merge operands among the entries (0 in tables written before
    /// merges existed).
    pub num_merge_operands: u64,
    /// Range tombstones.
    pub num_range_tombstones: u64,
    /// Data blocks.
    pub num_data_blocks: u64,
    /// Smallest user key of a point entry, `None` if there is none.
    pub min_user_key: Option<Vec<u8>>,
    /// Largest user key of a point entry, `None` if there is none.
    pub max_user_key: Option<Vec<u8>>,
    /// Smallest sequence number of an entry or range tombstone.
    pub min_seqno: Option<SeqNo>,
    /// Largest sequence number of an entry or range tombstone.
    pub max_seqno: Option<SeqNo>,
    /// Sum of the entries' internal key lengths.
    pub raw_key_size: u64,
    /// Sum of the entries' value lengths.
    pub raw_value_size: u64,
    /// Bytes of all data blocks as stored (compressed or not, with their
    /// envelopes).
    pub data_size: u64,
    /// Bytes of all data blocks as blocks, before compression: what they
    /// take in a block cache. Equal to `data_size` in version 1 tables.
    pub raw_data_size: u64,
    /// The codec the writer compressed data blocks with
    /// ([`Compression::None`] in version 1 tables). Blocks that would not
    /// shrink enough are stored raw whatever it says.
    pub compression: Compression,
    /// Data blocks stored compressed (0 in version 1 tables).
    pub num_compressed_blocks: u64,
    /// Bytes of the index block.
    pub index_size: u64,
    /// Bytes of the filter block (0 when there is none).
    pub filter_size: u64,
    /// Bits per key of the filter (0 when there is none).
    pub filter_bits_per_key: u64,
    /// Properties set by the caller, by name.
    pub user: BTreeMap<String, Vec<u8>>,
}

impl Properties {
    /// Counts one point entry into the totals (entries, deletions, sizes,
    /// key and sequence number ranges). Entries arrive in key order.
    pub(crate) fn count_entry(&mut self, parsed: &ParsedKey<'_>, key_len: usize, value_len: usize) {
        self.num_entries += 1;
        match parsed.kind {
            ValueKind::Delete => self.num_deletions += 1,
            ValueKind::Merge => self.num_merge_operands += 1,
            _ => {}
        }
        self.raw_key_size += key_len as u64;
        self.raw_value_size += value_len as u64;
        if self.min_user_key.is_none() {
            self.min_user_key = Some(parsed.user_key.to_vec());
        }
        let max = self.max_user_key.get_or_insert_with(Vec::new);
        if max.as_slice() != parsed.user_key {
            max.clear();
            max.extend_from_slice(parsed.user_key);
        }
        self.note_seqno(parsed.seqno);
    }

    /// Widens the sequence number range to include `seqno`.
    pub(crate) fn note_seqno(&mut self, seqno: SeqNo) {
        self.min_seqno = Some(self.min_seqno.map_or(seqno, |m| m.min(seqno)));
        self.max_seqno = Some(self.max_seqno.map_or(seqno, |m| m.max(seqno)));
    }

    /// The entries of the properties block, sorted by name.
    pub(crate) fn encode(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut num = |name: &[u8], v: u64| {
            let mut value = Vec::new();
            put_varint64(&mut value, v);
            out.insert(name.to_vec(), value);
        };
        num(prop::CREATION_TIME, self.creation_time);
        num(prop::DATA_SIZE, self.data_size);
        num(prop::FILTER_BITS_PER_KEY, self.filter_bits_per_key);
        num(prop::FILTER_SIZE, self.filter_size);
        num(prop::FORMAT_VERSION, u64::from(self.format_version));
        num(prop::INDEX_SIZE, self.index_size);
        num(prop::NUM_DATA_BLOCKS, self.num_data_blocks);
        num(prop::NUM_DELETIONS, self.num_deletions);
        if self.num_merge_operands > 0 {
            num(prop::NUM_MERGE_OPERANDS, self.num_merge_operands);
        }
        num(prop::NUM_ENTRIES, self.num_entries);
        num(prop::NUM_RANGE_TOMBSTONES, self.num_range_tombstones);
        num(prop::RAW_KEY_SIZE, self.raw_key_size);
        num(prop::RAW_VALUE_SIZE, self.raw_value_size);
        if self.format_version >= FormatVersion::V2 as u32 {
            num(prop::RAW_DATA_SIZE, self.raw_data_size);
            num(prop::NUM_COMPRESSED_BLOCKS, self.num_compressed_blocks);
        }
        if let Some(v) = self.min_seqno {
            num(prop::MIN_SEQNO, v);
        }
        if let Some(v) = self.max_seqno {
            num(prop::MAX_SEQNO, v);
        }
        out.insert(
            prop::COMPARATOR.to_vec(),
            self.comparator.as_bytes().to_vec(),
        );
        if self.format_version >= FormatVersion::V2 as u32 {
            out.insert(
                prop::COMPRESSION.to_vec(),
                self.compression.name().as_bytes().to_vec(),
            );
        }
        if let Some(k) = &self.min_user_key {
            out.insert(prop::MIN_USER_KEY.to_vec(), k.clone());
        }
        if let Some(k) = &self.max_user_key {
            out.insert(prop::MAX_USER_KEY.to_vec(), k.clone());
        }
        for (name, value) in &self.user {
            let mut key = prop::USER_PREFIX.to_vec();
            key.extend_from_slice(name.as_bytes());
            out.insert(key, value.clone());
        }
        out
    }

    /// Decodes the entries of a properties block. Unknown `lsmkit.` names
    /// are ignored; the error says what is missing or malformed.
    pub(crate) fn decode<'a>(
        entries: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<Properties, String> {
        let mut found: BTreeMap<&[u8], &[u8]> = BTreeMap::new();
        let mut p = Properties::default();
        for (name, value) in entries {
            if let Some(user) = name.strip_prefix(prop::USER_PREFIX) {
                let user = String::from_utf8(user.to_vec())
                    .map_err(|_| "user property name is not UTF-8".to_string())?;
                p.user.insert(user, value.to_vec());
            } else {
                found.insert(name, value);
            }
        }
        let raw = |name: &[u8]| found.get(name).copied();
        let optional = |name: &[u8]| -> Result<Option<u64>, String> {
            raw(name)
                .map(|v| decode_u64(v).ok_or_else(|| bad(name)))
                .transpose()
        };
        let required = |name: &[u8]| optional(name)?.ok_or_else(|| missing(name));

        let comparator = raw(prop::COMPARATOR).ok_or_else(|| missing(prop::COMPARATOR))?;
        p.comparator = String::from_utf8(comparator.to_vec()).map_err(|_| bad(prop::COMPARATOR))?;
        p.format_version = u32::try_from(required(prop::FORMAT_VERSION)?)
            .map_err(|_| bad(prop::FORMAT_VERSION))?;
        p.creation_time = required(prop::CREATION_TIME)?;
        p.num_entries = required(prop::NUM_ENTRIES)?;
        p.num_deletions = required(prop::NUM_DELETIONS)?;
        p.num_merge_operands = optional(prop::NUM_MERGE_OPERANDS)?.unwrap_or(0);
        p.num_range_tombstones = required(prop::NUM_RANGE_TOMBSTONES)?;
        p.num_data_blocks = required(prop::NUM_DATA_BLOCKS)?;
        p.raw_key_size = required(prop::RAW_KEY_SIZE)?;
        p.raw_value_size = required(prop::RAW_VALUE_SIZE)?;
        p.data_size = required(prop::DATA_SIZE)?;
        p.index_size = required(prop::INDEX_SIZE)?;
        p.filter_size = required(prop::FILTER_SIZE)?;
        p.filter_bits_per_key = required(prop::FILTER_BITS_PER_KEY)?;
        if p.format_version >= FormatVersion::V2 as u32 {
            p.raw_data_size = required(prop::RAW_DATA_SIZE)?;
            p.num_compressed_blocks = required(prop::NUM_COMPRESSED_BLOCKS)?;
            let name = raw(prop::COMPRESSION).ok_or_else(|| missing(prop::COMPRESSION))?;
            p.compression = Compression::from_name(name).ok_or_else(|| bad(prop::COMPRESSION))?;
        } else {
            p.raw_data_size = p.data_size;
        }
        p.min_seqno = optional(prop::MIN_SEQNO)?;
        p.max_seqno = optional(prop::MAX_SEQNO)?;
        p.min_user_key = raw(prop::MIN_USER_KEY).map(<[u8]>::to_vec);
        p.max_user_key = raw(prop::MAX_USER_KEY).map(<[u8]>::to_vec);
        Ok(p)
    }
}

fn missing(name: &[u8]) -> String {
    format!("property {} is missing", name.escape_ascii())
}

fn bad(name: &[u8]) -> String {
    format!("property {} is malformed", name.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip() {
        let mut p = Properties {
            format_version: 1,
            comparator: "cmp".into(),
            creation_time: 1_700_000_000,
            num_entries: 3,
            min_user_key: Some(b"a".to_vec()),
            max_seqno: Some(9),
            ..Properties::default()
        };
        p.user.insert("origin".into(), b"test".to_vec());
        let encoded = p.encode();
        let decoded = Properties::decode(encoded.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
        assert_eq!(decoded, Ok(p));
    }

    #[test]
    fn version_2_properties_are_required_from_version_2() {
        let v2 = Properties {
            format_version: 2,
            data_size: 100,
            raw_data_size: 300,
            compression: Compression::Zstd,
            num_compressed_blocks: 4,
            ..Properties::default()
        };
        let encoded = v2.encode();
        let decode = |e: &BTreeMap<Vec<u8>, Vec<u8>>| {
            Properties::decode(e.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
        };
        assert_eq!(decode(&encoded), Ok(v2.clone()));
        for name in [
            prop::RAW_DATA_SIZE,
            prop::NUM_COMPRESSED_BLOCKS,
            prop::COMPRESSION,
        ] {
            let mut without = encoded.clone();
            without.remove(name);
            assert!(decode(&without).is_err(), "{}", name.escape_ascii());
        }
        let mut snappy = encoded.clone();
        snappy.insert(prop::COMPRESSION.to_vec(), b"snappy".to_vec());
        assert!(decode(&snappy).unwrap_err().contains("compression"));
        // Version 1 stores none of them; its raw size is its stored size.
        let v1 = Properties {
            format_version: 1,
            data_size: 100,
            ..Properties::default()
        };
        let encoded = v1.encode();
        assert!(!encoded.contains_key(prop::COMPRESSION));
        assert_eq!(decode(&encoded).unwrap().raw_data_size, 100);
    }

    #[test]
    fn missing_and_malformed_properties_are_named() {
        let p = Properties::default().encode();
        let without = p
            .iter()
            .filter(|(k, _)| k.as_slice() != prop::NUM_ENTRIES)
            .map(|(k, v)| (k.as_slice(), v.as_slice()));
        let err = Properties::decode(without).unwrap_err();
        assert!(err.contains("num_entries"), "{err}");
        let overlong = p.iter().map(|(k, v)| {
            let v: &[u8] = if k.as_slice() == prop::DATA_SIZE {
                &[0x80]
            } else {
                v
            };
            (k.as_slice(), v)
        });
        assert!(
            Properties::decode(overlong)
                .unwrap_err()
                .contains("data_size")
        );
    }
}
