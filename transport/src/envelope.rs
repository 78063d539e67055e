//! Envelopes: a frame whose header is validated once and then read in place.
//!
//! The header says what the frame is and where it goes; the payload (the
//! archived request, response or error) is opaque here and is checked only
//! by the actor or caller that knows its type. A receiver routes on the
//! header without touching the payload.

use courier_runtime::ActorId;
use courier_runtime::remote::Hop;
use rkyv::rancor::Error as RkyvError;
use rkyv::util::AlignedVec;

use crate::frame::{self, Frame};

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub enum Kind {
    /// The first frame of a connection: the sender's node id and services.
    Hello,
    /// A request that expects a reply under `request`.
    Call,
    /// A one-way request.
    Tell,
    /// The reply to `request`: the archived response.
    Reply,
    /// The failure of `request`: an archived `CallError`.
    Failure,
    /// A lookup of the actor served under the target's name, for the
    /// header's service and fingerprint; answered by a `Reply` carrying the
    /// archived `ActorId`, or a `Failure`.
    Resolve,
    /// A request to spawn an actor of the kind the target names, served for
    /// the header's service and fingerprint; answered like `Resolve`.
    Spawn,
    /// Asks to be told when the target actor is gone (`Terminated`).
    Watch,
    /// Withdraws a `Watch` of the target actor.
    Unwatch,
    /// The sender's actor (the header's `sender`) is gone; the payload is
    /// the archived [`ExitReason`](courier_runtime::ExitReason).
    Terminated,
}

/// The actor a frame is for.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub enum Target {
    /// No actor: hellos, replies and failures go to the connection itself.
    Node,
    /// An actor by its sequence number on the receiving node (a ref that
    /// travelled in a message).
    Actor(u64),
    /// An actor registered for remote access under this name.
    Name(String),
}

/// The routing part of every frame.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct Header {
    /// What the frame carries.
    pub kind: Kind,
    /// The request this frame starts or answers; 0 when none.
    pub request: u64,
    /// Where it goes.
    pub target: Target,
    /// The service, by the hash of its name
    /// ([`service_key`](courier_runtime::service_key)).
    pub service: u64,
    /// The sender's fingerprint of the service: a call between builds whose
    /// traits differ fails instead of decoding garbage.
    pub fingerprint: u64,
    /// The method id within the service.
    pub method: u32,
    /// The calling actor, if the call came from one.
    pub sender: Option<ActorId>,
    /// The actors waiting on this call, innermost last.
    pub chain: Vec<Hop>,
    /// Time left before the call's deadline when it was sent, in
    /// microseconds; `None` for a one-way request. A relative budget, not a
    /// clock reading: nodes' clocks need not agree.
    pub budget_micros: Option<u64>,
}

impl Header {
    /// A frame for the connection itself (a hello, a reply, a failure):
    /// no service, no sender, no chain, no deadline.
    pub fn control(kind: Kind, request: u64) -> Header {
        Header {
            kind,
            request,
            target: Target::Node,
            service: 0,
            fingerprint: 0,
            method: 0,
            sender: None,
            chain: Vec::new(),
            budget_micros: None,
        }
    }
}

/// Why a frame is not an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The header's bytes are not a valid archived [`Header`].
    #[error("a frame's header is not valid")]
    InvalidHeader,
    /// The header or payload could not be written.
    #[error("a frame could not be written: {0}")]
    Write(String),
}

/// A frame whose header has been validated.
#[derive(Debug)]
pub struct Envelope {
    frame: Frame,
}

impl Envelope {
    /// Validates `frame`'s header, once.
    pub fn check(frame: Frame) -> Result<Envelope, EnvelopeError> {
        rkyv::access::<ArchivedHeader, RkyvError>(frame.header()).map_err(|_| EnvelopeError::InvalidHeader)?;
        Ok(Envelope { frame })
    }

    /// The header, read in place.
    pub fn header(&self) -> &ArchivedHeader {
        // SAFETY: `check` validated these very bytes as an `ArchivedHeader`,
        // and the frame is owned by `self` and never changed.
        unsafe { rkyv::access_unchecked::<ArchivedHeader>(self.frame.header()) }
    }

