//! Compaction filters and the TTL through the engine: what a filter
//! removes or changes is gone after compaction under both styles, a
//! snapshot goes on reading what it read (also one taken while the
//! compaction runs), and `Options::ttl` removes expired values.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Once, OnceLock, Weak};
use std::time::Duration;

use lsmkit_engine::{
    CompactionFilter, CompactionStyle, Db, Decision, Error, FilterContext, Options, Snapshot,
    ttl_value,
};
use lsmkit_vfs::MemFs;

fn options(fs: &MemFs, style: CompactionStyle) -> Options {
    common::styled_options(fs, style)
}

/// Removes values starting with `x`; upper-cases values starting with `u`
/// (idempotent, so a value filtered twice reads the same).
#[derive(Debug)]
struct Rule;

impl CompactionFilter for Rule {
    fn name(&self) -> &str {
        "test.Rule"
    }

    fn filter(&self, _key: &[u8], value: &[u8], _context: &FilterContext) -> Decision {
        match value.first() {
            Some(b'x') => Decision::Remove,
            Some(b'u') => Decision::Change(value.to_ascii_uppercase()),
            _ => Decision::Keep,
        }
    }
}

fn filtered(value: &[u8]) -> Option<Vec<u8>> {
    match value.first() {
        Some(b'x') => None,
        Some(b'u') => Some(value.to_ascii_uppercase()),
        _ => Some(value.to_vec()),
    }
}

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.iter().map(|kv| kv.unwrap()).collect()
}

#[test]
fn a_full_compaction_applies_the_filter_under_both_styles_and_reopens() {
    for style in [CompactionStyle::Tiered, CompactionStyle::Leveled] {
        let fs = MemFs::new();
        let db = Db::open("/db", options(&fs, style).compaction_filter(Arc::new(Rule))).unwrap();
        let mut model = BTreeMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for i in 0..4000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = format!("key{:05}", x % 1500).into_bytes();
            let value = format!("{}{i:08}", ["x", "u", "k"][(x >> 20) as usize % 3]).into_bytes();
            db.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        db.compact().unwrap();
        let expected: BTreeMap<Vec<u8>, Vec<u8>> = model
            .iter()
            .filter_map(|(k, v)| filtered(v).map(|v| (k.clone(), v)))
            .collect();
        assert_eq!(contents(&db), expected, "{style:?}");
        for (k, v) in &model {
            assert_eq!(db.get(k).unwrap(), filtered(v), "{style:?} {k:?}");
        }
        let stats = db.stats();
        assert!(
            stats.filter_removed > 0 && stats.filter_changed > 0,
            "{stats:?}"
        );
        db.close().unwrap();
        let db = Db::open("/db", options(&fs, style)).unwrap();
        assert_eq!(contents(&db), expected, "{style:?} after reopen");
        db.close().unwrap();
    }
}

#[test]
fn a_snapshot_reads_what_it_read_until_it_is_released() {
    let fs = MemFs::new();
    let db = Db::open(
        "/db",
        options(&fs, CompactionStyle::Tiered).compaction_filter(Arc::new(Rule)),
    )
    .unwrap();
    db.put(b"a", b"x-before").unwrap();
    db.put(b"b", b"u-before").unwrap();
    let snapshot = db.snapshot();
    db.put(b"a", b"x-after").unwrap();
    db.put(b"c", b"u-after").unwrap();
    db.compact().unwrap();
    // The snapshot reads its versions; the newest state reads the filter's
    // decisions on the writes after it, and the unfiltered versions the
    // snapshot also reads.
    assert_eq!(snapshot.get(b"a").unwrap(), Some(b"x-before".to_vec()));
    assert_eq!(snapshot.get(b"b").unwrap(), Some(b"u-before".to_vec()));
    assert_eq!(snapshot.get(b"c").unwrap(), None);
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap(), Some(b"u-before".to_vec()));
    assert_eq!(db.get(b"c").unwrap(), Some(b"U-AFTER".to_vec()));
    drop(snapshot);
    db.compact().unwrap();
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap(), Some(b"U-BEFORE".to_vec()));
    db.close().unwrap();
}

/// Removes everything, and takes a snapshot of the database the first
/// time it is consulted: a snapshot taken while a compaction runs.
struct SnapshotOnFirstCall {
    db: OnceLock<Weak<Db>>,
    taken: Mutex<Option<Snapshot>>,
    once: Once,
}

impl CompactionFilter for SnapshotOnFirstCall {
    fn name(&self) -> &str {
        "test.SnapshotOnFirstCall"
    }

    fn filter(&self, _key: &[u8], _value: &[u8], _context: &FilterContext) -> Decision {
        self.once.call_once(|| {
            if let Some(db) = self.db.get().and_then(Weak::upgrade) {
                *self.taken.lock().unwrap() = Some(db.snapshot());
            }
        });
        Decision::Remove
    }
}

#[test]
fn a_snapshot_taken_during_a_filtered_compaction_reads_the_inputs() {
    let fs = MemFs::new();
    let filter = Arc::new(SnapshotOnFirstCall {
        db: OnceLock::new(),
        taken: Mutex::new(None),
        once: Once::new(),
    });
    let db = Arc::new(
        Db::open(
            "/db",
            options(&fs, CompactionStyle::Tiered).compaction_filter(filter.clone()),
        )
        .unwrap(),
    );
    filter.db.set(Arc::downgrade(&db)).unwrap();
    for i in 0..50u32 {
        db.put(format!("k{i:02}").as_bytes(), b"v").unwrap();
    }
    db.compact().unwrap();
    let snapshot = filter.taken.lock().unwrap().take().unwrap();
    // The first run of the compaction was undone; the next one saw the
    // snapshot and filtered nothing it reads.
    assert!(db.stats().filter_retries >= 1);
    for i in 0..50u32 {
        let key = format!("k{i:02}");
        assert_eq!(snapshot.get(key.as_bytes()).unwrap(), Some(b"v".to_vec()));
    }
    assert_eq!(snapshot.iter().count(), 50);
    drop(snapshot);
    db.compact().unwrap();
    assert_eq!(db.iter().count(), 0);
}

