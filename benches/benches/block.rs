//! lsmkit-block: building, opening, seeking and scanning blocks of 16-byte
//! keys and 100-byte values (db_bench's defaults), at 4 KiB and 16 KiB.
//!
//! ```sh
//! cargo bench -p lsmkit-benches --bench block -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lsmkit_benches::{Rng, key, value};
use lsmkit_block::{Block, BlockBuilder, BlockOptions, Bytewise};

const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;
const SIZES: [(usize, &str); 2] = [(4 << 10, "4KiB"), (16 << 10, "16KiB")];

/// Entries for one block of about `target` bytes.
fn entries(target: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rng = Rng::new(42);
    let per_entry = KEY_LEN + VALUE_LEN;
    (0..target.div_ceil(per_entry) as u64)
        .map(|i| (key(i, KEY_LEN), value(&mut rng, VALUE_LEN)))
        .collect()
}

fn options(target: usize) -> BlockOptions {
    BlockOptions {
        restart_interval: 16,
        target_size: target,
    }
}

fn build(entries: &[(Vec<u8>, Vec<u8>)], target: usize) -> Arc<[u8]> {
    let mut builder = BlockBuilder::with_options(Bytewise, options(target));
    for (k, v) in entries {
        builder
            .add(k, v)
            .unwrap_or_else(|e| panic!("bench data out of order: {e}"));
    }
    builder.into_bytes().into()
}

fn open(bytes: &Arc<[u8]>) -> Block {
    Block::new(bytes.clone(), Bytewise).unwrap_or_else(|e| panic!("bench block corrupt: {e}"))
}

fn bench_build(c: &mut Criterion) {
    let mut group = c.benchmark_group("block/build");
    for (target, name) in SIZES {
        let entries = entries(target);
        let size = build(&entries, target).len();
        group.throughput(Throughput::Bytes(size as u64));
        let mut builder = BlockBuilder::with_options(Bytewise, options(target));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                builder.reset();
                for (k, v) in &entries {
                    let _ = builder.add(k, v);
                }
                black_box(builder.finish().len())
            })
        });
    }
    group.finish();
}

fn bench_open(c: &mut Criterion) {
    let mut group = c.benchmark_group("block/open");
    for (target, name) in SIZES {
        let bytes = build(&entries(target), target);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(Block::new(black_box(bytes.clone()), Bytewise).is_ok()))
        });
    }
    group.finish();
}

fn bench_seek(c: &mut Criterion) {
    let mut group = c.benchmark_group("block/seek");
    for (target, name) in SIZES {
        let entries = entries(target);
        let block = open(&build(&entries, target));
        let mut it = block.iter();
        let mut rng = Rng::new(7);
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let (k, _) = &entries[rng.below(entries.len() as u64) as usize];
                it.seek(k);
                black_box(it.value().len())
            })
        });
    }
    group.finish();
}

fn bench_scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("block/scan");
    for (target, name) in SIZES {
        let bytes = build(&entries(target), target);
        let block = open(&bytes);
        let mut it = block.iter();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::new("forward", name), |b| {
            b.iter(|| {
                let mut sum = 0;
                it.seek_to_first();
                while it.valid() {
                    sum += it.key().len() + it.value().len();
                    it.next();
                }
                black_box(sum)
            })
        });
        group.bench_function(BenchmarkId::new("backward", name), |b| {
            b.iter(|| {
                let mut sum = 0;
                it.seek_to_last();
                while it.valid() {
                    sum += it.key().len() + it.value().len();
                    it.prev();
                }
                black_box(sum)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_build, bench_open, bench_seek, bench_scan);
criterion_main!(benches);
