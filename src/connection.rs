//! The connection state machine (RFC 6455 §5, §7): roles and masking,
//! reassembly of fragmented messages with control frames interleaved,
//! UTF-8 validation of text, pings and pongs, the close handshake, limits.
//!
//! Sans-IO and zero-copy. To receive, the host asks [`Connection::want`]
//! what the core needs next and reads that many bytes from its transport:
//! header and control-frame bytes into the core's own small buffers
//! ([`Want::Internal`]), message payload straight into a buffer of the
//! host's choosing ([`Want::Data`]: the buffer a `recv()` result grows in, or
//! the caller's buffer of `recv_into`). It then reports what it read with
//! [`Connection::filled`] or [`Connection::data_received`] (which unmasks the
//! payload in place and validates text), and acts on the [`Event`] returned.
//! Reads may be as short as the transport likes; the state survives between
//! them, so a non-blocking host resumes where it stopped.
//!
//! To send, [`Connection::data_header`] and [`Connection::control_header`]
//! check the frame against the state and return the header to write; the
//! host masks the payload with the returned key (client role).

use crate::close::CloseCode;
use crate::error::ProtocolError;
use crate::frame::{apply_mask, mask_into, FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use crate::inflate::InflateState;
use crate::utf8::Utf8Validator;

/// RFC 7692 §7.2.2: appended to a compressed message's payload before it
/// is inflated (the LEN and NLEN of the empty stored block the sender's
/// sync flush ended with, which §7.2.1 has it leave out).
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The least room [`Connection::inflate_room`] asks for: a message inflated
/// into a growing buffer is not reallocated for every few bytes.
pub const INFLATE_STEP: u64 = 1024;

/// RSV1 marks a compressed message on its first frame (RFC 7692 §6).
const RSV1: u8 = 0b100;

/// Which end of the connection this is. It decides masking (§5.1): a client
/// masks every frame it sends, a server never does, and each fails the
/// connection on a frame that breaks the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    Client = 0,
    Server = 1,
}

/// The type of a data message (§5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageKind {
    Text = 1,
    Binary = 2,
}

impl MessageKind {
    const fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// A fragmented message being sent: its kind, and whether it is compressed
/// (its later frames go as its first went). One byte in the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    Text,
    Binary,
    CompressedText,
    CompressedBinary,
}

impl Sending {
    const fn new(kind: MessageKind, compressed: bool) -> Self {
        match (kind, compressed) {
            (MessageKind::Text, false) => Sending::Text,
            (MessageKind::Binary, false) => Sending::Binary,
            (MessageKind::Text, true) => Sending::CompressedText,
            (MessageKind::Binary, true) => Sending::CompressedBinary,
        }
    }

    const fn kind(self) -> MessageKind {
        match self {
            Sending::Text | Sending::CompressedText => MessageKind::Text,
            Sending::Binary | Sending::CompressedBinary => MessageKind::Binary,
        }
    }

    const fn compressed(self) -> bool {
        matches!(self, Sending::CompressedText | Sending::CompressedBinary)
    }
}

/// Where the connection stands (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Frames flow both ways.
    Open = 0,
    /// We sent a Close frame and wait for the peer's (§7.1.2); what arrives
    /// meanwhile is still read.
    CloseSent = 1,
    /// The peer's Close frame arrived and ours is owed (§5.5.1): the host
    /// sends it with [`Connection::control_header`] and closes the transport.
    CloseReceived = 2,
    /// The peer broke the protocol (§7.1.7): the host sends a Close frame
    /// with the error's code and closes the transport.
    Failed = 3,
    /// Both Close frames went through, or the failure was reported: nothing
    /// more is read or sent.
    Closed = 4,
}

/// What the core needs next from the transport.
#[derive(Debug, PartialEq, Eq)]
pub enum Want<'a> {
    /// Up to `len` bytes of frame header or control payload, into this
    /// buffer of the core's (report them with [`Connection::filled`]). An
    /// empty buffer means the next header is already read ahead: call
    /// `filled(0)` without reading.
    Internal(&'a mut [u8]),
    /// Up to this many bytes of message payload, into a buffer of the
    /// host's (report them with [`Connection::data_received`]).
    Data(u64),
    /// Message payload the core has already read ahead: copy up to all of
    /// it into the host's buffer and report that with
    /// [`Connection::data_received`]. Nothing is read from the transport.
    Buffered(&'a [u8]),
    /// Compressed payload (RFC 7692) is waiting in the core, or the
    /// message's end is: call [`Connection::inflate`] with output space.
    /// Nothing is read from the transport.
    Inflate,
    /// Nothing: the connection is closing or closed.
    Nothing,
}

/// What a read brought about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Nothing yet; ask [`Connection::want`] again.
    Continue,
    /// The payload just reported ends a message of this kind.
    Message(MessageKind),
    /// A Ping arrived; its payload is [`Connection::control_payload`] and
    /// must be echoed in a Pong (§5.5.2).
    Ping,
    /// A Pong arrived (payload in [`Connection::control_payload`]).
    Pong,
    /// The peer's Close arrived. When [`Connection::state`] is
    /// [`State::CloseReceived`] our Close is owed; when it is
    /// [`State::Closed`] it answered ours.
    Close,
}

/// Why a frame cannot be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// A Close frame was already sent (§5.5.1: nothing follows it).
    Closed,
    /// A fragmented message of the other kind is being sent (§5.4: messages
    /// are not interleaved).
    MessageInProgress,
    /// A control frame longer than 125 bytes, a data opcode given as a
    /// control frame, or a close code or reason that cannot be sent.
    InvalidFrame,
}

/// Why the transport ended a connection before its close handshake did
/// (RFC 6455 §7.1.5: the connection then closed with 1006).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TransportError {
    /// The stream reached end of file.
    Eof = 0,
    /// A read or write failed (a reset, a broken pipe).
    Failed = 1,
    /// The stream reported more bytes than it was asked for (or a negative
    /// count): nothing it says can be trusted any more.
    BadCount = 2,
    /// A write failed partway through a frame: the peer saw half a frame.
    PartialWrite = 3,
    /// A write made no progress for too long partway through a frame.
    Stalled = 4,
    /// No memory to queue the rest of a frame partly written.
    NoMemory = 5,
}

