//! What sits in a mailbox: a request on its way to its handler.
//!
//! A mailbox holds letters of many services (an actor may implement several
//! service traits), so its queue stores them behind [`Deliver`], erased over
//! the request type. In-process calls move the request value; nothing is
//! serialized.

use std::future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use smallbox::space::S16;
use smallbox::{SmallBox, smallbox};

use crate::chain::ChainLink;
use crate::context::{Current, enter};
use crate::error::panic_message;
use crate::events::DeadLetter;
use crate::handling::Handling;
use crate::mailbox::Mailbox;
use crate::protocol::{Dispatch, Protocol};
use crate::reply::{Expire, ReplySlot};
use crate::stash::Peek;
use crate::{Actor, ActorId, CallError};

/// A letter in actor `A`'s mailbox, stored in the queue itself when it fits
/// in 128 bytes (a request with a few arguments does), else boxed: a letter
/// is made on the sender's thread and dropped on the actor's, and an
/// allocation per message freed across threads costs more than the copy.
pub(crate) type Letter<A> = SmallBox<dyn Deliver<A>, S16>;

/// Seals a message into a letter for actor `A`.
pub(crate) fn letter<A: Actor, M>(message: M) -> Letter<A>
where
    Sealed<M>: Deliver<A> + 'static,
{
    smallbox!(Sealed(Some(message)))
}

/// A message until it is delivered or rejected, then an empty shell.
pub(crate) struct Sealed<M>(Option<M>);

/// How handling a letter ended.
pub(crate) enum Outcome<A: Actor> {
    /// The handler returned (or the letter was refused as expired).
    Done,
    /// The handler panicked; the reason went to the caller.
    Panicked(String),
    /// A parcel (see [`Parcel`](crate::remote::Parcel)) stopped before its
    /// last request: the rest goes back to the front of the line, and
    /// [`Then`] says why it stopped. Boxed: every handler's future returns
    /// an `Outcome`, which unboxed would be as large as a letter (up to 144
    /// bytes) and slowed every local message by a fifth.
    Rest(Box<(Letter<A>, Then)>),
}

/// Why a parcel stopped before its last request.
pub(crate) enum Then {
    /// A signal is pending: it goes first.
    Signal,
    /// `admit` put aside the first request of the rest.
    Stash,
    /// `admit` panicked, with this reason, on the first request of the rest.
    AdmitFailed(String),
    /// The handler of the request before the rest panicked.
    Panicked(String),
    /// The handler of the request before the rest brought back this many
    /// stashed letters: they go first.
    Unstashed(usize),
}

/// A type-erased letter for actor `A`.
pub(crate) trait Deliver<A: Actor>: Send + Peek {
    /// Puts the handler of this letter into `handling`, running it on `actor`
    /// and replying to the caller if there is one. See [`Handling`] for why
    /// the borrow of the actor is `'static`. Takes the message out: a second
    /// call finds the letter empty and does nothing. (A parcel's handler
    /// runs its requests one after another, see
    /// [`Parcel`](crate::remote::Parcel).)
    fn deliver(&mut self, actor: &'static mut A, cell: &Arc<Mailbox<A>>, handling: &mut Handling<A>);
    /// Fails the letter without running it: its caller, if any, gets
    /// `error`; a one-way message becomes a dead letter.
    fn reject(&mut self, error: CallError, cell: &Mailbox<A>);
    /// How many messages the letter holds, each counting against the
    /// mailbox's capacity: one, but for a parcel.
    fn weight(&self) -> usize {
        1
    }
    /// For a letter holding more than one message: its first, taken out as
    /// a letter of its own (to stash it); `None` for any other letter.
    fn split_front(&mut self) -> Option<Letter<A>> {
        None
    }
    /// The tick after which a call's caller no longer waits; `None` for
    /// one-way messages.
    fn deadline(&self) -> Option<u64> {
        None
    }
    /// For a call: its deadline and a handle that fails its caller with
    /// `Timeout`.
    fn expiry(&self) -> Option<(u64, Arc<dyn Expire>)> {
        None
    }
}

/// Where a message comes from: the sender, the chain of waiting actors, and
/// the deadline (a tick of the target system's clock, see
/// [`deadline`](crate::deadline)) after which it must not run.
#[derive(Default, Clone)]
pub(crate) struct Origin {
    pub(crate) sender: Option<ActorId>,
    pub(crate) chain: Option<Arc<ChainLink>>,
    pub(crate) deadline: Option<u64>,
}

/// Where a call's response goes.
pub(crate) type ReplyTo<P> = Arc<ReplySlot<<P as Protocol>::Response>>;

/// A request with its reply slot (a call) or without (a one-way send).
pub(crate) struct Envelope<P: Protocol> {
    pub(crate) request: P,
    pub(crate) reply: Option<ReplyTo<P>>,
    pub(crate) origin: Origin,
}

impl<P: Protocol> Envelope<P> {
    /// The tick after which a call's caller no longer waits; `None` for a
    /// one-way message (see [`Deliver::deadline`]).
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.reply.as_ref().and(self.origin.deadline)
    }

