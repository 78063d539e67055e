//! The actor's task: hooks, the message loop, restarts, and an orderly end.
//!
//! A failed actor with a factory may live again (see
//! [`supervision`](crate::supervision)): the `restarting` hook runs on the
//! failed instance, its children stop, and a new instance from the factory
//! starts in the same mailbox, which stayed open all along.
//!
//! Order at the end: the mailbox closes (queued calls fail at once), the
//! `stopping` hook runs, children stop and are awaited, the `stopped` hook
//! runs, then the actor withdraws its watches, leaves its name, its parent
//! and the system, and its watchers and whoever waits for its end are told.

use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::cell::Cell;
use crate::context::{Current, Scoped};
use crate::error::panic_message;
use crate::events::{ActorFailed, ActorRestarted};
use crate::handling::Handling;
use crate::letter::{Letter, Origin, Outcome, Then};
use crate::mailbox::{Mailbox, Next, Run, Signal};
use crate::stash::{Admit, Peek, Queued};
use crate::supervision::{Failure, Restarts, Verdict};
use crate::timers::{Idle, OnIdle};
use crate::watch::ExitReason;
use crate::{Actor, CallError, Context};

/// How a life of the actor (one instance, from `started`) ended.
enum Exit {
    Stopped,
    Failed(String),
    /// A sibling failed under an all-for-one supervisor.
    Restart,
}

/// Builds a new instance of an actor that failed.
pub(crate) type Factory<A> = Box<dyn Fn() -> A + Send + Sync>;

/// The actor's task: its lives, then its end.
///
/// This and the functions it awaits on every life (`live`, `serve`) return
/// `async move` blocks rather than being `async fn`s: an `async fn` keeps
/// each argument twice in its future (as passed, and moved into the body),
/// and an actor's task carries that future all its life, actor included.
pub(crate) fn run<A: Actor>(
    mut actor: A,
    cell: Arc<Mailbox<A>>,
    factory: Option<Factory<A>>,
) -> impl Future<Output = ()> + Send {
    // The frames the actor sends while it runs leave together when it
    // gives up its thread (see `remote::notify_after_poll`).
    crate::remote::Holding::new(async move {
        let ctx = Context::new(cell);
        let exit = live(&mut actor, &ctx, factory.as_ref()).await;
        // Boxed, as the hooks are: the end runs once, and its futures would
        // otherwise widen every idle actor's task.
        Box::pin(end(actor, ctx, exit)).await;
    })
}

/// Runs the actor's lives, one instance after another, until it stops or
/// fails for good.
#[expect(clippy::manual_async_fn, reason = "an async fn keeps its arguments twice in its future")]
fn live<'a, A: Actor>(
    actor: &'a mut A,
    ctx: &'a Context<A>,
    factory: Option<&'a Factory<A>>,
) -> impl Future<Output = Exit> + Send + 'a {
    async move {
        // This actor's own restarts, kept for one-for-one supervision.
        let mut restarts = None;
        loop {
            let started = hook(ctx.cell(), actor.started(ctx)).await;
            let exit = match started {
                Ok(()) => serve(actor, ctx).await,
                Err(reason) => Exit::Failed(reason),
            };
            let again = match after(ctx.cell(), exit, factory, &mut restarts) {
                Ok(again) => again,
                Err(exit) => return exit,
            };
            // Boxed, as the hooks are: a restart's timer is large and rare.
            match Box::pin(restart(actor, ctx, again)).await {
                Ok(()) => tracing::debug!(actor = %ctx.id(), "actor restarted"),
                Err(exit) => return exit,
            }
        }
    }
}

/// What a restart needs: how long to wait, the factory, and why.
struct Again<'a, A: Actor> {
    factory: &'a Factory<A>,
    delay: Duration,
    reason: String,
}

