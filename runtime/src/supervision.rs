//! Supervision: what happens to an actor whose handler or hook panicked.
//!
//! The failed actor's parent supervises it (the system supervises root
//! actors). Its [`Supervisor`] decides, from the failure, whether the child
//! restarts, stops, or stops and fails the parent in turn (escalates).
//! Only an actor spawned with a factory ([`System::spawn_with`],
//! [`Context::spawn_with`]) can restart: a restart builds a new instance
//! from the factory, in the same mailbox, so queued messages are handled by
//! the new instance and refs held by others stay valid. An actor spawned
//! from a value stops instead.
//!
//! The decision is made on the failed actor's own task, with its parent's
//! supervisor (taken when the child was spawned): a parent busy in a long
//! handler does not hold its children's restarts back.
//!
//! [`System::spawn_with`]: crate::System::spawn_with
//! [`Context::spawn_with`]: crate::Context::spawn_with

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ActorId;
use crate::backoff::Backoff;

/// What a supervisor does with a failed child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Directive {
    /// Build a new instance from the child's factory, in the same mailbox
    /// (for all its siblings too, under [`Supervisor::all_for_one`]). A child
    /// spawned without a factory stops instead.
    Restart,
    /// Stop the child; its queued calls fail with `ActorStopped`.
    Stop,
    /// Stop the child and fail the parent with the child's reason, for the
    /// parent's own supervisor to decide. At the root, the same as `Stop`.
    Escalate,
}

/// A child's failure, as a supervisor's decider sees it.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// The failed actor.
    pub child: ActorId,
    /// Its type's name ([`Actor::name`](crate::Actor::name)).
    pub actor: &'static str,
    /// The panic message.
    pub reason: &'a str,
}

/// Which children a restart applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    OneForOne,
    AllForOne,
}

type Decider = Arc<dyn Fn(&Failure<'_>) -> Directive + Send + Sync>;

/// How an actor supervises its children: the scope of a restart, a limit on
/// restarts, the backoff between them, and a decider.
///
/// The default (for children, and for root actors unless
/// [`SystemBuilder::supervisor`](crate::SystemBuilder::supervisor) sets
/// another): one-for-one, always restart, at most 3 restarts within 10
/// seconds (the next failure stops the child and escalates), backoff from
/// 10 ms doubling up to 1 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use courier_runtime::{Directive, Supervisor};
///
/// let strict = Supervisor::all_for_one()
///     .max_restarts(5, Duration::from_secs(60))
///     .backoff(Duration::from_millis(50), Duration::from_secs(5))
///     .decide(|failure| if failure.reason.contains("fatal") { Directive::Escalate } else { Directive::Restart });
/// # let _ = strict;
/// ```
#[derive(Clone)]
pub struct Supervisor {
    scope: Scope,
    max_restarts: u32,
    within: Duration,
    backoff_base: Duration,
    backoff_cap: Duration,
    decide: Decider,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("scope", &self.scope)
            .field("max_restarts", &self.max_restarts)
            .field("within", &self.within)
            .field("backoff", &(self.backoff_base, self.backoff_cap))
            .finish_non_exhaustive()
    }
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor::one_for_one()
    }
}

impl Supervisor {
    /// A restart applies to the failed child only.
    pub fn one_for_one() -> Self {
        Supervisor {
            scope: Scope::OneForOne,
            max_restarts: 3,
            within: Duration::from_secs(10),
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_secs(1),
            decide: Arc::new(|_| Directive::Restart),
        }
    }

    /// A restart applies to every child of the parent: for children that
    /// only work together. Siblings spawned without a factory stop.
    pub fn all_for_one() -> Self {
        Supervisor { scope: Scope::AllForOne, ..Supervisor::one_for_one() }
    }

    /// At most `max` restarts within any `within`: the failure after them
    /// stops the child and escalates. Under all-for-one the count is the
    /// children's together.
    pub fn max_restarts(mut self, max: u32, within: Duration) -> Self {
        self.max_restarts = max;
        self.within = within;
        self
    }

    /// Waits before each restart: `base` before the first, doubling with
    /// each restart in the window, at most `cap`, each wait drawn between
    /// half and all of its nominal value (so that siblings failing together
    /// do not come back at one instant). Messages queue meanwhile.
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_cap = cap.max(base);
        self
    }

    /// Decides per failure; without it, every failure restarts.
    pub fn decide(mut self, decide: impl Fn(&Failure<'_>) -> Directive + Send + Sync + 'static) -> Self {
        self.decide = Arc::new(decide);
        self
    }

    pub(crate) fn is_all_for_one(&self) -> bool {
        self.scope == Scope::AllForOne
    }

    /// What to do about `failure`, given the restarts in `history`:
    /// restarting after a delay, stopping, or escalating with a reason.
    pub(crate) fn judge(&self, failure: &Failure<'_>, history: &Restarts, now: Instant, random: u64) -> Verdict {
        match (self.decide)(failure) {
            Directive::Stop => Verdict::Stop,
            Directive::Escalate => Verdict::Escalate(failure.reason.to_owned()),
            Directive::Restart => match history.record(now, self.max_restarts, self.within) {
                Some(attempt) => {
                    let delay = Backoff::new(self.backoff_base, self.backoff_cap).delay(attempt, random);
                    Verdict::Restart(delay)
                }
                None => Verdict::Escalate(format!(
                    "{} failed more than {} times within {:?}; last: {}",
                    failure.actor, self.max_restarts, self.within, failure.reason
                )),
            },
        }
    }
}

