//! Queueing parcels: letters that hold several one-way requests from another
//! node (see [`Parcel`](crate::remote::Parcel)).
//!
//! A parcel counts once per request it holds, in the inbox (`queued`) and
//! once taken (`batched`), so the capacity bounds messages, not letters: it
//! is queued as any letter is ([`Mailbox::try_push`], with its weight). The
//! actor's task takes one request at a time, and each leaves the count as a
//! letter does. A parcel that stops before its last request (see
//! [`Parcel`](crate::remote::Parcel)) goes back to the front of the batch
//! when it came from there. (Not into the actor's run, which is taken only
//! with nothing stashed: a request stashed from the parcel must come back
//! ahead of the rest of it.)

use std::sync::atomic::Ordering;

use super::{Mailbox, lock};
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

    /// Puts a parcel taken from the batch, with requests left, back at its
    /// front; once the mailbox is closed, rejects them as the queued letters
    /// were. Its requests left are still counted.
    pub(crate) fn put_front(&self, letter: Letter<A>) {
        self.put_at(0, letter);
    }

    /// As [`put_front`](Mailbox::put_front), behind the first `at` letters
    /// of the batch (those a handler just brought back from the stash).
    pub(crate) fn put_at(&self, at: usize, mut letter: Letter<A>) {
        let inbox = self.inbox();
        if inbox.open {
            let mut batch = lock(&self.batch);
            let at = at.min(batch.letters.len());
            batch.letters.insert(at, letter);
            return;
        }
        drop(inbox);
        self.batched.fetch_sub(letter.weight(), Ordering::SeqCst);
        letter.reject(CallError::ActorStopped, self);
    }
}
