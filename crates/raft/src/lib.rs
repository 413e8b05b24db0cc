//! lsmkit-engine as the storage of an [openraft](https://docs.rs/openraft)
//! node: the Raft log and the replicated key-value state machine in one
//! LSM database, and snapshots shipped as the kit's own SSTables.
//!
//! ```
//! use lsmkit_raft::openraft::storage::RaftStateMachine;
//! use lsmkit_raft::openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
//! use lsmkit_raft::{Command, Store, StoreOptions};
//! # let dir = tempfile::tempdir()?;
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//!
//! let store = Store::open(dir.path(), StoreOptions::default().cluster("demo"))?;
//! let mut sm = store.state_machine();
//! let put = Command::Put { key: b"apple".to_vec(), value: b"red".to_vec() };
//! let log_id = LogId::new(CommittedLeaderId::new(1, 1), 1);
//! sm.apply([Entry { log_id, payload: EntryPayload::Normal(put) }]).await?;
//! assert_eq!(store.get(b"apple")?, Some(b"red".to_vec()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A node hands [`Store::log_store`] and [`Store::state_machine`] to
//! [`openraft::Raft::new`]; the crate README tells where everything is kept
//! and shows a snapshot moving between two stores.
//!
//! # Concurrency
//!
//! openraft calls the log store and the state machine from its own tasks;
//! their methods do short engine writes inline and move fsyncs and
//! snapshot file work to blocking threads (so any tokio runtime with a
//! blocking pool will do). [`Store`] is `Send + Sync` and cheap to clone;
//! its reads see the state as this node has applied it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod command;
mod error;
pub mod format;
#[cfg(feature = "http")]
pub mod http;
mod log_store;
mod snapshot;
mod state_machine;
mod store;

pub use command::{Command, Response};
pub use error::{Error, Result};
pub use log_store::{LogReader, LogStore};
pub use snapshot::SnapshotBuilder;
pub use state_machine::StateMachine;
pub use store::{DB_DIR, LogStats, SNAPSHOT_DIR, Store, StoreOptions};

pub use openraft;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

/// A node's id.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The openraft types of an lsmkit-raft cluster: [`Command`]s in, a
    /// [`Response`] out, `u64` node ids with an address each, and snapshots
    /// as files.
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A log entry of [`TypeConfig`].
pub type Entry = openraft::Entry<TypeConfig>;

/// The openraft node of [`TypeConfig`].
pub type Raft = openraft::Raft<TypeConfig>;
