//! Merge operands in tables: stored, counted, verified, and collected by
//! `get_operands` across data blocks, down to a value, a point tombstone, a
//! range tombstone or the end of the key's versions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use lsmkit_sstable::key::InternalKey;
use lsmkit_sstable::{
    Lookup, MAX_SEQNO, RangeTombstone, SstOptions, SstReader, SstWriter, ValueKind,
};
use lsmkit_vfs::{Fs, MemFs};

fn table() -> Arc<SstReader> {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/t")).unwrap();
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    // Blocks of about one entry: a key's operands span many blocks.
    let options = SstOptions::default().block_size(64);
    let mut w = SstWriter::create(shared, "/t/m.sst", options).unwrap();
    let add = |w: &mut SstWriter, key: &[u8], seqno, kind, value: &[u8]| {
        w.add(InternalKey::new(key, seqno, kind).as_bytes(), value)
            .unwrap();
    };
    for seqno in (2..=10).rev() {
        add(&mut w, b"k", seqno, ValueKind::Merge, &[seqno as u8; 40]);
    }
    add(&mut w, b"k", 1, ValueKind::Put, b"base");
    add(&mut w, b"m", 3, ValueKind::Merge, b"only");
    add(&mut w, b"p", 4, ValueKind::Merge, b"over a delete");
    add(&mut w, b"p", 2, ValueKind::Delete, b"");
    add(&mut w, b"r", 6, ValueKind::Merge, b"newer");
    add(&mut w, b"r", 3, ValueKind::Merge, b"deleted");
    add(&mut w, b"r", 1, ValueKind::Put, b"deleted too");
    w.add_range_tombstone(&RangeTombstone::new(&b"r"[..], &b"s"[..], 4))
        .unwrap();
    w.finish().unwrap();
    SstReader::open(&fs, "/t/m.sst").unwrap()
}

fn operands(t: &SstReader, key: &[u8], snapshot: u64) -> (Vec<Vec<u8>>, Lookup) {
    let mut ops = Vec::new();
    let below = t.get_operands(key, snapshot, &mut ops).unwrap();
    (ops, below)
}

#[test]
fn operands_across_blocks_are_collected_newest_first_down_to_the_base() {
    let t = table();
    assert!(
        t.properties().num_data_blocks > 5,
        "the operands span blocks"
    );
    let (ops, below) = operands(&t, b"k", MAX_SEQNO);
    let expect: Vec<Vec<u8>> = (2..=10u8).rev().map(|s| vec![s; 40]).collect();
    assert_eq!(ops, expect);
    assert_eq!(below, Lookup::Found(b"base".to_vec()));
    // A snapshot sees only the operands at or below it.
    let (ops, below) = operands(&t, b"k", 4);
    assert_eq!(ops, [vec![4; 40], vec![3; 40], vec![2; 40]]);
    assert_eq!(below, Lookup::Found(b"base".to_vec()));
    assert_eq!(t.get(b"k", MAX_SEQNO).unwrap(), Lookup::Merge);
    assert_eq!(t.get(b"k", 1).unwrap(), Lookup::Found(b"base".to_vec()));
}

#[test]
fn operands_end_at_deletions_and_at_the_last_version() {
    let t = table();
    assert_eq!(
        operands(&t, b"m", MAX_SEQNO),
        (vec![b"only".to_vec()], Lookup::Absent)
    );
    assert_eq!(
        operands(&t, b"p", MAX_SEQNO),
        (vec![b"over a delete".to_vec()], Lookup::Deleted)
    );
    // The range tombstone at 4 deletes the versions below it.
    assert_eq!(
        operands(&t, b"r", MAX_SEQNO),
        (vec![b"newer".to_vec()], Lookup::Deleted)
    );
    assert_eq!(
        operands(&t, b"r", 3),
        (
            vec![b"deleted".to_vec()],
            Lookup::Found(b"deleted too".to_vec())
        ),
        "a snapshot below the tombstone does not see it"
    );
    assert_eq!(operands(&t, b"zz", MAX_SEQNO), (vec![], Lookup::Absent));
}

#[test]
fn merge_operands_are_counted_and_verified() {
    let t = table();
    let p = t.properties();
    assert_eq!((p.num_merge_operands, p.num_deletions), (13, 1));
    assert_eq!(p.num_entries, 16);
    t.verify().unwrap();
}
