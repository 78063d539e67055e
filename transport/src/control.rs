//! Frames about actors rather than for them: remote spawns and watches.
//!
//! - `Spawn` asks this node for a new actor of a kind it registered; the
//!   answer is a `Reply` carrying the new actor's id, or a `Failure`. The
//!   kind's factory runs on tokio's blocking pool, off the connections.
//! - `Watch` / `Unwatch` start and end the other node's interest in one of
//!   this node's exported actors. The other node asks once per actor,
//!   however many of its actors watch it (see [`watches`](crate::watches)),
//!   so its interest is one [`Watcher`] registered here under its node id.
//! - `Terminated` tells this node that an actor of the other node it
//!   watched is gone.
//!
//! Only exported or served actors can be watched, as only they can be
//! called: a watch of anything else is answered at once with `NotFound`.

use std::sync::{Arc, Weak};

use courier_runtime::{ActorId, ExitReason, System, Terminated, Watcher};
use rkyv::rancor::Error as RkyvError;

use crate::envelope::{ArchivedKind, EnvelopeRef, Header, Kind, TargetRef};
use crate::inbound::answer_with_actor;
use crate::lanes::lane_of;
use crate::node::Shared;
use crate::peer::Peer;
use crate::stats::Counters;

/// Handles a `Spawn`, `Watch`, `Unwatch` or `Terminated` frame from `peer`.
pub(crate) fn handle(shared: &Arc<Shared>, system: Option<&System>, peer: &Arc<Peer>, envelope: EnvelopeRef<'_>) {
    let Some(system) = system else { return };
    match (envelope.kind(), envelope.target()) {
        (ArchivedKind::Spawn, TargetRef::Name(kind)) => {
            // The kind's factory is the application's code, and may take its
            // time: it runs on a thread of its own, not on the task that
            // drives this node's connections.
            let (shared, system, peer) = (shared.clone(), system.clone(), peer.clone());
            let (kind, service, fingerprint) = (kind.to_owned(), envelope.service(), envelope.fingerprint());
            let request = envelope.request();
            tokio::task::spawn_blocking(move || {
                let spawned = system.spawn_kind(&kind, service, fingerprint);
                answer_with_actor(&shared, &peer, request, spawned);
            });
        }
        (ArchivedKind::Watch, TargetRef::Actor(seq)) => match shared.peer(peer.node) {
            Some(peer) => {
                let watcher = RemoteWatcher { node: peer.node, peer: Arc::downgrade(&peer) };
                system.watch_exported(seq, Arc::new(watcher));
            }
            None => tracing::debug!(node = %peer.describe(), "a watch from a node that is gone"),
        },
        (ArchivedKind::Unwatch, TargetRef::Actor(seq)) => {
            system.unwatch_exported(seq, RemoteWatcher::id_of(peer.node));
        }
        (ArchivedKind::Terminated, _) => {
            let Some(gone) = envelope.sender() else {
                Counters::bump(&shared.counters.invalid_headers);
                return;
            };
            let reason = rkyv::from_bytes::<ExitReason, RkyvError>(envelope.payload()).unwrap_or_else(|_| {
                Counters::bump(&shared.counters.invalid_payloads);
                ExitReason::NotFound
            });
            if gone.node != peer.node || peer.watched_terminated(gone.seq, reason) == 0 {
                // Not one of its actors, or not (or no longer) watched.
                Counters::bump(&shared.counters.stray_replies);
            }
        }
        _ => {
            Counters::bump(&shared.counters.invalid_headers);
            tracing::debug!(node = %peer.describe(), "dropped a spawn or watch frame without its target");
        }
    }
}

/// Another node's interest in one actor of this node.
struct RemoteWatcher {
    /// The watching node.
    node: u64,
    peer: Weak<Peer>,
}

impl RemoteWatcher {
    /// The id a watch of node `node` is registered under: one per node.
    fn id_of(node: u64) -> ActorId {
        ActorId { node, seq: 0 }
    }
}

impl Watcher for RemoteWatcher {
    fn id(&self) -> ActorId {
        RemoteWatcher::id_of(self.node)
    }

    fn notify(&self, notice: Terminated) {
        let Some(peer) = self.peer.upgrade() else { return };
        let Ok(payload) = rkyv::to_bytes::<RkyvError>(&notice.reason) else { return };
        let header = Header { sender: Some(notice.id), ..Header::control(Kind::Terminated, 0) };
        peer.send_control(header, lane_of(Some(notice.id), 0, peer.lanes.count()), &payload);
    }

    fn is_gone(&self) -> bool {
        self.peer.upgrade().is_none_or(|peer| peer.is_retired())
    }
}
