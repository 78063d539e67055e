//! Actors seen without their type: what parents, names and the system hold.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::chain::Label;
use crate::mailbox::{Mailbox, Signal};
use crate::supervision::{Restarts, Supervisor};
use crate::{Actor, ActorId, CallError};

/// A live actor, erased over its type.
pub(crate) trait Cell: Send + Sync + 'static {
    fn id(&self) -> ActorId;
    /// How the actor is shown in a deadlock chain.
    fn label(&self) -> Label;
    /// Asks the actor to stop after its current message; queued calls fail
    /// with `ActorStopped` at once.
    fn stop(&self);
    /// Resolves once the actor's task has finished, hooks included.
    fn terminated(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn forget_child(&self, seq: u64);
    /// Takes a new child; hands it back once this actor is stopping.
    fn adopt(&self, child: Arc<dyn Cell>) -> Result<(), Arc<dyn Cell>>;
    /// Asks the actor to restart from its factory after its current message
    /// (it stops if it has none).
    fn restart(&self);
    /// Fails the actor with `reason`: a child escalated its failure.
    fn escalate(&self, reason: String);
    /// Restarts every child but `except` (all-for-one).
    fn restart_children(&self, except: u64);
    /// How this actor supervises its children.
    fn supervisor(&self) -> Supervisor;
    /// The restarts of this actor's children together (all-for-one).
    fn children_restarts(&self) -> Restarts;
}

impl<A: Actor> Cell for Mailbox<A> {
    fn id(&self) -> ActorId {
        self.id
    }

    fn label(&self) -> Label {
        Label { ty: A::name(), name: self.name.clone() }
    }

    fn stop(&self) {
        if self.close(&CallError::ActorStopped) {
            self.signal(Signal::Stop);
        }
    }

    fn terminated(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(Mailbox::terminated(self))
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn forget_child(&self, seq: u64) {
        Mailbox::forget_child(self, seq);
    }

    fn adopt(&self, child: Arc<dyn Cell>) -> Result<(), Arc<dyn Cell>> {
        Mailbox::adopt(self, child)
    }

    fn restart(&self) {
        self.signal(Signal::Restart);
    }

    fn escalate(&self, reason: String) {
        self.signal(Signal::Escalate(reason));
    }

    fn restart_children(&self, except: u64) {
        Mailbox::restart_children(self, except);
    }

    fn supervisor(&self) -> Supervisor {
        Mailbox::supervisor(self)
    }

    fn children_restarts(&self) -> Restarts {
        Mailbox::children_restarts(self)
    }
}
