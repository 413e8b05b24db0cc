//! [`LogStore`]: openraft's log storage (`RaftLogStorage`) on the engine.
//!
//! Entries live at `0x01 ‖ index:be64` (see [`crate::format`]). An append
//! is one write batch, put into the WAL and memtable at once (so readers
//! see it when `append` returns) and made durable by the store's sync
//! thread: it takes every append waiting, syncs the WAL once for all of
//! them (the engine's group commit), and then reports them flushed, in
//! order. The vote and truncations are written durably before they return;
//! a purge and the committed id are buffered, made durable by the next
//! sync (one WAL orders them all, so a crash keeps a prefix of the writes).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use lsmkit_engine::{WriteBatch, WriteOptions};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, StorageError, Vote};

use crate::error::{Error, Result};
use crate::format::{self, COMMITTED_KEY, LOG_END, PURGED_KEY, VOTE_KEY};
use crate::store::Shared;
use crate::{Entry, NodeId, TypeConfig};

/// The node's Raft log, vote and committed id; made by
/// [`Store::log_store`](crate::Store::log_store).
#[derive(Debug)]
pub struct LogStore {
    reader: LogReader,
    syncs: mpsc::Sender<LogFlushed<TypeConfig>>,
}

/// A reader of the log, for openraft's replication tasks.
#[derive(Clone, Debug)]
pub struct LogReader {
    shared: Arc<Shared>,
}

impl LogStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Result<LogStore> {
        let (syncs, waiting) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("raft-log-sync".into())
            .spawn(move || sync_loop(&thread_shared, &waiting))
            .map_err(|e| Error::io(&shared.db_dir, e))?;
        Ok(LogStore {
            reader: LogReader { shared },
            syncs,
        })
    }

    fn shared(&self) -> &Shared {
        &self.reader.shared
    }

    /// Writes `batch` durably, on a blocking thread (the fsync must not
    /// stall the runtime).
    async fn write_durably(&self, batch: WriteBatch) -> Result<()> {
        let shared = Arc::clone(&self.reader.shared);
        let write = tokio::task::spawn_blocking(move || {
            shared.db.write_with(batch, WriteOptions::durable())
        });
        match write.await {
            Ok(result) => Ok(result?),
            Err(join) => Err(Error::io(
                &self.shared().db_dir,
                std::io::Error::other(format!("durable write task failed: {join}")),
            )),
        }
    }

    fn log_id_at(&self, key: &[u8], what: &str) -> Result<Option<LogId<NodeId>>> {
        let shared = self.shared();
        shared.read(
            |k| shared.db.get(k),
            key,
            what,
            |d, _| format::get_log_id(d),
        )
    }
}

/// Syncs the WAL for every append waiting, then reports them in order.
fn sync_loop(shared: &Shared, waiting: &mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = waiting.recv() {
        let mut group = vec![first];
        group.extend(waiting.try_iter());
        let start = Instant::now();
        let synced = shared.db.sync_wal();
        let c = &shared.counters;
        c.sync_nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        c.syncs.fetch_add(1, Ordering::Relaxed);
        for callback in group {
            // The engine keeps the error (later writes fail with it too);
            // openraft gets it here and stops the node.
            let result = synced.as_ref().map(|_| ()).map_err(|e| {
                std::io::Error::other(format!(
                    "syncing the log of {}: {e}",
                    shared.db_dir.display()
                ))
            });
            callback.log_io_completed(result);
        }
    }
}

impl LogReader {
    fn entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(&i) => Some(i),
            Bound::Excluded(&i) => i.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let end = match range.end_bound() {
            Bound::Included(&i) => i.checked_add(1).map(format::log_key),
            Bound::Excluded(&i) => Some(format::log_key(i)),
            Bound::Unbounded => None,
        };
        let Some(start) = start else {
            return Ok(Vec::new());
        };
        let start = format::log_key(start);
        let end: &[u8] = end.as_ref().map_or(LOG_END, |k| &k[..]);
        if start.as_slice() >= end {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for kv in self.shared.db.range(&start[..]..end) {
            let (key, value) = kv?;
            out.push(self.decode(&key, &value)?);
        }
        Ok(out)
    }

