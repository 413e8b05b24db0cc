//! Blocks at the edges of the format: sizes, prefixes, intervals, orders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cmp::Ordering;

use common::{Entries, backward, build, build_bytes, forward};
use lsmkit_block::{Block, BlockBuilder, Bytewise, Comparator, Corruption, Error};

fn entries(pairs: &[(&[u8], &[u8])]) -> Entries {
    pairs
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// `n` entries with keys `key000`, `key001`, ...
fn numbered(n: u32) -> Entries {
    (0..n)
        .map(|i| (format!("key{i:03}").into_bytes(), vec![i as u8]))
        .collect()
}

fn round_trips(e: &Entries, interval: usize) -> Block {
    let block = build(e, interval);
    assert_eq!(&forward(&block), e);
    let mut rev = backward(&block);
    rev.reverse();
    assert_eq!(&rev, e);
    let mut it = block.iter();
    for (k, v) in e {
        it.seek(k);
        assert!(it.valid());
        assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
    }
    block
}

#[test]
fn empty_block_has_no_entries_in_any_direction() {
    let bytes = BlockBuilder::new(Bytewise).into_bytes();
    assert_eq!(bytes.len(), lsmkit_block::format::TRAILER_LEN);
    let block = Block::new(bytes, Bytewise).unwrap();
    assert!(block.is_empty());
    assert_eq!(block.num_restarts(), 0);
    let mut it = block.iter();
    assert!(!it.valid());
    it.seek_to_first();
    assert!(!it.valid());
    it.seek_to_last();
    assert!(!it.valid());
    it.seek(b"");
    assert!(!it.valid());
    it.next();
    it.prev();
    assert!(!it.valid());
    assert_eq!((it.key(), it.value()), (&b""[..], &b""[..]));
}

#[test]
fn one_entry() {
    let block = round_trips(&entries(&[(b"only", b"one")]), 16);
    let mut it = block.iter();
    it.seek(b"a");
    assert_eq!(it.key(), b"only");
    it.seek(b"onlz");
    assert!(!it.valid());
    it.seek_to_first();
    it.prev();
    assert!(!it.valid());
    it.seek_to_last();
    it.next();
    assert!(!it.valid());
}

#[test]
fn empty_key_sorts_first() {
    let e = entries(&[(b"", b"empty key"), (b"\x00", b"nul"), (b"a", b"")]);
    let block = round_trips(&e, 16);
    let mut it = block.iter();
    it.seek(b"");
    assert_eq!((it.key(), it.value()), (&b""[..], &b"empty key"[..]));
}

#[test]
fn empty_values() {
    let e: Entries = (0..40u8).map(|i| (vec![b'k', i], Vec::new())).collect();
    round_trips(&e, 16);
}

#[test]
fn megabyte_keys_and_values() {
    const MIB: usize = 1 << 20;
    let big_key = |last: u8| {
        let mut k = vec![b'x'; MIB];
        k[MIB - 1] = last;
        k
    };
    let e: Entries = vec![
        (b"a".to_vec(), vec![1; MIB]),
        (big_key(b'a'), vec![2; MIB]),
        (big_key(b'b'), vec![3; 10]),
        (b"y".to_vec(), vec![4; MIB + 1]),
    ];
    let block = round_trips(&e, 16);
    // The third key shares all but one byte: its entry is about 16 bytes
    // of header and key plus 10 of value, not a mebibyte.
    assert!(block.as_bytes().len() < 4 * MIB + 2 * MIB / 1000 + 200);
}

#[test]
fn restart_interval_one_restarts_every_entry() {
    let e = numbered(50);
    let block = round_trips(&e, 1);
    assert_eq!(block.num_restarts(), 50);
}

#[test]
fn restart_interval_larger_than_the_block() {
    let e = numbered(50);
    let block = round_trips(&e, 1000);
    assert_eq!(block.num_restarts(), 1);
}

#[test]
fn keys_sharing_no_prefix() {
    let e: Entries = (0..=255u8).map(|b| (vec![b, 7, 7], vec![b])).collect();
    let block = round_trips(&e, 4);
    // Nothing shared: each entry is 3 header bytes, 3 key bytes, 1 value.
    let data_len = 256 * 7;
    assert_eq!(
        block.as_bytes().len(),
        data_len + 64 * 4 + lsmkit_block::format::TRAILER_LEN
    );
}

#[test]
fn keys_sharing_all_but_the_last_byte() {
    let prefix = vec![b'p'; 300];
    let e: Entries = (0..=255u8)
        .map(|b| {
            let mut k = prefix.clone();
            k.push(b);
            (k, vec![b; 2])
        })
        .collect();
    let block = round_trips(&e, 16);
    // Restart entries hold 301 key bytes, the others 1 (shared 300 takes a
    // 2-byte varint): well under a tenth of the 256 * 301 raw key bytes.
    assert!(block.as_bytes().len() < 256 * 301 / 10);
}

#[test]
fn seek_between_before_and_after() {
    let e: Entries = (0..100u32)
        .map(|i| (format!("{:04}", i * 2).into_bytes(), vec![]))
        .collect();
    let block = build(&e, 5);
    let mut it = block.iter();
    it.seek(b"0051");
    assert_eq!(it.key(), b"0052");
    it.seek(b"");
    assert_eq!(it.key(), b"0000");
    it.seek(b"0198");
    assert_eq!(it.key(), b"0198");
    it.seek(b"01981");
    assert!(!it.valid());
    // Seeking repositions even from the invalid state.
    it.seek(b"0100");
    assert_eq!(it.key(), b"0100");
    it.prev();
    assert_eq!(it.key(), b"0098");
}

#[test]
fn iterator_outlives_the_block_handle_it_came_from() {
    let e = entries(&[(b"a", b"1"), (b"b", b"2")]);
    let mut it = {
        let block = build(&e, 16);
        block.iter()
    };
    it.seek_to_last();
    assert_eq!(it.value(), b"2");
}

#[test]
fn block_from_shared_bytes_and_clones() {
    let bytes: std::sync::Arc<[u8]> = build_bytes([(&b"k"[..], &b"v"[..])], 16).into();
    let block = Block::new(bytes.clone(), Bytewise).unwrap();
    let copy = block.clone();
    assert_eq!(copy.as_bytes(), &bytes[..]);
    assert_eq!(forward(&copy), forward(&block));
}

/// Descending bytewise order, standing in for a custom comparator such as
/// lsmkit-sstable's internal-key order.
#[derive(Clone, Copy, Debug)]
struct Descending;

impl Comparator for Descending {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        b.cmp(a)
    }
    fn name(&self) -> &'static str {
        "test.descending"
    }
}

