//! The harness of `remote_bad_input.rs`: a node to attack, and a peer that
//! speaks the wire by hand.

pub use std::net::SocketAddr;
pub use std::path::{Path, PathBuf};
pub use std::sync::Arc;
pub use std::sync::atomic::{AtomicU64, Ordering};
pub use std::time::Duration;

pub use courier::prelude::*;
pub use courier::{ActorId, CallError, Codec, NetworkStats, NodeBuilder, Protocol};
pub use courier_transport::envelope::{self, ArchivedKind, Envelope, Header, Kind, StreamRoute, Target};
pub use courier_transport::frame::{self, DEFAULT_MAX_FRAME, Decoder, PREFIX_LEN};
pub use courier_transport::hello::{self, Hello, WIRE_VERSION};
pub use courier_transport::tls::SERVER_NAME;
pub use rkyv::rancor::Error as RkyvError;
pub use rkyv::util::AlignedVec;
pub use tokio::sync::mpsc;
pub use tokio::time::timeout;

/// Far above anything on loopback: a test that needs it has hung.
pub const BOUND: Duration = Duration::from_secs(20);

/// The name the counter is served under.
pub const SERVED: &str = "counter";

/// A service with two methods, so that a header can name the wrong one.
#[courier::actor]
pub trait Counter {
    /// Adds `n` (wrapping: random input must not make the actor panic);
    /// returns the total.
    async fn add(&mut self, n: u64) -> u64;
    /// The total.
    async fn total(&self) -> u64;
}

#[derive(Default)]
pub struct Tally(pub u64);

impl Actor for Tally {}

impl Counter for Tally {
    async fn add(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(n);
        self.0
    }

    async fn total(&self) -> u64 {
        self.0
    }
}

pub fn codec() -> Codec<CounterRequest> {
    CounterRequest::CODEC.expect("a remote service has a codec")
}

pub const SERVICE: u64 = <CounterRequest as Protocol>::SERVICE_KEY;
pub const FINGERPRINT: u64 = <CounterRequest as Protocol>::FINGERPRINT;

pub fn method_of(request: &CounterRequest) -> u32 {
    Protocol::method(request).id
}

/// A call to `add` with everything right but the target.
pub fn call(request: u64, target: Target) -> Header {
    Header {
        kind: Kind::Call,
        request,
        target,
        service: SERVICE,
        fingerprint: FINGERPRINT,
        method: method_of(&CounterRequest::Add(0)),
        sender: None,
        chain: Vec::new(),
        budget_micros: Some(20_000_000),
    }
}

/// The archived request `add(n)`.
pub fn add_payload(n: u64) -> AlignedVec {
    codec().request_bytes(&CounterRequest::Add(n)).expect("an encoded request")
}

/// One frame's bytes, prefix included.
pub fn frame(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    envelope::write(header, payload, &mut out, &mut AlignedVec::new()).expect("a frame");
    out
}

