//! The metamorphic test: one seeded random operation log run under many
//! configurations, as Pebble's metamorphic test does. The log mixes puts,
//! deletes, range deletes, merge operands (`Db::merge` and in batches) and
//! batches with point reads, range scans in both directions, snapshots
//! (taken, read, released), read-only opens beside the writer, ingestion
//! of external tables, checkpoints (opened and read), flushes, full
//! compactions, clean reopens and power losses on `MemFs` (after a WAL
//! sync, so that every configuration keeps the same writes). Every
//! configuration merges with the same `ListAppend` operator, which the
//! model applies. Each configuration draws its block size, write buffer,
//! bloom filter, block cache, WAL sync policy, frozen-memtable limit,
//! compaction trigger, table size, manifest size, auto-compaction switch,
//! codecs, compaction style and whether hard links fail (a `FaultFs`, so
//! that ingestion and checkpoints copy instead of linking) from a seed.
//! Every configuration also has a second keyspace, `side`, with a codec,
//! compaction style, bloom filter and write buffer of its own: batches
//! write across it and the default keyspace, and every full check
//! (reopen, power loss, read-only open, checkpoint) reads both.
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
//! - `LSMKIT_METAMORPHIC_SEED` (decimal; default 0x3e7a, that is 15994):
//!   the seed of the log and of the configurations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use common::{DIR, Model, Rng, Write, apply, batch_of, env_number, merge_operator};
use lsmkit_engine::{
    CompactionStyle, Compression, Db, DbIter, Error, KeyspaceOptions, Options, Snapshot,
    TieredOptions, WriteOptions,
};
use lsmkit_sstable::{RangeTombstone, SstOptions, SstWriter};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Op as FsOp, Rule};

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
    /// `Db::merge` of one operand.
    Merge(Vec<u8>, Vec<u8>),
    /// Opens the directory read-only beside the writer, reads every key
    /// in `keys` and scans it all both ways.
    ReadOnly {
        keys: Vec<Vec<u8>>,
    },
    /// Writes an external table (sequence number 0, one version of each
    /// key, in key order: a value or a point tombstone) with a range
    /// tombstone over its whole span or not, and ingests it.
    Ingest {
        entries: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        tombstone: bool,
    },
    /// Checkpoints into a fresh directory, then opens the copy and scans it.
    Checkpoint,
    Flush,
    Compact,
    Reopen,
    /// Sync the WAL, then lose power.
    Crash,
    /// A batch across the default keyspace (`false`) and the `side` one
    /// (`true`).
    SideWrite {
        writes: Vec<(bool, Write)>,
        durable: bool,
    },
    SideGet(Vec<u8>),
    SideScan {
        range: Range<Vec<u8>>,
        reverse: bool,
    },
}

/// The second keyspace every configuration has, with options of its own.
const SIDE: &str = "side";

fn random_range(rng: &mut Rng) -> Range<Vec<u8>> {
    let start = rng.below(KEYS);
    let end = (start + 1 + rng.below(12)).min(KEYS);
    key(start)..key(end)
}

fn operand(op: usize, i: usize) -> Vec<u8> {
    format!("m{op}.{i}").into_bytes()
}

