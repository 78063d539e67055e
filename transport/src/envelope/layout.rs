//! The fixed part of a frame's header as it lies in memory, and its check:
//! see the [parent module](super) for the layout.

use std::time::Duration;

use courier_runtime::remote::ArchivedHop;
use courier_runtime::{ActorId, ArchivedActorId};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::{Error as RkyvError, Failure, Fallible};
use rkyv::rend::{u32_le, u64_le};
use rkyv::vec::ArchivedVec;

use super::{EnvelopeError, Kind};
use crate::frame::ALIGN;

/// The bytes of [`ArchivedHeader`], before anything of variable length.
pub const FIXED_HEADER_LEN: usize = 72;

/// The header carries a budget.
pub(super) const HAS_BUDGET: u8 = 1;
/// A call chain follows the name.
pub(super) const HAS_CHAIN: u8 = 1 << 1;
const KNOWN_FLAGS: u8 = HAS_BUDGET | HAS_CHAIN;

/// Where [`ArchivedTarget`] sits in the header.
pub(super) const TARGET_AT: usize = 16;
/// Where a name's offset (counted from here) sits in the header.
pub(super) const NAME_AT: usize = TARGET_AT + 4;

/// The fixed part of a frame's header, read in place once validated (the
/// `envelope` module describes the layout). It can only be reached through
/// an [`EnvelopeRef`](super::EnvelopeRef) or [`Envelope`](super::Envelope)
/// whose header passed their `check`.
#[derive(Debug, CheckBytes)]
#[bytecheck(crate = rkyv::bytecheck)]
#[repr(C)]
pub struct ArchivedHeader {
    /// What the frame carries.
    pub kind: Kind,
    flags: u8,
    reserved: [u8; 2],
    /// The method id within the service.
    pub method: u32_le,
    /// The request this frame starts or answers; 0 when none.
    pub request: u64_le,
    /// Where the frame goes.
    pub target: ArchivedTarget,
    /// The service, by the hash of its name.
    pub service: u64_le,
    /// The sender's fingerprint of the service.
    pub fingerprint: u64_le,
    /// The calling actor, if the call came from one.
    pub sender: ArchivedSender,
    budget: u64_le,
}

// The layout the module documentation describes, and that `write` lays out.
const _: () = assert!(size_of::<ArchivedHeader>() == FIXED_HEADER_LEN && align_of::<ArchivedHeader>() <= ALIGN);
const _: () = assert!(
    std::mem::offset_of!(ArchivedHeader, target) == TARGET_AT
        && std::mem::offset_of!(ArchivedHeader, service) == 32
        && std::mem::offset_of!(ArchivedHeader, sender) == 48
        && std::mem::offset_of!(ArchivedHeader, budget) == 64
);

impl ArchivedHeader {
    /// Time the call had left when it was sent, in microseconds; `None` for
    /// a one-way request.
    pub fn budget_micros(&self) -> Option<u64> {
        (self.flags & HAS_BUDGET != 0).then(|| self.budget.to_native())
    }

    /// [`budget_micros`](ArchivedHeader::budget_micros) as a duration.
    pub fn budget(&self) -> Option<Duration> {
        self.budget_micros().map(Duration::from_micros)
    }

    /// Whether an archived call chain follows the name.
    pub(super) fn has_chain(&self) -> bool {
        self.flags & HAS_CHAIN != 0
    }

    /// Where the chain starts in the header, if there is one.
    pub(super) fn chain_offset(&self) -> usize {
        (FIXED_HEADER_LEN + self.target.name_len()).next_multiple_of(ALIGN)
    }
}

/// The actor a frame is for, read in place.
#[derive(Debug, CheckBytes)]
#[bytecheck(crate = rkyv::bytecheck)]
#[repr(u8)]
pub enum ArchivedTarget {
    /// No actor: the connection itself.
    Node,
    /// An actor by its sequence number on the receiving node.
    Actor(u64_le),
    /// An actor by the name it is served under.
    Name(ArchivedName),
}

impl ArchivedTarget {
    fn name_len(&self) -> usize {
        match self {
            ArchivedTarget::Name(name) => name.len.to_native() as usize,
            _ => 0,
        }
    }
}

/// A target's name, read in place: it follows the header's fixed part.
#[repr(C)]
pub struct ArchivedName {
    /// From this field to the name's first byte.
    offset: u32_le,
    len: u32_le,
}

// SAFETY: any bytes are a structurally valid `ArchivedName`; where the name
// lies and that it is UTF-8 is checked with the rest of the header, before
// any `ArchivedHeader` is handed out.
unsafe impl<C: Fallible + ?Sized> CheckBytes<C> for ArchivedName {
    unsafe fn check_bytes(_: *const Self, _: &mut C) -> Result<(), C::Error> {
        Ok(())
    }
}

impl std::ops::Deref for ArchivedName {
    type Target = str;

