//! Writers and readers at once, with flushes and compactions running
//! under them: every snapshot and iterator must see whole batches only,
//! and a snapshot must read the same however often and however late it
//! is read.
//!
//! Two writers keep invariants that only whole batches preserve:
//!
//! - pairs: `pair{i}/a` and `pair{i}/b` always hold the same value, or
//!   are both absent (set together in one batch, or deleted together by a
//!   range delete or by two deletes in one batch);
//! - rings: writer `w` writes its `n`-th batch as item `n % RING` set to
//!   `n` plus its counter set to `n`, so that at counter `c` the ring
//!   holds exactly `c - RING + 1 ..= c`.
//!
//! Two readers check both invariants at every snapshot and every plain
//! iterator, that a writer's counter never goes back between one read and
//! the next, and that a snapshot reads the same twice and still reads the
//! same at the end, after every write, flush and compaction since.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Model, Rng};
use lsmkit_engine::{Db, Options, Snapshot, WriteBatch};
use lsmkit_vfs::MemFs;

const WRITERS: u64 = 2;
const BATCHES_PER_WRITER: u64 = 2_000;
const PAIRS: u64 = 12;
const RING: u64 = 16;

/// The crash tests' small options, with a write buffer that fills every
/// few dozen batches.
fn options(fs: &MemFs) -> Options {
    common::small_options(Arc::new(fs.clone()))
        .write_buffer_size(4 << 10)
        .max_manifest_size(2 << 10)
}

fn pair_key(i: u64, side: &str) -> Vec<u8> {
    format!("pair{i:02}/{side}").into_bytes()
}

fn ring_key(writer: u64, slot: u64) -> Vec<u8> {
    format!("ring{writer}/item{slot:02}").into_bytes()
}

fn counter_key(writer: u64) -> Vec<u8> {
    format!("ring{writer}/counter").into_bytes()
}

fn number(bytes: &[u8]) -> u64 {
    std::str::from_utf8(bytes).unwrap().parse().unwrap()
}

/// Writer `w`'s `n`-th batch: its ring item and counter, and a change to
/// one pair.
fn writer_batch(w: u64, n: u64, rng: &mut Rng) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch
        .put(&ring_key(w, n % RING), n.to_string().as_bytes())
        .put(&counter_key(w), n.to_string().as_bytes());
    let i = rng.below(PAIRS);
    let (a, b) = (pair_key(i, "a"), pair_key(i, "b"));
    match rng.below(10) {
        0 => {
            batch.delete_range(
                format!("pair{i:02}/").into_bytes()..format!("pair{i:02}0").into_bytes(),
            );
        }
        1 => {
            batch.delete(&b).delete(&a);
        }
        _ => {
            let value = format!("w{w}n{n}-{}", "p".repeat(rng.below(60) as usize));
            batch.put(&a, value.as_bytes()).put(&b, value.as_bytes());
        }
    }
    batch
}

/// Checks the invariants on one consistent read; returns each writer's
/// counter (0 before its first batch).
fn check_invariants(state: &Model, context: &str) -> Vec<u64> {
    for i in 0..PAIRS {
        assert_eq!(
            state.get(&pair_key(i, "a")),
            state.get(&pair_key(i, "b")),
            "{context}: pair {i} is half-written"
        );
    }
    (0..WRITERS)
        .map(|w| {
            let Some(counter) = state.get(&counter_key(w)) else {
                for slot in 0..RING {
                    assert!(
                        !state.contains_key(&ring_key(w, slot)),
                        "{context}: ring item before counter"
                    );
                }
                return 0;
            };
            let c = number(counter);
            for n in (c + 1).saturating_sub(RING).max(1)..=c {
                let item = state.get(&ring_key(w, n % RING)).map(|v| number(v));
                assert_eq!(
                    item,
                    Some(n),
                    "{context}: writer {w} at counter {c}: item {n}"
                );
            }
            c
        })
        .collect()
}

