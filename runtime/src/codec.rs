//! How a protocol's requests and responses become bytes and back.
//!
//! `#[courier::actor]` gives every service that is not `local` a [`Codec`]
//! in [`Protocol::CODEC`]: plain function pointers, so the transport can
//! carry any service's messages without being generic over them. Encoding
//! appends the archive to a buffer the caller owns (a transport's send queue
//! takes it in place, no copy); decoding checks the bytes (rkyv's
//! validation) before it trusts them: bytes that are not a valid archive of
//! the expected type are a [`CallError::Protocol`], never undefined
//! behaviour.

use std::fmt;

use rkyv::ser::allocator::{Arena, ArenaHandle};
use rkyv::ser::{Positional, Writer, WriterExt};
use rkyv::util::AlignedVec;
use rkyv::{Archive, Place};

use crate::CallError;
use crate::protocol::Protocol;
use crate::wire_check::{Checked, Wire};

/// Appends the archive of a `T` to the buffer (see [`Archiver`]).
pub type EncodeFn<T> = fn(&T, &mut Archiver, &mut Vec<u8>) -> Result<(), CallError>;

/// Encoders and decoders of one protocol's requests and responses.
pub struct Codec<P: Protocol> {
    /// Appends the archive of a request to the buffer (see [`Archiver`]).
    pub encode_request: EncodeFn<P>,
    /// Checks and reads back an archived request.
    pub decode_request: fn(&[u8]) -> Result<P, CallError>,
    /// Appends the archive of a response to the buffer (see [`Archiver`]).
    pub encode_response: EncodeFn<P::Response>,
    /// Checks and reads back an archived response.
    pub decode_response: fn(&[u8]) -> Result<P::Response, CallError>,
}

impl<P: Protocol> Codec<P> {
    /// `request` archived on its own, aligned to be read back.
    pub fn request_bytes(&self, request: &P) -> Result<AlignedVec, CallError> {
        to_aligned(|archiver, out| (self.encode_request)(request, archiver, out))
    }

    /// `response` archived on its own, aligned to be read back.
    pub fn response_bytes(&self, response: &P::Response) -> Result<AlignedVec, CallError> {
        to_aligned(|archiver, out| (self.encode_response)(response, archiver, out))
    }
}

fn to_aligned(
    encode: impl FnOnce(&mut Archiver, &mut Vec<u8>) -> Result<(), CallError>,
) -> Result<AlignedVec, CallError> {
    let mut out = Vec::new();
    encode(&mut Archiver::new(), &mut out)?;
    let mut aligned = AlignedVec::with_capacity(out.len());
    aligned.extend_from_slice(&out);
    Ok(aligned)
}

impl<P: Protocol> Clone for Codec<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Protocol> Copy for Codec<P> {}

impl<P: Protocol> fmt::Debug for Codec<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Codec<{}>", P::SERVICE)
    }
}

/// What archiving needs besides its output: rkyv's scratch memory, kept
/// from one message to the next (and shrunk back to its largest block each
/// time). Keep one per send queue or per thread.
///
/// An archive appended to a buffer counts its positions from its own first
/// byte, so it reads back wherever it lands once that byte is aligned to 16
/// (as the transport's frames put it).
pub struct Archiver {
    arena: Arena,
}

impl Archiver {
    /// An archiver with rkyv's default scratch memory (1 KiB).
    pub fn new() -> Archiver {
        Archiver { arena: Arena::new() }
    }

    pub(crate) fn arena(&mut self) -> ArenaHandle<'_> {
        self.arena.acquire()
    }
}

impl Default for Archiver {
    fn default() -> Self {
        Archiver::new()
    }
}

impl fmt::Debug for Archiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Archiver").finish_non_exhaustive()
    }
}

/// rkyv's output for an archive appended to a buffer: positions count from
/// where the archive starts, not from the buffer's start. Named in the
/// bound of [`Wire`]; not for use of its own.
#[doc(hidden)]
pub struct Appending<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> Appending<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        Appending { out, start }
    }
}