/// What a supervisor's judgement comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Restart(Duration),
    Stop,
    Escalate(String),
}

/// The times of recent restarts: of one child, or of all the children of
/// one all-for-one parent.
#[derive(Debug, Default, Clone)]
pub(crate) struct Restarts(Arc<Mutex<VecDeque<Instant>>>);

impl Restarts {
    /// Records a restart at `now` if fewer than `max` happened within
    /// `within`; returns how many did (the backoff's attempt), or `None`
    /// when the limit is reached.
    fn record(&self, now: Instant, max: u32, within: Duration) -> Option<u32> {
        let mut times = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while times.front().is_some_and(|&at| now.saturating_duration_since(at) > within) {
            times.pop_front();
        }
        let recent = u32::try_from(times.len()).unwrap_or(u32::MAX);
        if recent >= max {
            return None;
        }
        times.push_back(now);
        Some(recent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(reason: &str) -> Failure<'_> {
        Failure { child: ActorId { node: 1, seq: 2 }, actor: "Worker", reason }
    }

    #[test]
    fn restarts_back_off_exponentially_up_to_the_cap_then_escalate() {
        let supervisor = Supervisor::one_for_one()
            .max_restarts(6, Duration::from_secs(60))
            .backoff(Duration::from_millis(10), Duration::from_millis(100));
        let (history, now) = (Restarts::default(), Instant::now());
        // The highest random value gives the nominal delay.
        let delays: Vec<Verdict> =
            (0..6).map(|_| supervisor.judge(&failure("boom"), &history, now, u64::MAX)).collect();
        let nominal = |ms: u64| {
            let d = Duration::from_millis(ms);
            move |v: &Verdict| matches!(v, Verdict::Restart(got) if *got <= d && *got > d * 9 / 10)
        };
        for (verdict, ms) in delays.iter().zip([10, 20, 40, 80, 100, 100]) {
            assert!(nominal(ms)(verdict), "{verdict:?} is not about {ms} ms");
        }
        let seventh = supervisor.judge(&failure("boom"), &history, now, u64::MAX);
        assert!(matches!(&seventh, Verdict::Escalate(why) if why.contains("more than 6 times")), "{seventh:?}");
    }

    #[test]
    fn the_least_jitter_is_half_the_nominal_delay() {
        let supervisor = Supervisor::one_for_one().backoff(Duration::from_millis(40), Duration::from_secs(1));
        let verdict = supervisor.judge(&failure("boom"), &Restarts::default(), Instant::now(), 0);
        assert_eq!(verdict, Verdict::Restart(Duration::from_millis(20)));
    }

    #[test]
    fn restarts_outside_the_window_are_forgotten() {
        let supervisor = Supervisor::one_for_one().max_restarts(2, Duration::from_secs(10));
        let (history, start) = (Restarts::default(), Instant::now());
        assert!(matches!(supervisor.judge(&failure("a"), &history, start, 0), Verdict::Restart(_)));
        assert!(matches!(supervisor.judge(&failure("b"), &history, start, 0), Verdict::Restart(_)));
        assert!(matches!(supervisor.judge(&failure("c"), &history, start, 0), Verdict::Escalate(_)));
        let later = start + Duration::from_secs(11);
        let verdict = supervisor.judge(&failure("d"), &history, later, 0);
        assert_eq!(verdict, Verdict::Restart(Duration::from_millis(5)), "the window moved on: a first restart again");
    }

    #[test]
    fn the_decider_sees_the_failure_and_chooses() {
        let supervisor = Supervisor::one_for_one().decide(|failure| match failure.reason {
            "fatal" => Directive::Escalate,
            "quiet" => Directive::Stop,
            _ => Directive::Restart,
        });
        let history = Restarts::default();
        let now = Instant::now();
        assert_eq!(supervisor.judge(&failure("fatal"), &history, now, 0), Verdict::Escalate("fatal".into()));
        assert_eq!(supervisor.judge(&failure("quiet"), &history, now, 0), Verdict::Stop);
        assert!(matches!(supervisor.judge(&failure("oops"), &history, now, 0), Verdict::Restart(_)));
    }
}
