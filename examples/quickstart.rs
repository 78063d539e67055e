//! The quickstart: a counter service, spawned, called and stopped.
//!
//! Run it with `cargo run --example quickstart`.

use courier::prelude::*;

/// A counter that can be added to, read and reset.
#[courier::actor]
pub trait Counter {
    /// Adds `n` and returns the new total.
    async fn add(&mut self, n: u64) -> u64;
    /// The current total.
    async fn get(&self) -> u64;
    /// Sets the total back to zero, one-way.
    #[tell]
    async fn reset(&mut self);
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
        self.n = 0
    }
}

#[tokio::main]
async fn main() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    println!("spawned a counter: {}", counter.actor_id());

    assert_eq!(counter.add(2).await?, 2);
    println!("add(2) -> 2");

    counter.reset().await?; // one-way: resolves once the message is queued
    println!("reset() queued");

    assert_eq!(counter.get().timeout(std::time::Duration::from_millis(500)).await?, 0);
    println!("get() -> 0 (with a 500 ms timeout)");

    system.shutdown().await;
    println!("system shut down");
    Ok(())
}
