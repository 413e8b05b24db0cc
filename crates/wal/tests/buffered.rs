//! `SyncPolicy::Buffered`: records wait in the writer's buffer until it
//! fills, a flush, a sync or a segment's end, on the real filesystem
//! (`StdFs`, whose writers buffer); what was handed on comes back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{open_wal, record, recover, wal_datas};
use lsmkit_vfs::{Fs, StdFs};
use lsmkit_wal::{RecoveryMode, SyncPolicy, WalOptions};

#[test]
fn buffered_records_reach_the_file_at_flush_and_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let dir = dir.to_str().unwrap();
    let fs: Arc<dyn Fs> = Arc::new(StdFs::new());
    let options = WalOptions {
        segment_size: 1 << 20,
        sync: SyncPolicy::Buffered,
        preallocate: 0,
    };
    let wal = open_wal(&fs, dir, options);
    let records: Vec<Vec<u8>> = (0..10).map(|i| record(i, 100)).collect();
    let mut segment = None;
    for data in &records[..5] {
        segment = Some(wal.append(data).unwrap().position.segment);
    }
    let path = wal.segment_path(segment.unwrap());
    let on_disk = || std::fs::metadata(&path).unwrap().len();
    assert_eq!(on_disk(), 0, "records were handed on before a flush");
    wal.flush().unwrap();
    let flushed = on_disk();
    assert!(flushed >= 5 * 100, "{flushed} bytes after flush");
    for data in &records[5..] {
        wal.append(data).unwrap();
    }
    assert_eq!(on_disk(), flushed);
    wal.sync().unwrap();
    assert!(on_disk() > flushed);
    drop(wal);
    let (recovered, _) = recover(&fs, dir, RecoveryMode::default());
    assert_eq!(wal_datas(&recovered.unwrap()), records);
}
