//! [`StateMachine`]: openraft's state machine (`RaftStateMachine`) on the
//! engine: a key-value map of [`Command`](crate::Command)s.
//!
//! `apply` turns a run of committed entries into one write batch: every
//! command's writes, the last membership if an entry changes it, and the
//! last applied log id, so that after any crash the data and the id that
//! says how far it goes agree. The batch is not synced: the WAL is shared
//! with the log, whose next sync makes it durable, and openraft re-applies
//! what a crash lost from the log (the committed id is kept with it).

use std::sync::Arc;

use lsmkit_engine::WriteBatch;
use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, Snapshot, SnapshotMeta,
    StorageError, StoredMembership,
};
use tokio::io::AsyncWriteExt;

use crate::error::Error;
use crate::format::{self, APPLIED_KEY, MEMBERSHIP_KEY};
use crate::snapshot::SnapshotBuilder;
use crate::store::{AppliedState, Shared};
use crate::{Entry, NodeId, Response, TypeConfig};

/// The node's replicated key-value map; made by
/// [`Store::state_machine`](crate::Store::state_machine).
#[derive(Debug)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

impl StateMachine {
    pub(crate) fn new(shared: Arc<Shared>) -> StateMachine {
        StateMachine { shared }
    }

    /// Runs `work` on a blocking thread (it syncs or copies files).
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Shared) -> crate::Result<T> + Send + 'static,
    ) -> crate::Result<T> {
        let shared = Arc::clone(&self.shared);
        match tokio::task::spawn_blocking(move || work(&shared)).await {
            Ok(result) => result,
            Err(join) => Err(Error::io(
                &self.shared.snapshot_dir,
                std::io::Error::other(format!("snapshot task failed: {join}")),
            )),
        }
    }
}

fn snapshot_error(e: Error) -> StorageError<NodeId> {
    e.storage(ErrorSubject::Snapshot(None), ErrorVerb::Write)
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<AppliedState, StorageError<NodeId>> {
        let shared = &self.shared;
        shared
            .applied_state(|k| shared.db.get(k))
            .map_err(|e| e.storage(ErrorSubject::StateMachine, ErrorVerb::Read))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = WriteBatch::new();
        let mut responses = Vec::new();
        let mut last = None;
        let mut scratch = Vec::new();
        for entry in entries {
            match &entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(command) => command.write_to(&mut batch),
                EntryPayload::Membership(membership) => {
                    scratch.clear();
                    let stored = StoredMembership::new(Some(entry.log_id), membership.clone());
                    format::put_membership(&mut scratch, &stored);
                    batch.put(MEMBERSHIP_KEY, &scratch);
                }
            }
            responses.push(Response {
                index: entry.log_id.index,
            });
            last = Some(entry.log_id);
        }
        let Some(last) = last else {
            return Ok(responses);
        };
        scratch.clear();
        format::put_log_id(&mut scratch, &last);
        batch.put(APPLIED_KEY, &scratch);
        self.shared
            .db
            .write(batch)
            .map_err(|e| Error::from(e).storage(ErrorSubject::Apply(last), ErrorVerb::Write))?;
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder::new(Arc::clone(&self.shared))
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<tokio::fs::File>, StorageError<NodeId>> {
        // An unnamed file in the snapshot directory: gone when closed,
        // whatever happens to the transfer.
        let dir = &self.shared.snapshot_dir;
        let file = tempfile::tempfile_in(dir).map_err(|e| snapshot_error(Error::io(dir, e)))?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        mut snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError<NodeId>> {
        let signature = Some(meta.signature());
        let dir = self.shared.snapshot_dir.clone();
        snapshot.flush().await.map_err(|e| {
            Error::io(&dir, e).storage(ErrorSubject::Snapshot(signature.clone()), ErrorVerb::Write)
        })?;
        let received = snapshot.into_std().await;
        let meta = meta.clone();
        self.blocking(move |shared| crate::snapshot::install(shared, &meta, received))
            .await
            .map_err(|e| e.storage(ErrorSubject::Snapshot(signature), ErrorVerb::Write))
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        // Opened under the lock, so that a snapshot being built cannot
        // remove the file in between.
        let (meta, file) = {
            let current = self.shared.snapshot();
            let Some(current) = current.as_ref() else {
                return Ok(None);
            };
            let file = std::fs::File::open(&current.path).map_err(|e| {
                Error::io(&current.path, e).storage(
                    ErrorSubject::Snapshot(Some(current.meta.signature())),
                    ErrorVerb::Read,
                )
            })?;
            (current.meta.clone(), file)
        };
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        }))
    }
}
