//! Watch: an actor told when the actors it watches end, and why.
//!
//! Run it with `cargo run --example watch`.

use courier::prelude::*;

/// Something to watch.
#[courier::actor(local)]
pub trait Job {
    /// Ends the job: stops the actor, or makes it fail.
    async fn finish(&self, fail: bool);
}

struct Task;

impl Actor for Task {}

impl Job for Task {
    async fn finish(&self, fail: bool) {
        assert!(!fail, "the job went wrong");
        Context::<Self>::current().stop();
    }
}

/// Watches jobs and reports their ends.
#[courier::actor(local)]
pub trait Overseer {
    /// Watches `job`.
    async fn oversee(&self, job: JobRef);
}

struct Board;

impl Actor for Board {
    async fn terminated(&mut self, _: &Context<Self>, notice: Terminated) {
        println!("{} ended: {}", notice.id, notice.reason);
    }
}

impl Overseer for Board {
    async fn oversee(&self, job: JobRef) {
        Context::<Self>::current().watch(&job);
    }
}

#[tokio::main]
async fn main() {
    // The panics below are the point of the example: report them through
    // courier's errors and notices only.
    std::panic::set_hook(Box::new(|_| {}));
    let system = System::new();
    let board: OverseerRef = system.spawn(Board).into();
    let (done, broken): (JobRef, JobRef) = (system.spawn(Task).into(), system.spawn(Task).into());
    board.oversee(done.clone()).await.expect("watching");
    board.oversee(broken.clone()).await.expect("watching");
    done.finish(false).await.expect("finished");
    let failed = broken.finish(true).await;
    println!("the failing call returned {failed:?}");
    // Give the notices a moment before the system stops.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    system.shutdown().await;
}
