//! Keyspaces: isolation, per-keyspace options, batches across keyspaces
//! (atomic, also across a crash), drops, the WAL kept until every keyspace
//! has flushed past it, read-only opens, checkpoints and ingestion with
//! keyspaces; a `BTreeMap`-per-keyspace model proptest with crashes and
//! reopens; and a crash at every mutating filesystem call of a workload of
//! cross-keyspace batches, flushes of one keyspace, drops, creations and
//! an ingestion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::{Model, merge_operator, small_options};
use lsmkit_engine::{
    CompactionStyle, Compression, Db, Error, KeyspaceOptions, Options, U64Add, WriteBatch,
    WriteOptions,
};
use lsmkit_sstable::{SstOptions, SstReader, SstWriter};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Rule};
use proptest::prelude::*;

fn options(fs: &MemFs) -> Options {
    small_options(Arc::new(fs.clone()))
}

/// Every keyspace's contents, by name.
fn everything(db: &Db) -> BTreeMap<String, Model> {
    db.keyspace_names()
        .into_iter()
        .map(|name| {
            let ks = db.keyspace(&name).unwrap();
            let model = ks.iter().collect::<Result<Model, _>>().unwrap();
            (name, model)
        })
        .collect()
}

fn wal_segments(fs: &MemFs) -> usize {
    fs.list(Path::new("/db/wal")).unwrap().len()
}

#[test]
fn keyspaces_are_separate_and_survive_reopens() {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs)).unwrap();
    assert_eq!(db.keyspace_names(), ["default"]);
    let a = db.create_keyspace("a", KeyspaceOptions::default()).unwrap();
    let b = db.create_keyspace("b", KeyspaceOptions::default()).unwrap();
    assert!(matches!(
        db.create_keyspace("a", KeyspaceOptions::default()),
        Err(Error::KeyspaceExists { .. })
    ));
    assert!(matches!(
        db.keyspace("c"),
        Err(Error::KeyspaceNotFound { .. })
    ));
    assert!(matches!(
        db.drop_keyspace("default"),
        Err(Error::InvalidOption { .. })
    ));
    assert!(matches!(
        db.create_keyspace("", KeyspaceOptions::default()),
        Err(Error::InvalidOption { .. })
    ));
    db.put(b"k", b"default").unwrap();
    a.put(b"k", b"a").unwrap();
    b.put(b"k", b"b").unwrap();
    b.delete_range(&b"a"[..]..&b"z"[..]).unwrap();
    a.put(b"only-a", b"1").unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"default".to_vec()));
    assert_eq!(a.get(b"k").unwrap(), Some(b"a".to_vec()));
    assert_eq!(b.get(b"k").unwrap(), None);
    assert_eq!(db.get(b"only-a").unwrap(), None);
    assert_eq!(a.iter().count(), 2);
    assert_eq!(db.default_keyspace().iter().count(), 1);
    // Enough to flush and compact each a few times.
    for i in 0..400u32 {
        let key = format!("key{:03}", i % 150);
        a.put(key.as_bytes(), &i.to_le_bytes()).unwrap();
        if i % 3 == 0 {
            b.put(key.as_bytes(), b"b").unwrap();
        }
    }
    let before = everything(&db);
    assert!(a.stats().flushes > 0);
    assert!(!a.stats().tables_per_run.is_empty());
    drop((a, b));
    db.close().unwrap();
    let db = Db::open("/db", options(&fs)).unwrap();
    assert_eq!(db.keyspace_names(), ["default", "a", "b"]);
    assert_eq!(everything(&db), before);
    db.compact().unwrap();
    assert_eq!(everything(&db), before);
    db.close().unwrap();
    fs.crash();
    let db = Db::open("/db", options(&fs)).unwrap();
    assert_eq!(everything(&db), before);
}