    fn deref(&self) -> &str {
        let start = (&raw const *self).cast::<u8>();
        // SAFETY: an `ArchivedName` is only ever reached inside a header that
        // `check_header` accepted, which checked that these bytes lie within
        // it and are UTF-8; and it is never copied out (no `Clone`).
        unsafe {
            let bytes = std::slice::from_raw_parts(start.add(self.offset.to_native() as usize), self.len());
            std::str::from_utf8_unchecked(bytes)
        }
    }
}

impl ArchivedName {
    fn len(&self) -> usize {
        self.len.to_native() as usize
    }
}

impl std::fmt::Debug for ArchivedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// The calling actor of a frame, read in place; none is written as the
/// actor id 0 (no actor has sequence number 0).
#[derive(Debug, CheckBytes)]
#[bytecheck(crate = rkyv::bytecheck)]
#[repr(transparent)]
pub struct ArchivedSender(ArchivedActorId);

impl ArchivedSender {
    /// The actor, if there is one.
    pub fn as_ref(&self) -> Option<&ArchivedActorId> {
        (self.0.seq != 0).then_some(&self.0)
    }

    /// The actor, if there is one.
    pub fn get(&self) -> Option<ActorId> {
        self.as_ref().map(ActorId::from)
    }
}

/// Where a frame goes, borrowed from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRef<'a> {
    /// The connection itself.
    Node,
    /// An actor by its sequence number.
    Actor(u64),
    /// An actor by the name it is served under.
    Name(&'a str),
}

impl ArchivedTarget {
    /// The target, borrowed.
    pub fn get(&self) -> TargetRef<'_> {
        match self {
            ArchivedTarget::Node => TargetRef::Node,
            ArchivedTarget::Actor(seq) => TargetRef::Actor(seq.to_native()),
            ArchivedTarget::Name(name) => TargetRef::Name(name),
        }
    }
}

/// Checks `bytes` (a header at a 16-byte-aligned address) once: the fixed
/// part by bytecheck, then what its flags and target announce.
pub(super) fn check_header(bytes: &[u8]) -> Result<(), EnvelopeError> {
    let invalid = |_| EnvelopeError::InvalidHeader;
    if bytes.len() < FIXED_HEADER_LEN || bytes.as_ptr().align_offset(align_of::<ArchivedHeader>()) != 0 {
        return Err(EnvelopeError::InvalidHeader);
    }
    // SAFETY: `bytes` holds at least `size_of::<ArchivedHeader>()` bytes, at
    // an address aligned for it.
    unsafe { ArchivedHeader::check_bytes(bytes.as_ptr().cast(), rkyv::rancor::Strategy::wrap(&mut ())) }
        .map_err(|_: Failure| EnvelopeError::InvalidHeader)?;
    // SAFETY: checked just above; the name is checked below before anyone
    // reads it.
    let header = unsafe { fixed(bytes) };
    let (flags, zero) = (header.flags, |field: &u64_le| field.to_native() == 0);
    let sender_none = header.sender.0.seq == 0;
    let target_fields = &bytes[TARGET_AT + 1..TARGET_AT + 16];
    let consistent = flags & !KNOWN_FLAGS == 0
        && header.reserved == [0, 0]
        && (flags & HAS_BUDGET != 0 || zero(&header.budget))
        && (!sender_none || zero(&header.sender.0.node))
        && match &header.target {
            ArchivedTarget::Node => target_fields.iter().all(|&b| b == 0),
            ArchivedTarget::Actor(_) => target_fields[..7].iter().all(|&b| b == 0),
            ArchivedTarget::Name(name) => {
                target_fields[..3].iter().chain(&target_fields[11..]).all(|&b| b == 0)
                    && name.offset.to_native() as usize == FIXED_HEADER_LEN - NAME_AT
            }
        };
    if !consistent {
        return Err(EnvelopeError::InvalidHeader);
    }
    let name_end = FIXED_HEADER_LEN + header.target.name_len();
    let name = bytes.get(FIXED_HEADER_LEN..name_end).ok_or(EnvelopeError::InvalidHeader)?;
    std::str::from_utf8(name).map_err(|_| EnvelopeError::InvalidHeader)?;
    if flags & HAS_CHAIN == 0 {
        return if bytes.len() == name_end { Ok(()) } else { Err(EnvelopeError::InvalidHeader) };
    }
    let padding = bytes.get(name_end..header.chain_offset()).ok_or(EnvelopeError::InvalidHeader)?;
    let chain = &bytes[header.chain_offset()..];
    if padding.iter().any(|&b| b != 0) || chain.is_empty() {
        return Err(EnvelopeError::InvalidHeader);
    }
    rkyv::access::<ArchivedVec<ArchivedHop>, RkyvError>(chain).map_err(invalid)?;
    Ok(())
}

/// The fixed part of a header at the front of `bytes`.
///
/// # Safety
///
/// `bytes` must have passed [`check_header`] (or, inside it, its bytecheck
/// pass).
pub(super) unsafe fn fixed(bytes: &[u8]) -> &ArchivedHeader {
    // SAFETY: the caller's promise.
    unsafe { &*bytes.as_ptr().cast::<ArchivedHeader>() }
}