/// Decides what follows a life that ended with `exit`: another life (after
/// a delay), or the end, as its supervisor decides.
fn after<'a, A: Actor>(
    cell: &Arc<Mailbox<A>>,
    exit: Exit,
    factory: Option<&'a Factory<A>>,
    restarts: &mut Option<Restarts>,
) -> Result<Again<'a, A>, Exit> {
    let (delay, reason) = match exit {
        Exit::Stopped => return Err(Exit::Stopped),
        Exit::Restart => (Duration::ZERO, "a sibling failed".to_owned()),
        Exit::Failed(reason) => {
            tracing::warn!(actor = %cell.id, %reason, "actor failed");
            let failed = ActorFailed { id: cell.id, actor: A::name(), reason: reason.clone() };
            cell.system.events.publish(&failed);
            match supervise(cell, factory.is_some(), &reason, restarts) {
                Some(delay) => (delay, reason),
                None => return Err(Exit::Failed(reason)),
            }
        }
    };
    let Some(factory) = factory else { return Err(Exit::Stopped) };
    cell.system.events.publish(&ActorRestarted { id: cell.id, actor: A::name(), delay });
    Ok(Again { factory, delay, reason })
}

/// The actor's orderly end, once its last life is over.
async fn end<A: Actor>(mut actor: A, ctx: Context<A>, exit: Exit) {
    let cell = ctx.cell();
    cell.cancel_timers();
    cell.close(&CallError::ActorStopped);
    let _ = hook(cell, actor.stopping(&ctx)).await;
    stop_children(cell).await;
    let _ = hook(cell, actor.stopped(&ctx)).await;
    drop(actor);
    cell.withdraw_watches();
    cell.system.forget(&**cell);
    if let Some(parent) = &cell.parent {
        parent.forget_child(cell.id.seq);
    }
    cell.mark_terminated(match exit {
        Exit::Stopped | Exit::Restart => ExitReason::Stopped,
        Exit::Failed(reason) => ExitReason::Failed { reason },
    });
}

/// Asks the supervisor of a failed actor (its parent's, or the system's
/// for a root actor) what to do: returns the delay before a restart, or
/// `None` when the actor is to stop (its parent told first, when it
/// escalates).
fn supervise<A: Actor>(
    cell: &Mailbox<A>,
    restartable: bool,
    reason: &str,
    own: &mut Option<Restarts>,
) -> Option<Duration> {
    let supervisor = match &cell.parent {
        Some(parent) => parent.supervisor(),
        None => cell.system.config.supervisor.clone(),
    };
    let group = supervisor.is_all_for_one().then(|| cell.parent.as_ref().map(|p| p.children_restarts())).flatten();
    let restarts = group.unwrap_or_else(|| own.get_or_insert_default().clone());
    let failure = Failure { child: cell.id, actor: A::name(), reason };
    match supervisor.judge(&failure, &restarts, Instant::now(), crate::system::random()) {
        Verdict::Restart(delay) if restartable => {
            if let Some(parent) = cell.parent.as_ref().filter(|_| supervisor.is_all_for_one()) {
                parent.restart_children(cell.id.seq);
            }
            Some(delay)
        }
        Verdict::Restart(_) | Verdict::Stop => None,
        Verdict::Escalate(why) => {
            let label = cell.label().show(cell.id);
            match &cell.parent {
                Some(parent) => parent.escalate(format!("child {label} failed: {why}")),
                None => tracing::error!(actor = %label, reason = %why, "a root actor failed beyond its supervisor"),
            }
            None
        }
    }
}

/// Replaces a failed instance with a new one from `factory`, in the same
/// mailbox: the `restarting` hook runs on the old instance, its children
/// stop, and after `delay` (during which messages queue, and a stop ends
/// the actor) the factory builds the next.
async fn restart<A: Actor>(actor: &mut A, ctx: &Context<A>, again: Again<'_, A>) -> Result<(), Exit> {
    let Again { factory, delay, reason } = again;
    let cell = ctx.cell();
    // The failed instance's timers and receive timeout go with it; the new
    // instance's `started` sets its own.
    cell.cancel_timers();
    let _ = hook(cell, actor.restarting(ctx, &reason)).await;
    stop_children(cell).await;
    let stopped = poll_fn(|cx| cell.poll_stop(cx));
    if tokio::time::timeout(delay, stopped).await.is_ok() {
        return Err(Exit::Stopped);
    }
    match std::panic::catch_unwind(AssertUnwindSafe(factory)) {
        Ok(fresh) => {
            *actor = fresh;
            Ok(())
        }
        Err(payload) => Err(Exit::Failed(format!("its factory panicked: {}", panic_message(&*payload)))),
    }
}

