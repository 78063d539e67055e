//! Calls and one-way sends between local actors: results, timeouts, refs in
//! messages, several services on one actor.

use std::time::Duration;

use courier::prelude::*;
use courier::{CallError, Recipient};

/// A counter service.
#[courier::actor]
pub trait Counter {
    /// Adds `n`, returns the total.
    async fn add(&mut self, n: u64) -> u64;
    /// The total.
    async fn get(&self) -> u64;
    /// Zeroes the total.
    #[tell]
    async fn reset(&mut self);
    /// Divides the total; the handler's own error for a zero divisor.
    async fn divide(&mut self, by: u64) -> Result<u64, String>;
    /// Sleeps, then adds one: a slow method.
    async fn slow_add(&mut self, millis: u64) -> u64;
}

/// A greeting service, implemented by the same actor as `Counter`.
#[courier::actor]
pub trait Greeter {
    /// Greets `name`, counting greetings in the shared total.
    async fn greet(&mut self, name: String) -> String;
}

/// A registry that holds counter refs and calls them back.
#[courier::actor]
pub trait Registry {
    /// Remembers `member`.
    async fn join(&mut self, member: CounterRef) -> usize;
    /// Adds `n` to every member, returns their totals.
    async fn add_all(&mut self, n: u64) -> Vec<u64>;
}

#[derive(Default)]
struct MyCounter {
    n: u64,
}

impl Actor for MyCounter {}

impl Counter for MyCounter {
    async fn add(&mut self, n: u64) -> u64 {
        self.n += n;
        self.n
    }
    async fn get(&self) -> u64 {
        self.n
    }
    async fn reset(&mut self) {
        self.n = 0;
    }
    async fn divide(&mut self, by: u64) -> Result<u64, String> {
        if by == 0 {
            return Err("division by zero".into());
        }
        self.n /= by;
        Ok(self.n)
    }
    async fn slow_add(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        self.n += 1;
        self.n
    }
}

impl Greeter for MyCounter {
    async fn greet(&mut self, name: String) -> String {
        self.n += 1;
        format!("hello {name}, greeting {}", self.n)
    }
}

#[derive(Default)]
struct MyRegistry {
    members: Vec<CounterRef>,
}

impl Actor for MyRegistry {}

impl Registry for MyRegistry {
    async fn join(&mut self, member: CounterRef) -> usize {
        self.members.push(member);
        self.members.len()
    }
    async fn add_all(&mut self, n: u64) -> Vec<u64> {
        let mut totals = Vec::new();
        for member in &self.members {
            totals.push(member.add(n).await.unwrap_or(u64::MAX));
        }
        totals
    }
}

