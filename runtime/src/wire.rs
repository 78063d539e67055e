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
#[derive(Debug, Clone, Copy, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug))]
pub struct WireRef {
    /// The actor.
    pub id: ActorId,
    /// Where its node listens, if the sending node knows a reachable
    /// address (not one it listens on everywhere, `0.0.0.0`).
    pub at: Option<SocketAddr>,
}

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

impl<P: Protocol, S: Fallible + ?Sized> Serialize<S> for Recipient<P> {
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
        let at: Option<SocketAddr> = self.at.deserialize(deserializer)?;
        Ok(crate::exports::resolve(ActorId::from(&self.id), at))
    }
}
