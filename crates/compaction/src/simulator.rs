//! A simulator of the tiered strategy: flushes and compactions of key sets,
//! without I/O, reporting write and space amplification.
//!
//! Each flush writes `flush_bytes / entry_bytes` keys, chosen by the
//! [`Workload`], as a new run (its distinct keys: a memtable keeps one
//! version per key when no snapshot is held). After each flush the
//! [`pick`]er is asked for compactions until it has none; a compaction
//! replaces its runs by the union of their keys (later versions replace
//! earlier ones; the simulation holds no snapshots and writes no
//! deletions). Sizes are `keys × entry_bytes`.
//!
//! - *Write amplification* is the bytes written (flushes and compaction
//!   outputs) over the bytes ingested.
//! - *Space amplification* is the bytes stored over the live bytes (one
//!   entry per distinct key written), at the steady states after each
//!   flush and each compaction. It does not count the transient space of a
//!   compaction whose inputs are not yet removed (up to the size of its
//!   output more).
//!
//! The bound the picker's rules give (see the [picker docs](crate::pick)):
//! once the picker has nothing more to do, the runs newer than the oldest
//! hold at most `p/100 × oldest + (trigger_runs - 2) × flush_bytes`, and the
//! oldest run holds only live keys, so stored bytes are at most
//! `(1 + p/100) × live + (trigger_runs - 2) × flush_bytes`.
//! `tests/simulator.rs` checks this after every flush, for each workload.

use std::collections::HashSet;

use lsmkit_sstable::SeqNo;

use crate::picker::{RunInfo, TieredOptions, pick};
use crate::{CompactionTask, Error};

/// How each write chooses its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Every write inserts a new key, larger than all before: no updates.
    Sequential,
    /// Every write updates a key drawn uniformly from `key_space` keys.
    Uniform {
        /// How many distinct keys there are.
        key_space: u64,
    },
    /// Hot-spot updates: `hot_writes_percent` of the writes go to the first
    /// `hot_keys_percent` of the `key_space` keys, the rest anywhere.
    Skewed {
        /// How many distinct keys there are.
        key_space: u64,
        /// The share of the keys that is hot, in percent.
        hot_keys_percent: u64,
        /// The share of the writes that go to the hot keys, in percent.
        hot_writes_percent: u64,
    },
}

/// What to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    /// How keys are chosen.
    pub workload: Workload,
    /// The number of flushes.
    pub flushes: u64,
    /// Bytes written between flushes (the memtable size).
    pub flush_bytes: u64,
    /// Bytes per entry (key and value); at least 1.
    pub entry_bytes: u64,
    /// Seeds the key choice: a simulation is reproducible.
    pub seed: u64,
    /// The strategy's options.
    pub options: TieredOptions,
}

/// What a simulation measured.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationReport {
    /// Bytes the workload wrote (`flushes × flush_bytes`, rounded down to
    /// whole entries).
    pub bytes_ingested: u64,
    /// Bytes written by flushes (distinct keys of each flush).
    pub bytes_flushed: u64,
    /// Bytes written by compactions.
    pub bytes_compacted: u64,
    /// `(bytes_flushed + bytes_compacted) / bytes_ingested`.
    pub write_amplification: f64,
    /// The largest `stored / live` seen at a steady state.
    pub max_space_amplification: f64,
    /// The most runs at once (right after a flush, before compacting).
    pub max_runs: usize,
    /// How many compactions ran.
    pub compactions: u64,
    /// Live bytes at the end.
    pub live_bytes: u64,
    /// Run sizes at the end, newest first.
    pub final_runs: Vec<u64>,
}

/// A run as the simulator holds it: its distinct keys, sorted.
#[derive(Clone, Debug)]
struct SimRun {
    keys: Vec<u64>,
    min_seqno: SeqNo,
    max_seqno: SeqNo,
}

/// A simulation in progress, for stepping one flush at a time and looking
/// at the runs in between; [`simulate`] runs one to the end.
#[derive(Clone, Debug)]
pub struct Simulator {
    config: Simulation,
    rng: SplitMix64,
    runs: Vec<SimRun>,
    /// Which keys were ever written, for the live size (no deletions).
    live: HashSet<u64>,
    next_seqno: SeqNo,
    sequential_next: u64,
    bytes_ingested: u64,
    bytes_flushed: u64,
    bytes_compacted: u64,
    max_space_amplification: f64,
    max_runs: usize,
    compactions: u64,
}

impl Simulator {
    /// A simulation of `config`, before its first flush. Fails on invalid
    /// options or an `entry_bytes` of 0.
    pub fn new(config: Simulation) -> Result<Simulator, Error> {
        config.options.validate()?;
        if config.entry_bytes == 0 {
            return Err(Error::InvalidOption {
                option: "entry_bytes",
                what: "must be at least 1",
            });
        }
        Ok(Simulator {
            rng: SplitMix64(config.seed),
            config,
            runs: Vec::new(),
            live: HashSet::new(),
            next_seqno: 1,
            sequential_next: 0,
            bytes_ingested: 0,
            bytes_flushed: 0,
            bytes_compacted: 0,
            max_space_amplification: 1.0,
            max_runs: 0,
            compactions: 0,
        })
    }

