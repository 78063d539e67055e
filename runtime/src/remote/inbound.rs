//! Requests from other nodes, on their way into a local mailbox.

use std::any::Any;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use super::parcel::{self, Parcel};
use super::{ArchivedHop, Link, decoding};
use crate::chain::{ChainLink, Label};
use crate::codec::EncodeFn;
use crate::letter::{Envelope, Origin};
use crate::protocol::Protocol;
use crate::recipient::{Post, Recipient};
use crate::reply::{Forward, ReplySlot};
use crate::system::SystemShared;
use crate::watch::{ExitReason, Terminated, Watcher};
use crate::{ActorId, CallChain, CallError, TrySendError};

/// A request that arrived from another node, its header already read.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The call's request id; `None` for a one-way request.
    pub request: Option<u64>,
    /// The method id from the header.
    pub method: u32,
    /// The sender's fingerprint of the service.
    pub fingerprint: u64,
    /// The calling actor, if any.
    pub sender: Option<ActorId>,
    /// The actors waiting on this call, outermost first, read in place.
    pub chain: &'a [ArchivedHop],
    /// Time the call had left when it was sent.
    pub budget: Option<Duration>,
    /// The archived request, aligned, not yet checked.
    pub payload: &'a [u8],
}

/// One-way requests in a row from one sender for one actor and service,
/// with no call chain and no deadline: the common case of a stream, which a
/// transport hands over without an [`Incoming`] per request.
#[derive(Debug, Clone, Copy)]
pub struct Tells<'a> {
    /// The sender's fingerprint of the service.
    pub fingerprint: u64,
    /// The sending actor, if any.
    pub sender: Option<ActorId>,
    /// The buffer the archived requests lie in.
    pub bytes: &'a [u8],
    /// Where each request lies in `bytes`, in order.
    pub items: &'a [TellAt],
}

/// Where one request of [`Tells`] lies, and its method id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TellAt {
    /// The offset of its archive in [`Tells::bytes`].
    pub at: usize,
    /// The archive's length.
    pub len: usize,
    /// The method id from the header.
    pub method: u32,
}

impl<'a> Tells<'a> {
    /// The requests as [`Incoming`] ones, in order: a request that lies
    /// outside `bytes` gets an empty payload, which fails its check.
    pub fn to_incoming(&self) -> Vec<Incoming<'a>> {
        let payload = |item: &TellAt| item.at.checked_add(item.len).and_then(|end| self.bytes.get(item.at..end));
        let incoming = |item: &TellAt| Incoming {
            request: None,
            method: item.method,
            fingerprint: self.fingerprint,
            sender: self.sender,
            chain: &[],
            budget: None,
            payload: payload(item).unwrap_or(&[]),
        };
        self.items.iter().map(incoming).collect()
    }
}

/// Why an incoming request was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undelivered {
    /// The mailbox is full: wait with [`Inbound::poll_room`] and retry.
    Full,
    /// The request failed; a call's sender should get this error.
    Failed(CallError),
}