    /// Decodes the entry at `key`, checking that it is the entry its key
    /// says.
    fn decode(&self, key: &[u8], value: &[u8]) -> Result<Entry> {
        let index = format::log_index(key).ok_or_else(|| Error::Corrupt {
            file: self.shared.db_dir.clone(),
            what: "log key".into(),
            offset: 0,
            detail: format!("key {key:02x?} in the log's range is not a log key"),
        })?;
        let entry = format::decode_entry(value)
            .map_err(|e| self.shared.corrupt(format!("log entry {index}"), e))?;
        if entry.log_id.index != index {
            return Err(Error::Corrupt {
                file: self.shared.db_dir.clone(),
                what: format!("log entry {index}"),
                offset: 16,
                detail: format!("the entry says it is entry {}", entry.log_id.index),
            });
        }
        Ok(entry)
    }

    /// The log id of the last entry, if the log holds one.
    fn last_log_id(&self) -> Result<Option<LogId<NodeId>>> {
        let first = format::log_key(0);
        match self.shared.db.range(&first[..]..LOG_END).next_back() {
            None => Ok(None),
            Some(kv) => {
                let (key, value) = kv?;
                Ok(Some(self.decode(&key, &value)?.log_id))
            }
        }
    }
}

fn read_logs(e: Error) -> StorageError<NodeId> {
    e.storage(ErrorSubject::Logs, ErrorVerb::Read)
}

fn write_logs(e: Error) -> StorageError<NodeId> {
    e.storage(ErrorSubject::Logs, ErrorVerb::Write)
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        self.entries(range).map_err(read_logs)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        self.reader.entries(range).map_err(read_logs)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let purged = self
            .log_id_at(PURGED_KEY, "last purged log id")
            .map_err(read_logs)?;
        let last = self.reader.last_log_id().map_err(read_logs)?;
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last.or(purged),
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut value = Vec::with_capacity(17);
        format::put_vote(&mut value, vote);
        let mut batch = WriteBatch::new();
        batch.put(VOTE_KEY, &value);
        self.write_durably(batch)
            .await
            .map_err(|e| e.storage(ErrorSubject::Vote, ErrorVerb::Write))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        let shared = self.shared();
        shared
            .read(
                |k| shared.db.get(k),
                VOTE_KEY,
                "vote",
                |d, _| format::get_vote(d),
            )
            .map_err(|e| e.storage(ErrorSubject::Vote, ErrorVerb::Read))
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        let shared = self.shared();
        let written = match committed {
            None => shared.db.delete(COMMITTED_KEY),
            Some(id) => {
                let mut value = Vec::with_capacity(24);
                format::put_log_id(&mut value, &id);
                shared.db.put(COMMITTED_KEY, &value)
            }
        };
        written.map_err(|e| write_logs(e.into()))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        self.log_id_at(COMMITTED_KEY, "committed log id")
            .map_err(read_logs)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = WriteBatch::new();
        for entry in entries {
            batch.put(
                &format::log_key(entry.log_id.index),
                &format::encode_entry(&entry),
            );
        }
        let shared = self.shared();
        shared.counters.appends.fetch_add(1, Ordering::Relaxed);
        shared
            .counters
            .entries
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        shared.db.write(batch).map_err(|e| write_logs(e.into()))?;
        self.syncs.send(callback).map_err(|_| {
            write_logs(Error::SyncStopped {
                dir: shared.db_dir.clone(),
            })
        })
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut batch = WriteBatch::new();
        batch.delete_range(format::log_key(log_id.index).to_vec()..LOG_END.to_vec());
        self.write_durably(batch).await.map_err(write_logs)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut value = Vec::with_capacity(24);
        format::put_log_id(&mut value, &log_id);
        let mut batch = WriteBatch::new();
        match log_id.index.checked_add(1) {
            Some(end) => {
                batch.delete_range(format::log_key(0).to_vec()..format::log_key(end).to_vec())
            }
            None => batch.delete_range(format::log_key(0).to_vec()..LOG_END.to_vec()),
        };
        batch.put(PURGED_KEY, &value);
        self.shared()
            .db
            .write(batch)
            .map_err(|e| write_logs(e.into()))
    }
}
