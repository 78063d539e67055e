//! The generated code is clean under strict lints, for remote and local
//! services alike, with default bodies, refs as arguments and `#[tell]`.

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
    }

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
}

fn main() {
    let _ = services::refs;
}
