//! One task for the node's QUIC connections: quinn's connection drivers,
//! the lanes' writers and the stream readers are polled together, so that a
//! wake-up from one of them to another costs a function call, not a trip
//! through tokio's scheduler.
//!
//! Why it matters: a request travels endpoint driver -> connection driver
//! -> stream reader -> actor, and its reply actor -> writer -> connection
//! driver. As tasks of their own, that is a chain of five wake-ups per
//! node; tokio runs a chain of wake-ups on one worker only three deep (its
//! LIFO slot) and hands the rest to the run queue with a call for another
//! worker, which then takes the work over on a cold core. On two workers
//! that hand-over was most of the gap between a courier call and a plain
//! quinn round trip (measured with the remote bench: one worker per
//! process 42 µs, two 61 µs, plain quinn 36 µs). Polled here, the chain is
//! endpoint driver, this task (driver, reader), the actor, this task
//! (writer, driver): within the slot.
//!
//! The endpoint driver keeps a task of its own: it receives every datagram
//! of the node, and apart it goes on receiving while this task decrypts and
//! routes (measured: echo 1.8M -> 2.3M msg/s against all drivers in one
//! task, call latency the same).
//!
//! The set is a small executor of its own: each future has a waker that
//! queues it; when woken from outside, the set's task is woken; when woken
//! from a future the set is polling, the set polls it next in the same turn.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Futures polled in one turn of the set's task before it lets other
/// tasks run.
const TURN: usize = 64;

/// A [`quinn::Runtime`] that polls the connection drivers it spawns in one
/// task, with tokio's timers and sockets.
pub(crate) struct Drivers {
    set: Arc<Set>,
    tokio: quinn::TokioRuntime,
    /// Set while the endpoint is made: what quinn spawns then (the
    /// endpoint's driver) gets a task of its own.
    making_endpoint: AtomicBool,
    /// The endpoint's socket: its port is free again once every endpoint
    /// and connection holding it is gone.
    socket: Mutex<Option<Weak<dyn quinn::AsyncUdpSocket>>>,
}

/// How often [`Drivers::socket_released`] looks.
const RELEASE_POLL: Duration = Duration::from_millis(5);

impl fmt::Debug for Drivers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drivers").finish_non_exhaustive()
    }
}

impl Drivers {
    /// Starts the set's task on the current tokio runtime.
    pub(crate) fn start() -> Arc<Drivers> {
        let set = Arc::new(Set {
            state: Mutex::default(),
            polling: AtomicBool::new(false),
            #[cfg(test)]
            turns: Default::default(),
        });
        tokio::spawn(Turns(set.clone()));
        Arc::new(Drivers {
            set,
            tokio: quinn::TokioRuntime,
            making_endpoint: AtomicBool::new(false),
            socket: Mutex::new(None),
        })
    }

    /// Waits until the endpoint's socket is closed, at most `bound`;
    /// whether it was.
    pub(crate) async fn socket_released(&self, bound: Duration) -> bool {
        let socket = self.socket.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let Some(socket) = socket else { return true };
        let deadline = Instant::now() + bound;
        // Not only the endpoint's driver holds the socket: every connection
        // does too (it sends on it), until its driver has drained it and
        // its last handle and stream are dropped. The count is what tells.
        while socket.strong_count() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(RELEASE_POLL).await;
        }
        true
    }

    /// Makes the endpoint with `make`; the driver it spawns gets a task of
    /// its own.
    pub(crate) fn make_endpoint<T>(&self, make: impl FnOnce() -> T) -> T {
        self.making_endpoint.store(true, Ordering::SeqCst);
        let endpoint = make();
        self.making_endpoint.store(false, Ordering::SeqCst);
        endpoint
    }

    /// Polls `future` with the others until it ends.
    pub(crate) fn spawn_job(&self, future: impl Future<Output = ()> + Send + 'static) {
        self.set.add(Box::pin(future));
    }
}

