//! courier: two nodes (mutual TLS over QUIC), a served `Bench` actor on the
//! server, refs and calls as a user writes them.
//!
//! - `oneway`: a sender actor on the client tells `push(seq, filler)` to the
//!   remote actor (awaiting room when the connection's queues are full), then
//!   calls `count()` itself, so the call follows the pushes on their lane:
//!   the remote actor checks the order of what it got.
//! - `echo`: a sender actor tells `ping(seq, filler)`, at most [`WINDOW`]
//!   unanswered; the remote actor tells `pong(seq)` to a sink actor on the
//!   client, whose ref it got in `subscribe` (a ref that travelled in a
//!   message); the sink gives a permit back per pong.
//! - `rtt`, `concurrent`: calls of `call(seq, filler) -> seq` from plain
//!   tasks.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use courier::CallError;
use courier::prelude::*;
use tokio::sync::Semaphore;

use crate::common::{self, CLIENT_NODE, Kept, PAYLOAD_LEN, Peer, SERVER_NODE, WINDOW, Workload};

/// The payload after the sequence number.
type Filler = [u8; PAYLOAD_LEN - 8];

const FILLER: Filler = [0xAB; PAYLOAD_LEN - 8];

/// The name the server's actor is served under.
const NAME: &str = "bench";

/// The server's actor.
#[courier::actor]
pub trait Bench {
    /// `oneway`: one message.
    #[tell]
    async fn push(&mut self, seq: u64, filler: Filler);
    /// `oneway`: messages so far, and how many came out of order.
    async fn count(&self) -> (u64, u64);
    /// `echo`: where pongs go.
    async fn subscribe(&mut self, sink: PongsRef);
    /// `echo`: a message to echo.
    #[tell]
    async fn ping(&mut self, seq: u64, filler: Filler);
    /// `rtt`, `concurrent`: a round trip.
    async fn call(&self, seq: u64, filler: Filler) -> u64;
}

/// The client's echo sink.
#[courier::actor]
pub trait Pongs {
    /// One echo.
    #[tell]
    async fn pong(&mut self, seq: u64);
}

#[derive(Default)]
struct Server {
    next: u64,
    count: u64,
    misordered: u64,
    sink: Option<PongsRef>,
}

impl Actor for Server {}

impl Bench for Server {
    async fn push(&mut self, seq: u64, _: Filler) {
        self.misordered += u64::from(seq != self.next);
        self.next = seq + 1;
        self.count += 1;
    }

    async fn count(&self) -> (u64, u64) {
        (self.count, self.misordered)
    }

    async fn subscribe(&mut self, sink: PongsRef) {
        self.sink = Some(sink);
    }

    async fn ping(&mut self, seq: u64, _: Filler) {
        if let Some(sink) = &self.sink {
            sink.pong(seq).await.expect("a pong sent");
        }
    }

    async fn call(&self, seq: u64, _: Filler) -> u64 {
        seq
    }
}

/// Counts pongs, checks their order and opens the window.
struct Sink {
    next: u64,
    misordered: Arc<AtomicU64>,
    window: Arc<Semaphore>,
}

impl Actor for Sink {}

impl Pongs for Sink {
    async fn pong(&mut self, seq: u64) {
        if seq != self.next {
            self.misordered.fetch_add(1, Ordering::Relaxed);
        }
        self.next = seq + 1;
        self.window.add_permits(1);
    }
}

/// The client's sender actor: sends from inside a handler, as an actor of
/// an application would.
#[courier::actor]
pub trait Sender {
    /// Tells `push` for every sequence number from `from` to `to_seq`, then
    /// asks for the count: from the same sender to the same actor, so it
    /// comes after every push (pair order).
    async fn push_all(&self, to: BenchRef, from: u64, to_seq: u64) -> Result<(u64, u64), CallError>;
    /// Tells `ping` for every sequence number of `seqs`, each taking a permit
    /// of the window.
    async fn ping_all(&self, to: BenchRef, from: u64, to_seq: u64);
}

struct Driver {
    window: Arc<Semaphore>,
}

impl Actor for Driver {}

impl Sender for Driver {
    async fn push_all(&self, to: BenchRef, from: u64, to_seq: u64) -> Result<(u64, u64), CallError> {
        for seq in from..to_seq {
            to.push(seq, FILLER).await?;
        }
        to.count().await
    }

    async fn ping_all(&self, to: BenchRef, from: u64, to_seq: u64) {
        for seq in from..to_seq {
            self.window.acquire().await.expect("the window is open").forget();
            to.ping(seq, FILLER).await.expect("a ping queued");
        }
    }
}

