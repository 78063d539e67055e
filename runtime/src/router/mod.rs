//! Routers: one ref in front of several actors of one service.
//!
//! A router is made over a pool (it spawns N workers from a factory and
//! supervises them) or a group (refs that exist already, local or remote),
//! with a [`Routing`] strategy. It is used through the service's own ref
//! type: callers of a `CounterRef` do not know whether one counter or a
//! router of counters answers.
//!
//! Routing happens on the sender's side, in the ref: a routed message goes
//! straight into the chosen routee's mailbox, with no hop through the
//! router. The router itself is an actor that only keeps its routees: it
//! watches them and drops each one that ends, stops once none is left, and
//! its pool workers are its children, supervised as
//! [`Routing::supervisor`] says (by default, restarted up to 3 times within
//! 10 s; a worker failing beyond that fails the router, which then stops
//! with its pool).

mod post;
mod ring;

use std::fmt;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::actor_ref::ActorRef;
use crate::cell::Cell;
use crate::mailbox::Mailbox;
use crate::protocol::{Dispatch, Protocol};
use crate::recipient::{Recipient, ServiceRef};
use crate::watch::Terminated;
use crate::{Actor, ActorId, Context, SpawnError, Supervisor, System};

pub(crate) use post::RouterPost;
use ring::{Ring, stable_hash};

type KeyOf<P> = Arc<dyn Fn(&P) -> u64 + Send + Sync>;

/// How a router picks the routee of each message (and, for a pool, how it
/// supervises its workers).
pub struct Routing<P: Protocol> {
    strategy: Strategy<P>,
    supervisor: Option<Supervisor>,
}

enum Strategy<P: Protocol> {
    RoundRobin,
    Random,
    Broadcast,
    ConsistentHash(KeyOf<P>),
}

impl<P: Protocol> Clone for Routing<P> {
    fn clone(&self) -> Self {
        let strategy = match &self.strategy {
            Strategy::RoundRobin => Strategy::RoundRobin,
            Strategy::Random => Strategy::Random,
            Strategy::Broadcast => Strategy::Broadcast,
            Strategy::ConsistentHash(key) => Strategy::ConsistentHash(key.clone()),
        };
        Routing { strategy, supervisor: self.supervisor.clone() }
    }
}

impl<P: Protocol> fmt::Debug for Routing<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.strategy {
            Strategy::RoundRobin => "round robin",
            Strategy::Random => "random",
            Strategy::Broadcast => "broadcast",
            Strategy::ConsistentHash(_) => "consistent hash",
        };
        write!(f, "Routing<{}>({name})", P::SERVICE)
    }
}

impl<P: Protocol> Routing<P> {
    /// Each routee in turn. A routee whose mailbox is full is passed over
    /// for the next; a sender waits only when every routee is full.
    pub fn round_robin() -> Self {
        Routing { strategy: Strategy::RoundRobin, supervisor: None }
    }

    /// A routee drawn at random for each message (passed over when full,
    /// like round robin).
    pub fn random() -> Self {
        Routing { strategy: Strategy::Random, supervisor: None }
    }

    /// Every routee gets every message. A call's caller gets the first
    /// successful reply (or, if every routee fails, the last error); a
    /// routee that cannot take the message now (full, gone) misses it, and
    /// that copy is a dead letter. Copies are made through the service's
    /// wire codec, so the service must not be `#[actor(local)]`.
    pub fn broadcast() -> Self {
        Routing { strategy: Strategy::Broadcast, supervisor: None }
    }

    /// The routee that owns the message's key on a hash ring: messages with
    /// equal keys go to the same routee, for as long as it is a routee, and
    /// a routee leaving moves only its own keys. `key` picks the key out of
    /// the request (match on the service's request enum).
    pub fn consistent_hash<K: Hash>(key: impl Fn(&P) -> K + Send + Sync + 'static) -> Self {
        let key: KeyOf<P> = Arc::new(move |request| stable_hash(&key(request)));
        Routing { strategy: Strategy::ConsistentHash(key), supervisor: None }
    }

    /// How a pool's router supervises its workers, instead of the default
    /// [`Supervisor`] (under which a worker failing more than 3 times within
    /// 10 s fails the router, and the pool stops). A worker the supervisor
    /// stops leaves the pool. A group ignores it: its routees have parents
    /// of their own.
    pub fn supervisor(mut self, supervisor: Supervisor) -> Self {
        self.supervisor = Some(supervisor);
        self
    }
}

