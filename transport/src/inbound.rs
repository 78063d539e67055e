//! The receive path: frames cut from a stream, their headers checked once
//! and read in place, and each routed by its header, the payload untouched
//! until the target decodes it.
//!
//! Bad input is counted and answered, never fatal: a frame whose header is
//! not valid is dropped; a request for an actor, name or service not served
//! here, or whose payload does not check, fails with a typed error sent
//! back when the frame has a request id. Only a stream that lost its framing
//! (a length over the maximum) is closed, since nothing after that point can
//! be trusted; the connection and its other streams go on.

use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;

use courier_runtime::remote::{Inbound, InboundTarget, Incoming, Link, TellAt, Tells, Undelivered, archived};
use courier_runtime::{ActorId, CallError, System};
use rkyv::rancor::Error as RkyvError;

use crate::envelope::{ArchivedKind, EnvelopeRef, PlainTell, StreamRoute, TargetRef};
use crate::frame::{Decoder, Frames};
use crate::node::Shared;
use crate::peer::Peer;
use crate::stats::Counters;

/// The application error code a stream is stopped with when it lost its
/// framing.
const BROKEN_STREAM: u32 = 1;

/// How many received pieces of a stream one read takes at most: all that
/// have arrived, up to this, go to their actor together, so that a busy
/// stream wakes its actor once per read rather than once per packet.
const CHUNKS_PER_READ: usize = 32;

/// The last target a stream delivered to: a stream usually carries one
/// pair, so the lookup is made once.
type Route = Option<((u64, u64), Arc<dyn Inbound>)>;

/// Reads frames from `stream` until it ends, routing each.
pub(crate) async fn read_stream(shared: Arc<Shared>, peer: Arc<Peer>, mut stream: quinn::RecvStream) {
    let link: Arc<dyn Link> = peer.clone();
    let mut decoder = Decoder::new(shared.config.max_frame);
    let mut route: Route = None;
    // The route compact headers on this stream leave out.
    let mut stream_route = StreamRoute::default();
    let mut chunks: [Bytes; CHUNKS_PER_READ] = std::array::from_fn(|_| Bytes::new());
    loop {
        let read = match stream.read_chunks(&mut chunks).await {
            Ok(Some(read)) => read,
            Ok(None) | Err(_) => {
                if !decoder.is_idle() {
                    // The stream ended inside a frame: a truncated frame.
                    Counters::bump(&shared.counters.broken_streams);
                }
                return;
            }
        };
        let (frames, error) = decoder.next_many_of(&chunks[..read]);
        // The frames are copies: the received buffers go back at once, not
        // when the next read overwrites them.
        chunks[..read].fill(Bytes::new());
        if !frames.is_empty() {
            // Upgraded once per read, not per frame; `None` once the system
            // is gone (its frames are then dropped).
            let system = shared.system.upgrade();
            let mut reader = Reader { shared: &shared, system: system.as_ref(), peer: &peer, link: &link, unsaid: 0 };
            reader.route_all(frames, &mut route, &mut stream_route).await;
        }
        if let Some(error) = error {
            Counters::bump(&shared.counters.broken_streams);
            tracing::warn!(node = %peer.describe(), %error, "closing a stream that lost its framing");
            let _ = stream.stop(BROKEN_STREAM.into());
            return;
        }
    }
}

/// What routing one chunk's frames needs.
struct Reader<'a> {
    shared: &'a Arc<Shared>,
    system: Option<&'a System>,
    peer: &'a Arc<Peer>,
    link: &'a Arc<dyn Link>,
    /// Frames received and not yet added to the counter: it is added once
    /// per run, before the run is acted on.
    unsaid: usize,
}

