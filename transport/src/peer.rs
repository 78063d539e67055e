//! One other node, as this node sees it: its send lanes, the calls waiting
//! on it, and the connection that currently carries them.
//!
//! A `Peer` outlives its connections. When a connection is lost, every call
//! waiting on the node fails at once with `NodeUnreachable` and queued
//! frames are dropped; when the node is reached again (same node id), refs
//! to its actors work again. If two connections come up at once (both
//! nodes dialed), the one dialed by the lower node id carries the traffic
//! and the other is closed after a grace period, so that frames already on
//! it still arrive.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use courier_runtime::remote::{Completion, Link, Outgoing, Payload, Refusal};
use courier_runtime::{ActorId, CallError, ExitReason, Terminated, Watcher};
use rkyv::rancor::Error as RkyvError;
use tokio::sync::Notify;

use crate::envelope::{EnvelopeError, Header, Kind, Route, Target};
use crate::lanes::{Lanes, Refused, lane_of};
use crate::node::Config;
use crate::pending::Pending;
use crate::stats::Counters;
use crate::watches::{Change, Watching};

/// How the connection carrying a peer's traffic is held.
struct Current {
    connection: Option<quinn::Connection>,
    /// Whether this node dialed it (and so reconnects when it is lost).
    dialed: bool,
    /// Set while the first connection to a node met through a ref (from a
    /// third node) is being made: sends wait for it instead of failing.
    /// Only looked at while the peer is down, so it stays off the fields
    /// every send reads.
    introducing: bool,
    /// The certificate the node's first connection presented: its id is
    /// bound to it, so that another member of the cluster cannot take the
    /// id over.
    certificate: Option<Box<[u8]>>,
}

pub(crate) struct Peer {
    pub(crate) node: u64,
    /// Where the node listens (or, if it did not say, where it connected
    /// from).
    pub(crate) addr: SocketAddr,
    pub(crate) lanes: Lanes,
    pending: Mutex<Pending<Completion>>,
    /// Woken when a call with an earlier deadline than all others arrives.
    pub(crate) expiry: Notify,
    current: Mutex<Current>,
    /// The generation of the connection in `current`; 0 while down.
    generation: AtomicU64,
    /// Set when the node is gone for good (it restarted as another node, or
    /// this node shut down): nothing reconnects it any more.
    retired: AtomicBool,
    /// Local actors watching actors of this node.
    watching: Watching,
    /// The node's counters.
    counters: Arc<Counters>,
}