#[tokio::test]
async fn the_quickstart_program_runs() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    assert_eq!(counter.add(2).await?, 2);
    counter.reset().await?;
    assert_eq!(counter.get().timeout(Duration::from_millis(500)).await?, 0);
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn messages_from_one_sender_are_handled_in_send_order() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    for _ in 0..1000 {
        counter.reset().await?;
        counter.add(1).await?;
    }
    counter.reset().await?;
    assert_eq!(counter.add(5).await?, 5);
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_handler_error_stays_apart_from_call_errors() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    counter.add(10).await?;
    assert_eq!(counter.divide(2).await?, Ok(5));
    assert_eq!(counter.divide(0).await?, Err("division by zero".to_owned()));
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn one_actor_serves_several_traits_through_their_refs() -> Result<(), CallError> {
    let system = System::new();
    let actor = system.spawn(MyCounter::default());
    let counter: CounterRef = actor.clone().into();
    let greeter: GreeterRef = actor.clone().into();
    assert_eq!(counter.add(1).await?, 1);
    assert_eq!(greeter.greet("ann".into()).await?, "hello ann, greeting 2");
    assert_eq!(counter.get().await?, 2);
    assert_eq!(counter.actor_id(), greeter.actor_id());
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn refs_travel_inside_messages_and_are_called_back() -> Result<(), CallError> {
    let system = System::new();
    let registry: RegistryRef = system.spawn(MyRegistry::default()).into();
    let a: CounterRef = system.spawn(MyCounter { n: 10 }).into();
    let b: CounterRef = system.spawn(MyCounter { n: 20 }).into();
    assert_eq!(registry.join(a.clone()).await?, 1);
    assert_eq!(registry.join(b.clone()).await?, 2);
    assert_eq!(registry.add_all(1).await?, vec![11, 21]);
    assert_eq!(a.get().await?, 11);
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_ref_survives_a_trip_through_bytes() -> Result<(), CallError> {
    use courier::__private::rkyv;
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter { n: 7 }).into();
    let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&counter).expect("a ref serializes");
    let back: CounterRef = rkyv::from_bytes::<CounterRef, rkyv::rancor::Error>(&bytes).expect("and reads back");
    assert_eq!(back, counter);
    assert_eq!(back.add(1).await?, 8);

    // A request carrying a ref, through bytes, as it would cross the wire.
    let request = RegistryRequest::Join(counter.clone());
    let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&request).expect("a request serializes");
    let RegistryRequest::Join(member) =
        rkyv::from_bytes::<RegistryRequest, rkyv::rancor::Error>(&bytes).expect("and reads back")
    else {
        panic!("the variant changed on the way");
    };
    assert_eq!(member.get().await?, 8);

    // Once the actor is gone, a ref read from bytes fails cleanly.
    let saved = rkyv::to_bytes::<rkyv::rancor::Error>(&counter).expect("a ref serializes");
    system.shutdown().await;
    let stale = rkyv::from_bytes::<CounterRef, rkyv::rancor::Error>(&saved).expect("reads back");
    assert_eq!(stale.get().await, Err(CallError::ActorStopped));
    Ok(())
}

#[tokio::test]
async fn a_call_times_out_and_its_request_is_not_executed_late() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    // Keep the actor busy for 300 ms.
    let busy = counter.clone();
    let slow = tokio::spawn(async move { busy.slow_add(300).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // This call waits behind it and gives up first.
    assert_eq!(counter.add(100).timeout(Duration::from_millis(50)).await, Err(CallError::Timeout));
    assert_eq!(slow.await.expect("the slow call's task"), Ok(1));
    // The expired `add(100)` was skipped, not run late.
    assert_eq!(counter.get().await?, 1);
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_dropped_call_is_withdrawn_and_not_executed() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    let busy = counter.clone();
    let slow = tokio::spawn(async move { busy.slow_add(100).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Queue `add(100)` behind the slow call, then give up on it.
    let queued = tokio::time::timeout(Duration::from_millis(10), counter.add(100)).await;
    assert!(queued.is_err(), "the call was still waiting when dropped");
    assert_eq!(slow.await.expect("the slow call's task"), Ok(1));
    assert_eq!(counter.get().await?, 1, "the withdrawn call did not run");
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_system_default_timeout_applies_to_every_call() {
    let system = System::builder().call_timeout(Duration::from_millis(30)).build();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    assert_eq!(counter.slow_add(500).await, Err(CallError::Timeout));
    system.shutdown().await;
}

#[tokio::test]
async fn a_recipient_sends_requests_built_by_hand() -> Result<(), CallError> {
    let system = System::new();
    let actor = system.spawn(MyCounter::default());
    let recipient: Recipient<CounterRequest> = actor.recipient();
    let total = recipient
        .call(CounterRequest::Add(3), |response| match response {
            CounterResponse::Add(total) => Some(total),
            _ => None,
        })
        .await?;
    assert_eq!(total, 3);
    recipient.try_tell(CounterRequest::Reset).map_err(CallError::from)?;
    let counter = CounterRef::from(recipient);
    assert_eq!(counter.get().await?, 0);
    system.shutdown().await;
    Ok(())
}

#[test]
fn refs_and_errors_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CounterRef>();
    send_sync::<ActorRef<MyCounter>>();
    send_sync::<Recipient<CounterRequest>>();
    send_sync::<System>();
    send_sync::<CallError>();
}
