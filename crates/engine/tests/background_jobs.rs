//! More than one background job: with `max_background_jobs` above 2,
//! compactions of different keyspaces run at once, beside the flush
//! thread, and four writer threads across three keyspaces lose nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use lsmkit_engine::{Db, Error, KeyspaceOptions, Options, TieredOptions, WriteBatch};
use lsmkit_vfs::MemFs;

const NAMES: [&str; 3] = ["default", "a", "b"];
const THREADS: u64 = 4;

fn options(fs: &MemFs, jobs: usize) -> Options {
    Options::default()
        .fs(Arc::new(fs.clone()))
        .write_buffer_size(4 << 10)
        .block_size(512)
        .compaction(TieredOptions {
            trigger_runs: 2,
            target_file_size: 4 << 10,
            ..TieredOptions::default()
        })
        .runs_triggers(8, 12)
        .max_background_jobs(jobs)
}

/// The value writer `t` leaves at key `k` after `rounds` rounds.
fn value(t: u64, round: u64, i: u64) -> Vec<u8> {
    format!("t{t}-r{round}-i{i}-{}", "v".repeat((i % 50) as usize)).into_bytes()
}

/// Runs `rounds` rounds of every writer on `db`, each writer a batch per
/// step across the three keyspaces.
fn write_rounds(db: &Arc<Db>, from: u64, rounds: u64) {
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let db = Arc::clone(db);
            scope.spawn(move || {
                let keyspaces: Vec<_> = NAMES.iter().map(|n| db.keyspace(n).unwrap()).collect();
                for round in from..from + rounds {
                    for i in 0..60u64 {
                        let mut batch = WriteBatch::new();
                        let key = format!("t{t}-k{:02}", i % 40);
                        for ks in &keyspaces {
                            batch.put_in(ks, key.as_bytes(), &value(t, round, i));
                        }
                        db.write(batch).unwrap();
                    }
                }
            });
        }
    });
}

fn expected(rounds: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut model = BTreeMap::new();
    for t in 0..THREADS {
        for i in 0..60u64 {
            model.insert(
                format!("t{t}-k{:02}", i % 40).into_bytes(),
                value(t, rounds - 1, i),
            );
        }
    }
    model
}

/// Every keyspace of `db` holds exactly `model`.
fn check_every_keyspace(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    for name in NAMES {
        let got: BTreeMap<_, _> = db
            .keyspace(name)
            .unwrap()
            .iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(&got, model, "keyspace {name}");
    }
}

#[test]
fn compactions_of_different_keyspaces_run_at_once_and_lose_nothing() {
    let fs = MemFs::new();
    let db = Arc::new(Db::open("/db", options(&fs, 4)).unwrap());
    for name in &NAMES[1..] {
        db.create_keyspace(name, KeyspaceOptions::default())
            .unwrap();
    }
    let mut rounds = 0;
    // Until two compactions have overlapped (they do within a few rounds;
    // the bound only keeps a broken engine from looping for ever).
    while db.stats().peak_concurrent_compactions < 2 && rounds < 400 {
        write_rounds(&db, rounds, 2);
        rounds += 2;
    }
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    eprintln!(
        "{rounds} rounds, {} compactions, at most {} at once",
        stats.compactions, stats.peak_concurrent_compactions
    );
    assert!(stats.peak_concurrent_compactions >= 2, "{stats:?}");
    let model = expected(rounds);
    check_every_keyspace(&db, &model);
    let db = Arc::into_inner(db).unwrap();
    db.close().unwrap();
    let db = Db::open("/db", options(&fs, 4)).unwrap();
    for name in NAMES {
        assert_eq!(db.keyspace(name).unwrap().iter().count(), model.len());
    }
}

#[test]
fn one_background_job_still_compacts_and_zero_is_refused() {
    let fs = MemFs::new();
    let db = Arc::new(Db::open("/db", options(&fs, 1)).unwrap());
    db.create_keyspace("a", KeyspaceOptions::default()).unwrap();
    db.create_keyspace("b", KeyspaceOptions::default()).unwrap();
    write_rounds(&db, 0, 6);
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    assert!(stats.compactions > 0, "{stats:?}");
    assert_eq!(stats.peak_concurrent_compactions, 1, "{stats:?}");
    check_every_keyspace(&db, &expected(6));
    assert!(matches!(
        Db::open("/other", options(&fs, 0)),
        Err(Error::InvalidOption {
            option: "max_background_jobs",
            ..
        })
    ));
}
