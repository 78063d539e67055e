//! What a handler knows about the message it is handling.
//!
//! Service traits keep their plain signatures; the context of the message
//! being handled is published in a thread-local for the duration of each
//! poll of its handler, reachable through [`Context::current`]. Outgoing
//! calls read it to learn their sender and call chain.
//!
//! Each actor keeps one [`Current`] for all its messages (see
//! `handling.rs`), so handling a message costs no allocation or reference
//! count here: the thread-local holds a pointer to it, set by [`enter`] and
//! restored when the poll returns or unwinds.

use std::cell::Cell as StdCell;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::actor_ref::ActorRef;
use crate::cell::Cell;
use crate::chain::ChainLink;
use crate::letter::{Origin, Resume};
use crate::mailbox::Mailbox;
use crate::protocol::Dispatch;
use crate::router::{Router, Routing};
use crate::timers::{OnIdle, Schedule, Timer};
use crate::watch::{LocalWatcher, Watchable};
use crate::{Actor, ActorId, ServiceRef, SpawnError, System};

thread_local! {
    /// The message being handled on this thread, if any.
    static CURRENT: StdCell<*const Current> = const { StdCell::new(ptr::null()) };
}

/// Runs `f` with `current` published as the message being handled.
pub(crate) fn enter<R>(current: &Current, f: impl FnOnce() -> R) -> R {
    publish(current, f)
}

/// Runs `f` with no message's context published: what the actor's task
/// does between handlers (see [`Actor::admit`]).
pub(crate) fn outside<R>(f: impl FnOnce() -> R) -> R {
    publish(ptr::null(), f)
}

/// Runs `f` with `current` (null for none) in the thread's slot, and puts
/// back what was there when `f` returns or unwinds.
fn publish<R>(current: *const Current, f: impl FnOnce() -> R) -> R {
    struct Restore(*const Current);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|slot| slot.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|slot| slot.replace(current)));
    f()
}

/// Runs `f` on the message being handled on this thread, if any.
fn with_current<R>(f: impl FnOnce(&Current) -> R) -> Option<R> {
    let current = CURRENT.with(StdCell::get);
    // SAFETY: a non-null pointer was set by `enter` from a reference that
    // outlives the call it wraps, and is reset before that call returns or
    // unwinds; `f` cannot keep the reference (its result does not borrow it).
    (!current.is_null()).then(|| f(unsafe { &*current }))
}

pin_project! {
    /// A future that runs with its own [`Current`] published while polled:
    /// lifecycle hooks and the side task of a reentrant call.
    pub(crate) struct Scoped<F> {
        current: Current,
        #[pin]
        future: F,
    }
}

impl<F> Scoped<F> {
    pub(crate) fn new(current: Current, future: F) -> Self {
        Scoped { current, future }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let current: &Current = this.current;
        enter(current, || this.future.poll(cx))
    }
}

/// The message being handled, erased over the actor's type.
pub(crate) struct Current {
    actor: Arc<dyn Cell>,
    origin: Origin,
    /// Whether the actor waits for calls made here (false on the side task
    /// of a reentrant call).
    waits: bool,
    /// This actor, waiting, as seen by calls it makes: built on first use.
    link: OnceLock<Arc<ChainLink>>,
}

impl Current {
    pub(crate) fn new<A: Actor>(cell: Arc<Mailbox<A>>, origin: Origin) -> Self {
        Current { actor: cell, origin, waits: true, link: OnceLock::new() }
    }

    /// Makes this the context of the next message, from `origin`.
    pub(crate) fn begin(&mut self, origin: Origin) {
        self.origin = origin;
        self.link = OnceLock::new();
    }

    /// The origin of a call made now from this handler, which will wait for
    /// its reply.
    fn waiting_call(&self) -> Origin {
        if !self.waits {
            return self.detached_call();
        }
        let link = self.link.get_or_init(|| {
            let (id, label) = (self.actor.id(), self.actor.label());
            Arc::new(ChainLink { id, label, parent: self.origin.chain.clone() })
        });
        Origin { sender: Some(self.actor.id()), chain: Some(link.clone()), deadline: None }
    }

    /// The origin of a call whose continuation runs later (reentrant): the
    /// actor is not waiting, so it stays out of the chain.
    fn detached_call(&self) -> Origin {
        Origin { sender: Some(self.actor.id()), chain: self.origin.chain.clone(), deadline: None }
    }
}

/// The origin of a call or send made right now: from inside a handler, the
/// handling actor and its chain; from anywhere else, nobody.
pub(crate) fn current_origin(waits: bool) -> Origin {
    with_current(|current| if waits { current.waiting_call() } else { current.detached_call() }).unwrap_or_default()
}

/// A handler's view of its own actor: its ref, its children, its caller.
///
/// Service methods do not take a context argument; a handler that needs one
/// asks for it with [`Context::current`]. Lifecycle hooks receive it.
pub struct Context<A: Actor> {
    cell: Arc<Mailbox<A>>,
}

