//! `Db::ingest`: external tables enter the database as one write, newer
//! than everything in it, all or nothing.
//!
//! Covered: what reads see (snapshots from before and after, later writes
//! and range deletes, older data in memtables and in runs, the files' own
//! tombstones), durability across reopen and compaction, ingestion beside
//! busy writers, each refusal leaving the database as it was, and a crash
//! at every mutating filesystem call of an ingestion leaving all of the
//! files in or none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_engine::{Db, Error, Options};
use lsmkit_sstable::{RangeTombstone, SstOptions, SstWriter};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Op, Rule, StdFs};

const DIR: &str = "/db";

type Contents = BTreeMap<Vec<u8>, Vec<u8>>;

fn options(fs: &MemFs) -> Options {
    Options::default()
        .fs(Arc::new(fs.clone()))
        .auto_compaction(false)
}

fn open(fs: &MemFs) -> Db {
    Db::open(DIR, options(fs)).unwrap()
}

fn contents(db: &Db) -> Contents {
    db.iter().collect::<Result<_, _>>().unwrap()
}

fn get(db: &Db, key: &str) -> Option<String> {
    db.get(key.as_bytes())
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

/// The table files in the database directory.
fn tables(fs: &MemFs) -> Vec<String> {
    let mut names: Vec<String> = fs
        .list(Path::new(DIR))
        .unwrap()
        .into_iter()
        .filter(|n| n.contains(".sst"))
        .collect();
    names.sort();
    names
}

/// One entry of an external table.
#[derive(Clone, Copy)]
enum Entry<'a> {
    Put(&'a str, u64, &'a str),
    Delete(&'a str, u64),
}
use Entry::{Delete, Put};

/// Writes an external table at `path` on `fs`: `entries` in internal-key
/// order (user key ascending, sequence number descending), and range
/// tombstones `(start, end, seqno)`.
fn write_table(fs: &MemFs, path: &str, entries: &[Entry<'_>], tombstones: &[(&str, &str, u64)]) {
    let fs: Arc<dyn Fs> = Arc::new(fs.clone());
    fs.create_dir_all(Path::new(path).parent().unwrap())
        .unwrap();
    let mut writer = SstWriter::create(fs, path, SstOptions::default()).unwrap();
    for entry in entries {
        match *entry {
            Put(k, seqno, v) => writer.put(k.as_bytes(), seqno, v.as_bytes()).unwrap(),
            Delete(k, seqno) => writer.delete(k.as_bytes(), seqno).unwrap(),
        }
    }
    for &(start, end, seqno) in tombstones {
        writer
            .add_range_tombstone(&RangeTombstone::new(
                start.as_bytes(),
                end.as_bytes(),
                seqno,
            ))
            .unwrap();
    }
    writer.finish().unwrap();
}

/// Writes raw bytes at `path`.
fn write_bytes(fs: &MemFs, path: &str, bytes: &[u8]) {
    fs.create_dir_all(Path::new(path).parent().unwrap())
        .unwrap();
    let mut file = fs.create(Path::new(path)).unwrap();
    file.append(bytes).unwrap();
    file.sync().unwrap();
}

fn read_bytes(fs: &MemFs, path: &str) -> Vec<u8> {
    let file = fs.open(Path::new(path)).unwrap();
    let mut bytes = vec![0; file.len() as usize];
    file.read_at(0, &mut bytes).unwrap();
    bytes
}

fn kv(pairs: &[(&str, &str)]) -> Contents {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn ingested_files_are_one_write_newer_than_everything_before() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.put(b"a", b"old-a").unwrap();
    db.put(b"b", b"old-b").unwrap();
    db.put(b"m", b"old-m").unwrap();
    db.flush().unwrap();
    db.put(b"c", b"mem-c").unwrap(); // still in the memtable
    db.put(b"z", b"old-z").unwrap();
    let before = db.snapshot();
    let last = db.stats().last_seqno;

    // Any sequence numbers: the ingestion replaces them with its own.
    write_table(
        &fs,
        "/ext/1.sst",
        &[Put("a", 9, "new-a"), Delete("b", 0), Put("c", 3, "new-c")],
        &[],
    );
    // A range tombstone deletes older data of the database, not the
    // file's own value at "yy" (no newer than it).
    write_table(
        &fs,
        "/ext/2.sst",
        &[Put("x", 0, "new-x"), Put("yy", 7, "new-yy")],
        &[("y", "zz", 3)],
    );
    // Given out of key order: the ingestion sorts them.
    db.ingest(&["/ext/2.sst", "/ext/1.sst"]).unwrap();

    assert_eq!(db.stats().last_seqno, last + 1, "one sequence number");
    let ingested = kv(&[
        ("a", "new-a"),
        ("c", "new-c"),
        ("m", "old-m"),
        ("x", "new-x"),
        ("yy", "new-yy"),
    ]);
    assert_eq!(contents(&db), ingested);
    assert_eq!(get(&db, "b"), None, "the file's point tombstone deletes b");
    assert_eq!(get(&db, "z"), None, "the file's range tombstone deletes z");
    assert_eq!(
        get(&db, "c").as_deref(),
        Some("new-c"),
        "wins over the memtable"
    );
    // The originals are left alone.
    assert!(fs.exists(Path::new("/ext/1.sst")).unwrap());

    // A snapshot from before sees none of it; one from after sees it all.
    assert_eq!(
        before.iter().collect::<Result<Contents, _>>().unwrap(),
        kv(&[
            ("a", "old-a"),
            ("b", "old-b"),
            ("c", "mem-c"),
            ("m", "old-m"),
            ("z", "old-z")
        ])
    );
    let after = db.snapshot();
    assert_eq!(after.seqno(), last + 1);

    // Later writes are newer.
    db.put(b"a", b"later-a").unwrap();
    db.delete_range(b"x".as_slice()..b"y".as_slice()).unwrap();
    assert_eq!(get(&db, "a").as_deref(), Some("later-a"));
    assert_eq!(get(&db, "x"), None);
    assert_eq!(after.get(b"x").unwrap(), Some(b"new-x".to_vec()));
    assert_eq!(
        after.iter().collect::<Result<Contents, _>>().unwrap(),
        ingested
    );
    drop((before, after));

    let now = contents(&db);
    db.close().unwrap();
    let db = open(&fs);
    assert_eq!(contents(&db), now, "after reopen");
    assert_eq!(db.stats().last_seqno, last + 3);
    db.compact().unwrap();
    assert_eq!(contents(&db), now, "after compaction");
    assert_eq!(db.stats().tables_per_run.len(), 1);
    db.put(b"after", b"reopen").unwrap();
    db.close().unwrap();
    let db = open(&fs);
    let mut expected = now;
    expected.insert(b"after".to_vec(), b"reopen".to_vec());
    assert_eq!(contents(&db), expected, "after compaction and reopen");
}

#[test]
fn files_that_only_touch_are_ingested_into_an_empty_database() {
    let fs = MemFs::new();
    let db = open(&fs);
    // [a, m) by its tombstone, then [m, ...]: adjacent, not overlapping.
    write_table(&fs, "/ext/1.sst", &[Put("a", 0, "1")], &[("b", "m", 0)]);
    write_table(
        &fs,
        "/ext/2.sst",
        &[Put("m", 0, "2"), Put("n", 0, "3")],
        &[],
    );
    write_table(&fs, "/ext/3.sst", &[Put("zz", 0, "4")], &[]);
    db.ingest(&["/ext/1.sst", "/ext/2.sst", "/ext/3.sst"])
        .unwrap();
    let expected = kv(&[("a", "1"), ("m", "2"), ("n", "3"), ("zz", "4")]);
    assert_eq!(contents(&db), expected);
    assert_eq!(db.stats().tables_per_run, [3], "one run of three tables");
    for (k, v) in &expected {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
    }
    assert_eq!(get(&db, "b"), None);
    assert_eq!(get(&db, "0"), None);
    db.close().unwrap();
    assert_eq!(contents(&open(&fs)), expected);
}

#[test]
fn nothing_to_ingest_changes_nothing() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.put(b"k", b"v").unwrap();
    let last = db.stats().last_seqno;
    db.ingest::<&str>(&[]).unwrap();
    write_table(&fs, "/ext/empty.sst", &[], &[]);
    db.ingest(&["/ext/empty.sst"]).unwrap();
    assert_eq!(db.stats().last_seqno, last);
    assert_eq!(contents(&db), kv(&[("k", "v")]));
}

/// Ingests `paths` into a database holding one key, expects the refusal
/// `check` accepts, and checks that nothing changed.
fn refused(fs: &MemFs, paths: &[&str], check: impl FnOnce(&Error)) {
    let db = open(fs);
    db.put(b"held", b"yes").unwrap();
    db.flush().unwrap();
    let tables_before = tables(fs);
    let last = db.stats().last_seqno;
    let error = db.ingest(paths).unwrap_err();
    check(&error);
    assert!(!error.is_corruption(), "the caller's input: {error}");
    assert_eq!(tables(fs), tables_before, "{error}");
    assert_eq!(db.stats().last_seqno, last, "{error}");
    assert_eq!(contents(&db), kv(&[("held", "yes")]));
    // Still writable, and nothing of the refusal after a reopen.
    db.put(b"then", b"ok").unwrap();
    db.close().unwrap();
    assert_eq!(contents(&open(fs)), kv(&[("held", "yes"), ("then", "ok")]));
}

#[test]
fn overlapping_files_are_refused_naming_both() {
    let fs = MemFs::new();
    write_table(
        &fs,
        "/ext/p.sst",
        &[Put("a", 0, "1"), Put("m", 0, "2")],
        &[],
    );
    write_table(
        &fs,
        "/ext/q.sst",
        &[Put("k", 0, "3"), Put("z", 0, "4")],
        &[],
    );
    refused(&fs, &["/ext/q.sst", "/ext/p.sst"], |e| {
        let Error::IngestOverlap { first, second, key } = e else {
            panic!("{e:?}");
        };
        assert_eq!(first, &PathBuf::from("/ext/p.sst"));
        assert_eq!(second, &PathBuf::from("/ext/q.sst"));
        assert_eq!(key, b"k");
        let message = e.to_string();
        assert!(
            message.contains("/ext/p.sst") && message.contains("/ext/q.sst"),
            "{message}"
        );
    });
}

#[test]
fn files_sharing_a_boundary_key_overlap() {
    let fs = MemFs::new();
    write_table(
        &fs,
        "/ext/p.sst",
        &[Put("a", 0, "1"), Put("k", 0, "2")],
        &[],
    );
    write_table(&fs, "/ext/q.sst", &[Put("k", 0, "3")], &[]);
    refused(&fs, &["/ext/p.sst", "/ext/q.sst"], |e| {
        assert!(
            matches!(e, Error::IngestOverlap { key, .. } if key == b"k"),
            "{e:?}"
        );
    });
}

#[test]
fn a_range_tombstone_over_another_file_is_an_overlap() {
    let fs = MemFs::new();
    write_table(&fs, "/ext/p.sst", &[Put("a", 0, "1")], &[("b", "n", 0)]);
    write_table(&fs, "/ext/q.sst", &[Put("m", 0, "2")], &[]);
    refused(&fs, &["/ext/p.sst", "/ext/q.sst"], |e| {
        assert!(
            matches!(e, Error::IngestOverlap { key, .. } if key == b"m"),
            "{e:?}"
        );
    });
}

#[test]
fn the_same_file_twice_overlaps_itself() {
    let fs = MemFs::new();
    write_table(&fs, "/ext/p.sst", &[Put("a", 0, "1")], &[]);
    refused(&fs, &["/ext/p.sst", "/ext/p.sst"], |e| {
        assert!(matches!(e, Error::IngestOverlap { .. }), "{e:?}");
    });
}

#[test]
fn two_versions_of_a_key_are_refused() {
    let fs = MemFs::new();
    write_table(
        &fs,
        "/ext/dup.sst",
        &[Put("a", 0, "1"), Put("k", 5, "new"), Put("k", 3, "old")],
        &[],
    );
    refused(&fs, &["/ext/dup.sst"], |e| {
        let Error::IngestUnorderable { file, key, .. } = e else {
            panic!("{e:?}");
        };
        assert_eq!(file, &PathBuf::from("/ext/dup.sst"));
        assert_eq!(key, b"k");
        assert!(e.to_string().contains("two versions"), "{e}");
    });
}

#[test]
fn a_value_under_a_newer_tombstone_of_its_file_is_refused() {
    let fs = MemFs::new();
    write_table(&fs, "/ext/t.sst", &[Put("k", 1, "gone")], &[("a", "z", 2)]);
    refused(&fs, &["/ext/t.sst"], |e| {
        assert!(
            matches!(e, Error::IngestUnorderable { key, .. } if key == b"k"),
            "{e:?}"
        );
    });
}

#[test]
fn a_point_tombstone_under_a_newer_range_tombstone_is_ingested() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.put(b"k", b"old").unwrap();
    db.put(b"q", b"old").unwrap();
    write_table(&fs, "/ext/t.sst", &[Delete("k", 1)], &[("a", "p", 2)]);
    db.ingest(&["/ext/t.sst"]).unwrap();
    assert_eq!(contents(&db), kv(&[("q", "old")]));
}

