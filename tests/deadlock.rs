//! Deadlock detection and reentrancy.

use std::time::{Duration, Instant};

use courier::CallError;
use courier::prelude::*;
use tokio::time::timeout;

/// Far below the system's call timeout: a detected deadlock beats it easily.
const BOUND: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A service that forwards a call along a path of actors.
#[courier::actor]
pub trait Relay {
    /// Calls `path[0].forward(path[1..])`; at the end of the path, returns the
    /// number of hops.
    async fn forward(&self, path: Vec<RelayRef>) -> Result<u32, CallError>;
    /// Starts a reentrant forward: replies at once, finishes later.
    async fn forward_reentrant(&mut self, path: Vec<RelayRef>);
    /// How many reentrant forwards have finished, and their last result.
    async fn finished(&self) -> (u32, Option<Result<u32, CallError>>);
}

#[derive(Default)]
struct MyRelay {
    finished: u32,
    last: Option<Result<u32, CallError>>,
}

impl Actor for MyRelay {}

impl Relay for MyRelay {
    async fn forward(&self, path: Vec<RelayRef>) -> Result<u32, CallError> {
        let Some((next, rest)) = path.split_first() else { return Ok(0) };
        Ok(next.forward(rest.to_vec()).await?? + 1)
    }

    async fn forward_reentrant(&mut self, path: Vec<RelayRef>) {
        let Some((next, rest)) = path.split_first() else { return };
        let next = next.clone();
        let rest = rest.to_vec();
        Context::<Self>::current().reenter_after(async move { next.forward(rest).await }, |this: &mut Self, result| {
            this.finished += 1;
            this.last = Some(result.and_then(|hops| hops));
        });
    }

    async fn finished(&self) -> (u32, Option<Result<u32, CallError>>) {
        (self.finished, self.last.clone())
    }
}

fn system() -> System {
    System::builder().call_timeout(CALL_TIMEOUT).build()
}

fn relays(system: &System, names: &[&str]) -> Vec<RelayRef> {
    names.iter().map(|name| system.spawn_named(*name, MyRelay::default()).expect("free name").into()).collect()
}

async fn deadlock_of(first: &RelayRef, path: Vec<RelayRef>) -> String {
    let started = Instant::now();
    let result = timeout(BOUND, first.forward(path)).await.expect("a deadlock is reported, not waited out");
    assert!(started.elapsed() < CALL_TIMEOUT);
    match result {
        Ok(Err(CallError::Deadlock { chain })) => chain.to_string(),
        other => panic!("expected a deadlock, got {other:?}"),
    }
}

#[tokio::test]
async fn a_two_actor_cycle_fails_at_once_naming_the_chain() {
    let system = system();
    let [a, b] = <[RelayRef; 2]>::try_from(relays(&system, &["a", "b"])).expect("two");
    assert_eq!(deadlock_of(&a, vec![b.clone(), a.clone()]).await, "a -> b -> a");
    // Both actors are still healthy afterwards.
    assert_eq!(a.forward(vec![b.clone()]).await, Ok(Ok(1)));
    system.shutdown().await;
}

#[tokio::test]
async fn a_three_actor_cycle_fails_at_once_naming_the_chain() {
    let system = system();
    let [a, b, c] = <[RelayRef; 3]>::try_from(relays(&system, &["a", "b", "c"])).expect("three");
    assert_eq!(deadlock_of(&a, vec![b, c, a.clone()]).await, "a -> b -> c -> a");
    system.shutdown().await;
}

#[tokio::test]
async fn an_actor_calling_itself_fails_at_once() {
    let system = system();
    let [a] = <[RelayRef; 1]>::try_from(relays(&system, &["a"])).expect("one");
    assert_eq!(deadlock_of(&a, vec![a.clone()]).await, "a -> a");
    system.shutdown().await;
}

#[tokio::test]
async fn an_unnamed_actor_is_shown_by_type_and_number() {
    let system = system();
    let a: RelayRef = system.spawn(MyRelay::default()).into();
    let chain = deadlock_of(&a, vec![a.clone()]).await;
    let shown = format!("MyRelay#{}", a.actor_id().seq);
    assert_eq!(chain, format!("{shown} -> {shown}"));
    system.shutdown().await;
}

#[tokio::test]
async fn a_call_chain_without_a_cycle_is_not_a_deadlock() {
    let system = system();
    let [a, b, c] = <[RelayRef; 3]>::try_from(relays(&system, &["a", "b", "c"])).expect("three");
    // a -> b -> c, then back up: nobody is asked while waiting on itself.
    assert_eq!(a.forward(vec![b.clone(), c.clone()]).await, Ok(Ok(2)));
    // Calling one actor twice in a chain is fine once its first call is over.
    assert_eq!(a.forward(vec![b.clone()]).await, Ok(Ok(1)));
    assert_eq!(b.forward(vec![c]).await, Ok(Ok(1)));
    system.shutdown().await;
}

#[tokio::test]
async fn a_reentrant_actor_is_called_back_while_its_call_is_pending() {
    let system = system();
    let [a, b] = <[RelayRef; 2]>::try_from(relays(&system, &["a", "b"])).expect("two");
    // a -> b -> a: `a` does not block on `b`, so `b`'s call back into `a` is
    // served, and `a`'s continuation runs afterwards with `&mut self`.
    a.forward_reentrant(vec![b.clone(), a.clone()]).await.expect("accepted");
    let finished = timeout(BOUND, async {
        loop {
            match a.finished().await {
                Ok((1, last)) => break last,
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    })
    .await
    .expect("the continuation runs");
    assert_eq!(finished, Some(Ok(1)));
    system.shutdown().await;
}