#[test]
fn a_batch_across_keyspaces_is_all_or_nothing_and_seen_at_one_snapshot() {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs)).unwrap();
    let a = db.create_keyspace("a", KeyspaceOptions::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put(b"x", b"1")
        .put_in(&a, b"x", b"2")
        .delete_in(&a, b"y")
        .put(b"y", b"3");
    db.write(batch).unwrap();
    let snapshot = db.snapshot();
    let mut batch = WriteBatch::new();
    batch.put_in(&a, b"x", b"new").put(b"x", b"new");
    db.write(batch).unwrap();
    assert_eq!(snapshot.get(b"x").unwrap(), Some(b"1".to_vec()));
    assert_eq!(a.get_at(&snapshot, b"x").unwrap(), Some(b"2".to_vec()));
    assert_eq!(a.range_at::<&[u8], _>(&snapshot, ..).count(), 1);
    assert_eq!(a.get(b"x").unwrap(), Some(b"new".to_vec()));

    // A merge into a keyspace without an operator refuses the whole batch.
    let plain = Options::default().fs(Arc::new(MemFs::new()));
    let db = Db::open("/p", plain).unwrap();
    let c = db
        .create_keyspace(
            "c",
            KeyspaceOptions::default().merge_operator(Arc::new(U64Add)),
        )
        .unwrap();
    let mut batch = WriteBatch::new();
    batch
        .merge_in(&c, b"n", &U64Add::operand(2))
        .put(b"z", b"1");
    db.write(batch).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"w", b"1").merge(b"n", &U64Add::operand(1));
    assert!(matches!(
        db.write(batch),
        Err(Error::NoMergeOperator { .. })
    ));
    assert_eq!(db.get(b"w").unwrap(), None);
    c.merge(b"n", &U64Add::operand(3)).unwrap();
    assert_eq!(c.get(b"n").unwrap(), Some(5u64.to_le_bytes().to_vec()));
}

#[test]
fn each_keyspace_writes_its_tables_with_its_own_options() {
    let fs = MemFs::new();
    // No background compaction: it could remove a table between the
    // listing below and its open.
    let db = Db::open(
        "/db",
        options(&fs)
            .compression(Compression::None)
            .auto_compaction(false),
    )
    .unwrap();
    let zstd = db
        .create_keyspace(
            "zstd",
            KeyspaceOptions::default()
                .compression(Compression::Zstd)
                .bloom_bits_per_key(0)
                .compaction_style(CompactionStyle::Leveled)
                .leveled_compaction(lsmkit_engine::LeveledOptions {
                    l0_trigger: 2,
                    num_levels: 4,
                    ..lsmkit_engine::LeveledOptions::default()
                }),
        )
        .unwrap();
    let value = b"half compressible half compressible half compressible".repeat(4);
    for i in 0..100u32 {
        db.put(format!("k{i:03}").as_bytes(), &value).unwrap();
        zstd.put(format!("k{i:03}").as_bytes(), &value).unwrap();
    }
    db.flush().unwrap();
    let mut codecs = BTreeMap::new();
    for name in fs.list(Path::new("/db")).unwrap() {
        if !name.ends_with(".sst") {
            continue;
        }
        let reader = SstReader::open(&fs, Path::new("/db").join(&name)).unwrap();
        let props = reader.properties();
        codecs
            .entry((format!("{:?}", props.compression), props.filter_size > 0))
            .and_modify(|n| *n += 1)
            .or_insert(1);
    }
    let kinds: Vec<_> = codecs.keys().cloned().collect();
    assert_eq!(kinds.len(), 2, "{codecs:?}");
    assert!(
        kinds.iter().any(|(c, filter)| c == "Zstd" && !filter),
        "{codecs:?}"
    );
    assert!(
        kinds.iter().any(|(c, filter)| c == "None" && *filter),
        "{codecs:?}"
    );
    // Leveled in its own keyspace, tiered in the default one.
    zstd.compact().unwrap();
    assert!(zstd.stats().run_levels.iter().all(|&l| l > 0));
    db.compact().unwrap();
    assert_eq!(db.stats().run_levels, [0]);
}

#[test]
fn a_wal_segment_stays_until_every_keyspace_has_flushed_past_it() {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs).auto_compaction(false)).unwrap();
    let idle = db
        .create_keyspace("idle", KeyspaceOptions::default())
        .unwrap();
    idle.put(b"early", b"pins the WAL").unwrap();
    for i in 0..600u32 {
        db.put(format!("k{i:04}").as_bytes(), &[7; 40]).unwrap();
    }
    db.default_keyspace().flush().unwrap();
    let pinned = wal_segments(&fs);
    assert!(pinned > 3, "{pinned} segments");
    // After a crash the idle keyspace's write is replayed from them.
    let crashed = fs.crash_clone();
    let copy = Db::open("/db", options(&crashed)).unwrap();
    assert_eq!(
        copy.keyspace("idle").unwrap().get(b"early").unwrap(),
        Some(b"pins the WAL".to_vec())
    );
    drop(copy);
    idle.flush().unwrap();
    assert!(wal_segments(&fs) < pinned, "{} segments", wal_segments(&fs));
    db.close().unwrap();
    let db = Db::open("/db", options(&fs)).unwrap();
    assert!(wal_segments(&fs) <= 2, "{} segments", wal_segments(&fs));
    assert_eq!(db.keyspace("idle").unwrap().iter().count(), 1);
    assert_eq!(db.iter().count(), 600);
}

