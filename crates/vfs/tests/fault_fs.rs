//! FaultFs: each rule fires exactly when it says, and never otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_vfs::{FaultFs, FileLock, Fs, FsError, MemFs, Op, RandomAccessFile, Rule, WritableFile};
use proptest::prelude::*;

fn setup() -> (MemFs, FaultFs) {
    let mem = MemFs::new();
    mem.create_dir_all(Path::new("/d")).unwrap();
    (mem.clone(), FaultFs::new(mem))
}

fn syncs_failing(file: &mut Box<dyn WritableFile>, calls: usize) -> Vec<bool> {
    (0..calls)
        .map(|_| match file.sync() {
            Ok(()) => false,
            Err(error) => {
                assert!(FsError::is_injected(&error), "{error}");
                true
            }
        })
        .collect()
}

#[test]
fn nth_fails_that_call_alone() {
    let (_, fs) = setup();
    let mut file = fs.create(Path::new("/d/wal")).unwrap();
    let rule = fs.add(Rule::on(Op::Sync).nth(3));
    let failed = syncs_failing(&mut file, 6);
    assert_eq!(failed, [false, false, true, false, false, false]);
    assert_eq!(fs.fired(rule), 1);
}

#[test]
fn from_nth_fails_that_call_and_all_after() {
    let (_, fs) = setup();
    let mut file = fs.create(Path::new("/d/wal")).unwrap();
    let rule = fs.add(Rule::on(Op::Sync).from_nth(2));
    let failed = syncs_failing(&mut file, 4);
    assert_eq!(failed, [false, true, true, true]);
    assert_eq!(fs.fired(rule), 3);
}

#[test]
fn rules_count_calls_from_when_they_are_added() {
    let (_, fs) = setup();
    let mut file = fs.create(Path::new("/d/wal")).unwrap();
    file.sync().unwrap();
    file.sync().unwrap();
    fs.add(Rule::on(Op::Sync).nth(1));
    assert!(file.sync().is_err());
    file.sync().unwrap();
}

#[test]
fn path_rules_fail_only_matching_files() {
    let (_, fs) = setup();
    let rule = fs.add(Rule::on_ops(&[Op::Append, Op::Rename]).path_contains("MANIFEST"));
    let mut manifest = fs.create(Path::new("/d/MANIFEST-000001")).unwrap();
    let mut log = fs.create(Path::new("/d/000002.log")).unwrap();
    let error = manifest.append(b"edit").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Other);
    assert_eq!(
        FsError::of(&error).unwrap().path(),
        Path::new("/d/MANIFEST-000001")
    );
    log.append(b"record").unwrap();
    manifest.sync().unwrap();
    // A rename matches on either of its paths.
    assert!(
        fs.rename(Path::new("/d/000002.log"), Path::new("/d/MANIFEST-2"))
            .is_err()
    );
    assert!(
        fs.rename(Path::new("/d/MANIFEST-000001"), Path::new("/d/x"))
            .is_err()
    );
    drop(log);
    fs.rename(Path::new("/d/000002.log"), Path::new("/d/000003.log"))
        .unwrap();
    assert_eq!(fs.fired(rule), 3);
}

#[test]
fn a_failed_append_writes_nothing_and_a_failed_sync_makes_nothing_durable() {
    let (mem, fs) = setup();
    let mut file = fs.create(Path::new("/d/wal")).unwrap();
    fs.sync_dir(Path::new("/d")).unwrap();
    file.append(b"kept").unwrap();
    file.sync().unwrap();
    fs.add(Rule::on(Op::Append).nth(1));
    fs.add(Rule::on(Op::Sync).nth(1));
    assert!(file.append(b"lost").is_err());
    file.append(b"+more").unwrap();
    assert!(file.sync().is_err());
    file.flush().unwrap();
    assert_eq!(
        mem.open(Path::new("/d/wal")).unwrap().as_bytes().unwrap(),
        b"kept+more"
    );
    let crashed = mem.crash_clone();
    assert_eq!(
        crashed
            .open(Path::new("/d/wal"))
            .unwrap()
            .as_bytes()
            .unwrap(),
        b"kept"
    );
}