/// The application error code of a connection closed because the other
/// node did not read its replies.
const OVERFLOW: u32 = 2;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code that can panic runs under these locks.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Peer {
    pub(crate) fn new(node: u64, addr: SocketAddr, config: &Config, counters: Arc<Counters>) -> Peer {
        Peer {
            node,
            addr,
            lanes: Lanes::new(config.lanes, config.queue_limit),
            pending: Mutex::new(Pending::new()),
            expiry: Notify::new(),
            current: Mutex::new(Current { connection: None, dialed: false, introducing: false, certificate: None }),
            generation: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            watching: Watching::default(),
            counters,
        }
    }

    /// A peer for node `node`, met through a ref that says it listens at
    /// `addr`, not connected yet: sends wait until
    /// [`introduced`](Peer::introduced).
    pub(crate) fn introducing(node: u64, addr: SocketAddr, config: &Config, counters: Arc<Counters>) -> Peer {
        let peer = Peer::new(node, addr, config, counters);
        lock(&peer.current).introducing = true;
        peer
    }

    /// Whether a new connection that presented `certificate` (DER) may
    /// carry this node's traffic: it is the certificate of the node's first
    /// connection, or this is the first.
    pub(crate) fn binds(&self, certificate: &[u8]) -> bool {
        let mut current = lock(&self.current);
        match &current.certificate {
            Some(bound) => **bound == *certificate,
            None => {
                current.certificate = Some(certificate.into());
                true
            }
        }
    }

    pub(crate) fn is_introducing(&self) -> bool {
        lock(&self.current).introducing
    }

    /// The first connection to an introduced peer is made (`connected`), or
    /// could not be: the sends waiting for it go on, or the watches asked
    /// meanwhile are told the node is lost. (Those watches went out when
    /// the connection was attached.)
    pub(crate) fn introduced(&self, connected: bool) {
        lock(&self.current).introducing = false;
        self.lanes.wake_all();
        if !connected && !self.is_up() {
            self.watching.node_lost(self.node, &self.describe());
        }
    }

    /// Why a frame for this peer, which is down, is not queued: the peer
    /// is being introduced (wait for room), or it is unreachable.
    fn down(&self) -> Refusal {
        if self.is_introducing() { Refusal::Full } else { Refusal::Down(self.unreachable()) }
    }

    /// How errors and logs name this node.
    pub(crate) fn describe(&self) -> String {
        format!("{:x} at {}", self.node & 0xffff, self.addr)
    }

    fn unreachable(&self) -> CallError {
        CallError::NodeUnreachable { node: self.describe() }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.generation.load(Ordering::Acquire) != 0
    }

    /// Whether `generation` is the connection carrying traffic now.
    pub(crate) fn is_current(&self, generation: u64) -> bool {
        self.generation.load(Ordering::Acquire) == generation
    }

    /// Makes `connection` (of `generation`) carry this peer's traffic, unless
    /// a live connection does already and is the preferred one of the two.
    /// Returns whether it was taken, and the connection it replaced.
    pub(crate) fn attach(
        &self,
        connection: &quinn::Connection,
        generation: u64,
        dialed: bool,
        preferred: bool,
    ) -> (bool, Option<quinn::Connection>) {
        let mut current = lock(&self.current);
        let live = current.connection.as_ref().filter(|c| c.close_reason().is_none()).is_some();
        if live && !preferred {
            return (false, None);
        }
        let replaced = current.connection.replace(connection.clone());
        current.dialed = dialed;
        if current.introducing && replaced.is_none() {
            // Watches asked while the first connection was being made go
            // first: a call sent once the peer is up (say, one that stops
            // the watched actor) must not overtake them on their lane.
            for target in self.watching.targets() {
                self.queue_ask(Change::Watch, target);
            }
        }
        self.generation.store(generation, Ordering::Release);
        drop(current);
        // Writers of the replaced connection look up and leave.
        for lane in 0..self.lanes.count() {
            self.lanes.nudge_all(lane);
        }
        (true, replaced.filter(|c| c.stable_id() != connection.stable_id()))
    }

    /// The connection of `generation` is gone. If it was carrying traffic,
    /// fails every waiting call and drops queued frames; returns whether it
    /// was, and whether this node had dialed it.
    pub(crate) fn lost(&self, generation: u64) -> Option<bool> {
        let mut current = lock(&self.current);
        if self.generation.load(Ordering::Acquire) != generation {
            return None;
        }
        self.generation.store(0, Ordering::Release);
        current.connection = None;
        let dialed = current.dialed;
        drop(current);
        self.fail_all();
        Some(dialed)
    }

    /// The node is gone for good: fails what waits, and stops the tasks that
    /// serve this peer.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.generation.store(0, Ordering::Release);
        let connection = {
            let mut current = lock(&self.current);
            current.introducing = false;
            current.connection.take()
        };
        if let Some(connection) = connection {
            connection.close(0u32.into(), b"retired");
        }
        self.fail_all();
        self.expiry.notify_one();
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Fails every waiting call and drops queued frames: the node is down.
    pub(crate) fn fail_all(&self) {
        self.lanes.clear();
        for lane in 0..self.lanes.count() {
            self.lanes.nudge_all(lane);
        }
        let waiting = lock(&self.pending).drain();
        for completion in waiting {
            completion(Err(self.unreachable()));
        }
        self.watching.node_lost(self.node, &self.describe());
    }

    /// Actor `seq` of this node is gone: tells the local actors watching it.
    pub(crate) fn watched_terminated(&self, seq: u64, reason: ExitReason) -> usize {
        self.watching.terminated(self.node, seq, reason)
    }

    /// Queues a frame about actors (a watch, a termination notice) past the
    /// queue limit, like a reply: it must not be lost to a busy connection,
    /// and it is small. Dropped while the node is down: the watches it
    /// serves end with the connection.
    pub(crate) fn send_control(&self, header: Header, lane: usize, payload: &[u8]) {
        if self.is_up() {
            self.push_control(header, lane, payload);
        }
    }

    /// Queues a control frame as [`send_control`](Peer::send_control) does,
    /// up or not.
    fn push_control(&self, header: Header, lane: usize, payload: &[u8]) {
        if let Err(error) = self.lanes.push(lane, &header, payload, true) {
            tracing::debug!(node = %self.describe(), %error, "a control frame could not be queued");
        }
    }

    /// Asks the node to watch its actor `target`, or to forget that watch;
    /// dropped while the node is down, like any control frame.
    fn ask(&self, change: Change, target: u64) {
        if self.is_up() {
            self.queue_ask(change, target);
        }
    }

    /// Queues the ask of [`ask`](Peer::ask), up or not.
    fn queue_ask(&self, change: Change, target: u64) {
        let kind = match change {
            Change::None => return,
            Change::Watch => Kind::Watch,
            Change::Unwatch => Kind::Unwatch,
        };
        let header = Header { target: Target::Actor(target), ..Header::control(kind, 0) };
        self.push_control(header, lane_of(None, target, self.lanes.count()), &[]);
    }

    /// The call `request` answered, if it still waits.
    pub(crate) fn complete(&self, request: u64) -> Option<Completion> {
        lock(&self.pending).complete(request)
    }

    /// Fails the calls whose deadline has passed; returns the next deadline.
    pub(crate) fn expire(&self, now: Instant) -> Option<Instant> {
        let (expired, next) = {
            let mut pending = lock(&self.pending);
            (pending.expire(now), pending.next_deadline())
        };
        for completion in expired {
            completion(Err(CallError::Timeout));
        }
        next
    }

    /// Queues `header` with `payload`; for a call, registers `completion`
    /// under a fresh request id first (a reply cannot beat it).
    pub(crate) fn send_frame(
        &self,
        mut header: Header,
        lane: usize,
        payload: Payload<'_>,
        call: Option<(Instant, Completion)>,
    ) -> Result<(), Refusal> {
        if !self.is_up() {
            return Err(self.down());
        }
        let request = call.map(|(deadline, completion)| {
            let (id, sooner) = lock(&self.pending).insert(deadline, completion);
            if sooner {
                self.expiry.notify_one();
            }
            id
        });
        header.request = request.unwrap_or(0);
        let pushed = self.lanes.push_with(lane, &header, false, payload);
        self.pushed(pushed, request)
    }

    /// Queues the failure of the call `request`.
    fn push_failure(&self, lane: usize, request: u64, error: &CallError) -> Result<(), Refused> {
        let payload = rkyv::to_bytes::<RkyvError>(error).map_err(|error| EnvelopeError::Write(error.to_string()))?;
        self.lanes.push(lane, &Header::control(Kind::Failure, request), &payload, true)
    }

    /// What queueing a request (a call's under the id `request`) came to.
    #[inline]
    fn pushed(&self, pushed: Result<(), Refused>, request: Option<u64>) -> Result<(), Refusal> {
        // A loss between the check before the push and the push would leave
        // the request behind the drain: look again.
        let refusal = match pushed {
            Ok(()) if self.is_up() => return Ok(()),
            Ok(()) => Refusal::Down(self.unreachable()),
            Err(Refused::Full | Refused::Overflow) => Refusal::Full,
            Err(Refused::Envelope(error)) => Refusal::Unsendable(CallError::Protocol { detail: error.to_string() }),
            Err(Refused::Payload(error)) => Refusal::Unsendable(error),
        };
        if let Some(completion) = request.and_then(|id| self.complete(id)) {
            // Full: the caller retries with the same request, so the
            // completion is dropped unrun, as `Link::send` promises.
            if let Refusal::Down(error) | Refusal::Unsendable(error) = &refusal {
                completion(Err(error.clone()));
                return Ok(());
            }
        }
        Err(refusal)
    }
}

