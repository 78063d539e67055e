//! Envelopes: a frame whose header is validated once and then read in place.
//!
//! The header says what the frame is and where it goes; the payload (the
//! archived request, response or error) is opaque here and is checked only
//! by the actor or caller that knows its type. A receiver routes on the
//! header without touching the payload.
//!
//! The header is laid out by hand rather than archived by rkyv's
//! serializer: a frame carries a few integers, and rkyv's layout of
//! [`Header`] (options and enums, each padded to 8 bytes, plus the root
//! pointer) took 112 bytes where this one takes 80, writing it took rkyv's
//! arena per frame, and on loopback QUIC's cost is per byte. Its fixed part
//! is one `repr(C)` struct, [`ArchivedHeader`], checked by bytecheck and
//! read in place; what varies follows it:
//!
//! ```text
//! 0   kind u8 | flags u8 | 0 u16 | method u32
//! 8   request u64
//! 16  target: tag u8, then an actor's seq (u64 at 24), or a name's offset
//!     from byte 20 and length (u32 at 20, u32 at 24)
//! 32  service u64
//! 40  fingerprint u64
//! 48  sender node u64 | 56 sender seq u64 (both 0: no sender)
//! 64  budget in microseconds u64 (0 unless flagged)
//! 72  the target's name (UTF-8), if any
//!     zero padding to a multiple of 16, then the archived call chain
//!     (rkyv `Vec<Hop>`), if flagged
//! ```
//!
//! All integers are little-endian. A field that the flags or the target's
//! tag say is absent must be zero, and nothing may follow what they
//! announce, so that a header has exactly one encoding.

mod layout;

use courier_runtime::ActorId;
use courier_runtime::remote::{ArchivedHop, Hop};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error as RkyvError;
use rkyv::util::AlignedVec;
use rkyv::vec::ArchivedVec;

pub use self::layout::{ArchivedHeader, ArchivedName, ArchivedSender, ArchivedTarget, FIXED_HEADER_LEN, TargetRef};
use self::layout::{HAS_BUDGET, HAS_CHAIN, NAME_AT, TARGET_AT, check_header, fixed};
use crate::frame::{self, ALIGN, Frame, FrameRef};

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, CheckBytes)]
#[bytecheck(crate = rkyv::bytecheck)]
#[repr(u8)]
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

/// [`Kind`] as read in place from a header: the same one-byte enum.
pub type ArchivedKind = Kind;

/// The actor a frame is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// No actor: hellos, replies and failures go to the connection itself.
    Node,
    /// An actor by its sequence number on the receiving node (a ref that
    /// travelled in a message).
    Actor(u64),
    /// An actor registered for remote access under this name.
    Name(String),
}

/// The routing part of every frame, as a sender writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The header's bytes are not a valid header.
    #[error("a frame's header is not valid")]
    InvalidHeader,
    /// The header or payload could not be written.
    #[error("a frame could not be written: {0}")]
    Write(String),
}

/// A frame whose header has been validated, borrowed from the decoder that
/// read it: the receive path routes on it without copying anything.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeRef<'a> {
    frame: FrameRef<'a>,
}

impl<'a> EnvelopeRef<'a> {
    /// Validates `frame`'s header, once.
    pub fn check(frame: FrameRef<'a>) -> Result<EnvelopeRef<'a>, EnvelopeError> {
        check_header(frame.header())?;
        Ok(EnvelopeRef { frame })
    }

    /// The header's fixed part, read in place.
    pub fn header(&self) -> &'a ArchivedHeader {
        // SAFETY: `check` validated these very bytes, and they are borrowed
        // unchanged for `'a`.
        unsafe { fixed(self.frame.header()) }
    }

    /// Where the frame goes.
    pub fn target(&self) -> TargetRef<'a> {
        self.header().target.get()
    }

    /// The actors waiting on this call, outermost first, read in place.
    pub fn chain(&self) -> &'a [ArchivedHop] {
        let header = self.header();
        if !header.has_chain() {
            return &[];
        }
        let bytes = &self.frame.header()[header.chain_offset()..];
        // SAFETY: `check` validated these bytes as an archived `Vec<Hop>`.
        unsafe { rkyv::access_unchecked::<ArchivedVec<ArchivedHop>>(bytes) }.as_slice()
    }

    /// The payload's archive, aligned, not yet validated.
    pub fn payload(&self) -> &'a [u8] {
        self.frame.payload()
    }
}

/// A frame whose header has been validated, owning its bytes.
#[derive(Debug)]
pub struct Envelope {
    frame: Frame,
}

