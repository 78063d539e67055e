//! What ties an actor to others, kept in its mailbox: its children (and how
//! it supervises them), the actors it watches and those watching it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Mailbox;
use crate::cell::Cell;
use crate::events::ActorTerminated;
use crate::supervision::{Restarts, Supervisor};
use crate::watch::{ExitReason, Terminated, Watchee, Watcher};
use crate::{Actor, ActorId};

impl<A: Actor> Mailbox<A> {
    /// Adds a child; refused (returns it back) once this actor is stopping.
    pub(crate) fn adopt(&self, child: Arc<dyn Cell>) -> Result<(), Arc<dyn Cell>> {
        let mut inbox = self.inbox();
        if !inbox.open {
            return Err(child);
        }
        inbox.children.get_or_insert_default().by_seq.insert(child.id().seq, child);
        Ok(())
    }

    pub(crate) fn forget_child(&self, seq: u64) {
        if let Some(children) = self.inbox().children.as_mut() {
            children.by_seq.remove(&seq);
        }
    }

    /// Takes every child out (to stop them); the restart count stays.
    pub(crate) fn take_children(&self) -> Vec<Arc<dyn Cell>> {
        let mut inbox = self.inbox();
        let Some(children) = inbox.children.as_mut() else { return Vec::new() };
        std::mem::take(&mut children.by_seq).into_values().collect()
    }

    /// The restarts of this actor's children together.
    pub(crate) fn children_restarts(&self) -> Restarts {
        self.inbox().children.get_or_insert_default().restarts.clone()
    }

    /// How this actor supervises its children: `A::supervisor()` unless
    /// [`supervise_with`](Mailbox::supervise_with) set another.
    pub(crate) fn supervisor(&self) -> Supervisor {
        let set = self.inbox().children.as_ref().and_then(|children| children.supervisor.clone());
        set.unwrap_or_else(A::supervisor)
    }

    /// Supervises this actor's children with `supervisor` instead of its
    /// type's.
    pub(crate) fn supervise_with(&self, supervisor: Supervisor) {
        self.inbox().children.get_or_insert_default().supervisor = Some(supervisor);
    }

    /// Restarts every child but `except`.
    pub(crate) fn restart_children(&self, except: u64) {
        let children: Vec<Arc<dyn Cell>> = match self.inbox().children.as_ref() {
            Some(children) => children.by_seq.values().filter(|c| c.id().seq != except).cloned().collect(),
            None => Vec::new(),
        };
        for child in children {
            child.restart();
        }
    }

    /// Records how the actor ended and tells its watchers; wakes whoever
    /// waits for its end.
    pub(crate) fn mark_terminated(&self, reason: ExitReason) {
        let mut inbox = self.inbox();
        let (watchers, waiting) = match inbox.watches.as_mut() {
            Some(watches) => (std::mem::take(&mut watches.watchers), watches.waiting.take()),
            None => (Vec::new(), None),
        };
        if reason != ExitReason::Stopped {
            inbox.exit = Some(Box::new(reason.clone()));
        }
        // Set under the inbox lock: a watcher added after this sees it.
        self.terminated.store(true, Ordering::Release);
        drop(inbox);
        for watcher in watchers {
            watcher.notify(Terminated { id: self.id, reason: reason.clone() });
        }
        self.system.events.publish(&ActorTerminated { id: self.id, reason });
        if let Some(waiting) = waiting {
            waiting.notify_waiters();
        }
    }

    /// Starts watching `target`; returns `false` when this actor watches it
    /// already or has stopped.
    pub(crate) fn start_watching(&self, target: Arc<dyn Watchee>) -> bool {
        let mut inbox = self.inbox();
        if !inbox.open {
            return false;
        }
        let watches = inbox.watches.get_or_insert_default();
        let id = target.watched_id();
        if watches.watching.iter().any(|w| w.watched_id() == id) {
            return false;
        }
        watches.watching.push(target);
        true
    }

    /// Stops watching `id`; returns the watched end when it was watched.
    pub(crate) fn stop_watching(&self, id: ActorId) -> Option<Arc<dyn Watchee>> {
        let mut inbox = self.inbox();
        let watching = &mut inbox.watches.as_mut()?.watching;
        let at = watching.iter().position(|w| w.watched_id() == id)?;
        Some(watching.swap_remove(at))
    }

    /// Withdraws every watch this actor set; it is ending.
    pub(crate) fn withdraw_watches(&self) {
        let watching = self.inbox().watches.as_mut().map(|w| std::mem::take(&mut w.watching)).unwrap_or_default();
        for target in watching {
            target.remove_watcher(self.id);
        }
    }
}

impl<A: Actor> Watchee for Mailbox<A> {
    fn watched_id(&self) -> ActorId {
        self.id
    }

    fn add_watcher(&self, watcher: Arc<dyn Watcher>) {
        let mut inbox = self.inbox();
        if !self.is_terminated() {
            inbox.watches.get_or_insert_default().add_watcher(watcher);
            return;
        }
        let reason = inbox.exit.as_deref().cloned().unwrap_or(ExitReason::Stopped);
        drop(inbox);
        watcher.notify(Terminated { id: self.id, reason });
    }

    fn remove_watcher(&self, watcher: ActorId) {
        if let Some(watches) = self.inbox().watches.as_mut() {
            watches.watchers.retain(|w| w.id() != watcher);
        }
    }
}
