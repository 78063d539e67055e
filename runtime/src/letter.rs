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

use crate::chain::{ChainLink, short_type_name};
use crate::context::{CURRENT, Current};
use crate::dead_letters::DeadLetters;
use crate::error::panic_message;
use crate::handling::Handling;
use crate::mailbox::Mailbox;
use crate::protocol::{Dispatch, Protocol};
use crate::reply::{Expire, ReplySlot};
use crate::{Actor, ActorId, CallError};

/// A letter in actor `A`'s mailbox.
pub(crate) type Letter<A> = Box<dyn Deliver<A>>;

/// How handling a letter ended.
pub(crate) enum Outcome {
    /// The handler returned (or the letter was refused as expired).
    Done,
    /// The handler panicked; the reason went to the caller.
    Panicked(String),
}

/// A type-erased letter for actor `A`.
pub(crate) trait Deliver<A: Actor>: Send {
    /// Puts the handler of this letter into `handling`, running it on `actor`
    /// and replying to the caller if there is one. See [`Handling`] for why
    /// the borrow of the actor is `'static`.
    fn deliver(self: Box<Self>, actor: &'static mut A, cell: &Arc<Mailbox<A>>, handling: &mut Handling<A>);
    /// Fails the letter without running it: its caller, if any, gets
    /// `error`; a one-way message becomes a dead letter.
    fn reject(self: Box<Self>, error: CallError, dead_letters: &DeadLetters);
    /// The tick after which a call's caller no longer waits; `None` for
    /// one-way messages.
    fn deadline(&self) -> Option<u64> {
        None
    }
    /// A handle that fails the caller with `Timeout`, for calls.
    fn expiry(&self) -> Option<Arc<dyn Expire>> {
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

impl<A: Actor, P: Dispatch<A>> Deliver<A> for Envelope<P> {
    fn deliver(self: Box<Self>, actor: &'static mut A, cell: &Arc<Mailbox<A>>, handling: &mut Handling<A>) {
        if self.expired(cell) {
            self.reject(CallError::Timeout, &cell.system.dead_letters);
            return handling.start(future::ready(Outcome::Done));
        }
        let Envelope { request, reply, origin } = *self;
        let current = Current::new(cell.clone(), origin);
        handling.start(CURRENT.scope(current, async move {
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
        }));
    }

    fn reject(self: Box<Self>, error: CallError, dead_letters: &DeadLetters) {
        match self.reply {
            Some(reply) => reply.fill(Err(error)),
            None => dead_letters.record(P::SERVICE, self.request.method().name, &error),
        }
    }

    fn deadline(&self) -> Option<u64> {
        self.reply.as_ref().and(self.origin.deadline)
    }

    fn expiry(&self) -> Option<Arc<dyn Expire>> {
        self.reply.clone().map(|reply| reply as Arc<dyn Expire>)
    }
}

/// The continuation of a reentrant call: runs on the actor's task, with
/// `&mut A`, once the awaited future has finished.
pub(crate) struct Resume<T, K> {
    pub(crate) output: T,
    pub(crate) continuation: K,
    pub(crate) origin: Origin,
}

impl<A, T, K> Deliver<A> for Resume<T, K>
where
    A: Actor,
    T: Send + 'static,
    K: FnOnce(&mut A, T) + Send + 'static,
{
    fn deliver(self: Box<Self>, actor: &'static mut A, cell: &Arc<Mailbox<A>>, handling: &mut Handling<A>) {
        let Resume { output, continuation, origin } = *self;
        let current = Current::new(cell.clone(), origin);
        let outcome = CURRENT.sync_scope(current, || {
            match std::panic::catch_unwind(AssertUnwindSafe(|| continuation(actor, output))) {
                Ok(()) => Outcome::Done,
                Err(payload) => Outcome::Panicked(panic_message(&*payload)),
            }
        });
        handling.start(future::ready(outcome));
    }

    fn reject(self: Box<Self>, error: CallError, dead_letters: &DeadLetters) {
        dead_letters.record(short_type_name::<A>(), "continuation", &error);
    }
}
