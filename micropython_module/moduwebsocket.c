/*
 * uwebsocket: RFC 6455 WebSockets for MicroPython.
 *
 * This file is the shim between MicroPython and the protocol core (Rust,
 * src/): it moves bytes between MicroPython streams and the buffers the core
 * points at, allocates the objects a script gets back, and raises
 * exceptions. It holds no protocol logic: what a frame means, when a close
 * is owed, which close code an error maps to, is the core's decision
 * (uwebsocket_core.h, generated from src/ffi.rs).
 *
 * The boundary rules: every stream call is guarded (a Python stream may
 * raise, return any count, or call back into the WebSocket); a count a
 * stream returns is checked before the core sees it; no raw pointer into a
 * buffer is used after a call into Python that could free it; every wait
 * has a bound.
 */
#if MICROPY_ENABLE_DYNRUNTIME
// Built as a native .mpy: the runtime through the natmod's function table.
// Its variables must be global symbols (reached through its global offset
// table).
#define UWS_VAR
#include "uws_dynruntime.h"
#else
#define UWS_VAR static
#include <string.h>

#include "py/runtime.h"
#include "py/stream.h"
#include "py/objstr.h"
#include "py/objtype.h"
#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/objexcept.h"
#endif

// The unix port (and macOS): waits sleep in poll(), random bytes come from
// the system. A native .mpy links to no C library, so it does without.
#if (defined(__unix__) || defined(__APPLE__)) && !MICROPY_ENABLE_DYNRUNTIME
#define UWS_POSIX (1)
#include <poll.h>
#include <errno.h>
#else
#define UWS_POSIX (0)
#endif

#include "uwebsocket_core.h"

// What the module builds in (a board's mpconfigboard.h, or cmodule.mk's
// UWS_PROFILE): the server side (accept()), the client side (connect(),
// client()), the plain-HTTP helpers beside the server (read_request(),
// respond()) and keepalive pings. The linker drops the Rust
// core's code for what is left out.
#ifndef MICROPY_PY_UWEBSOCKET_SERVER
#define MICROPY_PY_UWEBSOCKET_SERVER (1)
#endif
#ifndef MICROPY_PY_UWEBSOCKET_CLIENT
#define MICROPY_PY_UWEBSOCKET_CLIENT (1)
#endif
#ifndef MICROPY_PY_UWEBSOCKET_HTTP
#define MICROPY_PY_UWEBSOCKET_HTTP (MICROPY_PY_UWEBSOCKET_SERVER)
#endif
#ifndef MICROPY_PY_UWEBSOCKET_KEEPALIVE
#define MICROPY_PY_UWEBSOCKET_KEEPALIVE (1)
#endif
// permessage-deflate (RFC 7692): compression negotiated and applied in
// both roles.
#ifndef MICROPY_PY_UWEBSOCKET_DEFLATE
#define MICROPY_PY_UWEBSOCKET_DEFLATE (1)
#endif
#if MICROPY_PY_UWEBSOCKET_HTTP && !MICROPY_PY_UWEBSOCKET_SERVER
#error "uwebsocket: MICROPY_PY_UWEBSOCKET_HTTP needs MICROPY_PY_UWEBSOCKET_SERVER"
#endif
#if !MICROPY_PY_UWEBSOCKET_SERVER && !MICROPY_PY_UWEBSOCKET_CLIENT
#error "uwebsocket: build in MICROPY_PY_UWEBSOCKET_SERVER, MICROPY_PY_UWEBSOCKET_CLIENT or both"
#endif

#ifndef MICROPY_PY_UWEBSOCKET_MAX_SIZE
// Default limit for one message (bytes); a script raises it with max_size=.
#define MICROPY_PY_UWEBSOCKET_MAX_SIZE (65536)
#endif
#ifndef MICROPY_PY_UWEBSOCKET_MAX_HEAD
// Largest HTTP request/response head accepted in a handshake (431 beyond).
#define MICROPY_PY_UWEBSOCKET_MAX_HEAD (4096)
#endif
#ifndef MICROPY_PY_UWEBSOCKET_STACK_BUFFER
// Frames up to this size are built on the C stack and written in one call,
// and a client's larger payloads are masked through it a piece at a time:
// small on boards, whose tasks have stacks of a few KiB; larger on unix,
// where each piece is a system call.
#if defined(__unix__) || defined(__APPLE__)
#define MICROPY_PY_UWEBSOCKET_STACK_BUFFER (4096)
#else
#define MICROPY_PY_UWEBSOCKET_STACK_BUFFER (256)
#endif
#endif
#if MICROPY_PY_UWEBSOCKET_STACK_BUFFER < 64
// It holds a frame header (up to 14 bytes) and the payload after it.
#error "uwebsocket: MICROPY_PY_UWEBSOCKET_STACK_BUFFER must be at least 64 bytes"
#endif
#define UWS_STACK_FRAME (MICROPY_PY_UWEBSOCKET_STACK_BUFFER)
#if MICROPY_PY_UWEBSOCKET_DEFLATE
#ifndef MICROPY_PY_UWEBSOCKET_DEFLATE_MIN_SIZE
// Messages shorter than this go uncompressed by default (compress_min_size=).
#define MICROPY_PY_UWEBSOCKET_DEFLATE_MIN_SIZE (32)
#endif
// Compressed output is sent from a buffer this size on the C stack: a
// message that compresses to more goes out in frames of this size.
#define UWS_DEFLATE_FRAME (512)
#endif
// How long close() waits for the peer's Close (ms), whatever the stream's mode.
#define UWS_CLOSE_TIMEOUT_MS (2000)
// How long a blocking write may make no progress before it gives up (ms).
#define UWS_WRITE_TIMEOUT_MS (10000)
// The default bound on a handshake (ms): the head must arrive within it.
#define UWS_HANDSHAKE_TIMEOUT_MS (10000)
// Longest keepalive interval or timeout (ms): tick differences stay
// meaningful on a 32-bit millisecond counter.
#define UWS_MAX_KEEPALIVE_MS (0x3fffffff)
// The error code a stream call reports when the stream returned a count
// larger than the buffer it was given (no errno means that).
#define UWS_EBADCOUNT (0x7ffe)

// Tables of names. The built-in module keeps them in ROM. A native .mpy
// learns its QSTRs' numbers when it is loaded, so it builds argument tables
// on the stack and fills its dicts at import (mpy_init).
#if MICROPY_ENABLE_DYNRUNTIME
#define UWS_ARG_TABLE const mp_arg_t
#define UWS_DYN_COUNT(key, value) +1
#define UWS_DICT(name, LIST) \
    UWS_VAR mp_map_elem_t name##_table[0 LIST(UWS_DYN_COUNT)]; \
    static MP_DEFINE_CONST_DICT(name, name##_table);
#define UWS_DYN_ENTRY(key, value) *entry++ = (mp_map_elem_t){ MP_OBJ_NEW_QSTR(key), MP_OBJ_FROM_PTR(value) };
#define UWS_DICT_FILL(name, LIST) do { mp_map_elem_t *entry = name##_table; LIST(UWS_DYN_ENTRY) } while (0)
#define UWS_OBJ_PTR(p) MP_OBJ_FROM_PTR(p)
#define UWS_OBJ_QSTR(q) MP_OBJ_NEW_QSTR(q)
#else
#define UWS_ARG_TABLE static const mp_arg_t
#define UWS_ROM_METHOD(key, value) { MP_ROM_QSTR(key), MP_ROM_PTR(value) },
#define UWS_DICT(name, LIST) \
    static const mp_rom_map_elem_t name##_table[] = { LIST(UWS_ROM_METHOD) }; \
    static MP_DEFINE_CONST_DICT(name, name##_table);
#endif

/******************************************************************************/
// Errors that are not ours to handle.

// KeyboardInterrupt and SystemExit (BaseException, not Exception) belong to
// the user: no handler in this file swallows them.
static bool uws_is_fatal(void *exc) {
    const mp_obj_type_t *type = mp_obj_get_type(MP_OBJ_FROM_PTR(exc));
    return !mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(&mp_type_Exception));
}

static void uws_reraise_if_fatal(void *exc) {
    if (uws_is_fatal(exc)) {
        nlr_jump(exc);
    }
}

// "Nothing now" from a stream: EAGAIN, whether or not the port builds
// non-blocking streams in (a stream written in Python returns None for
// it on any port).
static inline bool uws_would_block(int err) {
    return err == MP_EAGAIN || err == MP_EWOULDBLOCK;
}

/******************************************************************************/
// Random bytes for the core, drawn before calling it (a Python exception
// must never unwind through Rust frames).

#if !UWS_POSIX && !defined(MICROPY_PY_RANDOM_SEED_INIT_FUNC)
// Entropy from Python: os.urandom (the hardware RNG where the port has
// one), else random.getrandbits. It allocates and runs Python code.
static void uws_python_random(byte *pool, size_t len) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t os = mp_import_name(MP_QSTR_os, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t bytes = mp_call_function_1(mp_load_attr(os, MP_QSTR_urandom), MP_OBJ_NEW_SMALL_INT(len));
        mp_buffer_info_t bufinfo;
        mp_get_buffer_raise(bytes, &bufinfo, MP_BUFFER_READ);
        if (bufinfo.len < len) {
            mp_raise_ValueError(NULL);
        }
        memcpy(pool, bufinfo.buf, len);
        nlr_pop();
    } else {
        uws_reraise_if_fatal(nlr.ret_val);
        mp_obj_t random = mp_import_name(MP_QSTR_random, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t getrandbits = mp_load_attr(random, MP_QSTR_getrandbits);
        for (size_t i = 0; i < len; i += 4) {
            mp_uint_t r = mp_obj_get_int_truncated(mp_call_function_1(getrandbits, MP_OBJ_NEW_SMALL_INT(32)));
            memcpy(pool + i, &r, MIN(4, len - i));
        }
    }
}

UWS_VAR byte uws_seed[UWS_RANDOM_BLOCK];
UWS_VAR uint32_t uws_seed_counter;

// Draw the seed (again once the counter wraps). A client WebSocket does
// this when it is made, so that no send ever calls into Python for it.
static void uws_random_seed(void) {
    if (uws_seed_counter == 0) {
        uws_python_random(uws_seed, sizeof(uws_seed));
        uws_seed_counter = 1;
    }
}
#else
static inline void uws_random_seed(void) {
}
#endif

// Fill `pool` from the port's entropy without touching the heap (sends
// allocate nothing): the system's on unix, the hardware source that seeds
// the port's random module (esp32, rp2, stm32, nrf...), else a seed drawn
// once from Python and stretched by the core.
static void uws_fill_random(byte *pool, size_t len) {
    #if UWS_POSIX
    mp_hal_get_random(len, pool);
    #elif defined(MICROPY_PY_RANDOM_SEED_INIT_FUNC)
    for (size_t i = 0; i < len; i += 4) {
        uint32_t r = (uint32_t)(MICROPY_PY_RANDOM_SEED_INIT_FUNC);
        memcpy(pool + i, &r, MIN(4, len - i));
    }
    #else
    uws_random_seed();
    for (size_t i = 0; i < len; i += UWS_RANDOM_BLOCK) {
        byte block[UWS_RANDOM_BLOCK];
        uws_random_block(uws_seed, sizeof(uws_seed), uws_seed_counter++, block);
        memcpy(pool + i, block, MIN(UWS_RANDOM_BLOCK, len - i));
    }
    #endif
}

// A fresh masking key per client frame (§5.3) and a handshake nonce per
// connection. Drawing them from a pool refilled a block at a time keeps
// the entropy source's cost off most frames: on unix a system call, about
// as dear as a small send itself, so the pool is larger there (one call
// per 256 frames); elsewhere a call into Python or the hardware source.
// Zero at start (a native .mpy has no initialised data): the pool starts
// empty.
#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL && !UWS_POSIX
// Threads that truly run at once (rp2's two cores, no GIL) must not draw
// from one pool: two of them could take the same bytes, and with them the
// same key. Each key comes from the entropy source itself.
static void uws_random(uint8_t *buf, size_t len) {
    uws_fill_random(buf, len);
}
#else
#if UWS_POSIX
#define UWS_RANDOM_POOL (1024)
#else
#define UWS_RANDOM_POOL (64)
#endif
#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
// The unix port builds its threads without a GIL: each has a pool of its
// own, so that no two frames are given the same bytes.
#define UWS_POOL_VAR static __thread
#else
#define UWS_POOL_VAR UWS_VAR
#endif
UWS_POOL_VAR byte uws_random_pool[UWS_RANDOM_POOL];
UWS_POOL_VAR size_t uws_random_left;
static void uws_random(uint8_t *buf, size_t len) {
    while (len > 0) {
        if (uws_random_left == 0) {
            uws_fill_random(uws_random_pool, sizeof(uws_random_pool));
            uws_random_left = sizeof(uws_random_pool);
        }
        size_t n = MIN(len, uws_random_left);
        memcpy(buf, uws_random_pool + sizeof(uws_random_pool) - uws_random_left, n);
        uws_random_left -= n;
        buf += n;
        len -= n;
    }
}
#endif

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

#if MICROPY_ENABLE_DYNRUNTIME
// A native .mpy makes its types at import (mpy_init).
UWS_VAR mp_obj_full_type_t uws_dyn_ConnectionClosed;
UWS_VAR mp_obj_full_type_t uws_dyn_HandshakeError;
#define uws_type_ConnectionClosed (*(mp_obj_type_t *)&uws_dyn_ConnectionClosed)
#define uws_type_HandshakeError (*(mp_obj_type_t *)&uws_dyn_HandshakeError)
#else
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
#endif

// Text that may not be UTF-8 (a peer's status line): a str with every
// byte that breaks UTF-8 replaced by '?', so an error message never fails.
static mp_obj_t uws_new_str_lossy(const byte *text, size_t len) {
    if (uws_utf8_valid(text, len)) {
        return mp_obj_new_str((const char *)text, len);
    }
    vstr_t vstr;
    vstr_init(&vstr, len);
    for (size_t i = 0; i < len; ++i) {
        vstr_add_byte(&vstr, text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?');
    }
    return mp_obj_new_str_from_vstr(&vstr);
}

static NORETURN void uws_raise(const mp_obj_type_t *type, mp_int_t number, const byte *text, size_t len) {
    mp_obj_t args[2] = { MP_OBJ_NEW_SMALL_INT(number), uws_new_str_lossy(text, len) };
    nlr_raise(mp_obj_new_exception_args(type, 2, args));
}

static NORETURN void uws_raise_busy(void) {
    mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("WebSocket called from its own stream"));
}

// A stream argument: TypeError for anything else, before any I/O.
static void uws_check_stream(mp_obj_t stream) {
    const mp_obj_type_t *type = mp_obj_get_type(stream);
    const mp_stream_p_t *p = MP_OBJ_TYPE_HAS_SLOT(type, protocol) ? MP_OBJ_TYPE_GET_SLOT(type, protocol) : NULL;
    if (p == NULL || p->read == NULL || p->write == NULL || p->ioctl == NULL) {
        mp_raise_TypeError(MP_ERROR_TEXT("expected a stream (a socket)"));
    }
    if (mp_obj_is_instance_type(type)) {
        // A class written in Python streams through io.IOBase, whose
        // protocol calls its methods. One derived from a native stream
        // (io.BytesIO, socket.socket) inherits that type's C functions,
        // which would run on the Python object instead of the native one.
        mp_obj_t io = mp_import_name(MP_QSTR_io, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t dest[2];
        mp_load_method_maybe(io, MP_QSTR_IOBase, dest);
        const mp_obj_type_t *base = dest[0] != MP_OBJ_NULL && mp_obj_is_type(dest[0], &mp_type_type) ? MP_OBJ_TO_PTR(dest[0]) : NULL;
        if (base == NULL || MP_OBJ_TYPE_GET_SLOT_OR_NULL(base, protocol) != p) {
            mp_raise_TypeError(MP_ERROR_TEXT("a stream class must derive from io.IOBase, not from a native stream"));
        }
    }
}

/******************************************************************************/
// Guarded stream calls.

// The WebSocket object.
typedef struct _mp_obj_websocket_t mp_obj_websocket_t;
struct _mp_obj_websocket_t {
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
    #if MICROPY_PY_UWEBSOCKET_KEEPALIVE
    // Keepalive's timer (the core's; zero: off).
    uws_keepalive_state keepalive;
    #endif
    // Non-blocking mode (setblocking(False)): what the stream did not take
    // yet, written before anything else: the core's queue (NULL when
    // nothing waits).
    uws_txq *tx;
    // UWS_BUSY while a stream call runs (uws_io, uws_write_watched): the
    // stream must not call back in. UWS_WRITE_CUT after an exception left
    // a frame cut (how much of it went out is unknown): the next call ends
    // the connection (uws_settle_cut).
    uint8_t busy;
    // The small fields together: 240 bytes in all on a 32-bit port (15
    // GC blocks), the connection state included.
    bool stream_closed : 1;
    bool more : 1;
    bool queue_writes : 1;
    // recv() assembled a whole message in msg_buf but could not hand it
    // over (no memory for the object): the next recv() tries again.
    bool msg_complete : 1;
    // The stream is a socket or BytesIO of the firmware (uws_is_leaf_stream).
    bool leaf_stream : 1;
    // Its writes are watched (uws_write_watched): a socket's, whose count
    // an interrupt raised inside the call loses.
    bool watch_writes : 1;
    // Frames are masked (the client role): uws_tx_random_len is 4.
    bool masking : 1;
    // The send queue's block was grown for a frame about to be queued
    // (uws_reserve_tx): a flush that drains it keeps it until the send
    // is over.
    bool tx_reserved : 1;
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    // permessage-deflate, when negotiated (NULL: off).
    struct _uws_deflate_t *deflate;
    #endif
    // The core's connection state (uws_conn_size() bytes), 8-byte aligned.
    uint64_t conn[];
};

#define CONN(self) ((uws_conn *)(self)->conn)
#define UWS_BUSY (1)
#define UWS_WRITE_CUT (2)
static void uws_set_busy(mp_obj_websocket_t *self, bool busy);

typedef enum { UWS_IO_READ, UWS_IO_WRITE } uws_io_op_t;

// The error code an OSError a stream raised stands for (MP_EIO when it
// carries none), as a native stream would have reported it; 0 for any
// other exception.
static int uws_oserror_code(void *exc) {
    if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(MP_OBJ_FROM_PTR(exc))), MP_OBJ_FROM_PTR(&mp_type_OSError))) {
        return 0;
    }
    mp_obj_t value = mp_obj_exception_get_value(MP_OBJ_FROM_PTR(exc));
    int err = mp_obj_is_small_int(value) ? MP_OBJ_SMALL_INT_VALUE(value) : MP_EIO;
    return err != 0 ? err : MP_EIO;
}

