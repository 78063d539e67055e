//! An actor's mailbox: a bounded user queue and a system queue.
//!
//! Senders and the actor's task run on different threads, so they do not
//! share a lock per message: senders push into the `inbox`, and the actor
//! moves everything queued there into its `batch` in one go, then takes
//! letters from the batch one by one under a lock of its own that nobody
//! else takes on the hot path (only closing and the deadline sweeper do,
//! always after the inbox lock). When the inbox holds only one-way letters
//! and nothing is batched, the actor takes it whole as a run of its own and
//! handles it without any lock (see [`runs`]).
//!
//! Invariants:
//! - The system queue is always drained before the user queue: a pending
//!   signal is flagged in `signalled`, checked before every letter.
//! - The capacity bounds the messages in the inbox and the batch together:
//!   a letter is one message, but for a parcel of one-way requests from
//!   another node, which counts once per request (see [`parcels`]).
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use tokio_util::sync::CancellationToken;

use crate::cell::Cell;
use crate::deadline::Watched;
use crate::letter::Letter;
use crate::reply::Expire;
use crate::supervision::{Restarts, Supervisor};
use crate::system::SystemShared;
use crate::timers::IdleSetting;
use crate::watch::{ExitReason, Watches};
use crate::{Actor, ActorId, CallError};

mod parcels;
mod runs;
mod signals;
mod ties;

pub(crate) use runs::Run;
pub(crate) use signals::Signal;
use signals::Signals;

/// The next thing the actor's task should do.
pub(crate) enum Next<A: Actor> {
    Signal(Signal),
    Letter(Letter<A>),
    /// The first letter of the actor's run (see [`Run::front`]).
    FromRun,
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
    inbox: Mutex<Inbox<A>>,
    batch: Mutex<Batch<A>>,
    /// How many letters `batch` holds, for senders' capacity checks.
    batched: AtomicUsize,
    /// Whether the inbox holds a signal.
    signalled: AtomicBool,
    /// Whether senders are parked in `inbox.blocked`.
    has_blocked: AtomicBool,
    terminated: AtomicBool,
    /// The receive timeout, read by the actor's task when it runs idle.
    pub(crate) idle: IdleSetting,
}

/// What senders touch.
struct Inbox<A: Actor> {
    user: VecDeque<Letter<A>>,
    /// How many messages `user` holds: a parcel counts once per request.
    queued: usize,
    system: Signals,
    receiver: Option<Waker>,
    blocked: Vec<Waker>,
    open: bool,
    /// Whether the deadline sweeper watches this mailbox.
    watched: bool,
    /// Boxed: 8 bytes per idle actor instead of a 48-byte empty map.
    children: Option<Box<Children>>,
    /// Who watches this actor and whom it watches; boxed on first use.
    watches: Option<Box<Watches>>,
    /// How the actor ended, once it has, unless it simply stopped.
    exit: Option<Box<ExitReason>>,
    /// The parent token of the timers this actor set, made by the first.
    timers: Option<CancellationToken>,
}

/// An actor's children, and the restarts they had together (for an
/// all-for-one supervisor).
#[derive(Default)]
struct Children {
    by_seq: HashMap<u64, Arc<dyn Cell>>,
    restarts: Restarts,
    /// How this actor supervises them, when not its type's
    /// [`Actor::supervisor`] (a router's pool).
    supervisor: Option<Supervisor>,
}

/// What the actor's task touches.
struct Batch<A: Actor> {
    letters: VecDeque<Letter<A>>,
    /// Letters put aside by the actor (see [`Actor::admit`]), oldest first.
    /// They count against the capacity: an actor that stashes everything
    /// makes its senders wait instead of growing without bound. Boxed on
    /// first use: most actors never stash.
    #[expect(clippy::box_collection, reason = "an empty VecDeque is 32 bytes in every mailbox; the box is 8")]
    stash: Option<Box<VecDeque<Letter<A>>>>,
    /// The call being handled: its deadline and a way to fail its caller.
    current: Option<(u64, Arc<dyn Expire>)>,
}

impl<A: Actor> Batch<A> {
    /// The letters of the batch and the stash: what counts against the
    /// capacity besides the inbox (and the actor's run, see [`runs`]).
    fn queued(&self) -> usize {
        self.letters.len() + self.stashed()
    }

    /// How many messages the stash holds.
    fn stashed(&self) -> usize {
        self.stash.as_deref().map_or(0, weight)
    }

