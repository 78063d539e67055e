//! The envelope's unit tests: full and compact headers.

use std::time::Duration;

use proptest::prelude::*;

use courier_runtime::service_key;

use super::*;
use crate::frame::{DEFAULT_MAX_FRAME, Decoder};

fn call() -> Header {
    Header {
        kind: Kind::Call,
        request: 42,
        target: Target::Name("lobby".to_owned()),
        service: service_key("ChatRoom"),
        fingerprint: 3,
        method: 7,
        sender: Some(ActorId { node: 1, seq: 2 }),
        chain: vec![Hop { actor: ActorId { node: 1, seq: 2 }, label: "client".to_owned() }],
        budget_micros: Some(5_000_000),
    }
}

fn one_frame(wire: &[u8]) -> Frame {
    let mut input = wire;
    Decoder::new(DEFAULT_MAX_FRAME).decode(&mut input).expect("a frame").expect("whole")
}

fn header_bytes(header: &Header) -> Vec<u8> {
    let mut wire = Vec::new();
    write(header, b"", &mut wire, &mut AlignedVec::new()).expect("written");
    one_frame(&wire).header().to_vec()
}

#[test]
fn the_header_is_read_in_place_and_the_payload_left_alone() {
    let payload = rkyv::to_bytes::<RkyvError>(&(7u64, "hello".to_owned())).expect("archived");
    let (mut wire, mut scratch) = (Vec::new(), AlignedVec::new());
    write(&call(), &payload, &mut wire, &mut scratch).expect("written");
    // The scratch buffer is reused: a second frame reads back the same.
    write(&call(), &payload, &mut wire, &mut scratch).expect("written again");
    let mut input = &wire[..];
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
    let first = decoder.decode(&mut input).expect("a frame").expect("whole");
    let second = decoder.next(&mut input).expect("a frame").expect("whole");
    assert_eq!(first.view(), second);
    let envelope = Envelope::check(one_frame(&wire)).expect("a valid header");
    let header = envelope.view().full_header().expect("a full header");
    assert_eq!(header.kind, ArchivedKind::Call);
    assert_eq!(header.request, 42);
    let route = (header.service.to_native(), header.fingerprint.to_native(), header.method.to_native());
    assert_eq!(route, (service_key("ChatRoom"), 3, 7));
    assert_eq!(header.sender.get(), Some(ActorId { node: 1, seq: 2 }));
    assert!(matches!(&header.target, ArchivedTarget::Name(name) if &**name == "lobby"));
    assert_eq!(header.budget(), Some(Duration::from_secs(5)));
    assert_eq!(envelope.target(), TargetRef::Name("lobby"));
    assert_eq!(envelope.chain()[0].label, "client");
    let back = rkyv::from_bytes::<(u64, String), RkyvError>(envelope.payload()).expect("the payload");
    assert_eq!(back, (7, "hello".to_owned()));
}

#[test]
fn every_target_and_option_reads_back() {
    let tell = Header { target: Target::Actor(9), ..Header::control(Kind::Tell, 0) };
    for header in [tell, Header::control(Kind::Reply, 5), call()] {
        let mut wire = Vec::new();
        write(&header, &[1; 20], &mut wire, &mut AlignedVec::new()).expect("written");
        let frame = one_frame(&wire);
        let envelope = EnvelopeRef::check(frame.view()).expect("valid");
        assert_reads_as(envelope, &header);
        assert_eq!(envelope.payload(), &[1; 20]);
    }
    let mut wire = Vec::new();
    write(&Header::control(Kind::Reply, 5), &[1; 20], &mut wire, &mut AlignedVec::new()).expect("written");
    assert_eq!(wire.len(), frame::PREFIX_LEN + 80 + 20, "the fixed part, padded to 16");
}

#[test]
fn a_header_of_garbage_is_refused() {
    let mut wire = Vec::new();
    frame::encode(&[0xff; 40], b"", &mut wire);
    assert_eq!(Envelope::check(one_frame(&wire)).map(|_| ()), Err(EnvelopeError::InvalidHeader));
}