// A stream call's count as the core may see it: MP_STREAM_ERROR always
// with an error code, and a count larger than the buffer (a Python stream
// can return any number) the error UWS_EBADCOUNT.
static inline MP_ALWAYSINLINE mp_uint_t uws_checked_count(mp_uint_t n, size_t len, int *err) {
    if (n == MP_STREAM_ERROR) {
        if (*err == 0) {
            *err = MP_EIO;
        }
    } else if (n > len) {
        *err = UWS_EBADCOUNT;
        return MP_STREAM_ERROR;
    }
    return n;
}

// How a socket's write is watched (uws_write_watched).
#if !MICROPY_ENABLE_DYNRUNTIME
typedef struct {
    nlr_jump_callback_node_t node;
    mp_obj_websocket_t *self;
} uws_write_watch_t;

static void uws_write_unwound(void *ctx) {
    ((uws_write_watch_t *)ctx)->self->busy = UWS_WRITE_CUT;
}
#endif

// A write whose exception leaves the frame cut: a socket's (an interrupt
// raised inside it loses the count: the unix port raises KeyboardInterrupt
// from its signal handler, after the kernel took part of the buffer), and
// one that continues a frame of which part is out. While it runs the
// WebSocket is busy; an exception unwinding through it leaves
// UWS_WRITE_CUT for the next call to find. (A native .mpy has no jump
// callbacks: the mark is set for the whole call there.)
static MP_NOINLINE mp_uint_t uws_write_watched(mp_obj_websocket_t *self, const mp_stream_p_t *p, mp_obj_t stream,
    byte *buf, size_t len, int *err) {
    #if MICROPY_ENABLE_DYNRUNTIME
    self->busy = UWS_WRITE_CUT;
    mp_uint_t n = p->write(stream, buf, len, err);
    #else
    uws_write_watch_t watch;
    watch.self = self;
    nlr_push_jump_callback(&watch.node, uws_write_unwound);
    self->busy = UWS_BUSY;
    mp_uint_t n = p->write(stream, buf, len, err);
    nlr_pop_jump_callback(false);
    #endif
    self->busy = 0;
    return n;
}

// A stream that runs no Python code and reports errors as codes
// (uws_is_leaf_stream) needs no guard: uws_io_leaf, which the hot paths
// call first. An exception it raises passes through; a write is watched
// (`watch`: uws_write_watched) when such an exception would leave the
// frame cut.
static inline MP_ALWAYSINLINE mp_uint_t uws_io_leaf(mp_obj_websocket_t *self, mp_obj_t stream, uws_io_op_t op,
    byte *buf, size_t len, int *err, bool watch) {
    // A native object: its type is in its base.
    const mp_obj_type_t *type = ((mp_obj_base_t *)MP_OBJ_TO_PTR(stream))->type;
    const mp_stream_p_t *p = MP_OBJ_TYPE_GET_SLOT(type, protocol);
    *err = 0;
    mp_uint_t n;
    if (op == UWS_IO_READ) {
        n = p->read(stream, buf, len, err);
    } else if (watch) {
        n = uws_write_watched(self, p, stream, buf, len, err);
    } else {
        n = p->write(stream, buf, len, err);
    }
    return uws_checked_count(n, len, err);
}

// One read or write call on a stream. Returns the count, or MP_STREAM_ERROR
// with *err set. While it runs, `self` (the WebSocket, or NULL during a
// handshake) is busy: a stream that calls back into it gets RuntimeError.
// An OSError a Python stream raises comes back as an error code, like a
// native stream's; other exceptions propagate. A count larger than the
// buffer (a Python stream can return any number) is the error
// UWS_EBADCOUNT: the core never sees it.
static mp_uint_t uws_io(mp_obj_websocket_t *self, mp_obj_t stream, uws_io_op_t op, byte *buf, size_t len, int *err) {
    if (self != NULL && self->leaf_stream) {
        return uws_io_leaf(self, stream, op, buf, len, err, self->watch_writes);
    }
    const mp_stream_p_t *p = mp_get_stream(stream);
    *err = 0;
    mp_uint_t n = MP_STREAM_ERROR;
    nlr_buf_t nlr;
    uws_set_busy(self, true);
    if (nlr_push(&nlr) == 0) {
        n = op == UWS_IO_READ ? p->read(stream, buf, len, err) : p->write(stream, buf, len, err);
        nlr_pop();
    } else {
        uws_set_busy(self, false);
        *err = uws_oserror_code(nlr.ret_val);
        if (*err == 0) {
            if (self != NULL && op == UWS_IO_WRITE && uws_is_fatal(nlr.ret_val)) {
                // The user's interrupt, maybe after part of the buffer went
                // out (the write of a socket under the Python stream).
                self->busy = UWS_WRITE_CUT;
            }
            nlr_jump(nlr.ret_val);
        }
        return MP_STREAM_ERROR;
    }
    uws_set_busy(self, false);
    return uws_checked_count(n, len, err);
}

// A stream's ioctl, guarded like uws_io; any Exception it raises (a Python
// stream without an ioctl method, say) is reported as MP_STREAM_ERROR.
static mp_uint_t uws_ioctl(mp_obj_websocket_t *self, mp_obj_t stream, mp_uint_t request, uintptr_t arg, int *err) {
    const mp_stream_p_t *p = mp_get_stream(stream);
    *err = 0;
    mp_uint_t ret = MP_STREAM_ERROR;
    nlr_buf_t nlr;
    uws_set_busy(self, true);
    if (nlr_push(&nlr) == 0) {
        ret = p->ioctl(stream, request, arg, err);
        nlr_pop();
    } else {
        uws_set_busy(self, false);
        uws_reraise_if_fatal(nlr.ret_val);
        *err = MP_EINVAL;
        return MP_STREAM_ERROR;
    }
    uws_set_busy(self, false);
    return ret;
}

static void uws_stream_close(mp_obj_websocket_t *self, mp_obj_t stream) {
    int err;
    uws_ioctl(self, stream, MP_STREAM_CLOSE, 0, &err);
}

// Wait until the stream is ready for `flags` (MP_STREAM_POLL_RD or _WR) or
// timeout_ms pass. Returns false on timeout; true when ready, and when the
// stream cannot tell (the read or write itself then decides).
static bool uws_wait(mp_obj_websocket_t *self, mp_obj_t stream, mp_uint_t flags, mp_uint_t timeout_ms) {
    mp_uint_t start = mp_hal_ticks_ms();
    mp_uint_t step = 1;
    int err;
    #if UWS_POSIX
    mp_uint_t fd = uws_ioctl(self, stream, MP_STREAM_GET_FILENO, 0, &err);
    #endif
    for (;;) {
        mp_uint_t ready = uws_ioctl(self, stream, MP_STREAM_POLL, flags, &err);
        if (ready == MP_STREAM_ERROR
            || (ready & (flags | MP_STREAM_POLL_ERR | MP_STREAM_POLL_HUP | MP_STREAM_POLL_NVAL))) {
            return true;
        }
        mp_uint_t waited = mp_hal_ticks_ms() - start;
        if (waited >= timeout_ms) {
            return false;
        }
        mp_uint_t left = timeout_ms - waited;
        #if UWS_POSIX
        if (fd != MP_STREAM_ERROR && fd <= 0x7fffffff) {
            // Sleep in the kernel until the socket is ready; the stream's
            // own poll above still decides (TLS may hold decrypted bytes).
            struct pollfd pfd = { .fd = (int)fd, .events = (flags & MP_STREAM_POLL_RD ? POLLIN : 0) | (flags & MP_STREAM_POLL_WR ? POLLOUT : 0) };
            MP_THREAD_GIL_EXIT();
            int r = poll(&pfd, 1, (int)MIN(left, 1000));
            MP_THREAD_GIL_ENTER();
            if (r < 0 && errno == EINTR) {
                mp_handle_pending(true);
            }
            continue;
        }
        #endif
        mp_hal_delay_ms(MIN(step, left));
        step = MIN(step * 2, 16);
    }
}

// Write buf to the stream. Blocking (`wait`): until all is written; a
// stream that takes nothing (EAGAIN, or a count of 0) is waited for, at
// most UWS_WRITE_TIMEOUT_MS without progress (then ETIMEDOUT). Not
// blocking: what the stream takes now. *done counts the bytes written as
// they go (so a caller knows how much went out when an exception
// propagates). Returns true when all is written; false with *err set
// otherwise (0: a non-blocking stream is full).
static bool uws_push(mp_obj_websocket_t *self, mp_obj_t stream, const byte *buf, size_t len, bool wait, size_t *done, int *err) {
    *err = 0;
    mp_uint_t stalled_since = 0;
    bool stalled = false;
    while (len > 0) {
        mp_uint_t n = uws_io(self, stream, UWS_IO_WRITE, (byte *)buf, len, err);
        if (n == MP_STREAM_ERROR && !uws_would_block(*err)) {
            return false;
        }
        if (n == MP_STREAM_ERROR || n == 0) {
            if (!wait) {
                *err = 0;
                return false;
            }
            mp_uint_t now = mp_hal_ticks_ms();
            if (!stalled) {
                stalled = true;
                stalled_since = now;
            }
            mp_uint_t waited = now - stalled_since;
            if (waited >= UWS_WRITE_TIMEOUT_MS) {
                *err = MP_ETIMEDOUT;
                return false;
            }
            uws_wait(self, stream, MP_STREAM_POLL_WR, UWS_WRITE_TIMEOUT_MS - waited);
            continue;
        }
        stalled = false;
        buf += n;
        len -= n;
        *done += n;
    }
    return true;
}

// Handshake writes: all of it, or OSError.
static void uws_write_all(mp_obj_t stream, const byte *buf, size_t len) {
    size_t done = 0;
    int err;
    if (!uws_push(NULL, stream, buf, len, true, &done, &err)) {
        mp_raise_OSError(err == UWS_EBADCOUNT ? MP_EIO : err);
    }
}

// Read an HTTP head (up to and including the blank line) without reading a
// byte past it: frames may follow at once. The core's head reader says how
// much each read may ask for. The head must be complete within timeout_ms
// (0: no bound of ours; the stream's own timeout applies). Returns false
// when the head is longer than max (the caller answers 431); raises
// OSError on a timeout, the end of the stream or a stream error.
static bool uws_read_head(mp_obj_t stream, vstr_t *head, size_t max, mp_uint_t timeout_ms) {
    mp_uint_t start = mp_hal_ticks_ms();
    uws_head_reader reader;
    uws_head_init(&reader, max);
    size_t want;
    while ((want = uws_head_next(&reader)) > 0) {
        mp_uint_t waited = mp_hal_ticks_ms() - start;
        if (timeout_ms > 0 && (waited >= timeout_ms || !uws_wait(NULL, stream, MP_STREAM_POLL_RD, timeout_ms - waited))) {
            mp_raise_OSError(MP_ETIMEDOUT);
        }
        byte *dst = (byte *)vstr_add_len(head, want);
        int err;
        mp_uint_t n = uws_io(NULL, stream, UWS_IO_READ, dst, want, &err);
        if (n == MP_STREAM_ERROR || n == 0) {
            head->len -= want;
            if (n == 0) {
                mp_raise_OSError(MP_ECONNRESET);
            }
            if (!uws_would_block(err)) {
                mp_raise_OSError(err == UWS_EBADCOUNT ? MP_EIO : err);
            }
            // A non-blocking stream with nothing yet and no deadline of
            // ours: wait a little, then ask again.
            if (timeout_ms == 0) {
                mp_hal_delay_ms(1);
            }
            continue;
        }
        head->len -= want - n;
        uws_head_feed(&reader, dst, n);
    }
    return uws_head_feed(&reader, NULL, 0) == UWS_HEAD_COMPLETE;
}

// Seconds (a float where the port has them) as ms, from 0 to
// UWS_MAX_KEEPALIVE_MS; -1 when out of that range (NaN included).
static mp_int_t uws_ms_of_seconds(mp_obj_t seconds) {
    #if MICROPY_PY_BUILTINS_FLOAT
    mp_float_t t = mp_obj_get_float(seconds);
    // NaN fails both comparisons.
    if (!(t >= 0 && t <= (mp_float_t)UWS_MAX_KEEPALIVE_MS / 1000)) {
        return -1;
    }
    return (mp_int_t)(t * 1000);
    #else
    #if MICROPY_ENABLE_DYNRUNTIME
    if (mp_obj_get_type(seconds)->name == MP_QSTR_float) {
        // A native .mpy built without floats, on a port that has them: the
        // port's own arithmetic and comparisons (NaN fails both), then
        // truncated as the float path does.
        mp_obj_t ms = mp_binary_op(MP_BINARY_OP_MULTIPLY, seconds, MP_OBJ_NEW_SMALL_INT(1000));
        if (!mp_obj_is_true(mp_binary_op(MP_BINARY_OP_LESS_EQUAL, MP_OBJ_NEW_SMALL_INT(0), ms))
            || !mp_obj_is_true(mp_binary_op(MP_BINARY_OP_LESS_EQUAL, ms, MP_OBJ_NEW_SMALL_INT(UWS_MAX_KEEPALIVE_MS)))) {
            return -1;
        }
        return mp_obj_get_int(mp_call_function_1(MP_OBJ_FROM_PTR(&mp_type_int), ms));
    }
    #endif
    mp_int_t t = mp_obj_get_int(seconds);
    return t >= 0 && t <= UWS_MAX_KEEPALIVE_MS / 1000 ? t * 1000 : -1;
    #endif
}

// A handshake deadline argument (seconds): ms; None gives `none_ms` (0:
// no bound of ours).
static mp_uint_t uws_timeout_ms(mp_obj_t timeout, mp_uint_t none_ms) {
    if (timeout == mp_const_none) {
        return none_ms;
    }
    mp_int_t ms = uws_ms_of_seconds(timeout);
    if (ms < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("timeout must be from 0 to 1e6 s, or None"));
    }
    return ms > 0 ? (mp_uint_t)ms : 1;
}


static void uws_set_busy(mp_obj_websocket_t *self, bool busy) {
    if (self != NULL) {
        self->busy = busy;
    }
}

static void uws_fail_cut(mp_obj_websocket_t *self);

// A write was cut (UWS_WRITE_CUT): the peer may hold part of a frame, and
// whatever is sent next would be read as the rest of it. The connection is
// over (1006); the call that finds it goes on as on any ended connection
// (send() raises ConnectionClosed, close() does nothing more).
static void uws_settle_cut(mp_obj_websocket_t *self) {
    if (self->busy == UWS_WRITE_CUT) {
        self->busy = 0;
        uws_fail_cut(self);
    }
}

static void uws_enter_busy(mp_obj_websocket_t *self) {
    if (self->busy == UWS_BUSY) {
        uws_raise_busy();
    }
    uws_settle_cut(self);
}

