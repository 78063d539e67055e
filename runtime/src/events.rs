//! The event stream: per system, typed publish/subscribe.
//!
//! Subscribers pick events by type, with a handler (called on the
//! publisher's thread, so it must be quick) or with an actor (the event is
//! queued in its mailbox and handled on its task with `&mut self`, in
//! mailbox order). The runtime publishes its own events here:
//! [`DeadLetter`], [`ActorFailed`], [`ActorRestarted`] and
//! [`ActorTerminated`]. Publishing with no subscriber for the type costs one
//! atomic load.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::actor_ref::ActorRef;
use crate::letter::{Origin, Resume, letter};
use crate::mailbox::Mailbox;
use crate::watch::ExitReason;
use crate::{Actor, ActorId, CallError};

/// A message that could not be delivered: its target had stopped, was not
/// found, or its deadline passed first. A call's caller got the error too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The actor it was for.
    pub target: ActorId,
    /// The service trait of the message.
    pub service: &'static str,
    /// The method.
    pub method: &'static str,
    /// Why it was not delivered.
    pub error: CallError,
}

/// An actor's handler or hook panicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorFailed {
    /// The actor.
    pub id: ActorId,
    /// Its type's name.
    pub actor: &'static str,
    /// The panic message.
    pub reason: String,
}

/// A failed actor is being restarted by its supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRestarted {
    /// The actor.
    pub id: ActorId,
    /// Its type's name.
    pub actor: &'static str,
    /// The wait before the new instance starts.
    pub delay: Duration,
}

/// An actor has ended, for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorTerminated {
    /// The actor.
    pub id: ActorId,
    /// Why.
    pub reason: ExitReason,
}

/// A subscription, to hand back to [`EventStream::unsubscribe`].
#[derive(Debug, PartialEq, Eq, Hash)]
#[must_use = "keep the subscription to unsubscribe"]
pub struct Subscription {
    id: u64,
    topic: TypeId,
}

/// One subscriber: returns `false` once it is gone for good.
type Deliver = Arc<dyn Fn(&dyn Any) -> bool + Send + Sync>;

/// A system's event stream; see [`System::events`](crate::System::events).
///
/// # Examples
///
/// ```
/// use courier_runtime::events::DeadLetter;
/// use courier_runtime::{Actor, System};
///
/// /// An event of the application's own.
/// #[derive(Clone, Debug)]
/// struct Deployed {
///     version: u32,
/// }
///
/// /// Keeps every version deployed.
/// #[derive(Default)]
/// struct Audit {
///     versions: Vec<u32>,
/// }
///
/// impl Actor for Audit {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = System::new();
/// let events = system.events();
/// let undelivered = events.subscribe(|letter: &DeadLetter| eprintln!("undelivered: {letter:?}"));
/// let audit = system.spawn(Audit::default());
/// events.subscribe_actor(&audit, |audit: &mut Audit, deployed: Deployed| audit.versions.push(deployed.version));
/// assert_eq!(events.publish(&Deployed { version: 7 }), 1, "one subscriber of `Deployed`");
/// assert!(events.unsubscribe(undelivered));
/// system.shutdown().await;
/// # }
/// ```
#[derive(Default)]
pub struct EventStream {
    topics: RwLock<HashMap<TypeId, Vec<(u64, Deliver)>>>,
    /// Subscriptions over all topics: publishing skips the lock when none.
    subscribed: AtomicUsize,
    next_id: AtomicU64,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").field("subscriptions", &self.subscribed.load(Ordering::Relaxed)).finish()
    }
}

impl EventStream {
    /// Calls `handler` with every event of type `E` published from now on,
    /// on the publisher's thread. A handler that panics is reported and
    /// stays subscribed.
    pub fn subscribe<E: Any>(&self, handler: impl Fn(&E) + Send + Sync + 'static) -> Subscription {
        self.add::<E>(Arc::new(move |event| {
            if let Some(event) = event.downcast_ref::<E>() {
                handler(event);
            }
            true
        }))
    }

    /// Queues every event of type `E` published from now on in `actor`'s
    /// mailbox (past its capacity: events are not held back), where
    /// `handler` runs with `&mut A`. Ends by itself once the actor stops.
    pub fn subscribe_actor<E, A>(
        &self,
        actor: &ActorRef<A>,
        handler: impl Fn(&mut A, E) + Send + Sync + 'static,
    ) -> Subscription
    where
        E: Any + Clone + Send,
        A: Actor,
    {
        let cell: Weak<Mailbox<A>> = Arc::downgrade(actor.cell());
        let handler = Arc::new(handler);
        self.add::<E>(Arc::new(move |event| {
            let Some(cell) = cell.upgrade().filter(|cell| cell.is_open()) else { return false };
            if let Some(event) = event.downcast_ref::<E>() {
                let handler = handler.clone();
                let continuation = move |actor: &mut A, event: E| handler(actor, event);
                let resume = Resume { output: event.clone(), continuation, origin: Origin::default() };
                cell.push_continuation(letter(resume));
            }
            true
        }))
    }

    /// Ends `subscription`; returns whether it was still there.
    pub fn unsubscribe(&self, subscription: Subscription) -> bool {
        let mut topics = self.topics.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(subscribers) = topics.get_mut(&subscription.topic) else { return false };
        let before = subscribers.len();
        subscribers.retain(|(id, _)| *id != subscription.id);
        let removed = before - subscribers.len();
        self.subscribed.fetch_sub(removed, Ordering::Relaxed);
        removed > 0
    }

    /// Hands `event` to every subscriber of its type; returns how many.
    pub fn publish<E: Any>(&self, event: &E) -> usize {
        if self.subscribed.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let topic = TypeId::of::<E>();
        // Copied out, so that handlers run without the lock (one may
        // subscribe or publish in turn).
        let subscribers: Vec<(u64, Deliver)> = {
            let topics = self.topics.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            topics.get(&topic).cloned().unwrap_or_default()
        };
        let mut reached = 0;
        for (id, deliver) in subscribers {
            match std::panic::catch_unwind(AssertUnwindSafe(|| deliver(event))) {
                Ok(true) => reached += 1,
                Ok(false) => {
                    let _ = self.unsubscribe(Subscription { id, topic });
                }
                Err(payload) => {
                    let reason = crate::error::panic_message(&*payload);
                    tracing::warn!(event = std::any::type_name::<E>(), %reason, "an event handler panicked");
                }
            }
        }
        reached
    }

    fn add<E: Any>(&self, deliver: Deliver) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let topic = TypeId::of::<E>();
        let mut topics = self.topics.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        topics.entry(topic).or_default().push((id, deliver));
        self.subscribed.fetch_add(1, Ordering::Relaxed);
        Subscription { id, topic }
    }
}
