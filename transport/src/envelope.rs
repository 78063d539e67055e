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
//!
//! A frame that goes the same way as the full header before it on its
//! stream may instead carry a 16- or 24-byte compact header that leaves the
//! route out ([`write_on`]); [`EnvelopeRef::check_on`] reads it with the
//! route its stream remembers ([`StreamRoute`]).

mod compact;
mod layout;

use std::time::Duration;

use courier_runtime::ActorId;
use courier_runtime::remote::{ArchivedHop, Hop, Incoming};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error as RkyvError;
use rkyv::util::AlignedVec;
use rkyv::vec::ArchivedVec;

pub use self::compact::{ArchivedCompact, COMPACT_HEADER_LEN, PlainTell, Route, StreamRoute, write_on, write_tell};
use self::compact::{COMPACT, check_compact, compact_budget, compact_fixed};
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
    head: Head<'a>,
}

/// A validated header, read in place: a full one, or a compact one and the
/// route of the full header before it on its stream.
#[derive(Debug, Clone, Copy)]
enum Head<'a> {
    Full(&'a ArchivedHeader),
    Compact(&'a ArchivedCompact, Route),
}

impl<'a> EnvelopeRef<'a> {
    /// Validates `frame`'s header, once; a compact header is refused, as
    /// there is no stream to take its route from.
    pub fn check(frame: FrameRef<'a>) -> Result<EnvelopeRef<'a>, EnvelopeError> {
        EnvelopeRef::check_on(frame, &mut StreamRoute::default())
    }

    /// Validates `frame`'s header, once, as the next frame of the stream
    /// whose last full header `stream` remembers: a compact header takes its
    /// route from there, and a full one replaces it. A header that is not
    /// valid makes `stream` forget its route, so that the compact frames
    /// after it are refused too rather than sent where they may not belong.
    pub fn check_on(frame: FrameRef<'a>, stream: &mut StreamRoute) -> Result<EnvelopeRef<'a>, EnvelopeError> {
        let bytes = frame.header();
        let checked = if bytes.get(1).is_some_and(|flags| flags & COMPACT != 0) {
            match stream.last {
                Some(route) => check_compact(bytes).map(|compact| Head::Compact(compact, route)),
                None => Err(EnvelopeError::InvalidHeader),
            }
        } else {
            // SAFETY: `fixed` is reached only once `check_header` accepted
            // these very bytes, borrowed unchanged for `'a`.
            check_header(bytes).map(|()| Head::Full(unsafe { fixed(bytes) }))
        };
        match checked {
            Ok(head) => {
                if let Head::Full(header) = head {
                    stream.last = Route::of_archived(header);
                }
                Ok(EnvelopeRef { frame, head })
            }
            Err(error) => {
                stream.forget();
                Err(error)
            }
        }
    }

    /// Whether the header was compact (its route taken from the stream).
    pub fn is_compact(&self) -> bool {
        matches!(self.head, Head::Compact(..))
    }

    /// A full header's fixed part, read in place; `None` for a compact one.
    pub fn full_header(&self) -> Option<&'a ArchivedHeader> {
        match self.head {
            Head::Full(header) => Some(header),
            Head::Compact(..) => None,
        }
    }

    /// What the frame carries.
    pub fn kind(&self) -> Kind {
        match self.head {
            Head::Full(header) => header.kind,
            Head::Compact(header, _) => header.kind,
        }
    }

    /// The request this frame starts or answers; 0 when none.
    pub fn request(&self) -> u64 {
        match self.head {
            Head::Full(header) => header.request.to_native(),
            Head::Compact(header, _) => header.request.to_native(),
        }
    }

    /// The method id within the service.
    pub fn method(&self) -> u32 {
        match self.head {
            Head::Full(header) => header.method.to_native(),
            Head::Compact(header, _) => header.method.to_native(),
        }
    }

    /// The service, by the hash of its name.
    pub fn service(&self) -> u64 {
        match self.head {
            Head::Full(header) => header.service.to_native(),
            Head::Compact(_, route) => route.service,
        }
    }

    /// The sender's fingerprint of the service.
    pub fn fingerprint(&self) -> u64 {
        match self.head {
            Head::Full(header) => header.fingerprint.to_native(),
            Head::Compact(_, route) => route.fingerprint,
        }
    }

    /// The calling actor, if the call came from one.
    pub fn sender(&self) -> Option<ActorId> {
        match self.head {
            Head::Full(header) => header.sender.get(),
            Head::Compact(_, route) => route.sender,
        }
    }

    /// Time the call had left when it was sent, in microseconds; `None` for
    /// a one-way request.
    pub fn budget_micros(&self) -> Option<u64> {
        match self.head {
            Head::Full(header) => header.budget_micros(),
            Head::Compact(header, _) => compact_budget(self.frame.header(), header),
        }
    }

    /// [`budget_micros`](EnvelopeRef::budget_micros) as a duration.
    pub fn budget(&self) -> Option<Duration> {
        self.budget_micros().map(Duration::from_micros)
    }

    /// Where the frame goes.
    pub fn target(&self) -> TargetRef<'a> {
        match self.head {
            Head::Full(header) => header.target.get(),
            Head::Compact(_, Route { actor: Some(seq), .. }) => TargetRef::Actor(seq),
            Head::Compact(_, Route { actor: None, .. }) => TargetRef::Node,
        }
    }

    /// The actors waiting on this call, outermost first, read in place.
    pub fn chain(&self) -> &'a [ArchivedHop] {
        let Head::Full(header) = self.head else { return &[] };
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

    /// A request's header and payload as its actor's service reads them,
    /// with one look at the kind of header (where the accessors above take
    /// one each).
    pub fn incoming(&self) -> Incoming<'a> {
        let payload = self.payload();
        match self.head {
            Head::Compact(header, route) => Incoming {
                request: (header.kind == Kind::Call).then(|| header.request.to_native()),
                method: header.method.to_native(),
                fingerprint: route.fingerprint,
                sender: route.sender,
                chain: &[],
                budget: compact_budget(self.frame.header(), header).map(Duration::from_micros),
                payload,
            },
            Head::Full(header) => Incoming {
                request: (header.kind == Kind::Call).then(|| header.request.to_native()),
                method: header.method.to_native(),
                fingerprint: header.fingerprint.to_native(),
                sender: header.sender.get(),
                chain: self.chain(),
                budget: header.budget_micros().map(Duration::from_micros),
                payload,
            },
        }
    }
}

