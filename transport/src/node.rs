//! A node: a system's QUIC endpoint, its peers, and how it reaches them.
//!
//! One endpoint both listens and dials. Every connection starts with the
//! TLS handshake (both sides present certificates of the cluster CA) and a
//! [hello](crate::hello) exchange; then each side opens its lanes and both
//! read what the other sends. A node keeps one [`Peer`] per other node,
//! found by node id (refs) or by address ([`Network::resolve`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use courier_runtime::remote::{Completion, Link, Network, NetworkStats, Refusal, Resolving, WeakSystem, archived};
use courier_runtime::{ActorId, CallError};
use dashmap::DashMap;
use rkyv::rancor::Error as RkyvError;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::connection;
use crate::drivers::Drivers;
use crate::envelope::{Header, Kind, Target};
use crate::hello::{self, Hello, HelloError, Served};
use crate::peer::{Peer, expire_calls};
use crate::stats::Counters;
use crate::tls::SERVER_NAME;

/// How long the TLS and hello handshakes may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection that lost to another one for the same peer stays
/// open, so frames already on it arrive.
const SUPERSEDED_GRACE: Duration = Duration::from_secs(2);

/// How long a shutdown waits for the node's socket to close: its
/// connections drain first (three probe timeouts, milliseconds on a LAN).
const RELEASE_BOUND: Duration = Duration::from_secs(5);

/// How long the node of a ref that could not be reached is taken as
/// unreachable, without another dial, when more refs to it are read.
const UNREACHABLE_FOR: Duration = Duration::from_secs(5);

/// Settings of a node's transport.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) lanes: usize,
    pub(crate) queue_limit: usize,
    pub(crate) max_frame: usize,
    pub(crate) call_timeout: Duration,
}

/// What a node's tasks share.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) system: WeakSystem,
    /// Taken out at shutdown: the socket closes only once no handle to the
    /// endpoint is left.
    endpoint: Mutex<Option<quinn::Endpoint>>,
    /// The task polling the connections' drivers, the lanes' writers and
    /// the stream readers.
    pub(crate) drivers: Arc<Drivers>,
    client: quinn::ClientConfig,
    local_addr: SocketAddr,
    pub(crate) config: Config,
    /// Shared with the peers, which count the one-way requests dropped
    /// after they were queued.
    pub(crate) counters: Arc<Counters>,
    peers: DashMap<u64, Arc<Peer>>,
    /// Which node listens at an address, as last seen.
    by_addr: DashMap<SocketAddr, u64>,
    /// One dial at a time per address.
    dialing: DashMap<SocketAddr, Arc<tokio::sync::Mutex<()>>>,
    /// Nodes met through refs that could not be reached, and the old ids of
    /// nodes that restarted as others, with when that was found: refs to
    /// them read within [`UNREACHABLE_FOR`] link to the retired peer, which
    /// fails their sends at once, instead of dialing the node per ref.
    unreachable: DashMap<u64, (Arc<Peer>, Instant)>,
    next_generation: AtomicU64,
    closed: AtomicBool,
    /// Cancelled at shutdown: tasks that wait to close a connection close
    /// it then.
    closing: CancellationToken,
}

/// A system's transport: implements the runtime's [`Network`].
pub(crate) struct Node(pub(crate) Arc<Shared>);

impl Shared {
    pub(crate) fn new(
        system: &courier_runtime::System,
        endpoint: quinn::Endpoint,
        drivers: Arc<Drivers>,
        client: quinn::ClientConfig,
        config: Config,
    ) -> std::io::Result<Arc<Shared>> {
        let local_addr = endpoint.local_addr()?;
        Ok(Arc::new(Shared {
            id: system.id(),
            system: system.downgrade(),
            endpoint: Mutex::new(Some(endpoint)),
            drivers,
            client,
            local_addr,
            config,
            counters: Arc::default(),
            peers: DashMap::new(),
            by_addr: DashMap::new(),
            dialing: DashMap::new(),
            unreachable: DashMap::new(),
            next_generation: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            closing: CancellationToken::new(),
        }))
    }

