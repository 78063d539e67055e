//! The event stream and dead letters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier::events::{ActorFailed, ActorRestarted, ActorTerminated, DeadLetter};
use courier::prelude::*;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(5);

/// A slow actor.
#[courier::actor(local)]
pub trait Slow {
    /// Sleeps `millis`.
    async fn nap(&self, millis: u64);
    /// One-way: notes `text`.
    #[tell]
    async fn note(&mut self, text: String);
    /// Panics.
    async fn explode(&self);
    /// Everything seen: notes and events.
    async fn seen(&self) -> Vec<String>;
}

#[derive(Default)]
struct Sleepy {
    seen: Vec<String>,
}

impl Actor for Sleepy {}

impl Slow for Sleepy {
    async fn nap(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }

    async fn note(&mut self, text: String) {
        self.seen.push(text);
    }

    async fn explode(&self) {
        panic!("boom");
    }

    async fn seen(&self) -> Vec<String> {
        self.seen.clone()
    }
}

/// An event of the test's own.
#[derive(Debug, Clone, PartialEq)]
struct Price(u32);

fn collect<E: Clone + Send + 'static>(system: &System) -> UnboundedReceiver<E> {
    let (tx, rx) = unbounded_channel();
    let _subscription = system.events().subscribe(move |event: &E| {
        let _ = tx.send(event.clone());
    });
    rx
}

async fn next<E>(rx: &mut UnboundedReceiver<E>) -> E {
    timeout(BOUND, rx.recv()).await.expect("an event in time").expect("subscribed")
}

#[tokio::test]
async fn a_message_queued_for_an_actor_that_stops_is_a_dead_letter_with_its_target() {
    let system = System::new();
    let mut dead = collect::<DeadLetter>(&system);
    let actor = system.spawn(Sleepy::default());
    let slow: SlowRef = actor.clone().into();
    let napping = tokio::spawn({
        let slow = slow.clone();
        async move { slow.nap(200).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    slow.note("never read".into()).await.expect("queued");
    let call = tokio::spawn({
        let slow = slow.clone();
        async move { slow.seen().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    actor.stop();
    assert_eq!(call.await.expect("no panic"), Err(CallError::ActorStopped), "the caller is told at once");
    let mut letters = vec![next(&mut dead).await, next(&mut dead).await];
    letters.sort_by_key(|letter| letter.method);
    assert_eq!(
        letters,
        [
            DeadLetter { target: actor.id(), service: "Slow", method: "note", error: CallError::ActorStopped },
            DeadLetter { target: actor.id(), service: "Slow", method: "seen", error: CallError::ActorStopped },
        ]
    );
    assert_eq!(system.dead_letter_count(), 2);
    let _ = napping.await;
    system.shutdown().await;
}

#[tokio::test]
async fn a_message_sent_to_an_actor_that_has_stopped_is_a_dead_letter() {
    let system = System::new();
    let mut dead = collect::<DeadLetter>(&system);
    let actor = system.spawn(Sleepy::default());
    let slow: SlowRef = actor.clone().into();
    actor.stop();
    actor.wait_stopped().await;
    assert_eq!(slow.note("late".into()).await, Err(CallError::ActorStopped));
    assert_eq!(slow.seen().await, Err(CallError::ActorStopped));
    assert!(slow.note("later".into()).try_send().is_err());
    let letters = [next(&mut dead).await, next(&mut dead).await, next(&mut dead).await];
    let methods: Vec<_> = letters.iter().map(|letter| (letter.target, letter.method)).collect();
    assert_eq!(methods, [(actor.id(), "note"), (actor.id(), "seen"), (actor.id(), "note")]);
    assert!(letters.iter().all(|letter| letter.error == CallError::ActorStopped));
    assert_eq!(system.dead_letter_count(), 3);
    system.shutdown().await;
}

#[tokio::test]
async fn a_call_whose_deadline_passed_in_the_queue_is_a_dead_letter() {
    let system = System::new();
    let mut dead = collect::<DeadLetter>(&system);
    let slow: SlowRef = system.spawn(Sleepy::default()).into();
    let napping = tokio::spawn({
        let slow = slow.clone();
        async move { slow.nap(300).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(slow.seen().timeout(Duration::from_millis(50)).await, Err(CallError::Timeout));
    let letter = next(&mut dead).await;
    assert_eq!((letter.method, letter.error), ("seen", CallError::Timeout));
    let _ = napping.await;
    system.shutdown().await;
}

#[tokio::test]
async fn handlers_get_their_type_only_until_they_unsubscribe() {
    let system = System::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let subscription = system.events().subscribe({
        let got = got.clone();
        move |price: &Price| got.lock().expect("lock").push(price.0)
    });
    assert_eq!(system.events().publish(&Price(1)), 1);
    assert_eq!(system.events().publish(&"another type"), 0);
    assert!(system.events().unsubscribe(subscription));
    assert_eq!(system.events().publish(&Price(2)), 0);
    assert_eq!(*got.lock().expect("lock"), [1]);
}

#[tokio::test]
async fn a_panicking_handler_does_not_stop_the_others() {
    let system = System::new();
    let _bad = system.events().subscribe(|_: &Price| panic!("bad handler"));
    let mut good = collect::<Price>(&system);
    assert_eq!(system.events().publish(&Price(3)), 1);
    assert_eq!(next(&mut good).await, Price(3));
}

#[tokio::test]
async fn an_actor_subscribes_and_handles_events_on_its_own_task() {
    let system = System::new();
    let actor = system.spawn(Sleepy::default());
    let subscription = system
        .events()
        .subscribe_actor(&actor, |me: &mut Sleepy, price: Price| me.seen.push(format!("price {}", price.0)));
    system.events().publish(&Price(7));
    let slow: SlowRef = actor.clone().into();
    slow.note("after".into()).await.expect("queued");
    assert_eq!(slow.seen().await, Ok(vec!["price 7".to_owned(), "after".to_owned()]), "in mailbox order");
    actor.stop();
    actor.wait_stopped().await;
    assert_eq!(system.events().publish(&Price(8)), 0, "a stopped actor's subscription ends by itself");
    assert!(!system.events().unsubscribe(subscription));
    system.shutdown().await;
}

#[tokio::test]
async fn the_runtime_publishes_failures_restarts_and_terminations() {
    let system = System::new();
    let mut failed = collect::<ActorFailed>(&system);
    let mut restarted = collect::<ActorRestarted>(&system);
    let mut terminated = collect::<ActorTerminated>(&system);
    let restartable = system.spawn_with(Sleepy::default);
    let slow: SlowRef = restartable.clone().into();
    let _ = slow.explode().await;
    let failure = next(&mut failed).await;
    assert_eq!((failure.id, failure.actor, failure.reason.as_str()), (restartable.id(), "Sleepy", "boom"));
    assert_eq!(next(&mut restarted).await.id, restartable.id());
    restartable.stop();
    assert_eq!(next(&mut terminated).await, ActorTerminated { id: restartable.id(), reason: ExitReason::Stopped });
    system.shutdown().await;
}
