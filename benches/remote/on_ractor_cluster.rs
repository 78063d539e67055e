//! ractor_cluster 0.16 (ractor 0.16.5 in its `cluster` configuration): two
//! `NodeServer`s over plain TCP on loopback (no TLS: ractor_cluster's TLS is
//! optional and off here), messages encoded by `#[derive(RactorClusterMessage)]`
//! (protobuf frames). The server actor joins a process group named after
//! the server's pid; the client finds its proxy there once the nodes have
//! exchanged their groups.
//!
//! - `oneway`: `cast` of `Push(seq, 24 bytes)`; ractor's mailboxes are
//!   unbounded, so nothing holds the sender back. Then `call` of `Sync`.
//! - `echo`: `cast` of `Ping`; the server casts `Pong` to a sink actor that
//!   the client put in a process group of its own. The sink gives a permit
//!   of the [`WINDOW`] back per pong.
//! - `rtt`, `concurrent`: `call!` of `Call(seq, 24 bytes)`, answered with
//!   `seq`; the concurrent requesters share one `ActorRef`.
//!
//! The server listens on a socket of its own and hands the accepted stream
//! to its `NodeServer` (exactly what ractor_cluster's listener does), so
//! that the address is known before the client connects.

use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, pg};
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{NetworkStream, NodeServer, NodeServerMessage, RactorClusterMessage};
use tokio::sync::Semaphore;

use crate::common::{self, Kept, PAYLOAD_LEN, Peer, WINDOW, Workload};

/// The shared secret of the two nodes.
const COOKIE: &str = "courier-bench";

/// The client's group, holding its echo sink.
const SINK_GROUP: &str = "courier-bench-sink";

/// How long the client waits for the server's actor to show up.
const DISCOVERY: Duration = Duration::from_secs(10);

/// The server's group, holding its actor.
fn server_group(pid: u32) -> String {
    format!("courier-bench-server-{pid}")
}

/// The payload after the sequence number (which travels as its own field).
fn filler() -> Vec<u8> {
    vec![0xAB; PAYLOAD_LEN - 8]
}

/// What the server actor takes.
#[derive(RactorClusterMessage)]
enum ServerMsg {
    /// `oneway`: one message.
    Push(u64, Vec<u8>),
    /// `echo`: a message to echo to the sink.
    Ping(u64, Vec<u8>),
    /// `oneway`: the count so far and the messages out of order.
    #[rpc]
    Sync(RpcReplyPort<Vec<u64>>),
    /// `rtt`, `concurrent`: a request, answered with its sequence number.
    #[rpc]
    Call(u64, Vec<u8>, RpcReplyPort<u64>),
}

/// What the client's sink takes.
#[derive(RactorClusterMessage)]
enum SinkMsg {
    /// The echo of a ping.
    Pong(u64, Vec<u8>),
}

struct Server;

#[derive(Default)]
struct ServerState {
    next: u64,
    count: u64,
    misordered: u64,
    sink: Option<ActorRef<SinkMsg>>,
}

impl Actor for Server {
    type Msg = ServerMsg;
    type State = ServerState;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<ServerMsg>, _: ()) -> Result<ServerState, ActorProcessingErr> {
        Ok(ServerState::default())
    }

    async fn handle(
        &self,
        _: ActorRef<ServerMsg>,
        msg: ServerMsg,
        s: &mut ServerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ServerMsg::Push(seq, _) => {
                s.misordered += u64::from(seq != s.next);
                (s.next, s.count) = (seq + 1, s.count + 1);
            }
            ServerMsg::Ping(seq, payload) => {
                let sink = match &s.sink {
                    Some(sink) => sink,
                    None => {
                        let cell = pg::get_members(&SINK_GROUP.to_owned()).into_iter().next();
                        s.sink.insert(ActorRef::from(cell.ok_or("the client's sink is not in its group")?))
                    }
                };
                sink.cast(SinkMsg::Pong(seq, payload))?;
            }
            ServerMsg::Sync(reply) => {
                // A caller gone away is the caller's failure to report.
                let _ = reply.send(vec![s.count, s.misordered]);
            }
            ServerMsg::Call(seq, _, reply) => {
                let _ = reply.send(seq);
            }
        }
        Ok(())
    }
}

