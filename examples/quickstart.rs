//! The quickstart: a counter service, spawned, called and stopped.
//!
//! Run it with `cargo run --example quickstart`.

use courier::prelude::*;

/// A counter that can be added to, read and reset.
#[courier::actor]
pub trait Counter {
    /// Adds `n` and returns the new total, or the counter's own error.
    async fn add(&mut self, n: u64) -> Result<u64, Overflow>;
    /// The total and how many additions made it.
    async fn stats(&self) -> Stats;
    /// Sets the total back to zero, one-way.
    #[tell]
    async fn reset(&mut self);
}

/// What `stats` returns: a type of our own, which calls carry because it
/// derives `Message`.
#[derive(Message, Debug, Default, Clone, PartialEq)]
pub struct Stats {
    /// The total.
    pub total: u64,
    /// How many additions made it.
    pub adds: u32,
}

/// The counter's own error: adding `n` would overflow `total`.
#[derive(Message, Debug, PartialEq)]
pub struct Overflow {
    /// The total before.
    pub total: u64,
    /// What was added.
    pub n: u64,
}

/// The actor, with a mailbox of 64 messages and every hook at its default.
#[derive(Actor, Default)]
#[courier(mailbox = 64)]
struct MyCounter {
    stats: Stats,
}

impl Counter for MyCounter {
    async fn add(&mut self, n: u64) -> Result<u64, Overflow> {
        let total = self.stats.total;
        self.stats.total = total.checked_add(n).ok_or(Overflow { total, n })?;
        self.stats.adds += 1;
        Ok(self.stats.total)
    }
    async fn stats(&self) -> Stats {
        self.stats.clone()
    }
    async fn reset(&mut self) {
        self.stats = Stats::default();
    }
}

#[tokio::main]
async fn main() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    println!("spawned a counter: {}", counter.actor_id());

    assert_eq!(counter.add(2).await?, Ok(2));
    println!("add(2) -> Ok(2)");

    // The handler's own error arrives inside `Ok`: the call itself worked.
    assert_eq!(counter.add(u64::MAX).await?, Err(Overflow { total: 2, n: u64::MAX }));
    println!("add(u64::MAX) -> Err(Overflow {{ total: 2, .. }})");

    counter.reset().await?; // one-way: resolves once the message is queued
    println!("reset() queued");

    let stats = counter.stats().timeout(std::time::Duration::from_millis(500)).await?;
    assert_eq!(stats, Stats { total: 0, adds: 0 });
    println!("stats() -> {stats:?} (with a 500 ms timeout)");

    system.shutdown().await;
    println!("system shut down");
    Ok(())
}