// Every method that touches the stream or the buffers starts here.
static inline MP_ALWAYSINLINE mp_obj_websocket_t *uws_enter(mp_obj_t self_in) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->busy) {
        uws_enter_busy(self);
    }
    return self;
}

#if MICROPY_ENABLE_DYNRUNTIME
UWS_VAR mp_obj_full_type_t uws_dyn_WebSocket;
#define uws_type_WebSocket (*(mp_obj_type_t *)&uws_dyn_WebSocket)
#else
static const mp_obj_type_t uws_type_WebSocket;
#endif
static void uws_set_nodelay(mp_obj_t stream);
static mp_obj_t uws_call_method(mp_obj_t obj, qstr name, size_t n_args, const mp_obj_t *args);

static mp_int_t uws_check_max_size(mp_int_t max_size) {
    if (max_size < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("max_size must be >= 0"));
    }
    return max_size;
}

// A socket or an in-memory stream of the firmware: its read and write run
// no Python code (so cannot call back into the WebSocket) and report errors
// as codes, so their calls need no guard (uws_io). A TLS stream is not one:
// it may sit on a stream written in Python.
static bool uws_is_leaf_stream(mp_obj_t stream) {
    const mp_obj_type_t *type = mp_obj_get_type(stream);
    if (mp_obj_is_instance_type(type)) {
        return false;
    }
    qstr name = type->name;
    return name == MP_QSTR_socket || name == MP_QSTR_BytesIO || name == MP_QSTR_StringIO;
}

static mp_obj_websocket_t *uws_new(mp_obj_t stream, bool server, mp_int_t max_size) {
    uws_check_stream(stream);
    uws_check_max_size(max_size);
    if (!server) {
        uws_random_seed();
    }
    size_t words = (uws_conn_size() + sizeof(uint64_t) - 1) / sizeof(uint64_t);
    // With a finaliser: a WebSocket dropped without close() closes its
    // stream when collected (sockets on some ports have no finaliser).
    mp_obj_websocket_t *self = (mp_obj_websocket_t *)mp_obj_malloc_var_with_finaliser(mp_obj_websocket_t, uint64_t, words, &uws_type_WebSocket);
    self->stream = stream;
    self->handshake = mp_const_none;
    self->msg_buf = NULL;
    self->msg_len = 0;
    self->msg_alloc = 0;
    #if MICROPY_PY_UWEBSOCKET_KEEPALIVE
    uws_keepalive_set(&self->keepalive, 0, 0, 0);
    #endif
    self->tx = NULL;
    self->busy = 0;
    self->stream_closed = false;
    self->more = false;
    self->queue_writes = false;
    self->msg_complete = false;
    self->leaf_stream = uws_is_leaf_stream(stream);
    self->watch_writes = self->leaf_stream && mp_obj_get_type(stream)->name == MP_QSTR_socket;
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    self->deflate = NULL;
    #endif
    if (!uws_conn_init(CONN(self), server, max_size, 0)) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("uwebsocket: misaligned connection"));
    }
    self->masking = uws_tx_random_len(CONN(self)) == sizeof(uint32_t);
    uws_set_nodelay(stream);
    return self;
}

static void uws_drop_message(mp_obj_websocket_t *self) {
    m_del(byte, self->msg_buf, self->msg_alloc);
    self->msg_buf = NULL;
    self->msg_len = 0;
    self->msg_alloc = 0;
    self->msg_complete = false;
}

static void uws_drop_tx(mp_obj_websocket_t *self) {
    m_del(byte, (byte *)self->tx, uws_txq_size(self->tx));
    self->tx = NULL;
}

// Whether the connection is over (nothing more is read or sent).
static bool uws_ended(mp_obj_websocket_t *self) {
    return self->stream_closed || uws_state(CONN(self)) >= UWS_STATE_FAILED;
}

#if MICROPY_PY_UWEBSOCKET_DEFLATE
static void uws_deflate_release(mp_obj_websocket_t *self);
#endif

static void uws_close_stream(mp_obj_websocket_t *self) {
    uws_drop_tx(self);
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    uws_deflate_release(self);
    #endif
    if (!self->stream_closed) {
        self->stream_closed = true;
        uws_transport_closed(CONN(self));
        uws_stream_close(self, self->stream);
    }
}

// Part of a frame may be out and the rest never will be: the connection
// cannot go on (1006).
static void uws_fail_cut(mp_obj_websocket_t *self) {
    if (!self->stream_closed) {
        uws_fail_transport(CONN(self), UWS_TRANSPORT_PARTIAL_WRITE, 0);
        uws_drop_message(self);
        uws_close_stream(self);
    }
}

// close_code: how it ended (the core keeps that), None while it has not.
static mp_obj_t uws_close_code_obj(mp_obj_websocket_t *self) {
    uint16_t code = uws_end_code(CONN(self));
    return code == 0 ? mp_const_none : MP_OBJ_NEW_SMALL_INT(code);
}

// close_reason: the peer's reason, what the core failed the connection
// for, or what happened to the transport; None while it has not ended.
static mp_obj_t uws_close_reason_obj(mp_obj_websocket_t *self) {
    if (uws_end_code(CONN(self)) == 0) {
        return mp_const_none;
    }
    byte reason[UWS_MAX_REASON];
    return mp_obj_new_str((const char *)reason, uws_end_reason(CONN(self), reason));
}

// The connection has ended: raise ConnectionClosed with what ended it.
static NORETURN void uws_raise_closed(mp_obj_websocket_t *self) {
    if (uws_end_code(CONN(self)) == 0) {
        // Closed with nothing recorded (the stream closed under us).
        uws_fail_transport(CONN(self), UWS_TRANSPORT_FAILED, 0);
    }
    mp_obj_t args[2] = { uws_close_code_obj(self), uws_close_reason_obj(self) };
    nlr_raise(mp_obj_new_exception_args(&uws_type_ConnectionClosed, 2, args));
}

// The transport failed (`kind`: UWS_TRANSPORT_*, with the stream's error
// number): the connection is over (1006), whatever was being assembled
// is dropped.
static NORETURN void uws_end_transport(mp_obj_websocket_t *self, uint8_t kind, int err) {
    uws_fail_transport(CONN(self), kind, err);
    uws_drop_message(self);
    uws_close_stream(self);
    uws_raise_closed(self);
}

// The transport kind of a stream error.
static uint8_t uws_transport_kind(int err) {
    return err == UWS_EBADCOUNT ? UWS_TRANSPORT_BAD_COUNT : UWS_TRANSPORT_FAILED;
}

// Read up to len bytes for the connection. Returns the count (> 0), or -1
// when a non-blocking stream has nothing now. A read timeout raises
// OSError and leaves the connection as it was (nothing was consumed); the
// end of the stream, any other error, or a count the stream cannot have
// fails the connection (1006).
static mp_int_t uws_conn_read(mp_obj_websocket_t *self, byte *buf, size_t len) {
    int err;
    mp_uint_t n = uws_io(self, self->stream, UWS_IO_READ, buf, len, &err);
    if (n == MP_STREAM_ERROR) {
        if (uws_would_block(err)) {
            return -1;
        }
        if (err == MP_ETIMEDOUT) {
            mp_raise_OSError(err);
        }
        uws_end_transport(self, uws_transport_kind(err), err);
    }
    if (n == 0) {
        uws_end_transport(self, UWS_TRANSPORT_EOF, 0);
    }
    return n;
}

// Write what the stream takes now (non-blocking mode). Returns the count,
// also added to *sent as it goes; a stream error fails the connection.
static size_t uws_write_some(mp_obj_websocket_t *self, const byte *buf, size_t len, size_t *sent) {
    size_t before = *sent;
    int err;
    if (!uws_push(self, self->stream, buf, len, false, sent, &err) && err != 0) {
        uws_end_transport(self, uws_transport_kind(err), err);
    }
    return *sent - before;
}

// Write queued bytes the stream now takes; returns how many still wait.
static size_t uws_flush_tx(mp_obj_websocket_t *self) {
    if (self->tx == NULL || self->stream_closed) {
        return 0;
    }
    // One stream call at a time, each count taken off the queue at once:
    // an exception from a later call (not OSError: those come back as
    // codes) must not leave bytes both written and queued.
    size_t left;
    size_t n;
    do {
        size_t len;
        const byte *data = uws_txq_pending(self->tx, &len);
        int err;
        n = uws_io(self, self->stream, UWS_IO_WRITE, (byte *)data, len, &err);
        if (n == MP_STREAM_ERROR) {
            if (!uws_would_block(err)) {
                uws_end_transport(self, uws_transport_kind(err), err);
            }
            n = 0;
        }
        left = uws_txq_consume(self->tx, n);
    } while (n > 0 && left > 0);
    if (left == 0 && !self->tx_reserved) {
        uws_drop_tx(self);
    }
    return left;
}

// Write all that waits in the queue, waiting for the stream as a blocking
// send does: false when it took nothing for UWS_WRITE_TIMEOUT_MS.
static bool uws_drain_tx(mp_obj_websocket_t *self) {
    mp_uint_t since = mp_hal_ticks_ms();
    size_t left = uws_flush_tx(self);
    while (left > 0) {
        mp_uint_t waited = mp_hal_ticks_ms() - since;
        if (waited >= UWS_WRITE_TIMEOUT_MS) {
            return false;
        }
        uws_wait(self, self->stream, MP_STREAM_POLL_WR, UWS_WRITE_TIMEOUT_MS - waited);
        size_t now_left = uws_flush_tx(self);
        if (now_left < left) {
            since = mp_hal_ticks_ms();
        }
        left = now_left;
    }
    return true;
}

// Non-blocking mode with bytes still waiting after a flush: the next frame
// goes into the queue whole, so the queue grows for all of it before any
// of it is taken. Without the memory the message is refused (MemoryError)
// and the connection goes on; growing later, with part of the frame
// queued, could only end it. (With nothing waiting, the stream takes what
// it can first and only the rest is queued, as it comes.)
static void uws_reserve_tx(mp_obj_websocket_t *self, size_t len) {
    size_t frame_len = len > SIZE_MAX - UWS_MAX_HEADER ? SIZE_MAX : len + UWS_MAX_HEADER;
    size_t size = uws_txq_grow(self->tx, frame_len, true);
    if (size != 0) {
        uws_txq *q = (uws_txq *)m_renew_maybe(byte, (byte *)self->tx, uws_txq_size(self->tx), size, true);
        if (q == NULL) {
            mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("no memory to queue the message"));
        }
        uws_txq_resized(q, size, self->tx == NULL);
        self->tx = q;
    }
    self->tx_reserved = true;
}

// The send is over: a reserved block that nothing waits in goes.
static void uws_release_tx(mp_obj_websocket_t *self) {
    self->tx_reserved = false;
    size_t left;
    if (self->tx != NULL && (uws_txq_pending(self->tx, &left), left == 0)) {
        uws_drop_tx(self);
    }
}

// The frame being written: how many of its bytes went out (or were
// queued) so far, and what takes its header back in the core if none do
// (uws_tx_mark; 0: the header moved nothing there).
typedef struct {
    size_t sent;
    uint8_t undo;
} uws_frame_out_t;

// Write bytes of a frame. Blocking mode: all of them. If the stream stops
// taking bytes (a write timeout) before any byte of the frame went out,
// OSError(ETIMEDOUT) and the connection stays usable; once part of the
// frame is out, the peer would read whatever follows as the rest of it, so
// any failure fails the connection (1006). Non-blocking mode: what the
// stream takes, the rest queued for flush(), in order. Two pieces
// (`more`: the payload after its header, or NULL) go in one call. Every
// stream call is guarded on its own (uws_io): a native stream may raise
// EAGAIN rather than return it (a non-blocking WebSocket over its queue
// limit does), and that must be waited for like the code. A frame of which
// nothing went out is taken back in the core (uws_frame_out_t.undo).
static void uws_frame_queue(mp_obj_websocket_t *self, uws_frame_out_t *out, const byte *buf, size_t len);
static void uws_frame_unsent(mp_obj_websocket_t *self, const uws_frame_out_t *out) {
    if (out->sent == 0 && out->undo != 0) {
        uws_tx_rewind(CONN(self), out->undo);
    }
}
static NORETURN void uws_frame_failed(mp_obj_websocket_t *self, const uws_frame_out_t *out, int err) {
    if (err == MP_ETIMEDOUT && out->sent == 0) {
        uws_frame_unsent(self, out);
        mp_raise_OSError(MP_ETIMEDOUT);
    }
    uws_end_transport(self, err == MP_ETIMEDOUT ? UWS_TRANSPORT_STALLED : uws_transport_kind(err), err);
}
// The first write of a frame. Until part of the frame is out, an
// exception leaves the connection as it was: the first write of a frame
// that moved nothing in the core needs no guard beyond uws_io's own, and
// most frames go out whole in it. True when they did (and nothing follows);
// else *buf and *len are what is left for uws_frame_write_rest.
static inline MP_ALWAYSINLINE bool uws_frame_write_first(mp_obj_websocket_t *self, uws_frame_out_t *out,
    const byte **buf, size_t *len, size_t more_len) {
    if (out->sent != 0 || out->undo != 0 || self->queue_writes) {
        return false;
    }
    int err;
    mp_uint_t n = self->leaf_stream ? uws_io_leaf(self, self->stream, UWS_IO_WRITE, (byte *)*buf, *len, &err, self->watch_writes)
        : uws_io(self, self->stream, UWS_IO_WRITE, (byte *)*buf, *len, &err);
    if (n == MP_STREAM_ERROR) {
        if (!uws_would_block(err)) {
            uws_frame_failed(self, out, err);
        }
        return false;
    }
    out->sent = n;
    *buf += n;
    *len -= n;
    return *len == 0 && more_len == 0;
}

// An exception came through the writing of a frame (the stream's own
// errors come back as codes: this is anything else, KeyboardInterrupt
// during a wait, say). With part of the frame out, the connection cannot
// go on (unless it has ended already: queueing without memory ends it);
// with none, the frame is taken back and the exception goes on.
static NORETURN void uws_frame_interrupted(mp_obj_websocket_t *self, const uws_frame_out_t *out, void *exc) {
    if ((out->sent > 0 || self->busy == UWS_WRITE_CUT) && !self->stream_closed) {
        self->busy = 0;
        uws_fail_cut(self);
        uws_reraise_if_fatal(exc);
        uws_raise_closed(self);
    }
    uws_frame_unsent(self, out);
    nlr_jump(exc);
}

static void uws_frame_write_rest(mp_obj_websocket_t *self, uws_frame_out_t *out, const byte *buf, size_t len,
    const byte *more, size_t more_len) {
    int err = 0;
    bool ok = false;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        if (self->queue_writes) {
            uws_frame_queue(self, out, buf, len);
            if (more_len > 0) {
                uws_frame_queue(self, out, more, more_len);
            }
            ok = true;
        } else {
            ok = uws_push(self, self->stream, buf, len, true, &out->sent, &err)
                && (more_len == 0 || uws_push(self, self->stream, more, more_len, true, &out->sent, &err));
        }
        nlr_pop();
    } else {
        uws_frame_interrupted(self, out, nlr.ret_val);
    }
    if (!ok) {
        uws_frame_failed(self, out, err);
    }
}

// More of a frame of which part is out, on a leaf stream in blocking mode:
// one call, without the guard of uws_frame_write_rest (an exception leaves
// the frame cut: UWS_WRITE_CUT, which the next call on the WebSocket
// finds). True when it took all; else *buf and *len are what is left.
static inline MP_ALWAYSINLINE bool uws_frame_write_leaf(mp_obj_websocket_t *self, uws_frame_out_t *out,
    const byte **buf, size_t *len) {
    int err;
    mp_uint_t n = uws_io_leaf(self, self->stream, UWS_IO_WRITE, (byte *)*buf, *len, &err, true);
    if (n == MP_STREAM_ERROR) {
        if (!uws_would_block(err)) {
            uws_frame_failed(self, out, err);
        }
        return false;
    }
    out->sent += n;
    *buf += n;
    *len -= n;
    return *len == 0;
}

static void uws_frame_write(mp_obj_websocket_t *self, uws_frame_out_t *out, const byte *buf, size_t len,
    const byte *more, size_t more_len) {
    if (uws_frame_write_first(self, out, &buf, &len, more_len)) {
        return;
    }
    if (out->sent > 0 && self->leaf_stream && !self->queue_writes
        && (len == 0 || uws_frame_write_leaf(self, out, &buf, &len))
        && (more_len == 0 || uws_frame_write_leaf(self, out, &more, &more_len))) {
        return;
    }
    uws_frame_write_rest(self, out, buf, len, more, more_len);
}