/// Shared by the echo sink and the sender.
struct Echoes {
    window: Semaphore,
    misordered: AtomicU64,
}

struct Sink;

impl Actor for Sink {
    type Msg = SinkMsg;
    type State = (Arc<Echoes>, u64);
    type Arguments = Arc<Echoes>;

    async fn pre_start(&self, _: ActorRef<SinkMsg>, echoes: Arc<Echoes>) -> Result<Self::State, ActorProcessingErr> {
        Ok((echoes, 0))
    }

    async fn handle(
        &self,
        _: ActorRef<SinkMsg>,
        msg: SinkMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (echoes, next) = state;
        let SinkMsg::Pong(seq, _) = msg;
        echoes.misordered.fetch_add(u64::from(seq != *next), Ordering::Relaxed);
        *next = seq + 1;
        echoes.window.add_permits(1);
        Ok(())
    }
}

/// A node server on loopback only, in isolated mode (no transitive peers).
fn node(name: &str) -> NodeServer {
    NodeServer::new(
        0,
        COOKIE.to_owned(),
        name.to_owned(),
        "localhost".to_owned(),
        None,
        Some(NodeConnectionMode::Isolated),
    )
    .with_listen_addr(Ipv4Addr::LOCALHOST.into())
}

// ---------------------------------------------------------------- server

/// The server process: a node, the server actor in its group, one accepted
/// connection; serves until killed. A failed actor ends the process, so the
/// bench sees it.
pub fn serve(_: Workload, _: &Path) {
    common::serve_on_tokio(async move {
        let (node, _) = Actor::spawn(None, node("courier-bench-server"), ()).await.expect("spawn the node server");
        let (server, done) = Actor::spawn(None, Server, ()).await.expect("spawn the server actor");
        pg::join(server_group(std::process::id()), vec![server.get_cell()]);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("a listening socket");
        common::announce(listener.local_addr().expect("a bound address"));
        let (stream, peer_addr) = listener.accept().await.expect("the client's connection");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let local_addr = stream.local_addr().expect("the local address");
        let stream = Box::new(NetworkStream::Raw { peer_addr, local_addr, stream });
        node.cast(NodeServerMessage::ConnectionOpened { stream, is_server: true }).expect("the node server is alive");
        let ended = done.await;
        eprintln!("ractor_cluster: the server actor stopped ({ended:?})");
        std::process::exit(1);
    });
}

// ---------------------------------------------------------------- client

/// The client's node, connected, and the server actor's proxy.
struct Client {
    node: ActorRef<NodeServerMessage>,
    server: ActorRef<ServerMsg>,
}

