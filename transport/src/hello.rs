//! The first exchange on a new connection: who each node is, where it
//! listens, and which services it serves with which fingerprints.
//!
//! The dialer opens a bidirectional stream and sends its [`Hello`]; the
//! acceptor answers with its own on the same stream. Only then are lanes
//! opened and calls sent.
//!
//! A hello's frame header carries the sender's wire version
//! ([`WIRE_VERSION`]) in its method field, which is read before the payload:
//! whatever the other build's hello looks like, nodes of different versions
//! refuse each other with [`HelloError::Version`], naming both, rather than
//! misreading each other's frames.

use std::net::SocketAddr;

use rkyv::rancor::Error as RkyvError;
use rkyv::util::AlignedVec;

use crate::envelope::{self, ArchivedKind, Envelope, Header, Kind};
use crate::frame::{Decoder, Frame};

/// The version of the wire this build speaks, sent in every hello. It
/// changes whenever one build would misread another's frames; version 1
/// brought compact headers, version 2 the address of a ref's node. Builds
/// from before hellos carried a version send 0 there.
pub const WIRE_VERSION: u32 = 2;

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
    /// The other node speaks another version of the wire.
    #[error("the other node speaks wire version {theirs}, this node speaks wire version {ours}")]
    Version {
        /// This node's version ([`WIRE_VERSION`]).
        ours: u32,
        /// The other node's.
        theirs: u32,
    },
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

/// The frame of `hello` (prefix included), as a node of wire version
/// `version` writes it.
pub fn encode(hello: &Hello, version: u32) -> Result<Vec<u8>, HelloError> {
    let payload = rkyv::to_bytes::<RkyvError>(hello).map_err(|error| HelloError::Stream(error.to_string()))?;
    let header = Header { method: version, ..Header::control(Kind::Hello, 0) };
    let mut wire = Vec::new();
    envelope::write(&header, &payload, &mut wire, &mut AlignedVec::new())
        .map_err(|error| HelloError::Stream(error.to_string()))?;
    Ok(wire)
}

/// The hello in `frame`, if it is one from a node of this wire version.
pub fn decode(frame: Frame) -> Result<Hello, HelloError> {
    let envelope = Envelope::check(frame).map_err(|_| HelloError::Invalid)?;
    if envelope.kind() != ArchivedKind::Hello {
        return Err(HelloError::Invalid);
    }
    // Before the payload: another version's hello may not read as ours.
    let theirs = envelope.view().method();
    if theirs != WIRE_VERSION {
        return Err(HelloError::Version { ours: WIRE_VERSION, theirs });
    }
    rkyv::from_bytes::<Hello, RkyvError>(envelope.payload()).map_err(|_| HelloError::Invalid)
}

/// Writes `hello` as one frame to `send`.
pub async fn send(send: &mut quinn::SendStream, hello: &Hello) -> Result<(), HelloError> {
    let wire = encode(hello, WIRE_VERSION)?;
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
            return decode(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::DEFAULT_MAX_FRAME;

    fn hello() -> Hello {
        let served = vec![Served { name: "lobby".to_owned(), service: "ChatRoom".to_owned(), fingerprint: 3 }];
        Hello { node: 7, listen: "127.0.0.1:4000".to_owned(), served }
    }

    fn read(wire: &[u8]) -> Result<Hello, HelloError> {
        let mut input = wire;
        let frame = Decoder::new(DEFAULT_MAX_FRAME).decode(&mut input).expect("a frame").expect("whole");
        decode(frame)
    }

    #[test]
    fn a_hello_of_this_version_reads_back() {
        let wire = encode(&hello(), WIRE_VERSION).expect("encoded");
        assert_eq!(read(&wire).expect("accepted"), hello());
    }

    #[test]
    fn a_hello_of_another_version_is_refused_naming_both() {
        for theirs in [0, WIRE_VERSION + 1] {
            let wire = encode(&hello(), theirs).expect("encoded");
            let error = read(&wire).expect_err("refused");
            assert!(matches!(error, HelloError::Version { ours: WIRE_VERSION, theirs: t } if t == theirs), "{error:?}");
            let message = error.to_string();
            assert!(message.contains(&format!("version {theirs}")), "{message}");
            assert!(message.contains(&format!("version {WIRE_VERSION}")), "{message}");
        }
    }

    #[test]
    fn a_frame_that_is_not_a_hello_is_invalid() {
        let mut wire = Vec::new();
        let header = Header { method: WIRE_VERSION, ..Header::control(Kind::Reply, 0) };
        envelope::write(&header, &[], &mut wire, &mut AlignedVec::new()).expect("written");
        assert!(matches!(read(&wire), Err(HelloError::Invalid)));
    }
}
