//! Watching actors on another node, and spawning them there by kind: two
//! nodes in one process over real QUIC on loopback.

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

/// What the watched actors serve.
#[courier::actor]
pub trait Counter {
    /// Adds `n`; returns the total.
    async fn add(&mut self, n: u64) -> u64;
    /// Stops this actor after this call.
    async fn quit(&self);
    /// Panics with `why`.
    async fn explode(&self, why: String);
}

#[derive(Default)]
struct Total(u64);

impl Actor for Total {}

impl Counter for Total {
    async fn add(&mut self, n: u64) -> u64 {
        self.0 += n;
        self.0
    }

    async fn quit(&self) {
        Context::<Self>::current().stop();
    }

    async fn explode(&self, why: String) {
        panic!("{why}");
    }
}

/// The watching side, driven by the test.
#[courier::actor(local)]
pub trait Monitor {
    /// Watches `target`.
    async fn watch(&self, target: CounterRef);
    /// Stops watching `target`.
    async fn unwatch(&self, target: CounterRef);
}

struct Watcher(UnboundedSender<Terminated>);

impl Actor for Watcher {
    async fn terminated(&mut self, _: &Context<Self>, notice: Terminated) {
        let _ = self.0.send(notice);
    }
}

impl Monitor for Watcher {
    async fn watch(&self, target: CounterRef) {
        Context::<Self>::current().watch(&target);
    }

    async fn unwatch(&self, target: CounterRef) {
        Context::<Self>::current().unwatch(&target);
    }
}

fn watcher(system: &System) -> (MonitorRef, UnboundedReceiver<Terminated>) {
    let (notices, received) = unbounded_channel();
    (system.spawn(Watcher(notices)).into(), received)
}

async fn next(received: &mut UnboundedReceiver<Terminated>) -> Terminated {
    timeout(BOUND, received.recv()).await.expect("a notice in time").expect("the watcher is alive")
}

fn certs(test: &str) -> PathBuf {
    nodes::certs("remote-watch", test)
}

