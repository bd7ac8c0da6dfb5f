/*
 * uwebsocket as a native .mpy (a dynamic native module, built with
 * MicroPython's py/dynruntime.mk): what moduwebsocket.c uses from the
 * runtime and a natmod cannot link to. Each piece is reached through the
 * table of runtime functions a natmod gets (mp_fun_table), through a
 * Python builtin looked up once, or is written out here. The built-in
 * module never includes this file.
 *
 * What a natmod cannot have, and so the .mpy does without:
 * - finalisers: a WebSocket dropped without close() leaves its stream to
 *   the stream's own finaliser;
 * - the unix port's poll(): waits sleep in steps (time.sleep_ms);
 * - the port's C entropy source: masking keys come from a seed drawn from
 *   os.urandom (or random) and stretched by the core.
 */
#ifndef UWS_DYNRUNTIME_H
#define UWS_DYNRUNTIME_H

// No C library's errno.h: the numbers come from the firmware (see
// uws_dyn_errno).
#define MICROPY_USE_INTERNAL_ERRNO (1)

#include <string.h>

#include "py/dynruntime.h"
#include "py/mperrno.h"
#include "py/smallint.h"
#include "py/objexcept.h"
#include "py/stream.h"

/******************************************************************************/
// Error numbers as the firmware numbers them. A port uses its C library's
// numbering or MicroPython's own (Linux's), and they differ (ENOTCONN is 107
// in one, 128 in newlib's): they are read from the errno module at import
// (uws_dyn_init); a name it lacks keeps Linux's number.

enum { UWS_DYN_EAGAIN, UWS_DYN_EBUSY, UWS_DYN_ECONNRESET, UWS_DYN_EINVAL, UWS_DYN_EIO, UWS_DYN_ENOENT,
       UWS_DYN_ENOTCONN, UWS_DYN_ETIMEDOUT, UWS_DYN_ERRNOS };
int uws_dyn_errno[UWS_DYN_ERRNOS];
#undef MP_EAGAIN
#undef MP_EWOULDBLOCK
#undef MP_EBUSY
#undef MP_ECONNRESET
#undef MP_EINVAL
#undef MP_EIO
#undef MP_ENOENT
#undef MP_ENOTCONN
#undef MP_ETIMEDOUT
#define MP_EAGAIN (uws_dyn_errno[UWS_DYN_EAGAIN])
// The same number as EAGAIN in Linux's and newlib's numbering.
#define MP_EWOULDBLOCK MP_EAGAIN
#define MP_EBUSY (uws_dyn_errno[UWS_DYN_EBUSY])
#define MP_ECONNRESET (uws_dyn_errno[UWS_DYN_ECONNRESET])
#define MP_EINVAL (uws_dyn_errno[UWS_DYN_EINVAL])
#define MP_EIO (uws_dyn_errno[UWS_DYN_EIO])
#define MP_ENOENT (uws_dyn_errno[UWS_DYN_ENOENT])
#define MP_ENOTCONN (uws_dyn_errno[UWS_DYN_ENOTCONN])
#define MP_ETIMEDOUT (uws_dyn_errno[UWS_DYN_ETIMEDOUT])

/******************************************************************************/
// Runtime calls that are in the table but not named by dynruntime.h.

#undef nlr_push
#define nlr_push(buf) (mp_fun_table.nlr_push(buf))
#define nlr_pop() (mp_fun_table.nlr_pop())
#define nlr_jump(val) (mp_raise_dyn(MP_OBJ_FROM_PTR(val)))
#define mp_call_method_n_kw(n_args, n_kw, args) (mp_fun_table.call_method_n_kw((n_args), (n_kw), (args)))
// The table's iteration takes an iterator buffer, in its own way: the
// iterator goes on the heap instead, and steps through a buffer that
// holds it.
#define mp_getiter(obj, iter_buf) ((void)(iter_buf), mp_fun_table.getiter((obj), NULL))
static mp_obj_t uws_dyn_iternext(mp_obj_t iter) {
    mp_obj_iter_buf_t holder;
    holder.base.type = MP_OBJ_NULL;
    holder.buf[0] = iter;
    return mp_fun_table.iternext(&holder);
}
#define mp_iternext(iter) (uws_dyn_iternext(iter))
#define mp_type_OSError (*(mp_obj_type_t *)(mp_load_global(MP_QSTR_OSError)))
#define mp_type_MemoryError (*(mp_obj_type_t *)(mp_load_global(MP_QSTR_MemoryError)))

