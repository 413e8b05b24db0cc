//! fjall behind the `Store` trait.

use std::path::Path;

use fjall::config::CompressionPolicy;
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use lsmkit_cli::bench::{Engine, Store, StoreError, Write, copy_found};

use super::{Compression, WRITE_BUFFER_BYTES};

/// Opens fjall with the comparison's configuration: every level's data
/// blocks compressed with LZ4 under `Compression::Lz4`, none otherwise
/// (fjall has no Zstandard); fjall's default bloom filter (10 bits per
/// key) and leveled compaction.
pub struct FjallEngine {
    /// The codec asked for.
    pub codec: Compression,
    /// The cache's size.
    pub cache_bytes: usize,
}

impl FjallEngine {
    fn compression(&self) -> CompressionType {
        match self.codec {
            Compression::Lz4 => CompressionType::Lz4,
            _ => CompressionType::None,
        }
    }
}

impl Engine for FjallEngine {
    type Store = FjallStore;

    fn name(&self) -> &str {
        "fjall"
    }

    fn config(&self) -> String {
        format!(
            "fjall 3.1: memtable {} MiB, default bloom filter (10 bits/key), cache {} MiB, compression {}, leveled compaction, journal unsynced except fillsync and buffered in 8 KiB (fjall's default)",
            WRITE_BUFFER_BYTES >> 20,
            self.cache_bytes >> 20,
            match (self.codec, self.compression()) {
                (Compression::Zstd, _) => "none (fjall has no zstd)",
                (_, CompressionType::Lz4) => "lz4",
                _ => "none",
            }
        )
    }

    fn open(&self, dir: &Path) -> Result<FjallStore, StoreError> {
        let db = Database::builder(dir)
            .cache_size(self.cache_bytes as u64)
            .open()
            .map_err(StoreError::new)?;
        let keyspace = db
            .keyspace("bench", || {
                KeyspaceCreateOptions::default()
                    .max_memtable_size(WRITE_BUFFER_BYTES as u64)
                    .data_block_compression_policy(CompressionPolicy::all(self.compression()))
            })
            .map_err(StoreError::new)?;
        Ok(FjallStore { db, keyspace })
    }
}

/// An open fjall database and its one keyspace.
pub struct FjallStore {
    db: Database,
    keyspace: Keyspace,
}

impl Store for FjallStore {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.keyspace.insert(key, value).map_err(StoreError::new)
    }

    fn put_sync(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.put(key, value)?;
        self.db
            .persist(PersistMode::SyncData)
            .map_err(StoreError::new)
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.keyspace.remove(key).map_err(StoreError::new)
    }

    fn write_batch(&self, writes: &[Write<'_>]) -> Result<(), StoreError> {
        let mut batch = self.db.batch();
        for write in writes {
            match *write {
                Write::Put { key, value } => batch.insert(&self.keyspace, key, value),
                Write::Delete { key } => batch.remove(&self.keyspace, key),
            }
        }
        batch.commit().map_err(StoreError::new)
    }

    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        Ok(copy_found(
            self.keyspace.get(key).map_err(StoreError::new)?,
            value,
        ))
    }

    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for guard in self.keyspace.range(start..).take(limit) {
            let (key, value) = guard.into_inner().map_err(StoreError::new)?;
            visit(&key, &value);
            n += 1;
        }
        Ok(n)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.keyspace
            .rotate_memtable_and_wait()
            .map_err(StoreError::new)
    }
}
