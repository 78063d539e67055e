//! A router's ref: picks a routee for each envelope and posts it there.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use super::{Keeper, Routees, Strategy};
use crate::events::DeadLetter;
use crate::letter::Envelope;
use crate::mailbox::Mailbox;
use crate::protocol::Protocol;
use crate::recipient::{Post, Recipient};
use crate::reply::ReplySlot;
use crate::system::SystemShared;
use crate::watch::{Watchee, Watcher};
use crate::{ActorId, CallError, TrySendError};

/// Posts protocol `P`'s envelopes to the routees of one router.
pub(crate) struct RouterPost<P: Protocol> {
    keeper: Arc<Mailbox<Keeper<P>>>,
    routees: Arc<Routees<P>>,
}

impl<P: Protocol> RouterPost<P> {
    pub(crate) fn new(keeper: Arc<Mailbox<Keeper<P>>>, routees: Arc<Routees<P>>) -> Self {
        RouterPost { keeper, routees }
    }
}

impl<P: Protocol> Watchee for RouterPost<P> {
    fn watched_id(&self) -> ActorId {
        self.keeper.id
    }

    fn add_watcher(&self, watcher: Arc<dyn Watcher>) {
        self.keeper.add_watcher(watcher);
    }

    fn remove_watcher(&self, watcher: ActorId) {
        self.keeper.remove_watcher(watcher);
    }
}

impl<P: Protocol> Post<P> for RouterPost<P> {
    fn id(&self) -> ActorId {
        self.keeper.id
    }

    fn try_post(&self, envelope: Envelope<P>) -> Result<(), TrySendError<Envelope<P>>> {
        if !self.routees.is_open() {
            return Err(TrySendError::Stopped(envelope));
        }
        let table = self.routees.table();
        let routees = &table.routees;
        if routees.is_empty() {
            return Err(TrySendError::Stopped(envelope));
        }
        match &self.routees.routing.strategy {
            Strategy::ConsistentHash(key) => {
                let owner = table.ring.as_ref().and_then(|ring| ring.owner(key(&envelope.request)));
                routees[owner.unwrap_or(0)].post().try_post(envelope)
            }
            Strategy::Broadcast => broadcast(routees, envelope, &self.keeper.system),
            Strategy::RoundRobin | Strategy::Random => {
                let start = self.routees.start(routees.len());
                let (mut envelope, mut full) = (envelope, false);
                for step in 0..routees.len() {
                    match routees[(start + step) % routees.len()].post().try_post(envelope) {
                        Ok(()) => return Ok(()),
                        Err(TrySendError::Full(back)) => (envelope, full) = (back, true),
                        Err(TrySendError::Stopped(back)) => envelope = back,
                        // The message itself cannot go: no routee will take it.
                        Err(unsendable @ TrySendError::Unsendable(..)) => return Err(unsendable),
                    }
                }
                Err(if full { TrySendError::Full(envelope) } else { TrySendError::Stopped(envelope) })
            }
        }
    }

    /// Ready once every routee has room: the router does not know which one
    /// the retried message will go to.
    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let table = self.routees.table();
        let mut ready = true;
        for routee in &table.routees {
            ready &= routee.post().poll_room(cx).is_ready();
        }
        if ready { Poll::Ready(()) } else { Poll::Pending }
    }

    fn system(&self) -> Option<&Arc<SystemShared>> {
        Some(&self.keeper.system)
    }
}

/// Posts `envelope` itself to the first routee and a copy to each other.
/// Refused only when the first routee refuses it (nothing was sent yet);
/// a copy another routee refuses is a dead letter.
fn broadcast<P: Protocol>(
    routees: &[Recipient<P>],
    envelope: Envelope<P>,
    system: &SystemShared,
) -> Result<(), TrySendError<Envelope<P>>> {
    let Some(codec) = P::CODEC else { return Err(TrySendError::Stopped(envelope)) };
    let Some((first, others)) = routees.split_first() else { return Err(TrySendError::Stopped(envelope)) };
    let bytes = match codec.request_bytes(&envelope.request) {
        Ok(bytes) => bytes,
        Err(error) => {
            return match envelope.reply {
                Some(reply) => {
                    reply.fill(Err(error));
                    Ok(())
                }
                None => Err(TrySendError::Unsendable(envelope, error)),
            };
        }
    };
    let method = envelope.request.method().name;
    let Envelope { request, reply, origin } = envelope;
    let gather = reply.as_ref().map(|reply| Arc::new(Gather::new(reply.clone(), routees.len())));
    let own = Envelope { request, reply: gather.as_ref().map(Gather::slot), origin: origin.clone() };
    if let Err(refused) = first.post().try_post(own) {
        // Give the caller its envelope back, with its own reply slot.
        let back = |own: Envelope<P>| Envelope { request: own.request, reply, origin: own.origin };
        return Err(match refused {
            TrySendError::Full(own) => TrySendError::Full(back(own)),
            TrySendError::Stopped(own) => TrySendError::Stopped(back(own)),
            TrySendError::Unsendable(own, error) => TrySendError::Unsendable(back(own), error),
        });
    }
    for routee in others {
        let missed = match (codec.decode_request)(&bytes) {
            Ok(request) => {
                let copy = Envelope { request, reply: gather.as_ref().map(Gather::slot), origin: origin.clone() };
                match routee.post().try_post(copy) {
                    Ok(()) => continue,
                    Err(TrySendError::Full(_)) => CallError::MailboxFull,
                    Err(TrySendError::Stopped(_)) => routee.post().closed_error(),
                    Err(TrySendError::Unsendable(_, error)) => error,
                }
            }
            Err(error) => error,
        };
        system.dead_letter(DeadLetter { target: routee.id(), service: P::SERVICE, method, error: missed.clone() });
        if let Some(gather) = &gather {
            gather.offer(Err(missed));
        }
    }
    Ok(())
}

/// Gathers the replies of a broadcast call: the first success goes to the
/// caller; an error only once every routee has failed.
struct Gather<R> {
    reply: Arc<ReplySlot<R>>,
    /// Routees that have not failed yet.
    left: AtomicUsize,
}

impl<R: Send + 'static> Gather<R> {
    fn new(reply: Arc<ReplySlot<R>>, routees: usize) -> Self {
        Gather { reply, left: AtomicUsize::new(routees) }
    }

    /// A reply slot for one routee's copy.
    fn slot(self: &Arc<Self>) -> Arc<ReplySlot<R>> {
        let gather = self.clone();
        Arc::new(ReplySlot::forward(Box::new(move |result| gather.offer(result))))
    }

    fn offer(&self, result: Result<R, CallError>) {
        match result {
            Ok(response) => self.reply.fill(Ok(response)),
            Err(error) => {
                if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    self.reply.fill(Err(error));
                }
            }
        }
    }
}
