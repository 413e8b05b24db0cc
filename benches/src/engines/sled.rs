//! sled behind the `Store` trait.

use std::path::Path;

use lsmkit_cli::bench::{Engine, Store, StoreError, Write, copy_found};

/// Opens sled 0.34 (its latest stable release) with a page cache the size
/// of the others' block caches. sled is not an LSM tree: it has no
/// memtable size or bloom filter to set; it compresses nothing unless
/// built with its `compression` feature, which needs a `zstd-sys` older
/// than the one lsmkit links (so it runs uncompressed whatever
/// `--compression` says); its log is flushed
/// every 500 ms by default and synced by `flush`, which `fillsync` calls
/// after every write.
pub struct SledEngine {
    /// The page cache's size.
    pub cache_bytes: usize,
}

impl Engine for SledEngine {
    type Store = SledStore;

    fn name(&self) -> &str {
        "sled"
    }

    fn config(&self) -> String {
        format!(
            "sled 0.34.7: page cache {} MiB, no compression, log flushed every 500 ms, synced per write in fillsync",
            self.cache_bytes >> 20
        )
    }

    fn open(&self, dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(self.cache_bytes as u64)
            .open()
            .map_err(StoreError::new)?;
        Ok(SledStore { db })
    }
}

/// An open sled database.
pub struct SledStore {
    db: sled::Db,
}

impl Store for SledStore {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.db.insert(key, value).map_err(StoreError::new)?;
        Ok(())
    }

    fn put_sync(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.put(key, value)?;
        self.db.flush().map_err(StoreError::new)?;
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.db.remove(key).map_err(StoreError::new)?;
        Ok(())
    }

    fn write_batch(&self, writes: &[Write<'_>]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for write in writes {
            match *write {
                Write::Put { key, value } => batch.insert(key, value),
                Write::Delete { key } => batch.remove(key),
            }
        }
        self.db.apply_batch(batch).map_err(StoreError::new)
    }

    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        Ok(copy_found(
            self.db.get(key).map_err(StoreError::new)?,
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
        for entry in self.db.range(start..).take(limit) {
            let (key, value) = entry.map_err(StoreError::new)?;
            visit(&key, &value);
            n += 1;
        }
        Ok(n)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(StoreError::new)?;
        Ok(())
    }
}
