/*
 * uwebsocket: RFC 6455 WebSockets for MicroPython.
 *
 * This file is the shim between MicroPython and the protocol core (Rust,
 * src/): it moves bytes between MicroPython streams and the buffers the core
 * points at, allocates the objects a script gets back, and raises
 * exceptions. It holds no protocol logic: what a frame means, when a close
 * is owed, which close code an error maps to, is the core's decision
 * (uwebsocket_core.h, generated from src/ffi.rs).
 */
#include <string.h>

#include "py/runtime.h"
#include "py/stream.h"
#include "py/objstr.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/objexcept.h"
#include "py/unicode.h"

#include "uwebsocket_core.h"

#ifndef MICROPY_PY_UWEBSOCKET_MAX_SIZE
// Default limit for one message (bytes); a script raises it with max_size=.
#define MICROPY_PY_UWEBSOCKET_MAX_SIZE (65536)
#endif
#ifndef MICROPY_PY_UWEBSOCKET_MAX_HEAD
// Largest HTTP request/response head accepted in a handshake (431 beyond).
#define MICROPY_PY_UWEBSOCKET_MAX_HEAD (4096)
#endif
// Frames up to this size are built on the C stack and written in one call.
#define UWS_STACK_FRAME (256)
// How long close() waits for the peer's Close when the stream blocks (ms).
#define UWS_CLOSE_TIMEOUT_MS (2000)
// How long a write may stay stuck on a full non-blocking socket (ms).
#define UWS_WRITE_TIMEOUT_MS (10000)
// Non-blocking mode: send() raises EAGAIN while this much waits unsent.
#define UWS_TX_HIGH_WATER (16 * 1024)

/******************************************************************************/
// Random bytes for the core, drawn before calling it (a Python exception
// must never unwind through Rust frames).

// Fill `pool` from the port's entropy: the C-level source where the port
// has one, else os.urandom (the hardware RNG on most boards), else
// random.getrandbits.
static void uws_fill_random(byte *pool, size_t len) {
    #if defined(__unix__) || defined(__APPLE__)
    mp_hal_get_random(len, pool);
    #else
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t os = mp_import_name(MP_QSTR_os, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t bytes = mp_call_function_1(mp_load_attr(os, MP_QSTR_urandom), MP_OBJ_NEW_SMALL_INT(len));
        mp_buffer_info_t bufinfo;
        mp_get_buffer_raise(bytes, &bufinfo, MP_BUFFER_READ);
        memcpy(pool, bufinfo.buf, MIN(len, bufinfo.len));
        nlr_pop();
    } else {
        mp_obj_t random = mp_import_name(MP_QSTR_random, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t getrandbits = mp_load_attr(random, MP_QSTR_getrandbits);
        for (size_t i = 0; i < len; i += 4) {
            mp_uint_t r = mp_obj_get_int_truncated(mp_call_function_1(getrandbits, MP_OBJ_NEW_SMALL_INT(32)));
            memcpy(pool + i, &r, MIN(4, len - i));
        }
    }
    #endif
}

// A fresh masking key per client frame (§5.3) and a handshake nonce per
// connection. Drawing them from a pool refilled 64 bytes at a time
// keeps the entropy source's cost (a system call on unix, a call into
// Python elsewhere) off all but one frame in sixteen.
static void uws_random(uint8_t *buf, size_t len) {
    static byte pool[64];
    static size_t pool_used = sizeof(pool);
    while (len > 0) {
        if (pool_used == sizeof(pool)) {
            uws_fill_random(pool, sizeof(pool));
            pool_used = 0;
        }
        size_t n = MIN(len, sizeof(pool) - pool_used);
        memcpy(buf, pool + pool_used, n);
        pool_used += n;
        buf += n;
        len -= n;
    }
}

/******************************************************************************/
// Exceptions.

// ConnectionClosed(code, reason): the connection is closed, by either side
// or by a protocol error; .code and .reason say how.
// HandshakeError(status, message): the opening handshake failed; .status is
// the HTTP status answered (server) or received (client).
static void uws_exception_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] == MP_OBJ_NULL) {
        mp_obj_exception_t *self = MP_OBJ_TO_PTR(self_in);
        size_t index = (attr == MP_QSTR_code || attr == MP_QSTR_status) ? 0
            : (attr == MP_QSTR_reason || attr == MP_QSTR_message) ? 1 : 2;
        if (index < 2) {
            dest[0] = index < self->args->len ? self->args->items[index] : mp_const_none;
            return;
        }
    }
    mp_obj_exception_attr(self_in, attr, dest);
}

static MP_DEFINE_CONST_OBJ_TYPE(
    uws_type_ConnectionClosed, MP_QSTR_ConnectionClosed, MP_TYPE_FLAG_NONE,
    make_new, mp_obj_exception_make_new,
    print, mp_obj_exception_print,
    attr, uws_exception_attr,
    parent, &mp_type_Exception
    );

static MP_DEFINE_CONST_OBJ_TYPE(
    uws_type_HandshakeError, MP_QSTR_HandshakeError, MP_TYPE_FLAG_NONE,
    make_new, mp_obj_exception_make_new,
    print, mp_obj_exception_print,
    attr, uws_exception_attr,
    parent, &mp_type_Exception
    );

static NORETURN void uws_raise(const mp_obj_type_t *type, mp_int_t number, const byte *text, size_t len) {
    mp_obj_t args[2] = { MP_OBJ_NEW_SMALL_INT(number), mp_obj_new_str((const char *)text, len) };
    nlr_raise(mp_obj_new_exception_args(type, 2, args));
}

/******************************************************************************/
// Stream helpers.

// Read up to len bytes. Returns the count (0 at end of stream), or -1 when a
// non-blocking stream has nothing now. Other errors raise OSError; the
// connection state is untouched, so a timed-out read can be retried.
static mp_int_t uws_read_some(mp_obj_t stream, byte *buf, size_t len) {
    const mp_stream_p_t *p = mp_get_stream(stream);
    int err;
    mp_uint_t n = p->read(stream, buf, len, &err);
    if (n == MP_STREAM_ERROR) {
        if (mp_is_nonblocking_error(err)) {
            return -1;
        }
        mp_raise_OSError(err);
    }
    return n;
}

// Write all of buf, waiting out a full non-blocking socket (bounded).
static void uws_write_all(mp_obj_t stream, const byte *buf, size_t len) {
    const mp_stream_p_t *p = mp_get_stream(stream);
    mp_uint_t waited = 0;
    while (len > 0) {
        int err;
        mp_uint_t n = p->write(stream, buf, len, &err);
        if (n == MP_STREAM_ERROR) {
            if (!mp_is_nonblocking_error(err) || waited >= UWS_WRITE_TIMEOUT_MS) {
                mp_raise_OSError(mp_is_nonblocking_error(err) ? MP_ETIMEDOUT : err);
            }
            mp_hal_delay_ms(1);
            waited += 1;
            continue;
        }
        buf += n;
        len -= n;
    }
}

static void uws_stream_close(mp_obj_t stream) {
    const mp_stream_p_t *p = mp_get_stream(stream);
    int err;
    p->ioctl(stream, MP_STREAM_CLOSE, 0, &err);
}

// Read an HTTP head (up to and including the blank line) without reading a
// byte past it: frames may follow at once. Reads at most as many bytes as
// could still belong to the terminator, so never overshoots. Returns false
// when the head is longer than max (the caller answers 431).
static bool uws_read_head(mp_obj_t stream, vstr_t *head, size_t max) {
    static const char terminator[] = "\r\n\r\n";
    size_t matched = 0;
    while (matched < 4) {
        if (head->len >= max) {
            return false;
        }
        size_t want = MIN(4 - matched, max - head->len);
        byte *dst = (byte *)vstr_add_len(head, want);
        mp_int_t n = uws_read_some(stream, dst, want);
        if (n <= 0) {
            head->len -= want;
            // A non-blocking socket with nothing yet: wait briefly. Heads
            // arrive within one round trip; the stream's own timeout bounds
            // blocking reads.
            if (n == -1) {
                mp_hal_delay_ms(1);
                continue;
            }
            mp_raise_OSError(MP_ECONNRESET);
        }
        head->len -= want - n;
        for (mp_int_t i = 0; i < n; ++i) {
            char c = dst[i];
            matched = c == terminator[matched] ? matched + 1 : (c == '\r' ? 1 : 0);
        }
    }
    return true;
}

