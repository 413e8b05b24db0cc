//! `approximate_memory` against the bytes the memtable actually asks the
//! allocator for, measured by a counting global allocator.
//!
//! This file holds one test so that no other test's allocations run
//! concurrently and get counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use lsmkit_memtable::{ENTRY_OVERHEAD, Memtable};
use lsmkit_sstable::ValueKind;

/// The system allocator, keeping a running total of live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter does not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's obligations for `alloc` are passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The documented bound: the charge is within 15% of the bytes allocated.
const TOLERANCE: f64 = 0.15;

#[test]
fn charge_tracks_allocated_bytes_across_entry_shapes() {
    for (key_len, value_len) in [(16, 100), (4, 0), (8, 8), (100, 1000), (32, 200)] {
        let entries = 20_000;
        let before = LIVE.load(Ordering::Relaxed);
        let table = Memtable::new();
        let mut key = vec![0u8; key_len];
        let value = vec![7u8; value_len];
        for i in 0..entries {
            let tail = key_len.min(8);
            key[key_len - tail..].copy_from_slice(&(i as u64).to_be_bytes()[8 - tail..]);
            table
                .insert(&key, i as u64 + 1, ValueKind::Put, &value)
                .unwrap();
        }
        let allocated = (LIVE.load(Ordering::Relaxed) - before) as f64;
        let charged = table.approximate_memory() as f64;
        let raw = (entries * (key_len + 8 + value_len)) as f64;
        let ratio = charged / allocated;
        println!(
            "key {key_len} value {value_len}: charged {charged} allocated {allocated} \
             ({:.1} B/entry overhead), ratio {ratio:.3}",
            (allocated - raw) / entries as f64
        );
        assert!(
            (1.0 - TOLERANCE..=1.0 + TOLERANCE).contains(&ratio),
            "charged {charged} for {allocated} allocated (key {key_len}, value {value_len})"
        );
        assert!(charged >= raw && charged <= raw + (entries * ENTRY_OVERHEAD) as f64);
        drop(table);
    }
}
