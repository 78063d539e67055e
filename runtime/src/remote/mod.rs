//! The seam between the runtime and a transport that connects nodes.
//!
//! The runtime knows every service's types; a transport knows sockets. They
//! meet here, over bytes:
//!
//! - Outgoing: a ref to an actor on another node sends through a [`Link`],
//!   the transport's connection to that node. The runtime encodes the request
//!   (the service's [`Codec`](crate::Codec)), flattens the call chain and
//!   turns the deadline into a budget ([`Outgoing`]); for a call it hands
//!   over a [`Completion`] that decodes the reply and resumes the caller.
//! - Incoming: the transport routes a frame by its header to an [`Inbound`]
//!   (found by [`System::inbound`](crate::System::inbound)), which checks and
//!   decodes the payload and queues it in the actor's mailbox; one-way
//!   requests in a row are queued together, still archived, and checked and
//!   decoded on the actor's task (see `parcel`). A call's reply goes back
//!   through [`Link::reply`] from the actor's own task.
//! - A system with a transport has a [`Network`] installed: it dials nodes,
//!   resolves names on them, and knows which [`Link`] leads to a node id.
//!
//! Only actors served under a name ([`System::serve`](crate::System::serve))
//! or whose refs were sent to another node inside a message can be reached
//! from outside, and only through the services they were served or sent as.

mod deferred;
mod inbound;
mod kinds;
mod parcel;
mod post;
mod system;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(crate) use deferred::Holding;
pub use deferred::notify_after_poll;
pub(crate) use inbound::Served;
pub use inbound::{Inbound, Incoming, TellAt, Tells, Undelivered};
pub(crate) use kinds::Kinds;
pub(crate) use parcel::Parcel;
pub(crate) use post::RemotePost;
pub use system::{InboundTarget, WeakSystem};

use crate::system::SystemShared;
use crate::watch::Watcher;
use crate::{ActorId, Archiver, CallError};

/// One actor waiting in a call chain, as it crosses the wire.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct Hop {
    /// The waiting actor.
    pub actor: ActorId,
    /// How it is shown in a deadlock chain: its name, or `Type#seq`.
    pub label: String,
}

/// Writes a payload where the transport wants it: appends its archive to
/// the buffer (a send queue), with the queue's [`Archiver`]. Encoding fails
/// with a [`CallError::Protocol`] that the transport hands back.
pub type Payload<'a> = &'a dyn Fn(&mut Archiver, &mut Vec<u8>) -> Result<(), CallError>;

/// A payload archived already: writing it copies `bytes`.
pub fn archived(bytes: &[u8]) -> impl Fn(&mut Archiver, &mut Vec<u8>) -> Result<(), CallError> + '_ {
    move |_, out| {
        out.extend_from_slice(bytes);
        Ok(())
    }
}

/// A request on its way to another node, its payload written by the
/// transport's call of [`payload`](Outgoing::payload).
pub struct Outgoing<'a> {
    /// The target actor's sequence number on the receiving node.
    pub target: u64,
    /// The service, by [`service_key`](crate::service_key).
    pub service: u64,
    /// The service's [`fingerprint`](crate::Protocol::FINGERPRINT).
    pub fingerprint: u64,
    /// The method id.
    pub method: u32,
    /// The calling actor, if the call comes from one.
    pub sender: Option<ActorId>,
    /// The actors waiting on this call, outermost first.
    pub chain: Vec<Hop>,
    /// Time left before the deadline, for a call.
    pub budget: Option<Duration>,
    /// Writes the archived request.
    pub payload: Payload<'a>,
}

impl std::fmt::Debug for Outgoing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("target", &self.target)
            .field("service", &self.service)
            .field("fingerprint", &self.fingerprint)
            .field("method", &self.method)
            .field("sender", &self.sender)
            .field("chain", &self.chain)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// What a call's reply becomes: run once with the reply's archived response,
/// or with why there is none (the remote failure, `Timeout` at the deadline,
/// `NodeUnreachable` when the connection is lost).
pub type Completion = Box<dyn FnOnce(Result<&[u8], CallError>) + Send>;

/// Why a [`Link`] did not take a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Its send queues are full: wait with [`Link::poll_room`] and retry.
    Full,
    /// The connection is down; the error says which node.
    Down(CallError),
    /// The frame could not be written (its header or its payload): nothing
    /// was queued, and the connection is fine. The error says why.
    Unsendable(CallError),
}