// Non-blocking mode: write what the stream takes now, queue the rest.
// The queue's block grows to the size the core asks for.
static void uws_frame_queue(mp_obj_websocket_t *self, uws_frame_out_t *out, const byte *buf, size_t len) {
    size_t n = uws_flush_tx(self) ? 0 : uws_write_some(self, buf, len, &out->sent);
    if (n == len) {
        return;
    }
    size_t size = uws_txq_grow(self->tx, len - n, false);
    uws_txq *q = size ? (uws_txq *)m_renew_maybe(byte, (byte *)self->tx, uws_txq_size(self->tx), size, true) : NULL;
    if (q == NULL && size != 0) {
        // No block of the size that keeps growth rare: one of the size
        // needed, then.
        size = uws_txq_grow(self->tx, len - n, true);
        q = (uws_txq *)m_renew_maybe(byte, (byte *)self->tx, uws_txq_size(self->tx), size, true);
    }
    if (q != NULL) {
        uws_txq_resized(q, size, self->tx == NULL);
        self->tx = q;
    }
    if (!uws_txq_push(self->tx, buf + n, len - n)) {
        // No heap to queue the rest: it goes out the blocking way instead,
        // after what waits, each stall bounded as for a blocking send. The
        // call takes longer and nothing is lost; only a stream that takes
        // nothing for that long ends the connection (part of a frame may
        // be out, or queued).
        int err = 0;
        bool drained = uws_drain_tx(self);
        if (!drained || !uws_push(self, self->stream, buf + n, len - n, true, &out->sent, &err)) {
            uws_end_transport(self, !drained || err == MP_ETIMEDOUT ? UWS_TRANSPORT_STALLED : uws_transport_kind(err), err);
        }
        return;
    }
    out->sent += len - n;
}

// Send one frame. A small one goes out in one write from the stack. A
// larger one goes out without a copy: the header, then the payload from
// the caller's buffer (server role), or masked through the stack buffer
// a piece at a time (client role). accept(), connect() and WebSocket()
// set TCP_NODELAY on sockets, so the separate writes never wait on
// Nagle's algorithm. A stream written in Python may run code that resizes
// the object the payload lives in (`source`; MP_OBJ_NULL for a payload of
// the shim's own): for such a stream the payload is copied first, or,
// without memory for a copy, taken a piece at a time with the object's
// buffer looked up again before each piece; a raw pointer into the
// caller's object is never used after a call into Python.
static void uws_write_pieces(mp_obj_websocket_t *self, uws_frame_out_t *out, const byte *header, size_t header_len,
    const byte *key, mp_obj_t source, const byte *payload, size_t len);

static void uws_write_frame(mp_obj_websocket_t *self, uint8_t undo, const byte *header, size_t header_len,
    const byte *key, mp_obj_t source, const byte *payload, size_t len) {
    uws_frame_out_t out = { 0, undo };
    if (len == 0) {
        // A frame without payload, or one built whole (uws_tx_data_frame).
        uws_frame_write(self, &out, header, header_len, NULL, 0);
        return;
    }
    if (header_len + len <= UWS_STACK_FRAME) {
        byte chunk[UWS_STACK_FRAME];
        memcpy(chunk, header, header_len);
        uws_mask_copy(chunk + header_len, payload, len, key, 0);
        uws_frame_write(self, &out, chunk, header_len + len, NULL, 0);
        return;
    }
    // Several writes: an exception between two of them (an interrupt
    // raised while the next piece is masked, say) must not leave the
    // connection open with part of the frame out.
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        uws_write_pieces(self, &out, header, header_len, key, source, payload, len);
        nlr_pop();
    } else {
        uws_frame_interrupted(self, &out, nlr.ret_val);
    }
}

static void uws_write_pieces(mp_obj_websocket_t *self, uws_frame_out_t *out, const byte *header, size_t header_len,
    const byte *key, mp_obj_t source, const byte *payload, size_t len) {
    byte chunk[UWS_STACK_FRAME];
    bool masked = (key[0] | key[1] | key[2] | key[3]) != 0;
    bool python_stream = source != MP_OBJ_NULL && !self->leaf_stream && mp_obj_is_instance_type(mp_obj_get_type(self->stream));
    byte *copy = python_stream ? m_new_maybe(byte, len) : NULL;
    if (copy != NULL) {
        uws_mask_copy(copy, payload, len, key, 0);
        payload = copy;
        masked = false;
        python_stream = false;
    }
    if (!masked && !python_stream) {
        uws_frame_write(self, out, header, header_len, payload, len);
    } else {
        uws_frame_write(self, out, header, header_len, NULL, 0);
        for (size_t done = 0; done < len;) {
            if (python_stream) {
                mp_buffer_info_t bufinfo;
                mp_get_buffer_raise(source, &bufinfo, MP_BUFFER_READ);
                if (bufinfo.len < len) {
                    // The object shrank under a frame already begun.
                    uws_end_transport(self, UWS_TRANSPORT_PARTIAL_WRITE, 0);
                }
                payload = bufinfo.buf;
            }
            size_t n = MIN(sizeof(chunk), len - done);
            uws_mask_copy(chunk, payload + done, n, key, done);
            uws_frame_write(self, out, chunk, n, NULL, 0);
            done += n;
        }
    }
    if (copy != NULL) {
        m_del(byte, copy, len);
    }
}

// What the core said to a data frame asked of it, when it is not a length.
static NORETURN void uws_tx_refused(mp_obj_websocket_t *self, int32_t n) {
    if (n == UWS_TX_IN_PROGRESS) {
        mp_raise_ValueError(MP_ERROR_TEXT("a fragmented message of the other type is being sent"));
    }
    uws_raise_closed(self);
}

static inline MP_ALWAYSINLINE void uws_check_tx(mp_obj_websocket_t *self, int32_t n) {
    if (n < 0) {
        uws_tx_refused(self, n);
    }
}

// `scripted`: a ping() a script asked for, refused like send() while the
// non-blocking queue is over its mark (a pong is left out then).
static void uws_send_control(mp_obj_websocket_t *self, uint8_t opcode, const byte *payload, size_t len, bool scripted) {
    // A failed connection still owes its Close: the core decides.
    if (self->stream_closed) {
        uws_raise_closed(self);
    }
    if (self->tx != NULL) {
        self->tx_reserved = false;
        size_t waiting = uws_flush_tx(self);
        int32_t admit = uws_txq_control(opcode, waiting, scripted);
        if (admit == UWS_TXQ_SKIP) {
            return;
        } else if (admit == UWS_TXQ_REFUSE) {
            mp_raise_OSError(MP_EAGAIN);
        } else if (waiting > 0 && scripted) {
            // A Ping a script asked for is refused like a message; the
            // module's own frames (a Pong, a Close) go as before.
            uws_reserve_tx(self, len);
        }
    }
    byte header[UWS_MAX_HEADER];
    byte key[4];
    uws_random(key, uws_tx_random_len(CONN(self)));
    int32_t n = uws_tx_control_header(CONN(self), opcode, len, key, header, key);
    if (n == UWS_TX_CLOSED) {
        uws_raise_closed(self);
    } else if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("control payload longer than 125 bytes"));
    }
    uws_write_frame(self, 0, header, n, key, MP_OBJ_NULL, payload, len);
    if (self->tx_reserved) {
        uws_release_tx(self);
    }
}

// Read and drop what the peer has already sent (the rest of a bad frame),
// without waiting for more. Closing a TCP socket with unread bytes makes it
// send a reset instead of a FIN, and a reset can make the peer's TCP drop
// our Close frame before its application reads it (§7.1.1 wants the peer
// to see the close). Bounded, so a peer that floods cannot hold us here.
static void uws_discard_pending_input(mp_obj_websocket_t *self) {
    if (self->stream_closed) {
        return;
    }
    byte scratch[128];
    for (size_t budget = 64 * 1024; budget > 0;) {
        int err;
        mp_uint_t ready = uws_ioctl(self, self->stream, MP_STREAM_POLL, MP_STREAM_POLL_RD, &err);
        if (ready == MP_STREAM_ERROR || !(ready & MP_STREAM_POLL_RD)) {
            return;
        }
        mp_uint_t n = uws_io(self, self->stream, UWS_IO_READ, scratch, MIN(sizeof(scratch), budget), &err);
        if (n == MP_STREAM_ERROR || n == 0) {
            return;
        }
        budget -= n;
    }
}

// Send our Close frame, ignoring a transport that already failed (the
// close is then abnormal anyway).
static void uws_send_close_payload(mp_obj_websocket_t *self, const byte *payload, int32_t n) {
    if (n < 0 || self->stream_closed) {
        return;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        uws_send_control(self, UWS_OP_CLOSE, payload, n, false);
        nlr_pop();
    } else {
        uws_reraise_if_fatal(nlr.ret_val);
    }
}

// The Close the core says we owe (§5.5.1 after the peer's, §7.1.7 after a
// protocol failure), if any.
static void uws_send_close_reply(mp_obj_websocket_t *self) {
    byte payload[UWS_MAX_CONTROL];
    uws_send_close_payload(self, payload, uws_close_reply(CONN(self), payload));
}

// Act on an event that is not a message: answer pings, finish closes, fail
// on errors. Returns normally for pings and pongs.
static void uws_handle_control(mp_obj_websocket_t *self, int32_t event) {
    size_t len;
    const uint8_t *payload;
    switch (event) {
        case UWS_EV_PING: {
            // §5.5.2: answer with a Pong carrying the same payload (copied:
            // writing may call Python code).
            byte copy[UWS_MAX_CONTROL];
            payload = uws_control_payload(CONN(self), &len);
            len = MIN(len, sizeof(copy));
            memcpy(copy, payload, len);
            if (uws_state(CONN(self)) == UWS_STATE_OPEN) {
                uws_send_control(self, UWS_OP_PONG, copy, len, false);
            }
            return;
        }
        case UWS_EV_PONG:
            return;
        case UWS_EV_CLOSE: {
            uws_send_close_reply(self);
            uws_drop_message(self);
            uws_close_stream(self);
            uws_raise_closed(self);
        }
        default: {
            // A protocol error: fail the connection with the core's code.
            uws_drop_message(self);
            uws_send_close_reply(self);
            uws_discard_pending_input(self);
            uws_close_stream(self);
            uws_raise_closed(self);
        }
    }
}

// Handle a control event in a receive loop; true when a non-blocking call
// has handled its share (UWS_CONTROL_PER_CALL) and returns now.
static bool uws_control_handled(mp_obj_websocket_t *self, int32_t event, uint32_t *count) {
    uws_handle_control(self, event);
    return self->queue_writes && ++*count >= UWS_CONTROL_PER_CALL;
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
            uws_end_locally(CONN(self), UWS_LOCAL_NO_MEMORY, 0);
            uws_send_close_reply(self);
            uws_close_stream(self);
            mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("message too big for memory"));
        }
        self->msg_buf = buf;
        self->msg_alloc = need;
    }
    return self->msg_buf + self->msg_len;
}

#if MICROPY_PY_UWEBSOCKET_KEEPALIVE
// Keepalive without threads: called before every read, and by
// ws.keepalive() from poll/asyncio loops. Pings a quiet peer; fails the
// connection with 1011 when the ping goes unanswered. Returns how many ms
// until the next check is due (-1: keepalive off).
static mp_int_t uws_keepalive_check(mp_obj_websocket_t *self) {
    if (uws_ended(self) || uws_state(CONN(self)) != UWS_STATE_OPEN) {
        return -1;
    }
    int64_t due = uws_keepalive_poll(&self->keepalive, mp_hal_ticks_ms());
    if (due == UWS_KEEPALIVE_PING) {
        uws_send_control(self, UWS_OP_PING, NULL, 0, false);
        due = uws_keepalive_poll(&self->keepalive, mp_hal_ticks_ms());
    }
    if (due == UWS_KEEPALIVE_DEAD) {
        uws_end_locally(CONN(self), UWS_LOCAL_KEEPALIVE, 0);
        uws_send_close_reply(self);
        uws_drop_message(self);
        uws_close_stream(self);
        uws_raise_closed(self);
    }
    return due < 0 ? -1 : (mp_int_t)due;
}

// A keepalive time in ms from seconds (a float where the port has them).
static mp_uint_t uws_keepalive_ms(mp_obj_t seconds) {
    mp_int_t ms = uws_ms_of_seconds(seconds);
    if (ms < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("keepalive times must be from 0 to 1e6 s"));
    }
    return (mp_uint_t)ms;
}

// keepalive(interval=None, timeout=None): with arguments, set the ping
// interval and timeout (seconds, 0 = off); always run the check and return
// the ms until the next one is due (None when off).
static mp_obj_t uws_keepalive(size_t n_args, const mp_obj_t *args) {
    mp_obj_websocket_t *self = uws_enter(args[0]);
    if (n_args > 1) {
        mp_uint_t interval = uws_keepalive_ms(args[1]);
        mp_uint_t timeout = n_args > 2 && args[2] != mp_const_none ? uws_keepalive_ms(args[2]) : 0;
        uws_keepalive_set(&self->keepalive, interval, timeout, mp_hal_ticks_ms());
    }
    mp_int_t due = uws_keepalive_check(self);
    return due < 0 ? mp_const_none : MP_OBJ_NEW_SMALL_INT(due);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(uws_keepalive_obj, 1, 3, uws_keepalive);
#endif

// The largest payload read asked of a stream at once.
#define UWS_READ_CHUNK ((uint64_t)0x7fffffff)

// What a receive step returns besides the core's events (UWS_EV_*, or a
// negative close code).
#define UWS_RX_AGAIN (100)   // a non-blocking stream has nothing now
#define UWS_RX_NO_ROOM (101) // the caller's buffer is full

// Where the next payload bytes go: lowers *want to what fits there;
// NULL when nothing fits.
typedef byte *(*uws_room_fn)(mp_obj_websocket_t *self, void *ctx, uint64_t *want);

#if MICROPY_PY_UWEBSOCKET_DEFLATE
static int32_t uws_inflate_step(mp_obj_websocket_t *self, uws_room_fn room, void *ctx, size_t *payload);
static bool uws_deflate_send(mp_obj_websocket_t *self, bool text, bool fin, mp_obj_t source, const byte *data, size_t len);
#endif

#if MICROPY_PY_UWEBSOCKET_KEEPALIVE
// Before a read that may block: with keepalive on and a blocking stream,
// wait for the peer only until the next ping or deadline is due, so the
// schedule holds even on a socket without a timeout.
static void uws_keepalive_wait(mp_obj_websocket_t *self) {
    for (;;) {
        mp_int_t due = uws_keepalive_check(self);
        if (due < 0 || self->queue_writes || uws_wait(self, self->stream, MP_STREAM_POLL_RD, due)) {
            return;
        }
    }
}
#endif

// One step of receiving, shared by recv() and recv_into(): do what the
// core wants next (parse bytes it read ahead, copy payload it read ahead,
// or read from the stream) and return the event that came of it. Payload
// goes where `room` says; *payload is set to how much arrived.
static inline MP_ALWAYSINLINE int32_t uws_rx_step(mp_obj_websocket_t *self, uws_room_fn room, void *ctx, size_t *payload) {
    *payload = 0;
    uint8_t *internal;
    const uint8_t *buffered;
    if (self->stream_closed) {
        uws_raise_closed(self);
    }
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    if (self->deflate != NULL && uws_rx_needs_inflate(CONN(self))) {
        return uws_inflate_step(self, room, ctx, payload);
    }
    #endif
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
        #if MICROPY_PY_UWEBSOCKET_KEEPALIVE
        if (self->keepalive.interval) {
            uws_keepalive_wait(self);
            // Keepalive may have sent a ping (a stream call): ask again
            // where the bytes go.
            want = uws_rx_want(CONN(self), &internal, &buffered);
            if (internal == NULL && buffered != NULL) {
                return UWS_EV_CONTINUE;
            }
            if (internal == NULL && (dst = room(self, ctx, &want)) == NULL) {
                return UWS_RX_NO_ROOM;
            }
            if (internal != NULL) {
                dst = internal;
            }
        }
        #endif
        n = uws_conn_read(self, dst, want);
        if (n < 0) {
            return UWS_RX_AGAIN;
        }
        #if MICROPY_PY_UWEBSOCKET_KEEPALIVE
        if (self->keepalive.interval) {
            uws_keepalive_received(&self->keepalive, mp_hal_ticks_ms());
        }
        #endif
    }
    int32_t event;
    if (internal != NULL) {
        event = uws_rx_filled(CONN(self), n);
    } else {
        *payload = n;
        event = uws_rx_data(CONN(self), dst, n);
    }
    if (event == UWS_RX_BAD_COUNT) {
        // More than was asked for: the core took none of it.
        *payload = 0;
        uws_end_transport(self, UWS_TRANSPORT_BAD_COUNT, 0);
    }
    return event;
}

// recv()'s room: the message buffer, grown as payload comes.
static byte *uws_room_message(mp_obj_websocket_t *self, void *ctx, uint64_t *want) {
    (void)ctx;
    *want = MIN(*want, UWS_READ_CHUNK);
    return uws_message_space(self, *want);
}