impl TransportError {
    /// The kind for a number from the host (`UWS_TRANSPORT_*`).
    pub const fn from_u8(value: u8) -> Option<TransportError> {
        match value {
            0 => Some(TransportError::Eof),
            1 => Some(TransportError::Failed),
            2 => Some(TransportError::BadCount),
            3 => Some(TransportError::PartialWrite),
            4 => Some(TransportError::Stalled),
            5 => Some(TransportError::NoMemory),
            _ => None,
        }
    }

    /// The close reason a script sees.
    pub const fn message(self) -> &'static str {
        match self {
            TransportError::Eof | TransportError::Failed => "connection lost",
            TransportError::BadCount => "stream returned an invalid count",
            TransportError::PartialWrite => "write interrupted within a frame",
            TransportError::Stalled => "write timed out within a frame",
            TransportError::NoMemory => "out of memory",
        }
    }
}

/// Why the host ended a connection that neither the peer nor the protocol
/// ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalEnd {
    /// Our Close went out and no answer came in time (§7.1.1 then lets us
    /// close the transport): the connection ended with our code.
    CloseUnanswered(CloseCode),
    /// The keepalive Ping went unanswered: failed with [`KEEPALIVE_CLOSE`].
    KeepaliveTimeout,
    /// No memory for the message being received: failed with 1009.
    OutOfMemory,
    /// No memory for the decompressor a compressed message needs: failed
    /// with 1011 (our condition, not the message's size).
    NoMemoryToDecompress,
}

impl LocalEnd {
    /// The code and reason the connection ends with (and that a failure's
    /// Close carries).
    pub const fn code_and_reason(self) -> (CloseCode, &'static str) {
        match self {
            LocalEnd::CloseUnanswered(code) => (code, ""),
            LocalEnd::KeepaliveTimeout => (KEEPALIVE_CLOSE, "keepalive timeout"),
            LocalEnd::OutOfMemory => (CloseCode::MESSAGE_TOO_BIG, "out of memory"),
            LocalEnd::NoMemoryToDecompress => (CloseCode::INTERNAL_ERROR, "out of memory"),
        }
    }
}

/// The code a connection whose peer left a keepalive Ping unanswered is
/// failed with (§7.4.1: 1011, an unexpected condition; what Python's
/// `websockets` uses too).
pub const KEEPALIVE_CLOSE: CloseCode = CloseCode::INTERNAL_ERROR;

/// How many bytes the host may report for what [`Connection::want`] asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxBound {
    /// Into the core's buffer ([`Want::Internal`]): at most this many.
    Internal(usize),
    /// Payload read from the transport ([`Want::Data`]): at most this many.
    Data(u64),
    /// Payload copied out of the read-ahead ([`Want::Buffered`]).
    Buffered(usize),
    /// Nothing may be reported.
    Nothing,
}

/// How the receive side is reading the current frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rx {
    /// Between frames: the next header comes through the read-ahead
    /// (`control[ahead_start..ahead_end]`).
    Header,
    /// Payload of a data frame, going to the host.
    Data,
    /// Payload of a control frame, going into `control`.
    Control,
}

/// One WebSocket connection's protocol state. No heap: 192 bytes on a
/// 32-bit microcontroller, two thirds of it the control-frame buffer.
#[derive(Debug, Clone)]
pub struct Connection {
    role: Role,
    state: State,
    rx: Rx,
    /// The frame being read.
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Where the next payload byte falls in the masking key (bytes read so
    /// far, mod 4), and the payload bytes still to come.
    mask_phase: u8,
    remaining: u64,
    /// The message being received (a fragmented one spans frames) and how
    /// long it is so far.
    message: Option<MessageKind>,
    message_len: u64,
    /// The kind of the message whose payload was last reported.
    last_kind: MessageKind,
    utf8: Utf8Validator,
    /// Payload of the last control frame; after a Close, its code and reason.
    control: [u8; MAX_CONTROL_PAYLOAD],
    control_len: u8,
    /// Bytes read ahead and not yet used: `control[ahead_start..ahead_end]`.
    /// Between frames the control buffer is free, so a header is read
    /// together with what follows it (a small message's payload, further
    /// frames) in one read; the bytes are then used from here.
    ahead_start: u8,
    ahead_end: u8,
    close_received: bool,
    error: Option<ProtocolError>,
    /// Why the transport failed before the close handshake ended, if it
    /// did, and the error number the host gave with it (0: none).
    transport: Option<TransportError>,
    transport_errno: u16,
    /// Why the host ended it, if it did.
    local: Option<LocalEnd>,
    /// The fragmented message being sent, if any.
    sending: Option<Sending>,
    /// permessage-deflate was negotiated (RSV1 means "compressed", RFC 7692
    /// §6), and whether the peer keeps its context between messages (so
    /// must our decompressor, §7.1.1).
    compression: bool,
    inflate_keeps_context: bool,
    /// The message being received is compressed; its payload is read into
    /// `control` and inflated from there: `control[ahead_start..][..ahead_payload]`
    /// is unmasked payload of the current frame not yet inflated (what
    /// follows it in the read-ahead is not this frame's).
    compressed: bool,
    ahead_payload: u8,
    /// How much of DEFLATE_TAIL went into the decompressor at the message's end.
    tail_fed: u8,
    /// Whether the compressed message had any payload. An empty one is an
    /// empty message (zlib-based peers read it so), not a cut-short block.
    compressed_input: bool,
    max_message: u64,
    max_frame: u64,
}

impl Connection {
    /// A connection whose handshake is done, with no size limits.
    pub const fn new(role: Role) -> Self {
        Connection {
            role,
            state: State::Open,
            rx: Rx::Header,
            opcode: OpCode::Binary,
            fin: true,
            mask: None,
            mask_phase: 0,
            remaining: 0,
            message: None,
            message_len: 0,
            last_kind: MessageKind::Binary,
            utf8: Utf8Validator::new(),
            control: [0; MAX_CONTROL_PAYLOAD],
            control_len: 0,
            ahead_start: 0,
            ahead_end: 0,
            close_received: false,
            error: None,
            transport: None,
            transport_errno: 0,
            local: None,
            sending: None,
            compression: false,
            inflate_keeps_context: true,
            compressed: false,
            ahead_payload: 0,
            tail_fed: 0,
            compressed_input: false,
            max_message: u64::MAX,
            max_frame: u64::MAX,
        }
    }