#[test]
fn a_corrupt_file_is_refused() {
    let fs = MemFs::new();
    let entries: Vec<String> = (0..200).map(|i| format!("key{i:04}")).collect();
    let puts: Vec<Entry<'_>> = entries.iter().map(|k| Put(k, 0, "value")).collect();
    write_table(&fs, "/ext/good.sst", &puts, &[]);
    let mut bytes = read_bytes(&fs, "/ext/good.sst");
    bytes[100] ^= 0x40; // inside the first data block
    write_bytes(&fs, "/ext/bad.sst", &bytes);
    write_table(&fs, "/ext/other.sst", &[Put("zzz", 0, "1")], &[]);
    refused(&fs, &["/ext/other.sst", "/ext/bad.sst"], |e| {
        let Error::IngestInvalid { file, source } = e else {
            panic!("{e:?}");
        };
        assert_eq!(file, &PathBuf::from("/ext/bad.sst"));
        assert!(source.is_corruption(), "{source}");
    });
}

#[test]
fn a_missing_file_is_refused() {
    let fs = MemFs::new();
    write_table(&fs, "/ext/p.sst", &[Put("a", 0, "1")], &[]);
    refused(&fs, &["/ext/p.sst", "/ext/missing.sst"], |e| {
        assert!(
            matches!(e, Error::IngestInvalid { file, .. } if file == Path::new("/ext/missing.sst")),
            "{e:?}"
        );
        assert!(e.to_string().contains("/ext/missing.sst"), "{e}");
    });
}