/******************************************************************************/
// The WebSocket type.

typedef struct _uws_tx_queue_t {
    size_t len;
    size_t alloc;
    byte data[];
} uws_tx_queue_t;

typedef struct _mp_obj_websocket_t {
    mp_obj_base_t base;
    mp_obj_t stream;
    // From the handshake, a tuple (path, headers, subprotocol): the request
    // path, its headers (a dict with lower-case names), the negotiated
    // subprotocol. None for a wrapped stream. One slot, not three: an idle
    // connection's RAM counts on a microcontroller.
    mp_obj_t handshake;
    // The message recv() is assembling (kept across non-blocking calls).
    byte *msg_buf;
    size_t msg_len;
    size_t msg_alloc;
    // Keepalive (0: off): ping after ping_interval ms without traffic,
    // fail with 1011 when no answer comes within ping_timeout ms. last_rx
    // is when bytes last came, or when the outstanding ping went out.
    mp_uint_t ping_interval;
    mp_uint_t ping_timeout;
    mp_uint_t last_rx;
    // Non-blocking mode (setblocking(False)): what the stream did not take
    // yet, written before anything else (NULL when nothing waits).
    struct _uws_tx_queue_t *tx;
    uint16_t close_code;
    // The small fields together: 240 bytes in all on a 32-bit port (15
    // GC blocks), the connection state included.
    bool ping_outstanding;
    bool stream_closed;
    bool more;
    bool queue_writes;
    // The core's connection state (uws_conn_size() bytes), 8-byte aligned.
    uint64_t conn[];
} mp_obj_websocket_t;

#define CONN(self) ((uws_conn *)(self)->conn)

static void uws_close_stream(mp_obj_websocket_t *self);
static mp_obj_t uws_call_method(mp_obj_t obj, qstr name, size_t n_args, const mp_obj_t *args);

static const mp_obj_type_t uws_type_WebSocket;

static mp_obj_websocket_t *uws_new(mp_obj_t stream, bool server, mp_int_t max_size) {
    mp_get_stream_raise(stream, MP_STREAM_OP_READ | MP_STREAM_OP_WRITE | MP_STREAM_OP_IOCTL);
    if (max_size < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("max_size must be >= 0"));
    }
    size_t words = (uws_conn_size() + sizeof(uint64_t) - 1) / sizeof(uint64_t);
    mp_obj_websocket_t *self = mp_obj_malloc_var(mp_obj_websocket_t, conn, uint64_t, words, &uws_type_WebSocket);
    self->stream = stream;
    self->handshake = mp_const_none;
    self->msg_buf = NULL;
    self->msg_len = 0;
    self->msg_alloc = 0;
    self->ping_interval = 0;
    self->ping_timeout = 0;
    self->last_rx = mp_hal_ticks_ms();
    self->ping_outstanding = false;
    self->close_code = 0;
    self->stream_closed = false;
    self->more = false;
    self->tx = NULL;
    self->queue_writes = false;
    if (!uws_conn_init(CONN(self), server, max_size, 0)) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("uwebsocket: misaligned connection"));
    }
    return self;
}

static void uws_drop_message(mp_obj_websocket_t *self) {
    m_del(byte, self->msg_buf, self->msg_alloc);
    self->msg_buf = NULL;
    self->msg_len = 0;
    self->msg_alloc = 0;
}

// Write what the stream takes now without waiting; returns the count.
static size_t uws_write_some(mp_obj_t stream, const byte *buf, size_t len) {
    const mp_stream_p_t *p = mp_get_stream(stream);
    size_t done = 0;
    while (done < len) {
        int err;
        mp_uint_t n = p->write(stream, buf + done, len - done, &err);
        if (n == MP_STREAM_ERROR) {
            if (mp_is_nonblocking_error(err)) {
                break;
            }
            mp_raise_OSError(err);
        }
        done += n;
    }
    return done;
}

static void uws_drop_tx(mp_obj_websocket_t *self) {
    if (self->tx != NULL) {
        m_del(byte, (byte *)self->tx, sizeof(uws_tx_queue_t) + self->tx->alloc);
        self->tx = NULL;
    }
}

// Write queued bytes the stream now takes; returns how many still wait.
static size_t uws_flush_tx(mp_obj_websocket_t *self) {
    uws_tx_queue_t *q = self->tx;
    if (q == NULL || self->stream_closed) {
        return 0;
    }
    size_t n = uws_write_some(self->stream, q->data, q->len);
    if (n == q->len) {
        uws_drop_tx(self);
        return 0;
    }
    memmove(q->data, q->data + n, q->len - n);
    q->len -= n;
    return q->len;
}

// Write bytes of a frame. Blocking mode: all of them, or OSError (a full
// non-blocking stream is waited out, bounded). Non-blocking mode: what the
// stream takes, the rest queued for flush(), in order. A frame is never
// left half-sent silently: if the rest cannot be queued (no memory), the
// connection is closed (1006) and MemoryError raised.
static void uws_write(mp_obj_websocket_t *self, const byte *buf, size_t len) {
    if (!self->queue_writes) {
        uws_write_all(self->stream, buf, len);
        return;
    }
    size_t n = uws_flush_tx(self) ? 0 : uws_write_some(self->stream, buf, len);
    if (n == len) {
        return;
    }
    size_t queued = self->tx ? self->tx->len : 0;
    size_t need = queued + len - n;
    if (self->tx == NULL || need > self->tx->alloc) {
        size_t alloc = MAX(need, 2 * queued);
        uws_tx_queue_t *q = (uws_tx_queue_t *)(self->tx
            ? m_renew_maybe(byte, (byte *)self->tx, sizeof(uws_tx_queue_t) + self->tx->alloc, sizeof(uws_tx_queue_t) + alloc, true)
            : m_new_maybe(byte, sizeof(uws_tx_queue_t) + alloc));
        if (q == NULL) {
            uws_drop_tx(self);
            self->close_code = 1006;
            uws_close_stream(self);
            mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("no memory to queue a frame"));
        }
        q->len = queued;
        q->alloc = alloc;
        self->tx = q;
    }
    memcpy(self->tx->data + queued, buf + n, len - n);
    self->tx->len = need;
}

// Send one frame: header and payload in one write where memory allows, so
// small messages never meet Nagle's algorithm as two segments. In the
// client role the payload is masked on its way out (the caller's data is
// not modified).
static void uws_write_frame(mp_obj_websocket_t *self, const byte *header, size_t header_len,
    const byte *key, const byte *payload, size_t len) {
    size_t total = header_len + len;
    byte stack[UWS_STACK_FRAME];
    byte *frame = total <= sizeof(stack) ? stack : m_new_maybe(byte, total);
    if (frame != NULL) {
        memcpy(frame, header, header_len);
        uws_mask_copy(frame + header_len, payload, len, key, 0);
        uws_write(self, frame, total);
        if (frame != stack) {
            m_del(byte, frame, total);
        }
        return;
    }
    // Out of memory for one buffer: header first, then the payload in
    // stack-sized pieces.
    uws_write(self, header, header_len);
    for (size_t done = 0; done < len;) {
        size_t n = MIN(sizeof(stack), len - done);
        uws_mask_copy(stack, payload + done, n, key, done);
        uws_write(self, stack, n);
        done += n;
    }
}

static void uws_send_control(mp_obj_websocket_t *self, uint8_t opcode, const byte *payload, size_t len) {
    byte header[UWS_MAX_HEADER];
    byte key[4];
    uws_random(key, uws_tx_random_len(CONN(self)));
    int32_t n = uws_tx_control_header(CONN(self), opcode, len, key, header, key);
    if (n == UWS_TX_CLOSED) {
        uws_raise(&uws_type_ConnectionClosed, self->close_code ? self->close_code : 1006,
            (const byte *)"connection is closed", 20);
    } else if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("control payload longer than 125 bytes"));
    }
    uws_write_frame(self, header, n, key, payload, len);
}

static void uws_close_stream(mp_obj_websocket_t *self) {
    uws_drop_tx(self);
    if (!self->stream_closed) {
        self->stream_closed = true;
        uws_transport_closed(CONN(self));
        uws_stream_close(self->stream);
    }
}

