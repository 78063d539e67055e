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
//! A poll that ends because tokio's budget ran out (the actor yields in the
//! middle of a run of messages, and goes on where it stopped) carries its
//! wake-ups over to the end of the task's next poll, once: the writer then
//! takes two polls' worth of frames (measured on the echo workload: a
//! third fewer UDP datagrams). So that a task that ran out of budget just
//! as it found nothing more to do does not keep them, it asks for that next
//! poll itself.
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
    /// [`notify_after_poll`] are held, and given when the poll returns;
    /// when it returns because tokio's budget ran out (the task is polled
    /// again soon, and goes on sending), they are carried over to the end
    /// of that next poll.
    pub(crate) struct Holding<F> {
        #[pin]
        task: F,
        // Wake-ups carried over from a poll that ran out of budget (boxed:
        // every actor's task holds the field, most never use it).
        carried: Option<Box<Carried>>,
    }
}

impl<F> Holding<F> {
    pub(crate) fn new(task: F) -> Self {
        Holding { task, carried: None }
    }
}

impl<F: Future> Future for Holding<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // A task polled inside another's poll (as `block_on` does) leaves
        // the wake-ups to the outer one.
        let outer = HOLDING.replace(true);
        if outer {
            return this.task.poll(cx);
        }
        // Carried over once at most: a task that keeps sending has its
        // writers woken every other poll, not only once the queues fill.
        let mut fresh = true;
        if let Some(carried) = this.carried.as_mut().filter(|carried| !carried.0.is_empty()) {
            HELD.with_borrow_mut(|held| held.append(&mut carried.0));
            fresh = false;
        }
        // Given even if the poll unwinds, so that no writer is left asleep.
        let mut release = Release { carry: None };
        let polled = this.task.poll(cx);
        if fresh && polled.is_pending() && !tokio::task::coop::has_budget_remaining() {
            // Out of budget, the task most likely yielded and goes on
            // sending when polled again; it may also have run out just as
            // it found nothing more to do, so it asks for that next poll
            // itself, which gives what it carries whatever it finds.
            release.carry = Some(this.carried);
            cx.waker().wake_by_ref();
        }
        polled
    }
}

/// Wake-ups a task carries from one poll to the next.
#[derive(Default)]
struct Carried(Vec<Arc<Notify>>);

/// Gives the held wake-ups at the end of the outermost held poll, or
/// carries them into `carry` (its task's) for the end of the next.
struct Release<'a> {
    carry: Option<&'a mut Option<Box<Carried>>>,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        HOLDING.set(false);
        // Most polls hold nothing (an actor that sent nothing remote).
        if HELD.with_borrow(Vec::is_empty) {
            return;
        }
        if let Some(carry) = self.carry.take() {
            let carried = carry.get_or_insert_default();
            HELD.with_borrow_mut(|held| carried.0.append(held));
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

    /// Spends what is left of tokio's budget for this poll, down to zero
    /// and no further: nothing asks tokio to poll the task again.
    fn spend_budget(cx: &mut Context<'_>) {
        while tokio::task::coop::has_budget_remaining() {
            if let Poll::Ready(spent) = tokio::task::coop::poll_proceed(cx) {
                spent.made_progress();
            }
        }
    }

    #[tokio::test]
    async fn a_poll_out_of_budget_carries_its_wake_ups_to_the_end_of_the_next() {
        let writer = Arc::new(Notify::new());
        let mut polls = 0;
        Holding::new(poll_fn(|cx| {
            polls += 1;
            match polls {
                1 => {
                    notify_after_poll(&writer);
                    spend_budget(cx);
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                _ => {
                    assert!(!woken(&writer), "carried past the poll that ran out of budget");
                    Poll::Ready(())
                }
            }
        }))
        .await;
        assert!(woken(&writer), "given at the end of the next poll");
    }

    #[tokio::test]
    async fn a_task_out_of_budget_with_nothing_left_to_do_still_gives_what_it_carries() {
        let writer = Arc::new(Notify::new());
        // Runs out of budget just as it finds nothing more to do, and waits
        // for nothing anyone will wake.
        let task = tokio::spawn(Holding::new(poll_fn({
            let writer = writer.clone();
            let mut first = true;
            move |cx| {
                if std::mem::take(&mut first) {
                    notify_after_poll(&writer);
                    spend_budget(cx);
                }
                Poll::<()>::Pending
            }
        })));
        tokio::time::timeout(Duration::from_secs(5), writer.notified()).await.expect("the writer woken");
        task.abort();
    }
}