#[test]
fn a_file_that_is_no_table_is_refused() {
    for path in ["/ext/notes.txt", "/ext/short"] {
        let fs = MemFs::new();
        write_bytes(&fs, "/ext/notes.txt", &b"not a table, ".repeat(20));
        write_bytes(&fs, "/ext/short", b"tiny");
        refused(&fs, &[path], |e| {
            assert!(
                matches!(e, Error::IngestInvalid { file, .. } if file == Path::new(path)),
                "{e:?}"
            );
        });
    }
}

#[test]
fn ingestion_beside_busy_writers_keeps_every_write_in_order() {
    let fs = MemFs::new();
    // Small memtables: several are frozen at any moment, and compaction
    // runs meanwhile (its picker refuses runs out of sequence order).
    let options = Options::default()
        .fs(Arc::new(fs.clone()))
        .write_buffer_size(4 << 10)
        .max_immutable_memtables(3);
    let db = Arc::new(Db::open(DIR, options.clone()).unwrap());
    let writer = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || {
            for i in 0..3000u32 {
                db.put(format!("w{i:05}").as_bytes(), &[b'v'; 40]).unwrap();
            }
        })
    };
    let mut expected = Contents::new();
    for n in 0..8 {
        let keys: Vec<String> = (0..50).map(|i| format!("i{n}-{i:03}")).collect();
        let puts: Vec<Entry<'_>> = keys.iter().map(|k| Put(k, 0, "ingested")).collect();
        let path = format!("/ext/{n}.sst");
        write_table(&fs, &path, &puts, &[]);
        let seqno_before = db.stats().last_seqno;
        db.ingest(&[&path]).unwrap();
        assert!(db.stats().last_seqno > seqno_before);
        for k in keys {
            expected.insert(k.into_bytes(), b"ingested".to_vec());
        }
    }
    writer.join().unwrap();
    for i in 0..3000u32 {
        expected.insert(format!("w{i:05}").into_bytes(), vec![b'v'; 40]);
    }
    assert_eq!(contents(&db), expected);
    db.compact().unwrap();
    assert_eq!(contents(&db), expected);
    Arc::into_inner(db).unwrap().close().unwrap();
    let db = Db::open(DIR, options).unwrap();
    assert_eq!(contents(&db), expected);
}

