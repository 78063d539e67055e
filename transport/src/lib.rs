//! The wire of courier: how nodes carry calls to each other.
//!
//! The protocol lives in modules with no sockets, each unit-tested on its
//! own: [`frame`] cuts a byte stream into frames whose archives can be read
//! in place, [`envelope`] validates a frame's header once and routes on it
//! without touching the payload, [`pending`] correlates replies with the
//! calls waiting on them under a clock the driver supplies, and [`backoff`]
//! spaces reconnection attempts.
//!
//! [`tls`] sets up mutual TLS 1.3 between the nodes of one cluster CA, and
//! makes a development CA and node certificates.

pub mod backoff;
pub mod envelope;
pub mod frame;
pub mod pending;
pub mod tls;
