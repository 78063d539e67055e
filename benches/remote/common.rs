//! What every remote contender shares: the workloads, the message payload,
//! the server process's side of the handshake with the bench (its address on
//! the first line of stdout), its runtime, and the TLS folder.
//!
//! Every workload has a client (this process, timing) and a server (a fresh
//! copy of this binary started with `--serve NAME WORKLOAD TLS_DIR`), so the
//! two ends never share a runtime, an allocator or a scheduler:
//!
//! - `oneway`: one sender, one receiver, `n` messages of [`PAYLOAD_LEN`] bytes
//!   carrying a sequence number on one stream; the receiver checks the order;
//!   then the sender asks for the count, and the clock stops at its answer
//!   (first send to last message received, plus one one-way trip).
//! - `echo` (Proto.Actor's workload): one sender, one remote echo, `n`
//!   messages each answered one-way, at most [`WINDOW`] unanswered at any
//!   time; both directions count (`2n` messages / elapsed).
//! - `rtt`: `n` sequential request/response round trips, each timed: p50 and
//!   p99. The contenders' clients are connected at once and take turns in
//!   blocks of round trips (see [`RoundTrips`]).
//! - `concurrent`: [`REQUESTERS`] tasks on one connection, each making its
//!   share of the requests in sequence: requests per second.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::runtime::Runtime;

pub use crate::local_common::{CpuClock, on_tokio, warmup};

/// Bytes of every message's payload: a little-endian sequence number, then
/// filler.
pub const PAYLOAD_LEN: usize = 32;

/// The echo workload's window: messages sent and not yet echoed, at most.
pub const WINDOW: usize = 1000;

/// Concurrent requesters in the `concurrent` workload.
pub const REQUESTERS: usize = 16;

/// The TLS node names of the two ends (for contenders that use TLS).
pub const SERVER_NODE: &str = "bench-server";
/// See [`SERVER_NODE`].
pub const CLIENT_NODE: &str = "bench-client";

/// The first word of the server's first line on stdout.
const LISTENING: &str = "listening";

/// One of the four workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// One-way messages on one stream, in order.
    Oneway,
    /// Messages echoed one-way, a window in flight.
    Echo,
    /// Sequential round trips, each timed.
    Rtt,
    /// Round trips from [`REQUESTERS`] tasks at once.
    Concurrent,
}

impl Workload {
    /// Every workload, in the order of the table.
    pub const ALL: [Workload; 4] = [Workload::Oneway, Workload::Echo, Workload::Rtt, Workload::Concurrent];

    /// The name used on the command line and in `--workloads`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Oneway => "oneway",
            Workload::Echo => "echo",
            Workload::Rtt => "rtt",
            Workload::Concurrent => "concurrent",
        }
    }

    /// The workload named `name`.
    pub fn parse(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// The server process a client talks to.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    /// The folder of the development CA and both nodes' certificates.
    pub tls_dir: PathBuf,
    /// Its process id (unique among the live servers, so usable in names).
    pub pid: u32,
}

/// The payload of message `seq`.
pub fn payload(seq: u64) -> [u8; PAYLOAD_LEN] {
    let mut payload = [0xAB; PAYLOAD_LEN];
    payload[..8].copy_from_slice(&seq.to_le_bytes());
    payload
}

/// The sequence number at the front of `payload`.
pub fn seq_of(payload: &[u8]) -> u64 {
    let bytes: [u8; 8] = payload.get(..8).and_then(|b| b.try_into().ok()).expect("a payload of at least 8 bytes");
    u64::from_le_bytes(bytes)
}

/// Server side: tells the bench where to connect (the first line of stdout).
pub fn announce(addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{LISTENING} {addr}").and_then(|()| out.flush()).expect("announce the address on stdout");
}

/// Client side: reads what [`announce`] printed.
pub fn parse_announcement(line: &str) -> Option<SocketAddr> {
    line.trim().strip_prefix(LISTENING)?.trim().parse().ok()
}

/// Server side: runs `work` on a tokio multi-thread runtime with two
/// workers, like the client's [`on_tokio`].
pub fn serve_on_tokio(work: impl Future<Output = ()> + Send + 'static) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build tokio runtime");
    rt.block_on(rt.spawn(work)).expect("server task panicked");
    rt.shutdown_background();
}

/// A fresh folder with a development CA and both nodes' identities, made
/// before any server starts (two processes creating the CA at once would
/// race).
pub fn prepare_tls() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("courier-bench-remote-{}", std::process::id()));
    remove_tls(&dir);
    for node in [SERVER_NODE, CLIENT_NODE] {
        courier_transport::tls::Tls::development(&dir, node).expect("a development TLS identity");
    }
    dir
}

/// Removes what [`prepare_tls`] made.
pub fn remove_tls(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            eprintln!("could not remove {}: {error}", dir.display())
        }
        _ => {}
    }
}

/// The value at percentile `p` (0-100, nearest rank) of `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The UDP payload size of every QUIC packet: 16,000 bytes, one datagram per
/// packet, no segmentation offload.
///
/// quinn's cost is per packet (packet handling, AEAD setup, acks, wake-ups),
/// so bigger packets are the lever; loopback carries 64 KiB datagrams. On
/// this machine (raw quinn, 56-byte frames) oneway went from ~6.5M msg/s at
/// quinn's default 1,452 to ~8M at 6,000 (with GSO), ~10M at 16,000 and no
/// more beyond; echo peaked at 16,000 (~10M) and fell to ~7M at 60,000,
/// where its whole window fits one packet and nothing overlaps. quinn hands
/// the kernel up to 10 segments per `sendmsg` with GSO, which cannot exceed
/// 64 KiB, so packets over 6,500 bytes need segmentation offload off.
pub const PACKET: u16 = 16_000;

