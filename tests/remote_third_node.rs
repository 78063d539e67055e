//! Refs handed on to a third node: node A holds a directory of refs to
//! actors of node B; node C, which has never met B, looks one up on A and
//! calls, tells and watches it. Three nodes in one process over real QUIC
//! on loopback.

mod nodes;

use std::path::PathBuf;
use std::time::Duration;

use courier::CallError;
use courier::prelude::*;
use nodes::{addr, node};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::timeout;

/// Far above anything on loopback: a test that needs it has hung.
const BOUND: Duration = Duration::from_secs(20);

/// Node A's directory of refs.
#[courier::actor]
pub trait Directory {
    /// Keeps `tally` under `name`.
    async fn register(&mut self, name: String, tally: TallyRef);
    /// The tally kept under `name`.
    async fn lookup(&self, name: String) -> Option<TallyRef>;
}

#[derive(Default)]
struct Names(Vec<(String, TallyRef)>);

impl Actor for Names {}

impl Directory for Names {
    async fn register(&mut self, name: String, tally: TallyRef) {
        self.0.push((name, tally));
    }

    async fn lookup(&self, name: String) -> Option<TallyRef> {
        self.0.iter().find(|(known, _)| *known == name).map(|(_, tally)| tally.clone())
    }
}

/// What node B's actors serve.
#[courier::actor]
pub trait Tally {
    /// Adds `n`; returns the total.
    async fn add(&mut self, n: u64) -> u64;
    /// Adds `n`, one-way.
    #[tell]
    async fn bump(&mut self, n: u64);
    /// Stops this actor after this call.
    async fn quit(&self);
}

#[derive(Default)]
struct Total(u64);

impl Actor for Total {}

impl Tally for Total {
    async fn add(&mut self, n: u64) -> u64 {
        self.0 += n;
        self.0
    }

    async fn bump(&mut self, n: u64) {
        self.0 += n;
    }

    async fn quit(&self) {
        Context::<Self>::current().stop();
    }
}

/// Node C's watcher.
#[courier::actor(local)]
pub trait Monitor {
    /// Watches `target`.
    async fn watch(&self, target: TallyRef);
}

struct Watcher(UnboundedSender<Terminated>);

impl Actor for Watcher {
    async fn terminated(&mut self, _: &Context<Self>, notice: Terminated) {
        let _ = self.0.send(notice);
    }
}

impl Monitor for Watcher {
    async fn watch(&self, target: TallyRef) {
        Context::<Self>::current().watch(&target);
    }
}

fn certs(test: &str) -> PathBuf {
    nodes::certs("remote-third-node", test)
}

/// Has an actor on `system` watch `target`; its notices arrive on the
/// receiver.
async fn watch_from(system: &System, target: &TallyRef) -> UnboundedReceiver<Terminated> {
    let (notices, received) = unbounded_channel();
    let monitor: MonitorRef = system.spawn(Watcher(notices)).into();
    monitor.watch(target.clone()).await.expect("watching");
    received
}

async fn next(received: &mut UnboundedReceiver<Terminated>) -> Terminated {
    timeout(BOUND, received.recv()).await.expect("a notice in time").expect("the watcher is alive")
}

/// Nodes A, B and C for `test`; B has registered a fresh tally on A's
/// directory as "tally". C has met neither.
async fn registered(test: &str) -> (System, System, System) {
    let dir = certs(test);
    let (a, b, c) = (node(&dir, "a"), node(&dir, "b"), node(&dir, "c"));
    let directory: DirectoryRef = a.spawn(Names::default()).into();
    a.serve("directory", &directory).expect("a free name");
    let on_b: DirectoryRef = timeout(BOUND, b.remote(addr(&a), "directory")).await.expect("in time").expect("found");
    let tally: TallyRef = b.spawn(Total::default()).into();
    on_b.register("tally".into(), tally).await.expect("registered");
    (a, b, c)
}

/// Nodes A, B and C; B registers a fresh tally on A's directory as
/// "tally", which C looks up. C has not met B when it gets the ref.
async fn three(test: &str) -> (System, System, System, TallyRef) {
    let (a, b, c) = registered(test).await;
    let on_c: DirectoryRef = timeout(BOUND, c.remote(addr(&a), "directory")).await.expect("in time").expect("found");
    assert_eq!(c.network_stats().expect("a node").connections, 1, "C has met A only");
    let found = timeout(BOUND, on_c.lookup("tally".into())).await.expect("in time").expect("answered");
    (a, b, c, found.expect("registered on A"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ref_from_a_third_node_is_called_told_and_watched_where_its_actor_lives() {
    let (a, b, c, tally) = three("call").await;
    // The first call waits while C connects to B.
    assert_eq!(timeout(BOUND, tally.add(2)).await.expect("in time"), Ok(2));
    for _ in 0..10 {
        tally.bump(1).await.expect("queued");
    }
    assert_eq!(timeout(BOUND, tally.add(0)).await.expect("in time"), Ok(12), "the tells came before, in order");
    assert_eq!(c.network_stats().expect("a node").connections, 2, "C connected to B itself");

    let mut received = watch_from(&c, &tally).await;
    tally.quit().await.expect("quits");
    assert_eq!(next(&mut received).await, Terminated { id: tally.actor_id(), reason: ExitReason::Stopped });

    for system in [c, b, a] {
        system.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_asked_before_the_third_node_is_reached_is_kept() {
    let (a, b, c, tally) = three("early-watch").await;
    // Watched before anything was sent: the watch waits for the
    // connection the ref asked for.
    let mut received = watch_from(&c, &tally).await;
    assert_eq!(timeout(BOUND, tally.add(1)).await.expect("in time"), Ok(1));
    tally.quit().await.expect("quits");
    assert_eq!(next(&mut received).await, Terminated { id: tally.actor_id(), reason: ExitReason::Stopped });
    for system in [c, b, a] {
        system.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ref_to_a_node_that_is_gone_fails_with_node_unreachable() {
    let (a, b, c, tally) = three("gone").await;
    b.shutdown().await;
    let started = std::time::Instant::now();
    let called = timeout(BOUND, tally.add(1)).await.expect("in time");
    assert!(matches!(called, Err(CallError::NodeUnreachable { .. })), "{called:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "failed when the connection failed, not at a timeout");
    let mut received = watch_from(&c, &tally).await;
    let notice = next(&mut received).await;
    assert!(matches!(notice.reason, ExitReason::NodeLost { .. }), "{notice:?}");
    for system in [c, a] {
        system.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refs_to_a_node_that_cannot_be_reached_cost_one_dial() {
    let (a, b, c) = registered("unreachable").await;
    // B is gone before C reads a ref to it.
    b.shutdown().await;
    let on_c: DirectoryRef = timeout(BOUND, c.remote(addr(&a), "directory")).await.expect("in time").expect("found");
    for _ in 0..5 {
        let found = timeout(BOUND, on_c.lookup("tally".into())).await.expect("in time").expect("answered");
        let tally = found.expect("registered on A");
        let called = timeout(BOUND, tally.add(1)).await.expect("in time");
        assert!(matches!(called, Err(CallError::NodeUnreachable { .. })), "{called:?}");
        let mut received = watch_from(&c, &tally).await;
        let notice = next(&mut received).await;
        assert!(matches!(notice.reason, ExitReason::NodeLost { .. }), "{notice:?}");
    }
    let stats = c.network_stats().expect("a node");
    assert_eq!(stats.failed_introductions, 1, "one dial for five refs: {stats:?}");
    for system in [c, a] {
        system.shutdown().await;
    }
}
