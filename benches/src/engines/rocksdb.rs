//! RocksDB (rust-rocksdb) behind the `Store` trait.

use std::path::Path;

use lsmkit_cli::bench::{Engine, Store, StoreError, Write, copy_found};
use rocksdb::{
    BlockBasedOptions, Cache, DB, DBCompressionType, FlushOptions, Options, WaitForCompactOptions,
    WriteBatch, WriteOptions,
};

use super::{BLOOM_BITS_PER_KEY, Compression, WRITE_BUFFER_BYTES};

/// Opens RocksDB with the comparison's configuration (and RocksDB's
/// defaults otherwise: leveled compaction, 2 background jobs, 4 KiB
/// blocks), compressing every level with `codec`.
pub struct RocksEngine {
    /// The codec of every level's data blocks.
    pub codec: Compression,
    /// The LRU block cache's size.
    pub cache_bytes: usize,
}

impl Engine for RocksEngine {
    type Store = RocksStore;

    fn name(&self) -> &str {
        "rocksdb"
    }

    fn config(&self) -> String {
        format!(
            "RocksDB {} (rust-rocksdb 0.25): write buffer {} MiB, bloom {BLOOM_BITS_PER_KEY} bits/key, LRU block cache {} MiB, compression {}, leveled compaction, WAL unsynced except fillsync",
            "11.8.1",
            WRITE_BUFFER_BYTES >> 20,
            self.cache_bytes >> 20,
            self.codec.name()
        )
    }

    fn open(&self, dir: &Path) -> Result<RocksStore, StoreError> {
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(f64::from(BLOOM_BITS_PER_KEY), false);
        table.set_block_cache(&Cache::new_lru_cache(self.cache_bytes));
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(match self.codec {
            Compression::None => DBCompressionType::None,
            Compression::Lz4 => DBCompressionType::Lz4,
            Compression::Zstd => DBCompressionType::Zstd,
        });
        options.set_write_buffer_size(WRITE_BUFFER_BYTES);
        options.set_block_based_table_factory(&table);
        let db = DB::open(&options, dir).map_err(StoreError::new)?;
        Ok(RocksStore { db })
    }
}

/// An open RocksDB.
pub struct RocksStore {
    db: DB,
}

impl Store for RocksStore {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.db.put(key, value).map_err(StoreError::new)
    }

    fn put_sync(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db
            .put_opt(key, value, &options)
            .map_err(StoreError::new)
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.db.delete(key).map_err(StoreError::new)
    }

    fn write_batch(&self, writes: &[Write<'_>]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for write in writes {
            match *write {
                Write::Put { key, value } => batch.put(key, value),
                Write::Delete { key } => batch.delete(key),
            }
        }
        self.db.write(batch).map_err(StoreError::new)
    }

    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        Ok(copy_found(
            self.db.get_pinned(key).map_err(StoreError::new)?,
            value,
        ))
    }

    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError> {
        let mut it = self.db.raw_iterator();
        it.seek(start);
        let mut n = 0;
        while n < limit {
            let (Some(key), Some(value)) = (it.key(), it.value()) else {
                break;
            };
            visit(key, value);
            n += 1;
            it.next();
        }
        it.status().map_err(StoreError::new)?;
        Ok(n)
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut options = FlushOptions::default();
        options.set_wait(true);
        self.db.flush_opt(&options).map_err(StoreError::new)?;
        self.db
            .wait_for_compact(&WaitForCompactOptions::default())
            .map_err(StoreError::new)
    }
}