/// A crash at each mutating filesystem call of an ingestion (which flushes
/// the memtable first): the reopened database holds all of the files or
/// none, and all of them if the call returned `Ok`.
#[test]
fn a_crash_during_ingestion_leaves_all_or_none() {
    crash_during_ingestion(true);
    crash_during_ingestion(false);
}

/// Crashes an ingestion at each of its mutating calls in turn; with
/// `links`, the files are linked in, else linking fails and they are
/// copied.
fn crash_during_ingestion(links: bool) {
    let mut k = 1;
    let mut outcomes = [0u32; 2];
    loop {
        let mem = MemFs::new();
        write_table(
            &mem,
            "/ext/1.sst",
            &[Put("a", 0, "new-a"), Delete("b", 0)],
            &[],
        );
        write_table(
            &mem,
            "/ext/2.sst",
            &[Put("x", 0, "new-x")],
            &[("y", "z", 0)],
        );
        let fs = FaultFs::new(mem.clone());
        if !links {
            fs.add(Rule::on(Op::HardLink));
        }
        let faulty = Options::default()
            .fs(Arc::new(fs.clone()))
            .auto_compaction(false)
            .sync_writes(true)
            .max_manifest_size(300);
        let db = Db::open(DIR, faulty).unwrap();
        db.put(b"a", b"old-a").unwrap();
        db.put(b"b", b"old-b").unwrap();
        db.flush().unwrap();
        db.put(b"x", b"mem-x").unwrap();
        db.put(b"y", b"mem-y").unwrap();
        let before = contents(&db);
        let after = kv(&[("a", "new-a"), ("x", "new-x")]);

        let dies = fs.add(Rule::on_mutating().from_nth(k));
        let result = db.ingest(&["/ext/1.sst", "/ext/2.sst"]);
        let crashed = mem.crash_clone();
        let fired = fs.fired(dies) > 0;
        drop(db);
        let context =
            format!("links {links}: crash at mutating call {k} of the ingestion ({result:?})");

        let db =
            Db::open(DIR, options(&crashed)).unwrap_or_else(|e| panic!("{context}: reopen: {e}"));
        let found = contents(&db);
        if result.is_ok() {
            assert_eq!(found, after, "{context}: an acknowledged ingestion is lost");
        } else {
            assert!(found == before || found == after, "{context}: {found:?}");
        }
        outcomes[usize::from(found == after)] += 1;
        db.put(b"later", b"write").unwrap();
        let now = contents(&db);
        db.close().unwrap();
        assert_eq!(contents(&open(&crashed)), now, "{context}: second reopen");
        if !fired {
            assert!(result.is_ok(), "{context}");
            break;
        }
        k += 1;
    }
    // Linking makes fewer calls than copying (create, append, sync, rename).
    assert!(
        k > 5,
        "links {links}: the ingestion made only {k} mutating calls"
    );
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "crashes left none ({}) and all ({}) of the files",
        outcomes[0],
        outcomes[1]
    );
}

