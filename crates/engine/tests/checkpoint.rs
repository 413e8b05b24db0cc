//! `Db::checkpoint`: the copy opens and holds exactly the data; it shares
//! the tables by hard link on the real filesystem and copies them where
//! links fail; taken while two writers write, it holds a prefix of the
//! writes that keeps every one acknowledged before it began; and a crash
//! at any mutating filesystem call during it leaves the source with all
//! its data and the copy whole or refused (or empty), never partial.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{Model, contents, small_options as small};
use lsmkit_engine::{Db, Error, WriteOptions};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Op, Rule, StdFs};

fn key(i: u64) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// Flushed tables, deletes, a range delete and an unflushed tail; every
/// write durable. Returns what the database holds.
fn populate(db: &Db, rounds: u64) -> Model {
    let durable = WriteOptions::durable();
    for i in 0..rounds {
        let value = format!("v{i}-{}", "x".repeat((i % 30) as usize)).into_bytes();
        let mut batch = lsmkit_engine::WriteBatch::new();
        batch.put(&key(i % 97), &value);
        db.write_with(batch, durable).unwrap();
        if i % 50 == 49 {
            db.delete_range(&key(i % 97)[..]..&key(i % 97 + 3)[..])
                .unwrap();
        }
        if i % 13 == 0 {
            db.delete(&key((i * 7) % 97)).unwrap();
        }
    }
    db.sync_wal().unwrap();
    contents(db).unwrap()
}

fn tables_in(fs: &dyn Fs, dir: &Path) -> Vec<String> {
    fs.list(dir)
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".sst"))
        .collect()
}

#[test]
fn a_checkpoint_opens_and_holds_exactly_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let (dir, copy) = (tmp.path().join("db"), tmp.path().join("copy"));
    // No compaction, so that the source's tables are still there to
    // compare inodes with.
    let db = Db::open(&dir, small(Arc::clone(&fs)).auto_compaction(false)).unwrap();
    let model = populate(&db, 400);
    db.checkpoint(&copy).unwrap();
    // Later writes stay in the source.
    db.put(b"later", b"write").unwrap();

    assert!(
        !fs.exists(&copy.join("wal")).unwrap(),
        "the checkpoint needs no WAL"
    );
    let tables = tables_in(&*fs, &copy);
    assert!(!tables.is_empty());
    #[cfg(unix)]
    for name in &tables {
        use std::os::unix::fs::MetadataExt;
        let linked = std::fs::metadata(copy.join(name)).unwrap();
        let source = std::fs::metadata(dir.join(name)).unwrap();
        assert_eq!(linked.ino(), source.ino(), "{name} was not hard-linked");
    }
    let opened = Db::open(&copy, small(Arc::clone(&fs))).unwrap();
    assert_eq!(contents(&opened).unwrap(), model);
    assert_eq!(opened.get(b"later").unwrap(), None);
    // The copy is a database of its own: it takes writes and keeps them.
    opened.put(b"in-copy", b"yes").unwrap();
    opened.close().unwrap();
    let opened = Db::open(&copy, small(Arc::clone(&fs))).unwrap();
    assert_eq!(opened.get(b"in-copy").unwrap(), Some(b"yes".to_vec()));
    drop(opened);
    let mut with_later = model;
    with_later.insert(b"later".to_vec(), b"write".to_vec());
    assert_eq!(contents(&db).unwrap(), with_later);
}

#[test]
fn a_directory_that_holds_anything_is_refused() {
    let fs = MemFs::new();
    let db = Db::open("/db", small(Arc::new(fs.clone()))).unwrap();
    db.put(b"a", b"1").unwrap();
    fs.create_dir_all(Path::new("/copy")).unwrap();
    drop(fs.create(Path::new("/copy/stray")).unwrap());
    let err = db.checkpoint("/copy").unwrap_err();
    assert!(
        matches!(&err, Error::CheckpointDirNotEmpty { path } if path == Path::new("/copy")),
        "{err}"
    );
    assert_eq!(fs.list(Path::new("/copy")).unwrap(), ["stray"]);
    // Its own directory too.
    assert!(matches!(
        db.checkpoint("/db"),
        Err(Error::CheckpointDirNotEmpty { .. })
    ));
    // An empty one is fine.
    fs.create_dir_all(Path::new("/empty")).unwrap();
    db.checkpoint("/empty").unwrap();
}