// Read and drop what the peer has already sent (the rest of a bad frame),
// without waiting for more. Closing a TCP socket with unread bytes makes it
// send a reset instead of a FIN, and a reset can make the peer's TCP drop
// our Close frame before its application reads it (§7.1.1 wants the peer
// to see the close). Bounded, so a peer that floods cannot hold us here.
static void uws_discard_pending_input(mp_obj_websocket_t *self) {
    const mp_stream_p_t *p = mp_get_stream(self->stream);
    if (self->stream_closed || p->ioctl == NULL) {
        return;
    }
    byte scratch[128];
    for (size_t budget = 64 * 1024; budget > 0;) {
        int err;
        mp_uint_t ready = p->ioctl(self->stream, MP_STREAM_POLL, MP_STREAM_POLL_RD, &err);
        if (ready == MP_STREAM_ERROR || !(ready & MP_STREAM_POLL_RD)) {
            return;
        }
        mp_uint_t n = p->read(self->stream, scratch, MIN(sizeof(scratch), budget), &err);
        if (n == MP_STREAM_ERROR || n == 0) {
            return;
        }
        budget -= n;
    }
}

// Send our Close frame, ignoring a transport that already failed (the
// close is then abnormal anyway).
static void uws_send_close_quietly(mp_obj_websocket_t *self, uint16_t code, const byte *reason, size_t reason_len) {
    byte payload[UWS_MAX_CONTROL];
    int32_t n = uws_close_payload(code, reason, reason_len, payload);
    if (n < 0) {
        n = uws_close_payload(code, NULL, 0, payload);
    }
    if (n < 0) {
        return;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        uws_send_control(self, UWS_OP_CLOSE, payload, n);
        nlr_pop();
    }
}

// The connection has ended: raise ConnectionClosed with what ended it.
static NORETURN void uws_raise_closed(mp_obj_websocket_t *self) {
    size_t len = 0;
    const uint8_t *reason = NULL;
    mp_int_t code = self->close_code;
    if (code == 0) {
        code = uws_close_code(CONN(self));
        reason = uws_close_reason(CONN(self), &len);
        if (code == 0) {
            code = 1006;
            reason = (const uint8_t *)"connection lost";
            len = 15;
        }
    } else {
        reason = uws_error_message(CONN(self), &len);
    }
    uws_raise(&uws_type_ConnectionClosed, code, reason, len);
}

// Act on an event that is not a message: answer pings, finish closes, fail
// on errors. Returns normally for pings and pongs.
static void uws_handle_control(mp_obj_websocket_t *self, int32_t event) {
    size_t len;
    const uint8_t *payload;
    switch (event) {
        case UWS_EV_PING:
            // §5.5.2: answer with a Pong carrying the same payload.
            payload = uws_control_payload(CONN(self), &len);
            if (uws_state(CONN(self)) == UWS_STATE_OPEN) {
                uws_send_control(self, UWS_OP_PONG, payload, len);
            }
            return;
        case UWS_EV_PONG:
            return;
        case UWS_EV_CLOSE:
            if (uws_state(CONN(self)) == UWS_STATE_CLOSE_RECEIVED) {
                // §5.5.1: echo the peer's code in our Close.
                uint16_t code = uws_close_code(CONN(self));
                uws_send_close_quietly(self, code == 1005 ? 1000 : code, NULL, 0);
            }
            uws_close_stream(self);
            uws_raise_closed(self);
        default:
            // A protocol error: fail the connection with the core's code.
            self->close_code = -event;
            if (uws_state(CONN(self)) == UWS_STATE_FAILED) {
                size_t mlen;
                const uint8_t *message = uws_error_message(CONN(self), &mlen);
                uws_send_close_quietly(self, -event, message, mlen);
            }
            uws_discard_pending_input(self);
            uws_close_stream(self);
            uws_raise_closed(self);
    }
}

// Make room for `want` more payload bytes in the message buffer. Over the
// memory there is, the connection fails with 1009 rather than leaving the
// interpreter with a half-read frame.
static byte *uws_message_space(mp_obj_websocket_t *self, size_t want) {
    size_t need = self->msg_len + want + 1; // +1: str/bytes objects end in NUL
    if (need > self->msg_alloc) {
        byte *buf = m_renew_maybe(byte, self->msg_buf, self->msg_alloc, need, true);
        if (buf == NULL) {
            uws_drop_message(self);
            self->close_code = 1009;
            uws_send_close_quietly(self, 1009, (const byte *)"out of memory", 13);
            uws_close_stream(self);
            mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("message too big for memory"));
        }
        self->msg_buf = buf;
        self->msg_alloc = need;
    }
    return self->msg_buf + self->msg_len;
}

// Keepalive without threads: called before every read, and by
// ws.keepalive() from poll/asyncio loops. Pings a quiet peer; fails the
// connection with 1011 when the ping goes unanswered. Returns how many ms
// until the next check is due (-1: keepalive off).
static mp_int_t uws_keepalive_check(mp_obj_websocket_t *self) {
    if (self->ping_interval == 0 || uws_state(CONN(self)) != UWS_STATE_OPEN) {
        return -1;
    }
    mp_uint_t now = mp_hal_ticks_ms();
    if (self->ping_outstanding) {
        mp_uint_t waited = now - self->last_rx;
        if (waited < self->ping_timeout) {
            return self->ping_timeout - waited;
        }
        self->close_code = 1011;
        uws_send_close_quietly(self, 1011, (const byte *)"keepalive timeout", 17);
        uws_close_stream(self);
        uws_raise(&uws_type_ConnectionClosed, 1011, (const byte *)"keepalive timeout", 17);
    }
    mp_uint_t quiet = now - self->last_rx;
    if (quiet < self->ping_interval) {
        return self->ping_interval - quiet;
    }
    uws_send_control(self, UWS_OP_PING, NULL, 0);
    self->ping_outstanding = true;
    self->last_rx = now;
    return self->ping_timeout;
}

// Any bytes from the peer show it is alive.
static inline void uws_peer_alive(mp_obj_websocket_t *self) {
    if (self->ping_interval) {
        self->last_rx = mp_hal_ticks_ms();
        self->ping_outstanding = false;
    }
}

// keepalive(interval=None, timeout=None): with arguments, set the ping
// interval and timeout (seconds, 0 = off); always run the check and return
// the ms until the next one is due (None when off).
static mp_obj_t uws_keepalive(size_t n_args, const mp_obj_t *args) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(args[0]);
    if (n_args > 1) {
        mp_float_t interval = mp_obj_get_float(args[1]);
        mp_float_t timeout = n_args > 2 ? mp_obj_get_float(args[2]) : interval;
        if (interval < 0 || timeout < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("keepalive times must be >= 0"));
        }
        self->ping_interval = (mp_uint_t)(interval * 1000);
        self->ping_timeout = timeout > 0 ? (mp_uint_t)(timeout * 1000) : self->ping_interval;
        self->last_rx = mp_hal_ticks_ms();
        self->ping_outstanding = false;
    }
    mp_int_t due = uws_keepalive_check(self);
    return due < 0 ? mp_const_none : MP_OBJ_NEW_SMALL_INT(due);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(uws_keepalive_obj, 1, 3, uws_keepalive);

// The largest payload read asked of a stream at once.
#define UWS_READ_CHUNK ((uint64_t)0x7fffffff)

// What a receive step returns besides the core's events (UWS_EV_*, or a
// negative close code).
#define UWS_RX_AGAIN (100)   // a non-blocking stream has nothing now
#define UWS_RX_NO_ROOM (101) // the caller's buffer is full

// Where the next payload bytes go: lowers *want to what fits there;
// NULL when nothing fits.
typedef byte *(*uws_room_fn)(mp_obj_websocket_t *self, void *ctx, uint64_t *want);

// One step of receiving, shared by recv() and recv_into(): do what the
// core wants next (parse bytes it read ahead, copy payload it read ahead,
// or read from the stream) and return the event that came of it. Payload
// goes where `room` says; *payload is set to how much arrived.
static inline MP_ALWAYSINLINE int32_t uws_rx_step(mp_obj_websocket_t *self, uws_room_fn room, void *ctx, size_t *payload) {
    *payload = 0;
    uint8_t *internal;
    const uint8_t *buffered;
    uint64_t want = uws_rx_want(CONN(self), &internal, &buffered);
    if (want == 0 && internal == NULL) {
        uws_raise_closed(self);
    }
    if (want == 0) {
        // The next header was read ahead.
        return uws_rx_filled(CONN(self), 0);
    }
    byte *dst = internal;
    if (dst == NULL && (dst = room(self, ctx, &want)) == NULL) {
        return UWS_RX_NO_ROOM;
    }
    mp_int_t n;
    if (buffered != NULL) {
        memcpy(dst, buffered, want);
        n = want;
    } else {
        if (self->ping_interval) {
            uws_keepalive_check(self);
        }
        n = uws_read_some(self->stream, dst, want);
        if (n < 0) {
            return UWS_RX_AGAIN;
        }
        uws_peer_alive(self);
        if (n == 0) {
            uws_drop_message(self);
            uws_close_stream(self);
            uws_raise_closed(self);
        }
    }
    if (internal != NULL) {
        return uws_rx_filled(CONN(self), n);
    }
    *payload = n;
    return uws_rx_data(CONN(self), dst, n);
}

