//! [`run`]: the workloads, one after another, against one engine, each
//! timed per operation on its threads and checked for right answers.

use std::fs;
use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use hdrhistogram::Histogram;

use super::config::{BenchConfig, BenchError, check};
use super::data::{Permutation, Rng, ValuePool, key_into, missing_key_into};
use super::process;
use super::progress::{Progress, Ticker};
use super::report::{Measurement, Report};
use super::store::{Engine, Store, StoreError, Write, counter, read_modify_add};
use super::workload::{Workload, WorkloadSpec};

/// The file that marks a directory as a benchmark's own, whose contents a
/// run may delete.
pub const MARKER: &str = "LSMKIT_BENCH";

/// Runs `config`'s workloads against stores `engine` opens in `dir`,
/// reporting progress as `progress` says.
///
/// The run starts from an empty database, and so does every fill
/// workload (`fill*`): `dir`'s contents are deleted then. So `dir` must be
/// empty, missing, or a directory an earlier run marked as its own (with a
/// [`MARKER`] file); anything else is refused with
/// [`BenchError::NotBenchDir`]. A workload that needs keys `0..num` and
/// follows one that did not leave them (the first workload, say, or one
/// after `deleterandom`) loads them first, untimed.
pub fn run<E: Engine>(
    engine: &E,
    dir: &Path,
    config: &BenchConfig,
    progress: Progress,
) -> Result<Report, BenchError> {
    check(config)?;
    let values = ValuePool::new(config.seed, config.value_size);
    let mut store = Some(open_fresh(engine, dir)?);
    let mut loaded = false;
    let mut measurements = Vec::new();
    for (ordinal, spec) in config.workloads.iter().enumerate() {
        let workload = spec.workload;
        if workload.fresh() && ordinal > 0 {
            drop(store.take());
            store = Some(open_fresh(engine, dir)?);
            loaded = false;
        }
        let Some(db) = store.as_ref() else {
            unreachable!("a store is open between workloads")
        };
        if workload.needs_keys() && !loaded {
            load(db, config, &values, progress)?;
        }
        if config.cold && !workload.writes() {
            drop(store.take());
            let files = process::drop_page_cache(dir).map_err(|source| BenchError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            progress.note(&format!("{spec}: dropped the page cache of {files} files"));
            store = Some(engine.open(dir).map_err(|source| BenchError::Store {
                workload: format!("{spec}: reopen"),
                source,
            })?);
        }
        let Some(db) = store.as_ref() else {
            unreachable!("a store is open between workloads")
        };
        let run = Run {
            spec: *spec,
            threads: spec.threads.unwrap_or(config.threads),
            config,
            values: &values,
            permutation: Permutation::new(config.num, stream_seed(config.seed, ordinal, 0)),
            ordinal,
        };
        measurements.push(run.measure(db, dir, progress)?);
        loaded = workload.leaves_keys(loaded);
    }
    Ok(Report {
        engine: engine.name().to_string(),
        engine_config: engine.config(),
        num: config.num,
        key_size: config.key_size,
        value_size: config.value_size,
        seed: config.seed,
        measurements,
    })
}

/// Empties `dir` (after checking it is the benchmark's own), marks it, and
/// opens a store in it.
fn open_fresh<E: Engine>(engine: &E, dir: &Path) -> Result<E::Store, BenchError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BenchError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    if !entries.is_empty() && !dir.join(MARKER).is_file() {
        return Err(BenchError::NotBenchDir {
            dir: dir.to_path_buf(),
        });
    }
    for entry in entries {
        let path = entry.path();
        let removed = if entry.file_type().map_err(io(&path))?.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.map_err(io(&path))?;
    }
    let marker = dir.join(MARKER);
    fs::write(
        &marker,
        "made by lsmkit bench: its contents are deleted by the next run\n",
    )
    .map_err(io(&marker))?;
    engine.open(dir).map_err(|source| BenchError::Store {
        workload: "open".to_string(),
        source,
    })
}