#[test]
fn a_file_is_linked_in_unchanged_and_read_at_its_new_seqno() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let external = dir.path().join("bulk.sst");
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let mut writer = SstWriter::create(Arc::clone(&fs), &external, SstOptions::default()).unwrap();
    writer.put(b"apple", 0, b"green").unwrap();
    writer.put(b"cherry", 0, b"dark").unwrap();
    writer.finish().unwrap();
    let original = std::fs::read(&external).unwrap();

    let db_dir = dir.path().join("db");
    let db = Db::open(&db_dir, Options::default()).unwrap();
    db.put(b"apple", b"red").unwrap();
    let before = db.snapshot();
    db.ingest(&[&external]).unwrap();
    assert_eq!(db.stats().ingest_links, 1);
    assert_eq!(db.stats().ingest_copies, 0);
    assert_eq!(db.get(b"apple").unwrap(), Some(b"green".to_vec()));
    assert_eq!(before.get(b"apple").unwrap(), Some(b"red".to_vec()));
    assert_eq!(before.get(b"cherry").unwrap(), None);

    // The table in the database is the caller's file: same inode, same bytes.
    let ino = std::fs::metadata(&external).unwrap().ino();
    let linked: Vec<PathBuf> = std::fs::read_dir(&db_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::metadata(p).unwrap().ino() == ino)
        .collect();
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(std::fs::read(&linked[0]).unwrap(), original);
    drop(before);

    // The caller may remove its name; reopen reads at the recorded seqno,
    // and a compaction rewrites the table into the database's own.
    std::fs::remove_file(&external).unwrap();
    db.put(b"cherry", b"red").unwrap();
    db.close().unwrap();
    let db = Db::open(&db_dir, Options::default()).unwrap();
    assert_eq!(db.get(b"apple").unwrap(), Some(b"green".to_vec()));
    assert_eq!(db.get(b"cherry").unwrap(), Some(b"red".to_vec()));
    db.compact().unwrap();
    assert_eq!(db.get(b"apple").unwrap(), Some(b"green".to_vec()));
    assert_eq!(db.get(b"cherry").unwrap(), Some(b"red".to_vec()));
    db.close().unwrap();
}

