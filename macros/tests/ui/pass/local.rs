//! `#[actor(local)]`: no rkyv derives, so arguments need not be serializable,
//! only `Send`.

use std::sync::mpsc;

use courier::prelude::*;

/// Not serializable: no derives at all.
pub struct Job {
    pub reply: mpsc::Sender<u8>,
    pub value: u8,
}

#[courier::actor(local)]
pub trait Worker {
    async fn run(&mut self, job: Job);
    #[tell]
    async fn subscribe(&mut self, to: mpsc::Sender<u8>);
    async fn last(&self) -> Option<Job>;
}

#[derive(Default)]
struct MyWorker {
    subscribers: Vec<mpsc::Sender<u8>>,
}

impl Actor for MyWorker {}

impl Worker for MyWorker {
    async fn run(&mut self, job: Job) {
        for subscriber in &self.subscribers {
            subscriber.send(job.value).expect("the receiver is alive");
        }
        job.reply.send(job.value * 2).expect("the receiver is alive");
    }
    async fn subscribe(&mut self, to: mpsc::Sender<u8>) {
        self.subscribers.push(to);
    }
    async fn last(&self) -> Option<Job> {
        None
    }
}

#[tokio::main]
async fn main() -> Result<(), CallError> {
    let system = System::new();
    let worker: WorkerRef = system.spawn(MyWorker::default()).into();
    let (events, seen) = mpsc::channel();
    worker.subscribe(events).await?;
    let (reply, replies) = mpsc::channel();
    worker.run(Job { reply, value: 21 }).await?;
    assert_eq!(replies.recv().expect("a reply"), 42);
    assert_eq!(seen.recv().expect("an event"), 21);
    assert!(worker.last().await?.is_none());
    system.shutdown().await;
    Ok(())
}
