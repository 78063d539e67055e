//! The generated code is clean under strict lints, for remote and local
//! services alike, with default bodies, refs as arguments and `#[tell]`, and
//! for both derives.

#![deny(warnings, missing_docs, unused_qualifications, unused_results, clippy::all)]
#![deny(rust_2018_idioms, unreachable_pub, trivial_casts, unused_lifetimes, single_use_lifetimes)]

/// Services of this test, public so `missing_docs` checks them.
pub mod services {
    use std::sync::mpsc::Sender;

    /// A counter.
    #[courier::actor]
    pub trait Counter {
        /// Adds `n`.
        async fn add(&mut self, n: u64) -> u64;
        /// The total.
        async fn get(&self) -> u64;
        /// Resets, one-way.
        #[tell]
        async fn reset(&mut self);
        /// Adds twice.
        async fn add_twice(&mut self, n: u64) -> u64 {
            let _ = self.add(n).await;
            self.add(n).await
        }
        /// Reads the total.
        async fn read(&self) -> Option<u64> {
            Some(self.get().await)
        }
    }

    /// A service with one method.
    #[courier::actor]
    pub trait Single {
        /// Forwards to a counter.
        async fn forward(&self, to: CounterRef, n: u64) -> Result<u64, String>;
        /// Takes every kind of user type.
        async fn shapes(&self, shapes: Shapes<u8>, tree: Tree, pair: Pair) -> Result<Unit, Failure>;
    }

    /// Named fields, generic, holding a ref and itself.
    #[derive(Debug, courier::Message)]
    pub struct Shapes<T> {
        /// A generic one.
        pub items: Vec<T>,
        /// A ref.
        pub counter: Option<CounterRef>,
        /// Itself.
        pub next: Option<Box<Self>>,
        /// Private.
        hidden: String,
    }

    /// Recursive through a `Vec`.
    #[derive(Debug, courier::Message)]
    pub struct Tree(pub Vec<Tree>);

    /// A tuple struct.
    #[derive(Debug, courier::Message)]
    pub struct Pair(pub u8, pub String);

    /// A unit struct.
    #[derive(Debug, courier::Message)]
    pub struct Unit;

    /// An enum of every variant kind.
    #[derive(Debug, courier::Message)]
    pub enum Failure {
        /// A unit variant.
        Closed,
        /// A tuple variant.
        Code(u16, String),
        /// A struct variant.
        Detail {
            /// Why.
            reason: String,
        },
    }

    /// An actor that derives its settings.
    #[derive(Debug, Default, courier::Actor)]
    #[courier(mailbox = 8, name = "derived")]
    pub struct Derived<T>(T);

    /// A local service.
    #[courier::actor(local)]
    pub trait Local {
        /// Takes a sender.
        async fn take(&mut self, to: Sender<u8>) -> Vec<u8>;
        /// Nothing.
        #[tell]
        async fn ping(&self);
    }

    /// An actor for every service.
    #[derive(Debug, Default)]
    pub struct Everything(u64);

    impl courier::Actor for Everything {}

    impl Counter for Everything {
        async fn add(&mut self, n: u64) -> u64 {
            self.0 += n;
            self.0
        }
        async fn get(&self) -> u64 {
            self.0
        }
        async fn reset(&mut self) {
            self.0 = 0;
        }
    }

    impl Single for Everything {
        async fn forward(&self, to: CounterRef, n: u64) -> Result<u64, String> {
            to.add(n).await.map_err(|error| error.to_string())
        }
        async fn shapes(&self, shapes: Shapes<u8>, tree: Tree, pair: Pair) -> Result<Unit, Failure> {
            match (shapes.hidden.is_empty(), tree.0.len(), pair) {
                (true, 0, _) => Ok(Unit),
                (false, ..) => Err(Failure::Closed),
                (_, _, Pair(code, text)) => Err(Failure::Code(code.into(), text)),
            }
        }
    }

    impl Local for Everything {
        async fn take(&mut self, to: Sender<u8>) -> Vec<u8> {
            drop(to);
            Vec::new()
        }
        async fn ping(&self) {}
    }

    /// Refs to every service of one actor.
    pub fn refs(system: &courier::System) -> (CounterRef, SingleRef, LocalRef) {
        let actor = system.spawn(Everything::default());
        (actor.clone().into(), actor.clone().into(), actor.into())
    }

    /// A derived actor, spawned.
    pub fn derived(system: &courier::System) -> courier::ActorRef<Derived<u8>> {
        let _ = Failure::Detail { reason: String::new() };
        system.spawn(Derived::default())
    }
}

fn main() {
    let _ = services::refs;
    let _ = services::derived;
}
