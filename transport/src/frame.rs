//! Frames on a byte stream, with no sockets: an 8-byte prefix, then a body
//! laid out so that both of its archives can be read in place.
//!
//! ```text
//! prefix  u32 LE body length | u32 LE header length
//! body    header | zero padding to a multiple of 16 | payload archive
//! ```
//!
//! A body arrives at any offset of a stream chunk, so the decoder copies it
//! once into a 16-byte-aligned buffer of its own, reused frame after frame:
//! the header (at offset 0) and the payload archive (at the next multiple of
//! 16) are then both aligned as rkyv's checked access requires, and reading
//! a stream allocates nothing per frame. [`Decoder::next`] lends each frame
//! out of that buffer; [`Decoder::decode`] hands out owned copies. A length
//! over the maximum, or a header length that does not fit the body, means
//! the stream has lost its framing: the decoder says so and takes nothing
//! more.

use rkyv::util::AlignedVec;

/// Bytes before each body.
pub const PREFIX_LEN: usize = 8;

/// The alignment of a body and of the payload inside it.
pub const ALIGN: usize = 16;

/// The largest body a node accepts unless configured otherwise: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// A decoder's buffer is given back to the allocator after a frame larger
/// than this, so that one large frame does not pin its memory for the life
/// of the stream.
const KEEP_CAPACITY: usize = 256 << 10;

/// One frame's body, borrowed from the [`Decoder`] that read it: the
/// header and the payload's archive, each aligned to [`ALIGN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    body: &'a [u8],
    header_len: usize,
}

impl<'a> FrameRef<'a> {
    /// The header's bytes.
    pub fn header(&self) -> &'a [u8] {
        &self.body[..self.header_len]
    }

    /// The payload's archive (empty for a frame without one).
    pub fn payload(&self) -> &'a [u8] {
        &self.body[payload_offset(self.header_len).min(self.body.len())..]
    }

    /// The whole body, for accounting.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the body is empty (never, for a frame that carries a header).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// An owned copy, in a buffer of its own.
    pub fn to_frame(&self) -> Frame {
        let mut body = AlignedVec::with_capacity(self.body.len());
        body.extend_from_slice(self.body);
        Frame { body, header_len: self.header_len }
    }
}

/// One frame's body, owned: the header and the payload's archive, each
/// aligned.
#[derive(Debug)]
pub struct Frame {
    body: AlignedVec<ALIGN>,
    header_len: usize,
}

impl Frame {
    /// The frame, borrowed.
    pub fn view(&self) -> FrameRef<'_> {
        FrameRef { body: &self.body, header_len: self.header_len }
    }

    /// The header's bytes.
    pub fn header(&self) -> &[u8] {
        self.view().header()
    }

    /// The payload's archive (empty for a frame without one).
    pub fn payload(&self) -> &[u8] {
        self.view().payload()
    }

    /// The whole body, for accounting.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the body is empty (never, for a frame that carries a header).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        self.view() == other.view()
    }
}

impl Eq for Frame {}

/// Where the payload starts in a body whose header is `header_len` bytes.
fn payload_offset(header_len: usize) -> usize {
    header_len.next_multiple_of(ALIGN)
}

/// Zero-pads `buffer` to `len`, less than [`ALIGN`] bytes past its end:
/// one copy of a constant size and a truncation, where `resize` would call
/// `memset` for a few bytes, once per frame.
fn pad_to(buffer: &mut AlignedVec, len: usize) {
    debug_assert!(len >= buffer.len() && len - buffer.len() < ALIGN);
    buffer.extend_from_slice(&[0; ALIGN]);
    buffer.resize(len, 0);
}

/// Why a stream's bytes are not frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The prefix announces a body longer than the maximum.
    #[error("a frame of {len} bytes is over the maximum of {max}")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The prefix's header length does not fit inside the body.
    #[error("a frame's header of {header_len} bytes does not fit its body of {len}")]
    BadHeader {
        /// The announced header length.
        header_len: usize,
        /// The announced body length.
        len: usize,
    },
    /// The decoder already failed; the stream must be closed.
    #[error("the stream lost its framing earlier")]
    Poisoned,
}

