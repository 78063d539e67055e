//! A service ref as an argument of another service's method: refs are
//! serializable, so the other service need not be `local`.

use courier::prelude::*;

#[courier::actor]
pub trait Counter {
    async fn add(&mut self, n: u64) -> u64;
}

#[courier::actor]
pub trait Forwarder {
    /// Adds `n` through `counter`, and keeps the ref for later.
    async fn forward(&mut self, counter: CounterRef, n: u64) -> u64;
    async fn target(&self) -> Option<CounterRef>;
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
}

#[derive(Default)]
struct MyForwarder {
    target: Option<CounterRef>,
}

impl Actor for MyForwarder {}

impl Forwarder for MyForwarder {
    async fn forward(&mut self, counter: CounterRef, n: u64) -> u64 {
        let total = counter.add(n).await.unwrap_or(0);
        self.target = Some(counter);
        total
    }
    async fn target(&self) -> Option<CounterRef> {
        self.target.clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    let forwarder: ForwarderRef = system.spawn(MyForwarder::default()).into();
    assert_eq!(forwarder.forward(counter.clone(), 5).await?, 5);
    assert_eq!(forwarder.target().await?, Some(counter.clone()));
    assert_eq!(counter.add(1).await?, 6);
    system.shutdown().await;
    Ok(())
}
