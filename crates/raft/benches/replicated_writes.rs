//! Replicated writes per second through a 3-node lsmkit-raft cluster in
//! this process, over HTTP on 127.0.0.1, with 1 and with 16 concurrent
//! clients, and the share of time each node spends in the log's fsync.
//!
//! ```sh
//! cargo bench -p lsmkit-raft --bench replicated_writes
//! RAFT_BENCH_SECS=10 RAFT_BENCH_CLIENTS=1,4,16 cargo bench -p lsmkit-raft --bench replicated_writes
//! ```
//!
//! Each client puts 16-byte keys and 100-byte values in a loop, one
//! request at a time, through the leader; a write counts once the leader
//! answers (committed on a majority, applied on the leader). The nodes'
//! directories are in the system's temporary directory, so their fsyncs
//! are real disk syncs there (and the three nodes share that disk).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lsmkit_raft::http::{KvClient, Node};
use lsmkit_raft::openraft::{BasicNode, Config};
use lsmkit_raft::{LogStats, NodeId, Store, StoreOptions};
use tokio::net::TcpListener;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.into())
}

struct Run {
    writes: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Each node's log counters over the run, the leader's first.
    stats: Vec<LogStats>,
}

fn delta(after: LogStats, before: LogStats) -> LogStats {
    let mut d = after;
    d.appends -= before.appends;
    d.entries -= before.entries;
    d.syncs -= before.syncs;
    d.sync_time -= before.sync_time;
    d
}

async fn run(clients: usize, secs: f64) -> Run {
    let root = tempfile::tempdir().unwrap();
    let config = Arc::new(
        Config {
            cluster_name: "bench".into(),
            heartbeat_interval: 100,
            election_timeout_min: 500,
            election_timeout_max: 1000,
            ..Config::default()
        }
        .validate()
        .unwrap(),
    );
    let mut nodes = Vec::new();
    for id in 1..=3 {
        let store = Store::open(
            root.path().join(format!("n{id}")),
            StoreOptions::default().cluster("bench"),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        nodes.push(
            Node::start(id, store, listener, Arc::clone(&config))
                .await
                .unwrap(),
        );
    }
    let members: BTreeMap<NodeId, BasicNode> = nodes
        .iter()
        .map(|n| (n.id, BasicNode::new(&n.addr)))
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    KvClient::new(addrs.clone()).init(&members).await.unwrap();
    // Warm up: the first write also waits for the election to settle.
    let mut warm = KvClient::new(addrs.clone());
    for i in 0..200u32 {
        warm.put(format!("warmup{i:010}").as_bytes(), &[0; 100])
            .await
            .unwrap();
    }
    let leader_id = warm.leader().await.unwrap().unwrap().0;
    nodes.sort_by_key(|n| n.id != leader_id);
    let before: Vec<LogStats> = nodes.iter().map(|n| n.store.log_stats()).collect();

    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let addrs = addrs.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = KvClient::new(addrs);
            let mut latencies = Vec::new();
            let value = [7u8; 100];
            let mut i = 0u64;
            while Instant::now() < end {
                let key = format!("c{c:03}k{i:011}");
                let t = Instant::now();
                client.put(key.as_bytes(), &value).await.unwrap();
                latencies.push(t.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    let stats = nodes
        .iter()
        .zip(before)
        .map(|(n, b)| delta(n.store.log_stats(), b))
        .collect();
    for node in nodes {
        node.stop().await.unwrap();
    }
    latencies.sort();
    Run {
        writes: latencies.len() as u64,
        elapsed,
        latencies,
        stats,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let secs: f64 = env("RAFT_BENCH_SECS", "5")
        .parse()
        .expect("RAFT_BENCH_SECS: seconds");
    let clients: Vec<usize> = env("RAFT_BENCH_CLIENTS", "1,16")
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("RAFT_BENCH_CLIENTS: comma-separated counts")
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "3 nodes in one process, HTTP/1 on 127.0.0.1, 16-byte keys, 100-byte values, {secs} s per run"
    );
    println!(
        "| clients | writes/s | p50 ms | p99 ms | leader: fsyncs/s | entries/fsync | mean fsync ms | fsync time share | \
         followers: entries/fsync | fsync time share |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &clients {
        let run = runtime.block_on(run(n, secs));
        let wall = run.elapsed.as_secs_f64();
        let leader = &run.stats[0];
        let share = |s: &LogStats| 100.0 * s.sync_time.as_secs_f64() / wall;
        let per_sync = |s: &LogStats| s.entries as f64 / s.syncs.max(1) as f64;
        let followers = |f: &dyn Fn(&LogStats) -> String| {
            run.stats[1..].iter().map(f).collect::<Vec<_>>().join(", ")
        };
        println!(
            "| {n} | {:.0} | {:.2} | {:.2} | {:.0} | {:.1} | {:.2} | {:.0}% | {} | {} |",
            run.writes as f64 / wall,
            percentile(&run.latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&run.latencies, 0.99).as_secs_f64() * 1e3,
            leader.syncs as f64 / wall,
            per_sync(leader),
            leader.sync_time.as_secs_f64() * 1e3 / leader.syncs.max(1) as f64,
            share(leader),
            followers(&|s| format!("{:.1}", per_sync(s))),
            followers(&|s| format!("{:.0}%", share(s))),
        );
    }
}
