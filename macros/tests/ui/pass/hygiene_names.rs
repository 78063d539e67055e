//! User names that the generated code also uses: arguments named `actor`,
//! `recipient`, `value`, `response` and `A`; a service named `A`; and the
//! user's own `Result`, `Option`, `Send`, `Sync`, `Future`, `Clone`, `Some`
//! and `None` in scope.

#![allow(dead_code, non_snake_case)]

pub struct Result;
pub struct Option;
pub struct Some;
pub struct None;
pub trait Send {}
pub trait Sync {}
pub trait Future {}
pub trait Clone {}
pub struct Recipient;
pub struct Actor;

#[courier::actor]
pub trait Names {
    async fn call(&mut self, actor: u64, recipient: u64, value: u64, response: u64, A: u64) -> u64;
    async fn get(&mut self) -> u64 {
        self.call(0, 0, 0, 0, 0).await
    }
    #[tell]
    async fn set(&mut self, value: u64);
}

#[courier::actor(local)]
pub trait LocalNames {
    async fn call(&mut self, actor: u64, recipient: u64, value: u64, response: u64, A: u64) -> u64;
}

/// A service named `A`, like the generated impls' actor parameter.
#[courier::actor]
pub trait A {
    async fn a(&self, A: u64) -> u64;
}

#[derive(Default)]
struct Summer(u64);

impl courier::Actor for Summer {}

impl Names for Summer {
    async fn call(&mut self, actor: u64, recipient: u64, value: u64, response: u64, A: u64) -> u64 {
        self.0 = actor + recipient + value + response + A;
        self.0
    }
    async fn set(&mut self, value: u64) {
        self.0 = value;
    }
}

impl LocalNames for Summer {
    async fn call(&mut self, actor: u64, recipient: u64, value: u64, response: u64, A: u64) -> u64 {
        actor + recipient + value + response + A
    }
}

impl A for Summer {
    async fn a(&self, A: u64) -> u64 {
        A + self.0
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), courier::CallError> {
    let system = courier::System::new();
    let actor = system.spawn(Summer::default());
    let names: NamesRef = actor.clone().into();
    let local: LocalNamesRef = actor.clone().into();
    let a: ARef = actor.into();
    assert_eq!(names.call(1, 2, 3, 4, 5).await?, 15);
    assert_eq!(names.get().await?, 0);
    names.set(7).await?;
    assert_eq!(local.call(1, 1, 1, 1, 1).await?, 5);
    assert_eq!(a.a(1).await?, 8);
    system.shutdown().await;
    Ok(())
}
