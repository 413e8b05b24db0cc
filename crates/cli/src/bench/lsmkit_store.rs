//! lsmkit-engine behind the [`Store`] trait: what `lsmkit bench` measures.

use std::path::Path;
use std::sync::Arc;

use lsmkit_engine::{CompactionStyle, Compression, Db, Options, U64Add, WriteBatch, WriteOptions};

use super::store::{Engine, Store, StoreError, StoreState, Write};

/// Opens lsmkit-engine databases configured as the comparison configures
/// every engine: 64 MiB write buffer, bloom filters of 10 bits per key,
/// 64 MiB block cache, WAL on and unsynced except for durable writes,
/// data blocks compressed with LZ4 (the engine's default; see
/// [`compression`](LsmkitEngine::compression)), and the [`U64Add`] merge
/// operator for the counter workloads.
#[derive(Clone, Debug)]
pub struct LsmkitEngine {
    options: Options,
}

impl LsmkitEngine {
    /// The comparison's configuration.
    pub fn new() -> LsmkitEngine {
        LsmkitEngine {
            options: Options::default()
                .write_buffer_size(64 << 20)
                .bloom_bits_per_key(10)
                .block_cache_size(64 << 20)
                .sync_writes(false)
                .merge_operator(Arc::new(U64Add)),
        }
    }

    /// Compresses every table's data blocks with `codec` (the bottommost
    /// run's too).
    pub fn compression(mut self, codec: Compression) -> LsmkitEngine {
        self.options.compression = codec;
        self.options.bottommost_compression = None;
        self
    }

    /// Opens with `options` instead (the counter workloads then need a
    /// [`U64Add`] merge operator in them).
    pub fn with_options(options: Options) -> LsmkitEngine {
        LsmkitEngine { options }
    }

    /// The same, compacting in `style`; a leveled engine is named
    /// `lsmkit-leveled` in results.
    pub fn compaction_style(mut self, style: CompactionStyle) -> LsmkitEngine {
        self.options.compaction_style = style;
        self
    }

    /// The same, with WAL records buffered until a flush, sync or close
    /// (`Options::manual_wal_flush`).
    pub fn manual_wal_flush(mut self, on: bool) -> LsmkitEngine {
        self.options.manual_wal_flush = on;
        self
    }

    /// The same, reserving WAL space `bytes` ahead of the writer
    /// (`Options::wal_preallocate`; `0` for none).
    pub fn wal_preallocate(mut self, bytes: u64) -> LsmkitEngine {
        self.options.wal_preallocate = bytes;
        self
    }

    /// The same, syncing the WAL in the background every `bytes` appended
    /// (`Options::wal_bytes_per_sync`; `0` for never).
    pub fn wal_bytes_per_sync(mut self, bytes: u64) -> LsmkitEngine {
        self.options.wal_bytes_per_sync = bytes;
        self
    }

    /// The same, with a block cache of `bytes`.
    pub fn block_cache_size(mut self, bytes: u64) -> LsmkitEngine {
        self.options.block_cache_size = bytes;
        self
    }

    /// The same, splitting a compaction into up to `parts` key ranges on
    /// threads of their own (`Options::max_subcompactions`).
    pub fn max_subcompactions(mut self, parts: usize) -> LsmkitEngine {
        self.options.max_subcompactions = parts;
        self
    }

    /// The same, freezing the memtable at about `bytes`
    /// (`Options::write_buffer_size`).
    pub fn write_buffer_size(mut self, bytes: u64) -> LsmkitEngine {
        self.options.write_buffer_size = usize::try_from(bytes).unwrap_or(usize::MAX);
        self
    }

    /// The same, stopping writers at `n` frozen memtables
    /// (`Options::max_immutable_memtables`).
    pub fn max_immutable_memtables(mut self, n: usize) -> LsmkitEngine {
        self.options.max_immutable_memtables = n;
        self
    }

    /// The same, with a budget of `bytes` for all memtables together
    /// (`Options::db_write_buffer_size`; `0` for none).
    pub fn db_write_buffer_size(mut self, bytes: u64) -> LsmkitEngine {
        self.options.db_write_buffer_size = usize::try_from(bytes).unwrap_or(usize::MAX);
        self
    }

