//! The local actor runtime of courier.
//!
//! Most users reach it through the `courier` facade crate and its
//! `#[courier::actor]` macro; this crate holds what that macro's output runs
//! on: [`System`], [`ActorRef`], [`Recipient`], [`Context`], the [`Call`] and
//! [`Tell`] futures and [`CallError`].
//!
//! An actor is one tokio task that owns its state and handles one message at
//! a time, in mailbox order. A mailbox is a bounded user queue plus a system
//! queue that is always drained first. Calls carry a deadline and the chain
//! of actors waiting on them, so an expired request is skipped and a cycle of
//! calls fails at once with [`CallError::Deadlock`].

mod actor;
mod actor_ref;
pub mod backoff;
mod call;
mod cell;
mod chain;
mod codec;
mod context;
mod dead_letters;
mod deadline;
mod error;
pub mod events;
mod exports;
mod handling;
mod id;
mod letter;
mod mailbox;
mod protocol;
mod recipient;
pub mod remote;
mod reply;
pub mod router;
mod run;
pub mod stash;
pub mod supervision;
mod system;
mod timers;
mod watch;
mod wire;
mod wire_check;

pub use actor::{Actor, MailboxSize};
pub use actor_ref::ActorRef;
pub use call::{Call, CallFuture, Tell, TellFuture};
pub use codec::{Archiver, Codec, EncodeFn};
pub use context::Context;
pub use error::{CallChain, CallError, SpawnError, TrySendError};
pub use events::EventStream;
pub use id::{ActorId, ArchivedActorId};
pub use protocol::{Dispatch, Method, Protocol, fingerprint, method_id, service_key};
pub use recipient::{Recipient, ServiceRef};
pub use router::{Router, Routing};
pub use supervision::{Directive, Failure, Supervisor};
pub use system::{DEFAULT_CALL_TIMEOUT, DEFAULT_MAILBOX_CAPACITY, System, SystemBuilder};
pub use timers::Timer;
pub use watch::{ExitReason, Terminated, WatchTarget, Watchable, Watcher};
pub use wire::{ArchivedWireRef, WireRef};

/// Re-exports for generated code; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use rkyv;

    pub use crate::codec::{Appending, decode, encode};
    pub use crate::wire_check::{Checked, Wire, WireField};
}
