//! The baseline: raw quinn 0.11 with courier's own framing
//! (`courier_transport::frame`) and TLS (`courier_transport::tls`, mutual
//! TLS 1.3 with ring), the bench's QUIC settings ([`common::transport_config`]:
//! 16,000-byte packets and the rest) and nothing else: no envelopes, no
//! actors, no serialization beyond copying a 32-byte payload. Every frame has
//! a fixed 16-byte header (its first byte says what it is) and the payload of
//! [`common::payload`], 56 bytes on the wire. It is meant as the most plain
//! quinn can do with these frames: the task that makes the messages encodes
//! them straight into a batch and hands quinn whole batches (`write_chunk`,
//! no copy); receivers take quinn's chunks as they are (`read_chunk`, no
//! copy) and decode them with courier's `Decoder`, which lends each frame out
//! of a reused aligned buffer.
//!
//! - `oneway`: the client opens one unidirectional stream and writes its
//!   frames in batches of [`BATCH`] bytes. A `Sync` frame on the same stream
//!   asks for the count, which the server answers on a unidirectional stream
//!   of its own.
//! - `echo`: one client task sends pings and reads pongs, never more than
//!   [`WINDOW`] unanswered: whenever there is room it writes as many pings as
//!   fit in one batch, otherwise it reads the next chunk of pongs. The server
//!   answers on a unidirectional stream of its own, the pongs to one chunk of
//!   pings in one write.
//! - `rtt` and `concurrent`: one bidirectional stream per requester, one
//!   request in flight on it, so replies come back in order and need no
//!   request id. (Correlating ids on one stream pair is what courier does;
//!   this is the floor beneath it.)

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use courier_transport::frame::{self, DEFAULT_MAX_FRAME, Decoder, Frame, FrameRef};
use courier_transport::tls::{SERVER_NAME, Tls};
use quinn::{Chunk, Connection, Endpoint, ReadError, RecvStream, SendStream, WriteError};

use crate::common::{self, CLIENT_NODE, Kept, PAYLOAD_LEN, Peer, SERVER_NODE, WINDOW, Workload};

/// Bytes of every frame's header.
const HEADER_LEN: usize = 16;

/// Bytes of every frame on the wire: prefix, header, payload.
const FRAME_LEN: usize = frame::PREFIX_LEN + HEADER_LEN + PAYLOAD_LEN;

/// `oneway`'s batch: frames are written once they add up to this many
/// bytes. (16 KiB to 1 MiB measured the same; the packets are the lever.)
const BATCH: usize = 64 * 1024;

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

/// The header's words: the kind in the first byte, the rest zero.
fn header(kind: Kind) -> [u64; HEADER_LEN / 8] {
    [u64::from(kind as u8), 0]
}

/// Appends a frame of `header` and a copy of `payload` to `out`, the
/// header copied in as courier copies its compact headers
/// (`frame::encode_fixed`).
fn encode(header: [u64; HEADER_LEN / 8], payload: &[u8], out: &mut Vec<u8>) {
    let appended = frame::encode_fixed(header, out, |out| {
        out.extend_from_slice(payload);
        Ok::<(), std::convert::Infallible>(())
    });
    match appended {
        Ok(()) => {}
        Err(never) => match never {},
    }
}

fn is(frame: FrameRef<'_>, kind: Kind) -> bool {
    frame.header().first() == Some(&(kind as u8))
}

/// Hands `batch` to quinn as it is, leaving an empty one of the same
/// capacity in its place.
async fn flush(send: &mut SendStream, batch: &mut Vec<u8>) -> Result<(), WriteError> {
    let full = std::mem::replace(batch, Vec::with_capacity(batch.capacity()));
    send.write_chunk(full.into()).await
}

/// Frames from one receiving stream.
struct FrameReader {
    recv: RecvStream,
    decoder: Decoder,
    /// The chunk being decoded, and how much of it is.
    chunk: Option<Chunk>,
    start: usize,
}

impl FrameReader {
    fn new(recv: RecvStream) -> FrameReader {
        FrameReader { recv, decoder: Decoder::new(DEFAULT_MAX_FRAME), chunk: None, start: 0 }
    }

    /// The next frame, or `None` when the stream has finished.
    async fn next(&mut self) -> Result<Option<Frame>, ReadError> {
        loop {
            if let Some(frame) = self.buffered() {
                return Ok(Some(frame.to_frame()));
            }
            if !self.read().await? {
                return Ok(None);
            }
        }
    }

    /// Hands every frame of the next chunk (and any left in the one before)
    /// to `each`; `false` when the stream has finished.
    async fn next_batch(&mut self, mut each: impl FnMut(FrameRef<'_>)) -> Result<bool, ReadError> {
        while let Some(frame) = self.buffered() {
            each(frame);
        }
        if !self.read().await? {
            return Ok(false);
        }
        while let Some(frame) = self.buffered() {
            each(frame);
        }
        Ok(true)
    }

    /// The next frame of the chunk already read, if it completes one, lent
    /// out of the decoder's buffer (no allocation per frame).
    fn buffered(&mut self) -> Option<FrameRef<'_>> {
        let chunk = self.chunk.as_ref()?;
        let mut input = &chunk.bytes[self.start..];
        let frame = self.decoder.next(&mut input).expect("the peer keeps courier's framing");
        self.start = chunk.bytes.len() - input.len();
        frame
    }