/// Appends one frame (prefix and body) to `out`.
///
/// # Panics
///
/// If the body would not fit a `u32` length (4 GiB), which no caller that
/// keeps to a maximum frame size can reach.
pub fn encode(header: &[u8], payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(PREFIX_LEN + payload_offset(header.len()) + payload.len());
    let appended = encode_with(header, out, |out| {
        out.extend_from_slice(payload);
        Ok::<(), std::convert::Infallible>(())
    });
    match appended {
        Ok(()) => {}
        Err(never) => match never {},
    }
}

/// Appends one frame to `out` whose payload `payload` appends itself, at
/// the offset where it will be read (so an archive is written in place,
/// not copied). If `payload` fails, or panics, `out` is left as it was.
///
/// # Panics
///
/// As [`encode`].
pub fn encode_with<E>(
    header: &[u8],
    out: &mut Vec<u8>,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let start = out.len();
    let offset = payload_offset(header.len());
    // A small payload then fits without growing the buffer again.
    out.reserve(PREFIX_LEN + offset + 64);
    let frame = Unfinished { out, start, done: false };
    // The body's length is known once the payload is written.
    frame.out.extend_from_slice(&[0; 4]);
    frame.out.extend_from_slice(&header_len(header.len()).to_le_bytes());
    frame.out.extend_from_slice(header);
    if offset > header.len() {
        frame.out.resize(start + PREFIX_LEN + offset, 0);
    }
    payload(frame.out)?;
    frame.seal(header.len(), offset);
    Ok(())
}

/// As [`encode_with`], for a header of `W` little-endian words, a length
/// known when compiling (the fixed part of a full header, a compact
/// header): the prefix, the header and the padding after it go in as
/// copies of constant sizes, which compile to a few moves, instead of
/// copies whose length is only known at run time. Senders write one frame
/// per message, most of them with a 16-byte compact header.
///
/// Words rather than bytes because a header built a byte or a field at a
/// time in an array, then copied in 16 bytes at a time, makes the
/// processor wait for the narrow stores to land before the wide load can
/// read them (store forwarding fails); words go from registers to the
/// buffer. Measured: a third of this function's time with an array.
///
/// # Panics
///
/// As [`encode`].
#[inline]
pub fn encode_fixed<const W: usize, E>(
    header: [u64; W],
    out: &mut Vec<u8>,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let len = W * 8;
    let start = out.len();
    let offset = payload_offset(len);
    out.reserve(PREFIX_LEN + offset + 64);
    let frame = Unfinished { out, start, done: false };
    frame.out.extend_from_slice(&(u64::from(header_len(len)) << 32).to_le_bytes());
    for word in header {
        frame.out.extend_from_slice(&word.to_le_bytes());
    }
    if offset > len {
        frame.out.extend_from_slice(&[0; ALIGN][..offset - len]);
    }
    payload(frame.out)?;
    frame.seal(len, offset);
    Ok(())
}

fn header_len(len: usize) -> u32 {
    let Ok(len) = u32::try_from(len) else { panic!("a frame header of {len} bytes") };
    len
}

/// A frame being appended: dropped unfinished (its payload failed or
/// panicked), it takes its bytes back out.
struct Unfinished<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    done: bool,
}

impl Unfinished<'_> {
    /// Completes the frame once its payload is written: the body's length
    /// goes into the prefix. A frame with no payload has no padding after
    /// its header either.
    fn seal(mut self, header_len: usize, offset: usize) {
        if self.out.len() == self.start + PREFIX_LEN + offset {
            self.out.truncate(self.start + PREFIX_LEN + header_len);
        }
        let body = self.out.len() - self.start - PREFIX_LEN;
        let Ok(body32) = u32::try_from(body) else { panic!("a frame body of {body} bytes") };
        self.out[self.start..self.start + 4].copy_from_slice(&body32.to_le_bytes());
        self.done = true;
    }
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.out.truncate(self.start);
        }
    }
}

