//! courier, through its public API: a `#[courier::actor]` service trait, a
//! `System` with a 1024-message mailbox, typed refs.

use std::time::Duration;

use courier::prelude::*;

use crate::common::{self, CAPACITY, Spawned};

/// The benchmark's counter service.
#[courier::actor]
pub trait Counter {
    /// Adds `n`, returns the new total.
    async fn add(&mut self, n: u64) -> u64;
    /// Adds `n`, one-way.
    #[tell]
    async fn bump(&mut self, n: u64);
}

struct MyCounter {
    n: u64,
}

impl Actor for MyCounter {
    async fn started(&mut self, _ctx: &Context<Self>) {
        common::started();
    }
}

impl Counter for MyCounter {
    async fn add(&mut self, n: u64) -> u64 {
        self.n += n;
        self.n
    }
    async fn bump(&mut self, n: u64) {
        self.n += n
    }
}

fn system() -> System {
    System::builder().mailbox_capacity(CAPACITY).build()
}

impl common::Counter for CounterRef {
    async fn bump(&self) {
        CounterRef::bump(self, 1).await.expect("courier bump");
    }

    async fn add(&self, k: u64) -> u64 {
        CounterRef::add(self, k).await.expect("courier add")
    }
}

pub fn tell(n: u64) -> Duration {
    common::on_tokio(async move {
        let system = system();
        let counter: CounterRef = system.spawn(MyCounter { n: 0 }).into();
        let elapsed = common::tell_workload("courier", n, &counter).await;
        system.shutdown().await;
        elapsed
    })
}

pub fn call(n: u64) -> Duration {
    common::on_tokio(async move {
        let system = system();
        let counter: CounterRef = system.spawn(MyCounter { n: 0 }).into();
        let elapsed = common::call_workload("courier", n, &counter).await;
        system.shutdown().await;
        elapsed
    })
}

pub fn spawn(n: usize) -> Spawned {
    common::on_tokio(async move {
        let system = system();
        common::measure_spawn(n, || async { system.spawn(MyCounter { n: 0 }) }).await
    })
}
