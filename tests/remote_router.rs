//! Routers over refs to actors on another node: two nodes in one process
//! over real QUIC on loopback.

mod nodes;

use std::collections::HashSet;
use std::time::Duration;

use courier::prelude::*;
use courier::{Router, Routing};
use nodes::{addr, node};
use tokio::time::timeout;

/// Far above anything on loopback: a test that needs it has hung.
const BOUND: Duration = Duration::from_secs(20);

/// A counter that says who it is.
#[courier::actor]
pub trait Tally {
    /// Adds `n` to `key`'s count; returns this actor's id (node and seq)
    /// and the count.
    async fn add(&mut self, key: String, n: u64) -> ((u64, u64), u64);
}

#[derive(Default)]
struct Counts(std::collections::HashMap<String, u64>);

impl Actor for Counts {}

impl Tally for Counts {
    async fn add(&mut self, key: String, n: u64) -> ((u64, u64), u64) {
        let count = self.0.entry(key).or_default();
        *count += n;
        let id = Context::<Self>::current().id();
        ((id.node, id.seq), *count)
    }
}

/// A server node serving `names` and a client node holding refs to them.
async fn pair(test: &str, names: &[&str]) -> (System, System, Vec<TallyRef>) {
    let dir = nodes::certs("remote_router", test);
    let (server, client) = (node(&dir, "server"), node(&dir, "client"));
    let mut refs = Vec::new();
    for name in names {
        let tally: TallyRef = server.spawn(Counts::default()).into();
        server.serve(*name, &tally).expect("a free name");
        refs.push(timeout(BOUND, client.remote(addr(&server), name)).await.expect("in time").expect("found"));
    }
    (server, client, refs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_mixes_remote_and_local_routees() -> Result<(), Box<dyn std::error::Error>> {
    let (server, client, mut refs) = pair("mixed", &["a", "b"]).await;
    refs.push(client.spawn(Counts::default()).into());
    let router: Router<TallyRef> = client.group(refs, Routing::round_robin())?;
    let mut seen = HashSet::new();
    for _ in 0..6 {
        let (worker, _) = timeout(BOUND, router.add("k".into(), 1)).await??;
        seen.insert(worker);
    }
    assert_eq!(seen.len(), 3, "two remote routees and a local one: {seen:?}");
    server.shutdown().await;
    client.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_hash_and_broadcast_work_over_the_wire() -> Result<(), Box<dyn std::error::Error>> {
    let (server, client, refs) = pair("strategies", &["a", "b", "c"]).await;
    let by_key = Routing::consistent_hash(|request: &TallyRequest| match request {
        TallyRequest::Add(key, _) => key.clone(),
    });
    let hashed = client.group(refs.clone(), by_key)?;
    for user in 0..10 {
        let key = format!("user-{user}");
        let (first, _) = timeout(BOUND, hashed.add(key.clone(), 1)).await??;
        for round in 2..=4 {
            let (worker, count) = timeout(BOUND, hashed.add(key.clone(), 1)).await??;
            assert_eq!((worker, count), (first, round), "{key} stays on one worker");
        }
    }
    // A broadcast copies the request to every routee: each counts it.
    let everyone = client.group(refs.clone(), Routing::broadcast())?;
    timeout(BOUND, everyone.add("all".into(), 5)).await??;
    for tally in &refs {
        let (_, count) = timeout(BOUND, tally.add("all".into(), 0)).await??;
        assert_eq!(count, 5);
    }
    server.shutdown().await;
    client.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_over_a_lost_node_stops() -> Result<(), Box<dyn std::error::Error>> {
    let (server, client, refs) = pair("lost", &["a", "b"]).await;
    let router: Router<TallyRef> = client.group(refs, Routing::random())?;
    timeout(BOUND, router.add("k".into(), 1)).await??;
    server.shutdown().await;
    // Both routees are reported lost with their node: none is left.
    timeout(BOUND, router.wait_stopped()).await?;
    assert!(router.routees().is_empty());
    client.shutdown().await;
    Ok(())
}
