//! A table read at a global sequence number answers as the same table
//! written at that number would: scans both ways, seeks at every snapshot,
//! bounded ranges and point lookups, against the model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Model, scan, scan_back, seek_key, small_options};
use lsmkit_sstable::key::{InternalKey, MAX_SEQNO};
use lsmkit_sstable::{
    Error, InternalIterator, RangeTombstone, ReaderOptions, SstReader, ValueKind,
};
use lsmkit_vfs::{Fs, MemFs};
use proptest::prelude::*;

fn user_key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 0..4)
}

/// One version per key (a put or a delete at its own sequence number, all
/// above the tombstones', so that no tombstone covers a newer value).
#[derive(Clone, Debug)]
struct Table {
    versions: BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)>,
    tombstones: Vec<(Vec<u8>, Vec<u8>, u64)>,
}

fn table() -> impl Strategy<Value = Table> {
    let version = (
        50..100u64,
        proptest::option::weighted(0.8, proptest::collection::vec(any::<u8>(), 0..30)),
    );
    (
        proptest::collection::btree_map(user_key(), version, 0..40),
        proptest::collection::vec((user_key(), user_key(), 1..50u64), 0..3),
    )
        .prop_map(|(versions, tombstones)| Table {
            versions,
            tombstones: tombstones.into_iter().filter(|(a, b, _)| a < b).collect(),
        })
}

/// The table as written, and the model of it at `global`.
fn models(t: &Table, global: u64) -> (Model, Model) {
    let (mut file, mut at_global) = (Model::default(), Model::default());
    for (key, (seqno, value)) in &t.versions {
        match value {
            Some(v) => {
                file.put(key, *seqno, v);
                at_global.put(key, global, v);
            }
            None => {
                file.delete(key, *seqno);
                at_global.delete(key, global);
            }
        }
    }
    for (a, b, seqno) in &t.tombstones {
        file.tombstones
            .push(RangeTombstone::new(&a[..], &b[..], *seqno));
        at_global
            .tombstones
            .push(RangeTombstone::new(&a[..], &b[..], global));
    }
    (file, at_global)
}

fn open_at(t: &Table, global: u64) -> (Arc<SstReader>, Model) {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let (file, model) = models(t, global);
    file.write(&fs, "/t.sst", small_options());
    let options = ReaderOptions::default().global_seqno(global);
    (
        SstReader::open_with(&*fs, "/t.sst", options).unwrap(),
        model,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled_cases(128), ..ProptestConfig::default() })]

    #[test]
    fn a_table_at_a_global_seqno_reads_as_if_written_there(
        t in table(),
        global in 1..300u64,
        seeks in proptest::collection::vec((user_key(), 0..400u64), 0..12),
        bounds in (proptest::option::of(user_key()), proptest::option::of(user_key())),
    ) {
        let (reader, model) = open_at(&t, global);
        prop_assert_eq!(reader.global_seqno(), Some(global));
        let listed = model.list();
        prop_assert_eq!(&scan(&mut reader.iter()), &listed);
        let mut back = scan_back(&mut reader.iter());
        back.reverse();
        prop_assert_eq!(&back, &listed);

        let mut it = reader.iter();
        for (key, snapshot) in &seeks {
            let target = seek_key(key, *snapshot);
            it.seek(&target);
            let expected = model
                .entries
                .range(InternalKey::seek(key, *snapshot)..)
                .next()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()));
            let got = it.valid().then(|| (it.key().to_vec(), it.value().to_vec()));
            prop_assert_eq!(got, expected, "seek {:?}@{}", key, snapshot);
            for snapshot in [*snapshot, global - 1, global, MAX_SEQNO] {
                prop_assert_eq!(
                    reader.get(key, snapshot).unwrap(),
                    model.get(key, snapshot),
                    "get {:?}@{}", key, snapshot
                );
            }
        }

        let (lower, upper) = bounds;
        let in_range = |k: &[u8]| {
            let user = lsmkit_sstable::key::user_key(k);
            lower.as_ref().is_none_or(|l| user >= l.as_slice())
                && upper.as_ref().is_none_or(|u| user < u.as_slice())
        };
        let expected: Vec<_> = listed.iter().filter(|(k, _)| in_range(k)).cloned().collect();
        let mut range = reader.range(lower.as_deref(), upper.as_deref());
        prop_assert_eq!(&scan(&mut range), &expected);
        let mut back = scan_back(&mut reader.range(lower.as_deref(), upper.as_deref()));
        back.reverse();
        prop_assert_eq!(&back, &expected);

        for t in reader.range_tombstones() {
            prop_assert_eq!(t.seqno, global);
        }
    }
}

#[test]
fn the_global_seqno_hides_the_file_from_older_snapshots() {
    let mut versions = BTreeMap::new();
    versions.insert(b"k".to_vec(), (70, Some(b"v".to_vec())));
    let t = Table {
        versions,
        tombstones: vec![(b"a".to_vec(), b"z".to_vec(), 10)],
    };
    let (reader, _) = open_at(&t, 500);
    assert_eq!(
        reader.get(b"k", 499).unwrap(),
        lsmkit_sstable::Lookup::Absent
    );
    assert_eq!(
        reader.get(b"q", 499).unwrap(),
        lsmkit_sstable::Lookup::Absent
    );
    assert_eq!(
        reader.get(b"k", 500).unwrap(),
        lsmkit_sstable::Lookup::Found(b"v".to_vec())
    );
    assert_eq!(
        reader.get(b"q", 500).unwrap(),
        lsmkit_sstable::Lookup::Deleted
    );
    let mut it = reader.iter();
    it.seek_to_first();
    let parsed = lsmkit_sstable::ParsedKey::parse(it.key()).unwrap();
    assert_eq!((parsed.seqno, parsed.kind), (500, ValueKind::Put));
}

#[test]
fn a_global_seqno_above_the_largest_is_refused_naming_the_file() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    common::small_model().write(&fs, "/t.sst", small_options());
    let options = ReaderOptions::default().global_seqno(MAX_SEQNO + 1);
    let err = SstReader::open_with(&*fs, "/t.sst", options).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                option: "global_seqno",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("/t.sst"), "{err}");
}
