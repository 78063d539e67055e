//! The baseline: raw quinn 0.11 with courier's own framing
//! (`courier_transport::frame`) and TLS (`courier_transport::tls`, mutual
//! TLS 1.3 with ring), default quinn transport settings, and nothing else: no
//! envelopes, no actors, no serialization beyond copying a 32-byte payload.
//! Every frame has a fixed 16-byte header (its first byte says what it is)
//! and the payload of [`common::payload`], 56 bytes on the wire.
//!
//! - `oneway`: the client opens one unidirectional stream; a writer task
//!   drains a bounded queue, appending every frame already queued to one
//!   buffer and writing it with one `write_all`. A `Sync` frame on the same
//!   stream asks for the count, which the server answers on a
//!   unidirectional stream of its own.
//! - `echo`: pings go out as in `oneway`; the server answers each on its own
//!   unidirectional stream, through the same kind of batching writer. A
//!   semaphore of [`WINDOW`] permits bounds the pings in flight.
//! - `rtt` and `concurrent`: one bidirectional stream per requester, one
//!   request in flight on it, so replies come back in order and need no
//!   request id. (Correlating ids on one stream pair is what courier does;
//!   this is the floor beneath it.)

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use courier_transport::frame::{self, DEFAULT_MAX_FRAME, Decoder, Frame};
use courier_transport::tls::{SERVER_NAME, Tls};
use quinn::{Connection, Endpoint, ReadError, RecvStream, SendStream, WriteError};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::common::{self, CLIENT_NODE, PAYLOAD_LEN, Peer, SERVER_NODE, WINDOW, Workload};

/// Bytes of every frame's header.
const HEADER_LEN: usize = 16;

/// The writer queue's capacity, and the most frames one write carries.
const QUEUE: usize = 1024;

/// Bytes read from a stream at a time.
const READ_BUF: usize = 64 * 1024;

/// What a frame is, in the first byte of its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    /// `oneway`: one message.
    Data = 1,
    /// `oneway`: asks for the count so far.
    Sync = 2,
    /// `oneway`: the count so far and the messages out of order.
    Ack = 3,
    /// `echo`: a message to echo.
    Ping = 4,
    /// `echo`: the echo.
    Pong = 5,
    /// `rtt`, `concurrent`: a request.
    Request = 6,
    /// `rtt`, `concurrent`: its reply.
    Reply = 7,
}

fn header(kind: Kind) -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[0] = kind as u8;
    header
}

fn is(frame: &Frame, kind: Kind) -> bool {
    frame.header().first() == Some(&(kind as u8))
}

fn payload_of(frame: &Frame) -> [u8; PAYLOAD_LEN] {
    frame.payload().try_into().expect("a payload of PAYLOAD_LEN bytes")
}

/// One frame waiting for the writer.
#[derive(Clone, Copy)]
struct Item {
    kind: Kind,
    payload: [u8; PAYLOAD_LEN],
}

/// Starts a writer task on `send`: it takes every item already queued (up
/// to [`QUEUE`]), encodes them into one buffer and writes it at once, and
/// finishes the stream when the queue closes.
fn spawn_writer(mut send: SendStream) -> (mpsc::Sender<Item>, JoinHandle<Result<(), WriteError>>) {
    let (tx, mut rx) = mpsc::channel::<Item>(QUEUE);
    let task = tokio::spawn(async move {
        let mut items = Vec::with_capacity(QUEUE);
        let mut batch = Vec::with_capacity(QUEUE * (frame::PREFIX_LEN + HEADER_LEN + PAYLOAD_LEN));
        while rx.recv_many(&mut items, QUEUE).await > 0 {
            for item in items.drain(..) {
                frame::encode(&header(item.kind), &item.payload, &mut batch);
            }
            send.write_all(&batch).await?;
            batch.clear();
        }
        // The peer may be gone already when the queue closes at the end.
        let _ = send.finish();
        Ok(())
    });
    (tx, task)
}

