//! `Options::manual_wal_flush`: WAL records wait in a buffer until
//! `flush_wal`, a durable write or close. A crash of the process is
//! simulated by copying the directory as the OS holds it while the
//! database is still open: what was handed on comes back, what was still
//! buffered does not.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use lsmkit_engine::{Db, Options};

/// The directory `from` as the OS holds it now, copied to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn keys(db: &Db) -> usize {
    db.iter().count()
}

#[test]
fn a_process_crash_keeps_what_flush_wal_handed_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    // No reserve: on Linux a mapped reserve takes records into the page
    // cache at once, and nothing would wait in the buffer.
    let options = || Options::default().manual_wal_flush(true).wal_preallocate(0);
    let db = Db::open(&dir, options()).unwrap();
    for i in 0..10u8 {
        db.put(&[b'a', i], b"buffered").unwrap();
    }
    copy_dir(&dir, &tmp.path().join("before-flush"));
    db.flush_wal().unwrap();
    copy_dir(&dir, &tmp.path().join("after-flush"));
    for i in 0..10u8 {
        db.put(&[b'b', i], b"durable").unwrap();
    }
    db.sync_wal().unwrap();
    copy_dir(&dir, &tmp.path().join("after-sync"));
    db.close().unwrap();

    let recovered = |name: &str| {
        let db = Db::open(tmp.path().join(name), Options::default()).unwrap();
        keys(&db)
    };
    assert_eq!(recovered("before-flush"), 0);
    assert_eq!(recovered("after-flush"), 10);
    assert_eq!(recovered("after-sync"), 20);
    let db = Db::open(&dir, options()).unwrap();
    assert_eq!(keys(&db), 20);
}

#[test]
fn without_it_every_write_is_handed_on_at_once() {
    // With and without the WAL's reserve, which on Linux is written through
    // a memory map rather than by `write(2)`.
    for preallocate in [0, 1 << 20] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let options = || Options::default().wal_preallocate(preallocate);
        let db = Db::open(&dir, options()).unwrap();
        for i in 0..10u8 {
            db.put(&[b'a', i], b"handed on").unwrap();
        }
        copy_dir(&dir, &tmp.path().join("copy"));
        drop(db);
        let db = Db::open(tmp.path().join("copy"), options()).unwrap();
        assert_eq!(keys(&db), 10, "preallocate {preallocate}");
    }
}