    /// One flush, then every compaction the picker asks for.
    pub fn flush(&mut self) -> Result<(), Error> {
        let entries = self.config.flush_bytes / self.config.entry_bytes;
        let mut keys: Vec<u64> = (0..entries).map(|_| self.next_key()).collect();
        keys.sort_unstable();
        keys.dedup();
        for &key in &keys {
            self.live.insert(key);
        }
        let run = SimRun {
            min_seqno: self.next_seqno,
            max_seqno: self.next_seqno + entries.max(1) - 1,
            keys,
        };
        self.next_seqno = run.max_seqno + 1;
        self.bytes_ingested += entries * self.config.entry_bytes;
        self.bytes_flushed += self.size(&run);
        self.runs.insert(0, run);
        self.max_runs = self.max_runs.max(self.runs.len());
        self.observe();
        while let Some(task) = pick(&self.config.options, &self.run_infos())? {
            self.compact(&task);
            self.observe();
        }
        Ok(())
    }

    /// The runs as the picker sees them, newest first.
    pub fn run_infos(&self) -> Vec<RunInfo> {
        self.runs
            .iter()
            .map(|r| RunInfo {
                size: self.size(r),
                min_seqno: r.min_seqno,
                max_seqno: r.max_seqno,
            })
            .collect()
    }

    /// Bytes stored in all runs.
    pub fn stored_bytes(&self) -> u64 {
        self.runs.iter().map(|r| self.size(r)).sum()
    }

    /// Bytes of the live data: one entry per key ever written.
    pub fn live_bytes(&self) -> u64 {
        self.live.len() as u64 * self.config.entry_bytes
    }

    /// What has been measured so far.
    pub fn report(&self) -> SimulationReport {
        let written = (self.bytes_flushed + self.bytes_compacted) as f64;
        SimulationReport {
            bytes_ingested: self.bytes_ingested,
            bytes_flushed: self.bytes_flushed,
            bytes_compacted: self.bytes_compacted,
            write_amplification: written / self.bytes_ingested.max(1) as f64,
            max_space_amplification: self.max_space_amplification,
            max_runs: self.max_runs,
            compactions: self.compactions,
            live_bytes: self.live_bytes(),
            final_runs: self.runs.iter().map(|r| self.size(r)).collect(),
        }
    }

    fn size(&self, run: &SimRun) -> u64 {
        run.keys.len() as u64 * self.config.entry_bytes
    }

    fn compact(&mut self, task: &CompactionTask) {
        let merged: Vec<SimRun> = self.runs.drain(task.runs.clone()).collect();
        let mut keys: Vec<u64> = merged.iter().flat_map(|r| r.keys.iter().copied()).collect();
        keys.sort_unstable();
        keys.dedup();
        let run = SimRun {
            keys,
            min_seqno: merged.iter().map(|r| r.min_seqno).min().unwrap_or(0),
            max_seqno: merged.iter().map(|r| r.max_seqno).max().unwrap_or(0),
        };
        self.bytes_compacted += self.size(&run);
        self.compactions += 1;
        self.runs.insert(task.runs.start, run);
    }

    fn observe(&mut self) {
        let live = self.live_bytes();
        if live > 0 {
            let amplification = self.stored_bytes() as f64 / live as f64;
            self.max_space_amplification = self.max_space_amplification.max(amplification);
        }
    }

    fn next_key(&mut self) -> u64 {
        match self.config.workload {
            Workload::Sequential => {
                self.sequential_next += 1;
                self.sequential_next
            }
            Workload::Uniform { key_space } => self.rng.below(key_space),
            Workload::Skewed {
                key_space,
                hot_keys_percent,
                hot_writes_percent,
            } => {
                let hot_keys = (key_space * hot_keys_percent.min(100) / 100).max(1);
                if self.rng.below(100) < hot_writes_percent {
                    self.rng.below(hot_keys)
                } else {
                    self.rng.below(key_space)
                }
            }
        }
    }
}

/// Runs `config` to the end.
///
/// ```
/// use lsmkit_compaction::{simulate, Simulation, TieredOptions, Workload};
///
/// let report = simulate(&Simulation {
///     workload: Workload::Uniform { key_space: 10_000 },
///     flushes: 200,
///     flush_bytes: 100 * 100,
///     entry_bytes: 100,
///     seed: 1,
///     options: TieredOptions::default(),
/// })?;
/// assert!(report.write_amplification >= 1.0);
/// assert!(report.max_runs <= 8);
/// # Ok::<(), lsmkit_compaction::Error>(())
/// ```
pub fn simulate(config: &Simulation) -> Result<SimulationReport, Error> {
    let mut simulator = Simulator::new(config.clone())?;
    for _ in 0..config.flushes {
        simulator.flush()?;
    }
    Ok(simulator.report())
}

/// SplitMix64: a small, seedable generator; a simulation needs
/// reproducible keys, not cryptographic ones.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound`, or 0 when `bound` is 0.
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}