    /// Limit the size of a message and of a single frame (payload bytes);
    /// either exceeded fails the connection with 1009. `u64::MAX` for none.
    pub fn set_limits(&mut self, max_message: u64, max_frame: u64) {
        self.max_message = max_message;
        self.max_frame = max_frame;
    }

    /// permessage-deflate was negotiated (RFC 7692): RSV1 is allowed on the
    /// first frame of a data message, whose payload then goes through
    /// [`inflate`](Self::inflate). `peer_keeps_context`: the peer did not
    /// agree to no context takeover for what it sends (§7.1.1), so the
    /// decompressor keeps its history between messages.
    pub fn set_compression(&mut self, enabled: bool, peer_keeps_context: bool) {
        self.compression = enabled;
        self.inflate_keeps_context = peer_keeps_context;
    }

    /// Whether the message being received (or the last one) is compressed.
    pub const fn rx_compressed(&self) -> bool {
        self.compressed
    }

    /// Whether [`want`](Self::want) would say [`Want::Inflate`] (without
    /// its side effects): the next step is [`inflate`](Self::inflate).
    pub fn needs_inflate(&self) -> bool {
        matches!(self.state, State::Open | State::CloseSent) && self.rx == Rx::Data && self.compressed && self.inflate_ready()
    }

    pub const fn role(&self) -> Role {
        self.role
    }

    pub const fn state(&self) -> State {
        self.state
    }

    /// The error that failed the connection, if any.
    pub const fn error(&self) -> Option<ProtocolError> {
        self.error
    }

    /// The kind of the message being received, or of the last one.
    pub const fn message_kind(&self) -> MessageKind {
        self.last_kind
    }

    /// Whether a message has been partly received and not finished.
    pub const fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// How many bytes are read ahead and not yet used.
    pub const fn buffered(&self) -> usize {
        (self.ahead_end - self.ahead_start) as usize
    }

    /// The payload of the last control frame received (valid until the
    /// next [`want`](Self::want)), or the peer's Close once it came.
    pub fn control_payload(&self) -> &[u8] {
        self.control.get(..usize::from(self.control_len)).unwrap_or(&[])
    }

    /// The peer's close code: `None` before its Close arrived, 1005 when it
    /// carried none (§7.1.5).
    pub fn close_code(&self) -> Option<CloseCode> {
        if !self.close_received {
            return None;
        }
        Some(match self.control_payload() {
            [hi, lo, ..] => CloseCode(u16::from_be_bytes([*hi, *lo])),
            _ => CloseCode::NO_STATUS,
        })
    }

    /// The peer's close reason (UTF-8, possibly empty).
    pub fn close_reason(&self) -> &[u8] {
        match (self.close_received, self.control_payload()) {
            (true, [_, _, reason @ ..]) => reason,
            _ => &[],
        }
    }

    /// How the connection ended, for the host to report: the peer's Close
    /// (its code, 1005 when it gave none, and its reason), else the
    /// protocol error that failed it (its code and message), else what the
    /// host ended it for ([`LocalEnd`]), else the transport's failure (1006
    /// and its message). `None` while none of these happened. The order
    /// keeps the first cause: a transport that fails after the host gave up
    /// on the peer changes nothing, while the peer's late Close answers
    /// ours.
    pub fn end(&self) -> Option<(CloseCode, &[u8])> {
        if let Some(code) = self.close_code() {
            return Some((code, self.close_reason()));
        }
        if let Some(e) = self.error {
            return Some((e.close_code(), e.message().as_bytes()));
        }
        match self.local {
            // Our Close is unanswered only once the host stopped waiting
            // and closed the transport.
            Some(LocalEnd::CloseUnanswered(_)) if self.state != State::Closed => {}
            Some(local) => {
                let (code, reason) = local.code_and_reason();
                return Some((code, reason.as_bytes()));
            }
            None => {}
        }
        self.transport.map(|t| (CloseCode::ABNORMAL, t.message().as_bytes()))
    }

    /// The reason of [`end`](Self::end) written into `out` (truncated to
    /// fit), with the transport's error number when there is one:
    /// "connection lost (errno 104)". Returns the length.
    pub fn end_reason_into(&self, out: &mut [u8]) -> usize {
        let Some((_, reason)) = self.end() else {
            return 0;
        };
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            for &b in bytes {
                if let Some(slot) = out.get_mut(len) {
                    *slot = b;
                    len += 1;
                }
            }
        };
        put(reason);
        let transport_ended_it = !self.close_received && self.error.is_none() && self.local.is_none();
        if transport_ended_it && self.transport_errno != 0 {
            let mut digits = [0u8; 5];
            let mut n = self.transport_errno;
            let mut i = digits.len();
            while n > 0 && i > 0 {
                i -= 1;
                if let Some(d) = digits.get_mut(i) {
                    *d = b'0' + (n % 10) as u8;
                }
                n /= 10;
            }
            put(b" (errno ");
            put(digits.get(i..).unwrap_or(&[]));
            put(b")");
        }
        len
    }

    /// The Close frame we owe, as (code, reason), or `None` when none is
    /// owed. After the peer's Close (§5.5.1) it echoes the peer's code, and
    /// 1000 when the peer gave none (1005 never goes on the wire, §7.4.1);
    /// after a protocol failure (§7.1.7) it carries the error's code and
    /// message.
    pub fn close_reply(&self) -> Option<(CloseCode, &'static [u8])> {
        match self.state {
            State::CloseReceived => match self.close_code() {
                Some(code) if code.is_valid_on_wire() => Some((code, b"")),
                _ => Some((CloseCode::NORMAL, b"")),
            },
            State::Failed => match (self.error, self.local) {
                (Some(e), _) => Some((e.close_code(), e.message().as_bytes())),
                (None, Some(local)) => {
                    let (code, reason) = local.code_and_reason();
                    Some((code, reason.as_bytes()))
                }
                (None, None) => None,
            },
            _ => None,
        }
    }

    /// The host ends the connection ([`LocalEnd`] says why), recorded
    /// unless something ended it before. A keepalive timeout or a message
    /// too big for memory fails it (§7.1.7): the host then sends the Close
    /// [`close_reply`](Self::close_reply) gives and closes the transport.
    /// [`LocalEnd::CloseUnanswered`] is given when our Close goes out: it
    /// counts once the transport is closed without the peer's answer.
    pub fn end_locally(&mut self, why: LocalEnd) {
        if self.end().is_some() || self.local.is_some() {
            return;
        }
        self.local = Some(why);
        if !matches!(why, LocalEnd::CloseUnanswered(_)) && matches!(self.state, State::Open | State::CloseReceived) {
            self.state = State::Failed;
        }
    }