impl Client {
    async fn connect(peer: &Peer) -> Client {
        let (node, _) = Actor::spawn(None, node("courier-bench-client"), ()).await.expect("spawn the node server");
        ractor_cluster::client_connect(&node, peer.addr).await.expect("connect to the server's node");
        let (group, deadline) = (server_group(peer.pid), Instant::now() + DISCOVERY);
        let server = loop {
            if let Some(cell) = pg::get_members(&group).into_iter().next() {
                break ActorRef::from(cell);
            }
            assert!(Instant::now() < deadline, "ractor_cluster: the server's actor did not show up in {DISCOVERY:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        Client { node, server }
    }

    /// Stops the node (and with it the session and the remote proxies, so
    /// that the process groups hold nothing stale for the next run).
    async fn close(self) {
        self.node.stop_and_wait(None, None).await.expect("stop the node server");
    }

    async fn sync(&self) -> (u64, u64) {
        let counts = ractor::call!(self.server, ServerMsg::Sync).expect("ractor_cluster: sync call");
        match counts[..] {
            [count, misordered] => (count, misordered),
            _ => panic!("ractor_cluster: a sync reply of two counts, not {counts:?}"),
        }
    }

    async fn call(&self, seq: u64) {
        let answer = ractor::call!(self.server, ServerMsg::Call, seq, filler()).expect("ractor_cluster: call");
        assert_eq!(answer, seq, "ractor_cluster: the reply to this request");
    }
}

pub fn oneway(peer: &Peer, n: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let client = Client::connect(&peer).await;
        let push = |seq| client.server.cast(ServerMsg::Push(seq, filler())).expect("ractor_cluster: cast");
        let warm = common::warmup(n);
        (0..warm).for_each(push);
        assert_eq!(client.sync().await, (warm, 0), "ractor_cluster: warm-up counted in order");
        let start = Instant::now();
        (warm..warm + n).for_each(push);
        let counted = client.sync().await;
        let elapsed = start.elapsed();
        assert_eq!(counted, (warm + n, 0), "ractor_cluster: every message counted, in order");
        client.close().await;
        elapsed
    })
}

/// Sends pings `seqs`, each taking a permit of the window, then waits until
/// every one is echoed.
async fn pings(client: &Client, window: &Semaphore, seqs: Range<u64>) {
    for seq in seqs {
        window.acquire().await.expect("the window is open").forget();
        client.server.cast(ServerMsg::Ping(seq, filler())).expect("ractor_cluster: cast");
    }
    drop(window.acquire_many(WINDOW as u32).await.expect("the window is open"));
}

pub fn echo(peer: &Peer, n: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let echoes = Arc::new(Echoes { window: Semaphore::new(WINDOW), misordered: AtomicU64::new(0) });
        let (sink, _) = Actor::spawn(None, Sink, echoes.clone()).await.expect("spawn the sink");
        pg::join(SINK_GROUP.to_owned(), vec![sink.get_cell()]);
        let client = Client::connect(&peer).await;
        let warm = common::warmup(n);
        pings(&client, &echoes.window, 0..warm).await;
        let start = Instant::now();
        pings(&client, &echoes.window, warm..warm + n).await;
        let elapsed = start.elapsed();
        assert_eq!(echoes.misordered.load(Ordering::Relaxed), 0, "ractor_cluster: every echo in order");
        client.close().await;
        sink.stop_and_wait(None, None).await.expect("stop the sink");
        elapsed
    })
}

/// The `rtt` client, kept between blocks.
struct RoundTrips(Kept<Client>);

pub fn rtt(peer: &Peer, warmup: u64) -> Box<dyn common::RoundTrips> {
    let peer = peer.clone();
    Box::new(RoundTrips(Kept::connect(async move {
        let client = Client::connect(&peer).await;
        for seq in 0..warmup {
            client.call(seq).await;
        }
        client
    })))
}

impl common::RoundTrips for RoundTrips {
    fn time(&mut self, seqs: Range<u64>) -> Vec<Duration> {
        self.0.run(|client| async move {
            let mut times = Vec::with_capacity(seqs.clone().count());
            for seq in seqs {
                let start = Instant::now();
                client.call(seq).await;
                times.push(start.elapsed());
            }
            (client, times)
        })
    }

    fn close(self: Box<Self>) {
        self.0.close(Client::close);
    }
}

pub fn concurrent(peer: &Peer, requesters: usize, each: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let client = Arc::new(Client::connect(&peer).await);
        for seq in 0..common::warmup(each) {
            client.call(seq).await;
        }
        let start = Instant::now();
        let tasks: Vec<_> = (0..requesters)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    for seq in 0..each {
                        client.call(seq).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a requester task");
        }
        let elapsed = start.elapsed();
        Arc::into_inner(client).expect("the requesters are done").close().await;
        elapsed
    })
}
