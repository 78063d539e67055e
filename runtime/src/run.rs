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
use crate::letter::{Letter, Origin, Outcome};
use crate::mailbox::{Mailbox, Next, Run, Signal};
use crate::stash::{Admit, Queued};
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

pub(crate) async fn run<A: Actor>(mut actor: A, cell: Arc<Mailbox<A>>, factory: Option<Factory<A>>) {
    let ctx = Context::new(cell.clone());
    // This actor's own restarts, kept for one-for-one supervision.
    let mut restarts = None;
    let exit = loop {
        let exit = match hook(&cell, actor.started(&ctx)).await {
            Ok(()) => serve(&mut actor, &cell).await,
            Err(reason) => Exit::Failed(reason),
        };
        let (delay, reason) = match exit {
            Exit::Stopped => break Exit::Stopped,
            Exit::Restart => (Duration::ZERO, "a sibling failed".to_owned()),
            Exit::Failed(reason) => {
                tracing::warn!(actor = %cell.id, %reason, "actor failed");
                let failed = ActorFailed { id: cell.id, actor: A::name(), reason: reason.clone() };
                cell.system.events.publish(&failed);
                match supervise(&cell, factory.is_some(), &reason, &mut restarts) {
                    Some(delay) => (delay, reason),
                    None => break Exit::Failed(reason),
                }
            }
        };
        let Some(factory) = &factory else { break Exit::Stopped };
        cell.system.events.publish(&ActorRestarted { id: cell.id, actor: A::name(), delay });
        // Boxed, as the hooks are: a restart's timer is large and rare.
        match Box::pin(restart(&mut actor, &cell, &ctx, factory, delay, &reason)).await {
            Ok(()) => tracing::debug!(actor = %cell.id, "actor restarted"),
            Err(exit) => break exit,
        }
    };
    cell.cancel_timers();
    cell.close(&CallError::ActorStopped);
    let _ = hook(&cell, actor.stopping(&ctx)).await;
    stop_children(&cell).await;
    let _ = hook(&cell, actor.stopped(&ctx)).await;
    drop(actor);
    cell.withdraw_watches();
    cell.system.forget(&*cell);
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
async fn restart<A: Actor>(
    actor: &mut A,
    cell: &Arc<Mailbox<A>>,
    ctx: &Context<A>,
    factory: &Factory<A>,
    delay: Duration,
    reason: &str,
) -> Result<(), Exit> {
    // The failed instance's timers and receive timeout go with it; the new
    // instance's `started` sets its own.
    cell.cancel_timers();
    let _ = hook(cell, actor.restarting(ctx, reason)).await;
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
    /// A letter's handler is in the box, ready to be driven.
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
async fn serve<A: Actor>(actor: &mut A, cell: &Arc<Mailbox<A>>) -> Exit {
    let mut run = Run::default();
    let exit = serve_letters(actor, cell, &mut run).await;
    // What the actor took and did not handle is still queued, for the next
    // instance or to be rejected with the rest.
    cell.put_back(&mut run);
    exit
}

/// The message loop of [`serve`]; `run` holds the letters the actor took in
/// one go (see [`Run`]).
async fn serve_letters<A: Actor>(actor: &mut A, cell: &Arc<Mailbox<A>>, run: &mut Run<A>) -> Exit {
    let ctx = Context::new(cell.clone());
    // SAFETY: `handling` lives inside this call, so the actor outlives it,
    // and the actor is not touched here except through it.
    let mut handling = unsafe { Handling::new(actor) };
    let mut idle = Idle::default();
    loop {
        // A letter is admitted and handed over where it is taken, inside the
        // poll: it is moved as little as can be (letters are up to 144
        // bytes, stored inline), and not kept in the actor's future across
        // an await, so an idle actor stays small.
        let step = poll_fn(|cx| match cell.poll_next(cx, run) {
            Poll::Ready(Some(Next::Letter(mut letter))) => {
                idle.busy();
                Poll::Ready(match take(&mut handling, &ctx, cell, &mut letter) {
                    Taken::Delivered => Step::Delivered,
                    taken => set_aside(cell, run, letter, taken),
                })
            }
            Poll::Ready(Some(Next::FromRun)) => {
                idle.busy();
                let Some(letter) = run.front() else { return Poll::Ready(Step::Again) };
                let taken = take(&mut handling, &ctx, cell, letter);
                if let Taken::Delivered = taken {
                    run.drop_front();
                    return Poll::Ready(Step::Delivered);
                }
                let Some(letter) = run.take_front() else { return Poll::Ready(Step::Again) };
                Poll::Ready(set_aside(cell, run, letter, taken))
            }
            Poll::Ready(Some(Next::Signal(signal))) => {
                idle.busy();
                Poll::Ready(Step::Signal(signal))
            }
            Poll::Ready(None) => Poll::Ready(Step::Closed),
            Poll::Pending => idle.poll(&cell.idle, cx).map(Step::Idle),
        })
        .await;
        match step {
            Step::Delivered => {}
            Step::Again => continue,
            Step::AdmitFailed(reason) => return Exit::Failed(reason),
            Step::Signal(Signal::Stop) | Step::Closed => return Exit::Stopped,
            Step::Signal(Signal::Restart) => return Exit::Restart,
            Step::Signal(Signal::Escalate(reason)) => return Exit::Failed(reason),
            Step::Signal(Signal::Terminated(notice)) => {
                if cell.stop_watching(notice.id).is_none() {
                    // Unwatched after the notice was sent.
                    continue;
                }
                let actor = unsafe { handling.actor() };
                match hook(cell, actor.terminated(&ctx, notice)).await {
                    Ok(()) => continue,
                    Err(reason) => return Exit::Failed(reason),
                }
            }
            Step::Idle(OnIdle::Stop) => {
                if cell.close_if_idle() {
                    return Exit::Stopped;
                }
                continue;
            }
            Step::Idle(OnIdle::Notify) => {
                let actor = unsafe { handling.actor() };
                match hook(cell, actor.receive_timeout(&ctx)).await {
                    Ok(()) => continue,
                    Err(reason) => return Exit::Failed(reason),
                }
            }
        }
        if let Outcome::Panicked(reason) = handling.finish().await {
            return Exit::Failed(reason);
        }
    }
}

/// What became of a letter the actor's task took.
enum Taken {
    /// Its handler is in the box.
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
    match admit(actor, ctx, letter) {
        Ok(Admit::Stash) if letter.method().is_some() => Taken::Stash,
        Ok(_) => {
            letter.deliver(actor, cell, handling);
            Taken::Delivered
        }
        Err(reason) => Taken::AdmitFailed(reason),
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
fn admit<A: Actor>(actor: &A, ctx: &Context<A>, letter: &Letter<A>) -> Result<Admit, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| actor.admit(ctx, &Queued::new(&**letter))))
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

    /// Every idle actor carries its task's future all its life: what runs
    /// rarely (hooks, a restart's timer) is boxed so as not to widen it.
    /// 384 bytes when this was written; a hook's future inline added ~70,
    /// which showed as ~100 bytes per idle actor in the spawn benchmark.
    #[test]
    #[allow(unreachable_code, clippy::diverging_sub_expression)]
    fn an_actors_task_stays_small() {
        // Only the type of the future is needed, never a value of it.
        let never = true;
        let task = if never { None } else { Some(run(Fieldless, unreachable!(), None)) };
        let size = size_of_val(&task);
        assert!(size <= 400, "the task of an actor without fields takes {size} bytes");
    }
}