/// A transport's connection to one other node.
pub trait Link: Send + Sync + 'static {
    /// The other node's id.
    fn node(&self) -> u64;

    /// Where the other node listens, if known: refs to its actors carry it,
    /// so that nodes they are sent to can connect to it.
    fn addr(&self) -> Option<SocketAddr> {
        None
    }

    /// Queues `frame`: a call when `call` holds its deadline and completion
    /// (run exactly once, whatever happens), a one-way request otherwise.
    ///
    /// # Errors
    ///
    /// [`Refusal::Full`] when the queues are full (nothing was queued, the
    /// completion is dropped unrun), [`Refusal::Down`] when the node cannot be
    /// reached, [`Refusal::Unsendable`] when the frame could not be written.
    fn send(&self, frame: Outgoing<'_>, call: Option<(Instant, Completion)>) -> Result<(), Refusal>;

    /// Ready once the send queues have room again (or the link is down).
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()>;

    /// Sends the reply to the call `request` that came over this link: the
    /// response's archive, written by the payload, or the failure.
    fn reply(&self, request: u64, outcome: Result<Payload<'_>, CallError>);

    /// Tells `watcher` once the actor `target` of the other node is gone, or
    /// once this link is lost ([`ExitReason::NodeLost`](crate::ExitReason)).
    fn watch(&self, target: ActorId, watcher: Arc<dyn Watcher>);

    /// Withdraws the watch of `watcher` on `target`.
    fn unwatch(&self, target: ActorId, watcher: ActorId);

    /// A one-way request that came over this link was dropped, for `error`
    /// (its payload did not check, say), after it was queued: nobody waits
    /// for an answer, so the link only counts it.
    fn dropped(&self, error: &CallError) {
        let _ = error;
    }
}

/// The future of [`Network::resolve`].
pub type Resolving = Pin<Box<dyn Future<Output = Result<(Arc<dyn Link>, ActorId), CallError>> + Send>>;

/// A system's way to other nodes, installed by a transport.
pub trait Network: Send + Sync + 'static {
    /// The address this node listens on.
    fn local_addr(&self) -> SocketAddr;

    /// The link to node `node`, if this node is connected to it.
    fn link(&self, node: u64) -> Option<Arc<dyn Link>>;

    /// The link to node `node`, which listens at `addr` (a ref from a third
    /// node said so): the one this node has, or a new one that connects.
    /// Sends through a new link wait (as for room) until it is connected,
    /// and fail with [`CallError::NodeUnreachable`] if it cannot be, or if
    /// another node answers at `addr`.
    fn link_to(&self, node: u64, addr: SocketAddr) -> Arc<dyn Link>;

    /// Connects to the node at `addr` (or reuses the connection) and asks it
    /// for the actor served as `name` for service `service` with this
    /// `fingerprint`.
    fn resolve(&self, addr: SocketAddr, name: &str, service: u64, fingerprint: u64) -> Resolving;

    /// Connects to the node at `addr` (or reuses the connection) and asks it
    /// to spawn an actor of the registered `kind`, for service `service` with
    /// this `fingerprint`.
    fn spawn(&self, addr: SocketAddr, kind: &str, service: u64, fingerprint: u64) -> Resolving;

    /// Closes every connection; the system is shutting down. The future
    /// ends once the node's socket is closed (its port free again), or
    /// after a bound.
    fn shutdown(&self) -> Pin<Box<dyn Future<Output = ()> + Send>>;

    /// What the transport has seen so far.
    fn stats(&self) -> NetworkStats;
}

/// Counters of a node's transport: traffic, and bad input refused.
///
/// Every refused input is counted once, under the first check it failed,
/// and the node goes on serving.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkStats {
    /// Connections made or accepted (after the TLS and hello handshakes).
    pub connections: u64,
    /// Connection attempts refused or failed: TLS, hello, version.
    pub refused_connections: u64,
    /// Frames received and routed.
    pub frames_received: u64,
    /// Streams closed because they lost their framing (a length over the
    /// maximum, an inconsistent frame) or that ended inside a frame.
    pub broken_streams: u64,
    /// Frames whose header was not a valid envelope header.
    pub invalid_headers: u64,
    /// Requests for an actor, name or service not served here.
    pub unknown_targets: u64,
    /// Requests whose payload, method or fingerprint did not check out.
    pub invalid_payloads: u64,
    /// Replies for calls nobody waits for any more (late or unknown ids),
    /// and notices of an actor's end that nobody here watches any more (an
    /// unwatch crossed the notice).
    pub stray_replies: u64,
    /// Dials to the node of a ref read here that failed: that node is then
    /// taken as unreachable for a few seconds, and refs to it read
    /// meanwhile fail their calls at once instead of dialing it again.
    pub failed_introductions: u64,
}

/// Where bytes being decoded came from: the system reading them, and the
/// link they came over.
type Source = (Arc<SystemShared>, Arc<dyn Link>);

thread_local! {
    /// The node a payload being decoded on this thread came from (refs read
    /// from it resolve through its link): a pointer to the borrowed pair
    /// while [`decoding`] runs, so that decoding clones nothing unless a
    /// ref is actually read.
    static DECODING: std::cell::Cell<*const (&'static Arc<SystemShared>, &'static Arc<dyn Link>)> =
        const { std::cell::Cell::new(std::ptr::null()) };
}

/// Runs `decode` with refs resolving as seen from `system`, for bytes that
/// came over `link`.
pub(crate) fn decoding<R>(system: &Arc<SystemShared>, link: &Arc<dyn Link>, decode: impl FnOnce() -> R) -> R {
    struct Restore(*const (&'static Arc<SystemShared>, &'static Arc<dyn Link>));
    impl Drop for Restore {
        fn drop(&mut self) {
            DECODING.with(|slot| slot.set(self.0));
        }
    }
    let source = (system, link);
    // The pointer is only read while `decode` runs, and `source` outlives
    // that; the lifetimes are erased to store it.
    let erased = (&raw const source).cast::<(&'static Arc<SystemShared>, &'static Arc<dyn Link>)>();
    let _restore = Restore(DECODING.with(|slot| slot.replace(erased)));
    decode()
}

/// The system and link of the payload being decoded on this thread, if any.
pub(crate) fn decoding_context() -> Option<Source> {
    let source = DECODING.with(std::cell::Cell::get);
    // SAFETY: a non-null pointer was set by `decoding` from a pair that lives
    // until `decoding` returns (or unwinds), and it is reset before that.
    let (system, link) = unsafe { source.as_ref() }?;
    Some(((*system).clone(), (*link).clone()))
}
