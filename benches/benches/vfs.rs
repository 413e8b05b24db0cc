//! lsmkit-vfs: the cost of the seam. Random 4 KiB positional reads of a
//! 16 MiB file through a memory map, through `pread`, and from `MemFs`; and
//! appending 1 MiB in 4 KiB pieces, then flushing, to `StdFs` and `MemFs`.
//!
//! ```sh
//! cargo bench -p lsmkit-benches --bench vfs -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lsmkit_benches::{Rng, value};
use lsmkit_vfs::{Fs, MemFs, StdFs};

const FILE_LEN: usize = 16 << 20;
const READ_LEN: usize = 4 << 10;
const READS: usize = 1024;
const APPEND_TOTAL: usize = 1 << 20;

fn fill(fs: &dyn Fs, path: &Path, data: &[u8]) {
    let mut file = fs
        .create(path)
        .unwrap_or_else(|e| panic!("bench set-up: {e}"));
    file.append(data)
        .and_then(|()| file.sync())
        .unwrap_or_else(|e| panic!("bench set-up: {e}"));
}

fn read_at(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("bench set-up: {e}"));
    let data = value(&mut Rng::new(7), FILE_LEN);
    let mut rng = Rng::new(42);
    let offsets: Vec<u64> = (0..READS)
        .map(|_| rng.below((FILE_LEN - READ_LEN) as u64))
        .collect();
    let mem = MemFs::new();
    let systems: [(&str, Box<dyn Fs>, &Path); 3] = [
        ("mmap", Box::new(StdFs::new()), dir.path()),
        ("pread", Box::new(StdFs::without_mmap()), dir.path()),
        ("memfs", Box::new(mem), Path::new("/")),
    ];
    let mut group = c.benchmark_group("vfs/read_at_4KiB");
    group.throughput(Throughput::Bytes((READS * READ_LEN) as u64));
    for (name, fs, root) in &systems {
        let path = root.join("file");
        fill(fs.as_ref(), &path, &data);
        let file = fs
            .open(&path)
            .unwrap_or_else(|e| panic!("bench set-up: {e}"));
        let mut buf = vec![0; READ_LEN];
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                for &offset in &offsets {
                    file.read_at(offset, &mut buf)
                        .unwrap_or_else(|e| panic!("read: {e}"));
                    black_box(&buf);
                }
            })
        });
    }
    group.finish();
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("bench set-up: {e}"));
    let piece = value(&mut Rng::new(9), READ_LEN);
    let systems: [(&str, Box<dyn Fs>, &Path); 2] = [
        ("stdfs", Box::new(StdFs::new()), dir.path()),
        ("memfs", Box::new(MemFs::new()), Path::new("/")),
    ];
    let mut group = c.benchmark_group("vfs/append_4KiB_then_flush");
    group.throughput(Throughput::Bytes(APPEND_TOTAL as u64));
    for (name, fs, root) in &systems {
        let path = root.join("log");
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut file = fs.create(&path).unwrap_or_else(|e| panic!("create: {e}"));
                for _ in 0..APPEND_TOTAL / READ_LEN {
                    file.append(&piece)
                        .unwrap_or_else(|e| panic!("append: {e}"));
                }
                file.flush().unwrap_or_else(|e| panic!("flush: {e}"));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, read_at, append);
criterion_main!(benches);