    /// The transport failed (`kind` says how): nothing more is read or
    /// sent. Recorded only when nothing ended the connection before it
    /// (an end of file after both Close frames is no failure).
    pub fn fail_transport(&mut self, kind: TransportError) {
        self.fail_transport_errno(kind, 0);
    }

    /// [`fail_transport`](Self::fail_transport) with the error number the
    /// transport reported (an errno; 0 when there is none), which the
    /// reason then names.
    pub fn fail_transport_errno(&mut self, kind: TransportError, errno: u16) {
        if !self.close_received && self.error.is_none() && self.transport.is_none() {
            self.transport = Some(kind);
            self.transport_errno = if kind == TransportError::Failed { errno } else { 0 };
        }
        self.state = State::Closed;
    }

    /// Whether a receive step can make progress without reading the
    /// transport: a whole frame header, or message payload, is read ahead,
    /// or the connection is closed (the step then reports that at once).
    /// A partial header read ahead is not enough, nor a small message's
    /// header without all its payload: the step would read.
    pub fn ready(&self) -> bool {
        if !matches!(self.state, State::Open | State::CloseSent) {
            return true;
        }
        match self.rx {
            Rx::Header => self.ahead_header_complete() && !self.small_message_partly_ahead(),
            Rx::Data if self.compressed => self.inflate_ready(),
            Rx::Data => self.ahead_start < self.ahead_end,
            Rx::Control => false,
        }
    }

    /// A compressed frame's payload is read in, or its message's end is
    /// reached: [`inflate`](Self::inflate) can go on without a read.
    const fn inflate_ready(&self) -> bool {
        self.ahead_payload > 0 || self.remaining == 0
    }

    /// The most the host may report for what [`want`](Self::want) asks now,
    /// without want's side effects (it moves a partial header down).
    pub fn rx_bound(&self) -> RxBound {
        if !matches!(self.state, State::Open | State::CloseSent) {
            return RxBound::Nothing;
        }
        let ahead = usize::from(self.ahead_end.saturating_sub(self.ahead_start));
        match self.rx {
            Rx::Header if self.ahead_header_complete() && !self.small_message_partly_ahead() => RxBound::Internal(0),
            Rx::Header => RxBound::Internal(MAX_CONTROL_PAYLOAD.saturating_sub(ahead)),
            Rx::Data if self.compressed && self.inflate_ready() => RxBound::Nothing,
            Rx::Data if self.compressed => RxBound::Internal(MAX_CONTROL_PAYLOAD.saturating_sub(usize::from(self.ahead_end))),
            Rx::Data if ahead > 0 => RxBound::Buffered(usize::try_from(self.remaining).map_or(ahead, |r| r.min(ahead))),
            Rx::Data => RxBound::Data(self.remaining),
            Rx::Control => {
                let from = usize::from(self.control_len);
                let to = usize::try_from(self.remaining)
                    .ok()
                    .and_then(|r| from.checked_add(r))
                    .map_or(MAX_CONTROL_PAYLOAD, |to| to.min(MAX_CONTROL_PAYLOAD));
                RxBound::Internal(to.saturating_sub(from))
            }
        }
    }

