//! kameo 0.22: `Message` impls, `tell`/`ask`, a bounded mailbox of 1024.

use std::time::Duration;

use kameo::actor::{Actor, ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::mailbox;
use kameo::message::{Context, Message};

use crate::common::{self, CAPACITY, Spawned};

struct Counter {
    n: u64,
}

impl Actor for Counter {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(state: Self, _: ActorRef<Self>) -> Result<Self, Self::Error> {
        common::started();
        Ok(state)
    }
}

struct Bump(u64);
struct Add(u64);

impl Message<Bump> for Counter {
    type Reply = ();
    async fn handle(&mut self, Bump(by): Bump, _: &mut Context<Self, Self::Reply>) {
        self.n += by;
    }
}

impl Message<Add> for Counter {
    type Reply = u64;
    async fn handle(&mut self, Add(by): Add, _: &mut Context<Self, Self::Reply>) -> u64 {
        self.n += by;
        self.n
    }
}

impl common::Counter for ActorRef<Counter> {
    async fn bump(&self) {
        self.tell(Bump(1)).await.expect("kameo tell");
    }

    async fn add(&self, k: u64) -> u64 {
        self.ask(Add(k)).await.expect("kameo ask")
    }
}

fn spawn_one() -> ActorRef<Counter> {
    Counter::spawn_with_mailbox(Counter { n: 0 }, mailbox::bounded(CAPACITY))
}

pub fn tell(n: u64) -> Duration {
    common::on_tokio(async move {
        let counter = spawn_one();
        let elapsed = common::tell_workload("kameo", n, &counter).await;
        counter.kill();
        elapsed
    })
}

pub fn call(n: u64) -> Duration {
    common::on_tokio(async move {
        let counter = spawn_one();
        let elapsed = common::call_workload("kameo", n, &counter).await;
        counter.kill();
        elapsed
    })
}

pub fn spawn(n: usize) -> Spawned {
    common::on_tokio(common::measure_spawn(n, || async { spawn_one() }))
}