impl<A: Actor> Clone for Context<A> {
    fn clone(&self) -> Self {
        Context { cell: self.cell.clone() }
    }
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(cell: Arc<Mailbox<A>>) -> Self {
        Context { cell }
    }

    /// The actor's mailbox.
    pub(crate) fn cell(&self) -> &Arc<Mailbox<A>> {
        &self.cell
    }

    /// The context of the actor `A` whose handler is running on this task.
    ///
    /// Returns `None` outside a handler or hook, or inside one of an actor of
    /// another type.
    pub fn try_current() -> Option<Self> {
        let actor = with_current(|current| current.actor.clone())?;
        let cell = actor.as_any().downcast::<Mailbox<A>>().ok()?;
        Some(Context { cell })
    }

    /// The context of the actor `A` whose handler is running on this task.
    ///
    /// # Panics
    ///
    /// Outside a handler or hook of an `A`. Inside a handler the panic is
    /// caught like any other and fails the actor.
    pub fn current() -> Self {
        match Self::try_current() {
            Some(ctx) => ctx,
            None => {
                panic!("Context::<{}>::current() called outside a handler of that actor", std::any::type_name::<A>())
            }
        }
    }

    /// This actor's id.
    pub fn id(&self) -> ActorId {
        self.cell.id
    }

    /// A ref to this actor, to hand to others.
    pub fn myself(&self) -> ActorRef<A> {
        ActorRef::from_cell(self.cell.clone())
    }

    /// The system this actor runs in.
    pub fn system(&self) -> System {
        System::from_shared(self.cell.system.clone())
    }

    /// The actor that sent the message being handled, if it came from one.
    /// `None` in hooks and for messages sent from outside any actor.
    pub fn caller(&self) -> Option<ActorId> {
        with_current(|current| current.origin.sender).flatten()
    }

    /// Spawns a child. It stops when this actor stops, before this actor's
    /// `stopped` hook runs.
    ///
    /// # Errors
    ///
    /// [`SpawnError::ShuttingDown`] once this actor is stopping.
    pub fn spawn<C: Actor>(&self, child: C) -> Result<ActorRef<C>, SpawnError> {
        self.system().spawn_child(child, self.cell.clone(), None)
    }

    /// Spawns a child built by `factory`, which builds it again whenever the
    /// child fails and this actor's [`Actor::supervisor`] restarts it. The
    /// restarted child keeps its mailbox and its refs.
    ///
    /// # Errors
    ///
    /// [`SpawnError::ShuttingDown`] once this actor is stopping.
    ///
    /// # Panics
    ///
    /// When `factory` panics building the first instance (inside a handler,
    /// that fails this actor like any panic).
    pub fn spawn_with<C: Actor>(
        &self,
        factory: impl Fn() -> C + Send + Sync + 'static,
    ) -> Result<ActorRef<C>, SpawnError> {
        let child = factory();
        self.system().spawn_child(child, self.cell.clone(), Some(Box::new(factory)))
    }

    /// Spawns a router over `size` workers as a child of this actor: see
    /// [`System::pool`].
    ///
    /// # Errors
    ///
    /// As [`System::pool`]; [`SpawnError::ShuttingDown`] once this actor is
    /// stopping.
    pub fn pool<R, W>(
        &self,
        size: usize,
        routing: Routing<R::Protocol>,
        factory: impl Fn() -> W + Send + Sync + 'static,
    ) -> Result<Router<R>, SpawnError>
    where
        R: ServiceRef,
        W: Actor,
        R::Protocol: Dispatch<W>,
    {
        crate::router::pool(&self.system(), Some(self.cell.clone()), size, routing, factory)
    }

    /// Spawns a router over `routees` as a child of this actor: see
    /// [`System::group`].
    ///
    /// # Errors
    ///
    /// As [`System::group`]; [`SpawnError::ShuttingDown`] once this actor is
    /// stopping.
    pub fn group<R: ServiceRef>(
        &self,
        routees: impl IntoIterator<Item = R>,
        routing: Routing<R::Protocol>,
    ) -> Result<Router<R>, SpawnError> {
        crate::router::group(&self.system(), Some(self.cell.clone()), routees, routing)
    }

    /// Asks this actor to stop once the current message is handled. Calls
    /// still queued fail with `CallError::ActorStopped` at once.
    pub fn stop(&self) {
        Cell::stop(&*self.cell);
    }

    /// Watches `target`: once it is gone (stopped, failed, or its node lost),
    /// this actor's [`terminated`](Actor::terminated) hook runs with the
    /// reason. Watching an actor that is gone already notifies at once;
    /// watching one twice is one watch. The watch ends with the notice, with
    /// [`unwatch`](Context::unwatch), or when this actor stops.
    pub fn watch(&self, target: &impl Watchable) {
        let target = target.watchee().0;
        if self.cell.start_watching(target.clone()) {
            let me = Arc::downgrade(&self.cell);
            target.add_watcher(Arc::new(LocalWatcher { id: self.cell.id, cell: me }));
        }
    }

