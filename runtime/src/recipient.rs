//! `Recipient<P>`: a ref to any actor that serves protocol `P`, whatever its
//! type and wherever it runs. Generated service refs wrap one.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::call::{Call, Tell};
use crate::events::DeadLetter;
use crate::letter::{Envelope, Origin};
use crate::mailbox::{Mailbox, Refused};
use crate::protocol::{Dispatch, Protocol};
use crate::remote::Parcel;
use crate::system::SystemShared;
use crate::watch::{ExitReason, Terminated, Watchee, Watcher};
use crate::{Actor, ActorId, CallError, TrySendError};

/// Something that takes envelopes of protocol `P`: a local mailbox, or the
/// connection to the node of a remote actor.
pub(crate) trait Post<P: Protocol>: Watchee {
    fn id(&self) -> ActorId;
    /// Queues `envelope`, or hands it back. A call may also be accepted and
    /// failed at once through its reply slot.
    fn try_post(&self, envelope: Envelope<P>) -> Result<(), TrySendError<Envelope<P>>>;
    /// Queues a one-way `request` from `origin`, as `try_post` would queue
    /// its envelope, which comes back when refused. A remote post sends it
    /// without making the envelope first.
    fn try_tell(&self, request: P, origin: Origin) -> Result<(), TrySendError<Envelope<P>>> {
        self.try_post(Envelope { request, reply: None, origin })
    }
    /// Ready once a full mailbox has room again (or is closed).
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()>;
    /// The system whose clock and defaults apply to calls sent here.
    fn system(&self) -> Option<&Arc<SystemShared>>;
    /// Where the actor's node listens, if known: what a ref carries on the
    /// wire, so that a node that never met that node can reach it.
    fn node_addr(&self) -> Option<SocketAddr> {
        None
    }
    /// What a send that `try_post` refused with `Stopped` fails with.
    fn closed_error(&self) -> CallError {
        CallError::ActorStopped
    }
    /// Queues the envelopes `next` makes, in order, as `try_post` would one
    /// by one (a local mailbox takes them under one lock). `next` says `None`
    /// when it has no more; `hint` is how many it may make.
    ///
    /// # Errors
    ///
    /// `Full(n)` or `Stopped(n)`: the last `n` envelopes made were not
    /// queued (they are dropped), and `next` may not have been asked for all.
    fn try_post_many(
        &self,
        hint: usize,
        next: &mut dyn FnMut() -> Option<Envelope<P>>,
    ) -> Result<(), TrySendError<usize>> {
        let _ = hint;
        while let Some(envelope) = next() {
            match self.try_post(envelope) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(TrySendError::Full(1)),
                Err(TrySendError::Stopped(_)) => return Err(TrySendError::Stopped(1)),
                Err(TrySendError::Unsendable(_, error)) => return Err(TrySendError::Unsendable(1, error)),
            }
        }
        Ok(())
    }
    /// Whether this post takes parcels (see [`Parcel`]): a local mailbox
    /// does.
    fn takes_parcels(&self) -> bool {
        false
    }
    /// How many requests a parcel sent now may hold. A closed mailbox has
    /// room for any number: they are all refused.
    fn parcel_room(&self) -> usize {
        0
    }
    /// Queues `parcel` whole if there is room for every request in it, or
    /// drops it: its requests are still in the reader's hands, to be made
    /// again or failed. Only called when [`takes_parcels`](Post::takes_parcels).
    fn try_post_parcel(&self, parcel: Parcel<P>) -> Result<(), TrySendError<()>> {
        drop(parcel);
        Err(TrySendError::Stopped(()))
    }
}

impl<A: Actor, P: Dispatch<A>> Post<P> for Mailbox<A> {
    fn id(&self) -> ActorId {
        self.id
    }

    fn try_post(&self, envelope: Envelope<P>) -> Result<(), TrySendError<Envelope<P>>> {
        self.try_push(true, 1, envelope, crate::letter::letter).map_err(|refused| match refused {
            (Refused::Full, envelope) => TrySendError::Full(envelope),
            (Refused::Closed, envelope) => TrySendError::Stopped(envelope),
        })
    }

    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        Mailbox::poll_room(self, cx)
    }

    fn try_post_many(
        &self,
        hint: usize,
        next: &mut dyn FnMut() -> Option<Envelope<P>>,
    ) -> Result<(), TrySendError<usize>> {
        // The letters are made before the mailbox is locked, so that its
        // lock is held only to queue them.
        let mut letters = VecDeque::with_capacity(hint);
        let mut deadlines = false;
        while let Some(envelope) = next() {
            // Read before sealing: a sealed letter answers through a
            // virtual call.
            deadlines |= envelope.deadline().is_some();
            letters.push_back(crate::letter::letter(envelope));
        }
        self.try_push_letters(&mut letters, deadlines).map_err(|refused| match refused {
            Refused::Full => TrySendError::Full(letters.len()),
            Refused::Closed => TrySendError::Stopped(letters.len()),
        })
    }

    fn takes_parcels(&self) -> bool {
        true
    }

    fn parcel_room(&self) -> usize {
        self.room()
    }

    fn try_post_parcel(&self, parcel: Parcel<P>) -> Result<(), TrySendError<()>> {
        let weight = parcel.len();
        self.try_push(true, weight, parcel, |parcel| smallbox::smallbox!(parcel)).map_err(|refused| match refused {
            (Refused::Full, _) => TrySendError::Full(()),
            (Refused::Closed, _) => TrySendError::Stopped(()),
        })
    }

    fn system(&self) -> Option<&Arc<SystemShared>> {
        Some(&self.system)
    }

    fn node_addr(&self) -> Option<SocketAddr> {
        self.system.network.get().map(|network| network.local_addr())
    }
}