// Hand the assembled message over to a new str or bytes object, without a
// copy (the core has validated text as UTF-8 already). The object is
// allocated first: without memory for it, the message stays here and the
// next recv() tries again. Its hash is left at 0, which the runtime reads
// as "not computed yet": hashing every message would cost a pass over it
// for a value scripts rarely ask for.
static mp_obj_t uws_take_message(mp_obj_websocket_t *self) {
    self->msg_complete = true;
    mp_obj_str_t *o = m_new_obj(mp_obj_str_t);
    size_t len = self->msg_len;
    byte *data = self->msg_buf;
    if (data == NULL || len + 1 > self->msg_alloc) {
        data = m_renew_maybe(byte, self->msg_buf, self->msg_alloc, len + 1, true);
        if (data == NULL) {
            m_malloc_fail(len + 1);
        }
        self->msg_buf = data;
        self->msg_alloc = len + 1;
    } else if (len + 1 < self->msg_alloc) {
        // Shrunk in place: the tail goes back to the heap, or stays.
        byte *shrunk = m_renew_maybe(byte, data, self->msg_alloc, len + 1, false);
        data = shrunk != NULL ? shrunk : data;
    }
    data[len] = '\0';
    o->base.type = uws_rx_is_text(CONN(self)) ? &mp_type_str : &mp_type_bytes;
    o->len = len;
    o->hash = 0;
    o->data = data;
    self->msg_buf = NULL;
    self->msg_len = 0;
    self->msg_alloc = 0;
    self->msg_complete = false;
    return MP_OBJ_FROM_PTR(o);
}

// recv(): the next whole message as str (text) or bytes (binary); None from
// a non-blocking stream until a whole message has arrived.
static mp_obj_t uws_recv(mp_obj_t self_in) {
    mp_obj_websocket_t *self = uws_enter(self_in);
    if (self->msg_complete) {
        return uws_take_message(self);
    }
    // A whole small message read ahead: its buffer is allocated to size and
    // the message taken in one call into the core.
    intptr_t small = self->stream_closed || self->msg_len > 0 ? -1 : uws_rx_small_len(CONN(self));
    if (small >= 0) {
        size_t n;
        if (uws_rx_ahead(CONN(self), uws_message_space(self, small), small, &n) != UWS_EV_CONTINUE) {
            self->msg_len = n;
            return uws_take_message(self);
        }
    }
    uint32_t controls = 0;
    for (;;) {
        size_t n;
        int32_t event = uws_rx_step(self, uws_room_message, NULL, &n);
        self->msg_len += n;
        if (event == UWS_EV_CONTINUE) {
            continue;
        }
        if (event == UWS_EV_TEXT || event == UWS_EV_BINARY) {
            return uws_take_message(self);
        }
        if (event == UWS_RX_AGAIN || uws_control_handled(self, event, &controls)) {
            return mp_const_none;
        }
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

// Copy the next message's payload into buf without allocating. Returns the
// number of bytes written; when the message is longer than buf, .more is
// True and the next call continues it. -1 from a non-blocking stream with
// nothing new. `buf` must stay valid across stream calls: the caller
// passes memory no Python code can free meanwhile (see uws_recv_into).
static mp_int_t uws_recv_into_buf(mp_obj_websocket_t *self, byte *buf, size_t size) {
    uws_span_t span = { buf, size, 0 };
    uint32_t controls = 0;
    for (;;) {
        // A whole small message read ahead is taken in one call into the
        // core; anything else goes step by step.
        size_t n = 0;
        int32_t event = self->stream_closed ? UWS_EV_CONTINUE
            : uws_rx_ahead(CONN(self), span.buf + span.pos, span.size - span.pos, &n);
        span.pos += n;
        if (event == UWS_EV_CONTINUE) {
            event = uws_rx_step(self, uws_room_span, &span, &n);
            span.pos += n;
        }
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
        if (uws_control_handled(self, event, &controls)) {
            self->more = span.pos > 0;
            return span.pos > 0 ? (mp_int_t)span.pos : -1;
        }
    }
}

// A stream written in Python runs Python code on every read, which could
// resize the caller's buffer under us: read into a private buffer then
// (the copy is the price of such a stream); native streams read straight
// into the caller's buffer.
static mp_int_t uws_recv_into_caller(mp_obj_websocket_t *self, mp_obj_t buf_in, byte *buf, size_t size) {
    if (self->leaf_stream || !mp_obj_is_instance_type(mp_obj_get_type(self->stream))) {
        return uws_recv_into_buf(self, buf, size);
    }
    byte *scratch = m_new(byte, size ? size : 1);
    mp_int_t n = uws_recv_into_buf(self, scratch, size);
    if (n > 0) {
        // Look the buffer up again: it may have moved or shrunk.
        mp_buffer_info_t bufinfo;
        mp_get_buffer_raise(buf_in, &bufinfo, MP_BUFFER_WRITE);
        if ((size_t)n > bufinfo.len) {
            m_del(byte, scratch, size ? size : 1);
            uws_end_transport(self, UWS_TRANSPORT_BAD_COUNT, 0);
        }
        memcpy(bufinfo.buf, scratch, n);
    }
    m_del(byte, scratch, size ? size : 1);
    return n;
}

static mp_obj_t uws_recv_into(mp_obj_t self_in, mp_obj_t buf_in) {
    mp_obj_websocket_t *self = uws_enter(self_in);
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(buf_in, &bufinfo, MP_BUFFER_WRITE);
    if (self->msg_len > 0 || self->msg_complete) {
        mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("recv() has a partial message pending"));
    }
    // A whole small message read ahead is taken in one call into the core,
    // which calls no stream (so straight into the caller's buffer).
    size_t taken;
    if (!self->stream_closed && uws_rx_ahead(CONN(self), bufinfo.buf, bufinfo.len, &taken) != UWS_EV_CONTINUE) {
        self->more = false;
        return MP_OBJ_NEW_SMALL_INT(taken);
    }
    mp_int_t n = uws_recv_into_caller(self, buf_in, bufinfo.buf, bufinfo.len);
    return n < 0 ? mp_const_none : MP_OBJ_NEW_SMALL_INT(n);
}
static MP_DEFINE_CONST_FUN_OBJ_2(uws_recv_into_obj, uws_recv_into);

/******************************************************************************/
// permessage-deflate (RFC 7692). The core negotiates, inflates and
// deflates; this part allocates its memory, moves bytes between it and
// the stream, and turns options into arguments. The call sequence is the
// one at the end of src/ffi.rs.

#if MICROPY_PY_UWEBSOCKET_DEFLATE

// One connection's compression: a small object, and while a direction is
// in use its block (the core's decompressor or compressor with its
// window) on the heap. A direction without context takeover keeps its
// block only during a message. The WebSocket points here, which keeps
// all of it alive for the collector.
typedef struct _uws_deflate_t {
    uws_inflater *inflater;
    uws_deflater *deflater;
    size_t min_size;
    uws_deflate_params params;
    uint8_t rx_bits;
    uint8_t tx_bits;
    bool rx_keep : 1;
    bool tx_keep : 1;
    bool server : 1;
} uws_deflate_t;

// compression= and its options, in every function that makes a WebSocket.
#define UWS_DEFLATE_ARGS(compression) \
    { MP_QSTR_compression, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = compression} }, \
    { MP_QSTR_server_max_window_bits, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_client_max_window_bits, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_server_no_context_takeover, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} }, \
    { MP_QSTR_client_no_context_takeover, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} }, \
    { MP_QSTR_compress_min_size, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }
#define UWS_DEFLATE_DEFAULT MP_OBJ_NEW_QSTR(MP_QSTR_deflate)

#else

// Without compression built in, compression=None is still accepted, so
// that a script runs on both kinds of firmware.
#define UWS_DEFLATE_ARGS(compression) \
    { MP_QSTR_compression, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }
#define UWS_DEFLATE_DEFAULT mp_const_none

#endif

// What a script asked for, and what the handshake agreed on.
typedef struct {
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    uws_deflate_options opts;
    uws_deflate_params params;
    size_t min_size;
    #endif
    bool on;
    bool agreed;
} uws_deflate_setup_t;

// Check the compression arguments (`args` from UWS_DEFLATE_ARGS), all of
// them, before anything is written. Returns whether compression is asked for.
static bool uws_deflate_setup(const mp_arg_val_t *args, uws_deflate_setup_t *setup) {
    mp_obj_t compression = args[0].u_obj;
    setup->agreed = false;
    setup->on = compression != mp_const_none;
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    if (setup->on) {
        size_t len = 0;
        const char *name = mp_obj_is_str(compression) ? mp_obj_str_get_data(compression, &len) : "";
        if (len != 7 || memcmp(name, "deflate", 7) != 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("compression must be \"deflate\" or None"));
        }
    }
    setup->opts = uws_deflate_options_DEFAULT;
    uint8_t *bits[2] = { &setup->opts.server_max_window_bits, &setup->opts.client_max_window_bits };
    for (size_t i = 0; i < 2; ++i) {
        if (args[1 + i].u_obj != mp_const_none) {
            mp_int_t b = mp_obj_get_int(args[1 + i].u_obj);
            if (b < 8 || b > 15) {
                mp_raise_ValueError(MP_ERROR_TEXT("window bits must be from 8 to 15"));
            }
            *bits[i] = b;
        }
    }
    setup->opts.server_no_context_takeover = args[3].u_bool;
    setup->opts.client_no_context_takeover = args[4].u_bool;
    setup->min_size = MICROPY_PY_UWEBSOCKET_DEFLATE_MIN_SIZE;
    if (args[5].u_obj != mp_const_none) {
        mp_int_t min_size = mp_obj_get_int(args[5].u_obj);
        if (min_size < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("compress_min_size must be >= 0"));
        }
        setup->min_size = min_size;
    }
    #else
    if (setup->on) {
        mp_raise_ValueError(MP_ERROR_TEXT("compression not built in"));
    }
    #endif
    return setup->on;
}

// Turn compression on for a new WebSocket, as the handshake agreed (or, for
// a wrapped stream, as the script says). Allocates before the 101 or the
// first frame: MemoryError leaves nothing half done.
static void uws_deflate_attach(mp_obj_websocket_t *self, uws_deflate_setup_t *setup, bool server) {
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    if (!setup->agreed) {
        return;
    }
    uws_deflate_t *z = m_new_obj(uws_deflate_t);
    memset(z, 0, sizeof(*z));
    z->min_size = setup->min_size;
    z->params = setup->params;
    z->server = server;
    bool keep;
    z->rx_bits = uws_deflate_rx_bits(&z->params, server, &keep);
    z->rx_keep = keep;
    z->tx_bits = uws_deflate_tx_bits(&z->params, server, &keep);
    z->tx_keep = keep;
    self->deflate = z;
    uws_conn_set_deflate(CONN(self), &z->params);
    #else
    (void)self;
    (void)setup;
    (void)server;
    #endif
}

#if MICROPY_PY_UWEBSOCKET_SERVER
// Server: answer the request's permessage-deflate offer, if the core takes
// one, with a line added to the response's extra headers.
static void uws_deflate_accept_line(vstr_t *extra, const byte *head, size_t len, uws_deflate_setup_t *setup) {
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    if (setup->on) {
        byte line[UWS_DEFLATE_LINE];
        size_t n = uws_deflate_server_accept(head, len, &setup->opts, line, sizeof(line), &setup->params);
        vstr_add_strn(extra, (const char *)line, n);
        setup->agreed = n > 0;
    }
    #else
    (void)extra;
    (void)head;
    (void)len;
    (void)setup;
    #endif
}
#endif

#if MICROPY_PY_UWEBSOCKET_CLIENT
// Client: the offer line, added to the request's extra headers.
static void uws_deflate_offer_line(vstr_t *extra, const uws_deflate_setup_t *setup) {
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    if (setup->on) {
        byte line[UWS_DEFLATE_LINE];
        vstr_add_strn(extra, (const char *)line, uws_deflate_offer(&setup->opts, line, sizeof(line)));
    }
    #else
    (void)extra;
    (void)setup;
    #endif
}

// Client: check the response, with the server's answer to our offer. One
// of the core's two checks is linked: the one without compression is the
// smaller.
static bool uws_deflate_response(const byte *head, size_t len, const byte *key, const byte *protocols,
    size_t protocols_len, uws_deflate_setup_t *setup, uws_handshake *result) {
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    return uws_client_response_deflate(head, len, key, protocols, protocols_len, setup->on ? &setup->opts : NULL,
        result, &setup->params, &setup->agreed);
    #else
    (void)setup;
    return uws_client_response(head, len, key, protocols, protocols_len, result);
    #endif
}
#endif

// ws.compression: what was agreed, in the extension's own terms, or None.
static mp_obj_t uws_compression_obj(mp_obj_websocket_t *self) {
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    if (self->deflate == NULL) {
        return mp_const_none;
    }
    byte text[UWS_DEFLATE_LINE];
    return mp_obj_new_str((const char *)text, uws_deflate_describe(&self->deflate->params, text, sizeof(text)));
    #else
    (void)self;
    return mp_const_none;
    #endif
}

#if MICROPY_PY_UWEBSOCKET_DEFLATE

static void uws_free_inflater(uws_deflate_t *z) {
    if (z->inflater != NULL) {
        m_del(byte, (byte *)z->inflater, uws_inflater_size(z->rx_bits));
        z->inflater = NULL;
    }
}

static void uws_free_deflater(uws_deflate_t *z) {
    if (z->deflater != NULL) {
        m_del(byte, (byte *)z->deflater, uws_deflater_size(z->tx_bits));
        z->deflater = NULL;
    }
}

// The connection is over: its windows go back to the heap.
static void uws_deflate_release(mp_obj_websocket_t *self) {
    if (self->deflate != NULL) {
        uws_free_inflater(self->deflate);
        uws_free_deflater(self->deflate);
    }
}

// A receive step of a compressed message: inflate what the core has read
// into where `room` says (the growing message buffer, or the rest of the
// caller's buffer). Without memory for the decompressor the connection
// fails with 1011 and MemoryError is raised.
static int32_t uws_inflate_step(mp_obj_websocket_t *self, uws_room_fn room, void *ctx, size_t *payload) {
    uws_deflate_t *z = self->deflate;
    *payload = 0;
    if (z->inflater == NULL) {
        size_t size = uws_inflater_size(z->rx_bits);
        uws_inflater *block = (uws_inflater *)m_new_maybe(byte, size);
        if (block == NULL) {
            uws_drop_message(self);
            uws_end_locally(CONN(self), UWS_LOCAL_NO_DECOMPRESSOR_MEMORY, 0);
            uws_send_close_reply(self);
            uws_close_stream(self);
            mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("no memory to decompress a message"));
        }
        if (!uws_inflater_init(block, z->rx_bits)) {
            m_del(byte, (byte *)block, size);
            mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("uwebsocket: misaligned decompressor"));
        }
        z->inflater = block;
    }
    // The room the core asks for in the growing buffer; the caller's
    // buffer lowers it to what is left of it.
    uint64_t want = uws_rx_inflate_room(CONN(self), self->msg_len, self->msg_alloc);
    byte *dst = room(self, ctx, &want);
    if (dst == NULL) {
        return UWS_RX_NO_ROOM;
    }
    int32_t event = uws_rx_inflate(CONN(self), z->inflater, dst, want, payload);
    if ((event == UWS_EV_TEXT || event == UWS_EV_BINARY) && !z->rx_keep) {
        uws_free_inflater(z);
    }
    return event;
}

// One frame of a compressed message: the core makes the header (RSV1 on
// the first frame, §6.1), the payload goes out as any other.
static void uws_deflate_frame(mp_obj_websocket_t *self, bool text, bool fin, const byte *payload, size_t len) {
    byte header[UWS_MAX_HEADER];
    byte key[4];
    uws_random(key, uws_tx_random_len(CONN(self)));
    int32_t n = uws_tx_compressed_header(CONN(self), text, fin, len, key, header, key);
    uws_check_tx(self, n);
    uws_write_frame(self, 0, header, n, key, MP_OBJ_NULL, payload, len);
}

