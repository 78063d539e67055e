//! The facade renamed: `#[actor(crate = path)]` and `#[courier(crate = path)]`
//! route every generated path through it.

extern crate courier as renamed;

use renamed::prelude::*;

#[renamed::actor(crate = ::renamed)]
pub trait Counter {
    async fn add(&mut self, n: u64) -> u64;
    #[tell]
    async fn reset(&mut self);
}

#[renamed::actor(local, crate = renamed)]
pub trait Local {
    async fn take(&mut self, to: std::sync::mpsc::Sender<u8>);
}

#[derive(Default)]
struct MyCounter(u64);

impl Actor for MyCounter {}

impl Counter for MyCounter {
    async fn add(&mut self, n: u64) -> u64 {
        self.0 += n;
        self.0
    }
    async fn reset(&mut self) {
        self.0 = 0;
    }
}

impl Local for MyCounter {
    async fn take(&mut self, to: std::sync::mpsc::Sender<u8>) {
        drop(to);
    }
}

#[tokio::main]
async fn main() -> Result<(), CallError> {
    let system = System::new();
    let actor = system.spawn(MyCounter::default());
    let counter: CounterRef = actor.clone().into();
    let local: LocalRef = actor.into();
    assert_eq!(counter.add(2).await?, 2);
    counter.reset().await?;
    local.take(std::sync::mpsc::channel().0).await?;
    let configured: ConfiguredRef = system.spawn(Settings { name: "x".to_owned() }).into();
    assert_eq!(configured.settings().await?, Settings { name: "x".to_owned() });
    system.shutdown().await;
    Ok(())
}

/// Both derives, through the renamed facade.
#[derive(renamed::Message, renamed::Actor, Debug, PartialEq)]
#[courier(crate = ::renamed, mailbox = 4)]
pub struct Settings {
    pub name: String,
}

#[renamed::actor(crate = ::renamed)]
pub trait Configured {
    async fn settings(&self) -> Settings;
}

impl Configured for Settings {
    async fn settings(&self) -> Settings {
        Settings { name: self.name.clone() }
    }
}
