//! Failures: panicking handlers, stopped actors with queued calls, full
//! mailboxes. None of them hangs and none takes the process down.

use std::sync::Arc;
use std::time::Duration;

use courier::prelude::*;
use courier::{MailboxSize, TrySendError};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// A bound on every wait in these tests: far above what any step needs.
const BOUND: Duration = Duration::from_secs(5);

/// A service whose handlers can be held at a gate.
#[courier::actor(local)]
pub trait Worker {
    /// Waits until the test opens the gate one step.
    async fn wait_at_gate(&self);
    /// Records `n`.
    #[tell]
    async fn note(&mut self, n: u32);
    /// Everything recorded so far.
    async fn notes(&self) -> Vec<u32>;
    /// Panics with `message`.
    async fn explode(&mut self, message: String) -> u32;
}

struct MyWorker {
    gate: Arc<Semaphore>,
    notes: Vec<u32>,
}

impl MyWorker {
    fn new() -> (Self, Arc<Semaphore>) {
        let gate = Arc::new(Semaphore::new(0));
        (MyWorker { gate: gate.clone(), notes: Vec::new() }, gate)
    }
}

/// Calls `wait_at_gate` on its own task: the worker is busy until the test
/// adds a permit to the gate.
fn hold_at_gate(worker: &WorkerRef) -> JoinHandle<Result<(), CallError>> {
    let worker = worker.clone();
    tokio::spawn(async move { worker.wait_at_gate().await })
}

impl Actor for MyWorker {
    const MAILBOX: MailboxSize = MailboxSize::Bounded(2);
}

impl Worker for MyWorker {
    async fn wait_at_gate(&self) {
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
    }
    async fn note(&mut self, n: u32) {
        self.notes.push(n);
    }
    async fn notes(&self) -> Vec<u32> {
        self.notes.clone()
    }
    async fn explode(&mut self, message: String) -> u32 {
        panic!("{message}");
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_its_call_and_stops_the_actor() {
    let system = System::new();
    let actor = system.spawn(MyWorker::new().0);
    let worker: WorkerRef = actor.clone().into();
    let result = timeout(BOUND, worker.explode("boom".into())).await.expect("bounded");
    assert_eq!(result, Err(CallError::ActorFailed { reason: "boom".into() }));
    timeout(BOUND, actor.wait_stopped()).await.expect("the failed actor stops");
    assert_eq!(worker.notes().await, Err(CallError::ActorStopped));
    system.shutdown().await;
}

#[tokio::test]
async fn calls_queued_behind_a_panic_fail_instead_of_hanging() {
    let system = System::new();
    let (actor, gate) = MyWorker::new();
    let worker: WorkerRef = system.spawn(actor).into();
    let blocked = hold_at_gate(&worker);
    tokio::task::yield_now().await;
    let boom = tokio::spawn({
        let worker = worker.clone();
        async move { worker.explode("late boom".into()).await }
    });
    let queued = tokio::spawn({
        let worker = worker.clone();
        async move { worker.notes().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    gate.add_permits(1);
    assert_eq!(blocked.await.expect("task"), Ok(()));
    assert_eq!(boom.await.expect("task"), Err(CallError::ActorFailed { reason: "late boom".into() }));
    assert_eq!(timeout(BOUND, queued).await.expect("bounded").expect("task"), Err(CallError::ActorStopped));
    system.shutdown().await;
}

#[tokio::test]
async fn stopping_fails_queued_calls_at_once_and_finishes_the_current_one() {
    let system = System::builder().call_timeout(Duration::from_secs(60)).build();
    let (actor, gate) = MyWorker::new();
    let actor = system.spawn(actor);
    let worker: WorkerRef = actor.clone().into();
    let current = hold_at_gate(&worker);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let worker = worker.clone();
            tokio::spawn(async move { worker.notes().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    actor.stop();
    // The queued calls fail while the current handler is still at the gate.
    for call in queued {
        assert_eq!(timeout(BOUND, call).await.expect("bounded").expect("task"), Err(CallError::ActorStopped));
    }
    assert!(!current.is_finished());
    gate.add_permits(1);
    assert_eq!(timeout(BOUND, current).await.expect("bounded").expect("task"), Ok(()));
    timeout(BOUND, actor.wait_stopped()).await.expect("the actor stops");
    assert_eq!(worker.note(1).await, Err(CallError::ActorStopped));
    system.shutdown().await;
}

#[tokio::test]
async fn a_full_mailbox_refuses_try_tell_with_the_message_and_makes_tell_wait() {
    let system = System::new();
    let (actor, gate) = MyWorker::new();
    let worker: WorkerRef = system.spawn(actor).into();
    let blocked = hold_at_gate(&worker);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Capacity 2: two notes fit, the third is refused and handed back.
    assert!(worker.note(1).try_send().is_ok(), "room for the first");
    assert!(worker.note(2).try_send().is_ok(), "room for the second");
    match worker.note(3).try_send() {
        Err(TrySendError::Full(WorkerRequest::Note(3))) => {}
        Err(_) => panic!("expected the message back in Full"),
        Ok(()) => panic!("a full mailbox took a third message"),
    }
    // A waiting send resolves once the actor makes room.
    let waiting = tokio::spawn({
        let worker = worker.clone();
        async move { worker.note(3).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiting.is_finished());
    gate.add_permits(1);
    assert_eq!(timeout(BOUND, waiting).await.expect("bounded").expect("task"), Ok(()));
    assert_eq!(blocked.await.expect("task"), Ok(()));
    assert_eq!(worker.notes().await, Ok(vec![1, 2, 3]));
    system.shutdown().await;
}

#[tokio::test]
async fn a_send_waiting_for_room_gives_up_at_the_timeout() {
    let system = System::builder().call_timeout(Duration::from_millis(50)).build();
    let (actor, gate) = MyWorker::new();
    let worker: WorkerRef = system.spawn(actor).into();
    let blocked = tokio::spawn({
        let worker = worker.clone();
        async move { worker.wait_at_gate().timeout(BOUND).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    worker.note(1).await.expect("room");
    worker.note(2).await.expect("room");
    assert_eq!(worker.note(3).await, Err(CallError::Timeout));
    assert_eq!(worker.notes().await, Err(CallError::Timeout));
    gate.add_permits(1);
    assert_eq!(blocked.await.expect("task"), Ok(()));
    system.shutdown().await;
}

/// An actor whose `started` hook panics.
struct FailsToStart;

impl Actor for FailsToStart {
    async fn started(&mut self, _: &Context<Self>) {
        panic!("cannot start");
    }
}

#[tokio::test]
async fn a_panicking_hook_stops_the_actor_without_taking_the_process_down() {
    let system = System::new();
    let actor = system.spawn(FailsToStart);
    timeout(BOUND, actor.wait_stopped()).await.expect("the actor stops");
    assert!(!actor.is_alive());
    system.shutdown().await;
}
