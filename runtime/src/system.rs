//! `System`: spawns actors, names them, and shuts them down in order.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, Weak};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::runtime::Handle;

use crate::cell::Cell;
use crate::dead_letters::DeadLetters;
use crate::deadline::Deadlines;
use crate::events::{DeadLetter, EventStream};
use crate::exports::Exports;
use crate::mailbox::Mailbox;
use crate::protocol::Dispatch;
use crate::remote::Network;
use crate::router::{Router, Routing};
use crate::run::Factory;
use crate::supervision::Supervisor;
use crate::{Actor, ActorId, ActorRef, ServiceRef, SpawnError};

/// The call timeout of a system built without one.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The mailbox capacity of a system built without one.
pub const DEFAULT_MAILBOX_CAPACITY: usize = 1024;

/// Every live system of this process, by id: how a ref read from bytes finds
/// the actor it names.
static SYSTEMS: LazyLock<DashMap<u64, Weak<SystemShared>>> = LazyLock::new(DashMap::new);

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) call_timeout: Duration,
    pub(crate) mailbox_capacity: usize,
    /// The supervisor of root actors.
    pub(crate) supervisor: Supervisor,
}

pub(crate) struct SystemShared {
    pub(crate) id: u64,
    pub(crate) config: Config,
    pub(crate) dead_letters: DeadLetters,
    pub(crate) events: EventStream,
    pub(crate) deadlines: Arc<Deadlines>,
    pub(crate) exports: Exports,
    pub(crate) kinds: crate::remote::Kinds,
    /// The transport, once one is installed.
    pub(crate) network: OnceLock<Arc<dyn Network>>,
    next_seq: AtomicU64,
    roots: DashMap<u64, Arc<dyn Cell>>,
    names: DashMap<Arc<str>, Arc<dyn Cell>>,
    shutting_down: AtomicBool,
    runtime: Option<Handle>,
}

impl SystemShared {
    /// Counts, logs and publishes a message that could not be delivered.
    pub(crate) fn dead_letter(&self, letter: DeadLetter) {
        self.dead_letters.record(&self.events, letter);
    }

    /// Called by an actor's task as it ends.
    pub(crate) fn forget<A: Actor>(&self, cell: &Mailbox<A>) {
        if cell.parent.is_none() {
            self.roots.remove(&cell.id.seq);
        }
        if let Some(name) = &cell.name {
            self.names.remove_if(name, |_, named| named.id() == cell.id);
        }
        self.exports.forget(cell.id.seq);
    }

    pub(crate) fn find(id: u64) -> Option<Arc<SystemShared>> {
        SYSTEMS.get(&id).and_then(|s| s.upgrade())
    }
}

impl Drop for SystemShared {
    fn drop(&mut self) {
        SYSTEMS.remove(&self.id);
    }
}

/// A set of actors sharing defaults, a name registry and a shutdown.
///
/// Cloning a `System` gives another handle to the same system.
///
/// # Examples
///
/// ```
/// use courier_runtime::{Actor, System};
///
/// struct Idle;
/// impl Actor for Idle {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let system = System::new();
/// let idle = system.spawn(Idle);
/// assert!(idle.is_alive());
/// system.shutdown().await;
/// assert!(!idle.is_alive());
/// # }
/// ```
#[derive(Clone)]
pub struct System {
    pub(crate) shared: Arc<SystemShared>,
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System").field("id", &self.shared.id).field("actors", &self.shared.roots.len()).finish()
    }
}

impl Default for System {
    fn default() -> Self {
        System::new()
    }
}

/// Settings for a new [`System`].
#[derive(Debug, Clone)]
pub struct SystemBuilder {
    config: Config,
    runtime: Option<Handle>,
}

