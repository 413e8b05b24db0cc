//! [`Store`]: one node's storage (an engine database and a snapshot
//! directory), from which its [`LogStore`] and [`StateMachine`] are made.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lsmkit_engine::format::Decoder;
use lsmkit_engine::{Db, Options};
use openraft::{BasicNode, LogId, StoredMembership};

use crate::NodeId;
use crate::error::{Error, Result};
use crate::format::{self, APPLIED_KEY, MEMBERSHIP_KEY};
use crate::log_store::LogStore;
use crate::snapshot::{self, CurrentSnapshot};
use crate::state_machine::StateMachine;

/// The engine database's directory inside a store's directory.
pub const DB_DIR: &str = "db";
/// The snapshot directory inside a store's directory.
pub const SNAPSHOT_DIR: &str = "snapshot";

/// How a [`Store`] is opened.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoreOptions {
    /// The cluster's name, written into every snapshot; a snapshot from
    /// another cluster is refused. Default `"lsmkit"`.
    pub cluster: String,
    /// The engine's options. Default [`Options::default`] (the log's
    /// appends are synced by the store whatever `sync_writes` says).
    ///
    /// Snapshot files live on the real filesystem (openraft streams them
    /// as tokio files) and are ingested through `engine.fs`, so a node
    /// that builds or installs snapshots needs an engine filesystem that
    /// sees real files (the default `StdFs`); an in-memory `MemFs` engine
    /// serves crash tests of the log and the state machine.
    pub engine: Options,
    /// A snapshot's data is cut into tables of about this many bytes.
    /// Default 8 MiB.
    pub snapshot_table_size: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cluster: "lsmkit".into(),
            engine: Options::default(),
            snapshot_table_size: 8 << 20,
        }
    }
}

impl StoreOptions {
    /// Sets the cluster name.
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster = name.into();
        self
    }

    /// Sets the engine options.
    pub fn engine(mut self, options: Options) -> Self {
        self.engine = options;
        self
    }

    /// Sets the target size of a snapshot's tables.
    pub fn snapshot_table_size(mut self, bytes: u64) -> Self {
        self.snapshot_table_size = bytes.max(1);
        self
    }
}

/// Counters of the log's durability work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogStats {
    /// Calls of `append` (each a batch of entries).
    pub appends: u64,
    /// Entries appended.
    pub entries: u64,
    /// WAL syncs made for appends (one per group of appends waiting).
    pub syncs: u64,
    /// Time spent in those syncs.
    pub sync_time: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub appends: AtomicU64,
    pub entries: AtomicU64,
    pub syncs: AtomicU64,
    pub sync_nanos: AtomicU64,
}

/// The state machine's last applied log id and membership.
pub(crate) type AppliedState = (Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>);

/// What the log store, the state machine, their readers and builders
/// share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub db: Db,
    pub db_dir: PathBuf,
    pub snapshot_dir: PathBuf,
    pub cluster: String,
    pub snapshot_table_size: u64,
    /// The current snapshot (held only to read or replace it).
    pub snapshot: Mutex<Option<CurrentSnapshot>>,
    /// Held while a snapshot is built or installed: one at a time, and
    /// each takes the next file number.
    pub snapshot_work: Mutex<u64>,
    pub counters: Counters,
}

impl Shared {
    /// The current snapshot, locked.
    pub fn snapshot(&self) -> MutexGuard<'_, Option<CurrentSnapshot>> {
        self.snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The right to build or install a snapshot, and the number of the
    /// last snapshot file.
    pub fn snapshot_work(&self) -> MutexGuard<'_, u64> {
        self.snapshot_work
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A decode error as a corruption error naming the database.
    pub fn corrupt(&self, what: impl Into<String>, e: lsmkit_engine::format::DecodeError) -> Error {
        Error::Corrupt {
            file: self.db_dir.clone(),
            what: what.into(),
            offset: e.offset,
            detail: e.what,
        }
    }

