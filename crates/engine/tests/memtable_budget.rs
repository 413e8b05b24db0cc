//! `Options::db_write_buffer_size`: one budget for the memtables of every
//! keyspace, mutable and frozen, whatever each keyspace's own write
//! buffer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use lsmkit_engine::{Db, KeyspaceOptions, Options, Stats, WriteBatch};
use lsmkit_vfs::MemFs;

const BUDGET: usize = 64 << 10;

fn memtables(stats: &Stats) -> u64 {
    stats.memtable_bytes + stats.frozen_memtable_bytes.iter().sum::<u64>()
}

#[test]
fn the_memtables_of_every_keyspace_stay_within_one_budget() {
    let fs = MemFs::new();
    // Each keyspace alone would hold 4 MiB before it flushes.
    let options = Options::default()
        .fs(Arc::new(fs.clone()))
        .write_buffer_size(4 << 20)
        .db_write_buffer_size(BUDGET);
    let db = Db::open("/db", options.clone()).unwrap();
    let keyspaces: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| db.create_keyspace(n, KeyspaceOptions::default()).unwrap())
        .collect();
    let mut model: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![BTreeMap::new(); 3];
    let mut peak = 0;
    for i in 0..3000u32 {
        let mut batch = WriteBatch::new();
        let k = (i % 3) as usize;
        let key = format!("key{:05}", i % 1000).into_bytes();
        let value = vec![b'a' + k as u8; 200];
        batch.put_in(&keyspaces[k], &key, &value);
        db.write(batch).unwrap();
        model[k].insert(key, value);
        let total: u64 = keyspaces
            .iter()
            .map(|ks| memtables(&ks.stats()))
            .sum::<u64>()
            + memtables(&db.stats());
        peak = peak.max(total);
    }
    let stats = db.stats();
    eprintln!(
        "peak memtables {peak} bytes for a budget of {BUDGET}; {} budget switches, {} flushes",
        stats.budget_switches, stats.flushes
    );
    assert!(stats.budget_switches > 0 && stats.flushes > 0, "{stats:?}");
    // A write may cross the budget by one batch, and a frozen memtable
    // waits for its flush beside the new one: at most about twice it.
    assert!(peak <= 2 * BUDGET as u64 + (16 << 10), "peak {peak}");
    for (ks, model) in keyspaces.iter().zip(&model) {
        let got: BTreeMap<_, _> = ks.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(&got, model, "keyspace {}", ks.name());
    }
    drop(keyspaces);
    db.close().unwrap();

    // Without a budget the same writes stay in the memtables.
    let fs = MemFs::new();
    let db = Db::open(
        "/db",
        options.fs(Arc::new(fs.clone())).db_write_buffer_size(0),
    )
    .unwrap();
    let a = db.create_keyspace("a", KeyspaceOptions::default()).unwrap();
    for i in 0..3000u32 {
        a.put(format!("key{i:05}").as_bytes(), &[1; 200]).unwrap();
    }
    assert_eq!(db.stats().budget_switches, 0);
    assert!(memtables(&a.stats()) > 2 * BUDGET as u64);
}