/// Turns a stream's bytes, in chunks of any size, back into frames.
#[derive(Debug)]
pub struct Decoder {
    max: usize,
    state: State,
    /// The bodies read, or being read; reused.
    body: AlignedVec<ALIGN>,
    /// Where in `body` the body being read starts.
    start: usize,
    /// The frames of the last [`next_many`](Decoder::next_many).
    spans: Vec<Span>,
}

/// Where one frame's body lies in a decoder's buffer.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
    header_len: usize,
}

impl Span {
    /// The frame it spans in `body`, the decoder's buffer.
    fn frame(self, body: &[u8]) -> FrameRef<'_> {
        FrameRef { body: &body[self.start..self.start + self.len], header_len: self.header_len }
    }
}

#[derive(Debug)]
enum State {
    /// Reading the prefix; this much of it so far.
    Prefix([u8; PREFIX_LEN], usize),
    /// Reading a body of `len` bytes into the decoder's buffer.
    Body {
        len: usize,
        header_len: usize,
    },
    Poisoned,
}

/// The frames one [`Decoder::next_many`] read, borrowed from its buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a> {
    body: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Frames<'a> {
    /// How many frames there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The frame at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<FrameRef<'a>> {
        self.spans.get(index).map(|span| span.frame(self.body))
    }

    /// The buffer the frames lie in; its start is aligned to [`ALIGN`].
    pub fn bytes(&self) -> &'a [u8] {
        self.body
    }

    /// The frames, in stream order, each with where its payload starts in
    /// [`bytes`](Frames::bytes).
    pub fn iter_placed(&self) -> impl Iterator<Item = (FrameRef<'a>, usize)> + 'a {
        let body = self.body;
        self.spans
            .iter()
            .map(move |span| (span.frame(body), span.start + payload_offset(span.header_len).min(span.len)))
    }

    /// The frames, in stream order.
    pub fn iter(&self) -> impl Iterator<Item = FrameRef<'a>> + 'a {
        let body = self.body;
        self.spans.iter().map(move |span| span.frame(body))
    }
}

impl Decoder {
    /// A decoder that refuses bodies over `max` bytes.
    pub fn new(max: usize) -> Decoder {
        Decoder { max, state: State::Prefix([0; PREFIX_LEN], 0), body: AlignedVec::new(), start: 0, spans: Vec::new() }
    }