#[test]
fn where_links_fail_the_file_is_copied_unchanged() {
    let mem = MemFs::new();
    write_table(&mem, "/ext/1.sst", &[Put("a", 7, "new-a")], &[]);
    let fs = FaultFs::new(mem.clone());
    fs.add(Rule::on(Op::HardLink));
    let db = Db::open(DIR, Options::default().fs(Arc::new(fs.clone()))).unwrap();
    db.put(b"a", b"old-a").unwrap();
    db.ingest(&["/ext/1.sst"]).unwrap();
    assert_eq!(db.stats().ingest_copies, 1);
    assert_eq!(db.stats().ingest_links, 0);
    assert_eq!(get(&db, "a").as_deref(), Some("new-a"));
    let copied = tables(&mem);
    assert_eq!(copied.len(), 2, "{copied:?}"); // the flushed write and the copy
    let original = read_bytes(&mem, "/ext/1.sst");
    assert!(
        copied
            .iter()
            .any(|name| read_bytes(&mem, &format!("{DIR}/{name}")) == original),
        "no table is a byte-for-byte copy of the file"
    );
    db.close().unwrap();
}

mod model {
    //! Ingestion mixed with writes, flushes, compactions, reopens and
    //! snapshots, against a `BTreeMap` model.

    use super::*;
    use lsmkit_engine::Snapshot;
    use proptest::prelude::*;

    fn key(i: u8) -> Vec<u8> {
        format!("k{i:02}").into_bytes()
    }

    /// An external table: keys with a value (or `None`, a point
    /// tombstone), and whether a range tombstone spans its first to its
    /// last key.
    #[derive(Clone, Debug)]
    struct File {
        entries: Vec<(u8, Option<u8>)>,
        tombstone: bool,
    }

    #[derive(Clone, Debug)]
    enum Op {
        Put(u8, u8),
        Delete(u8),
        DeleteRange(u8, u8),
        Ingest(Vec<File>),
        Flush,
        Compact,
        Reopen,
        TakeSnapshot,
    }