#[test]
fn a_header_has_one_encoding() {
    let tell = header_bytes(&Header { target: Target::Actor(9), ..Header::control(Kind::Tell, 0) });
    let check = |bytes: &[u8]| {
        let mut wire = Vec::new();
        frame::encode(bytes, b"", &mut wire);
        Envelope::check(one_frame(&wire)).map(|_| ())
    };
    assert_eq!(check(&tell), Ok(()));
    for (at, value) in [(0, 10), (1, 4), (1, 1 << 7), (2, 1), (17, 1), (48, 1), (64, 1), (16, 3)] {
        let mut bad = tell.clone();
        bad[at] = value;
        assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "byte {at} = {value}");
    }
    let mut longer = tell.clone();
    longer.push(0);
    assert_eq!(check(&longer), Err(EnvelopeError::InvalidHeader), "bytes after the header");
    let name = header_bytes(&Header { target: Target::Name("ab".to_owned()), ..Header::control(Kind::Call, 1) });
    assert_eq!(check(&name), Ok(()));
    let mut bad = name.clone();
    bad[FIXED_HEADER_LEN] = 0xff;
    assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "a name that is not UTF-8");
    let mut bad = name.clone();
    bad[NAME_AT] += 1;
    assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "a name elsewhere");
    let mut bad = name;
    bad[NAME_AT + 4] = 3;
    assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "a name longer than the header");
}

/// A one-way request from `sender` to actor `target`, as actors send them.
fn tell(target: u64, sender: u64, request: u64) -> Header {
    Header {
        kind: Kind::Tell,
        request,
        target: Target::Actor(target),
        service: 11,
        fingerprint: 12,
        method: request as u32,
        sender: Some(ActorId { node: 5, seq: sender }),
        chain: Vec::new(),
        budget_micros: None,
    }
}

/// Writes `headers` on one stream with `payload`, and reads every frame back
/// in order with one stream route: the checked envelopes (owned), or why not.
fn stream_of(headers: &[Header], payload: &[u8]) -> (Vec<u8>, Vec<Result<Envelope, EnvelopeError>>) {
    let (mut wire, mut scratch, mut written) = (Vec::new(), AlignedVec::new(), StreamRoute::default());
    for header in headers {
        let payload = |out: &mut Vec<u8>| {
            out.extend_from_slice(payload);
            Ok::<(), EnvelopeError>(())
        };
        write_on(header, &mut wire, &mut scratch, &mut written, payload).expect("written");
    }
    (wire.clone(), read_stream(&wire))
}

fn read_stream(wire: &[u8]) -> Vec<Result<Envelope, EnvelopeError>> {
    let (mut input, mut decoder, mut route) = (wire, Decoder::new(DEFAULT_MAX_FRAME), StreamRoute::default());
    let mut read = Vec::new();
    while let Some(frame) = decoder.decode(&mut input).expect("framing") {
        read.push(Envelope::check_on(frame, &mut route));
    }
    read
}

/// Everything a reader sees of `envelope` is what `header` said.
fn assert_reads_as(envelope: EnvelopeRef<'_>, header: &Header) {
    assert_eq!((envelope.kind(), envelope.request(), envelope.method()), (header.kind, header.request, header.method));
    assert_eq!((envelope.service(), envelope.fingerprint()), (header.service, header.fingerprint));
    assert_eq!((envelope.sender(), envelope.budget_micros()), (header.sender, header.budget_micros));
    let target = match &header.target {
        Target::Node => TargetRef::Node,
        Target::Actor(seq) => TargetRef::Actor(*seq),
        Target::Name(name) => TargetRef::Name(name),
    };
    assert_eq!(envelope.target(), target);
    assert_eq!(envelope.chain().len(), header.chain.len());
    // The request's view says the same.
    let incoming = envelope.incoming();
    assert_eq!(incoming.request, (header.kind == Kind::Call).then_some(header.request));
    assert_eq!((incoming.method, incoming.fingerprint), (header.method, header.fingerprint));
    assert_eq!((incoming.sender, incoming.budget), (header.sender, header.budget_micros.map(Duration::from_micros)));
    assert_eq!((incoming.chain.len(), incoming.payload), (header.chain.len(), envelope.payload()));
}

