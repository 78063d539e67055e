//! Actor identities.

use std::fmt;

/// The identity of an actor: the system (node) that hosts it and a sequence
/// number unique within that system.
///
/// An `ActorId` is what a ref becomes on the wire.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, Hash))]
pub struct ActorId {
    /// The hosting system's id, random per [`System`](crate::System).
    pub node: u64,
    /// The actor's number within its system, never reused.
    pub seq: u64,
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}/{}", self.node & 0xffff, self.seq)
    }
}

impl From<&ArchivedActorId> for ActorId {
    fn from(id: &ArchivedActorId) -> Self {
        ActorId { node: id.node.to_native(), seq: id.seq.to_native() }
    }
}
