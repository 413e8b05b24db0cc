//! What the crash, fault and kill tests share: a seeded generator of
//! write workloads, the history of the writes a database acknowledged, and
//! the check that a recovered database holds a prefix of that history.
//!
//! # The recovery check
//!
//! A workload records every batch it hands to the database, in order, with
//! whether it asked for durability and whether the call returned `Ok`. A
//! workload stops at its first failed write, so the history is acknowledged
//! batches followed by at most one failed one. After a crash, the
//! recovered database must equal the model after some prefix `p` of the
//! history — which rules out a partial batch, a resurrected key and a
//! reordering — and `p` must reach the last acknowledged durable batch.
//! Values carry the index of the batch that wrote them, so two prefixes
//! rarely look alike, and a match is found on contents, not assumed.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use lsmkit_engine::{
    CompactionStyle, Db, LeveledOptions, Options, TieredOptions, WriteBatch, WriteOptions,
};
use lsmkit_vfs::{Fs, MemFs};

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A small seeded generator (SplitMix64): the workloads are reproducible
/// from the seed a failure prints.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`. REQUIRES: `n > 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent / 100`.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One write of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
}

/// A batch handed to the database, and what became of it.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub writes: Vec<Write>,
    pub durable: bool,
    /// Whether the write call returned `Ok`.
    pub acked: bool,
}

/// The batches handed to a database, in the order they were written.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub attempts: Vec<Attempt>,
}

/// One step of a workload.
#[derive(Clone, Debug)]
pub enum Step {
    Write { writes: Vec<Write>, durable: bool },
    Flush,
    Compact,
}

/// How many distinct keys the workloads touch: few, so that versions,
/// tombstones and range deletes pile up over the same keys.
pub const KEYS: u64 = 48;

pub fn key(i: u64) -> Vec<u8> {
    format!("key{i:03}").into_bytes()
}

/// Every key a workload may write, for point reads after recovery.
pub fn all_keys() -> Vec<Vec<u8>> {
    (0..KEYS).map(key).collect()
}

/// A value naming the batch (`step`) that wrote it, padded so that small
/// write buffers fill after a few dozen writes.
fn value(rng: &mut Rng, step: usize, op: usize) -> Vec<u8> {
    let pad = rng.below(80) as usize;
    format!("v{step}.{op}-{}", "x".repeat(pad)).into_bytes()
}

fn random_write(rng: &mut Rng, step: usize, op: usize) -> Write {
    match rng.below(20) {
        0..=13 => Write::Put(key(rng.below(KEYS)), value(rng, step, op)),
        14..=18 => Write::Delete(key(rng.below(KEYS))),
        _ => {
            let start = rng.below(KEYS);
            let end = (start + 1 + rng.below(6)).min(KEYS);
            Write::DeleteRange(key(start), key(end))
        }
    }
}

/// A seeded workload of `len` steps: single writes and batches of up to
/// six, a fifth of them durable; with `maintenance`, an explicit flush or
/// a full compaction every so often.
pub fn workload(seed: u64, len: usize, maintenance: bool) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    (0..len)
        .map(|step| {
            if maintenance && rng.chance(4) {
                return if rng.chance(30) {
                    Step::Compact
                } else {
                    Step::Flush
                };
            }
            let n = if rng.chance(30) {
                2 + rng.below(5) as usize
            } else {
                1
            };
            let writes = (0..n).map(|op| random_write(&mut rng, step, op)).collect();
            Step::Write {
                writes,
                durable: rng.chance(20),
            }
        })
        .collect()
}

pub fn apply(model: &mut Model, write: &Write) {
    match write {
        Write::Put(k, v) => {
            model.insert(k.clone(), v.clone());
        }
        Write::Delete(k) => {
            model.remove(k);
        }
        Write::DeleteRange(a, b) => {
            if a < b {
                let doomed: Vec<_> = model
                    .range(a.clone()..b.clone())
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    model.remove(&k);
                }
            }
        }
    }
}

pub fn batch_of(writes: &[Write]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for write in writes {
        match write {
            Write::Put(k, v) => batch.put(k, v),
            Write::Delete(k) => batch.delete(k),
            Write::DeleteRange(a, b) => batch.delete_range(a.clone()..b.clone()),
        };
    }
    batch
}

