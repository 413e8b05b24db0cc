//! The data-block half of [`SstReader::verify`](crate::SstReader::verify):
//! everything that cannot be checked without reading every data block.

use std::cmp::Ordering;

use crate::error::Error;
use crate::format::Compression;
use crate::key::{self, ParsedKey, ValueKind};
use crate::properties::Properties;
use crate::reader::SstReader;

/// Reads every data block and checks its keys against the index and the
/// totals against the properties.
pub(crate) fn data_blocks(reader: &SstReader) -> Result<(), Error> {
    let path = reader.path();
    let mut seen = Properties::default();
    let index = reader.index();
    let (mut raw_size, mut compressed) = (0u64, 0u64);
    for i in 0..index.len() {
        let (handle, separator) = (index.handle(i), index.separator(i));
        let (block, codec) = reader.table().read_data_block(handle)?;
        raw_size += block.as_bytes().len() as u64;
        compressed += u64::from(codec != Compression::None);
        let corrupt = |what: &str| Error::corruption(path, handle.offset, what);
        if block.is_empty() {
            return Err(corrupt("empty data block"));
        }
        let mut it = block.iter();
        it.seek_to_first();
        if let Some(prev) = i.checked_sub(1).map(|p| index.separator(p))
            && key::compare(it.key(), prev) != Ordering::Greater
        {
            return Err(corrupt(
                "first key is not after the previous block's separator",
            ));
        }
        let mut last = Vec::new();
        while it.valid() {
            let parsed = ParsedKey::parse(it.key()).ok_or_else(|| corrupt("malformed key"))?;
            if parsed.kind == ValueKind::RangeDelete {
                return Err(corrupt("range deletion stored in a data block"));
            }
            seen.count_entry(&parsed, it.key().len(), it.value().len());
            last.clear();
            last.extend_from_slice(it.key());
            it.next();
        }
        if key::compare(&last, separator) == Ordering::Greater {
            return Err(corrupt("last key is after the block's index separator"));
        }
    }
    for t in reader.range_tombstones() {
        seen.note_seqno(t.seqno);
    }
    let stored = reader.properties();
    let at = reader.footer().index.offset;
    let mismatch = |what, expected, found| Error::PropertyMismatch {
        file: path.to_path_buf(),
        offset: at,
        what,
        expected,
        found,
    };
    if raw_size != stored.raw_data_size {
        return Err(mismatch(
            "the raw size of the data blocks",
            stored.raw_data_size,
            raw_size,
        ));
    }
    if compressed != stored.num_compressed_blocks {
        return Err(mismatch(
            "the number of compressed data blocks",
            stored.num_compressed_blocks,
            compressed,
        ));
    }
    let totals = |p: &Properties| {
        (
            p.num_entries,
            p.num_deletions,
            p.num_merge_operands,
            p.raw_key_size,
            p.raw_value_size,
            p.min_user_key.clone(),
            p.max_user_key.clone(),
            p.min_seqno,
            p.max_seqno,
        )
    };
    if totals(&seen) != totals(stored) {
        let what = format!(
            "data blocks hold {} entries ({} deletions, keys {:?}..{:?}); properties say {} ({}, {:?}..{:?})",
            seen.num_entries,
            seen.num_deletions,
            seen.min_user_key.as_deref().map(<[u8]>::escape_ascii),
            seen.max_user_key.as_deref().map(<[u8]>::escape_ascii),
            stored.num_entries,
            stored.num_deletions,
            stored.min_user_key.as_deref().map(<[u8]>::escape_ascii),
            stored.max_user_key.as_deref().map(<[u8]>::escape_ascii),
        );
        return Err(Error::corruption(path, reader.footer().index.offset, what));
    }
    Ok(())
}
