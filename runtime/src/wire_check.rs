//! A compile-time check that a message's types can cross the wire.
//!
//! `#[courier::actor]` (unless `local`) writes each argument and result type
//! `T` in the request and response enums as
//! `<T as Checked<{ <T as Wire>::WIRE }>>::Type`, which is `T` itself. When
//! `T` cannot be serialized the const argument fails to compile, so the user
//! gets one error at their own type that names it and says how to fix it
//! ([`Wire`]'s `on_unimplemented`). The failed const then makes the field's
//! type an error, and the compiler stays quiet about the same type inside
//! rkyv's derives instead of repeating the failure there a dozen times.
//!
//! The bounds of [`Wire`] are what rkyv's high-level API (`to_bytes`,
//! `from_bytes` with `rancor::Error`) asks of a value.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

/// A type that can travel in a message: rkyv serializes it, checks its
/// archived bytes and deserializes it back.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent in a message: it does not implement rkyv's `Archive`, `Serialize` and `Deserialize`",
    label = "not serializable",
    note = "derive them on your type (and on the types it holds): `#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]`",
    note = "without a direct rkyv 0.8 dependency, use courier's: `courier::__private::rkyv::Archive` etc. and `#[rkyv(crate = courier::__private::rkyv)]`",
    note = "or, if this service never leaves the process, write `#[actor(local)]` on the service trait"
)]
pub trait Wire {
    /// Always `true`: naming it asks the compiler to prove `Self: Wire`.
    const WIRE: bool = true;
}

// Not recommended, so an error names the user's type and `Wire`, not the
// rkyv bound that failed deep inside it.
#[diagnostic::do_not_recommend]
impl<T> Wire for T
where
    T: Archive + for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, Error>>,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, Error>> + Deserialize<T, HighDeserializer<Error>>,
{
}

/// `T` itself, once `WIRE` has compiled: see the module docs.
pub trait Checked<const WIRE: bool> {
    /// `Self`.
    type Type: ?Sized;
}

impl<T: ?Sized> Checked<true> for T {
    type Type = T;
}
