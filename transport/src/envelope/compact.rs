//! Compact headers: a frame that goes the same way as the full header before
//! it on its stream leaves the route out.
//!
//! Every (sender, target) pair is hashed onto one stream and frames keep
//! their order within it, so a run of frames on a stream mostly repeats one
//! route (target, service, fingerprint, sender). A writer that wrote a full
//! header on a stream may mark the next frames with the same route compact
//! and write only what changes per frame:
//!
//! ```text
//! 0   kind u8 | flags u8 (COMPACT, and HAS_BUDGET if any) | 0 u16 | method u32
//! 8   request u64
//! 16  budget in microseconds u64, only if flagged
//! ```
//!
//! 16 or 24 bytes instead of 72, so the payload starts at byte 16 or 32 of
//! the body instead of 80: a frame of a 32-byte payload shrinks from 120 to
//! 56 bytes on the wire. A compact frame carries no call chain and never
//! follows a frame addressed by name; a hello is always full.
//!
//! The reader keeps the route of the last full header per stream
//! ([`StreamRoute`]) and fills it in. A compact frame with no full header
//! before it on its stream, or after a frame that failed its check, is not
//! valid: a route is never guessed.

use courier_runtime::ActorId;
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Failure;
use rkyv::rend::{u32_le, u64_le};

use super::layout::{ArchivedHeader, ArchivedTarget, HAS_BUDGET};
use super::{EnvelopeError, Header, Kind, Target};
use crate::frame;

/// The header leaves the route out: it is the one of the last full header
/// on the stream.
pub(super) const COMPACT: u8 = 1 << 2;

/// The bytes of a compact header without a budget.
pub const COMPACT_HEADER_LEN: usize = 16;

/// The fixed part of a compact header, read in place once validated.
#[derive(Debug, CheckBytes)]
#[bytecheck(crate = rkyv::bytecheck)]
#[repr(C)]
pub struct ArchivedCompact {
    /// What the frame carries.
    pub kind: Kind,
    flags: u8,
    reserved: [u8; 2],
    /// The method id within the service.
    pub method: u32_le,
    /// The request this frame starts or answers; 0 when none.
    pub request: u64_le,
}

// The layout the module documentation describes, and that `write` lays out.
const _: () =
    assert!(size_of::<ArchivedCompact>() == COMPACT_HEADER_LEN && align_of::<ArchivedCompact>() <= frame::ALIGN);

impl ArchivedCompact {
    /// Whether a budget follows.
    pub(super) fn has_budget(&self) -> bool {
        self.flags & HAS_BUDGET != 0
    }
}

/// Where a frame goes and on whose behalf: what a compact header leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The actor's sequence number; `None` for the connection itself.
    pub(super) actor: Option<u64>,
    pub(super) service: u64,
    pub(super) fingerprint: u64,
    pub(super) sender: Option<ActorId>,
}

impl Route {
    /// The route of a request to actor `actor`'s service `service` (as the
    /// sender's build has it, `fingerprint`) on behalf of `sender`.
    pub fn to_actor(actor: u64, service: u64, fingerprint: u64, sender: Option<ActorId>) -> Route {
        Route { actor: Some(actor), service, fingerprint, sender }
    }

    /// The route of `header`; `None` for a target by name, which a compact
    /// header cannot repeat.
    fn of(header: &Header) -> Option<Route> {
        let actor = match header.target {
            Target::Node => None,
            Target::Actor(seq) => Some(seq),
            Target::Name(_) => return None,
        };
        Some(Route { actor, service: header.service, fingerprint: header.fingerprint, sender: header.sender })
    }

    /// The route of a validated full header, as [`Route::of`].
    pub(super) fn of_archived(header: &ArchivedHeader) -> Option<Route> {
        let actor = match &header.target {
            ArchivedTarget::Node => None,
            ArchivedTarget::Actor(seq) => Some(seq.to_native()),
            ArchivedTarget::Name(_) => return None,
        };
        let (service, fingerprint) = (header.service.to_native(), header.fingerprint.to_native());
        Some(Route { actor, service, fingerprint, sender: header.sender.get() })
    }
}

/// The route of the last full header on one stream, as its writer and its
/// reader each keep it. A writer starts afresh ([`StreamRoute::default`])
/// with every batch it hands to a stream, so that no batch depends on one
/// written before it; a reader keeps one per stream for the stream's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamRoute {
    pub(super) last: Option<Route>,
}

impl StreamRoute {
    /// Forgets the route: the next frame is written, or must be read, full.
    pub fn forget(&mut self) {
        self.last = None;
    }

    /// The shortcut of the receive path for the common frame: when `header`
    /// is a compact header that [`EnvelopeRef::check_on`](super::EnvelopeRef::check_on)
    /// would accept as a one-way request without a budget to an actor, its
    /// method and where it goes. `None` for any other header, which is then
    /// checked in full.
    pub fn plain_tell(&self, header: &[u8]) -> Option<(u32, PlainTell)> {
        let Some(Route { actor: Some(actor), service, fingerprint, sender }) = self.last else { return None };
        let bytes: &[u8; COMPACT_HEADER_LEN] = header.try_into().ok()?;
        let [kind, flags, 0, 0, m0, m1, m2, m3, ..] = *bytes else { return None };
        let plain = kind == Kind::Tell as u8 && flags == COMPACT;
        plain.then_some((u32::from_le_bytes([m0, m1, m2, m3]), PlainTell { actor, service, fingerprint, sender }))
    }
}

