//! The metamorphic test: one seeded random operation log run under many
//! configurations, as Pebble's metamorphic test does. The log mixes puts,
//! deletes, range deletes and batches with point reads, range scans in
//! both directions, snapshots (taken, read, released), flushes, full
//! compactions, clean reopens and power losses on `MemFs` (after a WAL
//! sync, so that every configuration keeps the same writes). Each
//! configuration draws its block size, write buffer, bloom filter, block
//! cache, WAL sync policy, frozen-memtable limit, compaction trigger,
//! table size, manifest size and auto-compaction switch from a seed.
//!
//! Every answer of every configuration must equal the `BTreeMap` model's,
//! and the transcripts of all configurations (every answer, in order) must
//! be equal to each other.
//!
//! # Environment
//!
//! - `LSMKIT_METAMORPHIC_CONFIGS` (default 6): configurations, the first
//!   being the defaults with a small write buffer.
//! - `LSMKIT_METAMORPHIC_OPS` (default 500): operations in the log.
//! - `LSMKIT_METAMORPHIC_SEED` (default 0x3e7a): the seed of the log and
//!   of the configurations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use common::{DIR, Model, Rng, Write, apply, batch_of, env_number};
use lsmkit_engine::{
    CompactionStyle, Compression, Db, DbIter, Options, Snapshot, TieredOptions, WriteOptions,
};
use lsmkit_vfs::MemFs;

const KEYS: u64 = 64;
/// Snapshot slots an operation can take or read.
const SLOTS: u64 = 3;

fn key(i: u64) -> Vec<u8> {
    format!("k{i:03}").into_bytes()
}

/// One operation of the log.
#[derive(Clone, Debug)]
enum Op {
    Write {
        writes: Vec<Write>,
        durable: bool,
    },
    Get(Vec<u8>),
    Scan {
        range: Range<Vec<u8>>,
        reverse: bool,
    },
    TakeSnapshot(u64),
    SnapshotGet(u64, Vec<u8>),
    SnapshotScan {
        slot: u64,
        reverse: bool,
    },
    ReleaseSnapshot(u64),
    Flush,
    Compact,
    Reopen,
    /// Sync the WAL, then lose power.
    Crash,
}

fn random_range(rng: &mut Rng) -> Range<Vec<u8>> {
    let start = rng.below(KEYS);
    let end = (start + 1 + rng.below(12)).min(KEYS);
    key(start)..key(end)
}

fn random_write(rng: &mut Rng, op: usize, i: usize) -> Write {
    match rng.below(20) {
        0..=13 => {
            let pad = rng.below(120) as usize;
            Write::Put(
                key(rng.below(KEYS)),
                format!("v{op}.{i}-{}", "x".repeat(pad)).into_bytes(),
            )
        }
        14..=18 => Write::Delete(key(rng.below(KEYS))),
        _ => {
            let range = random_range(rng);
            Write::DeleteRange(range.start, range.end)
        }
    }
}

fn op_log(seed: u64, len: usize) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    (0..len)
        .map(|op| match rng.below(100) {
            0..=44 => {
                let n = if rng.chance(30) {
                    2 + rng.below(5) as usize
                } else {
                    1
                };
                Op::Write {
                    writes: (0..n).map(|i| random_write(&mut rng, op, i)).collect(),
                    durable: rng.chance(10),
                }
            }
            45..=59 => Op::Get(key(rng.below(KEYS))),
            60..=71 => Op::Scan {
                range: random_range(&mut rng),
                reverse: rng.chance(50),
            },
            72..=75 => Op::TakeSnapshot(rng.below(SLOTS)),
            76..=81 => Op::SnapshotGet(rng.below(SLOTS), key(rng.below(KEYS))),
            82..=85 => Op::SnapshotScan {
                slot: rng.below(SLOTS),
                reverse: rng.chance(50),
            },
            86..=87 => Op::ReleaseSnapshot(rng.below(SLOTS)),
            88..=92 => Op::Flush,
            93..=94 => Op::Compact,
            95..=97 => Op::Reopen,
            _ => Op::Crash,
        })
        .collect()
}