fn read_all(snapshot: &Snapshot) -> Model {
    snapshot.iter().collect::<Result<_, _>>().unwrap()
}

fn reader(db: &Db, id: u64, done: &AtomicBool) -> u64 {
    let mut rng = Rng::new(0xBEEF + id);
    let mut last_counters = vec![0; WRITERS as usize];
    // Snapshots kept across many writes, with what they read first.
    let mut kept: Vec<(Snapshot, Model)> = Vec::new();
    let mut reads = 0;
    while !done.load(Ordering::Acquire) || reads < 10 {
        reads += 1;
        let context = format!("reader {id}, read {reads}");
        let snapshot = db.snapshot();
        let state = read_all(&snapshot);
        let counters = check_invariants(&state, &context);
        for (w, (&now, &before)) in counters.iter().zip(&last_counters).enumerate() {
            assert!(
                now >= before,
                "{context}: writer {w}'s counter went back from {before} to {now}"
            );
        }
        last_counters = counters;

        // The same snapshot again, backwards and by point reads.
        let mut backward: Vec<(Vec<u8>, Vec<u8>)> =
            snapshot.iter().rev().collect::<Result<_, _>>().unwrap();
        backward.reverse();
        assert_eq!(
            backward.into_iter().collect::<Model>(),
            state,
            "{context}: reverse read differs"
        );
        for i in 0..PAIRS {
            let k = pair_key(i, if rng.chance(50) { "a" } else { "b" });
            assert_eq!(
                snapshot.get(&k).unwrap().as_ref(),
                state.get(&k),
                "{context}: get differs from scan"
            );
        }
        // A plain iterator is a snapshot too.
        let plain: Model = db.iter().collect::<Result<_, _>>().unwrap();
        check_invariants(&plain, &format!("{context}, plain iterator"));
        // And a prefix scan sees whole pairs.
        let pairs: Model = db.prefix(b"pair").collect::<Result<_, _>>().unwrap();
        check_invariants(
            &pairs.into_iter().collect(),
            &format!("{context}, prefix scan"),
        );

        if rng.chance(10) && kept.len() < 8 {
            kept.push((snapshot, state));
        } else if !kept.is_empty() && rng.chance(20) {
            let (old, then) = kept.swap_remove(rng.below(kept.len() as u64) as usize);
            assert_eq!(
                read_all(&old),
                then,
                "{context}: a kept snapshot at {} changed",
                old.seqno()
            );
        }
    }
    for (old, then) in kept {
        assert_eq!(
            read_all(&old),
            then,
            "reader {id}: a kept snapshot at {} changed by the end",
            old.seqno()
        );
    }
    reads
}

#[test]
fn two_writers_two_readers_see_whole_batches_in_every_snapshot() {
    let fs = MemFs::new();
    let db = Arc::new(Db::open(common::DIR, options(&fs)).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|id| {
            let (db, done) = (Arc::clone(&db), Arc::clone(&done));
            std::thread::spawn(move || reader(&db, id, &done))
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                let mut rng = Rng::new(w);
                for n in 1..=BATCHES_PER_WRITER {
                    db.write(writer_batch(w, n, &mut rng)).unwrap();
                    if n % 500 == 0 && w == 0 {
                        db.flush().unwrap();
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let reads: Vec<u64> = readers.into_iter().map(|r| r.join().unwrap()).collect();

    let final_state: Model = db.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        check_invariants(&final_state, "at the end"),
        vec![BATCHES_PER_WRITER; WRITERS as usize]
    );
    let stats = db.stats();
    eprintln!(
        "reads {reads:?}; {} flushes, {} compactions",
        stats.flushes, stats.compactions
    );
    assert!(
        stats.flushes > 5,
        "the write buffer is meant to fill: {} flushes",
        stats.flushes
    );
    Arc::into_inner(db).unwrap().close().unwrap();

    let db = Db::open(common::DIR, options(&fs)).unwrap();
    let reopened: Model = db.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(reopened, final_state, "reopen changed the contents");
}
