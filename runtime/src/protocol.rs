//! The contract between a service trait's generated code and the runtime.
//!
//! `#[courier::actor]` turns a service trait into a request enum (one variant
//! per method) that implements [`Protocol`], and a blanket [`Dispatch`] impl
//! that runs the request on any actor implementing the trait.

use std::future::Future;

use crate::Actor;
use crate::codec::Codec;

/// A service's request type: one value per method call.
///
/// Implemented by the `{Trait}Request` enum that `#[courier::actor]` generates.
pub trait Protocol: Send + Sized + 'static {
    /// The matching response enum, one variant per method that replies.
    type Response: Send + 'static;
    /// The service trait's name, as written.
    const SERVICE: &'static str;
    /// The service's name on the wire: [`service_key`] of [`SERVICE`](Protocol::SERVICE).
    const SERVICE_KEY: u64 = service_key(Self::SERVICE);
    /// A hash of every method's signature; two builds of a service can talk
    /// to each other when their fingerprints agree.
    const FINGERPRINT: u64;
    /// How requests and responses cross the wire; `None` for a service that
    /// never leaves the process (`#[actor(local)]`).
    const CODEC: Option<Codec<Self>> = None;
    /// The method this request calls.
    fn method(&self) -> Method;
}

/// Static facts about one method of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Method {
    /// The method's name, as written in the trait.
    pub name: &'static str,
    /// A stable id: a hash of the service and method names.
    pub id: u32,
    /// Whether the method is one-way (`#[tell]`).
    pub tell: bool,
}

/// Runs a request on an actor that implements the service.
///
/// Generated as a blanket impl over every `A: Trait + Actor`.
pub trait Dispatch<A: Actor>: Protocol {
    /// Calls the trait method named by `self` on `actor`.
    fn dispatch(self, actor: &mut A) -> impl Future<Output = Self::Response> + Send;
}

/// A 64-bit FNV-1a hash, usable in constants.
pub const fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The key of a service's name on the wire: its 64-bit FNV-1a hash.
pub const fn service_key(service: &str) -> u64 {
    fnv1a(service.as_bytes(), FNV_OFFSET)
}

/// The stable id of `service::method`: the same in every build that keeps
/// both names.
pub const fn method_id(service: &str, method: &str) -> u32 {
    let h = fnv1a(service.as_bytes(), FNV_OFFSET);
    let h = fnv1a(b"::", h);
    let h = fnv1a(method.as_bytes(), h);
    (h ^ (h >> 32)) as u32
}

/// The fingerprint of a service: a hash of its name and of each method's
/// signature, in declaration order.
pub const fn fingerprint(service: &str, signatures: &[&str]) -> u64 {
    let mut h = fnv1a(service.as_bytes(), FNV_OFFSET);
    let mut i = 0;
    while i < signatures.len() {
        h = fnv1a(b";", h);
        h = fnv1a(signatures[i].as_bytes(), h);
        i += 1;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(method_id("Counter", "add"), method_id("Counter", "add"));
        assert_ne!(method_id("Counter", "add"), method_id("Counter", "get"));
        assert_ne!(method_id("Counter", "add"), method_id("Adder", "add"));
        assert_ne!(fingerprint("C", &["a(u64)"]), fingerprint("C", &["a(u32)"]));
    }
}
