//! Crashes on `MemFs`: random appends, random syncs, power losses that
//! tear unsynced tails, recovery, and writing on; every record appended
//! before the last completed sync comes back, in order, exactly once, and
//! nothing that was not appended does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{record, recover, wal_datas};
use lsmkit_vfs::{Fs, MemFs};
use lsmkit_wal::{RecoveryMode, SyncPolicy, Wal, WalOptions};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Append(usize),
    Sync,
    /// A power loss keeping a torn part of unsynced tails (drawn from the
    /// seed), then recovery.
    Crash(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => prop_oneof![0usize..200, 0usize..5000, Just(40_000)].prop_map(Step::Append),
        2 => Just(Step::Sync),
        1 => any::<u64>().prop_map(Step::Crash),
    ]
}

const DIR: &str = "/wal";

/// Small segments; `preallocate` is 0, less than a segment, or more.
fn options(preallocate: u64) -> WalOptions {
    WalOptions {
        segment_size: 8 * 1024,
        sync: SyncPolicy::Never,
        preallocate,
    }
}

fn preallocation() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), Just(700), Just(1 << 20)]
}

/// Recovers after a crash, checks the records against the model, and
/// opens the writer again. `appended` is every record the writer took;
/// the first `durable` of them were synced.
fn recover_and_check(
    fs: &Arc<dyn Fs>,
    preallocate: u64,
    appended: &mut Vec<Vec<u8>>,
    durable: &mut usize,
) -> Wal {
    let (records, reader) = recover(fs, DIR, RecoveryMode::TolerateCorruptedTail);
    let records = records.unwrap();
    assert!(
        records
            .iter()
            .enumerate()
            .all(|(i, r)| r.sequence == i as u64)
    );
    let recovered = wal_datas(&records);
    assert!(
        recovered.len() >= *durable,
        "lost synced records: {} of {} came back",
        recovered.len(),
        durable
    );
    assert!(recovered.len() <= appended.len(), "invented records");
    assert_eq!(recovered, appended[..recovered.len()], "records changed");
    *appended = recovered;
    // Everything that survived a crash is on disk, so durable.
    *durable = appended.len();
    reader.into_wal(options(preallocate)).unwrap().0
}

fn run(steps: &[Step], preallocate: u64) {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let mut appended: Vec<Vec<u8>> = Vec::new();
    let mut durable = 0;
    let mut wal = recover_and_check(&fs, preallocate, &mut appended, &mut durable);
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Append(len) => {
                let data = record(i as u64, *len);
                wal.append(&data).unwrap();
                appended.push(data);
            }
            Step::Sync => {
                wal.sync().unwrap();
                durable = appended.len();
            }
            Step::Crash(seed) => {
                mem.crash_torn(*seed);
                drop(wal);
                wal = recover_and_check(&fs, preallocate, &mut appended, &mut durable);
            }
        }
    }
    mem.crash_torn(steps.len() as u64);
    drop(wal);
    recover_and_check(&fs, preallocate, &mut appended, &mut durable);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled_cases(64), ..ProptestConfig::default() })]

    #[test]
    fn synced_records_survive_crashes(
        steps in prop::collection::vec(step(), 0..80),
        preallocate in preallocation(),
    ) {
        run(&steps, preallocate);
    }
}

#[test]
fn crash_with_nothing_synced_keeps_a_prefix() {
    let steps: Vec<Step> = (0..50).map(|i| Step::Append(i * 100)).collect();
    for preallocate in [0, 700, 1 << 20] {
        run(&steps, preallocate);
    }
}

#[test]
fn many_crash_cycles_in_one_directory() {
    let mut steps = Vec::new();
    for cycle in 0..20u64 {
        steps.extend((0..5).map(|i| Step::Append((cycle as usize * 7 + i) * 300)));
        steps.push(Step::Sync);
        steps.extend((0..3).map(|i| Step::Append(i * 2000)));
        steps.push(Step::Crash(cycle));
    }
    for preallocate in [0, 700, 1 << 20] {
        run(&steps, preallocate);
    }
}