static inline mp_obj_t uws_dyn_call_1(mp_obj_t fun, mp_obj_t arg) {
    return mp_call_function_n_kw(fun, 1, 0, &arg);
}
#define mp_call_function_0(fun) (mp_call_function_n_kw((fun), 0, 0, NULL))
#define mp_call_function_1(fun, arg) (uws_dyn_call_1((fun), (arg)))
#define mp_obj_new_exception_args(type, n, args) (mp_call_function_n_kw(MP_OBJ_FROM_PTR(type), (n), 0, (args)))
#define m_malloc_maybe(n) (m_realloc_maybe(NULL, (n), false))
#undef mp_obj_malloc_var_with_finaliser
#define mp_obj_malloc_var_with_finaliser(struct_type, var_type, var_num, obj_type) \
    ((struct_type *)mp_obj_malloc_helper(sizeof(struct_type) + sizeof(var_type) * (var_num), (obj_type)))

// builtins.issubclass, for exception types on the error paths only.
static bool uws_dyn_is_subclass(const mp_obj_type_t *type, const mp_obj_type_t *base) {
    mp_obj_t args[2] = { MP_OBJ_FROM_PTR(type), MP_OBJ_FROM_PTR(base) };
    return mp_obj_is_true(mp_call_function_n_kw(mp_load_global(MP_QSTR_issubclass), 2, 0, args));
}
#define mp_obj_is_subclass_fast(type, base) (uws_dyn_is_subclass(MP_OBJ_TO_PTR(type), MP_OBJ_TO_PTR(base)))

// An exception's first argument (None without one).
static mp_obj_t uws_dyn_exception_value(mp_obj_t exc) {
    size_t len;
    mp_obj_t *items;
    mp_obj_get_array(mp_load_attr(exc, MP_QSTR_args), &len, &items);
    return len > 0 ? items[0] : mp_const_none;
}
#define mp_obj_exception_get_value(exc) (uws_dyn_exception_value(exc))

static void uws_dyn_get_array_fixed_n(mp_obj_t o, size_t len, mp_obj_t **items) {
    size_t n;
    mp_obj_get_array(o, &n, items);
    if (n != len) {
        mp_raise_ValueError(MP_ERROR_TEXT("tuple/list has wrong length"));
    }
}
#define mp_obj_get_array_fixed_n(o, len, items) (uws_dyn_get_array_fixed_n((o), (len), (items)))

// A class written in Python: its instances' make_new, found once at import
// (see uws_dyn_init) from a class made there.
mp_make_new_fun_t uws_dyn_instance_make_new;
#undef mp_obj_is_instance_type
#define mp_obj_is_instance_type(type) (MP_OBJ_TYPE_GET_SLOT_OR_NULL((type), make_new) == uws_dyn_instance_make_new)

static mp_obj_t uws_dyn_identity(mp_obj_t self) {
    return self;
}
#define mp_identity_obj uws_dyn_identity_obj
static MP_DEFINE_CONST_FUN_OBJ_1(uws_dyn_identity_obj, uws_dyn_identity);

static const void *uws_dyn_memchr(const void *s, int c, size_t n) {
    const byte *p = s;
    for (size_t i = 0; i < n; ++i) {
        if (p[i] == (byte)c) {
            return p + i;
        }
    }
    return NULL;
}
#define memchr(s, c, n) (uws_dyn_memchr((s), (c), (n)))

/******************************************************************************/
// Time, through the time module's functions, kept in the module's globals
// (so the GC sees them) and cached here.

// (A natmod's variables are global symbols: it reaches them through its
// global offset table.)
mp_obj_t uws_dyn_ticks_ms_fun;
mp_obj_t uws_dyn_sleep_ms_fun;
mp_uint_t uws_dyn_ticks_total;
mp_uint_t uws_dyn_ticks_last;