/// Stands in for an actor that cannot be reached: every send fails with
/// `ActorStopped`, a watch is told `NotFound` at once. What a ref to a gone
/// actor resolves to.
struct Unreachable(ActorId);

impl Watchee for Unreachable {
    fn watched_id(&self) -> ActorId {
        self.0
    }

    fn add_watcher(&self, watcher: Arc<dyn Watcher>) {
        watcher.notify(Terminated { id: self.0, reason: ExitReason::NotFound });
    }

    fn remove_watcher(&self, _: ActorId) {}
}

impl<P: Protocol> Post<P> for Unreachable {
    fn id(&self) -> ActorId {
        self.0
    }

    fn try_post(&self, envelope: Envelope<P>) -> Result<(), TrySendError<Envelope<P>>> {
        Err(TrySendError::Stopped(envelope))
    }

    fn poll_room(&self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }

    fn system(&self) -> Option<&Arc<SystemShared>> {
        None
    }
}

/// A ref to an actor that serves protocol `P`, erased over the actor type.
///
/// The generated `{Trait}Ref` types wrap a `Recipient<{Trait}Request>` and
/// give each method its own typed function; use a `Recipient` directly to
/// send a request value you built yourself.
pub struct Recipient<P: Protocol> {
    post: Arc<dyn Post<P>>,
}

impl<P: Protocol> Clone for Recipient<P> {
    fn clone(&self) -> Self {
        Recipient { post: self.post.clone() }
    }
}

impl<P: Protocol> fmt::Debug for Recipient<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient<{}>({})", P::SERVICE, self.post.id())
    }
}

impl<P: Protocol> PartialEq for Recipient<P> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<P: Protocol> Eq for Recipient<P> {}

impl<P: Protocol> Recipient<P> {
    pub(crate) fn local<A: Actor>(cell: Arc<Mailbox<A>>) -> Self
    where
        P: Dispatch<A>,
    {
        Recipient { post: cell }
    }

    pub(crate) fn unreachable(id: ActorId) -> Self {
        Recipient { post: Arc::new(Unreachable(id)) }
    }

    pub(crate) fn post(&self) -> &dyn Post<P> {
        &*self.post
    }

    pub(crate) fn remote(id: ActorId, link: Arc<dyn crate::remote::Link>, system: Arc<SystemShared>) -> Self {
        Recipient { post: Arc::new(crate::remote::RemotePost::<P>::new(id, link, system)) }
    }

    pub(crate) fn watchee(&self) -> Arc<dyn Watchee> {
        self.post.clone()
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<dyn Post<P>> {
        Arc::downgrade(&self.post)
    }

    pub(crate) fn from_post(post: Arc<dyn Post<P>>) -> Self {
        Recipient { post }
    }

    /// The target actor's id.
    pub fn id(&self) -> ActorId {
        self.post.id()
    }

    /// Sends `request` and awaits the response; `extract` picks this method's
    /// value out of the response enum (`None` means the peer answered
    /// another method: a protocol error).
    ///
    /// Generated service refs call this; the returned [`Call`] is awaited, or
    /// first given its own timeout.
    pub fn call<T>(&self, request: P, extract: fn(P::Response) -> Option<T>) -> Call<'_, P, T> {
        Call::new(self, request, extract)
    }

    /// Sends a one-way request; the returned [`Tell`] resolves once it is
    /// queued, waiting for room in a full mailbox.
    pub fn tell(&self, request: P) -> Tell<'_, P> {
        Tell::new(self, request)
    }

    /// Sends a one-way request if the mailbox has room now.
    ///
    /// # Errors
    ///
    /// Hands the request back in [`TrySendError::Full`],
    /// [`TrySendError::Stopped`] or [`TrySendError::Unsendable`].
    pub fn try_tell(&self, request: P) -> Result<(), TrySendError<P>> {
        let origin = crate::context::current_origin(false);
        let envelope = Envelope { request, reply: None, origin };
        self.post.try_post(envelope).map_err(|e| match e {
            TrySendError::Full(env) => TrySendError::Full(env.request),
            TrySendError::Stopped(env) => {
                self.refused(&env.request);
                TrySendError::Stopped(env.request)
            }
            TrySendError::Unsendable(env, error) => {
                let error = self.undelivered(&env.request, error);
                TrySendError::Unsendable(env.request, error)
            }
        })
    }

    /// Reports `request`, which the target refused because it is gone, as
    /// a dead letter; returns the error its sender gets.
    pub(crate) fn refused(&self, request: &P) -> CallError {
        self.undelivered(request, self.post.closed_error())
    }

    /// Reports `request`, which failed to go with `error`, as a dead letter;
    /// returns `error`, for its sender.
    pub(crate) fn undelivered(&self, request: &P, error: CallError) -> CallError {
        if let Some(system) = self.post.system() {
            let method = request.method().name;
            system.dead_letter(DeadLetter { target: self.id(), service: P::SERVICE, method, error: error.clone() });
        }
        error
    }

    /// The default call timeout of the target's system.
    pub(crate) fn default_timeout(&self) -> Duration {
        self.post.system().map_or(crate::system::DEFAULT_CALL_TIMEOUT, |s| s.config.call_timeout)
    }
}

/// What every generated `{Trait}Ref` is: a typed face over a [`Recipient`].
///
/// Generic code can take any service ref through this trait; its provided
/// methods stay out of the way of the service's own method names.
pub trait ServiceRef: Clone + Send + Sync + From<Recipient<Self::Protocol>> + 'static {
    /// The service's request type.
    type Protocol: Protocol;

    /// The recipient this ref sends through.
    fn recipient(&self) -> &Recipient<Self::Protocol>;

    /// The target actor's id.
    fn actor_id(&self) -> ActorId {
        self.recipient().id()
    }
}