    /// The endpoint, until the node shuts down.
    fn endpoint(&self) -> Option<quinn::Endpoint> {
        self.endpoint.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// This node's hello.
    fn hello(&self) -> Hello {
        let served = self.system.upgrade().map(|system| system.served()).unwrap_or_default();
        Hello {
            node: self.id,
            listen: self.local_addr.to_string(),
            served: served
                .into_iter()
                .map(|(name, service, fingerprint)| Served { name, service: service.to_owned(), fingerprint })
                .collect(),
        }
    }

    /// The peer of node `node`, if this node has met it.
    pub(crate) fn peer(&self, node: u64) -> Option<Arc<Peer>> {
        self.peers.get(&node).map(|peer| peer.clone())
    }

    /// Retires `peer`, which cannot be reached, and keeps it for
    /// [`UNREACHABLE_FOR`] in place of a new peer for refs to its node
    /// (see [`Network::link_to`]); entries kept longer are let go here.
    fn retire_unreachable(&self, peer: &Arc<Peer>) {
        // Kept before it leaves `peers` and before what waits on it fails:
        // a ref read in between, or by a caller its failure wakes, must
        // find it and not dial again.
        let now = Instant::now();
        self.unreachable.retain(|_, (_, since)| now.duration_since(*since) < UNREACHABLE_FOR);
        self.unreachable.insert(peer.node, (peer.clone(), now));
        self.peers.remove_if(&peer.node, |_, p| Arc::ptr_eq(p, peer));
        peer.retire();
    }

    /// The retired peer of `node`, if it was found unreachable lately; an
    /// older entry is let go.
    fn lately_unreachable(&self, node: u64) -> Option<Arc<Peer>> {
        let recent = {
            let (peer, since) = &*self.unreachable.get(&node)?;
            (since.elapsed() < UNREACHABLE_FOR).then(|| peer.clone())
        };
        if recent.is_none() {
            self.unreachable.remove_if(&node, |_, (_, since)| since.elapsed() >= UNREACHABLE_FOR);
        }
        recent
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Accepts connections until the endpoint closes.
    pub(crate) async fn accept(self: Arc<Self>) {
        let Some(endpoint) = self.endpoint() else { return };
        while let Some(incoming) = endpoint.accept().await {
            tokio::spawn(self.clone().accept_one(incoming));
        }
    }

    async fn accept_one(self: Arc<Self>, incoming: quinn::Incoming) {
        let remote = incoming.remote_address();
        let handshake = async {
            let connection = incoming.await.map_err(|error| error.to_string())?;
            let (mut send, mut recv) = connection.accept_bi().await.map_err(|error| error.to_string())?;
            let theirs = match hello::receive(&mut recv).await {
                Ok(theirs) => theirs,
                Err(error @ HelloError::Version { .. }) => {
                    // Our hello still goes out, so that the dialer can say
                    // which versions differ too; wait (within the timeout)
                    // until it arrived before the connection is dropped.
                    if hello::send(&mut send, &self.hello()).await.is_ok() && send.finish().is_ok() {
                        let _ = send.stopped().await;
                    }
                    return Err(error.to_string());
                }
                Err(error) => return Err(error.to_string()),
            };
            hello::send(&mut send, &self.hello()).await.map_err(|error| error.to_string())?;
            let _ = send.finish();
            Ok::<_, String>((connection, theirs))
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok((connection, theirs))) => {
                self.established(connection, theirs, false, None);
            }
            Ok(Err(error)) => self.refused(remote, &error),
            Err(_) => self.refused(remote, "the handshake timed out"),
        }
    }

    fn refused(&self, remote: SocketAddr, error: &str) {
        self.counters.refused_connections.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%remote, %error, "refused a connection");
    }