impl SystemBuilder {
    /// How long a call waits for its reply unless it sets its own timeout.
    /// Default: 5 seconds.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = timeout;
        self
    }

    /// How many messages a mailbox holds before senders wait, for actor
    /// types that do not choose. Default: 1024.
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.config.mailbox_capacity = capacity.max(1);
        self
    }

    /// How root actors are supervised: a failed root actor spawned with
    /// [`System::spawn_with`] restarts as this decides. Default:
    /// [`Supervisor::default`] (restart, at most 3 times within 10 seconds,
    /// then stop). Escalating from a root actor stops it and logs an error.
    /// The scope is always one-for-one at the root.
    pub fn supervisor(mut self, supervisor: Supervisor) -> Self {
        self.config.supervisor = supervisor;
        self
    }

    /// The tokio runtime actors run on. Default: the runtime current when
    /// the system is built, else the one current at each spawn.
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Builds the system.
    pub fn build(self) -> System {
        let id = loop {
            let id = random();
            if !SYSTEMS.contains_key(&id) {
                break id;
            }
        };
        let shared = Arc::new(SystemShared {
            id,
            config: self.config,
            dead_letters: DeadLetters::default(),
            events: EventStream::default(),
            deadlines: Arc::default(),
            exports: Exports::default(),
            kinds: Default::default(),
            network: OnceLock::new(),
            next_seq: AtomicU64::new(1),
            roots: DashMap::new(),
            names: DashMap::new(),
            shutting_down: AtomicBool::new(false),
            runtime: self.runtime.or_else(|| Handle::try_current().ok()),
        });
        SYSTEMS.insert(id, Arc::downgrade(&shared));
        System { shared }
    }
}

/// A random 64-bit value, from the standard library's randomly keyed hasher.
pub(crate) fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

impl System {
    /// A system with default settings, running actors on the current tokio
    /// runtime.
    pub fn new() -> Self {
        System::builder().build()
    }

    /// Settings for a new system.
    pub fn builder() -> SystemBuilder {
        SystemBuilder {
            config: Config {
                call_timeout: DEFAULT_CALL_TIMEOUT,
                mailbox_capacity: DEFAULT_MAILBOX_CAPACITY,
                supervisor: Supervisor::default(),
            },
            runtime: None,
        }
    }

    pub(crate) fn from_shared(shared: Arc<SystemShared>) -> Self {
        System { shared }
    }

    /// This system's id, the `node` of every [`ActorId`] it hands out.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Spawns `actor` on its own task and returns a ref to it.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, when the system was built without one.
    pub fn spawn<A: Actor>(&self, actor: A) -> ActorRef<A> {
        self.spawn_root(actor, None, None).0
    }

    /// Spawns an actor built by `factory`, which builds it again whenever
    /// the actor fails and the system's [`Supervisor`] restarts it (see
    /// [`SystemBuilder::supervisor`]). The restarted actor keeps its mailbox
    /// and its refs.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, when the system was built without one; and
    /// when `factory` panics building the first instance.
    pub fn spawn_with<A: Actor>(&self, factory: impl Fn() -> A + Send + Sync + 'static) -> ActorRef<A> {
        let actor = factory();
        self.spawn_root(actor, None, Some(Box::new(factory))).0
    }

    /// Spawns a root actor; one spawned during shutdown is stopped at once.
    fn spawn_root<A: Actor>(
        &self,
        actor: A,
        name: Option<Arc<str>>,
        factory: Option<Factory<A>>,
    ) -> (ActorRef<A>, Arc<dyn Cell>) {
        let (actor_ref, cell) = self.start(actor, None, name, factory);
        self.shared.roots.insert(cell.id().seq, cell.clone());
        if self.shared.shutting_down.load(Ordering::Acquire) {
            cell.stop();
        }
        (actor_ref, cell)
    }

    /// Spawns `actor` under `name`, so that [`lookup`](System::lookup) finds
    /// it. The name is free again once the actor has stopped.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NameTaken`] when a live actor holds the name;
    /// [`SpawnError::ShuttingDown`] during shutdown.
    pub fn spawn_named<A: Actor>(&self, name: impl Into<Arc<str>>, actor: A) -> Result<ActorRef<A>, SpawnError> {
        if self.shared.shutting_down.load(Ordering::Acquire) {
            return Err(SpawnError::ShuttingDown);
        }
        let name = name.into();
        match self.shared.names.entry(name.clone()) {
            Entry::Occupied(taken) => Err(SpawnError::NameTaken(taken.key().to_string())),
            Entry::Vacant(free) => {
                // The entry's shard stays locked until the actor is in it, so
                // two spawns of one name cannot both win.
                let (actor_ref, cell) = self.spawn_root(actor, Some(name), None);
                free.insert(cell);
                Ok(actor_ref)
            }
        }
    }

