//! Routers over pools and groups, each strategy, used through the service's
//! own ref type.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use courier::prelude::*;
use courier::{Directive, Router, Routing, SpawnError, Supervisor};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(10);

/// A shard of a key-value store.
#[courier::actor]
pub trait Shard {
    /// This worker's id (its `seq`).
    async fn whoami(&self) -> u64;
    /// Stores `value` under `key`; answers with this worker's id.
    async fn put(&mut self, key: String, value: u64) -> u64;
    /// Counts one, one-way.
    #[tell]
    async fn bump(&mut self);
    /// How many bumps this worker had.
    async fn bumps(&self) -> u64;
    /// Panics.
    async fn explode(&self);
}

/// A worker.
#[derive(Default)]
pub struct Store {
    bumps: u64,
    values: HashMap<String, u64>,
}

impl Actor for Store {}

impl Shard for Store {
    async fn whoami(&self) -> u64 {
        Context::<Self>::current().id().seq
    }

    async fn put(&mut self, key: String, value: u64) -> u64 {
        self.values.insert(key, value);
        Context::<Self>::current().id().seq
    }

    async fn bump(&mut self) {
        self.bumps += 1;
    }

    async fn bumps(&self) -> u64 {
        self.bumps
    }

    async fn explode(&self) {
        panic!("shard down");
    }
}

/// Code written against one shard works unchanged with a router of them.
async fn ask_three_times(shard: ShardRef) -> Result<Vec<u64>, CallError> {
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(shard.whoami().await?);
    }
    Ok(answers)
}

fn spawn_group(system: &System, n: usize) -> Vec<ShardRef> {
    (0..n).map(|_| system.spawn(Store::default()).into()).collect()
}

#[tokio::test]
async fn round_robin_takes_each_worker_in_turn() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let router: Router<ShardRef> = system.pool(3, Routing::round_robin(), Store::default)?;
    let workers: Vec<u64> = router.routees().iter().map(|id| id.seq).collect();
    assert_eq!(workers.len(), 3);
    let first = ask_three_times(router.service()).await?;
    let second = ask_three_times(router.service()).await?;
    assert_eq!(first.iter().collect::<HashSet<_>>(), workers.iter().collect::<HashSet<_>>(), "each once");
    assert_eq!(first, second, "in the same turn");
    Ok(())
}

#[tokio::test]
async fn random_reaches_every_worker() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let router: Router<ShardRef> = system.pool(3, Routing::random(), Store::default)?;
    let mut seen = HashSet::new();
    for _ in 0..300 {
        seen.insert(router.whoami().await?);
    }
    assert_eq!(seen.len(), 3);
    Ok(())
}

#[tokio::test]
async fn broadcast_reaches_every_routee() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let shards = spawn_group(&system, 3);
    let router = system.group(shards.clone(), Routing::broadcast())?;
    for _ in 0..5 {
        router.bump().await?;
    }
    // A call goes to all and is answered by the first.
    let answer = router.whoami().await?;
    assert!(shards.iter().any(|s| s.actor_id().seq == answer));
    for shard in &shards {
        assert_eq!(shard.bumps().await?, 5);
    }
    Ok(())
}

#[tokio::test]
async fn a_broadcast_call_fails_only_when_every_routee_fails() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let router = system.group(spawn_group(&system, 2), Routing::broadcast())?;
    let failed = timeout(BOUND, router.explode()).await?;
    assert!(matches!(failed, Err(CallError::ActorFailed { .. })), "{failed:?}");
    Ok(())
}

