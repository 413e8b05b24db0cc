//! lsmkit-sstable: writing a table of 1,000,000 entries (16-byte keys,
//! 100-byte values, db_bench's defaults), point lookups of present and
//! absent keys with and without the bloom filter, and a full scan; each
//! read also through a `BlockCache` big enough for the table (warmed
//! first), and scans through a cache that they fill or leave alone. Tables
//! live on `StdFs` in a temporary directory (memory-mapped reads).
//!
//! `sstable/fragments`: cutting 1,000 range tombstones into `Fragments`,
//! scattered or all nested (the case that costs O(n²) when every seqno of
//! every fragment is kept), and `covers` over the result.
//!
//! ```sh
//! cargo bench -p lsmkit-benches --bench sstable -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lsmkit_benches::{Rng, key, value};
use lsmkit_sstable::{
    BlockCache, Fragments, InternalIterator, Lookup, RangeTombstone, ReaderOptions, SstOptions,
    SstReader, SstWriter,
};
use lsmkit_vfs::{Fs, StdFs};

const ENTRIES: u64 = 1_000_000;
const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;
/// Comfortably more than the 1M-entry table's ~130 MB of data blocks.
const CACHE_BYTES: u64 = 256 << 20;

/// Stored keys are the even indexes; odd ones are absent but fall between
/// stored keys, so that only the filter can rule them out.
fn stored_key(i: u64) -> Vec<u8> {
    key(2 * i, KEY_LEN)
}

fn write_table(fs: &Arc<dyn Fs>, path: &Path, bloom_bits: u32) -> u64 {
    let mut rng = Rng::new(42);
    let options = SstOptions::default().bloom_bits_per_key(bloom_bits);
    let mut w = SstWriter::create(fs.clone(), path, options)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    for i in 0..ENTRIES {
        w.put(&stored_key(i), 1, &value(&mut rng, VALUE_LEN))
            .unwrap_or_else(|e| panic!("put: {e}"));
    }
    w.finish()
        .unwrap_or_else(|e| panic!("finish: {e}"))
        .file_size
}

