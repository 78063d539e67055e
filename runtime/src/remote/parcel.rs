//! Parcels: one-way requests from another node for one actor and service,
//! queued together as one letter and decoded on the actor's task.
//!
//! A connection's frames are read by one task. Checking, decoding and
//! sealing every request into a letter there made that task the bound on
//! what a node takes in, while the actor's task, on the other core, had
//! room to spare. For a stretch of one-way requests, the reader now checks
//! the headers only (fingerprint, deadline), copies the archived requests
//! into one aligned buffer, and queues that; the actor's task checks and
//! decodes each request when it comes to it.
//!
//! A parcel is one letter that holds several messages:
//! - it counts once per request against the mailbox's capacity
//!   ([`Deliver::weight`]), and each request leaves the count when it is
//!   handed over, as a letter does;
//! - it hands its requests over one at a time, each to a handler of its
//!   own, admitted on its own ([`Actor::admit`] sees the decoded request),
//!   with signals looked at before each. One future on the actor's task
//!   runs them in turn ([`Parcel::run_on`]): going back through the
//!   actor's message loop for each request cost more than the request;
//!   the future stops and hands the rest back to the loop whenever the
//!   loop has something to do first (a signal, a stash, a panic, an
//!   unstash);
//! - when the actor stashes a request, that request leaves the parcel as a
//!   letter of its own ([`Deliver::split_front`]);
//! - a parcel rejected (its actor stopped) makes a dead letter of each
//!   request left in it.
//!
//! Calls never travel in parcels: a call's reply slot and deadline must
//! stay where the deadline sweeper reaches them.

use std::cell::OnceCell;
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use rkyv::util::AlignedVec;

use super::{Incoming, Link, Tells, decoding};
use crate::context::{Current, enter, outside};
use crate::error::panic_message;
use crate::events::DeadLetter;
use crate::handling::Handling;
use crate::letter::{self, Deliver, Envelope, Letter, Origin, Outcome, Then};
use crate::mailbox::Mailbox;
use crate::protocol::{Dispatch, Method, Protocol};
use crate::stash::{Admit, Peek};
use crate::system::SystemShared;
use crate::{Actor, ActorId, CallError, Context};

/// The fewest one-way requests in a row that travel as a parcel: a lone
/// request is cheaper as a letter of its own.
pub(crate) const FEWEST: usize = 2;

/// Zeros that pad each archive in a parcel to the next aligned offset.
const PAD: [u8; AlignedVec::<16>::ALIGNMENT] = [0; AlignedVec::<16>::ALIGNMENT];

/// Requests of service `P` still archived, with what their headers said.
pub(crate) struct Parcel<P: Protocol> {
    /// The archived requests, each at an offset aligned as rkyv needs.
    bytes: AlignedVec,
    items: Vec<Item>,
    /// How many requests, from the front, were handed over.
    handed: usize,
    /// The next request, once decoded: `admit` may look at it before it is
    /// handed over, and it is decoded once.
    front: OnceCell<Result<P, CallError>>,
    /// The connection the requests came over, and the system they came to:
    /// refs inside them resolve through these, and the link counts the
    /// requests that cannot run.
    link: Arc<dyn Link>,
    system: Arc<SystemShared>,
}

/// One request of a parcel.
struct Item {
    /// Where its archive lies in `bytes`, and how long it is.
    at: usize,
    len: usize,
    /// The method id its header named.
    method: u32,
    sender: Option<ActorId>,
    /// The tick after which it must not run (see [`deadline`](crate::deadline)).
    deadline: Option<u64>,
}

impl Item {
    /// Where it comes from: a one-way request carries no chain.
    fn origin(&self) -> Origin {
        Origin { sender: self.sender, chain: None, deadline: self.deadline }
    }
}

impl<P: Protocol> Parcel<P> {
    /// Whether `incoming` may travel in a parcel of service `P`: a one-way
    /// request whose header passes the checks made before queueing. Any
    /// other goes as a letter of its own, which fails it with the right
    /// error.
    pub(crate) fn takes(incoming: &Incoming<'_>) -> bool {
        incoming.request.is_none()
            && incoming.chain.is_empty()
            && incoming.fingerprint == P::FINGERPRINT
            && P::CODEC.is_some()
            && incoming.budget != Some(Duration::ZERO)
    }

