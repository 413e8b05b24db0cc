//! Compactions split by key range into parts that run on threads of their
//! own (`Options::max_subcompactions`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::DIR;
use lsmkit_engine::{CompactionStyle, Db, Options};
use lsmkit_vfs::MemFs;

fn options(fs: &MemFs, style: CompactionStyle, subcompactions: usize) -> Options {
    common::styled_options(fs, style).max_subcompactions(subcompactions)
}

fn key(i: u32) -> Vec<u8> {
    format!("key{:06}", i.wrapping_mul(7919) % 5000).into_bytes()
}

/// Writes three rounds over 5,000 keys with some deletions and a range
/// deletion, then compacts everything; every key must read as the last
/// round left it, before and after a reopen.
fn writes_compacts_and_reads_back(style: CompactionStyle) {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs, style, 4)).unwrap();
    let snapshot_round = 1;
    let mut snapshot = None;
    for round in 0..3u32 {
        for i in 0..5000 {
            if i % 11 == round {
                db.delete(&key(i)).unwrap();
            } else {
                db.put(&key(i), format!("{round}-{i}").as_bytes()).unwrap();
            }
        }
        if round == snapshot_round {
            snapshot = Some(db.snapshot());
        }
    }
    db.delete_range(&b"key001000"[..]..&b"key001100"[..])
        .unwrap();
    db.compact().unwrap();
    let stats = db.stats();
    assert!(
        stats.subcompactions >= 2,
        "{style:?}: no compaction ran in parts: {stats:?}"
    );

    let expect = |i: u32| -> Option<Vec<u8>> {
        let k = key(i);
        if k.as_slice() >= &b"key001000"[..] && k.as_slice() < &b"key001100"[..] {
            return None;
        }
        (i % 11 != 2).then(|| format!("2-{i}").into_bytes())
    };
    let check = |db: &Db| {
        for i in 0..5000 {
            assert_eq!(db.get(&key(i)).unwrap(), expect(i), "{style:?}: key {i}");
        }
        let live = (0..5000).filter(|&i| expect(i).is_some()).count();
        assert_eq!(db.iter().count(), live, "{style:?}: scan");
    };
    check(&db);
    // The snapshot still reads round 1 through the compacted tables.
    let snapshot = snapshot.unwrap();
    for i in (0..5000).step_by(97) {
        let was = (i % 11 != 1).then(|| format!("1-{i}").into_bytes());
        assert_eq!(
            snapshot.get(&key(i)).unwrap(),
            was,
            "{style:?}: snapshot, key {i}"
        );
    }
    drop(snapshot);
    drop(db);
    let db = Db::open(DIR, options(&fs, style, 1)).unwrap();
    check(&db);
}

#[test]
fn a_compaction_in_parts_keeps_every_key_tiered() {
    writes_compacts_and_reads_back(CompactionStyle::Tiered);
}

#[test]
fn a_compaction_in_parts_keeps_every_key_leveled() {
    writes_compacts_and_reads_back(CompactionStyle::Leveled);
}

#[test]
fn zero_subcompactions_is_refused() {
    let fs = MemFs::new();
    let error = Db::open(DIR, options(&fs, CompactionStyle::Tiered, 0)).unwrap_err();
    assert!(error.to_string().contains("max_subcompactions"), "{error}");
}
