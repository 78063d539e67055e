//! Supervision: restarts from a factory, in the same mailbox; limits,
//! escalation, all-for-one, and the hooks around a restart.

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use courier::prelude::*;
use courier::{Directive, Supervisor};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(5);

/// A counter that can be made to fail.
#[courier::actor(local)]
pub trait Worker {
    /// Adds one; returns the count of this instance.
    async fn bump(&mut self) -> u32;
    /// Panics with `why`.
    async fn explode(&self, why: String);
}

/// Counts its bumps; tells `events` what happens to it.
pub struct Counter {
    name: &'static str,
    count: u32,
    events: UnboundedSender<String>,
}

impl Counter {
    fn factory(name: &'static str, events: &UnboundedSender<String>) -> impl Fn() -> Counter + Send + Sync + 'static {
        let events = events.clone();
        move || Counter { name, count: 0, events: events.clone() }
    }
}

impl Actor for Counter {
    async fn started(&mut self, _: &Context<Self>) {
        let _ = self.events.send(format!("{} started", self.name));
    }

    async fn restarting(&mut self, _: &Context<Self>, reason: &str) {
        let _ = self.events.send(format!("{} restarting at {}: {reason}", self.name, self.count));
    }
}

impl Worker for Counter {
    async fn bump(&mut self) -> u32 {
        self.count += 1;
        self.count
    }

