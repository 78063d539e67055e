//! What a [`System`] offers other nodes, and how it reaches theirs.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use super::{Inbound, Network};
use crate::protocol::Protocol;
use crate::recipient::{Recipient, ServiceRef};
use crate::system::SystemShared;
use crate::watch::{ExitReason, Terminated, Watcher};
use crate::{ActorId, CallError, SpawnError, System};

/// The actor an incoming frame is for.
#[derive(Debug, Clone, Copy)]
pub enum InboundTarget<'a> {
    /// By sequence number: a ref that was sent to the other node.
    Actor(u64),
    /// By the name it is served under.
    Name(&'a str),
}

/// A handle to a [`System`] that does not keep it alive; what a transport
/// holds.
#[derive(Clone, Debug)]
pub struct WeakSystem(Weak<SystemShared>);

impl WeakSystem {
    /// The system, unless it has been dropped.
    pub fn upgrade(&self) -> Option<System> {
        self.0.upgrade().map(System::from_shared)
    }
}

impl std::fmt::Debug for SystemShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemShared").field("id", &self.id).finish_non_exhaustive()
    }
}

impl System {
    /// Serves `service` to other nodes under `name`: a node that asks
    /// [`remote`](System::remote) for `name` gets a ref to it. Only served
    /// actors, and actors whose refs were sent to another node in a message,
    /// can be reached from outside. Serve one actor under one name for each
    /// of its services that others may call; the name is free again once the
    /// actor stops.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NameTaken`] when another live actor is served under
    /// `name`; [`SpawnError::NotServable`] for an actor of another system or a
    /// `#[actor(local)]` service.
    pub fn serve<R: ServiceRef>(&self, name: impl Into<Arc<str>>, service: &R) -> Result<(), SpawnError> {
        let name = name.into();
        if service.actor_id().node != self.id() {
            return Err(SpawnError::NotServable(name.to_string(), "the actor belongs to another system"));
        }
        if <R::Protocol as Protocol>::CODEC.is_none() {
            return Err(SpawnError::NotServable(name.to_string(), "the service is `#[actor(local)]`"));
        }
        self.shared.exports.serve(name, service.recipient())
    }

    /// A ref to the actor served as `name` (see [`serve`](System::serve)) on
    /// the node listening at `addr`, connecting to that node unless this
    /// system is connected to it already.
    ///
    /// The name is looked up once, here: the ref then points at that actor,
    /// and fails with [`CallError::ActorStopped`] once it stops (look the name
    /// up again to reach its successor). Calls through it fail with
    /// [`CallError::NodeUnreachable`] while its node cannot be reached.
    ///
    /// # Errors
    ///
    /// [`CallError::NodeUnreachable`] when this system has no transport or the
    /// node cannot be reached; [`CallError::NotFound`] when no actor is served
    /// there under `name` for this service; [`CallError::Protocol`] when the
    /// node was built with another version of the service trait.
    pub async fn remote<R: ServiceRef>(&self, addr: SocketAddr, name: &str) -> Result<R, CallError> {
        let network = self.network_for::<R>(addr)?;
        let (key, fingerprint) = (<R::Protocol as Protocol>::SERVICE_KEY, <R::Protocol as Protocol>::FINGERPRINT);
        let (link, id) = network.resolve(addr, name, key, fingerprint).await?;
        Ok(R::from(Recipient::remote(id, link, self.shared.clone())))
    }

    /// Registers the actor kind `kind`: other nodes may spawn actors of it
    /// here with [`spawn_remote`](System::spawn_remote). `factory` spawns one
    /// (as a root actor of this system, or however it likes) and returns its
    /// ref; the actor is then reachable from the spawning node through that
    /// service only. A factory that panics fails the remote spawn with
    /// [`CallError::ActorFailed`]. The transport runs the factory on a
    /// thread for blocking work, so one that takes its time holds up only
    /// the spawn that asked for it.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NameTaken`] when `kind` is registered already;
    /// [`SpawnError::NotServable`] for a `#[actor(local)]` service.
    pub fn register_kind<R, F>(&self, kind: impl Into<Arc<str>>, factory: F) -> Result<(), SpawnError>
    where
        R: ServiceRef,
        F: Fn(&System) -> R + Send + Sync + 'static,
    {
        self.shared.kinds.register(kind.into(), factory)
    }

    /// Spawns an actor of the kind `kind`, which the node listening at
    /// `addr` registered with [`register_kind`](System::register_kind), and
    /// returns a ref to it. The actor runs on that node until it stops;
    /// watch it with [`Context::watch`](crate::Context::watch) to learn when.
    ///
    /// # Errors
    ///
    /// As for [`remote`](System::remote), with [`CallError::NotFound`] when
    /// no such kind is registered there for this service, and
    /// [`CallError::ActorFailed`] when the kind's factory panicked.
    pub async fn spawn_remote<R: ServiceRef>(&self, addr: SocketAddr, kind: &str) -> Result<R, CallError> {
        let network = self.network_for::<R>(addr)?;
        let (key, fingerprint) = (<R::Protocol as Protocol>::SERVICE_KEY, <R::Protocol as Protocol>::FINGERPRINT);
        let (link, id) = network.spawn(addr, kind, key, fingerprint).await?;
        Ok(R::from(Recipient::remote(id, link, self.shared.clone())))
    }

