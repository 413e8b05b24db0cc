//! A simulator of the compaction strategies, tiered and leveled: flushes
//! and compactions of key sets, without I/O, reporting write, read and
//! space amplification, so that both can be compared on one workload.
//!
//! Each flush writes `flush_bytes / entry_bytes` keys, chosen by the
//! [`Workload`], as a new run (its distinct keys: a memtable keeps one
//! version per key when no snapshot is held). After each flush the
//! picker of the [`Policy`] ([`pick`] or [`pick_leveled`]) is asked for
//! compactions until it has none; a compaction replaces its inputs by the
//! union of their keys (later versions replace earlier ones; the
//! simulation holds no snapshots and writes no deletions), cut into tables
//! of `target_file_size` under the leveled policy (a
//! [trivial move](LeveledTask::is_trivial_move) moves its table without
//! writing). Sizes are
//! `keys × entry_bytes`; a key is its number, big-endian, for the leveled
//! picker's key ranges.
//!
//! - *Write amplification* is the bytes written (flushes and compaction
//!   outputs) over the bytes ingested.
//! - *Read amplification* is the sorted runs a point lookup consults:
//!   tiered, every run; leveled, every L0 run and one table per non-empty
//!   level. The report has the most, right after a flush.
//! - *Space amplification* is the bytes stored over the live bytes (one
//!   entry per distinct key written), at the steady states after each
//!   flush and each compaction. It does not count the transient space of a
//!   compaction whose inputs are not yet removed (up to the size of its
//!   output more).
//!
//! What the simulator measures for both policies on the same keys, flushes
//! of 1000 entries of 100 bytes, default options with the leveled sizes
//! scaled to the flush (a base level of 4 flushes, tables of one flush;
//! `cargo run --release -p lsmkit-compaction --example simulate` prints
//! it):
//!
//! | workload | flushes | policy | write-amp | max space-amp | max runs | compactions |
//! |---|---:|---|---:|---:|---:|---:|
//! | sequential | 100 | tiered | 3.07 | 1.00 | 8 | 24 |
//! | sequential | 100 | leveled | 2.00 | 1.00 | 6 | 164 |
//! | sequential | 1000 | tiered | 6.59 | 1.00 | 8 | 555 |
//! | sequential | 1000 | leveled | 2.00 | 1.00 | 7 | 2646 |
//! | uniform | 100 | tiered | 2.95 | 1.16 | 8 | 24 |
//! | uniform | 100 | leveled | 8.10 | 1.05 | 6 | 158 |
//! | uniform | 1000 | tiered | 4.73 | 1.98 | 8 | 496 |
//! | uniform | 1000 | leveled | 11.77 | 1.13 | 7 | 2105 |
//! | skewed 90/10 | 100 | tiered | 2.57 | 1.84 | 8 | 22 |
//! | skewed 90/10 | 100 | leveled | 5.60 | 1.21 | 6 | 108 |
//! | skewed 90/10 | 1000 | tiered | 3.27 | 2.19 | 8 | 372 |
//! | skewed 90/10 | 1000 | leveled | 7.59 | 1.21 | 7 | 1832 |
//!
//! Leveled trades write amplification on random updates (about 2.5× the
//! tiered policy's) for space (1.1 against up to 2.2 bytes stored per live
//! byte) and fewer runs per lookup (at most 4 L0 runs plus one per level,
//! and after its compactions 1 per non-empty level, against up to 8);
//! on sequential keys it writes less, as its tables move down untouched.
//!
//! The tiered bound below holds for the tiered policy.
//!
//! The bound the picker's rules give (see the [picker docs](crate::pick)):
//! once the picker has nothing more to do, the runs newer than the oldest
//! hold at most `p/100 × oldest + (trigger_runs - 2) × flush_bytes`, and the
//! oldest run holds only live keys, so stored bytes are at most
//! `(1 + p/100) × live + (trigger_runs - 2) × flush_bytes`.
//! `tests/simulator.rs` checks this after every flush, for each workload.

use std::collections::HashSet;

use lsmkit_sstable::SeqNo;

use crate::leveled::{LeveledOptions, LeveledTask, LevelsInfo, TableInfo, pick_leveled};
use crate::picker::{RunInfo, TieredOptions, pick};
use crate::{CompactionTask, Error};

/// Which strategy a simulation runs, with its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The tiered strategy ([`pick`]).
    Tiered(TieredOptions),
    /// The leveled strategy ([`pick_leveled`]).
    Leveled(LeveledOptions),
}

