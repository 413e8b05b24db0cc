//! The writer: refusing bad input, and publishing atomically under crashes,
//! injected I/O errors, aborts and drops.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{scan, small_model, small_options};
use lsmkit_sstable::key::{self, InternalKey};
use lsmkit_sstable::{Error, MAX_SEQNO, SstOptions, SstReader, SstWriter, ValueKind};
use lsmkit_vfs::{FaultFs, Fs, MemFs, Op, Rule};

fn mem() -> (MemFs, Arc<dyn Fs>) {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    (fs, shared)
}

#[test]
fn out_of_order_keys_are_refused_and_the_writer_goes_on() {
    let (_, fs) = mem();
    let mut w = SstWriter::create(fs.clone(), "/db/t.sst", SstOptions::default()).unwrap();
    w.put(b"b", 5, b"1").unwrap();
    let err = w.put(b"a", 9, b"2").unwrap_err();
    assert!(
        matches!(&err, Error::OutOfOrder { entry: 1, previous, key, .. }
            if previous == InternalKey::new(b"b", 5, ValueKind::Put).as_bytes()
            && key == InternalKey::new(b"a", 9, ValueKind::Put).as_bytes()),
        "{err}"
    );
    // The same key again, and an older version before a newer one.
    assert!(matches!(
        w.put(b"b", 5, b"x"),
        Err(Error::OutOfOrder { .. })
    ));
    assert!(matches!(
        w.put(b"b", 6, b"x"),
        Err(Error::OutOfOrder { .. })
    ));
    assert!(!err.is_corruption());
    w.put(b"b", 4, b"3").unwrap();
    w.delete(b"c", 1).unwrap();
    let meta = w.finish().unwrap();
    assert_eq!(meta.properties.num_entries, 3);
    assert_eq!(meta.properties.num_deletions, 1);
}