// recv()'s room: the message buffer, grown as payload comes.
static byte *uws_room_message(mp_obj_websocket_t *self, void *ctx, uint64_t *want) {
    (void)ctx;
    *want = MIN(*want, UWS_READ_CHUNK);
    return uws_message_space(self, *want);
}

// recv(): the next whole message as str (text) or bytes (binary); None from
// a non-blocking stream until a whole message has arrived.
static mp_obj_t uws_recv(mp_obj_t self_in) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    for (;;) {
        size_t n;
        int32_t event = uws_rx_step(self, uws_room_message, NULL, &n);
        self->msg_len += n;
        if (event == UWS_EV_CONTINUE) {
            continue;
        }
        if (event == UWS_RX_AGAIN) {
            return mp_const_none;
        }
        if (event == UWS_EV_TEXT || event == UWS_EV_BINARY) {
            // Hand the buffer over to the new object (no copy); the core
            // has validated text as UTF-8 already.
            vstr_t vstr = { .alloc = self->msg_alloc, .len = self->msg_len, .buf = (char *)self->msg_buf, .fixed_buf = false };
            if (vstr.buf == NULL) {
                vstr_init(&vstr, 1);
            }
            self->msg_buf = NULL;
            self->msg_len = 0;
            self->msg_alloc = 0;
            return event == UWS_EV_TEXT ? mp_obj_new_str_from_utf8_vstr(&vstr) : mp_obj_new_bytes_from_vstr(&vstr);
        }
        if (event < 0) {
            uws_drop_message(self);
        }
        uws_handle_control(self, event);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_1(uws_recv_obj, uws_recv);

// recv_into()'s room: the rest of the caller's buffer.
typedef struct {
    byte *buf;
    size_t size;
    size_t pos;
} uws_span_t;

static byte *uws_room_span(mp_obj_websocket_t *self, void *ctx, uint64_t *want) {
    (void)self;
    uws_span_t *span = ctx;
    if (span->pos == span->size) {
        return NULL;
    }
    *want = MIN(*want, (uint64_t)(span->size - span->pos));
    return span->buf + span->pos;
}

// recv_into(buf): copy the next message's payload into buf without
// allocating. Returns the number of bytes written; when the message is
// longer than buf, .more is True and the next call continues it. None from
// a non-blocking stream with nothing new.
static mp_int_t uws_recv_into_buf(mp_obj_websocket_t *self, byte *buf, size_t size) {
    uws_span_t span = { buf, size, 0 };
    for (;;) {
        size_t n;
        int32_t event = uws_rx_step(self, uws_room_span, &span, &n);
        span.pos += n;
        if (event == UWS_EV_CONTINUE) {
            continue;
        }
        if (event == UWS_RX_NO_ROOM) {
            self->more = true;
            return span.pos;
        }
        if (event == UWS_RX_AGAIN) {
            self->more = span.pos > 0;
            return span.pos > 0 ? (mp_int_t)span.pos : -1;
        }
        if (event == UWS_EV_TEXT || event == UWS_EV_BINARY) {
            self->more = false;
            return span.pos;
        }
        uws_handle_control(self, event);
    }
}

static mp_obj_t uws_recv_into(mp_obj_t self_in, mp_obj_t buf_in) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->msg_len > 0) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("recv() has a partial message pending"));
    }
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(buf_in, &bufinfo, MP_BUFFER_WRITE);
    mp_int_t n = uws_recv_into_buf(self, bufinfo.buf, bufinfo.len);
    return n < 0 ? mp_const_none : MP_OBJ_NEW_SMALL_INT(n);
}
static MP_DEFINE_CONST_FUN_OBJ_2(uws_recv_into_obj, uws_recv_into);

static void uws_send_data(mp_obj_websocket_t *self, bool text, bool fin, const byte *data, size_t len) {
    // Non-blocking mode: over the high-water mark, refuse before anything
    // is sent (the caller flushes and retries), so a peer that does not
    // read cannot make us queue without end.
    if (self->tx != NULL && uws_flush_tx(self) >= UWS_TX_HIGH_WATER) {
        mp_raise_OSError(MP_EAGAIN);
    }
    byte header[UWS_MAX_HEADER];
    byte key[4];
    uws_random(key, uws_tx_random_len(CONN(self)));
    int32_t n = uws_tx_data_header(CONN(self), text, fin, len, key, header, key);
    if (n == UWS_TX_IN_PROGRESS) {
        mp_raise_ValueError(MP_ERROR_TEXT("a fragmented message of the other type is being sent"));
    } else if (n < 0) {
        uws_raise_closed(self);
    }
    uws_write_frame(self, header, n, key, data, len);
}

// send(data, fin=True): str is sent as a text message, any other buffer as
// binary. fin=False sends a fragment: the message continues with the next
// send() calls (of the same type) until one with fin=True.
static mp_obj_t uws_send(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_data, ARG_fin };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_fin, MP_ARG_BOOL, {.u_bool = true} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    mp_obj_t data = args[ARG_data].u_obj;
    bool text = mp_obj_is_str(data);
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(data, &bufinfo, MP_BUFFER_READ);
    uws_send_data(self, text, args[ARG_fin].u_bool, bufinfo.buf, bufinfo.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_send_obj, 2, uws_send);

// ping(data=b""): send a Ping (at most 125 bytes); the Pong is absorbed by
// recv().
static mp_obj_t uws_ping(size_t n_args, const mp_obj_t *args) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t bufinfo = { .buf = NULL, .len = 0 };
    if (n_args > 1) {
        mp_get_buffer_raise(args[1], &bufinfo, MP_BUFFER_READ);
    }
    uws_send_control(self, UWS_OP_PING, bufinfo.buf, bufinfo.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(uws_ping_obj, 1, 2, uws_ping);

// Wait (bounded) for the peer's Close after ours, discarding messages. A
// non-blocking stream is not waited on: its owner (an event loop) must not
// stall, and the server side may close the TCP connection first (§7.1.1).
static void uws_await_close(mp_obj_websocket_t *self) {
    mp_uint_t start = mp_hal_ticks_ms();
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        byte scratch[64];
        while (uws_state(CONN(self)) == UWS_STATE_CLOSE_SENT
               && mp_hal_ticks_ms() - start < UWS_CLOSE_TIMEOUT_MS) {
            self->more = false;
            if (uws_recv_into_buf(self, scratch, sizeof(scratch)) < 0) {
                break;
            }
        }
        nlr_pop();
    }
}

// close(code=1000, reason=""): start the close handshake (§7.1.2), wait
// briefly for the peer's answer, then close the stream.
static mp_obj_t uws_close(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_code, ARG_reason };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_code, MP_ARG_INT, {.u_int = 1000} },
        { MP_QSTR_reason, MP_ARG_OBJ, {.u_obj = mp_const_empty_bytes} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    mp_buffer_info_t reason;
    mp_get_buffer_raise(args[ARG_reason].u_obj, &reason, MP_BUFFER_READ);
    byte payload[UWS_MAX_CONTROL];
    mp_int_t code = args[ARG_code].u_int;
    int32_t n = (code < 0 || code > 0xffff) ? UWS_TX_INVALID : uws_close_payload(code, reason.buf, reason.len, payload);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid close code, or reason over 123 bytes"));
    }
    uint8_t state = uws_state(CONN(self));
    if (!self->stream_closed && (state == UWS_STATE_OPEN || state == UWS_STATE_CLOSE_RECEIVED)) {
        uws_send_control(self, UWS_OP_CLOSE, payload, n);
        if (self->close_code == 0 && state == UWS_STATE_OPEN) {
            self->close_code = code;
        }
        uws_await_close(self);
    }
    // Non-blocking mode: queued frames (our Close included) go out if the
    // stream takes them now; an event loop is not stalled for a peer that
    // stopped reading (the asyncio helper drains before it closes).
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        uws_flush_tx(self);
        nlr_pop();
    }
    uws_drop_message(self);
    uws_close_stream(self);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_close_obj, 1, uws_close);