/// Runs `steps` on `db` until the first error (returned), recording every
/// batch in `history`.
pub fn run(db: &Db, steps: &[Step], history: &mut History) -> lsmkit_engine::Result<()> {
    for step in steps {
        match step {
            Step::Write { writes, durable } => {
                let options = if *durable {
                    WriteOptions::durable()
                } else {
                    WriteOptions::buffered()
                };
                let result = db.write_with(batch_of(writes), options);
                history.attempts.push(Attempt {
                    writes: writes.clone(),
                    durable: *durable,
                    acked: result.is_ok(),
                });
                result?;
            }
            Step::Flush => db.flush()?,
            Step::Compact => db.compact()?,
        }
    }
    Ok(())
}

impl History {
    /// `states()[p]` is the model after the first `p` batches.
    pub fn states(&self) -> Vec<Model> {
        let mut model = Model::new();
        let mut states = vec![model.clone()];
        for attempt in &self.attempts {
            for write in &attempt.writes {
                apply(&mut model, write);
            }
            states.push(model.clone());
        }
        states
    }

    /// How many batches a recovery must keep: up to and including the last
    /// acknowledged durable one.
    pub fn durable_len(&self) -> usize {
        self.attempts
            .iter()
            .rposition(|a| a.durable && a.acked)
            .map_or(0, |i| i + 1)
    }

    /// How many batches were acknowledged: all but a failed last one.
    pub fn acked_len(&self) -> usize {
        self.attempts.iter().take_while(|a| a.acked).count()
    }
}

/// Every live entry of `db`, by a forward scan; checked against a reverse
/// scan.
pub fn contents(db: &Db) -> lsmkit_engine::Result<Model> {
    let forward: Vec<(Vec<u8>, Vec<u8>)> = db.iter().collect::<Result<_, _>>()?;
    let mut backward: Vec<(Vec<u8>, Vec<u8>)> = db.iter().rev().collect::<Result<_, _>>()?;
    backward.reverse();
    assert_eq!(forward, backward, "forward and reverse scans disagree");
    Ok(forward.into_iter().collect())
}

/// Checks that `db` holds the state after some prefix of `history` that
/// keeps every acknowledged durable batch, by a full scan and by a get of
/// every key; returns the prefix length. `context` (seed, crash point)
/// heads every failure message.
pub fn check_prefix(db: &Db, history: &History, context: &str) -> usize {
    check_prefix_from(db, history, history.durable_len(), context)
}

/// Like [`check_prefix`], with the shortest acceptable prefix given:
/// `durable` batches.
pub fn check_prefix_from(db: &Db, history: &History, durable: usize, context: &str) -> usize {
    let found = contents(db).unwrap_or_else(|e| panic!("{context}: scan after recovery: {e}"));
    let states = history.states();
    let Some(p) = (durable..states.len()).rev().find(|&p| states[p] == found) else {
        let older = (0..durable).rev().find(|&p| states[p] == found);
        panic!(
            "{context}: recovered state is no prefix of the history that keeps the {durable} \
             batches it must keep ({} batches written; matches prefix {older:?}); \
             recovered {} keys: {:?}",
            history.attempts.len(),
            found.len(),
            found
                .keys()
                .map(|k| String::from_utf8_lossy(k))
                .collect::<Vec<_>>()
        );
    };
    for k in all_keys() {
        let got = db
            .get(&k)
            .unwrap_or_else(|e| panic!("{context}: get after recovery: {e}"));
        assert_eq!(
            got.as_ref(),
            states[p].get(&k),
            "{context}: get({}) disagrees with the scan (prefix {p})",
            String::from_utf8_lossy(&k)
        );
    }
    p
}

pub const DIR: &str = "/db";

/// Options that make flushes, compactions and manifest rewrites happen
/// within a few hundred writes.
pub fn small_options(fs: Arc<dyn Fs>) -> Options {
    Options::default()
        .fs(fs)
        .write_buffer_size(2 << 10)
        .block_size(256)
        .compaction(TieredOptions {
            trigger_runs: 3,
            target_file_size: 1 << 10,
            ..TieredOptions::default()
        })
        .runs_triggers(6, 10)
        .max_manifest_size(600)
}

/// A number from environment variable `name`, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// Small memtables and tables, under either compaction style, on `fs`:
/// a few thousand writes make several runs or levels.
pub fn styled_options(fs: &MemFs, style: CompactionStyle) -> Options {
    Options::default()
        .fs(Arc::new(fs.clone()))
        .write_buffer_size(8 << 10)
        .block_size(512)
        .compaction(TieredOptions {
            trigger_runs: 4,
            target_file_size: 8 << 10,
            ..TieredOptions::default()
        })
        .leveled_compaction(LeveledOptions {
            l0_trigger: 2,
            num_levels: 4,
            size_ratio: 4,
            base_level_size: 32 << 10,
            target_file_size: 8 << 10,
        })
        .compaction_style(style)
}
