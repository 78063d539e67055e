//! What sits in a mailbox: a request on its way to its handler.
//!
//! A mailbox holds letters of many services (an actor may implement several
//! service traits), so its queue stores them behind [`Deliver`], erased over
//! the request type. In-process calls move the request value; nothing is
//! serialized.

use std::future::{self, Future};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::chain::{ChainLink, short_type_name};
use crate::context::{CURRENT, Current};
use crate::dead_letters::DeadLetters;
use crate::error::panic_message;
use crate::mailbox::Mailbox;
use crate::protocol::{Dispatch, Protocol};
use crate::{Actor, ActorId, CallError};

/// A letter in actor `A`'s mailbox.
pub(crate) type Letter<A> = Box<dyn Deliver<A>>;

/// The future that handles one letter, borrowing the actor.
pub(crate) type Handling<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// How handling a letter ended.
pub(crate) enum Outcome {
    /// The handler returned (or the letter was refused as expired).
    Done,
    /// The handler panicked; the reason went to the caller.
    Panicked(String),
}

/// A type-erased letter for actor `A`.
pub(crate) trait Deliver<A: Actor>: Send {
    /// Runs the handler on `actor`, replying to the caller if there is one.
    fn deliver<'a>(self: Box<Self>, actor: &'a mut A, cell: &Arc<Mailbox<A>>) -> Handling<'a>;
    /// Fails the letter without running it: its caller, if any, gets
    /// `error`; a one-way message becomes a dead letter.
    fn reject(self: Box<Self>, error: CallError, dead_letters: &DeadLetters);
}

/// Where a message comes from: the sender, the chain of waiting actors, and
/// the deadline after which it must not run.
#[derive(Default, Clone)]
pub(crate) struct Origin {
    pub(crate) sender: Option<ActorId>,
    pub(crate) chain: Option<Arc<ChainLink>>,
    pub(crate) deadline: Option<Instant>,
}

/// The sending half of a call's reply slot.
pub(crate) type ReplyTo<P> = oneshot::Sender<Result<<P as Protocol>::Response, CallError>>;

/// A request with its reply slot (a call) or without (a one-way send).
pub(crate) struct Envelope<P: Protocol> {
    pub(crate) request: P,
    pub(crate) reply: Option<ReplyTo<P>>,
    pub(crate) origin: Origin,
}

impl<P: Protocol> Envelope<P> {
    /// Whether nobody can use the result any more: the caller gave up or the
    /// deadline passed. Such a request is not executed.
    fn expired(&self) -> bool {
        match &self.reply {
            Some(reply) if reply.is_closed() => true,
            _ => self.origin.deadline.is_some_and(|d| d <= Instant::now()),
        }
    }
}

impl<A: Actor, P: Dispatch<A>> Deliver<A> for Envelope<P> {
    fn deliver<'a>(self: Box<Self>, actor: &'a mut A, cell: &Arc<Mailbox<A>>) -> Handling<'a> {
        if self.expired() {
            self.reject(CallError::Timeout, &cell.system.dead_letters);
            return Box::pin(future::ready(Outcome::Done));
        }
        let Envelope { request, reply, origin } = *self;
        let current = Current::new(cell.clone(), origin);
        Box::pin(CURRENT.scope(current, async move {
            match AssertUnwindSafe(request.dispatch(actor)).catch_unwind().await {
                Ok(response) => {
                    if let Some(reply) = reply {
                        // The caller may have stopped waiting: nothing to do then.
                        let _ = reply.send(Ok(response));
                    }
                    Outcome::Done
                }
                Err(payload) => {
                    let reason = panic_message(&*payload);
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(CallError::ActorFailed { reason: reason.clone() }));
                    }
                    Outcome::Panicked(reason)
                }
            }
        }))
    }

    fn reject(self: Box<Self>, error: CallError, dead_letters: &DeadLetters) {
        match self.reply {
            Some(reply) => {
                let _ = reply.send(Err(error));
            }
            None => dead_letters.record(P::SERVICE, self.request.method().name, &error),
        }
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
    fn deliver<'a>(self: Box<Self>, actor: &'a mut A, cell: &Arc<Mailbox<A>>) -> Handling<'a> {
        let Resume { output, continuation, origin } = *self;
        let current = Current::new(cell.clone(), origin);
        let outcome = CURRENT.sync_scope(current, || {
            match std::panic::catch_unwind(AssertUnwindSafe(|| continuation(actor, output))) {
                Ok(()) => Outcome::Done,
                Err(payload) => Outcome::Panicked(panic_message(&*payload)),
            }
        });
        Box::pin(future::ready(outcome))
    }

    fn reject(self: Box<Self>, error: CallError, dead_letters: &DeadLetters) {
        dead_letters.record(short_type_name::<A>(), "continuation", &error);
    }
}