    /// Up to three files over disjoint, contiguous slices of a random set
    /// of keys.
    fn files() -> impl Strategy<Value = Vec<File>> {
        (
            proptest::collection::btree_map(0u8..24, proptest::option::of(any::<u8>()), 1..10),
            1usize..=3,
            proptest::collection::vec(any::<bool>(), 3),
        )
            .prop_map(|(entries, chunks, tombstones)| {
                let entries: Vec<_> = entries.into_iter().collect();
                let size = entries.len().div_ceil(chunks);
                entries
                    .chunks(size)
                    .zip(tombstones)
                    .map(|(chunk, tombstone)| File {
                        entries: chunk.to_vec(),
                        tombstone,
                    })
                    .collect()
            })
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            10 => (0u8..24, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
            3 => (0u8..24).prop_map(Op::Delete),
            1 => (0u8..24, 0u8..24).prop_map(|(a, b)| Op::DeleteRange(a, b)),
            4 => files().prop_map(Op::Ingest),
            1 => Just(Op::Flush),
            1 => Just(Op::Compact),
            1 => Just(Op::Reopen),
            2 => Just(Op::TakeSnapshot),
        ]
    }

    fn db_options(fs: &MemFs) -> Options {
        Options::default()
            .fs(Arc::new(fs.clone()))
            .write_buffer_size(1 << 10)
    }

    fn ingest(fs: &MemFs, db: &Db, model: &mut Contents, files: &[File], n: usize) {
        let mut paths = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let path = format!("/ext/{n}-{i}.sst");
            let keys: Vec<Vec<u8>> = file.entries.iter().map(|(k, _)| key(*k)).collect();
            let mut writer =
                SstWriter::create(Arc::new(fs.clone()), &path, SstOptions::default()).unwrap();
            for ((_, value), k) in file.entries.iter().zip(&keys) {
                match value {
                    Some(v) => writer.put(k, 0, &[*v]).unwrap(),
                    None => writer.delete(k, 0).unwrap(),
                }
            }
            let (first, last) = (&keys[0], &keys[keys.len() - 1]);
            if file.tombstone {
                writer
                    .add_range_tombstone(&RangeTombstone::new(first.clone(), last.clone(), 0))
                    .unwrap();
                model.retain(|k, _| k < first || k >= last);
            }
            writer.finish().unwrap();
            for ((_, value), k) in file.entries.iter().zip(keys) {
                match value {
                    Some(v) => model.insert(k, vec![*v]),
                    None => model.remove(&k),
                };
            }
            paths.push(path);
        }
        db.ingest(&paths).unwrap();
    }

    proptest! {
        #[test]
        fn ingestion_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
            let fs = MemFs::new();
            fs.create_dir_all(Path::new("/ext")).unwrap();
            let mut db = Db::open(DIR, db_options(&fs)).unwrap();
            let mut model = Contents::new();
            let mut snapshots: Vec<(Snapshot, Contents)> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Put(k, v) => {
                        db.put(&key(k), &[v]).unwrap();
                        model.insert(key(k), vec![v]);
                    }
                    Op::Delete(k) => {
                        db.delete(&key(k)).unwrap();
                        model.remove(&key(k));
                    }
                    Op::DeleteRange(a, b) => {
                        let (a, b) = (key(a), key(b));
                        db.delete_range(a.as_slice()..b.as_slice()).unwrap();
                        model.retain(|k, _| k < &a || k >= &b);
                    }
                    Op::Ingest(files) => ingest(&fs, &db, &mut model, &files, n),
                    Op::Flush => db.flush().unwrap(),
                    Op::Compact => db.compact().unwrap(),
                    Op::Reopen => {
                        snapshots.clear();
                        db.close().unwrap();
                        db = Db::open(DIR, db_options(&fs)).unwrap();
                    }
                    Op::TakeSnapshot => snapshots.push((db.snapshot(), model.clone())),
                }
                prop_assert_eq!(contents(&db), model.clone(), "after op {}", n);
            }
            for i in 0..24 {
                prop_assert_eq!(db.get(&key(i)).unwrap(), model.get(&key(i)).cloned());
            }
            for (snapshot, then) in &snapshots {
                let seen: Contents = snapshot.iter().collect::<Result<_, _>>().unwrap();
                prop_assert_eq!(&seen, then, "snapshot at {}", snapshot.seqno());
            }
        }
    }
}
