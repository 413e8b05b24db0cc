//! Damaged, truncated, crafted and random bytes: always a corruption error
//! naming what and where, or (for crafted bytes that happen to be a valid
//! block) a block that iterates consistently. Never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Entries, build, build_bytes, check_consistent, raw_entry, reseal, restarts, seal};
use lsmkit_block::format::{self, FORMAT_V1, TRAILER_LEN};
use lsmkit_block::{Block, Bytewise, Corruption, Error};
use proptest::prelude::*;

fn sample_entries() -> Entries {
    (0..60u32)
        .map(|i| {
            (
                format!("user{:05}", i * 7).into_bytes(),
                vec![i as u8; (i % 9) as usize],
            )
        })
        .collect()
}

fn sample_block() -> Vec<u8> {
    build_bytes(sample_entries().iter().map(|(k, v)| (&k[..], &v[..])), 4)
}

/// The corruption an opening of `bytes` must fail with.
fn corruption(bytes: Vec<u8>) -> (Corruption, u64) {
    match Block::new(bytes, Bytewise) {
        Err(Error::Corruption { what, offset }) => (what, offset),
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    let good = sample_block();
    Block::new(good.clone(), Bytewise).unwrap();
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[byte] ^= 1 << bit;
            let err = Block::new(bad, Bytewise).unwrap_err();
            assert!(err.is_corruption(), "flip {byte}.{bit}: {err}");
        }
    }
}

#[test]
fn every_truncation_is_detected() {
    let good = sample_block();
    for len in 0..good.len() {
        let err = Block::new(&good[..len], Bytewise).unwrap_err();
        assert!(err.is_corruption(), "truncated to {len}: {err}");
    }
}

#[test]
fn too_short_names_the_minimum() {
    assert_eq!(
        corruption(vec![0; 5]),
        (
            Corruption::TooShort {
                len: 5,
                min: TRAILER_LEN as u64
            },
            0
        )
    );
}

#[test]
fn unknown_format_byte_is_reported_at_its_offset() {
    let mut bytes = sample_block();
    let at = bytes.len() - 9;
    bytes[at] = 2;
    assert_eq!(
        corruption(bytes),
        (
            Corruption::UnknownFormat {
                expected: FORMAT_V1,
                found: 2
            },
            at as u64
        )
    );
}

#[test]
fn checksum_mismatch_reports_stored_and_computed() {
    let mut bytes = sample_block();
    bytes[0] ^= 0x40;
    let len = bytes.len();
    let stored = format::get_fixed64(&bytes, len - 8).unwrap();
    let computed = format::checksum(&bytes[..len - 8]);
    assert_eq!(
        corruption(bytes),
        (
            Corruption::ChecksumMismatch { stored, computed },
            (len - 8) as u64
        )
    );
}

#[test]
fn error_message_says_what_and_where() {
    let mut bytes = sample_block();
    let at = bytes.len() - 9;
    bytes[at] = 7;
    let msg = Block::new(bytes, Bytewise).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!("corrupt block at byte {at}: unknown format byte 7 (expected 1)")
    );
}

// Crafted blocks: the checksum is valid, the contents are not.

#[test]
fn restart_count_larger_than_the_block() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"a", b"");
    format::put_fixed32(&mut p, 0);
    format::put_fixed32(&mut p, 1000);
    assert_eq!(
        corruption(seal(p)),
        (
            Corruption::RestartCount {
                count: 1000,
                needed: 4000,
                available: 8
            },
            8
        )
    );
}

#[test]
fn restart_count_of_u32_max_does_not_overflow() {
    let mut p = Vec::new();
    format::put_fixed32(&mut p, u32::MAX);
    let (what, _) = corruption(seal(p));
    assert!(matches!(what, Corruption::RestartCount { count, .. } if count == u64::from(u32::MAX)));
}

