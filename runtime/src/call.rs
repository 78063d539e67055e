//! The futures behind `r.method(args).await`.
//!
//! A [`Call`] is a builder: set a timeout, then `.await` it. Nothing is sent
//! until the first poll, so the call's sender, chain and deadline are those
//! of the place where it is awaited.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::context::current_origin;
use crate::letter::Envelope;
use crate::protocol::Protocol;
use crate::reply::ReplySlot;
use crate::{CallError, Recipient, TrySendError};

/// A request-response call, not sent yet: `.await` it, or set
/// [`timeout`](Call::timeout) first.
///
/// Resolves to the method's return value, or the [`CallError`] that stopped
/// it. Dropping the call before it completes withdraws it: the reply is
/// discarded, and a request still queued is not executed.
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<'r, P: Protocol, T> {
    to: &'r Recipient<P>,
    request: P,
    extract: fn(P::Response) -> Option<T>,
    timeout: Option<Duration>,
}

impl<'r, P: Protocol, T> Call<'r, P, T> {
    pub(crate) fn new(to: &'r Recipient<P>, request: P, extract: fn(P::Response) -> Option<T>) -> Self {
        Call { to, request, extract, timeout: None }
    }

    /// Gives this call its own timeout instead of the system default. The
    /// deadline travels with the request: an actor does not execute a request
    /// whose deadline has passed. Deadlines are kept on a coarse clock, so a
    /// call times out up to a few milliseconds after `timeout`, never before.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<'r, P: Protocol, T> IntoFuture for Call<'r, P, T> {
    type Output = Result<T, CallError>;
    type IntoFuture = CallFuture<'r, P, T>;

    fn into_future(self) -> Self::IntoFuture {
        let timeout = self.timeout.unwrap_or_else(|| self.to.default_timeout());
        CallFuture {
            to: self.to,
            extract: self.extract,
            state: CallState::Start { request: self.request, timeout },
            timer: None,
        }
    }
}

enum CallState<P: Protocol> {
    Start { request: P, timeout: Duration },
    Sending { envelope: Envelope<P>, reply: Reply<P>, timeout: Duration },
    Waiting { reply: Reply<P> },
    Done,
}

/// The caller's hold on its reply slot; letting go tells the actor that
/// nobody waits for the response any more.
struct Reply<P: Protocol>(Arc<ReplySlot<P::Response>>);

impl<P: Protocol> Drop for Reply<P> {
    fn drop(&mut self) {
        self.0.close();
    }
}

pin_project! {
    /// The future of an awaited [`Call`].
    ///
    /// # Cancel safety
    ///
    /// Dropping it withdraws the call: a request not yet handled is skipped,
    /// a reply on its way is discarded. A request already being handled runs
    /// to its end.
    #[must_use = "futures do nothing unless polled"]
    pub struct CallFuture<'r, P: Protocol, T> {
        to: &'r Recipient<P>,
        extract: fn(P::Response) -> Option<T>,
        state: CallState<P>,
        // Armed only while waiting for room in a full mailbox; the reply
        // itself is timed out by the target system's deadline sweeper.
        #[pin]
        timer: Option<Sleep>,
    }
}

impl<P: Protocol, T> Future for CallFuture<'_, P, T> {
    type Output = Result<T, CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // Each arm puts back the state it leaves the call in.
            match std::mem::replace(this.state, CallState::Done) {
                CallState::Start { request, timeout } => {
                    let mut origin = current_origin(true);
                    if let Some(cycle) = origin.chain.as_ref().and_then(|c| c.cycle_to(this.to.id())) {
                        return Poll::Ready(Err(CallError::Deadlock { chain: cycle }));
                    }
                    origin.deadline = this.to.post().system().map(|system| system.deadlines.deadline(timeout));
                    let reply = Reply(Arc::new(ReplySlot::new()));
                    let envelope = Envelope { request, reply: Some(reply.0.clone()), origin };
                    *this.state = CallState::Sending { envelope, reply, timeout };
                }
                CallState::Sending { envelope, reply, timeout } => match this.to.post().try_post(envelope) {
                    Ok(()) => *this.state = CallState::Waiting { reply },
                    Err(TrySendError::Stopped(envelope)) => {
                        return Poll::Ready(Err(this.to.refused(&envelope.request)));
                    }
                    Err(TrySendError::Unsendable(envelope, error)) => {
                        return Poll::Ready(Err(this.to.undelivered(&envelope.request, error)));
                    }
                    Err(TrySendError::Full(envelope)) => {
                        *this.state = CallState::Sending { envelope, reply, timeout };
                        if this.to.post().poll_room(cx).is_pending() {
                            ready!(poll_timer(this.timer.as_mut(), timeout, cx));
                            *this.state = CallState::Done;
                            return Poll::Ready(Err(CallError::Timeout));
                        }
                    }
                },
                CallState::Waiting { reply } => {
                    let result = match reply.0.poll_take(cx) {
                        Poll::Ready(Ok(response)) => (this.extract)(response).ok_or_else(|| CallError::Protocol {
                            detail: format!("a reply of {} answered another method", P::SERVICE),
                        }),
                        Poll::Ready(Err(error)) => Err(error),
                        Poll::Pending => {
                            *this.state = CallState::Waiting { reply };
                            return Poll::Pending;
                        }
                    };
                    return Poll::Ready(result);
                }
                CallState::Done => panic!("CallFuture polled after completion"),
            }
        }
    }
}

