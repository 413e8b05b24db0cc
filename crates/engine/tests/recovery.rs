//! Recovery: what a reopened database holds after close, drop, crash and
//! manifest rewrites.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use lsmkit_engine::{Db, Error, Options, WriteBatch, WriteOptions};
use lsmkit_vfs::{Fs, MemFs};

const DIR: &str = "/db";

fn options(fs: &MemFs) -> Options {
    Options::default()
        .fs(Arc::new(fs.clone()))
        .write_buffer_size(4 << 10)
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(i: usize, round: usize) -> Vec<u8> {
    format!("value-{i}-{round}-{}", "x".repeat(i % 37)).into_bytes()
}

fn all(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.iter().collect::<Result<_, _>>().unwrap()
}

#[test]
fn reopen_after_close_keeps_memtable_and_tables() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    for i in 0..500 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.flush().unwrap();
    for i in 0..500 {
        if i % 3 == 0 {
            db.delete(&key(i)).unwrap();
        }
    }
    let before = all(&db);
    assert!(db.stats().flushes > 0);
    db.close().unwrap();

    let db = Db::open(DIR, options(&fs)).unwrap();
    assert_eq!(all(&db), before);
    assert_eq!(db.get(&key(3)).unwrap(), None);
    assert_eq!(db.get(&key(4)).unwrap(), Some(value(4, 0)));
}

#[test]
fn reopen_after_drop_without_close() {
    let fs = MemFs::new();
    {
        let db = Db::open(DIR, options(&fs)).unwrap();
        for i in 0..300 {
            db.put(&key(i), &value(i, 1)).unwrap();
        }
        db.delete_range(&key(10)[..]..&key(20)[..]).unwrap();
    }
    let db = Db::open(DIR, options(&fs)).unwrap();
    assert_eq!(all(&db).len(), 290);
    assert_eq!(db.get(&key(15)).unwrap(), None);
}

#[test]
fn durable_writes_survive_a_crash() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    for i in 0..400 {
        let mut batch = WriteBatch::new();
        batch.put(&key(i), &value(i, 2)).put(b"last", &key(i));
        db.write_with(batch, WriteOptions::durable()).unwrap();
    }
    // Power loss with the handle still open: only what was synced stays.
    let crashed = fs.crash_clone();
    drop(db);
    let db = Db::open(DIR, options(&crashed)).unwrap();
    for i in 0..400 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 2)), "key {i}");
    }
    assert_eq!(db.get(b"last").unwrap(), Some(key(399)));
}

#[test]
fn buffered_writes_are_a_prefix_after_a_crash() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    for i in 0..300 {
        let durable = i == 100;
        db.write_with(
            {
                let mut b = WriteBatch::new();
                b.put(&key(i), b"v");
                b
            },
            if durable {
                WriteOptions::durable()
            } else {
                WriteOptions::buffered()
            },
        )
        .unwrap();
    }
    for seed in 0..5 {
        let crashed = fs.crash_clone_torn(seed);
        let db = Db::open(DIR, options(&crashed)).unwrap();
        let keys: Vec<_> = all(&db).into_iter().map(|(k, _)| k).collect();
        assert!(
            keys.len() >= 101,
            "seed {seed}: the durable write and all before it"
        );
        assert_eq!(
            keys,
            (0..keys.len()).map(key).collect::<Vec<_>>(),
            "a prefix"
        );
    }
    drop(db);
}

#[test]
fn manifest_is_rewritten_when_it_grows() {
    let fs = MemFs::new();
    let opts = || options(&fs).max_manifest_size(1);
    let db = Db::open(DIR, opts()).unwrap();
    for round in 0..5 {
        for i in 0..50 {
            db.put(&key(i), &value(i, round)).unwrap();
        }
        db.flush().unwrap();
    }
    let manifests = |fs: &MemFs| {
        fs.list(Path::new(DIR))
            .unwrap()
            .into_iter()
            .filter(|n| n.starts_with("MANIFEST-"))
            .count()
    };
    assert_eq!(manifests(&fs), 1);
    let crashed = fs.crash_clone();
    drop(db);
    let db = Db::open(DIR, options(&crashed)).unwrap();
    assert_eq!(db.get(&key(7)).unwrap(), Some(value(7, 4)));
    assert_eq!(manifests(&crashed), 1);
}

#[test]
fn flushed_wal_segments_and_orphans_are_deleted() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    for i in 0..2000 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.flush().unwrap();
    let segments = fs.list(&Path::new(DIR).join("wal")).unwrap();
    assert!(segments.len() <= 2, "{segments:?}");
    db.close().unwrap();
    // An orphan table and a stray temporary file, as a crash leaves them.
    for name in ["999999.sst", "000123.sst.tmp"] {
        let mut f = fs.create(&Path::new(DIR).join(name)).unwrap();
        f.append(b"junk").unwrap();
        f.sync().unwrap();
    }
    let db = Db::open(DIR, options(&fs)).unwrap();
    // Only the two planted files: a background compaction started by the
    // reopen may have a temporary file of its own in flight.
    let names = fs.list(Path::new(DIR)).unwrap();
    assert!(
        !names
            .iter()
            .any(|n| n == "999999.sst" || n == "000123.sst.tmp"),
        "{names:?}"
    );
    assert_eq!(db.get(&key(1999)).unwrap(), Some(value(1999, 0)));
}

#[test]
fn a_missing_table_is_an_error_naming_it() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    db.put(b"k", b"v").unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let table = fs
        .list(Path::new(DIR))
        .unwrap()
        .into_iter()
        .find(|n| n.ends_with(".sst"))
        .unwrap();
    fs.remove(&Path::new(DIR).join(&table)).unwrap();
    let err = Db::open(DIR, options(&fs)).unwrap_err();
    assert!(matches!(err, Error::MissingTable { .. }), "{err}");
    assert!(err.to_string().contains(&table), "{err}");
}

#[test]
fn a_second_open_is_refused_while_locked() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    assert!(matches!(
        Db::open(DIR, options(&fs)),
        Err(Error::Locked { .. })
    ));
    db.close().unwrap();
    Db::open(DIR, options(&fs)).unwrap();
}

#[test]
fn a_file_numbered_u64_max_is_an_error_not_a_wrapped_counter() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let name = format!("{}.sst", u64::MAX);
    fs.create(&Path::new(DIR).join(&name))
        .unwrap()
        .sync()
        .unwrap();
    let err = Db::open(DIR, options(&fs)).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains(&name), "{err}");
}
