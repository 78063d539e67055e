//! Queueing parcels: letters that hold several one-way requests from another
//! node (see [`Parcel`](crate::remote::Parcel)).
//!
//! A parcel counts once per request it holds, in the inbox (`queued`) and
//! once taken (`batched`), so the capacity bounds messages, not letters.
//! The actor's task takes one request at a time, and each leaves the count
//! as a letter does; a parcel with requests left goes back where it was
//! taken from.

use std::sync::atomic::Ordering;

use super::{Mailbox, Refused, lock};
use crate::letter::Letter;
use crate::{Actor, CallError};

impl<A: Actor> Mailbox<A> {
    /// How many messages fit in the mailbox now; any number once it is
    /// closed (they are all refused).
    pub(crate) fn room(&self) -> usize {
        let inbox = self.inbox();
        if !inbox.open {
            return usize::MAX;
        }
        self.capacity.saturating_sub(inbox.queued.saturating_add(self.batched.load(Ordering::SeqCst)))
    }

    /// Queues a letter of `weight` messages if all of them fit, sealing it
    /// only once it is accepted; a refused parcel goes back to the sender.
    pub(crate) fn try_push_parcel<T>(
        &self,
        weight: usize,
        parcel: T,
        into_letter: impl FnOnce(T) -> Letter<A>,
    ) -> Result<(), (Refused, T)> {
        let mut inbox = self.inbox();
        if !inbox.open {
            return Err((Refused::Closed, parcel));
        }
        let queued = inbox.queued.saturating_add(self.batched.load(Ordering::SeqCst));
        if queued.saturating_add(weight) > self.capacity {
            return Err((Refused::Full, parcel));
        }
        inbox.user.push_back(into_letter(parcel));
        inbox.queued += weight;
        // Parcels hold one-way requests only: no deadline for the sweeper.
        let receiver = inbox.receiver.take();
        drop(inbox);
        if let Some(waker) = receiver {
            waker.wake();
        }
        Ok(())
    }

    /// Puts a parcel taken from the batch, with requests left, back at its
    /// front; once the mailbox is closed, rejects them as the queued letters
    /// were. Its requests left are still counted.
    pub(crate) fn put_front(&self, mut letter: Letter<A>) {
        let inbox = self.inbox();
        if inbox.open {
            lock(&self.batch).letters.push_front(letter);
            return;
        }
        drop(inbox);
        self.batched.fetch_sub(letter.weight(), Ordering::SeqCst);
        letter.reject(CallError::ActorStopped, self);
    }
}