#[test]
fn invalid_keys_are_refused() {
    let (_, fs) = mem();
    let mut w = SstWriter::create(fs, "/db/t.sst", SstOptions::default()).unwrap();
    let reason = |r: Result<(), Error>| match r {
        Err(Error::InvalidKey { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    reason(w.add(b"short", b""));
    let mut range = Vec::new();
    key::encode(b"a", 1, ValueKind::RangeDelete, &mut range);
    assert!(reason(w.add(&range, b"z")).contains("add_range_tombstone"));
    let mut seek = Vec::new();
    key::encode_seek(b"a", 1, &mut seek);
    reason(w.add(&seek, b""));
    assert!(reason(w.put(b"a", MAX_SEQNO + 1, b"")).contains("56 bits"));
    assert_eq!(w.num_entries(), 0);
}

#[test]
fn finish_publishes_and_leaves_no_temporary_file() {
    let (memfs, fs) = mem();
    let model = small_model();
    let meta = model.write(&fs, "/db/t.sst", small_options());
    assert_eq!(fs.list(Path::new("/db")).unwrap(), ["t.sst"]);
    assert_eq!(meta.file_size, fs.size(Path::new("/db/t.sst")).unwrap());
    assert!(meta.properties.num_data_blocks > 3, "{meta:?}");
    // Durable: a crash right after finish keeps the table.
    memfs.crash();
    let table = SstReader::open(&*fs, "/db/t.sst").unwrap();
    assert_eq!(table.properties(), &meta.properties);
    assert_eq!(table.footer(), &meta.footer);
    assert_eq!(scan(&mut table.iter()), model.list());
}

#[test]
fn abort_and_drop_remove_the_temporary_file() {
    let (_, fs) = mem();
    let mut w = SstWriter::create(fs.clone(), "/db/a.sst", small_options()).unwrap();
    for i in 0..100u32 {
        w.put(format!("{i:04}").as_bytes(), 1, &[7; 50]).unwrap();
    }
    assert!(w.file_size() > 0);
    w.abort().unwrap();
    let mut w = SstWriter::create(fs.clone(), "/db/b.sst", small_options()).unwrap();
    w.put(b"k", 1, b"v").unwrap();
    drop(w);
    assert!(fs.list(Path::new("/db")).unwrap().is_empty());
}

/// The mutating filesystem calls writing the small table makes.
fn mutating_calls() -> u64 {
    let (_, inner) = mem();
    let fs = FaultFs::wrap(inner);
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    small_model().write(&shared, "/db/t.sst", small_options());
    fs.mutating_count()
}

/// Writes the small table on a filesystem that `rule` breaks; returns
/// whether `finish` succeeded.
fn write_with(fs: &FaultFs, rule: Rule) -> bool {
    fs.add(rule);
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    let model = small_model();
    let attempt = || -> Result<(), Error> {
        let mut w = SstWriter::create(shared.clone(), "/db/t.sst", small_options())?;
        for (k, v) in &model.entries {
            w.add(k.as_bytes(), v)?;
        }
        for t in &model.tombstones {
            w.add_range_tombstone(t)?;
        }
        w.finish().map(|_| ())
    };
    attempt().is_ok()
}

/// Whatever is under the final name is the complete table.
fn assert_complete_or_absent(fs: &dyn Fs, context: &str) -> bool {
    if !fs.exists(Path::new("/db/t.sst")).unwrap() {
        return false;
    }
    let table = SstReader::open(fs, "/db/t.sst").unwrap_or_else(|e| panic!("{context}: {e}"));
    table.verify().unwrap();
    assert_eq!(scan(&mut table.iter()), small_model().list(), "{context}");
    true
}

#[test]
fn a_crash_at_any_call_leaves_no_table_or_a_complete_one() {
    let total = mutating_calls();
    assert!(total > 5, "{total}");
    for n in 1..=total + 1 {
        for torn in [None, Some(n)] {
            let (memfs, inner) = mem();
            let fs = FaultFs::wrap(inner);
            // The disk dies at call n: nothing from there on happens.
            let finished = write_with(&fs, Rule::on_mutating().from_nth(n));
            assert_eq!(finished, n > total, "call {n}");
            match torn {
                None => memfs.crash(),
                Some(seed) => memfs.crash_torn(seed),
            }
            let context = format!("crash at call {n}/{total}, torn {torn:?}");
            let present = assert_complete_or_absent(&memfs, &context);
            assert_eq!(present, finished, "{context}");
            let names = memfs.list(Path::new("/db")).unwrap();
            assert!(names.iter().all(|n| n == "t.sst"), "{context}: {names:?}");
        }
    }
}

#[test]
fn a_failed_call_leaves_nothing_behind() {
    let total = mutating_calls();
    for n in 1..=total {
        let (memfs, inner) = mem();
        let fs = FaultFs::wrap(inner);
        let finished = write_with(&fs, Rule::on_mutating().nth(n));
        assert!(!finished, "call {n} failed but the table was published");
        assert!(
            memfs.list(Path::new("/db")).unwrap().is_empty(),
            "call {n}: {:?}",
            memfs.list(Path::new("/db"))
        );
    }
}

#[test]
fn a_full_disk_fails_cleanly() {
    let (memfs, inner) = mem();
    let fs = FaultFs::wrap(inner);
    assert!(!write_with(&fs, Rule::disk_full(1000)));
    assert!(memfs.list(Path::new("/db")).unwrap().is_empty());
}

#[test]
fn after_an_io_error_the_writer_reports_it_and_refuses_more() {
    let (_, inner) = mem();
    let fs = FaultFs::wrap(inner);
    fs.add(Rule::on(Op::Append).nth(1));
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    let mut w = SstWriter::create(shared.clone(), "/db/t.sst", small_options()).unwrap();
    let mut first_error = None;
    for i in 0..200u32 {
        if let Err(e) = w.put(format!("{i:04}").as_bytes(), 1, &[1; 20]) {
            first_error = Some(e);
            break;
        }
    }
    assert!(
        matches!(first_error, Some(Error::Io { .. })),
        "{first_error:?}"
    );
    assert!(matches!(w.put(b"9999", 1, b""), Err(Error::Failed { .. })));
    assert!(w.finish().is_err());
    assert!(shared.list(Path::new("/db")).unwrap().is_empty());
}

#[test]
fn data_blocks_stay_within_their_bound_unless_one_entry_alone_is_larger() {
    use lsmkit_sstable::lsmkit_block::Block;
    use lsmkit_sstable::{BlockHandle, FormatVersion, InternalKeyComparator};

    const BLOCK_SIZE: usize = 256;
    // The bound: the block size less a cached block's reference counts.
    const BOUND: u64 = BLOCK_SIZE as u64 - 16;
    let (_mem, fs) = mem();
    // Version 1 stores a data block as is: its handle's size is its size.
    let options = SstOptions::default()
        .block_size(BLOCK_SIZE)
        .format_version(FormatVersion::V1);
    let mut writer = SstWriter::create(fs.clone(), "/db/t.sst", options).unwrap();
    for i in 0..2000u64 {
        let value = vec![b'v'; (i * 37 % 600) as usize];
        writer
            .put(format!("key{i:06}").as_bytes(), i + 1, &value)
            .unwrap();
    }
    writer.finish().unwrap();

    let table = SstReader::open(&*fs, "/db/t.sst").unwrap();
    let file = fs.open(Path::new("/db/t.sst")).unwrap();
    let read = |h: BlockHandle| {
        let mut bytes = vec![0; h.size as usize];
        file.read_at(h.offset, &mut bytes).unwrap();
        Block::new(bytes, InternalKeyComparator).unwrap()
    };
    let mut index = read(table.footer().index).iter();
    index.seek_to_first();
    let (mut blocks, mut alone, mut entries) = (0, 0, 0);
    while index.valid() {
        let handle = BlockHandle::decode(index.value()).unwrap();
        let block = read(handle);
        assert!(
            handle.size <= BOUND || block.len() == 1,
            "block {blocks}: {} bytes, {} entries",
            handle.size,
            block.len()
        );
        alone += u64::from(handle.size > BOUND);
        entries += block.len();
        blocks += 1;
        index.next();
    }
    assert_eq!(blocks, table.properties().num_data_blocks);
    assert_eq!(entries, 2000);
    assert!(alone > 0, "no entry was larger than the bound");
}
