//! Letters an actor took from its mailbox in one go (a run of one-way
//! messages) are never lost: what it did not handle is rejected when it
//! stops, and handled in order by the next instance when it restarts.

use std::sync::Arc;
use std::time::Duration;

use courier::Supervisor;
use courier::prelude::*;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(5);

/// A queue of numbered items.
#[courier::actor(local)]
pub trait Items {
    /// One-way: one item.
    #[tell]
    async fn item(&mut self, n: u32);
}

/// Records every item it starts; waits for a go-ahead on each of
/// `gated` before finishing it; fails on `fatal`.
struct Worker {
    started: UnboundedSender<u32>,
    gate: Arc<tokio::sync::Mutex<UnboundedReceiver<()>>>,
    gated: std::ops::RangeInclusive<u32>,
    fatal: Option<u32>,
}

impl Actor for Worker {}

impl Items for Worker {
    async fn item(&mut self, n: u32) {
        let _ = self.started.send(n);
        if self.gated.contains(&n) {
            self.gate.lock().await.recv().await;
        }
        assert_ne!(Some(n), self.fatal, "item {n} is fatal");
    }
}

/// A worker's channels: the items it started, and its gate.
struct Probe {
    started: UnboundedReceiver<u32>,
    gate: UnboundedSender<()>,
}

fn worker(gated: std::ops::RangeInclusive<u32>, fatal: Option<u32>) -> (impl Fn() -> Worker + Send + Sync, Probe) {
    let (started, started_rx) = unbounded_channel();
    let (gate, gate_rx) = unbounded_channel();
    let gate_rx = Arc::new(tokio::sync::Mutex::new(gate_rx));
    let factory = move || Worker { started: started.clone(), gate: gate_rx.clone(), gated: gated.clone(), fatal };
    (factory, Probe { started: started_rx, gate })
}

impl Probe {
    async fn started(&mut self) -> u32 {
        timeout(BOUND, self.started.recv()).await.expect("an item in time").expect("a worker")
    }
}

/// Sends item 0, which holds the actor, then items `1..=last` behind it:
/// they are queued together and taken as one run once 0 is done.
async fn queue_behind_a_busy_item(items: &ItemsRef, probe: &mut Probe, last: u32) {
    items.item(0).await.expect("queued");
    assert_eq!(probe.started().await, 0);
    for n in 1..=last {
        items.item(n).await.expect("queued");
    }
    probe.gate.send(()).expect("the gate is open");
}

#[tokio::test]
async fn an_actor_that_stops_inside_a_run_rejects_the_rest_as_dead_letters() {
    let system = System::new();
    let (factory, mut probe) = worker(0..=1, None);
    let actor = system.spawn(factory());
    let items: ItemsRef = actor.clone().into();
    queue_behind_a_busy_item(&items, &mut probe, 5).await;
    assert_eq!(probe.started().await, 1, "the run started");
    actor.stop();
    probe.gate.send(()).expect("the gate is open");
    timeout(BOUND, actor.wait_stopped()).await.expect("stopped in time");
    assert_eq!(system.dead_letter_count(), 4, "items 2 to 5 were not handled: each is a dead letter");
    assert!(probe.started.try_recv().is_err(), "nothing ran after the stop");
    system.shutdown().await;
}

#[tokio::test]
async fn an_actor_that_restarts_inside_a_run_hands_the_rest_to_its_next_instance_in_order() {
    let system = System::builder()
        .supervisor(Supervisor::one_for_one().backoff(Duration::from_millis(1), Duration::from_millis(2)))
        .build();
    let (factory, mut probe) = worker(0..=0, Some(2));
    let items: ItemsRef = system.spawn_with(factory).into();
    queue_behind_a_busy_item(&items, &mut probe, 6).await;
    let mut started = Vec::new();
    for _ in 1..=6 {
        started.push(probe.started().await);
    }
    assert_eq!(started, [1, 2, 3, 4, 5, 6], "item 2 failed; the next instance went on with 3");
    assert_eq!(system.dead_letter_count(), 0);
    system.shutdown().await;
}

#[tokio::test]
async fn letters_of_a_run_count_against_the_mailbox_until_taken() {
    let system = System::builder().mailbox_capacity(4).build();
    let (factory, mut probe) = worker(0..=1, None);
    let items: ItemsRef = system.spawn(factory()).into();
    queue_behind_a_busy_item(&items, &mut probe, 4).await;
    assert_eq!(probe.started().await, 1, "the run started: 2, 3 and 4 are still queued");
    assert!(items.item(5).try_send().is_ok(), "room for one more");
    assert!(items.item(6).try_send().is_err(), "the mailbox holds 4 again");
    probe.gate.send(()).expect("the gate is open");
    let mut started = Vec::new();
    for _ in 2..=5 {
        started.push(probe.started().await);
    }
    assert_eq!(started, [2, 3, 4, 5]);
    system.shutdown().await;
}