#[test]
fn ttl_removes_expired_values_by_the_system_clock() {
    let fs = MemFs::new();
    let db = Db::open(
        "/db",
        options(&fs, CompactionStyle::Tiered).ttl(Duration::from_secs(3600)),
    )
    .unwrap();
    db.put(b"old", &ttl_value(0, b"1970")).unwrap();
    db.put(b"new", &ttl_value(u64::MAX / 2, b"far future"))
        .unwrap();
    db.put(b"raw", b"no stamp").unwrap();
    assert!(
        db.get(b"old").unwrap().is_some(),
        "expired values stay until compaction"
    );
    db.compact().unwrap();
    assert_eq!(db.get(b"old").unwrap(), None);
    assert_eq!(
        db.get(b"new").unwrap(),
        Some(ttl_value(u64::MAX / 2, b"far future"))
    );
    assert_eq!(db.get(b"raw").unwrap(), Some(b"no stamp".to_vec()));
    assert_eq!(db.stats().filter_removed, 1);
    db.close().unwrap();
}

#[test]
fn ttl_and_a_filter_together_are_refused() {
    let fs = MemFs::new();
    let options = options(&fs, CompactionStyle::Tiered)
        .ttl(Duration::from_secs(1))
        .compaction_filter(Arc::new(Rule));
    assert!(matches!(
        Db::open("/db", options),
        Err(Error::InvalidOption { option: "ttl", .. })
    ));
}

mod model {
    //! The engine against a model under a filter: with compaction only
    //! when asked, a full compaction applies the rule to exactly the
    //! values written after the newest live snapshot, and every snapshot
    //! reads its own frozen copy.

    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Put(u8, u8, u16),
        Delete(u8),
        Snapshot,
        Release(usize),
        Flush,
        Compact,
        Reopen,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u8..24, 0u8..3, any::<u16>()).prop_map(|(k, p, n)| Op::Put(k, p, n)),
            2 => (0u8..24).prop_map(Op::Delete),
            1 => Just(Op::Snapshot),
            1 => any::<usize>().prop_map(Op::Release),
            1 => Just(Op::Flush),
            2 => Just(Op::Compact),
            1 => Just(Op::Reopen),
        ]
    }

    type Versions = BTreeMap<Vec<u8>, (u64, Vec<u8>)>;
    type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

    fn view(v: &Versions) -> Contents {
        v.iter().map(|(k, (_, v))| (k.clone(), v.clone())).collect()
    }

    fn run(ops: Vec<Op>, style: CompactionStyle) -> Result<(), TestCaseError> {
        let fs = MemFs::new();
        let open = || {
            let mut o = options(&fs, style).compaction_filter(Arc::new(Rule));
            o.auto_compaction = false;
            Db::open("/db", o).unwrap()
        };
        let mut db = open();
        // Key -> (seqno of its newest write, value); deletes remove.
        let mut model: Versions = BTreeMap::new();
        let mut seqno = 0u64;
        let mut snapshots: Vec<(Snapshot, Contents)> = Vec::new();
        for op in ops {
            match op {
                Op::Put(k, prefix, n) => {
                    let key = format!("k{k:02}").into_bytes();
                    let value = format!("{}{n}", ["x", "u", "k"][prefix as usize]).into_bytes();
                    db.put(&key, &value).unwrap();
                    seqno += 1;
                    model.insert(key, (seqno, value));
                }
                Op::Delete(k) => {
                    let key = format!("k{k:02}").into_bytes();
                    db.delete(&key).unwrap();
                    seqno += 1;
                    model.remove(&key);
                }
                Op::Snapshot => {
                    let snapshot = db.snapshot();
                    prop_assert_eq!(snapshot.seqno(), seqno);
                    snapshots.push((snapshot, view(&model)));
                }
                Op::Release(i) if !snapshots.is_empty() => {
                    snapshots.remove(i % snapshots.len());
                }
                Op::Release(_) => {}
                Op::Flush => db.flush().unwrap(),
                Op::Compact => {
                    db.compact().unwrap();
                    let newest = snapshots.iter().map(|(s, _)| s.seqno()).max();
                    model = std::mem::take(&mut model)
                        .into_iter()
                        .filter_map(|(k, (s, v))| {
                            if newest.is_some_and(|n| s <= n) {
                                return Some((k, (s, v)));
                            }
                            filtered(&v).map(|v| (k, (s, v)))
                        })
                        .collect();
                }
                Op::Reopen => {
                    snapshots.clear();
                    db.close().unwrap();
                    db = open();
                }
            }
            for (snapshot, expected) in &snapshots {
                let got: BTreeMap<Vec<u8>, Vec<u8>> =
                    snapshot.iter().map(|kv| kv.unwrap()).collect();
                prop_assert_eq!(&got, expected, "snapshot at {}", snapshot.seqno());
            }
            prop_assert_eq!(contents(&db), view(&model));
        }
        Ok(())
    }

    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(32)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn filtered_compactions_match_the_model(
            ops in proptest::collection::vec(op(), 1..120),
            leveled in any::<bool>(),
        ) {
            let style = if leveled { CompactionStyle::Leveled } else { CompactionStyle::Tiered };
            run(ops, style)?;
        }
    }
}
