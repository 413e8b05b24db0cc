//! The two compaction styles: a leveled tree takes its shape and answers
//! like the model, and a database reopened under the other style keeps
//! every key.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use lsmkit_engine::{CompactionStyle, Db, LeveledOptions, Options};
use lsmkit_vfs::MemFs;

fn options(fs: &MemFs, style: CompactionStyle) -> Options {
    common::styled_options(fs, style)
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Overwrites and deletes over 2000 keys, a pseudo-random order.
fn write(db: &Db, model: &mut Model, round: u64) {
    let mut x = round.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..3000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = format!("key{:05}", x % 2000).into_bytes();
        if i % 17 == 0 {
            db.delete(&key).unwrap();
            model.remove(&key);
        } else {
            let value = format!("{round}-{i}").into_bytes();
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
    }
}

fn check(db: &Db, model: &Model) {
    let got: Model = db.iter().map(Result::unwrap).collect();
    assert_eq!(&got, model);
    for key in ["key00000", "key01234", "key01999", "nokey"] {
        assert_eq!(
            db.get(key.as_bytes()).unwrap().as_ref(),
            model.get(key.as_bytes())
        );
    }
}

#[test]
fn a_leveled_tree_has_levels_below_a_small_l0() {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs, CompactionStyle::Leveled)).unwrap();
    let mut model = Model::new();
    for round in 0..6 {
        write(&db, &mut model, round);
    }
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    let l0 = stats.run_levels.iter().filter(|&&l| l == 0).count();
    assert!(l0 < 2, "{stats:?}");
    let levels: Vec<u32> = stats
        .run_levels
        .iter()
        .copied()
        .filter(|&l| l > 0)
        .collect();
    assert!(!levels.is_empty(), "{stats:?}");
    assert!(levels.windows(2).all(|w| w[0] < w[1]), "{stats:?}");
    // Several tables in a level: compactions merged only parts of it.
    assert!(stats.tables_per_run.iter().any(|&n| n > 1), "{stats:?}");
    check(&db, &model);
    // Recovery reads the levels back (and checks that no level's tables
    // overlap).
    db.close().unwrap();
    let db = Db::open("/db", options(&fs, CompactionStyle::Leveled)).unwrap();
    assert_eq!(db.stats().run_levels, stats.run_levels);
    check(&db, &model);
}

#[test]
fn reopening_under_the_other_style_keeps_every_key() {
    let fs = MemFs::new();
    let mut model = Model::new();
    let styles = [
        CompactionStyle::Tiered,
        CompactionStyle::Leveled,
        CompactionStyle::Tiered,
        CompactionStyle::Leveled,
    ];
    for (round, style) in styles.into_iter().enumerate() {
        let db = Db::open("/db", options(&fs, style)).unwrap();
        check(&db, &model);
        db.wait_for_compactions().unwrap();
        check(&db, &model);
        let levels = db.stats().run_levels;
        match style {
            // The levels are merged into one tiered run.
            CompactionStyle::Tiered => assert!(levels.iter().all(|&l| l == 0), "{levels:?}"),
            _ => assert!(levels.iter().filter(|&&l| l == 0).count() < 2, "{levels:?}"),
        }
        write(&db, &mut model, round as u64);
        check(&db, &model);
        db.close().unwrap();
    }
}

#[test]
fn a_table_that_overlaps_nothing_below_moves_without_a_rewrite() {
    let fs = MemFs::new();
    let one_run = |fs: &MemFs| {
        let o = options(fs, CompactionStyle::Leveled);
        let leveled = LeveledOptions {
            l0_trigger: 1,
            ..o.leveled_compaction.clone()
        };
        o.leveled_compaction(leveled)
    };
    let db = Db::open("/db", one_run(&fs)).unwrap();
    let mut model = Model::new();
    let mut put = |db: &Db, key: String| {
        db.put(key.as_bytes(), b"v").unwrap();
        model.insert(key.into_bytes(), b"v".to_vec());
    };
    // One flush into an empty tree: its table moves to the base level.
    for i in 0..20 {
        put(&db, format!("a{i:03}"));
    }
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    assert_eq!(stats.trivial_moves, 1, "{stats:?}");
    assert_eq!(stats.compaction_bytes_written, 0, "{stats:?}");
    assert!(stats.run_levels.iter().all(|&l| l > 0), "{stats:?}");
    // An overlapping flush is merged with it: a rewrite.
    for i in 0..20 {
        put(&db, format!("a{i:03}x"));
    }
    db.wait_for_compactions().unwrap();
    let stats = db.stats();
    assert!(stats.compaction_bytes_written > 0, "{stats:?}");
    check(&db, &model);
    db.close().unwrap();
    let db = Db::open("/db", one_run(&fs)).unwrap();
    check(&db, &model);
}