#[test]
fn disk_full_fails_appends_past_the_budget_exactly() {
    let (mem, fs) = setup();
    let rule = fs.add(Rule::disk_full(10));
    let mut file = fs.create(Path::new("/d/table")).unwrap();
    file.append(&[1; 4]).unwrap();
    file.append(&[2; 6]).unwrap();
    let full = file.append(&[3]).unwrap_err();
    assert_eq!(full.kind(), ErrorKind::StorageFull);
    assert!(FsError::is_injected(&full));
    file.append(&[]).unwrap();
    // Other operations are not affected by a full disk.
    file.sync().unwrap();
    fs.create(Path::new("/d/other")).unwrap();
    assert_eq!(fs.fired(rule), 1);
    assert_eq!(mem.size(Path::new("/d/table")).unwrap(), 10);
    assert_eq!(file.len(), 10);
}

#[test]
fn disk_full_uses_no_budget_for_appends_another_rule_failed() {
    let (_, fs) = setup();
    fs.add(Rule::disk_full(5));
    fs.add(Rule::on(Op::Append).nth(1));
    let mut file = fs.create(Path::new("/d/table")).unwrap();
    assert!(file.append(&[0; 5]).is_err());
    file.append(&[0; 5]).unwrap();
    assert!(file.append(&[0]).is_err());
}

#[test]
fn probability_is_deterministic_under_a_seed() {
    let pattern = |p: f64, seed: u64| -> Vec<bool> {
        let (_, fs) = setup();
        fs.add(Rule::on(Op::Exists).with_probability(p, seed));
        (0..1000)
            .map(|_| fs.exists(Path::new("/d")).is_err())
            .collect()
    };
    assert!(pattern(0.0, 1).iter().all(|failed| !failed));
    assert!(pattern(1.0, 1).iter().all(|failed| *failed));
    let first = pattern(0.3, 42);
    assert_eq!(first, pattern(0.3, 42));
    assert_ne!(first, pattern(0.3, 43));
    let failures = first.iter().filter(|failed| **failed).count();
    assert!(
        (200..400).contains(&failures),
        "{failures} of 1000 failed at p = 0.3"
    );
}

#[test]
fn counters_count_every_call_failed_or_not() {
    let (_, fs) = setup();
    fs.add(Rule::on(Op::List));
    let mut file = fs.create(Path::new("/d/f")).unwrap();
    file.append(b"x").unwrap();
    file.sync().unwrap();
    assert!(fs.list(Path::new("/d")).is_err());
    assert!(fs.list(Path::new("/d")).is_err());
    let reader = fs.open(Path::new("/d/f")).unwrap();
    reader.read_at(0, &mut [0]).unwrap();
    assert_eq!(fs.count(Op::List), 2);
    assert_eq!(fs.count(Op::Create), 1);
    assert_eq!(fs.count(Op::Read), 1);
    assert_eq!(fs.mutating_count(), 3);
    assert_eq!(fs.total_count(), 7);
}

#[test]
fn removed_and_cleared_rules_stop_firing() {
    let (_, fs) = setup();
    let exists = fs.add(Rule::on(Op::Exists));
    fs.add(Rule::on(Op::Size));
    assert!(fs.exists(Path::new("/d")).is_err());
    assert!(fs.remove_rule(exists));
    assert!(!fs.remove_rule(exists));
    assert_eq!(fs.fired(exists), 0);
    fs.exists(Path::new("/d")).unwrap();
    assert!(
        fs.size(Path::new("/d"))
            .unwrap_err()
            .to_string()
            .contains("injected")
    );
    fs.clear_rules();
    assert_eq!(
        fs.size(Path::new("/d")).unwrap_err().kind(),
        ErrorKind::IsADirectory
    );
}

