//! A replicated key-value server and its client: three nodes on one
//! machine, over HTTP on loopback, with lsmkit-raft as their storage.
//!
//! ```text
//! kv serve ID ADDR DIR        run node ID on ADDR (127.0.0.1:PORT), data in DIR
//! kv init ID=ADDR...          make those nodes a cluster (once, on a fresh cluster)
//! kv put ADDRS KEY VALUE      ADDRS: the nodes, comma-separated
//! kv get ADDRS KEY            a linearizable read, on the leader
//! kv delete ADDRS KEY
//! kv leader ADDRS             which node leads
//! kv demo                     three nodes in this process: init, put, get, leader, exit
//! ```
//!
//! The crate README shows a session with three `serve`s in three shells.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use lsmkit_raft::http::{KvClient, Node};
use lsmkit_raft::openraft::{BasicNode, Config};
use lsmkit_raft::{Command, NodeId, Store, StoreOptions};
use tokio::net::TcpListener;

const CLUSTER: &str = "lsmkit-kv";

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn config() -> AnyResult<Arc<Config>> {
    let config = Config {
        cluster_name: CLUSTER.into(),
        heartbeat_interval: 100,
        election_timeout_min: 500,
        election_timeout_max: 1000,
        ..Config::default()
    };
    Ok(Arc::new(config.validate()?))
}

/// Only loopback: this example is not a server for a network.
fn loopback(addr: &str) -> AnyResult<&str> {
    if addr.starts_with("127.0.0.1:") {
        Ok(addr)
    } else {
        Err(format!("{addr}: this example serves on 127.0.0.1:PORT only").into())
    }
}

async fn start(id: NodeId, addr: &str, dir: &Path) -> AnyResult<Node> {
    let store = Store::open(dir, StoreOptions::default().cluster(CLUSTER))?;
    let listener = TcpListener::bind(loopback(addr)?).await?;
    Ok(Node::start(id, store, listener, config()?).await?)
}

fn client(addrs: &str) -> AnyResult<KvClient> {
    let addrs: Vec<&str> = addrs.split(',').collect();
    for addr in &addrs {
        loopback(addr)?;
    }
    Ok(KvClient::new(addrs))
}

async fn leader(client: &mut KvClient) -> AnyResult<()> {
    match client.leader().await? {
        Some((id, addr)) => println!("leader: node {id} at {addr}"),
        None => println!("no leader yet"),
    }
    Ok(())
}

async fn run(args: &[String]) -> AnyResult<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["serve", id, addr, dir] => {
            let node = start(id.parse()?, addr, Path::new(dir)).await?;
            println!(
                "node {} serving on {} (Ctrl-C stops it; its data stay in {dir})",
                node.id, node.addr
            );
            // Runs until the process is stopped: the log is durable, so a
            // killed node restarts from its directory.
            std::future::pending::<()>().await;
            Ok(())
        }
        ["init", members @ ..] if !members.is_empty() => {
            let mut nodes = BTreeMap::new();
            for member in members {
                let (id, addr) = member
                    .split_once('=')
                    .ok_or(format!("{member}: expected ID=ADDR"))?;
                nodes.insert(id.parse::<NodeId>()?, BasicNode::new(loopback(addr)?));
            }
            let first = nodes.values().map(|n| n.addr.clone());
            KvClient::new(first).init(&nodes).await?;
            println!("cluster of {} nodes initialized", nodes.len());
            Ok(())
        }
        ["put", addrs, key, value] => {
            let written = client(addrs)?.put(key.as_bytes(), value.as_bytes()).await?;
            println!("ok, log index {}", written.log_id.index);
            Ok(())
        }
        ["delete", addrs, key] => {
            let command = Command::Delete {
                key: key.as_bytes().to_vec(),
            };
            let written = client(addrs)?.write(&command).await?;
            println!("ok, log index {}", written.log_id.index);
            Ok(())
        }
        ["get", addrs, key] => {
            match client(addrs)?.get(key.as_bytes()).await? {
                Some(value) => println!("{}", String::from_utf8_lossy(&value)),
                None => println!("(not found)"),
            }
            Ok(())
        }
        ["leader", addrs] => leader(&mut client(addrs)?).await,
        ["demo"] => demo().await,
        _ => Err(
            "usage: kv serve ID ADDR DIR | init ID=ADDR... | put ADDRS KEY VALUE | \
                  get ADDRS KEY | delete ADDRS KEY | leader ADDRS | demo"
                .into(),
        ),
    }
}

/// Three nodes in this process on free loopback ports: a put through the
/// leader, a read of it, and the leader's name.
async fn demo() -> AnyResult<()> {
    let root = tempfile::tempdir()?;
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(id, "127.0.0.1:0", &root.path().join(format!("n{id}"))).await?);
    }
    let members: BTreeMap<NodeId, BasicNode> = nodes
        .iter()
        .map(|n| (n.id, BasicNode::new(&n.addr)))
        .collect();
    let mut client = KvClient::new(nodes.iter().map(|n| n.addr.clone()));
    client.init(&members).await?;
    let written = client.put(b"apple", b"red").await?;
    println!("put apple=red at log index {}", written.log_id.index);
    let value = client.get(b"apple").await?;
    println!(
        "get apple: {:?}",
        value.as_deref().map(String::from_utf8_lossy)
    );
    leader(&mut client).await?;
    if value.as_deref() != Some(b"red".as_slice()) {
        return Err("the value read back is not the one written".into());
    }
    for node in nodes {
        node.stop().await?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kv: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv: {e}");
            ExitCode::FAILURE
        }
    }
}
