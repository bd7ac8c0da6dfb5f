//! The C ABI of the core: the only `extern "C"` surface, and the only place
//! raw pointers are turned into references (each after a null and length
//! check). cbindgen turns this file into `uwebsocket_core.h` for the shim.
//!
//! Conventions: functions are prefixed `uws_`; a connection is an opaque
//! `uws_conn` living in memory the host allocates (`uws_conn_size()` bytes,
//! aligned to `uws_conn_align()`); receive calls return an `UWS_EV_*` event
//! (>= 0) or a negated close code (< 0) when the peer broke the protocol.
#![allow(unsafe_code)]
#![allow(clippy::missing_safety_doc)]

use core::slice;

use crate::close::CloseCode;
use crate::connection::{close_payload, Connection, Event, MessageKind, Role, SendError, State, Want};
use crate::frame::{self, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::host;

/// Random bytes from the host's source (masking keys, handshake nonces).
#[cfg(not(test))]
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SAFETY: the hook writes exactly `len` bytes into `buf`, which is valid
    // for writes of N bytes for the duration of the call.
    unsafe { host::uws_host_random(buf.as_mut_ptr(), N) };
    buf
}

/// Tests run without a host: a fixed-seed generator stands in.
#[cfg(test)]
pub(crate) fn random<const N: usize>() -> [u8; N] {
    use core::sync::atomic::{AtomicU32, Ordering};
    static STATE: AtomicU32 = AtomicU32::new(0x9E37_79B9);
    let mut buf = [0u8; N];
    for b in buf.iter_mut() {
        let mut x = STATE.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        STATE.store(x, Ordering::Relaxed);
        *b = x as u8;
    }
    buf
}

/// Hand a panic to the host (see the panic handler in lib.rs).
#[cfg(all(not(test), panic = "abort"))]
pub(crate) fn fatal() -> ! {
    // SAFETY: the hook takes no arguments and never returns.
    unsafe { host::uws_host_fatal() }
}

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

/// `uws_state` values.
pub const UWS_STATE_OPEN: u8 = 0;
pub const UWS_STATE_CLOSE_SENT: u8 = 1;
pub const UWS_STATE_CLOSE_RECEIVED: u8 = 2;
pub const UWS_STATE_FAILED: u8 = 3;
pub const UWS_STATE_CLOSED: u8 = 4;

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

unsafe fn bytes_mut<'a>(ptr: *mut u8, len: usize) -> &'a mut [u8] {
    if ptr.is_null() || len == 0 {
        return &mut [];
    }
    // SAFETY: the host passes a buffer valid for writes of `len` bytes,
    // not aliased during the call.
    unsafe { slice::from_raw_parts_mut(ptr, len) }
}

/// Bytes of memory a connection needs.
#[no_mangle]
pub extern "C" fn uws_conn_size() -> usize {
    core::mem::size_of::<Connection>()
}

/// Alignment a connection's memory needs.
#[no_mangle]
pub extern "C" fn uws_conn_align() -> usize {
    core::mem::align_of::<Connection>()
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
        Want::Nothing => (0, core::ptr::null_mut(), core::ptr::null()),
    };
    // SAFETY: both are valid out-pointers (the host's locals).
    unsafe {
        internal.write(inside);
        buffered.write(ahead);
    }
    len
}

/// How many bytes are read ahead and not yet used (a message may be
/// waiting there although the transport has nothing new).
#[no_mangle]
pub unsafe extern "C" fn uws_rx_buffered(c: *mut Connection) -> usize {
    unsafe { conn(c) }.buffered()
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

/// Report `n` bytes written where `uws_rx_want` pointed `*internal`.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_filled(c: *mut Connection, n: usize) -> i32 {
    let c = unsafe { conn(c) };
    // Never take more than was asked for (nothing to bound for 0: the
    // report that the next header was read ahead, once per small message).
    let n = match n {
        0 => 0,
        _ => match c.want() {
            Want::Internal(buf) => n.min(buf.len()),
            _ => 0,
        },
    };
    event_code(c.filled(n))
}

/// Report `n` payload bytes read into `data` (unmasked in place).
#[no_mangle]
pub unsafe extern "C" fn uws_rx_data(c: *mut Connection, data: *mut u8, n: usize) -> i32 {
    let c = unsafe { conn(c) };
    event_code(c.data_received(unsafe { bytes_mut(data, n) }))
}

/// Whether the message being (or last) received is text.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_is_text(c: *mut Connection) -> bool {
    unsafe { conn(c) }.message_kind() == MessageKind::Text
}

/// Whether a message has been partly received.
#[no_mangle]
pub unsafe extern "C" fn uws_rx_in_message(c: *mut Connection) -> bool {
    unsafe { conn(c) }.in_message()
}

/// The payload of the last control frame received.
#[no_mangle]
pub unsafe extern "C" fn uws_control_payload(c: *mut Connection, len: *mut usize) -> *const u8 {
    let payload = unsafe { conn(c) }.control_payload();
    unsafe { len.write(payload.len()) };
    payload.as_ptr()
}

/// The peer's close code: 0 before its close, 1005 if it sent none.
#[no_mangle]
pub unsafe extern "C" fn uws_close_code(c: *mut Connection) -> u16 {
    unsafe { conn(c) }.close_code().map_or(0, |code| code.0)
}

/// The peer's close reason (UTF-8).
#[no_mangle]
pub unsafe extern "C" fn uws_close_reason(c: *mut Connection, len: *mut usize) -> *const u8 {
    let reason = unsafe { conn(c) }.close_reason();
    unsafe { len.write(reason.len()) };
    reason.as_ptr()
}

