//! Lifecycle: hooks, children, names, context, shutdown order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier::prelude::*;
use courier::{ActorId, SpawnError};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(5);

/// What happened, in order, across actors.
type Log = Arc<Mutex<Vec<String>>>;

fn entries(log: &Log) -> Vec<String> {
    log.lock().expect("log lock").clone()
}

/// A service for tree-shaped tests.
#[courier::actor(local)]
pub trait Node {
    /// Spawns a child named `name` under this actor.
    async fn spawn_child(&mut self, name: String) -> Option<NodeRef>;
    /// Who sent this message, and this actor's own id.
    async fn whoami(&self) -> (Option<ActorId>, ActorId);
    /// Asks `other` who it is, so that it sees this actor as its caller.
    async fn ask(&self, other: NodeRef) -> Option<ActorId>;
    /// Stops this actor after this message.
    async fn stop_self(&mut self);
}

struct Logged {
    name: String,
    log: Log,
}

impl Logged {
    fn new(name: &str, log: &Log) -> Self {
        Logged { name: name.to_owned(), log: log.clone() }
    }

    fn record(&self, what: &str) {
        self.log.lock().expect("log lock").push(format!("{} {what}", self.name));
    }
}

impl Actor for Logged {
    async fn started(&mut self, _: &Context<Self>) {
        self.record("started");
    }
    async fn stopping(&mut self, _: &Context<Self>) {
        self.record("stopping");
    }
    async fn stopped(&mut self, _: &Context<Self>) {
        self.record("stopped");
    }
}

impl Node for Logged {
    async fn spawn_child(&mut self, name: String) -> Option<NodeRef> {
        let child = Logged::new(&name, &self.log);
        Context::<Self>::current().spawn(child).ok().map(Into::into)
    }
    async fn whoami(&self) -> (Option<ActorId>, ActorId) {
        let ctx = Context::<Self>::current();
        (ctx.caller(), ctx.id())
    }
    async fn ask(&self, other: NodeRef) -> Option<ActorId> {
        other.whoami().await.ok().and_then(|(caller, _)| caller)
    }
    async fn stop_self(&mut self) {
        Context::<Self>::current().stop();
    }
}

#[tokio::test]
async fn hooks_run_in_order_and_children_stop_before_parents() -> Result<(), CallError> {
    let log = Log::default();
    let system = System::new();
    let root: NodeRef = system.spawn(Logged::new("root", &log)).into();
    let child = root.spawn_child("child".into()).await?.expect("a child");
    let grandchild = child.spawn_child("grandchild".into()).await?.expect("a grandchild");
    grandchild.whoami().await?;
    timeout(BOUND, system.shutdown()).await.expect("shutdown is bounded");
    let log = entries(&log);
    let at = |what: &str| log.iter().position(|e| e == what).unwrap_or_else(|| panic!("no `{what}` in {log:?}"));
    assert!(at("root started") < at("child started"));
    assert!(at("grandchild stopped") < at("child stopped"));
    assert!(at("child stopped") < at("root stopped"));
    assert!(at("root stopping") < at("child stopping"), "a parent stops taking messages first: {log:?}");
    assert_eq!(grandchild.whoami().await, Err(CallError::ActorStopped));
    Ok(())
}

#[tokio::test]
async fn a_stopped_parent_takes_its_children_with_it() -> Result<(), CallError> {
    let log = Log::default();
    let system = System::new();
    let parent: NodeRef = system.spawn(Logged::new("parent", &log)).into();
    let child = parent.spawn_child("child".into()).await?.expect("a child");
    parent.stop_self().await?;
    timeout(BOUND, async {
        while child.whoami().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the child stops with its parent");
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_handler_knows_its_caller_and_itself() -> Result<(), CallError> {
    let log = Log::default();
    let system = System::new();
    let a: NodeRef = system.spawn(Logged::new("a", &log)).into();
    let b: NodeRef = system.spawn(Logged::new("b", &log)).into();
    let (caller, me) = a.whoami().await?;
    assert_eq!(caller, None, "the test is not an actor");
    assert_eq!(me, a.actor_id());
    assert_eq!(a.ask(b.clone()).await?, Some(a.actor_id()));
    system.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn names_are_unique_found_by_lookup_and_freed_on_stop() {
    let log = Log::default();
    let system = System::new();
    let first = system.spawn_named("lobby", Logged::new("lobby", &log)).expect("a free name");
    let taken = system.spawn_named("lobby", Logged::new("again", &log));
    assert!(matches!(taken, Err(SpawnError::NameTaken(name)) if name == "lobby"));
    let found = system.lookup::<Logged>("lobby").expect("found by name");
    assert_eq!(found.id(), first.id());
    assert!(system.lookup::<Logged>("nobody").is_none());
    first.stop();
    timeout(BOUND, first.wait_stopped()).await.expect("bounded");
    assert!(system.lookup::<Logged>("lobby").is_none());
    let second = system.spawn_named("lobby", Logged::new("second", &log)).expect("the name is free again");
    assert_ne!(second.id(), first.id());
    system.shutdown().await;
}

#[tokio::test]
async fn a_system_refuses_named_spawns_once_shut_down() {
    let log = Log::default();
    let system = System::new();
    system.shutdown().await;
    let late = system.spawn_named("late", Logged::new("late", &log));
    assert!(matches!(late, Err(SpawnError::ShuttingDown)));
    let unnamed = system.spawn(Logged::new("unnamed", &log));
    timeout(BOUND, unnamed.wait_stopped()).await.expect("a late actor is stopped at once");
}