#[test]
fn entries_without_restarts() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"a", b"");
    restarts(&mut p, &[]);
    assert_eq!(
        corruption(seal(p)),
        (Corruption::FirstRestart { found: None }, 4)
    );
}

#[test]
fn first_restart_not_at_zero() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"a", b"");
    raw_entry(&mut p, 0, b"b", b"");
    restarts(&mut p, &[4]);
    assert_eq!(
        corruption(seal(p)),
        (Corruption::FirstRestart { found: Some(4) }, 8)
    );
}

#[test]
fn restarts_without_entries() {
    let mut p = Vec::new();
    restarts(&mut p, &[0]);
    assert_eq!(
        corruption(seal(p)),
        (
            Corruption::RestartMisplaced {
                index: 0,
                found: 0,
                expected: 0
            },
            0
        )
    );
}

#[test]
fn restart_inside_an_entry() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"aa", b"xy"); // 0..7
    raw_entry(&mut p, 0, b"ab", b""); // 7..12
    restarts(&mut p, &[0, 5]);
    assert_eq!(
        corruption(seal(p)),
        (
            Corruption::RestartMisplaced {
                index: 1,
                found: 5,
                expected: 7
            },
            16
        )
    );
}

#[test]
fn restart_past_the_entries() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"a", b""); // 0..4
    restarts(&mut p, &[0, 4]);
    assert_eq!(
        corruption(seal(p)),
        (
            Corruption::RestartMisplaced {
                index: 1,
                found: 4,
                expected: 4
            },
            8
        )
    );
}

#[test]
fn restarts_not_increasing() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"a", b""); // 0..4
    raw_entry(&mut p, 0, b"b", b""); // 4..8
    raw_entry(&mut p, 0, b"c", b""); // 8..12
    restarts(&mut p, &[0, 8, 4]);
    assert_eq!(
        corruption(seal(p)),
        (
            Corruption::RestartMisplaced {
                index: 2,
                found: 4,
                expected: 12
            },
            20
        )
    );
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"a", b"");
    raw_entry(&mut p, 0, b"b", b"");
    restarts(&mut p, &[0, 0]);
    assert_eq!(
        corruption(seal(p)),
        (
            Corruption::RestartMisplaced {
                index: 1,
                found: 0,
                expected: 4
            },
            12
        )
    );
}

#[test]
fn restart_entry_that_shares_a_prefix() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"ab", b""); // 0..5
    raw_entry(&mut p, 1, b"c", b""); // 5..9, key "ac"
    restarts(&mut p, &[0, 5]);
    assert_eq!(
        corruption(seal(p)),
        (Corruption::RestartShared { shared: 1 }, 5)
    );
}

#[test]
fn shared_longer_than_the_previous_key() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"ab", b""); // 0..5
    raw_entry(&mut p, 3, b"c", b""); // 5..9
    restarts(&mut p, &[0]);
    assert_eq!(
        corruption(seal(p)),
        (
            Corruption::SharedTooLong {
                shared: 3,
                previous: 2
            },
            5
        )
    );
}

#[test]
fn entry_running_past_the_entry_region() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"a", b"value"); // 0..9
    p.truncate(8); // value cut short; the restart array follows
    restarts(&mut p, &[0]);
    assert_eq!(
        corruption(seal(p)),
        (
            Corruption::EntryOverrun {
                needed: 6,
                available: 5
            },
            3
        )
    );
}

#[test]
fn adversarial_lengths_are_refused_before_any_allocation() {
    // Lengths of 4 GiB - 1 claimed by a 20-byte entry.
    let mut p = Vec::new();
    format::put_varint32(&mut p, 0);
    format::put_varint32(&mut p, u32::MAX);
    format::put_varint32(&mut p, u32::MAX);
    p.extend_from_slice(b"tiny");
    restarts(&mut p, &[0]);
    let (what, offset) = corruption(seal(p));
    assert_eq!(offset, 11);
    assert_eq!(
        what,
        Corruption::EntryOverrun {
            needed: 2 * u64::from(u32::MAX),
            available: 4
        }
    );
}

