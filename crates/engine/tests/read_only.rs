//! `Db::open_read_only`: it changes nothing on disk (names, sizes and
//! contents of every file, checked byte for byte, on the real filesystem
//! and on `MemFs`), with the database closed and while another handle
//! holds it open for writing; it makes no mutating filesystem call and
//! takes no lock; it refuses every write with `Error::ReadOnly`; it treats
//! a torn WAL tail as the end of the log; and repeated read-only opens
//! alongside a busy writer each see a prefix of the writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use lsmkit_engine::{Db, Error, Options, RecoveryMode, WriteBatch, WriteOptions};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Op, StdFs};

/// Every entry below `dir`: directories as `None`, files with their bytes.
type Image = BTreeMap<PathBuf, Option<Vec<u8>>>;

fn image(fs: &dyn Fs, dir: &Path) -> Image {
    let mut out = Image::new();
    for name in fs.list(dir).unwrap() {
        let path = dir.join(&name);
        match fs.list(&path) {
            Ok(_) => {
                out.insert(path.clone(), None);
                out.extend(image(fs, &path));
            }
            Err(_) => {
                let file = fs.open(&path).unwrap();
                let mut bytes = vec![0; file.len() as usize];
                file.read_at(0, &mut bytes).unwrap();
                out.insert(path, Some(bytes));
            }
        }
    }
    out
}

fn key(i: u64) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn small(fs: Arc<dyn Fs>) -> Options {
    Options::default()
        .fs(fs)
        .write_buffer_size(4 << 10)
        .block_size(512)
}

/// Tables from flushes, a range delete, deletes and an unflushed WAL
/// tail: the model of what was written.
fn populate(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut model = BTreeMap::new();
    for i in 0..300 {
        let value = format!("value-{i}-{}", "x".repeat((i % 40) as usize)).into_bytes();
        db.put(&key(i), &value).unwrap();
        model.insert(key(i), value);
    }
    db.flush().unwrap();
    db.delete_range(&key(10)[..]..&key(20)[..]).unwrap();
    for i in 10..20 {
        model.remove(&key(i));
    }
    for i in (0..300).step_by(7) {
        db.delete(&key(i)).unwrap();
        model.remove(&key(i));
    }
    db.flush().unwrap();
    // Left in the WAL only.
    let mut batch = WriteBatch::new();
    batch.put(&key(1000), b"tail").delete(&key(1));
    db.write_with(batch, WriteOptions::durable()).unwrap();
    model.insert(key(1000), b"tail".to_vec());
    model.remove(&key(1));
    model
}

/// Opens `dir` read-only through a counting `FaultFs` over `fs`, reads
/// everything every way, closes; checks that it answered `model` and made
/// no mutating call and no lock.
fn read_only_reads(fs: Arc<dyn Fs>, dir: &Path, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let counting = FaultFs::wrap(fs);
    let db = Db::open_read_only(dir, small(Arc::new(counting.clone()))).unwrap();
    assert!(db.is_read_only());
    let all: BTreeMap<Vec<u8>, Vec<u8>> = db.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(&all, model);
    let backward: Vec<_> = db.iter().rev().collect::<Result<_, _>>().unwrap();
    assert_eq!(backward.len(), model.len());
    for i in (0..300).chain([1000]) {
        assert_eq!(db.get(&key(i)).unwrap().as_ref(), model.get(&key(i)), "{i}");
    }
    let snapshot = db.snapshot();
    assert_eq!(snapshot.get(&key(1000)).unwrap(), Some(b"tail".to_vec()));
    assert_eq!(
        db.prefix(b"key001").count(),
        model.keys().filter(|k| k.starts_with(b"key001")).count()
    );
    let stats = db.stats();
    assert!(stats.runs() >= 1, "{stats:?}");
    drop(snapshot);
    db.close().unwrap();
    assert_eq!(
        counting.mutating_count(),
        0,
        "a read-only open made mutating calls: {:?}",
        Op::ALL
            .iter()
            .map(|op| (op.name(), counting.count(*op)))
            .filter(|(_, n)| *n > 0)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        counting.count(Op::Lock),
        0,
        "a read-only open took the lock"
    );
}

