//! The first exchange on a new connection: who each node is, where it
//! listens, and which services it serves with which fingerprints.
//!
//! The dialer opens a bidirectional stream and sends its [`Hello`]; the
//! acceptor answers with its own on the same stream. Only then are lanes
//! opened and calls sent.

use std::net::SocketAddr;

use rkyv::rancor::Error as RkyvError;
use rkyv::util::AlignedVec;

use crate::envelope::{self, ArchivedKind, Envelope, Header, Kind};
use crate::frame::Decoder;

/// The largest hello accepted: a node serving thousands of names fits.
const MAX_HELLO: usize = 1 << 20;

/// One service served under a name.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Served {
    /// The name it is served under.
    pub name: String,
    /// The service trait's name.
    pub service: String,
    /// The service's fingerprint in the sender's build.
    pub fingerprint: u64,
}

/// A node introducing itself.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Hello {
    /// The node's id: the `node` of its actors' ids.
    pub node: u64,
    /// The address it listens on.
    pub listen: String,
    /// What it serves under names.
    pub served: Vec<Served>,
}

/// Why a hello exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    /// The stream failed or ended early.
    #[error("the hello stream failed: {0}")]
    Stream(String),
    /// The bytes were not a hello.
    #[error("the peer's hello is not valid")]
    Invalid,
}

impl Hello {
    /// The address it listens on, if it parses.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }

    /// Services served by both sides under one service name with different
    /// fingerprints: `(service, ours, theirs)`.
    pub fn mismatches(&self, ours: &[Served]) -> Vec<(String, u64, u64)> {
        let mut found: Vec<(String, u64, u64)> = Vec::new();
        for theirs in &self.served {
            for mine in ours.iter().filter(|mine| mine.service == theirs.service) {
                if mine.fingerprint != theirs.fingerprint && !found.iter().any(|(s, ..)| *s == mine.service) {
                    found.push((mine.service.clone(), mine.fingerprint, theirs.fingerprint));
                }
            }
        }
        found
    }
}

/// Writes `hello` as one frame to `send`.
pub async fn send(send: &mut quinn::SendStream, hello: &Hello) -> Result<(), HelloError> {
    let payload = rkyv::to_bytes::<RkyvError>(hello).map_err(|error| HelloError::Stream(error.to_string()))?;
    let mut wire = Vec::new();
    envelope::write(&Header::control(Kind::Hello, 0), &payload, &mut wire, &mut AlignedVec::new())
        .map_err(|error| HelloError::Stream(error.to_string()))?;
    send.write_all(&wire).await.map_err(|error| HelloError::Stream(error.to_string()))
}

/// Reads one hello frame from `recv`.
pub async fn receive(recv: &mut quinn::RecvStream) -> Result<Hello, HelloError> {
    let mut decoder = Decoder::new(MAX_HELLO);
    loop {
        let chunk = recv
            .read_chunk(MAX_HELLO, true)
            .await
            .map_err(|error| HelloError::Stream(error.to_string()))?
            .ok_or_else(|| HelloError::Stream("the stream ended before the hello".to_owned()))?;
        let mut input = &chunk.bytes[..];
        if let Some(frame) = decoder.decode(&mut input).map_err(|_| HelloError::Invalid)? {
            let envelope = Envelope::check(frame).map_err(|_| HelloError::Invalid)?;
            if envelope.header().kind != ArchivedKind::Hello {
                return Err(HelloError::Invalid);
            }
            return rkyv::from_bytes::<Hello, RkyvError>(envelope.payload()).map_err(|_| HelloError::Invalid);
        }
    }
}