/// A frame whose header has been validated, owning its bytes.
#[derive(Debug)]
pub struct Envelope {
    frame: Frame,
    /// For a compact header, the route it was read with.
    route: Option<Route>,
}

impl Envelope {
    /// Validates `frame`'s header, once; a compact header is refused.
    pub fn check(frame: Frame) -> Result<Envelope, EnvelopeError> {
        Envelope::check_on(frame, &mut StreamRoute::default())
    }

    /// Validates `frame`'s header, once, as the next frame of the stream
    /// `stream` describes (see [`EnvelopeRef::check_on`]).
    pub fn check_on(frame: Frame, stream: &mut StreamRoute) -> Result<Envelope, EnvelopeError> {
        let route = match EnvelopeRef::check_on(frame.view(), stream)?.head {
            Head::Full(_) => None,
            Head::Compact(_, route) => Some(route),
        };
        Ok(Envelope { frame, route })
    }

    /// The envelope, borrowed.
    pub fn view(&self) -> EnvelopeRef<'_> {
        let bytes = self.frame.header();
        // SAFETY: `check_on` validated these bytes as the kind of header
        // `route` says, and they are owned unchanged since.
        let head = match self.route {
            None => Head::Full(unsafe { fixed(bytes) }),
            Some(route) => Head::Compact(unsafe { compact_fixed(bytes) }, route),
        };
        EnvelopeRef { frame: self.frame.view(), head }
    }

    /// What the frame carries.
    pub fn kind(&self) -> Kind {
        self.view().kind()
    }

    /// The request this frame starts or answers; 0 when none.
    pub fn request(&self) -> u64 {
        self.view().request()
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
    write_with(header, out, scratch, |out: &mut Vec<u8>| {
        out.extend_from_slice(payload);
        Ok(())
    })
}

/// Appends the frame of `header` to `out`, its payload archived in place by
/// `payload` (see [`frame::encode_with`]); as [`write()`] otherwise. If the
/// header or the payload fails, `out` is left as it was.
pub fn write_with<E: From<EnvelopeError>>(
    header: &Header,
    out: &mut Vec<u8>,
    scratch: &mut AlignedVec,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    // The target as its tag (at `TARGET_AT`), the `u32` after the tag's
    // padding (a name's offset, counted from `NAME_AT`) and the `u64` after
    // that (an actor's sequence number, or a name's length).
    let (tag, after_tag, last, name): (u8, u32, u64, &[u8]) = match &header.target {
        Target::Node => (0, 0, 0, &[]),
        Target::Actor(seq) => (1, 0, *seq, &[]),
        Target::Name(name) => {
            let Ok(len) = u32::try_from(name.len()) else {
                return Err(EnvelopeError::Write("a target name over 4 GiB".into()).into());
            };
            (2, (FIXED_HEADER_LEN - NAME_AT) as u32, u64::from(len), name.as_bytes())
        }
    };
    let sender = match header.sender {
        Some(actor) if actor.seq == 0 => return Err(EnvelopeError::Write("actor sequence number 0".into()).into()),
        Some(actor) => actor,
        None => ActorId { node: 0, seq: 0 },
    };
    let mut flags = 0;
    let budget = header.budget_micros.inspect(|_| flags |= HAS_BUDGET).unwrap_or(0);
    if !header.chain.is_empty() {
        flags |= HAS_CHAIN;
    }
    // Made of words, not written a byte at a time into an array: see
    // `frame::encode_fixed`.
    const _: () = assert!(TARGET_AT == 16 && NAME_AT == 20 && FIXED_HEADER_LEN == 72);
    let fixed: [u64; FIXED_HEADER_LEN / 8] = [
        u64::from(header.kind as u8) | u64::from(flags) << 8 | u64::from(header.method) << 32,
        header.request,
        u64::from(tag) | u64::from(after_tag) << 32,
        last,
        header.service,
        header.fingerprint,
        sender.node,
        sender.seq,
        budget,
    ];
    if name.is_empty() && header.chain.is_empty() {
        // Every frame but lookups, calls by name and nested calls.
        return frame::encode_fixed(fixed, out, payload);
    }
    let mut whole = Vec::with_capacity(FIXED_HEADER_LEN + name.len());
    for word in fixed {
        whole.extend_from_slice(&word.to_le_bytes());
    }
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
    frame::encode_with(&whole, out, payload)
}

#[cfg(test)]
mod tests;
