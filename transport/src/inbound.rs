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
use std::time::Duration;

use courier_runtime::remote::{Inbound, InboundTarget, Incoming, Link, Undelivered};
use courier_runtime::{ActorId, CallError, System};
use rkyv::rancor::Error as RkyvError;

use crate::envelope::{ArchivedHeader, ArchivedKind, ArchivedTarget, Envelope};
use crate::frame::{Decoder, Frame};
use crate::node::Shared;
use crate::peer::Peer;
use crate::stats::Counters;

/// The application error code a stream is stopped with when it lost its
/// framing.
const BROKEN_STREAM: u32 = 1;

/// The last target a stream delivered to: a stream usually carries one
/// pair, so the lookup is made once.
type Route = Option<((u64, u64), Arc<dyn Inbound>)>;

/// Reads frames from `stream` until it ends, routing each.
pub(crate) async fn read_stream(shared: Arc<Shared>, peer: Arc<Peer>, mut stream: quinn::RecvStream) {
    let link: Arc<dyn Link> = peer.clone();
    let mut decoder = Decoder::new(shared.config.max_frame);
    let mut route: Route = None;
    loop {
        let chunk = match stream.read_chunk(usize::MAX, true).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) | Err(_) => {
                if !decoder.is_idle() {
                    // The stream ended inside a frame: a truncated frame.
                    Counters::bump(&shared.counters.broken_streams);
                }
                return;
            }
        };
        // Upgraded once per chunk, not per frame; `None` once the system is
        // gone (its frames are then dropped).
        let system = shared.system.upgrade();
        let mut input = &chunk.bytes[..];
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(frame)) => handle(&shared, system.as_ref(), &peer, &link, frame, &mut route).await,
                Ok(None) => break,
                Err(error) => {
                    Counters::bump(&shared.counters.broken_streams);
                    tracing::warn!(node = %peer.describe(), %error, "closing a stream that lost its framing");
                    let _ = stream.stop(BROKEN_STREAM.into());
                    return;
                }
            }
        }
    }
}

async fn handle(
    shared: &Shared,
    system: Option<&System>,
    peer: &Peer,
    link: &Arc<dyn Link>,
    frame: Frame,
    route: &mut Route,
) {
    let Ok(envelope) = Envelope::check(frame) else {
        Counters::bump(&shared.counters.invalid_headers);
        tracing::debug!(node = %peer.describe(), "dropped a frame whose header is not valid");
        return;
    };
    Counters::bump(&shared.counters.frames_received);
    let header = envelope.header();
    let request = header.request.to_native();
    match header.kind {
        ArchivedKind::Call | ArchivedKind::Tell => {
            let Some(system) = system else { return };
            let call = (header.kind == ArchivedKind::Call).then_some(request);
            deliver(shared, peer, link, system, header, call, envelope.payload(), route).await;
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
            let found = match &header.target {
                ArchivedTarget::Name(name) => {
                    system.resolve_served(name, header.service.to_native(), header.fingerprint.to_native())
                }
                _ => Err(CallError::NotFound { what: "a lookup names no actor".to_owned() }),
            };
            answer_lookup(shared, peer, request, found);
        }
        ArchivedKind::Spawn | ArchivedKind::Watch | ArchivedKind::Unwatch | ArchivedKind::Terminated => {
            crate::control::handle(shared, system, peer, header, envelope.payload());
        }
        ArchivedKind::Hello => {
            Counters::bump(&shared.counters.invalid_headers);
            tracing::debug!(node = %peer.describe(), "dropped a hello after the handshake");
        }
    }
}

fn answer_lookup(shared: &Shared, peer: &Peer, request: u64, found: Result<ActorId, CallError>) {
    match found.and_then(|id| {
        rkyv::to_bytes::<RkyvError>(&id).map_err(|error| CallError::Protocol { detail: error.to_string() })
    }) {
        Ok(bytes) => peer.reply(request, Ok(&bytes)),
        Err(error) => {
            let counter = match error {
                CallError::Protocol { .. } => &shared.counters.invalid_payloads,
                _ => &shared.counters.unknown_targets,
            };
            Counters::bump(counter);
            peer.reply(request, Err(error));
        }
    }
}

/// Routes a call or one-way request to its actor, waiting for room in a
/// full mailbox (which holds back this stream, and through QUIC's flow
/// control, its sender).
#[allow(clippy::too_many_arguments)]
async fn deliver(
    shared: &Shared,
    peer: &Peer,
    link: &Arc<dyn Link>,
    system: &System,
    header: &ArchivedHeader,
    call: Option<u64>,
    payload: &[u8],
    route: &mut Route,
) {
    let service = header.service.to_native();
    let inbound = match find(system, header, service, route) {
        Ok(inbound) => inbound,
        Err(error) => {
            Counters::bump(&shared.counters.unknown_targets);
            return fail(peer, call, error);
        }
    };
    loop {
        let incoming = Incoming {
            request: call,
            method: header.method.to_native(),
            fingerprint: header.fingerprint.to_native(),
            sender: header.sender.as_ref().map(ActorId::from),
            chain: header.chain.as_slice(),
            budget: header.budget_micros.as_ref().map(|micros| Duration::from_micros(micros.to_native())),
            payload,
        };
        match inbound.try_deliver(incoming, link) {
            Ok(()) => return,
            Err(Undelivered::Full) => poll_fn(|cx| inbound.poll_room(cx)).await,
            Err(Undelivered::Failed(error)) => {
                if matches!(error, CallError::Protocol { .. }) {
                    Counters::bump(&shared.counters.invalid_payloads);
                }
                return fail(peer, call, error);
            }
        }
    }
}

/// The service of the actor a request names, from the stream's last route
/// when it is the same.
fn find(
    system: &System,
    header: &ArchivedHeader,
    service: u64,
    route: &mut Route,
) -> Result<Arc<dyn Inbound>, CallError> {
    match &header.target {
        ArchivedTarget::Actor(seq) => {
            let key = (seq.to_native(), service);
            if let Some((_, inbound)) = route.as_ref().filter(|(cached, _)| *cached == key) {
                return Ok(inbound.clone());
            }
            let inbound = system.inbound(InboundTarget::Actor(key.0), service)?;
            *route = Some((key, inbound.clone()));
            Ok(inbound)
        }
        ArchivedTarget::Name(name) => system.inbound(InboundTarget::Name(name), service),
        ArchivedTarget::Node => Err(CallError::NotFound { what: "a request names no actor".to_owned() }),
    }
}

/// Tells a call's sender why it failed; a one-way request has nobody to
/// tell.
fn fail(peer: &Peer, call: Option<u64>, error: CallError) {
    match call {
        Some(request) => peer.reply(request, Err(error)),
        None => tracing::debug!(node = %peer.describe(), %error, "a one-way request from another node was dropped"),
    }
}
