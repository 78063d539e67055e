//! A ref's way to an actor on another node: the runtime side of a remote
//! call.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{Completion, Hop, Link, Outgoing, Payload, Refusal, decoding};
use crate::chain::ChainLink;
use crate::deadline::TICK;
use crate::letter::{Envelope, Origin, ReplyTo};
use crate::protocol::Protocol;
use crate::recipient::Post;
use crate::system::SystemShared;
use crate::watch::{Watchee, Watcher};
use crate::{ActorId, CallError, TrySendError};

/// Sends protocol `P`'s requests to actor `id` through `link`.
pub(crate) struct RemotePost<P> {
    id: ActorId,
    link: Arc<dyn Link>,
    /// The local system: its default timeout and deadline clock apply.
    system: Arc<SystemShared>,
    protocol: PhantomData<fn(P)>,
}

impl<P: Protocol> RemotePost<P> {
    pub(crate) fn new(id: ActorId, link: Arc<dyn Link>, system: Arc<SystemShared>) -> Self {
        RemotePost { id, link, system, protocol: PhantomData }
    }

    /// What the link's refusal of `envelope` comes to: handed back to wait
    /// for room; or failed, a call through its reply slot, a one-way request
    /// by handing it back (`Stopped` when its node is down, as the ref's
    /// closed error says; `Unsendable`, with why, when it could not be
    /// written).
    fn refused(&self, envelope: Envelope<P>, refusal: Refusal) -> Result<(), TrySendError<Envelope<P>>> {
        let (error, down) = match refusal {
            Refusal::Full => return Err(TrySendError::Full(envelope)),
            Refusal::Down(error) => (error, true),
            Refusal::Unsendable(error) => (error, false),
        };
        match &envelope.reply {
            Some(reply) => {
                reply.fill(Err(error));
                Ok(())
            }
            None if down => Err(TrySendError::Stopped(envelope)),
            None => Err(TrySendError::Unsendable(envelope, error)),
        }
    }

    /// A frame of method `method` for this actor, its payload written by
    /// `payload`.
    fn frame<'a>(
        &self,
        method: u32,
        sender: Option<ActorId>,
        chain: Vec<Hop>,
        budget: Option<Duration>,
        payload: Payload<'a>,
    ) -> Outgoing<'a> {
        Outgoing {
            target: self.id.seq,
            service: P::SERVICE_KEY,
            fingerprint: P::FINGERPRINT,
            method,
            sender,
            chain,
            budget,
            payload,
        }
    }

    /// Decodes the reply and resumes the caller.
    fn completion(&self, reply: ReplyTo<P>, decode: fn(&[u8]) -> Result<P::Response, CallError>) -> Completion {
        let (system, link) = (self.system.clone(), self.link.clone());
        Box::new(move |result| {
            let response = result.and_then(|bytes| decoding(&system, &link, || decode(bytes)));
            reply.fill(response);
        })
    }

    /// How long the call has left, from its deadline tick.
    fn budget(&self, deadline: Option<u64>) -> Option<Duration> {
        let ticks = deadline?.saturating_sub(self.system.deadlines.now());
        Some(TICK.saturating_mul(u32::try_from(ticks).unwrap_or(u32::MAX)))
    }
}

/// The actors waiting on a call, outermost first.
fn hops(chain: &ChainLink) -> Vec<Hop> {
    let mut hops = Vec::new();
    let mut link = Some(chain);
    while let Some(l) = link {
        hops.push(Hop { actor: l.id, label: l.label.show(l.id) });
        link = l.parent.as_deref();
    }
    hops.reverse();
    hops
}

impl<P: Protocol> Watchee for RemotePost<P> {
    fn watched_id(&self) -> ActorId {
        self.id
    }

    fn add_watcher(&self, watcher: Arc<dyn Watcher>) {
        self.link.watch(self.id, watcher);
    }

    fn remove_watcher(&self, watcher: ActorId) {
        self.link.unwatch(self.id, watcher);
    }
}

impl<P: Protocol> Post<P> for RemotePost<P> {
    fn id(&self) -> ActorId {
        self.id
    }

    fn try_post(&self, envelope: Envelope<P>) -> Result<(), TrySendError<Envelope<P>>> {
        let Some(codec) = P::CODEC else {
            let detail = format!("`{}` is `#[actor(local)]`: its requests cannot cross the wire", P::SERVICE);
            return self.refused(envelope, Refusal::Unsendable(CallError::Protocol { detail }));
        };
        let request = &envelope.request;
        let budget = self.budget(envelope.origin.deadline);
        // Most requests come from no chain: no call, no allocation.
        let chain = envelope.origin.chain.as_deref().map(hops).unwrap_or_default();
        let payload: Payload<'_> = &|archiver, out| (codec.encode_request)(request, archiver, out);
        let frame = self.frame(request.method().id, envelope.origin.sender, chain, budget, payload);
        let call = envelope.reply.as_ref().map(|reply| {
            let deadline = Instant::now() + budget.unwrap_or(crate::DEFAULT_CALL_TIMEOUT);
            (deadline, self.completion(reply.clone(), codec.decode_response))
        });
        match self.link.send(frame, call) {
            Ok(()) => Ok(()),
            Err(refusal) => self.refused(envelope, refusal),
        }
    }

    fn try_tell(&self, request: P, origin: Origin) -> Result<(), TrySendError<Envelope<P>>> {
        let (Some(codec), None, None) = (P::CODEC, &origin.chain, origin.deadline) else {
            return self.try_post(Envelope { request, reply: None, origin });
        };
        // A one-way request from no chain, with no deadline: written out
        // from the request itself, no envelope made unless it is refused.
        let payload: Payload<'_> = &|archiver, out| (codec.encode_request)(&request, archiver, out);
        let sent = self.link.send(self.frame(request.method().id, origin.sender, Vec::new(), None, payload), None);
        match sent {
            Ok(()) => Ok(()),
            Err(refusal) => self.refused(Envelope { request, reply: None, origin }, refusal),
        }
    }

    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.link.poll_room(cx)
    }

    fn system(&self) -> Option<&Arc<SystemShared>> {
        Some(&self.system)
    }

    fn node_addr(&self) -> Option<SocketAddr> {
        self.link.addr()
    }

    fn closed_error(&self) -> CallError {
        CallError::NodeUnreachable { node: format!("{:x}", self.id.node & 0xffff) }
    }
}
