//! Kinds: actors other nodes may spawn here, by a name the node registered.
//!
//! Registering a kind is the opt-in: a node spawns nothing for others but
//! the kinds it registered, each for one service, and the spawned actor is
//! reachable from outside through that service only.

use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::error::panic_message;
use crate::protocol::Protocol;
use crate::recipient::ServiceRef;
use crate::{ActorId, CallError, SpawnError, System};

/// One registered kind, erased over its service.
pub(crate) trait Kind: Send + Sync + 'static {
    fn service(&self) -> &'static str;
    fn fingerprint(&self) -> u64;
    /// Spawns one actor of the kind and exports it.
    fn spawn(&self, system: &System) -> Result<ActorId, CallError>;
}

struct KindOf<R, F> {
    factory: F,
    service: PhantomData<fn() -> R>,
}

impl<R, F> Kind for KindOf<R, F>
where
    R: ServiceRef,
    F: Fn(&System) -> R + Send + Sync + 'static,
{
    fn service(&self) -> &'static str {
        <R::Protocol as Protocol>::SERVICE
    }

    fn fingerprint(&self) -> u64 {
        <R::Protocol as Protocol>::FINGERPRINT
    }

    fn spawn(&self, system: &System) -> Result<ActorId, CallError> {
        let spawned = std::panic::catch_unwind(AssertUnwindSafe(|| (self.factory)(system)))
            .map_err(|payload| CallError::ActorFailed { reason: panic_message(&*payload) })?;
        let id = spawned.actor_id();
        if id.node != system.id() {
            let detail = "the kind's factory returned an actor of another system".to_owned();
            return Err(CallError::Protocol { detail });
        }
        system.shared.exports.export(spawned.recipient());
        Ok(id)
    }
}

/// The kinds a system spawns for other nodes, by name.
#[derive(Default)]
pub(crate) struct Kinds {
    by_name: DashMap<Arc<str>, Arc<dyn Kind>>,
}

impl Kinds {
    pub(crate) fn register<R, F>(&self, name: Arc<str>, factory: F) -> Result<(), SpawnError>
    where
        R: ServiceRef,
        F: Fn(&System) -> R + Send + Sync + 'static,
    {
        if <R::Protocol as Protocol>::CODEC.is_none() {
            return Err(SpawnError::NotServable(name.to_string(), "the service is `#[actor(local)]`"));
        }
        match self.by_name.entry(name) {
            Entry::Occupied(taken) => Err(SpawnError::NameTaken(taken.key().to_string())),
            Entry::Vacant(free) => {
                free.insert(Arc::new(KindOf { factory, service: PhantomData }));
                Ok(())
            }
        }
    }

    /// The kind `name`, checked against the service the spawner expects.
    pub(crate) fn find(&self, name: &str, service: u64, fingerprint: u64) -> Result<Arc<dyn Kind>, CallError> {
        let kind = self
            .by_name
            .get(name)
            .map(|kind| kind.value().clone())
            .ok_or_else(|| CallError::NotFound { what: format!("no actor kind `{name}` is registered") })?;
        if crate::service_key(kind.service()) != service {
            let what = format!("the actor kind `{name}` does not serve the service {service:016x}");
            return Err(CallError::NotFound { what });
        }
        if kind.fingerprint() != fingerprint {
            return Err(super::inbound::fingerprint_mismatch(kind.service(), kind.fingerprint(), fingerprint));
        }
        Ok(kind)
    }
}
