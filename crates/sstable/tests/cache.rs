//! The block cache: hits do not read the file, readers sharing a cache
//! never see each other's blocks, scans can leave it alone, a corrupt
//! block is never cached, and it stays within its capacity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{Model, VecFile, block_handles, scan, small_model, small_options, small_table_bytes};
use lsmkit_sstable::{BlockCache, InternalIterator, Lookup, ReaderOptions, SstOptions, SstReader};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Op};

fn cached(cache: &Arc<BlockCache>) -> ReaderOptions {
    ReaderOptions::default().block_cache(cache.clone())
}

/// The small table on a filesystem that counts reads (it hides the
/// in-memory view, so every block read is a counted `read_at`).
fn counted_table(cache: &Arc<BlockCache>) -> (FaultFs, Arc<SstReader>) {
    let fs = FaultFs::new(MemFs::new());
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    small_model().write(&shared, "/t.sst", small_options());
    let table = SstReader::open_with(&fs, "/t.sst", cached(cache)).unwrap();
    (fs, table)
}

#[test]
fn a_second_lookup_in_a_block_reads_nothing() {
    let cache = Arc::new(BlockCache::new(1 << 20));
    let (fs, table) = counted_table(&cache);
    let expected = small_model().get(b"key001", 1000);

    let before = fs.count(Op::Read);
    assert_eq!(table.get(b"key001", 1000).unwrap(), expected);
    assert_eq!(fs.count(Op::Read), before + 1, "the miss reads the block");
    for _ in 0..3 {
        assert_eq!(table.get(b"key001", 1000).unwrap(), expected);
    }
    assert_eq!(fs.count(Op::Read), before + 1, "hits read nothing");
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.inserts, stats.blocks),
        (3, 1, 1, 1)
    );
    assert!(
        stats.bytes > BlockCache::CHARGE_PER_BLOCK
            && stats.bytes <= 300 + BlockCache::CHARGE_PER_BLOCK,
        "{stats:?}"
    );

    // A scan through the warm cache reads only the other blocks, once.
    let blocks = table.properties().num_data_blocks;
    assert_eq!(scan(&mut table.iter()), small_model().list());
    assert_eq!(fs.count(Op::Read), before + blocks);
    assert_eq!(scan(&mut table.iter()), small_model().list());
    assert_eq!(fs.count(Op::Read), before + blocks);
    assert_eq!(cache.stats().blocks, blocks);
}

#[test]
fn without_a_cache_every_lookup_reads() {
    let fs = FaultFs::new(MemFs::new());
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    small_model().write(&shared, "/t.sst", small_options());
    let table = SstReader::open(&fs, "/t.sst").unwrap();
    assert!(table.block_cache().is_none());
    let before = fs.count(Op::Read);
    for _ in 0..3 {
        table.get(b"key001", 1000).unwrap();
    }
    assert_eq!(fs.count(Op::Read), before + 3);
}

#[test]
fn scans_that_do_not_fill_use_but_leave_the_cache() {
    let cache = Arc::new(BlockCache::new(1 << 20));
    let (fs, table) = counted_table(&cache);
    let blocks = table.properties().num_data_blocks;
    table.get(b"key001", 1000).unwrap(); // one block cached

    let before = fs.count(Op::Read);
    assert_eq!(
        scan(&mut table.iter().fill_cache(false)),
        small_model().list()
    );
    assert_eq!(
        fs.count(Op::Read),
        before + blocks - 1,
        "the cached block is used"
    );
    assert_eq!(cache.stats().blocks, 1, "nothing inserted");
    assert_eq!(cache.stats().inserts, 1);

    assert_eq!(
        scan(&mut table.iter().fill_cache(true)),
        small_model().list()
    );
    assert_eq!(cache.stats().blocks, blocks);
}

#[test]
fn verify_reads_the_file_whatever_is_cached() {
    let cache = Arc::new(BlockCache::new(1 << 20));
    let (fs, table) = counted_table(&cache);
    scan(&mut table.iter());
    let stats = cache.stats();
    let before = fs.count(Op::Read);
    table.verify().unwrap();
    assert!(fs.count(Op::Read) >= before + table.properties().num_data_blocks);
    assert_eq!(
        cache.stats(),
        stats,
        "verify neither reads nor fills the cache"
    );
}

/// Two tables with the same layout (same keys, same value lengths) hold
/// their data blocks at the same offsets: only the reader id tells their
/// blocks apart in a shared cache.
fn twin(value: u8) -> Model {
    let mut m = Model::default();
    for i in 0..200u64 {
        m.put(format!("key{i:04}").as_bytes(), i + 1, &[value; 24]);
    }
    m
}

#[test]
fn readers_sharing_a_cache_never_see_each_others_blocks() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let (a, b) = (twin(b'a'), twin(b'b'));
    let meta_a = a.write(&fs, "/a.sst", small_options());
    let meta_b = b.write(&fs, "/b.sst", small_options());
    assert_eq!(meta_a.footer, meta_b.footer, "the twins share their layout");

    let cache = Arc::new(BlockCache::new(1 << 20));
    let ta = SstReader::open_with(&*fs, "/a.sst", cached(&cache)).unwrap();
    let tb = SstReader::open_with(&*fs, "/b.sst", cached(&cache)).unwrap();
    // The same file opened twice is two readers too.
    let ta2 = SstReader::open_with(&*fs, "/a.sst", cached(&cache)).unwrap();
    for round in 0..2 {
        for i in (0..200u64).step_by(7) {
            let k = format!("key{i:04}");
            for (table, model) in [(&ta, &a), (&tb, &b), (&ta2, &a)] {
                assert_eq!(
                    table.get(k.as_bytes(), 1000).unwrap(),
                    model.get(k.as_bytes(), 1000),
                    "round {round}, {k}"
                );
            }
        }
    }
    assert_eq!(scan(&mut tb.iter()), b.list());
    assert_eq!(scan(&mut ta.iter()), a.list());
    assert!(cache.stats().hits > 0);
}

