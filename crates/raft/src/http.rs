//! The network of an lsmkit-raft cluster over HTTP/1 (hyper): openraft's
//! RPCs between nodes, and a small key-value API for clients, both as JSON
//! bodies of `POST`s. Behind the default `http` feature.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /raft/append` | `AppendEntriesRequest` | `Result<AppendEntriesResponse, RaftError>` |
//! | `POST /raft/snapshot` | `InstallSnapshotRequest` (one chunk) | `Result<InstallSnapshotResponse, RaftError<InstallSnapshotError>>` |
//! | `POST /raft/vote` | `VoteRequest` | `Result<VoteResponse, RaftError>` |
//! | `POST /kv/write` | [`Command`] | `Result<ClientWriteResponse, RaftError<ClientWriteError>>` |
//! | `POST /kv/read` | key (bytes) | `Result<Option<value>, RaftError<CheckIsLeaderError>>` (a linearizable read on the leader) |
//! | `POST /cluster/init` | `{id: {addr}}` | `Result<(), RaftError<InitializeError>>` |
//! | `POST /cluster/metrics` | `null` | `RaftMetrics` |
//!
//! [`serve`] runs a node's server; [`HttpNetwork`] is the node's
//! `RaftNetworkFactory`; [`KvClient`] finds the leader and follows
//! redirects. Every call has a timeout, and the client's retries are
//! bounded by one deadline.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::service::service_fn;
use hyper::{Method, Request, Response as HttpResponse, StatusCode};
use hyper_util::rt::TokioIo;
use openraft::error::{
    CheckIsLeaderError, ClientWriteError, ForwardToLeader, InitializeError, InstallSnapshotError,
    NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, ClientWriteResponse, InstallSnapshotRequest,
    InstallSnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Config, RaftMetrics, RaftNetwork, RaftNetworkFactory, TryAsRef};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::{Error, Result};
use crate::{Command, NodeId, Raft, Store, TypeConfig};

/// One HTTP/1 connection to `addr`, made when first needed and again after
/// the server closes it.
#[derive(Debug)]
struct Connection {
    addr: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    fn new(addr: String) -> Connection {
        Connection { addr, sender: None }
    }

    /// Posts `body` to `path`, within `timeout`; returns the status and the
    /// answer's body.
    async fn post(
        &mut self,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> std::io::Result<(StatusCode, Bytes)> {
        match tokio::time::timeout(timeout, self.post_now(path, body)).await {
            Ok(result) => result,
            Err(_) => {
                // The connection may still deliver the late answer: drop it.
                self.sender = None;
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "POST http://{}{path}: no answer within {timeout:?}",
                        self.addr
                    ),
                ))
            }
        }
    }

    async fn post_now(
        &mut self,
        path: &str,
        body: Vec<u8>,
    ) -> std::io::Result<(StatusCode, Bytes)> {
        let io = |e: hyper::Error| {
            std::io::Error::other(format!("POST http://{}{path}: {e}", self.addr))
        };
        let sender = match self.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => {
                let stream = TcpStream::connect(&self.addr).await?;
                stream.set_nodelay(true)?;
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(io)?;
                // The connection's errors reach the requests sent on it.
                tokio::spawn(connection);
                sender
            }
        };
        let mut sender = sender;
        sender.ready().await.map_err(io)?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, &self.addr)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(std::io::Error::other)?;
        let response = sender.send_request(request).await.map_err(io)?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(io)?.to_bytes();
        self.sender = Some(sender);
        Ok((status, bytes))
    }

    /// Posts `request` as JSON and decodes the JSON answer.
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        path: &str,
        request: &Req,
        timeout: Duration,
    ) -> std::io::Result<Resp> {
        let body = serde_json::to_vec(request).map_err(std::io::Error::other)?;
        let (status, bytes) = self.post(path, body, timeout).await?;
        if status != StatusCode::OK {
            return Err(std::io::Error::other(format!(
                "POST http://{}{path}: {status}: {}",
                self.addr,
                String::from_utf8_lossy(&bytes)
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("POST http://{}{path}: undecodable answer: {e}", self.addr),
            )
        })
    }
}

/// openraft's network over HTTP: a [`HttpPeer`] per target node, at the
/// address its `BasicNode` names.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpNetwork;

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = HttpPeer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> HttpPeer {
        HttpPeer {
            target,
            connection: Connection::new(node.addr.clone()),
        }
    }
}

/// The connection of one node to another, for openraft's RPCs.
#[derive(Debug)]
pub struct HttpPeer {
    target: NodeId,
    connection: Connection,
}

impl HttpPeer {
    async fn rpc<Req, Resp, E>(
        &mut self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let answer: Result<Resp, RaftError<NodeId, E>> = self
            .connection
            .call(path, request, option.hard_ttl())
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    RPCError::Unreachable(Unreachable::new(&e))
                }
                _ => RPCError::Network(NetworkError::new(&e)),
            })?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for HttpPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc("/raft/append", &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.rpc("/raft/snapshot", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.rpc("/raft/vote", &rpc, &option).await
    }
}

