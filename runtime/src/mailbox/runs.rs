//! Runs: the whole inbox taken by the actor's task at once, then handled
//! letter by letter without a lock.
//!
//! Taking letters one by one out of the batch costs a lock and a look at
//! each letter's deadline (for the sweeper). When the inbox holds no call
//! with a deadline (the sweeper would need to reach it) and nothing waits
//! in the batch or the stash (they come first), the actor's task swaps the
//! whole inbox into a run of its own instead.
//!
//! A run's letters count against the capacity (in `batched`) until each is
//! taken, as batched letters do. A run holds no letter the mailbox must
//! reach while the actor works through it, as long as nothing is stashed
//! meanwhile: whenever the actor stashes a letter of the run, or stops
//! serving for any reason, the rest of the run goes back to the front of
//! the batch (or, once the mailbox is closed, is rejected as the queued
//! letters were).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use super::{Batch, Inbox, Mailbox, lock};
use crate::letter::Letter;
use crate::{Actor, CallError};

/// The actor's task's run: boxed on first use, so that an actor that never
/// takes one stays small (the box is 8 bytes in its future, the queue 32).
pub(crate) struct Run<A: Actor>(Option<Box<Letters<A>>>);

/// A run's letters. Those handed over stay in place, as empty shells, until
/// the run is over: removing each from the queue as it goes would move it
/// or cost a drain per letter. A run that is over is empty.
struct Letters<A: Actor> {
    queue: VecDeque<Letter<A>>,
    /// How many letters, from the front, were handed over.
    handed: usize,
}

impl<A: Actor> Default for Run<A> {
    fn default() -> Self {
        Run(None)
    }
}

impl<A: Actor> Letters<A> {
    fn is_over(&self) -> bool {
        self.handed >= self.queue.len()
    }

    /// Drops the shells of the letters handed over.
    fn drop_handed(&mut self) {
        self.queue.drain(..self.handed.min(self.queue.len()));
        self.handed = 0;
    }
}

impl<A: Actor> Run<A> {
    /// The run's next letter, left in place: handing it over from there
    /// spares moving it (letters are up to 144 bytes, stored inline).
    pub(crate) fn front(&mut self) -> Option<&mut Letter<A>> {
        let letters = self.0.as_mut()?;
        letters.queue.get_mut(letters.handed)
    }

    /// Leaves the run's next letter behind (handed over, an empty shell).
    pub(crate) fn drop_front(&mut self) {
        if let Some(letters) = self.0.as_mut() {
            letters.handed += 1;
            if letters.is_over() {
                letters.queue.clear();
                letters.handed = 0;
            }
        }
    }

    /// Whether letters are left in the run.
    pub(crate) fn is_going(&self) -> bool {
        self.0.as_ref().is_some_and(|letters| !letters.is_over())
    }

    /// Puts `letter` back in the run, ahead of the letters left in it, in
    /// place of the shell of the last letter handed over. The run must be
    /// going ([`is_going`](Run::is_going)): a letter handed over just
    /// before left its shell there.
    pub(crate) fn put_front(&mut self, letter: Letter<A>) {
        if let Some(letters) = self.0.as_mut().filter(|letters| letters.handed > 0) {
            letters.handed -= 1;
            letters.queue[letters.handed] = letter;
        } else {
            let letters = self.0.get_or_insert_with(|| Box::new(Letters { queue: VecDeque::new(), handed: 0 }));
            letters.drop_handed();
            letters.queue.push_front(letter);
        }
    }

    /// Takes the run's next letter out (to stash it).
    pub(crate) fn take_front(&mut self) -> Option<Letter<A>> {
        let letters = self.0.as_mut()?;
        letters.drop_handed();
        letters.queue.pop_front()
    }
}

impl<A: Actor> Mailbox<A> {
    /// Whether `run` has a letter left; it leaves the capacity count now,
    /// as a letter taken from the batch does.
    pub(super) fn take_from_run(&self, run: &Run<A>) -> bool {
        if !run.is_going() {
            return false;
        }
        self.take_one();
        true
    }

    /// Swaps the inbox's letters into `run` if none of them is a call with a
    /// deadline and nothing is batched or stashed before them. Called with
    /// both locks held, `run` empty.
    pub(super) fn take_run(&self, inbox: &mut Inbox<A>, batch: &mut Batch<A>, run: &mut Run<A>) -> bool {
        // `watched` is set when a letter with a deadline is queued and only
        // cleared by a sweep that found none left.
        if inbox.watched || batch.queued() > 0 || inbox.user.is_empty() {
            return false;
        }
        let letters = run.0.get_or_insert_with(|| Box::new(Letters { queue: VecDeque::new(), handed: 0 }));
        std::mem::swap(&mut letters.queue, &mut inbox.user);
        batch.current = None;
        // Senders read it under the inbox lock, which this update is under.
        self.batched.fetch_add(std::mem::take(&mut inbox.queued), Ordering::Relaxed);
        true
    }

    /// Hands the letters of `run` not taken yet back to the front of the
    /// batch, or rejects them once the mailbox is closed.
    pub(crate) fn put_back(&self, run: &mut Run<A>) {
        let Some(held) = run.0.as_mut().filter(|letters| !letters.is_over()) else { return };
        held.drop_handed();
        let mut letters = std::mem::take(&mut held.queue);
        let inbox = self.inbox();
        if inbox.open {
            let mut batch = lock(&self.batch);
            // Still counted: they only change queues.
            letters.append(&mut batch.letters);
            batch.letters = letters;
            return;
        }
        drop(inbox);
        self.batched.fetch_sub(super::weight(&letters), Ordering::SeqCst);
        for mut letter in letters {
            letter.reject(CallError::ActorStopped, self);
        }
    }
}