/// Writes keys `0..num` in batches, in key order, and flushes: untimed.
fn load<S: Store>(
    store: &S,
    config: &BenchConfig,
    values: &ValuePool,
    progress: Progress,
) -> Result<(), BenchError> {
    const BATCH: u64 = 1000;
    let error = |source| BenchError::Store {
        workload: "load".to_string(),
        source,
    };
    let ticker = progress.start("load", config.num);
    let mut keys = vec![Vec::new(); BATCH as usize];
    let mut start = 0;
    while start < config.num {
        let end = (start + BATCH).min(config.num);
        for (i, key) in (start..end).zip(keys.iter_mut()) {
            key_into(i, config.key_size, key);
        }
        let writes: Vec<Write<'_>> = (start..end)
            .zip(&keys)
            .map(|(i, key)| Write::Put {
                key,
                value: values.get(i),
            })
            .collect();
        store.write_batch(&writes).map_err(error)?;
        ticker.inc(end - start);
        start = end;
    }
    store.flush().map_err(error)?;
    ticker.finish(&format!("{} keys loaded", config.num));
    Ok(())
}

/// A seed for one stream of random choices: per workload and thread.
fn stream_seed(seed: u64, ordinal: usize, thread: usize) -> u64 {
    let mut rng = Rng::new(seed ^ ((ordinal as u64) << 32) ^ thread as u64);
    rng.next_u64()
}

/// One workload's run.
struct Run<'a> {
    spec: WorkloadSpec,
    threads: usize,
    config: &'a BenchConfig,
    values: &'a ValuePool,
    permutation: Permutation,
    ordinal: usize,
}

/// What one thread measured.
struct Share {
    latencies: Histogram<u64>,
    /// Operations done (entries visited, for `readseq`).
    ops: u64,
    /// Bytes of keys and values moved.
    bytes: u64,
    /// Keys found (reads) or entries visited (scans).
    found: u64,
    /// What `found` must be if the engine is right, where it is known.
    expected: Option<u64>,
}