#[test]
fn frames_repeating_a_route_are_compact_and_read_back_whole() {
    let mut headers: Vec<Header> = (1..=3).map(|n| tell(9, 2, n)).collect();
    headers.push(Header { kind: Kind::Call, budget_micros: Some(1_500), ..tell(9, 2, 4) });
    headers.push(Header::control(Kind::Reply, 77));
    headers.push(Header::control(Kind::Failure, 78));
    let payload = [7u8; 32];
    let (wire, read) = stream_of(&headers, &payload);
    let compact: Vec<bool> =
        read.iter().map(|envelope| envelope.as_ref().expect("valid").view().is_compact()).collect();
    assert_eq!(compact, [false, true, true, true, false, true]);
    for (envelope, header) in read.iter().zip(&headers) {
        let envelope = envelope.as_ref().expect("valid");
        assert_reads_as(envelope.view(), header);
        assert_eq!(envelope.payload(), payload);
        assert_eq!(envelope.payload().as_ptr() as usize % ALIGN, 0, "the payload stays aligned");
    }
    // 120 bytes full, 56 compact, 72 compact with a budget (the payload
    // starts at 32), 88 for a full reply.
    let full = frame::PREFIX_LEN + 80 + 32;
    let short = frame::PREFIX_LEN + COMPACT_HEADER_LEN + 32;
    assert_eq!(wire.len(), full + 2 * short + (short + 16) + (full - 32 + 32) + short);
}

#[test]
fn a_compact_frame_without_a_full_one_before_it_is_refused() {
    let (wire, _) = stream_of(&[tell(9, 2, 1), tell(9, 2, 2), tell(9, 2, 3)], &[1; 8]);
    let first_len = frame::PREFIX_LEN + 80 + 8;
    // The stream's second and third frames alone: nothing to take a route from.
    let read = read_stream(&wire[first_len..]);
    assert_eq!(
        read.iter().map(|r| r.as_ref().err().cloned()).collect::<Vec<_>>(),
        [Some(EnvelopeError::InvalidHeader), Some(EnvelopeError::InvalidHeader)]
    );
    assert_eq!(Envelope::check(one_frame(&wire[first_len..])).map(|_| ()), Err(EnvelopeError::InvalidHeader));
    // A full frame that fails its check makes the stream forget its route:
    // the compact frames after it are refused rather than sent the old way.
    let mut broken = wire.clone();
    broken[frame::PREFIX_LEN + 2] = 1;
    let read = read_stream(&broken);
    assert!(read.iter().all(Result::is_err), "{read:?}");
}

#[test]
fn a_route_change_forces_a_full_header() {
    let base = tell(9, 2, 1);
    let chain = vec![Hop { actor: ActorId { node: 5, seq: 2 }, label: "outer".to_owned() }];
    let changes = [
        Header { target: Target::Actor(10), ..base.clone() },
        Header { service: 99, ..base.clone() },
        Header { fingerprint: 99, ..base.clone() },
        Header { sender: Some(ActorId { node: 6, seq: 2 }), ..base.clone() },
        Header { sender: None, ..base.clone() },
        Header { target: Target::Node, ..base.clone() },
    ];
    for changed in changes {
        let (_, read) = stream_of(&[base.clone(), changed.clone(), changed.clone()], &[]);
        let compact: Vec<bool> = read.iter().map(|r| r.as_ref().expect("valid").view().is_compact()).collect();
        assert_eq!(compact, [false, false, true], "{changed:?}");
        assert_reads_as(read[2].as_ref().expect("valid").view(), &changed);
    }
    // A chain is carried in full; a name is never repeated by a compact
    // header, nor is a hello written compact.
    let nested = Header { chain, ..base.clone() };
    let named = Header { target: Target::Name("lobby".to_owned()), ..base.clone() };
    let hello = Header::control(Kind::Hello, 0);
    for (headers, expected) in [
        (vec![base.clone(), nested.clone(), nested, base.clone()], vec![false, false, false, true]),
        (vec![named.clone(), named, base.clone()], vec![false, false, false]),
        (vec![hello.clone(), hello, Header::control(Kind::Reply, 1)], vec![false, false, true]),
    ] {
        let (_, read) = stream_of(&headers, &[]);
        let compact: Vec<bool> = read.iter().map(|r| r.as_ref().expect("valid").view().is_compact()).collect();
        assert_eq!(compact, expected, "{headers:?}");
    }
}

