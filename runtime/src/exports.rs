//! Refs that have left the actor's hands: written to bytes, or served to
//! other nodes under a name.
//!
//! Writing a [`Recipient`] records a weak handle under the actor's sequence
//! number and protocol; reading the bytes back finds the actor again, in
//! this process or, through a transport, from another node. Serving a ref
//! under a name does the same and lets other nodes look the name up. Only
//! what is recorded here can be reached from outside, and only through the
//! service it was recorded as. Actors whose refs are never exported cost
//! nothing here; entries leave with their actor.

use std::net::SocketAddr;
use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::protocol::Protocol;
use crate::recipient::Recipient;
use crate::remote::{Inbound, Served, decoding_context};
use crate::system::SystemShared;
use crate::{ActorId, CallError, SpawnError};

#[derive(Default)]
pub(crate) struct Exports {
    /// The exported services of each actor, by sequence number.
    by_seq: DashMap<u64, Vec<Arc<dyn Inbound>>>,
    /// Actors served to other nodes, by name.
    names: DashMap<Arc<str>, u64>,
}

impl Exports {
    pub(crate) fn export<P: Protocol>(&self, recipient: &Recipient<P>) {
        let mut entries = self.by_seq.entry(recipient.id().seq).or_default();
        if !entries.iter().any(|entry| entry.as_any().is::<Served<P>>()) {
            entries.push(Arc::new(Served::new(recipient)));
        }
    }

    /// Serves `recipient` under `name`; one name, one actor (which may serve
    /// several services under it).
    pub(crate) fn serve<P: Protocol>(&self, name: Arc<str>, recipient: &Recipient<P>) -> Result<(), SpawnError> {
        let seq = recipient.id().seq;
        match self.names.entry(name) {
            Entry::Occupied(taken) if *taken.get() != seq && self.by_seq.contains_key(taken.get()) => {
                Err(SpawnError::NameTaken(taken.key().to_string()))
            }
            Entry::Occupied(mut stale) => {
                stale.insert(seq);
                self.export(recipient);
                Ok(())
            }
            Entry::Vacant(free) => {
                free.insert(seq);
                self.export(recipient);
                Ok(())
            }
        }
    }

    fn find<P: Protocol>(&self, seq: u64) -> Option<Recipient<P>> {
        let entries = self.by_seq.get(&seq)?;
        entries.iter().find_map(|entry| entry.as_any().downcast_ref::<Served<P>>()?.recipient())
    }

    /// Service `service` (a [`service_key`](crate::service_key)) of the
    /// exported actor `seq`.
    pub(crate) fn inbound(&self, seq: u64, service: u64) -> Result<Arc<dyn Inbound>, CallError> {
        let entries = self.by_seq.get(&seq).ok_or_else(|| CallError::NotFound { what: format!("actor #{seq}") })?;
        let found = entries.iter().find(|entry| crate::service_key(entry.service()) == service);
        found
            .cloned()
            .ok_or_else(|| CallError::NotFound { what: format!("the service {service:016x} of actor #{seq}") })
    }

    /// Any exported service of actor `seq`: what a watch of it goes through.
    pub(crate) fn any(&self, seq: u64) -> Option<Arc<dyn Inbound>> {
        self.by_seq.get(&seq)?.first().cloned()
    }

    /// The actor served as `name`, with `service`.
    pub(crate) fn named(&self, name: &str, service: u64) -> Result<Arc<dyn Inbound>, CallError> {
        let seq =
            *self.names.get(name).ok_or_else(|| CallError::NotFound { what: format!("no actor named `{name}`") })?;
        self.inbound(seq, service).map_err(|_| CallError::NotFound {
            what: format!("the actor named `{name}` does not serve the service {service:016x}"),
        })
    }

    /// Every served name with its services and fingerprints.
    pub(crate) fn served(&self) -> Vec<(String, &'static str, u64)> {
        let mut served = Vec::new();
        for name in self.names.iter() {
            if let Some(entries) = self.by_seq.get(name.value()) {
                served
                    .extend(entries.iter().map(|entry| (name.key().to_string(), entry.service(), entry.fingerprint())));
            }
        }
        served
    }

    pub(crate) fn forget(&self, seq: u64) {
        if self.by_seq.remove(&seq).is_some() {
            self.names.retain(|_, served| *served != seq);
        }
    }
}

/// The ref that `id`, read from bytes, stands for: the live actor when this
/// process hosts it; an actor on another node when the bytes came from a
/// node connected to it, or when they say where its node listens (`at`:
/// this node connects there); otherwise a ref whose sends fail.
pub(crate) fn resolve<P: Protocol>(id: ActorId, at: Option<SocketAddr>) -> Recipient<P> {
    let Some((system, link)) = decoding_context() else {
        return local(SystemShared::find(id.node), id);
    };
    if id.node == system.id {
        return local(Some(system), id);
    }
    let network = system.network.get();
    let link = if link.node() == id.node { Some(link) } else { network.and_then(|n| n.link(id.node)) };
    let link = link.or_else(|| Some(network?.link_to(id.node, at?)));
    match link {
        Some(link) => Recipient::remote(id, link, system),
        None => Recipient::unreachable(id),
    }
}

fn local<P: Protocol>(system: Option<Arc<SystemShared>>, id: ActorId) -> Recipient<P> {
    system.and_then(|system| system.exports.find::<P>(id.seq)).unwrap_or_else(|| Recipient::unreachable(id))
}