// time.ticks_ms() wraps at a port-dependent period (a power of two); the
// shim subtracts ticks as unsigned numbers that wrap at 2**32 or 2**64.
// This counter adds up the steps between calls instead, so it wraps only
// where an mp_uint_t does (calls at most half a period apart, days).
static mp_uint_t uws_dyn_ticks_ms(void) {
    if (uws_dyn_ticks_ms_fun == MP_OBJ_NULL) {
        // No clock (see uws_dyn_delay_ms): each reading counts as a ms.
        return ++uws_dyn_ticks_total;
    }
    mp_uint_t now = (mp_uint_t)mp_obj_get_int_truncated(mp_call_function_0(uws_dyn_ticks_ms_fun));
    // MicroPython's ticks period: half the small-int range.
    uws_dyn_ticks_total += (now - uws_dyn_ticks_last) & (MP_SMALL_INT_POSITIVE_MASK >> 1);
    uws_dyn_ticks_last = now;
    return uws_dyn_ticks_total;
}
#define mp_hal_ticks_ms() (uws_dyn_ticks_ms())

// A port without a time module (MicroPython's qemu port) has no clock to
// read: there each wait counts as the time it asked for, and each reading
// of the clock as a millisecond, so every bound still ends the loop it
// bounds.
static void uws_dyn_delay_ms(mp_uint_t ms) {
    if (uws_dyn_sleep_ms_fun == MP_OBJ_NULL) {
        uws_dyn_ticks_total += ms;
        return;
    }
    mp_call_function_1(uws_dyn_sleep_ms_fun, MP_OBJ_NEW_SMALL_INT(ms));
}
#define mp_hal_delay_ms(ms) (uws_dyn_delay_ms(ms))

/******************************************************************************/
// vstr: the part of py/vstr.c the shim uses, on the GC heap.

#define vstr_init uws_dyn_vstr_init
#define vstr_clear uws_dyn_vstr_clear
#define vstr_hint_size uws_dyn_vstr_hint_size
#define vstr_add_len uws_dyn_vstr_add_len
#define vstr_add_byte uws_dyn_vstr_add_byte
#define vstr_add_strn uws_dyn_vstr_add_strn
#define vstr_add_str uws_dyn_vstr_add_str
#define vstr_null_terminated_str uws_dyn_vstr_null_terminated_str
#define vstr_init_print uws_dyn_vstr_init_print
#define mp_obj_new_str_from_vstr uws_dyn_new_str_from_vstr
#define mp_obj_new_bytes_from_vstr uws_dyn_new_bytes_from_vstr

static void uws_dyn_vstr_init(vstr_t *vstr, size_t alloc) {
    vstr->alloc = alloc > 0 ? alloc : 1;
    vstr->len = 0;
    vstr->buf = m_malloc(vstr->alloc);
    vstr->fixed_buf = false;
}

static void uws_dyn_vstr_clear(vstr_t *vstr) {
    m_free(vstr->buf);
    vstr->buf = NULL;
}

static void uws_dyn_vstr_hint_size(vstr_t *vstr, size_t size) {
    if (vstr->len + size > vstr->alloc) {
        vstr->buf = m_realloc(vstr->buf, vstr->len + size);
        vstr->alloc = vstr->len + size;
    }
}

static char *uws_dyn_vstr_add_len(vstr_t *vstr, size_t len) {
    if (vstr->len + len > vstr->alloc) {
        uws_dyn_vstr_hint_size(vstr, len + (vstr->alloc + len) / 2);
    }
    char *p = vstr->buf + vstr->len;
    vstr->len += len;
    return p;
}

static void uws_dyn_vstr_add_strn(vstr_t *vstr, const char *str, size_t len) {
    memcpy(uws_dyn_vstr_add_len(vstr, len), str, len);
}

static void uws_dyn_vstr_add_byte(vstr_t *vstr, byte b) {
    *uws_dyn_vstr_add_len(vstr, 1) = b;
}

static void uws_dyn_vstr_add_str(vstr_t *vstr, const char *str) {
    while (*str) {
        uws_dyn_vstr_add_byte(vstr, *str++);
    }
}

static char *uws_dyn_vstr_null_terminated_str(vstr_t *vstr) {
    uws_dyn_vstr_add_byte(vstr, 0);
    vstr->len -= 1;
    return vstr->buf;
}