    /// Reads and decodes the value at `key`, if there is one.
    pub fn read<T>(
        &self,
        get: impl FnOnce(&[u8]) -> lsmkit_engine::Result<Option<Vec<u8>>>,
        key: &[u8],
        what: &str,
        decode: impl FnOnce(&mut Decoder<'_>, usize) -> Result<T, lsmkit_engine::format::DecodeError>,
    ) -> Result<Option<T>> {
        let Some(bytes) = get(key)? else {
            return Ok(None);
        };
        let mut d = Decoder::new(&bytes);
        let value = decode(&mut d, bytes.len()).and_then(|v| format::finish(&d).map(|()| v));
        value.map(Some).map_err(|e| self.corrupt(what, e))
    }

    /// The state machine's last applied log id and membership, as `get`
    /// (the database or a snapshot of it) reads them.
    pub fn applied_state(
        &self,
        get: impl Fn(&[u8]) -> lsmkit_engine::Result<Option<Vec<u8>>>,
    ) -> Result<AppliedState> {
        let applied = self.read(&get, APPLIED_KEY, "last applied log id", |d, _| {
            format::get_log_id(d)
        })?;
        let membership = self.read(
            &get,
            MEMBERSHIP_KEY,
            "last applied membership",
            format::get_membership,
        )?;
        Ok((applied, membership.unwrap_or_default()))
    }
}

/// One Raft node's storage: an lsmkit-engine database holding the log, the
/// vote and the state machine, and a directory of snapshot files.
///
/// Cheap to clone. Make one [`LogStore`] and one [`StateMachine`] from it
/// for the node's `openraft::Raft`; the `Store` itself serves reads of the
/// applied state (as of this node's last apply) and counters.
///
/// The directory holds `db/` (the engine) and `snapshot/` (the current
/// snapshot file, `snap-NNNNNN.snap`). Dropping every handle (the `Raft`'s
/// included) closes the database.
#[derive(Clone, Debug)]
pub struct Store {
    shared: Arc<Shared>,
}

impl Store {
    /// Opens the store in `dir`, creating it if it does not exist. The
    /// current snapshot's header is read and checked: a damaged snapshot
    /// file, or one from another cluster, is an error naming it.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let dir = dir.as_ref();
        let db_dir = dir.join(DB_DIR);
        let snapshot_dir = dir.join(SNAPSHOT_DIR);
        std::fs::create_dir_all(&snapshot_dir).map_err(|e| Error::io(&snapshot_dir, e))?;
        let current = snapshot::recover(&snapshot_dir, &options.cluster)?;
        let db = Db::open(&db_dir, options.engine)?;
        Ok(Store {
            shared: Arc::new(Shared {
                db,
                db_dir,
                snapshot_dir,
                cluster: options.cluster,
                snapshot_table_size: options.snapshot_table_size,
                snapshot_work: Mutex::new(current.as_ref().map_or(0, |c| c.number)),
                snapshot: Mutex::new(current),
                counters: Counters::default(),
            }),
        })
    }

    /// The node's Raft log store. Make one per `Raft`: each has its own
    /// sync thread, which runs until the log store is dropped.
    pub fn log_store(&self) -> Result<LogStore> {
        LogStore::new(Arc::clone(&self.shared))
    }

    /// The node's state machine.
    pub fn state_machine(&self) -> StateMachine {
        StateMachine::new(Arc::clone(&self.shared))
    }

    /// The value of `key` in the state machine, as this node has applied
    /// it (a follower's answer may be stale; ask the leader for a
    /// linearizable read).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.shared.db.get(&format::data_key(key))?)
    }

    /// Every key and value of the state machine, in key order, as this node
    /// has applied them.
    pub fn entries(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for kv in self.shared.db.prefix(&[format::DATA_PREFIX]) {
            let (mut key, value) = kv?;
            key.remove(0);
            out.push((key, value));
        }
        Ok(out)
    }

    /// The last log id the state machine has applied.
    pub fn last_applied(&self) -> Result<Option<LogId<NodeId>>> {
        Ok(self.shared.applied_state(|k| self.shared.db.get(k))?.0)
    }

    /// The current snapshot's file and last log id, if there is one.
    pub fn snapshot_file(&self) -> Option<(PathBuf, Option<LogId<NodeId>>)> {
        self.shared
            .snapshot()
            .as_ref()
            .map(|s| (s.path.clone(), s.meta.last_log_id))
    }

    /// The log's durability counters so far.
    pub fn log_stats(&self) -> LogStats {
        let c = &self.shared.counters;
        LogStats {
            appends: c.appends.load(Ordering::Relaxed),
            entries: c.entries.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            sync_time: Duration::from_nanos(c.sync_nanos.load(Ordering::Relaxed)),
        }
    }

    /// The engine database (for its stats, or reads of raw keys).
    pub fn db(&self) -> &Db {
        &self.shared.db
    }
}
