//! The workload runner against in-memory stores: what each workload leaves
//! behind matches a model, and an engine that loses or invents keys is
//! caught, not measured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lsmkit_cli::bench::{
    self, BenchConfig, BenchError, Engine, MARKER, MemStore, Progress, Store, StoreError,
    ValuePool, Write, key,
};

/// Opens views of one shared map, counting opens, so that the test sees
/// what the workloads left. Every open starts empty, as a fresh directory
/// would.
#[derive(Default)]
struct Shared {
    current: std::sync::Mutex<Option<Arc<MemStore>>>,
    opens: AtomicUsize,
    /// Keys whose writes this engine silently drops.
    lose: Option<Vec<u8>>,
}

struct View {
    map: Arc<MemStore>,
    lose: Option<Vec<u8>>,
}

impl Engine for Shared {
    type Store = View;
    fn name(&self) -> &str {
        "shared"
    }
    fn config(&self) -> String {
        String::new()
    }
    fn open(&self, _dir: &Path) -> Result<View, StoreError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        let map = Arc::new(MemStore::new());
        *self.current.lock().unwrap() = Some(Arc::clone(&map));
        Ok(View {
            map,
            lose: self.lose.clone(),
        })
    }
}

impl Shared {
    fn map(&self) -> Arc<MemStore> {
        self.current.lock().unwrap().clone().unwrap()
    }
}

