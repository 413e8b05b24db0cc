//! The log store and state machine on their own: a BTreeMap model of the
//! state machine through applies, reopens and snapshot transfers, and bad
//! input (a corrupt log entry, a damaged or foreign snapshot) refused with
//! an error naming the file before anything is replaced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use lsmkit_raft::openraft::Snapshot;
use lsmkit_raft::openraft::storage::{RaftLogStorage, RaftStateMachine};
use lsmkit_raft::openraft::{
    CommittedLeaderId, EntryPayload, LogId, Membership, RaftLogReader, RaftSnapshotBuilder,
    StoredMembership,
};
use lsmkit_raft::{Command, Entry, Store, StoreOptions, TypeConfig, format};
use proptest::prelude::*;
use tempfile::TempDir;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn log_id(index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn entry(index: u64, command: Command) -> Entry {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(command),
    }
}

fn open(dir: &Path, cluster: &str) -> Store {
    // Small tables, so that a snapshot of a few hundred keys spans several.
    let options = StoreOptions::default()
        .cluster(cluster)
        .snapshot_table_size(512);
    Store::open(dir, options).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Applies `commands` to `store`'s state machine, in entries of up to
/// three, the first at index `first`; returns the next index.
async fn apply_all(store: &Store, commands: &[Command], first: u64, model: &mut Model) -> u64 {
    let mut sm = store.state_machine();
    let mut index = first;
    for chunk in commands.chunks(3) {
        let entries: Vec<Entry> = chunk
            .iter()
            .map(|c| {
                index += 1;
                entry(index - 1, c.clone())
            })
            .collect();
        let responses = sm.apply(entries).await.unwrap();
        assert_eq!(responses.last().map(|r| r.index), Some(index - 1));
        for command in chunk {
            command.apply_to_model(model);
        }
    }
    index
}

fn model_of(store: &Store) -> Model {
    store.entries().unwrap().into_iter().collect()
}

fn command() -> impl Strategy<Value = Command> {
    // A small key space, so that deletes and ranges hit.
    let key = || proptest::collection::vec(b'a'..b'h', 0..3);
    let leaf = prop_oneof![
        4 => (key(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(key, value)| Command::Put { key, value }),
        1 => key().prop_map(|key| Command::Delete { key }),
        1 => (key(), key()).prop_map(|(start, end)| Command::DeleteRange { start, end }),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        proptest::collection::vec(inner, 0..4).prop_map(Command::Batch)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every node's state equals the model: after applies, after a reopen,
    /// and on a follower (which held other data) after a snapshot install.
    #[test]
    fn state_machine_matches_the_model(
        commands in proptest::collection::vec(command(), 0..60),
        other in proptest::collection::vec(command(), 0..20),
    ) {
        runtime().block_on(async {
            let leader_dir = TempDir::new().unwrap();
            let follower_dir = TempDir::new().unwrap();
            let mut model = Model::new();
            let leader = open(leader_dir.path(), "c");
            let next = apply_all(&leader, &commands, 1, &mut model).await;
            assert_eq!(model_of(&leader), model);
            drop(leader);
            let leader = open(leader_dir.path(), "c");
            assert_eq!(model_of(&leader), model);
            assert_eq!(leader.last_applied().unwrap(), (next > 1).then(|| log_id(next - 1)));

            let follower = open(follower_dir.path(), "c");
            apply_all(&follower, &other, 1, &mut Model::new()).await;
            let snapshot = build_snapshot(&leader).await;
            let mut sm = follower.state_machine();
            sm.install_snapshot(&snapshot.meta, snapshot.snapshot).await.unwrap();
            assert_eq!(model_of(&follower), model);
            assert_eq!(follower.last_applied().unwrap(), leader.last_applied().unwrap());
            let current = sm.get_current_snapshot().await.unwrap().unwrap();
            assert_eq!(current.meta, snapshot.meta);
            drop((sm, follower));
            let follower = open(follower_dir.path(), "c");
            assert_eq!(model_of(&follower), model);
        });
    }
}

/// A leader with some state and its snapshot, and a follower with other
/// state; returns them and the follower's state.
async fn leader_and_follower(leader: &Store, follower: &Store) -> Model {
    let puts: Vec<Command> = (0..300u32)
        .map(|i| Command::Put {
            key: format!("key{i:04}").into_bytes(),
            value: vec![i as u8; 20],
        })
        .collect();
    apply_all(leader, &puts, 1, &mut Model::new()).await;
    let mut follower_model = Model::new();
    apply_all(follower, &puts[..5], 1, &mut follower_model).await;
    follower_model
}

#[test]
fn a_snapshot_spans_several_tables_and_replaces_the_whole_state() {
    runtime().block_on(async {
        let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let (leader, follower) = (open(a.path(), "c"), open(b.path(), "c"));
        leader_and_follower(&leader, &follower).await;
        follower
            .state_machine()
            .apply([entry(
                9,
                Command::Put {
                    key: b"zzz only on the follower".to_vec(),
                    value: b"x".to_vec(),
                },
            )])
            .await
            .unwrap();
        let snapshot = build_snapshot(&leader).await;
        let (path, _) = leader.snapshot_file().unwrap();
        let (header, _) = read_header(&path);
        assert!(header.tables.len() > 2, "{} tables", header.tables.len());
        follower
            .state_machine()
            .install_snapshot(&snapshot.meta, snapshot.snapshot)
            .await
            .unwrap();
        assert_eq!(model_of(&follower), model_of(&leader));
        assert_eq!(follower.get(b"zzz only on the follower").unwrap(), None);
    });
}

/// A new snapshot of `store`'s state machine.
async fn build_snapshot(store: &Store) -> Snapshot<TypeConfig> {
    let mut builder = store.state_machine().get_snapshot_builder().await;
    builder.build_snapshot().await.unwrap()
}

fn read_header(path: &Path) -> (format::SnapshotHeader, usize) {
    let bytes = std::fs::read(path).unwrap();
    let prefix = bytes[..format::SNAPSHOT_PREFIX_LEN].try_into().unwrap();
    let len = format::SnapshotHeader::body_len(&prefix).unwrap() as usize;
    let end = format::SNAPSHOT_PREFIX_LEN + len + 8;
    (
        format::SnapshotHeader::decode_body(&bytes[format::SNAPSHOT_PREFIX_LEN..end]).unwrap(),
        end,
    )
}

/// Installs the leader's snapshot file, damaged by `damage`, on the
/// follower; checks that it is refused with an error that contains
/// `expected` and names the file, and that the follower is unchanged.
fn refused(cluster: &str, damage: impl FnOnce(&mut Vec<u8>, usize), expected: &str) {
    runtime().block_on(async {
        let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let (leader, follower) = (open(a.path(), cluster), open(b.path(), "c"));
        let before = leader_and_follower(&leader, &follower).await;
        let applied = follower.last_applied().unwrap();
        let snapshot = build_snapshot(&leader).await;
        let (path, _) = leader.snapshot_file().unwrap();
        let (_, header_len) = read_header(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        damage(&mut bytes, header_len);
        let mut sm = follower.state_machine();
        let mut received = sm.begin_receiving_snapshot().await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut *received, &bytes)
            .await
            .unwrap();
        let err = sm
            .install_snapshot(&snapshot.meta, received)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}");
        assert!(
            err.contains(&*b.path().join("snapshot").to_string_lossy()),
            "{err}"
        );
        assert_eq!(model_of(&follower), before);
        assert_eq!(follower.last_applied().unwrap(), applied);
        assert!(sm.get_current_snapshot().await.unwrap().is_none());
        // Nothing of the refused snapshot is left behind.
        let left: Vec<_> = std::fs::read_dir(b.path().join("snapshot"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
    });
}

#[test]
fn a_snapshot_from_another_cluster_is_refused() {
    refused("other", |_, _| {}, "is from cluster \"other\"");
}

#[test]
fn a_snapshot_with_a_bad_table_checksum_is_refused() {
    refused(
        "c",
        |bytes, header_len| bytes[header_len + 10] ^= 0x40,
        "checksum",
    );
}

#[test]
fn a_snapshot_with_a_bad_header_checksum_is_refused() {
    refused(
        "c",
        |bytes, _| bytes[format::SNAPSHOT_PREFIX_LEN + 1] ^= 1,
        "header checksum mismatch",
    );
}

#[test]
fn a_truncated_snapshot_is_refused() {
    refused("c", |bytes, _| bytes.truncate(bytes.len() - 1), "tables in");
}

#[test]
fn a_snapshot_that_is_not_the_one_announced_is_refused() {
    runtime().block_on(async {
        let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let (leader, follower) = (open(a.path(), "c"), open(b.path(), "c"));
        let before = leader_and_follower(&leader, &follower).await;
        let snapshot = build_snapshot(&leader).await;
        let mut meta = snapshot.meta.clone();
        meta.last_log_id = Some(log_id(1000));
        let err = follower
            .state_machine()
            .install_snapshot(&meta, snapshot.snapshot)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("the leader sent"), "{err}");
        assert_eq!(model_of(&follower), before);
    });
}

#[test]
fn a_damaged_snapshot_file_is_an_error_naming_it_at_open() {
    let dir = TempDir::new().unwrap();
    let path = runtime().block_on(async {
        let store = open(dir.path(), "c");
        apply_all(
            &store,
            &[Command::Put {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            }],
            1,
            &mut Model::new(),
        )
        .await;
        build_snapshot(&store).await;
        store.snapshot_file().unwrap().0
    });
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[format::SNAPSHOT_PREFIX_LEN + 2] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(dir.path(), StoreOptions::default().cluster("c")).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
    // And one from another cluster is refused at open too.
    bytes[format::SNAPSHOT_PREFIX_LEN + 2] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(dir.path(), StoreOptions::default().cluster("d")).unwrap_err();
    assert!(err.to_string().contains("from cluster \"c\""), "{err}");
}

#[test]
fn a_corrupt_log_entry_is_an_error_naming_the_database() {
    runtime().block_on(async {
        let dir = TempDir::new().unwrap();
        let store = open(dir.path(), "c");
        let mut log = store.log_store().unwrap();
        let membership = Membership::new(vec![[1].into()], ());
        let good = Entry {
            log_id: log_id(4),
            payload: EntryPayload::Membership(membership.clone()),
        };
        store
            .db()
            .put(&format::log_key(4), &format::encode_entry(&good))
            .unwrap();
        assert_eq!(log.try_get_log_entries(4..5).await.unwrap(), [good]);
        store
            .db()
            .put(&format::log_key(5), b"\x01\x02garbage")
            .unwrap();
        let err = log.try_get_log_entries(4..6).await.unwrap_err().to_string();
        assert!(err.contains("corrupt log entry 5"), "{err}");
        assert!(
            err.contains(&*dir.path().join("db").to_string_lossy()),
            "{err}"
        );
        // An entry stored under another index's key is corrupt too.
        store
            .db()
            .put(
                &format::log_key(5),
                &format::encode_entry(&entry(6, Command::Batch(vec![]))),
            )
            .unwrap();
        let err = log.get_log_state().await.unwrap_err().to_string();
        assert!(err.contains("says it is entry 6"), "{err}");
        let _ = StoredMembership::new(None, membership);
    });
}