    /// Spawns a router over `size` workers built by `factory`, used through
    /// the service's ref `R` (see [`router`](crate::router)). The workers
    /// are the router's children: restarted from `factory` when they fail,
    /// stopped with the router.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoRoutees`] when `size` is 0;
    /// [`SpawnError::CannotBroadcast`] for a broadcast of an
    /// `#[actor(local)]` service; [`SpawnError::ShuttingDown`].
    ///
    /// # Panics
    ///
    /// When `factory` panics building a first worker.
    pub fn pool<R, A>(
        &self,
        size: usize,
        routing: Routing<R::Protocol>,
        factory: impl Fn() -> A + Send + Sync + 'static,
    ) -> Result<Router<R>, SpawnError>
    where
        R: ServiceRef,
        A: Actor,
        R::Protocol: Dispatch<A>,
    {
        crate::router::pool(self, None, size, routing, factory)
    }

    /// Spawns a router over `routees`, refs to actors that exist already,
    /// local or remote (see [`router`](crate::router)). A routee that ends
    /// leaves the router; the router stops when none is left.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoRoutees`] for no routee;
    /// [`SpawnError::CannotBroadcast`] for a broadcast of an
    /// `#[actor(local)]` service; [`SpawnError::ShuttingDown`].
    pub fn group<R: ServiceRef>(
        &self,
        routees: impl IntoIterator<Item = R>,
        routing: Routing<R::Protocol>,
    ) -> Result<Router<R>, SpawnError> {
        crate::router::group(self, None, routees, routing)
    }

    /// The actor named `name` if one of type `A` is alive; otherwise one
    /// `make` builds, spawned under that name. For Erlang-style processes
    /// (one per user, per session) that come and go: an actor still
    /// stopping under the name (say, after
    /// [`Context::stop_when_idle`](crate::Context::stop_when_idle)) is
    /// waited for, then replaced, so two callers never get two actors.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NameTaken`] when an actor of another type holds the
    /// name; [`SpawnError::ShuttingDown`] during shutdown.
    pub async fn get_or_spawn_named<A: Actor>(
        &self,
        name: impl Into<Arc<str>>,
        make: impl FnOnce() -> A + Send,
    ) -> Result<ActorRef<A>, SpawnError> {
        let name = name.into();
        // Built outside the names' lock (`make` may look names up), at most
        // once.
        let (mut make, mut fresh) = (Some(make), None);
        loop {
            if self.shared.shutting_down.load(Ordering::Acquire) {
                return Err(SpawnError::ShuttingDown);
            }
            let holder = match self.shared.names.entry(name.clone()) {
                Entry::Vacant(free) => match fresh.take() {
                    Some(actor) => {
                        let (actor_ref, cell) = self.spawn_root(actor, Some(name), None);
                        free.insert(cell);
                        return Ok(actor_ref);
                    }
                    None => {
                        drop(free);
                        fresh = make.take().map(|make| make());
                        continue;
                    }
                },
                Entry::Occupied(taken) => taken.get().clone(),
            };
            let Ok(actor) = holder.clone().as_any().downcast::<Mailbox<A>>() else {
                return Err(SpawnError::NameTaken(name.to_string()));
            };
            if actor.is_open() {
                return Ok(ActorRef::from_cell(actor));
            }
            // Stopping: its name is free once it has ended.
            holder.terminated().await;
        }
    }

    /// The actor named `name`, if it is alive and of type `A`.
    pub fn lookup<A: Actor>(&self, name: &str) -> Option<ActorRef<A>> {
        let cell = self.shared.names.get(name)?.value().clone();
        let cell = cell.as_any().downcast::<Mailbox<A>>().ok()?;
        Some(ActorRef::from_cell(cell))
    }

    /// How long a call waits for its reply unless it sets its own timeout.
    pub fn call_timeout(&self) -> Duration {
        self.shared.config.call_timeout
    }

    /// How many messages could not be delivered so far (see
    /// [`DeadLetter`]).
    pub fn dead_letter_count(&self) -> u64 {
        self.shared.dead_letters.count()
    }

    /// This system's event stream: subscribe to [`DeadLetter`],
    /// [`ActorFailed`](crate::events::ActorFailed),
    /// [`ActorRestarted`](crate::events::ActorRestarted),
    /// [`ActorTerminated`](crate::events::ActorTerminated), or publish and
    /// subscribe to events of your own types.
    pub fn events(&self) -> &EventStream {
        &self.shared.events
    }

