//! Wake-ups of a transport's writers held back until the actor that queued
//! the frames gives up its thread.
//!
//! A handler that sends many messages in one go (an echo answering a run of
//! requests, a sender with a window of permits) queues one frame after the
//! other on a lane. Woken at the first frame, the lane's writer may run at
//! once on another worker and take that frame alone: a write, and a packet,
//! per message. Held back until the actor's task returns from its poll
//! (it waits for its next letter, for a reply, or yields), the writer takes
//! everything the actor queued meanwhile in one write. Nothing waits longer
//! than the actor keeps its thread, and a call's request leaves when the
//! caller awaits the reply.
//!
//! Outside an actor's task (a plain task sending through a ref), writers
//! are woken at once; so are they for a request that waits for an answer
//! (the transport does not hold those), since its sender may block its
//! thread for the answer (`block_in_place`) without returning from its
//! poll. One-way messages an actor sends right before it blocks its thread
//! wait until it returns.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Notify;

thread_local! {
    /// Whether an actor's task is being polled on this thread.
    static HOLDING: Cell<bool> = const { Cell::new(false) };
    /// The writers to wake once it returns; the list is kept from poll to
    /// poll, so holding allocates nothing once it has grown.
    static HELD: RefCell<Vec<Arc<Notify>>> = const { RefCell::new(Vec::new()) };
}

/// Wakes one waiter of `notify`: once the actor's task being polled on this
/// thread returns from its poll, or at once outside one.
pub fn notify_after_poll(notify: &Arc<Notify>) {
    if !HOLDING.get() {
        return notify.notify_one();
    }
    HELD.with_borrow_mut(|held| {
        if !held.last().is_some_and(|last| Arc::ptr_eq(last, notify)) {
            held.push(notify.clone());
        }
    });
}

pin_project_lite::pin_project! {
    /// An actor's task: while it is polled, wake-ups through
    /// [`notify_after_poll`] are held, and given when the poll returns.
    pub(crate) struct Holding<F> {
        #[pin]
        task: F,
    }
}

impl<F> Holding<F> {
    pub(crate) fn new(task: F) -> Self {
        Holding { task }
    }
}

impl<F: Future> Future for Holding<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // A task polled inside another's poll (as `block_on` does) leaves
        // the wake-ups to the outer one.
        let outer = HOLDING.replace(true);
        // Given even if the poll unwinds, so that no writer is left asleep.
        let _release = (!outer).then_some(Release);
        self.project().task.poll(cx)
    }
}

/// Gives the held wake-ups, at the end of the outermost held poll.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        HOLDING.set(false);
        // Most polls hold nothing (an actor that sent nothing remote).
        if HELD.with_borrow(Vec::is_empty) {
            return;
        }
        // Taken out first: a wake-up may run code that sends again.
        let mut held = HELD.take();
        for notify in held.drain(..) {
            notify.notify_one();
        }
        HELD.with_borrow_mut(|list| {
            if list.is_empty() {
                *list = held;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::pin::pin;
    use std::task::Waker;
    use std::time::Duration;

    use super::*;

    /// Whether `notify` holds a wake-up (a permit, as nobody waits on it).
    fn woken(notify: &Notify) -> bool {
        pin!(notify.notified()).poll(&mut Context::from_waker(Waker::noop())).is_ready()
    }

    #[tokio::test]
    async fn wake_ups_wait_for_the_end_of_the_poll_and_come_once_per_writer() {
        let (first, second) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let waiting = tokio::spawn({
            let first = first.clone();
            async move { first.notified().await }
        });
        tokio::task::yield_now().await;
        Holding::new(poll_fn(|_| {
            for _ in 0..3 {
                notify_after_poll(&first);
            }
            notify_after_poll(&second);
            assert!(!woken(&second), "held while the poll runs");
            Poll::Ready(())
        }))
        .await;
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("the waiter woken").expect("no panic");
        assert!(woken(&second), "given when the poll returned");
        assert!(!woken(&second) && !woken(&first), "once each");
        // Outside a held poll, at once.
        notify_after_poll(&second);
        assert!(woken(&second));
    }
}