/// Frames from one receiving stream.
struct FrameReader {
    recv: RecvStream,
    decoder: Decoder,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl FrameReader {
    fn new(recv: RecvStream) -> FrameReader {
        FrameReader { recv, decoder: Decoder::new(DEFAULT_MAX_FRAME), buf: vec![0; READ_BUF].into(), start: 0, end: 0 }
    }

    /// The next frame, or `None` when the stream has finished.
    async fn next(&mut self) -> Result<Option<Frame>, ReadError> {
        loop {
            let mut input = &self.buf[self.start..self.end];
            let frame = self.decoder.decode(&mut input).expect("the peer keeps courier's framing");
            self.start = self.end - input.len();
            if frame.is_some() {
                return Ok(frame);
            }
            match self.recv.read(&mut self.buf).await? {
                Some(read) => (self.start, self.end) = (0, read),
                None => return Ok(None),
            }
        }
    }
}

// ---------------------------------------------------------------- server

/// The server process: one connection, served until the process is killed
/// or the client goes away.
pub fn serve(workload: Workload, tls_dir: &Path) {
    let tls = Tls::development(tls_dir, SERVER_NODE).expect("the server's TLS identity");
    common::serve_on_tokio(async move {
        let config = tls.server_config().expect("a server TLS config");
        let endpoint = Endpoint::server(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("a server endpoint");
        common::announce(endpoint.local_addr().expect("a bound address"));
        let incoming = endpoint.accept().await.expect("an incoming connection");
        let connection = incoming.await.expect("the server's handshake");
        match workload {
            Workload::Oneway => serve_oneway(connection).await,
            Workload::Echo => serve_echo(connection).await,
            Workload::Rtt | Workload::Concurrent => serve_requests(connection).await,
        }
    });
}

/// Counts data frames and checks their order; answers each `Sync` with an
/// `Ack` (count, out of order) on a stream of its own.
async fn serve_oneway(connection: Connection) {
    let Ok(recv) = connection.accept_uni().await else { return };
    let mut reader = FrameReader::new(recv);
    let mut acks: Option<SendStream> = None;
    let (mut next, mut count, mut misordered) = (0u64, 0u64, 0u64);
    let mut out = Vec::new();
    while let Ok(Some(frame)) = reader.next().await {
        if is(&frame, Kind::Data) {
            let seq = common::seq_of(frame.payload());
            misordered += u64::from(seq != next);
            (next, count) = (seq + 1, count + 1);
        } else if is(&frame, Kind::Sync) {
            let stream = match &mut acks {
                Some(stream) => stream,
                None => match connection.open_uni().await {
                    Ok(stream) => acks.insert(stream),
                    Err(_) => return,
                },
            };
            let mut ack = [0; PAYLOAD_LEN];
            ack[..8].copy_from_slice(&count.to_le_bytes());
            ack[8..16].copy_from_slice(&misordered.to_le_bytes());
            out.clear();
            frame::encode(&header(Kind::Ack), &ack, &mut out);
            if stream.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}

/// Answers every ping with a pong carrying the same payload, through a
/// batching writer on a stream of its own.
async fn serve_echo(connection: Connection) {
    let Ok(recv) = connection.accept_uni().await else { return };
    let Ok(send) = connection.open_uni().await else { return };
    let (pongs, _writer) = spawn_writer(send);
    let mut reader = FrameReader::new(recv);
    while let Ok(Some(frame)) = reader.next().await {
        if pongs.send(Item { kind: Kind::Pong, payload: payload_of(&frame) }).await.is_err() {
            return;
        }
    }
}

/// Answers each request on the stream it came on.
async fn serve_requests(connection: Connection) {
    while let Ok((mut send, recv)) = connection.accept_bi().await {
        tokio::spawn(async move {
            let mut reader = FrameReader::new(recv);
            let mut out = Vec::new();
            while let Ok(Some(frame)) = reader.next().await {
                out.clear();
                frame::encode(&header(Kind::Reply), frame.payload(), &mut out);
                if send.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}

// ---------------------------------------------------------------- client

/// A connection to the server (the endpoint kept alive beside it).
struct Client {
    _endpoint: Endpoint,
    connection: Connection,
}

impl Client {
    async fn connect(peer: &Peer) -> Client {
        let tls = Tls::development(&peer.tls_dir, CLIENT_NODE).expect("the client's TLS identity");
        let mut endpoint = Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("a client endpoint");
        endpoint.set_default_client_config(tls.client_config().expect("a client TLS config"));
        let connecting = endpoint.connect(peer.addr, SERVER_NAME).expect("a connection attempt");
        let connection = connecting.await.expect("the client's handshake");
        Client { _endpoint: endpoint, connection }
    }

    fn close(self) {
        self.connection.close(0u32.into(), b"done");
    }
}

async fn send(queue: &mpsc::Sender<Item>, kind: Kind, seq: u64) {
    queue.send(Item { kind, payload: common::payload(seq) }).await.expect("the writer is alive");
}

/// Asks for the count; returns (count, out of order).
async fn sync(client: &Client, queue: &mpsc::Sender<Item>, acks: &mut Option<FrameReader>) -> (u64, u64) {
    send(queue, Kind::Sync, 0).await;
    let reader = match acks {
        Some(reader) => reader,
        None => acks.insert(FrameReader::new(client.connection.accept_uni().await.expect("the server's ack stream"))),
    };
    let ack = reader.next().await.expect("read an ack").expect("an ack before the stream ends");
    assert!(is(&ack, Kind::Ack), "an ack");
    (common::seq_of(ack.payload()), common::seq_of(&ack.payload()[8..]))
}

pub fn oneway(peer: &Peer, n: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let client = Client::connect(&peer).await;
        let (queue, writer) = spawn_writer(client.connection.open_uni().await.expect("a stream"));
        let mut acks = None;
        let warm = common::warmup(n);
        for seq in 0..warm {
            send(&queue, Kind::Data, seq).await;
        }
        assert_eq!(sync(&client, &queue, &mut acks).await, (warm, 0), "raw: warm-up counted in order");
        let start = Instant::now();
        for seq in warm..warm + n {
            send(&queue, Kind::Data, seq).await;
        }
        let counted = sync(&client, &queue, &mut acks).await;
        let elapsed = start.elapsed();
        assert_eq!(counted, (warm + n, 0), "raw: every message counted, in order");
        drop(queue);
        writer.await.expect("the writer task").expect("the writer wrote every frame");
        client.close();
        elapsed
    })
}

/// Sends pings `seqs`, each taking a permit of `window`, then waits until
/// every one is echoed.
async fn pings(queue: &mpsc::Sender<Item>, window: &Semaphore, seqs: std::ops::Range<u64>) {
    for seq in seqs {
        window.acquire().await.expect("the window is open").forget();
        send(queue, Kind::Ping, seq).await;
    }
    drop(window.acquire_many(WINDOW as u32).await.expect("the window is open"));
}

pub fn echo(peer: &Peer, n: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let client = Client::connect(&peer).await;
        let (queue, writer) = spawn_writer(client.connection.open_uni().await.expect("a stream"));
        let window = Arc::new(Semaphore::new(WINDOW));
        let misordered = Arc::new(AtomicU64::new(0));
        // The pong reader: checks the order and gives each permit back.
        let pongs = tokio::spawn({
            let (connection, window, misordered) = (client.connection.clone(), window.clone(), misordered.clone());
            async move {
                let mut reader = FrameReader::new(connection.accept_uni().await.expect("the server's pong stream"));
                let mut next = 0;
                while let Some(frame) = reader.next().await.expect("read a pong") {
                    let seq = common::seq_of(frame.payload());
                    misordered.fetch_add(u64::from(seq != next || !is(&frame, Kind::Pong)), Ordering::Relaxed);
                    next = seq + 1;
                    window.add_permits(1);
                }
            }
        });
        let warm = common::warmup(n);
        pings(&queue, &window, 0..warm).await;
        let start = Instant::now();
        pings(&queue, &window, warm..warm + n).await;
        let elapsed = start.elapsed();
        assert_eq!(misordered.load(Ordering::Relaxed), 0, "raw: every echo in order");
        drop(queue);
        writer.await.expect("the writer task").expect("the writer wrote every frame");
        pongs.abort();
        client.close();
        elapsed
    })
}

/// One requester: a bidirectional stream with one request in flight.
struct Requester {
    send: SendStream,
    reader: FrameReader,
    out: Vec<u8>,
}

impl Requester {
    async fn open(connection: &Connection) -> Requester {
        let (send, recv) = connection.open_bi().await.expect("a bidirectional stream");
        Requester { send, reader: FrameReader::new(recv), out: Vec::new() }
    }

    async fn call(&mut self, seq: u64) {
        self.out.clear();
        frame::encode(&header(Kind::Request), &common::payload(seq), &mut self.out);
        self.send.write_all(&self.out).await.expect("write a request");
        let reply = self.reader.next().await.expect("read a reply").expect("a reply before the stream ends");
        assert!(is(&reply, Kind::Reply) && common::seq_of(reply.payload()) == seq, "raw: the reply to this request");
    }
}

pub fn rtt(peer: &Peer, n: u64) -> Vec<Duration> {
    let peer = peer.clone();
    common::on_tokio(async move {
        let client = Client::connect(&peer).await;
        let mut requester = Requester::open(&client.connection).await;
        for seq in 0..common::warmup(n) {
            requester.call(seq).await;
        }
        let mut times = Vec::with_capacity(n as usize);
        for seq in 0..n {
            let start = Instant::now();
            requester.call(seq).await;
            times.push(start.elapsed());
        }
        client.close();
        times
    })
}

pub fn concurrent(peer: &Peer, requesters: usize, each: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let client = Client::connect(&peer).await;
        let mut all = Vec::with_capacity(requesters);
        for _ in 0..requesters {
            let mut requester = Requester::open(&client.connection).await;
            for seq in 0..common::warmup(each) {
                requester.call(seq).await;
            }
            all.push(requester);
        }
        let start = Instant::now();
        let tasks: Vec<_> = all
            .into_iter()
            .map(|mut requester| {
                tokio::spawn(async move {
                    for seq in 0..each {
                        requester.call(seq).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a requester task");
        }
        let elapsed = start.elapsed();
        client.close();
        elapsed
    })
}