/// One service of one local actor, reachable from other nodes.
pub trait Inbound: Send + Sync + 'static {
    /// The service's name.
    fn service(&self) -> &'static str;

    /// The service's fingerprint in this build.
    fn fingerprint(&self) -> u64;

    /// The actor.
    fn actor(&self) -> ActorId;

    /// Checks and decodes `incoming`, then queues it in the actor's mailbox;
    /// a call's reply goes back through `link` once the handler returns.
    ///
    /// # Errors
    ///
    /// [`Undelivered::Full`] leaves nothing queued. [`Undelivered::Failed`]
    /// says why the request cannot run: the actor stopped, the fingerprints
    /// or method differ, the payload is not a valid request, the deadline has
    /// passed, or the call would close a cycle ([`CallError::Deadlock`]).
    fn try_deliver(&self, incoming: Incoming<'_>, link: &Arc<dyn Link>) -> Result<(), Undelivered>;

    /// Delivers a run of requests, in order, as many calls of
    /// [`try_deliver`](Inbound::try_deliver) would, but queues them with one
    /// lock of the mailbox and at most one wake-up of the actor. A request
    /// that cannot run is handed to `failed` with its index in `incoming`
    /// and the error its sender should get.
    ///
    /// One-way requests in a row go to a local mailbox as one parcel, their
    /// payloads checked and decoded on the actor's task: one whose payload
    /// does not check is then dropped there and reported to
    /// [`Link::dropped`], not to `failed`.
    ///
    /// Returns how many requests, from the front, were dealt with (queued or
    /// failed): all of them, or fewer when the mailbox is full; then wait
    /// with [`poll_room`](Inbound::poll_room) and deliver the rest.
    fn try_deliver_many(
        &self,
        incoming: &[Incoming<'_>],
        link: &Arc<dyn Link>,
        failed: &mut dyn FnMut(usize, CallError),
    ) -> usize {
        one_by_one(self, incoming, link, failed)
    }

    /// Delivers `tells` as [`try_deliver_many`](Inbound::try_deliver_many)
    /// would deliver them as [`Incoming`] requests; in a local mailbox they
    /// go as parcels copied from `tells.bytes` in one piece.
    fn try_deliver_tells(
        &self,
        tells: Tells<'_>,
        link: &Arc<dyn Link>,
        failed: &mut dyn FnMut(usize, CallError),
    ) -> usize {
        self.try_deliver_many(&tells.to_incoming(), link, failed)
    }

    /// Ready once the actor's mailbox has room (or it stopped).
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()>;

    /// Tells `watcher` (an actor of another node) once the actor is gone;
    /// at once when it is gone already.
    fn watch(&self, watcher: Arc<dyn Watcher>);

    /// Withdraws the watch of `watcher`.
    fn unwatch(&self, watcher: ActorId);

    /// For finding the typed entry again.
    #[doc(hidden)]
    fn as_any(&self) -> &dyn Any;
}

/// Service `P` of one actor, as exported: a weak handle, so an export does
/// not keep its actor alive.
pub(crate) struct Served<P: Protocol> {
    id: ActorId,
    post: Weak<dyn Post<P>>,
}

impl<P: Protocol> Served<P> {
    pub(crate) fn new(recipient: &Recipient<P>) -> Self {
        Served { id: recipient.id(), post: recipient.downgrade() }
    }

    pub(crate) fn recipient(&self) -> Option<Recipient<P>> {
        self.post.upgrade().map(Recipient::from_post)
    }
}

impl<P: Protocol> Inbound for Served<P> {
    fn service(&self) -> &'static str {
        P::SERVICE
    }

    fn fingerprint(&self) -> u64 {
        P::FINGERPRINT
    }

    fn actor(&self) -> ActorId {
        self.id
    }

    fn try_deliver(&self, incoming: Incoming<'_>, link: &Arc<dyn Link>) -> Result<(), Undelivered> {
        let failed = |error| Err(Undelivered::Failed(error));
        let Some(post) = self.post.upgrade() else { return failed(CallError::ActorStopped) };
        let Some(system) = post.system() else { return failed(CallError::ActorStopped) };
        let envelope = match envelope::<P>(self.id, system, &incoming, link) {
            Ok(envelope) => envelope,
            Err(error) => return failed(error),
        };
        match post.try_post(envelope) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(Undelivered::Full),
            // `ActorStopped`, or why the request cannot be queued.
            Err(refused) => failed(refused.into()),
        }
    }

    fn try_deliver_many(
        &self,
        incoming: &[Incoming<'_>],
        link: &Arc<dyn Link>,
        failed: &mut dyn FnMut(usize, CallError),
    ) -> usize {
        if incoming.len() == 1 {
            // A lone request (a call waiting for its reply): nothing to
            // gather.
            return one_by_one(self, incoming, link, failed);
        }
        let post = self.post.upgrade();
        let Some((post, system)) = post.as_ref().and_then(|post| Some((post, post.system()?))) else {
            (0..incoming.len()).for_each(|at| failed(at, CallError::ActorStopped));
            return incoming.len();
        };
        let parcels = post.takes_parcels();
        let mut at = 0;
        while at < incoming.len() {
            let tells =
                if parcels { incoming[at..].iter().take_while(|one| Parcel::<P>::takes(one)).count() } else { 0 };
            if tells >= parcel::FEWEST {
                let run = &incoming[at..at + tells];
                match parcel(&**post, tells, |count| Parcel::new(&run[..count], system, link)) {
                    Ok(queued) => at += queued,
                    Err(TrySendError::Full(())) => return at,
                    Err(refused) => {
                        let error = CallError::from(refused);
                        (at..at + tells).for_each(|at| failed(at, error.clone()));
                        at += tells;
                    }
                }
                continue;
            }
            // One round: the requests up to the next that cannot run or
            // that starts a parcel, made one by one as the mailbox asks for
            // them. Whatever came before a request that failed is queued
            // before it is failed.
            let end = if parcels { at + tells + parcel_start::<P>(&incoming[at + tells..]) } else { incoming.len() };
            let mut failure = None;
            let hint = end - at;
            let mut next = || {
                let one = incoming[..end].get(at)?;
                at += 1;
                envelope::<P>(self.id, system, one, link).map_err(|error| failure = Some(error)).ok()
            };
            let posted = post.try_post_many(hint, &mut next);
            // The requests made this round end before the one that failed.
            let made = if failure.is_some() { at - 1 } else { at };
            match posted {
                Ok(()) => {}
                Err(TrySendError::Full(unqueued)) => return made - unqueued,
                Err(refused) => {
                    let unqueued = refused.clone().into_inner();
                    let error = CallError::from(refused);
                    (made - unqueued..made).for_each(|at| failed(at, error.clone()));
                }
            }
            if let Some(error) = failure {
                failed(made, error);
            }
        }
        incoming.len()
    }

    fn try_deliver_tells(
        &self,
        tells: Tells<'_>,
        link: &Arc<dyn Link>,
        failed: &mut dyn FnMut(usize, CallError),
    ) -> usize {
        let post = self.post.upgrade();
        let target = post.as_ref().and_then(|post| Some((post, post.system()?)));
        let parcels = tells.items.len() >= parcel::FEWEST && tells.fingerprint == P::FINGERPRINT && P::CODEC.is_some();
        let Some((post, system)) = target.filter(|(post, _)| parcels && post.takes_parcels()) else {
            // Not as parcels: one by one, each failed with its reason.
            return self.try_deliver_many(&tells.to_incoming(), link, failed);
        };
        let mut at = 0;
        while at < tells.items.len() {
            let left = &tells.items[at..];
            let make = |count| Parcel::from_tells(Tells { items: &left[..count], ..tells }, system, link);
            match parcel(&**post, left.len(), make) {
                Ok(queued) => at += queued,
                Err(TrySendError::Full(())) => return at,
                Err(refused) => {
                    let error = CallError::from(refused);
                    (at..tells.items.len()).for_each(|at| failed(at, error.clone()));
                    return tells.items.len();
                }
            }
        }
        at
    }

    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self.post.upgrade() {
            Some(post) => post.poll_room(cx),
            None => Poll::Ready(()),
        }
    }

    fn watch(&self, watcher: Arc<dyn Watcher>) {
        match self.post.upgrade() {
            Some(post) => post.add_watcher(watcher),
            None => watcher.notify(Terminated { id: self.id, reason: ExitReason::NotFound }),
        }
    }

    fn unwatch(&self, watcher: ActorId) {
        if let Some(post) = self.post.upgrade() {
            post.remove_watcher(watcher);
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Delivers `incoming` with one [`Inbound::try_deliver`] each; what
/// [`Inbound::try_deliver_many`] does unless an implementation gathers.
fn one_by_one<I: Inbound + ?Sized>(
    inbound: &I,
    incoming: &[Incoming<'_>],
    link: &Arc<dyn Link>,
    failed: &mut dyn FnMut(usize, CallError),
) -> usize {
    for (at, one) in incoming.iter().enumerate() {
        match inbound.try_deliver(*one, link) {
            Ok(()) => {}
            Err(Undelivered::Full) => return at,
            Err(Undelivered::Failed(error)) => failed(at, error),
        }
    }
    incoming.len()
}

/// Queues the first of `len` one-way requests that a parcel takes (at least
/// [`parcel::FEWEST`]) as one parcel, which `make` makes of the first
/// `count`: as many as the mailbox has room for. Returns how many were
/// queued; `Full` when there was room for none.
fn parcel<P: Protocol>(
    post: &dyn Post<P>,
    len: usize,
    make: impl FnOnce(usize) -> Parcel<P>,
) -> Result<usize, TrySendError<()>> {
    let count = len.min(post.parcel_room());
    if count == 0 {
        return Err(TrySendError::Full(()));
    }
    // Refused as full: others filled the mailbox meanwhile; the caller
    // waits for room, then tries again.
    post.try_post_parcel(make(count)).map(|()| count)
}

/// Where the next parcel starts in `incoming`: at the first of at least
/// [`parcel::FEWEST`] one-way requests in a row that a parcel takes; the
/// length of `incoming` if none does.
fn parcel_start<P: Protocol>(incoming: &[Incoming<'_>]) -> usize {
    let mut row = 0;
    for (at, one) in incoming.iter().enumerate() {
        row = if Parcel::<P>::takes(one) { row + 1 } else { 0 };
        if row == parcel::FEWEST {
            return at + 1 - row;
        }
    }
    incoming.len()
}

/// Checks and decodes a request for actor `id`.
fn envelope<P: Protocol>(
    id: ActorId,
    system: &Arc<SystemShared>,
    incoming: &Incoming<'_>,
    link: &Arc<dyn Link>,
) -> Result<Envelope<P>, CallError> {
    if incoming.fingerprint != P::FINGERPRINT {
        return Err(fingerprint_mismatch(P::SERVICE, P::FINGERPRINT, incoming.fingerprint));
    }
    let Some(codec) = P::CODEC else {
        let detail = format!("`{}` is `#[actor(local)]`", P::SERVICE);
        return Err(CallError::Protocol { detail });
    };
    if incoming.budget == Some(Duration::ZERO) {
        return Err(CallError::Timeout);
    }
    // Most requests come with no call chain (one-way ones always): the
    // checks of one are skipped then.
    let chained = !incoming.chain.is_empty();
    if let Some(chain) = chained.then(|| cycle(incoming.chain, id)).flatten() {
        return Err(CallError::Deadlock { chain });
    }
    let request = decoding(system, link, || (codec.decode_request)(incoming.payload))?;
    if request.method().id != incoming.method {
        let detail = format!("the header names another method of `{}` than the request", P::SERVICE);
        return Err(CallError::Protocol { detail });
    }
    let origin = Origin {
        sender: incoming.sender,
        chain: chained.then(|| chain_from_hops(incoming.chain)).flatten(),
        deadline: incoming.budget.map(|budget| system.deadlines.deadline(budget)),
    };
    let reply = incoming
        .request
        .map(|request| Arc::new(ReplySlot::forward(forward::<P>(request, link.clone(), codec.encode_response))));
    Ok(Envelope { request, reply, origin })
}

/// The error of a call between two builds of a service trait that differ.
pub(crate) fn fingerprint_mismatch(service: &str, ours: u64, theirs: u64) -> CallError {
    CallError::Protocol {
        detail: format!(
            "the two nodes were built from different versions of the service trait `{service}` \
             (fingerprint {ours:016x} here, {theirs:016x} there)"
        ),
    }
}

/// Sends the first fill of a remote call's reply slot back over `link`.
fn forward<P: Protocol>(request: u64, link: Arc<dyn Link>, encode: EncodeFn<P::Response>) -> Forward<P::Response> {
    Box::new(move |reply| match reply {
        Ok(response) => link.reply(request, Ok(&|archiver, out| encode(&response, archiver, out))),
        Err(error) => link.reply(request, Err(error)),
    })
}

/// The cycle a call to `target` closes, if `target` is already waiting in
/// its chain.
fn cycle(chain: &[ArchivedHop], target: ActorId) -> Option<CallChain> {
    let from = chain.iter().position(|hop| ActorId::from(&hop.actor) == target)?;
    let mut labels: Vec<String> = chain[from..].iter().map(|hop| hop.label.as_str().to_owned()).collect();
    labels.push(chain[from].label.as_str().to_owned());
    Some(CallChain(labels))
}

/// A call chain read from the wire, as local calls extend it.
pub(crate) fn chain_from_hops(chain: &[ArchivedHop]) -> Option<Arc<ChainLink>> {
    chain.iter().fold(None, |parent, hop| {
        let label = Label { ty: "", name: Some(hop.label.as_str().into()) };
        Some(Arc::new(ChainLink { id: ActorId::from(&hop.actor), label, parent }))
    })
}
