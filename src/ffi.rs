//! The C ABI of the core: the only `extern "C"` surface, and the only place
//! raw pointers are turned into references (each after a null and length
//! check). cbindgen turns this file into `uwebsocket_core.h` for the shim.
//!
//! Conventions: functions are prefixed `uws_`; a connection is an opaque
//! `uws_conn` living in memory the host allocates (`uws_conn_size()` bytes,
//! 8-byte aligned); receive calls return an `UWS_EV_*` event
//! (>= 0), a negated close code (<= -1000) when the peer broke the protocol,
//! or `UWS_RX_BAD_COUNT` when the host reported more bytes than were asked.
//!
//! Nothing here calls back into the host, and nothing here can panic (the
//! release build is checked by `tools/panic_check.sh`): a host whose calls
//! may raise (MicroPython's exceptions are a longjmp) draws random bytes and
//! everything else it needs before calling in, and raises after the core
//! has returned.
#![allow(unsafe_code)]
#![allow(clippy::missing_safety_doc)]

use core::slice;

use crate::close::CloseCode;
use crate::connection::{
    close_payload, Connection, Event, LocalEnd, MessageKind, Role, RxBound, SendError, State, TransportError, Want,
};
use crate::frame::{self, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};

/// More bytes are needed.
pub const UWS_EV_CONTINUE: i32 = 0;
/// A text message ended.
pub const UWS_EV_TEXT: i32 = 1;
/// A binary message ended.
pub const UWS_EV_BINARY: i32 = 2;
/// A ping arrived: echo its payload in a pong.
pub const UWS_EV_PING: i32 = 3;
/// A pong arrived.
pub const UWS_EV_PONG: i32 = 4;
/// The peer's close arrived (see `uws_state`: owed reply or closed).
pub const UWS_EV_CLOSE: i32 = 5;

/// The longest frame header, for the buffer `uws_tx_*_header` write into.
pub const UWS_MAX_HEADER: usize = 14;
/// The longest control payload (close reason: this minus 2).
pub const UWS_MAX_CONTROL: usize = 125;

/// Non-blocking mode: the control frames one receive call handles before
/// it returns as if the stream had nothing more (None), so that a peer
/// sending Pings or Pongs without end cannot hold one call, and a poll
/// loop's other connections, for ever. Enough for the bursts real peers send.
pub const UWS_CONTROL_PER_CALL: u32 = 16;

/// `uws_state` values.
pub const UWS_STATE_OPEN: u8 = 0;
pub const UWS_STATE_CLOSE_SENT: u8 = 1;
pub const UWS_STATE_CLOSE_RECEIVED: u8 = 2;
pub const UWS_STATE_FAILED: u8 = 3;
pub const UWS_STATE_CLOSED: u8 = 4;

/// A receive call reported more bytes than `uws_rx_want` asked for (a
/// stream that lies about its count): refused, nothing is used, and the
/// connection is failed as by `uws_fail_transport(c, UWS_TRANSPORT_BAD_COUNT)`.
/// Distinct from every negated close code (those are <= -1000).
pub const UWS_RX_BAD_COUNT: i32 = -1;

/// `uws_fail_transport` kinds.
pub const UWS_TRANSPORT_EOF: u8 = 0;
pub const UWS_TRANSPORT_FAILED: u8 = 1;
pub const UWS_TRANSPORT_BAD_COUNT: u8 = 2;
pub const UWS_TRANSPORT_PARTIAL_WRITE: u8 = 3;
pub const UWS_TRANSPORT_STALLED: u8 = 4;
pub const UWS_TRANSPORT_NO_MEMORY: u8 = 5;

/// `uws_end_locally` kinds.
pub const UWS_LOCAL_CLOSE_UNANSWERED: u8 = 0;
pub const UWS_LOCAL_KEEPALIVE: u8 = 1;
pub const UWS_LOCAL_NO_MEMORY: u8 = 2;
pub const UWS_LOCAL_NO_DECOMPRESSOR_MEMORY: u8 = 3;

/// Room `uws_end_reason` needs: a close reason, or a message with an error
/// number.
pub const UWS_MAX_REASON: usize = 128;

/// `uws_tx_*` errors.
pub const UWS_TX_CLOSED: i32 = -1;
pub const UWS_TX_IN_PROGRESS: i32 = -2;
pub const UWS_TX_INVALID: i32 = -3;

/// Opcodes for `uws_tx_control_header`.
pub const UWS_OP_CLOSE: u8 = 0x8;
pub const UWS_OP_PING: u8 = 0x9;
pub const UWS_OP_PONG: u8 = 0xA;

// The C header spells these as plain numbers; keep them tied to the core.
const _: () = {
    assert!(UWS_MAX_HEADER == MAX_HEADER_LEN && UWS_MAX_CONTROL == MAX_CONTROL_PAYLOAD);
    assert!(UWS_STATE_OPEN == State::Open as u8 && UWS_STATE_CLOSE_SENT == State::CloseSent as u8);
    assert!(UWS_STATE_CLOSE_RECEIVED == State::CloseReceived as u8 && UWS_STATE_FAILED == State::Failed as u8);
    assert!(UWS_STATE_CLOSED == State::Closed as u8);
    assert!(UWS_TRANSPORT_EOF == TransportError::Eof as u8 && UWS_TRANSPORT_FAILED == TransportError::Failed as u8);
    assert!(UWS_TRANSPORT_BAD_COUNT == TransportError::BadCount as u8);
    assert!(UWS_TRANSPORT_PARTIAL_WRITE == TransportError::PartialWrite as u8);
    assert!(UWS_TRANSPORT_STALLED == TransportError::Stalled as u8);
    assert!(UWS_TRANSPORT_NO_MEMORY == TransportError::NoMemory as u8);
    assert!(UWS_MAX_REASON >= MAX_CONTROL_PAYLOAD - 2);
    assert!(UWS_OP_CLOSE == OpCode::Close as u8 && UWS_OP_PING == OpCode::Ping as u8 && UWS_OP_PONG == OpCode::Pong as u8);
};

/// # Safety: a pointer the host obtained from `uws_conn_init`.
unsafe fn conn<'a>(c: *mut Connection) -> &'a mut Connection {
    // SAFETY: the host passes the pointer it initialised with
    // uws_conn_init, exclusively (MicroPython runs one thread at a time
    // per object).
    unsafe { &mut *c }
}

/// A byte slice from a pointer and a length; empty for a null pointer.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the host passes a buffer valid for `len` bytes.
    unsafe { slice::from_raw_parts(ptr, len) }
}

/// Copy `src` to `dst` (valid for `src.len()` bytes, or NULL: nothing).
unsafe fn write_out(dst: *mut u8, src: &[u8]) {
    if !dst.is_null() {
        // SAFETY: the host passes a buffer valid for src.len() bytes, which
        // cannot overlap the core's own `src`.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
    }
}

/// Store a length through an out-pointer (nothing for NULL).
unsafe fn write_len(len: *mut usize, value: usize) {
    if !len.is_null() {
        // SAFETY: the host passes a valid out-pointer (its local).
        unsafe { len.write(value) };
    }
}

unsafe fn bytes_mut<'a>(ptr: *mut u8, len: usize) -> &'a mut [u8] {
    if ptr.is_null() || len == 0 {
        return &mut [];
    }
    // SAFETY: the host passes a buffer valid for writes of `len` bytes,
    // not aliased during the call.
    unsafe { slice::from_raw_parts_mut(ptr, len) }
}

// What hosts give: the connection in `uint64_t` words, the compression
// blocks from a heap whose blocks are aligned to at least 8 bytes
// (MicroPython's GC blocks are 16 bytes or more, aligned). Every `*_init`
// still checks.
const _: () = assert!(core::mem::align_of::<Connection>() <= 8);

/// Bytes of memory a connection needs.
#[no_mangle]
pub extern "C" fn uws_conn_size() -> usize {
    core::mem::size_of::<Connection>()
}

/// Initialise a connection in `mem` (uws_conn_size() bytes). A limit of 0
/// means none. Returns false if `mem` is null or misaligned.
#[no_mangle]
pub unsafe extern "C" fn uws_conn_init(mem: *mut Connection, server: bool, max_message: u64, max_frame: u64) -> bool {
    if mem.is_null() || (mem as usize) % core::mem::align_of::<Connection>() != 0 {
        return false;
    }
    let mut c = Connection::new(if server { Role::Server } else { Role::Client });
    let unlimited = |n: u64| if n == 0 { u64::MAX } else { n };
    c.set_limits(unlimited(max_message), unlimited(max_frame));
    // SAFETY: checked non-null and aligned; the host gives uws_conn_size()
    // bytes. ptr::write does not drop the uninitialised old value.
    unsafe { mem.write(c) };
    true
}

/// What to read next. Returns a byte count and sets the two out-pointers:
/// - `*internal` set: read up to that many bytes there, report them with
///   `uws_rx_filled`; a count of 0 means bytes are already read ahead:
///   call `uws_rx_filled(c, 0)` without reading;
/// - `*buffered` set: that many payload bytes are already read ahead
///   there: copy up to all of them into the host's buffer and report the
///   copy with `uws_rx_data` (no read);
/// - neither: read up to that many payload bytes into the host's buffer,
///   report with `uws_rx_data`; a count of 0 means nothing more comes (the
///   connection is closing or closed).
#[no_mangle]
pub unsafe extern "C" fn uws_rx_want(c: *mut Connection, internal: *mut *mut u8, buffered: *mut *const u8) -> u64 {
    let (len, inside, ahead) = match unsafe { conn(c) }.want() {
        Want::Internal(buf) => (buf.len() as u64, buf.as_mut_ptr(), core::ptr::null()),
        Want::Buffered(buf) => (buf.len() as u64, core::ptr::null_mut(), buf.as_ptr()),
        Want::Data(len) => (len, core::ptr::null_mut(), core::ptr::null()),
        // Compressed payload is inflated with uws_rx_inflate, not read.
        Want::Nothing | Want::Inflate => (0, core::ptr::null_mut(), core::ptr::null()),
    };
    // SAFETY: both are valid out-pointers (the host's locals).
    unsafe {
        internal.write(inside);
        buffered.write(ahead);
    }
    len
}

fn event_code(result: Result<Event, crate::ProtocolError>) -> i32 {
    match result {
        Ok(Event::Continue) => UWS_EV_CONTINUE,
        Ok(Event::Message(MessageKind::Text)) => UWS_EV_TEXT,
        Ok(Event::Message(MessageKind::Binary)) => UWS_EV_BINARY,
        Ok(Event::Ping) => UWS_EV_PING,
        Ok(Event::Pong) => UWS_EV_PONG,
        Ok(Event::Close) => UWS_EV_CLOSE,
        Err(e) => -(e.close_code().0 as i32),
    }
}

/// The length of the message `uws_rx_ahead` would take now, so that
/// recv() allocates it to size first; -1 when it would take none.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_small_len(c: *mut Connection) -> isize {
    match unsafe { conn(c) }.small_message_len() {
        Some(len) => len as isize,
        None => -1,
    }
}

/// A whole small message already read ahead, taken in one step
/// (`Connection::take_small_message`): its payload is unmasked into `dst`
/// (`cap` bytes) and `*written` is its length. Returns `UWS_EV_TEXT` or
/// `UWS_EV_BINARY`, or `UWS_EV_CONTINUE` (nothing taken, nothing changed)
/// when the next thing is anything else: the host then takes its steps
/// over `uws_rx_want`/`uws_rx_filled`/`uws_rx_data`, which give the same.
/// For the common case of small messages arriving several to a read.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_ahead(c: *mut Connection, dst: *mut u8, cap: usize, written: *mut usize) -> i32 {
    let (code, n) = match unsafe { conn(c) }.take_small_message(unsafe { bytes_mut(dst, cap) }) {
        Some((kind, n)) => (event_code(Ok(Event::Message(kind))), n),
        None => (UWS_EV_CONTINUE, 0),
    };
    unsafe { write_len(written, n) };
    code
}

/// Report `n` bytes written where `uws_rx_want` pointed `*internal`.
///
/// `n` must not exceed the count `uws_rx_want` returned: a larger one is
/// refused with `UWS_RX_BAD_COUNT` (nothing is used, the connection fails
/// as a transport failure). The shim raises ConnectionClosed(1006) for it.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_filled(c: *mut Connection, n: usize) -> i32 {
    let c = unsafe { conn(c) };
    // Nothing to bound for 0: the report that the next header was read
    // ahead, once per small message.
    if n != 0 && !matches!(c.rx_bound(), RxBound::Internal(max) if n <= max) {
        return bad_count(c);
    }
    event_code(c.filled(n))
}

fn bad_count(c: &mut Connection) -> i32 {
    c.fail_transport(TransportError::BadCount);
    UWS_RX_BAD_COUNT
}