    /// Whether nobody can use the result any more: the caller gave up or the
    /// deadline passed. Such a request is not executed.
    fn expired<A: Actor>(&self, cell: &Mailbox<A>) -> bool {
        match (&self.reply, self.origin.deadline) {
            (Some(reply), _) if reply.is_closed() => true,
            (_, Some(deadline)) => cell.system.deadlines.expired(deadline),
            _ => false,
        }
    }
}

impl<P: Protocol> Peek for Sealed<Envelope<P>> {
    fn service(&self) -> Option<&'static str> {
        Some(P::SERVICE)
    }

    fn method(&self) -> Option<crate::Method> {
        Some(self.0.as_ref()?.request.method())
    }

    fn is_call(&self) -> bool {
        self.0.as_ref().is_some_and(|envelope| envelope.reply.is_some())
    }

    fn request(&self) -> Option<&dyn std::any::Any> {
        Some(&self.0.as_ref()?.request)
    }
}

impl<A: Actor, P: Dispatch<A>> Deliver<A> for Sealed<Envelope<P>> {
    fn deliver(&mut self, actor: &'static mut A, cell: &Arc<Mailbox<A>>, handling: &mut Handling<A>) {
        let Some(envelope) = self.0.take() else { return handling.start(future::ready(Outcome::Done)) };
        if envelope.expired(cell) {
            Sealed(Some(envelope)).reject(CallError::Timeout, cell);
            return handling.start(future::ready(Outcome::Done));
        }
        let Envelope { request, reply, origin } = envelope;
        start(request, reply, origin, actor, cell, handling);
    }

    fn reject(&mut self, error: CallError, cell: &Mailbox<A>) {
        let Some(Envelope { request, reply, .. }) = self.0.take() else { return };
        if let Some(reply) = reply {
            reply.fill(Err(error.clone()));
        }
        let method = request.method().name;
        cell.system.dead_letter(DeadLetter { target: cell.id, service: P::SERVICE, method, error });
    }

    fn deadline(&self) -> Option<u64> {
        self.0.as_ref()?.deadline()
    }

    fn expiry(&self) -> Option<(u64, Arc<dyn Expire>)> {
        let envelope = self.0.as_ref()?;
        let deadline = envelope.origin.deadline?;
        let reply: Arc<dyn Expire> = envelope.reply.clone()?;
        Some((deadline, reply))
    }
}

/// Puts the handler of `request` into `handling`, with the context of
/// `origin`, filling `reply` (a call's) with its response, or with the
/// panic's reason.
fn start<A: Actor, P: Dispatch<A>>(
    request: P,
    reply: Option<ReplyTo<P>>,
    origin: Origin,
    actor: &'static mut A,
    cell: &Arc<Mailbox<A>>,
    handling: &mut Handling<A>,
) {
    handling.begin(origin, |origin| Current::new(cell.clone(), origin));
    handling.start_with(move || async move {
        match AssertUnwindSafe(request.dispatch(actor)).catch_unwind().await {
            Ok(response) => {
                if let Some(reply) = reply {
                    reply.fill(Ok(response));
                }
                Outcome::Done
            }
            Err(payload) => {
                let reason = panic_message(&*payload);
                if let Some(reply) = reply {
                    reply.fill(Err(CallError::ActorFailed { reason: reason.clone() }));
                }
                Outcome::Panicked(reason)
            }
        }
    });
}

/// The continuation of a reentrant call: runs on the actor's task, with
/// `&mut A`, once the awaited future has finished.
pub(crate) struct Resume<T, K> {
    pub(crate) output: T,
    pub(crate) continuation: K,
    pub(crate) origin: Origin,
}

/// A continuation is not a message anyone sent: nothing to show.
impl<T, K> Peek for Sealed<Resume<T, K>> {}

impl<A, T, K> Deliver<A> for Sealed<Resume<T, K>>
where
    A: Actor,
    T: Send + 'static,
    K: FnOnce(&mut A, T) + Send + 'static,
{
    fn deliver(&mut self, actor: &'static mut A, cell: &Arc<Mailbox<A>>, handling: &mut Handling<A>) {
        let Some(Resume { output, continuation, origin }) = self.0.take() else {
            return handling.start(future::ready(Outcome::Done));
        };
        let current = handling.begin(origin, |origin| Current::new(cell.clone(), origin));
        let outcome =
            enter(current, || match std::panic::catch_unwind(AssertUnwindSafe(|| continuation(actor, output))) {
                Ok(()) => Outcome::Done,
                Err(payload) => Outcome::Panicked(panic_message(&*payload)),
            });
        handling.start(future::ready(outcome));
    }

    fn reject(&mut self, error: CallError, cell: &Mailbox<A>) {
        if self.0.take().is_some() {
            cell.system.dead_letter(DeadLetter { target: cell.id, service: A::name(), method: "continuation", error });
        }
    }
}
