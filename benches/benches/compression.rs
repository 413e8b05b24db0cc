//! lsmkit-sstable's codecs and filters on db_bench's data: 200,000 entries
//! of 16-byte keys and 100-byte half-compressible values per table.
//!
//! - `compression/write/<codec>`: writing the table (throughput in bytes
//!   of keys and values);
//! - `compression/scan/<codec>`: a full scan without a block cache, so
//!   that every block is read and decompressed;
//! - `compression/get/<codec>`: random point lookups of present keys
//!   without a block cache (each decompresses one block);
//! - `filter/absent/<version>`: lookups of absent keys that only the
//!   filter rules out, V1's bloom filter against V2's blocked one.
//!
//! Before measuring, it prints each codec's table size and compression
//! ratio (raw data bytes / stored data bytes).
//!
//! ```sh
//! cargo bench -p lsmkit-benches --bench compression -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lsmkit_benches::{Rng, key, value};
use lsmkit_sstable::{
    Compression, FormatVersion, InternalIterator, Lookup, SstOptions, SstReader, SstWriter,
};
use lsmkit_vfs::{Fs, StdFs};

const ENTRIES: u64 = 200_000;
const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;
const CODECS: [Compression; 3] = [Compression::None, Compression::Lz4, Compression::Zstd];

fn write_table(fs: &Arc<dyn Fs>, path: &Path, options: SstOptions) -> SstReader {
    let mut rng = Rng::new(42);
    let mut w = SstWriter::create(fs.clone(), path, options)
        .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    for i in 0..ENTRIES {
        w.put(&key(2 * i, KEY_LEN), 1, &value(&mut rng, VALUE_LEN))
            .unwrap_or_else(|e| panic!("put: {e}"));
    }
    w.finish().unwrap_or_else(|e| panic!("finish: {e}"));
    let table = SstReader::open(&**fs, path).unwrap_or_else(|e| panic!("open: {e}"));
    Arc::try_unwrap(table).unwrap_or_else(|_| panic!("a fresh reader is unshared"))
}

struct Tables {
    _dir: tempfile::TempDir,
    fs: Arc<dyn Fs>,
    root: PathBuf,
}

impl Tables {
    fn new() -> Tables {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        Tables {
            root: dir.path().to_path_buf(),
            _dir: dir,
            fs: Arc::new(StdFs::new()),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

fn options(codec: Compression) -> SstOptions {
    SstOptions::default().compression(codec).creation_time(1)
}

fn bench_codecs(c: &mut Criterion) {
    let t = Tables::new();
    for codec in CODECS {
        let table = write_table(&t.fs, &t.path("ratio.sst"), options(codec));
        let p = table.properties();
        println!(
            "{}: file {} bytes, data {} of {} raw bytes, ratio {:.2}, {} of {} blocks compressed",
            codec.name(),
            table.file_size(),
            p.data_size,
            p.raw_data_size,
            p.raw_data_size as f64 / p.data_size as f64,
            p.num_compressed_blocks,
            p.num_data_blocks
        );
    }

    let mut g = c.benchmark_group("compression/write");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(ENTRIES * (KEY_LEN + VALUE_LEN) as u64));
    for codec in CODECS {
        let path = t.path(&format!("w-{}.sst", codec.name()));
        g.bench_function(codec.name(), |b| {
            b.iter(|| write_table(&t.fs, &path, options(codec)))
        });
    }
    g.finish();

    let readers: Vec<(Compression, Arc<SstReader>)> = CODECS
        .iter()
        .map(|&codec| {
            let path = t.path(&format!("r-{}.sst", codec.name()));
            (codec, Arc::new(write_table(&t.fs, &path, options(codec))))
        })
        .collect();
    let mut g = c.benchmark_group("compression/scan");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(ENTRIES * (KEY_LEN + VALUE_LEN) as u64));
    for (codec, table) in &readers {
        g.bench_function(codec.name(), |b| {
            b.iter(|| {
                let mut it = table.iter();
                it.seek_to_first();
                let mut n = 0usize;
                while it.valid() {
                    n += it.value().len();
                    it.next();
                }
                black_box(n)
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("compression/get");
    for (codec, table) in &readers {
        let mut rng = Rng::new(7);
        g.bench_function(codec.name(), |b| {
            b.iter(|| {
                let k = key(2 * rng.below(ENTRIES), KEY_LEN);
                let found = table.get(&k, 1).unwrap_or_else(|e| panic!("get: {e}"));
                assert!(matches!(found, Lookup::Found(_)));
            })
        });
    }
    g.finish();
}

fn bench_filters(c: &mut Criterion) {
    let t = Tables::new();
    let mut g = c.benchmark_group("filter/absent");
    for version in [FormatVersion::V1, FormatVersion::V2] {
        let path = t.path(&format!("f-{version:?}.sst"));
        let table = write_table(&t.fs, &path, SstOptions::default().format_version(version));
        let mut rng = Rng::new(9);
        let name = format!("{version:?}");
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                // Odd indexes fall between stored keys: only the filter
                // (or a block read) can say no.
                let k = key(2 * rng.below(ENTRIES) + 1, KEY_LEN);
                black_box(table.get(&k, 1).unwrap_or_else(|e| panic!("get: {e}")))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_codecs, bench_filters);
criterion_main!(benches);
