//! The floor: a hand-written tokio actor, a task owning its state, fed by a
//! bounded `tokio::sync::mpsc` channel, replying through `oneshot`.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::common::{self, CAPACITY, Spawned};

enum Msg {
    Bump(u64),
    Add(u64, oneshot::Sender<u64>),
}

#[derive(Clone)]
struct Counter(mpsc::Sender<Msg>);

impl Counter {
    fn spawn() -> Counter {
        let (tx, mut rx) = mpsc::channel(CAPACITY);
        tokio::spawn(async move {
            common::started();
            let mut n = 0u64;
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Bump(by) => n += by,
                    Msg::Add(by, reply) => {
                        n += by;
                        let _ = reply.send(n);
                    }
                }
            }
        });
        Counter(tx)
    }
}

impl common::Counter for Counter {
    async fn bump(&self) {
        self.0.send(Msg::Bump(1)).await.expect("floor actor alive");
    }

    async fn add(&self, by: u64) -> u64 {
        let (tx, rx) = oneshot::channel();
        self.0.send(Msg::Add(by, tx)).await.expect("floor actor alive");
        rx.await.expect("floor reply")
    }
}

pub fn tell(n: u64) -> Duration {
    common::on_tokio(async move { common::tell_workload("floor", n, &Counter::spawn()).await })
}

pub fn call(n: u64) -> Duration {
    common::on_tokio(async move { common::call_workload("floor", n, &Counter::spawn()).await })
}

pub fn spawn(n: usize) -> Spawned {
    common::on_tokio(common::measure_spawn(n, || async { Counter::spawn() }))
}