#[test]
fn a_dropped_keyspace_is_gone_with_its_tables_and_its_wal_writes() {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs).sync_writes(true)).unwrap();
    let tmp = db
        .create_keyspace("tmp", KeyspaceOptions::default())
        .unwrap();
    let tables = |fs: &MemFs| {
        fs.list(Path::new("/db"))
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".sst"))
            .count()
    };
    for i in 0..300u32 {
        tmp.put(format!("k{i:04}").as_bytes(), &[1; 40]).unwrap();
    }
    tmp.flush().unwrap();
    tmp.put(b"unflushed", b"1").unwrap();
    db.put(b"kept", b"1").unwrap();
    assert!(tables(&fs) > 0);
    db.drop_keyspace("tmp").unwrap();
    assert_eq!(tables(&fs), 0, "the dropped keyspace's tables are deleted");
    assert!(matches!(
        tmp.put(b"k", b"v"),
        Err(Error::KeyspaceNotFound { .. })
    ));
    assert!(matches!(tmp.get(b"k"), Err(Error::KeyspaceNotFound { .. })));
    assert!(matches!(
        db.drop_keyspace("tmp"),
        Err(Error::KeyspaceNotFound { .. })
    ));
    // A new keyspace of the same name starts empty, also after a crash
    // that replays the dropped one's writes from the WAL.
    let again = db
        .create_keyspace("tmp", KeyspaceOptions::default())
        .unwrap();
    assert_ne!(again.id(), tmp.id());
    again.put(b"fresh", b"1").unwrap();
    let fs = fs.crash_clone();
    drop((db, tmp, again));
    let db = Db::open("/db", options(&fs)).unwrap();
    assert_eq!(db.keyspace_names(), ["default", "tmp"]);
    let tmp = db.keyspace("tmp").unwrap();
    let got: Vec<_> = tmp.iter().map(|kv| kv.unwrap().0).collect();
    assert_eq!(got, [b"fresh".to_vec()]);
    assert_eq!(db.get(b"kept").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn read_only_opens_checkpoints_and_ingestion_know_keyspaces() {
    let fs = MemFs::new();
    let db = Db::open("/db", options(&fs)).unwrap();
    let a = db.create_keyspace("a", KeyspaceOptions::default()).unwrap();
    let b = db.create_keyspace("b", KeyspaceOptions::default()).unwrap();
    for i in 0..200u32 {
        a.put(format!("k{i:04}").as_bytes(), b"a").unwrap();
    }
    // `b` holds a write older than what `a` flushed: the checkpoint must
    // flush both to hold a prefix.
    b.put(b"old", b"b").unwrap();
    a.flush().unwrap();
    db.put(b"d", b"default").unwrap();

    let reader = Db::open_read_only("/db", options(&fs)).unwrap();
    assert_eq!(everything(&reader), everything(&db));
    assert!(matches!(
        reader.keyspace("a").unwrap().put(b"k", b"v"),
        Err(Error::ReadOnly { .. })
    ));
    assert!(matches!(
        reader.create_keyspace("c", KeyspaceOptions::default()),
        Err(Error::ReadOnly { .. })
    ));
    drop(reader);

    db.checkpoint("/copy").unwrap();
    let copy = Db::open("/copy", options(&fs)).unwrap();
    assert_eq!(everything(&copy), everything(&db));
    drop(copy);

    let path = Path::new("/bulk.sst");
    let fs_arc: Arc<dyn Fs> = Arc::new(fs.clone());
    let mut writer = SstWriter::create(fs_arc, path, SstOptions::default()).unwrap();
    writer.put(b"old", 0, b"ingested").unwrap();
    writer.put(b"zz", 0, b"ingested").unwrap();
    writer.finish().unwrap();
    b.ingest(&[path]).unwrap();
    assert_eq!(b.get(b"old").unwrap(), Some(b"ingested".to_vec()));
    assert_eq!(db.get(b"zz").unwrap(), None);
    assert_eq!(a.get(b"zz").unwrap(), None);
    let before = everything(&db);
    drop((a, b));
    db.close().unwrap();
    fs.crash();
    let db = Db::open("/db", options(&fs)).unwrap();
    assert_eq!(everything(&db), before);
}

// ---------------------------------------------------------------------
// The model: one BTreeMap per keyspace.

const NAMES: [&str; 3] = ["default", "a", "b"];

#[derive(Clone, Debug)]
enum Write {
    Put(Vec<u8>, Vec<u8>),
    Merge(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeleteRange(Vec<u8>, Vec<u8>),
}

#[derive(Clone, Debug)]
enum Op {
    Write(usize, Write),
    Batch(Vec<(usize, Write)>),
    Get(usize, Vec<u8>),
    Scan(usize, bool),
    TakeSnapshot,
    ReadSnapshot(usize, usize),
    Create(usize),
    Drop(usize),
    Flush(usize),
    FlushAll,
    Compact(usize),
    Reopen,
    Crash,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    (0u8..12).prop_map(|i| format!("k{i:02}").into_bytes())
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        6 => (key(), (0usize..100, any::<u8>()).prop_map(|(n, b)| vec![b; n]))
            .prop_map(|(k, v)| Write::Put(k, v)),
        3 => (key(), (1usize..6, any::<u8>()).prop_map(|(n, b)| vec![b; n]))
            .prop_map(|(k, v)| Write::Merge(k, v)),
        2 => key().prop_map(Write::Delete),
        1 => (key(), key()).prop_map(|(a, b)| Write::DeleteRange(a, b)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let ks = || 0usize..NAMES.len();
    prop_oneof![
        20 => (ks(), write()).prop_map(|(k, w)| Op::Write(k, w)),
        5 => proptest::collection::vec((ks(), write()), 1..6).prop_map(Op::Batch),
        4 => (ks(), key()).prop_map(|(k, key)| Op::Get(k, key)),
        2 => (ks(), any::<bool>()).prop_map(|(k, r)| Op::Scan(k, r)),
        1 => Just(Op::TakeSnapshot),
        2 => (any::<usize>(), ks()).prop_map(|(i, k)| Op::ReadSnapshot(i, k)),
        2 => (1usize..NAMES.len()).prop_map(Op::Create),
        1 => (1usize..NAMES.len()).prop_map(Op::Drop),
        2 => ks().prop_map(Op::Flush),
        1 => Just(Op::FlushAll),
        1 => ks().prop_map(Op::Compact),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

fn apply(model: &mut Model, write: &Write) {
    let as_common = match write {
        Write::Put(k, v) => common::Write::Put(k.clone(), v.clone()),
        Write::Merge(k, v) => common::Write::Merge(k.clone(), v.clone()),
        Write::Delete(k) => common::Write::Delete(k.clone()),
        Write::DeleteRange(a, b) => common::Write::DeleteRange(a.clone(), b.clone()),
    };
    common::apply(model, &as_common);
}

/// Per-keyspace options that differ: compression, style, bloom filter.
fn keyspace_options(name: &str) -> KeyspaceOptions {
    let base = KeyspaceOptions::default().merge_operator(merge_operator());
    match name {
        "a" => base
            .compression(Compression::Zstd)
            .compaction_style(CompactionStyle::Leveled)
            .leveled_compaction(lsmkit_engine::LeveledOptions {
                l0_trigger: 2,
                num_levels: 4,
                base_level_size: 4 << 10,
                target_file_size: 1 << 10,
                ..lsmkit_engine::LeveledOptions::default()
            }),
        _ => base.bloom_bits_per_key(0).write_buffer_size(1 << 10),
    }
}

fn model_options(fs: &MemFs) -> Options {
    let mut o = options(fs).sync_writes(true);
    for name in &NAMES[1..] {
        o = o.keyspace(name, keyspace_options(name));
    }
    o
}

fn run_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut fs = MemFs::new();
    let mut db = Db::open("/db", model_options(&fs)).unwrap();
    // `None`: the keyspace does not exist.
    let mut models: Vec<Option<Model>> = vec![Some(Model::new()), None, None];
    let mut snapshots: Vec<(lsmkit_engine::Snapshot, Vec<Option<Model>>)> = Vec::new();
    for op in ops {
        match op {
            Op::Write(k, w) => {
                let Some(model) = &mut models[k] else {
                    prop_assert!(db.keyspace(NAMES[k]).is_err());
                    continue;
                };
                let ks = db.keyspace(NAMES[k]).unwrap();
                match &w {
                    Write::Put(key, v) => ks.put(key, v).unwrap(),
                    Write::Merge(key, v) => ks.merge(key, v).unwrap(),
                    Write::Delete(key) => ks.delete(key).unwrap(),
                    Write::DeleteRange(a, b) => ks.delete_range(&a[..]..&b[..]).unwrap(),
                }
                apply(model, &w);
            }
            Op::Batch(writes) => {
                let mut batch = WriteBatch::new();
                let mut next = models.clone();
                let mut refused = false;
                for (k, w) in &writes {
                    let Ok(ks) = db.keyspace(NAMES[*k]) else {
                        refused = true;
                        break;
                    };
                    match w {
                        Write::Put(key, v) => batch.put_in(&ks, key, v),
                        Write::Merge(key, v) => batch.merge_in(&ks, key, v),
                        Write::Delete(key) => batch.delete_in(&ks, key),
                        Write::DeleteRange(a, b) => {
                            batch.delete_range_in(&ks, a.clone()..b.clone())
                        }
                    };
                    apply(next[*k].as_mut().unwrap(), w);
                }
                if !refused {
                    db.write(batch).unwrap();
                    models = next;
                }
            }
            Op::Get(k, key) => match &models[k] {
                Some(model) => prop_assert_eq!(
                    db.keyspace(NAMES[k]).unwrap().get(&key).unwrap(),
                    model.get(&key).cloned()
                ),
                None => prop_assert!(db.keyspace(NAMES[k]).is_err()),
            },
            Op::Scan(k, reverse) => {
                if let Some(model) = &models[k] {
                    let ks = db.keyspace(NAMES[k]).unwrap();
                    let mut expect: Vec<_> =
                        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    let got: Vec<_> = if reverse {
                        expect.reverse();
                        ks.iter().rev().collect::<Result<_, _>>().unwrap()
                    } else {
                        ks.iter().collect::<Result<_, _>>().unwrap()
                    };
                    prop_assert_eq!(got, expect);
                }
            }
            Op::TakeSnapshot => snapshots.push((db.snapshot(), models.clone())),
            Op::ReadSnapshot(i, k) if !snapshots.is_empty() => {
                let (snapshot, then) = &snapshots[i % snapshots.len()];
                // `None` when the keyspace was created or dropped since.
                if let Some(then) = &then[k] {
                    let ks = db.keyspace(NAMES[k]).unwrap();
                    let got: Model = ks
                        .range_at::<&[u8], _>(snapshot, ..)
                        .collect::<Result<_, _>>()
                        .unwrap();
                    prop_assert_eq!(&got, then, "snapshot read of {}", NAMES[k]);
                }
            }
            Op::ReadSnapshot(..) => {}
            Op::Create(k) => {
                let created = db.create_keyspace(NAMES[k], keyspace_options(NAMES[k]));
                match &models[k] {
                    Some(_) => {
                        let exists = matches!(created, Err(Error::KeyspaceExists { .. }));
                        prop_assert!(exists);
                    }
                    None => {
                        created.unwrap();
                        models[k] = Some(Model::new());
                        // Snapshots from before know nothing of the new one.
                        for (_, then) in &mut snapshots {
                            then[k] = None;
                        }
                    }
                }
            }
            Op::Drop(k) => {
                let dropped = db.drop_keyspace(NAMES[k]);
                match &models[k] {
                    Some(_) => {
                        dropped.unwrap();
                        models[k] = None;
                        for (_, then) in &mut snapshots {
                            then[k] = None;
                        }
                    }
                    None => {
                        let missing = matches!(dropped, Err(Error::KeyspaceNotFound { .. }));
                        prop_assert!(missing);
                    }
                }
            }
            Op::Flush(k) => {
                if models[k].is_some() {
                    db.keyspace(NAMES[k]).unwrap().flush().unwrap();
                }
            }
            Op::FlushAll => db.flush().unwrap(),
            Op::Compact(k) => {
                if models[k].is_some() {
                    db.keyspace(NAMES[k]).unwrap().compact().unwrap();
                }
            }
            Op::Reopen | Op::Crash => {
                snapshots.clear();
                if matches!(op, Op::Crash) {
                    // Every write was durable: a power loss loses none.
                    let crashed = fs.crash_clone();
                    drop(db);
                    fs = crashed;
                } else {
                    db.close().unwrap();
                }
                db = Db::open("/db", model_options(&fs)).unwrap();
            }
        }
        let names: Vec<String> = NAMES
            .iter()
            .zip(&models)
            .filter(|(_, m)| m.is_some())
            .map(|(n, _)| n.to_string())
            .collect();
        let mut got = db.keyspace_names();
        got.sort();
        let mut names = names;
        names.sort();
        prop_assert_eq!(got, names);
    }
    snapshots.clear();
    db.close().unwrap();
    let db = Db::open("/db", model_options(&fs)).unwrap();
    db.wait_for_compactions().unwrap();
    for (k, model) in models.iter().enumerate() {
        if let Some(model) = model {
            let got: Model = db
                .keyspace(NAMES[k])
                .unwrap()
                .iter()
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(&got, model, "keyspace {}", NAMES[k]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn keyspaces_match_a_btreemap_each(ops in proptest::collection::vec(op(), 1..120)) {
        run_model(ops)?;
    }
}

// ---------------------------------------------------------------------
// A crash at every mutating call of a workload across keyspaces.

/// One step of the crash workload; after each, the state it leaves.
fn crash_step(db: &Db, i: u32) -> lsmkit_engine::Result<()> {
    let durable = WriteOptions::durable();
    match i {
        0 => db
            .create_keyspace("a", KeyspaceOptions::default())
            .map(|_| ()),
        1 => db
            .create_keyspace("b", KeyspaceOptions::default().write_buffer_size(1 << 10))
            .map(|_| ()),
        20 => db.drop_keyspace("b"),
        21 => db
            .create_keyspace("b", KeyspaceOptions::default())
            .map(|_| ()),
        30 => db.keyspace("a")?.ingest(&[Path::new("/bulk.sst")]),
        _ if i % 9 == 4 => db.keyspace("a")?.flush(),
        _ => {
            // One batch in every keyspace, each value naming the step.
            let value = format!("step{i:03}{}", "x".repeat((i % 40) as usize)).into_bytes();
            let mut batch = WriteBatch::new();
            batch.put(format!("d{}", i % 11).as_bytes(), &value);
            for name in ["a", "b"] {
                let ks = db.keyspace(name)?;
                batch.put_in(&ks, format!("{name}{}", i % 7).as_bytes(), &value);
                if i.is_multiple_of(5) {
                    batch.delete_in(&ks, format!("{name}{}", (i + 3) % 7).as_bytes());
                }
            }
            db.write_with(batch, durable)
        }
    }
}

/// The state after each of `steps` steps, run on a fresh database.
fn crash_states(steps: u32) -> Vec<BTreeMap<String, Model>> {
    let fs = MemFs::new();
    write_bulk(&fs);
    let db = Db::open("/db", options(&fs)).unwrap();
    let mut states = vec![everything(&db)];
    for i in 0..steps {
        crash_step(&db, i).unwrap();
        states.push(everything(&db));
    }
    states
}

fn write_bulk(fs: &MemFs) {
    let arc: Arc<dyn Fs> = Arc::new(fs.clone());
    let mut writer = SstWriter::create(arc, Path::new("/bulk.sst"), SstOptions::default()).unwrap();
    writer.put(b"a0", 0, b"ingested").unwrap();
    writer.put(b"a9", 0, b"ingested").unwrap();
    writer.finish().unwrap();
}

#[test]
fn a_crash_at_every_mutating_call_across_keyspaces_recovers_a_step() {
    const STEPS: u32 = 36;
    let states = crash_states(STEPS);
    let mut k = 1;
    loop {
        let mem = MemFs::new();
        write_bulk(&mem);
        let fs = FaultFs::new(mem.clone());
        let db = Db::open("/db", small_options(Arc::new(fs.clone()))).unwrap();
        let dies = fs.add(Rule::on_mutating().from_nth(k));
        let mut done = 0;
        for i in 0..STEPS {
            if crash_step(&db, i).is_err() {
                break;
            }
            done += 1;
        }
        let died = fs.fired(dies) > 0;
        drop(db);
        if !died {
            assert_eq!(done, STEPS);
            eprintln!("crashed at {} mutating calls", k - 1);
            assert!(k > 100, "the workload made only {} mutating calls", k - 1);
            return;
        }
        for (crashed, how) in [
            (mem.crash_clone(), "crash"),
            (mem.crash_clone_torn(k), "torn crash"),
        ] {
            let db = Db::open("/db", options(&crashed))
                .unwrap_or_else(|e| panic!("call {k}, {how}: does not open: {e}"));
            let found = everything(&db);
            // Every step before the failed one was acknowledged (durable);
            // the failed one landed or not.
            let n = done as usize;
            assert!(
                found == states[n] || found == states[n + 1],
                "call {k}, {how}: after {done} steps the state is neither step {n}'s nor the next's:\n{found:?}\nexpected {:?}",
                states[n]
            );
        }
        k += 1;
    }
}
