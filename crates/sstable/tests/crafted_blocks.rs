//! Version-2 data blocks crafted to attack the decompressors: a valid
//! checksum over a claim of a 4 GiB block, over a codec byte no version
//! assigns, over garbage. Each is a typed corruption error naming the
//! table and the block's offset, and nothing allocates beyond the
//! format's block limit, nor far beyond what the payload could expand to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{codecs, open_bytes, small_table_bytes_with};
use lsmkit_block::format::{checksum, put_fixed64, put_varint32};
use lsmkit_sstable::format::MAX_COMPRESSED_RAW_LEN;
use lsmkit_sstable::{Compression, Error, MAX_SEQNO};

/// Counts the largest single allocation.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// The small table with its first data block replaced, in place and at
/// the same length, by `payload` (padded with `pad`) sealed with `codec`
/// under a valid checksum.
fn with_first_block(codec_byte: u8, payload: &[u8], pad: u8) -> (Vec<u8>, u64) {
    let mut table = small_table_bytes_with(Compression::None);
    let reader = open_bytes(&table, true).unwrap();
    let first = common::block_handles(&table)[0];
    assert_eq!(first.offset, 0);
    drop(reader);
    let len = first.size as usize;
    let mut block = payload.to_vec();
    assert!(block.len() + 9 <= len);
    block.resize(len - 9, pad);
    block.push(codec_byte);
    let sum = checksum(&block);
    put_fixed64(&mut block, sum);
    table[..len].copy_from_slice(&block);
    (table, first.offset)
}

/// Reads the first block every way and returns the error.
fn first_block_error(table: &[u8]) -> Error {
    let reader = open_bytes(table, true).expect("meta blocks are intact");
    let lookup = reader.get(b"key000", MAX_SEQNO).unwrap_err();
    let verify = reader.verify().unwrap_err();
    assert_eq!(lookup.to_string(), verify.to_string());
    lookup
}

fn raw_len(claim: u32) -> Vec<u8> {
    let mut p = Vec::new();
    put_varint32(&mut p, claim);
    p
}

#[test]
fn a_claimed_4_gib_block_is_refused_before_any_allocation() {
    for codec in [Compression::Lz4, Compression::Zstd] {
        for claim in [u32::MAX, MAX_COMPRESSED_RAW_LEN as u32 + 1] {
            let (table, at) = with_first_block(codec as u8, &raw_len(claim), 0);
            LARGEST.store(0, Ordering::Relaxed);
            let err = first_block_error(&table);
            assert!(LARGEST.load(Ordering::Relaxed) < 1 << 20);
            assert!(err.is_corruption(), "{err}");
            assert!(
                matches!(&err, Error::Corruption { offset, file, .. }
                    if *offset == at && file.ends_with("fuzz.sst")),
                "{err}"
            );
            assert!(err.to_string().contains("raw length"), "{err}");
        }
    }
}

#[cfg(feature = "lz4")]
#[test]
fn a_claim_the_payload_cannot_back_is_refused_before_allocating_it() {
    // 64 MiB from a 200-byte LZ4 payload is past LZ4's 255:1 limit.
    let (table, _) = with_first_block(Compression::Lz4 as u8, &raw_len(64 << 20), 0);
    LARGEST.store(0, Ordering::Relaxed);
    let err = first_block_error(&table);
    assert!(LARGEST.load(Ordering::Relaxed) < 1 << 20);
    assert!(err.is_corruption(), "{err}");
}

#[test]
fn codec_byte_255_is_a_corruption_naming_the_trailer() {
    let (table, _) = with_first_block(255, b"", 7);
    let err = first_block_error(&table);
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains("unknown codec byte 255"), "{err}");
}

#[test]
fn a_valid_checksum_over_garbage_is_a_corruption_for_every_codec() {
    for codec in codecs() {
        for pad in [0u8, 0xff, 0x5a] {
            let (table, at) = with_first_block(codec as u8, &raw_len(4096), pad);
            let err = first_block_error(&table);
            assert!(err.is_corruption(), "{codec:?}: {err}");
            let names_block = match &err {
                Error::Corruption { offset, .. } | Error::Block { offset, .. } => *offset == at,
                _ => false,
            };
            assert!(names_block, "{codec:?}: {err}");
        }
    }
}

#[test]
fn a_codec_this_build_lacks_is_named_not_called_corrupt() {
    for codec in [Compression::Lz4, Compression::Zstd] {
        if common::codecs().contains(&codec) {
            continue;
        }
        let (table, at) = with_first_block(codec as u8, &raw_len(4096), 0);
        let err = first_block_error(&table);
        assert!(
            matches!(err, Error::CodecUnavailable { offset, codec: c, .. } if offset == at && c == codec),
            "{err}"
        );
        assert!(!err.is_corruption());
    }
}
