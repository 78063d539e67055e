// An unknown `#[actor]` argument. The service is still generated, so the uses
// below raise no second error.

use courier::prelude::*;

#[courier::actor(foo)]
pub trait Counter {
    async fn add(&mut self, n: u64) -> u64;
}

struct MyCounter(u64);

impl Actor for MyCounter {}

impl Counter for MyCounter {
    async fn add(&mut self, n: u64) -> u64 {
        self.0 += n;
        self.0
    }
}

fn main() {
    let system = System::new();
    let counter: CounterRef = system.spawn(MyCounter(0)).into();
    drop(counter.add(1));
}
