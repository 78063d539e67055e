//! How a protocol's requests and responses become bytes and back.
//!
//! `#[courier::actor]` gives every service that is not `local` a [`Codec`]
//! in [`Protocol::CODEC`]: plain function pointers, so the transport can
//! carry any service's messages without being generic over them. Decoding
//! checks the bytes (rkyv's validation) before it trusts them: bytes that
//! are not a valid archive of the expected type are a
//! [`CallError::Protocol`], never undefined behaviour.

use std::fmt;

use rkyv::util::AlignedVec;

use crate::CallError;
use crate::protocol::Protocol;
use crate::wire_check::{Checked, Wire};

/// Encoders and decoders of one protocol's requests and responses.
pub struct Codec<P: Protocol> {
    /// Archives a request into the given buffer (cleared first).
    pub encode_request: fn(&P, AlignedVec) -> Result<AlignedVec, CallError>,
    /// Checks and reads back an archived request.
    pub decode_request: fn(&[u8]) -> Result<P, CallError>,
    /// Archives a response into the given buffer (cleared first).
    pub encode_response: fn(&P::Response, AlignedVec) -> Result<AlignedVec, CallError>,
    /// Checks and reads back an archived response.
    pub decode_response: fn(&[u8]) -> Result<P::Response, CallError>,
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

/// Archives and reads back a `T`: implemented by `Checked<true>` for every
/// [`Wire`] type. Generated codecs name it as `Checked<{ ..::__WIRE }>`, the
/// conjunction of the service's type checks, so that a service whose types
/// cannot travel gets the checks' one error per type and nothing more.
pub trait Carry<T> {
    /// Archives `value` into `buffer`, cleared first.
    fn encode(value: &T, buffer: AlignedVec) -> Result<AlignedVec, CallError>;
    /// Checks that `bytes` are an archived `T`, then reads it back.
    fn decode(bytes: &[u8]) -> Result<T, CallError>;
}

impl<T: Wire> Carry<T> for Checked<true> {
    fn encode(value: &T, buffer: AlignedVec) -> Result<AlignedVec, CallError> {
        value.encode(buffer)
    }

    fn decode(bytes: &[u8]) -> Result<T, CallError> {
        T::decode(bytes)
    }
}

/// Archives `value` into `buffer` (cleared first); what every generated
/// codec encodes with.
pub fn encode<T, const WIRE: bool>(value: &T, buffer: AlignedVec) -> Result<AlignedVec, CallError>
where
    Checked<WIRE>: Carry<T>,
{
    <Checked<WIRE> as Carry<T>>::encode(value, buffer)
}

/// Checks that `bytes` are an archived `T`, then reads it back; what every
/// generated codec decodes with. `bytes` must be aligned to 16 (as the
/// transport's frames are); misaligned bytes are refused, not read.
pub fn decode<T, const WIRE: bool>(bytes: &[u8]) -> Result<T, CallError>
where
    Checked<WIRE>: Carry<T>,
{
    <Checked<WIRE> as Carry<T>>::decode(bytes)
}
