//! Supervision: a flaky worker restarted by its parent, with its queued
//! messages kept, until it fails too often and the parent gives up.
//!
//! Run it with `cargo run --example supervision`.

use std::time::Duration;

use courier::Supervisor;
use courier::prelude::*;

/// A worker that fails on a bad job.
#[courier::actor(local)]
pub trait Worker {
    /// Does `job`; a job named "bad" panics. Returns how many jobs this
    /// instance did.
    async fn work(&mut self, job: String) -> u32;
}

#[derive(Default)]
struct Flaky {
    done: u32,
}

impl Actor for Flaky {
    async fn started(&mut self, ctx: &Context<Self>) {
        println!("  worker {} (re)started", ctx.id());
    }

    async fn restarting(&mut self, _: &Context<Self>, reason: &str) {
        println!("  worker restarting after {} jobs: {reason}", self.done);
    }
}

impl Worker for Flaky {
    async fn work(&mut self, job: String) -> u32 {
        assert!(job != "bad", "cannot do a bad job");
        self.done += 1;
        self.done
    }
}

/// The worker's parent: restarts it twice within a minute, then escalates.
struct Foreman;

impl Actor for Foreman {
    fn supervisor() -> Supervisor {
        Supervisor::one_for_one()
            .max_restarts(2, Duration::from_secs(60))
            .backoff(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// What the foreman offers.
#[courier::actor(local)]
pub trait Hire {
    /// Spawns a worker from a factory, so that it can be restarted.
    async fn hire(&mut self) -> WorkerRef;
}

impl Hire for Foreman {
    async fn hire(&mut self) -> WorkerRef {
        let ctx = Context::<Self>::current();
        ctx.spawn_with(Flaky::default).expect("the foreman is running").into()
    }
}

#[tokio::main]
async fn main() {
    // The panics below are the point of the example: report them through
    // courier's errors and notices only.
    std::panic::set_hook(Box::new(|_| {}));
    let system = System::new();
    let foreman = system.spawn(Foreman);
    let hire: HireRef = foreman.clone().into();
    let worker = hire.hire().await.expect("hired");
    for job in ["a", "b", "bad", "c", "bad", "d", "bad", "e"] {
        match worker.work(job.to_owned()).await {
            Ok(done) => println!("job {job}: done ({done} by this instance)"),
            Err(error) => println!("job {job}: {error}"),
        }
    }
    // The third failure within the minute went past the limit: the worker
    // stopped and escalated, failing the foreman (which had no factory).
    foreman.wait_stopped().await;
    println!("the foreman has stopped");
    system.shutdown().await;
}
