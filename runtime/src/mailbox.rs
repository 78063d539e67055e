//! An actor's mailbox: a bounded user queue and a system queue.
//!
//! Invariants:
//! - The system queue is always drained before the user queue.
//! - Once closed (the actor was asked to stop, or failed), the mailbox takes
//!   no new letters, and every letter still queued has been rejected: queued
//!   calls fail with `ActorStopped` at once, even while the current message
//!   is still being handled.
//! - A sender that found the queue full parks its waker in `blocked`; every
//!   freed slot wakes all parked senders, which then retry. Waking all keeps
//!   a cancelled sender from swallowing the wake-up meant for a live one.
//! - Nothing allocates until the first message arrives.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use crate::cell::Cell;
use crate::chain::Label;
use crate::letter::Letter;
use crate::system::SystemShared;
use crate::{Actor, ActorId, CallError};

/// A message for the runtime itself, handled before any user message.
#[derive(Debug)]
pub(crate) enum Signal {
    /// Finish the current message, then stop.
    Stop,
}

/// The next thing the actor's task should do.
pub(crate) enum Next<A: Actor> {
    Signal(Signal),
    Letter(Letter<A>),
}

/// Why a letter was not queued.
pub(crate) enum Refused {
    Full,
    Closed,
}

pub(crate) struct Mailbox<A: Actor> {
    pub(crate) id: ActorId,
    pub(crate) label: Label,
    pub(crate) system: Arc<SystemShared>,
    pub(crate) parent: Option<Arc<dyn Cell>>,
    capacity: usize,
    state: Mutex<State<A>>,
    terminated: AtomicBool,
    on_terminated: Notify,
}

struct State<A: Actor> {
    user: VecDeque<Letter<A>>,
    system: VecDeque<Signal>,
    receiver: Option<Waker>,
    blocked: Vec<Waker>,
    open: bool,
    children: Option<Box<HashMap<u64, Arc<dyn Cell>>>>,
}

impl<A: Actor> Mailbox<A> {
    pub(crate) fn new(
        id: ActorId,
        label: Label,
        system: Arc<SystemShared>,
        parent: Option<Arc<dyn Cell>>,
        capacity: usize,
    ) -> Self {
        Mailbox {
            id,
            label,
            system,
            parent,
            capacity,
            state: Mutex::new(State {
                user: VecDeque::new(),
                system: VecDeque::new(),
                receiver: None,
                blocked: Vec::new(),
                open: true,
                children: None,
            }),
            terminated: AtomicBool::new(false),
            on_terminated: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<A>> {
        // A panic never happens while the lock is held (no user code runs
        // under it), so a poisoned lock still guards consistent state.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `message` if there is room, boxing it into a letter only once
    /// it is accepted; a refused message goes back to the sender.
    pub(crate) fn try_push<T>(
        &self,
        bounded: bool,
        message: T,
        into_letter: impl FnOnce(T) -> Letter<A>,
    ) -> Result<(), (Refused, T)> {
        let mut state = self.lock();
        if !state.open {
            return Err((Refused::Closed, message));
        }
        if bounded && state.user.len() >= self.capacity {
            return Err((Refused::Full, message));
        }
        state.user.push_back(into_letter(message));
        let receiver = state.receiver.take();
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
        Ok(())
    }

    /// Queues a reentrant call's continuation, past the capacity limit (the
    /// actor asked for it); a stopped actor's continuation is a dead letter.
    pub(crate) fn push_continuation(&self, letter: Letter<A>) {
        if let Err((_, letter)) = self.try_push(false, letter, |letter| letter) {
            letter.reject(CallError::ActorStopped, &self.system.dead_letters);
        }
    }

    /// Ready once the user queue has room or the mailbox is closed.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if !state.open || state.user.len() < self.capacity {
            return Poll::Ready(());
        }
        if !state.blocked.iter().any(|w| w.will_wake(cx.waker())) {
            state.blocked.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The next signal or letter, signals first. `None` once the mailbox is
    /// closed and empty.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Next<A>>> {
        let mut state = self.lock();
        if let Some(signal) = state.system.pop_front() {
            return Poll::Ready(Some(Next::Signal(signal)));
        }
        if let Some(letter) = state.user.pop_front() {
            let blocked = std::mem::take(&mut state.blocked);
            drop(state);
            blocked.into_iter().for_each(Waker::wake);
            return Poll::Ready(Some(Next::Letter(letter)));
        }
        if !state.open {
            return Poll::Ready(None);
        }
        match &state.receiver {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.receiver = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Queues a signal for the actor's task.
    pub(crate) fn signal(&self, signal: Signal) {
        let mut state = self.lock();
        state.system.push_back(signal);
        let receiver = state.receiver.take();
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
    }

    /// Closes the mailbox and fails every queued letter with `error`.
    /// Returns whether this call closed it.
    pub(crate) fn close(&self, error: &CallError) -> bool {
        let mut state = self.lock();
        if !state.open {
            return false;
        }
        state.open = false;
        let queued = std::mem::take(&mut state.user);
        let blocked = std::mem::take(&mut state.blocked);
        let receiver = state.receiver.take();
        drop(state);
        for letter in queued {
            letter.reject(error.clone(), &self.system.dead_letters);
        }
        blocked.into_iter().chain(receiver).for_each(Waker::wake);
        true
    }

    pub(crate) fn is_open(&self) -> bool {
        self.lock().open
    }

    /// Adds a child; refused (returns it back) once this actor is stopping.
    pub(crate) fn adopt(&self, child: Arc<dyn Cell>) -> Result<(), Arc<dyn Cell>> {
        let mut state = self.lock();
        if !state.open {
            return Err(child);
        }
        state.children.get_or_insert_with(Default::default).insert(child.id().seq, child);
        Ok(())
    }

    pub(crate) fn forget_child(&self, seq: u64) {
        if let Some(children) = self.lock().children.as_mut() {
            children.remove(&seq);
        }
    }

    pub(crate) fn take_children(&self) -> Vec<Arc<dyn Cell>> {
        self.lock().children.take().map(|c| c.into_values().collect()).unwrap_or_default()
    }

    pub(crate) fn mark_terminated(&self) {
        self.terminated.store(true, Ordering::Release);
        self.on_terminated.notify_waiters();
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    /// Resolves once the actor's task has finished, hooks included.
    pub(crate) async fn terminated(&self) {
        let notified = self.on_terminated.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_terminated() {
            return;
        }
        notified.await;
    }
}