    /// Takes the stream's next chunk (in order, whatever its size); `false`
    /// at the stream's end.
    async fn read(&mut self) -> Result<bool, ReadError> {
        self.chunk = self.recv.read_chunk(usize::MAX, true).await?;
        self.start = 0;
        Ok(self.chunk.is_some())
    }
}

// ---------------------------------------------------------------- server

/// An endpoint on a fresh loopback socket with the bench's QUIC settings
/// ([`common::endpoint_config`], [`common::udp_socket`]).
fn endpoint(server: Option<quinn::ServerConfig>) -> Endpoint {
    let runtime = quinn::default_runtime().expect("a tokio runtime");
    Endpoint::new(common::endpoint_config(), server, common::udp_socket(), runtime).expect("an endpoint")
}

/// The server process: one connection, served until the process is killed
/// or the client goes away.
pub fn serve(workload: Workload, tls_dir: &Path) {
    let tls = Tls::development(tls_dir, SERVER_NODE).expect("the server's TLS identity");
    common::serve_on_tokio(async move {
        let mut config = tls.server_config().expect("a server TLS config");
        config.transport_config(Arc::new(common::transport_config()));
        let endpoint = endpoint(Some(config));
        common::announce(endpoint.local_addr().expect("a bound address"));
        let incoming = endpoint.accept().await.expect("an incoming connection");
        let connection = incoming.await.expect("the server's handshake");
        match workload {
            Workload::Oneway => serve_oneway(connection).await,
            Workload::Echo => serve_echo(connection).await,
            Workload::Rtt | Workload::Concurrent => serve_requests(connection).await,
        }
        // The client closing its connection at the end of a measurement
        // ends the serving; the process waits to be stopped, as the other
        // contenders' servers do, so that the harness's watchdog (which
        // takes an exit for a crash) does not race the client's return.
        std::future::pending::<()>().await;
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
    loop {
        let more = reader.next_batch(|frame| {
            if is(frame, Kind::Data) {
                let seq = common::seq_of(frame.payload());
                misordered += u64::from(seq != next);
                (next, count) = (seq + 1, count + 1);
            } else if is(frame, Kind::Sync) {
                let mut ack = [0; PAYLOAD_LEN];
                ack[..8].copy_from_slice(&count.to_le_bytes());
                ack[8..16].copy_from_slice(&misordered.to_le_bytes());
                encode(header(Kind::Ack), &ack, &mut out);
            }
        });
        let Ok(more) = more.await else { return };
        if !out.is_empty() {
            let stream = match &mut acks {
                Some(stream) => stream,
                None => match connection.open_uni().await {
                    Ok(stream) => acks.insert(stream),
                    Err(_) => return,
                },
            };
            if flush(stream, &mut out).await.is_err() {
                return;
            }
        }
        if !more {
            return;
        }
    }
}

/// Answers every ping with a pong carrying the same payload, on a stream of
/// its own: the pongs to one chunk's pings go out in one write.
async fn serve_echo(connection: Connection) {
    let Ok(recv) = connection.accept_uni().await else { return };
    let Ok(mut send) = connection.open_uni().await else { return };
    let mut reader = FrameReader::new(recv);
    let mut out = Vec::with_capacity(WINDOW * FRAME_LEN);
    let pong = header(Kind::Pong);
    loop {
        let Ok(more) = reader.next_batch(|frame| encode(pong, frame.payload(), &mut out)).await else {
            return;
        };
        if !out.is_empty() && flush(&mut send, &mut out).await.is_err() {
            return;
        }
        if !more {
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
                encode(header(Kind::Reply), frame.payload(), &mut out);
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
        let mut config = tls.client_config().expect("a client TLS config");
        config.transport_config(Arc::new(common::transport_config()));
        let mut endpoint = endpoint(None);
        endpoint.set_default_client_config(config);
        let connecting = endpoint.connect(peer.addr, SERVER_NAME).expect("a connection attempt");
        let connection = connecting.await.expect("the client's handshake");
        Client { _endpoint: endpoint, connection }
    }

    fn close(self) {
        self.connection.close(0u32.into(), b"done");
    }
}

/// Sends data frames `seqs`, encoded straight into a batch that is written
/// whenever it reaches the batch size, then the rest.
async fn send_data(send: &mut SendStream, batch: &mut Vec<u8>, seqs: Range<u64>) {
    let data = header(Kind::Data);
    for seq in seqs {
        encode(data, &common::payload(seq), batch);
        if batch.len() >= BATCH {
            flush(send, batch).await.expect("write a batch");
        }
    }
    if !batch.is_empty() {
        flush(send, batch).await.expect("write a batch");
    }
}

/// Asks for the count; returns (count, out of order).
async fn sync(client: &Client, send: &mut SendStream, acks: &mut Option<FrameReader>) -> (u64, u64) {
    let mut out = Vec::new();
    encode(header(Kind::Sync), &[0; PAYLOAD_LEN], &mut out);
    send.write_all(&out).await.expect("write a sync");
    let reader = match acks {
        Some(reader) => reader,
        None => acks.insert(FrameReader::new(client.connection.accept_uni().await.expect("the server's ack stream"))),
    };
    let ack = reader.next().await.expect("read an ack").expect("an ack before the stream ends");
    assert!(is(ack.view(), Kind::Ack), "an ack");
    (common::seq_of(ack.payload()), common::seq_of(&ack.payload()[8..]))
}

pub fn oneway(peer: &Peer, n: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let client = Client::connect(&peer).await;
        let mut send = client.connection.open_uni().await.expect("a stream");
        let mut batch = Vec::with_capacity(BATCH + FRAME_LEN);
        let mut acks = None;
        let warm = common::warmup(n);
        send_data(&mut send, &mut batch, 0..warm).await;
        assert_eq!(sync(&client, &mut send, &mut acks).await, (warm, 0), "raw: warm-up counted in order");
        let start = Instant::now();
        send_data(&mut send, &mut batch, warm..warm + n).await;
        let counted = sync(&client, &mut send, &mut acks).await;
        let elapsed = start.elapsed();
        assert_eq!(counted, (warm + n, 0), "raw: every message counted, in order");
        send.finish().expect("finish the stream");
        client.close();
        elapsed
    })
}

/// The client's side of `echo`: one task that sends pings and reads pongs,
/// never more than [`WINDOW`] pings unanswered.
struct Pinger {
    send: SendStream,
    batch: Vec<u8>,
    pongs: Option<FrameReader>,
    /// Pings sent, pongs received (= the next pong's expected sequence
    /// number), and pongs out of order.
    sent: u64,
    echoed: u64,
    misordered: u64,
}

impl Pinger {
    /// Sends pings up to `end` and returns when every one is echoed.
    async fn run(&mut self, connection: &Connection, end: u64) {
        let ping = header(Kind::Ping);
        while self.echoed < end {
            let room = (self.echoed + WINDOW as u64).min(end) - self.sent;
            if room > 0 {
                for seq in self.sent..self.sent + room {
                    encode(ping, &common::payload(seq), &mut self.batch);
                }
                flush(&mut self.send, &mut self.batch).await.expect("write pings");
                self.sent += room;
                continue;
            }
            let pongs = match &mut self.pongs {
                Some(pongs) => pongs,
                None => self.pongs.insert(FrameReader::new(connection.accept_uni().await.expect("the pong stream"))),
            };
            let (echoed, misordered) = (&mut self.echoed, &mut self.misordered);
            let more = pongs.next_batch(|frame| {
                let seq = common::seq_of(frame.payload());
                *misordered += u64::from(seq != *echoed || !is(frame, Kind::Pong));
                *echoed += 1;
            });
            assert!(more.await.expect("read pongs"), "the pong stream ended early");
        }
    }
}

pub fn echo(peer: &Peer, n: u64) -> Duration {
    let peer = peer.clone();
    common::on_tokio(async move {
        let client = Client::connect(&peer).await;
        let send = client.connection.open_uni().await.expect("a stream");
        let batch = Vec::with_capacity(WINDOW * FRAME_LEN);
        let mut pinger = Pinger { send, batch, pongs: None, sent: 0, echoed: 0, misordered: 0 };
        let warm = common::warmup(n);
        pinger.run(&client.connection, warm).await;
        let start = Instant::now();
        pinger.run(&client.connection, warm + n).await;
        let elapsed = start.elapsed();
        assert_eq!(pinger.misordered, 0, "raw: every echo in order");
        pinger.send.finish().expect("finish the stream");
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
        encode(header(Kind::Request), &common::payload(seq), &mut self.out);
        self.send.write_all(&self.out).await.expect("write a request");
        let reply = self.reader.next().await.expect("read a reply").expect("a reply before the stream ends");
        assert!(
            is(reply.view(), Kind::Reply) && common::seq_of(reply.payload()) == seq,
            "raw: the reply to this request"
        );
    }
}

/// The `rtt` client: one requester, kept between blocks.
struct RoundTrips(Kept<(Client, Requester)>);

pub fn rtt(peer: &Peer, warmup: u64) -> Box<dyn common::RoundTrips> {
    let peer = peer.clone();
    Box::new(RoundTrips(Kept::connect(async move {
        let client = Client::connect(&peer).await;
        let mut requester = Requester::open(&client.connection).await;
        for seq in 0..warmup {
            requester.call(seq).await;
        }
        (client, requester)
    })))
}

impl common::RoundTrips for RoundTrips {
    fn time(&mut self, seqs: Range<u64>) -> Vec<Duration> {
        self.0.run(|(client, mut requester)| async move {
            let mut times = Vec::with_capacity(seqs.clone().count());
            for seq in seqs {
                let start = Instant::now();
                requester.call(seq).await;
                times.push(start.elapsed());
            }
            ((client, requester), times)
        })
    }

    fn close(self: Box<Self>) {
        self.0.close(|(client, _)| async move { client.close() });
    }
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
