//! Timers, the receive timeout and idle stop. The clock is tokio's paused
//! one: it jumps to the next timer whenever every task waits, so these tests
//! neither sleep for real nor depend on the machine's speed.

use std::time::Duration;

use courier::prelude::*;
use courier::{Timer, events};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::{Instant, timeout};

const BOUND: Duration = Duration::from_secs(60);

/// Where timers send.
#[courier::actor(local)]
pub trait Sink {
    /// Takes one value.
    #[tell]
    async fn take(&mut self, value: u32);
}

/// Passes what it takes to the test, with the (paused) time it came.
pub struct Collector(UnboundedSender<(u32, Instant)>);

impl Actor for Collector {}

impl Sink for Collector {
    async fn take(&mut self, value: u32) {
        let _ = self.0.send((value, Instant::now()));
    }
}

/// Sets and cancels timers on the test's behalf.
#[courier::actor(local)]
pub trait Scheduler {
    /// Sends `value` to `to` once, after `delay`.
    async fn once(&mut self, delay: Duration, to: SinkRef, value: u32);
    /// Sends 1, 2, 3, ... to `to` every `period`.
    async fn every(&mut self, period: Duration, to: SinkRef);
    /// Cancels every timer set so far.
    async fn cancel(&mut self);
    /// The handles of the timers set so far.
    async fn timers(&self) -> Vec<Timer>;
}

/// Keeps its timers' handles.
#[derive(Default)]
pub struct Planner {
    timers: Vec<Timer>,
}

impl Actor for Planner {}

impl Scheduler for Planner {
    async fn once(&mut self, delay: Duration, to: SinkRef, value: u32) {
        let ctx = Context::<Self>::current();
        self.timers.push(ctx.send_after(delay, &to, SinkRequest::Take(value)));
    }

    async fn every(&mut self, period: Duration, to: SinkRef) {
        let mut count = 0;
        let timer = Context::<Self>::current().send_interval(period, &to, move || {
            count += 1;
            SinkRequest::Take(count)
        });
        self.timers.push(timer);
    }

    async fn cancel(&mut self) {
        self.timers.iter().for_each(Timer::cancel);
    }

    async fn timers(&self) -> Vec<Timer> {
        self.timers.clone()
    }
}

fn collector(system: &System) -> (SinkRef, UnboundedReceiver<(u32, Instant)>) {
    let (tx, rx) = unbounded_channel();
    (system.spawn(Collector(tx)).into(), rx)
}

/// Nothing more arrives, however long the (paused) clock runs.
async fn assert_quiet(rx: &mut UnboundedReceiver<(u32, Instant)>) {
    let more = timeout(Duration::from_secs(3600), rx.recv()).await;
    assert!(matches!(more, Err(_) | Ok(None)), "unexpected {more:?}");
}