// setblocking(flag): set the stream's mode. Non-blocking, recv() returns
// None until a whole message is there and send() never waits: what the
// stream does not take is queued, flush() writes it on (poll for
// POLLOUT while it returns non-zero).
static mp_obj_t uws_setblocking(mp_obj_t self_in, mp_obj_t flag) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    uws_call_method(self->stream, MP_QSTR_setblocking, 1, &flag);
    self->queue_writes = !mp_obj_is_true(flag);
    if (!self->queue_writes && self->tx != NULL) {
        uws_write_all(self->stream, self->tx->data, self->tx->len);
        uws_drop_tx(self);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(uws_setblocking_obj, uws_setblocking);

// flush(): write queued bytes the stream takes now; returns how many still
// wait (0: all sent).
static mp_obj_t uws_flush(mp_obj_t self_in) {
    return MP_OBJ_NEW_SMALL_INT(uws_flush_tx(MP_OBJ_TO_PTR(self_in)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(uws_flush_obj, uws_flush);

static mp_obj_t uws_exit(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(args[0]);
    if (!self->stream_closed) {
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            uws_close(1, args, NULL);
            nlr_pop();
        } else {
            uws_close_stream(self);
        }
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(uws_exit_obj, 4, 4, uws_exit);

static void uws_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    size_t len;
    const uint8_t *reason;
    switch (attr) {
        case MP_QSTR_path:
        case MP_QSTR_headers:
        case MP_QSTR_subprotocol:
            dest[0] = self->handshake == mp_const_none ? mp_const_none
                : mp_obj_subscr(self->handshake, MP_OBJ_NEW_SMALL_INT(attr == MP_QSTR_path ? 0 : attr == MP_QSTR_headers ? 1 : 2), MP_OBJ_SENTINEL);
            return;
        case MP_QSTR_more:
            dest[0] = mp_obj_new_bool(self->more);
            return;
        case MP_QSTR_text:
            dest[0] = mp_obj_new_bool(uws_rx_is_text(CONN(self)));
            return;
        case MP_QSTR_closed:
            dest[0] = mp_obj_new_bool(self->stream_closed || uws_state(CONN(self)) >= UWS_STATE_FAILED);
            return;
        case MP_QSTR_close_code: {
            mp_int_t code = uws_close_code(CONN(self));
            dest[0] = code ? MP_OBJ_NEW_SMALL_INT(code) : self->close_code ? MP_OBJ_NEW_SMALL_INT(self->close_code) : mp_const_none;
            return;
        }
        case MP_QSTR_close_reason:
            reason = uws_close_reason(CONN(self), &len);
            dest[0] = uws_close_code(CONN(self)) ? mp_obj_new_str((const char *)reason, len) : mp_const_none;
            return;
        case MP_QSTR_stream:
            dest[0] = self->stream;
            return;
        default:
            // Methods come from the locals dict.
            dest[1] = MP_OBJ_SENTINEL;
    }
}

// Stream protocol: read() gives message payload bytes (boundaries not
// kept, like the built-in websocket module), write() sends a binary
// message, and poll/close go to the underlying stream, so a WebSocket can
// be registered with select.poll and used by asyncio.
static mp_uint_t uws_stream_read(mp_obj_t self_in, void *buf, mp_uint_t size, int *errcode) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    uint8_t *internal;
    const uint8_t *buffered;
    if (uws_rx_want(CONN(self), &internal, &buffered) == 0 && internal == NULL) {
        return 0;
    }
    mp_int_t n = uws_recv_into_buf(self, buf, size);
    if (n < 0) {
        *errcode = MP_EAGAIN;
        return MP_STREAM_ERROR;
    }
    return n;
}

static mp_uint_t uws_stream_write(mp_obj_t self_in, const void *buf, mp_uint_t size, int *errcode) {
    (void)errcode;
    uws_send_data(MP_OBJ_TO_PTR(self_in), false, true, buf, size);
    return size;
}

static mp_uint_t uws_stream_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    if (request == MP_STREAM_CLOSE) {
        uws_close_stream(self);
        return 0;
    }
    #ifdef MP_STREAM_GET_FILENO
    if (request == MP_STREAM_GET_FILENO) {
        // No descriptor: select.poll then asks this ioctl whether the
        // WebSocket is readable, rather than the socket underneath, which
        // cannot know of messages already read ahead.
        *errcode = MP_EINVAL;
        return MP_STREAM_ERROR;
    }
    #endif
    const mp_stream_p_t *p = mp_get_stream(self->stream);
    mp_uint_t ret = p->ioctl(self->stream, request, arg, errcode);
    // Bytes read ahead may hold a whole message the socket no longer shows.
    if (request == MP_STREAM_POLL && ret != MP_STREAM_ERROR && (arg & MP_STREAM_POLL_RD)
        && uws_rx_buffered(CONN(self)) > 0) {
        ret |= MP_STREAM_POLL_RD;
    }
    return ret;
}

static mp_obj_t uws_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    (void)type;
    enum { ARG_stream, ARG_server_side, ARG_max_size };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_stream, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_server_side, MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_max_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_SIZE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    return MP_OBJ_FROM_PTR(uws_new(args[ARG_stream].u_obj, args[ARG_server_side].u_bool, args[ARG_max_size].u_int));
}

static const mp_rom_map_elem_t uws_websocket_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_recv), MP_ROM_PTR(&uws_recv_obj) },
    { MP_ROM_QSTR(MP_QSTR_recv_into), MP_ROM_PTR(&uws_recv_into_obj) },
    { MP_ROM_QSTR(MP_QSTR_send), MP_ROM_PTR(&uws_send_obj) },
    { MP_ROM_QSTR(MP_QSTR_ping), MP_ROM_PTR(&uws_ping_obj) },
    { MP_ROM_QSTR(MP_QSTR_keepalive), MP_ROM_PTR(&uws_keepalive_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&uws_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_setblocking), MP_ROM_PTR(&uws_setblocking_obj) },
    { MP_ROM_QSTR(MP_QSTR_flush), MP_ROM_PTR(&uws_flush_obj) },
    { MP_ROM_QSTR(MP_QSTR___enter__), MP_ROM_PTR(&mp_identity_obj) },
    { MP_ROM_QSTR(MP_QSTR___exit__), MP_ROM_PTR(&uws_exit_obj) },
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&mp_stream_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&mp_stream_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&mp_stream_write_obj) },
};
static MP_DEFINE_CONST_DICT(uws_websocket_locals_dict, uws_websocket_locals_dict_table);

static const mp_stream_p_t uws_stream_p = {
    .read = uws_stream_read,
    .write = uws_stream_write,
    .ioctl = uws_stream_ioctl,
};

static MP_DEFINE_CONST_OBJ_TYPE(
    uws_type_WebSocket, MP_QSTR_WebSocket, MP_TYPE_FLAG_ITER_IS_STREAM,
    make_new, uws_make_new,
    attr, uws_attr,
    protocol, &uws_stream_p,
    locals_dict, &uws_websocket_locals_dict
    );

/******************************************************************************/
// The opening handshake (§4): the core validates and writes; this part reads
// heads from the stream and turns spans into Python objects.

// A str for a header value, or bytes when it is not UTF-8.
static mp_obj_t uws_text_or_bytes(const byte *data, size_t len) {
    if (utf8_check(data, len)) {
        return mp_obj_new_str((const char *)data, len);
    }
    return mp_obj_new_bytes(data, len);
}

static mp_obj_t uws_span_str(const byte *base, uws_span span) {
    return mp_obj_new_str((const char *)base + span.start, span.len);
}

// uwebsocket.Request: a parsed HTTP request head, to answer as plain HTTP
// or to upgrade with accept(sock, request=...). Attributes: method, path,
// headers (dict, lower-case names; repeated headers joined with ", "),
// upgrade (True when it asks for a WebSocket), raw (the head's bytes).
typedef struct _mp_obj_uws_request_t {
    mp_obj_base_t base;
    mp_obj_t method;
    mp_obj_t path;
    mp_obj_t headers;
    mp_obj_t raw;
    bool upgrade;
} mp_obj_uws_request_t;

