//! ractor 0.16: one message enum, `cast` (its mailbox is unbounded, `cast`
//! never waits) and `call!` with an `RpcReplyPort`.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::common::{self, Spawned};

struct Counter;

enum Msg {
    Bump(u64),
    Add(u64, RpcReplyPort<u64>),
}

// ractor's `cluster` feature (switched on by the remote benchmark's
// ractor_cluster) drops the blanket impl: local messages say so themselves.
impl ractor::Message for Msg {}

impl Actor for Counter {
    type Msg = Msg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Msg>, _: ()) -> Result<u64, ActorProcessingErr> {
        common::started();
        Ok(0)
    }

    async fn handle(&self, _: ActorRef<Msg>, msg: Msg, n: &mut u64) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Bump(by) => *n += by,
            Msg::Add(by, reply) => {
                *n += by;
                let _ = reply.send(*n);
            }
        }
        Ok(())
    }
}

async fn spawn_one() -> ActorRef<Msg> {
    let (actor, _join) = Actor::spawn(None, Counter, ()).await.expect("ractor spawn");
    actor
}

impl common::Counter for ActorRef<Msg> {
    async fn bump(&self) {
        self.cast(Msg::Bump(1)).expect("ractor cast");
    }

    async fn add(&self, by: u64) -> u64 {
        ractor::call!(self, Msg::Add, by).expect("ractor call")
    }
}

pub fn tell(n: u64) -> Duration {
    common::on_tokio(async move {
        let counter = spawn_one().await;
        let elapsed = common::tell_workload("ractor", n, &counter).await;
        counter.stop(None);
        elapsed
    })
}

pub fn call(n: u64) -> Duration {
    common::on_tokio(async move {
        let counter = spawn_one().await;
        let elapsed = common::call_workload("ractor", n, &counter).await;
        counter.stop(None);
        elapsed
    })
}

pub fn spawn(n: usize) -> Spawned {
    common::on_tokio(common::measure_spawn(n, spawn_one))
}