/// A running node: its Raft, its store, and its server on one address.
pub struct Node {
    /// The node's id.
    pub id: NodeId,
    /// The address it serves on (`host:port`).
    pub addr: String,
    /// Its Raft.
    pub raft: Raft,
    /// Its storage.
    pub store: Store,
    server: JoinHandle<Result<()>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts node `id` on `store`, serving on `listener`, with the Raft
    /// configuration `config`.
    pub async fn start(
        id: NodeId,
        store: Store,
        listener: TcpListener,
        config: Arc<Config>,
    ) -> Result<Node> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("listener", e))?
            .to_string();
        let raft = Raft::new(
            id,
            config,
            HttpNetwork,
            store.log_store()?,
            store.state_machine(),
        )
        .await
        .map_err(|e| Error::Rpc {
            addr: addr.clone(),
            detail: format!("starting node {id}: {e}"),
        })?;
        let server = tokio::spawn(serve(listener, raft.clone(), store.clone()));
        Ok(Node {
            id,
            addr,
            raft,
            store,
            server,
        })
    }

    /// Stops the node: its Raft, then its server and every connection
    /// (the store closes once the last handle, `self.store`, is dropped).
    /// Returns the server's error if it had stopped on one.
    pub async fn stop(self) -> Result<()> {
        let stopped = self.raft.shutdown().await;
        self.server.abort();
        let served = self.server.await;
        stopped.map_err(|e| Error::Rpc {
            addr: self.addr.clone(),
            detail: format!("stopping node {}: {e}", self.id),
        })?;
        match served {
            Ok(result) => result,
            // Aborted, as asked.
            Err(join) if join.is_cancelled() => Ok(()),
            Err(join) => Err(Error::Rpc {
                addr: self.addr,
                detail: format!("server task failed: {join}"),
            }),
        }
    }
}

/// Serves node `raft` (whose applied state is in `store`) on `listener`
/// until the returned future is dropped or the listener fails. Dropping it
/// (or aborting its task) also closes every connection it accepted.
pub async fn serve(listener: TcpListener, raft: Raft, store: Store) -> Result<()> {
    let mut connections = JoinSet::new();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                let addr = listener
                    .local_addr()
                    .map_or_else(|_| "listener".into(), |a| a.to_string());
                return Err(Error::io(addr, e));
            }
        };
        // A failed setsockopt costs latency, not correctness.
        let _ = stream.set_nodelay(true);
        let (raft, store) = (raft.clone(), store.clone());
        connections.spawn(async move {
            let service = service_fn(move |request| handle(raft.clone(), store.clone(), request));
            // A connection's end (a peer gone, a bad request) concerns only
            // that peer, which sees it.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap the connections that ended.
        while connections.try_join_next().is_some() {}
    }
}

fn answer(status: StatusCode, body: Vec<u8>) -> HttpResponse<Full<Bytes>> {
    let mut response = HttpResponse::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn json(value: &impl Serialize) -> HttpResponse<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(body) => answer(StatusCode::OK, body),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string().into_bytes(),
        ),
    }
}

async fn handle(
    raft: Raft,
    store: Store,
    request: Request<Incoming>,
) -> Result<HttpResponse<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if request.method() != Method::POST {
        return Ok(answer(
            StatusCode::METHOD_NOT_ALLOWED,
            b"POST only".to_vec(),
        ));
    }
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => return Ok(answer(StatusCode::BAD_REQUEST, e.to_string().into_bytes())),
    };
    macro_rules! decode {
        () => {
            match serde_json::from_slice(&body) {
                Ok(value) => value,
                Err(e) => {
                    return Ok(answer(
                        StatusCode::BAD_REQUEST,
                        format!("{path}: {e}").into_bytes(),
                    ))
                }
            }
        };
    }
    Ok(match path.as_str() {
        "/raft/append" => json(&raft.append_entries(decode!()).await),
        "/raft/snapshot" => json(&raft.install_snapshot(decode!()).await),
        "/raft/vote" => json(&raft.vote(decode!()).await),
        "/kv/write" => json(&raft.client_write(decode!()).await),
        "/kv/read" => {
            let key: Vec<u8> = decode!();
            match raft.ensure_linearizable().await {
                Err(e) => json(&Err::<Option<Vec<u8>>, _>(e)),
                Ok(_) => match store.get(&key) {
                    Ok(value) => json(&Ok::<
                        _,
                        RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>,
                    >(value)),
                    Err(e) => answer(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        e.to_string().into_bytes(),
                    ),
                },
            }
        }
        "/cluster/init" => {
            let nodes: BTreeMap<NodeId, BasicNode> = decode!();
            json(&raft.initialize(nodes).await)
        }
        "/cluster/metrics" => json(&*raft.metrics().borrow()),
        _ => answer(
            StatusCode::NOT_FOUND,
            format!("no route {path}").into_bytes(),
        ),
    })
}