// Compress and send a message, or a piece of one (fin=False: the pieces
// form one compressed message). Returns false for a message that goes
// uncompressed (no compression, or shorter than compress_min_size).
// The output goes out from a buffer on the stack, in frames of
// UWS_DEFLATE_FRAME bytes at most; no heap but the compressor's block,
// allocated at the start of a message (MemoryError then, nothing sent).
// Once the compressor has taken bytes of a message, the peer's
// decompressor must see all of them: an exception that interrupts the
// message (a write timeout, an interrupt) ends the connection (1006).
static bool uws_deflate_send(mp_obj_websocket_t *self, bool text, bool fin, mp_obj_t source, const byte *data, size_t len) {
    uws_deflate_t *z = self->deflate;
    int32_t compress = uws_tx_compress(CONN(self), text, fin, len, z->min_size);
    uws_check_tx(self, compress);
    if (!compress) {
        return false;
    }
    if (z->deflater == NULL) {
        size_t size = uws_deflater_size(z->tx_bits);
        uws_deflater *block = (uws_deflater *)m_new_maybe(byte, size);
        if (block == NULL) {
            mp_raise_msg(&mp_type_MemoryError, MP_ERROR_TEXT("no memory to compress a message"));
        }
        if (!uws_deflater_init(block, z->tx_bits)) {
            m_del(byte, (byte *)block, size);
            mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("uwebsocket: misaligned compressor"));
        }
        z->deflater = block;
    }
    bool python_stream = source != MP_OBJ_NULL && mp_obj_is_instance_type(mp_obj_get_type(self->stream));
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        byte out[UWS_DEFLATE_FRAME];
        size_t pos = 0, fill = 0;
        for (;;) {
            size_t used, produced;
            int32_t r = uws_deflate(z->deflater, data + pos, len - pos, out + fill, sizeof(out) - fill, fin, &used, &produced);
            pos += used;
            fill += produced;
            if (r == UWS_DEFLATE_DONE) {
                uws_deflate_frame(self, text, true, out, fill);
                break;
            }
            if (r == UWS_DEFLATE_ERROR || (fill < sizeof(out) && used == 0 && produced == 0 && (fin || pos < len))) {
                mp_raise_msg(&mp_type_RuntimeError, MP_ERROR_TEXT("uwebsocket: compressor stalled"));
            }
            if (fill == sizeof(out)) {
                uws_deflate_frame(self, text, false, out, fill);
                fill = 0;
                if (python_stream && pos < len) {
                    // The stream ran Python code: look the data up again.
                    mp_buffer_info_t bufinfo;
                    mp_get_buffer_raise(source, &bufinfo, MP_BUFFER_READ);
                    if (bufinfo.len < len) {
                        mp_raise_ValueError(MP_ERROR_TEXT("data changed size while being sent"));
                    }
                    data = bufinfo.buf;
                }
            } else if (!fin && pos == len) {
                // The piece is in: what came out so far goes as a fragment
                // (maybe empty), and the core knows the message goes on.
                uws_deflate_frame(self, text, false, out, fill);
                break;
            }
        }
        nlr_pop();
    } else {
        // ConnectionClosed: the core refused the frame, or the transport
        // failed; either way nothing more goes out.
        if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(MP_OBJ_FROM_PTR(nlr.ret_val))), MP_OBJ_FROM_PTR(&uws_type_ConnectionClosed))) {
            nlr_jump(nlr.ret_val);
        }
        if (!uws_ended(self)) {
            uws_fail_cut(self);
        }
        uws_reraise_if_fatal(nlr.ret_val);
        uws_raise_closed(self);
    }
    if (fin && !z->tx_keep) {
        uws_free_deflater(z);
    }
    return true;
}

#endif // MICROPY_PY_UWEBSOCKET_DEFLATE

static inline MP_ALWAYSINLINE void uws_send_frames(mp_obj_websocket_t *self, bool text, bool fin, mp_obj_t source,
    const byte *data, size_t len);
static void uws_send_data(mp_obj_websocket_t *self, bool text, bool fin, mp_obj_t source, const byte *data, size_t len) {
    // (The core refuses a frame once the connection is closing or over.)
    if (self->stream_closed) {
        uws_raise_closed(self);
    }
    // Non-blocking mode: over the high-water mark, refuse before anything
    // is sent (the caller flushes and retries), so a peer that does not
    // read cannot make us queue without end; below it, room for the frame.
    if (self->tx != NULL) {
        self->tx_reserved = false;
        size_t waiting = uws_flush_tx(self);
        if (uws_txq_over_high_water(waiting)) {
            mp_raise_OSError(MP_EAGAIN);
        }
        if (source != MP_OBJ_NULL && !self->leaf_stream) {
            // The flush may have run Python code that resized the data's
            // object: look it up again (a raw pointer into the caller's
            // object is never used after a call into Python).
            mp_buffer_info_t bufinfo;
            mp_get_buffer_raise(source, &bufinfo, MP_BUFFER_READ);
            data = bufinfo.buf;
            len = bufinfo.len;
        }
        if (waiting > 0) {
            uws_reserve_tx(self, len);
        }
    }
    uws_send_frames(self, text, fin, source, data, len);
    if (self->tx_reserved) {
        uws_release_tx(self);
    }
}

// The frames of a message, or of a fragment of one (uws_send_data).
static inline MP_ALWAYSINLINE void uws_send_frames(mp_obj_websocket_t *self, bool text, bool fin, mp_obj_t source,
    const byte *data, size_t len) {
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    if (self->deflate != NULL && !uws_ended(self) && uws_deflate_send(self, text, fin, source, data, len)) {
        return;
    }
    #endif
    byte key[4];
    if (self->masking) {
        uws_random(key, sizeof(key));
    }
    // A fragment begun or ended moves the core's send side: taken back
    // should not a byte of it go out (uws_frame_out_t.undo).
    uws_frame_out_t out = { 0, 0 };
    if (len <= UWS_STACK_FRAME - UWS_MAX_HEADER) {
        // A small message: the core builds the whole frame, one write.
        byte frame[UWS_STACK_FRAME];
        int32_t n = uws_tx_data_frame(CONN(self), text, fin, key, data, len, frame, sizeof(frame), &out.undo);
        uws_check_tx(self, n);
        const byte *rest = frame;
        size_t left = n;
        if (!uws_frame_write_first(self, &out, &rest, &left, 0)) {
            uws_frame_write_rest(self, &out, rest, left, NULL, 0);
        }
        return;
    }
    // A larger one: its header here, the payload from the caller's buffer
    // (masked through uws_write_frame's buffer in the client role).
    uint8_t undo = uws_tx_mark(CONN(self), fin);
    byte header[UWS_MAX_HEADER];
    int32_t n = uws_tx_data_header(CONN(self), text, fin, len, key, header, key);
    uws_check_tx(self, n);
    uws_write_frame(self, undo, header, n, key, source, data, len);
}

// send(data, fin=True): str is sent as a text message, any other buffer as
// binary. fin=False sends a fragment: the message continues with the next
// send() calls (of the same type) until one with fin=True.
static mp_obj_t uws_send(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_data, ARG_fin };
    UWS_ARG_TABLE allowed_args[] = {
        { MP_QSTR_data, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_fin, MP_ARG_BOOL, {.u_bool = true} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    if (n_args == 2 && kw_args->used == 0) {
        // send(data), the common call, without the keyword parser's cost.
        args[ARG_data].u_obj = pos_args[1];
        args[ARG_fin].u_bool = true;
    } else {
        mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    }
    mp_obj_websocket_t *self = uws_enter(pos_args[0]);
    mp_obj_t data = args[ARG_data].u_obj;
    bool text = mp_obj_is_str(data);
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(data, &bufinfo, MP_BUFFER_READ);
    uws_send_data(self, text, args[ARG_fin].u_bool, data, bufinfo.buf, bufinfo.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_send_obj, 1, uws_send);

// ping(data=b""): send a Ping (at most 125 bytes); the Pong is absorbed by
// recv().
static mp_obj_t uws_ping(size_t n_args, const mp_obj_t *args) {
    mp_obj_websocket_t *self = uws_enter(args[0]);
    mp_buffer_info_t bufinfo = { .buf = NULL, .len = 0 };
    if (n_args > 1) {
        mp_get_buffer_raise(args[1], &bufinfo, MP_BUFFER_READ);
    }
    if (bufinfo.len > UWS_MAX_CONTROL) {
        mp_raise_ValueError(MP_ERROR_TEXT("control payload longer than 125 bytes"));
    }
    // A copy: flushing the queue first may run Python code that changes
    // the caller's object.
    byte payload[UWS_MAX_CONTROL];
    if (bufinfo.len > 0) {
        memcpy(payload, bufinfo.buf, bufinfo.len);
    }
    uws_send_control(self, UWS_OP_PING, payload, bufinfo.len, true);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(uws_ping_obj, 1, 2, uws_ping);

// Wait for the peer's Close after ours, discarding messages: at most
// UWS_CLOSE_TIMEOUT_MS in all, whatever the stream's own timeout. A
// non-blocking stream is not waited on: its owner (an event loop) must not
// stall, and the server side may close the TCP connection first (§7.1.1).
static void uws_await_close(mp_obj_websocket_t *self) {
    mp_uint_t start = mp_hal_ticks_ms();
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        byte scratch[64];
        while (!self->stream_closed && uws_state(CONN(self)) == UWS_STATE_CLOSE_SENT) {
            mp_uint_t waited = mp_hal_ticks_ms() - start;
            if (waited >= UWS_CLOSE_TIMEOUT_MS
                || !uws_wait(self, self->stream, MP_STREAM_POLL_RD, UWS_CLOSE_TIMEOUT_MS - waited)) {
                break;
            }
            self->more = false;
            if (uws_recv_into_buf(self, scratch, sizeof(scratch)) < 0) {
                break;
            }
        }
        nlr_pop();
    } else {
        // The peer's Close (ConnectionClosed), a dropped transport or a
        // timeout all end the wait; the user's interrupt goes on.
        uws_reraise_if_fatal(nlr.ret_val);
    }
}

// Close: start the close handshake (§7.1.2), wait briefly for the peer's
// answer, then close the stream. Nothing happens on a closed connection.
// `wait` in non-blocking mode: keep the stream open for the answer, which
// the next recv() reports (an event loop waits for it; a second close()
// closes the stream if it does not come).
static void uws_close_with(mp_obj_websocket_t *self, uint16_t code, const byte *payload, size_t n, bool wait) {
    uint8_t state = uws_state(CONN(self));
    if (!uws_ended(self) && (state == UWS_STATE_OPEN || state == UWS_STATE_CLOSE_RECEIVED)) {
        uws_end_locally(CONN(self), UWS_LOCAL_CLOSE_UNANSWERED, code);
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            uws_send_control(self, UWS_OP_CLOSE, payload, n, false);
            nlr_pop();
            if (!self->queue_writes && wait) {
                uws_await_close(self);
            } else if (wait && !uws_ended(self)) {
                return;
            }
        } else {
            // The transport failed while our Close went out: closed anyway.
            uws_reraise_if_fatal(nlr.ret_val);
        }
    }
    // Non-blocking mode: queued frames (our Close included) go out if the
    // stream takes them now; an event loop is not stalled for a peer that
    // stopped reading (the asyncio helper drains before it closes).
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        uws_flush_tx(self);
        nlr_pop();
    } else {
        uws_reraise_if_fatal(nlr.ret_val);
    }
    uws_drop_message(self);
    uws_close_stream(self);
}

// close(code=1000, reason="", *, wait=None): the arguments are checked
// first; a second close() does nothing once the connection has ended.
// wait: whether to wait for the peer's Close; None waits (at most 2 s) in
// blocking mode, and in non-blocking mode closes the stream at once.
// wait=True in non-blocking mode keeps the stream open for the answer.
static mp_obj_t uws_close(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_code, ARG_reason, ARG_wait };
    UWS_ARG_TABLE allowed_args[] = {
        { MP_QSTR_code, MP_ARG_INT, {.u_int = 1000} },
        { MP_QSTR_reason, MP_ARG_OBJ, {.u_obj = mp_const_empty_bytes} },
        { MP_QSTR_wait, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    int wait = args[ARG_wait].u_obj == mp_const_none ? -1 : mp_obj_is_true(args[ARG_wait].u_obj);
    mp_obj_websocket_t *self = uws_enter(pos_args[0]);
    mp_buffer_info_t reason;
    mp_get_buffer_raise(args[ARG_reason].u_obj, &reason, MP_BUFFER_READ);
    byte payload[UWS_MAX_CONTROL];
    mp_int_t code = args[ARG_code].u_int;
    int32_t n = (code < 0 || code > 0xffff) ? UWS_TX_INVALID : uws_close_payload(code, reason.buf, reason.len, payload);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid close code, or reason over 123 bytes"));
    }
    uws_close_with(self, code, payload, n, wait < 0 ? !self->queue_writes : wait);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_close_obj, 1, uws_close);

// setblocking(flag): set the stream's mode. Non-blocking, recv() returns
// None until a whole message is there and send() never waits: what the
// stream does not take is queued, flush() writes it on (poll for
// POLLOUT while it returns non-zero).
static mp_obj_t uws_setblocking(mp_obj_t self_in, mp_obj_t flag) {
    mp_obj_websocket_t *self = uws_enter(self_in);
    bool blocking = mp_obj_is_true(flag);
    if (uws_ended(self)) {
        return mp_const_none;
    }
    uws_call_method(self->stream, MP_QSTR_setblocking, 1, &flag);
    self->queue_writes = !blocking;
    if (blocking && self->tx != NULL) {
        // What was queued goes out now, as in any blocking send.
        uws_frame_out_t out = { .sent = 1 };
        uws_txq *q = self->tx;
        self->tx = NULL;
        size_t len;
        const byte *data = uws_txq_pending(q, &len);
        uws_frame_write(self, &out, data, len, NULL, 0);
        m_del(byte, (byte *)q, uws_txq_size(q));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(uws_setblocking_obj, uws_setblocking);

// flush(): write queued bytes the stream takes now; returns how many still
// wait (0: all sent).
static mp_obj_t uws_flush(mp_obj_t self_in) {
    mp_obj_websocket_t *self = uws_enter(self_in);
    // (A send that raised may have left its reservation.)
    self->tx_reserved = false;
    return MP_OBJ_NEW_SMALL_INT(uws_flush_tx(self));
}
static MP_DEFINE_CONST_FUN_OBJ_1(uws_flush_obj, uws_flush);

// __exit__: close with 1000 whatever left the block; never raises but for
// the user's interrupt.
static mp_obj_t uws_exit(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    mp_obj_websocket_t *self = uws_enter(args[0]);
    byte payload[UWS_MAX_CONTROL];
    int32_t n = uws_close_payload(1000, NULL, 0, payload);
    uws_close_with(self, 1000, payload, n < 0 ? 0 : n, !self->queue_writes);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(uws_exit_obj, 4, 4, uws_exit);

// __del__: a WebSocket collected without close() closes its stream (no
// Close frame: the heap is locked while finalisers run, so no Python code
// may run; a stream written in Python is left to its own finaliser).
static mp_obj_t uws_del(mp_obj_t self_in) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    if (!self->stream_closed && self->busy != UWS_BUSY && !mp_obj_is_instance_type(mp_obj_get_type(self->stream))) {
        self->stream_closed = true;
        const mp_stream_p_t *p = mp_get_stream(self->stream);
        int err;
        p->ioctl(self->stream, MP_STREAM_CLOSE, 0, &err);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(uws_del_obj, uws_del);

static void uws_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (dest[0] != MP_OBJ_NULL) {
        return;
    }
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    uws_settle_cut(self);
    if (attr == MP_QSTR_path || attr == MP_QSTR_headers || attr == MP_QSTR_subprotocol) {
        dest[0] = self->handshake == mp_const_none ? mp_const_none
            : mp_obj_subscr(self->handshake, MP_OBJ_NEW_SMALL_INT(attr == MP_QSTR_path ? 0 : attr == MP_QSTR_headers ? 1 : 2), MP_OBJ_SENTINEL);
    } else if (attr == MP_QSTR_more) {
        dest[0] = mp_obj_new_bool(self->more);
    } else if (attr == MP_QSTR_text) {
        dest[0] = mp_obj_new_bool(uws_rx_is_text(CONN(self)));
    } else if (attr == MP_QSTR_closed) {
        dest[0] = mp_obj_new_bool(uws_ended(self));
    } else if (attr == MP_QSTR_close_code) {
        dest[0] = uws_close_code_obj(self);
    } else if (attr == MP_QSTR_close_reason) {
        dest[0] = uws_close_reason_obj(self);
    } else if (attr == MP_QSTR_stream) {
        dest[0] = self->stream;
    } else if (attr == MP_QSTR_compression) {
        dest[0] = uws_compression_obj(self);
    } else {
        // Methods come from the locals dict.
        dest[1] = MP_OBJ_SENTINEL;
    }
}

// Stream protocol: read() gives message payload bytes (boundaries not
// kept, like the built-in websocket module) and reports end of stream
// once the connection has ended, whatever ended it; write() sends a
// binary message; poll/close go to the underlying stream, so a WebSocket
// can be registered with select.poll and used by asyncio.
static mp_uint_t uws_stream_read(mp_obj_t self_in, void *buf, mp_uint_t size, int *errcode) {
    mp_obj_websocket_t *self = uws_enter(self_in);
    if (uws_ended(self)) {
        return 0;
    }
    mp_int_t n = 0;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        // mp_stream_rw hands us its own buffer, but for a stream written in
        // Python that buffer may belong to an object that Python code can
        // resize: uws_recv_into_caller is not usable without the object, so
        // read into a private buffer for such streams.
        // An empty message carries no bytes: it must not read as the end
        // of the stream (a count of 0), so the next one is read instead.
        bool python_stream = mp_obj_is_instance_type(mp_obj_get_type(self->stream));
        byte *scratch = python_stream ? m_new(byte, size ? size : 1) : buf;
        // Non-blocking mode reads past UWS_CONTROL_PER_CALL of them at most,
        // like control frames.
        for (uint32_t empty = 0;;) {
            n = uws_recv_into_buf(self, scratch, size);
            if (n != 0 || size == 0) {
                break;
            }
            if (self->queue_writes && ++empty >= UWS_CONTROL_PER_CALL) {
                n = -1;
                break;
            }
        }
        if (python_stream) {
            if (n > 0) {
                memcpy(buf, scratch, n);
            }
            m_del(byte, scratch, size ? size : 1);
        }
        nlr_pop();
    } else {
        // The end of the connection is the end of the stream.
        if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(MP_OBJ_FROM_PTR(nlr.ret_val))), MP_OBJ_FROM_PTR(&uws_type_ConnectionClosed))) {
            nlr_jump(nlr.ret_val);
        }
        return 0;
    }
    if (n < 0) {
        *errcode = MP_EAGAIN;
        return MP_STREAM_ERROR;
    }
    return n;
}