/// A fresh folder of development certificates per test.
pub fn certs(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("courier-bad-input-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The counters that changed from `before` to `after`, by how much.
pub fn changes(before: NetworkStats, after: NetworkStats) -> Vec<(&'static str, u64)> {
    let pairs = [
        ("connections", before.connections, after.connections),
        ("refused_connections", before.refused_connections, after.refused_connections),
        ("frames_received", before.frames_received, after.frames_received),
        ("broken_streams", before.broken_streams, after.broken_streams),
        ("invalid_headers", before.invalid_headers, after.invalid_headers),
        ("unknown_targets", before.unknown_targets, after.unknown_targets),
        ("invalid_payloads", before.invalid_payloads, after.invalid_payloads),
        ("stray_replies", before.stray_replies, after.stray_replies),
    ];
    pairs.into_iter().filter(|(_, b, a)| a != b).map(|(name, b, a)| (name, a.wrapping_sub(b))).collect()
}

/// A node serving a counter, to be attacked.
pub struct Victim {
    pub dir: PathBuf,
    pub server: System,
    pub counter: CounterRef,
}

impl Victim {
    pub fn start(test: &str) -> Victim {
        Victim::start_with(test, |builder| builder)
    }

    pub fn start_with(test: &str, configure: impl FnOnce(NodeBuilder) -> NodeBuilder) -> Victim {
        let dir = certs(test);
        let tls = Tls::development(&dir, "server").expect("development certificates");
        let server = configure(System::builder().listen("127.0.0.1:0").tls(tls)).build().expect("a node");
        let counter: CounterRef = server.spawn(Tally::default()).into();
        server.serve(SERVED, &counter).expect("a free name");
        Victim { dir, server, counter }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr().expect("a listening node")
    }

    pub fn seq(&self) -> u64 {
        self.counter.actor_id().seq
    }

    pub fn stats(&self) -> NetworkStats {
        self.server.network_stats().expect("a node")
    }

    /// Polls the counters until `done` holds of them.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&NetworkStats) -> bool) -> NetworkStats {
        let waited = timeout(BOUND, async {
            loop {
                let stats = self.stats();
                if done(&stats) {
                    return stats;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("the node never counted {what}: {:?}", self.stats()))
    }

    /// An attacker past both handshakes, its connection counted (the node
    /// counts it just after sending its hello).
    pub async fn attack(&self) -> Attacker {
        let connections = self.stats().connections;
        let attacker = Attacker::connect(&self.dir, self.addr(), self.seq()).await;
        self.wait_for("the attacker's connection", |stats| stats.connections > connections).await;
        attacker
    }

    /// A normal client node finds the counter and calls it.
    pub async fn still_serves(&self) {
        let tls = Tls::development(&self.dir, "client").expect("development certificates");
        let client = System::builder().listen("127.0.0.1:0").tls(tls).build().expect("a node");
        let remote: CounterRef =
            timeout(BOUND, client.remote(self.addr(), SERVED)).await.expect("a lookup in time").expect("found");
        let total = timeout(BOUND, remote.total()).await.expect("a reply in time").expect("a total");
        let after = timeout(BOUND, remote.add(1)).await.expect("a reply in time").expect("a sum");
        assert_eq!(after, total.wrapping_add(1));
        client.shutdown().await;
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Node ids for attackers: distinct from each other and, in all
/// likelihood, from the node's own random id.
pub fn attacker_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    0xbad0_0000_0000_0000 | NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A quinn client that passed TLS, with its own certificate of the CA.
pub fn raw_endpoint(dir: &Path) -> (quinn::Endpoint, quinn::ClientConfig) {
    let tls = Tls::development(dir, "attacker").expect("development certificates");
    let mut config = tls.client_config().expect("a client config");
    // The node's idle timeout is short: keep the connection alive.
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_millis(200)));
    config.transport_config(Arc::new(transport));
    let endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0))).expect("a client endpoint");
    (endpoint, config)
}

/// What the node sends back: envelopes, or why its bytes were not.
pub type Received = Result<Envelope, String>;

/// A peer that speaks the wire by hand.
pub struct Attacker {
    pub endpoint: quinn::Endpoint,
    pub connection: quinn::Connection,
    /// The counter's sequence number on the node.
    pub seq: u64,
    pub frames: mpsc::UnboundedReceiver<Received>,
    /// Envelopes received while waiting for others.
    pub held: Vec<Envelope>,
}

impl Attacker {
    /// Connects and does the hello exchange as a dialing node does.
    pub async fn connect(dir: &Path, server: SocketAddr, seq: u64) -> Attacker {
        let (endpoint, config) = raw_endpoint(dir);
        let connecting = endpoint.connect_with(config, server, SERVER_NAME).expect("a connection attempt");
        let connection = timeout(BOUND, connecting).await.expect("TLS in time").expect("past TLS");
        let (mut send, mut recv) = connection.open_bi().await.expect("a hello stream");
        let ours = Hello {
            node: attacker_id(),
            listen: endpoint.local_addr().expect("an address").to_string(),
            served: Vec::new(),
        };
        hello::send(&mut send, &ours).await.expect("our hello sent");
        let theirs = timeout(BOUND, hello::receive(&mut recv)).await.expect("a hello in time").expect("their hello");
        assert!(theirs.served.iter().any(|served| served.name == SERVED), "{theirs:?}");
        let _ = send.finish();
        let (tx, frames) = mpsc::unbounded_channel();
        tokio::spawn(read_streams(connection.clone(), tx));
        Attacker { endpoint, connection, seq, frames, held: Vec::new() }
    }

    /// A valid call of `add(n)` to the counter.
    pub fn add(&self, request: u64, n: u64) -> Vec<u8> {
        frame(&call(request, Target::Actor(self.seq)), &add_payload(n))
    }

    pub async fn open(&self) -> quinn::SendStream {
        timeout(BOUND, self.connection.open_uni()).await.expect("a stream in time").expect("a stream")
    }

    /// Writes `bytes` on a new stream and finishes it. The node may stop
    /// the stream first: that is not an error here.
    pub async fn send(&self, bytes: &[u8]) {
        let mut stream = self.open().await;
        let _ = timeout(BOUND, stream.write_all(bytes)).await.expect("written in time");
        let _ = stream.finish();
    }

    /// The reply or failure for `request`.
    pub async fn answer(&mut self, request: u64) -> Envelope {
        if let Some(at) = self.held.iter().position(|envelope| envelope.request() == request) {
            return self.held.swap_remove(at);
        }
        loop {
            let received = timeout(BOUND, self.frames.recv())
                .await
                .unwrap_or_else(|_| panic!("no answer to request {request}"))
                .expect("the connection's streams are read");
            let envelope = received.unwrap_or_else(|error| panic!("the node sent bad bytes: {error}"));
            if envelope.request() == request {
                return envelope;
            }
            self.held.push(envelope);
        }
    }

    /// The failure of `request`.
    pub async fn failure(&mut self, request: u64) -> CallError {
        let envelope = self.answer(request).await;
        assert_eq!(envelope.kind(), ArchivedKind::Failure, "request {request}");
        rkyv::from_bytes::<CallError, RkyvError>(envelope.payload()).expect("an archived CallError")
    }

    /// The total `add` replied to `request`.
    pub async fn added(&mut self, request: u64) -> u64 {
        let envelope = self.answer(request).await;
        if envelope.kind() == ArchivedKind::Failure {
            let error = rkyv::from_bytes::<CallError, RkyvError>(envelope.payload());
            panic!("request {request} failed: {error:?}");
        }
        assert_eq!(envelope.kind(), ArchivedKind::Reply, "request {request}");
        match (codec().decode_response)(envelope.payload()).expect("a response") {
            CounterResponse::Add(total) => total,
            CounterResponse::Total(_) => panic!("the response of another method"),
        }
    }

    /// No answer to `request` has arrived so far.
    pub fn unanswered(&mut self, request: u64) {
        while let Ok(received) = self.frames.try_recv() {
            self.held.push(received.unwrap_or_else(|error| panic!("the node sent bad bytes: {error}")));
        }
        let answered: Vec<_> = self.held.iter().filter(|envelope| envelope.request() == request).collect();
        assert!(answered.is_empty(), "request {request} was answered: {answered:?}");
    }

    pub async fn close(self) {
        self.connection.close(0u32.into(), b"done");
        let _ = timeout(BOUND, self.endpoint.wait_idle()).await;
    }
}

/// Reads every stream the node opens towards the attacker.
pub async fn read_streams(connection: quinn::Connection, frames: mpsc::UnboundedSender<Received>) {
    while let Ok(stream) = connection.accept_uni().await {
        tokio::spawn(read_stream(stream, frames.clone()));
    }
}

pub async fn read_stream(mut stream: quinn::RecvStream, frames: mpsc::UnboundedSender<Received>) {
    let (mut decoder, mut route) = (Decoder::new(DEFAULT_MAX_FRAME), StreamRoute::default());
    while let Ok(Some(chunk)) = stream.read_chunk(usize::MAX, true).await {
        let mut input = &chunk.bytes[..];
        loop {
            let received = match decoder.decode(&mut input) {
                Ok(Some(frame)) => Envelope::check_on(frame, &mut route).map_err(|error| error.to_string()),
                Ok(None) => break,
                Err(error) => Err(error.to_string()),
            };
            let failed = received.is_err();
            if frames.send(received).is_err() || failed {
                return;
            }
        }
    }
}

/// A small deterministic generator (xorshift64*), so that a failing run can
/// be repeated.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// What the node should make of `bytes` alone on a finished stream, as far
/// as framing and headers go: whether the stream breaks, how many frames
/// fail the header check, and how many pass it.
pub fn predict(bytes: &[u8], max: usize) -> (bool, u64, u64) {
    let (mut decoder, mut input, mut route) = (Decoder::new(max), bytes, StreamRoute::default());
    let (mut invalid, mut valid) = (0, 0);
    loop {
        match decoder.decode(&mut input) {
            Ok(Some(frame)) => match Envelope::check_on(frame, &mut route) {
                Ok(_) => valid += 1,
                Err(_) => invalid += 1,
            },
            Ok(None) => return (false, invalid, valid),
            Err(_) => return (true, invalid, valid),
        }
    }
}