#[tokio::test]
async fn consistent_hash_keeps_a_key_on_one_worker() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let actors: Vec<ActorRef<Store>> = (0..4).map(|_| system.spawn(Store::default())).collect();
    let shards: Vec<ShardRef> = actors.iter().map(|a| a.clone().into()).collect();
    let by_key = Routing::consistent_hash(|request: &ShardRequest| match request {
        ShardRequest::Put(key, _) => key.clone(),
        _ => String::new(),
    });
    let router = system.group(shards.clone(), by_key)?;
    let mut owners = HashMap::new();
    for round in 0..3 {
        for user in 0..40 {
            let owner = router.put(format!("user-{user}"), round).await?;
            assert_eq!(*owners.entry(user).or_insert(owner), owner, "user-{user} moved");
        }
    }
    assert!(owners.values().collect::<HashSet<_>>().len() > 1, "keys spread over workers");
    // A routee leaving moves only its own keys.
    let gone = actors[0].id().seq;
    actors[0].stop();
    actors[0].wait_stopped().await;
    let leaving = async {
        while router.routees().len() > 3 {
            tokio::task::yield_now().await;
        }
    };
    timeout(BOUND, leaving).await?;
    for (user, owner) in &owners {
        let now = router.put(format!("user-{user}"), 9).await?;
        if *owner != gone {
            assert_eq!(now, *owner, "user-{user} moved though its worker stayed");
        } else {
            assert_ne!(now, gone);
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_group_drops_a_routee_that_ends_and_stops_with_the_last() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let actors: Vec<ActorRef<Store>> = (0..2).map(|_| system.spawn(Store::default())).collect();
    let router = system.group(actors.iter().map(|a| ShardRef::from(a.clone())), Routing::round_robin())?;
    actors[0].stop();
    // Calls right after the stop still succeed: the ended routee is passed over.
    for _ in 0..4 {
        assert_eq!(router.whoami().await?, actors[1].id().seq);
    }
    actors[1].stop();
    timeout(BOUND, router.wait_stopped()).await?;
    assert_eq!(router.whoami().await, Err(CallError::ActorStopped));
    Ok(())
}

#[tokio::test]
async fn pool_workers_restart_and_stop_with_their_router() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let router: Router<ShardRef> = system.pool(2, Routing::round_robin(), Store::default)?;
    let before = router.routees();
    router.bump().await?;
    assert!(matches!(router.explode().await, Err(CallError::ActorFailed { .. })));
    // Restarted in place: same ids, and every worker still answers.
    assert_eq!(router.routees(), before);
    let mut seen = HashSet::new();
    for _ in 0..4 {
        seen.insert(router.whoami().await?);
    }
    assert_eq!(seen.len(), 2);
    router.stop();
    timeout(BOUND, router.wait_stopped()).await?;
    assert_eq!(router.whoami().await, Err(CallError::ActorStopped));
    Ok(())
}

#[tokio::test]
async fn a_pool_supervisor_can_let_a_failing_worker_go_and_keep_the_rest() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let stop_failed = Supervisor::one_for_one().decide(|_| Directive::Stop);
    let router: Router<ShardRef> = system.pool(3, Routing::round_robin().supervisor(stop_failed), Store::default)?;
    assert!(matches!(router.explode().await, Err(CallError::ActorFailed { .. })));
    let shrunk = async {
        while router.routees().len() > 2 {
            tokio::task::yield_now().await;
        }
    };
    timeout(BOUND, shrunk).await?;
    // The two others still serve, and the router stays up.
    let mut seen = HashSet::new();
    for _ in 0..4 {
        seen.insert(router.whoami().await?);
    }
    assert_eq!(seen.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_router_is_watched_like_an_actor() -> Result<(), Box<dyn std::error::Error>> {
    let system = System::new();
    let router: Router<ShardRef> = system.pool(2, Routing::round_robin(), Store::default)?;
    let (tx, mut notices) = tokio::sync::mpsc::unbounded_channel();
    let watcher = system.spawn(Watcher(tx));
    let watch: WatchRef = watcher.into();
    watch.watch(router.service()).await?;
    router.stop();
    let notice = timeout(BOUND, notices.recv()).await?.expect("watcher alive");
    assert_eq!((notice.id, notice.reason), (router.id(), ExitReason::Stopped));
    Ok(())
}

/// Watches on the test's behalf.
#[courier::actor(local)]
pub trait Watch {
    /// Watches `target`.
    async fn watch(&self, target: ShardRef);
}

/// Passes its notices to the test.
pub struct Watcher(tokio::sync::mpsc::UnboundedSender<Terminated>);

impl Actor for Watcher {
    async fn terminated(&mut self, _: &Context<Self>, notice: Terminated) {
        let _ = self.0.send(notice);
    }
}

impl Watch for Watcher {
    async fn watch(&self, target: ShardRef) {
        Context::<Self>::current().watch(&target);
    }
}

/// A service that never leaves the process.
#[courier::actor(local)]
pub trait Local {
    /// Does nothing.
    async fn nothing(&self);
}

impl Local for Store {
    async fn nothing(&self) {}
}

#[tokio::test]
async fn bad_routers_are_refused() {
    let system = System::new();
    let empty = system.pool::<ShardRef, _>(0, Routing::round_robin(), Store::default);
    assert_eq!(empty.err(), Some(SpawnError::NoRoutees));
    let none = system.group(Vec::<ShardRef>::new(), Routing::random());
    assert_eq!(none.err(), Some(SpawnError::NoRoutees));
    let local = system.pool::<LocalRef, _>(2, Routing::broadcast(), Store::default);
    assert_eq!(local.err(), Some(SpawnError::CannotBroadcast("Local")));
}
