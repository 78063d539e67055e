//! The `Actor` trait: lifecycle hooks and per-type settings.

use std::future::Future;

use crate::Context;
use crate::chain::short_type_name;
use crate::stash::{Admit, Queued};
use crate::supervision::Supervisor;
use crate::watch::Terminated;

/// A type whose values can run as actors.
///
/// Every hook has a default body, so `impl Actor for MyActor {}` is enough;
/// the service traits the type implements decide what messages it handles.
/// A hook that panics fails the actor like a panicking handler does.
///
/// # Examples
///
/// ```
/// use courier_runtime::{Actor, Context};
///
/// struct Greeter;
///
/// impl Actor for Greeter {
///     async fn started(&mut self, ctx: &Context<Self>) {
///         println!("{} is up", ctx.id());
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an actor",
    label = "this type does not implement `Actor`",
    note = "add `impl Actor for {Self} {{}}` (every hook has a default body)"
)]
pub trait Actor: Send + Sized + 'static {
    /// The mailbox this actor type gets; the system's default unless set.
    const MAILBOX: MailboxSize = MailboxSize::Default;

    /// How this actor type is shown in logs, dead letters and deadlock
    /// chains (an unnamed actor appears as `name#seq`); the last segment of
    /// the type's path unless set.
    fn name() -> &'static str {
        short_type_name::<Self>()
    }

    /// How this actor supervises its children: what happens when one fails.
    /// The default restarts a failed child (one spawned with a factory) at
    /// most 3 times within 10 seconds; see [`Supervisor`].
    fn supervisor() -> Supervisor {
        Supervisor::default()
    }

    /// Runs on the actor's task before its first message, and again on each
    /// new instance after a restart.
    fn started(&mut self, ctx: &Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Runs once the actor has stopped taking messages, before its children
    /// are stopped.
    fn stopping(&mut self, ctx: &Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Runs last, after every child has stopped.
    fn stopped(&mut self, ctx: &Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Runs on a failed instance before a new one replaces it (see
    /// [`Supervisor`]); `reason` says why it failed. Its children stop next.
    fn restarting(&mut self, ctx: &Context<Self>, reason: &str) -> impl Future<Output = ()> + Send {
        let _ = (ctx, reason);
        async {}
    }

    /// Runs when an actor this one watches (see
    /// [`Context::watch`](crate::Context::watch)) is gone, before any user
    /// message still queued; `notice` says which and why.
    fn terminated(&mut self, ctx: &Context<Self>, notice: Terminated) -> impl Future<Output = ()> + Send {
        let _ = (ctx, notice);
        async {}
    }

    /// Runs when the actor has had no message for the time set with
    /// [`Context::set_receive_timeout`], and again after each such pause
    /// until the timeout is cancelled.
    fn receive_timeout(&mut self, ctx: &Context<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Decides, before a message's handler runs, whether to handle it now or
    /// put it aside until [`Context::unstash_all`] (see
    /// [`stash`](crate::stash)): for an actor that must finish setting up
    /// before it serves some or all of its methods. Handles everything
    /// unless overridden; keep it quick, it runs for every message.
    ///
    /// # Examples
    ///
    /// ```
    /// use courier_runtime::stash::{Admit, Queued};
    /// use courier_runtime::{Actor, Context};
    ///
    /// struct Cache {
    ///     loaded: bool,
    /// }
    ///
    /// impl Actor for Cache {
    ///     fn admit(&self, _: &Context<Self>, _: &Queued<'_>) -> Admit {
    ///         if self.loaded { Admit::Handle } else { Admit::Stash }
    ///     }
    /// }
    /// ```
    fn admit(&self, ctx: &Context<Self>, message: &Queued<'_>) -> Admit {
        let _ = (ctx, message);
        Admit::Handle
    }
}

/// How many user messages a mailbox holds before senders wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MailboxSize {
    /// The system's default capacity (see [`SystemBuilder::mailbox_capacity`](crate::SystemBuilder::mailbox_capacity)).
    #[default]
    Default,
    /// At most this many queued messages (at least one).
    Bounded(usize),
    /// No limit: senders never wait. Use only where the senders are bounded
    /// some other way.
    Unbounded,
}

impl MailboxSize {
    pub(crate) fn capacity(self, default: usize) -> usize {
        match self {
            MailboxSize::Default => default.max(1),
            MailboxSize::Bounded(n) => n.max(1),
            MailboxSize::Unbounded => usize::MAX,
        }
    }
}