    /// Copies `requests` (each one that [`takes`](Parcel::takes)) into a
    /// parcel; their budgets become deadlines on `system`'s clock now.
    pub(crate) fn new(requests: &[Incoming<'_>], system: &Arc<SystemShared>, link: &Arc<dyn Link>) -> Self {
        let aligned = |len: usize| len.next_multiple_of(AlignedVec::<16>::ALIGNMENT);
        // Room for the padding after the last request, written whole (see
        // the loop below).
        let room = requests.iter().map(|one| aligned(one.payload.len())).sum::<usize>() + PAD.len();
        let mut bytes = AlignedVec::with_capacity(room);
        let items = requests
            .iter()
            .map(|one| {
                let at = bytes.len();
                bytes.extend_from_slice(one.payload);
                // A copy of a constant size and a cut, where `resize` would
                // call `memset` for a few bytes, once per request.
                let end = aligned(bytes.len());
                bytes.extend_from_slice(&PAD);
                bytes.resize(end, 0);
                Item {
                    at,
                    len: one.payload.len(),
                    method: one.method,
                    sender: one.sender,
                    deadline: one.budget.map(|budget| system.deadlines.deadline(budget)),
                }
            })
            .collect();
        Parcel { bytes, items, handed: 0, front: OnceCell::new(), link: link.clone(), system: system.clone() }
    }

    /// Copies `tells` (at least one) into a parcel: in one piece, from the
    /// first request's start to the last one's end, when they lie in order
    /// at offsets from the first that keep them aligned (as a transport's
    /// buffer of frames has them); otherwise one by one, as
    /// [`new`](Parcel::new).
    pub(crate) fn from_tells(tells: Tells<'_>, system: &Arc<SystemShared>, link: &Arc<dyn Link>) -> Self {
        let Some((first, region)) = in_one_piece(&tells) else {
            return Parcel::new(&tells.to_incoming(), system, link);
        };
        let mut bytes = AlignedVec::with_capacity(region.len());
        bytes.extend_from_slice(region);
        let items = tells
            .items
            .iter()
            .map(|one| Item {
                at: one.at - first,
                len: one.len,
                method: one.method,
                sender: tells.sender,
                deadline: None,
            })
            .collect();
        Parcel { bytes, items, handed: 0, front: OnceCell::new(), link: link.clone(), system: system.clone() }
    }

    /// How many requests it holds.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Checks and decodes request `at`, as a request queued alone was.
    ///
    /// Inlined, with [`take_front`](Parcel::take_front), into the loop that
    /// runs the requests: called, each returned the request through a copy
    /// of its own, which waited for the stores of the one before to land
    /// (in a profile of the remote one-way bench, half of this function's
    /// samples sat on two such loads).
    #[inline(always)]
    fn decode(&self, at: usize) -> Result<P, CallError> {
        let item = &self.items[at];
        let Some(codec) = P::CODEC else {
            return Err(CallError::Protocol { detail: format!("`{}` is `#[actor(local)]`", P::SERVICE) });
        };
        let bytes = &self.bytes[item.at..item.at + item.len];
        let request = decoding(&self.system, &self.link, || (codec.decode_request)(bytes))?;
        if request.method().id != item.method {
            let detail = format!("the header names another method of `{}` than the request", P::SERVICE);
            return Err(CallError::Protocol { detail });
        }
        Ok(request)
    }

    /// The next request, decoded once.
    fn front(&self) -> Option<&P> {
        if self.handed >= self.items.len() {
            return None;
        }
        self.front.get_or_init(|| self.decode(self.handed)).as_ref().ok()
    }

    /// Takes the next request out, decoded, with its origin.
    #[inline(always)]
    fn take_front(&mut self) -> Option<(Result<P, CallError>, Origin)> {
        let origin = self.items.get(self.handed)?.origin();
        let request = self.front.take().unwrap_or_else(|| self.decode(self.handed));
        self.handed += 1;
        Some((request, origin))
    }
}

/// Where `tells` start, and the bytes from there to their end, if they lie
/// in order in `tells.bytes`, each at an offset from the first that is a
/// multiple of the alignment rkyv needs.
fn in_one_piece<'a>(tells: &Tells<'a>) -> Option<(usize, &'a [u8])> {
    let first = tells.items.first()?.at;
    let mut end = first;
    for one in tells.items {
        if one.at < end || (one.at - first) % AlignedVec::<16>::ALIGNMENT != 0 {
            return None;
        }
        end = one.at.checked_add(one.len)?;
    }
    Some((first, tells.bytes.get(first..end)?))
}

/// What `admit` sees: the next request, decoded here if it was not yet
/// (a request that does not decode shows no method, and is never stashed).
impl<P: Protocol> Peek for Parcel<P> {
    fn service(&self) -> Option<&'static str> {
        Some(P::SERVICE)
    }

    fn method(&self) -> Option<Method> {
        Some(self.front()?.method())
    }

    fn request(&self) -> Option<&dyn std::any::Any> {
        Some(self.front()?)
    }
}

impl<P: Protocol> Parcel<P> {
    /// Moves the requests left out, leaving this parcel empty.
    fn take_all(&mut self) -> Parcel<P> {
        let empty = Parcel {
            bytes: AlignedVec::new(),
            items: Vec::new(),
            handed: 0,
            front: OnceCell::new(),
            link: self.link.clone(),
            system: self.system.clone(),
        };
        std::mem::replace(self, empty)
    }