/// Report `n` payload bytes read into `data` (unmasked in place): read from
/// the transport for a `uws_rx_want` that set neither out-pointer, or
/// copied from `*buffered`.
///
/// `n` must not exceed the count `uws_rx_want` returned (nor be reported
/// when it asked for an internal read): a larger one is refused with
/// `UWS_RX_BAD_COUNT`, before `data` is touched, and the connection fails as
/// a transport failure. `data` must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_data(c: *mut Connection, data: *mut u8, n: usize) -> i32 {
    let c = unsafe { conn(c) };
    let fits = match c.rx_bound() {
        RxBound::Data(max) => n as u64 <= max,
        RxBound::Buffered(max) => n <= max,
        RxBound::Internal(_) | RxBound::Nothing => n == 0,
    };
    if !fits || (data.is_null() && n > 0) {
        return bad_count(c);
    }
    event_code(c.data_received(unsafe { bytes_mut(data, n) }))
}

/// Whether a receive step can make progress without reading the transport:
/// a whole frame header or message payload is read ahead, or the connection
/// is closed (the step reports that at once). A partial header read ahead
/// is not enough. The shim's poll ioctl reports POLLIN for a WebSocket when
/// this is true, and otherwise asks the stream underneath.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_ready(c: *mut Connection) -> bool {
    unsafe { conn(c) }.ready()
}

/// Whether the message being (or last) received is text.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_is_text(c: *mut Connection) -> bool {
    unsafe { conn(c) }.message_kind() == MessageKind::Text
}

/// The payload of the last control frame received.
#[no_mangle]
pub unsafe extern "C" fn uws_control_payload(c: *mut Connection, len: *mut usize) -> *const u8 {
    let payload = unsafe { conn(c) }.control_payload();
    unsafe { write_len(len, payload.len()) };
    payload.as_ptr()
}

/// One of the `UWS_STATE_*` values.
#[no_mangle]
pub unsafe extern "C" fn uws_state(c: *mut Connection) -> u8 {
    unsafe { conn(c) }.state() as u8
}

/// The transport is gone (EOF or error): nothing more is read or sent.
#[no_mangle]
pub unsafe extern "C" fn uws_transport_closed(c: *mut Connection) {
    unsafe { conn(c) }.transport_closed()
}

/// The transport failed (`kind`: a `UWS_TRANSPORT_*` value; an unknown one
/// counts as UWS_TRANSPORT_FAILED; `error_number`: the stream's errno, 0
/// for none): nothing more is read or sent, and, unless the connection had
/// already ended, `uws_end_code` is then 1006 and `uws_end_reason` says
/// why. The shim calls it where it meets the failure, then raises
/// ConnectionClosed(uws_end_code, uws_end_reason).
#[no_mangle]
pub unsafe extern "C" fn uws_fail_transport(c: *mut Connection, kind: u8, error_number: i32) {
    // Not `errno`: C headers define that name as a macro.
    let kind = TransportError::from_u8(kind).unwrap_or(TransportError::Failed);
    unsafe { conn(c) }.fail_transport_errno(kind, u16::try_from(error_number).unwrap_or(0))
}

/// The host ends the connection (`kind`: a `UWS_LOCAL_*` value; `code`:
/// our Close's code, for UWS_LOCAL_CLOSE_UNANSWERED). A keepalive timeout
/// or no memory for a message fails it: the shim then sends the Close
/// `uws_close_reply` gives and closes the stream. Returns false (nothing
/// recorded) for an unknown kind.
#[no_mangle]
pub unsafe extern "C" fn uws_end_locally(c: *mut Connection, kind: u8, code: u16) -> bool {
    let why = match kind {
        UWS_LOCAL_CLOSE_UNANSWERED => LocalEnd::CloseUnanswered(CloseCode(code)),
        UWS_LOCAL_KEEPALIVE => LocalEnd::KeepaliveTimeout,
        UWS_LOCAL_NO_MEMORY => LocalEnd::OutOfMemory,
        UWS_LOCAL_NO_DECOMPRESSOR_MEMORY => LocalEnd::NoMemoryToDecompress,
        _ => return false,
    };
    unsafe { conn(c) }.end_locally(why);
    true
}

/// How the connection ended: the peer's close code (1005 when its Close
/// had none), else the protocol error's code, else the host's reason's
/// (`uws_end_locally`), else 1006 after `uws_fail_transport`; 0 while none
/// of these happened. With `uws_end_reason`, what close_code/close_reason
/// and the ConnectionClosed exception report, so that the three always
/// agree.
#[no_mangle]
pub unsafe extern "C" fn uws_end_code(c: *mut Connection) -> u16 {
    unsafe { conn(c) }.end().map_or(0, |(code, _)| code.0)
}

/// The reason that goes with `uws_end_code` into `out` (UWS_MAX_REASON
/// bytes; UTF-8, not NUL-terminated; empty when the peer gave none or
/// nothing ended the connection). Returns its length.
#[no_mangle]
pub unsafe extern "C" fn uws_end_reason(c: *mut Connection, out: *mut u8) -> usize {
    unsafe { conn(c) }.end_reason_into(unsafe { bytes_mut(out, UWS_MAX_REASON) })
}

/// The `UWS_TX_*` error for a frame that cannot be sent.
fn send_error(e: SendError) -> i32 {
    match e {
        SendError::Closed => UWS_TX_CLOSED,
        SendError::MessageInProgress => UWS_TX_IN_PROGRESS,
        SendError::InvalidFrame => UWS_TX_INVALID,
    }
}

/// Write the header of the next frame into `out` (UWS_MAX_HEADER bytes)
/// and the masking key into `key` (4 bytes; the payload must be masked with
/// it when the key is used, i.e. in the client role; the server role's key
/// is zero, and masking with it a no-op). Returns the header length or
/// a `UWS_TX_*` error.
fn write_header(
    result: Result<frame::FrameHeader, SendError>,
    out: *mut u8,
    key: *mut u8,
) -> i32 {
    let header = match result {
        Ok(h) => h,
        Err(e) => return send_error(e),
    };
    if out.is_null() {
        return UWS_TX_INVALID;
    }
    // SAFETY: the host passes UWS_MAX_HEADER writable bytes (and 4 for key).
    let out = unsafe { &mut *(out as *mut [u8; MAX_HEADER_LEN]) };
    unsafe { write_out(key, &header.mask.unwrap_or([0; 4])) };
    header.encode(out) as i32
}

/// The masking key for the next frame: the host's 4 random bytes in the
/// client role (§5.3: fresh and unpredictable for every frame), none in the
/// server role. `None` when a client was given no bytes.
// Inlined (with Connection::data_header and FrameHeader::encode) so that
// uws_tx_data_frame, every small send, builds its header with no
// intermediate values: 38 fewer instructions a send, 108 B of flash.
#[inline(always)]
unsafe fn mask_key(c: &Connection, random: *const u8) -> Option<[u8; 4]> {
    match c.role() {
        Role::Client => match *unsafe { bytes(random, 4) } {
            [a, b, c, d] => Some([a, b, c, d]),
            _ => None,
        },
        Role::Server => Some([0; 4]),
    }
}

/// Length of a block of `uws_random_block`.
pub const UWS_RANDOM_BLOCK: usize = 20;

/// Stretch `seed` (`seed_len` bytes of the host's entropy, drawn once) into
/// `UWS_RANDOM_BLOCK` bytes for block number `counter`: SHA-1(seed ‖
/// counter). For hosts whose entropy source cannot be called on every frame
/// without allocating or running Python code. Masking keys only need to be
/// unpredictable to the peer (§5.3, §10.3), which a secret seed gives.
#[no_mangle]
pub unsafe extern "C" fn uws_random_block(seed: *const u8, seed_len: usize, counter: u32, out: *mut u8) {
    let mut hash = crate::sha1::Sha1::new();
    hash.update(unsafe { bytes(seed, seed_len) });
    hash.update(&counter.to_be_bytes());
    unsafe { write_out(out, &hash.digest()) };
}

/// Taken before a data frame's header (`fin` as for the header): the mark
/// that takes the header back should not a byte of its frame go out
/// (`uws_tx_rewind`), or 0 when the frame moves nothing in the send side
/// (a whole message between messages).
#[no_mangle]
pub unsafe extern "C" fn uws_tx_mark(c: *mut Connection, fin: bool) -> u8 {
    match unsafe { conn(c) }.send_mark() {
        0 if fin => 0,
        mark => mark + 1,
    }
}

/// Not a byte of the data frame whose header followed `uws_tx_mark` went
/// out: the send side goes back to where it stood
/// (`Connection::rewind_send`). 0 changes nothing.
#[no_mangle]
pub unsafe extern "C" fn uws_tx_rewind(c: *mut Connection, mark: u8) {
    if mark != 0 {
        unsafe { conn(c) }.rewind_send(mark - 1)
    }
}

/// How many random bytes `uws_tx_data_header` and `uws_tx_control_header`
/// need as `random`: 4 in the client role (the masking key), 0 in the
/// server role. The shim draws that many before each header:
/// `byte random[4]; uws_random(random, uws_tx_random_len(c));`.
#[no_mangle]
pub unsafe extern "C" fn uws_tx_random_len(c: *mut Connection) -> usize {
    match unsafe { conn(c) }.role() {
        Role::Client => 4,
        Role::Server => 0,
    }
}

/// Header of a data frame of `len` payload bytes (text or binary; `fin`
/// false to send the message in fragments, later frames continue it).
/// `random`: `uws_tx_random_len(c)` random bytes from the host (the masking
/// key in the client role; may be NULL in the server role: a client given
/// NULL gets UWS_TX_INVALID; it may be the same buffer as `key`). The core
/// never asks the host for randomness.
#[no_mangle]
pub unsafe extern "C" fn uws_tx_data_header(
    c: *mut Connection,
    text: bool,
    fin: bool,
    len: u64,
    random: *const u8,
    out: *mut u8,
    key: *mut u8,
) -> i32 {
    unsafe { data_frame_header(c, text, random, out, key, |c, kind, k| c.data_header(kind, fin, len, k)) }
}

/// A whole data frame, header and (masked) payload, built into `out` of
/// `out_len` bytes, which must hold `UWS_MAX_HEADER + len`: for small
/// messages, which then go out in one write. Returns the frame's length, or
/// what `uws_tx_data_header` returns for a frame that may not be sent
/// (`UWS_TX_INVALID` also for an `out` too small, with nothing changed).
/// `undo` (may be NULL) receives the frame's `uws_tx_mark`, taken before
/// its header: one call for the common send.
#[no_mangle]
pub unsafe extern "C" fn uws_tx_data_frame(
    c: *mut Connection,
    text: bool,
    fin: bool,
    random: *const u8,
    payload: *const u8,
    len: usize,
    out: *mut u8,
    out_len: usize,
    undo: *mut u8,
) -> i32 {
    if out.is_null() || out_len < MAX_HEADER_LEN || out_len - MAX_HEADER_LEN < len || len > i32::MAX as usize - MAX_HEADER_LEN {
        return UWS_TX_INVALID;
    }
    let mark = unsafe { uws_tx_mark(c, fin) };
    let c = unsafe { conn(c) };
    let Some(key) = (unsafe { mask_key(c, random) }) else {
        return UWS_TX_INVALID;
    };
    let kind = if text { MessageKind::Text } else { MessageKind::Binary };
    let header = match c.data_header(kind, fin, len as u64, key) {
        Ok(h) => h,
        Err(e) => return send_error(e),
    };
    // SAFETY: out holds out_len bytes, at least MAX_HEADER_LEN + len
    // (checked above); the header is encoded in place.
    let frame = unsafe { bytes_mut(out, MAX_HEADER_LEN + len) };
    let Some((head, _)) = frame.split_first_chunk_mut::<MAX_HEADER_LEN>() else {
        return UWS_TX_INVALID;
    };
    let header_len = header.encode(head);
    frame::mask_into(&mut frame[header_len..header_len + len], unsafe { bytes(payload, len) }, key, 0);
    unsafe { write_out(undo, &[mark]) };
    (header_len + len) as i32
}

/// What `uws_tx_data_header` and `uws_tx_compressed_header` share: the
/// message kind, the masking key from the host's random bytes, the header
/// `header` builds written out.
unsafe fn data_frame_header(
    c: *mut Connection,
    text: bool,
    random: *const u8,
    out: *mut u8,
    key: *mut u8,
    header: impl FnOnce(&mut Connection, MessageKind, [u8; 4]) -> Result<frame::FrameHeader, SendError>,
) -> i32 {
    let c = unsafe { conn(c) };
    let kind = if text { MessageKind::Text } else { MessageKind::Binary };
    let Some(k) = (unsafe { mask_key(c, random) }) else {
        return UWS_TX_INVALID;
    };
    if out.is_null() {
        return UWS_TX_INVALID;
    }
    write_header(header(c, kind, k), out, key)
}

