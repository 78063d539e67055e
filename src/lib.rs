//! courier: typed RPC over actors.
//!
//! Write a service trait, mark it `#[courier::actor]`, implement it on a
//! struct, spawn it, and await its methods through the generated typed ref,
//! like local async functions.
//!
//! # A service, end to end
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Duration;
//!
//! use courier::prelude::*;
//!
//! /// A player's score. `Message` lets calls carry it, in process or to
//! /// another node.
//! #[derive(Message, Debug, Clone, PartialEq)]
//! pub struct Score {
//!     pub player: String,
//!     pub points: u32,
//! }
//!
//! /// The board's own errors, which stay apart from delivery errors.
//! #[derive(Message, Debug, PartialEq)]
//! pub enum BoardError {
//!     Closed,
//!     Unknown { player: String },
//! }
//!
//! /// A page of anything that can be carried.
//! #[derive(Message, Debug, PartialEq)]
//! pub struct Page<T> {
//!     pub items: Vec<T>,
//!     pub more: bool,
//! }
//!
//! /// A scoreboard.
//! #[courier::actor]
//! pub trait Scoreboard {
//!     /// Records a score, returns the player's best so far.
//!     async fn record(&mut self, score: Score) -> Result<u32, BoardError>;
//!     /// A player's best score.
//!     async fn best(&self, player: String) -> Result<Score, BoardError>;
//!     /// The `n` best players, best first.
//!     async fn top(&self, n: usize) -> Page<Score>;
//!     /// Takes no more scores, one-way.
//!     #[tell]
//!     async fn close(&mut self);
//! }
//!
//! /// The actor: its settings by attribute, every lifecycle hook at its default.
//! #[derive(Actor, Default)]
//! #[courier(mailbox = 256, name = "scoreboard")]
//! struct Board {
//!     best: HashMap<String, u32>,
//!     closed: bool,
//! }
//!
//! impl Scoreboard for Board {
//!     async fn record(&mut self, score: Score) -> Result<u32, BoardError> {
//!         if self.closed {
//!             return Err(BoardError::Closed);
//!         }
//!         let best = self.best.entry(score.player).or_default();
//!         *best = (*best).max(score.points);
//!         Ok(*best)
//!     }
//!     async fn best(&self, player: String) -> Result<Score, BoardError> {
//!         match self.best.get(&player) {
//!             Some(&points) => Ok(Score { player, points }),
//!             None => Err(BoardError::Unknown { player }),
//!         }
//!     }
//!     async fn top(&self, n: usize) -> Page<Score> {
//!         let mut items: Vec<Score> =
//!             self.best.iter().map(|(player, &points)| Score { player: player.clone(), points }).collect();
//!         items.sort_by(|a, b| b.points.cmp(&a.points));
//!         let more = items.len() > n;
//!         items.truncate(n);
//!         Page { items, more }
//!     }
//!     async fn close(&mut self) {
//!         self.closed = true;
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), CallError> {
//! let system = System::new();
//! let board: ScoreboardRef = system.spawn(Board::default()).into();
//!
//! // A call resolves to the method's own return type...
//! let ann = |points| Score { player: "ann".to_owned(), points };
//! assert_eq!(board.record(ann(40)).await?, Ok(40));
//! assert_eq!(board.record(ann(25)).await?, Ok(40));
//! board.record(Score { player: "bo".to_owned(), points: 30 }).await?.expect("open");
//! assert_eq!(board.top(1).await?, Page { items: vec![ann(40)], more: true });
//!
//! // ...so the handler's own error arrives intact, inside `Ok`.
//! let unknown = BoardError::Unknown { player: "cy".to_owned() };
//! assert_eq!(board.best("cy".to_owned()).await?, Err(unknown));
//!
//! // One-way sends resolve once queued; calls can set their own timeout.
//! board.close().await?;
//! let late = board.record(ann(99)).timeout(Duration::from_millis(500)).await?;
//! assert_eq!(late, Err(BoardError::Closed));
//!
//! // Delivery failures are `CallError`s.
//! system.shutdown().await;
//! assert_eq!(board.top(3).await, Err(CallError::ActorStopped));
//! # Ok(())
//! # }
//! ```
//!
//! # Your own types in calls
//!
//! Arguments and results of a service method must be serializable, so that
//! any actor can be called across nodes: `#[derive(courier::Message)]`
//! makes a struct or an enum of yours so (generic ones included), with no
//! dependency of your own on the serialization crate. Standard types
//! (`String`, `Vec`, `Option`, `Box`, `HashMap`, tuples, integers, ...) and
//! service refs (`{Trait}Ref`) are carried as they are. A type that cannot be
//! carried is one compile error, at the method or field that uses it.
//! `#[actor(local)]` lifts the requirement for a service that never leaves
//! the process.
//!
//! # What `#[courier::actor]` generates
//!
//! For a trait `Counter`:
//!
//! - the trait itself, each `async fn` rewritten to return
//!   `impl Future<Output = T> + Send`, so implementers still write `async fn`
//!   and the futures run on any thread without boxing;
//! - `CounterRequest` and `CounterResponse`, one variant per method,
//!   serializable (with rkyv, through this crate) so any actor can be called
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
//! a time, in mailbox order. `#[derive(Actor)]` makes a type an actor, with
//! its settings by attribute (`#[courier(mailbox = 64, name = "room")]`);
//! implement [`Actor`] by hand for lifecycle hooks. Its mailbox is bounded
//! (see [`MailboxSize`]):
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
#[doc = include_str!("docs/routers.md")]
pub use courier_runtime::Router;
#[doc = include_str!("docs/timers.md")]
pub use courier_runtime::Timer;
#[doc = include_str!("docs/watch.md")]
pub use courier_runtime::Watchable;
pub use courier_runtime::events;
pub use courier_runtime::remote::NetworkStats;
pub use courier_runtime::router;
#[doc = include_str!("docs/stash.md")]
pub use courier_runtime::stash;
pub use courier_runtime::{
    Actor, ActorId, ActorRef, Call, CallChain, CallError, CallFuture, Codec, Context, Directive, Dispatch, ExitReason,
    Failure, MailboxSize, Method, Protocol, Recipient, Routing, ServiceRef, SpawnError, Supervisor, System,
    SystemBuilder, Tell, TellFuture, Terminated, TrySendError, fingerprint, method_id,
};
pub use courier_transport::{Listen, NodeBuilder, NodeError, Tls, TlsError};

/// The names most programs need: `use courier::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Actor, ActorRef, CallError, Context, ExitReason, Listen, Message, ServiceRef, System, Terminated, Tls, actor,
    };
}

/// Re-exports for generated code; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use courier_runtime::__private::*;
}

/// The README's example, compiled and run as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExample;