/// Ready once `timeout` has passed since the first call; the timer is armed
/// on that first call, which only happens on the slow path (a full mailbox).
fn poll_timer(mut timer: Pin<&mut Option<Sleep>>, timeout: Duration, cx: &mut Context<'_>) -> Poll<()> {
    if timer.as_mut().as_pin_mut().is_none() {
        timer.set(Some(tokio::time::sleep(timeout)));
    }
    match timer.as_pin_mut() {
        Some(sleep) => sleep.poll(cx),
        None => Poll::Pending,
    }
}

/// A one-way send, not sent yet: `.await` it to queue the message.
///
/// Resolves once the message is in the mailbox (waiting for room when it is
/// full, up to the system's call timeout); it does not wait for the handler.
#[must_use = "a send does nothing until it is awaited"]
pub struct Tell<'r, P: Protocol> {
    to: &'r Recipient<P>,
    request: P,
}

impl<'r, P: Protocol> Tell<'r, P> {
    pub(crate) fn new(to: &'r Recipient<P>, request: P) -> Self {
        Tell { to, request }
    }

    /// Queues the message only if there is room now.
    ///
    /// # Errors
    ///
    /// Hands the request back when the mailbox is full or the actor stopped.
    pub fn try_send(self) -> Result<(), TrySendError<P>> {
        self.to.try_tell(self.request)
    }
}

impl<'r, P: Protocol> IntoFuture for Tell<'r, P> {
    type Output = Result<(), CallError>;
    type IntoFuture = TellFuture<'r, P>;

    fn into_future(self) -> Self::IntoFuture {
        TellFuture { to: self.to, request: Some(self.request), envelope: None, timer: None }
    }
}

pin_project! {
    /// The future of an awaited [`Tell`].
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it resolves means the message was not sent.
    #[must_use = "futures do nothing unless polled"]
    pub struct TellFuture<'r, P: Protocol> {
        to: &'r Recipient<P>,
        request: Option<P>,
        envelope: Option<Envelope<P>>,
        #[pin]
        timer: Option<Sleep>,
    }
}

impl<P: Protocol> Future for TellFuture<'_, P> {
    type Output = Result<(), CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A tell spends tokio's cooperative budget, as tokio's own channels
        // do: a loop of tells to a queue with room would otherwise never
        // yield, and the tasks it wakes (the actor, the transport's writer)
        // would wait in this worker's LIFO slot, where no other worker can
        // take them, until the queue is full. Measured on remote one-way
        // throughput: +10% to +25% (see BENCHMARKS.md).
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let mut this = self.project();
        // The first try hands the request over as it is (a remote post
        // writes it out without an envelope); the envelope that comes back
        // is kept only while the mailbox is full: most tells are queued at
        // the first try. Each is moved out of the future once.
        let mut posted = match this.request.take() {
            Some(request) => this.to.post().try_tell(request, current_origin(false)),
            None => match this.envelope.take() {
                Some(envelope) => this.to.post().try_post(envelope),
                None => return Poll::Ready(Err(CallError::ActorStopped)),
            },
        };
        loop {
            if !matches!(posted, Err(TrySendError::Full(_))) {
                coop.made_progress();
            }
            match posted {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(TrySendError::Stopped(envelope)) => return Poll::Ready(Err(this.to.refused(&envelope.request))),
                Err(TrySendError::Unsendable(envelope, error)) => {
                    return Poll::Ready(Err(this.to.undelivered(&envelope.request, error)));
                }
                Err(TrySendError::Full(back)) => {
                    if this.to.post().poll_room(cx).is_pending() {
                        if poll_timer(this.timer.as_mut(), this.to.default_timeout(), cx).is_pending() {
                            *this.envelope = Some(back);
                            return Poll::Pending;
                        }
                        return Poll::Ready(Err(CallError::Timeout));
                    }
                    posted = this.to.post().try_post(back);
                }
            }
        }
    }
}
