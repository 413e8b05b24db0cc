//! When writers are slowed: while a flush runs behind a nearly full
//! memtable, not merely because the memtable is nearly full.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use lsmkit_engine::{Db, Options};
use lsmkit_vfs::MemFs;

const WRITE_BUFFER: u64 = 64 << 10;

#[test]
fn a_nearly_full_memtable_with_no_flush_running_slows_no_writer() {
    for max_immutable in [1, 2, 3] {
        let options = Options::default()
            .fs(Arc::new(MemFs::new()))
            .write_buffer_size(WRITE_BUFFER as usize)
            .max_immutable_memtables(max_immutable);
        let db = Db::open("/db", options).unwrap();
        let mut i = 0u32;
        // To 95% of the write buffer: past the 90% at which a switch
        // would be near, short of the switch itself.
        while db.stats().memtable_bytes < WRITE_BUFFER / 100 * 95 {
            db.put(format!("key{i:06}").as_bytes(), &[7; 100]).unwrap();
            i += 1;
        }
        let stats = db.stats();
        assert_eq!(stats.flushes, 0, "{stats:?}");
        assert!(stats.frozen_memtable_bytes.is_empty(), "{stats:?}");
        assert_eq!(
            (stats.slowdowns, stats.stops, stats.stall_micros),
            (0, 0, 0),
            "max_immutable_memtables {max_immutable}: {stats:?}"
        );
        db.close().unwrap();
    }
}