/// Header of a control frame (`UWS_OP_PING`, `UWS_OP_PONG`, `UWS_OP_CLOSE`).
/// `random` as for `uws_tx_data_header`.
#[no_mangle]
pub unsafe extern "C" fn uws_tx_control_header(
    c: *mut Connection,
    opcode: u8,
    len: usize,
    random: *const u8,
    out: *mut u8,
    key: *mut u8,
) -> i32 {
    let c = unsafe { conn(c) };
    let Some(opcode) = OpCode::from_u8(opcode) else {
        return UWS_TX_INVALID;
    };
    let Some(k) = (unsafe { mask_key(c, random) }) else {
        return UWS_TX_INVALID;
    };
    if out.is_null() {
        return UWS_TX_INVALID;
    }
    write_header(c.control_header(opcode, len, k), out, key)
}

/// Build a close payload (code + reason) into `out` (UWS_MAX_CONTROL
/// bytes). Returns its length or UWS_TX_INVALID for a code that may not be
/// sent or a reason that is too long (over 123 bytes) or not UTF-8.
#[no_mangle]
pub unsafe extern "C" fn uws_close_payload(code: u16, reason: *const u8, reason_len: usize, out: *mut u8) -> i32 {
    if out.is_null() {
        return UWS_TX_INVALID;
    }
    // SAFETY: the host passes UWS_MAX_CONTROL writable bytes.
    let out = unsafe { &mut *(out as *mut [u8; MAX_CONTROL_PAYLOAD]) };
    match close_payload(CloseCode(code), unsafe { bytes(reason, reason_len) }, out) {
        Ok(n) => n as i32,
        Err(_) => UWS_TX_INVALID,
    }
}

/// Copy `len` bytes from `src` to `dst` masked with `key`.
#[no_mangle]
pub unsafe extern "C" fn uws_mask_copy(dst: *mut u8, src: *const u8, len: usize, key: *const u8, offset: usize) {
    let k = unsafe { bytes(key, 4) };
    if let [a, b, c, d] = *k {
        frame::mask_into(unsafe { bytes_mut(dst, len) }, unsafe { bytes(src, len) }, [a, b, c, d], offset);
    }
}

/// `uws_tls_policy`: use the caller's TLS context.
pub const UWS_TLS_GIVEN: u8 = 0;
/// `uws_tls_policy`: verify the server against the caller's CA.
pub const UWS_TLS_VERIFY: u8 = 1;
/// `uws_tls_policy`: do not verify the server (the caller asked).
pub const UWS_TLS_UNVERIFIED: u8 = 2;
/// `uws_tls_policy`: refuse to connect (nothing to verify with).
pub const UWS_TLS_REFUSED: u8 = 3;

/// How a `wss://` connection is secured (`url::tls_policy`): `context` the
/// caller gave a TLS context, `ca` CA certificates, `insecure` consent to
/// skip verification. One of `UWS_TLS_*`.
#[no_mangle]
pub extern "C" fn uws_tls_policy(context: bool, ca: bool, insecure: bool) -> u8 {
    match crate::url::tls_policy(context, ca, insecure) {
        crate::url::TlsPolicy::Given => UWS_TLS_GIVEN,
        crate::url::TlsPolicy::Verify => UWS_TLS_VERIFY,
        crate::url::TlsPolicy::Unverified => UWS_TLS_UNVERIFIED,
        crate::url::TlsPolicy::Refused => UWS_TLS_REFUSED,
    }
}

// ---------------------------------------------------------------------------
// The opening handshake (§4). Positions in the caller's buffers are given as
// spans (offset, length) so that the shim can make Python objects from them.

use crate::handshake::{self, HandshakeError};

/// Most headers a request may have (more: 431).
pub const UWS_MAX_HEADERS: usize = 32;
/// Length of a Sec-WebSocket-Key.
pub const UWS_KEY_LEN: usize = 24;
/// Random bytes a Sec-WebSocket-Key is made from (§4.1: a 16-byte nonce).
pub const UWS_NONCE_LEN: usize = 16;

const _: () = assert!(UWS_MAX_HEADERS == handshake::MAX_HEADERS);

/// A piece of a buffer: `len` bytes at offset `start`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct uws_span {
    pub start: u16,
    pub len: u16,
}

impl uws_span {
    /// The span of `part`, a sub-slice of `whole`.
    // Out of line: the URL and handshake results fill several spans each.
    #[inline(never)]
    fn of(whole: &[u8], part: &[u8]) -> uws_span {
        let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
        if start > whole.len() || part.len() > whole.len() - start {
            return uws_span::default();
        }
        uws_span { start: start as u16, len: part.len() as u16 }
    }
}

/// A parsed HTTP request head.
#[repr(C)]
pub struct uws_request {
    pub method: uws_span,
    pub path: uws_span,
    pub header_count: u8,
    /// Whether it asks for a WebSocket upgrade (valid or not).
    pub upgrade: bool,
    pub names: [uws_span; UWS_MAX_HEADERS],
    pub values: [uws_span; UWS_MAX_HEADERS],
}

/// The outcome of a handshake step.
#[repr(C)]
pub struct uws_handshake {
    /// 101 on success; otherwise the HTTP status answered (server) or
    /// received (client; 0 when the response was not HTTP at all).
    pub status: u16,
    /// The negotiated subprotocol: a span of the server's list (server
    /// side) or of the response head (client side); len 0 for none.
    pub protocol: uws_span,
    /// What went wrong, as text (not NUL-terminated).
    pub message: *const u8,
    pub message_len: usize,
    /// Bytes of response written to `out` (server side).
    pub response_len: usize,
}

impl uws_handshake {
    /// A result with `status` and nothing else yet.
    const fn with_status(status: u16) -> Self {
        uws_handshake { status, protocol: uws_span { start: 0, len: 0 }, message: core::ptr::null(), message_len: 0, response_len: 0 }
    }

    fn fail(&mut self, status: u16, e: HandshakeError) {
        self.status = status;
        self.message = e.message().as_ptr();
        self.message_len = e.message().len();
    }
}

fn optional<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    // SAFETY: the host passes a buffer valid for `len` bytes, or NULL.
    (!ptr.is_null()).then(|| unsafe { bytes(ptr, len) })
}

/// Parse a request head (up to and including its blank line). Returns 0,
/// or the HTTP status to answer it with (400, 431).
#[no_mangle]
pub unsafe extern "C" fn uws_request_parse(head: *const u8, len: usize, out: *mut uws_request) -> u16 {
    let head = unsafe { bytes(head, len) };
    // SAFETY: the host passes a writable uws_request.
    let out = unsafe { &mut *out };
    if head.len() > u16::MAX as usize {
        return HandshakeError::HeadersTooLarge.status();
    }
    let request = match handshake::parse_request(head) {
        Ok(r) => r,
        Err(e) => return e.status(),
    };
    out.method = uws_span::of(head, request.method.as_bytes());
    out.path = uws_span::of(head, request.path.as_bytes());
    out.upgrade = request.is_upgrade();
    out.header_count = 0;
    for (i, (name, value)) in request.headers().take(UWS_MAX_HEADERS).enumerate() {
        out.names[i] = uws_span::of(head, name.as_bytes());
        out.values[i] = uws_span::of(head, value);
        out.header_count = i as u8 + 1;
    }
    0
}

/// Server side: validate the request head against the server's settings and
/// write the answer into `out`: the 101 response, or the HTTP error response
/// (400, 403, 405, 426, 431). `complete` is false when the head was cut off
/// at the size limit (431). `subprotocols`: comma-separated, preferred first;
/// `origins`: comma-separated allowed origins, NULL for any; `extra`: header
/// lines added to the 101. Returns true for a 101.
#[no_mangle]
pub unsafe extern "C" fn uws_server_handshake(
    head: *const u8,
    len: usize,
    complete: bool,
    subprotocols: *const u8,
    subprotocols_len: usize,
    origins: *const u8,
    origins_len: usize,
    extra: *const u8,
    extra_len: usize,
    out: *mut u8,
    out_cap: usize,
    result: *mut uws_handshake,
) -> bool {
    let head = unsafe { bytes(head, len) };
    let protocols = unsafe { bytes(subprotocols, subprotocols_len) };
    let origins = optional(origins, origins_len);
    let extra = unsafe { bytes(extra, extra_len) };
    let out = unsafe { bytes_mut(out, out_cap) };
    // SAFETY: the host passes a writable uws_handshake.
    let result = unsafe { &mut *result };
    *result = uws_handshake::with_status(101);
    let accepted = if complete {
        handshake::parse_request(head).and_then(|req| {
            let a = handshake::validate_request(&req, protocols, origins)?;
            Ok((a.key, a.subprotocol))
        })
    } else {
        Err(HandshakeError::HeadersTooLarge)
    };
    match accepted {
        Ok((key, protocol)) => {
            result.protocol = protocol.map_or(uws_span::default(), |p| uws_span::of(protocols, p));
            result.response_len = handshake::write_response(out, key, protocol, extra).unwrap_or(0);
            true
        }
        Err(e) => {
            result.fail(e.status(), e);
            result.response_len = handshake::write_error_response(out, e).unwrap_or(0);
            false
        }
    }
}

/// Client side: write the upgrade request into `out` with the key made from
/// `nonce` (UWS_NONCE_LEN random bytes the host draws, §4.1), which is also
/// copied to `key_out` (UWS_KEY_LEN bytes) for checking the answer.
/// `origin` NULL for none. Returns the request length, 0 when `out` is too
/// small, a field would break the head, or `nonce` is NULL.
#[no_mangle]
pub unsafe extern "C" fn uws_client_request(
    out: *mut u8,
    out_cap: usize,
    host: *const u8,
    host_len: usize,
    port: u16,
    default_port: u16,
    path: *const u8,
    path_len: usize,
    subprotocols: *const u8,
    subprotocols_len: usize,
    origin: *const u8,
    origin_len: usize,
    extra: *const u8,
    extra_len: usize,
    nonce: *const u8,
    key_out: *mut u8,
) -> usize {
    let Ok(nonce) = <&[u8; UWS_NONCE_LEN]>::try_from(unsafe { bytes(nonce, UWS_NONCE_LEN) }) else {
        return 0;
    };
    let key = handshake::client_key(nonce);
    unsafe { write_out(key_out, &key) };
    handshake::write_request(
        unsafe { bytes_mut(out, out_cap) },
        unsafe { bytes(host, host_len) },
        port,
        default_port,
        unsafe { bytes(path, path_len) },
        &key,
        unsafe { bytes(subprotocols, subprotocols_len) },
        optional(origin, origin_len),
        unsafe { bytes(extra, extra_len) },
    )
    .unwrap_or(0)
}

/// Client side: check the server's response head against the key sent and
/// the subprotocols offered (no extension offered: a build without
/// compression links no extension parser). Returns true when the
/// connection is open.
#[no_mangle]
pub unsafe extern "C" fn uws_client_response(
    head: *const u8,
    len: usize,
    key: *const u8,
    subprotocols: *const u8,
    subprotocols_len: usize,
    result: *mut uws_handshake,
) -> bool {
    let no_offer: handshake::ExtensionCheck = handshake::no_offer;
    unsafe { client_response(head, len, key, subprotocols, subprotocols_len, result, None, no_offer) }.is_some()
}