fn unchanged_after_close(fs: Arc<dyn Fs>, dir: &Path) {
    let db = Db::open(dir, small(Arc::clone(&fs))).unwrap();
    let model = populate(&db);
    db.close().unwrap();
    let before = image(&*fs, dir);
    read_only_reads(Arc::clone(&fs), dir, &model);
    assert_eq!(image(&*fs, dir), before, "the directory changed");
}

fn unchanged_while_a_writer_holds_it(fs: Arc<dyn Fs>, dir: &Path) {
    // No compaction, so that the writer stays idle (but open: its lock
    // held, its WAL segment open) while the reader reads.
    let writer = Db::open(dir, small(Arc::clone(&fs)).auto_compaction(false)).unwrap();
    let model = populate(&writer);
    let before = image(&*fs, dir);
    read_only_reads(Arc::clone(&fs), dir, &model);
    assert_eq!(image(&*fs, dir), before, "the directory changed");
    // The writer is untouched by the reader.
    writer.put(b"after", b"reader").unwrap();
    writer.close().unwrap();
    let reopened = Db::open(dir, small(fs)).unwrap();
    assert_eq!(reopened.get(b"after").unwrap(), Some(b"reader".to_vec()));
    assert_eq!(reopened.get(&key(1000)).unwrap(), Some(b"tail".to_vec()));
}

#[test]
fn closed_database_is_byte_for_byte_unchanged_on_std_fs() {
    let tmp = tempfile::tempdir().unwrap();
    unchanged_after_close(Arc::new(StdFs::new()), &tmp.path().join("db"));
}

#[test]
fn closed_database_is_byte_for_byte_unchanged_on_mem_fs() {
    unchanged_after_close(Arc::new(MemFs::new()), Path::new("/db"));
}

#[test]
fn database_held_by_a_writer_is_byte_for_byte_unchanged_on_std_fs() {
    let tmp = tempfile::tempdir().unwrap();
    unchanged_while_a_writer_holds_it(Arc::new(StdFs::new()), &tmp.path().join("db"));
}

#[test]
fn database_held_by_a_writer_is_byte_for_byte_unchanged_on_mem_fs() {
    unchanged_while_a_writer_holds_it(Arc::new(MemFs::new()), Path::new("/db"));
}

#[test]
fn every_write_is_refused_with_read_only() {
    let fs = MemFs::new();
    let dir = Path::new("/db");
    let db = Db::open(dir, small(Arc::new(fs.clone()))).unwrap();
    db.put(b"a", b"1").unwrap();
    db.close().unwrap();
    let db = Db::open_read_only(dir, small(Arc::new(fs.clone()))).unwrap();
    let read_only = |result: lsmkit_engine::Result<()>, call: &str| match result {
        Err(Error::ReadOnly { path }) => assert_eq!(path, dir, "{call}"),
        other => panic!("{call}: {other:?}"),
    };
    read_only(db.put(b"a", b"2"), "put");
    read_only(db.delete(b"a"), "delete");
    read_only(db.delete_range(&b"a"[..]..&b"b"[..]), "delete_range");
    read_only(db.write(WriteBatch::new()), "write");
    read_only(
        db.write_with(WriteBatch::new(), WriteOptions::durable()),
        "write_with",
    );
    read_only(db.sync_wal(), "sync_wal");
    read_only(db.flush_wal(), "flush_wal");
    read_only(db.flush(), "flush");
    read_only(db.wait_for_compactions(), "wait_for_compactions");
    read_only(db.compact(), "compact");
    read_only(db.ingest(&[Path::new("/bulk.sst")]), "ingest");
    read_only(db.checkpoint("/copy"), "checkpoint");
    assert!(!fs.exists(Path::new("/copy")).unwrap());
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert!(
        Error::ReadOnly { path: dir.into() }
            .to_string()
            .contains("read-only")
    );
}