    /// Runs the requests left, one after another, on `actor`: the first
    /// was admitted and counted out by the actor's task; each next one is
    /// counted out and admitted here, after a look at the signals. Each
    /// runs with its own context, and a panic in one is caught.
    ///
    /// Stops early, handing back the rest, when a signal is pending, when
    /// `admit` stashes a request or panics, and when a handler panics: the
    /// actor's task then deals with the rest as with any letter.
    async fn run_on<A: Actor>(mut self, actor: &'static mut A, cell: Arc<Mailbox<A>>) -> Outcome<A>
    where
        P: Dispatch<A>,
    {
        let ctx = Context::new(cell.clone());
        let mut current = Current::new(cell.clone(), Origin::default());
        // A handler that unstashes puts the stashed letters ahead of the
        // rest of the parcel; the stash holds nothing in the common case,
        // and nothing is added to it while this runs.
        let stashed = cell.stashed();
        let mut taken = Taken { cell: &cell, untold: 0 };
        let mut first = true;
        loop {
            if !std::mem::take(&mut first) && self.handed < self.items.len() {
                if cell.signal_pending() {
                    return self.rest(Then::Signal);
                }
                taken.one();
                match outside(|| crate::run::admit(&*actor, &ctx, &self)) {
                    Ok(Admit::Stash) if self.front().is_some() => {
                        return self.rest(Then::Stash);
                    }
                    Ok(_) => {}
                    Err(reason) => return self.rest(Then::AdmitFailed(reason)),
                }
            }
            let Some((request, origin)) = self.take_front() else { return Outcome::Done };
            let request = match request {
                Ok(request) if origin.deadline.is_some_and(|deadline| cell.system.deadlines.expired(deadline)) => {
                    dead_letter(&cell, &request, CallError::Timeout);
                    continue;
                }
                Ok(request) => request,
                Err(error) => {
                    self.link.dropped(&error);
                    continue;
                }
            };
            current.begin(origin);
            let mut handler = pin!(AssertUnwindSafe(request.dispatch(&mut *actor)).catch_unwind());
            if let Err(payload) = poll_fn(|cx| enter(&current, || handler.as_mut().poll(cx))).await {
                let reason = panic_message(&*payload);
                if self.handed < self.items.len() {
                    return self.rest(Then::Panicked(reason));
                }
                return Outcome::Panicked(reason);
            }
            if stashed > 0 && self.handed < self.items.len() && cell.stashed() == 0 {
                return self.rest(Then::Unstashed(stashed));
            }
        }
    }

    /// Hands the requests left back to the actor's task, as a letter again.
    fn rest<A: Actor>(self, then: Then) -> Outcome<A>
    where
        P: Dispatch<A>,
    {
        Outcome::Rest(Box::new((smallbox::smallbox!(self), then)))
    }
}

impl<A: Actor, P: Dispatch<A>> Deliver<A> for Parcel<P> {
    fn deliver(&mut self, actor: &'static mut A, cell: &Arc<Mailbox<A>>, handling: &mut Handling<A>) {
        let parcel = self.take_all();
        let cell = cell.clone();
        handling.start_with(move || parcel.run_on(actor, cell));
    }

    fn reject(&mut self, error: CallError, cell: &Mailbox<A>) {
        while let Some((request, _)) = self.take_front() {
            match request {
                Ok(request) => dead_letter(cell, &request, error.clone()),
                Err(invalid) => self.link.dropped(&invalid),
            }
        }
    }

    fn weight(&self) -> usize {
        self.items.len() - self.handed
    }

    fn split_front(&mut self) -> Option<Letter<A>> {
        if self.items.len() - self.handed < 2 {
            return None;
        }
        // Only a request that decoded is ever stashed (`admit` saw it).
        let Some(Ok(_)) = self.front.get() else { return None };
        let origin = self.items[self.handed].origin();
        let Some(Ok(request)) = self.front.take() else { return None };
        self.handed += 1;
        Some(letter::letter(Envelope { request, reply: None, origin }))
    }
}

/// How many requests a parcel hands over between two updates of its
/// mailbox's capacity count: an atomic update per request cost more, on
/// the actor's task, than the rest of handing it over.
const TAKEN_EVERY: usize = 16;

/// Requests a parcel handed over whose leaving the capacity count is not
/// yet told: told every [`TAKEN_EVERY`] requests, and when the run stops,
/// however it stops (dropped too, so that the count of an actor stopped
/// mid-run stays right for its restart).
struct Taken<'a, A: Actor> {
    cell: &'a Mailbox<A>,
    untold: usize,
}

impl<A: Actor> Taken<'_, A> {
    fn one(&mut self) {
        self.untold += 1;
        if self.untold == TAKEN_EVERY {
            self.cell.take_many(std::mem::take(&mut self.untold));
        }
    }
}

impl<A: Actor> Drop for Taken<'_, A> {
    fn drop(&mut self) {
        self.cell.take_many(self.untold);
    }
}

/// Reports `request`, which will not run, as a dead letter.
fn dead_letter<A: Actor, P: Protocol>(cell: &Mailbox<A>, request: &P, error: CallError) {
    let method = request.method().name;
    cell.system.dead_letter(DeadLetter { target: cell.id, service: P::SERVICE, method, error });
}
