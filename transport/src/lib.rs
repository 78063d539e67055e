//! The wire of courier: how nodes carry calls to each other.
//!
//! A node is a [`System`](courier_runtime::System) built with
//! [`Listen::listen`] and a [`Tls`] identity: a QUIC endpoint whose
//! connections are mutually authenticated against one cluster CA. Refs to
//! actors on other nodes are called like local ones; see
//! [`System::remote`](courier_runtime::System::remote) and
//! [`System::serve`](courier_runtime::System::serve).
//!
//! The protocol lives in modules with no sockets, each unit-tested on its
//! own: [`frame`] cuts a byte stream into frames whose archives can be read
//! in place, [`envelope`] validates a frame's header once and routes on it
//! without touching the payload, [`lanes`] queues and batches frames per
//! stream, [`pending`] correlates replies with the calls waiting on them
//! under a clock the driver supplies, and [`backoff`] spaces reconnection
//! attempts. The driver around them (one connection per pair of nodes,
//! lanes, readers, reconnection) is in the private modules; quinn's
//! connection drivers, the lanes' writers and the stream readers share one
//! task, so that a call's wake-ups stay on one tokio worker.
//!
//! [`tls`] sets up mutual TLS 1.3 between the nodes of one cluster CA, and
//! makes a development CA and node certificates.

pub use courier_runtime::backoff;
mod builder;
mod connection;
mod control;
mod drivers;
pub mod envelope;
pub mod frame;
pub mod hello;
mod inbound;
pub mod lanes;
mod node;
mod peer;
pub mod pending;
mod stats;
pub mod tls;
mod watches;

pub use builder::{DEFAULT_IDLE_TIMEOUT, DEFAULT_LANES, Listen, NodeBuilder, NodeError};
pub use tls::{Tls, TlsError};