impl From<TieredOptions> for Policy {
    fn from(options: TieredOptions) -> Policy {
        Policy::Tiered(options)
    }
}

impl From<LeveledOptions> for Policy {
    fn from(options: LeveledOptions) -> Policy {
        Policy::Leveled(options)
    }
}

impl Policy {
    fn validate(&self) -> Result<(), Error> {
        match self {
            Policy::Tiered(options) => options.validate(),
            Policy::Leveled(options) => options.validate(),
        }
    }
}

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
    /// The strategy and its options.
    pub policy: Policy,
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
    /// The most sorted runs a lookup consulted at once (right after a
    /// flush, before compacting): read amplification. Leveled: L0 runs
    /// plus non-empty levels.
    pub max_runs: usize,
    /// How many compactions ran.
    pub compactions: u64,
    /// Live bytes at the end.
    pub live_bytes: u64,
    /// Run sizes at the end, newest first (leveled: the L0 runs, then
    /// each level's size, L1 first, empty levels included).
    pub final_runs: Vec<u64>,
}

/// A run as the simulator holds it: its distinct keys, sorted.
#[derive(Clone, Debug)]
struct SimRun {
    keys: Vec<u64>,
    min_seqno: SeqNo,
    max_seqno: SeqNo,
}

/// The tree being simulated.
#[derive(Clone, Debug)]
enum Tree {
    /// Sorted runs, newest first.
    Tiered(Vec<SimRun>),
    /// L0 runs, newest first, then `levels[k]`, level `k + 1`: tables in
    /// key order.
    Leveled {
        l0: Vec<SimRun>,
        levels: Vec<Vec<SimRun>>,
    },
}

/// A simulation in progress, for stepping one flush at a time and looking
/// at the runs in between; [`simulate`] runs one to the end.
#[derive(Clone, Debug)]
pub struct Simulator {
    config: Simulation,
    rng: SplitMix64,
    tree: Tree,
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
        config.policy.validate()?;
        if config.entry_bytes == 0 {
            return Err(Error::InvalidOption {
                option: "entry_bytes",
                what: "must be at least 1",
            });
        }
        let tree = match &config.policy {
            Policy::Tiered(_) => Tree::Tiered(Vec::new()),
            Policy::Leveled(options) => Tree::Leveled {
                l0: Vec::new(),
                levels: vec![Vec::new(); options.num_levels],
            },
        };
        Ok(Simulator {
            rng: SplitMix64(config.seed),
            config,
            tree,
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
        match &mut self.tree {
            Tree::Tiered(runs) => runs.insert(0, run),
            Tree::Leveled { l0, .. } => l0.insert(0, run),
        }
        self.max_runs = self.max_runs.max(self.read_amplification());
        self.observe();
        match self.config.policy.clone() {
            Policy::Tiered(options) => {
                while let Some(task) = pick(&options, &self.run_infos())? {
                    self.compact(&task);
                    self.observe();
                }
            }
            Policy::Leveled(options) => {
                while let Some(levels) = self.levels_info()
                    && let Some(task) = pick_leveled(&options, &levels)?
                {
                    self.compact_leveled(&options, &task);
                    self.observe();
                }
            }
        }
        Ok(())
    }

    /// The runs as a tiered picker sees them, newest first. Leveled: the
    /// L0 runs, then one per non-empty level (whose sequence numbers may
    /// overlap those of the levels above: a level is ordered by key).
    pub fn run_infos(&self) -> Vec<RunInfo> {
        let info = |runs: &[SimRun]| RunInfo {
            size: runs.iter().map(|r| self.size(r)).sum(),
            min_seqno: runs.iter().map(|r| r.min_seqno).min().unwrap_or(0),
            max_seqno: runs.iter().map(|r| r.max_seqno).max().unwrap_or(0),
        };
        match &self.tree {
            Tree::Tiered(runs) => runs.iter().map(|r| info(std::slice::from_ref(r))).collect(),
            Tree::Leveled { l0, levels } => l0
                .iter()
                .map(|r| info(std::slice::from_ref(r)))
                .chain(levels.iter().filter(|l| !l.is_empty()).map(|l| info(l)))
                .collect(),
        }
    }

    /// The tree as the leveled picker sees it; `None` for a tiered
    /// simulation.
    pub fn levels_info(&self) -> Option<LevelsInfo> {
        let Tree::Leveled { l0, levels } = &self.tree else {
            return None;
        };
        let table = |r: &SimRun| TableInfo {
            size: self.size(r),
            smallest: key_bytes(r.keys.first().copied().unwrap_or(0)),
            largest: key_bytes(r.keys.last().copied().unwrap_or(0)),
        };
        Some(LevelsInfo {
            l0: l0.iter().map(table).collect(),
            levels: levels
                .iter()
                .map(|level| level.iter().map(table).collect())
                .collect(),
        })
    }

    /// Every key stored, sorted, with repeats where several runs or
    /// levels hold one: what a model check compares with the keys written.
    pub fn stored_keys(&self) -> Vec<u64> {
        let mut keys: Vec<u64> = self
            .all_runs()
            .flat_map(|r| r.keys.iter().copied())
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Bytes stored in all runs.
    pub fn stored_bytes(&self) -> u64 {
        self.all_runs().map(|r| self.size(r)).sum()
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
            final_runs: match &self.tree {
                Tree::Tiered(runs) => runs.iter().map(|r| self.size(r)).collect(),
                Tree::Leveled { l0, levels } => l0
                    .iter()
                    .map(|r| self.size(r))
                    .chain(levels.iter().map(|l| l.iter().map(|r| self.size(r)).sum()))
                    .collect(),
            },
        }
    }

    /// Every run or table, in no particular order.
    fn all_runs(&self) -> Box<dyn Iterator<Item = &SimRun> + '_> {
        match &self.tree {
            Tree::Tiered(runs) => Box::new(runs.iter()),
            Tree::Leveled { l0, levels } => Box::new(l0.iter().chain(levels.iter().flatten())),
        }
    }