impl Envelope {
    /// Validates `frame`'s header, once.
    pub fn check(frame: Frame) -> Result<Envelope, EnvelopeError> {
        check_header(frame.header())?;
        Ok(Envelope { frame })
    }

    /// The envelope, borrowed.
    pub fn view(&self) -> EnvelopeRef<'_> {
        // Validated by `check`, and owned unchanged since.
        EnvelopeRef { frame: self.frame.view() }
    }

    /// The header's fixed part, read in place.
    pub fn header(&self) -> &ArchivedHeader {
        self.view().header()
    }

    /// Where the frame goes.
    pub fn target(&self) -> TargetRef<'_> {
        self.view().target()
    }

    /// The actors waiting on this call, outermost first, read in place.
    pub fn chain(&self) -> &[ArchivedHop] {
        self.view().chain()
    }

    /// The payload's archive, aligned, not yet validated.
    pub fn payload(&self) -> &[u8] {
        self.frame.payload()
    }
}

/// The 12 bytes after a target's tag and padding, for an actor: 4 zero bytes
/// (the actor's `u64` is aligned to 8), then the sequence number.
fn pad_front(seq: [u8; 8]) -> [u8; 12] {
    let mut fields = [0; 12];
    fields[4..].copy_from_slice(&seq);
    fields
}

