//! The handler future of the message being handled, in one reusable slot,
//! and the message's context, in one reused [`Current`].
//!
//! A mailbox holds letters of several services, so each letter builds its
//! handler future behind `dyn Future`. Boxing that future anew for every
//! message costs an allocation per message; instead each actor keeps one
//! slot ([`FutureSlot`]) and refills it, reallocating only when a larger
//! future comes along. An actor that never got a message has no memory
//! there.
//!
//! The futures borrow the actor mutably, and one box serves every message,
//! so the borrow is widened to `'static` here and nowhere else. That is
//! sound because of how [`Handling`] is used by the actor's task (see
//! `run::serve`):
//! - the actor outlives the `Handling`, which is dropped before `serve`
//!   returns, and on cancellation is dropped before the actor (it lives in an
//!   inner frame);
//! - the actor is reached only through the future in the slot while one is
//!   running, and a new future is built only after the last one finished.

use std::future::{Future, poll_fn};
use std::ptr::NonNull;

mod slot;

use self::slot::FutureSlot;
use crate::Actor;
use crate::context::{Current, enter};
use crate::letter::{Origin, Outcome};

pub(crate) struct Handling<A: Actor> {
    actor: NonNull<A>,
    future: FutureSlot<Outcome<A>>,
    /// The context of the message being handled, reused for every message;
    /// boxed on the first one, so an actor that never got one stays small.
    current: Option<Box<Current>>,
}

// SAFETY: a `Handling` stands for the exclusive borrow of an `A` it was made
// from; sending it is sending that borrow, which is `Send` when `A` is. Its
// other fields (a `Send` slot of futures, a `Current` of `Send + Sync` parts)
// are `Send` on their own.
unsafe impl<A: Actor> Send for Handling<A> {}

impl<A: Actor> Handling<A> {
    /// # Safety
    ///
    /// `actor` must outlive the returned value and be reached only through
    /// it while it lives (the contract in the module docs).
    pub(crate) unsafe fn new(actor: &mut A) -> Self {
        Handling { actor: NonNull::from(actor), future: FutureSlot::new(), current: None }
    }

    /// The actor, for building the next handler future.
    ///
    /// # Safety
    ///
    /// The reference from the previous call must be dead: the future built
    /// from it has finished, or was never put in the slot.
    pub(crate) unsafe fn actor(&mut self) -> &'static mut A {
        // SAFETY: by `new`'s contract the actor outlives `self`, and by this
        // function's contract no other reference to it is in use.
        unsafe { self.actor.as_mut() }
    }

    /// Sets up the context of the next message, from `origin`; `new` builds
    /// it the first time.
    pub(crate) fn begin(&mut self, origin: Origin, new: impl FnOnce(Origin) -> Current) -> &Current {
        let current = match self.current.take() {
            Some(mut current) => {
                current.begin(origin);
                current
            }
            None => Box::new(new(origin)),
        };
        self.current.insert(current)
    }

    /// Puts the next handler future in the slot.
    pub(crate) fn start<F>(&mut self, future: F)
    where
        F: Future<Output = Outcome<A>> + Send + 'static,
    {
        self.future.set(future);
    }

    /// Puts the next handler future, made by `make`, in the slot (see
    /// [`FutureSlot::set_with`]).
    pub(crate) fn start_with<F>(&mut self, make: impl FnOnce() -> F)
    where
        F: Future<Output = Outcome<A>> + Send + 'static,
    {
        self.future.set_with(make);
    }

    /// Drives the future in the slot to its end, with the message's context
    /// published while it runs.
    pub(crate) async fn finish(&mut self) -> Outcome<A> {
        let outcome = poll_fn(|cx| match &self.current {
            Some(current) => enter(current, || self.future.poll(cx)),
            None => self.future.poll(cx),
        })
        .await;
        outcome.unwrap_or(Outcome::Done)
    }
}
