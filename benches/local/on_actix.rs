//! actix 0.13: `Handler` impls, `try_send` for one-way messages (waiting
//! for room like the other contenders' bounded mailboxes) and `send` for
//! calls.
//!
//! actix actors live on an arbiter, a single-threaded tokio runtime: each
//! measurement runs in a fresh `actix_rt::System` on its own thread, with
//! the driver and the actor on that one arbiter, as actix is normally used.
//! So actix gets one thread where the tokio-based contenders get two
//! workers.

use std::future::Future;
use std::time::Duration;

use actix::prelude::*;

use crate::common::{self, CAPACITY, Spawned};

struct Counter {
    n: u64,
}

impl Actor for Counter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(CAPACITY);
        common::started();
    }
}

struct Bump(u64);
struct Add(u64);

impl Message for Bump {
    type Result = ();
}

impl Message for Add {
    type Result = u64;
}

impl Handler<Bump> for Counter {
    type Result = ();
    fn handle(&mut self, Bump(by): Bump, _: &mut Context<Self>) {
        self.n += by;
    }
}

impl Handler<Add> for Counter {
    type Result = u64;
    fn handle(&mut self, Add(by): Add, _: &mut Context<Self>) -> u64 {
        self.n += by;
        self.n
    }
}

/// Runs `work` in a new actix system on a new thread.
fn on_actix<T, Fut>(work: impl FnOnce() -> Fut + Send + 'static) -> T
where
    T: Send + 'static,
    Fut: Future<Output = T>,
{
    std::thread::spawn(move || System::new().block_on(work())).join().expect("actix benchmark thread panicked")
}

impl common::Counter for Addr<Counter> {
    async fn bump(&self) {
        let mut msg = Bump(1);
        loop {
            match self.try_send(msg) {
                Ok(()) => return,
                Err(SendError::Full(back)) => {
                    msg = back;
                    actix_rt::task::yield_now().await;
                }
                Err(SendError::Closed(_)) => panic!("actix actor stopped"),
            }
        }
    }

    async fn add(&self, by: u64) -> u64 {
        self.send(Add(by)).await.expect("actix send")
    }
}

pub fn tell(n: u64) -> Duration {
    on_actix(move || async move { common::tell_workload("actix", n, &Counter { n: 0 }.start()).await })
}

pub fn call(n: u64) -> Duration {
    on_actix(move || async move { common::call_workload("actix", n, &Counter { n: 0 }.start()).await })
}

pub fn spawn(n: usize) -> Spawned {
    on_actix(move || common::measure_spawn(n, || async { Counter { n: 0 }.start() }))
}
