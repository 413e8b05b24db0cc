//! Opening a block never makes an allocation larger than the block itself,
//! whatever lengths its bytes claim.
//!
//! A counting global allocator records the largest single allocation made
//! while `Block::new` runs. This file holds one test so that no other test
//! thread allocates inside the measured window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{raw_entry, reseal, restarts, seal};
use lsmkit_block::{Block, Bytewise, format};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// only addition is recording the requested size in an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller upholds `realloc`'s contract, passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The largest allocation made while opening `bytes` (already an `Arc`, so
/// that the copy into one is not counted).
fn largest_allocation_opening(bytes: &Arc<[u8]>) -> usize {
    LARGEST.store(0, Ordering::SeqCst);
    let opened = Block::new(bytes.clone(), Bytewise);
    let largest = LARGEST.load(Ordering::SeqCst);
    drop(opened);
    largest
}

/// A block of one key that every later entry extends by a byte: the
/// key buffers grow as large as keys in a block of this size can be.
fn growing_keys(n: usize) -> Vec<u8> {
    let mut p = Vec::new();
    raw_entry(&mut p, 0, &[b'k'; 64], b"");
    for i in 1..n {
        raw_entry(&mut p, 63 + i as u32, b"k", b"");
    }
    restarts(&mut p, &[0]);
    seal(p)
}

#[test]
fn opening_never_allocates_more_than_the_block() {
    let mut cases: Vec<Vec<u8>> = vec![growing_keys(2), growing_keys(300)];

    // Lengths that claim 4 GiB, and a restart count that claims 16 GiB.
    let mut p = Vec::new();
    format::put_varint32(&mut p, 0);
    format::put_varint32(&mut p, u32::MAX);
    format::put_varint32(&mut p, u32::MAX);
    restarts(&mut p, &[0]);
    cases.push(seal(p));
    let mut p = Vec::new();
    format::put_fixed32(&mut p, u32::MAX);
    cases.push(seal(p));

    // Random payloads and edited valid blocks, resealed.
    let mut runner = TestRunner::deterministic();
    let payload = proptest::collection::vec(any::<u8>(), 0..200);
    let edit = (any::<prop::sample::Index>(), any::<u8>());
    for _ in 0..500 {
        let mut p = payload.new_tree(&mut runner).unwrap().current();
        restarts(&mut p, &[0]);
        cases.push(seal(p));
        let mut edited = growing_keys(40);
        let (at, byte) = edit.new_tree(&mut runner).unwrap().current();
        let editable = edited.len() - 9;
        edited[at.index(editable)] = byte;
        cases.push(reseal(edited));
    }

    for bytes in cases {
        let bytes: Arc<[u8]> = bytes.into();
        let largest = largest_allocation_opening(&bytes);
        assert!(
            largest <= bytes.len(),
            "opening a {}-byte block allocated {largest} bytes at once",
            bytes.len()
        );
    }
}