/// A node with the same QUIC settings as the raw baseline
/// ([`common::transport_config`], [`common::endpoint_config`],
/// [`common::SOCKET_BUFFER`]), so that both stand on the same ground.
fn node(tls_dir: &Path, name: &str) -> System {
    let tls = Tls::development(tls_dir, name).expect("a development TLS identity");
    System::builder()
        // Long enough for the largest run; no call should ever reach it.
        .call_timeout(Duration::from_secs(120))
        .listen("127.0.0.1:0")
        .tls(tls)
        .transport_config(common::transport_config())
        .endpoint_config(common::endpoint_config())
        .socket_buffers(common::SOCKET_BUFFER)
        .build()
        .expect("a node")
}

pub fn serve(_: Workload, tls_dir: &Path) {
    let tls_dir = tls_dir.to_owned();
    common::serve_on_tokio(async move {
        let system = node(&tls_dir, SERVER_NODE);
        let bench: BenchRef = system.spawn(Server::default()).into();
        system.serve(NAME, &bench).expect("a free name");
        common::announce(system.local_addr().expect("a listening node"));
        std::future::pending::<()>().await;
    });
}

/// The client node and its ref to the server's actor.
async fn connect(peer: &Peer) -> (System, BenchRef) {
    let system = node(&peer.tls_dir, CLIENT_NODE);
    let bench = system.remote(peer.addr, NAME).await.expect("the server's actor");
    (system, bench)
}

pub fn oneway(peer: &Peer, n: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let (system, bench) = connect(&peer).await;
        let sender: SenderRef = system.spawn(Driver { window: Arc::new(Semaphore::new(0)) }).into();
        let warm = common::warmup(n);
        let counted = sender.push_all(bench.clone(), 0, warm).await.expect("warm-up sent");
        assert_eq!(counted, Ok((warm, 0)), "courier: warm-up counted in order");
        let start = Instant::now();
        let counted = sender.push_all(bench.clone(), warm, warm + n).await.expect("sent");
        let elapsed = start.elapsed();
        assert_eq!(counted, Ok((warm + n, 0)), "courier: every message counted, in order");
        system.shutdown().await;
        elapsed
    })
}

pub fn echo(peer: &Peer, n: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let (system, bench) = connect(&peer).await;
        let window = Arc::new(Semaphore::new(WINDOW));
        let misordered = Arc::new(AtomicU64::new(0));
        let sink: PongsRef =
            system.spawn(Sink { next: 0, misordered: misordered.clone(), window: window.clone() }).into();
        bench.subscribe(sink).await.expect("subscribed");
        let sender: SenderRef = system.spawn(Driver { window: window.clone() }).into();
        let all_back = |window: Arc<Semaphore>| async move {
            drop(window.acquire_many(WINDOW as u32).await.expect("the window is open"));
        };
        let warm = common::warmup(n);
        sender.ping_all(bench.clone(), 0, warm).await.expect("warm-up sent");
        all_back(window.clone()).await;
        let start = Instant::now();
        sender.ping_all(bench.clone(), warm, warm + n).await.expect("sent");
        all_back(window.clone()).await;
        let elapsed = start.elapsed();
        assert_eq!(misordered.load(Ordering::Relaxed), 0, "courier: every echo in order");
        system.shutdown().await;
        elapsed
    })
}

/// The `rtt` client: the client's node and the ref to the server's actor,
/// kept between blocks.
struct RoundTrips(Kept<(System, BenchRef)>);

pub fn rtt(peer: &Peer, warmup: u64) -> Box<dyn common::RoundTrips> {
    let peer = peer.clone();
    Box::new(RoundTrips(Kept::connect(async move {
        let (system, bench) = connect(&peer).await;
        for seq in 0..warmup {
            assert_eq!(bench.call(seq, FILLER).await, Ok(seq));
        }
        (system, bench)
    })))
}

impl common::RoundTrips for RoundTrips {
    fn time(&mut self, seqs: Range<u64>) -> Vec<Duration> {
        self.0.run(|(system, bench)| async move {
            let mut times = Vec::with_capacity(seqs.clone().count());
            for seq in seqs {
                let start = Instant::now();
                let reply = bench.call(seq, FILLER).await;
                times.push(start.elapsed());
                assert_eq!(reply, Ok(seq), "courier: the reply to this call");
            }
            ((system, bench), times)
        })
    }

    fn close(self: Box<Self>) {
        self.0.close(|(system, _)| async move { system.shutdown().await });
    }
}

pub fn concurrent(peer: &Peer, requesters: usize, each: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let (system, bench) = connect(&peer).await;
        for seq in 0..common::warmup(each) {
            assert_eq!(bench.call(seq, FILLER).await, Ok(seq));
        }
        let start = Instant::now();
        let tasks: Vec<_> = (0..requesters)
            .map(|_| {
                let bench = bench.clone();
                tokio::spawn(async move {
                    for seq in 0..each {
                        assert_eq!(bench.call(seq, FILLER).await, Ok(seq), "courier: the reply to this call");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a requester task");
        }
        let elapsed = start.elapsed();
        system.shutdown().await;
        elapsed
    })
}