/// A client of a cluster's key-value API: it sends each call to the node it
/// believes leads, follows the redirects of followers, and tries the other
/// nodes when one does not answer, until a deadline.
#[derive(Debug)]
pub struct KvClient {
    addrs: Vec<String>,
    target: String,
    connections: HashMap<String, Connection>,
    deadline: Duration,
    timeout: Duration,
}

impl KvClient {
    /// A client of the nodes at `addrs` (`host:port`); each call gives up
    /// after 10 s, each request after 2 s. With no address, every call
    /// fails.
    pub fn new(addrs: impl IntoIterator<Item = impl Into<String>>) -> KvClient {
        let addrs: Vec<String> = addrs.into_iter().map(Into::into).collect();
        KvClient {
            target: addrs.first().cloned().unwrap_or_default(),
            addrs,
            connections: HashMap::new(),
            deadline: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
        }
    }

    /// Sets how long one call may take, retries included.
    pub fn deadline(mut self, deadline: Duration) -> KvClient {
        self.deadline = deadline;
        self
    }

    /// Applies `command` through the leader; returns once it is committed
    /// and applied there.
    pub async fn write(&mut self, command: &Command) -> Result<ClientWriteResponse<TypeConfig>> {
        self.call::<_, _, ClientWriteError<NodeId, BasicNode>>("/kv/write", command)
            .await
    }

    /// Sets `key` to `value`.
    pub async fn put(
        &mut self,
        key: &[u8],
        value: &[u8],
    ) -> Result<ClientWriteResponse<TypeConfig>> {
        let command = Command::Put {
            key: key.to_vec(),
            value: value.to_vec(),
        };
        self.write(&command).await
    }

    /// The value of `key`, read on the leader once it has confirmed it still
    /// leads (linearizable).
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.call::<_, _, CheckIsLeaderError<NodeId, BasicNode>>("/kv/read", &key.to_vec())
            .await
    }

    /// Initializes the cluster with `nodes` as its voters, on the first
    /// node (`initialize` on a node that already is in a cluster is refused).
    pub async fn init(&mut self, nodes: &BTreeMap<NodeId, BasicNode>) -> Result<()> {
        let addr = self.addrs.first().cloned().unwrap_or_default();
        let answer: Result<(), RaftError<NodeId, InitializeError<NodeId, BasicNode>>> =
            self.post_to(&addr, "/cluster/init", nodes).await?;
        answer.map_err(|e| Error::Rpc {
            addr,
            detail: e.to_string(),
        })
    }

    /// The metrics of the node at `addr` (its view of the leader, its log
    /// and state machine positions, its snapshot).
    pub async fn metrics(&mut self, addr: &str) -> Result<RaftMetrics<NodeId, BasicNode>> {
        self.post_to(addr, "/cluster/metrics", &()).await
    }

    /// The current leader, as the first node that answers knows it.
    pub async fn leader(&mut self) -> Result<Option<(NodeId, String)>> {
        let mut last = None;
        for addr in self.addrs.clone() {
            match self.metrics(&addr).await {
                Ok(metrics) => {
                    return Ok(metrics.current_leader.and_then(|id| {
                        let node = metrics.membership_config.membership().get_node(&id)?;
                        Some((id, node.addr.clone()))
                    }));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(Error::Rpc {
            addr: String::new(),
            detail: "no node to ask".into(),
        }))
    }

    async fn post_to<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        addr: &str,
        path: &str,
        request: &Req,
    ) -> Result<Resp> {
        let connection = self
            .connections
            .entry(addr.to_owned())
            .or_insert_with(|| Connection::new(addr.to_owned()));
        connection
            .call(path, request, self.timeout)
            .await
            .map_err(|e| Error::Rpc {
                addr: addr.to_owned(),
                detail: e.to_string(),
            })
    }

    /// Calls `path` on the leader, following redirects and trying every
    /// node in turn, until the deadline.
    async fn call<Req, Resp, E>(&mut self, path: &str, request: &Req) -> Result<Resp>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error
            + DeserializeOwned
            + TryAsRef<ForwardToLeader<NodeId, BasicNode>>
            + Display,
    {
        let start = tokio::time::Instant::now();
        let mut attempts = 0;
        if self.addrs.is_empty() {
            return Err(Error::NoLeader {
                attempts,
                deadline: self.deadline,
                last: "the client knows no node".into(),
            });
        }
        loop {
            attempts += 1;
            let target = self.target.clone();
            let last = match self
                .post_to::<_, Result<Resp, RaftError<NodeId, E>>>(&target, path, request)
                .await
            {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => match e.forward_to_leader() {
                    Some(ForwardToLeader {
                        leader_node: Some(leader),
                        ..
                    }) if leader.addr != target => {
                        self.target = leader.addr.clone();
                        continue;
                    }
                    _ => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            if start.elapsed() >= self.deadline {
                return Err(Error::NoLeader {
                    attempts,
                    deadline: self.deadline,
                    last,
                });
            }
            // No leader known (an election is on) or the node is down:
            // wait a little, then try the next node.
            let next = self
                .addrs
                .iter()
                .position(|a| *a == target)
                .map_or(0, |i| i + 1);
            self.target = self.addrs[next % self.addrs.len()].clone();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
