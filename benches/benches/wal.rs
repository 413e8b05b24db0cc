//! lsmkit-wal on `StdFs` in a temporary directory: appending 100-byte
//! records without syncing; the latency of one durable append (a write and
//! an fsync); durable appends from 1, 2, 4 and 8 threads under group
//! commit; and, beside them, the raw rate of append-100-bytes-then-fsync
//! on the same disk.
//!
//! ```sh
//! cargo bench -p lsmkit-benches --bench wal -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lsmkit_benches::{Rng, value};
use lsmkit_vfs::{FaultFs, Fs, Op, StdFs};
use lsmkit_wal::{RecoveryMode, SyncPolicy, Wal, WalOptions, WalReader};

const RECORD_LEN: usize = 100;
/// Durable appends each thread makes per measured batch.
const PER_THREAD: usize = 64;

/// A fresh WAL in `dir` on `fs`.
fn wal_on(fs: Arc<dyn Fs>, dir: &Path, sync: SyncPolicy) -> Wal {
    let mut reader = WalReader::open(fs, dir, RecoveryMode::default())
        .unwrap_or_else(|e| panic!("bench set-up: {e}"));
    for record in reader.by_ref() {
        record.unwrap_or_else(|e| panic!("bench set-up: {e}"));
    }
    let options = WalOptions {
        sync,
        ..WalOptions::default()
    };
    reader
        .into_wal(options)
        .unwrap_or_else(|e| panic!("bench set-up: {e}"))
        .0
}

/// A fresh WAL in `dir`.
fn wal(dir: &Path, sync: SyncPolicy) -> Wal {
    wal_on(Arc::new(StdFs::new()), dir, sync)
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("bench set-up: {e}"))
}

fn append_no_sync(c: &mut Criterion) {
    let dir = temp_dir();
    let wal = wal(dir.path(), SyncPolicy::Never);
    // Old segments are deleted as they pile up, so the disk does not fill.
    let record = value(&mut Rng::new(1), RECORD_LEN);
    let mut group = c.benchmark_group("wal/append_no_sync");
    group.throughput(Throughput::Bytes(RECORD_LEN as u64));
    group.bench_function("100B", |b| {
        b.iter(|| wal.append(black_box(&record)));
        let current = wal.current_segment();
        wal.remove_segments_before(current)
            .unwrap_or_else(|e| panic!("bench: {e}"));
    });
    group.finish();
}

fn durable_append_latency(c: &mut Criterion) {
    let dir = temp_dir();
    let wal = wal(dir.path(), SyncPolicy::EveryAppend);
    let record = value(&mut Rng::new(2), RECORD_LEN);
    let mut group = c.benchmark_group("wal/durable_append");
    group.throughput(Throughput::Elements(1));
    group.bench_function("100B", |b| b.iter(|| wal.append(black_box(&record))));
    group.finish();
}

/// Raw fsync rate: append 100 bytes to a plain file and fsync it.
fn raw_fsync(c: &mut Criterion) {
    let dir = temp_dir();
    let fs = StdFs::new();
    let mut file = fs
        .create(&dir.path().join("raw"))
        .unwrap_or_else(|e| panic!("bench set-up: {e}"));
    let record = value(&mut Rng::new(3), RECORD_LEN);
    let mut group = c.benchmark_group("wal/group_commit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_append_fsync", |b| {
        b.iter(|| {
            file.append(black_box(&record))
                .and_then(|()| file.sync())
                .unwrap_or_else(|e| panic!("bench: {e}"));
        });
    });
    group.finish();
}

/// Durable appends from `threads` threads at once under group commit.
fn group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal/group_commit");
    for threads in [1usize, 2, 4, 8] {
        let dir = temp_dir();
        // Counts fsyncs, to report how many appends shared each.
        let fs = FaultFs::new(StdFs::new());
        let wal = Arc::new(wal_on(
            Arc::new(fs.clone()),
            dir.path(),
            SyncPolicy::GroupCommit,
        ));
        let syncs_before = fs.count(Op::Sync);
        let mut appends = 0;
        let record = Arc::new(value(&mut Rng::new(4), RECORD_LEN));
        group.throughput(Throughput::Elements((threads * PER_THREAD) as u64));
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    std::thread::scope(|scope| {
                        for _ in 0..threads {
                            let (wal, record) = (&wal, &record);
                            scope.spawn(move || {
                                for _ in 0..PER_THREAD {
                                    wal.append(record).unwrap_or_else(|e| panic!("bench: {e}"));
                                }
                            });
                        }
                    });
                    total += start.elapsed();
                }
                appends += iters * (threads * PER_THREAD) as u64;
                total
            });
        });
        let syncs = fs.count(Op::Sync) - syncs_before;
        eprintln!(
            "group commit, {threads} threads: {appends} durable appends, {syncs} fsyncs ({:.1} appends per fsync)",
            appends as f64 / syncs.max(1) as f64
        );
    }
    group.finish();
}

criterion_group!(
    benches,
    append_no_sync,
    durable_append_latency,
    raw_fsync,
    group_commit
);
criterion_main!(benches);
