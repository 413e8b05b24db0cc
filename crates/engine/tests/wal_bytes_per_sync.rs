//! `Options::wal_bytes_per_sync`: a background thread syncs the WAL as it
//! grows, so that buffered writes reach the disk without a writer paying
//! for it, and with it off only rotation and durable writes sync.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lsmkit_engine::{Db, Options};
use lsmkit_vfs::{Fs, MemFs};

/// Syncs of the WAL's segment files so far.
fn wal_syncs(fs: &MemFs) -> u64 {
    let dir = Path::new("/db/wal");
    fs.list(dir)
        .unwrap()
        .iter()
        .map(|name| fs.file_syncs(&dir.join(name)).unwrap_or(0))
        .sum()
}

fn write(db: &Db, n: u32) {
    for i in 0..n {
        db.put(format!("key{i:05}").as_bytes(), &[7; 100]).unwrap();
    }
}

#[test]
fn buffered_writes_are_synced_in_the_background() {
    let fs = MemFs::new();
    let options = Options::default()
        .fs(Arc::new(fs.clone()))
        .wal_bytes_per_sync(4 << 10);
    let db = Db::open("/db", options).unwrap();
    let before = wal_syncs(&fs);
    write(&db, 400);
    let deadline = Instant::now() + Duration::from_secs(10);
    while wal_syncs(&fs) == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(wal_syncs(&fs) > before, "no background WAL sync");
    // What a background sync covered survives a power loss.
    let synced = wal_syncs(&fs);
    while wal_syncs(&fs) == synced && Instant::now() < deadline {
        write(&db, 1);
        std::thread::sleep(Duration::from_millis(1));
    }
    let crashed = fs.crash_clone();
    drop(db);
    let db = Db::open("/db", Options::default().fs(Arc::new(crashed))).unwrap();
    assert_eq!(db.get(b"key00000").unwrap(), Some(vec![7; 100]));
}

#[test]
fn without_it_buffered_writes_are_not_synced() {
    let fs = MemFs::new();
    let options = Options::default()
        .fs(Arc::new(fs.clone()))
        .wal_bytes_per_sync(0);
    let db = Db::open("/db", options).unwrap();
    let before = wal_syncs(&fs);
    write(&db, 400);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(wal_syncs(&fs), before);
    db.close().unwrap();
}