impl Run<'_> {
    fn measure<S: Store>(
        &self,
        store: &S,
        dir: &Path,
        progress: Progress,
    ) -> Result<Measurement, BenchError> {
        let workload = self.spec.workload;
        let label = self.spec.to_string();
        let store_error = |source| BenchError::Store {
            workload: label.clone(),
            source,
        };
        let ops = self.config.ops(workload);
        let ticker = progress.start(&label, ops);
        let state_before = store.state();
        process::reset_peak_memory();
        let written_before = process::bytes_written();
        let steal_before = process::cpu_steal_micros();
        let sampler = process::PeakSampler::start();

        let started = Instant::now();
        let shares: Vec<Result<Share, StoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..self.threads)
                .map(|t| {
                    let range = share(ops, self.threads, t);
                    let ticker = &ticker;
                    scope.spawn(move || self.run_share(store, range, t, ticker))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(share) => share,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        let seconds = started.elapsed().as_secs_f64();
        let shares: Vec<Share> = shares
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(store_error)?;

        if workload.writes() {
            store.flush().map_err(store_error)?;
        }
        if workload.counts() {
            self.check_counters(store, ops)?;
        }
        let written = match (written_before, process::bytes_written()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        let state_after = store.state();
        let steal_micros = steal_before
            .zip(process::cpu_steal_micros())
            .map(|(before, after)| after.saturating_sub(before));
        let peak_memory_bytes = sampler.stop();
        let peak_rss_bytes = process::peak_memory();
        let disk_bytes = process::disk_usage(dir).ok();

        let mut latencies =
            histogram().map_err(|e| BenchError::Config(format!("latency histogram: {e}")))?;
        let (mut done, mut bytes, mut found, mut expected) = (0, 0, 0, Some(0));
        for share in &shares {
            latencies
                .add(&share.latencies)
                .map_err(|e| BenchError::Config(format!("latency histogram: {e}")))?;
            done += share.ops;
            bytes += share.bytes;
            found += share.found;
            expected = expected.zip(share.expected).map(|(a, b)| a + b);
        }
        if let Some(expected) = expected
            && found != expected
        {
            return Err(BenchError::WrongAnswer {
                workload: label,
                what: format!("expected {expected} keys or entries, found {found}"),
            });
        }
        let reads = !workload.writes();
        let per_second = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
        let micros = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
        let measurement = Measurement {
            workload: label,
            threads: self.threads,
            ops: done,
            seconds,
            ops_per_sec: per_second(done as f64),
            micros_mean: latencies.mean() / 1000.0,
            micros_p50: micros(0.5),
            micros_p99: micros(0.99),
            micros_p999: micros(0.999),
            mb_per_sec: per_second(bytes as f64) / 1e6,
            write_amplification: written
                .filter(|_| workload.writes() && bytes > 0)
                .map(|w| w as f64 / bytes as f64),
            disk_bytes,
            peak_memory_bytes,
            peak_rss_bytes,
            found: reads.then_some(found),
            micros_max: latencies.max() as f64 / 1000.0,
            sorted_runs: state_before.map(|s| s.sorted_runs),
            tables: state_before.map(|s| s.tables),
            compactions: state_before
                .zip(state_after)
                .map(|(b, a)| a.compactions.saturating_sub(b.compactions)),
            stall_micros: state_before
                .zip(state_after)
                .map(|(b, a)| a.stall_micros.saturating_sub(b.stall_micros)),
            steal_micros,
        };
        ticker.finish(&format!(
            "{} ops in {:.2} s, {:.0} ops/s",
            measurement.ops, seconds, measurement.ops_per_sec
        ));
        Ok(measurement)
    }

    /// How many counters the counter workloads increment.
    fn counters(&self) -> u64 {
        (self.config.num / 10).max(1)
    }

    /// Reads every counter back (untimed): their sum is the `ops`
    /// increments made, or at most that where read-modify-writes on more
    /// than one thread may have lost some to races.
    fn check_counters<S: Store>(&self, store: &S, ops: u64) -> Result<(), BenchError> {
        let label = self.spec.to_string();
        let mut key = Vec::with_capacity(self.config.key_size);
        let mut value = Vec::with_capacity(8);
        let mut sum: u64 = 0;
        for i in 0..self.counters() {
            key_into(i, self.config.key_size, &mut key);
            let found = store
                .get(&key, &mut value)
                .and_then(|found| if found { counter(&value) } else { Ok(0) });
            let n = found.map_err(|source| BenchError::Store {
                workload: label.clone(),
                source,
            })?;
            sum = sum.wrapping_add(n);
        }
        let racy = self.spec.workload == Workload::ReadModifyWrite && self.threads > 1;
        if sum == ops || (racy && sum < ops) {
            return Ok(());
        }
        Err(BenchError::WrongAnswer {
            workload: label,
            what: format!("{ops} increments made, the counters sum to {sum}"),
        })
    }

    /// Runs operations `range` of the workload on this thread.
    fn run_share<S: Store>(
        &self,
        store: &S,
        range: Range<u64>,
        thread: usize,
        ticker: &Ticker,
    ) -> Result<Share, StoreError> {
        let num = self.config.num;
        let key_size = self.config.key_size;
        let mut rng = Rng::new(stream_seed(self.config.seed, self.ordinal, thread + 1));
        let mut key = Vec::with_capacity(key_size);
        let mut value = Vec::with_capacity(self.config.value_size);
        let mut share = Share {
            latencies: histogram().map_err(StoreError::new)?,
            ops: 0,
            bytes: 0,
            found: 0,
            expected: None,
        };
        let value_len = self.values.value_len() as u64;
        let key_len = key_size as u64;
        let mut last = Instant::now();
        let mut record = |share: &mut Share| {
            let now = Instant::now();
            share
                .latencies
                .saturating_record(now.duration_since(last).as_nanos() as u64);
            last = now;
            share.ops += 1;
            if share.ops.is_multiple_of(Ticker::EVERY) {
                ticker.inc(Ticker::EVERY);
            }
        };

        match self.spec.workload {
            Workload::ReadSeq => {
                key_into(range.start, key_size, &mut key);
                let limit = (range.end - range.start) as usize;
                store.scan(&key, limit, &mut |k, v| {
                    share.bytes += (k.len() + v.len()) as u64;
                    record(&mut share);
                })?;
                share.found = share.ops;
                share.expected = Some(range.end - range.start);
            }
            workload => {
                let mut expected = 0;
                for i in range {
                    match workload {
                        Workload::FillSeq => {
                            key_into(i, key_size, &mut key);
                            store.put(&key, self.values.get(i))?;
                        }
                        Workload::FillRandom => {
                            key_into(self.permutation.get(i), key_size, &mut key);
                            store.put(&key, self.values.get(i))?;
                        }
                        Workload::Overwrite => {
                            key_into(rng.below(num), key_size, &mut key);
                            store.put(&key, self.values.get(i + num))?;
                        }
                        Workload::FillSync => {
                            key_into(self.permutation.get(i), key_size, &mut key);
                            store.put_sync(&key, self.values.get(i))?;
                        }
                        Workload::DeleteRandom => {
                            key_into(self.permutation.get(i), key_size, &mut key);
                            store.delete(&key)?;
                        }
                        Workload::ReadRandom => {
                            key_into(rng.below(num), key_size, &mut key);
                            if store.get(&key, &mut value)? {
                                share.found += 1;
                                share.bytes += value.len() as u64;
                            }
                            expected += 1;
                        }
                        Workload::ReadMissing => {
                            missing_key_into(rng.below(num), key_size, &mut key);
                            share.found += u64::from(store.get(&key, &mut value)?);
                        }
                        Workload::SeekRandom => {
                            let k = rng.below(num);
                            key_into(k, key_size, &mut key);
                            share.found += store.scan(&key, 11, &mut |k, v| {
                                share.bytes += (k.len() + v.len()) as u64;
                            })? as u64;
                            expected += (num - k).min(11);
                        }
                        Workload::MergeRandom => {
                            key_into(rng.below(self.counters()), key_size, &mut key);
                            store.merge_add(&key, 1)?;
                        }
                        Workload::ReadModifyWrite => {
                            key_into(rng.below(self.counters()), key_size, &mut key);
                            read_modify_add(store, &key, 1)?;
                        }
                        Workload::ReadSeq => unreachable!("scanned above"),
                    }
                    share.bytes += match workload {
                        Workload::DeleteRandom | Workload::ReadRandom | Workload::ReadMissing => {
                            key_len
                        }
                        Workload::MergeRandom | Workload::ReadModifyWrite => key_len + 8,
                        Workload::SeekRandom => 0,
                        _ => key_len + value_len,
                    };
                    record(&mut share);
                }
                share.expected = match workload {
                    Workload::ReadRandom | Workload::SeekRandom => Some(expected),
                    Workload::ReadMissing => Some(0),
                    _ => None,
                };
            }
        }
        ticker.inc(share.ops % Ticker::EVERY);
        Ok(share)
    }
}

/// A histogram of latencies in nanoseconds, from 1 ns to 1000 s at three
/// significant digits; longer ones saturate.
fn histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, 1_000_000_000_000, 3)
}

/// Operations `[t * ops / threads, (t + 1) * ops / threads)`: thread `t`'s
/// share.
fn share(ops: u64, threads: usize, t: usize) -> Range<u64> {
    let part = |t: usize| (u128::from(ops) * t as u128 / threads as u128) as u64;
    part(t)..part(t + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_tile_the_operations() {
        for (ops, threads) in [(10, 3), (1, 4), (1000, 1), (7, 7)] {
            let ranges: Vec<_> = (0..threads).map(|t| share(ops, threads, t)).collect();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[threads - 1].end, ops);
            assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        }
    }
}
