//! Trait methods with a default body, on `&self` and `&mut self`: implementers
//! may leave them out.

use courier::prelude::*;

#[courier::actor]
pub trait Counter {
    async fn add(&mut self, n: u64) -> u64;
    async fn get(&self) -> u64;
    /// Adds `n` twice.
    async fn add_twice(&mut self, n: u64) -> u64 {
        self.add(n).await;
        self.add(n).await
    }
    /// Whether the total is even.
    async fn is_even(&self) -> bool {
        self.get().await % 2 == 0
    }
    #[tell]
    async fn bump(&mut self) {
        self.add(1).await;
    }
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
    // Overrides one default, keeps the others.
    async fn is_even(&self) -> bool {
        self.n % 2 == 0
    }
}

#[tokio::main]
async fn main() -> Result<(), CallError> {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter::default()).into();
    assert_eq!(counter.add_twice(2).await?, 4);
    assert!(counter.is_even().await?);
    counter.bump().await?;
    assert_eq!(counter.get().await?, 5);
    system.shutdown().await;
    Ok(())
}
