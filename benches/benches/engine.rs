//! Engine benchmarks on the real filesystem (a temporary directory):
//! buffered puts of 16-byte keys with 100-byte values (flushes and
//! compactions running behind them), point reads that hit and that miss,
//! a full scan both ways, and a seek followed by 10 nexts, over a
//! database of 100 000 keys spread over memtable and tables; and
//! sequential puts (appends at the end of the key space).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lsmkit_benches::{Rng, key, value};
use lsmkit_engine::{Db, Options};

const ENTRIES: u64 = 100_000;
const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;

fn options() -> Options {
    // A 4 MiB write buffer so that 100 000 entries make several tables.
    Options::default().write_buffer_size(4 << 20)
}

/// A database holding keys `0..ENTRIES` (even indices only, so that odd
/// ones miss), written in random order.
fn filled(dir: &std::path::Path) -> Db {
    let db = Db::open(dir, options()).unwrap_or_else(|e| panic!("open: {e}"));
    let mut rng = Rng::new(1);
    for _ in 0..ENTRIES {
        let i = rng.below(ENTRIES) & !1;
        db.put(&key(i, KEY_LEN), &value(&mut rng, VALUE_LEN))
            .unwrap_or_else(|e| panic!("put: {e}"));
    }
    db
}

fn put(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine/put");
    group.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = Db::open(dir.path(), options()).unwrap_or_else(|e| panic!("open: {e}"));
    let mut rng = Rng::new(2);
    group.bench_function("random_buffered", |b| {
        b.iter(|| {
            let i = rng.below(ENTRIES * 10);
            db.put(&key(i, KEY_LEN), &value(&mut rng, VALUE_LEN))
                .unwrap_or_else(|e| panic!("put: {e}"));
        })
    });
    let mut next = 0;
    group.bench_function("sequential_buffered", |b| {
        b.iter(|| {
            // Above every key of the random case: appends at the end.
            next += 1;
            db.put(
                &key(ENTRIES * 10 + next, KEY_LEN),
                &value(&mut rng, VALUE_LEN),
            )
            .unwrap_or_else(|e| panic!("put: {e}"));
        })
    });
    group.finish();
    db.close().unwrap_or_else(|e| panic!("close: {e}"));
}

fn get(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = filled(dir.path());
    let mut group = c.benchmark_group("engine/get");
    group.throughput(Throughput::Elements(1));
    let mut rng = Rng::new(3);
    group.bench_function("hit", |b| {
        b.iter(|| {
            let i = rng.below(ENTRIES) & !1;
            black_box(
                db.get(&key(i, KEY_LEN))
                    .unwrap_or_else(|e| panic!("get: {e}")),
            )
        })
    });
    group.bench_function("miss", |b| {
        b.iter(|| {
            let i = rng.below(ENTRIES) | 1;
            black_box(
                db.get(&key(i, KEY_LEN))
                    .unwrap_or_else(|e| panic!("get: {e}")),
            )
        })
    });
    group.finish();
    db.close().unwrap_or_else(|e| panic!("close: {e}"));
}

fn scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = filled(dir.path());
    let live = db.iter().count() as u64;
    let mut group = c.benchmark_group("engine/scan");
    group.throughput(Throughput::Elements(live));
    group.bench_function("forward", |b| {
        b.iter(|| black_box(db.iter().filter_map(Result::ok).count()))
    });
    group.bench_function("reverse", |b| {
        b.iter(|| black_box(db.iter().rev().filter_map(Result::ok).count()))
    });
    group.finish();
    db.close().unwrap_or_else(|e| panic!("close: {e}"));
}

/// db_bench's seekrandom: a seek to a random key, then 10 nexts.
fn seek(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let db = filled(dir.path());
    let mut group = c.benchmark_group("engine/seek");
    group.throughput(Throughput::Elements(1));
    let mut rng = Rng::new(4);
    group.bench_function("seek_next10", |b| {
        b.iter(|| {
            let from = key(rng.below(ENTRIES), KEY_LEN);
            black_box(db.range(from..).take(10).filter_map(Result::ok).count())
        })
    });
    group.finish();
    db.close().unwrap_or_else(|e| panic!("close: {e}"));
}

criterion_group!(benches, put, get, scan, seek);
criterion_main!(benches);
