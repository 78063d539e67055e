//! One actor type serving several services: its `ActorRef` converts into
//! each service's ref.

use courier::prelude::*;

#[courier::actor]
pub trait Counter {
    async fn add(&mut self, n: u64) -> u64;
}

#[courier::actor]
pub trait Greeter {
    async fn greet(&self, name: String) -> String;
}

#[courier::actor]
pub trait Stopper {
    #[tell]
    async fn halt(&mut self);
}

#[derive(Default)]
struct Both {
    n: u64,
    halted: bool,
}

impl Actor for Both {}

impl Counter for Both {
    async fn add(&mut self, n: u64) -> u64 {
        self.n += n;
        self.n
    }
}

impl Greeter for Both {
    async fn greet(&self, name: String) -> String {
        format!("hello {name}, the count is {}", self.n)
    }
}

impl Stopper for Both {
    async fn halt(&mut self) {
        self.halted = true;
    }
}

#[tokio::main]
async fn main() -> Result<(), CallError> {
    let system = System::new();
    let actor = system.spawn(Both::default());
    let counter = CounterRef::from(actor.clone());
    let greeter: GreeterRef = actor.clone().into();
    let stopper: StopperRef = actor.into();
    assert_eq!(counter.add(3).await?, 3);
    assert_eq!(greeter.greet("ada".to_owned()).await?, "hello ada, the count is 3");
    stopper.halt().await?;
    system.shutdown().await;
    Ok(())
}
