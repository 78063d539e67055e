//! `ActorRef<A>`: a ref typed by the actor, what `spawn` returns.

use std::fmt;
use std::sync::Arc;

use crate::cell::Cell;
use crate::mailbox::Mailbox;
use crate::protocol::Dispatch;
use crate::{Actor, ActorId, Recipient};

/// A ref to a local actor of type `A`.
///
/// Convert it into the generated ref of any service trait `A` implements
/// (`let counter: CounterRef = actor_ref.into();`), or keep it to stop the
/// actor and wait for its end.
pub struct ActorRef<A: Actor> {
    cell: Arc<Mailbox<A>>,
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        ActorRef { cell: self.cell.clone() }
    }
}

impl<A: Actor> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ActorRef").field(&self.cell.id).finish()
    }
}

impl<A: Actor> ActorRef<A> {
    pub(crate) fn from_cell(cell: Arc<Mailbox<A>>) -> Self {
        ActorRef { cell }
    }

    pub(crate) fn cell(&self) -> &Arc<Mailbox<A>> {
        &self.cell
    }

    /// The actor's id.
    pub fn id(&self) -> ActorId {
        self.cell.id
    }

    /// Whether the actor still takes messages.
    pub fn is_alive(&self) -> bool {
        self.cell.is_open()
    }

    /// Asks the actor to stop once its current message is handled; calls
    /// still queued fail with `CallError::ActorStopped` at once.
    pub fn stop(&self) {
        self.cell.stop();
    }

    /// Resolves once the actor has stopped and its hooks have run.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future only stops the waiting.
    pub async fn wait_stopped(&self) {
        self.cell.terminated().await;
    }

    /// A ref for service `P`, which `A` implements.
    pub fn recipient<P: Dispatch<A>>(&self) -> Recipient<P> {
        Recipient::local(self.cell.clone())
    }
}