#[test]
fn a_missing_directory_is_an_error_and_is_not_created() {
    let fs = MemFs::new();
    let err = Db::open_read_only("/nowhere", small(Arc::new(fs.clone()))).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if path == Path::new("/nowhere")),
        "{err}"
    );
    assert!(!fs.exists(Path::new("/nowhere")).unwrap());
}

/// The newest WAL segment of `dir`.
fn newest_segment(fs: &dyn Fs, dir: &Path) -> PathBuf {
    let wal = dir.join(lsmkit_engine::format::WAL_DIR);
    let last = fs.list(&wal).unwrap().into_iter().next_back().unwrap();
    wal.join(last)
}

#[test]
fn a_torn_wal_tail_is_the_end_of_the_log_even_under_absolute_consistency() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    // No reserve, so that the file ends where the last record does.
    let options = || {
        small(Arc::clone(&fs))
            .wal_recovery_mode(RecoveryMode::AbsoluteConsistency)
            .wal_preallocate(0)
    };
    let db = Db::open(&dir, options()).unwrap();
    db.put(b"kept", b"1").unwrap();
    db.put(b"torn", &[7; 300]).unwrap();
    db.close().unwrap();
    // A record cut short, as a writer appending to it leaves the file to a
    // reader that opens it mid-append.
    let segment = newest_segment(&*fs, &dir);
    let len = fs.size(&segment).unwrap();
    fs.truncate(&segment, len - 100).unwrap();
    let before = image(&*fs, &dir);

    let db = Db::open_read_only(&dir, options()).unwrap();
    assert_eq!(db.get(b"kept").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.get(b"torn").unwrap(), None);
    db.close().unwrap();
    assert_eq!(image(&*fs, &dir), before, "the torn tail was cut");
    // A read-write open under the same mode refuses it.
    let err = Db::open(&dir, options()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
}

#[test]
fn read_only_opens_beside_a_busy_writer_each_see_a_prefix() {
    busy_writer_and_read_only_opens(Arc::new(MemFs::new()), Path::new("/db"));
}

/// On disk the writer fills its WAL reserve through a memory map (on
/// Linux) while the read-only opens read the segment it is writing.
#[test]
fn read_only_opens_beside_a_busy_writer_on_disk_each_see_a_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    busy_writer_and_read_only_opens(Arc::new(StdFs::new()), &tmp.path().join("db"));
}

fn busy_writer_and_read_only_opens(fs: Arc<dyn Fs>, dir: &Path) {
    let options = || {
        small(Arc::clone(&fs))
            .write_buffer_size(1 << 10)
            .max_manifest_size(1 << 10)
    };
    let writer = Arc::new(Db::open(dir, options()).unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (writer, written, stop) = (writer.clone(), written.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 20_000 {
                writer.put(&key(i), &[b'v'; 40]).unwrap();
                i += 1;
                written.store(i, Ordering::Release);
            }
        })
    };
    let mut opens = 0;
    let mut last_seen = 0;
    // Until the writer has flushed and compacted under the readers for a
    // while.
    while opens < 40 || (written.load(Ordering::Acquire) < 3000 && !thread.is_finished()) {
        let acked = written.load(Ordering::Acquire);
        let reader = Db::open_read_only(dir, options())
            .unwrap_or_else(|e| panic!("read-only open {opens} beside the writer: {e}"));
        let keys: Vec<Vec<u8>> = reader
            .iter()
            .map(|kv| kv.map(|(k, _)| k))
            .collect::<Result<_, _>>()
            .unwrap();
        let n = keys.len() as u64;
        assert!(
            n >= acked,
            "open {opens}: {n} keys, {acked} acknowledged before it"
        );
        assert_eq!(
            keys,
            (0..n).map(key).collect::<Vec<_>>(),
            "open {opens}: not a prefix"
        );
        last_seen = last_seen.max(n);
        opens += 1;
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    let stats = writer.stats();
    eprintln!(
        "{opens} read-only opens, the last saw {last_seen} keys; the writer flushed {} times, \
         compacted {}",
        stats.flushes, stats.compactions
    );
    assert!(
        stats.flushes > 10 && stats.compactions > 0,
        "the writer did not flush and compact during the opens"
    );
}
