// A service method without `async`. The trait is still emitted, so the impl
// below raises no second error.

use courier::prelude::*;

#[courier::actor]
pub trait Counter {
    async fn add(&mut self, n: u64) -> u64;
    fn get(&self) -> u64;
}

struct MyCounter(u64);

impl Actor for MyCounter {}

impl Counter for MyCounter {
    async fn add(&mut self, n: u64) -> u64 {
        self.0 += n;
        self.0
    }
    fn get(&self) -> u64 {
        self.0
    }
}

fn main() {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter(0)).into();
    drop(counter.add(1));
}