    /// Stops watching `target`: no notice for it arrives after this, even
    /// one already on its way.
    pub fn unwatch(&self, target: &impl Watchable) {
        let id = target.watchee().0.watched_id();
        if let Some(target) = self.cell.stop_watching(id) {
            target.remove_watcher(self.cell.id);
        }
    }

    /// Sends `request` to `to` (this actor's own ref, or any other) once,
    /// after `delay`, as a one-way message from this actor.
    ///
    /// The timer ends when cancelled through the returned [`Timer`], or when
    /// this actor stops or restarts. A request its target does not take (it
    /// is gone) is a dead letter.
    ///
    /// `courier::Timer`'s documentation shows a heartbeat.
    pub fn send_after<R: ServiceRef>(&self, delay: Duration, to: &R, request: R::Protocol) -> Timer {
        let mut request = Some(request);
        self.start_timer(to, Schedule::Once(delay), move || request.take())
    }

    /// Sends the request `make` builds to `to` every `period` (the first
    /// after one period), as a one-way message from this actor.
    ///
    /// A tick that finds the target's mailbox full waits for room; ticks
    /// missed meanwhile are skipped, not sent in a burst. The timer ends when
    /// cancelled through the returned [`Timer`], when this actor stops or
    /// restarts, or when its target is gone.
    pub fn send_interval<R: ServiceRef>(
        &self,
        period: Duration,
        to: &R,
        mut make: impl FnMut() -> R::Protocol + Send + 'static,
    ) -> Timer {
        self.start_timer(to, Schedule::Every(period), move || Some(make()))
    }

    fn start_timer<R: ServiceRef>(
        &self,
        to: &R,
        schedule: Schedule,
        make: impl FnMut() -> Option<R::Protocol> + Send + 'static,
    ) -> Timer {
        let (timer, task) = crate::timers::timer(&self.cell.timers(), to.clone(), schedule, make);
        // The requests go out as this actor's, outside any call chain.
        let current = Current { waits: false, ..Current::new(self.cell.clone(), Origin::default()) };
        self.system().spawn_task(Scoped::new(current, task));
        timer
    }

    /// Runs the [`receive_timeout`](Actor::receive_timeout) hook whenever
    /// this actor has had no message for `after` (at least a millisecond),
    /// until [`cancel_receive_timeout`](Context::cancel_receive_timeout).
    /// Replaces an earlier receive timeout or
    /// [`stop_when_idle`](Context::stop_when_idle); a restart clears it.
    pub fn set_receive_timeout(&self, after: Duration) {
        self.cell.idle.set(after, OnIdle::Notify);
    }

    /// Stops the receive timeout, or the idle stop.
    pub fn cancel_receive_timeout(&self) {
        self.cell.idle.clear();
    }

    /// Stops this actor once it has had no message for `after`: for
    /// processes spawned per user or per session, which must not pile up. A
    /// message that arrives as the time runs out is handled, and the wait
    /// starts again; stashed messages keep the actor alive. A named actor's
    /// name is free again once it has stopped (see
    /// [`System::get_or_spawn_named`](crate::System::get_or_spawn_named)).
    /// Replaces a receive timeout; a restart clears it.
    pub fn stop_when_idle(&self, after: Duration) {
        self.cell.idle.set(after, OnIdle::Stop);
    }

    /// Brings back every message this actor stashed (see
    /// [`Actor::admit`]), in the order they arrived, ahead of the messages
    /// that came after them; each is admitted again. Returns how many came
    /// back.
    pub fn unstash_all(&self) -> usize {
        self.cell.unstash_all()
    }

    /// How many messages this actor has stashed.
    pub fn stashed(&self) -> usize {
        self.cell.stashed()
    }

    /// Reentrancy: awaits `future` without blocking the mailbox, then runs
    /// `continuation` on this actor's task with `&mut A`.
    ///
    /// The actor keeps handling other messages meanwhile; the continuation
    /// is queued as a message once the future finishes, so it runs in mailbox
    /// order. Calls made by `future` carry this actor as their sender but do
    /// not count it as waiting, so an actor called back during the wait is
    /// not reported as a deadlock. If the actor stops first, the continuation
    /// is dropped.
    pub fn reenter_after<F, K>(&self, future: F, continuation: K)
    where
        F: IntoFuture,
        F::IntoFuture: Send + 'static,
        F::Output: Send + 'static,
        K: FnOnce(&mut A, F::Output) + Send + 'static,
    {
        let origin = with_current(|current| current.origin.clone()).unwrap_or_default();
        let current = Current { waits: false, ..Current::new(self.cell.clone(), origin.clone()) };
        let cell = Arc::downgrade(&self.cell);
        let future = future.into_future();
        self.system().spawn_task(Scoped::new(current, async move {
            let output = future.await;
            if let Some(cell) = cell.upgrade() {
                let resume = Resume { output, continuation, origin };
                cell.push_continuation(crate::letter::letter(resume));
            }
        }));
    }
}
