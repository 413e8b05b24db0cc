//! A 3-node cluster in this process, over HTTP on 127.0.0.1: every
//! acknowledged write survives the leader being killed (and a new one
//! elected), a node restarting from its directory, and a node that missed
//! more entries than the leader keeps catching up by snapshot; at the end
//! every node's state machine equals a BTreeMap model.
//!
//! Every wait is bounded (a deadline of seconds), so that a cluster that
//! never converges fails the test instead of hanging it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lsmkit_raft::http::{KvClient, Node};
use lsmkit_raft::openraft::{BasicNode, Config, SnapshotPolicy};
use lsmkit_raft::{Command, Error, NodeId, Store, StoreOptions};
use tempfile::TempDir;
use tokio::net::TcpListener;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const DEADLINE: Duration = Duration::from_secs(20);

fn config() -> Arc<Config> {
    let config = Config {
        cluster_name: "cluster-test".into(),
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        // Snapshots often, and no log kept behind them: a node that was
        // down for more than a few dozen entries needs a snapshot.
        snapshot_policy: SnapshotPolicy::LogsSinceLast(40),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        snapshot_max_chunk_size: 64 << 10,
        ..Config::default()
    };
    Arc::new(config.validate().unwrap())
}

/// Starts node `id` from `dir`, listening on `addr` (a fresh port if
/// `None`). A restarted node waits for its previous incarnation to release
/// the database and the port.
async fn start(id: NodeId, dir: &Path, addr: Option<&str>) -> Node {
    let start = tokio::time::Instant::now();
    let store = loop {
        let options = StoreOptions::default().cluster("cluster-test");
        match Store::open(dir, options) {
            Ok(store) => break store,
            Err(Error::Engine(lsmkit_engine::Error::Locked { .. }))
                if start.elapsed() < DEADLINE =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("node {id}: {e}"),
        }
    };
    let listener = loop {
        match TcpListener::bind(addr.unwrap_or("127.0.0.1:0")).await {
            Ok(listener) => break listener,
            Err(e) if start.elapsed() < DEADLINE => {
                eprintln!("node {id}: bind: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("node {id}: bind: {e}"),
        }
    };
    Node::start(id, store, listener, config()).await.unwrap()
}

/// Kills `node` (its Raft, its server and their connections) and returns
/// what restarting it needs.
async fn stop(node: Node) -> (NodeId, String) {
    let (id, addr) = (node.id, node.addr.clone());
    node.stop().await.unwrap();
    (id, addr)
}

/// A deterministic stream of commands over a small key space.
struct Commands(u64);

impl Commands {
    fn next_u64(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn key(&mut self) -> Vec<u8> {
        format!("k{:03}", self.next_u64() % 200).into_bytes()
    }

    fn command(&mut self, n: usize) -> Command {
        match self.next_u64() % 20 {
            0 => Command::Delete { key: self.key() },
            1 => {
                let (a, b) = (self.key(), self.key());
                Command::DeleteRange {
                    start: a.clone().min(b.clone()),
                    end: a.max(b),
                }
            }
            2 => Command::Batch(vec![
                Command::Put {
                    key: self.key(),
                    value: format!("batch {n}").into_bytes(),
                },
                Command::Delete { key: self.key() },
            ]),
            _ => Command::Put {
                key: self.key(),
                value: format!("value {n}").into_bytes(),
            },
        }
    }
}

/// Writes `count` commands through `client`, each added to the model once
/// acknowledged.
async fn write(client: &mut KvClient, commands: &mut Commands, count: usize, model: &mut Model) {
    for n in 0..count {
        let command = commands.command(n);
        client.write(&command).await.unwrap();
        command.apply_to_model(model);
    }
}

async fn leader_of(nodes: &[Node]) -> usize {
    let start = tokio::time::Instant::now();
    loop {
        for (i, node) in nodes.iter().enumerate() {
            if node.raft.current_leader().await == Some(node.id) {
                return i;
            }
        }
        assert!(start.elapsed() < DEADLINE, "no leader elected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `node` has applied up to `index`.
async fn applied(node: &Node, index: u64) {
    node.raft
        .wait(Some(DEADLINE))
        .applied_index_at_least(Some(index), "catching up")
        .await
        .unwrap_or_else(|e| panic!("node {}: {e}", node.id));
}

fn last_applied(node: &Node) -> u64 {
    node.raft
        .metrics()
        .borrow()
        .last_applied
        .map_or(0, |id| id.index)
}

#[test]
fn three_nodes_keep_every_acknowledged_write() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(cluster());
}

async fn cluster() {
    let root = TempDir::new().unwrap();
    let dir_of = |id: NodeId| -> PathBuf { root.path().join(format!("n{id}")) };
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(id, &dir_of(id), None).await);
    }
    let members: BTreeMap<NodeId, BasicNode> = nodes
        .iter()
        .map(|n| (n.id, BasicNode::new(&n.addr)))
        .collect();
    let mut client = KvClient::new(nodes.iter().map(|n| n.addr.clone())).deadline(DEADLINE);
    client.init(&members).await.unwrap();
    let mut commands = Commands(0x9e37_79b9_7f4a_7c15);
    let mut model = Model::new();
    write(&mut client, &mut commands, 60, &mut model).await;

    // The leader is killed; a new one is elected and takes writes.
    let old = leader_of(&nodes).await;
    let (id, addr) = stop(nodes.remove(old)).await;
    write(&mut client, &mut commands, 60, &mut model).await;
    let new = leader_of(&nodes).await;
    assert_ne!(nodes[new].id, id, "the killed node cannot lead");

    // The old leader restarts from its directory and catches up.
    nodes.push(start(id, &dir_of(id), Some(&addr)).await);
    let target = last_applied(&nodes[leader_of(&nodes).await]);
    applied(nodes.last().unwrap(), target).await;

    // A follower is down while the leader moves far ahead, snapshots and
    // purges its log: the follower can only catch up by snapshot.
    let leader = leader_of(&nodes).await;
    let follower = (leader + 1) % nodes.len();
    let behind = last_applied(&nodes[follower]);
    let (id, addr) = stop(nodes.remove(follower)).await;
    write(&mut client, &mut commands, 150, &mut model).await;
    let leader = &nodes[leader_of(&nodes).await];
    let start_wait = tokio::time::Instant::now();
    while leader
        .raft
        .metrics()
        .borrow()
        .purged
        .map_or(0, |id| id.index)
        <= behind
    {
        assert!(
            start_wait.elapsed() < DEADLINE,
            "the leader never purged past {behind}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let target = last_applied(leader);
    nodes.push(start(id, &dir_of(id), Some(&addr)).await);
    let caught_up = nodes.last().unwrap();
    applied(caught_up, target).await;
    let snapshot = caught_up
        .store
        .snapshot_file()
        .expect("a snapshot was installed");
    assert!(
        snapshot.1.map_or(0, |id| id.index) > behind,
        "snapshot {snapshot:?}, node was at {behind}"
    );

    // A few more writes, then every node's state equals the model.
    write(&mut client, &mut commands, 20, &mut model).await;
    let target = last_applied(&nodes[leader_of(&nodes).await]);
    for node in &nodes {
        applied(node, target).await;
        let state: Model = node.store.entries().unwrap().into_iter().collect();
        assert_eq!(state.len(), model.len(), "node {}", node.id);
        assert!(state == model, "node {} differs from the model", node.id);
    }
    let (key, value) = model.iter().next().unwrap();
    assert_eq!(client.get(key).await.unwrap().as_ref(), Some(value));
    for node in nodes {
        stop(node).await;
    }
}

#[test]
fn a_client_gives_up_at_its_deadline_when_no_node_answers() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // A port that was just free: nothing listens there.
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let mut client = KvClient::new([addr]).deadline(Duration::from_millis(300));
        let start = tokio::time::Instant::now();
        let err = client.put(b"k", b"v").await.unwrap_err();
        assert!(matches!(err, Error::NoLeader { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        let err = KvClient::new(Vec::<String>::new())
            .get(b"k")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("knows no node"), "{err}");
    });
}
