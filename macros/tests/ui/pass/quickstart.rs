//! The quickstart's service: calls, a one-way tell and a timeout.

use std::time::Duration;

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
    assert_eq!(counter.add(2).await?, 2);
    counter.reset().await?;
    assert_eq!(counter.get().timeout(Duration::from_millis(500)).await?, 0);
    system.shutdown().await;
    Ok(())
}
