//! The work of one connection: a writer per lane and a reader per stream
//! the other node opens (both polled with quinn's connection drivers, see
//! `drivers`), and a watch on the connection's end.

use std::sync::Arc;

use crate::inbound;
use crate::node::Shared;
use crate::peer::Peer;

/// Starts serving `connection` for `peer`. Writers only when it carries the
/// peer's traffic (`writes`); readers always, so that frames sent on a
/// connection that lost to another still arrive.
pub(crate) fn start(
    shared: Arc<Shared>,
    peer: Arc<Peer>,
    connection: quinn::Connection,
    generation: u64,
    writes: bool,
) {
    if writes {
        for lane in 0..peer.lanes.count() {
            shared.drivers.spawn_job(write_lane(peer.clone(), connection.clone(), lane, generation));
        }
    }
    tokio::spawn(accept_streams(shared.clone(), peer.clone(), connection.clone()));
    tokio::spawn(async move {
        let reason = connection.closed().await;
        shared.connection_lost(&peer, generation, &reason.to_string());
    });
}

/// Takes `lane`'s queued frames and writes them, batch after batch, while
/// this connection carries the peer's traffic.
async fn write_lane(peer: Arc<Peer>, connection: quinn::Connection, lane: usize, generation: u64) {
    let Ok(mut stream) = connection.open_uni().await else { return };
    let mut batch = Vec::new();
    while peer.is_current(generation) {
        peer.lanes.take(lane, &mut batch).await;
        if !peer.is_current(generation) {
            // Frames for the connection that replaced this one: hand them
            // back to its writer.
            if !batch.is_empty() {
                peer.lanes.put_back(lane, &mut batch);
            }
            break;
        }
        if batch.is_empty() {
            // Nudged, and still current.
            continue;
        }
        let len = batch.len();
        // quinn takes the batch as it is (no copy).
        let written = stream.write_chunk(std::mem::take(&mut batch).into()).await;
        peer.lanes.written(len);
        if written.is_err() {
            break;
        }
    }
    let _ = stream.finish();
}

/// Reads every stream the other node opens on `connection`.
async fn accept_streams(shared: Arc<Shared>, peer: Arc<Peer>, connection: quinn::Connection) {
    while let Ok(stream) = connection.accept_uni().await {
        shared.drivers.spawn_job(inbound::read_stream(shared.clone(), peer.clone(), stream));
    }
}