/// Appends the frame of `header` and an already-archived `payload` to `out`.
/// `scratch` holds the chain's archive on the way, when there is one; a
/// writer keeps one and passes it to every call, so framing allocates
/// nothing per message.
pub fn write(
    header: &Header,
    payload: &[u8],
    out: &mut Vec<u8>,
    scratch: &mut AlignedVec,
) -> Result<(), EnvelopeError> {
    let (tag, target, name): (u8, [u8; 12], &[u8]) = match &header.target {
        Target::Node => (0, [0; 12], &[]),
        Target::Actor(seq) => (1, pad_front(seq.to_le_bytes()), &[]),
        Target::Name(name) => {
            let len = u32::try_from(name.len()).map_err(|_| EnvelopeError::Write("a target name over 4 GiB".into()))?;
            let mut fields = [0; 12];
            fields[..4].copy_from_slice(&((FIXED_HEADER_LEN - NAME_AT) as u32).to_le_bytes());
            fields[4..8].copy_from_slice(&len.to_le_bytes());
            (2, fields, name.as_bytes())
        }
    };
    let sender = match header.sender {
        Some(actor) if actor.seq == 0 => return Err(EnvelopeError::Write("actor sequence number 0".into())),
        Some(actor) => actor,
        None => ActorId { node: 0, seq: 0 },
    };
    let mut flags = 0;
    let budget = header.budget_micros.inspect(|_| flags |= HAS_BUDGET).unwrap_or(0);
    if !header.chain.is_empty() {
        flags |= HAS_CHAIN;
    }
    let mut fixed = [0u8; FIXED_HEADER_LEN];
    fixed[0] = header.kind as u8;
    fixed[1] = flags;
    fixed[4..8].copy_from_slice(&header.method.to_le_bytes());
    fixed[8..16].copy_from_slice(&header.request.to_le_bytes());
    fixed[TARGET_AT] = tag;
    fixed[TARGET_AT + 4..TARGET_AT + 16].copy_from_slice(&target);
    for (at, value) in
        [(32, header.service), (40, header.fingerprint), (48, sender.node), (56, sender.seq), (64, budget)]
    {
        fixed[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }
    if name.is_empty() && header.chain.is_empty() {
        // Every frame but lookups, calls by name and nested calls.
        frame::encode(&fixed, payload, out);
        return Ok(());
    }
    let mut whole = Vec::with_capacity(FIXED_HEADER_LEN + name.len());
    whole.extend_from_slice(&fixed);
    whole.extend_from_slice(name);
    if !header.chain.is_empty() {
        let mut buffer = std::mem::take(scratch);
        buffer.clear();
        let buffer = rkyv::api::high::to_bytes_in::<_, RkyvError>(&header.chain, buffer)
            .map_err(|error| EnvelopeError::Write(error.to_string()))?;
        whole.resize(whole.len().next_multiple_of(ALIGN), 0);
        whole.extend_from_slice(&buffer);
        *scratch = buffer;
    }
    frame::encode(&whole, payload, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

    fn header_bytes(header: &Header) -> Vec<u8> {
        let mut wire = Vec::new();
        write(header, b"", &mut wire, &mut AlignedVec::new()).expect("written");
        one_frame(&wire).header().to_vec()
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
        let second = decoder.next(&mut input).expect("a frame").expect("whole");
        assert_eq!(first.view(), second);
        let envelope = Envelope::check(one_frame(&wire)).expect("a valid header");
        let header = envelope.header();
        assert_eq!(header.kind, ArchivedKind::Call);
        assert_eq!(header.request, 42);
        let route = (header.service.to_native(), header.fingerprint.to_native(), header.method.to_native());
        assert_eq!(route, (service_key("ChatRoom"), 3, 7));
        assert_eq!(header.sender.get(), Some(ActorId { node: 1, seq: 2 }));
        assert!(matches!(&header.target, ArchivedTarget::Name(name) if &**name == "lobby"));
        assert_eq!(header.budget(), Some(Duration::from_secs(5)));
        assert_eq!(envelope.target(), TargetRef::Name("lobby"));
        assert_eq!(envelope.chain()[0].label, "client");
        let back = rkyv::from_bytes::<(u64, String), RkyvError>(envelope.payload()).expect("the payload");
        assert_eq!(back, (7, "hello".to_owned()));
    }

    #[test]
    fn every_target_and_option_reads_back() {
        let tell = Header { target: Target::Actor(9), ..Header::control(Kind::Tell, 0) };
        for header in [tell, Header::control(Kind::Reply, 5), call()] {
            let mut wire = Vec::new();
            write(&header, &[1; 20], &mut wire, &mut AlignedVec::new()).expect("written");
            let frame = one_frame(&wire);
            let envelope = EnvelopeRef::check(frame.view()).expect("valid");
            let read = envelope.header();
            assert_eq!((read.kind, read.request.to_native()), (header.kind, header.request));
            assert_eq!((read.sender.get(), read.budget_micros()), (header.sender, header.budget_micros));
            let target = match &header.target {
                Target::Node => TargetRef::Node,
                Target::Actor(seq) => TargetRef::Actor(*seq),
                Target::Name(name) => TargetRef::Name(name),
            };
            assert_eq!(envelope.target(), target);
            assert_eq!(envelope.chain().len(), header.chain.len());
            assert_eq!(envelope.payload(), &[1; 20]);
        }
        let mut wire = Vec::new();
        write(&Header::control(Kind::Reply, 5), &[1; 20], &mut wire, &mut AlignedVec::new()).expect("written");
        assert_eq!(wire.len(), frame::PREFIX_LEN + 80 + 20, "the fixed part, padded to 16");
    }

    #[test]
    fn a_header_of_garbage_is_refused() {
        let mut wire = Vec::new();
        frame::encode(&[0xff; 40], b"", &mut wire);
        assert_eq!(Envelope::check(one_frame(&wire)).map(|_| ()), Err(EnvelopeError::InvalidHeader));
    }

    #[test]
    fn a_header_has_one_encoding() {
        let tell = header_bytes(&Header { target: Target::Actor(9), ..Header::control(Kind::Tell, 0) });
        let check = |bytes: &[u8]| {
            let mut wire = Vec::new();
            frame::encode(bytes, b"", &mut wire);
            Envelope::check(one_frame(&wire)).map(|_| ())
        };
        assert_eq!(check(&tell), Ok(()));
        for (at, value) in [(0, 10), (1, 4), (1, 1 << 7), (2, 1), (17, 1), (48, 1), (64, 1), (16, 3)] {
            let mut bad = tell.clone();
            bad[at] = value;
            assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "byte {at} = {value}");
        }
        let mut longer = tell.clone();
        longer.push(0);
        assert_eq!(check(&longer), Err(EnvelopeError::InvalidHeader), "bytes after the header");
        let name = header_bytes(&Header { target: Target::Name("ab".to_owned()), ..Header::control(Kind::Call, 1) });
        assert_eq!(check(&name), Ok(()));
        let mut bad = name.clone();
        bad[FIXED_HEADER_LEN] = 0xff;
        assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "a name that is not UTF-8");
        let mut bad = name.clone();
        bad[NAME_AT] += 1;
        assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "a name elsewhere");
        let mut bad = name;
        bad[NAME_AT + 4] = 3;
        assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "a name longer than the header");
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
                let _ = (header.request, header.sender.get(), envelope.chain().len(), format!("{:?}", header.target));
            }
        }

        /// A valid header with bytes flipped: refused or still readable.
        #[test]
        fn corrupted_headers_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            let mut header = header_bytes(&call());
            for (at, bits) in flips {
                let len = header.len();
                header[at % len] ^= bits;
            }
            let mut wire = Vec::new();
            frame::encode(&header, b"", &mut wire);
            if let Ok(envelope) = Envelope::check(one_frame(&wire)) {
                let _ = (format!("{:?}", envelope.header()), envelope.target(), envelope.chain().len());
            }
        }
    }
}
