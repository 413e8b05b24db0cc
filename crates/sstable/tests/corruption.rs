//! Damaged and crafted tables: every bit flip and every truncation is
//! detected, specific damage gets its specific typed error, and mutated
//! tables (checksums repaired, so that structural checks are reached)
//! never make the reader panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Mutation, block_handles, codecs, exercise, fix_checksum, mutate, open_bytes, small_table_bytes,
    small_table_bytes_with,
};
use lsmkit_block::format::checksum;
use lsmkit_block::{Block, BlockBuilder, BlockOptions, Bytewise};
use lsmkit_sstable::Error;
use lsmkit_sstable::format::{FOOTER_CHECKSUM_AT, FOOTER_LEN, FOOTER_VERSION_AT, META_PROPERTIES};
use proptest::prelude::*;

/// How a damaged table was caught.
#[derive(Debug, PartialEq, Eq)]
enum Caught {
    OnOpen,
    OnVerify,
}

fn catch(bytes: &[u8]) -> Option<Caught> {
    match open_bytes(bytes, true) {
        Err(e) => {
            assert!(
                e.is_corruption() || matches!(e, Error::UnsupportedVersion { .. }),
                "{e}"
            );
            Some(Caught::OnOpen)
        }
        Ok(table) => table.verify().err().map(|e| {
            assert!(e.is_corruption(), "{e}");
            Caught::OnVerify
        }),
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    for codec in codecs() {
        every_single_bit_flip_of(small_table_bytes_with(codec));
    }
    let v1 = common::table_bytes(
        &common::small_model(),
        common::small_options().format_version(lsmkit_sstable::FormatVersion::V1),
    );
    every_single_bit_flip_of(v1);
}

fn every_single_bit_flip_of(table: Vec<u8>) {
    assert!(table.len() > 1000, "{}", table.len());
    let (mut on_open, mut on_verify) = (0, 0);
    for bit in 0..table.len() * 8 {
        let mut damaged = table.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        match catch(&damaged) {
            Some(Caught::OnOpen) => on_open += 1,
            Some(Caught::OnVerify) => on_verify += 1,
            None => panic!(
                "flip of bit {} of byte {} went undetected",
                bit % 8,
                bit / 8
            ),
        }
    }
    // Data blocks are read lazily, so their damage shows on verify.
    assert!(on_open > 0 && on_verify > 0, "{on_open} {on_verify}");
}

#[test]
fn every_truncation_is_detected_on_open() {
    for codec in codecs() {
        every_truncation_of(small_table_bytes_with(codec));
    }
}

fn every_truncation_of(table: Vec<u8>) {
    for len in 0..table.len() {
        let err = open_bytes(&table[..len], len % 2 == 0).unwrap_err();
        assert!(err.is_corruption(), "length {len}: {err}");
        if len < FOOTER_LEN {
            assert!(matches!(err, Error::TooShort { .. }), "{err}");
        }
    }
}

#[test]
fn not_a_table_is_bad_magic_at_the_footer() {
    let bytes = vec![0x55; 4096];
    match open_bytes(&bytes, true).unwrap_err() {
        Error::BadMagic {
            offset,
            found,
            file,
        } => {
            assert_eq!(offset, 4096 - 8);
            assert_eq!(found, 0x5555_5555_5555_5555);
            assert_eq!(file, std::path::Path::new("/fuzz.sst"));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_newer_version_is_refused_as_such() {
    let mut table = small_table_bytes();
    let at = table.len() - FOOTER_LEN + FOOTER_VERSION_AT;
    table[at..at + 4].copy_from_slice(&3u32.to_le_bytes());
    fix_checksum(&mut table, &[], at);
    let err = open_bytes(&table, true).unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedVersion { found: 3, newest: 2, offset, .. } if offset == at as u64),
        "{err}"
    );
    assert!(!err.is_corruption());
}

/// Rewrites the footer's index handle (keeping the footer checksum valid).
fn with_index_handle(mut table: Vec<u8>, offset: u64, size: u64) -> Vec<u8> {
    let at = table.len() - FOOTER_LEN;
    table[at + 16..at + 24].copy_from_slice(&offset.to_le_bytes());
    table[at + 24..at + 32].copy_from_slice(&size.to_le_bytes());
    let sum = checksum(&table[at..at + FOOTER_CHECKSUM_AT]);
    table[at + FOOTER_CHECKSUM_AT..at + FOOTER_CHECKSUM_AT + 8].copy_from_slice(&sum.to_le_bytes());
    table
}

#[test]
fn handles_outside_the_file_are_refused_before_any_read() {
    let table = small_table_bytes();
    for (offset, size) in [
        (0, u64::MAX),
        (u64::MAX, 2),
        (1 << 40, 10),
        (0, table.len() as u64),
    ] {
        let err = open_bytes(&with_index_handle(table.clone(), offset, size), false).unwrap_err();
        assert!(
            matches!(err, Error::BadHandle { what: "index", handle_offset, handle_size, .. }
                if handle_offset == offset && handle_size == size),
            "{err}"
        );
    }
    // Inside the file but not where the index is: caught by the block
    // checks or the tiling check.
    let err = open_bytes(&with_index_handle(table, 0, 100), false).unwrap_err();
    assert!(err.is_corruption(), "{err}");
}

/// `table` with property `name` set to `value`, which must keep the
/// properties block's length: the block is rebuilt in place, its checksum
/// right.
fn with_property(mut table: Vec<u8>, name: &[u8], value: &[u8]) -> Vec<u8> {
    let handles = block_handles(&table);
    // Find the properties block through the metaindex.
    let footer_at = table.len() - FOOTER_LEN;
    let meta_at = u64::from_le_bytes(table[footer_at..footer_at + 8].try_into().unwrap()) as usize;
    let meta_len =
        u64::from_le_bytes(table[footer_at + 8..footer_at + 16].try_into().unwrap()) as usize;
    let meta = Block::new(table[meta_at..meta_at + meta_len].to_vec(), Bytewise).unwrap();
    let mut it = meta.iter();
    it.seek(META_PROPERTIES);
    let h = lsmkit_sstable::BlockHandle::decode(it.value()).unwrap();
    assert!(handles.contains(&h));
    let range = h.offset as usize..(h.offset + h.size) as usize;
    let props = Block::new(table[range.clone()].to_vec(), Bytewise).unwrap();
    let mut b = BlockBuilder::with_options(
        Bytewise,
        BlockOptions {
            restart_interval: 16,
            target_size: 0,
        },
    );
    let mut it = props.iter();
    it.seek_to_first();
    while it.valid() {
        let v = if it.key() == name { value } else { it.value() };
        b.add(it.key(), v).unwrap();
        it.next();
    }
    let rebuilt = b.finish().to_vec();
    assert_eq!(rebuilt.len(), range.len());
    table[range].copy_from_slice(&rebuilt);
    table
}

#[test]
fn a_table_of_another_key_order_is_refused() {
    // Another comparator name of the same length.
    let table = with_property(
        small_table_bytes(),
        b"lsmkit.comparator",
        b"lsmkit.internal.reversed",
    );
    let err = open_bytes(&table, true).unwrap_err();
    assert!(
        matches!(&err, Error::ComparatorMismatch { found, expected: "lsmkit.internal.bytewise", .. }
            if found == "lsmkit.internal.reversed"),
        "{err}"
    );
}

#[test]
fn properties_that_miscount_the_data_blocks_are_named_with_both_counts() {
    let table = small_table_bytes();
    let blocks = open_bytes(&table, true)
        .unwrap()
        .properties()
        .num_data_blocks;
    assert!((2..127).contains(&blocks), "one varint byte either way");
    let wrong = with_property(table, b"lsmkit.num_data_blocks", &[blocks as u8 + 1]);
    let err = open_bytes(&wrong, false).unwrap_err();
    assert!(err.is_corruption());
    assert!(
        matches!(err, Error::PropertyMismatch { what: "the number of data blocks", expected, found, .. }
            if expected == blocks + 1 && found == blocks),
        "{err}"
    );
    assert!(err.to_string().contains("/fuzz.sst"), "{err}");
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetRepaired { at, byte }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        1 => any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        1 => (any::<usize>(), any::<usize>(), 1..64usize)
            .prop_map(|(from, to, len)| Mutation::Splice { from, to, len }),
    ]
}

proptest! {
    #[test]
    fn mutated_tables_never_panic_the_reader(ms in proptest::collection::vec(mutation(), 1..4),
                                             mapped in any::<bool>(),
                                             codec in proptest::sample::select(codecs())) {
        let table = small_table_bytes_with(codec);
        let handles = block_handles(&table);
        let bytes = mutate(&table, &handles, &ms);
        // Any outcome but a panic is acceptable, and an error must say the
        // bytes are at fault: damage is never an I/O error or a misuse.
        if let Err(e) = exercise(&bytes, mapped) {
            prop_assert!(
                e.is_corruption()
                    || matches!(e, Error::UnsupportedVersion { .. } | Error::ComparatorMismatch { .. }),
                "{e}"
            );
        }
    }
}

#[test]
fn the_unmutated_table_exercises_cleanly() {
    for codec in codecs() {
        exercise(&small_table_bytes_with(codec), true).unwrap();
        exercise(&small_table_bytes_with(codec), false).unwrap();
    }
}
