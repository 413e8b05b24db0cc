//! `Db::wait_for_compactions`: once it returns, nothing is left to flush
//! or to compact, so a benchmark's reads run against settled files.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use lsmkit_engine::{Db, Options, TieredOptions};
use lsmkit_vfs::MemFs;

fn options(auto_compaction: bool) -> Options {
    Options::default()
        .fs(Arc::new(MemFs::new()))
        .write_buffer_size(4 << 10)
        .compaction(TieredOptions {
            trigger_runs: 3,
            ..TieredOptions::default()
        })
        .runs_triggers(30, 40)
        .auto_compaction(auto_compaction)
}

fn fill(db: &Db, rounds: u32) {
    for round in 0..rounds {
        for i in 0..50u32 {
            db.put(format!("key{i:04}").as_bytes(), &[round as u8; 100])
                .unwrap();
        }
    }
}

#[test]
fn returns_once_the_picker_has_nothing_left() {
    let db = Db::open("/db", options(true)).unwrap();
    fill(&db, 40);
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    assert!(stats.frozen_memtable_bytes.is_empty());
    assert!(stats.compactions > 0, "{stats:?}");
    // Fewer runs than the trigger: the picker has nothing to do.
    assert!(stats.runs() < 3, "{stats:?}");
    assert_eq!(db.get(b"key0049").unwrap(), Some(vec![39u8; 100]));
}

#[test]
fn only_flushes_without_automatic_compaction() {
    let db = Db::open("/db", options(false)).unwrap();
    fill(&db, 40);
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    assert!(stats.frozen_memtable_bytes.is_empty());
    assert_eq!(stats.memtable_bytes, 0);
    assert_eq!(stats.compactions, 0);
    assert!(stats.runs() >= 3, "{stats:?}");
}
