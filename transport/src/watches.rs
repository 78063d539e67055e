//! Watches across a connection, with no sockets.
//!
//! Each node keeps, per peer, the local actors watching actors of that
//! peer ([`Watching`]). The peer is asked once per watched actor, however
//! many local actors watch it, and told when the last of them stops
//! watching; its answer (a termination notice) is fanned out here. When the
//! connection is lost, every watcher of the peer's actors is told at once
//! that the node is lost.
//!
//! On the other side, the peer's interest in one actor is one [`Watcher`]
//! registered with that actor, under the peer's node id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use courier_runtime::{ActorId, ExitReason, Terminated, Watcher};

/// The local watchers of one peer's actors, by the watched actor's sequence
/// number.
#[derive(Default)]
pub(crate) struct Watching {
    by_target: Mutex<HashMap<u64, Vec<Arc<dyn Watcher>>>>,
}

/// What adding or removing a watcher asks of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing: the peer knows already.
    None,
    /// The first watcher of the actor: ask the peer to watch it.
    Watch,
    /// The last watcher left: the peer may forget the watch.
    Unwatch,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code that can panic runs under this lock.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Watching {
    /// Adds `watcher` of actor `target`.
    pub(crate) fn add(&self, target: u64, watcher: Arc<dyn Watcher>) -> Change {
        let mut by_target = lock(&self.by_target);
        let watchers = by_target.entry(target).or_default();
        if watchers.iter().any(|w| w.id() == watcher.id()) {
            return Change::None;
        }
        watchers.retain(|w| !w.is_gone());
        watchers.push(watcher);
        if watchers.len() == 1 { Change::Watch } else { Change::None }
    }

    /// Removes the watcher `watcher` of actor `target`.
    pub(crate) fn remove(&self, target: u64, watcher: ActorId) -> Change {
        let mut by_target = lock(&self.by_target);
        let Some(watchers) = by_target.get_mut(&target) else { return Change::None };
        watchers.retain(|w| w.id() != watcher);
        // A list is never left empty, so an empty one just lost its last.
        if !watchers.is_empty() {
            return Change::None;
        }
        by_target.remove(&target);
        Change::Unwatch
    }

    /// The actors watched.
    pub(crate) fn targets(&self) -> Vec<u64> {
        lock(&self.by_target).keys().copied().collect()
    }

    /// Actor `target` (of node `node`) is gone: tells its watchers. Returns
    /// how many there were.
    pub(crate) fn terminated(&self, node: u64, target: u64, reason: ExitReason) -> usize {
        let watchers = lock(&self.by_target).remove(&target).unwrap_or_default();
        let id = ActorId { node, seq: target };
        for watcher in &watchers {
            watcher.notify(Terminated { id, reason: reason.clone() });
        }
        watchers.len()
    }

    /// The connection to node `node` is lost: tells every watcher.
    pub(crate) fn node_lost(&self, node: u64, described: &str) {
        let all = std::mem::take(&mut *lock(&self.by_target));
        for (target, watchers) in all {
            let id = ActorId { node, seq: target };
            for watcher in watchers {
                watcher.notify(Terminated { id, reason: ExitReason::NodeLost { node: described.to_owned() } });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    struct Recorder {
        id: ActorId,
        notices: Mutex<Vec<Terminated>>,
    }

    impl Watcher for Recorder {
        fn id(&self) -> ActorId {
            self.id
        }

        fn notify(&self, notice: Terminated) {
            self.notices.lock().expect("notices").push(notice);
        }
    }

    fn recorder(seq: u64) -> Arc<Recorder> {
        Arc::new(Recorder { id: ActorId { node: 1, seq }, notices: Mutex::default() })
    }

    #[test]
    fn the_peer_is_asked_once_per_actor_and_released_by_the_last_watcher() {
        let watching = Watching::default();
        let (a, b) = (recorder(1), recorder(2));
        assert_eq!(watching.add(7, a.clone()), Change::Watch);
        assert_eq!(watching.add(7, b.clone()), Change::None);
        assert_eq!(watching.add(7, a.clone()), Change::None, "a second watch by one watcher is the same watch");
        assert_eq!(watching.remove(7, a.id), Change::None);
        assert_eq!(watching.remove(7, b.id), Change::Unwatch);
        assert_eq!(watching.remove(7, b.id), Change::None);
    }

    #[test]
    fn a_termination_reaches_every_watcher_of_that_actor_only() {
        let watching = Watching::default();
        let (a, b) = (recorder(1), recorder(2));
        watching.add(7, a.clone());
        watching.add(8, b.clone());
        assert_eq!(watching.terminated(2, 7, ExitReason::Stopped), 1);
        assert_eq!(
            a.notices.lock().expect("notices")[0],
            Terminated { id: ActorId { node: 2, seq: 7 }, reason: ExitReason::Stopped }
        );
        assert!(b.notices.lock().expect("notices").is_empty());
        assert_eq!(watching.terminated(2, 7, ExitReason::Stopped), 0, "told once");
    }

    #[test]
    fn a_lost_node_tells_every_watcher() {
        let watching = Watching::default();
        let (a, b) = (recorder(1), recorder(2));
        watching.add(7, a.clone());
        watching.add(8, b.clone());
        watching.node_lost(2, "2 at 127.0.0.1:1");
        for (watcher, seq) in [(a, 7), (b, 8)] {
            let notices = watcher.notices.lock().expect("notices");
            assert_eq!(notices.len(), 1);
            assert_eq!(notices[0].id, ActorId { node: 2, seq });
            assert!(matches!(notices[0].reason, ExitReason::NodeLost { .. }));
        }
        assert_eq!(watching.add(7, recorder(3)), Change::Watch, "after a loss, the peer is asked again");
    }
}
