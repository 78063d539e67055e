//! The send side of a connection, with no sockets: frames queued per lane
//! until a writer takes them, all at once.
//!
//! A connection has several lanes, one unidirectional stream each. Every
//! (sender, target) pair is hashed onto one lane, so frames of one pair keep
//! their order while pairs on other lanes do not wait behind them. Senders
//! append whole frames to their lane's buffer (the payload archived in
//! place); the lane's writer takes the buffer and writes it in one go,
//! so frames queued while the previous write ran leave together (batching
//! that costs nothing when idle). A writer woken by an actor's first frame
//! is woken once that actor's task gives up its thread, so that what the
//! actor sends meanwhile leaves with it (`notify_after_poll`); a request
//! that waits for an answer wakes it at once.
//! The bytes queued over all lanes are bounded: past the limit, senders are
//! refused until the writers catch up, and wait for room. A lane adds its
//! bytes to the shared count every few KiB rather than per frame (and always
//! when its writer takes them), so that the sender and the writers do not
//! fight over one counter message after message; the count lags by at most
//! a sixteenth of the limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use courier_runtime::remote::{Payload, archived, notify_after_poll};
use courier_runtime::{ActorId, Archiver, CallError};
use rkyv::util::AlignedVec;
use tokio::sync::Notify;

use crate::envelope::{self, EnvelopeError, Header, Kind, Route, StreamRoute};

/// Bytes queued over all lanes before senders must wait: 4 MiB.
pub const DEFAULT_QUEUE_LIMIT: usize = 4 << 20;

/// The least and most room a lane's buffer is given when a sender finds it
/// taken.
const MIN_BATCH: usize = 4 << 10;
const MAX_BATCH: usize = 1 << 20;