static void uws_request_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    mp_obj_uws_request_t *self = MP_OBJ_TO_PTR(self_in);
    switch (attr) {
        case MP_QSTR_method:
            dest[0] = self->method;
            break;
        case MP_QSTR_path:
            dest[0] = self->path;
            break;
        case MP_QSTR_headers:
            dest[0] = self->headers;
            break;
        case MP_QSTR_raw:
            dest[0] = self->raw;
            break;
        case MP_QSTR_upgrade:
            dest[0] = mp_obj_new_bool(self->upgrade);
            break;
    }
}

static mp_obj_uws_request_t *uws_request_from_head(mp_obj_t stream, vstr_t *head);

// Request(raw): parse a head read by other means (an asyncio stream, say);
// HandshakeError(400/431) when it is not a valid HTTP request head.
static mp_obj_t uws_request_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    (void)type;
    mp_arg_check_num(n_args, n_kw, 1, 1, false);
    mp_buffer_info_t raw;
    mp_get_buffer_raise(args[0], &raw, MP_BUFFER_READ);
    vstr_t head;
    vstr_init(&head, raw.len + 1);
    vstr_add_strn(&head, raw.buf, raw.len);
    return MP_OBJ_FROM_PTR(uws_request_from_head(MP_OBJ_NULL, &head));
}

static MP_DEFINE_CONST_OBJ_TYPE(
    uws_type_Request, MP_QSTR_Request, MP_TYPE_FLAG_NONE,
    make_new, uws_request_make_new,
    attr, uws_request_attr
    );

// Write a complete HTTP error/response and close the stream (if there is
// one), then raise HandshakeError(status, message).
static NORETURN void uws_refuse(mp_obj_t stream, const byte *response, size_t response_len,
    mp_int_t status, const byte *message, size_t message_len) {
    if (stream != MP_OBJ_NULL) {
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            uws_write_all(stream, response, response_len);
            nlr_pop();
        }
        uws_stream_close(stream);
    }
    uws_raise(&uws_type_HandshakeError, status, message, message_len);
}

// Answer a head that cannot even be parsed (or is too long), the core
// writing the response.
static NORETURN void uws_refuse_head(mp_obj_t stream, const vstr_t *head, bool complete) {
    byte out[256];
    uws_handshake result;
    uws_server_handshake((const byte *)head->buf, head->len, complete, NULL, 0, NULL, 0, NULL, 0, out, sizeof(out), &result);
    uws_refuse(stream, out, result.response_len, result.status, result.message, result.message_len);
}

static mp_obj_uws_request_t *uws_request_from_head(mp_obj_t stream, vstr_t *head) {
    uws_request parsed;
    if (uws_request_parse((const byte *)head->buf, head->len, &parsed) != 0) {
        uws_refuse_head(stream, head, true);
    }
    const byte *base = (const byte *)head->buf;
    mp_obj_uws_request_t *req = mp_obj_malloc(mp_obj_uws_request_t, &uws_type_Request);
    req->method = uws_span_str(base, parsed.method);
    req->path = uws_text_or_bytes(base + parsed.path.start, parsed.path.len);
    req->upgrade = parsed.upgrade;
    req->headers = mp_obj_new_dict(parsed.header_count);
    for (size_t i = 0; i < parsed.header_count; ++i) {
        vstr_t name;
        vstr_init(&name, parsed.names[i].len);
        for (size_t j = 0; j < parsed.names[i].len; ++j) {
            vstr_add_byte(&name, unichar_tolower(base[parsed.names[i].start + j]));
        }
        mp_obj_t key = mp_obj_new_str_from_vstr(&name);
        mp_obj_t value = uws_text_or_bytes(base + parsed.values[i].start, parsed.values[i].len);
        mp_map_elem_t *elem = mp_map_lookup(mp_obj_dict_get_map(req->headers), key, MP_MAP_LOOKUP_ADD_IF_NOT_FOUND);
        if (elem->value != MP_OBJ_NULL && mp_obj_is_str(elem->value) && mp_obj_is_str(value)) {
            // RFC 9110 §5.3: repeated fields combine into a comma list.
            value = mp_binary_op(MP_BINARY_OP_ADD, mp_binary_op(MP_BINARY_OP_ADD, elem->value, mp_obj_new_str(", ", 2)), value);
        }
        elem->value = value;
    }
    req->raw = mp_obj_new_bytes_from_vstr(head);
    return req;
}

static mp_obj_uws_request_t *uws_read_request_from(mp_obj_t stream, mp_int_t max_head) {
    vstr_t head;
    vstr_init(&head, 256);
    bool complete = uws_read_head(stream, &head, max_head);
    if (!complete) {
        uws_refuse_head(stream, &head, false);
    }
    return uws_request_from_head(stream, &head);
}

// read_request(sock, *, max_head=4096): read one HTTP request head. A head
// too long or not HTTP is answered (431, 400) and raises HandshakeError.
static mp_obj_t uws_read_request(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_sock, ARG_max_head };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_sock, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_HEAD} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_get_stream_raise(args[ARG_sock].u_obj, MP_STREAM_OP_READ | MP_STREAM_OP_WRITE | MP_STREAM_OP_IOCTL);
    return MP_OBJ_FROM_PTR(uws_read_request_from(args[ARG_sock].u_obj, args[ARG_max_head].u_int));
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_read_request_obj, 1, uws_read_request);

// Join a list of str into "a<sep>b<sep>c"; None gives an empty vstr.
static void uws_join(vstr_t *out, mp_obj_t list, const char *sep) {
    if (list == mp_const_none) {
        return;
    }
    if (mp_obj_is_str(list)) {
        mp_raise_TypeError(MP_ERROR_TEXT("expected a list of str"));
    }
    mp_obj_iter_buf_t iter_buf;
    mp_obj_t iterable = mp_getiter(list, &iter_buf);
    mp_obj_t item;
    while ((item = mp_iternext(iterable)) != MP_OBJ_STOP_ITERATION) {
        size_t len;
        const char *s = mp_obj_str_get_data(item, &len);
        for (size_t i = 0; i < len; ++i) {
            if (s[i] == ',' || s[i] == '\r' || s[i] == '\n' || s[i] == ' ') {
                mp_raise_ValueError(MP_ERROR_TEXT("invalid subprotocol or origin"));
            }
        }
        if (out->len > 0) {
            vstr_add_str(out, sep);
        }
        vstr_add_strn(out, s, len);
    }
}

// Format extra headers (a dict or a list of (name, value) pairs) as header
// lines. CR and LF are refused: they would let a value inject headers.
static void uws_header_lines(vstr_t *out, mp_obj_t headers) {
    if (headers == mp_const_none) {
        return;
    }
    mp_obj_t items = headers;
    if (mp_obj_is_type(headers, &mp_type_dict)) {
        items = mp_call_function_0(mp_load_attr(headers, MP_QSTR_items));
    }
    mp_obj_iter_buf_t iter_buf;
    mp_obj_t iterable = mp_getiter(items, &iter_buf);
    mp_obj_t item;
    while ((item = mp_iternext(iterable)) != MP_OBJ_STOP_ITERATION) {
        mp_obj_t *pair;
        mp_obj_get_array_fixed_n(item, 2, &pair);
        for (int k = 0; k < 2; ++k) {
            size_t len;
            const char *s = mp_obj_str_get_data(pair[k], &len);
            for (size_t i = 0; i < len; ++i) {
                if (s[i] == '\r' || s[i] == '\n' || (k == 0 && (s[i] == ':' || s[i] == ' '))) {
                    mp_raise_ValueError(MP_ERROR_TEXT("invalid header"));
                }
            }
            vstr_add_strn(out, s, len);
            vstr_add_str(out, k == 0 ? ": " : "\r\n");
        }
    }
}