/// Configuration `n`: 0 is the defaults with a small write buffer; the
/// others are drawn from `seed`.
fn config(seed: u64, n: u64, fs: MemFs) -> (String, Options) {
    let base = Options::default()
        .fs(Arc::new(fs))
        .write_buffer_size(4 << 10);
    if n == 0 {
        return ("defaults, 4 KiB write buffer".into(), base);
    }
    let mut rng = Rng::new(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut pick = |choices: &[u64]| choices[rng.below(choices.len() as u64) as usize];
    let block_size = pick(&[64, 256, 1024, 4096]) as usize;
    let write_buffer = pick(&[512, 2048, 8192, 1 << 20]) as usize;
    let bloom = pick(&[0, 1, 10]) as u32;
    let cache = pick(&[0, 4 << 10, 8 << 20]);
    let sync = pick(&[0, 1]) == 1;
    let frozen = pick(&[1, 2, 4]) as usize;
    let trigger_runs = pick(&[2, 3, 4]) as usize;
    let target_file_size = pick(&[512, 4096, 1 << 20]);
    let manifest = pick(&[256, 4 << 20]);
    let auto = pick(&[0, 1, 1]) == 1;
    let codecs = [Compression::None, Compression::Lz4, Compression::Zstd];
    let codec = codecs[pick(&[0, 1, 2]) as usize];
    let bottom = codecs[pick(&[0, 1, 2]) as usize];
    let leveled = pick(&[0, 1]) == 1;
    let style = if leveled {
        CompactionStyle::Leveled
    } else {
        CompactionStyle::Tiered
    };
    let options = base
        .compression(codec)
        .bottommost_compression(bottom)
        .compaction_style(style)
        .block_size(block_size)
        .write_buffer_size(write_buffer)
        .bloom_bits_per_key(bloom)
        .block_cache_size(cache)
        .sync_writes(sync)
        .max_immutable_memtables(frozen)
        .compaction(TieredOptions {
            trigger_runs,
            target_file_size,
            ..TieredOptions::default()
        })
        .max_manifest_size(manifest)
        .auto_compaction(auto);
    let name = format!(
        "block {block_size}, write buffer {write_buffer}, bloom {bloom}, cache {cache}, \
         sync {sync}, frozen {frozen}, trigger {trigger_runs}, table {target_file_size}, \
         manifest {manifest}, auto compaction {auto}, compression {} (bottommost {}), \
         {style:?}",
        codec.name(),
        bottom.name()
    );
    (name, options)
}

fn collect(it: DbIter, reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let items: lsmkit_engine::Result<Vec<_>> = if reverse {
        it.rev().collect()
    } else {
        it.collect()
    };
    items.unwrap()
}

fn model_scan(model: &Model, range: &Range<Vec<u8>>, reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut items: Vec<_> = model
        .range(range.clone())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if reverse {
        items.reverse();
    }
    items
}

/// Runs `log` on a fresh `MemFs` under `options` (rebuilt for each reopen
/// by `make`), checking every answer against the model; returns the
/// transcript of answers.
fn run_log(log: &[Op], make: &dyn Fn(MemFs) -> Options, name: &str) -> Vec<String> {
    let mut fs = MemFs::new();
    let mut db = Some(Db::open(DIR, make(fs.clone())).unwrap());
    let mut model = Model::new();
    let mut snapshots: BTreeMap<u64, (Snapshot, Model)> = BTreeMap::new();
    let mut transcript = Vec::new();
    for (i, op) in log.iter().enumerate() {
        let context = format!("config [{name}], op {i} {op:?}");
        let d = db.as_ref().unwrap();
        let answer = match op {
            Op::Write { writes, durable } => {
                let how = if *durable {
                    WriteOptions::durable()
                } else {
                    WriteOptions::default()
                };
                d.write_with(batch_of(writes), how)
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                for w in writes {
                    apply(&mut model, w);
                }
                "ok".to_string()
            }
            Op::Get(k) => {
                let got = d.get(k).unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(got.as_ref(), model.get(k), "{context}");
                format!("{got:?}")
            }
            Op::Scan { range, reverse } => {
                let got = collect(d.range(range.clone()), *reverse);
                assert_eq!(got, model_scan(&model, range, *reverse), "{context}");
                format!("{got:?}")
            }
            Op::TakeSnapshot(slot) => {
                snapshots.insert(*slot, (d.snapshot(), model.clone()));
                "ok".to_string()
            }
            Op::SnapshotGet(slot, k) => match snapshots.get(slot) {
                Some((snapshot, then)) => {
                    let got = snapshot.get(k).unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(got.as_ref(), then.get(k), "{context}");
                    format!("{got:?}")
                }
                None => "none".to_string(),
            },
            Op::SnapshotScan { slot, reverse } => match snapshots.get(slot) {
                Some((snapshot, then)) => {
                    let got = collect(snapshot.iter(), *reverse);
                    let all = key(0)..key(KEYS);
                    assert_eq!(got, model_scan(then, &all, *reverse), "{context}");
                    format!("{got:?}")
                }
                None => "none".to_string(),
            },
            Op::ReleaseSnapshot(slot) => {
                snapshots.remove(slot);
                "ok".to_string()
            }
            Op::Flush => {
                d.flush().unwrap_or_else(|e| panic!("{context}: {e}"));
                "ok".to_string()
            }
            Op::Compact => {
                d.compact().unwrap_or_else(|e| panic!("{context}: {e}"));
                "ok".to_string()
            }
            Op::Reopen | Op::Crash => {
                // Snapshots do not outlive their database.
                snapshots.clear();
                let d = db.take().unwrap();
                if matches!(op, Op::Crash) {
                    d.sync_wal().unwrap_or_else(|e| panic!("{context}: {e}"));
                    fs = fs.crash_clone();
                    drop(d);
                } else {
                    d.close()
                        .unwrap_or_else(|e| panic!("{context}: close: {e}"));
                }
                db = Some(
                    Db::open(DIR, make(fs.clone()))
                        .unwrap_or_else(|e| panic!("{context}: reopen: {e}")),
                );
                let all = key(0)..key(KEYS);
                let got = collect(db.as_ref().unwrap().iter(), false);
                assert_eq!(got, model_scan(&model, &all, false), "{context}");
                format!("{} keys", got.len())
            }
        };
        transcript.push(answer);
    }
    db.unwrap().close().unwrap();
    transcript
}

#[test]
fn every_configuration_gives_the_models_answers() {
    let configs = env_number("LSMKIT_METAMORPHIC_CONFIGS", 6);
    let ops = env_number("LSMKIT_METAMORPHIC_OPS", 500) as usize;
    let seed = env_number("LSMKIT_METAMORPHIC_SEED", 0x3e7a);
    let log = op_log(seed, ops);
    let mut first: Option<(String, Vec<String>)> = None;
    for n in 0..configs {
        let (name, _) = config(seed, n, MemFs::new());
        let make = |fs: MemFs| config(seed, n, fs).1;
        let transcript = run_log(&log, &make, &format!("{n}: {name}, seed {seed:#x}"));
        match &first {
            None => first = Some((name, transcript)),
            Some((first_name, expected)) => {
                if let Some(i) = (0..ops).find(|&i| expected[i] != transcript[i]) {
                    panic!(
                        "config [{name}] answers op {i} {:?} with {}, config [{first_name}] with {}",
                        log[i], transcript[i], expected[i]
                    );
                }
            }
        }
    }
}