    /// Sorted runs a point lookup consults now.
    fn read_amplification(&self) -> usize {
        match &self.tree {
            Tree::Tiered(runs) => runs.len(),
            Tree::Leveled { l0, levels } => {
                l0.len() + levels.iter().filter(|l| !l.is_empty()).count()
            }
        }
    }

    fn size(&self, run: &SimRun) -> u64 {
        run.keys.len() as u64 * self.config.entry_bytes
    }

    fn compact(&mut self, task: &CompactionTask) {
        let Tree::Tiered(runs) = &mut self.tree else {
            return;
        };
        let merged: Vec<SimRun> = runs.drain(task.runs.clone()).collect();
        let run = merge(&merged);
        let size = run.keys.len() as u64 * self.config.entry_bytes;
        runs.insert(task.runs.start, run);
        self.bytes_compacted += size;
        self.compactions += 1;
    }

    fn compact_leveled(&mut self, options: &LeveledOptions, task: &LeveledTask) {
        let Tree::Leveled { l0, levels } = &mut self.tree else {
            return;
        };
        let mut inputs: Vec<SimRun> = if task.start_level == 0 {
            l0.drain(task.start_inputs.clone()).collect()
        } else {
            levels[task.start_level - 1]
                .drain(task.start_inputs.clone())
                .collect()
        };
        let output_level = &mut levels[task.output_level - 1];
        inputs.extend(output_level.drain(task.output_inputs.clone()));
        if task.is_trivial_move() {
            let at = task.output_inputs.start;
            output_level.splice(at..at, inputs);
            self.compactions += 1;
            return;
        }
        let merged = merge(&inputs);
        let per_table = (options.target_file_size / self.config.entry_bytes).max(1) as usize;
        let tables: Vec<SimRun> = merged
            .keys
            .chunks(per_table)
            .map(|keys| SimRun {
                keys: keys.to_vec(),
                min_seqno: merged.min_seqno,
                max_seqno: merged.max_seqno,
            })
            .collect();
        self.bytes_compacted += merged.keys.len() as u64 * self.config.entry_bytes;
        self.compactions += 1;
        let at = task.output_inputs.start;
        output_level.splice(at..at, tables);
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
///     policy: TieredOptions::default().into(),
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

/// The union of `runs`' keys as one run covering their sequence numbers.
fn merge(runs: &[SimRun]) -> SimRun {
    let mut keys: Vec<u64> = runs.iter().flat_map(|r| r.keys.iter().copied()).collect();
    keys.sort_unstable();
    keys.dedup();
    SimRun {
        keys,
        min_seqno: runs.iter().map(|r| r.min_seqno).min().unwrap_or(0),
        max_seqno: runs.iter().map(|r| r.max_seqno).max().unwrap_or(0),
    }
}

/// A simulated key as the user key the leveled picker compares: big-endian,
/// so that byte order is numeric order.
fn key_bytes(key: u64) -> Vec<u8> {
    key.to_be_bytes().to_vec()
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
