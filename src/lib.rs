//! courier: typed RPC over actors.
//!
//! Write a service trait, mark it `#[courier::actor]`, implement it on a
//! struct, spawn it, and await its methods through the generated typed ref,
//! like local async functions.
//!
//! # A service, end to end
//!
//! ```
//! use std::time::Duration;
//!
//! use courier::prelude::*;
//!
//! /// A counter that can be added to, read and reset.
//! #[courier::actor]
//! pub trait Counter {
//!     /// Adds `n`, returns the new total.
//!     async fn add(&mut self, n: u64) -> u64;
//!     /// The current total.
//!     async fn get(&self) -> u64;
//!     /// Divides the total; a zero divisor is the handler's own error.
//!     async fn divide(&mut self, by: u64) -> Result<u64, String>;
//!     /// Sets the total back to zero, one-way.
//!     #[tell]
//!     async fn reset(&mut self);
//! }
//!
//! #[derive(Default)]
//! struct MyCounter {
//!     n: u64,
//! }
//!
//! // Every lifecycle hook has a default body.
//! impl Actor for MyCounter {}
//!
//! impl Counter for MyCounter {
//!     async fn add(&mut self, n: u64) -> u64 {
//!         self.n += n;
//!         self.n
//!     }
//!     async fn get(&self) -> u64 {
//!         self.n
//!     }
//!     async fn divide(&mut self, by: u64) -> Result<u64, String> {
//!         if by == 0 {
//!             return Err("division by zero".into());
//!         }
//!         self.n /= by;
//!         Ok(self.n)
//!     }
//!     async fn reset(&mut self) {
//!         self.n = 0;
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), CallError> {
//! let system = System::new();
//! let counter: CounterRef = system.spawn(MyCounter::default()).into();
//!
//! // A call resolves to the method's own return type...
//! assert_eq!(counter.add(10).await?, 10);
//! // ...so a handler's error stays apart from delivery errors.
//! assert_eq!(counter.divide(0).await?, Err("division by zero".to_owned()));
//! assert_eq!(counter.divide(2).await?, Ok(5));
//!
//! // One-way sends resolve once queued; calls can set their own timeout.
//! counter.reset().await?;
//! assert_eq!(counter.get().timeout(Duration::from_millis(500)).await?, 0);
//!
//! system.shutdown().await;
//! assert_eq!(counter.get().await, Err(CallError::ActorStopped));
//! # Ok(())
//! # }
//! ```
//!
//! # What `#[courier::actor]` generates
//!
//! For a trait `Counter`:
//!
//! - the trait itself, each `async fn` rewritten to return
//!   `impl Future<Output = T> + Send`, so implementers still write `async fn`
//!   and the futures run on any thread without boxing;
//! - `CounterRequest` and `CounterResponse`, one variant per method, deriving
//!   rkyv's `Archive`, `Serialize` and `Deserialize` so any actor can be called
//!   over the wire (`#[actor(local)]` drops that requirement);
//! - `CounterRef`, a `Clone + Send + Sync` ref with one method per trait
//!   method, itself serializable so that a ref can travel inside a message;
//!   `From<ActorRef<A>>` for every `A: Counter + Actor`;
//! - `impl Protocol for CounterRequest`, with a stable id per method and a
//!   protocol fingerprint, and `impl<A: Counter + Actor> Dispatch<A>`.
//!
//! `#[actor(crate = path)]` names the facade when it is renamed.
//!
//! # Actors
//!
//! An actor is one tokio task that owns its state and handles one message at
//! a time, in mailbox order. Its mailbox is bounded (see [`MailboxSize`]):
//! an awaited one-way send waits for room, and [`Tell::try_send`] hands the
//! message back instead. Handlers reach their own ref, their caller and their
//! children through [`Context::current`]. A panicking handler fails its call
//! with [`CallError::ActorFailed`] and stops the actor; the process goes on.
//!
//! # Deadlocks and reentrancy
//!
//! Calls are not reentrant: while a handler awaits a call, its actor takes no
//! other message. A call that would close a cycle (A -> B -> A) fails at once
//! with [`CallError::Deadlock`] naming the chain. [`Context::reenter_after`]
//! awaits a call without blocking the mailbox and runs a continuation on the
//! actor afterwards.

#[doc = include_str!("docs/actor.md")]
pub use courier_macros::actor;
pub use courier_macros::{Actor, Message};
pub use courier_runtime::{
    Actor, ActorId, ActorRef, Call, CallChain, CallError, CallFuture, Context, Dispatch, MailboxSize, Method, Protocol,
    Recipient, ServiceRef, SpawnError, System, SystemBuilder, Tell, TellFuture, TrySendError, fingerprint, method_id,
};

/// The names most programs need: `use courier::prelude::*;`.
pub mod prelude {
    pub use crate::{Actor, ActorRef, CallError, Context, ServiceRef, System, actor};
}

/// Re-exports for generated code; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use courier_runtime::__private::*;
}
