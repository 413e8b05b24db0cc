//! openraft's own storage test suite (`openraft::testing::Suite`), run
//! against lsmkit-raft's log store and state machine, each test on a fresh
//! store in a temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lsmkit_raft::openraft::testing::{StoreBuilder, Suite};
use lsmkit_raft::openraft::{StorageError, StorageIOError};
use lsmkit_raft::{LogStore, NodeId, StateMachine, Store, StoreOptions, TypeConfig};
use tempfile::TempDir;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let io = |e: &dyn std::error::Error| {
            StorageError::from(StorageIOError::write(openraft_error(e)))
        };
        let dir = tempfile::tempdir().map_err(|e| io(&e))?;
        let store = Store::open(dir.path(), StoreOptions::default()).map_err(|e| io(&e))?;
        let log = store.log_store().map_err(|e| io(&e))?;
        Ok((dir, log, store.state_machine()))
    }
}

fn openraft_error(e: &dyn std::error::Error) -> lsmkit_raft::openraft::AnyError {
    lsmkit_raft::openraft::AnyError::error(e.to_string())
}

#[test]
fn openraft_storage_suite() {
    if let Err(e) = Suite::test_all(Builder) {
        panic!("openraft's storage suite failed: {e}");
    }
}