// accept(sock, *, request=None, subprotocols=None, origins=None,
//        headers=None, max_size=65536, max_head=4096):
// the server handshake. Reads the request (unless one from read_request is
// given), answers 101 and returns a WebSocket; a bad request is answered
// with its HTTP error, the socket closed, and HandshakeError raised.
static mp_obj_t uws_accept(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_sock, ARG_request, ARG_subprotocols, ARG_origins, ARG_headers, ARG_max_size, ARG_max_head };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_sock, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_request, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_subprotocols, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_origins, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_headers, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_max_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_SIZE} },
        { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_HEAD} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_obj_t sock = args[ARG_sock].u_obj;
    mp_get_stream_raise(sock, MP_STREAM_OP_READ | MP_STREAM_OP_WRITE | MP_STREAM_OP_IOCTL);

    // Settings first: a bad argument is the script's error, not the peer's.
    vstr_t protocols, origins, extra;
    vstr_init(&protocols, 32);
    vstr_init(&origins, 32);
    vstr_init(&extra, 32);
    uws_join(&protocols, args[ARG_subprotocols].u_obj, ", ");
    uws_join(&origins, args[ARG_origins].u_obj, ",");
    uws_header_lines(&extra, args[ARG_headers].u_obj);

    mp_obj_uws_request_t *req;
    if (args[ARG_request].u_obj != mp_const_none) {
        if (!mp_obj_is_type(args[ARG_request].u_obj, &uws_type_Request)) {
            mp_raise_TypeError(MP_ERROR_TEXT("request must come from read_request()"));
        }
        req = MP_OBJ_TO_PTR(args[ARG_request].u_obj);
    } else {
        req = uws_read_request_from(sock, args[ARG_max_head].u_int);
    }
    mp_buffer_info_t head;
    mp_get_buffer_raise(req->raw, &head, MP_BUFFER_READ);

    vstr_t out;
    vstr_init(&out, 256 + protocols.len + extra.len);
    uws_handshake result;
    bool ok = uws_server_handshake(head.buf, head.len, true,
        (const byte *)protocols.buf, protocols.len,
        args[ARG_origins].u_obj == mp_const_none ? NULL : (const byte *)origins.buf, origins.len,
        (const byte *)extra.buf, extra.len, (byte *)out.buf, out.alloc, &result);
    if (!ok) {
        uws_refuse(sock, (const byte *)out.buf, result.response_len, result.status, result.message, result.message_len);
    }
    uws_write_all(sock, (const byte *)out.buf, result.response_len);
    vstr_clear(&out);
    mp_obj_websocket_t *ws = uws_new(sock, true, args[ARG_max_size].u_int);
    mp_obj_t handshake[3] = { req->path, req->headers, mp_const_none };
    if (result.protocol.len > 0) {
        handshake[2] = uws_span_str((const byte *)protocols.buf, result.protocol);
    }
    ws->handshake = mp_obj_new_tuple(3, handshake);
    vstr_clear(&protocols);
    vstr_clear(&origins);
    vstr_clear(&extra);
    return MP_OBJ_FROM_PTR(ws);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_accept_obj, 1, uws_accept);

// The reason phrase for a status a device commonly answers with (RFC 9110
// lets it be empty for the rest).
static const char *uws_reason_phrase(mp_int_t status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 426: return "Upgrade Required";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "";
    }
}

// respond(sock, status=200, body=b"", *, content_type="text/html",
//         headers=None): answer a plain HTTP request (the page of a device,
// a 404) and close the socket: one port serves HTTP and WebSockets.
static mp_obj_t uws_respond(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_sock, ARG_status, ARG_body, ARG_content_type, ARG_headers };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_sock, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_status, MP_ARG_INT, {.u_int = 200} },
        { MP_QSTR_body, MP_ARG_OBJ, {.u_obj = mp_const_empty_bytes} },
        { MP_QSTR_content_type, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_headers, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_obj_t sock = args[ARG_sock].u_obj;
    mp_int_t status = args[ARG_status].u_int;
    if (status < 100 || status > 999) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid status"));
    }
    mp_buffer_info_t body;
    mp_get_buffer_raise(args[ARG_body].u_obj, &body, MP_BUFFER_READ);
    const char *content_type = "text/html";
    size_t content_type_len = 9;
    if (args[ARG_content_type].u_obj != mp_const_none) {
        content_type = mp_obj_str_get_data(args[ARG_content_type].u_obj, &content_type_len);
        if (memchr(content_type, '\r', content_type_len) || memchr(content_type, '\n', content_type_len)) {
            mp_raise_ValueError(MP_ERROR_TEXT("invalid header"));
        }
    }
    vstr_t out;
    mp_print_t print;
    vstr_init_print(&out, 128, &print);
    mp_printf(&print, "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\n", (int)status, uws_reason_phrase(status),
        (int)content_type_len, content_type);
    uws_header_lines(&out, args[ARG_headers].u_obj);
    mp_printf(&print, "Content-Length: %u\r\nConnection: close\r\n\r\n", (unsigned)body.len);
    uws_write_all(sock, (const byte *)out.buf, out.len);
    uws_write_all(sock, body.buf, body.len);
    vstr_clear(&out);
    uws_stream_close(sock);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_respond_obj, 1, uws_respond);

// The parts of a ws:// or wss:// URL.
typedef struct {
    bool tls;
    const char *host;  // as written: an IPv6 literal keeps its brackets
    size_t host_len;
    mp_int_t port;
    const char *path;  // path and query, without the fragment
    size_t path_len;
} uws_url_t;

static void uws_parse_url(mp_obj_t url_in, uws_url_t *url) {
    size_t len;
    const char *s = mp_obj_str_get_data(url_in, &len);
    const char *end = s + len;
    size_t scheme = 0;
    if (len >= 5 && strncasecmp(s, "ws://", 5) == 0) {
        url->tls = false;
        scheme = 5;
    } else if (len >= 6 && strncasecmp(s, "wss://", 6) == 0) {
        url->tls = true;
        scheme = 6;
    } else {
        mp_raise_ValueError(MP_ERROR_TEXT("URL must start with ws:// or wss://"));
    }
    const char *host = s + scheme;
    const char *p = host;
    if (p < end && *p == '[') {
        while (p < end && *p != ']') {
            ++p;
        }
        if (p == end) {
            mp_raise_ValueError(MP_ERROR_TEXT("unterminated IPv6 address in URL"));
        }
        ++p;
    } else {
        while (p < end && *p != ':' && *p != '/' && *p != '?' && *p != '#' && *p != '@') {
            ++p;
        }
    }
    if (p == host || (p < end && *p == '@')) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid host in URL"));
    }
    url->host = host;
    url->host_len = p - host;
    url->port = url->tls ? 443 : 80;
    if (p < end && *p == ':') {
        mp_int_t port = 0;
        const char *digits = ++p;
        while (p < end && *p >= '0' && *p <= '9' && port <= 65535) {
            port = port * 10 + (*p++ - '0');
        }
        if (p == digits || port < 1 || port > 65535 || (p < end && *p != '/' && *p != '?' && *p != '#')) {
            mp_raise_ValueError(MP_ERROR_TEXT("invalid port in URL"));
        }
        url->port = port;
    }
    const char *path_end = p;
    while (path_end < end && *path_end != '#') {
        ++path_end;
    }
    url->path = p;
    url->path_len = path_end - p;
}

enum { ARG_c_subprotocols, ARG_c_headers, ARG_c_origin, ARG_c_max_size, ARG_c_max_head, ARG_c_timeout, ARG_c_ssl, ARG_c_cadata };
#define UWS_CLIENT_ARGS \
    { MP_QSTR_subprotocols, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_headers, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_origin, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_max_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_SIZE} }, \
    { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_HEAD} }, \
    { MP_QSTR_timeout, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_ssl, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_cadata, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }

// The client handshake on a connected stream (§4.1).
static mp_obj_t uws_client_handshake(mp_obj_t stream, const uws_url_t *url, const mp_arg_val_t *args) {
    mp_get_stream_raise(stream, MP_STREAM_OP_READ | MP_STREAM_OP_WRITE | MP_STREAM_OP_IOCTL);
    vstr_t protocols, extra;
    vstr_init(&protocols, 32);
    vstr_init(&extra, 32);
    uws_join(&protocols, args[ARG_c_subprotocols].u_obj, ", ");
    uws_header_lines(&extra, args[ARG_c_headers].u_obj);
    size_t origin_len = 0;
    const char *origin = NULL;
    if (args[ARG_c_origin].u_obj != mp_const_none) {
        origin = mp_obj_str_get_data(args[ARG_c_origin].u_obj, &origin_len);
        if (memchr(origin, '\r', origin_len) || memchr(origin, '\n', origin_len)) {
            mp_raise_ValueError(MP_ERROR_TEXT("invalid origin"));
        }
    }
    vstr_t out;
    vstr_init(&out, 256 + url->host_len + url->path_len + protocols.len + origin_len + extra.len);
    byte key[UWS_KEY_LEN], nonce[UWS_NONCE_LEN];
    uws_random(nonce, sizeof(nonce));
    size_t n = uws_client_request((byte *)out.buf, out.alloc, (const byte *)url->host, url->host_len,
        url->port, url->tls ? 443 : 80, (const byte *)url->path, url->path_len,
        (const byte *)protocols.buf, protocols.len, (const byte *)origin, origin_len,
        (const byte *)extra.buf, extra.len, nonce, key);
    if (n == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid host, path or header in request"));
    }
    uws_write_all(stream, (const byte *)out.buf, n);
    vstr_clear(&out);
    vstr_clear(&extra);

    vstr_t head;
    vstr_init(&head, 256);
    if (!uws_read_head(stream, &head, args[ARG_c_max_head].u_int)) {
        uws_stream_close(stream);
        uws_raise(&uws_type_HandshakeError, 0, (const byte *)"response head too long", 22);
    }
    uws_handshake result;
    if (!uws_client_response((const byte *)head.buf, head.len, key, (const byte *)protocols.buf, protocols.len, &result)) {
        uws_stream_close(stream);
        if (result.status != 0 && result.status != 101) {
            // A refusal: report the server's status line.
            const char *eol = memchr(head.buf, '\r', head.len);
            uws_raise(&uws_type_HandshakeError, result.status, (const byte *)head.buf, eol ? (size_t)(eol - head.buf) : head.len);
        }
        uws_raise(&uws_type_HandshakeError, result.status, result.message, result.message_len);
    }
    mp_obj_websocket_t *ws = uws_new(stream, false, args[ARG_c_max_size].u_int);
    mp_obj_t handshake[3] = {
        mp_obj_new_str(url->path_len ? url->path : "/", url->path_len ? url->path_len : 1),
        mp_const_none,
        result.protocol.len > 0 ? uws_span_str((const byte *)head.buf, result.protocol) : mp_const_none,
    };
    ws->handshake = mp_obj_new_tuple(3, handshake);
    vstr_clear(&head);
    vstr_clear(&protocols);
    return MP_OBJ_FROM_PTR(ws);
}

// client(stream, url, **options): the client handshake on a stream the
// script connected itself (its own TLS, a proxy...). The URL gives Host and
// path. Options as for connect().
static mp_obj_t uws_client(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = { UWS_CLIENT_ARGS };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    if (n_args != 2) {
        mp_raise_TypeError(MP_ERROR_TEXT("client(stream, url, ...)"));
    }
    mp_arg_parse_all(0, NULL, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    uws_url_t url;
    uws_parse_url(pos_args[1], &url);
    return uws_client_handshake(pos_args[0], &url, args);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_client_obj, 2, uws_client);

static mp_obj_t uws_call_method(mp_obj_t obj, qstr name, size_t n_args, const mp_obj_t *args) {
    mp_obj_t call[2 + 4];
    mp_load_method(obj, name, call);
    for (size_t i = 0; i < n_args; ++i) {
        call[2 + i] = args[i];
    }
    return mp_call_method_n_kw(n_args, 0, call);
}

// connect(url, *, subprotocols=None, headers=None, origin=None,
//         max_size=65536, max_head=4096, timeout=None, ssl=None, cadata=None):
// resolve, connect, (for wss://) wrap in TLS with server name indication,
// and do the client handshake. timeout (seconds) applies to connecting, the
// handshake and later blocking reads. For wss://, `ssl` is a ready
// SSLContext; otherwise a new one verifies the server against `cadata`
// (DER bytes of a CA certificate) when given, and does not verify without.
static mp_obj_t uws_connect(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed_args[] = { UWS_CLIENT_ARGS };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    if (n_args != 1) {
        mp_raise_TypeError(MP_ERROR_TEXT("connect(url, ...)"));
    }
    mp_arg_parse_all(0, NULL, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    uws_url_t url;
    uws_parse_url(pos_args[0], &url);

    mp_obj_t socket_mod = mp_import_name(MP_QSTR_socket, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
    // getaddrinfo wants the bare address, without an IPv6 literal's brackets.
    size_t bracket = url.host[0] == '[' ? 1 : 0;
    mp_obj_t gai_args[4] = {
        mp_obj_new_str(url.host + bracket, url.host_len - 2 * bracket),
        MP_OBJ_NEW_SMALL_INT(url.port),
        MP_OBJ_NEW_SMALL_INT(0),
        mp_load_attr(socket_mod, MP_QSTR_SOCK_STREAM),
    };
    mp_obj_t infos = mp_call_function_n_kw(mp_load_attr(socket_mod, MP_QSTR_getaddrinfo), 4, 0, gai_args);
    mp_obj_t *info;
    size_t n_infos;
    mp_obj_get_array(infos, &n_infos, &info);
    if (n_infos == 0) {
        mp_raise_OSError(MP_ENOENT);
    }
    mp_obj_t *ai;
    mp_obj_get_array_fixed_n(info[0], 5, &ai);
    mp_obj_t sock = mp_call_function_n_kw(mp_load_attr(socket_mod, MP_QSTR_socket), 3, 0, ai);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        if (args[ARG_c_timeout].u_obj != mp_const_none) {
            uws_call_method(sock, MP_QSTR_settimeout, 1, &args[ARG_c_timeout].u_obj);
        }
        uws_call_method(sock, MP_QSTR_connect, 1, &ai[4]);
        if (url.tls) {
            mp_obj_t ctx = args[ARG_c_ssl].u_obj;
            if (ctx == mp_const_none) {
                mp_obj_t tls = mp_import_name(MP_QSTR_tls, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
                mp_obj_t proto = mp_load_attr(tls, MP_QSTR_PROTOCOL_TLS_CLIENT);
                ctx = mp_call_function_1(mp_load_attr(tls, MP_QSTR_SSLContext), proto);
                bool verify = args[ARG_c_cadata].u_obj != mp_const_none;
                if (verify) {
                    uws_call_method(ctx, MP_QSTR_load_verify_locations, 1, &args[ARG_c_cadata].u_obj);
                }
                mp_store_attr(ctx, MP_QSTR_verify_mode, mp_load_attr(tls, verify ? MP_QSTR_CERT_REQUIRED : MP_QSTR_CERT_NONE));
            }
            mp_obj_t wrap[2 + 3];
            mp_load_method(ctx, MP_QSTR_wrap_socket, wrap);
            wrap[2] = sock;
            wrap[3] = MP_OBJ_NEW_QSTR(MP_QSTR_server_hostname);
            wrap[4] = gai_args[0];
            sock = mp_call_method_n_kw(1, 1, wrap);
        }
        mp_obj_t ws = uws_client_handshake(sock, &url, args);
        nlr_pop();
        return ws;
    } else {
        // Never leave a half-open socket behind.
        nlr_buf_t nlr2;
        if (nlr_push(&nlr2) == 0) {
            uws_call_method(sock, MP_QSTR_close, 0, NULL);
            nlr_pop();
        }
        nlr_jump(nlr.ret_val);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_connect_obj, 1, uws_connect);

/******************************************************************************/
// The module.

static const mp_rom_map_elem_t uws_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_uwebsocket) },
    { MP_ROM_QSTR(MP_QSTR_WebSocket), MP_ROM_PTR(&uws_type_WebSocket) },
    { MP_ROM_QSTR(MP_QSTR_Request), MP_ROM_PTR(&uws_type_Request) },
    { MP_ROM_QSTR(MP_QSTR_ConnectionClosed), MP_ROM_PTR(&uws_type_ConnectionClosed) },
    { MP_ROM_QSTR(MP_QSTR_HandshakeError), MP_ROM_PTR(&uws_type_HandshakeError) },
    { MP_ROM_QSTR(MP_QSTR_accept), MP_ROM_PTR(&uws_accept_obj) },
    { MP_ROM_QSTR(MP_QSTR_read_request), MP_ROM_PTR(&uws_read_request_obj) },
    { MP_ROM_QSTR(MP_QSTR_respond), MP_ROM_PTR(&uws_respond_obj) },
    { MP_ROM_QSTR(MP_QSTR_connect), MP_ROM_PTR(&uws_connect_obj) },
    { MP_ROM_QSTR(MP_QSTR_client), MP_ROM_PTR(&uws_client_obj) },
};
static MP_DEFINE_CONST_DICT(uws_module_globals, uws_module_globals_table);

const mp_obj_module_t uws_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&uws_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_uwebsocket, uws_module);