/// The QUIC transport settings of every quinn-based contender (give the
/// same to the server's and the client's config), so that they compare on
/// the same ground. Apart from these, quinn's defaults (stream and
/// connection receive windows, send window: CPU, not flow control, is the
/// limit on loopback; larger windows only queued more).
///
/// - Packets of [`PACKET`] bytes from the first one (`min_mtu` too, so a
///   loss burst cannot drop the connection to 1,200 for good), no MTU
///   discovery, no segmentation offload (see [`PACKET`]).
/// - An initial congestion window of 10 such packets: quinn's default,
///   14,720 bytes, is less than one packet, and nothing would be sent.
/// - The peer asked to acknowledge every 10 ack-eliciting packets instead of
///   every 2 (ACK frequency extension): echo gained ~10%, oneway nothing.
pub fn transport_config() -> quinn::TransportConfig {
    let mut config = quinn::TransportConfig::default();
    config.initial_mtu(PACKET).min_mtu(PACKET).mtu_discovery_config(None).enable_segmentation_offload(false);
    let mut cubic = quinn::congestion::CubicConfig::default();
    cubic.initial_window(10 * u64::from(PACKET));
    config.congestion_controller_factory(std::sync::Arc::new(cubic));
    let mut acks = quinn::AckFrequencyConfig::default();
    acks.ack_eliciting_threshold(10u32.into());
    config.ack_frequency_config(Some(acks));
    config
}

/// The endpoint settings that go with [`transport_config`]: packets of
/// [`PACKET`] bytes accepted (quinn's default, 1,472, caps what the peer
/// sends).
pub fn endpoint_config() -> quinn::EndpointConfig {
    let mut config = quinn::EndpointConfig::default();
    config.max_udp_payload_size(PACKET).expect("a valid UDP payload size");
    config
}

/// Socket buffers of every quinn endpoint: 4 MiB each way, as far as the
/// kernel allows (`net.core.rmem_max` / `wmem_max`, 4 MiB here). With the
/// default 208 KiB the receiver's socket overflowed during oneway bursts
/// (thousands of `RcvbufErrors` per run), the losses cut the congestion
/// window, and oneway fell from ~10M to ~6M msg/s.
pub const SOCKET_BUFFER: usize = 4 << 20;

/// A loopback UDP socket on a free port with [`SOCKET_BUFFER`]-byte
/// buffers, for `quinn::Endpoint::new` with [`endpoint_config`].
pub fn udp_socket() -> std::net::UdpSocket {
    let socket = std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("a loopback UDP socket");
    let state = quinn::udp::UdpSocketState::new((&socket).into()).expect("a UDP socket state");
    state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER).expect("set the receive buffer size");
    state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER).expect("set the send buffer size");
    socket
}

/// A contender's `rtt` client, connected and warmed up, that times round
/// trips a block at a time.
///
/// Round-trip times drift with the machine's state by more than the
/// contenders differ (raw quinn's p50 moved between 50 and 65 µs from one
/// run of the bench to the next within an hour, while courier's and raw
/// quinn's differ by about 8 to 10 µs), so the bench does not time all of
/// one contender's round trips and then the next one's: every contender's
/// client stays connected and they take turns, a block of round trips
/// each, so that a drift touches them all alike.
pub trait RoundTrips {
    /// Makes one round trip per number of `seqs`, in order, each timed.
    fn time(&mut self, seqs: Range<u64>) -> Vec<Duration>;
    /// Closes the connection and stops the client's runtime.
    fn close(self: Box<Self>);
}

/// A client kept between blocks of work on a runtime of its own (the one
/// [`on_tokio`] makes), its work run as a task as [`on_tokio`] runs it.
pub struct Kept<S> {
    rt: Runtime,
    client: Option<S>,
}

impl<S: Send + 'static> Kept<S> {
    /// Makes the client with `connect` on a fresh runtime.
    pub fn connect(connect: impl Future<Output = S> + Send + 'static) -> Kept<S> {
        let rt = crate::local_common::runtime();
        let client = rt.block_on(rt.spawn(connect)).expect("the client's connecting task panicked");
        Kept { rt, client: Some(client) }
    }

    /// Runs `work` with the client as a task; `work` hands the client back
    /// with its result.
    pub fn run<T, F>(&mut self, work: impl FnOnce(S) -> F) -> T
    where
        T: Send + 'static,
        F: Future<Output = (S, T)> + Send + 'static,
    {
        let client = self.client.take().expect("a client is kept between blocks");
        let (client, out) = self.rt.block_on(self.rt.spawn(work(client))).expect("a benchmark task panicked");
        self.client = Some(client);
        out
    }

    /// Closes the client with `close` and stops the runtime.
    pub fn close<F: Future<Output = ()> + Send + 'static>(mut self, close: impl FnOnce(S) -> F) {
        let client = self.client.take().expect("a client is kept between blocks");
        self.rt.block_on(self.rt.spawn(close(client))).expect("the client's closing task panicked");
        self.rt.shutdown_background();
    }
}
