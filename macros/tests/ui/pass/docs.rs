//! Doc comments on everything compile under `#![deny(missing_docs)]`: the
//! generated items carry docs of their own.

#![deny(missing_docs)]

/// Services of this test, public so `missing_docs` checks them.
pub mod services {
    /// A point.
    #[derive(courier::Message)]
    pub struct Point {
        /// Across.
        pub x: i32,
    }

    /// A counter.
    #[courier::actor]
    pub trait Counter {
        /// Adds `n`.
        async fn add(&mut self, n: u64) -> u64;
        /// Plots `point` and `label`.
        async fn plot(&mut self, point: Point, label: String) -> Result<(), String>;
        /// Resets, one-way.
        #[tell]
        async fn reset(&mut self);
        /// Nothing.
        async fn noop(&self) {}
    }

    /// A local service.
    #[courier::actor(local)]
    pub trait Local {
        /// Takes a sender.
        async fn take(&mut self, to: std::sync::mpsc::Sender<u8>);
    }
}

fn main() {}
