//! courier: typed RPC over actors.

pub use courier_macros::actor;
pub use courier_runtime::{
    Actor, ActorId, ActorRef, Call, CallChain, CallError, CallFuture, Context, Dispatch, MailboxSize, Method,
    Protocol, Recipient, ServiceRef, SpawnError, System, SystemBuilder, Tell, TellFuture, TrySendError, fingerprint,
    method_id,
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
