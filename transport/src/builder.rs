//! Starting a node: a [`System`] that listens for other nodes.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use courier_runtime::{System, SystemBuilder};

use crate::drivers::Drivers;
use crate::frame::DEFAULT_MAX_FRAME;
use crate::lanes::DEFAULT_QUEUE_LIMIT;
use crate::node::{Config, Node, Shared};
use crate::tls::{Tls, TlsError};

/// The lanes (unidirectional streams) each node opens per connection.
pub const DEFAULT_LANES: usize = 4;

/// How long a connection may stay silent before it counts as lost. Each
/// side sends keep-alives at a quarter of it, so a node whose process died
/// is noticed within this time, and the calls waiting on it fail then.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The listen address did not resolve.
    #[error("the listen address is not valid: {0}")]
    Address(String),
    /// No TLS identity was given: nodes only talk over mutual TLS.
    #[error(
        "a node needs a TLS identity: call `.tls(Tls::development(dir, name)?)` or `.tls(Tls::from_pem_files(..)?)`"
    )]
    NoTls,
    /// The TLS identity could not be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The UDP socket could not be bound, or no tokio runtime is running.
    #[error("could not listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What failed.
        error: std::io::Error,
    },
}

/// Turns a [`SystemBuilder`] into a node's builder.
pub trait Listen {
    /// Listens for other nodes on `addr` (port 0 picks a free port; read it
    /// back with [`System::local_addr`]).
    fn listen(self, addr: impl ToSocketAddrs) -> NodeBuilder;
}

impl Listen for SystemBuilder {
    fn listen(self, addr: impl ToSocketAddrs) -> NodeBuilder {
        let addr = addr
            .to_socket_addrs()
            .map_err(|error| error.to_string())
            .and_then(|mut addrs| addrs.next().ok_or_else(|| "it resolves to no address".to_owned()));
        NodeBuilder {
            system: self,
            addr,
            tls: None,
            lanes: DEFAULT_LANES,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            max_frame: DEFAULT_MAX_FRAME,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            transport: None,
            endpoint: None,
            socket_buffers: None,
        }
    }
}

/// Settings of a system that talks to other nodes.
///
/// QUIC itself runs on quinn's defaults unless [`transport_config`],
/// [`endpoint_config`] or [`socket_buffers`] say otherwise. Those defaults
/// suit any network: packets start at 1,200 bytes and grow only as far as
/// path MTU discovery finds room, and the congestion window starts small.
/// On loopback, or a network known to carry large datagrams, much larger
/// packets and buffers pay off (courier's remote benchmark uses 16,000-byte
/// packets: `benches/remote/common.rs`); on a real network the same
/// settings would lose packets that exceed a path's MTU, or flood it, so
/// they are left for the application to choose.
///
/// [`transport_config`]: NodeBuilder::transport_config
/// [`endpoint_config`]: NodeBuilder::endpoint_config
/// [`socket_buffers`]: NodeBuilder::socket_buffers
///
/// ```no_run
/// use courier_runtime::System;
/// use courier_transport::{Listen, Tls};
///
/// # async fn start() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = Tls::development("certs".as_ref(), "node-a")?;
/// let system = System::builder().listen("127.0.0.1:0").tls(tls).build()?;
/// println!("listening on {:?}", system.local_addr());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NodeBuilder {
    system: SystemBuilder,
    addr: Result<SocketAddr, String>,
    tls: Option<Tls>,
    lanes: usize,
    queue_limit: usize,
    max_frame: usize,
    idle_timeout: Duration,
    transport: Option<quinn::TransportConfig>,
    endpoint: Option<quinn::EndpointConfig>,
    socket_buffers: Option<usize>,
}