/// What failed the connection, as text (not NUL-terminated), or NULL.
#[no_mangle]
pub unsafe extern "C" fn uws_error_message(c: *mut Connection, len: *mut usize) -> *const u8 {
    let message = unsafe { conn(c) }.error().map_or("", |e| e.message());
    unsafe { len.write(message.len()) };
    message.as_ptr()
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

/// Write the header of the next frame into `out` (UWS_MAX_HEADER bytes)
/// and the masking key into `key` (4 bytes; the payload must be masked with
/// it when the key is used, i.e. in the client role — `uws_mask` with a
/// zero key is a no-op in the server role). Returns the header length or
/// a `UWS_TX_*` error.
fn write_header(
    result: Result<frame::FrameHeader, SendError>,
    out: *mut u8,
    key: *mut u8,
) -> i32 {
    let header = match result {
        Ok(h) => h,
        Err(SendError::Closed) => return UWS_TX_CLOSED,
        Err(SendError::MessageInProgress) => return UWS_TX_IN_PROGRESS,
        Err(SendError::InvalidFrame) => return UWS_TX_INVALID,
    };
    if out.is_null() {
        return UWS_TX_INVALID;
    }
    // SAFETY: the host passes UWS_MAX_HEADER writable bytes (and 4 for key).
    let out = unsafe { &mut *(out as *mut [u8; MAX_HEADER_LEN]) };
    unsafe { write_out(key, &header.mask.unwrap_or([0; 4])) };
    header.encode(out) as i32
}

fn mask_key(c: &Connection) -> [u8; 4] {
    match c.role() {
        // §5.3: a fresh, unpredictable key for every frame.
        Role::Client => random(),
        Role::Server => [0; 4],
    }
}

/// Header of a data frame of `len` payload bytes (text or binary; `fin`
/// false to send the message in fragments, later frames continue it).
#[no_mangle]
pub unsafe extern "C" fn uws_tx_data_header(
    c: *mut Connection,
    text: bool,
    fin: bool,
    len: u64,
    out: *mut u8,
    key: *mut u8,
) -> i32 {
    let c = unsafe { conn(c) };
    let kind = if text { MessageKind::Text } else { MessageKind::Binary };
    let k = mask_key(c);
    write_header(c.data_header(kind, fin, len, k), out, key)
}

/// Header of a control frame (`UWS_OP_PING`, `UWS_OP_PONG`, `UWS_OP_CLOSE`).
#[no_mangle]
pub unsafe extern "C" fn uws_tx_control_header(
    c: *mut Connection,
    opcode: u8,
    len: usize,
    out: *mut u8,
    key: *mut u8,
) -> i32 {
    let c = unsafe { conn(c) };
    let Some(opcode) = OpCode::from_u8(opcode) else {
        return UWS_TX_INVALID;
    };
    let k = mask_key(c);
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

/// Mask (or unmask) `len` bytes in place with `key`, `offset` bytes into the
/// payload.
#[no_mangle]
pub unsafe extern "C" fn uws_mask(buf: *mut u8, len: usize, key: *const u8, offset: usize) {
    let k = unsafe { bytes(key, 4) };
    if let [a, b, c, d] = *k {
        if [a, b, c, d] != [0; 4] {
            frame::apply_mask(unsafe { bytes_mut(buf, len) }, [a, b, c, d], offset);
        }
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

// ---------------------------------------------------------------------------
// The opening handshake (§4). Positions in the caller's buffers are given as
// spans (offset, length) so that the shim can make Python objects from them.

use crate::handshake::{self, HandshakeError};

/// Most headers a request may have (more: 431).
pub const UWS_MAX_HEADERS: usize = 32;
/// Length of a Sec-WebSocket-Key.
pub const UWS_KEY_LEN: usize = 24;

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
    *result = uws_handshake {
        status: 101,
        protocol: uws_span::default(),
        message: core::ptr::null(),
        message_len: 0,
        response_len: 0,
    };
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

/// Client side: write the upgrade request into `out` with a fresh key,
/// which is also copied to `key_out` (UWS_KEY_LEN bytes) for checking the
/// answer. `origin` NULL for none. Returns the request length, 0 when `out`
/// is too small.
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
    key_out: *mut u8,
) -> usize {
    let key = handshake::client_key(&random());
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
/// the subprotocols offered. Returns true when the connection is open.
#[no_mangle]
pub unsafe extern "C" fn uws_client_response(
    head: *const u8,
    len: usize,
    key: *const u8,
    subprotocols: *const u8,
    subprotocols_len: usize,
    result: *mut uws_handshake,
) -> bool {
    let head = unsafe { bytes(head, len) };
    let offered = unsafe { bytes(subprotocols, subprotocols_len) };
    let result = unsafe { &mut *result };
    *result = uws_handshake {
        status: 0,
        protocol: uws_span::default(),
        message: core::ptr::null(),
        message_len: 0,
        response_len: 0,
    };
    let Ok(key) = <&[u8; UWS_KEY_LEN]>::try_from(unsafe { bytes(key, UWS_KEY_LEN) }) else {
        return false;
    };
    let response = match handshake::parse_response(head) {
        Ok(r) => r,
        Err(e) => {
            result.fail(0, e);
            return false;
        }
    };
    result.status = response.status;
    match handshake::validate_response(&response, key, offered) {
        Ok(protocol) => {
            result.protocol = protocol.map_or(uws_span::default(), |p| uws_span::of(head, p));
            true
        }
        Err(e) => {
            result.fail(response.status, e);
            false
        }
    }
}
