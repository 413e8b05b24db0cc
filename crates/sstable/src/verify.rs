//! The data-block half of [`SstReader::verify`](crate::SstReader::verify):
//! everything that cannot be checked without reading every data block.

use std::cmp::Ordering;

use crate::error::Error;
use crate::key::{self, ParsedKey, ValueKind};
use crate::properties::Properties;
use crate::reader::{CacheUse, SstReader};

/// Reads every data block and checks its keys against the index and the
/// totals against the properties.
pub(crate) fn data_blocks(reader: &SstReader) -> Result<(), Error> {
    let path = reader.path();
    let mut seen = Properties::default();
    let index = reader.index();
    for i in 0..index.len() {
        let (handle, separator) = (index.handle(i), index.separator(i));
        let block = reader.read_data_block(handle, CacheUse::Bypass)?;
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
    let totals = |p: &Properties| {
        (
            p.num_entries,
            p.num_deletions,
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