/// Stops every child, then waits for all: they wind down side by side.
async fn stop_children<A: Actor>(cell: &Mailbox<A>) {
    let children = cell.take_children();
    for child in &children {
        child.stop();
    }
    for child in &children {
        child.terminated().await;
    }
}

/// What the actor's task did with what it waited for: its next message,
/// a signal, or the end of an idle pause (see
/// [`Context::set_receive_timeout`]).
enum Step {
    /// A letter's handler is in its slot, ready to be driven.
    Delivered,
    /// Nothing to drive (a letter was stashed, see [`Actor::admit`]).
    Again,
    /// `admit` panicked with this reason; the letter went back in line.
    AdmitFailed(String),
    Signal(Signal),
    /// The mailbox is closed and empty.
    Closed,
    Idle(OnIdle),
}

/// Handles messages, one at a time, until asked to stop or a handler panics.
#[expect(clippy::manual_async_fn, reason = "an async fn keeps its arguments twice in its future")]
fn serve<'a, A: Actor>(actor: &'a mut A, ctx: &'a Context<A>) -> impl Future<Output = Exit> + Send + 'a {
    async move {
        let cell = ctx.cell();
        let mut serving = Serving {
            ctx: ctx.clone(),
            // SAFETY: `handling` lives inside this call, so the actor outlives
            // it, and the actor is not touched here except through it.
            handling: unsafe { Handling::new(actor) },
            run: Run::default(),
            idle: Idle::default(),
        };
        let exit = loop {
            // A hook to run is awaited after the match, so that the step it came
            // from is not kept in the actor's future while the hook runs.
            let hooked = match poll_fn(|cx| serving.poll_step(cx)).await {
                Step::Delivered => None,
                Step::Again => continue,
                Step::AdmitFailed(reason) => break Exit::Failed(reason),
                Step::Signal(Signal::Stop) | Step::Closed => break Exit::Stopped,
                Step::Signal(Signal::Restart) => break Exit::Restart,
                Step::Signal(Signal::Escalate(reason)) => break Exit::Failed(reason),
                Step::Signal(Signal::Terminated(notice)) => {
                    if cell.stop_watching(notice.id).is_none() {
                        // Unwatched after the notice was sent.
                        continue;
                    }
                    let actor = unsafe { serving.handling.actor() };
                    Some(hook(cell, actor.terminated(&serving.ctx, notice)))
                }
                Step::Idle(OnIdle::Stop) => {
                    if cell.close_if_idle() {
                        break Exit::Stopped;
                    }
                    continue;
                }
                Step::Idle(OnIdle::Notify) => {
                    let actor = unsafe { serving.handling.actor() };
                    Some(hook(cell, actor.receive_timeout(&serving.ctx)))
                }
            };
            if let Some(hooked) = hooked {
                match hooked.await {
                    Ok(()) => continue,
                    Err(reason) => break Exit::Failed(reason),
                }
            }
            match serving.handling.finish().await {
                Outcome::Done => {}
                Outcome::Panicked(reason) => break Exit::Failed(reason),
                Outcome::Rest(rest) => {
                    let (rest, then) = *rest;
                    if let Some(exit) = put_rest(cell, &mut serving.run, rest, then) {
                        break exit;
                    }
                }
            }
        };
        // What the actor took and did not handle is still queued, for the next
        // instance or to be rejected with the rest.
        cell.put_back(&mut serving.run);
        exit
    }
}

/// What the message loop works with. The loop's poll borrows it whole:
/// every idle actor's task carries the loop's state all its life, and one
/// borrow is 8 bytes of it where a closure over each part took 40.
struct Serving<A: Actor> {
    ctx: Context<A>,
    handling: Handling<A>,
    /// The letters the actor took in one go (see [`Run`]).
    run: Run<A>,
    idle: Idle,
}

