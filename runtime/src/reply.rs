//! A call's reply slot, shared by the caller, the letter and the deadline
//! sweeper.
//!
//! Whoever fills the slot first wins: the actor with the response, the
//! sweeper with `Timeout` once the deadline has passed, or the runtime with
//! `ActorStopped`. Later fills are dropped. The caller marks the slot
//! abandoned when it stops waiting, so a queued request nobody waits for is
//! skipped.
//!
//! A call that came from another node has no local caller: its slot
//! [forwards](ReplySlot::forward) the first fill to the connection instead.

use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::CallError;

/// Something that can be failed with `Timeout` from outside the call.
pub(crate) trait Expire: Send + Sync {
    /// Fills the slot with `CallError::Timeout` unless it is filled already.
    fn expire(&self);
    /// Whether the slot is filled or its caller gone.
    fn is_done(&self) -> bool;
}

pub(crate) struct ReplySlot<R> {
    state: Mutex<State<R>>,
}

/// Where a forwarded reply goes: called once, with the first fill.
pub(crate) type Forward<R> = Box<dyn FnOnce(Result<R, CallError>) + Send>;

enum State<R> {
    /// No reply yet; the caller's waker once it has polled.
    Waiting(Option<Waker>),
    /// No reply yet; it goes to this function rather than to a waiting
    /// future.
    Forwarding(Forward<R>),
    Filled(Result<R, CallError>),
    /// The caller has taken the reply or gone away.
    Closed,
}

impl<R> ReplySlot<R> {
    pub(crate) fn new() -> Self {
        ReplySlot { state: Mutex::new(State::Waiting(None)) }
    }

    /// A slot whose first fill is handed to `to` (on the filling thread)
    /// instead of being kept for a caller.
    pub(crate) fn forward(to: Forward<R>) -> Self {
        ReplySlot { state: Mutex::new(State::Forwarding(to)) }
    }

    fn lock(&self) -> MutexGuard<'_, State<R>> {
        // No code that can panic runs under this lock.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fills the slot unless it is filled or closed; wakes the caller.
    pub(crate) fn fill(&self, reply: Result<R, CallError>) {
        let mut state = self.lock();
        match std::mem::replace(&mut *state, State::Closed) {
            State::Waiting(waker) => {
                *state = State::Filled(reply);
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            State::Forwarding(to) => {
                drop(state);
                to(reply);
            }
            done => *state = done,
        }
    }

    /// Whether the reply can no longer reach anyone waiting for it.
    pub(crate) fn is_closed(&self) -> bool {
        !matches!(*self.lock(), State::Waiting(_) | State::Forwarding(_))
    }

    /// The reply, once filled. Called by the caller only.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Result<R, CallError>> {
        let mut state = self.lock();
        match std::mem::replace(&mut *state, State::Closed) {
            State::Filled(reply) => Poll::Ready(reply),
            State::Waiting(mut waker) => {
                match &waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => waker = Some(cx.waker().clone()),
                }
                *state = State::Waiting(waker);
                Poll::Pending
            }
            State::Closed | State::Forwarding(_) => Poll::Ready(Err(CallError::ActorStopped)),
        }
    }

    /// The caller stops waiting.
    pub(crate) fn close(&self) {
        *self.lock() = State::Closed;
    }
}

impl<R: Send> Expire for ReplySlot<R> {
    fn expire(&self) {
        self.fill(Err(CallError::Timeout));
    }

    fn is_done(&self) -> bool {
        self.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn the_first_fill_wins() {
        let slot = ReplySlot::<u32>::new();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(slot.poll_take(&mut cx).is_pending());
        slot.expire();
        slot.fill(Ok(7));
        assert_eq!(slot.poll_take(&mut cx), Poll::Ready(Err(CallError::Timeout)));
        assert!(slot.is_closed());
    }

    #[test]
    fn a_closed_slot_ignores_fills() {
        let slot = ReplySlot::<u32>::new();
        slot.close();
        assert!(slot.is_closed());
        slot.fill(Ok(1));
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(slot.poll_take(&mut cx), Poll::Ready(Err(CallError::ActorStopped)));
    }

    #[test]
    fn a_forwarding_slot_hands_over_the_first_fill_only() {
        let (tx, rx) = std::sync::mpsc::channel();
        let slot = ReplySlot::<u32>::forward(Box::new(move |reply| tx.send(reply).expect("receiver alive")));
        assert!(!slot.is_closed());
        slot.fill(Ok(3));
        slot.expire();
        assert!(slot.is_closed());
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![Ok(3)]);
    }
}