/// Where a one-way request read by [`StreamRoute::plain_tell`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainTell {
    /// The target actor's sequence number.
    pub actor: u64,
    /// The service, by the hash of its name.
    pub service: u64,
    /// The sender's fingerprint of the service.
    pub fingerprint: u64,
    /// The sending actor, if any.
    pub sender: Option<ActorId>,
}

/// Appends `header`'s frame to `out` with a compact header if `stream`'s
/// last full header has the same route, and a full one otherwise (see
/// [`write_with`](super::write_with)), which `stream` then remembers. The
/// payload appends itself, in place (see [`frame::encode_with`]); if the
/// header or the payload fails, `out` and `stream` are left as they were.
pub fn write_on<E: From<EnvelopeError>>(
    header: &Header,
    out: &mut Vec<u8>,
    scratch: &mut rkyv::util::AlignedVec,
    stream: &mut StreamRoute,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let route = Route::of(header);
    let compact = header.kind != Kind::Hello && header.chain.is_empty() && route.is_some() && route == stream.last;
    if !compact {
        super::write_with(header, out, scratch, payload)?;
        stream.last = route;
        return Ok(());
    }
    write_compact(header.kind, header.method, header.request, header.budget_micros, out, payload)
}

/// Appends a one-way request (no chain, no budget) for `route` to `out`, as
/// [`write_on`] would write it, without a [`Header`] made first unless the
/// route differs from the last (the common case of a run of messages from
/// one sender to one actor costs a comparison and a 16-byte header).
#[inline(always)]
pub fn write_tell<E: From<EnvelopeError>>(
    route: Route,
    method: u32,
    out: &mut Vec<u8>,
    scratch: &mut rkyv::util::AlignedVec,
    stream: &mut StreamRoute,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    if stream.last != Some(route) {
        let Route { actor, service, fingerprint, sender } = route;
        let target = actor.map_or(Target::Node, Target::Actor);
        let header = Header {
            kind: Kind::Tell,
            request: 0,
            target,
            service,
            fingerprint,
            method,
            sender,
            chain: Vec::new(),
            budget_micros: None,
        };
        return write_on(&header, out, scratch, stream, payload);
    }
    write_compact(Kind::Tell, method, 0, None, out, payload)
}

/// Appends a frame with a compact header, its payload written by
/// `payload` (see [`frame::encode_fixed`]).
#[inline(always)]
fn write_compact<E>(
    kind: Kind,
    method: u32,
    request: u64,
    budget: Option<u64>,
    out: &mut Vec<u8>,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    // Made of words, not written a byte at a time into an array: see
    // `frame::encode_fixed`.
    const _: () = assert!(COMPACT_HEADER_LEN == 16);
    let first = u64::from(kind as u8) | u64::from(COMPACT) << 8 | u64::from(method) << 32;
    let Some(budget) = budget else { return frame::encode_fixed([first, request], out, payload) };
    frame::encode_fixed([first | u64::from(HAS_BUDGET) << 8, request, budget], out, payload)
}

/// Checks `bytes` (a header at a 16-byte-aligned address whose flags say
/// compact) once: the fixed part by bytecheck, then that it says nothing
/// else than a compact header may, in exactly its bytes.
pub(super) fn check_compact(bytes: &[u8]) -> Result<&ArchivedCompact, EnvelopeError> {
    if bytes.len() < COMPACT_HEADER_LEN || bytes.as_ptr().align_offset(align_of::<ArchivedCompact>()) != 0 {
        return Err(EnvelopeError::InvalidHeader);
    }
    // SAFETY: `bytes` holds at least `size_of::<ArchivedCompact>()` bytes,
    // at an address aligned for it.
    unsafe { ArchivedCompact::check_bytes(bytes.as_ptr().cast(), rkyv::rancor::Strategy::wrap(&mut ())) }
        .map_err(|_: Failure| EnvelopeError::InvalidHeader)?;
    // SAFETY: checked just above.
    let header = unsafe { compact_fixed(bytes) };
    let len = COMPACT_HEADER_LEN + if header.has_budget() { 8 } else { 0 };
    let valid = header.flags & !(COMPACT | HAS_BUDGET) == 0
        && header.reserved == [0, 0]
        && header.kind != Kind::Hello
        && bytes.len() == len;
    if valid { Ok(header) } else { Err(EnvelopeError::InvalidHeader) }
}

/// The budget of a compact header that passed [`check_compact`], in
/// microseconds, if it carries one.
pub(super) fn compact_budget(bytes: &[u8], header: &ArchivedCompact) -> Option<u64> {
    if !header.has_budget() {
        return None;
    }
    // Present: `check_compact` held the header to 24 bytes when flagged.
    let budget = bytes.get(COMPACT_HEADER_LEN..COMPACT_HEADER_LEN + 8)?;
    Some(u64::from_le_bytes(budget.try_into().ok()?))
}

/// The compact header at the front of `bytes`.
///
/// # Safety
///
/// `bytes` must have passed [`check_compact`] (or, inside it, its
/// bytecheck pass).
pub(super) unsafe fn compact_fixed(bytes: &[u8]) -> &ArchivedCompact {
    // SAFETY: the caller's promise.
    unsafe { &*bytes.as_ptr().cast::<ArchivedCompact>() }
}
