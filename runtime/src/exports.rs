//! Refs that have been written to bytes, so that reading them back finds the
//! actor again.
//!
//! Writing a [`Recipient`] records a weak handle under the actor's sequence
//! number and protocol; reading the bytes back in this process looks it up.
//! Actors whose refs are never serialized cost nothing here; entries leave
//! with their actor.

use std::any::{Any, TypeId};
use std::sync::Weak;

use dashmap::DashMap;

use crate::ActorId;
use crate::protocol::Protocol;
use crate::recipient::{Post, Recipient};
use crate::system::SystemShared;

type Entry = (TypeId, Box<dyn Any + Send + Sync>);

#[derive(Default)]
pub(crate) struct Exports {
    by_seq: DashMap<u64, Vec<Entry>>,
}

impl Exports {
    pub(crate) fn export<P: Protocol>(&self, recipient: &Recipient<P>) {
        let mut entries = self.by_seq.entry(recipient.id().seq).or_default();
        if !entries.iter().any(|(ty, _)| *ty == TypeId::of::<P>()) {
            entries.push((TypeId::of::<P>(), Box::new(recipient.downgrade())));
        }
    }

    fn find<P: Protocol>(&self, seq: u64) -> Option<Recipient<P>> {
        let entries = self.by_seq.get(&seq)?;
        let (_, weak) = entries.iter().find(|(ty, _)| *ty == TypeId::of::<P>())?;
        let post = weak.downcast_ref::<Weak<dyn Post<P>>>()?.upgrade()?;
        Some(Recipient::from_post(post))
    }

    pub(crate) fn forget(&self, seq: u64) {
        self.by_seq.remove(&seq);
    }
}

/// The ref that `id`, read from bytes, stands for: the live actor when this
/// process hosts it, otherwise a ref whose sends fail with `ActorStopped`.
pub(crate) fn resolve<P: Protocol>(id: ActorId) -> Recipient<P> {
    SystemShared::find(id.node)
        .and_then(|system| system.exports.find::<P>(id.seq))
        .unwrap_or_else(|| Recipient::unreachable(id))
}
