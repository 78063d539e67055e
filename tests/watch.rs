//! Watch: a termination notice, with its reason, for each watched actor.

use std::time::Duration;

use courier::Recipient;
use courier::prelude::*;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(5);

/// Something to watch.
#[courier::actor(local)]
pub trait Worker {
    /// Answers.
    async fn ping(&self) -> u32;
    /// Panics with `why`.
    async fn explode(&self, why: String);
}

/// A worker with nothing to keep.
pub struct Plain;

impl Actor for Plain {}

impl Worker for Plain {
    async fn ping(&self) -> u32 {
        1
    }

    async fn explode(&self, why: String) {
        panic!("{why}");
    }
}

/// A watcher, driven by the test.
#[courier::actor(local)]
pub trait Monitor {
    /// Watches `target`.
    async fn watch(&self, target: WorkerRef);
    /// Stops watching `target`.
    async fn unwatch(&self, target: WorkerRef);
    /// Watches an actor through its typed `ActorRef`.
    async fn watch_actor(&self, target: ActorRef<Plain>);
    /// Watches through a `Recipient`.
    async fn watch_recipient(&self, target: Recipient<WorkerRequest>);
    /// Watches another watcher.
    async fn watch_watcher(&self, target: ActorRef<Watcher>);
    /// A round trip: every notice sent before it has been handled.
    async fn sync(&self);
}

/// Passes every notice it gets to the test.
pub struct Watcher {
    notices: UnboundedSender<Terminated>,
    /// Panic in the `terminated` hook.
    explode_on_notice: bool,
}

impl Actor for Watcher {
    async fn terminated(&mut self, _: &Context<Self>, notice: Terminated) {
        let _ = self.notices.send(notice);
        if self.explode_on_notice {
            panic!("the watcher gives up");
        }
    }
}

impl Monitor for Watcher {
    async fn watch(&self, target: WorkerRef) {
        Context::<Self>::current().watch(&target);
    }

    async fn unwatch(&self, target: WorkerRef) {
        Context::<Self>::current().unwatch(&target);
    }

    async fn watch_actor(&self, target: ActorRef<Plain>) {
        Context::<Self>::current().watch(&target);
    }

    async fn watch_recipient(&self, target: Recipient<WorkerRequest>) {
        Context::<Self>::current().watch(&target);
    }

    async fn watch_watcher(&self, target: ActorRef<Watcher>) {
        Context::<Self>::current().watch(&target);
    }

    async fn sync(&self) {}
}

fn watcher(system: &System, explode_on_notice: bool) -> (MonitorRef, ActorRef<Watcher>, UnboundedReceiver<Terminated>) {
    let (notices, received) = unbounded_channel();
    let actor = system.spawn(Watcher { notices, explode_on_notice });
    (actor.clone().into(), actor, received)
}

async fn next(received: &mut UnboundedReceiver<Terminated>) -> Terminated {
    timeout(BOUND, received.recv()).await.expect("a notice in time").expect("the watcher is alive")
}

fn spawn_worker(system: &System) -> (WorkerRef, ActorRef<Plain>) {
    let actor = system.spawn(Plain);
    (actor.clone().into(), actor)
}

#[tokio::test]
async fn a_stop_is_noticed_with_its_reason() {
    let system = System::new();
    let (monitor, _, mut received) = watcher(&system, false);
    let (worker, actor) = spawn_worker(&system);
    monitor.watch(worker.clone()).await.expect("a call");
    actor.stop();
    let notice = next(&mut received).await;
    assert_eq!(notice, Terminated { id: actor.id(), reason: ExitReason::Stopped });
    system.shutdown().await;
}

#[tokio::test]
async fn a_failure_is_noticed_with_the_panic_message() {
    let system = System::new();
    let (monitor, _, mut received) = watcher(&system, false);
    let (worker, actor) = spawn_worker(&system);
    monitor.watch(worker.clone()).await.expect("a call");
    let failed = worker.explode("out of cheese".into()).await;
    assert!(matches!(failed, Err(CallError::ActorFailed { .. })), "{failed:?}");
    let notice = next(&mut received).await;
    assert_eq!(notice.id, actor.id());
    assert_eq!(notice.reason, ExitReason::Failed { reason: "out of cheese".into() });
    system.shutdown().await;
}

