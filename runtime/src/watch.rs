//! Watching actors: a termination notice, with its reason, for each actor
//! an actor watches.
//!
//! A watch has two ends. The watched actor (local, or a proxy for one on
//! another node) keeps a list of [`Watcher`]s and tells each once it has
//! ended; the watching actor keeps, per watched id, the means to take its
//! watch back, so that `unwatch` and its own end withdraw every watch it set.
//! A notice reaches the watcher as a signal, handled before its user
//! messages, and runs its [`Actor::terminated`](crate::Actor::terminated)
//! hook unless the watch was withdrawn meanwhile.

use std::sync::{Arc, Weak};

use crate::actor_ref::ActorRef;
use crate::mailbox::{Mailbox, Signal};
use crate::protocol::Protocol;
use crate::recipient::{Recipient, ServiceRef};
use crate::{Actor, ActorId};

/// Why a watched actor is gone.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[non_exhaustive]
pub enum ExitReason {
    /// It stopped: it was asked to, its parent stopped, or its system shut
    /// down.
    Stopped,
    /// A handler or hook panicked.
    Failed {
        /// The panic message.
        reason: String,
    },
    /// The connection to its node was lost: it may still run there, but
    /// nothing sent to it through this node arrives.
    NodeLost {
        /// The node, as its address or id.
        node: String,
    },
    /// It had ended (or was never reachable from here) when the watch was
    /// set, and why is not known any more.
    NotFound,
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitReason::Stopped => f.write_str("stopped"),
            ExitReason::Failed { reason } => write!(f, "failed: {reason}"),
            ExitReason::NodeLost { node } => write!(f, "node {node} lost"),
            ExitReason::NotFound => f.write_str("not found"),
        }
    }
}

/// The notice an actor gets when an actor it watches is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    /// The actor that is gone.
    pub id: ActorId,
    /// Why.
    pub reason: ExitReason,
}

/// The watching end of a watch: told once when the watched actor is gone.
///
/// Implemented by the runtime for actors, and by transports for the actors
/// of other nodes watching an actor here.
pub trait Watcher: Send + Sync + 'static {
    /// The watching actor.
    fn id(&self) -> ActorId;

    /// The watched actor is gone. Called at most once per watch.
    fn notify(&self, notice: Terminated);

    /// Whether telling this watcher is pointless (it is gone itself), so
    /// the watched actor may drop it early.
    fn is_gone(&self) -> bool {
        false
    }
}

/// The watched end of a watch: an actor, local or remote, erased.
pub(crate) trait Watchee: Send + Sync + 'static {
    /// The watched actor.
    fn watched_id(&self) -> ActorId;
    /// Tells `watcher` once this actor is gone; at once if it is gone now.
    fn add_watcher(&self, watcher: Arc<dyn Watcher>);
    /// Forgets the watch of `watcher`, if there is one.
    fn remove_watcher(&self, watcher: ActorId);
}

/// Anything [`Context::watch`](crate::Context::watch) takes: an
/// [`ActorRef`], a [`Recipient`], or a generated service ref, for a local
/// actor or one on another node.
pub trait Watchable {
    /// The watched end, erased; not a public API.
    #[doc(hidden)]
    fn watchee(&self) -> WatchTarget;
}

/// An actor as a watch sees it; not a public API.
#[doc(hidden)]
pub struct WatchTarget(pub(crate) Arc<dyn Watchee>);

impl<A: Actor> Watchable for ActorRef<A> {
    fn watchee(&self) -> WatchTarget {
        WatchTarget(self.cell().clone())
    }
}

impl<P: Protocol> Watchable for Recipient<P> {
    fn watchee(&self) -> WatchTarget {
        WatchTarget(self.watchee())
    }
}

impl<R: ServiceRef> Watchable for R {
    fn watchee(&self) -> WatchTarget {
        WatchTarget(self.recipient().watchee())
    }
}

/// An actor of this system, as the watcher of others.
pub(crate) struct LocalWatcher<A: Actor> {
    pub(crate) id: ActorId,
    pub(crate) cell: Weak<Mailbox<A>>,
}

impl<A: Actor> Watcher for LocalWatcher<A> {
    fn id(&self) -> ActorId {
        self.id
    }

    fn notify(&self, notice: Terminated) {
        if let Some(cell) = self.cell.upgrade() {
            cell.signal(Signal::Terminated(notice));
        }
    }

    fn is_gone(&self) -> bool {
        self.cell.upgrade().is_none_or(|cell| cell.is_terminated())
    }
}

/// The watch lists of one actor, boxed into its mailbox on first use.
#[derive(Default)]
pub(crate) struct Watches {
    /// Who watches this actor.
    pub(crate) watchers: Vec<Arc<dyn Watcher>>,
    /// The actors this actor watches, with the means to withdraw.
    pub(crate) watching: Vec<Arc<dyn Watchee>>,
    /// Woken at the actor's end: tasks waiting for it (`wait_stopped`, a
    /// parent stopping its children, shutdown). Made by the first.
    pub(crate) waiting: Option<Arc<tokio::sync::Notify>>,
}

impl Watches {
    /// Adds `watcher`, first dropping watchers that are gone once the list
    /// has grown: short-lived watchers of a long-lived actor do not pile up.
    pub(crate) fn add_watcher(&mut self, watcher: Arc<dyn Watcher>) {
        if self.watchers.len() >= 16 && self.watchers.len().is_power_of_two() {
            self.watchers.retain(|w| !w.is_gone());
        }
        if !self.watchers.iter().any(|w| w.id() == watcher.id()) {
            self.watchers.push(watcher);
        }
    }
}