impl Appending<'_> {
    /// Appends the root of `value`'s archive (its serialized parts, which
    /// `resolver` places, are written already), resolved where it lands.
    ///
    /// rkyv resolves a root on the stack and copies it over; that copy
    /// reads 16 bytes at a time what `resolve` has just written a field at
    /// a time, which the processor cannot forward from its store buffer, so
    /// it waits for the stores to land: measured, half of archiving a small
    /// request. Where the end of the buffer is not at an address aligned
    /// for the archive, rkyv's way is taken.
    ///
    /// # Safety
    ///
    /// As rkyv's `resolve_aligned`: `resolver` must come from serializing
    /// `value` into this writer.
    pub(crate) unsafe fn resolve_root<T: Archive, E>(&mut self, value: &T, resolver: T::Resolver) -> Result<(), E> {
        let pos = self.align_for::<T::Archived>()?;
        let size = size_of::<T::Archived>();
        self.out.reserve(size);
        let end = self.out.spare_capacity_mut().as_mut_ptr().cast::<T::Archived>();
        if !end.is_aligned() {
            // SAFETY: `resolver` is `value`'s (this function's contract),
            // and the position is aligned for the archive (`align_for`).
            unsafe { self.resolve_aligned(value, resolver)? };
            return Ok(());
        }
        // SAFETY: `end` points to `size` bytes of spare capacity (reserved
        // above) at an address aligned for `T::Archived`; they are zeroed
        // before `resolve` writes them, as `Place` asks, and so are all
        // initialized when the length takes them in.
        unsafe {
            end.cast::<u8>().write_bytes(0, size);
            value.resolve(resolver, Place::new_unchecked(pos, end));
            self.out.set_len(self.out.len() + size);
        }
        Ok(())
    }
}

impl Positional for Appending<'_> {
    fn pos(&self) -> usize {
        self.out.len() - self.start
    }
}

impl<E> Writer<E> for Appending<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), E> {
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

/// Archives and reads back a `T`: implemented by `Checked<true>` for every
/// [`Wire`] type. Generated codecs name it as `Checked<{ ..::__WIRE }>`, the
/// conjunction of the service's type checks, so that a service whose types
/// cannot travel gets the checks' one error per type and nothing more.
pub trait Carry<T> {
    /// Appends the archive of `value` to `out`.
    fn encode(value: &T, archiver: &mut Archiver, out: &mut Vec<u8>) -> Result<(), CallError>;
    /// Checks that `bytes` are an archived `T`, then reads it back.
    fn decode(bytes: &[u8]) -> Result<T, CallError>;
}

impl<T: Wire> Carry<T> for Checked<true> {
    fn encode(value: &T, archiver: &mut Archiver, out: &mut Vec<u8>) -> Result<(), CallError> {
        value.encode(archiver, out)
    }

    #[inline(always)]
    fn decode(bytes: &[u8]) -> Result<T, CallError> {
        T::decode(bytes)
    }
}

/// Appends the archive of `value` to `out`; what every generated codec
/// encodes with.
pub fn encode<T, const WIRE: bool>(value: &T, archiver: &mut Archiver, out: &mut Vec<u8>) -> Result<(), CallError>
where
    Checked<WIRE>: Carry<T>,
{
    <Checked<WIRE> as Carry<T>>::encode(value, archiver, out)
}

/// Checks that `bytes` are an archived `T`, then reads it back; what every
/// generated codec decodes with. `bytes` must be aligned to 16 (as the
/// transport's frames are); misaligned bytes are refused, not read.
#[inline(always)]
pub fn decode<T, const WIRE: bool>(bytes: &[u8]) -> Result<T, CallError>
where
    Checked<WIRE>: Carry<T>,
{
    <Checked<WIRE> as Carry<T>>::decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value whose archive has a root with fields of several widths and
    /// parts out of line (a string, a vector).
    #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
    #[rkyv(crate = rkyv)]
    struct Sample {
        tag: u8,
        seq: u64,
        name: String,
        points: Vec<(u32, u16)>,
    }

    fn sample() -> Sample {
        Sample {
            tag: 7,
            seq: 0x0102_0304_0506_0708,
            name: "a name longer than inline".into(),
            points: vec![(1, 2), (3, 4)],
        }
    }

    /// The archive appended at `at` bytes into a buffer, read back from a
    /// copy at an aligned address.
    fn appended_at(at: usize) -> Vec<u8> {
        let mut out = vec![0xEE; at];
        sample().encode(&mut Archiver::new(), &mut out).expect("written");
        let archive = out.split_off(at);
        let mut aligned = AlignedVec::<16>::new();
        aligned.extend_from_slice(&archive);
        assert_eq!(Sample::decode(&aligned).expect("reads back"), sample(), "appended at {at}");
        archive
    }

    #[test]
    fn a_root_resolved_in_place_or_copied_archives_the_same_bytes() {
        let expected = rkyv::to_bytes::<rkyv::rancor::Error>(&sample()).expect("archived");
        // At 0 the root lands aligned and is resolved in place; at 1 its
        // address is off by one, and rkyv's copy is taken.
        for at in [0, 1, 16] {
            assert_eq!(appended_at(at), expected.as_slice(), "appended at {at}");
        }
    }
}