static void uws_dyn_vstr_print_strn(void *data, const char *str, size_t len) {
    uws_dyn_vstr_add_strn((vstr_t *)data, str, len);
}

static void uws_dyn_vstr_init_print(vstr_t *vstr, size_t alloc, mp_print_t *print) {
    uws_dyn_vstr_init(vstr, alloc);
    print->data = vstr;
    print->print_strn = uws_dyn_vstr_print_strn;
}

// str(obj), written to `print`.
static void uws_dyn_print_obj(const mp_print_t *print, mp_obj_t obj) {
    size_t len;
    const char *text = mp_obj_str_get_data(mp_call_function_1(MP_OBJ_FROM_PTR(&mp_type_str), obj), &len);
    print->print_strn(print->data, text, len);
}
#define mp_obj_print_helper(print, obj, kind) (uws_dyn_print_obj((print), (obj)))

// (Received messages do not come this way: uws_take_message adopts their
// buffer.)
static mp_obj_t uws_dyn_new_str_from_vstr(vstr_t *vstr) {
    mp_obj_t str = mp_obj_new_str(vstr->buf, vstr->len);
    uws_dyn_vstr_clear(vstr);
    return str;
}

static mp_obj_t uws_dyn_new_bytes_from_vstr(vstr_t *vstr) {
    mp_obj_t bytes = mp_obj_new_bytes((const byte *)vstr->buf, vstr->len);
    uws_dyn_vstr_clear(vstr);
    return bytes;
}

/******************************************************************************/
// Set up at import, before anything above is used.

static void uws_dyn_errno_init(void) {
    static const uint8_t linux_numbers[UWS_DYN_ERRNOS] = { 11, 16, 104, 22, 5, 2, 107, 110 };
    for (size_t i = 0; i < UWS_DYN_ERRNOS; ++i) {
        uws_dyn_errno[i] = linux_numbers[i];
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t errno_module = mp_import_name(MP_QSTR_errno, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        const qstr names[UWS_DYN_ERRNOS] = { MP_QSTR_EAGAIN, MP_QSTR_EBUSY, MP_QSTR_ECONNRESET, MP_QSTR_EINVAL,
                                             MP_QSTR_EIO, MP_QSTR_ENOENT, MP_QSTR_ENOTCONN, MP_QSTR_ETIMEDOUT };
        for (size_t i = 0; i < UWS_DYN_ERRNOS; ++i) {
            mp_obj_t dest[2];
            mp_load_method_maybe(errno_module, names[i], dest);
            if (dest[0] != MP_OBJ_NULL && mp_obj_is_small_int(dest[0])) {
                uws_dyn_errno[i] = MP_OBJ_SMALL_INT_VALUE(dest[0]);
            }
        }
        nlr_pop();
    }
}

static void uws_dyn_init(void) {
    uws_dyn_errno_init();
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t time = mp_import_name(MP_QSTR_time, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t ticks_ms = mp_load_attr(time, MP_QSTR_ticks_ms);
        mp_obj_t sleep_ms = mp_load_attr(time, MP_QSTR_sleep_ms);
        mp_store_global(MP_QSTR__ticks_ms, ticks_ms);
        mp_store_global(MP_QSTR__sleep_ms, sleep_ms);
        uws_dyn_ticks_ms_fun = ticks_ms;
        uws_dyn_sleep_ms_fun = sleep_ms;
        nlr_pop();
    } else {
        // No time module (see uws_dyn_delay_ms).
        uws_dyn_ticks_ms_fun = MP_OBJ_NULL;
        uws_dyn_sleep_ms_fun = MP_OBJ_NULL;
    }
    // type('_', (), {}): a class as a script would write it.
    mp_obj_t args[3] = { MP_OBJ_NEW_QSTR(MP_QSTR__), mp_const_empty_tuple, mp_obj_new_dict(0) };
    mp_obj_t cls = mp_call_function_n_kw(MP_OBJ_FROM_PTR(&mp_type_type), 3, 0, args);
    uws_dyn_instance_make_new = MP_OBJ_TYPE_GET_SLOT((mp_obj_type_t *)MP_OBJ_TO_PTR(cls), make_new);
}

#endif // UWS_DYNRUNTIME_H