impl Drop for Drivers {
    fn drop(&mut self) {
        // Nothing can be added any more: the task ends once its futures have.
        let waker = {
            let mut state = lock(&self.set.state);
            state.closed = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl quinn::Runtime for Drivers {
    fn new_timer(&self, at: Instant) -> Pin<Box<dyn quinn::AsyncTimer>> {
        self.tokio.new_timer(at)
    }

    fn spawn(&self, future: Job) {
        if self.making_endpoint.load(Ordering::SeqCst) {
            tokio::spawn(future);
        } else {
            self.set.add(future);
        }
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> std::io::Result<Arc<dyn quinn::AsyncUdpSocket>> {
        let socket = self.tokio.wrap_udp_socket(socket)?;
        *self.socket.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::downgrade(&socket));
        Ok(socket)
    }
}

struct Set {
    state: Mutex<State>,
    /// Set while the set's task is polling futures: a wake-up then only
    /// queues, the turn picks it up.
    polling: AtomicBool,
    /// How many times the set's task was polled.
    #[cfg(test)]
    turns: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct State {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    ready: VecDeque<Arc<Entry>>,
    /// The set's task, when it waits.
    waker: Option<Waker>,
    /// No handle is left: no future can be added.
    closed: bool,
    /// The set's task is gone (its runtime shut down): futures are dropped,
    /// as tokio drops the tasks of a runtime that shut down.
    stopped: bool,
}

struct Slot {
    /// The future and its waker, taken out while it is polled (not under
    /// the lock: it may wake others).
    job: Option<(Job, Waker)>,
    entry: Arc<Entry>,
}

/// A future's place in the set, and its waker.
struct Entry {
    index: usize,
    set: Weak<Set>,
    /// Whether it is in the ready queue already.
    queued: AtomicBool,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Futures are polled outside the lock; nothing under it panics.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Set {
    fn add(self: &Arc<Self>, future: Job) {
        let mut state = lock(&self.state);
        if state.stopped {
            drop(state);
            drop(future);
            return;
        }
        let index = state.free.pop().unwrap_or(state.slots.len());
        let entry = Arc::new(Entry { index, set: Arc::downgrade(self), queued: AtomicBool::new(true) });
        let slot = Slot { job: Some((future, Waker::from(entry.clone()))), entry: entry.clone() };
        if index == state.slots.len() {
            state.slots.push(Some(slot));
        } else {
            state.slots[index] = Some(slot);
        }
        state.ready.push_back(entry);
        self.wake_task(state);
    }

    /// Wakes the set's task unless it is polling (and so will see what was
    /// just queued).
    fn wake_task(&self, mut state: MutexGuard<'_, State>) {
        if self.polling.load(Ordering::SeqCst) {
            return;
        }
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next ready future, taken out of its slot with its waker.
    fn next(&self) -> Option<(usize, (Job, Waker))> {
        let mut state = lock(&self.state);
        while let Some(entry) = state.ready.pop_front() {
            entry.queued.store(false, Ordering::SeqCst);
            // An entry whose future ended (its slot empty or reused) is
            // skipped.
            let Some(Some(slot)) = state.slots.get_mut(entry.index) else { continue };
            if !Arc::ptr_eq(&slot.entry, &entry) {
                continue;
            }
            if let Some(job) = slot.job.take() {
                return Some((entry.index, job));
            }
        }
        None
    }

    /// Puts a job back after a poll, or frees its slot if it ended.
    fn put_back(&self, index: usize, job: Option<(Job, Waker)>) {
        let mut state = lock(&self.state);
        match job {
            Some(job) => {
                if let Some(Some(slot)) = state.slots.get_mut(index) {
                    slot.job = Some(job);
                }
            }
            None => {
                state.slots[index] = None;
                state.free.push(index);
            }
        }
    }
}

impl Wake for Entry {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(set) = self.set.upgrade() else { return };
        let mut state = lock(&set.state);
        state.ready.push_back(self.clone());
        set.wake_task(state);
    }
}

/// The set's task.
struct Turns(Arc<Set>);

impl Drop for Turns {
    fn drop(&mut self) {
        let slots = {
            let mut state = lock(&self.0.state);
            state.stopped = true;
            state.ready.clear();
            state.free.clear();
            std::mem::take(&mut state.slots)
        };
        // Dropped outside the lock: a future's drop may wake others.
        drop(slots);
    }
}

impl Future for Turns {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let set = &self.0;
        #[cfg(test)]
        set.turns.fetch_add(1, Ordering::Relaxed);
        set.polling.store(true, Ordering::SeqCst);
        let mut polled = 0;
        loop {
            let Some((index, (mut future, waker))) = set.next() else {
                set.polling.store(false, Ordering::SeqCst);
                // A future woken between the last look and the store above
                // did not wake this task: look once more, under the lock.
                let mut state = lock(&set.state);
                if !state.ready.is_empty() {
                    drop(state);
                    set.polling.store(true, Ordering::SeqCst);
                    continue;
                }
                if state.closed && state.slots.iter().all(Option::is_none) {
                    return Poll::Ready(());
                }
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            };
            let mut job_cx = Context::from_waker(&waker);
            let done = match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut job_cx))) {
                Ok(poll) => poll.is_ready(),
                Err(_) => {
                    tracing::error!("a QUIC driver panicked; it is dropped");
                    true
                }
            };
            set.put_back(index, (!done).then_some((future, waker)));
            polled += 1;
            if polled >= TURN || !tokio::task::coop::has_budget_remaining() {
                // Let other tasks run; the rest waits in the queue.
                set.polling.store(false, Ordering::SeqCst);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use tokio::sync::oneshot::error::TryRecvError;
    use tokio::sync::{mpsc, oneshot};

    use super::*;

    /// Waits (a bounded time) until `done` holds.
    async fn until(done: impl Fn() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("not done in time");
    }

    #[tokio::test]
    async fn jobs_woken_from_outside_run_to_their_end_and_free_their_slots() {
        let drivers = Drivers::start();
        let ended = Arc::new(AtomicUsize::new(0));
        let mut senders = Vec::new();
        for _ in 0..50 {
            let (send, receive) = oneshot::channel::<()>();
            senders.push(send);
            let ended = ended.clone();
            drivers.spawn_job(async move {
                let _ = receive.await;
                ended.fetch_add(1, Ordering::SeqCst);
            });
        }
        tokio::task::yield_now().await;
        assert_eq!(ended.load(Ordering::SeqCst), 0, "every job waits");
        for send in senders {
            send.send(()).expect("the job waits");
        }
        until(|| ended.load(Ordering::SeqCst) == 50).await;
        let state = lock(&drivers.set.state);
        assert!(state.slots.iter().all(Option::is_none));
        assert_eq!(state.free.len(), 50, "every slot can be reused");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_job_woken_by_another_runs_in_the_same_turn() {
        let drivers = Drivers::start();
        // Two jobs passing a count back and forth 1000 times: each hop is a
        // wake-up from one job to the other.
        let (to_b, mut at_b) = mpsc::unbounded_channel::<u32>();
        let (to_a, mut at_a) = mpsc::unbounded_channel::<u32>();
        let (done, finished) = oneshot::channel();
        drivers.spawn_job(async move {
            while let Some(n) = at_b.recv().await {
                let _ = to_a.send(n + 1);
            }
        });
        drivers.spawn_job(async move {
            let _ = to_b.send(0);
            while let Some(n) = at_a.recv().await {
                if n >= 1000 {
                    let _ = done.send(n);
                    return;
                }
                let _ = to_b.send(n);
            }
        });
        assert_eq!(finished.await.expect("the count comes back"), 1000);
        // 2000 hops, in turns of up to 64 polls: a few dozen turns, where
        // tasks of their own would have taken 2000.
        let turns = drivers.set.turns.load(Ordering::Relaxed);
        assert!(turns < 100, "{turns} turns");
    }

    #[tokio::test]
    async fn a_panicking_job_is_dropped_and_the_others_go_on() {
        let drivers = Drivers::start();
        drivers.spawn_job(async { panic!("a driver bug") });
        let (send, receive) = oneshot::channel();
        drivers.spawn_job(async move {
            tokio::task::yield_now().await;
            let _ = send.send(7);
        });
        assert_eq!(receive.await, Ok(7));
    }

    #[tokio::test]
    async fn the_task_ends_once_no_handle_and_no_job_is_left() {
        let drivers = Drivers::start();
        let set = Arc::downgrade(&drivers.set);
        let (send, receive) = oneshot::channel::<()>();
        drivers.spawn_job(async move {
            let _ = receive.await;
        });
        drop(drivers);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(set.upgrade().is_some(), "a job still runs");
        send.send(()).expect("the job waits");
        until(|| set.upgrade().is_none()).await;
    }

    #[tokio::test]
    async fn what_quinn_spawns_while_the_endpoint_is_made_gets_a_task_of_its_own() {
        use quinn::Runtime;

        let drivers = Drivers::start();
        let (send, receive) = oneshot::channel();
        drivers.make_endpoint(|| {
            drivers.spawn(Box::pin(async move {
                let _ = send.send(());
            }))
        });
        assert!(lock(&drivers.set.state).slots.is_empty(), "not in the set");
        assert_eq!(receive.await, Ok(()), "it runs");
        drivers.spawn(Box::pin(std::future::pending()));
        assert_eq!(lock(&drivers.set.state).slots.len(), 1, "a connection's driver is");
    }

    #[test]
    fn jobs_are_dropped_with_their_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let (guard, mut dropped) = oneshot::channel::<()>();
        let drivers = runtime.block_on(async {
            let drivers = Drivers::start();
            drivers.spawn_job(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
            tokio::task::yield_now().await;
            drivers
        });
        drop(runtime);
        assert_eq!(dropped.try_recv(), Err(TryRecvError::Closed), "the job was dropped");
        let (late, mut gone) = oneshot::channel::<()>();
        drivers.spawn_job(async move {
            let _late = late;
        });
        assert_eq!(gone.try_recv(), Err(TryRecvError::Closed), "a job added afterwards is dropped at once");
    }
}