#[tokio::test(start_paused = true)]
async fn a_one_shot_timer_sends_once_after_its_delay() -> Result<(), CallError> {
    let system = System::new();
    let (sink, mut rx) = collector(&system);
    let planner: SchedulerRef = system.spawn(Planner::default()).into();
    let set = Instant::now();
    planner.once(Duration::from_millis(300), sink, 7).await?;
    let (value, at) = timeout(BOUND, rx.recv()).await.expect("the timer fired").expect("collector alive");
    assert_eq!(value, 7);
    assert!(at - set >= Duration::from_millis(300), "fired after {:?}", at - set);
    assert_quiet(&mut rx).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_interval_ticks_until_its_handle_cancels_it() -> Result<(), CallError> {
    let system = System::new();
    let (sink, mut rx) = collector(&system);
    let planner: SchedulerRef = system.spawn(Planner::default()).into();
    let set = Instant::now();
    planner.every(Duration::from_millis(100), sink).await?;
    for expected in 1..=5 {
        let (value, at) = timeout(BOUND, rx.recv()).await.expect("a tick").expect("collector alive");
        assert_eq!(value, expected);
        assert!(at - set >= Duration::from_millis(100) * expected, "tick {expected} at {:?}", at - set);
    }
    planner.cancel().await?;
    assert!(planner.timers().await?.iter().all(Timer::is_cancelled));
    assert_quiet(&mut rx).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn timers_end_when_the_actor_that_set_them_stops() -> Result<(), CallError> {
    let system = System::new();
    let (sink, mut rx) = collector(&system);
    let planner = system.spawn(Planner::default());
    let scheduler: SchedulerRef = planner.clone().into();
    scheduler.every(Duration::from_millis(100), sink.clone()).await?;
    scheduler.once(Duration::from_secs(10), sink, 99).await?;
    let timers = scheduler.timers().await?;
    assert_eq!(timeout(BOUND, rx.recv()).await.expect("a tick").map(|(v, _)| v), Some(1));
    planner.stop();
    planner.wait_stopped().await;
    assert!(timers.iter().all(Timer::is_cancelled));
    assert_quiet(&mut rx).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_timer_whose_target_is_gone_ends_with_a_dead_letter() -> Result<(), CallError> {
    let system = System::new();
    let (dead_tx, mut dead_letters) = unbounded_channel();
    let _subscription = system.events().subscribe(move |letter: &events::DeadLetter| {
        let _ = dead_tx.send(letter.clone());
    });
    let (tx, _rx) = unbounded_channel();
    let target = system.spawn(Collector(tx));
    let sink: SinkRef = target.clone().into();
    let planner: SchedulerRef = system.spawn(Planner::default()).into();
    planner.every(Duration::from_millis(100), sink).await?;
    target.stop();
    target.wait_stopped().await;
    let letter = timeout(BOUND, dead_letters.recv()).await.expect("a dead letter").expect("subscription alive");
    assert_eq!((letter.target, letter.service, letter.method), (target.id(), "Sink", "take"));
    assert_eq!(letter.error, CallError::ActorStopped);
    // The timer stopped there: no second dead letter, however long it runs.
    let more = timeout(Duration::from_secs(3600), dead_letters.recv()).await;
    assert!(more.is_err(), "another dead letter: {more:?}");
    Ok(())
}

/// Counts its idle pauses; stops itself when idle if told to.
#[courier::actor(local)]
pub trait Idler {
    /// Anything to keep the actor busy.
    async fn poke(&self) -> u32;
    /// Starts the receive timeout.
    async fn time_out_after(&self, after: Duration);
    /// Cancels it.
    async fn stop_timing_out(&self);
    /// Stops when idle for `after`.
    async fn stop_after_idle(&self, after: Duration);
}

/// Reports each receive timeout to the test.
pub struct Napper {
    timeouts: UnboundedSender<Instant>,
}

impl Actor for Napper {
    async fn receive_timeout(&mut self, _: &Context<Self>) {
        let _ = self.timeouts.send(Instant::now());
    }
}

impl Idler for Napper {
    async fn poke(&self) -> u32 {
        1
    }

    async fn time_out_after(&self, after: Duration) {
        Context::<Self>::current().set_receive_timeout(after);
    }

    async fn stop_timing_out(&self) {
        Context::<Self>::current().cancel_receive_timeout();
    }

    async fn stop_after_idle(&self, after: Duration) {
        Context::<Self>::current().stop_when_idle(after);
    }
}

#[tokio::test(start_paused = true)]
async fn the_receive_timeout_fires_after_each_idle_pause_until_cancelled() -> Result<(), CallError> {
    let system = System::new();
    let (tx, mut timeouts) = unbounded_channel();
    let napper: IdlerRef = system.spawn(Napper { timeouts: tx }).into();
    napper.time_out_after(Duration::from_millis(500)).await?;
    // Messages every 200 ms keep it busy: no timeout for 2 s.
    let busy_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < busy_until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        napper.poke().await?;
        assert!(timeouts.try_recv().is_err(), "timed out while busy");
    }
    let last = Instant::now();
    let first = timeout(BOUND, timeouts.recv()).await.expect("a timeout").expect("napper alive");
    assert!(first - last >= Duration::from_millis(500), "after {:?}", first - last);
    let second = timeout(BOUND, timeouts.recv()).await.expect("another").expect("napper alive");
    assert!(second - first >= Duration::from_millis(500), "after {:?}", second - first);
    napper.stop_timing_out().await?;
    let more = timeout(Duration::from_secs(3600), timeouts.recv()).await;
    assert!(more.is_err(), "a timeout after cancelling: {more:?}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_named_actor_stops_when_idle_and_its_name_can_be_taken_again() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let (tx, _timeouts) = unbounded_channel();
    let make = || Napper { timeouts: tx.clone() };
    let first = system.get_or_spawn_named("session:ann", make).await?;
    let again = system.get_or_spawn_named("session:ann", make).await?;
    assert_eq!(first.id(), again.id(), "a live named actor is reused");
    let idler: IdlerRef = first.clone().into();
    idler.stop_after_idle(Duration::from_secs(1)).await?;
    // Calls keep it alive past the idle time.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(idler.poke().await?, 1);
    }
    let pause = Instant::now();
    timeout(BOUND, first.wait_stopped()).await?;
    assert!(pause.elapsed() >= Duration::from_secs(1), "stopped after {:?}", pause.elapsed());
    assert!(system.lookup::<Napper>("session:ann").is_none(), "the name is free");
    let next = system.get_or_spawn_named("session:ann", make).await?;
    assert_ne!(next.id(), first.id());
    assert_eq!(IdlerRef::from(next).poke().await?, 1);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_name_held_by_another_type_is_refused() {
    let system = System::new();
    let (tx, _rx) = unbounded_channel();
    system.spawn_named("taken", Collector(tx)).expect("free name");
    let (tx, _timeouts) = unbounded_channel();
    let result = system.get_or_spawn_named("taken", move || Napper { timeouts: tx }).await;
    assert!(matches!(result, Err(courier::SpawnError::NameTaken(name)) if name == "taken"));
}
