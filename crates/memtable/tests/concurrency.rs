//! Many writers at once: four threads insert interleaved writes to
//! overlapping keys, each write with its own sequence number; afterwards
//! every version is present and reads at every snapshot agree with a model
//! built from the same writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use common::{Model, Op, drain_forward, scan};
use lsmkit_memtable::{Error, Memtable};
use lsmkit_sstable::{SeqNo, ValueKind};

const THREADS: usize = 4;

/// A deterministic mix of writes over 64 keys, so that threads collide.
fn history(len: usize) -> Vec<Op> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let key = |r: u64| format!("key{:02}", r % 64).into_bytes();
    (0..len)
        .map(|i| match next() % 20 {
            0 => {
                let a = next();
                Op::DeleteRange(key(a), key(a + 1 + next() % 8))
            }
            1..=4 => Op::Delete(key(next())),
            _ => Op::Put(key(next()), format!("v{i}").into_bytes()),
        })
        .collect()
}

#[test]
fn interleaved_writers_lose_no_version() {
    let ops = history(4000);
    let table = Memtable::new();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (table, ops, barrier) = (&table, &ops, &barrier);
            s.spawn(move || {
                barrier.wait();
                // Thread t writes ops t, t + 4, t + 8, ...: neighbouring
                // sequence numbers land from different threads.
                for (i, op) in ops.iter().enumerate().skip(t).step_by(THREADS) {
                    op.apply(table, i as SeqNo + 1);
                }
            });
        }
    });

    let mut model = Model::default();
    for (i, op) in ops.iter().enumerate() {
        model.apply(op, i as SeqNo + 1);
    }
    assert_eq!(table.len(), ops.len());
    assert_eq!(drain_forward(&mut table.raw_iter()), model.raw());
    assert_eq!(table.range_tombstones(), model.tombstones());
    let keys = model.keys();
    for snapshot in (0..=ops.len() as SeqNo + 1).step_by(97) {
        for key in &keys {
            assert_eq!(
                table.get(key, snapshot),
                model.get(key, snapshot),
                "{key:?}@{snapshot}"
            );
        }
        let all = (Bound::Unbounded, Bound::Unbounded);
        assert_eq!(scan(&table, all, snapshot), model.scan(&all, snapshot));
    }
}

#[test]
fn readers_see_published_snapshots_while_writers_insert() {
    // Writes 1..=2000 go in first and are published; writers then add
    // 2001..=4000 while readers check that snapshot 2000 never changes.
    let ops = history(4000);
    let table = Arc::new(Memtable::new());
    let mut model = Model::default();
    for (i, op) in ops.iter().enumerate().take(2000) {
        op.apply(&table, i as SeqNo + 1);
        model.apply(op, i as SeqNo + 1);
    }
    let published = 2000;
    let keys = model.keys();
    std::thread::scope(|s| {
        for t in 0..2 {
            let (table, ops) = (&table, &ops);
            s.spawn(move || {
                for (i, op) in ops.iter().enumerate().skip(2000 + t).step_by(2) {
                    op.apply(table, i as SeqNo + 1);
                }
            });
        }
        for _ in 0..2 {
            let (table, model, keys) = (&table, &model, &keys);
            s.spawn(move || {
                for key in keys {
                    assert_eq!(table.get(key, published), model.get(key, published));
                }
            });
        }
    });
}

#[test]
fn freeze_under_concurrent_writes_keeps_exactly_the_accepted_ones() {
    let table = Memtable::new();
    let accepted = AtomicUsize::new(0);
    let barrier = Barrier::new(THREADS + 1);
    let stored = std::thread::scope(|s| {
        for t in 0..THREADS as u64 {
            let (table, accepted, barrier) = (&table, &accepted, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0.. {
                    let seqno = i * THREADS as u64 + t + 1;
                    match table.insert(&i.to_be_bytes(), seqno, ValueKind::Put, b"v") {
                        Ok(()) => accepted.fetch_add(1, Ordering::Relaxed),
                        Err(Error::Frozen) => break,
                        Err(e) => panic!("unexpected {e}"),
                    };
                }
            });
        }
        barrier.wait();
        std::thread::sleep(std::time::Duration::from_millis(5));
        table.freeze();
        // Freeze waited for writes under way: what is stored now is final,
        // exactly the writes that were acknowledged.
        drain_forward(&mut table.raw_iter()).len()
    });
    assert_eq!(stored, accepted.load(Ordering::Relaxed));
    assert_eq!(table.len(), stored);
    assert!(table.is_frozen());
}