impl Reader<'_> {
    /// Routes a chunk's frames in order. Consecutive requests for one actor
    /// and service (the common case: a stream carries one pair) go to its
    /// mailbox together; consecutive compact one-way requests without a
    /// budget (the most common frame) go without an [`Incoming`] each.
    async fn route_all(&mut self, frames: Frames<'_>, route: &mut Route, stream: &mut StreamRoute) {
        let mut run: Vec<Incoming<'_>> = Vec::new();
        let mut run_key = (0, 0);
        let mut tells: Vec<TellAt> = Vec::new();
        let mut tells_to = None;
        for (frame, at) in frames.iter_placed() {
            if let (Some(_), Some((method, to))) = (self.system, stream.plain_tell(frame.header())) {
                if !run.is_empty() {
                    self.flush(run_key, Run::Requests(&run), route).await;
                    run.clear();
                }
                if tells.is_empty() {
                    // Only a full header changes a stream's route, and it
                    // ends the run: the run goes one way.
                    tells_to = Some(to);
                    tells.reserve(frames.len());
                }
                self.unsaid += 1;
                tells.push(TellAt { at, len: frame.payload().len(), method });
                continue;
            }
            if let Some(to) = tells_to.take() {
                let (key, run) = Run::tells(to, frames.bytes(), &tells);
                self.flush(key, run, route).await;
                tells.clear();
            }
            let Ok(envelope) = EnvelopeRef::check_on(frame, stream) else {
                Counters::bump(&self.shared.counters.invalid_headers);
                tracing::debug!(node = %self.peer.describe(), "dropped a frame whose header is not valid");
                continue;
            };
            self.unsaid += 1;
            let request = matches!(envelope.kind(), ArchivedKind::Call | ArchivedKind::Tell) && self.system.is_some();
            if let (true, TargetRef::Actor(seq)) = (request, envelope.target()) {
                let key = (seq, envelope.service());
                if key != run_key && !run.is_empty() {
                    self.flush(run_key, Run::Requests(&run), route).await;
                    run.clear();
                }
                run_key = key;
                if run.is_empty() {
                    run.reserve(frames.len());
                }
                run.push(envelope.incoming());
                continue;
            }
            if !run.is_empty() {
                self.flush(run_key, Run::Requests(&run), route).await;
                run.clear();
            }
            self.say();
            handle(self.shared, self.system, self.peer, self.link, envelope).await;
        }
        if !run.is_empty() {
            self.flush(run_key, Run::Requests(&run), route).await;
        }
        if let Some(to) = tells_to {
            let (key, run) = Run::tells(to, frames.bytes(), &tells);
            self.flush(key, run, route).await;
        }
        self.say();
    }

    fn say(&mut self) {
        Counters::add(&self.shared.counters.frames_received, std::mem::take(&mut self.unsaid));
    }

    /// Delivers requests for one actor and service, waiting for room in a full mailbox (which holds back this stream, and
    /// through QUIC's flow control, its sender).
    async fn flush(&mut self, (seq, service): (u64, u64), run: Run<'_, '_>, route: &mut Route) {
        self.say();
        let Some(system) = self.system else { return };
        let inbound = match cached(system, seq, service, route) {
            Ok(inbound) => inbound,
            Err(error) => {
                for at in 0..run.len() {
                    Counters::bump(&self.shared.counters.unknown_targets);
                    fail(self.peer, run.request(at), error.clone());
                }
                return;
            }
        };
        let mut done = 0;
        loop {
            let from = done;
            done += run.deliver(&**inbound, from, self.link, &mut |at, error| {
                if matches!(error, CallError::Protocol { .. }) {
                    Counters::bump(&self.shared.counters.invalid_payloads);
                }
                fail(self.peer, run.request(from + at), error);
            });
            if done >= run.len() {
                return;
            }
            poll_fn(|cx| inbound.poll_room(cx)).await;
        }
    }
}

/// Requests in a row for one actor and service.
#[derive(Clone, Copy)]
enum Run<'r, 'a> {
    /// Requests of any kind, their headers read.
    Requests(&'r [Incoming<'a>]),
    /// Compact one-way requests without a budget, from one sender.
    Tells(Tells<'r>),
}

impl<'r> Run<'r, '_> {
    /// The one-way requests `items` of a stream whose route is `to`, with
    /// the actor and service they go to.
    fn tells(to: PlainTell, bytes: &'r [u8], items: &'r [TellAt]) -> ((u64, u64), Self) {
        let tells = Tells { fingerprint: to.fingerprint, sender: to.sender, bytes, items };
        ((to.actor, to.service), Run::Tells(tells))
    }

    fn len(&self) -> usize {
        match self {
            Run::Requests(run) => run.len(),
            Run::Tells(tells) => tells.items.len(),
        }
    }

    /// The call id of request `at`, if it is a call.
    fn request(&self, at: usize) -> Option<u64> {
        match self {
            Run::Requests(run) => run.get(at).and_then(|one| one.request),
            Run::Tells(_) => None,
        }
    }

    /// Delivers the requests from `from` on; see
    /// [`Inbound::try_deliver_many`].
    fn deliver(
        &self,
        inbound: &dyn Inbound,
        from: usize,
        link: &Arc<dyn Link>,
        failed: &mut dyn FnMut(usize, CallError),
    ) -> usize {
        match self {
            Run::Requests(run) => inbound.try_deliver_many(&run[from..], link, failed),
            Run::Tells(tells) => {
                inbound.try_deliver_tells(Tells { items: &tells.items[from..], ..*tells }, link, failed)
            }
        }
    }
}

