//! Errors of calls, sends and spawns.
//!
//! Delivery failures, timeouts and the handler's own `Result` stay apart: a
//! method declared `-> Result<T, E>` resolves to `Result<Result<T, E>, CallError>`.

use std::fmt;

/// Why a call or a one-way send did not produce its result.
///
/// A handler's own error is never turned into a `CallError`: it reaches the
/// caller as the `Ok` value of the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[non_exhaustive]
pub enum CallError {
    /// The call's deadline passed before its reply arrived. An expired request
    /// is not executed.
    #[error("the call timed out before the actor replied")]
    Timeout,
    /// The target's mailbox had no room (only from the `try_` sends, which do
    /// not wait for room).
    #[error("the actor's mailbox is full")]
    MailboxFull,
    /// The target had stopped, or stopped before handling the message.
    #[error("the actor has stopped")]
    ActorStopped,
    /// The handler panicked; the actor stopped.
    #[error("the actor failed while handling the call: {reason}")]
    ActorFailed {
        /// The panic message.
        reason: String,
    },
    /// The call would wait on an actor that is itself waiting inside the same
    /// call chain.
    #[error("deadlock: {chain}")]
    Deadlock {
        /// The cycle of actors, starting and ending at the target.
        chain: CallChain,
    },
    /// The reply did not match the request, or bytes from the wire were not
    /// a valid message (a peer speaking another version of the service).
    #[error("protocol mismatch: {detail}")]
    Protocol {
        /// What did not match.
        detail: String,
    },
    /// The actor's node cannot be reached: the connection to it was lost or
    /// could not be made. Every call waiting on a lost node fails with this
    /// at once.
    #[error("node {node} is unreachable")]
    NodeUnreachable {
        /// The node, as its address or id.
        node: String,
    },
    /// The other node has no actor by that name or id serving that service
    /// for remote access.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for.
        what: String,
    },
}

/// The actors of a call cycle, in call order: `A -> B -> A`.
#[derive(Debug, Clone, PartialEq, Eq, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct CallChain(pub Vec<String>);

impl fmt::Display for CallChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, actor) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            f.write_str(actor)?;
        }
        Ok(())
    }
}

/// A send that did not wait for room failed; the message comes back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<M> {
    /// The mailbox was at capacity.
    #[error("the actor's mailbox is full")]
    Full(M),
    /// The actor had stopped, or its node cannot be reached.
    #[error("the actor has stopped")]
    Stopped(M),
    /// The message itself cannot be sent, wherever it goes: for another
    /// node, its payload could not be written (a `CallError::Protocol`
    /// that says why). Nothing of it was queued; retrying will not help.
    #[error("the message cannot be sent: {1}")]
    Unsendable(M, CallError),
}

impl<M> TrySendError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            TrySendError::Full(m) | TrySendError::Stopped(m) | TrySendError::Unsendable(m, _) => m,
        }
    }
}

impl<M> From<TrySendError<M>> for CallError {
    fn from(e: TrySendError<M>) -> Self {
        match e {
            TrySendError::Full(_) => CallError::MailboxFull,
            TrySendError::Stopped(_) => CallError::ActorStopped,
            TrySendError::Unsendable(_, error) => error,
        }
    }
}

/// Why a spawn failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// Another live actor already holds the name.
    #[error("the name `{0}` is already taken")]
    NameTaken(String),
    /// The system is shutting down.
    #[error("the system is shutting down")]
    ShuttingDown,
    /// Only an actor of this system, serving a service that is not
    /// `#[actor(local)]`, can be served to other nodes.
    #[error("cannot serve `{0}` to other nodes: {1}")]
    NotServable(String, &'static str),
    /// A router needs at least one routee.
    #[error("a router needs at least one routee")]
    NoRoutees,
    /// A broadcast router copies each request through the service's wire
    /// codec, which an `#[actor(local)]` service (named here) does not have.
    #[error("cannot broadcast `{0}`: it is `#[actor(local)]`, so its requests cannot be copied")]
    CannotBroadcast(&'static str),
}

/// Turns a caught panic payload into its message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
