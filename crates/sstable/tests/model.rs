//! Tables agree with a BTreeMap model: point lookups at random snapshots,
//! full scans both ways, seeks followed by steps, bounded ranges.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cmp::Ordering;
use std::sync::Arc;

use common::{Model, scan, scan_back, seek_key};
use lsmkit_sstable::key::{self, InternalKey};
use lsmkit_sstable::{
    BlockCache, Compression, FormatVersion, InternalIterator, Lookup, RangeTombstone,
    ReaderOptions, SstOptions, SstReader, SstWriter,
};
use lsmkit_vfs::{Fs, MemFs};
use proptest::prelude::*;

fn user_key() -> impl Strategy<Value = Vec<u8>> {
    // A small alphabet, so that keys repeat and share prefixes.
    proptest::collection::vec(
        prop_oneof![Just(b'a'), Just(b'b'), Just(b'c'), Just(0xff)],
        0..4,
    )
}

#[derive(Clone, Debug)]
enum Op {
    Put(Vec<u8>, u64, Vec<u8>),
    Delete(Vec<u8>, u64),
    Range(Vec<u8>, Vec<u8>, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (user_key(), 1..100u64, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(k, s, v)| Op::Put(k, s, v)),
        2 => (user_key(), 1..100u64).prop_map(|(k, s)| Op::Delete(k, s)),
        1 => (user_key(), user_key(), 1..100u64).prop_map(|(a, b, s)| Op::Range(a, b, s)),
    ]
}

fn model_of(ops: &[Op]) -> Model {
    let mut m = Model::default();
    for op in ops {
        match op {
            Op::Put(k, s, v) => m.put(k, *s, v),
            Op::Delete(k, s) => m.delete(k, *s),
            Op::Range(a, b, s) if a < b => {
                m.tombstones.push(RangeTombstone::new(&a[..], &b[..], *s))
            }
            Op::Range(..) => {}
        }
    }
    m
}

/// Every layout, version and codec: a savings threshold of 0 keeps every
/// block that shrinks at all, 1000 none, and those between give tables
/// that mix compressed and raw blocks.
fn options() -> impl Strategy<Value = SstOptions> {
    let version = prop_oneof![Just(FormatVersion::V1), Just(FormatVersion::V2)];
    let codec = proptest::sample::select(common::codecs());
    let savings = prop_oneof![Just(0u32), Just(1000), 0..300u32];
    (16..600usize, 1..6usize, 0..14u32, version, codec, savings).prop_map(
        |(block, restart, bits, version, codec, savings)| {
            let codec = if version == FormatVersion::V1 {
                Compression::None
            } else {
                codec
            };
            SstOptions::default()
                .block_size(block)
                .restart_interval(restart)
                .bloom_bits_per_key(bits)
                .creation_time(1)
                .format_version(version)
                .compression(codec)
                .compression_min_savings_permille(savings)
        },
    )
}

/// Index of the first model entry `>= target`.
fn lower_bound(list: &[(Vec<u8>, Vec<u8>)], target: &[u8]) -> usize {
    list.partition_point(|(k, _)| key::compare(k, target) == Ordering::Less)
}

/// No cache, a cache too small for any block, one that holds a few
/// blocks (so that reads evict), or one that holds the whole table.
fn cache() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        Just(None),
        Just(Some(0)),
        (1..3000u64).prop_map(Some),
        Just(Some(1 << 20))
    ]
}

fn open(model: &Model, options: SstOptions, cache: Option<u64>) -> Arc<SstReader> {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    model.write(&fs, "/t.sst", options);
    let mut reader_options = ReaderOptions::default();
    if let Some(capacity) = cache {
        reader_options = reader_options.block_cache(Arc::new(BlockCache::new(capacity)));
    }
    SstReader::open_with(&*fs, "/t.sst", reader_options).unwrap()
}