    /// Dials `addr` and introduces this node; the peer it turns out to be.
    async fn dial(self: &Arc<Self>, addr: SocketAddr) -> Result<Arc<Peer>, CallError> {
        let unreachable = |error: String| CallError::NodeUnreachable { node: format!("{addr} ({error})") };
        let handshake = async {
            // The endpoint's handle goes at the end of the statement: a
            // handle kept would hold its socket open past a shutdown.
            let connecting = (self.endpoint().ok_or("this node is shutting down")?)
                .connect_with(self.client.clone(), addr, SERVER_NAME)
                .map_err(|e| e.to_string())?;
            let connection = connecting.await.map_err(|error| error.to_string())?;
            let (mut send, mut recv) = connection.open_bi().await.map_err(|error| error.to_string())?;
            hello::send(&mut send, &self.hello()).await.map_err(|error| error.to_string())?;
            let theirs = hello::receive(&mut recv).await.map_err(|error| error.to_string())?;
            let _ = send.finish();
            Ok::<_, String>((connection, theirs))
        };
        let (connection, theirs) = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(done)) => done,
            Ok(Err(error)) => return Err(unreachable(error)),
            Err(_) => return Err(unreachable("the handshake timed out".to_owned())),
        };
        self.established(connection, theirs, true, Some(addr)).ok_or_else(|| unreachable("refused".to_owned()))
    }

    /// A connection has passed both handshakes: attach it to its peer and
    /// start its tasks.
    fn established(
        self: &Arc<Self>,
        connection: quinn::Connection,
        theirs: Hello,
        dialed: bool,
        dialed_addr: Option<SocketAddr>,
    ) -> Option<Arc<Peer>> {
        if theirs.node == self.id || self.is_closed() {
            if theirs.node == self.id {
                self.refused(connection.remote_address(), "the other node claims this node's id");
            }
            connection.close(0u32.into(), b"same node");
            return None;
        }
        let ours = self.hello().served;
        for (service, mine, other) in theirs.mismatches(&ours) {
            tracing::warn!(
                node = %format_args!("{:x}", theirs.node & 0xffff),
                service,
                "the other node was built from another version of `{service}` \
                 (fingerprint {mine:016x} here, {other:016x} there): calls between them will fail"
            );
        }
        let addr = dialed_addr.or_else(|| theirs.listen_addr()).unwrap_or_else(|| connection.remote_address());
        let peer = self
            .peers
            .entry(theirs.node)
            .or_insert_with(|| {
                let peer = Arc::new(Peer::new(theirs.node, addr, &self.config, self.counters.clone()));
                tokio::spawn(expire_calls(peer.clone()));
                peer
            })
            .clone();
        // Mutual TLS makes sure there is a certificate of the cluster CA.
        if !certificate_of(&connection).is_some_and(|certificate| peer.binds(&certificate)) {
            self.refused(
                connection.remote_address(),
                "the other node claims the id of a node with another certificate",
            );
            connection.close(0u32.into(), b"another node's id");
            return None;
        }
        self.by_addr.insert(addr, theirs.node);
        if let Some(listen) = theirs.listen_addr() {
            self.by_addr.insert(listen, theirs.node);
        }
        let was_up = peer.is_up();
        // Of two connections made at once, both nodes keep the one the lower
        // node id dialed.
        let preferred = if dialed { self.id < theirs.node } else { theirs.node < self.id };
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let (taken, replaced) = peer.attach(&connection, generation, dialed, preferred);
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        connection::start(self.clone(), peer.clone(), connection.clone(), generation, taken);
        if !taken {
            self.close_later(connection);
        } else if let Some(replaced) = replaced {
            self.close_later(replaced);
        }
        if !was_up {
            tracing::info!(node = %peer.describe(), "connected");
        }
        Some(peer)
    }

    /// The connection of `generation` to `peer` is closed.
    pub(crate) fn connection_lost(self: &Arc<Self>, peer: &Arc<Peer>, generation: u64, reason: &str) {
        let Some(dialed) = peer.lost(generation) else { return };
        if self.is_closed() || peer.is_retired() {
            return;
        }
        tracing::warn!(node = %peer.describe(), reason, "connection lost");
        if dialed {
            tokio::spawn(reconnect(Arc::downgrade(self), peer.clone()));
        }
    }

    /// The peer at `addr`, connected, dialing it unless it is.
    async fn connect(self: &Arc<Self>, addr: SocketAddr) -> Result<Arc<Peer>, CallError> {
        let known = |shared: &Shared| {
            let node = *shared.by_addr.get(&addr)?;
            shared.peers.get(&node).map(|peer| peer.clone()).filter(|peer| peer.is_up())
        };
        if let Some(peer) = known(self) {
            return Ok(peer);
        }
        let gate = self.dialing.entry(addr).or_default().clone();
        let _dialing = gate.lock().await;
        if let Some(peer) = known(self) {
            return Ok(peer);
        }
        self.dial(addr).await
    }

    /// Closes the endpoint and every connection, and retires the peers;
    /// the future ends once the node's socket is closed, so that its port
    /// can be bound again (or after [`RELEASE_BOUND`]).
    fn shutdown(&self) -> impl Future<Output = ()> + Send + 'static {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let endpoint = self.endpoint.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(endpoint) = endpoint {
                endpoint.close(0u32.into(), b"shutdown");
            }
            for peer in self.peers.iter() {
                peer.retire();
            }
            self.closing.cancel();
        }
        let (drivers, addr) = (self.drivers.clone(), self.local_addr);
        async move {
            if !drivers.socket_released(RELEASE_BOUND).await {
                tracing::warn!(%addr, "the node's socket is still open after its shutdown");
            }
        }
    }

    /// Closes `connection` once frames already on it have had time to
    /// arrive, or at shutdown.
    fn close_later(&self, connection: quinn::Connection) {
        let closing = self.closing.clone();
        tokio::spawn(async move {
            let _ = closing.run_until_cancelled(tokio::time::sleep(SUPERSEDED_GRACE)).await;
            connection.close(0u32.into(), b"superseded");
        });
    }
}

/// The end-entity certificate `connection`'s other side presented (DER).
fn certificate_of(connection: &quinn::Connection) -> Option<Vec<u8>> {
    let chain = connection.peer_identity()?.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok()?;
    Some(chain.first()?.to_vec())
}