/// A router, spawned by [`System::pool`] or [`System::group`] (or the same
/// on [`Context`], as a child): it derefs to the service's ref `R`, and
/// [`service`](Router::service) gives one to pass around. Dropping it does
/// not stop it; [`stop`](Router::stop) does (and stops a pool's workers).
pub struct Router<R: ServiceRef> {
    service: R,
    keeper: ActorRef<Keeper<R::Protocol>>,
    routees: Arc<Routees<R::Protocol>>,
}

impl<R: ServiceRef> Clone for Router<R> {
    fn clone(&self) -> Self {
        Router { service: self.service.clone(), keeper: self.keeper.clone(), routees: self.routees.clone() }
    }
}

impl<R: ServiceRef> fmt::Debug for Router<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router").field("id", &self.id()).field("routees", &self.routees()).finish()
    }
}

impl<R: ServiceRef> Deref for Router<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.service
    }
}

impl<R: ServiceRef> Router<R> {
    /// A ref to the router, of the service's own ref type.
    pub fn service(&self) -> R {
        self.service.clone()
    }

    /// The router's id: what a watch of its ref watches.
    pub fn id(&self) -> ActorId {
        self.keeper.id()
    }

    /// The ids of its routees now, in routing order.
    pub fn routees(&self) -> Vec<ActorId> {
        self.routees.table().ids.clone()
    }

    /// Stops the router: its ref takes no more messages, and a pool's
    /// workers stop with it (a group's routees do not).
    pub fn stop(&self) {
        self.keeper.stop();
    }

    /// Resolves once the router has stopped, its pool's workers included.
    pub async fn wait_stopped(&self) {
        self.keeper.wait_stopped().await;
    }
}

/// The routees, shared by the router's ref (which routes over them) and
/// the router's actor (which drops those that end).
pub(crate) struct Routees<P: Protocol> {
    table: RwLock<Table<P>>,
    routing: Routing<P>,
    /// Whether the router still takes messages.
    open: AtomicBool,
    /// Round robin's turn, or the random strategy's state.
    cursor: AtomicU64,
}

/// The routee list; replaced whole when a routee leaves.
pub(crate) struct Table<P: Protocol> {
    pub(crate) routees: Vec<Recipient<P>>,
    pub(crate) ids: Vec<ActorId>,
    pub(crate) ring: Option<Ring>,
}

impl<P: Protocol> Table<P> {
    fn new(routees: Vec<Recipient<P>>, routing: &Routing<P>) -> Self {
        let ids: Vec<ActorId> = routees.iter().map(Recipient::id).collect();
        let ring = matches!(routing.strategy, Strategy::ConsistentHash(_)).then(|| Ring::new(&ids));
        Table { routees, ids, ring }
    }
}

impl<P: Protocol> Routees<P> {
    fn new(routees: Vec<Recipient<P>>, routing: Routing<P>) -> Self {
        let table = Table::new(routees, &routing);
        Routees {
            table: RwLock::new(table),
            routing,
            open: AtomicBool::new(true),
            cursor: AtomicU64::new(crate::system::random()),
        }
    }