    /// Stops every actor, children before their parents, and waits until all
    /// have run their `stopped` hooks. Spawns fail from now on.
    ///
    /// A node then closes its connections and waits until its socket is
    /// closed, so that a new node can listen on its port at once. QUIC
    /// lets a closed connection drain for three probe timeouts first:
    /// milliseconds once a connection has measured its round trip, about
    /// three seconds for one still dialing a node that does not answer
    /// (the wait is bounded at five).
    pub async fn shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::Release);
        let roots: Vec<Arc<dyn Cell>> = self.shared.roots.iter().map(|r| r.value().clone()).collect();
        for root in &roots {
            root.stop();
        }
        for root in &roots {
            root.terminated().await;
        }
        if let Some(network) = self.shared.network.get() {
            network.shutdown().await;
        }
    }

    /// Spawns `actor` as a child of `parent`, unless `parent` is stopping.
    pub(crate) fn spawn_child<A: Actor>(
        &self,
        actor: A,
        parent: Arc<dyn Cell>,
        factory: Option<Factory<A>>,
    ) -> Result<ActorRef<A>, SpawnError> {
        let cell = self.new_cell::<A>(Some(parent.clone()), None);
        let erased: Arc<dyn Cell> = cell.clone();
        if parent.adopt(erased).is_err() {
            return Err(SpawnError::ShuttingDown);
        }
        self.spawn_task(crate::run::run(actor, cell.clone(), factory));
        Ok(ActorRef::from_cell(cell))
    }

    /// Spawns an actor whose value `prepare` builds once its mailbox exists
    /// (so that it can spawn children into it first), as a child of
    /// `parent` or a root actor.
    pub(crate) fn spawn_prepared<A: Actor>(
        &self,
        parent: Option<Arc<dyn Cell>>,
        prepare: impl FnOnce(&Arc<Mailbox<A>>) -> Result<A, SpawnError>,
    ) -> Result<ActorRef<A>, SpawnError> {
        if parent.is_none() && self.is_shutting_down() {
            return Err(SpawnError::ShuttingDown);
        }
        let cell = self.new_cell::<A>(parent.clone(), None);
        let abandon = |cell: &Mailbox<A>| {
            cell.close(&crate::CallError::ActorStopped);
            cell.take_children().iter().for_each(|child| child.stop());
        };
        let actor = match prepare(&cell) {
            Ok(actor) => actor,
            Err(error) => {
                abandon(&cell);
                return Err(error);
            }
        };
        let erased: Arc<dyn Cell> = cell.clone();
        match &parent {
            Some(parent) => {
                if parent.adopt(erased).is_err() {
                    abandon(&cell);
                    return Err(SpawnError::ShuttingDown);
                }
            }
            None => {
                self.shared.roots.insert(cell.id.seq, erased);
            }
        }
        self.spawn_task(crate::run::run(actor, cell.clone(), None));
        if parent.is_none() && self.is_shutting_down() {
            Cell::stop(&*cell);
        }
        Ok(ActorRef::from_cell(cell))
    }

    /// Starts a root actor's task.
    fn start<A: Actor>(
        &self,
        actor: A,
        parent: Option<Arc<dyn Cell>>,
        name: Option<Arc<str>>,
        factory: Option<Factory<A>>,
    ) -> (ActorRef<A>, Arc<dyn Cell>) {
        let cell = self.new_cell::<A>(parent, name);
        self.spawn_task(crate::run::run(actor, cell.clone(), factory));
        let erased: Arc<dyn Cell> = cell.clone();
        (ActorRef::from_cell(cell), erased)
    }

    fn new_cell<A: Actor>(&self, parent: Option<Arc<dyn Cell>>, name: Option<Arc<str>>) -> Arc<Mailbox<A>> {
        let shared = &self.shared;
        let id = ActorId { node: shared.id, seq: shared.next_seq.fetch_add(1, Ordering::Relaxed) };
        let capacity = A::MAILBOX.capacity(shared.config.mailbox_capacity);
        Mailbox::new(id, name, shared.clone(), parent, capacity)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shared.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // The join handle is not needed: an actor's end is observed through
        // its mailbox.
        match &self.shared.runtime {
            Some(handle) => drop(handle.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }
}
