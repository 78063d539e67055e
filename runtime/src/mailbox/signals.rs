//! The system queue: messages for the runtime itself, handled before any
//! user message.

use std::collections::VecDeque;

use crate::watch::Terminated;

/// A message for the runtime itself, handled before any user message.
#[derive(Debug)]
pub(crate) enum Signal {
    /// Finish the current message, then stop.
    Stop,
    /// An actor this one watches is gone.
    Terminated(Terminated),
    /// Finish the current message, then restart from the factory (a sibling
    /// failed under an all-for-one supervisor).
    Restart,
    /// A child failed and its supervisor escalated: fail with this reason.
    Escalate(String),
}

/// The system queue. Boxed on first use: signals are rare (a stop, a
/// watched actor's end), and an empty `VecDeque` is 32 bytes in every
/// mailbox where the box is 8.
#[derive(Default)]
#[expect(clippy::box_collection, reason = "an empty VecDeque is 32 bytes in every mailbox; the box is 8")]
pub(super) struct Signals(Option<Box<VecDeque<Signal>>>);

impl Signals {
    pub(super) fn push(&mut self, signal: Signal) {
        self.0.get_or_insert_default().push_back(signal);
    }

    pub(super) fn pop(&mut self) -> Option<Signal> {
        self.0.as_mut()?.pop_front()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|queue| queue.is_empty())
    }

    /// Takes the first stop out of the queue; whether there was one.
    pub(super) fn take_stop(&mut self) -> bool {
        let Some(queue) = self.0.as_mut() else { return false };
        let Some(at) = queue.iter().position(|signal| matches!(signal, Signal::Stop)) else { return false };
        queue.remove(at);
        true
    }
}