/// Handles a frame that is not a request for an actor by its sequence
/// number.
async fn handle(
    shared: &Arc<Shared>,
    system: Option<&System>,
    peer: &Arc<Peer>,
    link: &Arc<dyn Link>,
    envelope: EnvelopeRef<'_>,
) {
    let request = envelope.request();
    match envelope.kind() {
        ArchivedKind::Call | ArchivedKind::Tell => {
            let Some(system) = system else { return };
            deliver(shared, peer, link, system, envelope).await;
        }
        ArchivedKind::Reply => match peer.complete(request) {
            Some(completion) => completion(Ok(envelope.payload())),
            None => Counters::bump(&shared.counters.stray_replies),
        },
        ArchivedKind::Failure => match peer.complete(request) {
            Some(completion) => {
                let error = rkyv::from_bytes::<CallError, RkyvError>(envelope.payload()).unwrap_or_else(|_| {
                    Counters::bump(&shared.counters.invalid_payloads);
                    CallError::Protocol { detail: "the other node's failure could not be read".to_owned() }
                });
                completion(Err(error));
            }
            None => Counters::bump(&shared.counters.stray_replies),
        },
        ArchivedKind::Resolve => {
            let Some(system) = system else { return };
            let found = match envelope.target() {
                TargetRef::Name(name) => system.resolve_served(name, envelope.service(), envelope.fingerprint()),
                _ => Err(CallError::NotFound { what: "a lookup names no actor".to_owned() }),
            };
            answer_with_actor(shared, peer, request, found);
        }
        ArchivedKind::Spawn | ArchivedKind::Watch | ArchivedKind::Unwatch | ArchivedKind::Terminated => {
            crate::control::handle(shared, system, peer, envelope);
        }
        ArchivedKind::Hello => {
            Counters::bump(&shared.counters.invalid_headers);
            tracing::debug!(node = %peer.describe(), "dropped a hello after the handshake");
        }
    }
}

/// Answers a lookup or a remote spawn with the actor's id, or the typed
/// error, counting a missing target or a version mismatch.
pub(crate) fn answer_with_actor(shared: &Shared, peer: &Peer, request: u64, found: Result<ActorId, CallError>) {
    match found.and_then(|id| {
        rkyv::to_bytes::<RkyvError>(&id).map_err(|error| CallError::Protocol { detail: error.to_string() })
    }) {
        Ok(bytes) => peer.reply(request, Ok(&archived(&bytes))),
        Err(error) => {
            match error {
                CallError::Protocol { .. } => Counters::bump(&shared.counters.invalid_payloads),
                CallError::NotFound { .. } => Counters::bump(&shared.counters.unknown_targets),
                // A kind's factory that panicked: the node itself is fine.
                _ => {}
            }
            peer.reply(request, Err(error));
        }
    }
}

/// Routes a call or one-way request by name (or naming no actor) to its
/// actor, waiting for room in a full mailbox.
async fn deliver(shared: &Shared, peer: &Peer, link: &Arc<dyn Link>, system: &System, envelope: EnvelopeRef<'_>) {
    let one = envelope.incoming();
    let found = match envelope.target() {
        TargetRef::Actor(seq) => system.inbound(InboundTarget::Actor(seq), envelope.service()),
        TargetRef::Name(name) => system.inbound(InboundTarget::Name(name), envelope.service()),
        TargetRef::Node => Err(CallError::NotFound { what: "a request names no actor".to_owned() }),
    };
    let inbound = match found {
        Ok(inbound) => inbound,
        Err(error) => {
            Counters::bump(&shared.counters.unknown_targets);
            return fail(peer, one.request, error);
        }
    };
    loop {
        match inbound.try_deliver(one, link) {
            Ok(()) => return,
            Err(Undelivered::Full) => poll_fn(|cx| inbound.poll_room(cx)).await,
            Err(Undelivered::Failed(error)) => {
                if matches!(error, CallError::Protocol { .. }) {
                    Counters::bump(&shared.counters.invalid_payloads);
                }
                return fail(peer, one.request, error);
            }
        }
    }
}

/// The service `service` of actor `seq`, from the stream's last route when
/// it is the same (lent out of it: no reference count is touched per run).
fn cached<'r>(
    system: &System,
    seq: u64,
    service: u64,
    route: &'r mut Route,
) -> Result<&'r Arc<dyn Inbound>, CallError> {
    let key = (seq, service);
    let inbound = match route.take() {
        Some((cached, inbound)) if cached == key => inbound,
        _ => system.inbound(InboundTarget::Actor(seq), service)?,
    };
    Ok(&route.insert((key, inbound)).1)
}

/// Tells a call's sender why it failed; a one-way request has nobody to
/// tell.
fn fail(peer: &Peer, call: Option<u64>, error: CallError) {
    match call {
        Some(request) => peer.reply(request, Err(error)),
        None => tracing::debug!(node = %peer.describe(), %error, "a one-way request from another node was dropped"),
    }
}