impl<A: Actor> Serving<A> {
    /// Waits for the next letter or signal. A letter is admitted and handed
    /// over where it is taken, inside the poll: it is moved as little as can
    /// be (letters are up to 144 bytes, stored inline), and not kept in the
    /// actor's future across an await, so an idle actor stays small.
    fn poll_step(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Step> {
        let Serving { ctx, handling, run, idle } = self;
        let cell = ctx.cell();
        match cell.poll_next(cx, run) {
            Poll::Ready(Some(Next::Letter(mut letter))) => {
                idle.busy();
                Poll::Ready(match take(handling, ctx, cell, &mut letter) {
                    Taken::Delivered => Step::Delivered,
                    taken => set_aside_letter(cell, run, letter, taken),
                })
            }
            Poll::Ready(Some(Next::FromRun)) => {
                idle.busy();
                let Some(letter) = run.front() else { return Poll::Ready(Step::Again) };
                match take(handling, ctx, cell, letter) {
                    Taken::Delivered => {
                        run.drop_front();
                        Poll::Ready(Step::Delivered)
                    }
                    taken => Poll::Ready(set_aside_front(cell, run, taken)),
                }
            }
            Poll::Ready(Some(Next::Signal(signal))) => {
                idle.busy();
                Poll::Ready(Step::Signal(signal))
            }
            Poll::Ready(None) => Poll::Ready(Step::Closed),
            Poll::Pending => idle.poll(&cell.idle, cx).map(Step::Idle),
        }
    }
}

/// Puts back the rest of a parcel that stopped early, ahead of the letters
/// that came after it; returns how the life ends, if it does.
fn put_rest<A: Actor>(cell: &Mailbox<A>, run: &mut Run<A>, rest: Letter<A>, then: Then) -> Option<Exit> {
    let taken = match then {
        Then::Signal => {
            put_ahead(cell, run, rest);
            return None;
        }
        Then::Panicked(reason) => {
            put_ahead(cell, run, rest);
            return Some(Exit::Failed(reason));
        }
        Then::Unstashed(count) => {
            // Stashed letters were left only with no run taken: the parcel
            // came from the batch, now behind them.
            cell.put_at(count, rest);
            return None;
        }
        Then::Stash => Taken::Stash,
        Then::AdmitFailed(reason) => Taken::AdmitFailed(reason),
    };
    let step = if run.is_going() {
        run.put_front(rest);
        set_aside_front(cell, run, taken)
    } else {
        set_aside_letter(cell, run, rest, taken)
    };
    match step {
        Step::AdmitFailed(reason) => Some(Exit::Failed(reason)),
        _ => None,
    }
}

/// Puts `rest` back where its parcel came from: ahead of the run's letters
/// left, which came after it; with none left, at the front of the batch.
fn put_ahead<A: Actor>(cell: &Mailbox<A>, run: &mut Run<A>, rest: Letter<A>) {
    if run.is_going() {
        run.put_front(rest);
    } else {
        cell.put_front(rest);
    }
}

/// What became of a letter the actor's task took.
enum Taken {
    /// Its handler is in its slot.
    Delivered,
    /// The actor put it aside (see [`Actor::admit`]).
    Stash,
    /// `admit` panicked with this reason.
    AdmitFailed(String),
}

/// Admits `letter` and, if the actor handles it now, hands it over (leaving
/// an empty shell): where it lies, so that it is never moved.
fn take<A: Actor>(
    handling: &mut Handling<A>,
    ctx: &Context<A>,
    cell: &Arc<Mailbox<A>>,
    letter: &mut Letter<A>,
) -> Taken {
    // SAFETY (for every `handling.actor()` in this file): the previous
    // handler future has finished (`finish` returned), so the last reference
    // to the actor is dead.
    let actor = unsafe { handling.actor() };
    match admit(actor, ctx, &**letter) {
        Ok(Admit::Stash) if letter.method().is_some() => Taken::Stash,
        Ok(_) => {
            letter.deliver(actor, cell, handling);
            Taken::Delivered
        }
        Err(reason) => Taken::AdmitFailed(reason),
    }
}

/// Puts aside `letter`, taken from the batch, which the actor did not
/// take: of a parcel, only its first request (the one `admit` saw), and the
/// rest goes back to the front of the batch.
fn set_aside_letter<A: Actor>(cell: &Mailbox<A>, run: &mut Run<A>, mut letter: Letter<A>, taken: Taken) -> Step {
    match letter.split_front() {
        Some(one) => {
            cell.put_front(letter);
            set_aside(cell, run, one, taken)
        }
        None => set_aside(cell, run, letter, taken),
    }
}

/// Puts aside the run's front letter, which the actor did not take: of a
/// parcel, only its first request, and the rest goes back with the run.
fn set_aside_front<A: Actor>(cell: &Mailbox<A>, run: &mut Run<A>, taken: Taken) -> Step {
    let one = run.front().and_then(|letter| letter.split_front());
    match one.or_else(|| run.take_front()) {
        Some(letter) => set_aside(cell, run, letter, taken),
        None => Step::Again,
    }
}

/// Puts aside a letter the actor did not take: stashed, or back in line
/// (for the next instance, if the actor restarts) when `admit` panicked.
fn set_aside<A: Actor>(cell: &Mailbox<A>, run: &mut Run<A>, letter: Letter<A>, taken: Taken) -> Step {
    cell.stash(letter);
    // The rest of its run goes back behind it, so that an unstash brings
    // them back in the order they came.
    cell.put_back(run);
    match taken {
        Taken::AdmitFailed(reason) => {
            cell.unstash_all();
            Step::AdmitFailed(reason)
        }
        Taken::Delivered | Taken::Stash => Step::Again,
    }
}

/// Asks the actor whether to handle `letter` now, catching a panic.
pub(crate) fn admit<A: Actor>(actor: &A, ctx: &Context<A>, letter: &dyn Peek) -> Result<Admit, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| actor.admit(ctx, &Queued::new(letter))))
        .map_err(|payload| format!("`admit` panicked: {}", panic_message(&*payload)))
}