/// Makes the first connection to `peer`, met through a ref: the sends
/// waiting for it go on once it is made. If it cannot be, or another node
/// answers at its address, the peer is retired: what waits fails with
/// `NodeUnreachable`, refs to that node read within [`UNREACHABLE_FOR`]
/// fail the same way at once, and a ref read after that tries afresh.
/// Unlike a lost peer, it is not dialed again and again: any node of the
/// cluster can hand this node refs, and refs to nowhere must cost one
/// dial, not a reconnecting peer forever nor a dial per ref.
async fn introduce(shared: Arc<Shared>, peer: Arc<Peer>) {
    let failure = match shared.connect(peer.addr).await {
        Ok(now) if Arc::ptr_eq(&now, &peer) => return peer.introduced(true),
        Ok(now) => format!("node {} answers there", now.describe()),
        Err(error) => error.to_string(),
    };
    tracing::warn!(node = %peer.describe(), error = %failure, "could not connect to the node of a ref");
    Counters::bump(&shared.counters.failed_introductions);
    shared.retire_unreachable(&peer);
    peer.introduced(false);
}

/// Dials a lost peer again, with backoff, until it is back, another node
/// answers at its address (it restarted: refs to the old node stay
/// unreachable), or this node shuts down.
async fn reconnect(shared: Weak<Shared>, peer: Arc<Peer>) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        tokio::time::sleep(backoff.next_delay(random())).await;
        let Some(shared) = shared.upgrade() else { return };
        if shared.is_closed() || peer.is_retired() || peer.is_up() {
            return;
        }
        match shared.connect(peer.addr).await {
            Ok(now) if Arc::ptr_eq(&now, &peer) => return,
            Ok(now) => {
                tracing::info!(old = %peer.describe(), new = %now.describe(), "the node restarted as another node");
                shared.retire_unreachable(&peer);
                return;
            }
            Err(error) => {
                tracing::debug!(node = %peer.describe(), attempt = backoff.attempts(), %error, "reconnect failed")
            }
        }
    }
}

/// A random `u64` from the standard library's randomly keyed hasher.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

impl Node {
    /// Connects to `addr` and sends `header` (a lookup or a spawn), whose
    /// answer is an actor id.
    fn ask_for_actor(&self, addr: SocketAddr, header: Header) -> Resolving {
        let shared = self.0.clone();
        Box::pin(async move {
            let peer = shared.connect(addr).await?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let completion: Completion = Box::new(move |reply| {
                let id = reply.and_then(|bytes| {
                    rkyv::from_bytes::<ActorId, RkyvError>(bytes)
                        .map_err(|_| CallError::Protocol { detail: "the answer is not an actor id".to_owned() })
                });
                let _ = tx.send(id);
            });
            let deadline = Instant::now() + shared.config.call_timeout;
            if let Err(Refusal::Down(error) | Refusal::Unsendable(error)) =
                peer.send_frame(header, 0, &archived(&[]), Some((deadline, completion)))
            {
                return Err(error);
            }
            let id = rx.await.map_err(|_| CallError::NodeUnreachable { node: peer.describe() })??;
            let link: Arc<dyn Link> = peer;
            Ok((link, id))
        })
    }
}

impl Network for Node {
    fn local_addr(&self) -> SocketAddr {
        self.0.local_addr
    }

    fn link(&self, node: u64) -> Option<Arc<dyn Link>> {
        let peer = self.0.peers.get(&node)?.clone();
        Some(peer)
    }

    fn link_to(&self, node: u64, addr: SocketAddr) -> Arc<dyn Link> {
        let shared = &self.0;
        if let Some(peer) = shared.peer(node) {
            return peer;
        }
        if let Some(retired) = shared.lately_unreachable(node) {
            return retired;
        }
        let mut made = false;
        let peer = shared
            .peers
            .entry(node)
            .or_insert_with(|| {
                made = true;
                let peer = Arc::new(Peer::introducing(node, addr, &shared.config, shared.counters.clone()));
                tokio::spawn(expire_calls(peer.clone()));
                peer
            })
            .clone();
        if made {
            tokio::spawn(introduce(shared.clone(), peer.clone()));
        }
        peer
    }

    fn resolve(&self, addr: SocketAddr, name: &str, service: u64, fingerprint: u64) -> Resolving {
        let header =
            Header { target: Target::Name(name.to_owned()), service, fingerprint, ..Header::control(Kind::Resolve, 0) };
        self.ask_for_actor(addr, header)
    }

    fn spawn(&self, addr: SocketAddr, kind: &str, service: u64, fingerprint: u64) -> Resolving {
        let header =
            Header { target: Target::Name(kind.to_owned()), service, fingerprint, ..Header::control(Kind::Spawn, 0) };
        self.ask_for_actor(addr, header)
    }

    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.0.shutdown())
    }

    fn stats(&self) -> NetworkStats {
        self.0.counters.snapshot()
    }
}