/// The lane of the pair (`sender`, `target`), out of `lanes`.
pub fn lane_of(sender: Option<ActorId>, target: u64, lanes: usize) -> usize {
    let sender = sender.map_or(0, |s| s.node.rotate_left(29) ^ s.seq);
    // A multiplicative mix, so that consecutive ids spread over the lanes.
    let mixed = (sender ^ target.rotate_left(17)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // The high 32 bits are the best mixed; scaling them to `lanes` by a
    // multiplication spares a division on every send.
    (((mixed >> 32) * lanes as u64) >> 32) as usize
}

/// The send queues of one connection.
pub struct Lanes {
    lanes: Box<[Lane]>,
    queued: AtomicUsize,
    limit: usize,
    /// A lane adds its bytes to `queued` once it holds this many unadded.
    publish_every: usize,
    waiting: Mutex<Vec<Waker>>,
}

struct Lane {
    queue: Mutex<Queue>,
    ready: Arc<Notify>,
}

#[derive(Default)]
struct Queue {
    frames: Vec<u8>,
    /// The bytes at the end of `frames` not yet added to `Lanes::queued`.
    unpublished: usize,
    /// The call chain's archive on its way into `frames`.
    scratch: AlignedVec,
    /// What archiving payloads straight into `frames` needs.
    archiver: Archiver,
    /// The route of the last full header in `frames`: frames that repeat it
    /// get a compact header. Forgotten whenever `frames` is taken, so that
    /// every batch starts with a full header, whichever stream carries it.
    route: StreamRoute,
    /// The room `frames` gets when a sender finds it taken: as much as the
    /// last batch held, so that senders do not grow it step by step.
    next_room: usize,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The queues hold `limit` bytes already.
    #[error("the send queues are full")]
    Full,
    /// Even a reply does not fit: the queues hold twice their limit, so the
    /// other node is not reading what it asked for.
    #[error("the send queues overflow: the other node does not read")]
    Overflow,
    /// The header could not be written.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The payload could not be written.
    #[error(transparent)]
    Payload(#[from] CallError),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held but an allocation failure.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Lanes {
    /// `count` lanes (at least one) sharing a limit of `limit` queued bytes.
    pub fn new(count: usize, limit: usize) -> Lanes {
        let count = count.max(1);
        let lanes = (0..count).map(|_| Lane { queue: Mutex::default(), ready: Arc::new(Notify::new()) }).collect();
        let publish_every = (limit / 16 / count).clamp(1, 16 << 10);
        Lanes { lanes, queued: AtomicUsize::new(0), limit, publish_every, waiting: Mutex::new(Vec::new()) }
    }

    /// Lane `lane`, counted modulo the lanes (a lane index comes from
    /// [`lane_of`] with this count, so the division is rarely needed).
    fn lane(&self, lane: usize) -> &Lane {
        match self.lanes.get(lane) {
            Some(lane) => lane,
            None => &self.lanes[lane % self.lanes.len()],
        }
    }

    /// How many lanes there are.
    pub fn count(&self) -> usize {
        self.lanes.len()
    }

    /// Bytes queued and not yet taken by a writer.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Queues a frame on `lane` with an already-archived payload; see
    /// [`push_with`](Lanes::push_with).
    pub fn push(&self, lane: usize, header: &Header, payload: &[u8], always: bool) -> Result<(), Refused> {
        self.push_with(lane, header, always, &archived(payload))
    }

    /// Queues a frame on `lane`, its payload archived in place, refused when
    /// the queues are over the limit unless `always` (replies: their call
    /// was accepted already); even those are refused past twice the limit,
    /// so that a peer that sends requests and never reads the replies cannot
    /// grow this node's memory. Nothing is queued if the header or the
    /// payload cannot be written.
    pub fn push_with(&self, lane: usize, header: &Header, always: bool, payload: Payload<'_>) -> Result<(), Refused> {
        // Its sender waits for the answer, maybe with its thread blocked
        // (`block_in_place`): it leaves now, with whatever was queued
        // before it.
        let urgent = matches!(header.kind, Kind::Call | Kind::Resolve | Kind::Spawn);
        self.push_frame(lane, always, urgent, |queue| {
            let Queue { frames, scratch, archiver, route, .. } = queue;
            envelope::write_on(header, frames, scratch, route, |out| payload(archiver, out).map_err(Refused::Payload))
        })
    }

    /// Queues a one-way request (no call chain, no budget) for `route`, as
    /// [`push_with`](Lanes::push_with) would, without a [`Header`]: the hot
    /// path of a stream of messages.
    pub fn push_tell(&self, lane: usize, route: Route, method: u32, payload: Payload<'_>) -> Result<(), Refused> {
        self.push_frame(lane, false, false, |queue| {
            let Queue { frames, scratch, archiver, route: stream, .. } = queue;
            let payload = |out: &mut Vec<u8>| payload(archiver, out).map_err(Refused::Payload);
            envelope::write_tell(route, method, frames, scratch, stream, payload)
        })
    }

    /// Queues the frame `write` appends to the lane's queue (leaving it as
    /// it was if it fails); an `urgent` frame wakes the lane's writer at
    /// once.
    #[inline(always)]
    fn push_frame(
        &self,
        lane: usize,
        always: bool,
        urgent: bool,
        write: impl FnOnce(&mut Queue) -> Result<(), Refused>,
    ) -> Result<(), Refused> {
        let queued = self.queued();
        if !always && queued >= self.limit {
            return Err(Refused::Full);
        }
        if queued >= self.limit.saturating_mul(2) {
            return Err(Refused::Overflow);
        }
        let lane = self.lane(lane);
        let mut queue = lock(&lane.queue);
        let was_empty = queue.frames.is_empty();
        if queue.frames.capacity() == 0 {
            // Allocated here, by the sender's thread, rather than by the
            // writer's: from memory its own allocator recycles, which its
            // core is the likelier to hold in cache.
            let room = queue.next_room.clamp(MIN_BATCH, MAX_BATCH);
            queue.frames.reserve(room);
        }
        let before = queue.frames.len();
        write(&mut queue)?;
        queue.unpublished += queue.frames.len() - before;
        if queue.unpublished >= self.publish_every {
            self.queued.fetch_add(std::mem::take(&mut queue.unpublished), Ordering::AcqRel);
        }
        drop(queue);
        if urgent {
            lane.ready.notify_one();
        } else if was_empty {
            // Held while an actor queues more (see `notify_after_poll`).
            notify_after_poll(&lane.ready);
        }
        Ok(())
    }

    /// Takes `lane`'s queued frames into `batch` (which must be empty), or
    /// waits until there are some or the lane is nudged: `batch` may then
    /// be left empty, and the writer looks at its connection's state. The
    /// bytes stay counted until [`written`](Lanes::written).
    pub async fn take(&self, lane: usize, batch: &mut Vec<u8>) {
        let lane = self.lane(lane);
        let ready = lane.ready.notified();
        if self.take_queued(lane, batch) {
            return;
        }
        ready.await;
        self.take_queued(lane, batch);
    }

    /// Takes `lane`'s queued frames into `batch`, if there are some.
    fn take_queued(&self, lane: &Lane, batch: &mut Vec<u8>) -> bool {
        let mut queue = lock(&lane.queue);
        if queue.frames.is_empty() {
            return false;
        }
        self.queued.fetch_add(std::mem::take(&mut queue.unpublished), Ordering::AcqRel);
        queue.next_room = queue.frames.len();
        *batch = std::mem::take(&mut queue.frames);
        queue.route.forget();
        true
    }

    /// Wakes `lane`'s writer even if nothing is queued (to make it look at
    /// its connection's state).
    pub fn nudge(&self, lane: usize) {
        self.lane(lane).ready.notify_one();
    }

    /// Puts frames taken by a writer that must leave back at the front of
    /// `lane`, for the next writer; `batch` is left empty.
    pub fn put_back(&self, lane: usize, batch: &mut Vec<u8>) {
        let lane = self.lane(lane);
        let mut queue = lock(&lane.queue);
        // Both parts start with a full header (the route was forgotten when
        // `batch` was taken), and the lane's route still describes the last
        // frame, which stays last.
        batch.extend_from_slice(&queue.frames);
        std::mem::swap(&mut queue.frames, batch);
        batch.clear();
        drop(queue);
        lane.ready.notify_one();
    }

    /// Wakes every writer waiting on `lane`: the connection changed, and
    /// those of the old one must leave.
    pub fn nudge_all(&self, lane: usize) {
        self.lane(lane).ready.notify_waiters();
    }

    /// A writer has written `bytes` it took: senders waiting for room may go.
    pub fn written(&self, bytes: usize) {
        let before = self.queued.fetch_sub(bytes, Ordering::AcqRel);
        if before >= self.limit && before - bytes < self.limit {
            self.wake_all();
        }
    }

    /// Drops every queued frame (the connection is lost); returns how many
    /// bytes were dropped.
    pub fn clear(&self) -> usize {
        let (mut dropped, mut counted) = (0, 0);
        for lane in self.lanes.iter() {
            let mut queue = lock(&lane.queue);
            dropped += queue.frames.len();
            counted += queue.frames.len() - std::mem::take(&mut queue.unpublished);
            queue.frames.clear();
            queue.route.forget();
        }
        self.queued.fetch_sub(counted.min(self.queued()), Ordering::AcqRel);
        self.wake_all();
        dropped
    }

    /// Ready once the queues are under the limit.
    pub fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.queued() < self.limit {
            return Poll::Ready(());
        }
        lock(&self.waiting).push(cx.waker().clone());
        // A writer may have made room between the check and the push.
        if self.queued() < self.limit { Poll::Ready(()) } else { Poll::Pending }
    }

    /// Has `cx` woken with the senders waiting for room, at the next
    /// [`wake_all`](Lanes::wake_all) whatever the queues hold.
    pub fn wait(&self, cx: &mut Context<'_>) {
        lock(&self.waiting).push(cx.waker().clone());
    }

    /// Wakes every sender waiting for room.
    pub fn wake_all(&self) {
        let waiting = std::mem::take(&mut *lock(&self.waiting));
        for waker in waiting {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;
    use crate::envelope::{Kind, StreamRoute, Target};
    use crate::frame::{DEFAULT_MAX_FRAME, Decoder};

    fn tell(request: u64) -> Header {
        Header {
            kind: Kind::Tell,
            request,
            target: Target::Actor(1),
            service: 2,
            fingerprint: 3,
            method: 4,
            sender: None,
            chain: Vec::new(),
            budget_micros: None,
        }
    }

    /// The frames of one batch, read on one stream: (request, compact).
    fn read_batch(batch: &[u8]) -> Vec<(u64, bool)> {
        let (mut input, mut decoder, mut route) = (batch, Decoder::new(DEFAULT_MAX_FRAME), StreamRoute::default());
        let mut read = Vec::new();
        while let Some(frame) = decoder.decode(&mut input).expect("valid") {
            let envelope = envelope::Envelope::check_on(frame, &mut route).expect("a header");
            read.push((envelope.request(), envelope.view().is_compact()));
        }
        read
    }

    #[tokio::test]
    async fn frames_queued_while_busy_leave_together_in_order() {
        let lanes = Lanes::new(2, DEFAULT_QUEUE_LIMIT);
        for n in 0..3 {
            lanes.push(1, &tell(n), b"", false).expect("queued");
        }
        let mut batch = Vec::new();
        lanes.take(1, &mut batch).await;
        assert_eq!(read_batch(&batch), [(0, false), (1, true), (2, true)], "one route: compact after the first");
        assert_eq!(lanes.queued(), batch.len());
        lanes.written(batch.len());
        assert_eq!(lanes.queued(), 0);
    }

    #[tokio::test]
    async fn every_batch_starts_with_a_full_header() {
        let lanes = Lanes::new(1, DEFAULT_QUEUE_LIMIT);
        let mut batch = Vec::new();
        for n in 0..2 {
            lanes.push(0, &tell(2 * n), b"", false).expect("queued");
            lanes.push(0, &tell(2 * n + 1), b"", false).expect("queued");
            lanes.take(0, &mut batch).await;
            // Read alone, as if on a stream of its own.
            assert_eq!(read_batch(&batch), [(2 * n, false), (2 * n + 1, true)]);
            lanes.written(batch.len());
            batch.clear();
        }
        // Taken, put back in front of frames queued since: still readable
        // on any one stream.
        lanes.push(0, &tell(4), b"", false).expect("queued");
        lanes.take(0, &mut batch).await;
        lanes.push(0, &tell(5), b"", false).expect("queued");
        lanes.push(0, &tell(6), b"", false).expect("queued");
        lanes.put_back(0, &mut batch);
        lanes.push(0, &tell(7), b"", false).expect("queued");
        lanes.take(0, &mut batch).await;
        assert_eq!(read_batch(&batch), [(4, false), (5, false), (6, true), (7, true)]);
    }

    #[tokio::test]
    async fn a_nudge_wakes_a_waiting_writer_with_nothing_taken() {
        let lanes = Arc::new(Lanes::new(1, DEFAULT_QUEUE_LIMIT));
        let writer = tokio::spawn({
            let lanes = lanes.clone();
            async move {
                let mut batch = Vec::new();
                lanes.take(0, &mut batch).await;
                batch
            }
        });
        // The writer waits on the empty lane.
        tokio::task::yield_now().await;
        assert!(!writer.is_finished());
        // As when its connection is lost: it must wake to see that.
        lanes.nudge_all(0);
        let batch = tokio::time::timeout(std::time::Duration::from_secs(10), writer).await.expect("woken");
        assert_eq!(batch.expect("the writer's task"), Vec::<u8>::new());
    }

    #[test]
    fn over_the_limit_senders_wait_until_a_write_makes_room() {
        let lanes = Lanes::new(1, 1024);
        let mut cx = Context::from_waker(Waker::noop());
        while lanes.push(0, &tell(0), &[0; 16], false).is_ok() {}
        assert_eq!(lanes.push(0, &tell(0), b"", false), Err(Refused::Full));
        assert!(lanes.poll_room(&mut cx).is_pending());
        lanes.push(0, &tell(1), b"", true).expect("a reply goes past the limit");
        while lanes.push(0, &tell(1), &[0; 16], true).is_ok() {}
        assert_eq!(lanes.push(0, &tell(1), b"", true), Err(Refused::Overflow), "but not past twice the limit");
        lanes.written(lanes.queued());
        assert!(lanes.poll_room(&mut cx).is_ready());
        lanes.push(0, &tell(2), b"", false).expect("room again");
        assert!(lanes.clear() > 0);
        assert_eq!(lanes.queued(), 0);
    }

    #[test]
    fn pairs_spread_over_lanes_and_keep_theirs() {
        let sender = Some(ActorId { node: 7, seq: 1 });
        let lane = lane_of(sender, 9, 4);
        assert_eq!(lane, lane_of(sender, 9, 4));
        let used: std::collections::HashSet<usize> = (0..64).map(|target| lane_of(sender, target, 4)).collect();
        assert_eq!(used.len(), 4, "64 targets use every lane");
    }
}
