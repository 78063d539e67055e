//! Stashing: an actor puts messages aside until it is ready for them.
//!
//! Before each message's handler runs, the actor's
//! [`admit`](crate::Actor::admit) hook sees the message ([`Queued`]) and
//! answers [`Admit::Handle`] or [`Admit::Stash`]. A stashed message waits,
//! in order, until [`Context::unstash_all`](crate::Context::unstash_all)
//! brings every stashed message back ahead of those that came later; each is
//! then admitted again. The decision comes before the handler because a
//! handler owns its arguments: once it has started, the message is spent.
//!
//! Stashed messages stay in the mailbox: they count against its capacity,
//! a stashed call still times out at its deadline, they survive a restart
//! (the new instance admits them), and they fail with
//! [`CallError::ActorStopped`](crate::CallError::ActorStopped) if the actor
//! stops first.

use std::any::Any;

use crate::protocol::{Method, Protocol};

/// What an actor does with a message before its handler runs; the answer of
/// [`Actor::admit`](crate::Actor::admit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Admit {
    /// Handle it now.
    #[default]
    Handle,
    /// Put it aside until [`Context::unstash_all`](crate::Context::unstash_all).
    Stash,
}

/// A message about to be handled, as [`Actor::admit`](crate::Actor::admit)
/// sees it: which service and method it calls, and its request.
pub struct Queued<'a> {
    letter: &'a dyn Peek,
}

impl<'a> Queued<'a> {
    pub(crate) fn new(letter: &'a dyn Peek) -> Self {
        Queued { letter }
    }

    /// The service trait the message belongs to, as written; `None` for the
    /// continuation of a [`reenter_after`](crate::Context::reenter_after),
    /// which is never stashed.
    pub fn service(&self) -> Option<&'static str> {
        self.letter.service()
    }

    /// The method the message calls; `None` for a continuation.
    pub fn method(&self) -> Option<Method> {
        self.letter.method()
    }

    /// Whether a caller waits for the reply.
    pub fn is_call(&self) -> bool {
        self.letter.is_call()
    }

    /// The request, if the message belongs to service `P`: match on it to
    /// decide by method and arguments.
    pub fn request<P: Protocol>(&self) -> Option<&'a P> {
        self.letter.request()?.downcast_ref::<P>()
    }
}

/// A letter seen from outside, without its actor type.
pub(crate) trait Peek {
    fn service(&self) -> Option<&'static str> {
        None
    }
    fn method(&self) -> Option<Method> {
        None
    }
    fn is_call(&self) -> bool {
        false
    }
    fn request(&self) -> Option<&dyn Any> {
        None
    }
}