/// Runs a lifecycle hook in the actor's context, catching a panic.
///
/// Boxed: hooks run a few times in an actor's life, and a hook's future
/// (its context, the user's future, the panic guard) would otherwise be
/// part of the actor's task, which every idle actor carries, all its life.
fn hook<'a, A: Actor>(
    cell: &Arc<Mailbox<A>>,
    hook: impl Future<Output = ()> + Send + 'a,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
    let current = Current::new(cell.clone(), Origin::default());
    Box::pin(async move {
        Scoped::new(current, AssertUnwindSafe(hook).catch_unwind()).await.map_err(|payload| panic_message(&*payload))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fieldless;

    impl Actor for Fieldless {}

    /// An actor with 256 bytes of fields.
    #[expect(dead_code, reason = "only its size matters")]
    struct Fat([u64; 32]);

    impl Actor for Fat {}

    /// Every idle actor carries its task's future all its life: what runs
    /// rarely (hooks, a restart's timer, the end) is boxed so as not to
    /// widen it. tokio keeps a task in a 128-byte aligned cell; with a
    /// future of up to 280 bytes the cell is 384 bytes, above it 512.
    #[test]
    #[allow(unreachable_code, clippy::diverging_sub_expression)]
    fn an_actors_task_stays_small() {
        // Only the type of the future is needed, never a value of it.
        let never = true;
        let task = if never { None } else { Some(run(Fieldless, unreachable!(), None)) };
        let size = size_of_val(&task);
        assert!(size <= 280, "the task of an actor without fields takes {size} bytes");
    }

    /// The actor is kept once in its task (an `async fn` would keep an
    /// argument twice: as passed, and moved into its body).
    #[test]
    #[allow(unreachable_code, clippy::diverging_sub_expression)]
    fn an_actor_is_kept_once_in_its_task() {
        let never = true;
        let task = if never { None } else { Some(run(Fat([0; 32]), unreachable!(), None)) };
        let size = size_of_val(&task);
        assert!(size <= size_of::<Fat>() + 280, "the task of a 256-byte actor takes {size} bytes");
    }
}
