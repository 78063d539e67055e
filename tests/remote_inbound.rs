//! A run of requests from another node goes into the actor's mailbox in
//! order, each request exactly once: one that cannot run is failed in its
//! place, after everything before it was queued, and a full mailbox takes
//! what fits and leaves the rest to be delivered again once it has room.
//!
//! These drive a served actor's [`Inbound`] as the transport does, without
//! a network: the transport's own tests cover the wire.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use courier::ActorId;
use courier::prelude::*;
use courier::{CallError, Codec, Protocol};
use courier_runtime::Watcher;
use courier_runtime::remote::{Completion, Inbound, InboundTarget, Incoming, Link, Outgoing, Payload, Refusal};
use rkyv::util::AlignedVec;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(5);

/// A queue of numbered items.
#[courier::actor]
pub trait Items {
    /// One-way: one item.
    #[tell]
    async fn item(&mut self, n: u32);
}

/// Records every item it gets; holds on to item 0 until the gate opens, so
/// that its mailbox fills up meanwhile.
struct Worker {
    got: UnboundedSender<u32>,
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Actor for Worker {}

impl Items for Worker {
    async fn item(&mut self, n: u32) {
        let _ = self.got.send(n);
        if let Some(gate) = self.gate.take() {
            let _ = gate.await;
        }
    }
}

/// A link nobody uses: the requests here are one-way.
struct Nowhere;

impl Link for Nowhere {
    fn node(&self) -> u64 {
        0
    }

    fn send(&self, _: Outgoing<'_>, _: Option<(Instant, Completion)>) -> Result<(), Refusal> {
        Ok(())
    }

    fn poll_room(&self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }

    fn reply(&self, _: u64, _: Result<Payload<'_>, CallError>) {}

    fn watch(&self, _: ActorId, _: Arc<dyn Watcher>) {}

    fn unwatch(&self, _: ActorId, _: ActorId) {}
}

fn codec() -> Codec<ItemsRequest> {
    <ItemsRequest as Protocol>::CODEC.expect("a service that is not local has a codec")
}

/// The payloads of items `ns`; `None` stands for one that does not
/// validate.
fn payloads(ns: &[Option<u32>]) -> Vec<AlignedVec> {
    let codec = codec();
    ns.iter()
        .map(|n| match n {
            Some(n) => codec.request_bytes(&ItemsRequest::Item(*n)).expect("encode"),
            None => {
                let mut garbage = AlignedVec::new();
                garbage.extend_from_slice(&[0xff; 3]);
                garbage
            }
        })
        .collect()
}

fn incoming(payloads: &[AlignedVec]) -> Vec<Incoming<'_>> {
    let method = ItemsRequest::Item(0).method().id;
    payloads
        .iter()
        .map(|payload| Incoming {
            request: None,
            method,
            fingerprint: <ItemsRequest as Protocol>::FINGERPRINT,
            sender: None,
            chain: &[],
            budget: None,
            payload,
        })
        .collect()
}

async fn next(got: &mut UnboundedReceiver<u32>) -> u32 {
    timeout(BOUND, got.recv()).await.expect("an item in time").expect("the worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_queued_in_order_and_a_full_mailbox_takes_what_fits() {
    let system = System::builder().mailbox_capacity(4).build();
    let (got, mut items) = unbounded_channel();
    let (open, gate) = tokio::sync::oneshot::channel();
    let worker: ItemsRef = system.spawn(Worker { got, gate: Some(gate) }).into();
    system.serve("items", &worker).expect("serve");
    let inbound: Arc<dyn Inbound> =
        system.inbound(InboundTarget::Name("items"), <ItemsRequest as Protocol>::SERVICE_KEY).expect("served");
    let link: Arc<dyn Link> = Arc::new(Nowhere);

    // Item 0 holds the worker, with nothing else queued.
    let first = payloads(&[Some(0)]);
    assert_eq!(inbound.try_deliver_many(&incoming(&first), &link, &mut |at, e| panic!("{at}: {e}")), 1);
    assert_eq!(next(&mut items).await, 0);

    // Room for 4: items 1 and 2 go in, the garbage after them fails in its
    // place, then 3 and 4 fill the mailbox and 5 and 6 are left.
    let run = payloads(&[Some(1), Some(2), None, Some(3), Some(4), Some(5), Some(6)]);
    let mut failed = Vec::new();
    let done = inbound.try_deliver_many(&incoming(&run), &link, &mut |at, error| failed.push((at, error)));
    assert_eq!(done, 5, "five requests dealt with: four queued, one failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, 2);
    assert!(matches!(failed[0].1, CallError::Protocol { .. }), "{:?}", failed[0].1);

    // The rest, once there is room; nothing is failed twice.
    let _ = open.send(());
    let rest = &incoming(&run)[done..];
    let mut left = rest.len();
    while left > 0 {
        std::future::poll_fn(|cx| inbound.poll_room(cx)).await;
        let from = rest.len() - left;
        left -= inbound.try_deliver_many(&rest[from..], &link, &mut |at, e| panic!("{at}: {e}"));
    }
    let mut seen = Vec::new();
    for _ in 1..=6 {
        seen.push(next(&mut items).await);
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_actor_fails_each_request_of_a_run_once() {
    let system = System::builder().build();
    let (got, _items) = unbounded_channel();
    let actor = system.spawn(Worker { got, gate: None });
    let worker: ItemsRef = actor.clone().into();
    system.serve("items", &worker).expect("serve");
    let inbound: Arc<dyn Inbound> =
        system.inbound(InboundTarget::Name("items"), <ItemsRequest as Protocol>::SERVICE_KEY).expect("served");
    let link: Arc<dyn Link> = Arc::new(Nowhere);
    actor.stop();
    timeout(BOUND, actor.wait_stopped()).await.expect("stopped in time");

    let run = payloads(&[Some(1), None, Some(2), Some(3)]);
    let mut failed = Vec::new();
    let done = inbound.try_deliver_many(&incoming(&run), &link, &mut |at, error| failed.push((at, error)));
    assert_eq!(done, 4);
    let at: Vec<usize> = failed.iter().map(|(at, _)| *at).collect();
    assert_eq!(at, [0, 1, 2, 3], "each once, in order: {failed:?}");
}