#[test]
fn readers_offer_no_slice_so_every_read_can_fail() {
    let (mem, fs) = setup();
    let mut file = mem.create(Path::new("/d/table")).unwrap();
    file.append(b"block").unwrap();
    drop(file);
    let reader = fs.open(Path::new("/d/table")).unwrap();
    assert!(reader.as_bytes().is_none());
    assert_eq!(reader.len(), 5);
    fs.add(Rule::on(Op::Read).nth(2).kind(ErrorKind::InvalidData));
    let mut buf = [0; 5];
    reader.read_at(0, &mut buf).unwrap();
    assert_eq!(
        reader.read_at(0, &mut buf).unwrap_err().kind(),
        ErrorKind::InvalidData
    );
    reader.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"block");
}

#[test]
fn crash_at_the_kth_mutating_call() {
    // Learn how many mutating calls a workload makes, then kill the disk at
    // each one in turn and check that what was synced before survives.
    fn workload(fs: &dyn Fs) -> std::io::Result<()> {
        for i in 0..3 {
            let path = PathBuf::from(format!("/d/{i}"));
            let mut file = fs.create(&path)?;
            file.append(b"data")?;
            file.sync()?;
            fs.sync_dir(Path::new("/d"))?;
        }
        Ok(())
    }
    let (_, fs) = setup();
    workload(&fs).unwrap();
    let total = fs.mutating_count();
    assert_eq!(total, 12);
    for k in 1..=total {
        let (mem, fs) = setup();
        fs.add(Rule::on_mutating().from_nth(k));
        assert!(workload(&fs).is_err());
        let survivors = mem.crash_clone().list(Path::new("/d")).unwrap();
        // File i is complete after its 4th mutating call (create, append,
        // sync, sync_dir).
        assert_eq!(survivors.len() as u64, (k - 1) / 4, "crash at call {k}");
    }
}

/// What the proptest below can ask of the rule under test.
#[derive(Clone, Debug)]
enum Trigger {
    Nth(u64),
    FromNth(u64),
    HotPathsAlways,
}

/// Performs one call of `op` through `fs`, setting up what it needs through
/// `mem` directly so that the set-up is not counted. `hot` picks paths that
/// contain "hot".
fn call(
    mem: &MemFs,
    fs: &FaultFs,
    handles: &mut Handles,
    op: Op,
    hot: bool,
    i: usize,
) -> std::io::Result<()> {
    let tag = if hot { "hot" } else { "cold" };
    let fresh = PathBuf::from(format!("/d/{tag}-{i}"));
    let side = usize::from(hot);
    let touch = |path: &Path| mem.create(path).map(drop);
    match op {
        Op::Create => fs.create(&fresh).map(drop),
        Op::OpenAppend => {
            touch(&fresh)?;
            fs.open_append(&fresh).map(drop)
        }
        Op::Open => fs.open(&handles.read_paths[side]).map(drop),
        Op::Read => handles.readers[side].read_at(0, &mut [0]),
        Op::Append => handles.writers[side].append(b"x"),
        Op::Flush => handles.writers[side].flush(),
        Op::Sync => handles.writers[side].sync(),
        Op::Rename => {
            touch(&fresh)?;
            fs.rename(&fresh, &fresh.with_extension("renamed"))
        }
        Op::Remove => {
            touch(&fresh)?;
            fs.remove(&fresh)
        }
        Op::HardLink => {
            touch(&fresh)?;
            fs.hard_link(&fresh, &fresh.with_extension("linked"))
        }
        Op::Truncate => {
            touch(&fresh)?;
            fs.truncate(&fresh, 0)
        }
        Op::List => fs.list(&handles.dirs[side]).map(drop),
        Op::CreateDir => fs.create_dir_all(&fresh),
        Op::SyncDir => fs.sync_dir(&handles.dirs[side]),
        Op::Exists => fs.exists(&fresh).map(drop),
        Op::Size => fs.size(&handles.read_paths[side]).map(drop),
        Op::Lock => fs.lock(&fresh).map(|lock: Box<dyn FileLock>| drop(lock)),
        Op::Preallocate => {
            let writer = &mut handles.writers[side];
            let len = writer.len() + 4096;
            writer.preallocate(len)
        }
        _ => unreachable!("an operation this test does not know"),
    }
}