    async fn explode(&self, why: String) {
        panic!("{why}");
    }
}

/// A parent that hires workers, with the supervisor its type says.
#[courier::actor(local)]
pub trait Boss {
    /// Spawns a worker named `name` from a factory.
    async fn hire(&mut self, name: &'static str) -> WorkerRef;
}

macro_rules! boss {
    ($name:ident, $supervisor:expr) => {
        /// A boss with its own supervisor.
        pub struct $name(UnboundedSender<String>);

        impl Actor for $name {
            fn supervisor() -> Supervisor {
                $supervisor
            }
        }

        impl Boss for $name {
            async fn hire(&mut self, name: &'static str) -> WorkerRef {
                let ctx = Context::<Self>::current();
                ctx.spawn_with(Counter::factory(name, &self.0)).expect("hired").into()
            }
        }
    };
}

boss!(Patient, Supervisor::one_for_one().backoff(Duration::from_millis(1), Duration::from_millis(5)));
boss!(
    Strict,
    Supervisor::one_for_one()
        .max_restarts(2, Duration::from_secs(60))
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
);
boss!(Together, Supervisor::all_for_one().backoff(Duration::from_millis(1), Duration::from_millis(5)));
boss!(Slow, Supervisor::one_for_one().backoff(Duration::from_millis(300), Duration::from_millis(300)));
boss!(
    Picky,
    Supervisor::one_for_one().decide(|failure| match failure.reason {
        "stop" => Directive::Stop,
        "escalate" => Directive::Escalate,
        _ => Directive::Restart,
    })
);

/// Watches one actor and passes on the notice.
#[courier::actor(local)]
pub trait Monitor {
    /// Watches the boss `target`.
    async fn watch(&self, target: BossRef);
}

/// Passes every notice it gets to the test.
pub struct Watcher(UnboundedSender<Terminated>);

impl Actor for Watcher {
    async fn terminated(&mut self, _: &Context<Self>, notice: Terminated) {
        let _ = self.0.send(notice);
    }
}

impl Monitor for Watcher {
    async fn watch(&self, target: BossRef) {
        Context::<Self>::current().watch(&target);
    }
}

async fn event(events: &mut UnboundedReceiver<String>) -> String {
    timeout(BOUND, events.recv()).await.expect("an event in time").expect("senders alive")
}

#[tokio::test]
async fn a_failed_child_restarts_from_its_factory_and_its_ref_stays_valid() {
    let system = System::new();
    let (events, mut seen) = unbounded_channel();
    let boss: BossRef = system.spawn(Patient(events)).into();
    let worker = boss.hire("w").await.expect("hired");
    assert_eq!(event(&mut seen).await, "w started");
    assert_eq!(worker.bump().await, Ok(1));
    assert_eq!(worker.bump().await, Ok(2));

    let failed = worker.explode("out of cheese".into()).await;
    assert!(matches!(&failed, Err(CallError::ActorFailed { reason }) if reason == "out of cheese"), "{failed:?}");
    assert_eq!(event(&mut seen).await, "w restarting at 2: out of cheese");
    assert_eq!(event(&mut seen).await, "w started");
    // The same ref reaches the new instance, whose state came from the
    // factory.
    assert_eq!(worker.bump().await, Ok(1));
    system.shutdown().await;
}

#[tokio::test]
async fn messages_queued_during_a_restart_are_handled_by_the_new_instance() {
    let system = System::new();
    let (events, mut seen) = unbounded_channel();
    let boss: BossRef = system.spawn(Slow(events)).into();
    let worker = boss.hire("w").await.expect("hired");
    assert_eq!(event(&mut seen).await, "w started");
    let explode = worker.explode("boom".into()).into_future();
    let bumps: Vec<_> = (0..10).map(|_| worker.bump().into_future()).collect();
    // The failing call and ten more queued behind it, sent at once; the
    // restart waits 300 ms, so all ten are queued across it.
    let (failed, counts) = tokio::join!(explode, futures_util::future::join_all(bumps));
    assert!(matches!(failed, Err(CallError::ActorFailed { .. })), "{failed:?}");
    let counts: Vec<u32> = counts.into_iter().map(|c| c.expect("handled after the restart")).collect();
    assert_eq!(counts, (1..=10).collect::<Vec<_>>(), "in order, none lost, by a fresh instance");
    system.shutdown().await;
}

#[tokio::test]
async fn a_child_failing_past_its_limit_stops_and_escalates_to_its_parent() {
    let system = System::new();
    let (events, mut seen) = unbounded_channel();
    let boss: BossRef = system.spawn(Strict(events)).into();
    let (notices, mut noticed) = unbounded_channel();
    let monitor: MonitorRef = system.spawn(Watcher(notices)).into();
    monitor.watch(boss.clone()).await.expect("watching");
    let worker = boss.hire("w").await.expect("hired");
    assert_eq!(event(&mut seen).await, "w started");
    for round in 1..=2 {
        let failed = worker.explode(format!("panic {round}")).await;
        assert!(matches!(failed, Err(CallError::ActorFailed { .. })), "{failed:?}");
        assert!(event(&mut seen).await.starts_with("w restarting"));
        assert_eq!(event(&mut seen).await, "w started");
    }
    let _ = worker.explode("panic 3".into()).await;
    let notice = timeout(BOUND, noticed.recv()).await.expect("in time").expect("a notice");
    let ExitReason::Failed { reason } = &notice.reason else { panic!("{notice:?}") };
    assert!(reason.contains("failed more than 2 times") && reason.contains("panic 3"), "{reason}");
    assert_eq!(worker.bump().await, Err(CallError::ActorStopped), "the child stopped with its parent");
    system.shutdown().await;
}

#[tokio::test]
async fn all_for_one_restarts_the_siblings_too() {
    let system = System::new();
    let (events, mut seen) = unbounded_channel();
    let boss: BossRef = system.spawn(Together(events)).into();
    let (a, b) = (boss.hire("a").await.expect("hired"), boss.hire("b").await.expect("hired"));
    let mut started = vec![event(&mut seen).await, event(&mut seen).await];
    started.sort();
    assert_eq!(started, ["a started", "b started"]);
    assert_eq!(b.bump().await, Ok(1));
    assert_eq!(b.bump().await, Ok(2));

    let _ = a.explode("a broke".into()).await;
    let mut restarts = Vec::new();
    for _ in 0..4 {
        restarts.push(event(&mut seen).await);
    }
    restarts.sort();
    assert_eq!(
        restarts,
        ["a restarting at 0: a broke", "a started", "b restarting at 2: a sibling failed", "b started"]
    );
    assert_eq!(b.bump().await, Ok(1), "the sibling restarted from its factory too");
    assert_eq!(a.bump().await, Ok(1));
    system.shutdown().await;
}

#[tokio::test]
async fn the_decider_may_stop_or_escalate_instead() {
    let system = System::new();
    let (events, mut seen) = unbounded_channel();
    let boss: BossRef = system.spawn(Picky(events)).into();
    let (notices, mut noticed) = unbounded_channel();
    let monitor: MonitorRef = system.spawn(Watcher(notices)).into();
    monitor.watch(boss.clone()).await.expect("watching");

    let stopped = boss.hire("s").await.expect("hired");
    assert_eq!(event(&mut seen).await, "s started");
    let _ = stopped.explode("stop".into()).await;
    assert_eq!(stopped.bump().await, Err(CallError::ActorStopped), "stopped, not restarted");

    let escalating = boss.hire("e").await.expect("hired");
    assert_eq!(event(&mut seen).await, "e started");
    let _ = escalating.explode("escalate".into()).await;
    let notice = timeout(BOUND, noticed.recv()).await.expect("in time").expect("a notice");
    assert!(matches!(&notice.reason, ExitReason::Failed { reason } if reason.contains("escalate")), "{notice:?}");
    system.shutdown().await;
}

/// A root actor's factory that fails on its second build.
fn flaky_factory(
    builds: &Arc<AtomicU32>,
    events: &UnboundedSender<String>,
) -> impl Fn() -> Counter + Send + Sync + 'static {
    let (builds, events) = (builds.clone(), events.clone());
    move || {
        if builds.fetch_add(1, Ordering::SeqCst) == 1 {
            panic!("cannot build twice");
        }
        Counter { name: "root", count: 0, events: events.clone() }
    }
}

#[tokio::test]
async fn root_actors_restart_under_the_systems_supervisor_and_a_failing_factory_stops_them() {
    let system = System::builder()
        .supervisor(Supervisor::one_for_one().backoff(Duration::from_millis(1), Duration::from_millis(2)))
        .build();
    let (events, mut seen) = unbounded_channel();
    let restartable: WorkerRef = system.spawn_with(Counter::factory("root", &events)).into();
    assert_eq!(event(&mut seen).await, "root started");
    assert_eq!(restartable.bump().await, Ok(1));
    let _ = restartable.explode("boom".into()).await;
    assert_eq!(event(&mut seen).await, "root restarting at 1: boom");
    assert_eq!(event(&mut seen).await, "root started");
    assert_eq!(restartable.bump().await, Ok(1));

    // Spawned from a value: nothing to rebuild it from, so it stops.
    let plain: WorkerRef = system.spawn(Counter::factory("plain", &events)()).into();
    assert_eq!(event(&mut seen).await, "plain started");
    let _ = plain.explode("boom".into()).await;
    assert_eq!(plain.bump().await, Err(CallError::ActorStopped));

    let builds = Arc::new(AtomicU32::new(0));
    let flaky = system.spawn_with(flaky_factory(&builds, &events));
    assert_eq!(event(&mut seen).await, "root started");
    let flaky_ref: WorkerRef = flaky.clone().into();
    let _ = flaky_ref.explode("boom".into()).await;
    timeout(BOUND, flaky.wait_stopped()).await.expect("stopped in time");
    assert_eq!(builds.load(Ordering::SeqCst), 2);
    system.shutdown().await;
}