// Like a socket's: once the connection has ended, OSError(ENOTCONN) (the
// byte-stream view reads end of file then; ConnectionClosed is for the
// message API).
static mp_uint_t uws_stream_write(mp_obj_t self_in, const void *buf, mp_uint_t size, int *errcode) {
    mp_obj_websocket_t *self = uws_enter(self_in);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        // The bytes belong to an object we do not know: for a stream
        // written in Python (which runs code while writing, and flushing
        // the queue before the frame is built) send a copy.
        if ((size > UWS_STACK_FRAME || self->tx != NULL) && mp_obj_is_instance_type(mp_obj_get_type(self->stream))) {
            byte *copy = m_new(byte, size);
            memcpy(copy, buf, size);
            uws_send_data(self, false, true, MP_OBJ_NULL, copy, size);
            m_del(byte, copy, size);
        } else {
            uws_send_data(self, false, true, MP_OBJ_NULL, buf, size);
        }
        nlr_pop();
    } else {
        if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(MP_OBJ_FROM_PTR(nlr.ret_val))), MP_OBJ_FROM_PTR(&uws_type_ConnectionClosed))) {
            nlr_jump(nlr.ret_val);
        }
        *errcode = MP_ENOTCONN;
        return MP_STREAM_ERROR;
    }
    return size;
}

static mp_uint_t uws_stream_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    mp_obj_websocket_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->busy == UWS_BUSY) {
        *errcode = MP_EBUSY;
        return MP_STREAM_ERROR;
    }
    uws_settle_cut(self);
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
    if (request == MP_STREAM_POLL && self->stream_closed) {
        // A closed WebSocket is readable: recv() raises at once.
        return arg & (MP_STREAM_POLL_RD | MP_STREAM_POLL_WR);
    }
    mp_uint_t ret = uws_ioctl(self, self->stream, request, arg, errcode);
    // Bytes read ahead may hold a whole message the socket no longer shows.
    // (A partial header read ahead is not: recv() would only wait for the
    // socket, so poll waits on it too.)
    if (request == MP_STREAM_POLL && ret != MP_STREAM_ERROR && (arg & MP_STREAM_POLL_RD)
        && (uws_rx_ready(CONN(self)) || self->msg_complete)) {
        ret |= MP_STREAM_POLL_RD;
    }
    return ret;
}

static mp_obj_t uws_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    (void)type;
    enum { ARG_stream, ARG_server_side, ARG_max_size, ARG_compression };
    UWS_ARG_TABLE allowed_args[] = {
        { MP_QSTR_stream, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_server_side, MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_max_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_SIZE} },
        UWS_DEFLATE_ARGS(mp_const_none),
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    // No handshake here: compression="deflate" wraps a stream whose
    // handshake agreed on the options given, as they are.
    uws_deflate_setup_t deflate;
    uws_deflate_setup(&args[ARG_compression], &deflate);
    #if MICROPY_PY_UWEBSOCKET_DEFLATE
    deflate.agreed = deflate.on;
    deflate.params.server_max_window_bits = deflate.opts.server_max_window_bits;
    deflate.params.client_max_window_bits = deflate.opts.client_max_window_bits;
    deflate.params.server_no_context_takeover = deflate.opts.server_no_context_takeover;
    deflate.params.client_no_context_takeover = deflate.opts.client_no_context_takeover;
    #endif
    mp_obj_websocket_t *ws = uws_new(args[ARG_stream].u_obj, args[ARG_server_side].u_bool, args[ARG_max_size].u_int);
    uws_deflate_attach(ws, &deflate, args[ARG_server_side].u_bool);
    return MP_OBJ_FROM_PTR(ws);
}

#if MICROPY_PY_UWEBSOCKET_KEEPALIVE
#define UWS_IF_KEEPALIVE(entry) entry
#else
#define UWS_IF_KEEPALIVE(entry)
#endif

// The WebSocket's methods.
#define UWS_WEBSOCKET_LOCALS(X) \
    X(MP_QSTR_recv, &uws_recv_obj) \
    X(MP_QSTR_recv_into, &uws_recv_into_obj) \
    X(MP_QSTR_send, &uws_send_obj) \
    X(MP_QSTR_ping, &uws_ping_obj) \
    UWS_IF_KEEPALIVE(X(MP_QSTR_keepalive, &uws_keepalive_obj)) \
    X(MP_QSTR_close, &uws_close_obj) \
    X(MP_QSTR_setblocking, &uws_setblocking_obj) \
    X(MP_QSTR_flush, &uws_flush_obj) \
    X(MP_QSTR___enter__, &mp_identity_obj) \
    X(MP_QSTR___exit__, &uws_exit_obj) \
    X(MP_QSTR___del__, &uws_del_obj) \
    X(MP_QSTR_read, &mp_stream_read_obj) \
    X(MP_QSTR_readinto, &mp_stream_readinto_obj) \
    X(MP_QSTR_write, &mp_stream_write_obj)
UWS_DICT(uws_websocket_locals, UWS_WEBSOCKET_LOCALS)

static const mp_stream_p_t uws_stream_p = {
    .read = uws_stream_read,
    .write = uws_stream_write,
    .ioctl = uws_stream_ioctl,
};

#if !MICROPY_ENABLE_DYNRUNTIME
static MP_DEFINE_CONST_OBJ_TYPE(
    uws_type_WebSocket, MP_QSTR_WebSocket, MP_TYPE_FLAG_ITER_IS_STREAM,
    make_new, uws_make_new,
    attr, uws_attr,
    protocol, &uws_stream_p,
    locals_dict, &uws_websocket_locals
    );
#endif

/******************************************************************************/
// The opening handshake (§4): the core validates and writes; this part reads
// heads from the stream and turns spans into Python objects.

static mp_obj_t uws_call_method(mp_obj_t obj, qstr name, size_t n_args, const mp_obj_t *args) {
    mp_obj_t call[2 + 4];
    mp_load_method(obj, name, call);
    for (size_t i = 0; i < n_args; ++i) {
        call[2 + i] = args[i];
    }
    return mp_call_method_n_kw(n_args, 0, call);
}

// TCP_NODELAY on a socket, where it has the option: frames go out in more
// than one write (header, then payload from the caller's buffer), and
// Nagle's algorithm would hold the second until the peer's delayed ACK.
// Streams written in Python and streams without setsockopt are left alone;
// so is a socket that refuses the option (AF_UNIX, say).
static void uws_set_nodelay(mp_obj_t stream) {
    if (mp_obj_is_instance_type(mp_obj_get_type(stream))) {
        return;
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t call[2 + 3];
        mp_load_method_maybe(stream, MP_QSTR_setsockopt, call);
        if (call[0] != MP_OBJ_NULL) {
            // IPPROTO_TCP and TCP_NODELAY by number: 6 and 1 on every
            // port's stack (lwIP, POSIX), whether or not it names them.
            call[2] = MP_OBJ_NEW_SMALL_INT(6);
            call[3] = MP_OBJ_NEW_SMALL_INT(1);
            call[4] = MP_OBJ_NEW_SMALL_INT(1);
            mp_call_method_n_kw(3, 0, call);
        }
        nlr_pop();
    } else {
        uws_reraise_if_fatal(nlr.ret_val);
    }
}


static mp_obj_t uws_span_str(const byte *base, uws_span span) {
    return mp_obj_new_str((const char *)base + span.start, span.len);
}

// A max_head argument: at least a request line's worth.
static size_t uws_check_max_head(mp_int_t max_head) {
    if (max_head < 16) {
        mp_raise_ValueError(MP_ERROR_TEXT("max_head must be >= 16"));
    }
    return max_head;
}

// uws_read_head, closing the stream when the head does not come (a
// timeout, the end of the stream, an error): neither side has anything to
// answer then.
static bool uws_read_head_or_close(mp_obj_t stream, vstr_t *head, size_t max, mp_uint_t timeout_ms) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        bool complete = uws_read_head(stream, head, max, timeout_ms);
        nlr_pop();
        return complete;
    }
    if (!uws_is_fatal(nlr.ret_val)) {
        uws_stream_close(NULL, stream);
    }
    nlr_jump(nlr.ret_val);
}

// A core writer's result into `out`'s free space: true when it wrote (the
// length is taken); false when it needs more room (made, call again);
// ValueError for what the core refuses.
static bool uws_wrote(vstr_t *out, intptr_t n) {
    if (n >= 0) {
        out->len += n;
        return true;
    }
    if (n == UWS_HTTP_INVALID) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid header"));
    }
    vstr_hint_size(out, (size_t)(-n - 2));
    return false;
}

#define UWS_ROOM(out) (byte *)(out)->buf + (out)->len, (out)->alloc - (out)->len

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
        if (!uws_http_list_item_ok((const byte *)s, len)) {
            mp_raise_ValueError(MP_ERROR_TEXT("invalid subprotocol or origin"));
        }
        if (out->len > 0) {
            vstr_add_str(out, sep);
        }
        vstr_add_strn(out, s, len);
    }
}

// Extra headers (a dict or a list of (name, value) pairs) as header lines,
// each checked by the core (no CR or LF that would inject a header).
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
        size_t name_len, value_len;
        const char *name = mp_obj_str_get_data(pair[0], &name_len);
        const char *value = mp_obj_str_get_data(pair[1], &value_len);
        while (!uws_wrote(out, uws_http_header_line((const byte *)name, name_len, (const byte *)value, value_len, UWS_ROOM(out)))) {
        }
    }
}


#if MICROPY_PY_UWEBSOCKET_SERVER

// A str for a header value, or bytes when it is not UTF-8.
static mp_obj_t uws_text_or_bytes(const byte *data, size_t len) {
    if (uws_utf8_valid(data, len)) {
        return mp_obj_new_str((const char *)data, len);
    }
    return mp_obj_new_bytes(data, len);
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
    if (attr == MP_QSTR_method) {
        dest[0] = self->method;
    } else if (attr == MP_QSTR_path) {
        dest[0] = self->path;
    } else if (attr == MP_QSTR_headers) {
        dest[0] = self->headers;
    } else if (attr == MP_QSTR_raw) {
        dest[0] = self->raw;
    } else if (attr == MP_QSTR_upgrade) {
        dest[0] = mp_obj_new_bool(self->upgrade);
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

#if MICROPY_ENABLE_DYNRUNTIME
UWS_VAR mp_obj_full_type_t uws_dyn_Request;
#define uws_type_Request (*(mp_obj_type_t *)&uws_dyn_Request)
#else
static MP_DEFINE_CONST_OBJ_TYPE(
    uws_type_Request, MP_QSTR_Request, MP_TYPE_FLAG_NONE,
    make_new, uws_request_make_new,
    attr, uws_request_attr
    );
#endif

// Write a complete HTTP error/response and close the stream (if there is
// one), then raise HandshakeError(status, message).
static NORETURN void uws_refuse(mp_obj_t stream, const byte *response, size_t response_len,
    mp_int_t status, const byte *message, size_t message_len) {
    if (stream != MP_OBJ_NULL) {
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            uws_write_all(stream, response, response_len);
            nlr_pop();
        } else {
            uws_reraise_if_fatal(nlr.ret_val);
        }
        uws_stream_close(NULL, stream);
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
    // Names lower-cased and repeated fields joined by the core, into
    // buffers as long as the head (always enough).
    byte *field = m_new(byte, 2 * head->len);
    size_t name_len, value_len;
    for (size_t i = 0; uws_request_header(base, head->len, i, field, &name_len, field + head->len, &value_len); ++i) {
        mp_obj_dict_store(req->headers, mp_obj_new_str((const char *)field, name_len),
            uws_text_or_bytes(field + head->len, value_len));
    }
    m_del(byte, field, 2 * head->len);
    req->raw = mp_obj_new_bytes_from_vstr(head);
    return req;
}

// Read a request head within timeout_ms (0: no bound of ours).
static mp_obj_uws_request_t *uws_read_request_from(mp_obj_t stream, size_t max_head, mp_uint_t timeout_ms) {
    vstr_t head;
    vstr_init(&head, 256);
    bool complete = uws_read_head_or_close(stream, &head, max_head, timeout_ms);
    if (!complete) {
        uws_refuse_head(stream, &head, false);
    }
    return uws_request_from_head(stream, &head);
}

// accept(sock, *, request=None, subprotocols=None, origins=None,
//        headers=None, max_size=65536, max_head=4096):
// the server handshake. Reads the request (unless one from read_request is
// given), answers 101 and returns a WebSocket; a bad request is answered
// with its HTTP error, the socket closed, and HandshakeError raised.
static mp_obj_t uws_accept(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_sock, ARG_request, ARG_subprotocols, ARG_origins, ARG_headers, ARG_max_size, ARG_max_head, ARG_timeout, ARG_compression };
    UWS_ARG_TABLE allowed_args[] = {
        { MP_QSTR_sock, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_request, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_subprotocols, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_origins, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_headers, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_max_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_SIZE} },
        { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_HEAD} },
        { MP_QSTR_timeout, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NEW_SMALL_INT(UWS_HANDSHAKE_TIMEOUT_MS / 1000)} },
        UWS_DEFLATE_ARGS(UWS_DEFLATE_DEFAULT),
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_obj_t sock = args[ARG_sock].u_obj;
    uws_check_stream(sock);
    uws_deflate_setup_t deflate;
    uws_deflate_setup(&args[ARG_compression], &deflate);
    mp_int_t max_size = uws_check_max_size(args[ARG_max_size].u_int);
    size_t max_head = uws_check_max_head(args[ARG_max_head].u_int);
    mp_uint_t timeout_ms = uws_timeout_ms(args[ARG_timeout].u_obj, 0);

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
        req = uws_read_request_from(sock, max_head, timeout_ms);
    }
    mp_buffer_info_t head;
    mp_get_buffer_raise(req->raw, &head, MP_BUFFER_READ);
    uws_deflate_accept_line(&extra, head.buf, head.len, &deflate);

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
    // Allocated before the 101 goes out: without memory for it, the
    // client gets no upgrade it could not use.
    mp_obj_websocket_t *ws = uws_new(sock, true, max_size);
    uws_deflate_attach(ws, &deflate, true);
    uws_write_all(sock, (const byte *)out.buf, result.response_len);
    vstr_clear(&out);
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

#if MICROPY_PY_UWEBSOCKET_HTTP

// read_request(sock, *, max_head=4096, timeout=10): read one HTTP request
// head. A head too long or not HTTP is answered (431, 400) and raises
// HandshakeError; one that does not come within `timeout` seconds (None:
// no bound but the socket's own) closes the socket and raises
// OSError(ETIMEDOUT).
static mp_obj_t uws_read_request(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_sock, ARG_max_head, ARG_timeout };
    UWS_ARG_TABLE allowed_args[] = {
        { MP_QSTR_sock, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_HEAD} },
        { MP_QSTR_timeout, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NEW_SMALL_INT(UWS_HANDSHAKE_TIMEOUT_MS / 1000)} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    uws_check_stream(args[ARG_sock].u_obj);
    size_t max_head = uws_check_max_head(args[ARG_max_head].u_int);
    mp_uint_t timeout_ms = uws_timeout_ms(args[ARG_timeout].u_obj, 0);
    return MP_OBJ_FROM_PTR(uws_read_request_from(args[ARG_sock].u_obj, max_head, timeout_ms));
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_read_request_obj, 1, uws_read_request);

