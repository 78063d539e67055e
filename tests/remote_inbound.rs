//! A run of requests from another node goes into the actor's mailbox in
//! order, each request exactly once: one that cannot run is failed in its
//! place, after everything before it was queued, and a full mailbox takes
//! what fits and leaves the rest to be delivered again once it has room.
//!
//! One-way requests in a row travel as a parcel, decoded on the actor's
//! task: each still counts against the capacity, is admitted (and may be
//! stashed) on its own, survives a restart, becomes a dead letter when the
//! actor stops first, and is dropped (and counted by the link) when its
//! payload does not check or its deadline passed.
//!
//! These drive a served actor's [`Inbound`] as the transport does, without
//! a network: the transport's own tests cover the wire.

use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use courier::ActorId;
use courier::events::DeadLetter;
use courier::prelude::*;
use courier::stash::{Admit, Queued};
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

/// A link nobody answers through (the requests here are one-way): it
/// records what the receiving side dropped.
#[derive(Default)]
struct Nowhere {
    dropped: Mutex<Vec<CallError>>,
}

impl Nowhere {
    fn dropped(&self) -> Vec<CallError> {
        self.dropped.lock().expect("not poisoned").clone()
    }
}

impl Link for Nowhere {
    fn node(&self) -> u64 {
        0
    }

    fn send(&self, _: Outgoing<'_>, _: Option<(Instant, Completion)>) -> Result<(), Refusal> {
        Ok(())
    }

    fn poll_room(&self, _: &mut std::task::Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }

    fn reply(&self, _: u64, _: Result<Payload<'_>, CallError>) {}

    fn watch(&self, _: ActorId, _: Arc<dyn Watcher>) {}

    fn unwatch(&self, _: ActorId, _: ActorId) {}

    fn dropped(&self, error: &CallError) {
        self.dropped.lock().expect("not poisoned").push(error.clone());
    }
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

/// The next `count` items, in the order they were handled.
async fn next_items(got: &mut UnboundedReceiver<u32>, count: usize) -> Vec<u32> {
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        items.push(next(got).await);
    }
    items
}

/// An actor that `spawn` makes, served in a system whose mailboxes hold
/// `capacity`, and its inbound side.
fn served<A: Actor + Items>(
    capacity: usize,
    spawn: impl FnOnce(&System) -> ActorRef<A>,
) -> (System, ActorRef<A>, Arc<dyn Inbound>) {
    let system = System::builder().mailbox_capacity(capacity).build();
    let actor = spawn(&system);
    let items: ItemsRef = actor.clone().into();
    system.serve("items", &items).expect("serve");
    let inbound =
        system.inbound(InboundTarget::Name("items"), <ItemsRequest as Protocol>::SERVICE_KEY).expect("served");
    (system, actor, inbound)
}

/// Delivers `run` whole, waiting for room as the transport does; returns
/// what failed, by index.
async fn deliver_all(
    inbound: &Arc<dyn Inbound>,
    run: &[Incoming<'_>],
    link: &Arc<dyn Link>,
) -> Vec<(usize, CallError)> {
    let mut failed = Vec::new();
    let mut done = 0;
    loop {
        let from = done;
        done += inbound.try_deliver_many(&run[from..], link, &mut |at, error| failed.push((from + at, error)));
        if done == run.len() {
            return failed;
        }
        timeout(BOUND, std::future::poll_fn(|cx| inbound.poll_room(cx))).await.expect("room in time");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_queued_in_order_and_a_full_mailbox_takes_what_fits() {
    let (got, mut items) = unbounded_channel();
    let (open, gate) = tokio::sync::oneshot::channel();
    let (_system, _actor, inbound) = served(4, |system| system.spawn(Worker { got, gate: Some(gate) }));
    let nowhere = Arc::new(Nowhere::default());
    let link: Arc<dyn Link> = nowhere.clone();

    // Item 0 holds the worker, with nothing else queued.
    let first = payloads(&[Some(0)]);
    assert_eq!(inbound.try_deliver_many(&incoming(&first), &link, &mut |at, e| panic!("{at}: {e}")), 1);
    assert_eq!(next(&mut items).await, 0);

    // Room for 4 requests: items 1 and 2, the garbage and item 3 go in
    // (together, as one parcel, each counted), and 4 to 6 are left. The
    // garbage is found once the actor comes to it.
    let run = payloads(&[Some(1), Some(2), None, Some(3), Some(4), Some(5), Some(6)]);
    let done = inbound.try_deliver_many(&incoming(&run), &link, &mut |at, e| panic!("{at}: {e}"));
    assert_eq!(done, 4, "room for four requests");
    let rest = payloads(&[Some(7)]);
    assert_eq!(inbound.try_deliver_many(&incoming(&rest), &link, &mut |at, e| panic!("{at}: {e}")), 0, "full");

    // The rest, once there is room; nothing is delivered twice.
    let _ = open.send(());
    let failed = deliver_all(&inbound, &incoming(&run)[done..], &link).await;
    assert!(failed.is_empty(), "{failed:?}");
    let seen = next_items(&mut items, 6).await;
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
    let dropped = nowhere.dropped();
    assert!(matches!(dropped[..], [CallError::Protocol { .. }]), "the garbage, counted once: {dropped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_cannot_run_fails_in_its_place_between_parcels() {
    let (got, mut items) = unbounded_channel();
    let (_system, _actor, inbound) = served(64, |system| system.spawn(Worker { got, gate: None }));
    let link: Arc<dyn Link> = Arc::new(Nowhere::default());

    // Items 3 and 5 come from another build of the service: they fail at
    // once, in their places; 1 and 2, and 6 and 7, travel as parcels, and 4
    // alone.
    let run = payloads(&[Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), Some(7)]);
    let mut requests = incoming(&run);
    for at in [2, 4] {
        requests[at].fingerprint ^= 1;
    }
    let failed = deliver_all(&inbound, &requests, &link).await;
    let at: Vec<usize> = failed.iter().map(|(at, _)| *at).collect();
    assert_eq!(at, [2, 4], "{failed:?}");
    assert!(
        failed.iter().all(|(_, error)| matches!(error, CallError::Protocol { detail } if detail.contains("`Items`")))
    );
    let seen = next_items(&mut items, 5).await;
    assert_eq!(seen, [1, 2, 4, 6, 7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_actor_fails_each_request_of_a_run_once() {
    let (got, _items) = unbounded_channel();
    let (_system, actor, inbound) = served(64, |system| system.spawn(Worker { got, gate: None }));
    let link: Arc<dyn Link> = Arc::new(Nowhere::default());
    actor.stop();
    timeout(BOUND, actor.wait_stopped()).await.expect("stopped in time");

    let run = payloads(&[Some(1), None, Some(2), Some(3)]);
    let mut failed = Vec::new();
    let done = inbound.try_deliver_many(&incoming(&run), &link, &mut |at, error| failed.push((at, error)));
    assert_eq!(done, 4);
    let at: Vec<usize> = failed.iter().map(|(at, _)| *at).collect();
    assert_eq!(at, [0, 1, 2, 3], "each once, in order: {failed:?}");
}

/// Stashes item 2 until it has handled item 4.
struct Picky {
    got: UnboundedSender<u32>,
    ready: bool,
}

impl Actor for Picky {
    fn admit(&self, _: &Context<Self>, message: &Queued<'_>) -> Admit {
        match message.request::<ItemsRequest>() {
            Some(ItemsRequest::Item(2)) if !self.ready => Admit::Stash,
            _ => Admit::Handle,
        }
    }
}

impl Items for Picky {
    async fn item(&mut self, n: u32) {
        let _ = self.got.send(n);
        if n == 4 {
            self.ready = true;
            Context::<Self>::current().unstash_all();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_stashed_out_of_a_parcel_leaves_the_rest_in_order() {
    let (got, mut items) = unbounded_channel();
    let (_system, _actor, inbound) = served(64, |system| system.spawn(Picky { got, ready: false }));
    let link: Arc<dyn Link> = Arc::new(Nowhere::default());

    let run = payloads(&[Some(1), Some(2), Some(3), Some(4), Some(5)]);
    assert!(deliver_all(&inbound, &incoming(&run), &link).await.is_empty());
    let seen = next_items(&mut items, 5).await;
    assert_eq!(seen, [1, 3, 4, 2, 5], "2 waited for 4, then came back ahead of 5");
}

/// Fails on item 2, after recording it; restarts from its factory.
struct Fragile {
    got: UnboundedSender<u32>,
}

impl Actor for Fragile {}

impl Items for Fragile {
    async fn item(&mut self, n: u32) {
        let _ = self.got.send(n);
        assert_ne!(n, 2, "item 2 fails its handler");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_of_a_parcel_goes_to_the_next_instance_after_a_failure() {
    let (got, mut items) = unbounded_channel();
    let (_system, _actor, inbound) = served(64, move |system| system.spawn_with(move || Fragile { got: got.clone() }));
    let link: Arc<dyn Link> = Arc::new(Nowhere::default());

    let run = payloads(&[Some(1), Some(2), Some(3), Some(4), Some(5)]);
    assert!(deliver_all(&inbound, &incoming(&run), &link).await.is_empty());
    let seen = next_items(&mut items, 5).await;
    assert_eq!(seen, [1, 2, 3, 4, 5], "each once, in order, across the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parcel_left_when_its_actor_stops_makes_a_dead_letter_of_each_request() {
    let (got, mut items) = unbounded_channel();
    let (open, gate) = tokio::sync::oneshot::channel();
    let (system, actor, inbound) = served(64, |system| system.spawn(Worker { got, gate: Some(gate) }));
    let (dead_tx, mut dead) = unbounded_channel();
    let _subscription = system.events().subscribe(move |letter: &DeadLetter| {
        let _ = dead_tx.send(letter.clone());
    });
    let link: Arc<dyn Link> = Arc::new(Nowhere::default());

    // Item 0 holds the worker while a parcel of three waits behind it.
    let first = payloads(&[Some(0)]);
    assert!(deliver_all(&inbound, &incoming(&first), &link).await.is_empty());
    assert_eq!(next(&mut items).await, 0);
    let run = payloads(&[Some(1), Some(2), Some(3)]);
    assert!(deliver_all(&inbound, &incoming(&run), &link).await.is_empty());

    actor.stop();
    for _ in 0..3 {
        let letter = timeout(BOUND, dead.recv()).await.expect("a dead letter in time").expect("subscribed");
        assert_eq!(
            letter,
            DeadLetter { target: actor.id(), service: "Items", method: "item", error: CallError::ActorStopped }
        );
    }
    let _ = open.send(());
    timeout(BOUND, actor.wait_stopped()).await.expect("stopped in time");
    assert_eq!(system.dead_letter_count(), 3);
    assert!(items.try_recv().is_err(), "none of them ran");
}

/// Stops itself on item 2, after recording it.
struct Quitter {
    got: UnboundedSender<u32>,
}

impl Actor for Quitter {}

impl Items for Quitter {
    async fn item(&mut self, n: u32) {
        let _ = self.got.send(n);
        if n == 2 {
            Context::<Self>::current().stop();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_asked_by_a_handler_comes_before_the_rest_of_its_parcel() {
    let (got, mut items) = unbounded_channel();
    let (system, actor, inbound) = served(64, |system| system.spawn(Quitter { got }));
    let link: Arc<dyn Link> = Arc::new(Nowhere::default());

    let run = payloads(&[Some(1), Some(2), Some(3), Some(4), Some(5)]);
    assert!(deliver_all(&inbound, &incoming(&run), &link).await.is_empty());
    timeout(BOUND, actor.wait_stopped()).await.expect("stopped in time");
    assert_eq!(next_items(&mut items, 2).await, [1, 2]);
    assert!(items.try_recv().is_err(), "nothing ran after the stop");
    assert_eq!(system.dead_letter_count(), 3, "the rest of the parcel became dead letters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_of_a_parcel_frees_its_place_in_the_mailbox() {
    let (got, mut items) = unbounded_channel();
    let (_system, _actor, inbound) = served(4, |system| system.spawn(Worker { got, gate: None }));
    let link: Arc<dyn Link> = Arc::new(Nowhere::default());

    let run = payloads(&[Some(1), Some(2), Some(3), Some(4)]);
    assert!(deliver_all(&inbound, &incoming(&run), &link).await.is_empty());
    assert_eq!(next_items(&mut items, 4).await, [1, 2, 3, 4]);
    // All four handled: the next four fit at once.
    let again = payloads(&[Some(5), Some(6), Some(7), Some(8)]);
    let taken = inbound.try_deliver_many(&incoming(&again), &link, &mut |_, error| panic!("{error}"));
    assert_eq!(taken, 4, "the whole capacity is free again");
    assert_eq!(next_items(&mut items, 4).await, [5, 6, 7, 8]);
}
