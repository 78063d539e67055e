//! Stash: an actor puts messages aside until it is ready, then takes them
//! back in the order they came, calls included.

use std::time::Duration;

use courier::prelude::*;
use courier::stash::{Admit, Queued};
use courier::{MailboxSize, TrySendError};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(10);

/// A store that must load before it serves.
#[courier::actor(local)]
pub trait Store {
    /// Appends `item`; one-way.
    #[tell]
    async fn push(&mut self, item: u32);
    /// Everything pushed so far, in order.
    async fn items(&self) -> Vec<u32>;
    /// Served at once, loaded or not.
    async fn health(&self) -> &'static str;
    /// Finishes loading: the stashed messages come back.
    async fn loaded(&mut self) -> usize;
    /// Panics.
    async fn explode(&self);
    /// How many messages wait in the stash.
    async fn stashed(&self) -> usize;
}

/// Stashes every `Store` message but `health`, `loaded`, `explode` and
/// `stashed` until loaded.
#[derive(Default)]
pub struct Lazy {
    loaded: bool,
    items: Vec<u32>,
    /// Told of each message stashed.
    stashing: Option<UnboundedSender<()>>,
}

impl Actor for Lazy {
    const MAILBOX: MailboxSize = MailboxSize::Bounded(8);

    fn admit(&self, _: &Context<Self>, message: &Queued<'_>) -> Admit {
        match message.request::<StoreRequest>() {
            _ if self.loaded => Admit::Handle,
            Some(StoreRequest::Push(_) | StoreRequest::Items) => {
                if let Some(stashing) = &self.stashing {
                    let _ = stashing.send(());
                }
                Admit::Stash
            }
            _ => Admit::Handle,
        }
    }
}

impl Store for Lazy {
    async fn push(&mut self, item: u32) {
        self.items.push(item);
    }

    async fn items(&self) -> Vec<u32> {
        self.items.clone()
    }

    async fn health(&self) -> &'static str {
        if self.loaded { "serving" } else { "loading" }
    }

    async fn loaded(&mut self) -> usize {
        self.loaded = true;
        Context::<Self>::current().unstash_all()
    }

    async fn explode(&self) {
        panic!("boom");
    }

    async fn stashed(&self) -> usize {
        Context::<Self>::current().stashed()
    }
}

/// Waits until `store` has `n` messages stashed.
async fn stashed(store: &StoreRef, n: usize) -> Result<(), CallError> {
    let wait = async {
        while store.stashed().await? != n {
            tokio::task::yield_now().await;
        }
        Ok(())
    };
    timeout(BOUND, wait).await.map_err(|_| CallError::Timeout)?
}

#[tokio::test]
async fn stashed_calls_and_sends_are_handled_in_order_once_ready() -> Result<(), CallError> {
    let system = System::new();
    let store: StoreRef = system.spawn(Lazy::default()).into();
    for item in 0..3 {
        store.push(item).await?;
    }
    let early = tokio::spawn({
        let store = store.clone();
        async move { store.items().await }
    });
    stashed(&store, 4).await?;
    store.push(3).await?;
    // Unstashed ones keep being served meanwhile.
    assert_eq!(store.health().await?, "loading");
    stashed(&store, 5).await?;
    assert_eq!(store.loaded().await?, 5);
    assert_eq!(timeout(BOUND, early).await.expect("replied").expect("no panic")?, vec![0, 1, 2]);
    assert_eq!(store.items().await?, vec![0, 1, 2, 3]);
    assert_eq!(store.health().await?, "serving");
    Ok(())
}

#[tokio::test]
async fn a_stashed_call_still_times_out_at_its_deadline() -> Result<(), CallError> {
    let system = System::new();
    let store: StoreRef = system.spawn(Lazy::default()).into();
    let waited = timeout(BOUND, store.items().timeout(Duration::from_millis(100))).await;
    assert_eq!(waited.expect("the deadline ends the wait"), Err(CallError::Timeout));
    // The expired call left the stash: loading brings nothing back.
    assert_eq!(store.loaded().await?, 0);
    Ok(())
}

#[tokio::test]
async fn stashed_messages_count_against_the_mailbox() -> Result<(), CallError> {
    let system = System::new();
    let (tx, mut stashing) = unbounded_channel();
    let store: StoreRef = system.spawn(Lazy { stashing: Some(tx), ..Lazy::default() }).into();
    for item in 0..8 {
        store.push(item).await?;
    }
    for _ in 0..8 {
        timeout(BOUND, stashing.recv()).await.expect("stashed in time");
    }
    // All eight left the queue for the stash, and still fill the mailbox.
    assert!(matches!(store.push(8).try_send(), Err(TrySendError::Full(_))));
    Ok(())
}

#[tokio::test]
async fn stashed_calls_fail_when_the_actor_stops() -> Result<(), CallError> {
    let system = System::new();
    let actor = system.spawn(Lazy::default());
    let store: StoreRef = actor.clone().into();
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.items().await }
    });
    stashed(&store, 1).await?;
    actor.stop();
    assert_eq!(timeout(BOUND, waiting).await.expect("answered").expect("no panic"), Err(CallError::ActorStopped));
    Ok(())
}

#[tokio::test]
async fn the_stash_survives_a_restart() -> Result<(), CallError> {
    let system = System::new();
    let store: StoreRef = system.spawn_with(Lazy::default).into();
    store.push(1).await?;
    store.push(2).await?;
    stashed(&store, 2).await?;
    assert!(matches!(store.explode().await, Err(CallError::ActorFailed { .. })));
    // The new instance is not loaded either: it stashes them again.
    assert_eq!(store.health().await?, "loading");
    assert_eq!(store.loaded().await?, 2);
    assert_eq!(store.items().await?, vec![1, 2]);
    Ok(())
}
