//! An actor's mailbox: a bounded user queue and a system queue.
//!
//! Invariants:
//! - The system queue is always drained before the user queue.
//! - Once closed (the actor was asked to stop, or failed), the mailbox takes
//!   no new letters, and every letter still queued has been rejected: queued
//!   calls fail with `ActorStopped` at once, even while the current message
//!   is still being handled.
//! - A sender that found the queue full parks its waker in `blocked`; once
//!   the queue is down to half its capacity, all parked senders are woken and
//!   retry. Waking all keeps a cancelled sender from swallowing the wake-up
//!   meant for a live one.
//! - Nothing allocates until the first message arrives.
//! - While it holds calls (queued, or the one being handled), the mailbox is
//!   registered with its system's deadline sweeper, which fails expired calls
//!   (see [`deadline`](crate::deadline)).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use crate::cell::Cell;
use crate::deadline::Watched;
use crate::letter::Letter;
use crate::reply::Expire;
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
    /// The name the actor was spawned under, if any.
    pub(crate) name: Option<Arc<str>>,
    pub(crate) system: Arc<SystemShared>,
    pub(crate) parent: Option<Arc<dyn Cell>>,
    /// This mailbox, for registering with the deadline sweeper.
    me: Weak<Mailbox<A>>,
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
    /// Whether the deadline sweeper watches this mailbox.
    watched: bool,
    /// The call being handled: its deadline and a way to fail its caller.
    current: Option<(u64, Arc<dyn Expire>)>,
    #[expect(clippy::box_collection, reason = "8 bytes per idle actor instead of a 48-byte empty map")]
    children: Option<Box<HashMap<u64, Arc<dyn Cell>>>>,
}

impl<A: Actor> Mailbox<A> {
    pub(crate) fn new(
        id: ActorId,
        name: Option<Arc<str>>,
        system: Arc<SystemShared>,
        parent: Option<Arc<dyn Cell>>,
        capacity: usize,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Mailbox {
            id,
            name,
            system,
            parent,
            me: me.clone(),
            capacity,
            state: Mutex::new(State {
                user: VecDeque::new(),
                system: VecDeque::new(),
                receiver: None,
                blocked: Vec::new(),
                open: true,
                watched: false,
                current: None,
                children: None,
            }),
            terminated: AtomicBool::new(false),
            on_terminated: Notify::new(),
        })
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
        let letter = into_letter(message);
        let watch = letter.deadline().is_some() && !std::mem::replace(&mut state.watched, true);
        state.user.push_back(letter);
        let receiver = state.receiver.take();
        drop(state);
        if let Some(waker) = receiver {
            waker.wake();
        }
        if watch {
            self.watch();
        }
        Ok(())
    }

    /// Registers with the deadline sweeper, starting it if it is idle.
    fn watch(&self) {
        let me: Weak<dyn Watched> = self.me.clone();
        if let Some(sweeper) = self.system.deadlines.watch(me) {
            crate::System::from_shared(self.system.clone()).spawn_task(sweeper);
        }
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
            state.current = letter.deadline().zip(letter.expiry());
            // Senders waiting for room resume once half the queue is free,
            // not at every freed slot: they then fill it in one go instead
            // of trading the lock with the actor message by message.
            let blocked =
                if state.user.len() <= self.capacity / 2 { std::mem::take(&mut state.blocked) } else { Vec::new() };
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

    /// Fails the calls whose deadline is at or before `now`.
    fn sweep_expired(&self, now: u64) -> bool {
        let mut state = self.lock();
        if let Some((deadline, call)) = &state.current {
            if call.is_done() {
                state.current = None;
            } else if *deadline <= now {
                call.expire();
                state.current = None;
            }
        }
        let mut expired = Vec::new();
        if state.user.iter().any(|letter| letter.deadline().is_some_and(|d| d <= now)) {
            let queued = std::mem::take(&mut state.user);
            for letter in queued {
                match letter.deadline() {
                    Some(deadline) if deadline <= now => expired.push(letter),
                    _ => state.user.push_back(letter),
                }
            }
        }
        let calls_left = state.current.is_some() || state.user.iter().any(|letter| letter.deadline().is_some());
        state.watched = calls_left;
        let blocked = if expired.is_empty() { Vec::new() } else { std::mem::take(&mut state.blocked) };
        drop(state);
        for letter in expired {
            letter.reject(CallError::Timeout, &self.system.dead_letters);
        }
        blocked.into_iter().for_each(Waker::wake);
        calls_left
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

impl<A: Actor> Watched for Mailbox<A> {
    fn sweep(&self, now: u64) -> bool {
        self.sweep_expired(now)
    }
}
