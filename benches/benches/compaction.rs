//! Compaction: merge throughput over 4 and 16 sources, and a full
//! compaction of four 64 MiB tables on an in-memory filesystem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lsmkit_benches::{Rng, key, value};
use lsmkit_compaction::{CompactionJob, InternalIterator, MergingIterator, execute};
use lsmkit_sstable::key::{self as ikey, compare};
use lsmkit_sstable::{SstOptions, SstWriter, ValueKind};
use lsmkit_vfs::{Fs, MemFs};

const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;

type Entries = Arc<Vec<(Vec<u8>, Vec<u8>)>>;

/// A sorted in-memory source, so that the merge's own cost is measured.
struct VecSource {
    entries: Entries,
    pos: usize,
}

impl InternalIterator for VecSource {
    fn valid(&self) -> bool {
        self.pos < self.entries.len()
    }
    fn seek_to_first(&mut self) {
        self.pos = 0;
    }
    fn seek_to_last(&mut self) {
        self.pos = self.entries.len().saturating_sub(1);
    }
    fn seek(&mut self, target: &[u8]) {
        self.pos = self
            .entries
            .partition_point(|(k, _)| compare(k, target).is_lt());
    }
    fn next(&mut self) {
        self.pos += 1;
    }
    fn prev(&mut self) {
        self.pos = self.pos.checked_sub(1).unwrap_or(self.entries.len());
    }
    fn key(&self) -> &[u8] {
        &self.entries[self.pos].0
    }
    fn value(&self) -> &[u8] {
        &self.entries[self.pos].1
    }
    fn status(&self) -> Result<(), lsmkit_sstable::Error> {
        Ok(())
    }
}

fn internal_key(i: u64, seqno: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(KEY_LEN + 8);
    ikey::encode(&key(i, KEY_LEN), seqno, ValueKind::Put, &mut k);
    k
}

/// `total` entries dealt round-robin over `n` sources, so that every step
/// of the merge changes source.
fn sources(n: usize, total: u64) -> Vec<Entries> {
    let mut rng = Rng::new(1);
    let mut out = vec![Vec::new(); n];
    for i in 0..total {
        out[(i % n as u64) as usize].push((internal_key(i, 1), value(&mut rng, VALUE_LEN)));
    }
    out.into_iter().map(Arc::new).collect()
}

fn merge(c: &mut Criterion) {
    const TOTAL: u64 = 200_000;
    let bytes = TOTAL * (KEY_LEN + 8 + VALUE_LEN) as u64;
    let mut group = c.benchmark_group("compaction/merge");
    group.throughput(Throughput::Bytes(bytes));
    for n in [4, 16] {
        let data = sources(n, TOTAL);
        group.bench_function(format!("{n}_sources"), |b| {
            b.iter(|| {
                let sources = data
                    .iter()
                    .map(|e| VecSource {
                        entries: e.clone(),
                        pos: 0,
                    })
                    .collect();
                let mut merge = MergingIterator::new(sources);
                merge.seek_to_first();
                let mut sum = 0usize;
                while merge.valid() {
                    sum += merge.key().len() + merge.value().len();
                    merge.next();
                }
                black_box(sum)
            });
        });
    }
    group.finish();
}

/// Four tables of about `table_bytes` each, keys interleaved between them.
fn write_tables(fs: &Arc<dyn Fs>, table_bytes: u64) -> Vec<PathBuf> {
    fs.create_dir_all(Path::new("/db")).unwrap();
    let per_table = table_bytes / (KEY_LEN + VALUE_LEN) as u64;
    let mut rng = Rng::new(2);
    (0..4u64)
        .map(|t| {
            let path = PathBuf::from(format!("/db/in-{t}.sst"));
            let mut w = SstWriter::create(fs.clone(), &path, SstOptions::default()).unwrap();
            for i in 0..per_table {
                let k = internal_key(i * 4 + t, t + 1);
                w.add(&k, &value(&mut rng, VALUE_LEN)).unwrap();
            }
            w.finish().unwrap();
            path
        })
        .collect()
}

/// Four runs of `tables` tables of about `table_bytes` each: the runs'
/// keys interleave, the tables of a run follow each other.
fn write_runs(fs: &Arc<dyn Fs>, tables: u64, table_bytes: u64) -> Vec<PathBuf> {
    fs.create_dir_all(Path::new("/db")).unwrap();
    let per_table = table_bytes / (KEY_LEN + VALUE_LEN) as u64;
    let mut rng = Rng::new(3);
    let mut paths = Vec::new();
    for run in 0..4u64 {
        for t in 0..tables {
            let path = PathBuf::from(format!("/db/run-{run}-{t}.sst"));
            let mut w = SstWriter::create(fs.clone(), &path, SstOptions::default()).unwrap();
            for i in t * per_table..(t + 1) * per_table {
                let k = internal_key(i * 4 + run, run + 1);
                w.add(&k, &value(&mut rng, VALUE_LEN)).unwrap();
            }
            w.finish().unwrap();
            paths.push(path);
        }
    }
    paths
}

fn full_compaction(c: &mut Criterion) {
    let mut group = c.benchmark_group("compaction/full");
    group.sample_size(10);
    // The same 256 MiB as four tables, and as four runs of 16 tables each
    // (where the executor reads one table of each run at a time).
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let shapes = [
        ("4x64MiB", write_tables(&fs, 64 << 20)),
        ("4_runs_of_16x4MiB", write_runs(&fs, 16, 4 << 20)),
    ];
    for (name, inputs) in shapes {
        bench_execute(&mut group, &fs, name, inputs);
    }
    group.finish();
}

fn bench_execute(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    fs: &Arc<dyn Fs>,
    name: &str,
    inputs: Vec<PathBuf>,
) {
    let input_bytes: u64 = inputs.iter().map(|p| fs.size(p).unwrap()).sum();
    let job = CompactionJob {
        inputs,
        snapshots: Vec::new(),
        bottommost: true,
        target_file_size: 64 << 20,
        table_options: SstOptions::default(),
        lower: Vec::new(),
        upper: None,
        filter: None,
        merge_operator: None,
    };
    group.throughput(Throughput::Bytes(input_bytes));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut n = 0;
                let start = Instant::now();
                let outcome = execute(fs, &job, || {
                    n += 1;
                    PathBuf::from(format!("/db/out-{n}.sst"))
                })
                .unwrap();
                total += start.elapsed();
                for table in &outcome.added {
                    fs.remove(&table.meta.path).unwrap();
                }
            }
            total
        });
    });
}

criterion_group!(benches, merge, full_compaction);
criterion_main!(benches);