/// Two nodes; the server serves a fresh counter as `name`, which the client
/// looks up.
async fn pair(test: &str, names: &[&str]) -> (System, System, Vec<CounterRef>) {
    let dir = certs(test);
    let (server, client) = (node(&dir, "server"), node(&dir, "client"));
    let mut refs = Vec::new();
    for name in names {
        let counter: CounterRef = server.spawn(Total::default()).into();
        server.serve(*name, &counter).expect("a free name");
        let remote = timeout(BOUND, client.remote(addr(&server), name)).await.expect("in time").expect("found");
        refs.push(remote);
    }
    (server, client, refs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_stop_and_a_remote_failure_arrive_with_their_reasons() {
    let (server, client, refs) = pair("reasons", &["quits", "explodes"]).await;
    let (monitor, mut received) = watcher(&client);
    for counter in &refs {
        monitor.watch(counter.clone()).await.expect("watching");
    }
    // A watch frame goes on the lane of calls from outside any actor to
    // the same target, so the calls below arrive after it.
    refs[0].quit().await.expect("quits");
    assert_eq!(next(&mut received).await, Terminated { id: refs[0].actor_id(), reason: ExitReason::Stopped });
    let failed = refs[1].explode("out of cheese".into()).await;
    assert!(matches!(failed, Err(CallError::ActorFailed { .. })), "{failed:?}");
    let notice = next(&mut received).await;
    assert_eq!(notice.id, refs[1].actor_id());
    assert_eq!(notice.reason, ExitReason::Failed { reason: "out of cheese".into() });
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_a_remote_actor_that_is_gone_says_not_found() {
    let (server, client, refs) = pair("gone", &["quits"]).await;
    refs[0].quit().await.expect("quits");
    // Its export leaves with it; then nothing is left to watch.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (monitor, mut received) = watcher(&client);
    monitor.watch(refs[0].clone()).await.expect("watching");
    assert_eq!(next(&mut received).await, Terminated { id: refs[0].actor_id(), reason: ExitReason::NotFound });
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwatched_remote_actor_sends_no_notice() {
    let (server, client, refs) = pair("unwatch", &["quits"]).await;
    let (monitor, mut received) = watcher(&client);
    monitor.watch(refs[0].clone()).await.expect("watching");
    monitor.unwatch(refs[0].clone()).await.expect("unwatching");
    refs[0].quit().await.expect("quits");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(received.try_recv().is_err(), "no notice after unwatch");
    let stats = client.network_stats().expect("a transport");
    assert_eq!(stats.stray_replies, 0, "the other node kept a watch it was asked to drop");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_local_watchers_share_one_remote_watch() {
    let (server, client, refs) = pair("many", &["quits"]).await;
    let mut all = Vec::new();
    for _ in 0..10 {
        let (monitor, received) = watcher(&client);
        monitor.watch(refs[0].clone()).await.expect("watching");
        all.push(received);
    }
    // Same lane as the watches: once this is answered, they have arrived.
    refs[0].add(0).await.expect("a call");
    let before = server.network_stats().expect("a transport").frames_received;
    refs[0].quit().await.expect("quits");
    for received in &mut all {
        assert_eq!(next(received).await.id, refs[0].actor_id());
    }
    // The quit call itself is the only frame the server got since.
    assert_eq!(server.network_stats().expect("a transport").frames_received, before + 1);
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_kind_is_spawned_on_the_other_node_and_watched() {
    let dir = certs("spawn");
    let (server, client) = (node(&dir, "server"), node(&dir, "client"));
    server.register_kind("counter", |system| -> CounterRef { system.spawn(Total::default()).into() }).expect("free");
    server.register_kind("broken", |_| -> CounterRef { panic!("the factory is broken") }).expect("free");
    assert!(server.register_kind("counter", |system| -> CounterRef { system.spawn(Total(1)).into() }).is_err());

    let first: CounterRef =
        timeout(BOUND, client.spawn_remote(addr(&server), "counter")).await.expect("in time").expect("spawned");
    let second: CounterRef =
        timeout(BOUND, client.spawn_remote(addr(&server), "counter")).await.expect("in time").expect("spawned");
    assert_ne!(first.actor_id(), second.actor_id());
    assert_eq!(first.actor_id().node, server.id(), "it runs on the server");
    assert_eq!(first.add(2).await, Ok(2));
    assert_eq!(second.add(5).await, Ok(5));

    let unknown = client.spawn_remote::<CounterRef>(addr(&server), "nothing").await;
    assert!(matches!(&unknown, Err(CallError::NotFound { what }) if what.contains("nothing")), "{unknown:?}");
    let broken = client.spawn_remote::<CounterRef>(addr(&server), "broken").await;
    assert!(matches!(&broken, Err(CallError::ActorFailed { reason }) if reason.contains("broken")), "{broken:?}");

    let (monitor, mut received) = watcher(&client);
    monitor.watch(first.clone()).await.expect("watching");
    first.quit().await.expect("quits");
    assert_eq!(next(&mut received).await, Terminated { id: first.actor_id(), reason: ExitReason::Stopped });
    assert_eq!(second.add(1).await, Ok(6), "the other one runs on");
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factory_that_takes_its_time_holds_up_no_other_traffic() {
    let (server, client, refs) = pair("slow-factory", &["total"]).await;
    // The factory tells when it runs, then waits until the test lets it go.
    let (entered, factory_runs) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new((entered, released));
    server
        .register_kind("gated", move |system| -> CounterRef {
            let gate = gate.lock().expect("one spawn at a time");
            let _ = gate.0.send(());
            let _ = gate.1.recv_timeout(BOUND);
            system.spawn(Total::default()).into()
        })
        .expect("free");
    let spawning = tokio::spawn({
        let (client, at) = (client.clone(), addr(&server));
        async move { client.spawn_remote::<CounterRef>(at, "gated").await }
    });
    let waited = tokio::task::spawn_blocking(move || factory_runs.recv_timeout(BOUND));
    waited.await.expect("joined").expect("the factory runs");
    // Calls over the same connection go on while the factory waits.
    let added = timeout(Duration::from_secs(5), refs[0].add(3)).await;
    assert_eq!(added, Ok(Ok(3)), "a call answered while the factory runs");
    release.send(()).expect("the factory waits");
    let spawned = timeout(BOUND, spawning).await.expect("in time").expect("joined").expect("spawned");
    assert_eq!(spawned.add(4).await, Ok(4));
    client.shutdown().await;
    server.shutdown().await;
}
