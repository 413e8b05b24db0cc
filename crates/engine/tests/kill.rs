//! A real process killed with SIGKILL while it writes: a child process (this
//! test binary run again, as the ignored test `child_writes_batches`)
//! writes batches (durable ones, or buffered ones, which must survive the
//! death of the process though not a power loss) to a database on the
//! real filesystem and prints an acknowledgement after each returns; the
//! parent kills it at a seeded
//! random moment, reopens the database, and checks that every acknowledged
//! batch is there, that no batch is there in part, and that each child's
//! batches form a prefix of what it wrote. Then the next child goes on
//! writing to the same database.
//!
//! # Environment
//!
//! - `LSMKIT_KILL_CYCLES` (default 3): how many children each test kills.
//! - `LSMKIT_KILL_CHILD_DIR`, `LSMKIT_KILL_CHILD_CYCLE`,
//!   `LSMKIT_KILL_CHILD_DURABLE`: set by the parent for the child; not for
//!   people.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Rng, env_number};
use lsmkit_engine::{Db, Options, TieredOptions, WriteBatch, WriteOptions};

const CHILD_DIR: &str = "LSMKIT_KILL_CHILD_DIR";
const CHILD_CYCLE: &str = "LSMKIT_KILL_CHILD_CYCLE";
const CHILD_DURABLE: &str = "LSMKIT_KILL_CHILD_DURABLE";

fn options() -> Options {
    Options::default()
        .write_buffer_size(32 << 10)
        .compaction(TieredOptions {
            trigger_runs: 3,
            target_file_size: 16 << 10,
            ..TieredOptions::default()
        })
        .max_manifest_size(4 << 10)
}

fn batch_key(cycle: u64, i: u64, side: &str) -> Vec<u8> {
    format!("c{cycle:03}/{i:07}/{side}").into_bytes()
}

fn batch_value(cycle: u64, i: u64) -> Vec<u8> {
    format!("{cycle}.{i}:{}", "v".repeat(100 + (i % 150) as usize)).into_bytes()
}

/// Batch `i` of child `cycle`: two keys, set together.
fn batch(cycle: u64, i: u64) -> WriteBatch {
    let value = batch_value(cycle, i);
    let mut batch = WriteBatch::new();
    batch
        .put(&batch_key(cycle, i, "a"), &value)
        .put(&batch_key(cycle, i, "b"), &value);
    batch
}

#[test]
#[ignore = "the child process of the sigkill tests"]
fn child_writes_batches() {
    let dir = std::env::var(CHILD_DIR).expect("run by sigkill_loses_no_acknowledged_durable_batch");
    let cycle = env_number(CHILD_CYCLE, 0);
    let how = if env_number(CHILD_DURABLE, 1) == 1 {
        WriteOptions::durable()
    } else {
        WriteOptions::buffered()
    };
    let db = Db::open(&dir, options()).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        db.write_with(batch(cycle, i), how).unwrap();
        writeln!(out, "ack {cycle} {i}").unwrap();
        out.flush().unwrap();
    }
}

/// Runs one child for `millis` and kills it; returns the last batch it
/// acknowledged, if any.
fn run_and_kill(dir: &std::path::Path, cycle: u64, durable: bool, millis: u64) -> Option<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writes_batches",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_CYCLE, cycle.to_string())
        .env(CHILD_DURABLE, u8::from(durable).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acks = std::thread::spawn(move || {
        let mut last = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("ack ") {
                let (c, i) = rest.split_once(' ').unwrap();
                assert_eq!(c.parse::<u64>().unwrap(), cycle);
                last = Some(i.parse::<u64>().unwrap());
            }
        }
        last
    });
    std::thread::sleep(Duration::from_millis(millis));
    // SIGKILL on Unix: no destructor, no close, no final sync.
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let last = acks.join().unwrap();
    if !still_running {
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        panic!("child {cycle} exited on its own ({status}): {stderr}");
    }
    last
}

#[test]
fn sigkill_loses_no_acknowledged_durable_batch() {
    kill_cycles(true, env_number("LSMKIT_KILL_CYCLES", 3));
}

#[test]
fn sigkill_loses_no_acknowledged_buffered_batch() {
    // A buffered write survives a crash of the process (not a power loss)
    // once its call returns: it must be in the OS's hands by then.
    kill_cycles(false, env_number("LSMKIT_KILL_CYCLES", 3));
}

/// Kills `cycles` children in turn, each writing batches `durable` or not,
/// checking the database after each.
fn kill_cycles(durable: bool, cycles: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5161 + u64::from(durable));
    // The last batch each child acknowledged, and how far each got.
    let mut acked: BTreeMap<u64, Option<u64>> = BTreeMap::new();
    let mut written: BTreeMap<u64, u64> = BTreeMap::new();
    for cycle in 0..cycles {
        let millis = 300 + rng.below(700);
        acked.insert(cycle, run_and_kill(dir.path(), cycle, durable, millis));
        let context = format!("after killing child {cycle} at {millis} ms");

        let db =
            Db::open(dir.path(), options()).unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
        let mut found: BTreeMap<u64, u64> = BTreeMap::new();
        let mut sides: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
        for entry in db.iter() {
            let (key, value) = entry.unwrap_or_else(|e| panic!("{context}: scan: {e}"));
            let text = String::from_utf8(key).unwrap();
            let mut parts = text.split('/');
            let c: u64 = parts.next().unwrap()[1..].parse().unwrap();
            let i: u64 = parts.next().unwrap().parse().unwrap();
            assert_eq!(value, batch_value(c, i), "{context}: value of {text}");
            *found.entry(c).or_default() += 1;
            sides
                .entry((c, i))
                .or_default()
                .push(parts.next().unwrap().as_bytes()[0]);
        }
        for ((c, i), s) in &sides {
            assert_eq!(s, b"ab", "{context}: batch {i} of child {c} is partial");
        }
        for (&c, &last) in &acked {
            let batches = found.get(&c).copied().unwrap_or(0) / 2;
            let have: Vec<u64> = sides
                .keys()
                .filter(|(cc, _)| *cc == c)
                .map(|(_, i)| *i)
                .collect();
            assert_eq!(
                have,
                (0..batches).collect::<Vec<_>>(),
                "{context}: child {c}'s batches are no prefix"
            );
            let needed = last.map_or(0, |i| i + 1);
            assert!(
                batches >= needed,
                "{context}: child {c} acknowledged {needed} batches (durable {durable}), {batches} recovered"
            );
            // What an earlier recovery found stays found.
            if let Some(&before) = written.get(&c) {
                assert_eq!(
                    batches, before,
                    "{context}: child {c}'s batches changed after its recovery"
                );
            }
            written.insert(c, batches);
        }
        db.close()
            .unwrap_or_else(|e| panic!("{context}: close: {e}"));
    }
    eprintln!("acknowledged per child: {acked:?}; recovered: {written:?}");
    assert!(
        acked.values().any(|a| a.is_some()),
        "no child acknowledged a batch before it was killed"
    );
}