#[test]
fn custom_comparator_orders_build_seek_and_validation() {
    let mut builder = BlockBuilder::new(Descending);
    for k in [b"c", b"b", b"a"] {
        builder.add(k, k).unwrap();
    }
    assert!(matches!(
        builder.add(b"b", b""),
        Err(Error::OutOfOrder {
            entry: 3,
            duplicate: false
        })
    ));
    let bytes = builder.into_bytes();

    let block = Block::new(bytes.clone(), Descending).unwrap();
    let mut it = block.iter();
    it.seek(b"bb"); // first key at or after "bb" in descending order
    assert_eq!(it.key(), b"b");
    it.next();
    assert_eq!(it.key(), b"a");

    // Opened under the wrong order, the block is refused, not misread.
    let err = Block::new(bytes, Bytewise).unwrap_err();
    assert!(matches!(
        err,
        Error::Corruption {
            what: Corruption::KeysOutOfOrder { entry: 1 },
            ..
        }
    ));
}

#[test]
fn builder_reuse_produces_identical_blocks() {
    let mut builder = BlockBuilder::new(Bytewise);
    let mut blocks = Vec::new();
    for round in 0..3u8 {
        builder.reset();
        for i in 0..20u8 {
            builder.add(&[round, i], &[i]).unwrap();
        }
        blocks.push(builder.finish().to_vec());
    }
    let last: Entries = (0..20u8).map(|i| (vec![2, i], vec![i])).collect();
    assert_eq!(blocks[2], build(&last, 16).as_bytes());
}