    /// The transport, if it can carry service `R` to `addr`.
    fn network_for<R: ServiceRef>(&self, addr: SocketAddr) -> Result<&Arc<dyn Network>, CallError> {
        let Some(network) = self.shared.network.get() else {
            return Err(CallError::NodeUnreachable { node: format!("{addr} (this system has no transport)") });
        };
        if <R::Protocol as Protocol>::CODEC.is_none() {
            let protocol = <R::Protocol as Protocol>::SERVICE;
            let detail = format!("`{protocol}` is `#[actor(local)]`: it cannot be called on another node");
            return Err(CallError::Protocol { detail });
        }
        Ok(network)
    }

    /// The address this system listens on for other nodes, if it has a
    /// transport.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shared.network.get().map(|network| network.local_addr())
    }

    /// What this system's transport has counted so far, if it has one.
    pub fn network_stats(&self) -> Option<super::NetworkStats> {
        self.shared.network.get().map(|network| network.stats())
    }

    /// The services this system serves under names: `(name, service,
    /// fingerprint)`; for transports introducing the node to another.
    #[doc(hidden)]
    pub fn served(&self) -> Vec<(String, &'static str, u64)> {
        self.shared.exports.served()
    }

    /// Installs the transport; for transports. Returns `false` when one is
    /// installed already.
    #[doc(hidden)]
    pub fn install_network(&self, network: Arc<dyn Network>) -> bool {
        self.shared.network.set(network).is_ok()
    }

    /// A handle that does not keep this system alive; for transports.
    #[doc(hidden)]
    pub fn downgrade(&self) -> WeakSystem {
        WeakSystem(Arc::downgrade(&self.shared))
    }

    /// The service `service` (a [`service_key`](crate::service_key)) of the
    /// exported or served actor `target`; for transports routing a frame.
    ///
    /// # Errors
    ///
    /// [`CallError::NotFound`] when no such actor serves that service.
    #[doc(hidden)]
    pub fn inbound(&self, target: InboundTarget<'_>, service: u64) -> Result<Arc<dyn Inbound>, CallError> {
        match target {
            InboundTarget::Actor(seq) => self.shared.exports.inbound(seq, service),
            InboundTarget::Name(name) => self.shared.exports.named(name, service),
        }
    }

    /// Spawns an actor of the registered kind `kind` for another node, if
    /// it serves `service` with this `fingerprint`; for transports answering
    /// a remote spawn.
    ///
    /// # Errors
    ///
    /// [`CallError::NotFound`] for an unknown kind or another service,
    /// [`CallError::Protocol`] naming the trait when the fingerprints differ,
    /// [`CallError::ActorFailed`] when the factory panicked,
    /// [`CallError::ActorStopped`] while the system shuts down.
    #[doc(hidden)]
    pub fn spawn_kind(&self, kind: &str, service: u64, fingerprint: u64) -> Result<ActorId, CallError> {
        let kind = self.shared.kinds.find(kind, service, fingerprint)?;
        if self.is_shutting_down() {
            return Err(CallError::ActorStopped);
        }
        kind.spawn(self)
    }

    /// Tells `watcher` (an actor of another node) once the exported or
    /// served actor `seq` is gone; at once, `NotFound`, when no such actor
    /// is exported. For transports.
    #[doc(hidden)]
    pub fn watch_exported(&self, seq: u64, watcher: Arc<dyn Watcher>) {
        match self.shared.exports.any(seq) {
            Some(inbound) => inbound.watch(watcher),
            None => watcher.notify(Terminated { id: ActorId { node: self.id(), seq }, reason: ExitReason::NotFound }),
        }
    }

    /// Withdraws the watch of `watcher` on the exported actor `seq`. For
    /// transports.
    #[doc(hidden)]
    pub fn unwatch_exported(&self, seq: u64, watcher: ActorId) {
        if let Some(inbound) = self.shared.exports.any(seq) {
            inbound.unwatch(watcher);
        }
    }

    /// The actor served as `name` for `service`, if its fingerprint matches;
    /// for transports answering a lookup.
    ///
    /// # Errors
    ///
    /// [`CallError::NotFound`], or [`CallError::Protocol`] naming the trait
    /// when the fingerprints differ.
    #[doc(hidden)]
    pub fn resolve_served(&self, name: &str, service: u64, fingerprint: u64) -> Result<ActorId, CallError> {
        let inbound = self.shared.exports.named(name, service)?;
        if inbound.fingerprint() != fingerprint {
            return Err(super::inbound::fingerprint_mismatch(inbound.service(), inbound.fingerprint(), fingerprint));
        }
        Ok(inbound.actor())
    }
}
