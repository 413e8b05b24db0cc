//! Helpers shared by the integration tests.
#![allow(dead_code)]

use lsmkit_block::{Block, BlockBuilder, BlockIter, BlockOptions, Bytewise, format};

pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// The bytes of a block of `entries` (sorted, distinct keys).
pub fn build_bytes<'a>(
    entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    restart_interval: usize,
) -> Vec<u8> {
    let options = BlockOptions {
        restart_interval,
        ..BlockOptions::default()
    };
    let mut builder = BlockBuilder::with_options(Bytewise, options);
    for (k, v) in entries {
        builder.add(k, v).unwrap();
    }
    builder.into_bytes()
}

/// An opened block of `entries`.
pub fn build(entries: &Entries, restart_interval: usize) -> Block {
    let bytes = build_bytes(
        entries.iter().map(|(k, v)| (&k[..], &v[..])),
        restart_interval,
    );
    Block::new(bytes, Bytewise).unwrap()
}

/// Every entry, first to last.
pub fn forward(block: &Block) -> Entries {
    let mut it = block.iter();
    it.seek_to_first();
    let mut out = Vec::new();
    while it.valid() {
        out.push(current(&it));
        it.next();
    }
    out
}

/// Every entry, last to first.
pub fn backward(block: &Block) -> Entries {
    let mut it = block.iter();
    it.seek_to_last();
    let mut out = Vec::new();
    while it.valid() {
        out.push(current(&it));
        it.prev();
    }
    out
}

pub fn current(it: &BlockIter) -> (Vec<u8>, Vec<u8>) {
    (it.key().to_vec(), it.value().to_vec())
}

/// Completes a block from its entry region, restart array and restart
/// count: appends the format byte and a valid checksum.
pub fn seal(mut payload: Vec<u8>) -> Vec<u8> {
    payload.push(format::FORMAT_V1);
    let sum = format::checksum(&payload);
    format::put_fixed64(&mut payload, sum);
    payload
}

/// Replaces the checksum of a block whose contents were edited.
pub fn reseal(mut block: Vec<u8>) -> Vec<u8> {
    block.truncate(block.len() - format::CHECKSUM_LEN - 1);
    seal(block)
}

/// One raw entry, lengths as given (so that tests can lie).
pub fn raw_entry(out: &mut Vec<u8>, shared: u32, suffix: &[u8], value: &[u8]) {
    format::put_varint32(out, shared);
    format::put_varint32(out, suffix.len() as u32);
    format::put_varint32(out, value.len() as u32);
    out.extend_from_slice(suffix);
    out.extend_from_slice(value);
}

/// Appends a restart array and its count.
pub fn restarts(out: &mut Vec<u8>, offsets: &[u32]) {
    for &r in offsets {
        format::put_fixed32(out, r);
    }
    format::put_fixed32(out, offsets.len() as u32);
}

/// Walks a block that opened every way the iterator can, checking that
/// what it sees is self-consistent: forward keys strictly increase and
/// number `len()`, backward is forward reversed, and seeking to each key
/// finds it. Used on blocks built from random or damaged bytes.
pub fn check_consistent(block: &Block) {
    let fwd = forward(block);
    assert_eq!(fwd.len() as u64, block.len());
    assert!(
        fwd.windows(2).all(|w| w[0].0 < w[1].0),
        "keys must increase"
    );
    let mut bwd = backward(block);
    bwd.reverse();
    assert_eq!(fwd, bwd);
    let mut it = block.iter();
    for (k, v) in &fwd {
        it.seek(k);
        assert!(it.valid());
        assert_eq!((it.key(), it.value()), (&k[..], &v[..]));
    }
}