impl Link for Peer {
    fn node(&self) -> u64 {
        self.node
    }

    fn send(&self, frame: Outgoing<'_>, call: Option<(Instant, Completion)>) -> Result<(), Refusal> {
        let lane = lane_of(frame.sender, frame.target, self.lanes.count());
        if call.is_none() && frame.chain.is_empty() && frame.budget.is_none() {
            // A plain one-way request: no header made, no request id.
            if !self.is_up() {
                return Err(self.down());
            }
            let route = Route::to_actor(frame.target, frame.service, frame.fingerprint, frame.sender);
            let pushed = self.lanes.push_tell(lane, route, frame.method, frame.payload);
            return self.pushed(pushed, None);
        }
        let header = Header {
            kind: if call.is_some() { Kind::Call } else { Kind::Tell },
            request: 0,
            target: Target::Actor(frame.target),
            service: frame.service,
            fingerprint: frame.fingerprint,
            method: frame.method,
            sender: frame.sender,
            chain: frame.chain,
            budget_micros: frame.budget.map(|budget| u64::try_from(budget.as_micros()).unwrap_or(u64::MAX)),
        };
        self.send_frame(header, lane, frame.payload, call)
    }

    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.is_up() {
            if !self.is_introducing() {
                return Poll::Ready(());
            }
            self.lanes.wait(cx);
            // Introduced between the look and the wait: go on.
            return if self.is_introducing() && !self.is_up() { Poll::Pending } else { Poll::Ready(()) };
        }
        self.lanes.poll_room(cx)
    }

    fn addr(&self) -> Option<SocketAddr> {
        Some(self.addr)
    }

    fn watch(&self, target: ActorId, watcher: Arc<dyn Watcher>) {
        {
            // Under the lock `attach` holds while it asks for the watches
            // of a peer being introduced, and `lost` while it marks the
            // peer down: a watch added here is asked for either there or
            // here, and not queued for a connection that is gone.
            let current = lock(&self.current);
            if !self.is_up() && !current.introducing {
                drop(current);
                let reason = ExitReason::NodeLost { node: self.describe() };
                return watcher.notify(Terminated { id: target, reason });
            }
            let change = self.watching.add(target.seq, watcher);
            if self.is_up() {
                self.queue_ask(change, target.seq);
            }
        }
        // A loss between the check above and the add would leave the
        // watcher behind the drain: look again.
        if !self.is_up() && !self.is_introducing() {
            self.watching.node_lost(self.node, &self.describe());
        }
    }

    fn unwatch(&self, target: ActorId, watcher: ActorId) {
        self.ask(self.watching.remove(target.seq, watcher), target.seq);
    }

    fn dropped(&self, error: &CallError) {
        if matches!(error, CallError::Protocol { .. }) {
            Counters::bump(&self.counters.invalid_payloads);
        }
        tracing::debug!(node = %self.describe(), %error, "a one-way request from another node was dropped");
    }

    fn reply(&self, request: u64, outcome: Result<Payload<'_>, CallError>) {
        if !self.is_up() {
            // The caller's node is gone, and its call with it.
            return;
        }
        // Replies need no order among themselves: spread by request id,
        // with `lane_of`'s multiplication rather than a division.
        let lane = lane_of(None, request, self.lanes.count());
        let pushed = match outcome {
            Ok(payload) => match self.lanes.push_with(lane, &Header::control(Kind::Reply, request), true, payload) {
                // The response could not be written: the caller gets why.
                Err(Refused::Payload(error)) => self.push_failure(lane, request, &error),
                pushed => pushed,
            },
            Err(error) => self.push_failure(lane, request, &error),
        };
        match pushed {
            Ok(()) => {}
            Err(Refused::Overflow) => {
                // It sends requests and does not read the replies: cut it off
                // rather than hold its replies without bound.
                tracing::warn!(node = %self.describe(), "closing the connection: the node does not read its replies");
                if let Some(connection) = lock(&self.current).connection.clone() {
                    connection.close(OVERFLOW.into(), b"replies not read");
                }
            }
            Err(error) => tracing::debug!(node = %self.describe(), %error, "a reply could not be queued"),
        }
    }
}

/// Fails calls whose deadline passes, until the peer is retired.
pub(crate) async fn expire_calls(peer: Arc<Peer>) {
    loop {
        if peer.retired.load(Ordering::Acquire) {
            return;
        }
        let next = peer.expire(Instant::now());
        // A call registered from here on notifies (a stored permit), so its
        // deadline is not missed.
        let notified = peer.expiry.notified();
        match next {
            Some(at) => {
                let _ = tokio::time::timeout_at(at.into(), notified).await;
            }
            None => notified.await,
        }
    }
}