/// Every data block read of `table` so far went through its cache, which
/// holds no more than its capacity.
fn check_cache(table: &SstReader) {
    if let Some(cache) = table.block_cache() {
        let stats = cache.stats();
        assert!(stats.bytes <= stats.capacity, "{stats:?}");
        assert!(stats.inserts <= stats.misses, "{stats:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::scaled_cases(128), ..ProptestConfig::default() })]

    #[test]
    fn lookups_match_the_model(ops in proptest::collection::vec(op(), 0..120),
                               options in options(),
                               cache in cache(),
                               probes in proptest::collection::vec((user_key(), 0..110u64), 1..60)) {
        let model = model_of(&ops);
        let table = open(&model, options, cache);
        table.verify().unwrap();
        for (k, snapshot) in probes {
            prop_assert_eq!(table.get(&k, snapshot).unwrap(), model.get(&k, snapshot), "{:?}@{}", k, snapshot);
        }
        // Every stored version, at its own seqno and just below.
        for k in model.entries.keys() {
            let s = k.seqno();
            prop_assert_eq!(table.get(k.user_key(), s).unwrap(), model.get(k.user_key(), s));
            prop_assert_eq!(table.get(k.user_key(), s - 1).unwrap(), model.get(k.user_key(), s - 1));
        }
        let props = table.properties();
        prop_assert_eq!(props.num_entries, model.entries.len() as u64);
        check_cache(&table);
    }

    #[test]
    fn iteration_matches_the_model(ops in proptest::collection::vec(op(), 0..120),
                                   options in options(),
                                   cache in cache(),
                                   fill in any::<bool>(),
                                   seeks in proptest::collection::vec(
                                       (user_key(), 0..110u64, proptest::collection::vec(any::<bool>(), 0..8)), 1..20)) {
        let model = model_of(&ops);
        let list = model.list();
        let table = open(&model, options, cache);
        let mut it = table.iter().fill_cache(fill);
        prop_assert_eq!(scan(&mut it), list.clone());
        let mut back = list.clone();
        back.reverse();
        prop_assert_eq!(scan_back(&mut it), back);

        for (k, snapshot, steps) in seeks {
            let target = seek_key(&k, snapshot);
            it.seek(&target);
            let mut pos = lower_bound(&list, &target) as isize;
            for forward in steps {
                match list.get(pos as usize).filter(|_| pos >= 0) {
                    Some((key, value)) => {
                        prop_assert!(it.valid());
                        prop_assert_eq!(it.key(), &key[..]);
                        prop_assert_eq!(it.value(), &value[..]);
                    }
                    None => { prop_assert!(!it.valid()); break; }
                }
                if forward { it.next(); pos += 1; } else { it.prev(); pos -= 1; }
            }
            it.status().unwrap();
        }
        check_cache(&table);
    }

    #[test]
    fn bounded_ranges_match_the_model(ops in proptest::collection::vec(op(), 0..120),
                                      options in options(),
                                      cache in cache(),
                                      lower in proptest::option::of(user_key()),
                                      upper in proptest::option::of(user_key()),
                                      seek in user_key()) {
        let model = model_of(&ops);
        let table = open(&model, options, cache);
        let inside = |k: &InternalKey| {
            lower.as_ref().is_none_or(|l| k.user_key() >= l.as_slice())
                && upper.as_ref().is_none_or(|u| k.user_key() < u.as_slice())
        };
        let expected: Vec<_> = model.entries.iter()
            .filter(|(k, _)| inside(k))
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect();
        let mut it = table.range(lower.as_deref(), upper.as_deref());
        prop_assert_eq!(scan(&mut it), expected.clone());
        let mut back = expected.clone();
        back.reverse();
        prop_assert_eq!(scan_back(&mut it), back);
        let target = seek_key(&seek, u64::MAX);
        it.seek(&target);
        let want = expected.iter().find(|(k, _)| key::compare(k, &target) != Ordering::Less);
        match want {
            Some((k, _)) => prop_assert_eq!(it.key(), &k[..]),
            None => prop_assert!(!it.valid()),
        }
    }
}

#[test]
fn iterators_outlive_their_reader_handle() {
    let model = common::small_model();
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    model.write(&fs, "/t.sst", common::small_options());
    let mut it = {
        let table = SstReader::open(&*fs, "/t.sst").unwrap();
        table.iter()
    };
    assert_eq!(scan(&mut it), model.list());
}

#[test]
fn empty_table_reads_as_empty() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let meta = SstWriter::create(fs.clone(), "/e.sst", SstOptions::default())
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(meta.properties.num_data_blocks, 0);
    assert_eq!(meta.filter, None);
    let table = SstReader::open(&*fs, "/e.sst").unwrap();
    assert_eq!(table.get(b"a", 5).unwrap(), Lookup::Absent);
    let mut it = table.iter();
    assert!(scan(&mut it).is_empty());
    assert!(scan_back(&mut it).is_empty());
    it.seek(&seek_key(b"a", 1));
    assert!(!it.valid());
    table.verify().unwrap();
}

#[test]
fn a_table_of_only_range_tombstones_deletes() {
    let mut model = Model::default();
    model
        .tombstones
        .push(RangeTombstone::new(&b"b"[..], &b"d"[..], 9));
    let table = open(&model, SstOptions::default(), None);
    assert_eq!(table.get(b"c", 9).unwrap(), Lookup::Deleted);
    assert_eq!(table.get(b"c", 8).unwrap(), Lookup::Absent);
    assert_eq!(table.get(b"d", 9).unwrap(), Lookup::Absent);
    assert_eq!(table.range_tombstones(), &model.tombstones[..]);
    assert_eq!(table.properties().min_seqno, Some(9));
}