    fn take_stash(&mut self) -> VecDeque<Letter<A>> {
        self.stash.take().map(|stash| *stash).unwrap_or_default()
    }
}

/// A poisoned lock still guards consistent state: no user code runs under
/// these locks, and each update is complete before anything can panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
            inbox: Mutex::new(Inbox {
                user: VecDeque::new(),
                queued: 0,
                system: Signals::default(),
                receiver: None,
                blocked: Vec::new(),
                open: true,
                watched: false,
                children: None,
                watches: None,
                exit: None,
                timers: None,
            }),
            batch: Mutex::new(Batch { letters: VecDeque::new(), stash: None, current: None }),
            batched: AtomicUsize::new(0),
            signalled: AtomicBool::new(false),
            has_blocked: AtomicBool::new(false),
            terminated: AtomicBool::new(false),
            idle: IdleSetting::default(),
        })
    }

    fn inbox(&self) -> MutexGuard<'_, Inbox<A>> {
        lock(&self.inbox)
    }

    /// Whether `weight` more messages fit in the user queue, inbox and batch
    /// together.
    fn fits(&self, inbox: &Inbox<A>, weight: usize) -> bool {
        // SeqCst pairs with the actor's decrement and `has_blocked` load in
        // `taken`: a sender that still sees the slot taken is seen blocked.
        let queued = inbox.queued.saturating_add(self.batched.load(Ordering::SeqCst));
        queued.saturating_add(weight) <= self.capacity
    }

    /// Queues `message`, a letter of `weight` messages (one, but for a
    /// parcel), if there is room for all of them, boxing it into a letter
    /// only once it is accepted; a refused message goes back to the sender.
    pub(crate) fn try_push<T>(
        &self,
        bounded: bool,
        weight: usize,
        message: T,
        into_letter: impl FnOnce(T) -> Letter<A>,
    ) -> Result<(), (Refused, T)> {
        let mut inbox = self.inbox();
        if !inbox.open {
            return Err((Refused::Closed, message));
        }
        if bounded && !self.fits(&inbox, weight) {
            return Err((Refused::Full, message));
        }
        let letter = into_letter(message);
        let watch = letter.deadline().is_some() && !std::mem::replace(&mut inbox.watched, true);
        inbox.user.push_back(letter);
        inbox.queued += weight;
        let receiver = inbox.receiver.take();
        drop(inbox);
        if let Some(waker) = receiver {
            waker.wake();
        }
        if watch {
            self.watch();
        }
        Ok(())
    }

    /// Queues `letters` from the front, in order, while the user queue has
    /// room: one lock and at most one wake-up for them all, where
    /// [`try_push`](Mailbox::try_push) takes both per letter. An empty user
    /// queue takes them whole, without moving a letter. `Full` leaves those
    /// that found no room in `letters`; `Closed` leaves them all.
    /// `deadlines` says whether any of them has a deadline.
    pub(crate) fn try_push_letters(&self, letters: &mut VecDeque<Letter<A>>, deadlines: bool) -> Result<(), Refused> {
        if letters.is_empty() {
            return Ok(());
        }
        let mut inbox = self.inbox();
        if !inbox.open {
            return Err(Refused::Closed);
        }
        // The room is read once: under the inbox lock the queues only drain
        // (but for a letter the actor stashes meanwhile, which the check of
        // `try_push` misses just the same).
        let queued = inbox.queued.saturating_add(self.batched.load(Ordering::SeqCst));
        let room = self.capacity.saturating_sub(queued).min(letters.len());
        inbox.queued += room;
        if room == letters.len() && inbox.user.is_empty() {
            std::mem::swap(&mut inbox.user, letters);
        } else {
            inbox.user.extend(letters.drain(..room));
        }
        // Watched when any of them has a deadline (even one left out, if
        // only some fit: the sweeper then finds nothing, and stops).
        let watch = room > 0 && deadlines && !std::mem::replace(&mut inbox.watched, true);
        // Woken once, and only if it waits (it then found the queue empty).
        let receiver = if room > 0 { inbox.receiver.take() } else { None };
        drop(inbox);
        if let Some(waker) = receiver {
            waker.wake();
        }
        if watch {
            self.watch();
        }
        if letters.is_empty() { Ok(()) } else { Err(Refused::Full) }
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
        if let Err((_, mut letter)) = self.try_push(false, 1, letter, |letter| letter) {
            letter.reject(CallError::ActorStopped, self);
        }
    }

    /// Ready once the user queue has room or the mailbox is closed.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inbox = self.inbox();
        if !inbox.open {
            return Poll::Ready(());
        }
        if !inbox.blocked.iter().any(|w| w.will_wake(cx.waker())) {
            inbox.blocked.push(cx.waker().clone());
        }
        // Parked first, checked second: the actor frees a slot first and
        // looks for parked senders second, so one of the two sees the other
        // (both sides use SeqCst).
        self.has_blocked.store(true, Ordering::SeqCst);
        if self.fits(&inbox, 1) { Poll::Ready(()) } else { Poll::Pending }
    }

    /// The next signal or letter, signals first. `None` once the mailbox is
    /// closed and empty.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>, run: &mut Run<A>) -> Poll<Option<Next<A>>> {
        loop {
            if self.signalled.load(Ordering::Acquire) {
                if let Some(signal) = self.next_signal() {
                    return Poll::Ready(Some(Next::Signal(signal)));
                }
            }
            if self.take_from_run(run) {
                return Poll::Ready(Some(Next::FromRun));
            }
            // `batched` is only ever raised by this task, so zero means empty.
            if self.batched.load(Ordering::Relaxed) > 0 {
                // The batch lock is released at the end of this statement,
                // before `taken` takes the inbox lock (the order is inbox,
                // then batch, everywhere).
                let letter = self.take_batched(&mut lock(&self.batch));
                if let Some(letter) = letter {
                    self.taken();
                    return Poll::Ready(Some(Next::Letter(letter)));
                }
            }
            // The batch is empty: move the inbox over, or wait for it.
            let mut inbox = self.inbox();
            if let Some(signal) = inbox.system.pop() {
                self.signalled.store(!inbox.system.is_empty(), Ordering::Release);
                return Poll::Ready(Some(Next::Signal(signal)));
            }
            if inbox.user.is_empty() {
                if !inbox.open {
                    return Poll::Ready(None);
                }
                shrink_idle(&mut inbox.user);
                // Nothing is queued, so nobody needs to wait for room.
                let blocked = std::mem::take(&mut inbox.blocked);
                match &inbox.receiver {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => inbox.receiver = Some(cx.waker().clone()),
                }
                if !blocked.is_empty() {
                    self.has_blocked.store(false, Ordering::SeqCst);
                    drop(inbox);
                    blocked.into_iter().for_each(Waker::wake);
                }
                return Poll::Pending;
            }
            let mut batch = lock(&self.batch);
            if self.take_run(&mut inbox, &mut batch, run) {
                continue;
            }
            std::mem::swap(&mut batch.letters, &mut inbox.user);
            let moved = std::mem::take(&mut inbox.queued);
            // Senders read it under the inbox lock, which this store is under.
            self.batched.store(moved + batch.stashed(), Ordering::Relaxed);
            if let Some(letter) = self.take_batched(&mut batch) {
                drop((batch, inbox));
                self.taken();
                return Poll::Ready(Some(Next::Letter(letter)));
            }
        }
    }

    fn next_signal(&self) -> Option<Signal> {
        let mut inbox = self.inbox();
        let signal = inbox.system.pop();
        self.signalled.store(!inbox.system.is_empty(), Ordering::Release);
        signal
    }

    /// Whether a signal waits: it goes before the next letter.
    pub(crate) fn signal_pending(&self) -> bool {
        self.signalled.load(Ordering::Acquire)
    }

    /// One message of a letter the actor's task holds (a parcel's request)
    /// leaves the capacity count, as a letter taken does.
    pub(crate) fn take_one(&self) {
        self.take_many(1);
    }

    /// `n` messages of letters the actor's task holds left the capacity
    /// count, told at once (see [`take_one`](Mailbox::take_one)).
    pub(crate) fn take_many(&self, n: usize) {
        if n > 0 {
            self.batched.fetch_sub(n, Ordering::SeqCst);
            self.taken();
        }
    }

    /// The next letter of the batch, now the current one.
    fn take_batched(&self, batch: &mut Batch<A>) -> Option<Letter<A>> {
        let letter = batch.letters.pop_front()?;
        if batch.letters.is_empty() {
            shrink_idle(&mut batch.letters);
        }
        batch.current = letter.expiry();
        self.batched.fetch_sub(1, Ordering::SeqCst);
        Some(letter)
    }

    /// A letter left the mailbox: wake parked senders once half of it is
    /// free. They then fill it in one go instead of trading the lock with
    /// the actor letter by letter.
    fn taken(&self) {
        if !self.has_blocked.load(Ordering::SeqCst) {
            return;
        }
        // The letters the actor holds alone keep it over half full: no need
        // to lock the inbox to know (while a sender waits, this runs for
        // every letter taken).
        if self.batched.load(Ordering::SeqCst) > self.capacity / 2 {
            return;
        }
        let mut inbox = self.inbox();
        let queued = inbox.queued.saturating_add(self.batched.load(Ordering::SeqCst));
        if queued > self.capacity / 2 {
            return;
        }
        self.has_blocked.store(false, Ordering::SeqCst);
        let blocked = std::mem::take(&mut inbox.blocked);
        drop(inbox);
        blocked.into_iter().for_each(Waker::wake);
    }

    /// Queues a signal for the actor's task.
    pub(crate) fn signal(&self, signal: Signal) {
        let mut inbox = self.inbox();
        inbox.system.push(signal);
        self.signalled.store(true, Ordering::Release);
        let receiver = inbox.receiver.take();
        drop(inbox);
        if let Some(waker) = receiver {
            waker.wake();
        }
    }

    /// Closes the mailbox and fails every queued letter with `error`.
    /// Returns whether this call closed it.
    pub(crate) fn close(&self, error: &CallError) -> bool {
        self.close_locked(self.inbox(), error)
    }

    fn close_locked(&self, mut inbox: MutexGuard<'_, Inbox<A>>, error: &CallError) -> bool {
        if !inbox.open {
            return false;
        }
        inbox.open = false;
        let mut batch = lock(&self.batch);
        // The stashed letters came first.
        let mut queued = batch.take_stash();
        queued.append(&mut batch.letters);
        drop(batch);
        // The letters of the actor's run stay counted until it puts them
        // back (see [`runs`]).
        self.batched.fetch_sub(weight(&queued), Ordering::SeqCst);
        queued.append(&mut inbox.user);
        inbox.queued = 0;
        let blocked = std::mem::take(&mut inbox.blocked);
        let receiver = inbox.receiver.take();
        drop(inbox);
        for mut letter in queued {
            letter.reject(error.clone(), self);
        }
        blocked.into_iter().chain(receiver).for_each(Waker::wake);
        true
    }

    /// Fails the calls whose deadline is at or before `now`; returns whether
    /// calls are still waiting.
    fn sweep_expired(&self, now: u64) -> bool {
        let mut inbox = self.inbox();
        let mut batch = lock(&self.batch);
        if let Some((deadline, call)) = &batch.current {
            if call.is_done() {
                batch.current = None;
            } else if *deadline <= now {
                call.expire();
                batch.current = None;
            }
        }
        let mut expired = batch.stash.as_deref_mut().map(|stash| take_expired(stash, now)).unwrap_or_default();
        expired.extend(take_expired(&mut batch.letters, now));
        self.batched.fetch_sub(expired.len(), Ordering::SeqCst);
        let from_inbox = take_expired(&mut inbox.user, now);
        // Calls only, one message each.
        inbox.queued -= from_inbox.len();
        expired.extend(from_inbox);
        let has_call = |letters: &VecDeque<Letter<A>>| letters.iter().any(|letter| letter.deadline().is_some());
        let calls_left = batch.current.is_some()
            || batch.stash.as_deref().is_some_and(has_call)
            || has_call(&batch.letters)
            || has_call(&inbox.user);
        inbox.watched = calls_left;
        drop(batch);
        let blocked = if expired.is_empty() { Vec::new() } else { std::mem::take(&mut inbox.blocked) };
        drop(inbox);
        for mut letter in expired {
            letter.reject(CallError::Timeout, self);
        }
        blocked.into_iter().for_each(Waker::wake);
        calls_left
    }

    pub(crate) fn is_open(&self) -> bool {
        self.inbox().open
    }

    /// Puts the letter just taken aside, after those stashed before it.
    pub(crate) fn stash(&self, letter: Letter<A>) {
        let mut batch = lock(&self.batch);
        batch.current = None;
        batch.stash.get_or_insert_default().push_back(letter);
        // Still queued, as far as the capacity goes.
        self.batched.fetch_add(1, Ordering::SeqCst);
    }

    /// Brings every stashed letter back, in the order they came, ahead of
    /// the letters queued after them. Returns how many came back.
    pub(crate) fn unstash_all(&self) -> usize {
        let inbox = self.inbox();
        let mut batch = lock(&self.batch);
        let mut stash = batch.take_stash();
        let count = stash.len();
        stash.append(&mut batch.letters);
        batch.letters = stash;
        drop(batch);
        // Wakes the actor in case this ran outside its task while it waited.
        let receiver = if count > 0 { inbox.receiver.clone() } else { None };
        drop(inbox);
        if let Some(waker) = receiver {
            waker.wake();
        }
        count
    }

    /// How many letters are stashed.
    pub(crate) fn stashed(&self) -> usize {
        lock(&self.batch).stash.as_ref().map_or(0, |stash| stash.len())
    }

    /// Closes the mailbox if nothing at all is queued, stashed letters
    /// included: an actor stopping when idle must not drop a message that
    /// just arrived. Returns whether it closed it.
    pub(crate) fn close_if_idle(&self) -> bool {
        let inbox = self.inbox();
        let batch = lock(&self.batch);
        let idle = inbox.user.is_empty()
            && inbox.system.is_empty()
            && batch.letters.is_empty()
            && batch.stash.as_ref().is_none_or(|stash| stash.is_empty());
        drop(batch);
        idle && self.close_locked(inbox, &CallError::ActorStopped)
    }

    /// The token the actor's timers hang off; an already cancelled one once
    /// the actor is stopping.
    pub(crate) fn timers(&self) -> CancellationToken {
        let mut inbox = self.inbox();
        if !inbox.open {
            let token = CancellationToken::new();
            token.cancel();
            return token;
        }
        inbox.timers.get_or_insert_with(CancellationToken::new).clone()
    }

    /// Cancels every timer the actor set, and its receive timeout: it is
    /// stopping or restarting.
    pub(crate) fn cancel_timers(&self) {
        self.idle.clear();
        if let Some(token) = self.inbox().timers.take() {
            token.cancel();
        }
    }

    /// Ready once a stop was asked for (taking it from the system queue) or
    /// the mailbox closed; for waiting out a restart's backoff.
    pub(crate) fn poll_stop(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inbox = self.inbox();
        if !inbox.open {
            return Poll::Ready(());
        }
        if inbox.system.take_stop() {
            self.signalled.store(!inbox.system.is_empty(), Ordering::Release);
            return Poll::Ready(());
        }
        inbox.receiver = Some(cx.waker().clone());
        Poll::Pending
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    /// Resolves once the actor's task has finished, hooks included.
    pub(crate) async fn terminated(&self) {
        let waiting = {
            let mut inbox = self.inbox();
            // Set under the inbox lock, before the end takes `waiting`.
            if self.is_terminated() {
                return;
            }
            inbox.watches.get_or_insert_default().waiting.get_or_insert_default().clone()
        };
        let notified = waiting.notified();
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

/// How many messages `letters` hold (see [`Deliver::weight`](crate::letter::Deliver::weight)).
fn weight<A: Actor>(letters: &VecDeque<Letter<A>>) -> usize {
    letters.iter().map(|letter| letter.weight()).sum()
}

/// Frees an empty queue's buffer once a burst has grown it: letters are
/// stored inline, so a drained burst would otherwise keep its memory for
/// the actor's whole life.
fn shrink_idle<A: Actor>(queue: &mut VecDeque<Letter<A>>) {
    const KEEP: usize = 32;
    if queue.capacity() > KEEP {
        *queue = VecDeque::new();
    }
}

/// Removes and returns the letters of `queue` whose deadline is at or before
/// `now`, keeping the others in order.
fn take_expired<A: Actor>(queue: &mut VecDeque<Letter<A>>, now: u64) -> Vec<Letter<A>> {
    if !queue.iter().any(|letter| letter.deadline().is_some_and(|d| d <= now)) {
        return Vec::new();
    }
    let mut expired = Vec::new();
    for letter in std::mem::take(queue) {
        match letter.deadline() {
            Some(deadline) if deadline <= now => expired.push(letter),
            _ => queue.push_back(letter),
        }
    }
    expired
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fieldless;

    impl Actor for Fieldless {}

    /// Every actor has a mailbox all its life: what most never use (the
    /// system queue, watches, children, a stash) is boxed on first use.
    #[test]
    fn a_mailbox_stays_small() {
        let size = size_of::<Mailbox<Fieldless>>();
        assert!(size <= 304, "a mailbox takes {size} bytes");
    }
}