    /// The routees now, read-locked while in use: routing reads them for
    /// every message, they change only when a routee leaves.
    pub(crate) fn table(&self) -> RwLockReadGuard<'_, Table<P>> {
        // A poisoned lock still holds a whole table: it is only ever
        // replaced, never changed in place.
        self.table.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops routee `id`; returns how many are left.
    fn remove(&self, id: ActorId) -> usize {
        let mut table = self.table.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let routees: Vec<Recipient<P>> = table.routees.iter().filter(|r| r.id() != id).cloned().collect();
        *table = Table::new(routees, &self.routing);
        table.routees.len()
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// The index to start from among `n` routees, for round robin or random.
    pub(crate) fn start(&self, n: usize) -> usize {
        let turn = self.cursor.fetch_add(1, Ordering::Relaxed);
        let draw = match self.routing.strategy {
            Strategy::Random => splitmix(turn),
            _ => turn,
        };
        // `n` is at least 1 here, and the remainder is below it.
        (draw % n as u64) as usize
    }
}

/// Scrambles a counter into a well-spread 64-bit value (SplitMix64): cheap
/// randomness without a lock or a thread-local.
fn splitmix(counter: u64) -> u64 {
    let mut z = counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The router's actor: keeps the routee list current and owns a pool's
/// workers.
pub(crate) struct Keeper<P: Protocol> {
    routees: Arc<Routees<P>>,
}

impl<P: Protocol> Actor for Keeper<P> {
    fn name() -> &'static str {
        "router"
    }

    async fn started(&mut self, ctx: &Context<Self>) {
        for routee in &self.routees.table().routees {
            ctx.watch(routee);
        }
    }

    async fn terminated(&mut self, ctx: &Context<Self>, notice: Terminated) {
        tracing::debug!(router = %ctx.id(), routee = %notice.id, reason = %notice.reason, "a routee left");
        if self.routees.remove(notice.id) == 0 {
            ctx.stop();
        }
    }

    async fn stopping(&mut self, _: &Context<Self>) {
        self.routees.open.store(false, Ordering::Release);
    }
}

/// Spawns a router of `size` workers built by `factory`, as a child of
/// `parent` or a root actor.
pub(crate) fn pool<R, A>(
    system: &System,
    parent: Option<Arc<dyn Cell>>,
    size: usize,
    routing: Routing<R::Protocol>,
    factory: impl Fn() -> A + Send + Sync + 'static,
) -> Result<Router<R>, SpawnError>
where
    R: ServiceRef,
    A: Actor,
    R::Protocol: Dispatch<A>,
{
    check(size, &routing)?;
    let factory = Arc::new(factory);
    let supervisor = routing.supervisor.clone();
    spawn(system, parent, routing, |cell: &Arc<Mailbox<Keeper<R::Protocol>>>| {
        if let Some(supervisor) = supervisor {
            cell.supervise_with(supervisor);
        }
        let keeper: Arc<dyn Cell> = cell.clone();
        let mut workers = Vec::with_capacity(size);
        for _ in 0..size {
            let factory = factory.clone();
            let worker = system.spawn_child(factory(), keeper.clone(), Some(Box::new(move || factory())))?;
            workers.push(worker.recipient::<R::Protocol>());
        }
        Ok(workers)
    })
}

/// Spawns a router over `routees`, as a child of `parent` or a root actor.
pub(crate) fn group<R: ServiceRef>(
    system: &System,
    parent: Option<Arc<dyn Cell>>,
    routees: impl IntoIterator<Item = R>,
    routing: Routing<R::Protocol>,
) -> Result<Router<R>, SpawnError> {
    let routees: Vec<Recipient<R::Protocol>> = routees.into_iter().map(|r| r.recipient().clone()).collect();
    check(routees.len(), &routing)?;
    spawn(system, parent, routing, |_: &Arc<Mailbox<Keeper<R::Protocol>>>| Ok(routees))
}

fn check<P: Protocol>(routees: usize, routing: &Routing<P>) -> Result<(), SpawnError> {
    if routees == 0 {
        return Err(SpawnError::NoRoutees);
    }
    if matches!(routing.strategy, Strategy::Broadcast) && P::CODEC.is_none() {
        return Err(SpawnError::CannotBroadcast(P::SERVICE));
    }
    Ok(())
}

fn spawn<R: ServiceRef>(
    system: &System,
    parent: Option<Arc<dyn Cell>>,
    routing: Routing<R::Protocol>,
    routees: impl FnOnce(&Arc<Mailbox<Keeper<R::Protocol>>>) -> Result<Vec<Recipient<R::Protocol>>, SpawnError>,
) -> Result<Router<R>, SpawnError> {
    let mut shared = None;
    let keeper = system.spawn_prepared(parent, |cell| {
        let routees = Arc::new(Routees::new(routees(cell)?, routing));
        shared = Some(routees.clone());
        Ok(Keeper { routees })
    })?;
    let Some(routees) = shared else { return Err(SpawnError::NoRoutees) };
    let post = RouterPost::new(keeper.cell().clone(), routees.clone());
    let service = R::from(Recipient::from_post(Arc::new(post)));
    Ok(Router { service, keeper, routees })
}
