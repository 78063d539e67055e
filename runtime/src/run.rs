//! The actor's task: hooks, the message loop, and an orderly end.
//!
//! Order at the end: the mailbox closes (queued calls fail at once), the
//! `stopping` hook runs, children stop and are awaited, the `stopped` hook
//! runs, then the actor withdraws its watches, leaves its name, its parent
//! and the system, and its watchers and whoever waits for its end are told.

use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use crate::context::{Current, Scoped};
use crate::error::panic_message;
use crate::handling::Handling;
use crate::letter::{Origin, Outcome};
use crate::mailbox::{Mailbox, Next, Signal};
use crate::watch::ExitReason;
use crate::{Actor, CallError, Context};

/// Why an actor's task ended.
enum Exit {
    Stopped,
    Failed(String),
}

pub(crate) async fn run<A: Actor>(mut actor: A, cell: Arc<Mailbox<A>>) {
    let ctx = Context::new(cell.clone());
    let mut exit = match hook(&cell, actor.started(&ctx)).await {
        Ok(()) => Exit::Stopped,
        Err(reason) => Exit::Failed(reason),
    };
    if let Exit::Stopped = exit {
        exit = serve(&mut actor, &cell).await;
    }
    if let Exit::Failed(reason) = &exit {
        tracing::warn!(actor = %cell.id, %reason, "actor failed");
    }
    cell.close(&CallError::ActorStopped);
    let _ = hook(&cell, actor.stopping(&ctx)).await;
    // Stop every child first, then wait: they wind down side by side.
    let children = cell.take_children();
    for child in &children {
        child.stop();
    }
    for child in &children {
        child.terminated().await;
    }
    let _ = hook(&cell, actor.stopped(&ctx)).await;
    drop(actor);
    cell.withdraw_watches();
    cell.system.forget(&*cell);
    if let Some(parent) = &cell.parent {
        parent.forget_child(cell.id.seq);
    }
    cell.mark_terminated(match exit {
        Exit::Stopped => ExitReason::Stopped,
        Exit::Failed(reason) => ExitReason::Failed { reason },
    });
}

/// Handles messages, one at a time, until asked to stop or a handler panics.
async fn serve<A: Actor>(actor: &mut A, cell: &Arc<Mailbox<A>>) -> Exit {
    // SAFETY: `handling` lives inside this call, so the actor outlives it,
    // and the actor is not touched here except through it.
    let mut handling = unsafe { Handling::new(actor) };
    loop {
        // Each letter is handed over inside this block, so no letter (they
        // are up to 144 bytes, stored inline) is kept in the actor's future
        // across the await below: an idle actor stays small.
        {
            let mut letter = match poll_fn(|cx| cell.poll_next(cx)).await {
                Some(Next::Letter(letter)) => letter,
                Some(Next::Signal(Signal::Stop)) | None => return Exit::Stopped,
                Some(Next::Signal(Signal::Terminated(notice))) => {
                    if cell.stop_watching(notice.id).is_none() {
                        // Unwatched after the notice was sent.
                        continue;
                    }
                    // SAFETY: as for letters below: the previous handler
                    // future has finished.
                    let actor = unsafe { handling.actor() };
                    match hook(cell, actor.terminated(&Context::new(cell.clone()), notice)).await {
                        Ok(()) => continue,
                        Err(reason) => return Exit::Failed(reason),
                    }
                }
            };
            // SAFETY: the previous handler future has finished (`finish`
            // returned), so the last reference to the actor is dead.
            letter.deliver(unsafe { handling.actor() }, cell, &mut handling);
        }
        if let Outcome::Panicked(reason) = handling.finish().await {
            return Exit::Failed(reason);
        }
    }
}

/// Runs a lifecycle hook in the actor's context, catching a panic.
async fn hook<A: Actor>(cell: &Arc<Mailbox<A>>, hook: impl Future<Output = ()> + Send) -> Result<(), String> {
    let current = Current::new(cell.clone(), Origin::default());
    Scoped::new(current, AssertUnwindSafe(hook).catch_unwind()).await.map_err(|payload| panic_message(&*payload))
}