    fn leveled(&self) -> bool {
        self.options.compaction_style == CompactionStyle::Leveled
    }
}

impl Default for LsmkitEngine {
    fn default() -> LsmkitEngine {
        LsmkitEngine::new()
    }
}

impl Engine for LsmkitEngine {
    type Store = LsmkitStore;

    fn name(&self) -> &str {
        match (self.leveled(), self.options.manual_wal_flush) {
            (false, false) => "lsmkit",
            (true, false) => "lsmkit-leveled",
            (false, true) => "lsmkit-buffered",
            (true, true) => "lsmkit-leveled-buffered",
        }
    }

    fn config(&self) -> String {
        let o = &self.options;
        format!(
            "lsmkit-engine {}: write buffer {} MiB ({} frozen at most{}), bloom {} bits/key, block cache {} MiB, blocks {} B, compression {}, {} compaction, WAL unsynced except fillsync",
            env!("CARGO_PKG_VERSION"),
            o.write_buffer_size >> 20,
            o.max_immutable_memtables,
            if o.db_write_buffer_size > 0 {
                format!(", {} MiB for all", o.db_write_buffer_size >> 20)
            } else {
                String::new()
            },
            o.bloom_bits_per_key,
            o.block_cache_size >> 20,
            o.block_size,
            o.bottommost_compression
                .filter(|&b| b != o.compression)
                .map_or_else(
                    || o.compression.name().to_string(),
                    |b| format!("{} ({} bottommost)", o.compression.name(), b.name())
                ),
            if self.leveled() { "leveled" } else { "tiered" }
        ) + if o.manual_wal_flush {
            ", WAL records buffered (manual_wal_flush)"
        } else {
            ""
        } + &if o.wal_preallocate == 0 {
            ", WAL not preallocated".to_string()
        } else {
            format!(", WAL preallocated {} KiB ahead", o.wal_preallocate >> 10)
        } + &if o.max_subcompactions > 1 {
            format!(", up to {} subcompactions", o.max_subcompactions)
        } else {
            String::new()
        }
    }

    fn open(&self, dir: &Path) -> Result<LsmkitStore, StoreError> {
        let db = Db::open(dir, self.options.clone()).map_err(StoreError::new)?;
        Ok(LsmkitStore { db })
    }
}

/// An open lsmkit-engine database.
pub struct LsmkitStore {
    db: Db,
}

impl LsmkitStore {
    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

impl Store for LsmkitStore {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.db.put(key, value).map_err(StoreError::new)
    }

    fn put_sync(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.db
            .write_with(batch, WriteOptions::durable())
            .map_err(StoreError::new)
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.db.delete(key).map_err(StoreError::new)
    }

    fn merge_add(&self, key: &[u8], n: u64) -> Result<(), StoreError> {
        self.db
            .merge(key, &U64Add::operand(n))
            .map_err(StoreError::new)
    }

    fn write_batch(&self, writes: &[Write<'_>]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::new();
        for write in writes {
            match *write {
                Write::Put { key, value } => batch.put(key, value),
                Write::Delete { key } => batch.delete(key),
            };
        }
        self.db.write(batch).map_err(StoreError::new)
    }

    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        value.clear();
        match self.db.get(key).map_err(StoreError::new)? {
            Some(found) => {
                *value = found;
                Ok(true)
            }
            None => Ok(false),
        }
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

    /// Flushes and waits for compactions to settle too, so that a read
    /// workload never runs beside a compaction its fill started.
    fn flush(&self) -> Result<(), StoreError> {
        self.db.wait_for_compactions().map_err(StoreError::new)
    }

    fn state(&self) -> Option<StoreState> {
        let stats = self.db.stats();
        Some(StoreState {
            sorted_runs: stats.runs(),
            tables: stats.tables_per_run.iter().sum(),
            compactions: stats.compactions,
            stall_micros: stats.stall_micros,
        })
    }
}