#[test]
fn a_compact_header_has_one_encoding() {
    let (wire, _) = stream_of(&[tell(9, 2, 1), tell(9, 2, 2)], &[]);
    // No payload: no padding after the header.
    let first_len = frame::PREFIX_LEN + FIXED_HEADER_LEN;
    let compact = one_frame(&wire[first_len..]).header().to_vec();
    assert_eq!(compact.len(), COMPACT_HEADER_LEN);
    let check = |bytes: &[u8]| {
        let mut stream = wire[..first_len].to_vec();
        frame::encode(bytes, b"", &mut stream);
        let read = read_stream(&stream);
        assert!(read[0].is_ok());
        read[1].as_ref().map(|_| ()).map_err(Clone::clone)
    };
    assert_eq!(check(&compact), Ok(()));
    // Hello, unknown kind, a chain, an unknown flag, reserved bytes.
    for (at, value) in [(0, 0), (0, 10), (1, COMPACT | 2), (1, COMPACT | 8), (2, 1), (3, 1)] {
        let mut bad = compact.clone();
        bad[at] = value;
        assert_eq!(check(&bad), Err(EnvelopeError::InvalidHeader), "byte {at} = {value}");
    }
    let mut longer = compact.clone();
    longer.extend_from_slice(&[0; 8]);
    assert_eq!(check(&longer), Err(EnvelopeError::InvalidHeader), "a budget not flagged");
    let mut shorter = compact.clone();
    shorter[1] |= 1;
    assert_eq!(check(&shorter), Err(EnvelopeError::InvalidHeader), "a budget flagged, not there");
    longer[1] |= 1;
    assert_eq!(check(&longer), Ok(()), "a budget flagged and there");
}

proptest! {
    /// Any header bytes: refused or accepted, never a panic; an accepted
    /// header can be read whole.
    #[test]
    fn arbitrary_headers_never_panic(header in proptest::collection::vec(any::<u8>(), 1..256)) {
        let mut wire = Vec::new();
        frame::encode(&header, b"", &mut wire);
        if let Ok(envelope) = Envelope::check(one_frame(&wire)) {
            let view = envelope.view();
            let _ = (view.request(), view.sender(), envelope.chain().len(), format!("{:?}", view.full_header()));
        }
    }

    /// A valid header with bytes flipped: refused or still readable.
    #[test]
    fn corrupted_headers_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut header = header_bytes(&call());
        for (at, bits) in flips {
            let len = header.len();
            header[at % len] ^= bits;
        }
        let mut wire = Vec::new();
        frame::encode(&header, b"", &mut wire);
        if let Ok(envelope) = Envelope::check(one_frame(&wire)) {
            let _ = (format!("{:?}", envelope.view()), envelope.target(), envelope.chain().len());
        }
    }

    /// Any sequence of frames over a few routes, written on one stream,
    /// reads back as written, compact or not.
    #[test]
    fn streams_of_frames_round_trip(picks in proptest::collection::vec((0u64..3, 0u64..3, any::<bool>(), 0u8..4), 1..40)) {
        let headers: Vec<Header> = picks
            .iter()
            .enumerate()
            .map(|(n, &(target, sender, budget, kind))| {
                let base = tell(target, sender + 1, n as u64);
                match kind {
                    0 => Header { kind: Kind::Call, budget_micros: budget.then_some(n as u64 * 1000), ..base },
                    1 => Header::control(Kind::Reply, n as u64),
                    2 if budget => Header { target: Target::Name("lobby".to_owned()), ..base },
                    // As actors send them: no request id.
                    _ => Header { request: 0, ..base },
                }
            })
            .collect();
        let (wire, read) = stream_of(&headers, &[3; 24]);
        prop_assert_eq!(read.len(), headers.len());
        for (envelope, header) in read.iter().zip(&headers) {
            let envelope = envelope.as_ref().expect("valid");
            assert_reads_as(envelope.view(), header);
            prop_assert_eq!(envelope.payload(), &[3; 24][..]);
        }
        // The one-way requests written without a header are the same bytes.
        prop_assert_eq!(stream_with_tells(&headers, &[3; 24]), wire);
    }
}

/// Writes `headers` as [`stream_of`] does, but the plain one-way requests
/// among them with [`write_tell`].
fn stream_with_tells(headers: &[Header], payload: &[u8]) -> Vec<u8> {
    let (mut wire, mut scratch, mut written) = (Vec::new(), AlignedVec::new(), StreamRoute::default());
    for header in headers {
        let payload = |out: &mut Vec<u8>| {
            out.extend_from_slice(payload);
            Ok::<(), EnvelopeError>(())
        };
        match header.target {
            Target::Actor(actor)
                if header.kind == Kind::Tell && header.request == 0 && header.budget_micros.is_none() =>
            {
                let route = Route::to_actor(actor, header.service, header.fingerprint, header.sender);
                write_tell(route, header.method, &mut wire, &mut scratch, &mut written, payload)
            }
            _ => write_on(header, &mut wire, &mut scratch, &mut written, payload),
        }
        .expect("written");
    }
    wire
}
