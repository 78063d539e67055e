//! Refs as rkyv values: a [`Recipient`] is archived as the [`ActorId`] it
//! points to and the address its node listens on, so a ref can travel
//! inside a message and be called where it lands, even on a node that has
//! never met the actor's node (it connects to that address).

use std::net::SocketAddr;

use rkyv::rancor::Fallible;
use rkyv::{Archive, Deserialize, Place, Serialize};

use crate::protocol::Protocol;
use crate::{ActorId, Recipient};

/// What a ref is on the wire.
///
/// The address lies out of line: a request enum is archived as large as its
/// largest variant, so every request of a service with a method that takes
/// a ref pays for the ref's inline size. Inline, the ref takes 24 bytes
/// (the id and a relative pointer); an address inline would add 32 more to
/// every request of such a service (measured: 12% fewer one-way messages
/// per second in the remote benchmark, whose service has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub struct WireRef {
    /// The actor.
    pub id: ActorId,
    /// Where its node listens, if the sending node knows a reachable
    /// address (not one it listens on everywhere, `0.0.0.0`); archived as
    /// if boxed, with nothing allocated to write it.
    #[rkyv(with = rkyv::with::Map<rkyv::with::AsBox>)]
    pub at: Option<SocketAddr>,
}

// The size the documentation above gives.
const _: () = assert!(size_of::<ArchivedWireRef>() == 24);

impl<P: Protocol> Recipient<P> {
    /// This ref as it goes on the wire.
    fn on_wire(&self) -> WireRef {
        let at = self.post().node_addr().filter(|addr| !addr.ip().is_unspecified());
        WireRef { id: self.id(), at }
    }
}

impl<P: Protocol> Archive for Recipient<P> {
    type Archived = ArchivedWireRef;
    type Resolver = <WireRef as Archive>::Resolver;

    fn resolve(&self, resolver: Self::Resolver, out: Place<Self::Archived>) {
        self.on_wire().resolve(resolver, out);
    }
}

impl<P: Protocol, S: Fallible + rkyv::ser::Writer + ?Sized> Serialize<S> for Recipient<P> {
    fn serialize(&self, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        // Only the actor's own system can find it again; a ref to another
        // node's actor is found through that node.
        if let Some(system) = self.post().system().filter(|system| system.id == self.id().node) {
            system.exports.export(self);
        }
        self.on_wire().serialize(serializer)
    }
}

impl<P: Protocol, D: Fallible + ?Sized> Deserialize<Recipient<P>, D> for ArchivedWireRef {
    fn deserialize(&self, deserializer: &mut D) -> Result<Recipient<P>, D::Error> {
        let at = match self.at.as_ref() {
            Some(at) => Some(at.get().deserialize(deserializer)?),
            None => None,
        };
        Ok(crate::exports::resolve(ActorId::from(&self.id), at))
    }
}