fn open(fs: &Arc<dyn Fs>, path: &Path) -> Arc<SstReader> {
    SstReader::open(&**fs, path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn open_cached(fs: &Arc<dyn Fs>, path: &Path, cache: &Arc<BlockCache>) -> Arc<SstReader> {
    let options = ReaderOptions::default().block_cache(cache.clone());
    SstReader::open_with(&**fs, path, options)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Reads every entry of `table`; returns the bytes read.
fn scan(table: &Arc<SstReader>, fill_cache: bool) -> usize {
    let mut it = table.iter().fill_cache(fill_cache);
    it.seek_to_first();
    let mut bytes = 0;
    while it.valid() {
        bytes += it.key().len() + it.value().len();
        it.next();
    }
    it.status().unwrap_or_else(|e| panic!("scan: {e}"));
    bytes
}

fn bench_write(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let path = dir.path().join("write.sst");
    let mut group = c.benchmark_group("sstable/write");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(ENTRIES * (KEY_LEN + VALUE_LEN) as u64));
    group.bench_function("1M-16B-100B", |b| {
        b.iter(|| black_box(write_table(&fs, &path, 10)))
    });
    group.finish();
}

fn bench_get(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let with_filter = dir.path().join("bloom.sst");
    let without_filter = dir.path().join("plain.sst");
    write_table(&fs, &with_filter, 10);
    write_table(&fs, &without_filter, 0);
    let mut rng = Rng::new(7);
    let picks: Vec<u64> = (0..4096).map(|_| rng.below(ENTRIES)).collect();
    let present: Vec<Vec<u8>> = picks.iter().map(|&i| stored_key(i)).collect();
    let absent: Vec<Vec<u8>> = picks.iter().map(|&i| key(2 * i + 1, KEY_LEN)).collect();

    let mut group = c.benchmark_group("sstable/get");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("present", &with_filter, &present, true),
        ("absent-bloom", &with_filter, &absent, false),
        ("absent-no-filter", &without_filter, &absent, false),
    ];
    for cached in [false, true] {
        for (name, path, keys, found) in cases {
            let table = if cached {
                // A cache of its own: what another case left in a shared
                // one would make it evict its own blocks.
                let cache = Arc::new(BlockCache::new(CACHE_BYTES));
                let table = open_cached(&fs, path, &cache);
                scan(&table, true);
                table
            } else {
                open(&fs, path)
            };
            let name = if cached {
                format!("{name}-cached")
            } else {
                name.to_string()
            };
            let mut n = 0;
            group.bench_function(name, |b| {
                b.iter(|| {
                    n = (n + 1) % keys.len();
                    let r = table
                        .get(&keys[n], u64::MAX)
                        .unwrap_or_else(|e| panic!("get: {e}"));
                    debug_assert_eq!(matches!(r, Lookup::Found(_)), found);
                    black_box(r)
                })
            });
        }
    }
    group.finish();
}

fn bench_scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let path = dir.path().join("scan.sst");
    write_table(&fs, &path, 10);
    let plain = open(&fs, &path);
    let cache = Arc::new(BlockCache::new(CACHE_BYTES));
    let cached = open_cached(&fs, &path, &cache);
    let mut group = c.benchmark_group("sstable/scan");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(ENTRIES * (KEY_LEN + VALUE_LEN) as u64));
    group.bench_function("1M-16B-100B", |b| b.iter(|| black_box(scan(&plain, true))));
    // An empty cache that the scan leaves alone: what a compaction pays.
    group.bench_function("cache-no-fill", |b| {
        b.iter(|| black_box(scan(&cached, false)))
    });
    // Every block missed and inserted.
    group.bench_function("cache-fill-cold", |b| {
        b.iter(|| {
            cache.clear();
            black_box(scan(&cached, true))
        })
    });
    // Every block hit.
    scan(&cached, true);
    group.bench_function("cache-warm", |b| b.iter(|| black_box(scan(&cached, true))));
    group.finish();
}

fn bench_fragments(c: &mut Criterion) {
    const TOMBSTONES: u64 = 1_000;
    let mut rng = Rng::new(7);
    // Up to 1% of a 1M-key space each, at random: some overlap.
    let scattered: Vec<RangeTombstone> = (0..TOMBSTONES)
        .map(|i| {
            let start = rng.below(1_000_000);
            let len = 1 + rng.below(10_000);
            RangeTombstone::new(key(start, KEY_LEN), key(start + len, KEY_LEN), i + 1)
        })
        .collect();
    // Each inside the one before, the innermost newest.
    let nested: Vec<RangeTombstone> = (0..TOMBSTONES)
        .map(|i| RangeTombstone::new(key(i, KEY_LEN), key(2 * TOMBSTONES - i, KEY_LEN), i + 1))
        .collect();
    let snapshots = [TOMBSTONES / 3, 2 * TOMBSTONES / 3];
    let mut group = c.benchmark_group("sstable/fragments");
    group.throughput(Throughput::Elements(TOMBSTONES));
    for (name, tombstones) in [("scattered", &scattered), ("nested", &nested)] {
        group.bench_function(format!("newest/{name}"), |b| {
            b.iter(|| black_box(Fragments::newest(tombstones)))
        });
        group.bench_function(format!("for_2_snapshots/{name}"), |b| {
            b.iter(|| black_box(Fragments::for_snapshots(tombstones, &snapshots)))
        });
    }
    let fragments = Fragments::newest(&scattered);
    let probes: Vec<Vec<u8>> = (0..4096)
        .map(|_| key(rng.below(1_010_000), KEY_LEN))
        .collect();
    group.throughput(Throughput::Elements(probes.len() as u64));
    group.bench_function("covers/scattered", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|k| fragments.covers(k, TOMBSTONES / 2, u64::MAX))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_fragments, bench_write, bench_get, bench_scan);
criterion_main!(benches);