#[test]
fn a_table_recreated_under_its_path_is_not_served_stale_blocks() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let cache = Arc::new(BlockCache::new(1 << 20));
    twin(b'a').write(&fs, "/t.sst", small_options());
    let old = SstReader::open_with(&*fs, "/t.sst", cached(&cache)).unwrap();
    assert_eq!(scan(&mut old.iter()), twin(b'a').list());
    drop(old);

    fs.remove("/t.sst".as_ref()).unwrap();
    twin(b'b').write(&fs, "/t.sst", small_options());
    let new = SstReader::open_with(&*fs, "/t.sst", cached(&cache)).unwrap();
    assert_eq!(scan(&mut new.iter()), twin(b'b').list());
    assert_eq!(
        new.get(b"key0003", 10).unwrap(),
        Lookup::Found(vec![b'b'; 24])
    );
}

#[test]
fn a_corrupt_block_is_reported_every_time_and_never_cached() {
    let mut bytes = small_table_bytes();
    let first = block_handles(&bytes)[0];
    assert_eq!(first.offset, 0, "the first data block");
    bytes[first.offset as usize + 2] ^= 0x10;
    for mapped in [true, false] {
        let cache = Arc::new(BlockCache::new(1 << 20));
        let file = Arc::new(VecFile {
            bytes: bytes.clone(),
            mapped,
        });
        let table = SstReader::open_file_with(file, "/bad.sst", cached(&cache)).unwrap();
        // "key000" lies in the first block.
        for _ in 0..3 {
            let err = table.get(b"key000", 1000).unwrap_err();
            assert!(err.is_corruption(), "{err}");
        }
        let mut it = table.iter();
        it.seek_to_first();
        assert!(!it.valid());
        assert!(it.status().unwrap_err().is_corruption());
        let stats = cache.stats();
        assert_eq!(
            (stats.inserts, stats.blocks, stats.bytes),
            (0, 0, 0),
            "{stats:?}"
        );
        // The other blocks still read, and are cached.
        assert_eq!(
            table.get(b"key039", 1000).unwrap(),
            small_model().get(b"key039", 1000)
        );
        assert_eq!(cache.stats().blocks, 1);
    }
}

#[test]
fn a_small_cache_stays_within_capacity_and_answers_right() {
    let model = twin(b'x');
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    model.write(&fs, "/t.sst", small_options());
    let cache = Arc::new(BlockCache::new(1000)); // a few 256-byte blocks
    let table = SstReader::open_with(&*fs, "/t.sst", cached(&cache)).unwrap();
    assert!(table.properties().num_data_blocks > 20);
    for round in 0..3 {
        for i in 0..200u64 {
            let k = format!("key{:04}", (i * 37) % 200);
            assert_eq!(
                table.get(k.as_bytes(), 1000).unwrap(),
                model.get(k.as_bytes(), 1000),
                "round {round}, {k}"
            );
            let stats = cache.stats();
            assert!(stats.bytes <= stats.capacity, "{stats:?}");
        }
    }
    let stats = cache.stats();
    assert!(
        stats.inserts > stats.blocks,
        "blocks were evicted: {stats:?}"
    );
    assert_eq!(scan(&mut table.iter()), model.list());
}

#[test]
fn threads_share_one_cache() {
    let model = twin(b't');
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    model.write(&fs, "/t.sst", SstOptions::default().block_size(512));
    let cache = Arc::new(BlockCache::new(4096));
    let table = SstReader::open_with(&*fs, "/t.sst", cached(&cache)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (table, model) = (&table, &model);
            s.spawn(move || {
                for i in 0..400u64 {
                    let k = format!("key{:04}", (i * 13 + t * 51) % 200);
                    assert_eq!(
                        table.get(k.as_bytes(), 1000).unwrap(),
                        model.get(k.as_bytes(), 1000)
                    );
                }
                assert_eq!(scan(&mut table.iter()), model.list());
            });
        }
    });
    let stats = cache.stats();
    assert!(stats.hits > 0 && stats.bytes <= stats.capacity, "{stats:?}");
}

#[test]
fn readers_and_caches_are_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<BlockCache>();
    shareable::<SstReader>();
    shareable::<ReaderOptions>();
}

#[test]
fn compressed_blocks_are_cached_decompressed_and_charged_their_raw_size_and_holding() {
    for codec in common::codecs() {
        let cache = Arc::new(BlockCache::new(1 << 20));
        let bytes = common::small_table_bytes_with(codec);
        let file = Arc::new(VecFile {
            bytes,
            mapped: true,
        });
        let table = SstReader::open_file_with(file, "/t.sst", cached(&cache)).unwrap();
        assert_eq!(scan(&mut table.iter()), small_model().list());
        let p = table.properties();
        let stats = cache.stats();
        assert_eq!(stats.blocks, p.num_data_blocks, "{codec:?}");
        assert_eq!(
            stats.bytes,
            p.raw_data_size + p.num_data_blocks * BlockCache::CHARGE_PER_BLOCK,
            "{codec:?}"
        );
        if codec != lsmkit_sstable::Compression::None {
            assert!(p.raw_data_size > p.data_size, "{codec:?}: {p:?}");
        }
        // Hits serve the decompressed block again, without the file.
        assert_eq!(scan(&mut table.iter()), small_model().list());
        assert_eq!(cache.stats().inserts, p.num_data_blocks);
    }
}
