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
//!   p99.
//! - `concurrent`: [`REQUESTERS`] tasks on one connection, each making its
//!   share of the requests in sequence: requests per second.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