// respond(sock, status=200, body=b"", *, content_type="text/html",
//         headers=None): answer a plain HTTP request (the page of a device,
// a 404) and close the socket: one port serves HTTP and WebSockets.
static mp_obj_t uws_respond(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_sock, ARG_status, ARG_body, ARG_content_type, ARG_headers };
    UWS_ARG_TABLE allowed_args[] = {
        { MP_QSTR_sock, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_status, MP_ARG_INT, {.u_int = 200} },
        { MP_QSTR_body, MP_ARG_OBJ, {.u_obj = mp_const_empty_bytes} },
        { MP_QSTR_content_type, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
        { MP_QSTR_headers, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args, pos_args, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_obj_t sock = args[ARG_sock].u_obj;
    uws_check_stream(sock);
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
    }
    vstr_t extra, out;
    vstr_init(&extra, 32);
    uws_header_lines(&extra, args[ARG_headers].u_obj);
    vstr_init(&out, 128 + extra.len + body.len);
    while (!uws_wrote(&out, uws_http_response(status, (const byte *)content_type, content_type_len,
        (const byte *)extra.buf, extra.len, body.len, UWS_ROOM(&out)))) {
    }
    vstr_clear(&extra);
    // Head and body in one buffer, one write: the body object is not read
    // after a call into the stream.
    vstr_add_strn(&out, body.buf, body.len);
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        uws_write_all(sock, (const byte *)out.buf, out.len);
        nlr_pop();
    } else {
        if (!uws_is_fatal(nlr.ret_val)) {
            uws_stream_close(NULL, sock);
        }
        nlr_jump(nlr.ret_val);
    }
    vstr_clear(&out);
    uws_stream_close(NULL, sock);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_respond_obj, 1, uws_respond);

#endif // MICROPY_PY_UWEBSOCKET_HTTP

#endif // MICROPY_PY_UWEBSOCKET_SERVER

#if MICROPY_PY_UWEBSOCKET_CLIENT

// The parts of a ws:// or wss:// URL (the core parses it; the spans point
// into the URL str, which the caller keeps alive).
typedef struct {
    bool tls;
    const char *host;  // as written: an IPv6 literal keeps its brackets
    size_t host_len;
    mp_int_t port;
    const char *path;  // path and query, without the fragment
    size_t path_len;
    uws_url parsed;    // with the userinfo, if any
    const byte *base;
} uws_url_t;

static void uws_parse_url(mp_obj_t url_in, uws_url_t *url) {
    size_t len;
    const char *s = mp_obj_str_get_data(url_in, &len);
    if (!uws_url_parse((const byte *)s, len, &url->parsed)) {
        mp_obj_t message = uws_new_str_lossy(url->parsed.message, url->parsed.message_len);
        nlr_raise(mp_obj_new_exception_arg1(&mp_type_ValueError, message));
    }
    url->base = (const byte *)s;
    url->tls = url->parsed.tls;
    url->host = s + url->parsed.host.start;
    url->host_len = url->parsed.host.len;
    url->port = url->parsed.port;
    url->path = s + url->parsed.path.start;
    url->path_len = url->parsed.path.len;
}

// The Authorization line for a URL's user:password (RFC 7617), added to
// the extra header lines.
static void uws_url_auth(vstr_t *extra, const uws_url_t *url) {
    if (!url->parsed.has_userinfo) {
        return;
    }
    byte line[400];
    size_t n = uws_basic_auth(url->base + url->parsed.user.start, url->parsed.user.len,
        url->base + url->parsed.password.start, url->parsed.password.len, line, sizeof(line));
    if (n == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid user or password in URL"));
    }
    vstr_add_strn(extra, (const char *)line, n);
}

enum { ARG_c_subprotocols, ARG_c_headers, ARG_c_origin, ARG_c_max_size, ARG_c_max_head, ARG_c_timeout, ARG_c_ssl, ARG_c_cadata, ARG_c_insecure, ARG_c_compression };
#define UWS_CLIENT_ARGS \
    { MP_QSTR_subprotocols, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_headers, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_origin, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_max_size, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_SIZE} }, \
    { MP_QSTR_max_head, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = MICROPY_PY_UWEBSOCKET_MAX_HEAD} }, \
    { MP_QSTR_timeout, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_ssl, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_cadata, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} }, \
    { MP_QSTR_insecure, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} }, \
    UWS_DEFLATE_ARGS(UWS_DEFLATE_DEFAULT)

// The client handshake on a connected stream (§4.1).
static mp_obj_t uws_client_handshake(mp_obj_t stream, const uws_url_t *url, const mp_arg_val_t *args) {
    uws_check_stream(stream);
    mp_int_t max_size = uws_check_max_size(args[ARG_c_max_size].u_int);
    size_t max_head = uws_check_max_head(args[ARG_c_max_head].u_int);
    mp_uint_t timeout_ms = uws_timeout_ms(args[ARG_c_timeout].u_obj, UWS_HANDSHAKE_TIMEOUT_MS);
    vstr_t protocols, extra;
    vstr_init(&protocols, 32);
    vstr_init(&extra, 32);
    uws_join(&protocols, args[ARG_c_subprotocols].u_obj, ", ");
    uws_header_lines(&extra, args[ARG_c_headers].u_obj);
    uws_url_auth(&extra, url);
    uws_deflate_setup_t deflate;
    uws_deflate_setup(&args[ARG_c_compression], &deflate);
    uws_deflate_offer_line(&extra, &deflate);
    size_t origin_len = 0;
    const char *origin = NULL;
    if (args[ARG_c_origin].u_obj != mp_const_none) {
        origin = mp_obj_str_get_data(args[ARG_c_origin].u_obj, &origin_len);
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
        mp_raise_ValueError(MP_ERROR_TEXT("invalid host, path, origin or header in request"));
    }
    uws_write_all(stream, (const byte *)out.buf, n);
    vstr_clear(&out);
    vstr_clear(&extra);

    vstr_t head;
    vstr_init(&head, 256);
    bool complete = uws_read_head_or_close(stream, &head, max_head, timeout_ms);
    if (!complete) {
        uws_stream_close(NULL, stream);
        uws_raise(&uws_type_HandshakeError, 0, (const byte *)"response head too long", 22);
    }
    uws_handshake result;
    if (!uws_deflate_response((const byte *)head.buf, head.len, key, (const byte *)protocols.buf, protocols.len, &deflate, &result)) {
        uws_stream_close(NULL, stream);
        if (result.status != 0 && result.status != 101) {
            // A refusal: report the server's status line.
            const char *eol = memchr(head.buf, '\r', head.len);
            uws_raise(&uws_type_HandshakeError, result.status, (const byte *)head.buf, eol ? (size_t)(eol - head.buf) : head.len);
        }
        uws_raise(&uws_type_HandshakeError, result.status, result.message, result.message_len);
    }
    mp_obj_websocket_t *ws = uws_new(stream, false, max_size);
    uws_deflate_attach(ws, &deflate, false);
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
    UWS_ARG_TABLE allowed_args[] = { UWS_CLIENT_ARGS };
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

// The TLS client context for wss://: the one given (ssl=), or a new one
// that verifies the server against `cadata` (DER bytes of a CA
// certificate). Without either, verification needs insecure=True to be
// turned off: MicroPython's tls has no trust store of its own, and a
// wss:// URL promises an authenticated server.
static mp_obj_t uws_tls_context(const mp_arg_val_t *args) {
    mp_obj_t ctx = args[ARG_c_ssl].u_obj;
    uint8_t policy = uws_tls_policy(ctx != mp_const_none, args[ARG_c_cadata].u_obj != mp_const_none,
        args[ARG_c_insecure].u_bool);
    if (policy == UWS_TLS_GIVEN) {
        return ctx;
    }
    if (policy == UWS_TLS_REFUSED) {
        uws_raise(&uws_type_HandshakeError, 0,
            (const byte *)"cannot verify the server: give cadata= or ssl=, or insecure=True", 64);
    }
    bool verify = policy == UWS_TLS_VERIFY;
    mp_obj_t tls = mp_import_name(MP_QSTR_tls, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
    ctx = mp_call_function_1(mp_load_attr(tls, MP_QSTR_SSLContext), mp_load_attr(tls, MP_QSTR_PROTOCOL_TLS_CLIENT));
    if (verify) {
        uws_call_method(ctx, MP_QSTR_load_verify_locations, 1, &args[ARG_c_cadata].u_obj);
    }
    mp_store_attr(ctx, MP_QSTR_verify_mode, mp_load_attr(tls, verify ? MP_QSTR_CERT_REQUIRED : MP_QSTR_CERT_NONE));
    return ctx;
}

// Wrap a connected socket in TLS with server name indication. A server
// certificate that fails verification raises HandshakeError(0, "certificate
// verification failed: <why>") rather than the TLS module's ValueError.
static mp_obj_t uws_tls_wrap(mp_obj_t ctx, mp_obj_t sock, mp_obj_t hostname) {
    mp_obj_t wrap[2 + 3];
    mp_load_method(ctx, MP_QSTR_wrap_socket, wrap);
    wrap[2] = sock;
    wrap[3] = MP_OBJ_NEW_QSTR(MP_QSTR_server_hostname);
    wrap[4] = hostname;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t tls_sock = mp_call_method_n_kw(1, 1, wrap);
        nlr_pop();
        return tls_sock;
    }
    mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
    if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)), MP_OBJ_FROM_PTR(&mp_type_ValueError))) {
        nlr_jump(nlr.ret_val);
    }
    // mbedTLS reports a failed verification as ValueError(<why>).
    vstr_t why, vstr;
    mp_print_t print;
    vstr_init_print(&why, 64, &print);
    mp_obj_print_helper(&print, mp_obj_exception_get_value(exc), PRINT_STR);
    vstr_init_print(&vstr, 64, &print);
    const char *text = vstr_null_terminated_str(&why);
    while (*text == ' ') {
        ++text;
    }
    mp_printf(&print, "certificate verification failed: %s", text);
    mp_obj_t args[2] = { MP_OBJ_NEW_SMALL_INT(0), mp_obj_new_str_from_vstr(&vstr) };
    nlr_raise(mp_obj_new_exception_args(&uws_type_HandshakeError, 2, args));
}

// connect(url, *, subprotocols=None, headers=None, origin=None,
//         max_size=65536, max_head=4096, timeout=None, ssl=None, cadata=None,
//         insecure=False):
// resolve, connect, (for wss://) wrap in TLS with server name indication,
// and do the client handshake. timeout (seconds) applies to connecting, the
// handshake (10 s when None) and later blocking reads. For wss:// the
// server is verified (uws_tls_context).
static mp_obj_t uws_connect(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    UWS_ARG_TABLE allowed_args[] = { UWS_CLIENT_ARGS };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    if (n_args != 1) {
        mp_raise_TypeError(MP_ERROR_TEXT("connect(url, ...)"));
    }
    mp_arg_parse_all(0, NULL, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    uws_url_t url;
    uws_parse_url(pos_args[0], &url);
    uws_check_max_size(args[ARG_c_max_size].u_int);
    uws_check_max_head(args[ARG_c_max_head].u_int);
    uws_timeout_ms(args[ARG_c_timeout].u_obj, UWS_HANDSHAKE_TIMEOUT_MS);
    uws_deflate_setup_t deflate;
    uws_deflate_setup(&args[ARG_c_compression], &deflate);
    // Settle TLS before any connection is made.
    mp_obj_t ctx = url.tls ? uws_tls_context(args) : mp_const_none;

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
        uws_set_nodelay(sock);
        if (url.tls) {
            sock = uws_tls_wrap(ctx, sock, gai_args[0]);
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
        } else {
            uws_reraise_if_fatal(nlr2.ret_val);
        }
        nlr_jump(nlr.ret_val);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_KW(uws_connect_obj, 1, uws_connect);

#endif // MICROPY_PY_UWEBSOCKET_CLIENT

/******************************************************************************/
// The module.

#if MICROPY_PY_UWEBSOCKET_SERVER
#define UWS_IF_SERVER(entry) entry
#else
#define UWS_IF_SERVER(entry)
#endif
#if MICROPY_PY_UWEBSOCKET_HTTP
#define UWS_IF_HTTP(entry) entry
#else
#define UWS_IF_HTTP(entry)
#endif
#if MICROPY_PY_UWEBSOCKET_CLIENT
#define UWS_IF_CLIENT(entry) entry
#else
#define UWS_IF_CLIENT(entry)
#endif

#define UWS_MODULE_GLOBALS(X) \
    X(MP_QSTR_WebSocket, PTR, &uws_type_WebSocket) \
    X(MP_QSTR_ConnectionClosed, PTR, &uws_type_ConnectionClosed) \
    X(MP_QSTR_HandshakeError, PTR, &uws_type_HandshakeError) \
    UWS_IF_SERVER(X(MP_QSTR_Request, PTR, &uws_type_Request)) \
    UWS_IF_SERVER(X(MP_QSTR_accept, PTR, &uws_accept_obj)) \
    UWS_IF_HTTP(X(MP_QSTR_read_request, PTR, &uws_read_request_obj)) \
    UWS_IF_HTTP(X(MP_QSTR_respond, PTR, &uws_respond_obj)) \
    UWS_IF_CLIENT(X(MP_QSTR_connect, PTR, &uws_connect_obj)) \
    UWS_IF_CLIENT(X(MP_QSTR_client, PTR, &uws_client_obj))

#if MICROPY_ENABLE_DYNRUNTIME

// The natmod's entry point: make the types, fill the WebSocket's methods,
// store the module's names.
static void uws_dyn_exception_type(mp_obj_full_type_t *type, qstr name) {
    mp_obj_exception_init(type, name, &mp_type_Exception);
    MP_OBJ_TYPE_SET_SLOT(type, attr, uws_exception_attr, 2);
}

// Ports that build MicroPython's own websocket module in (esp32, esp8266,
// rp2, unix) answer `import uwebsocket` with it, before they look at files:
// the .mpy is installed as uwebsocket_native. Imported once by that name,
// it takes the name uwebsocket in sys.modules, which every import looks at
// first. A port without sys.modules keeps the file's name only.
static void uws_dyn_take_name(void) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t sys = mp_import_name(MP_QSTR_sys, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t modules = mp_load_attr(sys, MP_QSTR_modules);
        mp_obj_t module = mp_obj_subscr(modules, mp_load_global(MP_QSTR___name__), MP_OBJ_SENTINEL);
        mp_obj_subscr(modules, MP_OBJ_NEW_QSTR(MP_QSTR_uwebsocket), module);
        nlr_pop();
    } else {
        uws_reraise_if_fatal(nlr.ret_val);
    }
}

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    uws_dyn_init();
    uws_dyn_exception_type(&uws_dyn_ConnectionClosed, MP_QSTR_ConnectionClosed);
    uws_dyn_exception_type(&uws_dyn_HandshakeError, MP_QSTR_HandshakeError);
    uws_dyn_WebSocket.base.type = &mp_type_type;
    uws_dyn_WebSocket.flags = MP_TYPE_FLAG_ITER_IS_STREAM;
    uws_dyn_WebSocket.name = MP_QSTR_WebSocket;
    MP_OBJ_TYPE_SET_SLOT(&uws_dyn_WebSocket, make_new, uws_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(&uws_dyn_WebSocket, attr, uws_attr, 1);
    MP_OBJ_TYPE_SET_SLOT(&uws_dyn_WebSocket, protocol, &uws_stream_p, 2);
    UWS_DICT_FILL(uws_websocket_locals, UWS_WEBSOCKET_LOCALS);
    MP_OBJ_TYPE_SET_SLOT(&uws_dyn_WebSocket, locals_dict, (void *)&uws_websocket_locals, 3);
    #if MICROPY_PY_UWEBSOCKET_SERVER
    uws_dyn_Request.base.type = &mp_type_type;
    uws_dyn_Request.name = MP_QSTR_Request;
    MP_OBJ_TYPE_SET_SLOT(&uws_dyn_Request, make_new, uws_request_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(&uws_dyn_Request, attr, uws_request_attr, 1);
    #endif
    #define UWS_DYN_STORE(key, kind, value) mp_store_global(key, UWS_OBJ_##kind(value));
    UWS_MODULE_GLOBALS(UWS_DYN_STORE)
    uws_dyn_take_name();
    MP_DYNRUNTIME_INIT_EXIT
}

#else

#define UWS_ROM_ENTRY(key, kind, value) { MP_ROM_QSTR(key), MP_ROM_##kind(value) },
static const mp_rom_map_elem_t uws_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_uwebsocket) },
    UWS_MODULE_GLOBALS(UWS_ROM_ENTRY)
};
static MP_DEFINE_CONST_DICT(uws_module_globals, uws_module_globals_table);

const mp_obj_module_t uws_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&uws_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_uwebsocket, uws_module);

#endif