#[test]
fn overflowing_varint_in_an_entry_header() {
    let mut p = vec![0, 0xff, 0xff, 0xff, 0xff, 0x7f, 0];
    restarts(&mut p, &[0]);
    assert_eq!(corruption(seal(p)), (Corruption::BadVarint, 1));
}

#[test]
fn header_cut_off_by_the_restart_array() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"a", b""); // 0..4
    p.push(0); // a lone byte where the next entry's header would be
    restarts(&mut p, &[0]);
    assert_eq!(corruption(seal(p)), (Corruption::BadVarint, 5));
}

#[test]
fn duplicate_and_descending_keys() {
    for (second, what) in [(&b"b"[..], "duplicate"), (b"a", "descending")] {
        let mut p = Vec::new();
        raw_entry(&mut p, 0, b"b", b"");
        raw_entry(&mut p, 0, second, b"");
        restarts(&mut p, &[0]);
        assert_eq!(
            corruption(seal(p)),
            (Corruption::KeysOutOfOrder { entry: 1 }, 4),
            "{what}"
        );
    }
}

#[test]
fn empty_key_after_the_first_entry() {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"", b"");
    raw_entry(&mut p, 0, b"", b"");
    restarts(&mut p, &[0]);
    assert_eq!(
        corruption(seal(p)),
        (Corruption::KeysOutOfOrder { entry: 1 }, 3)
    );
}

#[test]
fn hand_built_block_matches_the_builder() {
    // The format as documented, written out by hand: the builder must
    // produce exactly these bytes.
    let mut p = Vec::new();
    raw_entry(&mut p, 0, b"apple", b"1");
    raw_entry(&mut p, 2, b"ricot", b"22");
    raw_entry(&mut p, 0, b"banana", b"");
    restarts(&mut p, &[0, 9 + 10]);
    let pairs: [(&[u8], &[u8]); 3] = [(b"apple", b"1"), (b"apricot", b"22"), (b"banana", b"")];
    assert_eq!(build_bytes(pairs, 2), seal(p));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(block) = Block::new(bytes, Bytewise) {
            check_consistent(&block);
        }
    }

    /// Random payloads with a valid trailer get past the checksum, so the
    /// structural checks are what stands between them and the iterator.
    #[test]
    fn random_sealed_payloads_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..120),
        offsets in proptest::collection::vec(0u32..130, 0..6),
    ) {
        let mut p = data;
        restarts(&mut p, &offsets);
        if let Ok(block) = Block::new(seal(p), Bytewise) {
            check_consistent(&block);
        }
    }

    /// A valid block with bytes overwritten and the checksum fixed up
    /// either fails to open or iterates consistently.
    #[test]
    fn edited_and_resealed_blocks_are_refused_or_consistent(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        interval in 1usize..6,
    ) {
        let e: Entries = sample_entries().into_iter().take(20).collect();
        let mut bytes = build(&e, interval).as_bytes().to_vec();
        let editable = bytes.len() - 9;
        for (at, byte) in edits {
            bytes[at.index(editable)] = byte;
        }
        match Block::new(reseal(bytes), Bytewise) {
            Ok(block) => check_consistent(&block),
            Err(err) => prop_assert!(err.is_corruption()),
        }
    }

    #[test]
    fn random_bit_flips_in_random_blocks_are_detected(
        model in proptest::collection::btree_map(
            proptest::collection::vec(any::<u8>(), 0..20),
            proptest::collection::vec(any::<u8>(), 0..20),
            1..50,
        ),
        interval in 1usize..20,
        bit in any::<prop::sample::Index>(),
    ) {
        let e: Entries = model.into_iter().collect();
        let mut bytes = build(&e, interval).as_bytes().to_vec();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(Block::new(bytes, Bytewise).unwrap_err().is_corruption());
    }
}