/// Files and directories opened before the rule is added, cold then hot.
struct Handles {
    writers: Vec<Box<dyn WritableFile>>,
    readers: Vec<Arc<dyn RandomAccessFile>>,
    read_paths: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

fn handles(mem: &MemFs, fs: &FaultFs) -> Handles {
    let mut handles = Handles {
        writers: Vec::new(),
        readers: Vec::new(),
        read_paths: Vec::new(),
        dirs: Vec::new(),
    };
    for tag in ["cold", "hot"] {
        let dir = PathBuf::from(format!("/d/{tag}dir"));
        mem.create_dir_all(&dir).unwrap();
        let read_path = PathBuf::from(format!("/d/{tag}.sst"));
        let mut file = mem.create(&read_path).unwrap();
        file.append(b"t").unwrap();
        drop(file);
        handles
            .writers
            .push(fs.create(Path::new(&format!("/d/{tag}.log"))).unwrap());
        handles.readers.push(fs.open(&read_path).unwrap());
        handles.read_paths.push(read_path);
        handles.dirs.push(dir);
    }
    handles
}

proptest! {
    #[test]
    fn rules_fire_exactly_when_they_say(
        ops in prop::sample::subsequence(Op::ALL.to_vec(), 1..=4),
        trigger in prop_oneof![
            (1..8u64).prop_map(Trigger::Nth),
            (1..8u64).prop_map(Trigger::FromNth),
            Just(Trigger::HotPathsAlways),
        ],
        calls in prop::collection::vec((prop::sample::select(Op::ALL.to_vec()), any::<bool>()), 0..80),
    ) {
        let (mem, fs) = setup();
        let mut handles = handles(&mem, &fs);
        let rule = match trigger {
            Trigger::Nth(n) => Rule::on_ops(&ops).nth(n),
            Trigger::FromNth(n) => Rule::on_ops(&ops).from_nth(n),
            Trigger::HotPathsAlways => Rule::on_ops(&ops).path_contains("hot"),
        };
        let id = fs.add(rule);
        let mut matched = 0;
        let mut fired = 0;
        for (i, (op, hot)) in calls.iter().enumerate() {
            let matches = ops.contains(op)
                && (*hot || !matches!(trigger, Trigger::HotPathsAlways));
            matched += u64::from(matches);
            let expect_failure = matches && match trigger {
                Trigger::Nth(n) => matched == n,
                Trigger::FromNth(n) => matched >= n,
                Trigger::HotPathsAlways => true,
            };
            fired += u64::from(expect_failure);
            let result = call(&mem, &fs, &mut handles, *op, *hot, i);
            match result {
                Ok(()) => prop_assert!(!expect_failure, "call {} ({:?}) should have failed", i, op),
                Err(error) => {
                    prop_assert!(expect_failure, "call {} ({:?}) failed: {}", i, op, error);
                    prop_assert!(FsError::is_injected(&error));
                    prop_assert_eq!(FsError::of(&error).unwrap().op(), *op);
                }
            }
        }
        prop_assert_eq!(fs.fired(id), fired);
        for op in Op::ALL {
            let made = calls.iter().filter(|(o, _)| *o == op).count() as u64;
            prop_assert_eq!(fs.count(op), made + handles_calls(op));
        }
    }
}

/// Calls `handles` made through the FaultFs: a create and an open per side.
fn handles_calls(op: Op) -> u64 {
    match op {
        Op::Create | Op::Open => 2,
        _ => 0,
    }
}