#[test]
fn tables_are_copied_and_synced_where_links_fail() {
    let mem = MemFs::new();
    let fs = FaultFs::new(mem.clone());
    fs.add(Rule::on(Op::HardLink));
    // No compaction, so that the source's tables are still there to
    // compare sizes with after the checkpoint.
    let db = Db::open("/db", small(Arc::new(fs.clone())).auto_compaction(false)).unwrap();
    let model = populate(&db, 300);
    db.checkpoint("/copy").unwrap();
    assert!(fs.count(Op::HardLink) > 0);
    let copies = tables_in(&mem, Path::new("/copy"));
    assert_eq!(copies.len() as u64, fs.count(Op::HardLink));
    for name in &copies {
        assert_eq!(
            mem.size(&Path::new("/copy").join(name)).unwrap(),
            mem.size(&Path::new("/db").join(name)).unwrap(),
            "{name}"
        );
    }
    // A power loss right after keeps the copies: they were synced.
    drop(db);
    mem.crash();
    let opened = Db::open("/copy", small(Arc::new(mem.clone()))).unwrap();
    assert_eq!(contents(&opened).unwrap(), model);
}

/// One write of a writer thread: its key, and clock ticks taken just
/// before the call and just after it returned.
#[derive(Clone, Copy)]
struct Timed {
    index: u64,
    start: u64,
    end: u64,
}

#[test]
fn a_checkpoint_beside_two_writers_holds_a_prefix_of_the_acknowledged_writes() {
    let fs = MemFs::new();
    let db = Arc::new(Db::open("/db", small(Arc::new(fs.clone()))).unwrap());
    let clock = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|t| {
            let (db, clock, stop) = (db.clone(), clock.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut done = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let start = clock.fetch_add(1, Ordering::SeqCst);
                    db.put(format!("t{t}-{i:06}").as_bytes(), &[b'v'; 30])
                        .unwrap();
                    let end = clock.fetch_add(1, Ordering::SeqCst);
                    done.push(Timed {
                        index: i,
                        start,
                        end,
                    });
                    i += 1;
                }
                done
            })
        })
        .collect();
    // Let the writers fill a few memtables first.
    while db.stats().flushes < 20 {
        std::thread::yield_now();
    }
    let began = clock.fetch_add(1, Ordering::SeqCst);
    db.checkpoint("/copy").unwrap();
    stop.store(true, Ordering::Relaxed);
    let done: Vec<Vec<Timed>> = writers.into_iter().map(|w| w.join().unwrap()).collect();

    let copy = Db::open("/copy", small(Arc::new(fs.clone()))).unwrap();
    let present: BTreeMap<Vec<u8>, Vec<u8>> = contents(&copy).unwrap();
    let is_present =
        |t: usize, w: &Timed| present.contains_key(format!("t{t}-{:06}", w.index).as_bytes());
    let mut counts = [0; 2];
    for (t, writes) in done.iter().enumerate() {
        for w in writes {
            if w.end < began {
                assert!(
                    is_present(t, w),
                    "t{t} write {} acknowledged before the checkpoint is missing",
                    w.index
                );
            }
            counts[t] += u64::from(is_present(t, w));
        }
    }
    assert_eq!(
        present.len() as u64,
        counts[0] + counts[1],
        "keys no writer wrote"
    );
    // A prefix in sequence-number order: a write acknowledged before a
    // present write began has the lower sequence number, so it is present
    // too (within one thread this makes each thread's keys a prefix).
    let all: Vec<(usize, Timed)> = done
        .iter()
        .enumerate()
        .flat_map(|(t, writes)| writes.iter().map(move |w| (t, *w)))
        .collect();
    let earliest_start_present = |cut: u64| {
        all.iter()
            .filter(|(t, w)| w.end < cut && !is_present(*t, w))
            .map(|(t, w)| (*t, w.index))
            .next()
    };
    for (t, w) in &all {
        if is_present(*t, w) {
            assert_eq!(
                earliest_start_present(w.start),
                None,
                "t{t} write {} is present, but a write acknowledged before it began is not",
                w.index
            );
        }
    }
    let total: usize = done.iter().map(Vec::len).sum();
    eprintln!(
        "checkpoint holds {} of {total} writes ({:?} per thread); source flushed {} times, \
         compacted {}",
        present.len(),
        counts,
        db.stats().flushes,
        db.stats().compactions
    );
    assert!(
        present.len() < total,
        "the writers wrote nothing after the checkpoint began"
    );
}