    /// Takes bytes from the front of `input` until one frame is complete
    /// (lent out until the next call) or `input` is used up (`Ok(None)`).
    /// Call it again with the rest of `input`, then with the stream's next
    /// bytes. After an error every call returns [`FrameError::Poisoned`].
    pub fn next(&mut self, input: &mut &[u8]) -> Result<Option<FrameRef<'_>>, FrameError> {
        self.restart();
        let span = self.step(input, false)?;
        Ok(span.map(|span| span.frame(&self.body)))
    }

    /// Takes every byte of `input`, and lends out every frame completed by
    /// it, in order, until the next call; a frame's rest carries over to the
    /// next call. Reading a chunk's frames this way copies each body once,
    /// into one buffer, so that they can be handled together.
    ///
    /// After an error, the frames before it are still lent out, and every
    /// later call fails with [`FrameError::Poisoned`].
    pub fn next_many(&mut self, input: &mut &[u8]) -> (Frames<'_>, Option<FrameError>) {
        self.restart();
        let error = self.take_all(input).err();
        (Frames { body: &self.body, spans: &self.spans }, error)
    }

    /// Like [`next_many`](Decoder::next_many) over `inputs`, the stream's
    /// next pieces in order: the frames of all of them are lent out
    /// together. After an error the pieces after it are not read.
    pub fn next_many_of<I: AsRef<[u8]>>(&mut self, inputs: &[I]) -> (Frames<'_>, Option<FrameError>) {
        self.restart();
        let error = inputs.iter().find_map(|input| self.take_all(&mut input.as_ref()).err());
        (Frames { body: &self.body, spans: &self.spans }, error)
    }

    /// Reads frames from `input` until it is used up, adding each one
    /// completed to the frames lent out.
    fn take_all(&mut self, input: &mut &[u8]) -> Result<(), FrameError> {
        loop {
            if let Some(taken) = self.take_whole(input) {
                taken?;
                continue;
            }
            match self.step(input, true)? {
                Some(span) => self.spans.push(span),
                None => return Ok(()),
            }
        }
    }

    /// Drops the frames lent out by the last call, keeping the part of a
    /// body read so far at the front of the buffer.
    fn restart(&mut self) {
        self.spans.clear();
        if matches!(self.state, State::Body { .. }) {
            if self.start > 0 {
                self.body.as_mut_slice().copy_within(self.start.., 0);
                let partial = self.body.len() - self.start;
                self.body.resize(partial, 0);
                self.start = 0;
            }
            return;
        }
        self.body.clear();
        self.start = 0;
    }

    /// The common case of [`next_many`](Decoder::next_many): a frame that
    /// starts at the front of `input` and ends inside it, appended to the
    /// buffer in one step and added to the frames lent out. `None` when
    /// that is not the case (a frame begun in an earlier chunk, or one this
    /// chunk does not finish): then [`step`](Decoder::step) reads it.
    ///
    /// It adds the frame itself rather than return it: a span returned
    /// through the `Option<Result<..>>` was stored in parts and read back
    /// whole, and that read waited for the body's copy to land (nearly
    /// three quarters of `take_all`'s samples in a profile of one-way
    /// messages).
    fn take_whole(&mut self, input: &mut &[u8]) -> Option<Result<(), FrameError>> {
        if !matches!(self.state, State::Prefix(_, 0)) {
            return None;
        }
        let (prefix, rest) = input.split_first_chunk::<PREFIX_LEN>()?;
        let (len, header_len) = match self.announced(prefix) {
            Ok(lengths) => lengths,
            Err(error) => return Some(Err(error)),
        };
        let body = rest.get(..len)?;
        let start = self.open_body(len);
        self.body.extend_from_slice(body);
        *input = &rest[len..];
        self.spans.push(Span { start, len, header_len });
        Some(Ok(()))
    }

    /// The body and header lengths `prefix` announces, once checked; a
    /// prefix that fails the check poisons the stream.
    fn announced(&mut self, prefix: &[u8; PREFIX_LEN]) -> Result<(usize, usize), FrameError> {
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let header_len = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]) as usize;
        if let Err(error) = self.check(len, header_len) {
            self.state = State::Poisoned;
            return Err(error);
        }
        Ok((len, header_len))
    }

    /// Makes room for a body of `len` bytes after the bodies in the buffer,
    /// zero padding between so that it starts aligned; returns where.
    fn open_body(&mut self, len: usize) -> usize {
        if self.body.is_empty() && self.body.capacity() > KEEP_CAPACITY && len <= KEEP_CAPACITY {
            self.body = AlignedVec::new();
        }
        let start = self.body.len().next_multiple_of(ALIGN);
        // The padding is written a whole `ALIGN` long, then cut.
        self.body.reserve(ALIGN + len);
        pad_to(&mut self.body, start);
        start
    }

    /// Reads until one frame is complete (its span in the buffer) or `input`
    /// is used up. With `append`, a new body goes after the ones already in
    /// the buffer (at the next multiple of [`ALIGN`]); without, the buffer
    /// holds one body at a time.
    fn step(&mut self, input: &mut &[u8], append: bool) -> Result<Option<Span>, FrameError> {
        loop {
            match &mut self.state {
                State::Poisoned => return Err(FrameError::Poisoned),
                State::Prefix(prefix, filled) => {
                    let prefix = if let (0, Some((whole, rest))) = (*filled, input.split_first_chunk::<PREFIX_LEN>()) {
                        // The common case: the whole prefix in one piece.
                        *input = rest;
                        *whole
                    } else {
                        let take = (PREFIX_LEN - *filled).min(input.len());
                        prefix[*filled..*filled + take].copy_from_slice(&input[..take]);
                        *input = &input[take..];
                        *filled += take;
                        if *filled < PREFIX_LEN {
                            return Ok(None);
                        }
                        *prefix
                    };
                    let (len, header_len) = self.announced(&prefix)?;
                    if !append {
                        self.body.clear();
                    }
                    self.start = self.open_body(len);
                    self.state = State::Body { len, header_len };
                }
                State::Body { len, header_len } => {
                    let have = self.body.len() - self.start;
                    let take = (*len - have).min(input.len());
                    self.body.extend_from_slice(&input[..take]);
                    *input = &input[take..];
                    if have + take < *len {
                        return Ok(None);
                    }
                    let span = Span { start: self.start, len: *len, header_len: *header_len };
                    self.state = State::Prefix([0; PREFIX_LEN], 0);
                    return Ok(Some(span));
                }
            }
        }
    }

    /// Like [`next`](Decoder::next), but hands out an owned copy.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Frame>, FrameError> {
        Ok(self.next(input)?.map(|frame| frame.to_frame()))
    }

    fn check(&self, len: usize, header_len: usize) -> Result<(), FrameError> {
        if len > self.max {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if header_len == 0 || header_len > len {
            return Err(FrameError::BadHeader { header_len, len });
        }
        Ok(())
    }

    /// Whether the decoder is between frames (nothing of a frame read yet).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Prefix(_, 0))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn frames(input: &[u8], chunk: usize) -> Result<Vec<Frame>, FrameError> {
        let mut decoder = Decoder::new(1024);
        let mut frames = Vec::new();
        for mut piece in input.chunks(chunk.max(1)) {
            while let Some(frame) = decoder.decode(&mut piece)? {
                frames.push(frame);
            }
            assert!(piece.is_empty(), "every byte is taken");
        }
        Ok(frames)
    }

    #[test]
    fn frames_come_back_whole_and_aligned_however_the_bytes_are_cut() {
        let mut wire = Vec::new();
        encode(b"abc", b"payload", &mut wire);
        encode(&[7; 16], b"", &mut wire);
        encode(&[1; 17], &[2; 40], &mut wire);
        for chunk in [1, 2, 3, 7, 8, 9, 64, 1000] {
            let frames = frames(&wire, chunk).expect("valid frames");
            assert_eq!(frames.len(), 3);
            assert_eq!((frames[0].header(), frames[0].payload()), (&b"abc"[..], &b"payload"[..]));
            assert_eq!((frames[1].header(), frames[1].payload()), (&[7; 16][..], &[][..]));
            assert_eq!((frames[2].header(), frames[2].payload()), (&[1; 17][..], &[2; 40][..]));
            for frame in &frames {
                assert_eq!(frame.header().as_ptr() as usize % ALIGN, 0);
                assert_eq!(frame.payload().as_ptr() as usize % ALIGN, 0, "payload aligned");
            }
        }
    }

    #[test]
    fn a_payload_written_in_place_reads_back_and_one_that_fails_leaves_nothing() {
        let mut wire = Vec::new();
        encode(b"abc", b"first", &mut wire);
        let before = wire.clone();
        let failed = encode_with(b"head", &mut wire, |out| {
            out.extend_from_slice(b"half a payload");
            Err("could not write")
        });
        assert_eq!(failed, Err("could not write"));
        assert_eq!(wire, before, "nothing of the failed frame is left");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = encode_with(b"head", &mut wire, |out| -> Result<(), ()> {
                out.extend_from_slice(b"half a payload");
                panic!("a payload that panics");
            });
        }));
        assert!(panicked.is_err());
        assert_eq!(wire, before, "nothing of the panicked frame is left");
        encode_with(b"head", &mut wire, |out| {
            out.extend_from_slice(b"in place");
            Ok::<(), ()>(())
        })
        .expect("written");
        encode_with(b"bare", &mut wire, |_| Ok::<(), ()>(())).expect("written");
        let mut expected = before;
        encode(b"head", b"in place", &mut expected);
        encode(b"bare", b"", &mut expected);
        assert_eq!(wire, expected, "the same bytes as a payload copied in, padding only before a payload");
        let read = frames(&wire, 7).expect("frames");
        assert_eq!((read[1].header(), read[1].payload()), (&b"head"[..], &b"in place"[..]));
        assert_eq!((read[2].header(), read[2].payload()), (&b"bare"[..], &b""[..]));
    }

    /// A header of a size known when compiling is written as one of any
    /// size is: aligned or padded, with a payload or without, and a payload
    /// that fails leaves nothing.
    #[test]
    fn a_fixed_size_header_writes_the_same_bytes() {
        fn both<const W: usize>(words: [u64; W], payload: &[u8]) {
            let header: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
            let (mut fixed, mut any) = (b"before".to_vec(), b"before".to_vec());
            let write = |out: &mut Vec<u8>| {
                out.extend_from_slice(payload);
                Ok::<(), ()>(())
            };
            encode_fixed(words, &mut fixed, write).expect("written");
            encode_with(&header, &mut any, write).expect("written");
            assert_eq!(fixed, any, "a {}-byte header, a {}-byte payload", header.len(), payload.len());
            let failed = encode_fixed(words, &mut fixed, |out| {
                out.extend_from_slice(b"half");
                Err("could not write")
            });
            assert_eq!(failed, Err("could not write"));
            assert_eq!(fixed, any, "nothing of the failed frame is left");
        }
        for payload in [&b""[..], b"payload", &[7; 40]] {
            both([0x0101_0101_0101_0101; 2], payload);
            both([0x0202_0202_0202_0202; 3], payload);
            both([0x0304_0506_0708_090a; 9], payload);
        }
    }

    #[test]
    fn an_oversized_or_inconsistent_prefix_poisons_the_stream() {
        let mut decoder = Decoder::new(64);
        let mut input = &[65, 0, 0, 0, 1, 0, 0, 0][..];
        assert_eq!(decoder.decode(&mut input), Err(FrameError::TooLarge { len: 65, max: 64 }));
        assert_eq!(decoder.decode(&mut &b"more"[..]), Err(FrameError::Poisoned));

        let mut decoder = Decoder::new(64);
        assert_eq!(
            decoder.decode(&mut &[8, 0, 0, 0, 9, 0, 0, 0][..]),
            Err(FrameError::BadHeader { header_len: 9, len: 8 })
        );
        let mut decoder = Decoder::new(64);
        assert_eq!(
            decoder.decode(&mut &[8, 0, 0, 0, 0, 0, 0, 0][..]),
            Err(FrameError::BadHeader { header_len: 0, len: 8 })
        );
    }

    #[test]
    fn a_truncated_frame_waits_for_the_rest() {
        let mut wire = Vec::new();
        encode(b"head", b"body", &mut wire);
        let mut decoder = Decoder::new(64);
        let mut input = &wire[..wire.len() - 1];
        assert_eq!(decoder.decode(&mut input), Ok(None));
        assert!(!decoder.is_idle());
        let frame = decoder.decode(&mut &wire[wire.len() - 1..]).expect("valid").expect("complete");
        assert_eq!(frame.payload(), b"body");
        assert!(decoder.is_idle());
    }

    #[test]
    fn lent_frames_match_owned_ones_and_a_large_buffer_is_let_go() {
        let mut wire = Vec::new();
        encode(b"head", &[3; 40], &mut wire);
        encode(&[9; 20], &vec![5; KEEP_CAPACITY + 1], &mut wire);
        encode(b"tail", b"end", &mut wire);
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        let mut input = &wire[..];
        let first = decoder.next(&mut input).expect("valid").expect("whole");
        assert_eq!((first.header(), first.payload()), (&b"head"[..], &[3; 40][..]));
        assert_eq!(first.to_frame().view(), first);
        let large = decoder.next(&mut input).expect("valid").expect("whole");
        assert_eq!(large.payload().len(), KEEP_CAPACITY + 1);
        assert!(decoder.body.capacity() > KEEP_CAPACITY);
        let last = decoder.next(&mut input).expect("valid").expect("whole");
        assert_eq!(last.payload(), b"end");
        assert!(decoder.body.capacity() <= KEEP_CAPACITY, "the large buffer is given back");
        assert!(input.is_empty() && decoder.is_idle());
        // The same when whole frames are read a chunk at a time.
        let tail_at = wire.len() - (PREFIX_LEN + payload_offset(4) + 3);
        let mut decoder = Decoder::new(DEFAULT_MAX_FRAME);
        let (frames, error) = decoder.next_many(&mut &wire[..tail_at]);
        assert_eq!((frames.len(), error), (2, None));
        assert!(decoder.body.capacity() > KEEP_CAPACITY);
        let (frames, _) = decoder.next_many(&mut &wire[tail_at..]);
        assert_eq!(frames.get(0).map(|frame| frame.payload()), Some(&b"end"[..]));
        assert!(decoder.body.capacity() <= KEEP_CAPACITY, "the large buffer is given back");
    }

    /// Every frame `next_many` lends out, chunk after chunk, as owned
    /// copies; checks that each is aligned.
    fn many(input: &[u8], chunk: usize) -> (Vec<Frame>, Option<FrameError>) {
        let mut decoder = Decoder::new(1024);
        let mut frames = Vec::new();
        for mut piece in input.chunks(chunk.max(1)) {
            let (lent, error) = decoder.next_many(&mut piece);
            assert_eq!(lent.len(), lent.iter().count());
            for frame in lent.iter() {
                assert_eq!(frame.header().as_ptr() as usize % ALIGN, 0, "header aligned");
                if !frame.payload().is_empty() {
                    assert_eq!(frame.payload().as_ptr() as usize % ALIGN, 0, "payload aligned");
                }
                frames.push(frame.to_frame());
            }
            assert!(piece.is_empty(), "every byte is taken");
            if error.is_some() {
                return (frames, error);
            }
        }
        (frames, None)
    }

    #[test]
    fn a_chunk_of_frames_is_lent_out_at_once_in_order() {
        let mut wire = Vec::new();
        for n in 0..20u8 {
            encode(&[n; 5], &vec![n; usize::from(n) * 3], &mut wire);
        }
        for chunk in [1, 7, 13, 64, 100, wire.len()] {
            let (frames, error) = many(&wire, chunk);
            assert_eq!(error, None);
            assert_eq!(frames.len(), 20, "chunks of {chunk}");
            for (n, frame) in (0..20u8).zip(&frames) {
                assert_eq!((frame.header(), frame.payload()), (&[n; 5][..], &vec![n; usize::from(n) * 3][..]));
            }
        }
        let mut decoder = Decoder::new(1024);
        let (lent, _) = decoder.next_many(&mut &wire[..]);
        assert_eq!(lent.get(19).map(|frame| frame.header()), Some(&[19; 5][..]));
        assert!(lent.get(20).is_none());
        // Each payload is where `iter_placed` says, aligned in the buffer.
        for (frame, at) in lent.iter_placed() {
            assert_eq!(&lent.bytes()[at..at + frame.payload().len()], frame.payload());
            assert!(frame.payload().is_empty() || at % ALIGN == 0);
        }
        assert_eq!(lent.bytes().as_ptr() as usize % ALIGN, 0);
    }

    #[test]
    fn frames_before_a_broken_prefix_are_still_lent_out() {
        let mut wire = Vec::new();
        encode(b"one", b"first", &mut wire);
        encode(b"two", b"second", &mut wire);
        wire.extend_from_slice(&[0xff, 0xff, 0, 0, 1, 0, 0, 0]);
        let mut decoder = Decoder::new(1024);
        let (lent, error) = decoder.next_many(&mut &wire[..]);
        assert_eq!(lent.iter().map(|frame| frame.payload()).collect::<Vec<_>>(), [&b"first"[..], b"second"]);
        assert_eq!(error, Some(FrameError::TooLarge { len: 0xffff, max: 1024 }));
        let (lent, error) = decoder.next_many(&mut &b"more"[..]);
        assert!(lent.is_empty());
        assert_eq!(error, Some(FrameError::Poisoned));
    }

    #[test]
    fn pieces_after_a_broken_prefix_are_not_read() {
        let (mut first, mut last) = (Vec::new(), Vec::new());
        encode(b"one", b"first", &mut first);
        first.extend_from_slice(&[0xff, 0xff, 0, 0]);
        encode(b"two", b"second", &mut last);
        let mut decoder = Decoder::new(1024);
        let (lent, error) = decoder.next_many_of(&[&first[..], &[1, 0, 0, 0], &last]);
        assert_eq!(lent.iter().map(|frame| frame.payload()).collect::<Vec<_>>(), [&b"first"[..]]);
        assert_eq!(error, Some(FrameError::TooLarge { len: 0xffff, max: 1024 }));
        assert_eq!(decoder.next_many_of(&[&last]).1, Some(FrameError::Poisoned));
    }

    /// Up to 20 frames of small headers and payloads, as (header, payload).
    fn small_frames() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
        proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 1..40), proptest::collection::vec(any::<u8>(), 0..100)),
            1..20,
        )
    }

    proptest! {
        /// Frames read a chunk at a time are the frames read one by one.
        #[test]
        fn chunks_of_frames_match_frames_one_by_one(
            parts in small_frames(),
            chunk in 1usize..200,
        ) {
            let mut wire = Vec::new();
            for (header, payload) in &parts {
                encode(header, payload, &mut wire);
            }
            let (batched, error) = many(&wire, chunk);
            prop_assert_eq!(error, None);
            prop_assert_eq!(batched, frames(&wire, chunk).expect("valid frames"));
        }

        /// Frames read several chunks at a time are the frames read one by
        /// one, however the chunks are grouped.
        #[test]
        fn groups_of_chunks_match_frames_one_by_one(
            parts in small_frames(),
            chunk in 1usize..200,
            group in 1usize..8,
        ) {
            let mut wire = Vec::new();
            for (header, payload) in &parts {
                encode(header, payload, &mut wire);
            }
            let chunks: Vec<&[u8]> = wire.chunks(chunk).collect();
            let mut decoder = Decoder::new(1024);
            let mut batched = Vec::new();
            for pieces in chunks.chunks(group) {
                let (lent, error) = decoder.next_many_of(pieces);
                prop_assert_eq!(error, None);
                for (frame, at) in lent.iter_placed() {
                    prop_assert!(frame.payload().is_empty() || at % ALIGN == 0);
                    batched.push(frame.to_frame());
                }
            }
            prop_assert!(decoder.is_idle());
            prop_assert_eq!(batched, frames(&wire, chunk).expect("valid frames"));
        }

        /// Arbitrary bytes, cut anywhere: the decoder never panics, never
        /// allocates past its maximum, and either yields frames or fails
        /// for good.
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..4096), chunk in 1usize..300) {
            let mut decoder = Decoder::new(1024);
            let mut failed = false;
            for mut piece in input.chunks(chunk) {
                loop {
                    match decoder.decode(&mut piece) {
                        Ok(Some(frame)) => prop_assert!(frame.len() <= 1024),
                        Ok(None) => break,
                        Err(FrameError::Poisoned) => { prop_assert!(failed); break }
                        Err(_) => { prop_assert!(!failed); failed = true; break }
                    }
                }
            }
        }

        /// Whatever is encoded decodes to the same header and payload.
        #[test]
        fn encoded_frames_round_trip(
            parts in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 1..100), proptest::collection::vec(any::<u8>(), 0..200)),
                1..10,
            ),
            chunk in 1usize..64,
        ) {
            let mut wire = Vec::new();
            for (header, payload) in &parts {
                encode(header, payload, &mut wire);
            }
            let frames = frames(&wire, chunk).expect("valid frames");
            prop_assert_eq!(frames.len(), parts.len());
            for (frame, (header, payload)) in frames.iter().zip(&parts) {
                prop_assert_eq!(frame.header(), &header[..]);
                prop_assert_eq!(frame.payload(), &payload[..]);
            }
        }
    }
}
