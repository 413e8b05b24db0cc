//! Golden tables: the writer must keep producing these files byte for
//! byte, and the reader must keep reading them. A change to the format
//! means a new `FormatVersion` and new golden files beside the old ones,
//! which stay readable.
//!
//! Compressed golden files are read, not reproduced: the codec libraries
//! may encode the same block differently in a later release, and a reader
//! must read both. So are the files of an earlier writer whose layout
//! choices (not the format) changed: the small tables of the writer that
//! cut a data block after the entry reaching `block_size`, where today's
//! cuts before the entry that would pass its bound.
//!
//! A missing golden file is written (and the test fails, so that it gets
//! committed) when `LSMKIT_BLESS=1` is set; an existing one is never
//! overwritten.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{Model, scan, small_model, small_options};
use lsmkit_sstable::{Compression, FormatVersion, RangeTombstone, SstOptions, SstReader};
use lsmkit_vfs::{Fs, MemFs, StdFs};

struct Golden {
    name: &'static str,
    model: Model,
    options: SstOptions,
    /// Written by an earlier writer: read, never reproduced.
    earlier_writer: bool,
}

impl Golden {
    fn version(&self) -> FormatVersion {
        self.options.format_version
    }

    /// Whether the writer must still produce these bytes exactly.
    fn reproducible(&self) -> bool {
        self.options.compression == Compression::None && !self.earlier_writer
    }
}

fn goldens() -> Vec<Golden> {
    let mut tombstones = Model::default();
    for (i, k) in [&b"apple"[..], b"banana", b"cherry", b"date"]
        .iter()
        .enumerate()
    {
        tombstones.put(k, 10 + i as u64, &k.repeat(3));
    }
    tombstones.delete(b"banana", 20);
    tombstones
        .tombstones
        .push(RangeTombstone::new(&b"b"[..], &b"d"[..], 15));
    tombstones
        .tombstones
        .push(RangeTombstone::new(&b"a"[..], &b"z"[..], 5));
    let v1 = |o: SstOptions| o.format_version(FormatVersion::V1);
    let v2 = |o: SstOptions| o.format_version(FormatVersion::V2);
    let small = || small_options().user_property("origin", &b"golden"[..]);
    let mut all = vec![
        Golden {
            name: "v1-small.sst",
            model: small_model(),
            options: v1(small()),
            earlier_writer: true,
        },
        Golden {
            name: "v1-small-bounded.sst",
            model: small_model(),
            options: v1(small()),
            earlier_writer: false,
        },
        Golden {
            name: "v1-empty.sst",
            model: Model::default(),
            options: v1(SstOptions::default().creation_time(1_700_000_000)),
            earlier_writer: false,
        },
        Golden {
            name: "v1-tombstones-no-filter.sst",
            model: tombstones.clone(),
            options: v1(SstOptions::default()
                .bloom_bits_per_key(0)
                .creation_time(1_700_000_000)),
            earlier_writer: false,
        },
        Golden {
            name: "v2-empty.sst",
            model: Model::default(),
            options: v2(SstOptions::default().creation_time(1_700_000_000)),
            earlier_writer: false,
        },
        Golden {
            name: "v2-tombstones-no-filter.sst",
            model: tombstones,
            options: v2(SstOptions::default()
                .bloom_bits_per_key(0)
                .creation_time(1_700_000_000)),
            earlier_writer: false,
        },
    ];
    // The small table under every codec, each block compressed where that
    // shrinks it at all: the files mix compressed and raw blocks.
    for (name, codec, earlier_writer) in [
        ("v2-small-none.sst", Compression::None, true),
        ("v2-small-lz4.sst", Compression::Lz4, true),
        ("v2-small-zstd.sst", Compression::Zstd, true),
        ("v2-small-none-bounded.sst", Compression::None, false),
        ("v2-small-lz4-bounded.sst", Compression::Lz4, false),
        ("v2-small-zstd-bounded.sst", Compression::Zstd, false),
    ] {
        all.push(Golden {
            name,
            model: small_model(),
            options: v2(small()
                .compression(codec)
                .compression_min_savings_permille(0)),
            earlier_writer,
        });
    }
    all
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn written(g: &Golden) -> Vec<u8> {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    g.model.write(&fs, "/g.sst", g.options.clone());
    let file = fs.open(Path::new("/g.sst")).unwrap();
    file.as_bytes().unwrap().to_vec()
}

#[test]
fn the_writer_reproduces_the_golden_files_byte_for_byte() {
    let mut blessed = Vec::new();
    for g in goldens() {
        if g.earlier_writer {
            // Today's writer cannot make an earlier writer's file.
            assert!(testdata(g.name).exists(), "{} is missing", g.name);
            continue;
        }
        if !g.reproducible() && testdata(g.name).exists() {
            continue;
        }
        let path = testdata(g.name);
        let bytes = written(&g);
        if !path.exists() && std::env::var_os("LSMKIT_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            blessed.push(g.name);
            continue;
        }
        let golden = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (LSMKIT_BLESS=1 writes it)", path.display()));
        assert!(
            bytes == golden,
            "{} changed: the writer's output differs from the golden file; \
             a format change needs a new FormatVersion and new golden files",
            g.name
        );
    }
    assert!(
        blessed.is_empty(),
        "wrote new golden files {blessed:?}; commit them"
    );
}

#[test]
fn the_reader_reads_the_golden_files() {
    for g in goldens() {
        let table = SstReader::open(&StdFs::new(), testdata(g.name)).unwrap();
        if !common::codecs().contains(&g.options.compression) {
            // A build without the codec opens the table (its meta blocks
            // are raw) and names the codec it lacks when it reads data.
            let err = table.verify().unwrap_err();
            assert!(
                matches!(err, lsmkit_sstable::Error::CodecUnavailable { codec, .. }
                    if codec == g.options.compression),
                "{err}"
            );
            continue;
        }
        table.verify().unwrap();
        assert_eq!(table.footer().version, g.version(), "{}", g.name);
        assert_eq!(table.properties().compression, g.options.compression);
        if g.options.compression != Compression::None {
            assert!(table.properties().num_compressed_blocks > 0, "{}", g.name);
        }
        assert_eq!(scan(&mut table.iter()), g.model.list(), "{}", g.name);
        let mut tombstones = g.model.tombstones.clone();
        tombstones.sort_by(|a, b| a.start.cmp(&b.start).then(b.seqno.cmp(&a.seqno)));
        assert_eq!(table.range_tombstones(), &tombstones[..]);
        let p = table.properties();
        assert_eq!(p.creation_time, 1_700_000_000);
        assert_eq!(p.num_entries, g.model.entries.len() as u64);
        assert_eq!(p.user, g.options.user_properties);
        for k in g.model.entries.keys() {
            for snapshot in [k.seqno(), k.seqno() + 1, u64::MAX] {
                let user = k.user_key();
                assert_eq!(
                    table.get(user, snapshot).unwrap(),
                    g.model.get(user, snapshot)
                );
            }
        }
    }
}