    /// What to read next.
    pub fn want(&mut self) -> Want<'_> {
        if !matches!(self.state, State::Open | State::CloseSent) {
            return Want::Nothing;
        }
        let (start, end) = (self.ahead_start as usize, self.ahead_end as usize);
        match self.rx {
            // The next header is all read ahead: no read needed, unless it
            // begins a small message whose payload is only partly here
            // (then read the rest into the buffer, so that the message is
            // taken in one step, take_small_message).
            Rx::Header if self.ahead_header_complete() && !self.small_message_partly_ahead() => Want::Internal(&mut []),
            Rx::Header => {
                // Between frames the control buffer is free: read the next
                // header together with whatever follows it. A frame begun
                // in an earlier read moves to the buffer's front first.
                if start > 0 {
                    shift_down(&mut self.control, start, 0, end - start);
                    self.ahead_start = 0;
                    self.ahead_end = (end - start) as u8;
                }
                let have = self.ahead_end as usize;
                Want::Internal(self.control.get_mut(have..).unwrap_or(&mut []))
            }
            Rx::Data if self.compressed && self.inflate_ready() => Want::Inflate,
            Rx::Data if self.compressed => {
                // All read ahead is used (payload is claimed as it comes):
                // read the next compressed bytes, and what follows them,
                // into the buffer's start.
                self.ahead_start = 0;
                self.ahead_end = 0;
                Want::Internal(&mut self.control[..])
            }
            Rx::Data if start < end => {
                let n = ((end - start) as u64).min(self.remaining) as usize;
                Want::Buffered(self.control.get(start..start + n).unwrap_or(&[]))
            }
            Rx::Data => Want::Data(self.remaining),
            Rx::Control => {
                // Only what the read-ahead did not hold: the payload read so
                // far is control[..control_len]; the header check bounds the
                // whole at 125 bytes.
                let from = self.control_len as usize;
                let to = (from + self.remaining as usize).min(MAX_CONTROL_PAYLOAD);
                Want::Internal(self.control.get_mut(from..to).unwrap_or(&mut []))
            }
        }
    }

    fn ahead_header_complete(&self) -> bool {
        match self.control.get(self.ahead_start as usize..self.ahead_end as usize) {
            Some(ahead @ [_, b1, ..]) => ahead.len() >= FrameHeader::len_from_prefix(*b1),
            _ => false,
        }
    }

    /// The common case in one step: a whole small data message (one
    /// unfragmented text or binary frame, FIN set, no RSV bits, a 7-bit
    /// length, masked as the role requires) read ahead, within the limits,
    /// that fits `out`: its payload is unmasked into `out` and the message
    /// is taken. Returns its kind and length, or `None` (nothing changed)
    /// for anything else, which the general steps then handle, with the
    /// errors they report.
    pub fn take_small_message(&mut self, out: &mut [u8]) -> Option<(MessageKind, usize)> {
        let (kind, header_len, len) = self.small_message_ahead()?;
        let ahead = self.control.get(self.ahead_start as usize..self.ahead_end as usize)?;
        let payload = ahead.get(header_len..header_len + len)?;
        let to = out.get_mut(..len)?;
        let key = match ahead.get(2..6) {
            Some(&[a, b, c, d]) if header_len == 6 => Some([a, b, c, d]),
            _ => None,
        };
        mask_into(to, payload, key.unwrap_or([0; 4]), 0);
        let mut utf8 = Utf8Validator::new();
        if kind == MessageKind::Text && (utf8.feed(to).is_err() || !utf8.is_complete()) {
            return None;
        }
        // What the general steps leave behind after such a frame.
        self.opcode = if kind == MessageKind::Text { OpCode::Text } else { OpCode::Binary };
        self.fin = true;
        self.mask = key;
        self.mask_phase = (len & 3) as u8;
        self.remaining = 0;
        self.message_len = len as u64;
        self.utf8 = utf8;
        self.compressed = false;
        self.tail_fed = 0;
        self.compressed_input = false;
        self.last_kind = kind;
        self.ahead_start += (header_len + len) as u8;
        Some((kind, len))
    }

    /// The next frame read ahead, when it begins a message that
    /// [`take_small_message`](Self::take_small_message) takes once all of it
    /// is here: its kind, header length and payload length. The frame fits
    /// the read-ahead buffer whole.
    fn small_message_ahead(&self) -> Option<(MessageKind, usize, usize)> {
        // The first two bytes first: with nothing read ahead (every few
        // messages) that is all it takes to say no.
        let (kind, b1) = match *self.control.get(self.ahead_start as usize..self.ahead_end as usize)? {
            [0x81, b1, ..] => (MessageKind::Text, b1),
            [0x82, b1, ..] => (MessageKind::Binary, b1),
            _ => return None,
        };
        if !matches!(self.state, State::Open | State::CloseSent) || self.rx != Rx::Header || self.message.is_some() {
            return None;
        }
        let masked = b1 & 0x80 != 0;
        let len = usize::from(b1 & 0x7F);
        let header_len = if masked { 6 } else { 2 };
        if header_len + len > MAX_CONTROL_PAYLOAD
            || masked != (self.role == Role::Server)
            || len as u64 > self.max_frame.min(self.max_message)
        {
            return None;
        }
        Some((kind, header_len, len))
    }

    /// The payload length of the message [`take_small_message`](Self::take_small_message)
    /// would take now (all of it read ahead), for a host that sizes the
    /// buffer first; `None` when it would take none.
    pub fn small_message_len(&self) -> Option<usize> {
        self.small_message_ahead().filter(|&(_, header_len, len)| self.buffered() >= header_len + len).map(|(_, _, len)| len)
    }

    fn small_message_partly_ahead(&self) -> bool {
        self.small_message_ahead().is_some_and(|(_, header_len, len)| self.buffered() < header_len + len)
    }

    /// Report `n` bytes read into the buffer of [`Want::Internal`].
    pub fn filled(&mut self, n: usize) -> Result<Event, ProtocolError> {
        let result = match self.rx {
            Rx::Header => {
                let end = (self.ahead_end as usize + n).min(MAX_CONTROL_PAYLOAD);
                self.ahead_end = end as u8;
                if n > 0 && self.small_message_ahead().is_some() {
                    // A small message, whole or not yet: left for
                    // take_small_message (want() reads the rest, or says to
                    // parse it when that does not take it).
                    Ok(Event::Continue)
                } else {
                    self.use_ahead()
                }
            }
            Rx::Control => self.control_filled(n),
            Rx::Data if self.compressed => {
                let end = (self.ahead_end as usize + n).min(MAX_CONTROL_PAYLOAD);
                self.ahead_end = end as u8;
                self.claim_payload();
                Ok(Event::Continue)
            }
            Rx::Data => Ok(Event::Continue),
        };
        self.check(result)
    }

    /// Take headers and control payloads from the read-ahead until it runs
    /// out, a data frame's payload begins (the host copies it out:
    /// [`Want::Buffered`]) or an event comes.
    fn use_ahead(&mut self) -> Result<Event, ProtocolError> {
        while self.ahead_start < self.ahead_end {
            let start = self.ahead_start as usize;
            let end = self.ahead_end as usize;
            let event = match self.rx {
                Rx::Header => {
                    // A partial header waits for more (want() asks).
                    let Some((header, len)) = FrameHeader::decode(self.control.get(start..end).unwrap_or(&[]))? else {
                        return Ok(Event::Continue);
                    };
                    self.ahead_start += len as u8;
                    self.start_frame(header)?
                }
                Rx::Control => {
                    // The payload moves to the front of the buffer
                    // (control_len <= ahead_start: never past the bytes it
                    // copies).
                    let n = ((end - start) as u64).min(self.remaining) as usize;
                    let to = self.control_len as usize;
                    shift_down(&mut self.control, start, to, n);
                    self.ahead_start += n as u8;
                    self.control_filled(n)?
                }
                Rx::Data => return Ok(Event::Continue),
            };
            if event != Event::Continue {
                return Ok(event);
            }
        }
        Ok(Event::Continue)
    }

    /// Report payload read for [`Want::Data`]: `data` is unmasked in place and,
    /// for text, validated. At most the wanted amount is taken; the host
    /// never passes more.
    pub fn data_received(&mut self, data: &mut [u8]) -> Result<Event, ProtocolError> {
        if self.ahead_start < self.ahead_end && self.rx == Rx::Data {
            // These came from Want::Buffered: used up.
            let available = (self.ahead_end - self.ahead_start) as usize;
            // In u64: `remaining` may not fit a 32-bit usize.
            let n = ((data.len().min(available)) as u64).min(self.remaining) as usize;
            self.ahead_start += n as u8;
            let result = self.data_filled(data.get_mut(..n).unwrap_or(&mut []));
            return self.check(result);
        }
        let result = self.data_filled(data);
        self.check(result)
    }

    /// Record a failure: the connection is failed (§7.1.7) and the error is
    /// returned again for the host to report.
    fn check<T>(&mut self, result: Result<T, ProtocolError>) -> Result<T, ProtocolError> {
        if let Err(e) = &result {
            self.error = Some(*e);
            // Once our Close is out, none follows; otherwise one is owed.
            self.state = if self.state == State::CloseSent { State::Closed } else { State::Failed };
        }
        result
    }

    /// Check a complete header against the connection (§5.1–§5.5) and set up
    /// the reading of its payload.
    fn start_frame(&mut self, header: FrameHeader) -> Result<Event, ProtocolError> {
        // RFC 7692 §6: RSV1 only with the extension negotiated, and only on
        // the first frame of a data message (§6.1: not on control frames
        // nor continuations); RSV2 and RSV3 never (RFC 6455 §5.2).
        let rsv1 = header.rsv & RSV1 != 0;
        let first_data = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if header.rsv & !RSV1 != 0 || (rsv1 && !(self.compression && first_data)) {
            return Err(ProtocolError::ReservedBits);
        }
        match (self.role, header.mask) {
            (Role::Server, None) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        self.opcode = header.opcode;
        self.fin = header.fin;
        self.mask = header.mask;
        self.mask_phase = 0;
        self.remaining = header.payload_len;
        if header.opcode.is_control() {
            self.control_len = 0;
            self.rx = Rx::Control;
            return self.control_filled(0);
        }
        if header.payload_len > self.max_frame {
            return Err(ProtocolError::FrameTooBig);
        }
        let kind = match (header.opcode, self.message) {
            (OpCode::Continuation, Some(kind)) => kind,
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (OpCode::Text, None) => MessageKind::Text,
            _ => MessageKind::Binary,
        };
        if self.message.is_none() {
            self.message_len = 0;
            self.utf8 = Utf8Validator::new();
            self.compressed = rsv1;
            self.tail_fed = 0;
            self.compressed_input = false;
        }
        self.message = Some(kind);
        self.last_kind = kind;
        self.rx = Rx::Data;
        if self.compressed {
            // The limit applies to the inflated size (inflate() counts it).
            self.claim_payload();
            return Ok(Event::Continue);
        }
        self.message_len = self.message_len.saturating_add(header.payload_len);
        if self.message_len > self.max_message {
            return Err(ProtocolError::MessageTooBig);
        }
        self.data_filled(&mut [])
    }

    /// Take the current compressed frame's payload that the read-ahead
    /// holds: unmask it in place and count it as read.
    fn claim_payload(&mut self) {
        let from = usize::from(self.ahead_start) + usize::from(self.ahead_payload);
        let raw = usize::from(self.ahead_end).saturating_sub(from);
        let n = usize::try_from(self.remaining).map_or(raw, |r| r.min(raw));
        if let Some(key) = self.mask {
            apply_mask(self.control.get_mut(from..from + n).unwrap_or(&mut []), key, usize::from(self.mask_phase));
            self.mask_phase = ((usize::from(self.mask_phase) + n) & 3) as u8;
        }
        self.ahead_payload += n as u8;
        self.remaining -= n as u64;
    }

    /// Inflate a compressed message (RFC 7692 §7.2.2) into `out`, when
    /// [`want`](Self::want) says [`Want::Inflate`]: the payload read so
    /// far, then at the message's end the tail. `state` and `window` are
    /// the host's decompressor for this connection. Returns the bytes
    /// written to `out` (validated as UTF-8 for text, counted against the
    /// message limit: at most one byte past it is ever inflated, and that
    /// byte fails the connection with 1009) and the event:
    /// [`Event::Message`] when the message is complete. When `out` is full
    /// and more is to come, `want` asks again; with no room left the
    /// message does not fit the host's buffer.
    pub fn inflate(&mut self, state: &mut InflateState, window: &mut [u8], out: &mut [u8]) -> Result<Inflated, ProtocolError> {
        let result = self.inflate_step(state, window, out);
        self.check(result)
    }

    /// How many bytes to ask room for before the next [`inflate`](Self::inflate)
    /// into a growing message buffer that holds `held` bytes of the message
    /// and has `alloc` bytes in all (one of them kept for a terminating
    /// NUL): its spare room if it has any more, else [`INFLATE_STEP`] or as
    /// much again as it holds, whichever is more (so it doubles), but never
    /// more than one byte past the message limit (that byte fails the
    /// connection, as in `inflate`). A host inflating into a fixed buffer
    /// lowers it to what that buffer has left.
    pub fn inflate_room(&self, held: usize, alloc: usize) -> u64 {
        let spare = alloc.saturating_sub(held).saturating_sub(1) as u64;
        let want = spare.max(INFLATE_STEP).max(held as u64);
        match self.max_message.checked_sub(held as u64) {
            Some(left) => want.min(left.saturating_add(1)),
            None => want,
        }
    }

    fn inflate_step(&mut self, state: &mut InflateState, window: &mut [u8], out: &mut [u8]) -> Result<Inflated, ProtocolError> {
        let mut done = Inflated { produced: 0, event: Event::Continue };
        if !matches!(self.state, State::Open | State::CloseSent) || self.rx != Rx::Data || !self.compressed {
            return Ok(done);
        }
        let room = usize::try_from(self.max_message.saturating_sub(self.message_len)).map_or(usize::MAX, |r| r.saturating_add(1));
        let out_len = out.len().min(room);
        let out = out.get_mut(..out_len).unwrap_or(&mut []);
        let bad = |_| ProtocolError::BadCompressedData;
        if self.ahead_payload > 0 {
            let start = usize::from(self.ahead_start);
            let input = self.control.get(start..start + usize::from(self.ahead_payload)).unwrap_or(&[]);
            self.compressed_input = true;
            let p = state.inflate(window, input, out).map_err(bad)?;
            self.ahead_start += p.consumed as u8;
            self.ahead_payload -= p.consumed as u8;
            done.produced = p.produced;
            self.inflated(out.get(..p.produced).unwrap_or(&[]))?;
        } else if self.remaining == 0 && self.fin {
            if !self.compressed_input {
                self.tail_fed = DEFLATE_TAIL.len() as u8;
            }
            let tail = DEFLATE_TAIL.get(usize::from(self.tail_fed)..).unwrap_or(&[]);
            let p = state.inflate(window, tail, out).map_err(bad)?;
            self.tail_fed += p.consumed as u8;
            done.produced = p.produced;
            self.inflated(out.get(..p.produced).unwrap_or(&[]))?;
            if usize::from(self.tail_fed) == DEFLATE_TAIL.len() && p.status != crate::inflate::Status::OutputFull {
                state.end_message(self.inflate_keeps_context).map_err(bad)?;
                // §8.1: a text message ends on a character boundary.
                if self.last_kind == MessageKind::Text && !self.utf8.is_complete() {
                    return Err(ProtocolError::InvalidUtf8);
                }
                // `compressed` stays set until the next message starts, for
                // the host to ask whether this one was.
                self.message = None;
                self.rx = Rx::Header;
                done.event = Event::Message(self.last_kind);
                return Ok(done);
            }
        }
        if self.ahead_payload == 0 && self.remaining == 0 && !self.fin {
            // This frame is inflated; the message continues in the next.
            self.rx = Rx::Header;
        }
        Ok(done)
    }

    /// Count and check inflated bytes.
    fn inflated(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        self.message_len = self.message_len.saturating_add(data.len() as u64);
        if self.message_len > self.max_message {
            return Err(ProtocolError::MessageTooBig);
        }
        if self.last_kind == MessageKind::Text && self.utf8.feed(data).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(())
    }

    fn data_filled(&mut self, data: &mut [u8]) -> Result<Event, ProtocolError> {
        if self.rx != Rx::Data || self.compressed {
            return Ok(Event::Continue);
        }
        let n = (data.len() as u64).min(self.remaining) as usize;
        let data = data.get_mut(..n).unwrap_or(&mut []);
        if let Some(key) = self.mask {
            apply_mask(data, key, self.mask_phase as usize);
            self.mask_phase = ((self.mask_phase as usize + n) & 3) as u8;
        }
        if self.last_kind == MessageKind::Text && self.utf8.feed(data).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        self.remaining -= n as u64;
        if self.remaining > 0 {
            return Ok(Event::Continue);
        }
        self.rx = Rx::Header;
        if !self.fin {
            return Ok(Event::Continue);
        }
        // §8.1: a text message must end on a character boundary.
        if self.last_kind == MessageKind::Text && !self.utf8.is_complete() {
            return Err(ProtocolError::InvalidUtf8);
        }
        self.message = None;
        Ok(Event::Message(self.last_kind))
    }

    fn control_filled(&mut self, n: usize) -> Result<Event, ProtocolError> {
        let n = (n as u64).min(self.remaining);
        self.control_len += n as u8;
        self.remaining -= n;
        if self.remaining > 0 {
            return Ok(Event::Continue);
        }
        let len = self.control_len as usize;
        if let Some(key) = self.mask {
            apply_mask(self.control.get_mut(..len).unwrap_or(&mut []), key, 0);
        }
        self.rx = Rx::Header;
        match self.opcode {
            OpCode::Ping => Ok(Event::Ping),
            OpCode::Pong => Ok(Event::Pong),
            _ => self.close_frame_received(),
        }
    }

    /// §5.5.1 and §7.4: validate the peer's Close and move the close
    /// handshake on.
    fn close_frame_received(&mut self) -> Result<Event, ProtocolError> {
        match self.control_payload() {
            [] => {}
            [_] => return Err(ProtocolError::BadClosePayload),
            [hi, lo, reason @ ..] => {
                if !CloseCode(u16::from_be_bytes([*hi, *lo])).is_valid_on_wire() {
                    return Err(ProtocolError::InvalidCloseCode);
                }
                if core::str::from_utf8(reason).is_err() {
                    return Err(ProtocolError::InvalidCloseReason);
                }
            }
        }
        self.close_received = true;
        self.state = match self.state {
            State::CloseSent => State::Closed,
            _ => State::CloseReceived,
        };
        Ok(Event::Close)
    }

    /// The header of the next frame of a data message of `len` bytes; `fin`
    /// false to send the message in fragments (the next frames continue it,
    /// §5.4). `mask_key` is used in the client role (it must come from a
    /// strong source of randomness, §5.3).
    #[inline(always)] // see ffi::mask_key
    pub fn data_header(
        &mut self,
        kind: MessageKind,
        fin: bool,
        len: u64,
        mask_key: [u8; 4],
    ) -> Result<FrameHeader, SendError> {
        self.next_data_header(kind, fin, len, mask_key, false)
    }

    /// A data frame's header; `compressed`: whether a message it starts is.
    #[inline(always)] // see ffi::mask_key
    fn next_data_header(
        &mut self,
        kind: MessageKind,
        fin: bool,
        len: u64,
        mask_key: [u8; 4],
        compressed: bool,
    ) -> Result<FrameHeader, SendError> {
        if self.state != State::Open && self.state != State::CloseReceived {
            return Err(SendError::Closed);
        }
        let (opcode, compressed) = match self.sending {
            Some(s) if s.kind() == kind => (OpCode::Continuation, s.compressed()),
            Some(_) => return Err(SendError::MessageInProgress),
            None => (kind.opcode(), compressed),
        };
        self.sending = if fin { None } else { Some(Sending::new(kind, compressed)) };
        Ok(self.header_for(opcode, fin, len, mask_key))
    }

    /// Where the send side stands (no message, or a fragmented one begun,
    /// of which kind), as a mark for [`rewind_send`](Self::rewind_send).
    pub const fn send_mark(&self) -> u8 {
        match self.sending {
            None => 0,
            Some(s) => s as u8 + 1,
        }
    }

    /// Take back the last data frame's header when not a byte of its frame
    /// could be sent (`mark`: [`send_mark`](Self::send_mark) before the
    /// header). A fragment that never left must not count as begun or as
    /// ended: the next frame would continue a message the peer never saw
    /// begin, or begin one inside a message (§5.4). An unknown mark
    /// changes nothing.
    pub fn rewind_send(&mut self, mark: u8) {
        self.sending = match mark {
            0 => None,
            1 => Some(Sending::Text),
            2 => Some(Sending::Binary),
            3 => Some(Sending::CompressedText),
            4 => Some(Sending::CompressedBinary),
            _ => return,
        };
    }

    /// Whether the next frame of a `kind` message goes compressed, the
    /// host's data being `len` bytes (the whole message when `fin`). A
    /// message sent whole and shorter than `min_size` goes as it is: on a
    /// short message DEFLATE's block overhead outweighs what it saves, and
    /// compressing costs time (RFC 7692 §6 lets the sender choose per
    /// message). A message sent in pieces is compressed from its first
    /// piece (its size is not known then), and its later frames go as its
    /// first went. Never without permessage-deflate.
    /// `Err(MessageInProgress)` while a fragmented message of the other kind
    /// is being sent (§5.4).
    pub fn compress_next(&self, kind: MessageKind, fin: bool, len: usize, min_size: usize) -> Result<bool, SendError> {
        match self.sending {
            Some(s) if s.kind() != kind => Err(SendError::MessageInProgress),
            Some(s) => Ok(s.compressed()),
            None => Ok(self.compression && !(fin && len < min_size)),
        }
    }

    /// [`data_header`](Self::data_header) for a message compressed with
    /// permessage-deflate: RSV1 on its first frame only (RFC 7692 §6.1),
    /// `len` the compressed bytes of this frame. Refused unless the
    /// extension was negotiated.
    pub fn compressed_data_header(
        &mut self,
        kind: MessageKind,
        fin: bool,
        len: u64,
        mask_key: [u8; 4],
    ) -> Result<FrameHeader, SendError> {
        if !self.compression {
            return Err(SendError::InvalidFrame);
        }
        let first = self.sending.is_none();
        let mut header = self.next_data_header(kind, fin, len, mask_key, true)?;
        if first {
            header.rsv = RSV1;
        }
        Ok(header)
    }

    /// The header of a control frame (Ping, Pong or Close). Sending a Close
    /// moves the close handshake on (§7.1.2).
    pub fn control_header(
        &mut self,
        opcode: OpCode,
        len: usize,
        mask_key: [u8; 4],
    ) -> Result<FrameHeader, SendError> {
        if !opcode.is_control() || len > MAX_CONTROL_PAYLOAD {
            return Err(SendError::InvalidFrame);
        }
        self.state = match (opcode, self.state) {
            (_, State::CloseSent | State::Closed) => return Err(SendError::Closed),
            (OpCode::Close, State::Open) => State::CloseSent,
            (OpCode::Close, _) => State::Closed,
            // Pings and pongs may still go out while our Close is owed.
            (_, state) => state,
        };
        Ok(self.header_for(opcode, true, len as u64, mask_key))
    }

    fn header_for(&self, opcode: OpCode, fin: bool, len: u64, mask_key: [u8; 4]) -> FrameHeader {
        let mask = if self.role == Role::Client { Some(mask_key) } else { None };
        FrameHeader { fin, rsv: 0, opcode, mask, payload_len: len }
    }

    /// Forget the transport: after it reached end of file or failed, there
    /// is nothing more to read or send (the close was abnormal, 1006).
    pub fn transport_closed(&mut self) {
        self.state = State::Closed;
    }

    /// Copying convenience over [`want`](Self::want): take bytes from
    /// `input` until an event other than [`Event::Continue`] (or until the
    /// input or `out` runs out), unmasking payload into `out`. For tests,
    /// fuzzing and hosts that already hold the bytes in memory.
    pub fn read(&mut self, input: &[u8], out: &mut [u8]) -> Result<Read, ProtocolError> {
        let mut read = Read { consumed: 0, written: 0, event: Event::Continue };
        while read.event == Event::Continue {
            let rest = &input[read.consumed..];
            read.event = match self.want() {
                Want::Nothing | Want::Inflate => break,
                Want::Internal(buf) => {
                    let n = buf.len().min(rest.len());
                    if n == 0 && !buf.is_empty() {
                        break;
                    }
                    buf[..n].copy_from_slice(&rest[..n]);
                    read.consumed += n;
                    self.filled(n)?
                }
                Want::Buffered(ahead) => {
                    let space = &mut out[read.written..];
                    let n = ahead.len().min(space.len());
                    if n == 0 {
                        break;
                    }
                    space[..n].copy_from_slice(&ahead[..n]);
                    read.written += n;
                    self.data_received(&mut space[..n])?
                }
                Want::Data(len) => {
                    let space = &mut out[read.written..];
                    let n = (len.min(rest.len() as u64) as usize).min(space.len());
                    if n == 0 && len > 0 {
                        break;
                    }
                    space[..n].copy_from_slice(&rest[..n]);
                    read.consumed += n;
                    read.written += n;
                    self.data_received(&mut space[..n])?
                }
            };
        }
        Ok(read)
    }
}