impl NodeBuilder {
    /// The node's identity and the cluster CA it trusts. Required.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// How many lanes (streams) each connection has. Default: 4.
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = lanes.clamp(1, 64);
        self
    }

    /// Bytes queued for one peer before senders wait. Default: 4 MiB.
    pub fn queue_limit(mut self, bytes: usize) -> Self {
        self.queue_limit = bytes.max(1);
        self
    }

    /// The largest frame accepted from a peer; a larger one closes its
    /// stream. Default: 16 MiB.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// How long a silent connection counts as alive. Default: 1 s.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout.max(Duration::from_millis(100));
        self
    }

    /// QUIC transport settings for every connection of this node (packet
    /// sizes, windows, congestion control, acknowledgement frequency), in
    /// place of quinn's defaults. The idle timeout and keep-alive interval
    /// are set on it from [`idle_timeout`](NodeBuilder::idle_timeout)
    /// whatever it says, since they decide how soon a lost node is noticed.
    pub fn transport_config(mut self, config: quinn::TransportConfig) -> Self {
        self.transport = Some(config);
        self
    }

    /// QUIC endpoint settings (such as the largest UDP payload accepted,
    /// which caps the packets the other node may send), in place of
    /// quinn's defaults.
    pub fn endpoint_config(mut self, config: quinn::EndpointConfig) -> Self {
        self.endpoint = Some(config);
        self
    }

    /// The UDP socket's receive and send buffer sizes, as far as the
    /// operating system allows (on Linux, up to `net.core.rmem_max` and
    /// `wmem_max`). Default: the system's. A receive buffer too small for a
    /// burst drops packets, and each loss halves QUIC's congestion window.
    pub fn socket_buffers(mut self, bytes: usize) -> Self {
        self.socket_buffers = Some(bytes);
        self
    }

    /// Starts the node: binds the socket and accepts connections. Must be
    /// called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`NodeError`] when the address, the TLS identity or the socket fails.
    pub fn build(self) -> Result<System, NodeError> {
        let addr = self.addr.map_err(NodeError::Address)?;
        let tls = self.tls.ok_or(NodeError::NoTls)?;
        let transport = Arc::new(transport_config(self.transport.unwrap_or_default(), self.idle_timeout));
        let mut server = tls.server_config()?;
        server.transport_config(transport.clone());
        let mut client = tls.client_config()?;
        client.transport_config(transport);
        let bind = |error| NodeError::Bind { addr, error };
        let socket = udp_socket(addr, self.socket_buffers).map_err(bind)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(bind(std::io::Error::other("no tokio runtime is running")));
        }
        let drivers = Drivers::start();
        let endpoint = drivers
            .make_endpoint(|| {
                quinn::Endpoint::new(self.endpoint.unwrap_or_default(), Some(server), socket, drivers.clone())
            })
            .map_err(bind)?;
        let system = self.system.build();
        let config = Config {
            lanes: self.lanes,
            queue_limit: self.queue_limit,
            max_frame: self.max_frame,
            call_timeout: system.call_timeout(),
        };
        let shared =
            Shared::new(&system, endpoint, drivers, client, config).map_err(|error| NodeError::Bind { addr, error })?;
        tokio::spawn(shared.clone().accept());
        system.install_network(Arc::new(Node(shared)));
        Ok(system)
    }
}

/// A UDP socket bound to `addr`, with buffers of `buffers` bytes if set.
fn udp_socket(addr: SocketAddr, buffers: Option<usize>) -> std::io::Result<std::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    if let Some(bytes) = buffers {
        let state = quinn::udp::UdpSocketState::new((&socket).into())?;
        state.set_recv_buffer_size((&socket).into(), bytes)?;
        state.set_send_buffer_size((&socket).into(), bytes)?;
    }
    Ok(socket)
}

/// `config` with the node's idle timeout and keep-alives.
fn transport_config(mut config: quinn::TransportConfig, idle_timeout: Duration) -> quinn::TransportConfig {
    // Within range by construction: at least 100 ms, and u32 milliseconds
    // cover 49 days.
    let idle = quinn::IdleTimeout::try_from(idle_timeout).unwrap_or(quinn::VarInt::from_u32(30_000).into());
    config.max_idle_timeout(Some(idle));
    config.keep_alive_interval(Some(idle_timeout / 4));
    config
}