impl Store for View {
    fn put(&self, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        if self.lose.as_deref() == Some(k) {
            return Ok(());
        }
        self.map.put(k, v)
    }
    fn put_sync(&self, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        self.put(k, v)
    }
    fn delete(&self, k: &[u8]) -> Result<(), StoreError> {
        self.map.delete(k)
    }
    fn write_batch(&self, writes: &[Write<'_>]) -> Result<(), StoreError> {
        let kept: Vec<Write<'_>> = writes
            .iter()
            .filter(|w| !matches!(w, Write::Put { key, .. } if self.lose.as_deref() == Some(*key)))
            .copied()
            .collect();
        self.map.write_batch(&kept)
    }
    fn get(&self, k: &[u8], v: &mut Vec<u8>) -> Result<bool, StoreError> {
        self.map.get(k, v)
    }
    fn merge_add(&self, k: &[u8], n: u64) -> Result<(), StoreError> {
        if self.lose.as_deref() == Some(k) {
            return Ok(());
        }
        self.map.merge_add(k, n)
    }
    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError> {
        self.map.scan(start, limit, visit)
    }
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn config(num: u64, workloads: &[&str]) -> BenchConfig {
    BenchConfig {
        num,
        workloads: workloads.iter().map(|w| w.parse().unwrap()).collect(),
        ..BenchConfig::default()
    }
}

/// Every (key, value) of the store.
fn contents(store: &MemStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut all = Vec::new();
    store
        .scan(b"", usize::MAX, &mut |k, v| {
            all.push((k.to_vec(), v.to_vec()))
        })
        .unwrap();
    all
}

#[test]
fn fills_write_every_key_once_with_the_pool_values() {
    for (workload, threads) in [("fillseq", 1), ("fillrandom", 1), ("fillrandom:3", 3)] {
        let engine = Shared::default();
        let dir = tempfile::tempdir().unwrap();
        let c = config(777, &[workload]);
        let report = bench::run(&engine, dir.path(), &c, Progress::Quiet).unwrap();
        assert_eq!(report.measurements[0].ops, 777);
        assert_eq!(report.measurements[0].threads, threads);
        let all = contents(&engine.map());
        assert_eq!(all.len(), 777, "{workload}");
        let pool = ValuePool::new(c.seed, c.value_size);
        assert!(all.iter().enumerate().all(|(i, (k, v))| {
            *k == key(i as u64, 16) && v.len() == 100 && pool_has(&pool, v)
        }));
    }
}

fn pool_has(pool: &ValuePool, value: &[u8]) -> bool {
    (0..20_000).any(|n| pool.get(n) == value)
}

#[test]
fn the_default_sequence_runs_checks_and_ends_with_synced_fills() {
    let engine = Shared::default();
    let dir = tempfile::tempdir().unwrap();
    let c = BenchConfig {
        num: 3000,
        ..BenchConfig::default()
    };
    let report = bench::run(&engine, dir.path(), &c, Progress::Quiet).unwrap();
    let names: Vec<&str> = report
        .measurements
        .iter()
        .map(|m| m.workload.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "fillseq",
            "fillrandom",
            "overwrite",
            "readrandom",
            "readmissing",
            "readseq",
            "seekrandom",
            "deleterandom",
            "fillsync",
            "fillsync:4"
        ]
    );
    let found = |i: usize| report.measurements[i].found;
    assert_eq!(found(3), Some(3000));
    assert_eq!(found(4), Some(0));
    assert_eq!(found(5), Some(3000));
    assert_eq!(report.measurements[8].ops, 100);
    assert_eq!(report.measurements[9].threads, 4);
    // fillseq, fillrandom, fillsync and fillsync:4 each start fresh.
    assert_eq!(engine.opens.load(Ordering::SeqCst), 4);
    // The last fill wrote 100 distinct keys into a fresh store.
    assert_eq!(engine.map().len(), 100);
    assert!(dir.path().join(MARKER).is_file());
}

#[test]
fn reads_after_deletes_reload_first() {
    let engine = Shared::default();
    let dir = tempfile::tempdir().unwrap();
    let c = config(500, &["readrandom", "deleterandom", "readseq:2"]);
    let report = bench::run(&engine, dir.path(), &c, Progress::Quiet).unwrap();
    assert_eq!(report.measurements[0].found, Some(500));
    assert_eq!(report.measurements[2].found, Some(500));
    assert_eq!(engine.map().len(), 500);
}

#[test]
fn counter_workloads_leave_counters_that_sum_to_the_increments() {
    let engine = Shared::default();
    let dir = tempfile::tempdir().unwrap();
    for workload in ["mergerandom", "readmodifywrite", "mergerandom:3"] {
        bench::run(
            &engine,
            dir.path(),
            &config(1000, &[workload]),
            Progress::Quiet,
        )
        .unwrap();
        let counters = contents(&engine.map());
        assert!(counters.len() <= 100 && counters.len() > 50, "{workload}");
        let sum: u64 = counters
            .iter()
            .map(|(_, v)| u64::from_le_bytes(v.as_slice().try_into().unwrap()))
            .sum();
        assert_eq!(sum, 1000, "{workload}");
    }
    // lsmkit-engine's merges, checked by the runner's read-back.
    let report = bench::run(
        &bench::LsmkitEngine::new(),
        dir.path(),
        &config(1000, &["mergerandom:2", "readmodifywrite"]),
        Progress::Quiet,
    )
    .unwrap();
    assert_eq!(report.measurements.len(), 2);
}

#[test]
fn deleterandom_removes_every_key() {
    let engine = Shared::default();
    let dir = tempfile::tempdir().unwrap();
    bench::run(
        &engine,
        dir.path(),
        &config(999, &["deleterandom:2"]),
        Progress::Quiet,
    )
    .unwrap();
    assert!(engine.map().is_empty());
}

#[test]
fn a_store_that_loses_a_key_is_caught() {
    for workload in [
        "readrandom",
        "readseq",
        "seekrandom",
        "mergerandom",
        "readmodifywrite",
    ] {
        let engine = Shared {
            lose: Some(key(0, 16)),
            ..Shared::default()
        };
        let dir = tempfile::tempdir().unwrap();
        // num 1: every read is of the lost key.
        let error = bench::run(
            &engine,
            dir.path(),
            &config(1, &[workload]),
            Progress::Quiet,
        )
        .unwrap_err();
        assert!(
            matches!(error, BenchError::WrongAnswer { .. }),
            "{workload}: {error}"
        );
    }
}

#[test]
fn a_directory_of_someone_elses_files_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let error = bench::run(
        &Shared::default(),
        dir.path(),
        &config(10, &["fillseq"]),
        Progress::Quiet,
    )
    .unwrap_err();
    assert!(matches!(error, BenchError::NotBenchDir { .. }), "{error}");
    assert_eq!(
        std::fs::read(dir.path().join("precious.txt")).unwrap(),
        b"keep me"
    );

    // A directory an earlier run marked is emptied and reused.
    let ours = tempfile::tempdir().unwrap();
    bench::run(
        &Shared::default(),
        ours.path(),
        &config(10, &["fillseq"]),
        Progress::Quiet,
    )
    .unwrap();
    std::fs::write(ours.path().join("leftover"), "x").unwrap();
    bench::run(
        &Shared::default(),
        ours.path(),
        &config(10, &["fillseq"]),
        Progress::Quiet,
    )
    .unwrap();
    assert!(!ours.path().join("leftover").exists());
}
