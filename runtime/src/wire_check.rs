//! A compile-time check that a message's types can cross the wire.
//!
//! `#[courier::actor]` (unless `local`) marks each argument and result field
//! `T` of the request and response enums
//! `#[rkyv(with = Checked<{ <T as Wire>::WIRE }>)]`. When `T` cannot be
//! serialized the const argument fails to compile, so the user gets one
//! error at their own type that names it and says how to fix it ([`Wire`]'s
//! `on_unimplemented`). The failed const then makes the wrapper type an
//! error, and the compiler stays quiet about the field inside rkyv's derives
//! instead of repeating the failure there a dozen times.
//!
//! `#[derive(courier::Message)]` does the same for the fields of a user's
//! type, through [`WireField`].
//!
//! The bounds of [`Wire`] are what rkyv's high-level API (`to_bytes`,
//! `from_bytes` with `rancor::Error`) asks of a value.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::{Error, Fallible, Strategy};
use rkyv::ser::Serializer;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::ser::sharing::Share;
use rkyv::with::{ArchiveWith, DeserializeWith, SerializeWith};
use rkyv::{Archive, Deserialize, Place, Serialize};

use crate::CallError;
use crate::chain::short_type_name;
use crate::codec::{Appending, Archiver};

/// A type that can travel in a message: rkyv serializes it, checks its
/// archived bytes and deserializes it back.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent in a message: it does not implement rkyv's `Archive`, `Serialize` and `Deserialize`",
    label = "not serializable",
    note = "derive `courier::Message` on `{Self}` or, if it already does or is a standard type, on the types of yours it holds (`Vec<Point>` needs it on `Point`)",
    note = "a type from another crate must implement rkyv 0.8's traits there, or be wrapped in a type of yours that derives `courier::Message`",
    note = "or, if this service never leaves the process, write `#[actor(local)]` on the service trait"
)]
pub trait Wire: Sized {
    /// Always `true`: naming it asks the compiler to prove `Self: Wire`.
    const WIRE: bool = true;

    /// Appends the archive of `self` to `out` (see [`Archiver`]); on error
    /// `out` may hold part of it.
    fn encode(&self, archiver: &mut Archiver, out: &mut Vec<u8>) -> Result<(), CallError>;

    /// Checks that `bytes` (aligned to 16) are an archived `Self`, then
    /// reads it back; bytes that are not are refused, never trusted.
    fn decode(bytes: &[u8]) -> Result<Self, CallError>;
}

// Not recommended, so an error names the user's type and `Wire`, not the
// rkyv bound that failed deep inside it.
#[diagnostic::do_not_recommend]
impl<T> Wire for T
where
    T: Archive + for<'a, 'b> Serialize<HighSerializer<Appending<'b>, ArenaHandle<'a>, Error>>,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, Error>> + Deserialize<T, HighDeserializer<Error>>,
{
    fn encode(&self, archiver: &mut Archiver, out: &mut Vec<u8>) -> Result<(), CallError> {
        let mut serializer = Serializer::new(Appending::new(out), archiver.arena(), Share::new());
        // What `rkyv::api::serialize_using` does, but with the root
        // resolved in place (see `Appending::resolve_root`).
        self.serialize(Strategy::<_, Error>::wrap(&mut serializer))
            // SAFETY: the resolver comes from serializing `self` into this
            // serializer's writer, just above.
            .and_then(|resolver| unsafe { serializer.writer.resolve_root::<T, Error>(self, resolver) })
            .map_err(|error| CallError::Protocol {
                detail: format!("a `{}` could not be written: {error}", short_type_name::<T>()),
            })
    }

    #[inline(always)]
    fn decode(bytes: &[u8]) -> Result<T, CallError> {
        // What `rkyv::from_bytes` does, inlined with the deserialization
        // into the caller, so that the value is built where it is used.
        let archived = rkyv::access::<T::Archived, Error>(bytes).map_err(|_| invalid::<T>())?;
        let mut pool = rkyv::de::Pool::new();
        archived.deserialize(Strategy::<_, Error>::wrap(&mut pool)).map_err(|_| invalid::<T>())
    }
}

/// The error of bytes that are not an archived `T`: out of line, so that
/// the decoding inlined into its callers stays small.
#[cold]
#[inline(never)]
fn invalid<T>() -> CallError {
    CallError::Protocol { detail: format!("the bytes are not a valid `{}`", short_type_name::<T>()) }
}

/// A field type of a `#[derive(courier::Message)]` type that can travel in
/// a message: [`Wire`], with an error that speaks of the field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be carried in a message: it does not implement rkyv's `Archive`, `Serialize` and `Deserialize`",
    label = "this field cannot be carried",
    note = "derive `courier::Message` on `{Self}` or, if it already does or is a standard type, on the types of yours it holds (`Vec<Point>` needs it on `Point`)",
    note = "a type from another crate must implement rkyv 0.8's traits there, or be wrapped in a type of yours that derives `courier::Message`"
)]
pub trait WireField {
    /// Always `true`: naming it asks the compiler to prove `Self: WireField`.
    const WIRE: bool = true;
}

#[diagnostic::do_not_recommend]
impl<T: Wire> WireField for T {}

/// The rkyv `with` wrapper of every field of the generated enums:
/// `#[rkyv(with = Checked<{ <T as Wire>::WIRE }>)]` archives, serializes
/// and deserializes a `T` field just as `T` itself does, once `WIRE` has
/// compiled. The field keeps its own type, so the enums read as written.
pub struct Checked<const WIRE: bool>;

impl<T: Archive> ArchiveWith<T> for Checked<true> {
    type Archived = T::Archived;
    type Resolver = T::Resolver;

    fn resolve_with(field: &T, resolver: Self::Resolver, out: Place<Self::Archived>) {
        field.resolve(resolver, out);
    }
}

impl<T: Serialize<S>, S: Fallible + ?Sized> SerializeWith<T, S> for Checked<true> {
    fn serialize_with(field: &T, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        field.serialize(serializer)
    }
}

impl<T: Archive, D: Fallible + ?Sized> DeserializeWith<T::Archived, T, D> for Checked<true>
where
    T::Archived: Deserialize<T, D>,
{
    fn deserialize_with(field: &T::Archived, deserializer: &mut D) -> Result<T, D::Error> {
        field.deserialize(deserializer)
    }
}