#[tokio::test]
async fn watching_an_actor_that_is_gone_notices_at_once_with_how_it_ended() {
    let system = System::new();
    let (monitor, _, mut received) = watcher(&system, false);
    let (stopped, stopped_actor) = spawn_worker(&system);
    stopped_actor.stop();
    stopped_actor.wait_stopped().await;
    let (failed, failed_actor) = spawn_worker(&system);
    let _ = failed.explode("boom".into()).await;
    failed_actor.wait_stopped().await;

    monitor.watch_actor(stopped_actor.clone()).await.expect("a call");
    assert_eq!(next(&mut received).await, Terminated { id: stopped.actor_id(), reason: ExitReason::Stopped });
    monitor.watch(failed.clone()).await.expect("a call");
    let reason = ExitReason::Failed { reason: "boom".into() };
    assert_eq!(next(&mut received).await, Terminated { id: failed.actor_id(), reason });
    system.shutdown().await;
}

#[tokio::test]
async fn every_kind_of_ref_can_be_watched_and_one_watch_is_one_notice() {
    let system = System::new();
    let (monitor, _, mut received) = watcher(&system, false);
    let (worker, actor) = spawn_worker(&system);
    monitor.watch(worker.clone()).await.expect("a call");
    monitor.watch_actor(actor.clone()).await.expect("a call");
    monitor.watch_recipient(actor.recipient()).await.expect("a call");
    actor.stop();
    assert_eq!(next(&mut received).await.id, actor.id());
    monitor.sync().await.expect("a call");
    assert!(received.try_recv().is_err(), "three watches of one actor by one watcher are one watch");
    system.shutdown().await;
}

#[tokio::test]
async fn an_unwatched_actor_sends_no_notice() {
    let system = System::new();
    let (monitor, _, mut received) = watcher(&system, false);
    let (worker, actor) = spawn_worker(&system);
    monitor.watch(worker.clone()).await.expect("a call");
    monitor.unwatch(worker.clone()).await.expect("a call");
    actor.stop();
    actor.wait_stopped().await;
    // Notices are handled before messages: after this round trip, any
    // notice would have arrived.
    monitor.sync().await.expect("a call");
    assert!(received.try_recv().is_err());
    system.shutdown().await;
}

#[tokio::test]
async fn many_watchers_of_one_actor_are_all_told() {
    let system = System::new();
    let (worker, actor) = spawn_worker(&system);
    let mut all = Vec::new();
    for _ in 0..40 {
        let (monitor, watcher_actor, received) = watcher(&system, false);
        monitor.watch(worker.clone()).await.expect("a call");
        all.push((watcher_actor, received));
    }
    // Half of the watchers stop first: they must not be told, nor block the
    // others.
    for (watcher_actor, _) in all.iter().step_by(2) {
        watcher_actor.stop();
        watcher_actor.wait_stopped().await;
    }
    actor.stop();
    for (watcher_actor, received) in all.iter_mut().skip(1).step_by(2) {
        assert_eq!(next(received).await.id, actor.id(), "watcher {}", watcher_actor.id());
    }
    system.shutdown().await;
}

#[tokio::test]
async fn a_panicking_terminated_hook_fails_the_watcher() {
    let system = System::new();
    let (monitor, watcher_actor, mut received) = watcher(&system, true);
    let (outer, _, mut outer_received) = watcher(&system, false);
    let (worker, actor) = spawn_worker(&system);
    monitor.watch(worker.clone()).await.expect("a call");
    outer.watch_watcher(watcher_actor.clone()).await.expect("a call");
    actor.stop();
    assert_eq!(next(&mut received).await.id, actor.id());
    let notice = next(&mut outer_received).await;
    assert_eq!(notice.id, watcher_actor.id());
    assert_eq!(notice.reason, ExitReason::Failed { reason: "the watcher gives up".into() });
    system.shutdown().await;
}