fn random_write(rng: &mut Rng, op: usize, i: usize) -> Write {
    if rng.chance(25) {
        return Write::Merge(key(rng.below(KEYS)), operand(op, i));
    }
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

/// A contiguous span of up to 8 keys, each a value, a point tombstone or
/// absent; never empty, since an empty file is skipped, not ingested.
fn random_ingest(rng: &mut Rng, op: usize) -> Op {
    let start = rng.below(KEYS);
    let end = (start + 1 + rng.below(8)).min(KEYS);
    let mut entries: Vec<_> = (start..end)
        .filter_map(|k| {
            if rng.chance(30) {
                return None;
            }
            let value = (!rng.chance(25)).then(|| format!("i{op}.{k}").into_bytes());
            Some((key(k), value))
        })
        .collect();
    if entries.is_empty() {
        entries.push((key(start), Some(format!("i{op}.{start}").into_bytes())));
    }
    Op::Ingest {
        entries,
        tombstone: rng.chance(25),
    }
}

fn op_log(seed: u64, len: usize) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    (0..len)
        .map(|op| match rng.below(100) {
            0..=39 => {
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
            40..=43 => Op::Merge(key(rng.below(KEYS)), operand(op, 0)),
            44..=52 => Op::Get(key(rng.below(KEYS))),
            53..=54 => {
                let n = 1 + rng.below(4) as usize;
                Op::SideWrite {
                    writes: (0..n)
                        .map(|i| (rng.chance(70), random_write(&mut rng, op, i)))
                        .collect(),
                    durable: rng.chance(10),
                }
            }
            55 => Op::SideGet(key(rng.below(KEYS))),
            56 => Op::SideScan {
                range: random_range(&mut rng),
                reverse: rng.chance(50),
            },
            57..=66 => Op::Scan {
                range: random_range(&mut rng),
                reverse: rng.chance(50),
            },
            67..=70 => Op::TakeSnapshot(rng.below(SLOTS)),
            71..=75 => Op::SnapshotGet(rng.below(SLOTS), key(rng.below(KEYS))),
            76..=79 => Op::SnapshotScan {
                slot: rng.below(SLOTS),
                reverse: rng.chance(50),
            },
            80..=81 => Op::ReleaseSnapshot(rng.below(SLOTS)),
            82..=85 => Op::Flush,
            86..=87 => Op::Compact,
            88..=90 => random_ingest(&mut rng, op),
            91..=92 => Op::ReadOnly {
                keys: (0..4).map(|_| key(rng.below(KEYS))).collect(),
            },
            93 => Op::Checkpoint,
            94..=96 => Op::Reopen,
            _ => Op::Crash,
        })
        .collect()
}

/// One configuration: options without a filesystem, and whether hard
/// links fail on it.
struct Config {
    name: String,
    options: Options,
    /// The `side` keyspace's own options.
    side: KeyspaceOptions,
    links_fail: bool,
}

impl Config {
    /// The options on `fs`, behind a `FaultFs` that fails every hard link
    /// if the configuration says so.
    fn on(&self, fs: &MemFs) -> Options {
        let fs: Arc<dyn Fs> = if self.links_fail {
            let faulty = FaultFs::new(fs.clone());
            faulty.add(Rule::on(FsOp::HardLink));
            Arc::new(faulty)
        } else {
            Arc::new(fs.clone())
        };
        self.options
            .clone()
            .fs(fs)
            .keyspace(SIDE, self.side.clone())
    }
}

/// Configuration `n`: 0 is the defaults with a small write buffer; the
/// others are drawn from `seed`. All merge with the same operator.
fn config(seed: u64, n: u64) -> Config {
    let base = Options::default()
        .merge_operator(merge_operator())
        .write_buffer_size(4 << 10);
    if n == 0 {
        return Config {
            name: "defaults, 4 KiB write buffer".into(),
            options: base,
            side: KeyspaceOptions::default(),
            links_fail: false,
        };
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
    let links_fail = pick(&[0, 1]) == 1;
    let side_codec = codecs[pick(&[0, 1, 2]) as usize];
    let side_leveled = pick(&[0, 1]) == 1;
    let side_bloom = pick(&[0, 10]) as u32;
    let side_buffer = pick(&[512, 4096, 1 << 20]) as usize;
    let subcompactions = pick(&[1, 1, 3]) as usize;
    let jobs = pick(&[2, 3]) as usize;
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
        .max_subcompactions(subcompactions)
        .max_background_jobs(jobs)
        .auto_compaction(auto);
    let side = KeyspaceOptions::default()
        .compression(side_codec)
        .compaction_style(if side_leveled {
            CompactionStyle::Leveled
        } else {
            CompactionStyle::Tiered
        })
        .bloom_bits_per_key(side_bloom)
        .write_buffer_size(side_buffer);
    let name = format!(
        "block {block_size}, write buffer {write_buffer}, bloom {bloom}, cache {cache}, \
         sync {sync}, frozen {frozen}, trigger {trigger_runs}, table {target_file_size}, \
         manifest {manifest}, auto compaction {auto}, compression {} (bottommost {}), \
         {style:?}, subcompactions {subcompactions}, background jobs {jobs}, links fail {links_fail}; \
         keyspace side: {}, leveled {side_leveled}, \
         bloom {side_bloom}, write buffer {side_buffer}",
        codec.name(),
        bottom.name(),
        side_codec.name()
    );
    Config {
        name,
        options,
        side,
        links_fail,
    }
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

/// Scans all of `db` both ways against `model`, and its `side` keyspace
/// against `side`; returns the answer for the transcript.
fn check_all(db: &Db, model: &Model, side: &Model, context: &str) -> String {
    let all = key(0)..key(KEYS);
    let forward = collect(db.iter(), false);
    assert_eq!(forward, model_scan(model, &all, false), "{context}");
    let reverse = collect(db.iter(), true);
    assert_eq!(reverse, model_scan(model, &all, true), "{context}: reverse");
    let keyspace = db
        .keyspace(SIDE)
        .unwrap_or_else(|e| panic!("{context}: {e}"));
    let side_forward = collect(keyspace.iter(), false);
    assert_eq!(
        side_forward,
        model_scan(side, &all, false),
        "{context}: side"
    );
    let side_reverse = collect(keyspace.iter(), true);
    assert_eq!(
        side_reverse,
        model_scan(side, &all, true),
        "{context}: side, reverse"
    );
    format!("{} keys, {} in side", forward.len(), side_forward.len())
}

/// Writes the external table of an `Op::Ingest` at `path` on `fs`, and
/// applies it to `model` as one write newer than all before: the
/// tombstone deletes older data in its span, not the file's own entries.
fn write_external(
    fs: &MemFs,
    path: &str,
    entries: &[(Vec<u8>, Option<Vec<u8>>)],
    tombstone: bool,
    model: &mut Model,
) {
    let fs: Arc<dyn Fs> = Arc::new(fs.clone());
    fs.create_dir_all(std::path::Path::new(path).parent().unwrap())
        .unwrap();
    let mut writer = SstWriter::create(fs, path, SstOptions::default()).unwrap();
    for (k, value) in entries {
        match value {
            Some(v) => writer.put(k, 0, v).unwrap(),
            None => writer.delete(k, 0).unwrap(),
        }
    }
    let (first, last) = (&entries[0].0, &entries[entries.len() - 1].0);
    // Just past the last key, so that the span covers it.
    let end = [last.as_slice(), b"\0"].concat();
    if tombstone {
        writer
            .add_range_tombstone(&RangeTombstone::new(first.clone(), end.clone(), 0))
            .unwrap();
        apply(model, &Write::DeleteRange(first.clone(), end));
    }
    writer.finish().unwrap();
    for (k, value) in entries {
        match value {
            Some(v) => apply(model, &Write::Put(k.clone(), v.clone())),
            None => apply(model, &Write::Delete(k.clone())),
        }
    }
}

/// Runs `log` on a fresh `MemFs` under `config`, checking every answer
/// against the model; returns the transcript of answers.
fn run_log(log: &[Op], config: &Config, name: &str) -> Vec<String> {
    let mut fs = MemFs::new();
    let first = Db::open(DIR, config.on(&fs)).unwrap();
    first.create_keyspace(SIDE, config.side.clone()).unwrap();
    let mut db = Some(first);
    let mut model = Model::new();
    let mut side = Model::new();
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
            Op::Merge(k, operand) => {
                d.merge(k, operand)
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                apply(&mut model, &Write::Merge(k.clone(), operand.clone()));
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
            Op::ReadOnly { keys } => {
                let reader = Db::open_read_only(DIR, config.on(&fs))
                    .unwrap_or_else(|e| panic!("{context}: read-only open: {e}"));
                let mut answer = Vec::new();
                for k in keys {
                    let got = reader.get(k).unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(got.as_ref(), model.get(k), "{context}: read-only get");
                    answer.push(format!("{got:?}"));
                }
                answer.push(check_all(
                    &reader,
                    &model,
                    &side,
                    &format!("{context}: read-only"),
                ));
                assert!(
                    matches!(reader.merge(&key(0), b"no"), Err(Error::ReadOnly { .. })),
                    "{context}: a read-only handle took a write"
                );
                reader
                    .close()
                    .unwrap_or_else(|e| panic!("{context}: read-only close: {e}"));
                answer.join(", ")
            }
            Op::Ingest { entries, tombstone } => {
                let path = format!("/external/{i}.sst");
                write_external(&fs, &path, entries, *tombstone, &mut model);
                let before = d.stats();
                d.ingest(&[&path])
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                let after = d.stats();
                let (links, copies) = if config.links_fail { (0, 1) } else { (1, 0) };
                assert_eq!(
                    (
                        after.ingest_links - before.ingest_links,
                        after.ingest_copies - before.ingest_copies
                    ),
                    (links, copies),
                    "{context}: (links, copies) of the ingestion"
                );
                "ok".to_string()
            }
            Op::Checkpoint => {
                let dir = format!("/checkpoint/{i}");
                d.checkpoint(&dir)
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                let copy = Db::open(&dir, config.on(&fs))
                    .unwrap_or_else(|e| panic!("{context}: open the checkpoint: {e}"));
                let answer = check_all(&copy, &model, &side, &format!("{context}: checkpoint"));
                copy.close()
                    .unwrap_or_else(|e| panic!("{context}: close the checkpoint: {e}"));
                answer
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
                    Db::open(DIR, config.on(&fs))
                        .unwrap_or_else(|e| panic!("{context}: reopen: {e}")),
                );
                check_all(db.as_ref().unwrap(), &model, &side, &context)
            }
            Op::SideWrite { writes, durable } => {
                let keyspace = d.keyspace(SIDE).unwrap();
                let mut batch = lsmkit_engine::WriteBatch::new();
                for (in_side, w) in writes {
                    let target = if *in_side {
                        keyspace.clone()
                    } else {
                        d.default_keyspace()
                    };
                    match w {
                        Write::Put(k, v) => batch.put_in(&target, k, v),
                        Write::Merge(k, v) => batch.merge_in(&target, k, v),
                        Write::Delete(k) => batch.delete_in(&target, k),
                        Write::DeleteRange(a, b) => {
                            batch.delete_range_in(&target, a.clone()..b.clone())
                        }
                    };
                    apply(if *in_side { &mut side } else { &mut model }, w);
                }
                let how = if *durable {
                    WriteOptions::durable()
                } else {
                    WriteOptions::default()
                };
                d.write_with(batch, how)
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                "ok".to_string()
            }
            Op::SideGet(k) => {
                let got = d
                    .keyspace(SIDE)
                    .and_then(|ks| ks.get(k))
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(got.as_ref(), side.get(k), "{context}");
                format!("{got:?}")
            }
            Op::SideScan { range, reverse } => {
                let keyspace = d.keyspace(SIDE).unwrap();
                let got = collect(keyspace.range(range.clone()), *reverse);
                assert_eq!(got, model_scan(&side, range, *reverse), "{context}");
                format!("{got:?}")
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
        let config = config(seed, n);
        let name = config.name.clone();
        let transcript = run_log(&log, &config, &format!("{n}: {name}, seed {seed:#x}"));
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
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for op in &log {
        let debug = format!("{op:?}");
        let kind = debug
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or_default();
        *kinds.entry(kind.to_string()).or_default() += 1;
    }
    eprintln!(
        "{configs} configurations x {ops} ops, seed {seed:#x}: all agree; the log: {kinds:?}"
    );
}