/// The outcome of a checkpoint whose disk died at its `k`-th mutating
/// call: whether the disk died.
fn checkpoint_until_disk_dies(k: u64, links_fail: bool) -> bool {
    let mem = MemFs::new();
    let fs = FaultFs::new(mem.clone());
    if links_fail {
        fs.add(Rule::on(Op::HardLink));
    }
    let db = Db::open("/db", small(Arc::new(fs.clone())).auto_compaction(false)).unwrap();
    let model = populate(&db, 200);
    db.flush().unwrap();
    db.put(b"in-memtable", b"too").unwrap();
    db.sync_wal().unwrap();
    let mut model = model;
    model.insert(b"in-memtable".to_vec(), b"too".to_vec());
    let dies = fs.add(Rule::on_mutating().from_nth(k));
    let result = db.checkpoint("/copy");
    let died = fs.fired(dies) > 0;
    assert!(
        result.is_ok() || died,
        "k {k}: checkpoint failed without a fault: {result:?}"
    );
    drop(db);
    let context =
        format!("disk died at mutating call {k} of the checkpoint (links fail: {links_fail})");
    for (crashed, how) in [
        (mem.crash_clone(), "crash"),
        (mem.crash_clone_torn(k), "torn crash"),
    ] {
        let source = Db::open("/db", small(Arc::new(crashed.clone())))
            .unwrap_or_else(|e| panic!("{context}, {how}: the source does not open: {e}"));
        assert_eq!(
            contents(&source).unwrap(),
            model,
            "{context}, {how}: the source lost data"
        );
        drop(source);
        let had_tables = crashed.exists(Path::new("/copy")).unwrap()
            && !tables_in(&crashed, Path::new("/copy")).is_empty();
        match Db::open("/copy", small(Arc::new(crashed.clone()))) {
            Ok(copy) => {
                let found = contents(&copy).unwrap();
                assert!(
                    found == model || (found.is_empty() && !had_tables),
                    "{context}, {how}: the checkpoint opened with {} of {} keys",
                    found.len(),
                    model.len()
                );
                if !died {
                    assert_eq!(found, model, "{context}, {how}");
                }
            }
            Err(e) => {
                assert!(
                    died,
                    "{context}, {how}: a finished checkpoint does not open: {e}"
                );
                assert!(
                    e.is_corruption() || matches!(e, Error::MissingTable { .. }),
                    "{context}, {how}: {e}"
                );
            }
        }
    }
    died
}

fn crash_at_every_mutating_call_of_a_checkpoint(links_fail: bool) {
    let mut k = 1;
    while checkpoint_until_disk_dies(k, links_fail) {
        k += 1;
    }
    eprintln!(
        "links fail {links_fail}: crashed at {} mutating calls",
        k - 1
    );
    assert!(k > 5, "the checkpoint made only {} mutating calls", k - 1);
}

#[test]
fn a_crash_at_every_mutating_call_of_a_checkpoint_leaves_it_whole_or_refused() {
    crash_at_every_mutating_call_of_a_checkpoint(false);
}

#[test]
fn a_crash_at_every_mutating_call_of_a_copying_checkpoint_leaves_it_whole_or_refused() {
    crash_at_every_mutating_call_of_a_checkpoint(true);
}
