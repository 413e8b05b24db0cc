//! Memtable benchmarks: inserts of 16-byte keys with 100-byte values from
//! one and two threads, random point reads, and full iteration (the raw
//! cursor stepping its skiplist entry, against re-seeking past each key,
//! the design it was chosen over; and the snapshot iterator).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lsmkit_benches::{Rng, key, value};
use lsmkit_memtable::{Lookup, Memtable};
use lsmkit_sstable::{InternalIterator, InternalKey, ValueKind, key as ikey};

const ENTRIES: usize = 100_000;
const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;

/// `ENTRIES` writes with distinct random keys, in random order.
fn workload() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rng = Rng::new(42);
    let mut indices: Vec<u64> = (0..ENTRIES as u64).collect();
    for i in (1..indices.len()).rev() {
        indices.swap(i, rng.below(i as u64 + 1) as usize);
    }
    indices
        .into_iter()
        .map(|i| (key(i, KEY_LEN), value(&mut rng, VALUE_LEN)))
        .collect()
}

/// Inserts `writes[i]` at sequence number `i + 1` for every `i` with
/// `i % threads == thread`.
fn insert_share(table: &Memtable, writes: &[(Vec<u8>, Vec<u8>)], thread: usize, threads: usize) {
    for (i, (k, v)) in writes.iter().enumerate().skip(thread).step_by(threads) {
        table
            .insert(k, i as u64 + 1, ValueKind::Put, v)
            .unwrap_or_else(|e| panic!("insert failed: {e}"));
    }
}

fn filled(writes: &[(Vec<u8>, Vec<u8>)]) -> Memtable {
    let table = Memtable::new();
    insert_share(&table, writes, 0, 1);
    table
}

fn insert(c: &mut Criterion) {
    let writes = workload();
    let mut group = c.benchmark_group("memtable/insert");
    group.throughput(Throughput::Elements(ENTRIES as u64));
    for threads in [1, 2] {
        group.bench_function(format!("{threads}_threads"), |b| {
            b.iter_with_large_drop(|| {
                let table = Memtable::new();
                std::thread::scope(|s| {
                    for t in 0..threads {
                        let (table, writes) = (&table, &writes);
                        s.spawn(move || insert_share(table, writes, t, threads));
                    }
                });
                table
            })
        });
    }
    group.finish();
}

fn get(c: &mut Criterion) {
    let writes = workload();
    let table = filled(&writes);
    let mut rng = Rng::new(7);
    let mut group = c.benchmark_group("memtable/get");
    group.throughput(Throughput::Elements(1));
    group.bench_function("random_hit", |b| {
        b.iter_batched(
            || &writes[rng.below(ENTRIES as u64) as usize].0,
            |k| match table.get(k, ENTRIES as u64) {
                Lookup::Found(v) => v,
                other => panic!("lost a key: {other:?}"),
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("random_miss", |b| {
        b.iter_batched(
            || key(ENTRIES as u64 + rng.below(ENTRIES as u64), KEY_LEN),
            |k| table.get(&k, ENTRIES as u64),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn iterate(c: &mut Criterion) {
    let writes = workload();
    let table = filled(&writes);
    let mut internal_keys: Vec<InternalKey> = Vec::with_capacity(ENTRIES);
    let mut it = table.raw_iter();
    it.seek_to_first();
    while it.valid() {
        let parsed = ikey::ParsedKey::parse(it.key()).unwrap_or_else(|| panic!("bad key"));
        internal_keys.push(InternalKey::new(parsed.user_key, parsed.seqno, parsed.kind));
        it.next();
    }

    let mut group = c.benchmark_group("memtable/iterate");
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("raw_next", |b| {
        b.iter(|| {
            let mut it = table.raw_iter();
            let mut bytes = 0;
            it.seek_to_first();
            while it.valid() {
                bytes += it.key().len() + it.value().len();
                it.next();
            }
            bytes
        })
    });
    // The design not taken: a cursor that copies its key and re-seeks on
    // every step. Seeking to each key in order costs the same searches.
    group.bench_function("reseek", |b| {
        b.iter(|| {
            let mut it = table.raw_iter();
            let mut bytes = 0;
            for k in &internal_keys {
                it.seek(k.as_bytes());
                bytes += black_box(it.key().to_vec()).len() + it.value().len();
            }
            bytes
        })
    });
    group.bench_function("raw_prev", |b| {
        b.iter(|| {
            let mut it = table.raw_iter();
            let mut n = 0;
            it.seek_to_last();
            while it.valid() {
                n += 1;
                it.prev();
            }
            n
        })
    });
    group.bench_function("snapshot_forward", |b| {
        b.iter(|| {
            table
                .iter(ENTRIES as u64)
                .map(|e| e.value().len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, insert, get, iterate);
criterion_main!(benches);