/// The client's response check, item 5 of RFC 6455 §4.1 (extensions) by
/// `extensions` with the offer `deflate`: the agreed parameters (None
/// inside for no compression), None when the handshake failed (the reason
/// in `result`). Not inlined: one copy serves both entry points.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn client_response(
    head: *const u8,
    len: usize,
    key: *const u8,
    subprotocols: *const u8,
    subprotocols_len: usize,
    result: *mut uws_handshake,
    deflate: Option<&DeflateOptions>,
    extensions: handshake::ExtensionCheck,
) -> Option<Option<DeflateParams>> {
    if result.is_null() {
        return None;
    }
    let head = unsafe { bytes(head, len) };
    let offered = unsafe { bytes(subprotocols, subprotocols_len) };
    // SAFETY: the host passes a writable uws_handshake.
    let result = unsafe { &mut *result };
    *result = uws_handshake::with_status(0);
    let Ok(key) = <&[u8; UWS_KEY_LEN]>::try_from(unsafe { bytes(key, UWS_KEY_LEN) }) else {
        return None;
    };
    let response = match handshake::parse_response(head) {
        Ok(r) => r,
        Err(e) => {
            result.fail(0, e);
            return None;
        }
    };
    result.status = response.status;
    match handshake::validate_response_with(&response, key, offered, deflate, extensions) {
        Ok((protocol, agreed)) => {
            result.protocol = protocol.map_or(uws_span::default(), |p| uws_span::of(head, p));
            Some(agreed)
        }
        Err(e) => {
            result.fail(response.status, e);
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Decisions the shim used to make itself: the close-code policy, URLs,
// plain HTTP, keepalive timing. Sans-IO like the rest: the shim converts
// Python values, calls these, and acts on the result.

use crate::http::{self as http_head, HeadReader, HeadState, WriteError};
use crate::keepalive::{Action, Keepalive};
use crate::url;

/// The Close frame's payload the connection owes (code and reason) into
/// `out` (UWS_MAX_CONTROL bytes): the peer's code echoed (1000 when its
/// Close had none), or the protocol error's code and message. Returns the
/// length, or UWS_TX_CLOSED when no Close is owed. The shim, on
/// UWS_EV_CLOSE or a negated close code: `n = uws_close_reply(c, buf); if
/// (n >= 0) send a Close with buf[..n]`, then closes the stream.
#[no_mangle]
pub unsafe extern "C" fn uws_close_reply(c: *mut Connection, out: *mut u8) -> i32 {
    let Some((code, reason)) = unsafe { conn(c) }.close_reply() else {
        return UWS_TX_CLOSED;
    };
    if out.is_null() {
        return UWS_TX_INVALID;
    }
    // SAFETY: the host passes UWS_MAX_CONTROL writable bytes.
    let out = unsafe { &mut *(out as *mut [u8; MAX_CONTROL_PAYLOAD]) };
    match close_payload(code, reason, out) {
        Ok(n) => n as i32,
        Err(_) => UWS_TX_INVALID,
    }
}

/// The code a keepalive failure closes with (1011).
pub const UWS_KEEPALIVE_CLOSE: u16 = 1011;
const _: () = assert!(UWS_KEEPALIVE_CLOSE == crate::connection::KEEPALIVE_CLOSE.0);

/// A parsed `ws://` / `wss://` URL: spans of the string passed.
#[repr(C)]
pub struct uws_url {
    pub tls: bool,
    pub port: u16,
    /// The port `uws_client_request` leaves out of Host (80 or 443).
    pub default_port: u16,
    /// As written; an IPv6 literal keeps its brackets (strip them for DNS).
    pub host: uws_span,
    /// Path and query; len 0 means "/".
    pub path: uws_span,
    /// Whether there was a `user[:password]@`; both percent-encoded.
    pub has_userinfo: bool,
    pub user: uws_span,
    pub password: uws_span,
    /// When parsing fails: why (not NUL-terminated), for a ValueError.
    pub message: *const u8,
    pub message_len: usize,
}

/// Parse a URL. Returns false, with `out->message` set, for anything but a
/// valid `ws://` or `wss://` URL (and for one over 65535 bytes). The shim
/// calls it with the str's bytes and keeps the str alive while it uses the
/// spans; with `has_userinfo` it adds the line `uws_basic_auth` writes to
/// the extra headers.
#[no_mangle]
pub unsafe extern "C" fn uws_url_parse(s: *const u8, len: usize, out: *mut uws_url) -> bool {
    if out.is_null() {
        return false;
    }
    let text = unsafe { bytes(s, len) };
    // SAFETY: the host passes a writable uws_url.
    let out = unsafe { &mut *out };
    *out = uws_url {
        tls: false,
        port: 0,
        default_port: 0,
        host: uws_span::default(),
        path: uws_span::default(),
        has_userinfo: false,
        user: uws_span::default(),
        password: uws_span::default(),
        message: core::ptr::null(),
        message_len: 0,
    };
    let parsed = if text.len() > usize::from(u16::MAX) { Err(url::UrlError::Host) } else { url::parse(text) };
    match parsed {
        Ok(u) => {
            out.tls = u.tls;
            out.port = u.port;
            out.default_port = u.default_port();
            out.host = uws_span::of(text, u.host);
            // The "/" default is not part of the string: an empty span.
            out.path = uws_span::of(text, u.path);
            if let Some((user, password)) = u.userinfo {
                out.has_userinfo = true;
                out.user = uws_span::of(text, user);
                out.password = uws_span::of(text, password);
            }
            true
        }
        Err(e) => {
            out.message = e.message().as_ptr();
            out.message_len = e.message().len();
            false
        }
    }
}

/// Write `Authorization: Basic ...\r\n` (RFC 7617) for a URL's userinfo
/// (the percent-encoded spans `uws_url_parse` gave) into `out`. Returns its
/// length, 0 when the credentials are invalid (a bad escape, a control
/// character, a colon in the user, over 255 bytes decoded) or `out` is too
/// small (400 bytes always suffice).
#[no_mangle]
pub unsafe extern "C" fn uws_basic_auth(
    user: *const u8,
    user_len: usize,
    password: *const u8,
    password_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> usize {
    let (user, password) = unsafe { (bytes(user, user_len), bytes(password, password_len)) };
    url::basic_auth(user, password, unsafe { bytes_mut(out, out_cap) }).unwrap_or(0)
}

/// `uws_http_*` results other than a length.
pub const UWS_HTTP_INVALID: isize = -1;

fn http_result(result: Result<usize, WriteError>) -> isize {
    match result {
        Ok(n) => n as isize,
        // The size needed, negated past UWS_HTTP_INVALID: -(needed + 2).
        Err(WriteError::NoRoom(n)) => -(n.min(isize::MAX as usize - 2) as isize) - 2,
        Err(WriteError::Invalid) => UWS_HTTP_INVALID,
    }
}

/// Write one extra header line `name: value\r\n` into `out`, refusing a
/// name that is not a token and a value with CR, LF or another control
/// byte (header injection). Returns the length; UWS_HTTP_INVALID for a bad
/// field (the shim raises ValueError); -(needed + 2) when `out` is too
/// small. The shim calls it for each item of `headers=` (dict or pairs)
/// into a growing vstr, before anything is written to the socket.
#[no_mangle]
pub unsafe extern "C" fn uws_http_header_line(
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> isize {
    let (name, value) = unsafe { (bytes(name, name_len), bytes(value, value_len)) };
    http_result(http_head::header_line(name, value, unsafe { bytes_mut(out, out_cap) }))
}

/// Whether `item` may be one element of the subprotocol or origin lists
/// (visible ASCII, no comma, not empty). The shim checks each item of
/// `subprotocols=` / `origins=` (ValueError otherwise) and joins them with
/// ", " / ",".
#[no_mangle]
pub unsafe extern "C" fn uws_http_list_item_ok(item: *const u8, len: usize) -> bool {
    http_head::is_list_item(unsafe { bytes(item, len) })
}

/// Whether `data` is valid UTF-8 (RFC 3629): the shim makes a str of a
/// header value or a status line only then (bytes otherwise), on every
/// port, including those built without unicode strings.
#[no_mangle]
pub unsafe extern "C" fn uws_utf8_valid(data: *const u8, len: usize) -> bool {
    core::str::from_utf8(unsafe { bytes(data, len) }).is_ok()
}

/// Write the head of respond()'s answer into `out`: status line (status
/// 100-999, the reason from the table), Content-Type, `extra` (lines from
/// uws_http_header_line), Content-Length: `body_len`, Connection: close,
/// blank line. The shim writes the body after it. Returns the length;
/// UWS_HTTP_INVALID for a bad status or content type (ValueError, nothing
/// written); -(needed + 2) when `out` is too small (grow and call again).
#[no_mangle]
pub unsafe extern "C" fn uws_http_response(
    status: u16,
    content_type: *const u8,
    content_type_len: usize,
    extra: *const u8,
    extra_len: usize,
    body_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> isize {
    let (content_type, extra) = unsafe { (bytes(content_type, content_type_len), bytes(extra, extra_len)) };
    http_result(http_head::write_response(unsafe { bytes_mut(out, out_cap) }, status, content_type, extra, body_len))
}

/// A request or response head being read (embed it; no heap).
#[allow(non_camel_case_types)]
pub type uws_head_reader = HeadReader;

/// `uws_head_feed` results.
pub const UWS_HEAD_INCOMPLETE: u8 = 0;
pub const UWS_HEAD_COMPLETE: u8 = 1;
pub const UWS_HEAD_TOO_LONG: u8 = 2;

/// Start reading a head of at most `max` bytes.
#[no_mangle]
pub unsafe extern "C" fn uws_head_init(r: *mut uws_head_reader, max: usize) {
    if !r.is_null() {
        // SAFETY: the host passes a writable uws_head_reader.
        unsafe { r.write(HeadReader::new(max)) };
    }
}

/// How many bytes the next read may ask for without reading past the
/// head's blank line (0 when complete or too long). The shim's loop:
/// `while ((want = uws_head_next(&r)) > 0) { n = read(stream, buf + len,
/// want); (n > want: EIO) state = uws_head_feed(&r, buf + len, n); len += n; }`.
#[no_mangle]
pub unsafe extern "C" fn uws_head_next(r: *const uws_head_reader) -> usize {
    if r.is_null() {
        return 0;
    }
    // SAFETY: the host passes the reader it initialised.
    unsafe { &*r }.next_read()
}

/// Take `n` bytes just read (more than `uws_head_next` allowed are not
/// looked at). Returns a UWS_HEAD_* state; UWS_HEAD_TOO_LONG means 431.
#[no_mangle]
pub unsafe extern "C" fn uws_head_feed(r: *mut uws_head_reader, data: *const u8, n: usize) -> u8 {
    if r.is_null() {
        return UWS_HEAD_TOO_LONG;
    }
    // SAFETY: the host passes the reader it initialised.
    let r = unsafe { &mut *r };
    match r.feed(unsafe { bytes(data, n) }) {
        HeadState::Incomplete => UWS_HEAD_INCOMPLETE,
        HeadState::Complete => UWS_HEAD_COMPLETE,
        HeadState::TooLong => UWS_HEAD_TOO_LONG,
    }
}

/// The `index`-th distinct header field of a request head, as the request's
/// header dict holds it: the name lower-cased into `name_out`, the values
/// of every field of that name joined with ", " (RFC 9110 §5.3) into
/// `value_out`; both buffers `len` bytes (always enough). Returns false past
/// the last field or for a head that does not parse. The shim: `for (i =
/// 0; uws_request_header(head, len, i, name, &nl, value, &vl); ++i)
/// dict[str(name)] = str_or_bytes(value)`.
#[no_mangle]
pub unsafe extern "C" fn uws_request_header(
    head: *const u8,
    len: usize,
    index: usize,
    name_out: *mut u8,
    name_len: *mut usize,
    value_out: *mut u8,
    value_len: *mut usize,
) -> bool {
    let head = unsafe { bytes(head, len) };
    let Ok(parsed) = http_head::parse_request_head(head) else {
        return false;
    };
    let (name_buf, value_buf) = unsafe { (bytes_mut(name_out, len), bytes_mut(value_out, len)) };
    match http_head::joined_field(&parsed.fields, index, name_buf, value_buf) {
        Some((n, v)) => {
            unsafe {
                write_len(name_len, n);
                write_len(value_len, v);
            }
            true
        }
        None => false,
    }
}

/// Keepalive timer state (embed it in the WebSocket object; zeroed or
/// `uws_keepalive_set(k, 0, 0, now)` is off).
#[allow(non_camel_case_types)]
pub type uws_keepalive_state = Keepalive;

/// `uws_keepalive_poll` results besides a wait in ms (>= 0).
pub const UWS_KEEPALIVE_OFF: i64 = -1;
pub const UWS_KEEPALIVE_PING: i64 = -2;
pub const UWS_KEEPALIVE_DEAD: i64 = -3;

/// Set the ping interval and timeout in integer milliseconds (the shim
/// converts seconds, refusing NaN and infinities itself); interval 0 turns
/// keepalive off, timeout 0 means the interval. Returns false (nothing
/// changed: ValueError) for a negative value or one over 2^31 - 1 ms.
/// `now`: mp_hal_ticks_ms().
#[no_mangle]
pub unsafe extern "C" fn uws_keepalive_set(k: *mut uws_keepalive_state, interval_ms: i64, timeout_ms: i64, now: u32) -> bool {
    if k.is_null() {
        return false;
    }
    // SAFETY: the host passes its embedded keepalive state.
    unsafe { &mut *k }.set(interval_ms, timeout_ms, now).is_ok()
}

/// Bytes arrived from the peer at `now`: the shim calls it after every
/// read that returned bytes.
#[no_mangle]
pub unsafe extern "C" fn uws_keepalive_received(k: *mut uws_keepalive_state, now: u32) {
    if !k.is_null() {
        // SAFETY: as above.
        unsafe { &mut *k }.received(now)
    }
}

/// What to do at `now`: ms to wait (>= 0: keepalive() returns it),
/// UWS_KEEPALIVE_OFF, UWS_KEEPALIVE_PING (send a Ping now; counted as
/// sent), UWS_KEEPALIVE_DEAD (fail the connection with UWS_KEEPALIVE_CLOSE).
/// The shim calls it before every blocking read and from keepalive().
#[no_mangle]
pub unsafe extern "C" fn uws_keepalive_poll(k: *mut uws_keepalive_state, now: u32) -> i64 {
    if k.is_null() {
        return UWS_KEEPALIVE_OFF;
    }
    // SAFETY: as above.
    match unsafe { &mut *k }.poll(now) {
        Action::Off => UWS_KEEPALIVE_OFF,
        Action::Wait(ms) => i64::from(ms),
        Action::SendPing => UWS_KEEPALIVE_PING,
        Action::PeerDead => UWS_KEEPALIVE_DEAD,
    }
}

// ---------------------------------------------------------------------------
// The send queue of a non-blocking connection (`txqueue`): one block the
// host allocates, the queue's counts at its start, the bytes after them.
// The host keeps a pointer to the block (NULL while nothing waits):
//   flush:  data = uws_txq_pending(q, &len); n = write(data, len) (what the
//           stream takes); if (uws_txq_consume(q, n) == 0) free the block
//           (uws_txq_size(q) bytes)
//   queue:  size = uws_txq_grow(q, more, false); if (size) { q = realloc(q,
//           uws_txq_size(q), size) (q may be NULL: a new block; on failure
//           try again with uws_txq_grow(q, more, true));
//           uws_txq_resized(q, size, was_null) }; uws_txq_push(q, data, more)
//           (false: no memory; with part of a frame out, the connection
//           cannot go on)
//   send:   refuse a new message while uws_txq_over_high_water(waiting);
//           a control frame as uws_txq_control(opcode, waiting, ...) says.
// The counts are read and written unaligned: any block will do.

use crate::txqueue::{self, TxQueue};

/// The queue's counts at the start of its block.
const TXQ_HEAD: usize = core::mem::size_of::<TxQueue>();
/// What `uws_txq_grow` asks for when no block can hold the bytes: more
/// than any heap has, and rounding it up to the heap's block size does not
/// overflow, so the host's allocation fails and it reports no memory.
const TXQ_IMPOSSIBLE: usize = isize::MAX as usize;

/// The counts of the queue in `q`'s block (None for NULL).
unsafe fn txq_head(q: *const TxQueue) -> Option<TxQueue> {
    if q.is_null() {
        return None;
    }
    // SAFETY: the host passes a block it set up with uws_txq_resized,
    // which starts with the counts.
    Some(unsafe { q.read_unaligned() })
}

/// The bytes of `q`'s block after the counts (`head.capacity()` of them).
unsafe fn txq_bytes<'a>(q: *mut TxQueue, head: &TxQueue) -> &'a mut [u8] {
    // SAFETY: the block is TXQ_HEAD + capacity bytes (uws_txq_resized
    // recorded the size the host allocated), not aliased during the call.
    unsafe { bytes_mut((q as *mut u8).add(TXQ_HEAD), head.capacity()) }
}

/// Bytes of the queue's block (to free or reallocate it); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn uws_txq_size(q: *const TxQueue) -> usize {
    unsafe { txq_head(q) }.map_or(0, |h| TXQ_HEAD.saturating_add(h.capacity()))
}

/// The size the block must have before `more` bytes are queued: 0 when it
/// has room; for NULL (nothing waits), the size of a new block. It grows
/// to what is needed or to twice what waits, whichever is more (`exact`:
/// to what is needed, for a heap without a block that large); a size
/// that cannot be allocated comes back as more than any heap has.
#[no_mangle]
pub unsafe extern "C" fn uws_txq_grow(q: *const TxQueue, more: usize, exact: bool) -> usize {
    let head = unsafe { txq_head(q) };
    match head.as_ref().map_or(Some(more), |h| if exact { h.need(more) } else { h.grow_to(more) }) {
        None => 0,
        Some(capacity) => TXQ_HEAD.saturating_add(capacity).min(TXQ_IMPOSSIBLE),
    }
}

/// The host (re)allocated the block at `q` to `size` bytes, as
/// `uws_txq_grow` asked (`fresh`: a new block, nothing queued yet;
/// otherwise what waited was moved along).
#[no_mangle]
pub unsafe extern "C" fn uws_txq_resized(q: *mut TxQueue, size: usize, fresh: bool) {
    if q.is_null() {
        return;
    }
    let capacity = size.saturating_sub(TXQ_HEAD);
    let mut head = if fresh { TxQueue::with_capacity(capacity) } else { unsafe { q.read_unaligned() } };
    head.resized(capacity);
    // SAFETY: the host's block, at least TXQ_HEAD bytes.
    unsafe { q.write_unaligned(head) };
}

/// Queue `len` bytes from `data` after what waits. False, nothing queued,
/// when the block has no room for them (or `q` is NULL).
#[no_mangle]
pub unsafe extern "C" fn uws_txq_push(q: *mut TxQueue, data: *const u8, len: usize) -> bool {
    let Some(mut head) = (unsafe { txq_head(q) }) else { return false };
    let ok = head.append(unsafe { txq_bytes(q, &head) }, unsafe { bytes(data, len) });
    unsafe { q.write_unaligned(head) };
    ok
}

/// The bytes waiting (in the block) and their count in `*len`; NULL and 0
/// for NULL.
#[no_mangle]
pub unsafe extern "C" fn uws_txq_pending(q: *mut TxQueue, len: *mut usize) -> *const u8 {
    let Some(head) = (unsafe { txq_head(q) }) else {
        unsafe { write_len(len, 0) };
        return core::ptr::null();
    };
    let pending = head.pending(unsafe { txq_bytes(q, &head) });
    unsafe { write_len(len, pending.len()) };
    pending.as_ptr()
}

/// `written` bytes from the front went out. Returns how many still wait
/// (0: the block may be freed); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn uws_txq_consume(q: *mut TxQueue, written: usize) -> usize {
    let Some(mut head) = (unsafe { txq_head(q) }) else { return 0 };
    let left = head.consume(written);
    unsafe { q.write_unaligned(head) };
    left
}

/// Whether a non-blocking send is refused (EAGAIN) with `waiting` bytes
/// still queued after a flush: at or over the high-water mark.
#[no_mangle]
pub extern "C" fn uws_txq_over_high_water(waiting: usize) -> bool {
    txqueue::over_high_water(waiting)
}

/// `uws_txq_control`'s answers.
pub const UWS_TXQ_SEND: i32 = 0;
pub const UWS_TXQ_SKIP: i32 = 1;
pub const UWS_TXQ_REFUSE: i32 = 2;

/// What becomes of a control frame (`UWS_OP_*`) while `waiting` bytes stay
/// queued after a flush (`txqueue::admit_control`): `UWS_TXQ_SEND`,
/// `UWS_TXQ_SKIP` (a Pong over the high-water mark: not sent) or
/// `UWS_TXQ_REFUSE` (a Ping a script asked for, `scripted`, over the mark:
/// EAGAIN, as for a message).
#[no_mangle]
pub extern "C" fn uws_txq_control(opcode: u8, waiting: usize, scripted: bool) -> i32 {
    match txqueue::admit_control(opcode, waiting, scripted) {
        txqueue::ControlAdmission::Send => UWS_TXQ_SEND,
        txqueue::ControlAdmission::Skip => UWS_TXQ_SKIP,
        txqueue::ControlAdmission::Refuse => UWS_TXQ_REFUSE,
    }
}

#[cfg(test)]
mod txq_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::tests::frame;
    use std::vec;

    fn new_conn(server: bool) -> std::boxed::Box<core::mem::MaybeUninit<Connection>> {
        let mut mem = std::boxed::Box::new(core::mem::MaybeUninit::<Connection>::uninit());
        assert!(unsafe { uws_conn_init(mem.as_mut_ptr(), server, 0, 0) });
        mem
    }

    fn end_of(c: *mut Connection) -> (u16, std::string::String) {
        let mut reason = [0u8; UWS_MAX_REASON];
        let len = unsafe { uws_end_reason(c, reason.as_mut_ptr()) };
        (unsafe { uws_end_code(c) }, std::string::String::from_utf8(reason[..len].to_vec()).unwrap())
    }

    #[test]
    fn every_ending_has_one_code_and_reason() {
        // Nothing ended it yet.
        let mut mem = new_conn(true);
        assert_eq!(end_of(mem.as_mut_ptr()), (0, "".into()));
        // A reset, with its error number; a later cause changes nothing.
        unsafe { uws_fail_transport(mem.as_mut_ptr(), UWS_TRANSPORT_FAILED, 104) };
        unsafe { uws_end_locally(mem.as_mut_ptr(), UWS_LOCAL_KEEPALIVE, 0) };
        assert_eq!(end_of(mem.as_mut_ptr()), (1006, "connection lost (errno 104)".into()));
        // End of file: no number.
        let mut mem = new_conn(true);
        unsafe { uws_fail_transport(mem.as_mut_ptr(), UWS_TRANSPORT_EOF, 0) };
        assert_eq!(end_of(mem.as_mut_ptr()), (1006, "connection lost".into()));
        // Keepalive: failed with 1011, and the Close owed says so.
        let mut mem = new_conn(true);
        assert!(unsafe { uws_end_locally(mem.as_mut_ptr(), UWS_LOCAL_KEEPALIVE, 0) });
        assert_eq!(unsafe { uws_state(mem.as_mut_ptr()) }, UWS_STATE_FAILED);
        let mut payload = [0u8; UWS_MAX_CONTROL];
        let n = unsafe { uws_close_reply(mem.as_mut_ptr(), payload.as_mut_ptr()) };
        assert_eq!(&payload[..n as usize], b"\x03\xf3keepalive timeout");
        unsafe { uws_fail_transport(mem.as_mut_ptr(), UWS_TRANSPORT_EOF, 0) };
        assert_eq!(end_of(mem.as_mut_ptr()), (1011, "keepalive timeout".into()));
        // No memory for a message: 1009; for a decompressor: 1011.
        let mut mem = new_conn(false);
        unsafe { uws_end_locally(mem.as_mut_ptr(), UWS_LOCAL_NO_MEMORY, 0) };
        assert_eq!(end_of(mem.as_mut_ptr()), (1009, "out of memory".into()));
        let mut mem = new_conn(false);
        unsafe { uws_end_locally(mem.as_mut_ptr(), UWS_LOCAL_NO_DECOMPRESSOR_MEMORY, 0) };
        assert_eq!(end_of(mem.as_mut_ptr()), (1011, "out of memory".into()));
        // Our Close unanswered: nothing while the answer may still come;
        // our code once the transport closed, even if it failed; the
        // connection is not failed (no Close owed).
        let mut mem = new_conn(true);
        unsafe { uws_end_locally(mem.as_mut_ptr(), UWS_LOCAL_CLOSE_UNANSWERED, 4001) };
        assert_eq!(end_of(mem.as_mut_ptr()), (0, "".into()));
        assert_eq!(unsafe { uws_close_reply(mem.as_mut_ptr(), payload.as_mut_ptr()) }, UWS_TX_CLOSED);
        unsafe { uws_fail_transport(mem.as_mut_ptr(), UWS_TRANSPORT_FAILED, 32) };
        assert_eq!(end_of(mem.as_mut_ptr()), (4001, "".into()));
        // An unknown kind records nothing.
        let mut mem = new_conn(true);
        assert!(!unsafe { uws_end_locally(mem.as_mut_ptr(), 9, 1000) });
        assert_eq!(end_of(mem.as_mut_ptr()), (0, "".into()));
    }

    #[test]
    fn counts_over_what_was_asked_are_refused() {
        let mut mem = new_conn(false);
        let c = mem.as_mut_ptr();
        let (mut internal, mut buffered) = (core::ptr::null_mut(), core::ptr::null());
        let asked = unsafe { uws_rx_want(c, &mut internal, &mut buffered) } as usize;
        assert!(!internal.is_null() && asked > 0);
        // A stream that claims more than the buffer it was handed.
        assert_eq!(unsafe { uws_rx_filled(c, asked + 1) }, UWS_RX_BAD_COUNT);
        assert_eq!(unsafe { uws_state(c) }, UWS_STATE_CLOSED);
        assert_eq!(unsafe { uws_end_code(c) }, 1006);
        let mut reason = [0u8; UWS_MAX_REASON];
        let len = unsafe { uws_end_reason(c, reason.as_mut_ptr()) };
        assert_eq!(&reason[..len], TransportError::BadCount.message().as_bytes());

        // Payload: at most what remains of the frame.
        let mut mem = new_conn(false);
        let c = mem.as_mut_ptr();
        let wire = frame(Role::Server, 0x2, true, &[3; 300]);
        let asked = unsafe { uws_rx_want(c, &mut internal, &mut buffered) } as usize;
        let n = asked.min(wire.len());
        unsafe { core::ptr::copy_nonoverlapping(wire.as_ptr(), internal, n) };
        assert_eq!(unsafe { uws_rx_filled(c, n) }, UWS_EV_CONTINUE);
        let buffered_len = unsafe { uws_rx_want(c, &mut internal, &mut buffered) } as usize;
        assert!(!buffered.is_null());
        let mut out = vec![0u8; 400];
        unsafe { core::ptr::copy_nonoverlapping(buffered, out.as_mut_ptr(), buffered_len) };
        assert_eq!(unsafe { uws_rx_data(c, out.as_mut_ptr(), buffered_len + 1) }, UWS_RX_BAD_COUNT);
        assert_eq!(unsafe { uws_end_code(c) }, 1006);

        let mut mem = new_conn(false);
        let c = mem.as_mut_ptr();
        unsafe { uws_rx_want(c, &mut internal, &mut buffered) };
        unsafe { core::ptr::copy_nonoverlapping(wire.as_ptr(), internal, 4) };
        assert_eq!(unsafe { uws_rx_filled(c, 4) }, UWS_EV_CONTINUE);
        let asked = unsafe { uws_rx_want(c, &mut internal, &mut buffered) } as usize;
        assert_eq!((asked, internal, buffered), (300, core::ptr::null_mut(), core::ptr::null()));
        assert_eq!(unsafe { uws_rx_data(c, out.as_mut_ptr(), 301) }, UWS_RX_BAD_COUNT);
        // A payload report where an internal read was asked: refused too.
        let mut mem = new_conn(true);
        let c = mem.as_mut_ptr();
        unsafe { uws_rx_want(c, &mut internal, &mut buffered) };
        assert_eq!(unsafe { uws_rx_data(c, out.as_mut_ptr(), 1) }, UWS_RX_BAD_COUNT);
        // Within bounds, nothing changes.
        let mut mem = new_conn(true);
        let c = mem.as_mut_ptr();
        assert_eq!(unsafe { uws_rx_filled(c, 0) }, UWS_EV_CONTINUE);
        assert_eq!(unsafe { uws_state(c) }, UWS_STATE_OPEN);
        assert_eq!(unsafe { uws_end_code(c) }, 0);
    }

    #[test]
    fn masking_keys_come_from_the_caller() {
        let mut header = [0u8; UWS_MAX_HEADER];
        let mut key = [0u8; 4];
        let random = [9u8, 8, 7, 6];
        let mut client = new_conn(false);
        let c = client.as_mut_ptr();
        assert_eq!(unsafe { uws_tx_random_len(c) }, 4);
        assert_eq!(
            unsafe { uws_tx_data_header(c, true, true, 5, core::ptr::null(), header.as_mut_ptr(), key.as_mut_ptr()) },
            UWS_TX_INVALID
        );
        let n = unsafe { uws_tx_data_header(c, true, true, 5, random.as_ptr(), header.as_mut_ptr(), key.as_mut_ptr()) };
        assert_eq!(&header[..n as usize], &[0x81, 0x85, 9, 8, 7, 6]);
        assert_eq!(key, random);
        // The same buffer in and out.
        let mut inout = [1u8, 2, 3, 4];
        let n = unsafe { uws_tx_control_header(c, UWS_OP_PING, 0, inout.as_ptr(), header.as_mut_ptr(), inout.as_mut_ptr()) };
        assert_eq!((&header[..n as usize], inout), (&[0x89, 0x80, 1, 2, 3, 4][..], [1, 2, 3, 4]));
        let mut server = new_conn(true);
        let s = server.as_mut_ptr();
        assert_eq!(unsafe { uws_tx_random_len(s) }, 0);
        let n = unsafe { uws_tx_data_header(s, false, true, 1, core::ptr::null(), header.as_mut_ptr(), key.as_mut_ptr()) };
        assert_eq!((&header[..n as usize], key), (&[0x82, 0x01][..], [0; 4]));
    }

    #[test]
    fn random_blocks_differ_by_counter_and_seed() {
        let mut a = [0u8; UWS_RANDOM_BLOCK];
        let mut b = [0u8; UWS_RANDOM_BLOCK];
        let seed = *b"twenty bytes of seed";
        unsafe { uws_random_block(seed.as_ptr(), seed.len(), 1, a.as_mut_ptr()) };
        unsafe { uws_random_block(seed.as_ptr(), seed.len(), 2, b.as_mut_ptr()) };
        assert_ne!(a, b);
        let mut oracle = sha1_smol::Sha1::new();
        oracle.update(b"twenty bytes of seed\0\0\0\x01");
        assert_eq!(a, oracle.digest().bytes());
        unsafe { uws_random_block(b"another seed".as_ptr(), 12, 1, b.as_mut_ptr()) };
        assert_ne!(a, b);
    }

    #[test]
    fn a_fragment_never_sent_is_taken_back() {
        let mut out = [0u8; UWS_MAX_HEADER + 8];
        let mut server = new_conn(true);
        let s = server.as_mut_ptr();
        let frame = |fin: bool, text: bool, out: &mut [u8]| unsafe {
            uws_tx_data_frame(s, text, fin, core::ptr::null(), b"ab".as_ptr(), 2, out.as_mut_ptr(), out.len(), core::ptr::null_mut())
        };
        // Between messages a whole message moves nothing: no mark.
        assert_eq!(unsafe { uws_tx_mark(s, true) }, 0);
        // A first fragment that never left: the next frame begins the
        // message again (opcode 2, not a continuation).
        let mark = unsafe { uws_tx_mark(s, false) };
        assert_ne!(mark, 0);
        assert_eq!(frame(false, false, &mut out), 4);
        unsafe { uws_tx_rewind(s, mark) };
        assert_eq!(frame(false, false, &mut out), 4);
        assert_eq!(out[0], 0x02);
        // A last fragment that never left: the message is still open, so
        // the next frame continues it and a text message is refused.
        let mark = unsafe { uws_tx_mark(s, true) };
        assert_ne!(mark, 0);
        assert_eq!(frame(true, false, &mut out), 4);
        assert_eq!(out[0], 0x80);
        unsafe { uws_tx_rewind(s, mark) };
        assert_eq!(frame(true, true, &mut out), UWS_TX_IN_PROGRESS);
        assert_eq!(frame(true, false, &mut out), 4);
        assert_eq!(out[0], 0x80);
        // The frame builder gives the same marks as uws_tx_mark.
        let mut undo = 9u8;
        let framed = |fin: bool, undo: &mut u8, out: &mut [u8]| unsafe {
            uws_tx_data_frame(s, false, fin, core::ptr::null(), b"ab".as_ptr(), 2, out.as_mut_ptr(), out.len(), undo)
        };
        assert_eq!(framed(false, &mut undo, &mut out), 4);
        let begun = undo;
        assert_ne!(begun, 0);
        unsafe { uws_tx_rewind(s, begun) };
        assert_eq!(framed(true, &mut undo, &mut out), 4);
        assert_eq!((undo, out[0]), (0, 0x82));
        assert_eq!(framed(false, &mut undo, &mut out), 4);
        assert_eq!(undo, begun);
        assert_eq!(framed(true, &mut undo, &mut out), 4);
        assert_ne!(undo, 0);
        assert_eq!(out[0], 0x80);
        // 0 and unknown marks change nothing.
        unsafe { uws_tx_rewind(s, 0) };
        unsafe { uws_tx_rewind(s, 200) };
        assert_eq!(unsafe { uws_tx_mark(s, true) }, 0);
        assert_eq!(frame(true, true, &mut out), 4);
        assert_eq!(out[0], 0x81);
    }

    #[test]
    fn a_small_frame_is_built_whole() {
        let payload = *b"Hello";
        let random = [0x37u8, 0xfa, 0x21, 0x3d];
        let mut out = [0u8; UWS_MAX_HEADER + 5];
        // §5.7's masked "Hello" from a client.
        let mut client = new_conn(false);
        let c = client.as_mut_ptr();
        let n = unsafe { uws_tx_data_frame(c, true, true, random.as_ptr(), payload.as_ptr(), 5, out.as_mut_ptr(), out.len(), core::ptr::null_mut()) };
        assert_eq!(&out[..n as usize], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        // §5.7's unmasked one from a server, as the first of two fragments.
        let mut server = new_conn(true);
        let s = server.as_mut_ptr();
        let n = unsafe { uws_tx_data_frame(s, true, false, core::ptr::null(), payload.as_ptr(), 3, out.as_mut_ptr(), out.len(), core::ptr::null_mut()) };
        assert_eq!(&out[..n as usize], &[0x01, 0x03, 0x48, 0x65, 0x6c]);
        // A buffer too small changes nothing: the message is not begun.
        let short = UWS_MAX_HEADER + 1;
        let n = unsafe { uws_tx_data_frame(s, false, true, core::ptr::null(), payload.as_ptr(), 2, out.as_mut_ptr(), short, core::ptr::null_mut()) };
        assert_eq!(n, UWS_TX_INVALID);
        let n = unsafe { uws_tx_data_frame(s, true, true, core::ptr::null(), payload[3..].as_ptr(), 2, out.as_mut_ptr(), out.len(), core::ptr::null_mut()) };
        assert_eq!(&out[..n as usize], &[0x80, 0x02, 0x6c, 0x6f]);
        // A client given no random bytes, or a message of the other kind
        // while one is in progress, is refused as by uws_tx_data_header.
        let n = unsafe { uws_tx_data_frame(c, true, true, core::ptr::null(), payload.as_ptr(), 5, out.as_mut_ptr(), out.len(), core::ptr::null_mut()) };
        assert_eq!(n, UWS_TX_INVALID);
        let n = unsafe { uws_tx_data_frame(s, false, false, core::ptr::null(), payload.as_ptr(), 1, out.as_mut_ptr(), out.len(), core::ptr::null_mut()) };
        assert_eq!(n, 3);
        let n = unsafe { uws_tx_data_frame(s, true, true, core::ptr::null(), payload.as_ptr(), 1, out.as_mut_ptr(), out.len(), core::ptr::null_mut()) };
        assert_eq!(n, UWS_TX_IN_PROGRESS);
    }

    /// Receive `input` (fed `chunk` bytes per transport read) into a
    /// `room`-byte buffer per call, the way the shim does, with or without
    /// `uws_rx_ahead` first; the events and payload pieces it gives, and
    /// how the connection ended.
    fn receive(input: &[u8], chunk: usize, room: usize, ahead_first: bool, max: u64) -> (vec::Vec<(i32, vec::Vec<u8>)>, u16) {
        let mut mem = std::boxed::Box::new(core::mem::MaybeUninit::<Connection>::uninit());
        assert!(unsafe { uws_conn_init(mem.as_mut_ptr(), true, max, 0) });
        let c = mem.as_mut_ptr();
        let mut fed = 0;
        let mut got = vec::Vec::new();
        let mut buf = vec![0u8; room];
        let mut pos = 0;
        for _ in 0..100_000 {
            let mut event = UWS_EV_CONTINUE;
            if ahead_first {
                let small = unsafe { uws_rx_small_len(c) };
                let mut n = 0;
                event = unsafe { uws_rx_ahead(c, buf[pos..].as_mut_ptr(), room - pos, &mut n) };
                // uws_rx_small_len says what uws_rx_ahead takes, or that it
                // takes nothing (it may still refuse a message that does not
                // fit or is not UTF-8, for the steps to handle).
                if event != UWS_EV_CONTINUE {
                    assert_eq!(small, n as isize);
                }
                pos += n;
            }
            if event == UWS_EV_CONTINUE {
                let mut internal = core::ptr::null_mut();
                let mut buffered = core::ptr::null();
                let want = unsafe { uws_rx_want(c, &mut internal, &mut buffered) } as usize;
                if want == 0 && internal.is_null() {
                    break;
                }
                if want == 0 {
                    event = unsafe { uws_rx_filled(c, 0) };
                } else if !buffered.is_null() || internal.is_null() {
                    let n = want.min(room - pos);
                    if n == 0 {
                        // The buffer is full: a piece of a longer message.
                        got.push((-100, buf[..pos].to_vec()));
                        pos = 0;
                        continue;
                    }
                    let n = if buffered.is_null() { n.min(chunk).min(input.len() - fed) } else { n };
                    if n == 0 {
                        break;
                    }
                    if buffered.is_null() {
                        buf[pos..pos + n].copy_from_slice(&input[fed..fed + n]);
                        fed += n;
                    } else {
                        buf[pos..pos + n].copy_from_slice(unsafe { core::slice::from_raw_parts(buffered, n) });
                    }
                    event = unsafe { uws_rx_data(c, buf[pos..].as_mut_ptr(), n) };
                    pos += n;
                } else {
                    let n = want.min(chunk).min(input.len() - fed);
                    if n == 0 {
                        break;
                    }
                    unsafe { core::ptr::copy_nonoverlapping(input[fed..].as_ptr(), internal, n) };
                    fed += n;
                    event = unsafe { uws_rx_filled(c, n) };
                }
            }
            if event != UWS_EV_CONTINUE {
                got.push((event, buf[..pos].to_vec()));
                pos = 0;
                if event < 0 {
                    break;
                }
            }
        }
        (got, unsafe { uws_end_code(c) })
    }

    #[test]
    fn reading_ahead_in_one_call_gives_what_the_steps_give() {
        use crate::connection::tests::frame as f;
        use crate::Role::Client;
        let mut mixed = vec::Vec::new();
        for i in 0..40u8 {
            let payload: vec::Vec<u8> = (0..(i as usize * 7) % 190).map(|k| k as u8 ^ i).collect();
            match i % 6 {
                0 => mixed.extend(f(Client, 0x9, true, b"ping")),
                1 => {
                    mixed.extend(f(Client, 0x1, false, b"fragm"));
                    mixed.extend(f(Client, 0xA, true, b""));
                    mixed.extend(f(Client, 0x0, true, "ent \u{e9}".as_bytes()));
                }
                2 => mixed.extend(f(Client, 0x1, true, "h\u{e9}llo".as_bytes())),
                _ => mixed.extend(f(Client, 0x2, true, &payload)),
            }
        }
        let close = f(Client, 0x8, true, &[0x03, 0xe8]);
        let endings: [&[u8]; 6] = [
            &close,
            &f(Client, 0x1, true, b"\xc3"),               // text cut inside a character: 1007
            &f(Client, 0x1, true, b"\xff"),               // never UTF-8: 1007
            &f(Client, 0x2, true, &[7; 201]),             // over max_size: 1009
            &[0x82, 0x05, 1, 2, 3, 4, 5],                 // unmasked from a client: 1002
            &[0xC2, 0x81, 1, 2, 3, 4, 5],                 // RSV1 without the extension: 1002
        ];
        for ending in endings {
            // After a small message in the same read: where the one-call
            // path takes whole messages.
            let mut input = mixed.clone();
            input.extend(f(Client, 0x2, true, b"ok"));
            input.extend_from_slice(ending);
            for chunk in [1, 2, 7, 64, 125, 4096] {
                for room in [1, 5, 16, 300] {
                    let steps = receive(&input, chunk, room, false, 200);
                    assert_eq!(receive(&input, chunk, room, true, 200), steps, "chunk {chunk}, room {room}");
                    assert!(steps.0.len() > 40);
                }
            }
        }
        // A small message over a small limit: 1009 either way.
        let mut input = f(Client, 0x2, true, b"ok");
        input.extend(f(Client, 0x2, true, &[7; 21]));
        let steps = receive(&input, 4096, 300, false, 20);
        assert_eq!(steps.1, 1009);
        assert_eq!(receive(&input, 4096, 300, true, 20), steps);
    }

    #[test]
    fn client_request_takes_its_nonce() {
        let nonce = *b"the sample nonce";
        let mut out = [0u8; 512];
        let mut key = [0u8; UWS_KEY_LEN];
        let n = unsafe {
            uws_client_request(out.as_mut_ptr(), out.len(), b"h".as_ptr(), 1, 80, 80, b"/".as_ptr(), 1,
                core::ptr::null(), 0, core::ptr::null(), 0, core::ptr::null(), 0, nonce.as_ptr(), key.as_mut_ptr())
        };
        assert!(n > 0);
        assert_eq!(&key, b"dGhlIHNhbXBsZSBub25jZQ==");
        let n = unsafe {
            uws_client_request(out.as_mut_ptr(), out.len(), b"h".as_ptr(), 1, 80, 80, b"/".as_ptr(), 1,
                core::ptr::null(), 0, core::ptr::null(), 0, core::ptr::null(), 0, core::ptr::null(), key.as_mut_ptr())
        };
        assert_eq!(n, 0);
    }
}

#[cfg(test)]
mod logic_tests {
    use super::*;
    use std::vec;

    #[test]
    fn url_spans() {
        let text = b"wss://u%40x:pw@[::1]:8443/a?b#c";
        let mut u = core::mem::MaybeUninit::<uws_url>::uninit();
        assert!(unsafe { uws_url_parse(text.as_ptr(), text.len(), u.as_mut_ptr()) });
        let u = unsafe { u.assume_init() };
        let span = |s: uws_span| &text[s.start as usize..(s.start + s.len) as usize];
        assert_eq!((u.tls, u.port, u.default_port), (true, 8443, 443));
        assert_eq!((span(u.host), span(u.path)), (&b"[::1]"[..], &b"/a?b"[..]));
        assert!(u.has_userinfo);
        let mut out = [0u8; 400];
        let n = unsafe {
            uws_basic_auth(text[6..].as_ptr(), u.user.len as usize, text[12..].as_ptr(), u.password.len as usize, out.as_mut_ptr(), out.len())
        };
        assert_eq!(&out[..n], b"Authorization: Basic dUB4OnB3\r\n");
        let mut bad = core::mem::MaybeUninit::<uws_url>::uninit();
        assert!(!unsafe { uws_url_parse(b"http://x".as_ptr(), 8, bad.as_mut_ptr()) });
        let bad = unsafe { bad.assume_init() };
        assert_eq!(unsafe { core::slice::from_raw_parts(bad.message, bad.message_len) }, url::UrlError::Scheme.message().as_bytes());
    }

    #[test]
    fn http_sizes_and_refusals() {
        let mut out = vec![0u8; 8];
        let needed = unsafe { uws_http_response(200, b"text/html".as_ptr(), 9, core::ptr::null(), 0, 2, out.as_mut_ptr(), out.len()) };
        assert!(needed < UWS_HTTP_INVALID);
        out.resize((-needed - 2) as usize, 0);
        let n = unsafe { uws_http_response(200, b"text/html".as_ptr(), 9, core::ptr::null(), 0, 2, out.as_mut_ptr(), out.len()) };
        assert_eq!(n as usize, out.len());
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert_eq!(unsafe { uws_http_response(99, b"a".as_ptr(), 1, core::ptr::null(), 0, 0, out.as_mut_ptr(), out.len()) }, UWS_HTTP_INVALID);
        let mut line = [0u8; 32];
        assert_eq!(unsafe { uws_http_header_line(b"X".as_ptr(), 1, b"a\nb".as_ptr(), 3, line.as_mut_ptr(), 32) }, UWS_HTTP_INVALID);
        assert!(!unsafe { uws_http_list_item_ok(b"a b".as_ptr(), 3) });
    }

    #[test]
    fn head_reader_and_headers() {
        let head = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\na: 2\r\n\r\n";
        let mut r = core::mem::MaybeUninit::<uws_head_reader>::uninit();
        unsafe { uws_head_init(r.as_mut_ptr(), 1000) };
        let mut r = unsafe { r.assume_init() };
        let mut len = 0;
        let mut state = UWS_HEAD_INCOMPLETE;
        while state == UWS_HEAD_INCOMPLETE {
            let want = unsafe { uws_head_next(&r) };
            state = unsafe { uws_head_feed(&mut r, head[len..].as_ptr(), want) };
            len += want;
        }
        assert_eq!((state, len), (UWS_HEAD_COMPLETE, head.len()));
        let (mut name, mut value) = (vec![0u8; len], vec![0u8; len]);
        let (mut nl, mut vl) = (0, 0);
        assert!(unsafe { uws_request_header(head.as_ptr(), len, 1, name.as_mut_ptr(), &mut nl, value.as_mut_ptr(), &mut vl) });
        assert_eq!((&name[..nl], &value[..vl]), (&b"a"[..], &b"1, 2"[..]));
        assert!(!unsafe { uws_request_header(head.as_ptr(), len, 2, name.as_mut_ptr(), &mut nl, value.as_mut_ptr(), &mut vl) });
    }

    #[test]
    fn keepalive_through_ffi() {
        let mut k = Keepalive::new();
        assert_eq!(unsafe { uws_keepalive_poll(&mut k, 0) }, UWS_KEEPALIVE_OFF);
        assert!(!unsafe { uws_keepalive_set(&mut k, -1, 0, 0) });
        assert!(unsafe { uws_keepalive_set(&mut k, 100, 50, 0) });
        assert_eq!(unsafe { uws_keepalive_poll(&mut k, 40) }, 60);
        assert_eq!(unsafe { uws_keepalive_poll(&mut k, 100) }, UWS_KEEPALIVE_PING);
        assert_eq!(unsafe { uws_keepalive_poll(&mut k, 150) }, UWS_KEEPALIVE_DEAD);
    }

    #[test]
    fn close_reply_through_ffi() {
        let mut mem = std::boxed::Box::new(core::mem::MaybeUninit::<Connection>::uninit());
        assert!(unsafe { uws_conn_init(mem.as_mut_ptr(), true, 0, 0) });
        let c = mem.as_mut_ptr();
        let mut buf = [0u8; UWS_MAX_CONTROL];
        assert_eq!(unsafe { uws_close_reply(c, buf.as_mut_ptr()) }, UWS_TX_CLOSED);
    }
}

// ---------------------------------------------------------------------------
// permessage-deflate (RFC 7692). Everything the shim needs for compression;
// without these calls a connection behaves as before (RSV1 is refused, no
// extension is offered or accepted).
//
// Memory: one block per direction per connection, from the host's heap,
// each `*_size(window_bits)` bytes, 8-byte aligned: the
// decompressor `uws_inflater` (state and window) and the compressor
// `uws_deflater` (state, ring, hash table, tokens). With no context
// takeover in a direction (uws_deflate_params), that block is needed only
// during a message: free it after the message and `*_init` a new one
// before the next.
//
// Negotiation, server:
//   n = uws_deflate_server_accept(head, len, &opts, line, UWS_DEFLATE_LINE, &params);
//   (n > 0: append line[..n], a complete header line, to `extra` of
//   uws_server_handshake; n == 0: compression declined, nothing to add)
//   after the 101: uws_conn_set_deflate(c, &params).
// Negotiation, client:
//   n = uws_deflate_offer(&opts, line, UWS_DEFLATE_LINE): append to `extra`
//   of uws_client_request; check the answer with uws_client_response_deflate
//   (instead of uws_client_response), which fills `params` and sets
//   `*agreed`; when agreed: uws_conn_set_deflate(c, &params).
// Sizes: uws_deflate_rx_bits(&params, server) / uws_deflate_tx_bits(...)
// give the window bits each block is made for and whether it keeps its
// context.
//
// Receiving (into a growing buffer or the caller's fixed buffer):
//   loop { if (uws_rx_needs_inflate(c)) {
//              (allocate and uws_inflater_init the block if not there)
//              ev = uws_rx_inflate(c, inflater, buf + len, cap - len, &n); len += n;
//              (n == 0 and no room left: the message does not fit; a
//              growing buffer grows instead, by uws_rx_inflate_room(c,
//              len, cap), which stops one byte past the message limit)
//          } else { want = uws_rx_want(...) as without compression }
//          act on ev as on every receive event: UWS_EV_TEXT/BINARY end the
//          message (buf[..len] is the inflated message); a negated close
//          code fails the connection (1007 corrupt data, 1009 over the limit) }
//   Compressed payload is read through `*internal` (uws_rx_want /
//   uws_rx_filled) into the core, and inflated from there: it never
//   touches the host's buffer, which receives only inflated bytes.
//   With no context takeover, after UWS_EV_TEXT/BINARY of a compressed
//   message the inflater block may be freed.
//
// Sending a message compressed (data in one piece or several):
//   before each piece, uws_tx_compress(c, text, fin, piece_len, min_size)
//   says whether it goes compressed (1) or as without compression (0);
//   for each piece: r = uws_deflate(d, piece, piece_len, out, out_cap,
//   last_piece, &used, &n); out[..n] holds compressed bytes; piece += used;
//   whenever out is full and more is to come, send it as a frame:
//   hn = uws_tx_compressed_header(c, text, false, n, random, hdr, key)
//   (RSV1 on the first frame only, then Continuation frames), write hdr,
//   mask out[..n] with key (client), write; when r == 1 (done) send the rest
//   with fin = true (possibly an empty frame). A message that fits `out`
//   goes as one frame with fin = true. With no context takeover, free the block after the
//   message (or uws_deflater_init it again).
//   Small messages may be sent uncompressed with uws_tx_data_header as
//   before (RSV1 clear): the receiver then takes them as they are.

use crate::deflate::{self, DeflateState};
use crate::extension::{self, DeflateOptions, DeflateParams};
use crate::inflate::{self, InflateState};

/// Room for one `Sec-WebSocket-Extensions: ...\r\n` line.
pub const UWS_DEFLATE_LINE: usize = 160;
/// `uws_deflate` results.
pub const UWS_DEFLATE_DONE: i32 = 1;
pub const UWS_DEFLATE_MORE: i32 = 0;
pub const UWS_DEFLATE_ERROR: i32 = -1;

const EXTENSIONS_FIELD: &[u8] = b"Sec-WebSocket-Extensions: ";
const _: () = assert!(UWS_DEFLATE_LINE >= EXTENSIONS_FIELD.len() + extension::MAX_VALUE_LEN + 2);

/// Write `Sec-WebSocket-Extensions: <value>\r\n` into `out` (`cap` bytes).
fn extension_line(out: &mut [u8], write: impl FnOnce(&mut [u8]) -> Result<usize, ()>) -> usize {
    let mut value = [0u8; extension::MAX_VALUE_LEN];
    let Ok(n) = write(&mut value) else { return 0 };
    let Some(value) = value.get(..n) else { return 0 };
    let total = EXTENSIONS_FIELD.len() + n + 2;
    let Some(line) = out.get_mut(..total) else { return 0 };
    let (field, rest) = line.split_at_mut(EXTENSIONS_FIELD.len());
    field.copy_from_slice(EXTENSIONS_FIELD);
    let (v, crlf) = rest.split_at_mut(n);
    v.copy_from_slice(value);
    crlf.copy_from_slice(b"\r\n");
    total
}

/// Server side: choose a permessage-deflate offer of the request head
/// `head` (RFC 7692 §5) under `opts`. Writes the response's header line
/// into `out` (UWS_DEFLATE_LINE bytes) and the agreement into `params`;
/// returns the line's length, 0 when compression is declined (or the head
/// does not parse, or an argument is NULL).
#[no_mangle]
pub unsafe extern "C" fn uws_deflate_server_accept(
    head: *const u8,
    len: usize,
    opts: *const DeflateOptions,
    out: *mut u8,
    out_cap: usize,
    params: *mut DeflateParams,
) -> usize {
    if opts.is_null() || params.is_null() {
        return 0;
    }
    // SAFETY: the host passes its options (read only).
    let opts = unsafe { &*opts };
    let Ok(request) = handshake::parse_request(unsafe { bytes(head, len) }) else {
        return 0;
    };
    let Some(agreement) = handshake::negotiate_deflate(&request, opts) else {
        return 0;
    };
    let n = extension_line(unsafe { bytes_mut(out, out_cap) }, |v| agreement.write(v));
    if n > 0 {
        // SAFETY: the host passes a writable uws_deflate_params.
        unsafe { params.write(agreement.params) };
    }
    n
}

/// Client side: write the offer line for `opts` into `out`
/// (UWS_DEFLATE_LINE bytes). Returns its length (0: NULL or no room).
#[no_mangle]
pub unsafe extern "C" fn uws_deflate_offer(opts: *const DeflateOptions, out: *mut u8, out_cap: usize) -> usize {
    if opts.is_null() {
        return 0;
    }
    // SAFETY: the host passes its options.
    let opts = unsafe { &*opts };
    extension_line(unsafe { bytes_mut(out, out_cap) }, |v| extension::write_offer(opts, v))
}

/// `ws.compression`: the agreed `params` as an extension value, every
/// parameter named, into `out` (UWS_DEFLATE_LINE bytes suffice). Returns
/// its length (0 for no `params` or too little room).
#[no_mangle]
pub unsafe extern "C" fn uws_deflate_describe(params: *const DeflateParams, out: *mut u8, out_cap: usize) -> usize {
    if params.is_null() {
        return 0;
    }
    // SAFETY: the host passes its connection's parameters (read only).
    let params = unsafe { *params };
    extension::describe(params, unsafe { bytes_mut(out, out_cap) }).unwrap_or(0)
}

/// Client side, for a request that offered permessage-deflate with
/// `opts`: `uws_client_response` that also accepts the server's
/// permessage-deflate answer. `*agreed` says whether compression is on
/// (then `params` holds the agreement). A server answer the offer does
/// not allow fails the handshake (false, with the message in `result`).
#[no_mangle]
pub unsafe extern "C" fn uws_client_response_deflate(
    head: *const u8,
    len: usize,
    key: *const u8,
    subprotocols: *const u8,
    subprotocols_len: usize,
    opts: *const DeflateOptions,
    result: *mut uws_handshake,
    params: *mut DeflateParams,
    agreed: *mut bool,
) -> bool {
    if params.is_null() || agreed.is_null() {
        return false;
    }
    // SAFETY: writable out-pointers of the host.
    unsafe { agreed.write(false) };
    let opts = if opts.is_null() { None } else { Some(unsafe { &*opts }) };
    let deflate_answer: handshake::ExtensionCheck = handshake::deflate_answer;
    let deflate = unsafe { client_response(head, len, key, subprotocols, subprotocols_len, result, opts, deflate_answer) };
    match deflate {
        Some(Some(p)) => {
            unsafe {
                params.write(p);
                agreed.write(true);
            }
            true
        }
        Some(None) => true,
        None => false,
    }
}

/// Window bits of what this side receives (the peer's compressor) under
/// `params`, and in `*keeps_context` whether its history is kept between
/// messages. `server`: this side is the server.
#[no_mangle]
pub unsafe extern "C" fn uws_deflate_rx_bits(params: *const DeflateParams, server: bool, keeps_context: *mut bool) -> u8 {
    unsafe { window_of(params, keeps_context, |p| p.inflate_bits(server)) }
}

/// One direction's (window bits, context kept) under `params`, the flag
/// stored through `keeps_context`; 0 bits for no parameters.
unsafe fn window_of(params: *const DeflateParams, keeps_context: *mut bool, direction: impl Fn(&DeflateParams) -> (u8, bool)) -> u8 {
    if params.is_null() {
        return 0;
    }
    // SAFETY: the host's agreement.
    let (bits, keep) = direction(unsafe { &*params });
    if !keeps_context.is_null() {
        unsafe { keeps_context.write(keep) };
    }
    bits
}

const _: () = assert!(core::mem::align_of::<InflateState>() <= 8 && core::mem::align_of::<DeflateState>() <= 8);

/// Window bits and context takeover of what this side sends.
#[no_mangle]
pub unsafe extern "C" fn uws_deflate_tx_bits(params: *const DeflateParams, server: bool, keeps_context: *mut bool) -> u8 {
    unsafe { window_of(params, keeps_context, |p| p.deflate_bits(server)) }
}

/// Turn compression on for a connection under `params` (after the
/// handshake agreed on it): RSV1 is then allowed on the first frame of a
/// data message.
#[no_mangle]
pub unsafe extern "C" fn uws_conn_set_deflate(c: *mut Connection, params: *const DeflateParams) {
    let c = unsafe { conn(c) };
    if params.is_null() {
        c.set_compression(false, true);
        return;
    }
    // SAFETY: the host's agreement.
    let (_, keep) = unsafe { &*params }.inflate_bits(c.role() == Role::Server);
    c.set_compression(true, keep);
}

/// Bytes of a decompressor for `window_bits` (8–15): about 2.1 KB of state
/// plus the window, 2^max(bits, 9) bytes.
#[no_mangle]
pub extern "C" fn uws_inflater_size(window_bits: u8) -> usize {
    core::mem::size_of::<InflateState>() + inflate::window_size(window_bits)
}

/// Initialise a decompressor in `mem` (`uws_inflater_size(window_bits)`
/// bytes). False for a NULL or misaligned block.
#[no_mangle]
pub unsafe extern "C" fn uws_inflater_init(mem: *mut InflateState, window_bits: u8) -> bool {
    if mem.is_null() || (mem as usize) % core::mem::align_of::<InflateState>() != 0 {
        return false;
    }
    // SAFETY: checked non-null and aligned; the host gives the size above.
    unsafe { mem.write(InflateState::new(window_bits)) };
    true
}

/// The state and the window that follows it in the block.
unsafe fn inflater<'a>(mem: *mut InflateState) -> Option<(&'a mut InflateState, &'a mut [u8])> {
    if mem.is_null() {
        return None;
    }
    // SAFETY: the host passes a block it initialised with uws_inflater_init
    // (uws_inflater_size bytes): the state, then its window.
    let state = unsafe { &mut *mem };
    let len = state.window_len();
    let window = unsafe { slice::from_raw_parts_mut(mem.add(1) as *mut u8, len) };
    Some((state, window))
}

/// Whether the next receive step is `uws_rx_inflate` (compressed payload
/// or a compressed message's end is waiting in the core); when false, go
/// on with `uws_rx_want`.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_needs_inflate(c: *mut Connection) -> bool {
    unsafe { conn(c) }.needs_inflate()
}

/// Inflate into `out` (`cap` bytes); `*produced` gets the count. Returns a
/// receive event as `uws_rx_filled` does: UWS_EV_TEXT/BINARY when the
/// message is complete, UWS_EV_CONTINUE otherwise, or a negated close code.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_inflate(
    c: *mut Connection,
    inflater_mem: *mut InflateState,
    out: *mut u8,
    cap: usize,
    produced: *mut usize,
) -> i32 {
    let c = unsafe { conn(c) };
    unsafe { write_len(produced, 0) };
    let Some((state, window)) = (unsafe { inflater(inflater_mem) }) else {
        return UWS_EV_CONTINUE;
    };
    match c.inflate(state, window, unsafe { bytes_mut(out, cap) }) {
        Ok(i) => {
            unsafe { write_len(produced, i.produced) };
            event_code(Ok(i.event))
        }
        Err(e) => event_code(Err(e)),
    }
}

/// Bytes of a compressor for `window_bits` (8–15): its state and the work
/// memory (a ring of twice the window, a hash table, a token buffer).
#[no_mangle]
pub extern "C" fn uws_deflater_size(window_bits: u8) -> usize {
    core::mem::size_of::<DeflateState>() + deflate::work_len(window_bits)
}

/// Initialise a compressor in `mem` (`uws_deflater_size(window_bits)`
/// bytes): matches stay within 2^window_bits bytes.
#[no_mangle]
pub unsafe extern "C" fn uws_deflater_init(mem: *mut DeflateState, window_bits: u8) -> bool {
    if mem.is_null() || (mem as usize) % core::mem::align_of::<DeflateState>() != 0 {
        return false;
    }
    // SAFETY: checked non-null and aligned; the host gives the size above.
    unsafe { mem.write(DeflateState::new(window_bits)) };
    true
}

/// Compress the next `len` bytes of a message into `out` (`cap` bytes);
/// `finish`: these are its last bytes. `*consumed` and `*produced` get the
/// counts. Returns UWS_DEFLATE_DONE when the message is complete in the
/// output so far, UWS_DEFLATE_MORE when it needs more room or input (call
/// again with the rest of the input), UWS_DEFLATE_ERROR for a NULL block.
#[no_mangle]
pub unsafe extern "C" fn uws_deflate(
    mem: *mut DeflateState,
    input: *const u8,
    len: usize,
    out: *mut u8,
    cap: usize,
    finish: bool,
    consumed: *mut usize,
    produced: *mut usize,
) -> i32 {
    unsafe {
        write_len(consumed, 0);
        write_len(produced, 0);
    }
    if mem.is_null() {
        return UWS_DEFLATE_ERROR;
    }
    // SAFETY: the host's block from uws_deflater_init: the state, then its
    // work memory.
    let state = unsafe { &mut *mem };
    let work = unsafe { slice::from_raw_parts_mut(mem.add(1) as *mut u8, state.work_len()) };
    match state.deflate(work, unsafe { bytes(input, len) }, unsafe { bytes_mut(out, cap) }, finish) {
        Ok(p) => {
            unsafe {
                write_len(consumed, p.consumed);
                write_len(produced, p.produced);
            }
            if p.done {
                UWS_DEFLATE_DONE
            } else {
                UWS_DEFLATE_MORE
            }
        }
        Err(_) => UWS_DEFLATE_ERROR,
    }
}

/// `uws_tx_data_header` for a compressed message: RSV1 on its first frame
/// (RFC 7692 §6.1), `len` the compressed bytes in this frame.
/// UWS_TX_INVALID when compression is not on.
#[no_mangle]
pub unsafe extern "C" fn uws_tx_compressed_header(
    c: *mut Connection,
    text: bool,
    fin: bool,
    len: u64,
    random: *const u8,
    out: *mut u8,
    key: *mut u8,
) -> i32 {
    unsafe { data_frame_header(c, text, random, out, key, |c, kind, k| c.compressed_data_header(kind, fin, len, k)) }
}

/// Whether the next frame of a message goes compressed: 1 yes (send it
/// with uws_deflate and uws_tx_compressed_header), 0 no (as without
/// compression), or UWS_TX_IN_PROGRESS (a fragmented message of the other
/// type is being sent). `len`: the bytes of this piece (the whole message
/// when `fin`); a message sent whole and shorter than `min_size` goes
/// uncompressed (the `compress_min_size` setting); a message sent in pieces
/// is compressed from its first. Always 0 without permessage-deflate.
#[no_mangle]
pub unsafe extern "C" fn uws_tx_compress(c: *mut Connection, text: bool, fin: bool, len: usize, min_size: usize) -> i32 {
    let kind = if text { MessageKind::Text } else { MessageKind::Binary };
    match unsafe { conn(c) }.compress_next(kind, fin, len, min_size) {
        Ok(compress) => i32::from(compress),
        Err(e) => send_error(e),
    }
}

/// How many bytes of room to give the next `uws_rx_inflate`, the message
/// being inflated into a growing buffer of `alloc` bytes that holds `held`
/// of it (and keeps one byte for a NUL): its spare room, else as much
/// again as it holds (1024 at least), never much past the message limit.
/// Inflating into a fixed buffer, lower it to what that buffer has left.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_inflate_room(c: *mut Connection, held: usize, alloc: usize) -> u64 {
    unsafe { conn(c) }.inflate_room(held, alloc)
}

#[cfg(test)]
mod deflate_tests;
