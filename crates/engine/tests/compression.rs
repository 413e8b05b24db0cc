//! Table compression: flushed tables use `Options::compression` (LZ4 by
//! default), compactions into the oldest run use
//! `bottommost_compression`, a database whose tables mix codecs reads
//! every key, and a codec this build lacks is refused at open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use lsmkit_engine::lsmkit_sstable::SstReader;
use lsmkit_engine::{Compression, Db, Options};
use lsmkit_vfs::{Fs, MemFs};

/// The codec each live table of the database at `/db` was written with.
fn table_codecs(fs: &Arc<dyn Fs>) -> Vec<Compression> {
    let mut codecs = Vec::new();
    for name in fs.list(Path::new("/db")).unwrap() {
        if name.ends_with(".sst") {
            let table = SstReader::open(&**fs, Path::new("/db").join(&name)).unwrap();
            codecs.push(table.properties().compression);
        }
    }
    codecs
}

fn value(i: u32) -> Vec<u8> {
    // Compressible, as db_bench's half-compressible values are.
    format!("value {i:08} ").repeat(8).into_bytes()
}

fn fill(db: &Db, range: std::ops::Range<u32>) {
    for i in range {
        db.put(format!("key{i:06}").as_bytes(), &value(i)).unwrap();
    }
}

#[test]
fn flushed_tables_are_lz4_by_default_and_the_oldest_run_takes_the_bottommost_codec() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let options = Options::default()
        .fs(fs.clone())
        .auto_compaction(false)
        .bottommost_compression(Compression::Zstd);
    assert_eq!(options.compression, Compression::Lz4);
    let db = Db::open("/db", options.clone()).unwrap();
    fill(&db, 0..2000);
    db.flush().unwrap();
    assert_eq!(table_codecs(&fs), vec![Compression::Lz4]);
    fill(&db, 1000..3000);
    db.flush().unwrap();
    db.compact().unwrap();
    let after = table_codecs(&fs);
    assert!(
        !after.is_empty() && after.iter().all(|&c| c == Compression::Zstd),
        "{after:?}"
    );
    // A newer LZ4 run over the Zstandard one: both read.
    fill(&db, 2500..3500);
    db.flush().unwrap();
    let mut mixed = table_codecs(&fs);
    mixed.sort_by_key(|c| *c as u8);
    mixed.dedup();
    assert_eq!(mixed, vec![Compression::Lz4, Compression::Zstd]);
    let check = |db: &Db| {
        for i in (0..3500).step_by(7) {
            let got = db.get(format!("key{i:06}").as_bytes()).unwrap();
            assert_eq!(got, Some(value(i)), "key {i}");
        }
    };
    check(&db);
    db.close().unwrap();
    // Reopened with other codecs, the old tables still read.
    let db = Db::open("/db", options.compression(Compression::None)).unwrap();
    check(&db);
    let stats = db.stats();
    assert!(stats.runs() >= 2, "{stats:?}");
}

#[test]
fn compression_shrinks_what_is_on_disk() {
    let size = |codec| {
        let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
        let db = Db::open("/db", Options::default().fs(fs.clone()).compression(codec)).unwrap();
        fill(&db, 0..3000);
        db.flush().unwrap();
        db.close().unwrap();
        fs.list(Path::new("/db"))
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".sst"))
            .map(|n| fs.open(&Path::new("/db").join(n)).unwrap().len())
            .sum::<u64>()
    };
    let raw = size(Compression::None);
    let lz4 = size(Compression::Lz4);
    let zstd = size(Compression::Zstd);
    assert!(lz4 * 2 < raw, "lz4 {lz4} raw {raw}");
    assert!(zstd < lz4, "zstd {zstd} lz4 {lz4}");
}
