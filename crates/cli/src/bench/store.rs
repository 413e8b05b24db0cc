//! The [`Store`] trait: the operations the workloads need of an engine,
//! and [`Engine`], which opens one in a directory.
//!
//! Adapters implement them for lsmkit-engine here and for RocksDB, fjall and
//! sled in the unpublished `lsmkit-benches` crate, so that every engine runs
//! the very same workload code. [`MemStore`] is the reference: a `BTreeMap`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::Path;
use std::sync::RwLock;

/// A failed store operation: the engine's own error, boxed.
#[derive(Debug)]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps an engine's error (or a message).
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError(error.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// One write of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write<'a> {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: &'a [u8],
    },
}

/// The body of a [`Store::get`] whose engine hands back an owned or
/// borrowed value: copies `found` into `value` (cleared first) and says
/// whether there was one.
pub fn copy_found(found: Option<impl AsRef<[u8]>>, value: &mut Vec<u8>) -> bool {
    value.clear();
    match found {
        Some(found) => {
            value.extend_from_slice(found.as_ref());
            true
        }
        None => false,
    }
}

/// What the workloads do to an engine. Every write goes through the
/// engine's write-ahead log; only [`put_sync`](Store::put_sync) waits for
/// it to be durable.
///
/// Shared by the workload threads: implementations are `Sync` and take
/// `&self`.
pub trait Store: Send + Sync {
    /// Sets `key` to `value`, logged but not synced.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;

    /// Sets `key` to `value` and returns once the write is durable (the
    /// log synced).
    fn put_sync(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;

    /// Removes `key`, logged but not synced.
    fn delete(&self, key: &[u8]) -> Result<(), StoreError>;

    /// Applies `writes` atomically, logged but not synced.
    fn write_batch(&self, writes: &[Write<'_>]) -> Result<(), StoreError>;

    /// Copies the value of `key` into `value` (cleared first) and returns
    /// true, or returns false when the key is absent.
    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError>;

    /// Positions on the first key `>= start` and visits up to `limit`
    /// entries in key order; returns how many it visited.
    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError>;

    /// Adds `n` to the counter at `key` (an unsigned 64-bit integer, 8
    /// bytes little-endian; absent counts as 0, wrapping at 2^64). The
    /// default reads the counter and writes the sum: not atomic, so
    /// concurrent adds to one key may be lost. An engine with a merge
    /// operator overrides it with one merge, which is atomic and reads
    /// nothing.
    fn merge_add(&self, key: &[u8], n: u64) -> Result<(), StoreError> {
        read_modify_add(self, key, n)
    }

    /// Writes everything held in memory to the engine's tables and waits
    /// for the background work this started, so that what follows runs
    /// against settled files.
    fn flush(&self) -> Result<(), StoreError>;

    /// The engine's shape and background counters, for the report to say
    /// what state a workload measured; `None` (the default) where the
    /// adapter cannot tell.
    fn state(&self) -> Option<StoreState> {
        None
    }
}

/// Adds `n` to the counter at `key` by a read and a write: the default
/// [`Store::merge_add`], and the `readmodifywrite` workload on every
/// engine. A value that is not 8 bytes is an error.
pub fn read_modify_add<S: Store + ?Sized>(store: &S, key: &[u8], n: u64) -> Result<(), StoreError> {
    let mut value = Vec::with_capacity(8);
    let old = if store.get(key, &mut value)? {
        counter(&value)?
    } else {
        0
    };
    store.put(key, &old.wrapping_add(n).to_le_bytes())
}

/// The counter a value holds: 8 bytes little-endian.
pub fn counter(value: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = value
        .try_into()
        .map_err(|_| StoreError::new(format!("a counter of {} bytes, not 8", value.len())))?;
    Ok(u64::from_le_bytes(bytes))
}

/// What [`Store::state`] tells: the engine's shape now, and counters since
/// it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreState {
    /// Sorted runs a read may have to consult (an LSM tree's read
    /// amplification): each run is one lookup and one merge cursor.
    pub sorted_runs: usize,
    /// Table files over all runs.
    pub tables: usize,
    /// Compactions finished since open.
    pub compactions: u64,
    /// Time writers were held back by the engine's backpressure since
    /// open, in microseconds.
    pub stall_micros: u64,
}

/// A kind of store, and how it is configured: opens a [`Store`] in a
/// directory.
pub trait Engine: Sync {
    /// The store this engine opens.
    type Store: Store;

    /// The engine's name in results: `lsmkit`, `rocksdb`, ...
    fn name(&self) -> &str;

    /// How the engine is configured, in a line, for the results.
    fn config(&self) -> String;

    /// Opens (creating if needed) the store in `dir`, which exists.
    fn open(&self, dir: &Path) -> Result<Self::Store, StoreError>;
}

/// A store in memory: a `BTreeMap` under a lock. The reference model the
/// workloads are tested against, and a measure of the harness's own cost.
#[derive(Debug, Default)]
pub struct MemStore {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemStore {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.write().insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn put_sync(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.put(key, value)
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.write().remove(key);
        Ok(())
    }

    fn write_batch(&self, writes: &[Write<'_>]) -> Result<(), StoreError> {
        let mut map = self.write();
        for write in writes {
            match *write {
                Write::Put { key, value } => map.insert(key.to_vec(), value.to_vec()),
                Write::Delete { key } => map.remove(key),
            };
        }
        Ok(())
    }

    fn get(&self, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StoreError> {
        Ok(copy_found(self.read().get(key), value))
    }

    /// Atomic: the read and the write under one lock, so that concurrent
    /// adds to one key all count.
    fn merge_add(&self, key: &[u8], n: u64) -> Result<(), StoreError> {
        let mut map = self.write();
        let old = match map.get(key) {
            Some(value) => counter(value)?,
            None => 0,
        };
        map.insert(key.to_vec(), old.wrapping_add(n).to_le_bytes().to_vec());
        Ok(())
    }

    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, StoreError> {
        let map = self.read();
        let mut n = 0;
        for (key, value) in map
            .range::<[u8], _>((Bound::Included(start), Bound::Unbounded))
            .take(limit)
        {
            visit(key, value);
            n += 1;
        }
        Ok(n)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The [`Engine`] of [`MemStore`]: every open is a fresh, empty map (the
/// directory is not used).
#[derive(Clone, Copy, Debug, Default)]
pub struct MemEngine;

impl Engine for MemEngine {
    type Store = MemStore;

    fn name(&self) -> &str {
        "memory"
    }

    fn config(&self) -> String {
        "a BTreeMap under a RwLock; nothing on disk".to_string()
    }

    fn open(&self, _dir: &Path) -> Result<MemStore, StoreError> {
        Ok(MemStore::new())
    }
}
