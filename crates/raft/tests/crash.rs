//! Power loss, in memory (lsmkit-vfs's `MemFs`, deterministic): after a
//! crash at any point, the state machine's last applied id and its data
//! agree (they are one write batch), nothing synced is lost, and the vote
//! (written durably) is the last one saved.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use lsmkit_engine::Options;
use lsmkit_engine::lsmkit_vfs::MemFs;
use lsmkit_raft::openraft::storage::{RaftLogStorage, RaftStateMachine};
use lsmkit_raft::openraft::{CommittedLeaderId, EntryPayload, LogId, Vote};
use lsmkit_raft::{Command, Entry, Store, StoreOptions};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Clone, Debug)]
enum Op {
    /// Applies one entry of these commands.
    Apply(Vec<Command>),
    /// Syncs the WAL (what the log's next append does).
    Sync,
    /// Saves a vote for this term.
    Vote(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let key = || proptest::collection::vec(b'a'..b'f', 1..3);
    let command = prop_oneof![
        3 => (key(), proptest::collection::vec(any::<u8>(), 0..16)).prop_map(|(key, value)| Command::Put { key, value }),
        1 => key().prop_map(|key| Command::Delete { key }),
        1 => (key(), key()).prop_map(|(start, end)| Command::DeleteRange { start, end }),
    ];
    prop_oneof![
        6 => proptest::collection::vec(command, 1..4).prop_map(Op::Apply),
        1 => Just(Op::Sync),
        1 => (1u64..100).prop_map(Op::Vote),
    ]
}

fn open(fs: &MemFs, dir: &std::path::Path) -> Store {
    let engine = Options::default().fs(Arc::new(fs.clone()));
    Store::open(dir, StoreOptions::default().engine(engine)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_crash_keeps_applied_id_and_data_together(ops in proptest::collection::vec(op(), 1..40), torn: Option<u64>) {
        // The snapshot directory is real (and stays empty); the database is
        // in memory.
        let dir = tempfile::tempdir().unwrap();
        let fs = MemFs::new();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (image, models, synced, vote) = runtime.block_on(async {
            let store = open(&fs, dir.path());
            let mut sm = store.state_machine();
            let mut log = store.log_store().unwrap();
            // models[i]: the state after entry i (models[0]: before any).
            let mut models = vec![Model::new()];
            let mut synced = 0;
            let mut vote = None;
            for op in &ops {
                match op {
                    Op::Apply(commands) => {
                        let index = models.len() as u64;
                        let log_id = LogId::new(CommittedLeaderId::new(1, 1), index);
                        let command = Command::Batch(commands.clone());
                        sm.apply([Entry { log_id, payload: EntryPayload::Normal(command.clone()) }]).await.unwrap();
                        let mut model = models.last().unwrap().clone();
                        command.apply_to_model(&mut model);
                        models.push(model);
                    }
                    Op::Sync => {
                        store.db().sync_wal().unwrap();
                        synced = models.len() - 1;
                    }
                    Op::Vote(term) => {
                        let v = Vote::new(*term, 1);
                        log.save_vote(&v).await.unwrap();
                        synced = models.len() - 1;
                        vote = Some(v);
                    }
                }
            }
            let image = match torn {
                Some(seed) => fs.crash_clone_torn(seed),
                None => fs.crash_clone(),
            };
            (image, models, synced, vote)
        });
        runtime.block_on(async {
            let store = open(&image, dir.path());
            let applied = store.last_applied().unwrap().map_or(0, |id| id.index as usize);
            prop_assert!(applied >= synced, "applied {} < synced {}", applied, synced);
            prop_assert!(applied < models.len());
            let state: Model = store.entries().unwrap().into_iter().collect();
            prop_assert_eq!(&state, &models[applied]);
            let mut log = store.log_store().unwrap();
            prop_assert_eq!(log.read_vote().await.unwrap(), vote);
            Ok(())
        })?;
    }
}