/// Move `buf[src..src + n]` down to `buf[dst..dst + n]` (`dst < src`; the
/// two may overlap) in pieces no longer than the gap, each an ordinary
/// copy. `copy_within` would do the same through `memmove`, which would
/// bring 1.5 KB of compiler_builtins into a Cortex-M firmware.
fn shift_down(buf: &mut [u8], src: usize, dst: usize, n: usize) {
    let gap = src.saturating_sub(dst);
    if gap == 0 {
        return;
    }
    let mut done = 0;
    while done < n {
        let k = gap.min(n - done);
        let Some((low, high)) = buf.split_at_mut_checked(src + done) else {
            return;
        };
        match (low.get_mut(dst + done..dst + done + k), high.get(..k)) {
            (Some(to), Some(from)) => to.copy_from_slice(from),
            _ => return,
        }
        done += k;
    }
}

/// What [`Connection::inflate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inflated {
    pub produced: usize,
    pub event: Event,
}

/// What [`Connection::read`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub consumed: usize,
    pub written: usize,
    pub event: Event,
}

/// Build a Close frame's payload (§5.5.1) into `out`: the code, then the
/// reason. Refuses codes that must not be sent and reasons that do not fit
/// (never a silent truncation).
pub fn close_payload(
    code: CloseCode,
    reason: &[u8],
    out: &mut [u8; MAX_CONTROL_PAYLOAD],
) -> Result<usize, SendError> {
    if !code.is_valid_on_wire() || reason.len() > MAX_CONTROL_PAYLOAD - 2 {
        return Err(SendError::InvalidFrame);
    }
    if core::str::from_utf8(reason).is_err() {
        return Err(SendError::InvalidFrame);
    }
    let [hi, lo] = code.0.to_be_bytes();
    let len = 2 + reason.len();
    match out.get_mut(..len) {
        Some([h, l, rest @ ..]) => {
            (*h, *l) = (hi, lo);
            rest.copy_from_slice(reason);
        }
        _ => return Err(SendError::InvalidFrame),
    }
    Ok(len)
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod deflate_tests;
