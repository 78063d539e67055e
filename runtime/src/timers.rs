//! Timers: a request sent once after a delay, or again and again at an
//! interval, by an actor to itself or to any ref.
//!
//! Each timer is a small task that sleeps, then sends its request as a
//! one-way message (waiting for room in a full mailbox, like any send). It
//! ends when its [`Timer`] handle is cancelled, when the actor that set it
//! stops or restarts (every timer of an actor hangs off one token of that
//! actor's, cancelled then), or when its target is gone (the undelivered
//! request is a dead letter).
//!
//! The receive timeout lives here too: the setting an actor's task reads
//! each time its mailbox runs empty (see [`Idle`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::ServiceRef;

/// A timer set with [`Context::send_after`](crate::Context::send_after) or
/// [`Context::send_interval`](crate::Context::send_interval).
///
/// Dropping the handle leaves the timer running; [`cancel`](Timer::cancel)
/// stops it. Every timer also stops when the actor that set it stops or
/// restarts.
#[derive(Clone, Debug)]
pub struct Timer {
    token: CancellationToken,
}

impl Timer {
    /// Stops the timer: no request is sent after this returns (one being
    /// queued at this moment may still arrive). Cancelling twice is
    /// harmless.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether the timer was cancelled, by its handle or by its actor
    /// stopping.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// When a timer sends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Schedule {
    Once(Duration),
    Every(Duration),
}

/// Starts a timer under `owner` (the setting actor's token) that sends the
/// requests `make` builds to `to`, until `make` has none left. The returned
/// future is the timer's task.
pub(crate) fn timer<R, M>(
    owner: &CancellationToken,
    to: R,
    schedule: Schedule,
    mut make: M,
) -> (Timer, impl Future<Output = ()> + Send + 'static)
where
    R: ServiceRef,
    M: FnMut() -> Option<R::Protocol> + Send + 'static,
{
    let token = owner.child_token();
    let handle = Timer { token: token.clone() };
    let task = async move {
        let (first, period) = match schedule {
            Schedule::Once(delay) => (delay, None),
            Schedule::Every(period) => (period, Some(period)),
        };
        let mut due = Instant::now() + first;
        loop {
            tokio::select! {
                biased;
                () = token.cancelled() => return,
                () = tokio::time::sleep_until(due) => {}
            }
            let Some(request) = make() else { return };
            let sent = tokio::select! {
                biased;
                () = token.cancelled() => return,
                sent = to.recipient().tell(request) => sent,
            };
            if let Err(error) = sent {
                // The refused request is a dead letter already.
                tracing::debug!(target = %to.actor_id(), %error, "a timer's target is gone; the timer ends");
                return;
            }
            let Some(period) = period else { return };
            // A timer that fell behind (a full mailbox, a busy runtime)
            // skips the missed ticks instead of sending a burst.
            due = (due + period).max(Instant::now());
        }
    };
    (handle, task)
}

/// An actor's receive timeout: how long its mailbox may stay empty, and
/// what happens then. Packed in one atomic word, read by the actor's task
/// only when its mailbox runs empty: 0 is "none", else the duration in
/// nanoseconds shifted left once, with the low bit set for "stop".
#[derive(Default)]
pub(crate) struct IdleSetting(AtomicU64);

/// What to do once an actor was idle long enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnIdle {
    /// Run the actor's `receive_timeout` hook.
    Notify,
    /// Stop, if nothing arrived meanwhile.
    Stop,
}

impl IdleSetting {
    pub(crate) fn set(&self, after: Duration, on_idle: OnIdle) {
        // At least a millisecond: a zero timeout would fire on every pause.
        let nanos = after.max(Duration::from_millis(1)).as_nanos().min(u128::from(u64::MAX >> 1));
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX >> 1);
        self.0.store(nanos << 1 | u64::from(on_idle == OnIdle::Stop), Ordering::Relaxed);
    }

    pub(crate) fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    fn get(&self) -> Option<(Duration, OnIdle)> {
        let word = self.0.load(Ordering::Relaxed);
        let on_idle = if word & 1 == 1 { OnIdle::Stop } else { OnIdle::Notify };
        (word != 0).then(|| (Duration::from_nanos(word >> 1), on_idle))
    }
}

/// The actor task's side of the receive timeout: one sleep, armed when the
/// mailbox runs empty and disarmed by the next message.
#[derive(Default)]
pub(crate) struct Idle {
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

impl Idle {
    /// A message arrived: the actor is busy again.
    pub(crate) fn busy(&mut self) {
        self.armed = false;
    }

    /// Called while the mailbox is empty: ready once it has been empty for
    /// the receive timeout (then disarmed until the next pause).
    pub(crate) fn poll(&mut self, setting: &IdleSetting, cx: &mut TaskContext<'_>) -> Poll<OnIdle> {
        let Some((after, on_idle)) = setting.get() else {
            self.armed = false;
            return Poll::Pending;
        };
        if !self.armed {
            self.armed = true;
            let due = Instant::now() + after;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(due),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(due))),
            }
        }
        let Some(sleep) = &mut self.sleep else { return Poll::Pending };
        ready!(sleep.as_mut().poll(cx));
        self.armed = false;
        Poll::Ready(on_idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_round_trips() {
        let setting = IdleSetting::default();
        assert_eq!(setting.get(), None);
        setting.set(Duration::from_millis(250), OnIdle::Stop);
        assert_eq!(setting.get(), Some((Duration::from_millis(250), OnIdle::Stop)));
        setting.set(Duration::ZERO, OnIdle::Notify);
        assert_eq!(setting.get(), Some((Duration::from_millis(1), OnIdle::Notify)));
        setting.set(Duration::MAX, OnIdle::Notify);
        assert_eq!(setting.get().map(|(d, _)| d.as_nanos()), Some(u128::from(u64::MAX >> 1)));
        setting.clear();
        assert_eq!(setting.get(), None);
    }
}