    /// The payload's archive, aligned, not yet validated.
    pub fn payload(&self) -> &[u8] {
        self.frame.payload()
    }
}

/// Appends the frame of `header` and an already-archived `payload` to `out`.
/// `scratch` holds the header's archive on the way; a writer keeps one and
/// passes it to every call, so framing allocates nothing per message.
pub fn write(
    header: &Header,
    payload: &[u8],
    out: &mut Vec<u8>,
    scratch: &mut AlignedVec,
) -> Result<(), EnvelopeError> {
    let mut buffer = std::mem::take(scratch);
    buffer.clear();
    let buffer = rkyv::api::high::to_bytes_in::<_, RkyvError>(header, buffer)
        .map_err(|error| EnvelopeError::Write(error.to_string()))?;
    frame::encode(&buffer, payload, out);
    *scratch = buffer;
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use courier_runtime::service_key;

    use super::*;
    use crate::frame::{DEFAULT_MAX_FRAME, Decoder};

    fn call() -> Header {
        Header {
            kind: Kind::Call,
            request: 42,
            target: Target::Name("lobby".to_owned()),
            service: service_key("ChatRoom"),
            fingerprint: 3,
            method: 7,
            sender: Some(ActorId { node: 1, seq: 2 }),
            chain: vec![Hop { actor: ActorId { node: 1, seq: 2 }, label: "client".to_owned() }],
            budget_micros: Some(5_000_000),
        }
    }

    fn one_frame(wire: &[u8]) -> Frame {
        let mut input = wire;
        Decoder::new(DEFAULT_MAX_FRAME).decode(&mut input).expect("a frame").expect("whole")
    }

    #[test]
    fn the_header_is_read_in_place_and_the_payload_left_alone() {
        let payload = rkyv::to_bytes::<RkyvError>(&(7u64, "hello".to_owned())).expect("archived");
        let (mut wire, mut scratch) = (Vec::new(), AlignedVec::new());
        write(&call(), &payload, &mut wire, &mut scratch).expect("written");
        // The scratch buffer is reused: a second frame reads back the same.
        write(&call(), &payload, &mut wire, &mut scratch).expect("written again");
        let mut input = &wire[..];
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        let first = decoder.decode(&mut input).expect("a frame").expect("whole");
        let second = decoder.decode(&mut input).expect("a frame").expect("whole");
        assert_eq!(first, second);
        let envelope = Envelope::check(one_frame(&wire)).expect("a valid header");
        let header = envelope.header();
        assert_eq!(header.kind, ArchivedKind::Call);
        assert_eq!(header.request, 42);
        assert!(matches!(&header.target, ArchivedTarget::Name(name) if name == "lobby"));
        assert_eq!(header.chain[0].label, "client");
        let back = rkyv::from_bytes::<(u64, String), RkyvError>(envelope.payload()).expect("the payload");
        assert_eq!(back, (7, "hello".to_owned()));
    }

    #[test]
    fn a_header_of_garbage_is_refused() {
        let mut wire = Vec::new();
        frame::encode(&[0xff; 40], b"", &mut wire);
        assert_eq!(Envelope::check(one_frame(&wire)).map(|_| ()), Err(EnvelopeError::InvalidHeader));
    }

    proptest! {
        /// Any header bytes: refused or accepted, never a panic; an accepted
        /// header can be read whole.
        #[test]
        fn arbitrary_headers_never_panic(header in proptest::collection::vec(any::<u8>(), 1..256)) {
            let mut wire = Vec::new();
            frame::encode(&header, b"", &mut wire);
            if let Ok(envelope) = Envelope::check(one_frame(&wire)) {
                let header = envelope.header();
                let _ = (header.request, header.chain.len(), format!("{:?}", header.target));
            }
        }

        /// A valid header with bytes flipped: refused or still readable.
        #[test]
        fn corrupted_headers_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            let header = rkyv::to_bytes::<RkyvError>(&call()).expect("archived");
            let mut header = header.to_vec();
            for (at, bits) in flips {
                let len = header.len();
                header[at % len] ^= bits;
            }
            let mut wire = Vec::new();
            frame::encode(&header, b"", &mut wire);
            if let Ok(envelope) = Envelope::check(one_frame(&wire)) {
                let _ = format!("{:?}", envelope.header());
            }
        }
    }
}
