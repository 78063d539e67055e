//! Refs as rkyv values: a [`Recipient`] is archived as the [`ActorId`] it
//! points to, so a ref can travel inside a message and be called where it
//! lands.

use rkyv::rancor::Fallible;
use rkyv::{Archive, Deserialize, Place, Serialize};

use crate::id::ArchivedActorId;
use crate::protocol::Protocol;
use crate::{ActorId, Recipient};

impl<P: Protocol> Archive for Recipient<P> {
    type Archived = ArchivedActorId;
    type Resolver = <ActorId as Archive>::Resolver;

    fn resolve(&self, resolver: Self::Resolver, out: Place<Self::Archived>) {
        self.id().resolve(resolver, out);
    }
}

impl<P: Protocol, S: Fallible + ?Sized> Serialize<S> for Recipient<P> {
    fn serialize(&self, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        // Only the actor's own system can find it again; a ref to another
        // node's actor is found through that node.
        if let Some(system) = self.post().system().filter(|system| system.id == self.id().node) {
            system.exports.export(self);
        }
        self.id().serialize(serializer)
    }
}

impl<P: Protocol, D: Fallible + ?Sized> Deserialize<Recipient<P>, D> for ArchivedActorId {
    fn deserialize(&self, _: &mut D) -> Result<Recipient<P>, D::Error> {
        Ok(crate::exports::resolve(ActorId::from(self)))
    }
}
