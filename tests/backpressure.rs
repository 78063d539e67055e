//! Backpressure under load: senders on several threads filling small
//! mailboxes; nothing is lost and nobody waits forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use courier::prelude::*;
use courier::{CallError, MailboxSize};
use tokio::time::timeout;

/// Far above what the work needs; a lost wake-up would hit it.
const BOUND: Duration = Duration::from_secs(60);

/// A counter fed one-way.
#[courier::actor]
pub trait Tally {
    /// Adds `n`.
    #[tell]
    async fn add(&mut self, n: u64);
    /// The total.
    async fn total(&self) -> u64;
}

/// A tally whose mailbox holds `CAPACITY` messages.
struct Counter<const CAPACITY: usize>(u64);

/// Small enough that senders wait often.
type Small = Counter<4>;

/// Never full in these tests.
type Roomy = Counter<10_000>;

impl<const CAPACITY: usize> Counter<CAPACITY> {
    fn empty() -> Self {
        Counter(0)
    }
}

impl<const CAPACITY: usize> Actor for Counter<CAPACITY> {
    const MAILBOX: MailboxSize = MailboxSize::Bounded(CAPACITY);
}

impl<const CAPACITY: usize> Tally for Counter<CAPACITY> {
    async fn add(&mut self, n: u64) {
        self.0 += n;
    }
    async fn total(&self) -> u64 {
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_senders_on_a_small_mailbox_lose_nothing() -> Result<(), CallError> {
    const SENDERS: u64 = 4;
    const EACH: u64 = 20_000;
    let system = System::new();
    let tally: TallyRef = system.spawn(Small::empty()).into();
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let tally = tally.clone();
            tokio::spawn(async move {
                for _ in 0..EACH {
                    tally.add(1).await?;
                }
                Ok::<(), CallError>(())
            })
        })
        .collect();
    for sender in senders {
        timeout(BOUND, sender).await.expect("no sender waits forever").expect("sender task")?;
    }
    assert_eq!(tally.total().await?, SENDERS * EACH);
    system.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_sends_interleave_on_a_small_mailbox() -> Result<(), CallError> {
    let system = System::new();
    let tally: TallyRef = system.spawn(Small::empty()).into();
    let sender = tokio::spawn({
        let tally = tally.clone();
        async move {
            for _ in 0..20_000 {
                tally.add(1).await?;
            }
            Ok::<(), CallError>(())
        }
    });
    let mut last = 0;
    for _ in 0..2_000 {
        let now = timeout(BOUND, tally.total()).await.expect("no call waits forever")?;
        assert!(now >= last, "totals only grow");
        last = now;
    }
    timeout(BOUND, sender).await.expect("the sender finishes").expect("sender task")?;
    assert_eq!(tally.total().await?, 20_000);
    system.shutdown().await;
    Ok(())
}

/// Tells spend tokio's cooperative budget: a loop of them into a mailbox
/// with room still lets the other tasks of its thread run (here, the actor
/// itself), instead of holding the thread until the mailbox is full.
#[tokio::test(flavor = "current_thread")]
async fn a_loop_of_tells_lets_other_tasks_run() -> Result<(), CallError> {
    let system = System::new();
    let tally: TallyRef = system.spawn(Roomy::empty()).into();
    tally.total().await?;
    let other = Arc::new(AtomicBool::new(false));
    let flag = other.clone();
    tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    for _ in 0..5_000 {
        tally.add(1).await?;
    }
    assert!(other.load(Ordering::SeqCst), "the other task ran during the loop");
    assert_eq!(tally.total().await?, 5_000);
    system.shutdown().await;
    Ok(())
}
